"""Service-to-service HTTP calls with a short-lived service identity token."""

from __future__ import annotations

import time

import httpx

from .auth import SERVICE_TOKEN_TTL_S, mint_token
from .problems import Problem


class InternalClient:
    def __init__(self, http: httpx.AsyncClient, base_url: str, *, service: str, secret: str, issuer: str,
                 audience: str, target: str):
        self._http, self._base = http, base_url.rstrip("/")
        self._service, self._secret, self._issuer, self._audience = service, secret, issuer, audience
        self._target = target
        self._token, self._expires = "", 0.0

    def _auth(self) -> dict[str, str]:
        if time.monotonic() > self._expires:
            self._token = mint_token(self._secret, subject=f"service:{self._service}", service=self._service,
                                     issuer=self._issuer, audience=self._audience)
            self._expires = time.monotonic() + SERVICE_TOKEN_TTL_S - 60  # a minute's margin for clock skew
        return {"authorization": f"Bearer {self._token}"}

    async def request(self, method: str, path: str, **kwargs) -> httpx.Response:
        """Call the target; a down dependency becomes a 503 problem with Retry-After."""
        try:
            response = await self._http.request(method, self._base + path, headers=self._auth(), **kwargs)
        except httpx.TransportError as exc:
            raise Problem(503, "dependency_unavailable", "Dependency unavailable",
                          f"{self._target} is not reachable ({type(exc).__name__})", headers={"Retry-After": "5"}) from None
        if response.status_code >= 500:
            raise Problem(503, "dependency_unavailable", "Dependency unavailable",
                          f"{self._target} answered {response.status_code}",
                          headers={"Retry-After": response.headers.get("retry-after", "5")})
        return response
