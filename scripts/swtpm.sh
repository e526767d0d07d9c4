#!/usr/bin/env bash
# Starts and stops a software TPM 2.0 (Debian's swtpm) on loopback for tests.
#
#   scripts/swtpm.sh start DIR PORT   manufacture a TPM in DIR (EK and platform
#                                     certificates from a CA private to DIR) and
#                                     serve it: TPM commands on 127.0.0.1:PORT,
#                                     the platform (power) port on PORT+1, both
#                                     in the Microsoft simulator protocol
#   scripts/swtpm.sh stop DIR         stop the TPM started in DIR
#
# After start, DIR/ca/swtpm-localca-rootca-cert.pem is the root and
# DIR/ca/issuercert.pem the intermediate that issued the EK certificate.
# Install with: apt-get install -y swtpm swtpm-tools tpm2-tools
set -euo pipefail

usage() { echo "usage: $0 start DIR PORT | stop DIR" >&2; exit 2; }

start() {
  local dir=$1 port=$2
  for tool in swtpm swtpm_setup swtpm_localca; do
    command -v "$tool" >/dev/null || { echo "swtpm.sh: $tool not found: apt-get install -y swtpm swtpm-tools tpm2-tools" >&2; exit 1; }
  done
  mkdir -p "$dir/state" "$dir/ca"
  dir=$(cd "$dir" && pwd)
  # A CA private to this TPM, so tests never touch /var/lib/swtpm-localca.
  cat >"$dir/localca.conf" <<EOF
statedir = $dir/ca
signingkey = $dir/ca/signkey.pem
issuercert = $dir/ca/issuercert.pem
certserial = $dir/ca/certserial
EOF
  cat >"$dir/setup.conf" <<EOF
create_certs_tool = $(command -v swtpm_localca)
create_certs_tool_config = $dir/localca.conf
create_certs_tool_options = /etc/swtpm-localca.options
active_pcr_banks = sha256
EOF
  swtpm_setup --tpm2 --tpmstate "$dir/state" --config "$dir/setup.conf" \
    --create-ek-cert --create-platform-cert --lock-nvram --not-overwrite >"$dir/setup.log" 2>&1 ||
    { cat "$dir/setup.log" >&2; exit 1; }
  swtpm socket --tpm2 --daemon --tpmstate dir="$dir/state" \
    --server type=tcp,port="$port",bindaddr=127.0.0.1 \
    --ctrl type=tcp,port=$((port + 1)),bindaddr=127.0.0.1 \
    --flags not-need-init,startup-clear \
    --pid file="$dir/swtpm.pid" --log file="$dir/swtpm.log"
  # Wait until the command port answers.
  for _ in $(seq 50); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then exit 0; fi
    sleep 0.1
  done
  echo "swtpm.sh: swtpm did not listen on 127.0.0.1:$port" >&2
  cat "$dir/swtpm.log" >&2 || true
  exit 1
}

stop() {
  local dir=$1
  [ -f "$dir/swtpm.pid" ] || exit 0
  local pid
  pid=$(cat "$dir/swtpm.pid")
  kill "$pid" 2>/dev/null || true
  rm -f "$dir/swtpm.pid"
}

case "${1:-}" in
  start) [ $# -eq 3 ] || usage; start "$2" "$3" ;;
  stop) [ $# -eq 2 ] || usage; stop "$2" ;;
  *) usage ;;
esac
