"""Symantec Endpoint Security (Broadcom) connector: declarative (manifest.yaml) plus one reader.

The incident search (``POST /v1/incidents``) answers in no time order, so it is read as one resumable
session (``sdk.resumable.BodyOffsetSessionReader``): the search window is anchored on the checkpoint
(``start_date``) and pinned for the session (``end_date``: now when it starts), and the body offset
``next`` walks it; a resumed run continues the same window. SES searches at most 30 days back, so an
older start is moved to the oldest moment the API accepts (incidents not modified since are out of the
API's reach anyway)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from aria_connectors.sdk.plugin import ConnectorPlugin
from aria_connectors.sdk.resumable import BodyOffsetSessionReader
from aria_connectors.sdk.sessions import SessionConnector

# the API refuses a start_date older than 30 days; a minute's margin for the request's travel
MAX_AGE = timedelta(days=30) - timedelta(minutes=1)


def ses_time(dt: datetime) -> str:
    """The form SES writes its own times in: ``2023-04-26T21:01:13.355+00:00``."""
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+00:00"


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


class IncidentSearch(BodyOffsetSessionReader):
    def session_body(self, body: Any) -> dict[str, Any]:
        now = datetime.now(timezone.utc)
        pinned: dict[str, Any] = {"end_date": ses_time(now)}
        start = parse_time(body.get("start_date")) if isinstance(body, dict) else None
        if start is not None and start < now - MAX_AGE:
            pinned["start_date"] = ses_time(now - MAX_AGE)
        return pinned


class SymantecEndpointSecurityConnector(SessionConnector):
    reader_classes = {"incidents": IncidentSearch}


connector = ConnectorPlugin.from_package(__name__, instance_class=SymantecEndpointSecurityConnector)
