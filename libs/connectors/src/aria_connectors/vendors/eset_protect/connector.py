"""ESET Connect's regional hosts (https://help.eset.com/eset_connect/en-US/use_api_with_swagger.html):
one region (eu, de, us, ca, jpn) names four hosts - ``{region}.business-account.iam.eset.systems``
(token), ``{region}.incident-management.eset.systems`` (detections),
``{region}.device-management.eset.systems`` (devices) and ``{region}.automation.eset.systems``
(device tasks). A host setting left empty is derived from ``region``.

Devices cannot be filtered by time (``GET /v1/devices`` takes only pageSize/pageToken): the
whole list is read each run and the cursor (``lastSyncTime``) drops what was published."""

from __future__ import annotations

from typing import Any

from aria_connectors.sdk.connector import DeclarativeConnector

HOSTS = {"iam_url": "business-account.iam", "incident_management_url": "incident-management",
         "device_management_url": "device-management", "automation_url": "automation"}


class EsetProtectConnector(DeclarativeConnector):
    def __init__(self, manifest: Any, context: Any, settings: dict[str, Any], *args: Any, **kwargs: Any) -> None:
        settings = dict(settings)
        region = settings.get("region") or "eu"
        for name, host in HOSTS.items():
            if not settings.get(name):
                settings[name] = f"https://{region}.{host}.eset.systems"
        super().__init__(manifest, context, settings, *args, **kwargs)

