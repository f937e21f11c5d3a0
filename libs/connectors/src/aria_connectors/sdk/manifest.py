"""Connector manifest: the declarative description of a connector.

A manifest is YAML. It is first validated against ``manifest.schema.json`` (shipped with
the SDK, generated from the models below: ``python -m aria_connectors.sdk.manifest``
rewrites it, a test checks it is current), then loaded into these pydantic models.
"""

from __future__ import annotations

import json
import re
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import jsonschema
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..errors import ConfigurationError, ManifestError
from .templates import placeholders

SCHEMA_PATH = Path(__file__).with_name("manifest.schema.json")

Category = Literal[
    "edr", "siem", "soar", "vulnerability_management", "identity", "cloud_security",
    "threat_intelligence", "email_security", "network_security", "itsm", "custom",
]
PricingModel = Literal["free", "freemium", "paid", "vendor_license", "contact_sales"]
Complexity = Literal["low", "medium", "high"]
Capability = Literal["sync", "incremental", "webhook", "test_connection", "health_check", "push_actions"]
DataType = Literal["risk", "asset", "alert", "vulnerability", "indicator", "ticket"]
AuthType = Literal["oauth2_client_credentials", "oauth2_password", "api_key", "bearer", "basic", "none",
                   "hmac_signature", "api_key_id", "veracode_hmac", "oauth2_refresh_token", "session_login"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- rate limits / retries ------------------------------------------------------------


class RateLimits(_Model):
    """The vendor's documented budget, enforced client-side per connector instance (a token bucket
    per window, so one installation never bursts into a 429 storm), plus how to read the vendor's
    own rate-limit headers and how to back off."""

    requests_per_minute: int | None = Field(default=None, gt=0, description="Documented vendor budget per minute.")
    requests_per_hour: int | None = Field(default=None, gt=0, description="Documented vendor budget per hour.")
    requests_per_day: int | None = Field(default=None, gt=0, description="Documented vendor budget per day.")
    burst: int | None = Field(default=None, ge=1, description="Most calls sent back to back (the finest window's "
                                                              "bucket size); default: that window's whole budget.")
    backoff: Literal["exponential", "linear"] = Field(default="exponential", description="Wait between retries of "
                                                      "5xx / network errors: base * 2**attempt, or base * (attempt + 1).")
    limit_header: str | None = Field(default=None, description="Header with the request budget.")
    remaining_header: str | None = Field(default=None, description="Header with the remaining budget; at 0 the "
                                                                   "instance pauses until reset_header's time.")
    reset_header: str | None = Field(default=None, description="Header with the budget's reset: seconds, an HTTP "
                                                               "or ISO 8601 date, or an epoch timestamp (s or ms).")
    retry_after_headers: list[str] = Field(
        default_factory=lambda: ["Retry-After"],
        description="Headers read on 429, in order. Values: seconds, an HTTP date, or an epoch timestamp.",
    )
    max_retries: int = Field(default=3, ge=0, le=10, description="Retries of a call failing with 5xx or a network error.")
    max_throttled_retries: int = Field(
        default=20, ge=0, le=100,
        description="429s in a row a call waits out. Higher than max_retries: a vendor's budget is often shared "
                    "(a sync's streams side by side, other tools on the same account), and under such contention a "
                    "call can lose several windows in a row without anything being wrong.")
    backoff_base_seconds: float = Field(default=1.0, ge=0)
    backoff_max_seconds: float = Field(default=30.0, ge=0)
    max_retry_after_seconds: float = Field(default=120.0, ge=0, description="Longer waits fail as transient.")
    degraded_below_fraction: float = Field(default=0.1, ge=0, le=1, description="Remaining/limit under this: degraded.")


# --- auth -----------------------------------------------------------------------------


class OAuth2ClientCredentials(_Model):
    type: Literal["oauth2_client_credentials"]
    token_url: str = Field(description="Absolute, or relative to api.base_url.")
    client_id: str = Field(description="Template, e.g. '{settings.client_id}'.")
    client_secret: str = Field(description="Template, e.g. '{secrets.client_secret}'.")
    client_auth: Literal["form", "basic"] = "form"
    scope: str | None = Field(default=None, description="Template, e.g. '{settings.resource}/.default'.")
    extra_form: dict[str, str] = Field(default_factory=dict)
    refresh_margin_seconds: float = Field(default=60, ge=0)
    default_expires_in: float = Field(default=1800, gt=0)


class OAuth2Password(OAuth2ClientCredentials):
    """OAuth2 resource owner password grant (RFC 6749 4.3): ``grant_type=password`` with an API
    user's name and password (ESET Connect). Tokens are cached and re-fetched as client credentials'
    are; a client id and secret are sent only when the vendor issues them."""

    type: Literal["oauth2_password"]  # type: ignore[assignment]
    username: str = Field(description="Template, e.g. '{settings.username}'.")
    password: str = Field(description="Template, e.g. '{secrets.password}'.")
    client_id: str = Field(default="", description="Template; empty: no client authentication.")
    client_secret: str = Field(default="", description="Template; empty: no client authentication.")


class OAuth2RefreshToken(OAuth2ClientCredentials):
    """OAuth2 refresh-token grant (RFC 6749 6) with a long-lived token the vendor issues as an API key
    (Checkmarx One: ``grant_type=refresh_token``, ``client_id=ast-app``, the API key as
    ``refresh_token``). A public client: the client id is sent in the form and a client secret only
    when one is configured. Access tokens are cached and re-fetched as client credentials' are."""

    type: Literal["oauth2_refresh_token"]  # type: ignore[assignment]
    refresh_token: str = Field(description="Template, e.g. '{secrets.api_key}'.")
    client_secret: str = Field(default="", description="Template; empty: a public client (no secret sent).")


class ApiKeyAuth(_Model):
    type: Literal["api_key"]
    header: str
    value: str = Field(description="Template, e.g. '{secrets.api_key}'.")
    prefix: str = ""


class BearerAuth(_Model):
    type: Literal["bearer"]
    token: str


class BasicAuth(_Model):
    type: Literal["basic"]
    username: str
    password: str


class NoAuth(_Model):
    type: Literal["none"]


class NonceHash(_Model):
    """Per-request proof of the key instead of the key itself (Palo Alto Cortex "advanced" API keys):
    a fresh random nonce and the time in epoch ms travel in their own headers, and the key header
    carries the hex digest of ``signed_content`` ({key}, {nonce}, {timestamp})."""

    nonce_header: str
    timestamp_header: str
    nonce_length: int = Field(default=64, ge=16, le=256)
    algorithm: Literal["sha256", "sha512"] = "sha256"
    signed_content: str = Field(default="{key}{nonce}{timestamp}", description="What is hashed: {key}, {nonce}, "
                                                                               "{timestamp} (epoch ms).")


class ApiKeyIdAuth(_Model):
    """An API key and its key id, each in its own header (Cortex XDR: ``Authorization: <key>``,
    ``x-xdr-auth-id: <id>``); with ``nonce_hash`` the key header carries a per-request digest."""

    type: Literal["api_key_id"]
    header: str = "Authorization"
    value: str = Field(description="Template of the key, e.g. '{secrets.api_key}'.")
    key_id_header: str
    key_id: str = Field(description="Template of the key id, e.g. '{settings.api_key_id}'.")
    nonce_hash: NonceHash | None = None


class VeracodeHmacAuth(_Model):
    """Veracode's request signing (``sdk.veracode_hmac``): each request is signed with the API key
    id and its hex secret over its host, path and method."""

    type: Literal["veracode_hmac"]
    key_id: str = Field(description="Template of the API key id, e.g. '{settings.api_key_id}'.")
    key_secret: str = Field(description="Template of the hex API key secret, e.g. '{secrets.api_key_secret}'.")


class SessionLoginAuth(_Model):
    """A login call that opens a session, whose token then travels in a header of every request
    (Kaspersky Security Center: ``POST /api/v1.0/Session.StartSession`` with ``Authorization:
    KSCBasic user="<base64>", pass="<base64>"``, answered ``{"PxgRetVal": "<session id>"}``, then
    ``X-KSC-Session: <session id>``; ``sdk.session_login``). The login's templates also see
    ``{base64.settings.x}`` / ``{base64.secrets.x}`` (the value base64-encoded). The session is
    kept per instance, opened again once on a 401, and dropped by ``disconnect``."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    type: Literal["session_login"]
    method: Literal["GET", "POST"] = "POST"
    path: str = Field(description="Login path (template), absolute or relative to api.base_url.")
    headers: dict[str, str] = Field(default_factory=dict, description="Login request headers (templates).")
    json_body: dict[str, Any] | None = Field(default=None, alias="json", description="Login JSON body (templates).")
    token_path: str | None = Field(default=None, description="Dotted path of the session token in the login answer.")
    token_header: str | None = Field(default=None, description="Response header carrying the session token "
                                                               "(used when token_path is absent or empty).")
    header: str = Field(description="Request header that carries the session token.")
    prefix: str = ""
    ttl_seconds: float | None = Field(default=None, gt=0, description="Open a new session after this long "
                                                                      "(the vendor's idle timeout); none: on a 401.")

    @model_validator(mode="after")
    def _token_source(self) -> "SessionLoginAuth":
        if not (self.token_path or self.token_header):
            raise ValueError("session_login needs token_path or token_header")
        return self


SingleAuth = (OAuth2ClientCredentials | OAuth2Password | OAuth2RefreshToken | ApiKeyAuth | BearerAuth | BasicAuth
              | NoAuth | ApiKeyIdAuth | VeracodeHmacAuth | SessionLoginAuth)


class AuthOption(_Model):
    when: list[str] = Field(default_factory=list, description="Config fields (settings or secrets) that must all "
                                                              "be set for this option; empty: the fallback.")
    auth: SingleAuth = Field(discriminator="type")


class ChoiceAuth(_Model):
    """Several ways to authenticate; the installation's configuration picks one (first option whose
    ``when`` fields are all set), e.g. an API key, else basic."""

    type: Literal["choice"]
    options: list[AuthOption] = Field(min_length=2)


Auth = SingleAuth | ChoiceAuth


def choose_auth(spec: Auth, config: dict[str, Any]) -> SingleAuth:
    """The auth scheme an installation's configuration (settings and secrets) selects."""
    if not isinstance(spec, ChoiceAuth):
        return spec
    for option in spec.options:
        if all(config.get(name) not in (None, "") for name in option.when):
            return option.auth
    wanted = " or ".join("+".join(o.when) for o in spec.options if o.when)
    raise ConfigurationError(f"no authentication option matches the configuration (set {wanted})")


