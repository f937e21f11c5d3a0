"""Push actions: a contract event or a ticket change -> one vendor request (manifest ``push``).

Idempotency (``PushIdempotency.strategy``):

* ``header``  - the vendor de-duplicates on a key we send (e.g. ``Idempotency-Key``); the
  request is retried like any idempotent call.
* ``body``    - the key travels in the body (a client-chosen id); retried likewise.
* ``lookup``  - lookup-before-create: before each attempt the action's lookup request searches
  for an object carrying our external reference; a found object is returned as
  ``duplicate``. After an ambiguous failure (5xx, dropped connection) the lookup runs again
  before anything is re-sent, so a create whose response was lost is not repeated.
* ``natural`` - the request is idempotent by itself (PUT/PATCH of fields): retried.
* ``none``    - never re-sent once it may have reached the vendor: the push fails
  ``transient`` with ``outcome_unknown = True`` and the caller decides.

429s and connection failures (nothing reached the vendor) are retried in every case.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from typing import TYPE_CHECKING, Any

from ..errors import ConfigurationError, ConnectorError, MappingError, PermanentError, TransientError
from .http import Authenticator
from .manifest import ON_VENDOR_OBJECT, PushAction
from .mapping import _field_value
from .paths import get_path
from .templates import render
from .types import PushRequest, PushResult

if TYPE_CHECKING:
    from .connector import DeclarativeConnector

CHANGE_KEYS = ("title", "description", "severity", "status", "assignee", "labels")
_STATUS = {"send_event": "sent", "create_ticket": "created", "update_ticket": "updated", "add_comment": "created",
           "update_status": "updated", "isolate_host": "updated", "release_host": "updated"}


def prune_nulls(value: Any) -> Any:
    """Drop None values from dicts (recursively), then dicts left empty by that."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if v is None:
                continue
            pv = prune_nulls(v)
            if isinstance(v, dict) and v and pv == {}:
                continue
            out[k] = pv
        return out
    if isinstance(value, list):
        return [prune_nulls(v) for v in value if v is not None]
    return value


