from typing import Any

from pydantic import model_validator

from aria_platform.settings import ServiceSettings, load_settings


class InstallerSettings(ServiceSettings):
    service_name: str = "installer"
    http_port: int = 8002
    vault_gateway_url: str = "http://127.0.0.1:8003"
    sync_runner_url: str = "http://127.0.0.1:8004"
    # webhook-ingest's internal API (the delivery log), not the public webhook URL below.
    webhook_ingest_url: str = "http://127.0.0.1:8005"
    # Public base URL vendors post webhooks to (webhook-ingest), shown in installation details.
    webhook_base_url: str = "http://127.0.0.1:8005"
    # Local stack only (deploy/local sets ARIA_DEV_SIGNIN=1): POST /v1/dev/sign-in mints tokens for
    # the demo organization. Refused at start when tokens are verified through JWKS (production).
    dev_signin: bool = False
    # Local stack only (deploy/local sets ARIA_DEMO_CONFIGS when it runs a simulator): Try demo. Per
    # integration key, the configuration of its vendor simulator (base URL and the simulator's demo
    # credentials). Empty (the default): no demos. Refused when tokens are verified through JWKS.
    demo_configs: dict[str, dict[str, Any]] = {}

    @model_validator(mode="after")
    def _dev_signin_is_local(self) -> "InstallerSettings":
        if self.dev_signin and (self.jwt_jwks_url or self.jwt_secret is None):
            raise ValueError("dev_signin needs a local HS256 jwt_secret and no jwt_jwks_url")
        if self.demo_configs and (self.jwt_jwks_url or self.jwt_secret is None):
            raise ValueError("demo_configs (Try demo against simulators) is for the local stack only")
        return self


def load() -> InstallerSettings:
    return load_settings(InstallerSettings)