# --- requests, pagination, streams ----------------------------------------------------


class RequestSpec(_Model):
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "GET"
    path: str = Field(description="Template appended to api.base_url.")
    params: dict[str, Any] = Field(default_factory=dict)
    json_body: dict[str, Any] | list[Any] | None = Field(default=None, alias="json", description="JSON body: an "
                                                         "object, or an array (Trend Vision One's response "
                                                         "actions take a list of targets).")
    form: dict[str, Any] | None = Field(default=None, description="Form-encoded body (application/x-www-form-urlencoded).")
    ndjson: list[Any] | None = Field(default=None, description="Newline-delimited JSON body, one line per item "
                                                               "(Elasticsearch _bulk: action line, then document).")
    headers: dict[str, str] = Field(default_factory=dict)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _one_body(self) -> "RequestSpec":
        if sum(b is not None for b in (self.json_body, self.form, self.ndjson)) > 1:
            raise ValueError("give only one of json, form, ndjson")
        return self


class OffsetPagination(_Model):
    type: Literal["offset"]
    offset_param: str = "offset"
    limit_param: str = "limit"
    page_size: int = Field(default=100, ge=1)
    max_page_size: int | None = None
    total_path: str | None = Field(default=None, description="Path of the total count in the response.")


class KeysetPagination(_Model):
    """Keyset ("seek") paging of an incremental stream: every page is the *first* page of the query
    filtered from the cursor reached so far (the incremental ``filter_template``, inclusive, with the
    ``seen`` ids dropped at the boundary) and sorted ascending on the cursor. What a sync has read is a
    range of cursor values, not a count of rows, so a record re-sorted while the sync runs cannot shift
    an unread one into it, and the vendor's offset ceiling is never reached.

    Before the first page one request sorted descending (``descending_sort``, one record) reads the
    newest cursor value U; the run reads the records below U (``below_upper_template``), then those at
    U (``upper_bound_template``). A record changed after that has a cursor of at least U, so it leaves
    the range being read and the range only shrinks: with ``hydrate``, an entity whose fetched cursor
    is at or past U (past U while the records at U are read) changed after its id was queried; it
    neither moves the checkpoint nor is published, and a later page or the next run reads it. Reading
    the records at U last keeps a change stamped with U itself (a cursor of whole seconds) from moving
    the checkpoint to U while older records are unread.

    ``offset_param`` is used only while the cursor stands still: inside a run of records sharing one
    cursor value longer than a page, or past a window whose rows the vendor withheld after the query
    (ServiceNow's row ACLs); when the query's total (``total_path`` in the body or ``total_header``)
    changes between those requests (a record left the range) paging restarts at offset 0, and the
    ``seen`` ids drop what was already read. The total also ends the range: a short page that does
    not reach it is not the last one.

    Vendors whose sort is part of the filter language (ServiceNow's ``ORDERBY`` terms in
    ``sysparm_query``) leave ``sort_param`` out: the sort is then the filter's last term."""

    type: Literal["keyset"]
    limit_param: str = "limit"
    page_size: int = Field(default=100, ge=1)
    max_page_size: int | None = None
    sort_param: str | None = Field(default=None, description="Request parameter of the sort order; none: the sort "
                                                              "is the last term of the filter (joined by filter_join).")
    ascending_sort: str = Field(description="Its value sorting by the cursor, oldest first (e.g. 'updated_timestamp|asc'; "
                                            "with a tie-break where the vendor's order of equal values is not fixed).")
    descending_sort: str = Field(description="Its value sorting by the cursor, newest first (the upper-bound request).")
    below_upper_template: str = Field(description="Filter term with {upper}, exclusive: "
                                                  "\"updated_timestamp:<'{upper}'\".")
    upper_bound_template: str = Field(description="The same term inclusive: \"updated_timestamp:<='{upper}'\".")
    filter_join: str = Field(default="+", description="Joins filter terms (FQL '+' is AND, ServiceNow '^').")
    offset_param: str = "offset"
    total_path: str | None = Field(default=None, description="Path of the query's total count in the response body.")
    total_header: str | None = Field(default=None, description="Response header with the query's total count "
                                                               "(ServiceNow's X-Total-Count), instead of total_path.")

    @model_validator(mode="after")
    def _one_total(self) -> "KeysetPagination":
        # the total is what tells a shifted run of equal cursor values: paging without it could skip
        if (self.total_path is None) == (self.total_header is None):
            raise ValueError("keyset pagination needs exactly one of total_path and total_header")
        return self


