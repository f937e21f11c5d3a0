from decimal import Decimal

from aria_platform.settings import ServiceSettings, load_settings


class CatalogSettings(ServiceSettings):
    service_name: str = "catalog"
    http_port: int = 8001
    # Sync integration_catalog from the connector registry (installed entry points) and the curated
    # collections from collections/collections.toml on start.
    registry_sync_on_start: bool = True
    # Estimated cost of a sync, per 1,000 records synced (usage analytics); a deployment's own rate.
    usage_cost_per_1000_records: Decimal = Decimal("0.05")


def load() -> CatalogSettings:
    return load_settings(CatalogSettings)
