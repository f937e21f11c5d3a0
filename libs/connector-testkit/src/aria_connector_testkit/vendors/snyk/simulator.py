"""Snyk: the REST reads are the profile (``simulator.yaml``); this adds the webhook sender, which a
profile cannot say: Snyk signs a delivery with ``X-Hub-Signature: sha256=<hex HMAC-SHA256(secret,
raw body)>`` and names it in ``X-Snyk-Transport-ID``
(https://docs.snyk.io/snyk-api/using-specific-snyk-apis/webhooks-apis/webhooks)."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path
from typing import Any

from aria_connector_testkit.simulators.profile import create_app as profile_app

PROFILE = Path(__file__).with_name("simulator.yaml")


def sign_webhook(secrets: dict[str, Any], body: bytes, timestamp: int | None = None,
                 delivery_id: str | None = None) -> dict[str, str]:
    """Headers of a project_snapshot delivery (Snyk signs no timestamp, so ``timestamp`` is unused).
    Written apart from the SDK's verifier."""
    mac = hmac.new(str(secrets["webhook_secret"]).encode(), body, hashlib.sha256).hexdigest()
    headers = {"Content-Type": "application/json", "X-Snyk-Event": "project_snapshot/v0",
               "X-Hub-Signature": f"sha256={mac}", "User-Agent": "Snyk-Webhooks/044aadd"}
    if delivery_id:
        headers["X-Snyk-Transport-ID"] = delivery_id
    return headers


def create_app(**options: Any) -> Any:
    """Options: those of the profile (seed, records / issues / projects, malformed, per_timestamp,
    api_token, rate_limit, rate_window_seconds, replay)."""
    return profile_app("snyk", PROFILE, **options)