class PageNumberPagination(_Model):
    """``page=1, 2, ...`` with a page size; ends on a short or empty page, or at ``total_pages_path``.
    Incremental streams re-anchor like offset paging (page back to the first when the cursor advanced)."""

    type: Literal["page_number"]
    page_param: str = "page"
    start_page: int = Field(default=1, ge=0)
    limit_param: str = "per_page"
    page_size: int = Field(default=100, ge=1)
    max_page_size: int | None = None
    total_pages_path: str | None = Field(default=None, description="Path of the page count in the response.")


class RangeHeaderPagination(_Model):
    """IBM QRadar: the request header ``Range: items=<first>-<last>`` (zero-based, inclusive) selects
    the page and the response's ``Content-Range: items <first>-<last>/<total>`` gives the total.
    Re-anchors like offset paging."""

    type: Literal["range_header"]
    header: str = "Range"
    unit: str = "items"
    page_size: int = Field(default=50, ge=1)


class SearchAfterPagination(_Model):
    """Elasticsearch/OpenSearch ``search_after``: the next request's body carries the ``sort`` values of
    the last hit; the sort must end on a unique field. A page shorter than the size is the last."""

    type: Literal["search_after"]
    sort_values_path: str = Field(default="hits.hits.-1.sort", description="Response path of the last hit's sort values.")
    search_after_field: str = Field(default="search_after", description="Body path the sort values are sent in.")
    size_field: str = Field(default="size", description="Body path of the page size.")
    page_size: int = Field(default=1000, ge=1)


