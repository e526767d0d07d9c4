#!/usr/bin/env bash
# Installs what the tests need on a fresh machine of this project's kind and
# is a no-op when everything is already there. Safe to run repeatedly.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
/usr/bin/python3 -c 'import jwt' 2>/dev/null || need_apt+=(python3-jwt)
# Software TPM for the TPM device key tests (scripts/swtpm.sh).
{ command -v swtpm && command -v swtpm_setup && command -v swtpm_localca; } >/dev/null 2>&1 || need_apt+=(swtpm swtpm-tools)
command -v tpm2_getcap >/dev/null 2>&1 || need_apt+=(tpm2-tools)
# PostgreSQL for the PostgreSQL store's tests (installed on this machine
# kind; Debian 12's is version 15). Started further down.
[ -d /usr/lib/postgresql/15 ] || need_apt+=(postgresql-15)
# Headless Chromium for the checkout test, and a CJK font so its screenshots
# show the Chinese text.
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
[ -e /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc ] || need_apt+=(fonts-wqy-zenhei)
# Wine runs the Windows build for the smoke test (test/wine, amd64 hosts
# only): 64-bit Wine without its recommended extras (32-bit Wine, Gecko,
# Mono, fonts), about 100 MB to download, 10 s to install. The zh_CN locale
# source lets the test give Wine a Chinese display language.
need_apt_bare=()
if [ "$(dpkg --print-architecture 2>/dev/null)" = amd64 ]; then
  command -v wine >/dev/null 2>&1 || need_apt_bare+=(wine wine64)
  [ -e /usr/share/i18n/locales/zh_CN ] || need_apt+=(locales)
fi
if [ ${#need_apt[@]} -gt 0 ] || [ ${#need_apt_bare[@]} -gt 0 ]; then
  all=("${need_apt[@]}" "${need_apt_bare[@]}")
  echo "setup: installing ${all[*]} from Debian"
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  if [ ${#need_apt[@]} -gt 0 ]; then
    $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
  fi
  if [ ${#need_apt_bare[@]} -gt 0 ]; then
    $SUDO apt-get install -y -qq --no-install-recommends "${need_apt_bare[@]}" >/dev/null
  fi
fi

# Independent JOSE verifier for the interoperability test (npm jose, pinned
# in test/interop/package-lock.json).
if [ ! -d test/interop/node_modules/jose ]; then
  echo "setup: installing npm jose for the interop test"
  npm ci --prefix test/interop --no-audit --no-fund --loglevel=error
fi

# Go modules, so test time is not spent downloading.
go mod download
(cd tools && go mod download)

# PostgreSQL 15 for the PostgreSQL store's tests (internal/store/postgres):
# installed but stopped on a fresh machine. Started listening on loopback
# only; the tests connect over the Unix socket with peer authentication as
# a role named after this user, to a database of their own. make test sets
# HEALTHGATE_TEST_POSTGRES to match.
if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql/15/main ]; then
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  if ! pg_lsclusters -h 2>/dev/null | awk '$1 == 15 && $2 == "main" { print $4 }' | grep -q online; then
    echo "setup: starting PostgreSQL 15 (loopback only)"
    $SUDO pg_ctlcluster 15 main start -o "-c listen_addresses=localhost"
  fi
  me="$(id -un)"
  as_pg() {
    if [ "$(id -u)" -eq 0 ]; then (cd / && runuser -u postgres -- "$@"); else (cd / && sudo -u postgres "$@"); fi
  }
  if [ "$(as_pg psql -tAc "SELECT 1 FROM pg_roles WHERE rolname = '$me'")" != 1 ]; then
    as_pg createuser "$me"
  fi
  if [ "$(as_pg psql -tAc "SELECT 1 FROM pg_database WHERE datname = 'healthgate_test'")" != 1 ]; then
    # A linguistic (ICU en-US) collation, as production databases often
    # have, so that a query relying on bytewise text order fails here too.
    as_pg createdb -O "$me" --template=template0 --locale-provider=icu --icu-locale=en-US --locale=C.UTF-8 healthgate_test
  fi
else
  echo "setup: PostgreSQL 15 is not installed: the PostgreSQL store tests will fail" >&2
fi
