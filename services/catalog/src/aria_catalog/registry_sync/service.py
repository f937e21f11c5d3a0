"""Keep integration_catalog in step with the connector registry.

Idempotent: an entry whose normalized content hashes the same as the stored row is not
touched. New keys are inserted, changed entries updated (a version change is recorded as
such in catalog_versions), keys no longer in the registry are marked deprecated and
never deleted (installations and reviews still point at them), and a key that comes back
is restored. Every change is announced (CatalogEntryChanged, through the outbox) in the same
transaction that makes it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import orjson
import structlog

from aria_contracts.events import PLATFORM_ORG, CatalogEntryChanged
from aria_platform.outbox import enqueue, traced

from ..catalog.query import QUALITY_TIERS
from . import repo

log = structlog.get_logger(__name__)
KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


@dataclass
class SyncReport:
    added: list[str] = field(default_factory=list)
    version_changed: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.version_changed or self.updated or self.removed or self.restored)

    def summary(self) -> dict[str, int]:
        return {k: len(v) for k, v in self.__dict__.items()}


def registry_entries() -> list[dict[str, Any]]:
    """catalog_entry() of every connector the registry discovers; one broken manifest is skipped."""
    from aria_connectors import registry

    entries = []
    for key, plugin in registry.discover().items():
        try:
            entries.append(plugin.manifest.catalog_entry())
        except Exception:
            log.exception("connector catalog entry unreadable; skipped", key=key)
    return entries


def _first(entry: dict, *names: str, default: Any = None) -> Any:
    for name in names:
        if entry.get(name) is not None:
            return entry[name]
    return default


def _strings(value: Any) -> list[str]:
    if not value:
        return []
    if isinstance(value, str):
        return [value]
    return sorted({str(v) for v in value})


def _lines(value: Any) -> list[str]:
    """Lines in the manifest's order (features, permissions read as a list), blanks and repeats dropped."""
    if not value:
        return []
    out: list[str] = []
    for item in [value] if isinstance(value, str) else value:
        line = str(item).strip()
        if line and line not in out:
            out.append(line)
    return out


def _quality_tier(entry: dict) -> str:
    tier = entry.get("quality_tier") or "unrated"
    if tier not in QUALITY_TIERS:
        log.warning("unknown quality tier; catalogued as unrated", key=entry.get("key"), tier=tier)
        return "unrated"
    return tier


def _setup_minutes(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"setup_minutes must be a positive integer, not {value!r}")
    return value


def _push_actions(value: Any) -> list[dict[str, Any]]:
    actions = []
    for action in value or []:
        if not isinstance(action, dict) or not action.get("name") or not action.get("kind"):
            raise ValueError(f"push action without a name or kind: {action!r}")
        actions.append({"name": str(action["name"]), "kind": str(action["kind"]), "input": action.get("input"),
                        "description": action.get("description")})
    return actions


def _secret_fields(schema: dict) -> list[str]:
    props = schema.get("properties") or {}
    return sorted(name for name, spec in props.items()
                  if isinstance(spec, dict) and (spec.get("x-secret") or spec.get("writeOnly")
                                                 or spec.get("format") == "password"))


