from aria_platform.settings import ServiceSettings, load_settings


class InstallerSettings(ServiceSettings):
    service_name: str = "installer"
    http_port: int = 8002
    vault_gateway_url: str = "http://127.0.0.1:8003"
    sync_runner_url: str = "http://127.0.0.1:8004"
    # Public base URL vendors post webhooks to (webhook-ingest), shown in installation details.
    webhook_base_url: str = "http://127.0.0.1:8005"
    activity_retention_days: int = 90


def load() -> InstallerSettings:
    return load_settings(InstallerSettings)
