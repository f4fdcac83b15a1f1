#!/usr/bin/env bash
# Regenerates auth_vectors.json: known answers for PORTAL02 §3, digest = SHA-256(nonce || key),
# computed by `openssl dgst -sha256` so the test checks the code against an independent
# implementation. The test only reads the JSON; it never runs openssl.
#
# Usage: tests/testdata/make_auth_vectors.sh   (writes auth_vectors.json beside this script)
set -euo pipefail
export LC_ALL=C.UTF-8

here="$(cd "$(dirname "$0")" && pwd)"
out="$here/auth_vectors.json"

# Hex string -> raw bytes on stdout (works for 00 bytes too).
unhex() { printf '%b' "$(printf '%s' "$1" | sed 's/../\\x&/g')"; }
# Raw bytes on stdin -> lowercase hex, one line.
tohex() { od -An -v -tx1 | tr -d ' \n'; }

# Each vector: a description, the nonce (64 hex digits = 32 bytes), the key as UTF-8 text.
# Keys must not contain '"' or '\' (they are written into JSON verbatim).
names=()
nonces=()
keys=()
add() { names+=("$1"); nonces+=("$2"); keys+=("$3"); }

add "zero nonce, ASCII key" \
  "0000000000000000000000000000000000000000000000000000000000000000" \
  "portal-federation-key"
add "counting nonce, short key" \
  "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f" \
  "s3cret"
add "all-ones nonce, one-character key" \
  "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff" \
  "k"
add "non-ASCII UTF-8 key (Latin-1 range, Cyrillic, CJK, emoji)" \
  "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08" \
  "schlüssel-ключ-鍵-🔑"
add "key with '#' and spaces, leading and trailing" \
  "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8" \
  " key # with  spaces #x "
add "key with a tab and ini-like punctuation" \
  "deadbeefcafebabe0123456789abcdef00ff00ff00ff00ff7f807f807f807f80" \
  "$(printf 'a\tb=c;d[e]')"
add "long key: nonce and key span several SHA-256 blocks" \
  "a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5" \
  "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_.~!@$%^"

json_escape() {
  # Only control characters need escaping for the keys above ('"' and '\' are excluded).
  local s="$1"
  s="${s//$'\t'/\\t}"
  printf '%s' "$s"
}

{
  printf '{\n'
  printf '  "generator": "tests/testdata/make_auth_vectors.sh (%s)",\n' "$(openssl version)"
  printf '  "formula": "digest = SHA-256(nonce || utf8(key))",\n'
  printf '  "vectors": [\n'
  last=$((${#names[@]} - 1))
  for i in "${!names[@]}"; do
    nonce="${nonces[$i]}"
    key="${keys[$i]}"
    [[ ${#nonce} -eq 64 ]] || { echo "nonce $i is not 32 bytes" >&2; exit 1; }
    case "$key" in *'"'* | *'\'*) echo "key $i contains a quote or backslash" >&2; exit 1 ;; esac
    key_hex="$(printf '%s' "$key" | tohex)"
    digest="$( { unhex "$nonce"; printf '%s' "$key"; } | openssl dgst -sha256 -binary | tohex)"
    [[ ${#digest} -eq 64 ]] || { echo "openssl gave no digest for vector $i" >&2; exit 1; }
    sep=","
    [[ $i -eq $last ]] && sep=""
    printf '    {\n'
    printf '      "description": "%s",\n' "${names[$i]}"
    printf '      "nonce_hex": "%s",\n' "$nonce"
    printf '      "key": "%s",\n' "$(json_escape "$key")"
    printf '      "key_utf8_hex": "%s",\n' "$key_hex"
    printf '      "digest_hex": "%s"\n' "$digest"
    printf '    }%s\n' "$sep"
  done
  printf '  ]\n'
  printf '}\n'
} >"$out.tmp"
mv "$out.tmp" "$out"
echo "wrote $out"
