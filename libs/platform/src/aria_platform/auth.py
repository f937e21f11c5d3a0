"""Bearer JWT identities: users (org + role) on public endpoints, services on internal ones."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Literal

import jwt
from fastapi import Depends, Request
from pydantic import BaseModel

from .problems import Problem

Role = Literal["viewer", "operator", "admin"]
_RANK = {"viewer": 0, "operator": 1, "admin": 2}


class Principal(BaseModel):
    subject: str
    org_id: uuid.UUID | None = None
    role: Role | None = None
    service: str | None = None


class TokenVerifier:
    """Users: HS256 with a static key for local use, or RS/ES keys from a JWKS URL in production.
    Services sign their own short-lived HS256 identities with the shared key in both modes."""

    def __init__(self, *, secret: str | None, jwks_url: str | None, issuer: str, audience: str):
        if not secret and not jwks_url:
            raise ValueError("set ARIA_JWT_SECRET or ARIA_JWT_JWKS_URL")
        self._secret = secret
        self._jwks = jwt.PyJWKClient(jwks_url) if jwks_url else None
        self._issuer, self._audience = issuer, audience
        self.fetches_keys = self._jwks is not None

    def verify(self, token: str) -> Principal:
        try:
            asymmetric = jwt.get_unverified_header(token).get("alg") != "HS256"
            if self._jwks is not None and asymmetric:
                key = self._jwks.get_signing_key_from_jwt(token).key
                claims = jwt.decode(token, key, algorithms=["RS256", "ES256"], audience=self._audience, issuer=self._issuer)
            elif self._secret:
                claims = jwt.decode(token, self._secret, algorithms=["HS256"], audience=self._audience, issuer=self._issuer)
                if self._jwks is not None and not claims.get("svc"):
                    # With an identity provider, users come from it; the shared key signs services only.
                    raise jwt.InvalidTokenError("user tokens must come from the identity provider")
            else:
                raise jwt.InvalidAlgorithmError("HS256 tokens are not accepted")
            return Principal(subject=claims["sub"], org_id=claims.get("org_id"), role=claims.get("role"),
                             service=claims.get("svc"))
        except (jwt.PyJWTError, KeyError, ValueError) as exc:
            raise Problem(401, "invalid_token", "Invalid bearer token", type(exc).__name__,
                          headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}) from None


def mint_token(secret: str, *, subject: str, issuer: str = "aria", audience: str = "aria-marketplace",
               org_id: uuid.UUID | None = None, role: Role | None = None, service: str | None = None,
               ttl_s: int = 3600) -> str:
    """Sign a token: used for service identities, the demo organization and tests."""
    now = int(time.time())
    claims: dict = {"sub": subject, "iss": issuer, "aud": audience, "iat": now, "exp": now + ttl_s}
    if org_id is not None:
        claims["org_id"] = str(org_id)
    if role is not None:
        claims["role"] = role
    if service is not None:
        claims["svc"] = service
    return jwt.encode(claims, secret, algorithm="HS256")


async def _principal(request: Request) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Problem(401, "missing_token", "Authentication required", "send Authorization: Bearer <token>",
                      headers={"WWW-Authenticate": "Bearer"})
    verifier: TokenVerifier = request.app.state.token_verifier
    if verifier.fetches_keys:
        # PyJWKClient fetches the JWKS synchronously (on first use and for unknown key ids).
        return await asyncio.to_thread(verifier.verify, token)
    return verifier.verify(token)


def require_role(minimum: Role):
    """Dependency for public endpoints: a user of some organization with at least this role."""

    async def dependency(principal: Principal = Depends(_principal)) -> Principal:
        if principal.org_id is None or principal.role is None:
            raise Problem(403, "user_required", "Forbidden", "this endpoint is for organization users")
        if _RANK[principal.role] < _RANK[minimum]:
            raise Problem(403, "insufficient_role", "Forbidden", f"requires role {minimum} or higher")
        return principal

    return dependency


def require_service(*allowed: str):
    """Dependency for internal endpoints: only the named service identities."""

    async def dependency(principal: Principal = Depends(_principal)) -> Principal:
        if principal.service not in allowed:
            raise Problem(403, "service_not_allowed", "Forbidden", "this caller may not use this endpoint")
        return principal

    return dependency