def _digest(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def push_context(conn: "DeclarativeConnector", spec: PushAction, payload: PushRequest) -> dict[str, Any]:
    if spec.input == "ticket":
        if not payload.vendor_id:
            raise PermanentError(f"push {spec.name}: a vendor_id (the ticket) is required")
        if spec.kind == "add_comment" and not payload.comment:
            raise PermanentError(f"push {spec.name}: a comment is required")
    else:
        if payload.event is None:
            raise PermanentError(f"push {spec.name}: an event of type {spec.input!r} is required")
        if payload.event.entity_type != spec.input:
            raise PermanentError(f"push {spec.name}: takes {spec.input!r} events, not {payload.event.entity_type!r}")
    event: dict[str, Any] = {}
    if payload.event is not None:
        event = payload.event.model_dump(mode="json")
        event["entity_type"] = payload.event.entity_type
        event["event_type"] = payload.event.event_type
    external_ref = payload.external_ref or (str(payload.event.entity_id) if payload.event is not None else None)
    vendor_id = payload.vendor_id
    if spec.kind in ON_VENDOR_OBJECT and vendor_id is None:
        vendor_id = payload.event.provenance.external_id  # type: ignore[union-attr]  # the vendor's own object
    key = payload.idempotency_key or _digest(
        str(conn.context.installation_id), spec.name, external_ref, payload.vendor_id,
        payload.changes if spec.kind == "update_ticket" else None,
        payload.comment if spec.kind == "add_comment" else None,
    )[:40]
    ctx: dict[str, Any] = {
        **conn.template_ctx,
        "event": event,
        "vendor_id": vendor_id,
        "changes": {**{k: None for k in CHANGE_KEYS}, **payload.changes},
        "comment": payload.comment,
        "external_ref": external_ref,
        "idempotency_key": key,
        "idempotency_uuid": str(uuid.UUID(bytes=hashlib.sha256(key.encode()).digest()[:16], version=4)),
        "installation_id": str(conn.context.installation_id),
    }
    values: dict[str, Any] = {}
    for name, fspec in spec.values.items():
        try:
            values[name] = _field_value(ctx, name, fspec)
        except MappingError as exc:
            raise PermanentError(f"push {spec.name}: {exc}") from None
    ctx["values"] = values
    return ctx


def _render(spec: PushAction, value: Any, ctx: dict[str, Any]) -> Any:
    try:
        return render(value, ctx)
    except KeyError as exc:
        raise ConfigurationError(f"push {spec.name}: missing value for {exc.args[0]}") from None


async def _lookup(conn: "DeclarativeConnector", spec: PushAction, ctx: dict[str, Any]) -> str | None:
    lookup = spec.idempotency.lookup
    assert lookup is not None and conn.api is not None
    req = lookup.request
    body = await conn.api.request_json(
        req.method, str(_render(spec, req.path, ctx)), params=_render(spec, req.params, ctx) or None,
        json=_render(spec, req.json_body, ctx) if req.json_body is not None else None,
        what=f"push {spec.name} lookup")
    found = get_path(body, lookup.record_selector)
    if isinstance(found, list):
        found = found[0] if found else None
    if not isinstance(found, dict):
        return None
    vid = get_path(found, lookup.id_path)
    return None if vid in (None, "") else str(vid)


async def _fetch(conn: "DeclarativeConnector", spec: PushAction, ctx: dict[str, Any]) -> dict[str, Any]:
    """Fetch before write: the answer of ``spec.fetch`` (status, headers by lower-case name, JSON body)."""
    req = spec.fetch
    assert req is not None and conn.api is not None
    resp = await conn.api.request(
        req.method, str(_render(spec, req.path, ctx)), params=_render(spec, req.params, ctx) or None,
        json=_render(spec, req.json_body, ctx) if req.json_body is not None else None,
        headers={k: str(v) for k, v in _render(spec, dict(req.headers), ctx).items()} or None,
        what=f"push {spec.name} fetch")
    body: Any = None
    if resp.content:
        try:
            body = resp.json()
        except ValueError:
            body = None
    return {"status": resp.status_code, "headers": {k.lower(): v for k, v in resp.headers.items()}, "body": body}


async def run_push(conn: "DeclarativeConnector", action: str, payload: PushRequest) -> PushResult:
    if conn.api is None:
        raise ConfigurationError(f"{conn.manifest.key} has no api section")
    try:
        spec = conn.manifest.push_action(action)
    except KeyError:
        raise ConfigurationError(f"{conn.manifest.key} has no push action {action!r}") from None
    ctx = push_context(conn, spec, payload)
    if spec.fetch is not None:
        ctx["fetched"] = await _fetch(conn, spec, ctx)
    idem = spec.idempotency
    req = spec.request
    path = str(_render(spec, req.path, ctx))
    if spec.base_url is not None:
        path = str(_render(spec, spec.base_url, ctx)).rstrip("/") + "/" + path.lstrip("/")
    params = _render(spec, req.params, ctx) or None
    headers = {k: str(v) for k, v in _render(spec, dict(req.headers), ctx).items()}
    body = _render(spec, req.json_body, ctx) if req.json_body is not None else None
    form = _render(spec, req.form, ctx) if req.form is not None else None
    lines = _render(spec, req.ndjson, ctx) if req.ndjson is not None else None
    if spec.omit_nulls:
        body, form = prune_nulls(body), prune_nulls(form)
        lines = None if lines is None else [prune_nulls(line) for line in lines]
    content = None
    if lines is not None:  # every line, the last included, ends with a newline (Elasticsearch insists)
        content = "".join(json.dumps(line, separators=(",", ":")) + "\n" for line in lines).encode()
        headers.setdefault("Content-Type", "application/x-ndjson")
    auth = None
    if spec.auth is not None:
        auth = Authenticator(spec.auth, conn.template_ctx, conn.api.base_url, conn.http, conn.retry)
    if idem.strategy == "header":
        headers[idem.header] = ctx["idempotency_key"]  # type: ignore[index]
    resend = idem.strategy in ("header", "body", "natural")
    # a precondition from a fetch (an ETag) is spent by a write that reached the vendor: such a write is
    # sent again only after a fresh fetch, never resent as is
    refetch = spec.fetch is not None and resend
    what = f"push {action}"
    attempts = 0
    while True:
        attempts += 1
        if refetch and attempts > 1:
            ctx["fetched"] = await _fetch(conn, spec, ctx)
            headers = {**headers, **{k: str(v) for k, v in _render(spec, dict(req.headers), ctx).items()}}
            if req.json_body is not None:
                body = _render(spec, req.json_body, ctx)
                body = prune_nulls(body) if spec.omit_nulls else body
        if idem.strategy == "lookup":
            found = await _lookup(conn, spec, ctx)
            if found is not None:
                return PushResult(found, "duplicate", _details(spec, ctx, attempts, None, found))
        try:
            resp = await conn.api.request(req.method, path, params=params, json=body, data=form, content=content,
                                          what=what, headers=headers, resend_unsafe=resend and not refetch, auth=auth)
        except TransientError as exc:
            if getattr(exc, "outcome_unknown", False) and (idem.strategy == "lookup" or refetch) \
                    and attempts <= conn.retry.max_retries:
                await asyncio.sleep(conn.retry.backoff(attempts - 1))
                continue
            raise
        break
    data: Any = None
    if resp.content:
        try:
            data = resp.json()
        except ValueError:
            data = None
    if spec.vendor_id_path is None:
        # a forwarded event gets no vendor id: our external reference names it
        vendor_id = ctx["vendor_id"] or (ctx["external_ref"] if spec.kind == "send_event" else "") or ""
    else:
        vid = get_path(data, spec.vendor_id_path) if data is not None else None
        if vid in (None, ""):
            raise PermanentError(f"{what}: response has no id at {spec.vendor_id_path!r}", status_code=resp.status_code)
        vendor_id = str(vid)
    ctx["response"] = data
    return PushResult(vendor_id, _STATUS[spec.kind], _details(spec, ctx, attempts, resp.status_code, vendor_id))  # type: ignore[arg-type]


def _details(spec: PushAction, ctx: dict[str, Any], attempts: int, status: int | None, vendor_id: str) -> dict[str, Any]:
    details: dict[str, Any] = {"action": spec.name, "kind": spec.kind, "http_status": status, "attempts": attempts,
                               "external_ref": ctx.get("external_ref"), "idempotency": spec.idempotency.strategy}
    if spec.vendor_url:
        try:
            details["url"] = str(render(spec.vendor_url, {**ctx, "vendor_id": vendor_id}))
        except (KeyError, ConnectorError):
            details["url"] = None
    return details
