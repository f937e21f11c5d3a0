"""The runtime instance of a connector for one installation."""

from __future__ import annotations

import json
import time
import uuid
from datetime import datetime
from typing import Any, AsyncIterator, Awaitable, Callable, Mapping

import httpx
from aria_contracts.events import DomainEntity

from ..errors import BadWebhookPayload, ConfigurationError, ConnectorError, MappingError
from .data_mappings import WEBHOOK_PREFIX, plan
from .http import ApiClient, Authenticator, RetryPolicy, effective_limits
from .manifest import Manifest, OAuth2ClientCredentials, RequestSpec, StreamSpec, choose_auth
from .mapping import external_id_of
from .paths import get_path
from .streams import StreamReader
from .templates import placeholders, render
from .types import (
    AuthenticationResult,
    ConnectionTestResult,
    HealthStatus,
    InstallationContext,
    PreviewResult,
    PushRequest,
    PushResult,
    QueryResult,
    RecordError,
    RuntimeOptions,
    SyncBatch,
    SyncResult,
    WebhookParseResult,
    WebhookResult,
    WebhookVerdict,
)
from . import push as push_mod
from . import webhook as wh

CHECKPOINT_VERSION = 1


class DeclarativeConnector:
    """Runs a manifest. Subclass it (and pass the class to ConnectorPlugin) when a vendor
    needs code: override ``transform_record`` or any method below."""

    def __init__(self, manifest: Manifest, context: InstallationContext, settings: dict[str, Any],
                 secrets: dict[str, Any], http: httpx.AsyncClient, options: RuntimeOptions | None = None) -> None:
        self.manifest = manifest
        self.context = context
        self.settings = dict(settings)
        secret_names = set(manifest.secret_fields())
        for name, prop in (manifest.config_schema.get("properties") or {}).items():
            # JSON Schema defaults of settings the installation left out (templates may use them)
            if name not in self.settings and name not in secret_names and isinstance(prop, dict) and "default" in prop:
                self.settings[name] = prop["default"]
        self._secrets = dict(secrets)
        self.http = http
        self.options = options or RuntimeOptions()
        self.limits = effective_limits(manifest.rate_limits, self.options)
        self.retry = RetryPolicy.build(self.limits, self.options)
        self.mapping_plan = plan(manifest, self.options.mappings)
        self.template_ctx: dict[str, Any] = {"settings": self.settings, "secrets": self._secrets}
        self.api: ApiClient | None = None
        if manifest.api is not None:
            try:
                base_url = str(render(manifest.api.base_url, self.template_ctx))
            except KeyError as exc:
                raise ConfigurationError(f"missing configuration value for {exc.args[0]}") from None
            auth_spec = choose_auth(manifest.api.auth, {**self.settings, **self._secrets})
            auth = Authenticator(auth_spec, self.template_ctx, base_url, http, self.retry)
            self.api = ApiClient(base_url=base_url, auth=auth, http=http, retry=self.retry,
                                 limits=self.limits, default_headers=dict(manifest.api.default_headers),
                                 timeout=self.options.request_timeout_seconds, error_rules=list(manifest.api.error_rules),
                                 response_prefix=manifest.api.response_prefix)

    def __repr__(self) -> str:  # never show secrets
        return f"<{type(self).__name__} {self.manifest.key} installation={self.context.installation_id}>"

    # -- lifecycle: initialize / authenticate / test_connection / health_check ----------------

    async def initialize(self) -> None:
        """Fail fast on a configuration the calls would trip over later: the settings and secrets
        the chosen auth scheme and every request template (connection test, health check, streams)
        name must be set. Raises ConfigurationError naming the missing value; sends nothing."""
        api = self.manifest.api
        if api is None:
            return
        requests = [api.connection_test, api.health_check, *(s.request for s in api.streams)]
        templates = [self.api.auth.spec.model_dump()] if self.api is not None else []
        templates += [[r.path, r.params, r.json_body, r.headers] for r in requests if r is not None]
        for template in templates:
            for name in sorted(placeholders(template)):
                # {cursor}, {ids}, a job id ... are filled in per page; settings and secrets must be here now
                if name.split(".")[0] in ("settings", "secrets") and get_path(self.template_ctx, name) in (None, ""):
                    raise ConfigurationError(f"missing configuration value for {name}")

    async def authenticate(self) -> AuthenticationResult:
        """Obtain or verify the credential: an OAuth2 token is fetched (or the cached one kept) and
        its expiry returned; static credentials (API key, basic, bearer) are verified by the
        connection-test request."""
        if self.api is None or self.manifest.api is None:
            return AuthenticationResult(True, "none", None, "webhook-only connector: nothing to authenticate")
        spec = self.api.auth.spec
        try:
            if isinstance(spec, OAuth2ClientCredentials):
                await self.api.auth.headers()
            else:
                await self._call(self.manifest.api.connection_test, "authentication")
        except ConnectorError as exc:
            return AuthenticationResult(False, spec.type, None, exc.message, exc.error_class)
        return AuthenticationResult(True, spec.type, self.api.auth.token_expires_at, "credentials accepted")

    async def _call(self, req: RequestSpec, what: str) -> httpx.Response:
        assert self.api is not None
        return await self.api.request(req.method, str(render(req.path, self.template_ctx)),
                                      params=render(req.params, self.template_ctx) or None,
                                      json=render(req.json_body, self.template_ctx) if req.json_body else None,
                                      headers={k: str(v) for k, v in render(dict(req.headers), self.template_ctx).items()}
                                      or None, what=what)

    async def test_connection(self) -> ConnectionTestResult:
        start = time.perf_counter()
        if self.api is None or self.manifest.api is None:
            return ConnectionTestResult(True, 0.0, "webhook-only connector: nothing to call", None)
        try:
            await self._call(self.manifest.api.connection_test, "connection test")
        except ConnectorError as exc:
            return ConnectionTestResult(False, _ms(start), exc.message, exc.error_class)
        return ConnectionTestResult(True, _ms(start), f"connected to {self.manifest.name}", None)

    async def health_check(self) -> HealthStatus:
        start = time.perf_counter()
        if self.api is None or self.manifest.api is None:
            return HealthStatus("healthy", 0.0, {"mode": "webhook"})
        req = self.manifest.api.health_check or self.manifest.api.connection_test
        limits = self.limits
        try:
            resp = await self._call(req, "health check")
        except ConnectorError as exc:
            status = "degraded" if exc.error_class == "transient" and exc.status_code == 429 else "down"
            return HealthStatus(status, _ms(start), {"error_class": exc.error_class, "error": exc.message,
                                                     "http_status": exc.status_code})
        details: dict[str, Any] = {"http_status": resp.status_code}
        status = "healthy"
        remaining = _int(resp.headers.get(limits.remaining_header)) if limits.remaining_header else None
        limit = _int(resp.headers.get(limits.limit_header)) if limits.limit_header else None
        if remaining is not None:
            details["rate_limit_remaining"] = remaining
        if limit is not None:
            details["rate_limit_limit"] = limit
        if remaining is not None and limit:
            if remaining / limit < limits.degraded_below_fraction:
                status = "degraded"
                details["reason"] = "rate limit budget nearly exhausted"
        return HealthStatus(status, _ms(start), details)

    # -- sync -------------------------------------------------------------------------------

    def stream_names(self) -> list[str]:
        return [s.name for s in (self.manifest.api.streams if self.manifest.api else [])]

    async def sync(self, checkpoint: dict[str, Any] | None = None, job_id: uuid.UUID | None = None,
                   *, streams: list[str] | None = None) -> AsyncIterator[SyncBatch]:
        if self.manifest.api is None or not self.manifest.api.streams:
            raise ConfigurationError(f"{self.manifest.key} does not support polling sync")
        state = _load_checkpoint(checkpoint)
        wanted = streams or self.stream_names()
        unknown = set(wanted) - set(self.stream_names())
        if unknown:
            raise ConfigurationError(f"unknown streams: {sorted(unknown)}")
        for spec in self.manifest.api.streams:
            if spec.name not in wanted:
                continue
            reader = self.stream_reader(spec, state["streams"].get(spec.name), job_id)
            async for page in reader.pages():
                changed = page.changed
                if spec.incremental is not None:
                    new = reader.checkpoint()
                    changed = changed or new != state["streams"].get(spec.name)
                    state["streams"][spec.name] = new
                if page.events or page.errors or changed:
                    yield SyncBatch(stream=spec.name, events=page.events,
                                    checkpoint=json.loads(json.dumps(state)), record_errors=page.errors,
                                    stream_total=reader.total, stream_read=reader.records_read)

    async def query(self, stream: str, *, filters: dict[str, Any] | None = None, limit: int = 100) -> QueryResult:
        """An ad-hoc, bounded read of one stream from its beginning: ``filters`` are extra request
        parameters (the vendor's own filter syntax), at most ``limit`` events come back. Nothing
        is published and no checkpoint is produced."""
        if stream not in self.stream_names():
            raise ConfigurationError(f"unknown stream: {stream!r}")
        if not 1 <= limit <= 10_000:
            raise ConfigurationError("limit must be between 1 and 10000")
        reader = self.stream_reader(self.manifest.stream(stream), None, None)
        if filters and type(reader).pages is not StreamReader.pages:
            raise ConfigurationError(f"stream {stream!r} is read through a vendor job and takes no filters")
        reader.filters = dict(filters or {})
        result = QueryResult(events=[])
        pages = reader.pages()
        try:
            async for page in pages:
                result.events.extend(page.events)
                result.record_errors.extend(page.errors)
                if len(result.events) > limit:  # so a read ending exactly at the limit is not "truncated"
                    result.truncated = True
                    del result.events[limit:]
                    break
        finally:
            await pages.aclose()
        return result

    # -- preview (dry run) ------------------------------------------------------------------

    async def preview(self, max_pages: int = 2, *, streams: list[str] | None = None,
                      sample_size: int = 5) -> PreviewResult:
        """What a first sync would publish, reading at most ``max_pages`` pages per stream.
        Nothing is published and no checkpoint is produced; errors are classified as in sync."""
        if self.manifest.api is None or not self.manifest.api.streams:
            raise ConfigurationError(f"{self.manifest.key} does not support polling sync, so nothing to preview")
        if max_pages < 1:
            raise ConfigurationError("max_pages must be at least 1")
        wanted = streams or self.stream_names()
        unknown = set(wanted) - set(self.stream_names())
        if unknown:
            raise ConfigurationError(f"unknown streams: {sorted(unknown)}")
        result = PreviewResult(counts={}, samples={})
        for spec in self.manifest.api.streams:
            if spec.name not in wanted:
                continue
            for chain in self.mapping_plan.get(spec.name, ()):
                result.counts.setdefault(chain[0].spec.entity, 0)
                result.samples.setdefault(chain[0].spec.entity, [])
            reader = self.stream_reader(spec, None, None)
            pages = reader.pages()
            try:
                async for page in pages:
                    for event in page.events:
                        result.counts[event.entity_type] += 1
                        if len(result.samples[event.entity_type]) < sample_size:
                            result.samples[event.entity_type].append(event)
                    result.record_errors.extend(page.errors)
                    if reader.page_requests >= max_pages:
                        result.truncated = True
                        break
            finally:
                await pages.aclose()
            result.pages[spec.name] = reader.page_requests
        return result

    # -- push actions -----------------------------------------------------------------------

    def push_actions(self) -> list[str]:
        return [a.name for a in self.manifest.push]

    async def push(self, action: str, payload: PushRequest) -> PushResult:
        """Run a manifest push action. Errors are classified as in sync (401 authentication, 403
        permission, 429 waited out, 5xx retried then transient, other 4xx permanent). A request
        that may already have reached the vendor is only sent again when the action is
        idempotent (vendor de-duplication key, lookup-before-create, or a natural PUT/PATCH);
        otherwise it fails transient with ``outcome_unknown``."""
        return await push_mod.run_push(self, action, payload)

    # -- webhooks ---------------------------------------------------------------------------

    def verify_webhook(self, headers: Mapping[str, str], body: bytes, secrets: dict[str, Any] | None,
                       now: datetime) -> WebhookVerdict:
        spec = self.manifest.webhook
        delivery_id = wh.body_delivery_id(body) if spec is None else wh.delivery_id_of(spec, headers, body)
        if spec is None:
            return WebhookVerdict(False, delivery_id, "connector does not accept webhooks")
        ok, reason = wh.verify(spec, headers, body, secrets if secrets is not None else self._secrets, now)
        if not ok:
            return WebhookVerdict(False, delivery_id, reason)
        return WebhookVerdict(True, delivery_id, None, wh.challenge_response(spec, body),
                              wh.replay_key(spec, headers, body))

    def parse_webhook(self, headers: Mapping[str, str], body: bytes, delivery_id: str) -> WebhookParseResult:
        spec = self.manifest.webhook
        if spec is None:
            raise BadWebhookPayload(f"{self.manifest.key} does not accept webhooks")
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise BadWebhookPayload("body is not JSON") from None
        except RecursionError:  # nesting deeper than the interpreter's recursion limit
            raise BadWebhookPayload(f"body is nested deeper than {wh.MAX_DEPTH} levels") from None
        if wh.nested_deeper_than(data):
            raise BadWebhookPayload(f"body is nested deeper than {wh.MAX_DEPTH} levels")
        records = get_path(data, spec.payload.records_path) if spec.payload.records_path else data
        # One record per delivery (the whole body, or an object at records_path, e.g. Jira's
        # "issue"): its type is read from the body, the envelope that describes it.
        single = spec.payload.records_path is None or isinstance(records, dict)
        if single:
            records = [records]
        if not isinstance(records, list):
            raise BadWebhookPayload(f"no list or object at {spec.payload.records_path!r}")
        events: list[DomainEntity] = []
        errors: list[RecordError] = []
        for i, rec in enumerate(records):
            typed = data if single else rec
            kind = get_path(typed, spec.payload.type_field) if (spec.payload.type_field and isinstance(typed, dict)) else None
            type_key = str(kind) if kind is not None and str(kind) in spec.payload.types else "default"
            if type_key not in spec.payload.types:
                errors.append(RecordError("webhook", None, f"record {i}: unsupported type"))
                continue
            mapped, failures = self.map_source(
                WEBHOOK_PREFIX + type_key, self.transform_record("webhook", rec), raw=rec,
                stream=f"webhook.{kind or 'default'}", webhook_delivery_id=delivery_id)
            events.extend(mapped)
            ext = external_id_of(rec, spec.payload.types[type_key])
            errors.extend(RecordError("webhook", ext, f"record {i}: {reason}") for reason in failures)
        return WebhookParseResult(events, errors)

    def map_source(self, source_type: str, record: Any, *, raw: Any, stream: str,
                   **provenance: Any) -> tuple[list[DomainEntity], list[str]]:
        """The record's events under the installation's data mappings (``data_mappings.plan``): per
        target entity, the first mapping whose filters keep the record. Returns the events and the
        reasons of the mappings that failed; a record no mapping keeps yields neither."""
        events: list[DomainEntity] = []
        failures: list[str] = []
        context = self.context
        common = {"installation_id": context.installation_id, "integration_key": context.integration_key,
                  "connector_version": self.manifest.version, "stream": stream, **provenance}
        for chain in self.mapping_plan.get(source_type, ()):
            for chosen in chain:  # a loop, not next() over a generator: this runs for every record
                if chosen.keeps(record):
                    break
            else:
                continue
            try:
                events.append(chosen.compiled.map(
                    record, org_id=context.org_id, integration_key=context.integration_key, provenance=common,
                    raw=raw, transform=chosen.transform if chosen.transforms else None))
            except MappingError as exc:
                failures.append(str(exc))
        return events, failures

    def handle_webhook(self, headers: Mapping[str, str], body: bytes, now: datetime,
                       secrets: dict[str, Any] | None = None) -> WebhookResult:
        """Verify and parse a delivery in one call. A delivery failing verification, or a
        URL-verification challenge, is not parsed; a malformed body raises BadWebhookPayload."""
        verdict = self.verify_webhook(headers, body, secrets, now)
        if not verdict.ok or verdict.challenge_response is not None:
            return WebhookResult(verdict)
        parsed = self.parse_webhook(headers, body, verdict.delivery_id)
        return WebhookResult(verdict, parsed.events, parsed.record_errors)

    def webhook_events(self, headers: Mapping[str, str], body: bytes, delivery_id: str) -> list[DomainEntity]:
        """Events of a verified delivery. Raises BadWebhookPayload when the body is malformed
        or when no record at all could be mapped; individual bad records are skipped
        (see ``parse_webhook`` for their errors)."""
        result = self.parse_webhook(headers, body, delivery_id)
        if result.record_errors and not result.events:
            raise BadWebhookPayload(f"no record could be mapped: {result.record_errors[0].reason}")
        return result.events

    # -- hooks / lifecycle --------------------------------------------------------------------

    def stream_reader(self, spec: StreamSpec, state: dict[str, Any] | None, job_id: uuid.UUID | None) -> StreamReader:
        """The reader of one stream, used by sync and preview. Override to plug a StreamReader
        subclass (asynchronous export jobs, XML); ``reader.page_requests`` counts pages for preview.
        A stream declaring ``parents`` is read per parent (``sdk.fanout``)."""
        if spec.parents is not None:
            from .fanout import FanoutReader

            return FanoutReader(self, spec, state, job_id)
        return StreamReader(self, spec, state, job_id)

    def transform_record(self, stream: str, record: Any) -> Any:
        """Override for vendor quirks the manifest cannot express."""
        return record

    def page_request(self, stream: str, params: dict[str, Any], body: Any) -> tuple[dict[str, Any], Any]:
        """(query parameters, JSON body) of a stream's page request as the vendor takes them. Override
        where a vendor pages or filters inside the body (Sentinel's KQL text): the paging kind's
        parameters arrive in ``params``; the request is sent and classified as any other."""
        return params, body

    def page_body(self, stream: str, body: Any) -> Any:
        """A stream page's decoded response, reshaped where the vendor's is not records at a path
        (Log Analytics' column/row tables)."""
        return body

    async def disconnect(self) -> None:
        """Forget the token and the secrets; the instance is unusable afterwards."""
        if self.api is not None:
            self.api.auth.invalidate()
        self._secrets.clear()

    async def close(self) -> None:
        await self.disconnect()