class CursorPagination(_Model):
    type: Literal["cursor"]
    cursor_param: str = Field(description="Request parameter carrying the next token.")
    next_cursor_path: str = Field(description="Response path of the next token; empty or missing ends paging.")
    limit_param: str | None = "limit"
    page_size: int = Field(default=100, ge=1)
    in_body: bool = Field(default=False, description="Send the token in the JSON body instead of the query "
                                                     "(cursor_param may then be a dotted path, e.g. 'variables.after').")
    limit_in_body: bool = Field(default=False, description="Send limit_param in the JSON body (dotted path allowed).")
    has_more_path: str | None = Field(default=None, description="Response path of a 'more pages' flag (GraphQL "
                                                                "pageInfo.hasNextPage); falsy ends paging.")


class LinkHeaderPagination(_Model):
    type: Literal["link_header"]
    limit_param: str | None = "per_page"
    page_size: int = Field(default=100, ge=1)


class NextUrlPagination(_Model):
    """The response body carries the full URL of the next page (OData ``@odata.nextLink``, Azure
    ARM ``nextLink``): it is requested as is, since it already holds every query parameter."""

    type: Literal["next_url"]
    next_url_path: str = Field(description="Response path of the next page's URL; escape dots inside a key "
                                           "('@odata\\.nextLink'). Missing or empty ends paging.")
    limit_param: str | None = Field(default=None, description="Page-size parameter of the first request ($top).")
    page_size: int = Field(default=100, ge=1)


class NoPagination(_Model):
    type: Literal["none"]


class BodyOffsetPagination(_Model):
    """An offset window in the JSON body of a search request (Cortex XDR ``request_data.search_from`` /
    ``search_to``, Carbon Black Cloud ``start`` / ``rows``): ``offset_field`` holds the first row
    (counted from ``first_index``), and either ``limit_field`` the page size or ``end_field`` the
    exclusive end of the window (offset + size). Re-anchors on the cursor like offset paging; the total
    (``total_path``) or a short page ends it."""

    type: Literal["body_offset"]
    offset_field: str = Field(description="Body path of the window's first row.")
    limit_field: str | None = Field(default=None, description="Body path of the page size.")
    end_field: str | None = Field(default=None, description="Body path of the window's exclusive end (offset + size).")
    first_index: int = Field(default=0, ge=0, description="The first row's index (Carbon Black counts from 1).")
    page_size: int = Field(default=100, ge=1)
    max_page_size: int | None = None
    total_path: str | None = Field(default=None, description="Path of the query's total count in the response.")
    next_offset_path: str | None = Field(default=None, description="Path of the next page's offset the vendor "
                                         "answers, absent on the last page (Symantec's `next`); read by "
                                         "sdk.resumable.BodyOffsetSessionReader.")

    @model_validator(mode="after")
    def _one_size(self) -> "BodyOffsetPagination":
        if (self.limit_field is None) == (self.end_field is None):
            raise ValueError("body_offset pagination needs exactly one of limit_field and end_field")
        return self


Pagination = (OffsetPagination | KeysetPagination | PageNumberPagination | RangeHeaderPagination | CursorPagination
              | SearchAfterPagination | LinkHeaderPagination | NextUrlPagination | NoPagination | BodyOffsetPagination)


class HydrateSpec(_Model):
    """Second request turning the ids a query returned into full records."""

    request: RequestSpec = Field(description="Use '{ids}' (the whole list) in params or json.")
    record_selector: str = "resources"
    id_field: str = Field(description="Field of a hydrated record holding the id the query returned.")
    batch_size: int = Field(default=100, ge=1)


class IncrementalSpec(_Model):
    cursor_field: str = Field(description="Record path of the monotonically increasing timestamp.")
    cursor_coalesce: list[str] = Field(default_factory=list, description="Record paths tried in order when cursor_field "
                                       "has no value: a vendor that renamed the field (Tenable's newer exports carry "
                                       "indexed, an ISO time, instead of indexed_at, epoch seconds).")
    cursor_type: Literal["datetime", "number", "string"] = "datetime"
    tie_breaker_field: str | None = Field(default=None, description="Defaults to the mapping's external_id (its "
                                                                    "candidates, composite keys included).")
    filter_param: str | None = Field(default=None, description="Request parameter carrying the cursor filter.")
    filter_template: str | None = Field(default=None, description="Template with {cursor}, e.g. \"updated_timestamp:>='{cursor}'\". Must be inclusive (>=).")
    client_side: bool = Field(default=False, description="The vendor offers no filter on the cursor (Snyk's project "
                                                         "list): no filter is sent, every run reads the whole "
                                                         "listing and drops what the checkpoint already covers.")
    initial_filter: str | None = Field(default=None, description="Value of filter_param on a first (full) sync (a template).")
    filter_in_body: bool = Field(default=False, description="Put the filter in the JSON body (filter_param a dotted path).")
    cursor_lookback_seconds: float = Field(default=0, ge=0, description="Subtracted from a datetime cursor before "
                                           "it is put in the filter (vendor time zones, eventual consistency); "
                                           "re-read records are dropped, not re-published.")
    cursor_format: str | None = Field(default=None, description="strftime format the cursor is rendered with in the "
                                                                "filter (e.g. Jira JQL '%Y-%m-%d %H:%M'); it truncates, "
                                                                "so the inclusive filter only re-reads, never skips.")

    @model_validator(mode="after")
    def _filtered(self) -> "IncrementalSpec":
        if not self.client_side and (self.filter_param is None or self.filter_template is None):
            raise ValueError("an incremental spec needs filter_param and filter_template (or client_side: true)")
        return self


