"""HTTP runtime of a connector instance: auth, retries, rate limits, error classification.

* 401 on an API call: the cached token is dropped and fetched again, once; a second 401
  is an AuthenticationError.
* 403: PermissionDenied. Other 4xx: PermanentError.
* 429: the wait the vendor asks for (Retry-After et al.) is honoured, up to max_throttled_retries
  429s in a row per call (a budget of their own, apart from the 5xx retries); the whole instance
  pauses for it, not only the refused call.
* 5xx and network errors: exponential or linear backoff (capped), up to max_retries, then
  TransientError.
* Before each call the instance's RateLimiter takes a token from every declared window's bucket
  (minute / hour / day), and a response showing the vendor's remaining budget at 0 pauses the
  instance until the vendor's reset time.
Messages carry status codes and the vendor's error message, never credentials.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin

import httpx
import orjson

from ..errors import (
    AuthenticationError,
    ConfigurationError,
    ConnectorError,
    PermanentError,
    PermissionDenied,
    TransientError,
)
from .manifest import (
    ApiKeyAuth,
    ApiKeyIdAuth,
    BasicAuth,
    BearerAuth,
    ErrorRule,
    NoAuth,
    OAuth2Password,
    OAuth2RefreshToken,
    OAuth2ClientCredentials,
    RateLimits,
    SessionLoginAuth,
    SingleAuth,
    VeracodeHmacAuth,
)
from .keyhash import api_key_id_headers
from .paths import get_path
from .templates import render
from .types import RuntimeOptions


@dataclass
class RetryPolicy:
    max_retries: int
    backoff_base: float
    backoff_max: float
    max_retry_after: float
    max_throttled: int
    linear: bool = False

    @classmethod
    def build(cls, limits: RateLimits, options: RuntimeOptions) -> "RetryPolicy":
        pick = lambda o, d: d if o is None else o  # noqa: E731
        return cls(
            max_retries=pick(options.max_retries, limits.max_retries),
            backoff_base=pick(options.backoff_base_seconds, limits.backoff_base_seconds),
            backoff_max=pick(options.backoff_max_seconds, limits.backoff_max_seconds),
            max_retry_after=pick(options.max_retry_after_seconds, limits.max_retry_after_seconds),
            max_throttled=limits.max_throttled_retries,
            linear=limits.backoff == "linear",
        )

    def backoff(self, attempt: int) -> float:
        return min(self.backoff_max, self.backoff_base * ((attempt + 1) if self.linear else 2**attempt))


def effective_limits(limits: RateLimits, options: RuntimeOptions) -> RateLimits:
    """The manifest's rate limits with the instance's overrides (``RuntimeOptions.rate_limits``)."""
    if not options.rate_limits:
        return limits
    return RateLimits.model_validate({**limits.model_dump(), **options.rate_limits})


class RateLimiter:
    """The client-side budget of one connector instance.

    A token bucket per declared window: per minute (size ``burst``, else the minute's budget),
    per hour and per day (size ``burst`` when it is the finest window, else the window's budget),
    each refilled continuously at budget/window. A call waits until every bucket holds a token.
    ``pause_for`` makes every call wait (a 429's Retry-After, the vendor's reset time)."""

    def __init__(self, limits: RateLimits, *, clock=time.monotonic) -> None:
        self.clock = clock
        windows = [(limits.requests_per_minute, 60.0), (limits.requests_per_hour, 3600.0),
                   (limits.requests_per_day, 86400.0)]
        declared = [(budget, seconds) for budget, seconds in windows if budget]
        self._buckets: list[list[float]] = []  # [size, refill per second, tokens]
        for i, (budget, seconds) in enumerate(declared):
            size = float(limits.burst) if (limits.burst and i == 0) else float(max(1.0, budget))
            self._buckets.append([size, budget / seconds, size])
        self._last = clock()
        self._paused_until = 0.0
        self._lock = asyncio.Lock()
        self.waited_seconds = 0.0

    def pause_for(self, seconds: float) -> None:
        self._paused_until = max(self._paused_until, self.clock() + seconds)

    def _refill(self, now: float) -> None:
        elapsed, self._last = now - self._last, now
        for bucket in self._buckets:
            bucket[2] = min(bucket[0], bucket[2] + elapsed * bucket[1])

    async def acquire(self) -> None:
        async with self._lock:  # one waiter at a time, so calls leave in order
            while True:
                now = self.clock()
                self._refill(now)
                wait = max([self._paused_until - now] + [(1 - b[2]) / b[1] for b in self._buckets if b[2] < 1])
                if wait <= 0:
                    for bucket in self._buckets:
                        bucket[2] -= 1
                    return
                self.waited_seconds += wait
                await asyncio.sleep(wait)

    def observe(self, resp: httpx.Response, limits: RateLimits) -> None:
        """The vendor says its budget is spent: wait for its reset instead of drawing 429s."""
        if not (limits.remaining_header and limits.reset_header):
            return
        try:
            remaining = float(resp.headers.get(limits.remaining_header, ""))
        except ValueError:
            return
        wait = parse_retry_after(resp.headers.get(limits.reset_header)) if remaining <= 0 else None
        if wait is not None:
            self.pause_for(min(wait, limits.max_retry_after_seconds))


def vendor_message(resp: httpx.Response) -> str:
    """The vendor's own error text (CrowdStrike: errors[].message), trimmed."""
    try:
        body = resp.json()
    except ValueError:
        return resp.reason_phrase or ""
    msgs: list[str] = []
    if isinstance(body, dict):
        errs = body.get("errors")
        if isinstance(errs, list):
            msgs = [str(e.get("message")) for e in errs if isinstance(e, dict) and e.get("message")]
        if not msgs and isinstance(body.get("errorMessages"), list):  # Jira
            msgs = [str(m) for m in body["errorMessages"] if m]
        if not msgs and isinstance(errs, dict):  # Jira field errors
            msgs = [f"{k}: {v}" for k, v in errs.items()]
        for key in ("error_description", "message", "error"):
            if not msgs and isinstance(body.get(key), str):
                msgs = [body[key]]
        if not msgs and isinstance(body.get("error"), dict):  # ServiceNow {message, detail}; Elasticsearch {reason}
            err = body["error"]
            msgs = [str(x) for x in (err.get("message") or err.get("reason"), err.get("detail")) if x]
    return "; ".join(msgs)[:300] or (resp.reason_phrase or "")


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After-like header: delta seconds, HTTP date or epoch seconds."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    now = time.time() if now is None else now
    try:
        num = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            try:  # ISO 8601 (Jira's X-RateLimit-Reset)
                when = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        return max(0.0, when.timestamp() - now)
    if num > 100_000_000_000:  # epoch milliseconds (Linear's X-RateLimit-Requests-Reset)
        return max(0.0, num / 1000 - now)
    if num > 1_000_000_000:  # an epoch timestamp (CrowdStrike's X-RateLimit-RetryAfter)
        return max(0.0, num - now)
    return max(0.0, num)


class Authenticator:
    """Applies one auth scheme. OAuth2 tokens live on this object, i.e. per connector instance."""

    def __init__(self, spec: SingleAuth, ctx: dict[str, Any], base_url: str, http: httpx.AsyncClient,
                 retry: RetryPolicy, clock=time.monotonic) -> None:
        self.spec = spec
        self.ctx = ctx
        self.base_url = base_url
        self.http = http
        self.retry = retry
        self.clock = clock
        self._token: str | None = None
        self._expires_at: float = 0.0
        self.token_expires_at: datetime | None = None  # wall-clock expiry of the cached token
        self._lock = asyncio.Lock()
        self.token_fetches = 0

    def _r(self, template: str) -> str:
        try:
            return str(render(template, self.ctx))
        except KeyError as exc:
            raise ConfigurationError(f"missing configuration value for {exc.args[0]}") from None

    def invalidate(self) -> None:
        self._token = None
        self._expires_at = 0.0
        self.token_expires_at = None

    async def headers(self, method: str = "GET", url: str | httpx.URL | None = None) -> dict[str, str]:
        """The credential's headers; a signing scheme (Veracode HMAC) signs ``method`` and ``url``."""
        spec = self.spec
        if isinstance(spec, NoAuth):
            return {}
        if isinstance(spec, VeracodeHmacAuth):
            from .veracode_hmac import authorization

            try:
                value = authorization(self._r(spec.key_id), self._r(spec.key_secret), method,
                                      url if url is not None else self.base_url)
            except ValueError:
                raise ConfigurationError("the Veracode API key secret is not hexadecimal") from None
            return {"Authorization": value}
        if isinstance(spec, ApiKeyAuth):
            return {spec.header: spec.prefix + self._r(spec.value)}
        if isinstance(spec, ApiKeyIdAuth):
            return api_key_id_headers(spec, self._r)
        if isinstance(spec, BearerAuth):
            return {"Authorization": f"Bearer {self._r(spec.token)}"}
        if isinstance(spec, BasicAuth):
            raw = f"{self._r(spec.username)}:{self._r(spec.password)}".encode()
            return {"Authorization": "Basic " + base64.b64encode(raw).decode()}
        if isinstance(spec, SessionLoginAuth):
            return {spec.header: spec.prefix + await self._session_token()}
        assert isinstance(spec, OAuth2ClientCredentials)
        return {"Authorization": f"Bearer {await self._oauth_token()}"}

    async def _session_token(self) -> str:
        """The instance's session (``sdk.session_login``), opened on first use."""
        async with self._lock:
            spec = self.spec
            assert isinstance(spec, SessionLoginAuth)
            if self._token and (spec.ttl_seconds is None or self.clock() < self._expires_at):
                return self._token
            from .session_login import open_session

            self._token = await open_session(self)
            self._expires_at = self.clock() + (spec.ttl_seconds or 0)
            self.token_fetches += 1
            return self._token

    async def _oauth_token(self) -> str:
        async with self._lock:
            spec = self.spec
            assert isinstance(spec, OAuth2ClientCredentials)
            if self._token and self.clock() < self._expires_at:
                return self._token
            url = urljoin(self.base_url.rstrip("/") + "/", self._r(spec.token_url).lstrip("/")) \
                if not spec.token_url.startswith("http") else self._r(spec.token_url)
            form = dict(spec.extra_form)
            headers = {"Accept": "application/json"}
            client_id, client_secret = self._r(spec.client_id), self._r(spec.client_secret)
            if isinstance(spec, OAuth2Password):
                form.update(grant_type="password", username=self._r(spec.username), password=self._r(spec.password))
            if isinstance(spec, OAuth2RefreshToken):
                form.update(grant_type="refresh_token", refresh_token=self._r(spec.refresh_token))
            if not client_id and isinstance(spec, OAuth2Password):
                pass  # a password grant without a client (ESET Connect)
            elif isinstance(spec, OAuth2RefreshToken) and not client_secret and spec.client_auth == "form":
                form["client_id"] = client_id  # a public client (Checkmarx One's ast-app): no secret
            elif spec.client_auth == "form":
                form.update(client_id=client_id, client_secret=client_secret)
            else:
                headers["Authorization"] = "Basic " + base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
            form.setdefault("grant_type", "client_credentials")
            if spec.scope:
                form["scope"] = self._r(spec.scope)
            resp = await send_with_retries(self.http, "POST", url, self.retry, data=form, headers=headers,
                                           what="token request")
            if resp.status_code in (400, 401, 403):
                raise AuthenticationError(
                    f"token request rejected (HTTP {resp.status_code}): {vendor_message(resp)}",
                    status_code=resp.status_code,
                )
            raise_for_status(resp, "token request")
            try:
                body = resp.json()
                token = body["access_token"]
            except (ValueError, KeyError, TypeError):
                raise AuthenticationError("token response has no access_token") from None
            expires_in = float(body.get("expires_in") or spec.default_expires_in)
            margin = min(spec.refresh_margin_seconds, expires_in / 10)
            self._token = token
            self._expires_at = self.clock() + expires_in - margin
            self.token_expires_at = now_utc() + timedelta(seconds=expires_in)
            self.token_fetches += 1
            return token


_RULE_STATUS = {"authentication": 401, "permission": 403, "rate_limited": 429, "transient": 503, "permanent": 400}


def status_of(resp: httpx.Response, rules: "list[ErrorRule] | None" = None) -> int:
    """The HTTP status as the SDK classifies it: the real one, unless an error rule matched the body."""
    if not rules:
        return resp.status_code
    body: Any = _MISSING_BODY
    for rule in rules:
        if rule.status is not None and resp.status_code not in rule.status:
            continue
        if body is _MISSING_BODY:
            try:
                body = resp.json()
            except ValueError:
                body = None
        value = get_path(body, rule.path) if body is not None else None
        if value is None or (rule.equals is not None and value not in rule.equals):
            continue
        return 200 if rule.error_class == "ok" else _RULE_STATUS[rule.error_class]
    return resp.status_code


_MISSING_BODY = object()


def raise_for_status(resp: httpx.Response, what: str, code: int | None = None) -> None:
    code = resp.status_code if code is None else code
    if code < 400:
        return
    msg = f"{what} failed (HTTP {code}): {vendor_message(resp)}"
    if code == 401:
        raise AuthenticationError(msg, status_code=code)
    if code == 403:
        raise PermissionDenied(msg, status_code=code)
    if code == 429 or code >= 500:
        raise TransientError(msg, status_code=code)
    raise PermanentError(msg, status_code=code)


def _unknown_outcome(exc: TransientError) -> TransientError:
    exc.outcome_unknown = True  # type: ignore[attr-defined]
    return exc


async def send_with_retries(http: httpx.AsyncClient, method: str, url: str, retry: RetryPolicy, *,
                            what: str, limits: RateLimits | None = None, rules: "list[ErrorRule] | None" = None,
                            resend_unsafe: bool = True, limiter: RateLimiter | None = None,
                            **kwargs: Any) -> httpx.Response:
    """Send, retrying 429 (after the vendor's wait) and 5xx / network errors (backoff).

    Returns the final response (may be a non-retryable 4xx) or raises TransientError.
    With ``resend_unsafe=False`` (a non-idempotent write) a request that may have reached the
    vendor (5xx, timeout, dropped connection) is never sent again: it raises TransientError
    with ``outcome_unknown = True``. 429s and connection failures are still retried (the
    vendor refused or never saw the request). ``limiter`` (the instance's budget) is taken
    before every attempt and paused by a 429's wait.
    """
    retry_headers = (limits.retry_after_headers if limits else ["Retry-After"])
    # Separate budgets: waiting out the vendor's rate limit says nothing about its health, so 429s
    # must not use up the retries of a 5xx that follows them (and the other way round).
    attempt = throttled = 0
    while True:
        if limiter is not None:
            await limiter.acquire()
        try:
            resp = await http.request(method, url, **kwargs)
        except httpx.TransportError as exc:
            never_sent = isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout))
            if not resend_unsafe and not never_sent:
                raise _unknown_outcome(TransientError(
                    f"{what}: network error ({type(exc).__name__}); the vendor may have applied it")) from None
            if attempt >= retry.max_retries:
                raise TransientError(f"{what}: network error after {attempt + 1} attempts: {type(exc).__name__}") from None
            await asyncio.sleep(retry.backoff(attempt))
            attempt += 1
            continue
        if limiter is not None and limits is not None:
            limiter.observe(resp, limits)
        code = status_of(resp, rules)
        if code == 429:
            wait = None
            for h in retry_headers:
                wait = parse_retry_after(resp.headers.get(h))
                if wait is not None:
                    break
            if wait is None:
                wait = retry.backoff(throttled)
            if throttled >= retry.max_throttled or wait > retry.max_retry_after:
                raise TransientError(f"{what}: rate limited (HTTP 429) after {throttled + 1} attempts",
                                     status_code=429, retry_after=wait)
            if limiter is not None:
                limiter.pause_for(wait)  # every call of the instance waits, taken at the next acquire()
            else:
                await asyncio.sleep(wait)
            throttled += 1
            continue
        if code >= 500:
            if not resend_unsafe:
                raise _unknown_outcome(TransientError(
                    f"{what} failed (HTTP {resp.status_code}); the vendor may have applied it: {vendor_message(resp)}",
                    status_code=resp.status_code))
            if attempt >= retry.max_retries:
                raise TransientError(
                    f"{what} failed (HTTP {resp.status_code}) after {attempt + 1} attempts: {vendor_message(resp)}",
                    status_code=resp.status_code,
                )
            await asyncio.sleep(retry.backoff(attempt))
            attempt += 1
            continue
        return resp


