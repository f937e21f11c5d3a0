"""Auth ``session_login``: a login call opens a session whose token every later request carries
in a header (Kaspersky Security Center's ``Session.StartSession`` and ``X-KSC-Session``).

The login's templates see the installation's settings and secrets, and the same values
base64-encoded as ``{base64.settings.x}`` / ``{base64.secrets.x}`` (KSC's ``KSCBasic
user="<base64>", pass="<base64>"``). A refused login (400/401/403) is an AuthenticationError; the
token is cached on the ``Authenticator`` (one session per connector instance), opened again once
when a call answers 401 (the vendor ended an idle session) or after ``ttl_seconds``.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

from ..errors import AuthenticationError, ConfigurationError
from .manifest import SessionLoginAuth
from .paths import get_path
from .templates import render

if TYPE_CHECKING:
    from .http import Authenticator


def _b64(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _b64(v) for k, v in value.items() if v is not None}
    return base64.b64encode(str(value).encode()).decode()


def login_context(ctx: dict[str, Any]) -> dict[str, Any]:
    """The template context of the login request: ``ctx`` plus ``base64`` (settings, secrets encoded)."""
    return {**ctx, "base64": {k: _b64(ctx.get(k) or {}) for k in ("settings", "secrets")}}


async def open_session(auth: "Authenticator") -> str:
    """Logs in and returns the session token (the caller caches it)."""
    from .http import decode_json, raise_for_status, send_with_retries, vendor_message

    spec = auth.spec
    assert isinstance(spec, SessionLoginAuth)
    ctx = login_context(auth.ctx)
    try:
        path = str(render(spec.path, ctx))
        headers = {k: str(v) for k, v in render(dict(spec.headers), ctx).items()}
        body = render(spec.json_body, ctx) if spec.json_body is not None else None
    except KeyError as exc:
        raise ConfigurationError(f"missing configuration value for {exc.args[0]}") from None
    url = path if path.startswith(("http://", "https://")) else urljoin(auth.base_url.rstrip("/") + "/", path.lstrip("/"))
    kwargs: dict[str, Any] = {"headers": {"Accept": "application/json", **headers}}
    if body is not None:
        kwargs["json"] = body
    elif spec.method == "POST":
        kwargs["content"] = b"{}"
        kwargs["headers"].setdefault("Content-Type", "application/json")
    resp = await send_with_retries(auth.http, spec.method, url, auth.retry, what="login", **kwargs)
    if resp.status_code in (400, 401, 403):
        raise AuthenticationError(f"login rejected (HTTP {resp.status_code}): {vendor_message(resp)}",
                                  status_code=resp.status_code)
    raise_for_status(resp, "login")
    token: Any = None
    if spec.token_path:
        token = get_path(decode_json(resp, "login"), spec.token_path)
    if not token and spec.token_header:
        token = resp.headers.get(spec.token_header)
    if not isinstance(token, str) or not token:
        raise AuthenticationError("login answer carries no session token")
    return token