class TimeSpec(_Model):
    """How a vendor writes a timestamp, so that every published one carries a UTC offset."""

    format: Literal["iso8601", "epoch_s", "epoch_ms"] = Field(
        default="iso8601", description="iso8601: text (a space for the 'T' is taken too); epoch_s / epoch_ms: a "
                                       "number or a string of digits.")
    zone: str | None = Field(default=None, description="IANA zone of text written without an offset (ServiceNow's "
                                                      "'2016-12-12 15:19:57' is UTC: 'UTC'); without it such text "
                                                      "fails the record.")

    @model_validator(mode="after")
    def _known_zone(self) -> "TimeSpec":
        if self.zone is not None and self.zone != "UTC":
            from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

            try:
                ZoneInfo(self.zone)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown time zone {self.zone!r}") from None
        return self


class FieldSpec(_Model):
    path: str | None = None
    paths: list[str] | None = Field(default=None, description="Several paths collected into a list (nulls dropped); "
                                                              "'*' parts take every element ('KB.CVE_LIST.*.ID').")
    coalesce: list[str] | None = Field(default=None, description="Paths tried in order; the first set value wins "
                                                                 "(a vendor renamed a field, or fills one of two).")
    const: Any = None
    map: dict[str, Any] | None = Field(default=None, description="Value translation; keys compared as strings.")
    map_default: Any = Field(default=None, description="Used when a value is not in map (else the record fails), "
                                                       "and when the field is absent and no default is given.")
    default: Any = Field(default=None, description="Used when the path is missing or null.")
    time: TimeSpec | None = Field(default=None, description="The value is a timestamp written this way.")
    matches: str | None = Field(default=None, description="A regular expression the whole value must match, else it "
                                                         "counts as absent (Defender's vulnerability id is a CVE id "
                                                         "only sometimes); in a list, the matching elements.")
    bands: list[tuple[float, Any]] | None = Field(
        default=None, description="[floor, value] pairs, highest floor first: a number becomes the value of the first "
                                  "band it reaches (before map), e.g. a 1-100 severity named by the vendor's bands.")
    host: Literal["short", "fqdn"] | None = Field(
        default=None, description="The value is a host name: 'short' keeps its first label (the machine name), "
                                  "'fqdn' keeps it only when fully qualified; an IP address is neither. One meaning "
                                  "per field across vendors, so subscribers can correlate an endpoint.")
    split: str | None = Field(default=None, description="A text value is a list joined by this separator "
                                                       "(Sentinel's Tactics 'InitialAccess, Persistence'): it becomes "
                                                       "its trimmed, non-empty parts.")
    item: int | None = Field(default=None, description="Take this element (0: the first) of a list value; none "
                                                      "when the list is shorter.")
    as_list: bool = False
    lower: bool = False

    @model_validator(mode="after")
    def _one_source(self) -> "FieldSpec":
        if self.matches is not None:
            try:
                re.compile(self.matches)
            except re.error as exc:
                raise ValueError(f"matches is not a regular expression: {exc}") from None
        if self.bands is not None and [b[0] for b in self.bands] != sorted((b[0] for b in self.bands), reverse=True):
            raise ValueError("bands go from the highest floor to the lowest")
        sources = [self.path is not None, self.paths is not None, self.coalesce is not None, self.const is not None]
        if sum(sources) > 1:
            raise ValueError("give only one of path, paths, coalesce, const")
        if sum(sources) == 0 and self.default is None:
            raise ValueError("give one of path, paths, coalesce, const or default")
        return self


# A record's identity: one path, or candidates tried in order; a candidate that is a list of paths is
# a composite key (values joined with ':'), where a path ending in '?' is an optional part.
ExternalId = str | list[str | list[str]]


class MappingSpec(_Model):
    entity: DataType
    external_id: ExternalId = Field(
        description="Record path of the vendor id, or candidates tried in order (a list); a candidate that is a "
                    "list of paths is a composite key joined with ':' ('port.port?': an optional part, empty when "
                    "absent). A record with no candidate is a counted bad record.")
    fields: dict[str, FieldSpec | str] = Field(description="Model field -> FieldSpec, or a bare path.")
    attributes: dict[str, str] = Field(default_factory=dict, description="attribute name -> record path.")


class ParentsSpec(_Model):
    """A parent/child ("fan-out") stream (``sdk.fanout``): the parents are listed first (Veracode's
    applications, Checkmarx One's completed scans) and the stream's own request, paging and mapping
    read each parent's children, with ``{parent.<field>}`` in the request's path, params and body.
    The stream's ``incremental`` spec then describes the parents: its filter goes on this request and
    its cursor (and tie-break, default ``id_field``) is read in the parent record; children are
    published whole for every parent past the checkpoint. The checkpoint keeps the parent being read
    and its child pages done, so a resumed run neither repeats nor skips; the cursor moves when every
    parent is read."""

    request: RequestSpec = Field(description="The parents' listing (filtered by the stream's incremental spec).")
    record_selector: str = Field(description="Response path of the parent records.")
    pagination: Pagination = Field(default_factory=lambda: NoPagination(type="none"), discriminator="type")
    id_field: str = Field(description="Parent record path of its id (what the checkpoint names).")
    attach_as: str | None = Field(default="_parent", description="Key under which each child record carries its "
                                  "parent for the mapping ('_parent.projectId'); the raw hash stays the child's "
                                  "own. None: not attached.")