async def drain_sync(inst: DeclarativeConnector, checkpoint: dict[str, Any] | None = None,
                     job_id: uuid.UUID | None = None, *, known_entity_ids: set[uuid.UUID] | None = None,
                     on_batch: Callable[[SyncBatch], Awaitable[None]] | None = None,
                     streams: list[str] | None = None) -> SyncResult:
    """Run ``inst.sync`` to the end and count it. ``on_batch`` sees every batch in order (publish,
    then store its checkpoint); ``known_entity_ids`` (the caller's record of entities published
    before; updated in place) splits events into created and updated."""
    known = set() if known_entity_ids is None else known_entity_ids
    result = SyncResult(checkpoint=checkpoint)
    async for batch in inst.sync(checkpoint, job_id, streams=streams):
        if on_batch is not None:
            await on_batch(batch)
        for event in batch.events:
            if event.entity_id in known:
                result.updated += 1
            else:
                result.created += 1
                known.add(event.entity_id)
        result.failed += len(batch.record_errors)
        result.record_errors.extend(batch.record_errors)
        result.checkpoint = batch.checkpoint
        result.batches += 1
    result.processed = result.created + result.updated + result.failed
    return result


def _load_checkpoint(checkpoint: dict[str, Any] | None) -> dict[str, Any]:
    if not checkpoint:
        return {"version": CHECKPOINT_VERSION, "streams": {}}
    if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get("streams", {}), dict):
        raise ConfigurationError("checkpoint is not a connector checkpoint")
    return {"version": CHECKPOINT_VERSION, "streams": json.loads(json.dumps(checkpoint.get("streams", {})))}


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 3)


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