def normalize(entry: dict[str, Any]) -> dict[str, Any]:
    """Map a registry catalog entry (tolerant of missing optional keys) onto catalog columns."""
    key = entry.get("key")
    if not isinstance(key, str) or not KEY_PATTERN.match(key):
        raise ValueError(f"invalid connector key {key!r}")
    config_schema = entry.get("config_schema") or {}
    pricing_model = entry.get("pricing_model")
    rate_limits = _first(entry, "api_rate_limits", "rate_limits", default={}) or {}
    return {
        "key": key,
        "name": str(entry.get("name") or key),
        "vendor": str(entry.get("vendor") or ""),
        "product": entry.get("product"),
        "category": str(entry.get("category") or "custom"),
        "description": str(entry.get("description") or ""),
        "logo_url": _first(entry, "logo_url", "icon_url"),
        "documentation_url": entry.get("documentation_url"),
        "support_url": entry.get("support_url"),
        "version": str(entry.get("version") or "0.0.0"),
        "pricing_model": pricing_model,
        "is_official": bool(_first(entry, "official", "is_official", default=False)),
        "is_community": bool(_first(entry, "community", "is_community", default=False)),
        "is_beta": bool(_first(entry, "beta", "is_beta", default=False)),
        "is_deprecated": bool(_first(entry, "deprecated", "is_deprecated", default=False)),
        # Not declared by manifests (yet): a vendor-licensed connector needs the vendor's licence.
        "license_required": bool(_first(entry, "license_required", default=pricing_model == "vendor_license")),
        "minimum_platform_version": entry.get("minimum_platform_version"),
        "capabilities": _strings(entry.get("capabilities")),
        "data_types": _strings(entry.get("data_types")),
        "auth_methods": _strings(entry.get("auth_methods")),
        "streams": _strings(entry.get("streams")),
        "config_schema": config_schema,
        "secret_fields": _strings(entry.get("secret_fields")) or _secret_fields(config_schema),
        "supports_webhooks": bool(_first(entry, "supports_webhooks", "supports_webhook", "webhook_support",
                                         default=False)),
        "api_rate_limits": {k: v for k, v in rate_limits.items() if v is not None},
        "installation_complexity": entry.get("installation_complexity"),
        # Earned in the connector conformance suite (never declared by the manifest).
        "quality_tier": _quality_tier(entry),
        "quality_criteria": {str(k): str(v) for k, v in sorted((entry.get("quality_criteria") or {}).items())},
        "key_features": _lines(entry.get("key_features")),
        "required_permissions": _lines(entry.get("required_permissions")),
        "setup_minutes": _setup_minutes(entry.get("setup_minutes")),
        "push_actions": _push_actions(entry.get("push_actions")),
    }


def entry_hash(entry: dict[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(entry, option=orjson.OPT_SORT_KEYS)).hexdigest()


async def _record_change(conn: asyncpg.Connection, *, key: str, change: str, version: str,
                         previous_version: str | None, entry_hash: str) -> None:
    """History row and the event announcing the change, in the caller's transaction."""
    change_id = await repo.record_change(conn, key=key, change=change, version=version,
                                         previous_version=previous_version, entry_hash=entry_hash)
    event = CatalogEntryChanged(integration_key=key, change=change, version=version,
                                previous_version=previous_version, change_id=change_id)
    await enqueue(conn, traced(event, source="catalog", org_id=PLATFORM_ORG))


async def sync_catalog(*, pool: asyncpg.Pool, entries: Iterable[dict[str, Any]]) -> SyncReport:
    """Upsert every entry by key, deprecate keys that left the registry. One transaction."""
    report = SyncReport()
    normalized: dict[str, dict] = {}
    for raw in entries:
        try:
            entry = normalize(raw)
        except (ValueError, TypeError, AttributeError) as exc:
            log.error("registry entry rejected", key=raw.get("key") if isinstance(raw, dict) else None,
                      reason=str(exc))
            report.skipped.append(str(raw.get("key") if isinstance(raw, dict) else raw))
            continue
        normalized[entry["key"]] = entry

    async with pool.acquire() as conn, conn.transaction():
        await repo.lock(conn)
        current = await repo.current_state(conn)
        for key, entry in sorted(normalized.items()):
            digest = entry_hash(entry)
            row = current.get(key)
            if row is None:
                await repo.insert_entry(conn, entry, digest)
                change = "added"
                report.added.append(key)
            elif row["entry_hash"] == digest and row["removed_at"] is None:
                report.unchanged.append(key)
                continue
            else:
                await repo.update_entry(conn, entry, digest)
                if row["removed_at"] is not None:
                    change = "restored"
                    report.restored.append(key)
                elif row["version"] != entry["version"]:
                    change = "version_changed"
                    report.version_changed.append(key)
                else:
                    change = "updated"
                    report.updated.append(key)
            await _record_change(conn, key=key, change=change, version=entry["version"],
                                 previous_version=row["version"] if row else None, entry_hash=digest)

        gone = [k for k, row in current.items() if k not in normalized and row["removed_at"] is None]
        if gone and not normalized:
            # An empty registry is a packaging fault, not the end of every connector.
            log.error("connector registry is empty; not deprecating catalog entries", would_remove=len(gone))
        else:
            for key in sorted(gone):
                await repo.mark_removed(conn, key)
                await _record_change(conn, key=key, change="removed", version=current[key]["version"],
                                     previous_version=current[key]["version"], entry_hash=current[key]["entry_hash"])
                report.removed.append(key)
        if report.changed:
            await repo.refresh_vocabulary(conn)
    log.info("catalog synced from connector registry", **report.summary())
    return report


async def history(*, pool: asyncpg.Pool, key: str) -> list[dict]:
    return [dict(r) for r in await repo.history(pool, key)]