class StreamSpec(_Model):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    description: str | None = None
    request: RequestSpec
    record_selector: str = Field(description="Response path of the records (or ids when hydrate is set).")
    pagination: Pagination = Field(default_factory=lambda: NoPagination(type="none"), discriminator="type")
    hydrate: HydrateSpec | None = None
    incremental: IncrementalSpec | None = None
    parents: ParentsSpec | None = Field(default=None, description="Read this stream per parent record (fan-out): "
                                        "see ParentsSpec; incremental then describes the parents.")
    mapping: MappingSpec

    @model_validator(mode="after")
    def _fan_out(self) -> "StreamSpec":
        if self.parents is not None and (isinstance(self.pagination, KeysetPagination)
                                         or isinstance(self.parents.pagination, KeysetPagination)):
            raise ValueError(f"stream {self.name}: a fan-out stream takes no keyset pagination")
        return self

    @model_validator(mode="after")
    def _keyset_needs_a_cursor(self) -> "StreamSpec":
        if isinstance(self.pagination, KeysetPagination) and (self.incremental is None or self.incremental.filter_in_body
                                                              or self.incremental.client_side):
            raise ValueError(f"stream {self.name}: keyset pagination needs an incremental cursor filtered by a "
                             "request parameter")
        return self


# --- webhooks -------------------------------------------------------------------------


class WebhookSignature(_Model):
    algorithm: Literal["hmac-sha256", "hmac-sha1", "hmac-sha512"] = "hmac-sha256"
    encoding: Literal["hex", "base64"] = "hex"
    header: str
    prefix: str = Field(default="", description="Stripped before comparing, e.g. 'sha256='.")
    secret_field: str = Field(description="Secret config field holding the signing secret.")
    signed_content: str = Field(default="{body}", description="Template over {timestamp}, {body}, {delivery_id}.")


class WebhookTimestamp(_Model):
    header: str
    format: Literal["unix", "unix_ms", "iso8601"] = "unix"
    tolerance_seconds: int = Field(default=300, ge=1)


class WebhookChallenge(_Model):
    """URL-verification handshake: a body carrying ``request_field`` is echoed back."""

    request_field: str
    response_field: str


class WebhookPayloadType(_Model):
    mapping: MappingSpec


class WebhookPayload(_Model):
    records_path: str | None = Field(default=None, description="Path of the record list, or of the one record "
                                                                "object; None = body is one record.")
    type_field: str | None = Field(default=None, description="Record field choosing the mapping; for a single "
                                                              "record, a body field (its envelope's).")
    types: dict[str, MappingSpec] = Field(description="type value (or 'default') -> mapping.")


class WebhookSpec(_Model):
    signature: WebhookSignature
    timestamp: WebhookTimestamp | None = None
    delivery_id_header: str | None = None
    challenge: WebhookChallenge | None = None
    payload: WebhookPayload


# --- error classification -------------------------------------------------------------


class ErrorRule(_Model):
    """Classify a response by its body, for vendors whose HTTP status does not say it all
    (GraphQL APIs answer 200 or 400 with ``errors[].extensions.code``)."""

    status: list[int] | None = Field(default=None, description="HTTP statuses the rule applies to (None: any).")
    path: str = Field(description="Response body path, e.g. 'errors.0.extensions.code'.")
    equals: list[Any] | None = Field(default=None, description="Values that match (None: any non-null value).")
    error_class: Literal["authentication", "permission", "rate_limited", "transient", "permanent", "ok"] = Field(
        description="rate_limited is retried like a 429 (honouring rate_limits.retry_after_headers); "
                    "transient like a 5xx; ok accepts the response.")


# --- push actions ---------------------------------------------------------------------

PushKind = Literal["send_event", "create_ticket", "update_ticket", "add_comment", "update_status", "isolate_host",
                   "release_host"]
# Kinds that act on an object the vendor already has: its id is the event's own external id.
ON_VENDOR_OBJECT: frozenset[str] = frozenset({"update_status", "isolate_host", "release_host"})


class PushLookup(_Model):
    """Lookup-before-create: a request finding an object created earlier for the same external reference."""

    request: RequestSpec
    record_selector: str = Field(description="Response path of the matching objects (a list) or of one object.")
    id_path: str = Field(description="Path of the vendor id inside one matching object.")


class PushIdempotency(_Model):
    strategy: Literal["header", "body", "lookup", "natural", "none"] = Field(
        description="header: the vendor de-duplicates on a key sent in `header`; body: the key is in the request "
                    "body (e.g. a client-chosen id); lookup: find an earlier object by external reference before "
                    "creating; natural: the request is idempotent by itself (PUT/PATCH of fields); none: not "
                    "idempotent - never re-sent once it may have reached the vendor.")
    header: str | None = None
    lookup: PushLookup | None = None

    @model_validator(mode="after")
    def _complete(self) -> "PushIdempotency":
        if self.strategy == "header" and not self.header:
            raise ValueError("idempotency strategy 'header' needs header")
        if self.strategy == "lookup" and self.lookup is None:
            raise ValueError("idempotency strategy 'lookup' needs lookup")
        return self


