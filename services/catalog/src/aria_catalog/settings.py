from aria_platform.settings import ServiceSettings, load_settings


class CatalogSettings(ServiceSettings):
    service_name: str = "catalog"
    http_port: int = 8001
    # Sync integration_catalog from the connector registry (installed entry points) on start.
    registry_sync_on_start: bool = True


def load() -> CatalogSettings:
    return load_settings(CatalogSettings)