class ApiClient:
    """Authenticated requests against one installation's vendor API."""

    def __init__(self, *, base_url: str, auth: Authenticator, http: httpx.AsyncClient, retry: RetryPolicy,
                 limits: RateLimits, default_headers: dict[str, str], timeout: float,
                 error_rules: "list[ErrorRule] | None" = None, response_prefix: str | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.response_prefix = response_prefix
        self.auth = auth
        self.http = http
        self.retry = retry
        self.limits = limits
        self.default_headers = default_headers
        self.timeout = timeout
        self.error_rules = list(error_rules or [])
        self.limiter = RateLimiter(limits)
        self.last_response: httpx.Response | None = None

    def url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return path
        return f"{self.base_url}/{path.lstrip('/')}"

    async def request(self, method: str, path: str, *, params: dict[str, Any] | None = None,
                      json: Any = None, data: dict[str, Any] | None = None, content: bytes | None = None,
                      what: str = "request", headers: dict[str, str] | None = None, resend_unsafe: bool = True,
                      auth: "Authenticator | None" = None) -> httpx.Response:
        """``json`` sends a JSON body, ``data`` a form-encoded one (Splunk's search jobs), ``content``
        raw bytes (NDJSON; set Content-Type in ``headers``). ``auth`` replaces the instance's
        credential for this call (a push action's own token)."""
        auth = auth or self.auth
        reauthed = False
        while True:
            target = httpx.URL(self.url(path)).copy_merge_params(_clean_params(params)) if params else self.url(path)
            all_headers = {"Accept": "application/json", **self.default_headers, **(headers or {}),
                           **(await auth.headers(method, target))}
            resp = await send_with_retries(
                self.http, method, self.url(path), self.retry, what=what, limits=self.limits, rules=self.error_rules,
                resend_unsafe=resend_unsafe, limiter=self.limiter, params=_clean_params(params), json=json,
                data=data, content=content, headers=all_headers, timeout=self.timeout,
            )
            self.last_response = resp
            code = status_of(resp, self.error_rules)
            if code == 401 and not reauthed and isinstance(auth.spec, (OAuth2ClientCredentials, SessionLoginAuth)):
                auth.invalidate()
                reauthed = True
                continue
            raise_for_status(resp, what, code)
            return resp

    async def request_json(self, method: str, path: str, **kw: Any) -> Any:
        return decode_json(await self.request(method, path, **kw), kw.get("what", "request"), self.response_prefix)


def strip_prefix(content: bytes, prefix: str, what: str) -> bytes:
    """The JSON after the vendor's ``prefix`` (and the whitespace after it); PermanentError with the
    vendor's own text when the answer does not start with it (Trellix ePO: ``Error 1 :`` and a message)."""
    text = content.lstrip()
    head = prefix.encode()
    if not text.startswith(head):
        message = " ".join(text.decode("utf-8", "replace").split())[:300]
        raise PermanentError(f"{what}: the vendor answered {message!r}")
    return text[len(head):].lstrip()


def decode_json(resp: httpx.Response, what: str, prefix: str | None = None) -> Any:
    content = resp.content if prefix is None else strip_prefix(resp.content, prefix, what)
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError:
        pass  # what orjson refuses (not UTF-8, NaN, integers past 64 bits) the standard parser may take
    try:
        return resp.json() if prefix is None else json.loads(content)
    except ValueError:
        raise PermanentError(f"{what}: response is not JSON") from None


def _clean_params(params: dict[str, Any] | None) -> dict[str, Any] | None:
    if params is None:
        return None
    return {k: v for k, v in params.items() if v is not None}


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


__all__ = ["ApiClient", "Authenticator", "ConnectorError", "RateLimiter", "RetryPolicy", "effective_limits",
           "parse_retry_after", "vendor_message"]
