from pydantic import SecretStr

from aria_platform.settings import ServiceSettings, load_settings


class VaultGatewaySettings(ServiceSettings):
    service_name: str = "vault-gateway"
    http_port: int = 8003
    vault_addr: str = "http://127.0.0.1:8200"
    vault_role_id: str
    vault_secret_id: SecretStr
    vault_transit_mount: str = "transit"
    vault_kv_mount: str = "aria-kv"
    lease_ttl_s: int = 300
    # Ciphertexts of KV versions kept in memory (never plaintext; see vault.CiphertextCache).
    vault_ciphertext_cache_size: int = 10_000
    rotation_check_interval_s: float = 300.0


def load() -> VaultGatewaySettings:
    return load_settings(VaultGatewaySettings)
