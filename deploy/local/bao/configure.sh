#!/bin/sh
# Idempotently configure an OpenBao (or Vault) server for ARIA:
#   - transit secrets engine at transit/
#   - KV v2 at aria-kv/
#   - approle auth method, policy "vault-gateway", AppRole "vault-gateway"
#     (token_ttl 1h, token_max_ttl 24h, secret_id_ttl 0)
# and print ARIA_VAULT_ROLE_ID / ARIA_VAULT_SECRET_ID (a fresh secret_id on every run).
#
# Usage: BAO_ADDR=http://127.0.0.1:8200 BAO_TOKEN=<admin token> configure.sh [OUT_FILE]
# OUT_FILE (optional) receives `KEY=value` lines with mode 600; otherwise they go to stdout.
# POSIX sh so it also runs inside the openbao container image (docker-compose.yml).
set -eu

BAO="${BAO_BIN:-bao}"
HERE="$(cd "$(dirname "$0")" && pwd)"
POLICY_FILE="${ARIA_VAULT_POLICY_FILE:-$HERE/vault-gateway-policy.hcl}"
: "${BAO_ADDR:?BAO_ADDR must be set}"
: "${BAO_TOKEN:?BAO_TOKEN must be set}"
export BAO_ADDR BAO_TOKEN

say() { echo "[bao-configure] $*" >&2; }

mounts="$("$BAO" secrets list -format=json)"
if ! printf '%s' "$mounts" | grep -q '"transit/"'; then
  say "enabling transit/"
  "$BAO" secrets enable -path=transit transit >/dev/null
fi
if ! printf '%s' "$mounts" | grep -q '"aria-kv/"'; then
  say "enabling kv-v2 at aria-kv/"
  "$BAO" secrets enable -path=aria-kv -version=2 kv >/dev/null
fi

auths="$("$BAO" auth list -format=json)"
if ! printf '%s' "$auths" | grep -q '"approle/"'; then
  say "enabling approle auth"
  "$BAO" auth enable approle >/dev/null
fi

"$BAO" policy write vault-gateway "$POLICY_FILE" >/dev/null
"$BAO" write auth/approle/role/vault-gateway \
  token_policies=vault-gateway \
  token_ttl=1h token_max_ttl=24h \
  secret_id_ttl=0 secret_id_num_uses=0 >/dev/null

role_id="$("$BAO" read -field=role_id auth/approle/role/vault-gateway/role-id)"
secret_id="$("$BAO" write -f -field=secret_id auth/approle/role/vault-gateway/secret-id)"
[ -n "$role_id" ] && [ -n "$secret_id" ] || { say "could not read role_id/secret_id"; exit 1; }

if [ $# -ge 1 ]; then
  umask 077
  printf 'ARIA_VAULT_ROLE_ID=%s\nARIA_VAULT_SECRET_ID=%s\n' "$role_id" "$secret_id" >"$1.tmp"
  mv "$1.tmp" "$1"
else
  printf 'ARIA_VAULT_ROLE_ID=%s\nARIA_VAULT_SECRET_ID=%s\n' "$role_id" "$secret_id"
fi
say "configured transit/, aria-kv/, approle role vault-gateway"