class PushAction(_Model):
    """One outbound action. Templates see ``{settings.*}``, ``{secrets.*}``, ``{event.*}`` (the contract event as
    JSON), ``{vendor_id}``, ``{changes.*}`` (title, description, severity, status, ...), ``{comment}``,
    ``{external_ref}``, ``{idempotency_key}``, ``{idempotency_uuid}`` and ``{values.*}`` (computed below)."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    kind: PushKind
    description: str | None = None
    input: Literal["risk", "asset", "alert", "vulnerability", "indicator", "ticket"] = Field(
        description="Contract entity type the request carries (send_event/create_ticket), or 'ticket' "
                    "(update_ticket/add_comment: a vendor id plus changes or a comment).")
    values: dict[str, FieldSpec | str] = Field(default_factory=dict, description="Derived values ({values.x}), "
                                               "FieldSpecs over the template context, e.g. severity -> priority.")
    request: RequestSpec
    omit_nulls: bool = Field(default=True, description="Drop null values (then empty objects) from the JSON body.")
    vendor_id_path: str | None = Field(default=None, description="Response path of the created object's id "
                                                                 "(None: the request's vendor_id).")
    vendor_url: str | None = Field(default=None, description="Template of a link to the object ({vendor_id}).")
    idempotency: PushIdempotency
    fetch: RequestSpec | None = Field(default=None, description="Fetch before write: one request sent first (its "
                                      "templates see the same context); the action's templates see its answer as "
                                      "{fetched.status}, {fetched.headers.<lower-case name>} and {fetched.body.*} "
                                      "(Trend Vision One: the alert's ETag for If-Match).")
    destructive: bool = Field(default=False, description="Changes what the vendor protects or closes (isolate a "
                                                         "host, close an alert): run on demand by admins only.")
    base_url: str | None = Field(default=None, description="Template of another endpoint for this action (Splunk HEC "
                                                           "listens on its own port); default api.base_url.")
    auth: SingleAuth | None = Field(default=None, discriminator="type", description="This action's own credential "
                                    "(Splunk HEC: 'Authorization: Splunk <HEC token>'); default api.auth.")

    @model_validator(mode="after")
    def _consistent(self) -> "PushAction":
        if self.kind in ("update_ticket", "add_comment") and self.input != "ticket":
            raise ValueError(f"{self.kind} actions take input 'ticket'")
        if self.kind in ("send_event", "create_ticket", *ON_VENDOR_OBJECT) and self.input == "ticket":
            raise ValueError(f"{self.kind} actions take a contract entity type as input")
        if self.kind in ("isolate_host", "release_host") and (self.input != "asset" or not self.destructive):
            raise ValueError(f"{self.kind} actions take input 'asset' and are destructive")
        if self.kind == "create_ticket" and self.idempotency.strategy in ("none", "natural"):
            raise ValueError("create_ticket must be idempotent (strategy header, body or lookup)")
        return self


# --- api / manifest -------------------------------------------------------------------


class ApiSpec(_Model):
    base_url: str = Field(description="Template, e.g. '{settings.base_url}'.")
    auth: Auth = Field(discriminator="type")
    default_headers: dict[str, str] = Field(default_factory=dict)
    connection_test: RequestSpec
    health_check: RequestSpec | None = None
    error_rules: list[ErrorRule] = Field(default_factory=list, description="Body-based classification, first match wins.")
    response_prefix: str | None = Field(
        default=None, description="Text the vendor writes before every JSON answer (Trellix ePO's 'OK:' line), "
                                  "stripped with the whitespace after it before decoding; a 2xx answer without it "
                                  "is a permanent error carrying the vendor's text ('Error 1 : ...').")
    streams: list[StreamSpec] = Field(default_factory=list)


class Manifest(_Model):
    manifest_version: Literal[1] = 1
    key: str = Field(pattern=r"^[a-z][a-z0-9_]{1,63}$")
    name: str
    vendor: str
    product: str
    category: Category
    description: str
    version: str = Field(pattern=r"^\d+\.\d+\.\d+([-+].+)?$")
    documentation_url: str
    support_url: str | None = None
    icon_url: str | None = None
    pricing_model: PricingModel
    official: bool = False
    community: bool = False
    beta: bool = False
    deprecated: bool = False
    installation_complexity: Complexity = "low"
    key_features: list[str] = Field(default_factory=list, description="What the connector does, a line each, for the detail page.")
    required_permissions: list[str] = Field(
        default_factory=list, description="The vendor roles or API scopes the credential needs, in the vendor's words.")
    setup_minutes: int | None = Field(default=None, ge=1, le=480,
                                      description="Expected minutes from a vendor console to a first sync, before installs measure it.")
    capabilities: list[Capability]
    data_types: list[DataType]
    auth_methods: list[AuthType]
    config_schema: dict[str, Any] = Field(description="JSON Schema of settings + secrets; secrets carry 'x-secret': true.")
    rate_limits: RateLimits = Field(default_factory=RateLimits)
    api: ApiSpec | None = None
    webhook: WebhookSpec | None = None
    push: list[PushAction] = Field(default_factory=list, description="Outbound actions (capability push_actions).")

    @model_validator(mode="after")
    def _consistent(self) -> "Manifest":
        if ("sync" in self.capabilities) != bool(self.api and self.api.streams):
            raise ValueError("capability 'sync' requires api.streams (and api.streams requires 'sync')")
        if "incremental" in self.capabilities and not (self.api and all(s.incremental for s in self.api.streams)):
            raise ValueError("capability 'incremental' requires an incremental spec on every stream")
        if ("webhook" in self.capabilities) != (self.webhook is not None):
            raise ValueError("capability 'webhook' and the webhook section go together")
        if "test_connection" in self.capabilities and self.api is None:
            raise ValueError("capability 'test_connection' requires an api section")
        if self.webhook is not None and self.webhook.signature.secret_field not in self.secret_fields():
            raise ValueError("webhook.signature.secret_field must be an x-secret field of config_schema")
        names = [s.name for s in (self.api.streams if self.api else [])]
        if len(names) != len(set(names)):
            raise ValueError("stream names must be unique")
        if ("push_actions" in self.capabilities) != bool(self.push):
            raise ValueError("capability 'push_actions' and the push section go together")
        if self.push and self.api is None:
            raise ValueError("push actions need the api section")
        actions = [a.name for a in self.push]
        if len(actions) != len(set(actions)):
            raise ValueError("push action names must be unique")
        try:
            jsonschema.Draft202012Validator.check_schema(self.config_schema)
        except jsonschema.SchemaError as exc:
            raise ValueError(f"config_schema is not a valid JSON Schema: {exc.message}") from None
        if self.config_schema.get("type") != "object":
            raise ValueError("config_schema must describe an object")
        return self

    def secret_fields(self) -> list[str]:
        props = self.config_schema.get("properties", {})
        return [name for name, spec in props.items() if isinstance(spec, dict) and spec.get("x-secret") is True]

    def destination_settings(self) -> set[str]:
        """Settings that decide where a credential is sent: those in api.base_url, an OAuth2
        token_url, and a push action's base_url or token_url. A configuration that changes one of
        them must supply the secrets again, or a stored secret would follow it to a new host."""
        auths: list[Auth | None] = []
        templates: list[str | None] = []
        if self.api is not None:
            templates.append(self.api.base_url)
            auths.append(self.api.auth)
        for action in self.push:
            templates.append(action.base_url)
            auths.append(action.auth)
        for auth in auths:
            singles = [o.auth for o in auth.options] if isinstance(auth, ChoiceAuth) else [auth]
            templates += [a.token_url for a in singles if isinstance(a, OAuth2ClientCredentials)]
        return {name.split(".")[1] for template in templates if template
                for name in placeholders(template) if name.startswith("settings.")}

    def stream(self, name: str) -> StreamSpec:
        for s in self.api.streams if self.api else []:
            if s.name == name:
                return s
        raise KeyError(name)

    def push_action(self, name: str) -> PushAction:
        for a in self.push:
            if a.name == name:
                return a
        raise KeyError(name)

    def catalog_entry(self) -> dict[str, Any]:
        """Flat, JSON-able catalog metadata. ``quality_tier`` is earned in the conformance suite
        (``aria_connectors/quality.json``), never declared by the manifest."""
        from .quality import quality_of

        quality = quality_of(self.key)
        return {
            "key": self.key,
            "name": self.name,
            "vendor": self.vendor,
            "product": self.product,
            "category": self.category,
            "description": self.description,
            "version": self.version,
            "documentation_url": self.documentation_url,
            "support_url": self.support_url,
            "icon_url": self.icon_url,
            "pricing_model": self.pricing_model,
            "official": self.official,
            "community": self.community,
            "beta": self.beta,
            "deprecated": self.deprecated,
            "installation_complexity": self.installation_complexity,
            "key_features": list(self.key_features),
            "required_permissions": list(self.required_permissions),
            "setup_minutes": self.setup_minutes,
            "capabilities": list(self.capabilities),
            "data_types": list(self.data_types),
            "auth_methods": list(self.auth_methods),
            "streams": [s.name for s in (self.api.streams if self.api else [])],
            "supports_webhook": self.webhook is not None,
            "webhook": None if self.webhook is None else self.webhook.model_dump(
                mode="json", include={"signature", "timestamp", "delivery_id_header"}),
            "rate_limits": self.rate_limits.model_dump(mode="json"),
            "config_schema": json.loads(json.dumps(self.config_schema)),
            "secret_fields": self.secret_fields(),
            "push_actions": [{"name": a.name, "kind": a.kind, "input": a.input, "description": a.description}
                             for a in self.push],
            "quality_tier": quality["tier"],
            "quality_criteria": quality["criteria"],
        }


def generated_schema() -> dict[str, Any]:
    schema = Manifest.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://aria.example/schemas/connector-manifest.schema.json"
    return schema


@lru_cache(maxsize=1)
def manifest_json_schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text())


def validate_manifest_dict(data: Any) -> Manifest:
    """JSON Schema first (structural, author-friendly errors), then the model (semantic checks)."""
    validator = jsonschema.Draft202012Validator(manifest_json_schema())
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [f"/{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:10]]
        raise ManifestError("manifest does not match manifest.schema.json:\n  " + "\n  ".join(lines))
    try:
        return Manifest.model_validate(data)
    except ValidationError as exc:
        raise ManifestError(f"invalid manifest: {exc}") from None


def load_manifest(path: str | Path) -> Manifest:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ManifestError(f"{path}: not valid YAML: {exc}") from None
    try:
        return validate_manifest_dict(data)
    except ManifestError as exc:
        raise ManifestError(f"{path}: {exc}") from None


if __name__ == "__main__":  # pragma: no cover - maintenance entry point
    text = json.dumps(generated_schema(), indent=2, sort_keys=True) + "\n"
    if "--check" in sys.argv:
        sys.exit(0 if SCHEMA_PATH.read_text() == text else 1)
    SCHEMA_PATH.write_text(text)
    print(f"wrote {SCHEMA_PATH}")
