#!/usr/bin/python3
"""Verify a Healthgate health certificate with PyJWT, as a relying party
written in Python would.

    /usr/bin/python3 verify.py JWKS_FILE TOKEN_FILE

Exit status 0 and the claims as JSON on standard output when the
certificate is valid; 1 and the reason on standard error when it is not;
2 for a usage error. Written for Debian's python3-jwt (PyJWT 2.6).
"""

import json
import sys

import jwt


def main(argv):
    if len(argv) != 3:
        print("usage: verify.py JWKS_FILE TOKEN_FILE", file=sys.stderr)
        return 2
    try:
        with open(argv[1], encoding="utf-8") as f:
            jwks = json.load(f)
        with open(argv[2], encoding="utf-8") as f:
            token = f.read().strip()
        # PyJWKClient fetches over the network; select the key from the
        # local set by the token's kid instead. The header is unverified,
        # so it only picks the key: the algorithm stays pinned below.
        kid = jwt.get_unverified_header(token).get("kid")
        keys = [k for k in jwks.get("keys", []) if k.get("kid") == kid]
        if len(keys) != 1:
            raise jwt.InvalidTokenError(f"no single key with kid {kid!r} in the JWKS")
        key = jwt.PyJWK(keys[0], algorithm="EdDSA")
        claims = jwt.decode(
            token,
            key=key.key,
            algorithms=["EdDSA"],
            options={"require": ["exp", "iat", "sub"]},
        )
    except (jwt.PyJWTError, OSError, ValueError) as err:
        print(f"invalid: {type(err).__name__}: {err}", file=sys.stderr)
        return 1
    print(json.dumps(claims, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
