# Policy "vault-gateway": what the credential service (and only it) may do in OpenBao.
# Applied by deploy/local/bao/configure.sh (local stack, tests, docker compose); for a
# production Vault/OpenBao apply the same policy with `bao policy write vault-gateway`.

# Per-installation transit keys aria-inst-<...>: create, read, configure (deletion_allowed,
# min_decryption_version, auto-rotation), rotate, delete (crypto-shred), trim.
# The glob also covers transit/keys/aria-inst-*/config, /rotate and /trim.
path "transit/keys/aria-inst-*" {
  capabilities = ["create", "read", "update", "delete", "list"]
}
path "transit/keys" {
  capabilities = ["list"]
}
path "transit/encrypt/aria-inst-*" {
  capabilities = ["create", "update"]
}
path "transit/decrypt/aria-inst-*" {
  capabilities = ["update"]
}
path "transit/rewrap/aria-inst-*" {
  capabilities = ["update"]
}
path "transit/datakey/+/aria-inst-*" {
  capabilities = ["update"]
}

# KV v2 mount aria-kv/: data and metadata CRUD, soft delete/undelete, destroy versions.
path "aria-kv/data/*" {
  capabilities = ["create", "read", "update", "delete", "patch"]
}
path "aria-kv/metadata/*" {
  capabilities = ["create", "read", "update", "delete", "list", "patch"]
}
path "aria-kv/metadata" {
  capabilities = ["list"]
}
path "aria-kv/delete/*" {
  capabilities = ["update"]
}
path "aria-kv/undelete/*" {
  capabilities = ["update"]
}
path "aria-kv/destroy/*" {
  capabilities = ["update"]
}

# Its own token: renew and look up.
path "auth/token/renew-self" {
  capabilities = ["update"]
}
path "auth/token/lookup-self" {
  capabilities = ["read"]
}
