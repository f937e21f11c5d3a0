"""Bearer JWT identities: users (org + role) on public endpoints, services on internal ones."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from typing import Literal

import jwt
from fastapi import Request
from pydantic import BaseModel

from .problems import Problem

Role = Literal["viewer", "operator", "admin"]
_RANK = {"viewer": 0, "operator": 1, "admin": 2}

# The longest a token may be valid (exp minus iat, or minus now without iat). A stolen token is
# useful for at most this long; a service identity can lease plaintext secrets, so it is minted
# for minutes (InternalClient re-mints every 4) and refused when it claims more.
MAX_USER_TOKEN_LIFETIME_S = 12 * 3600
MAX_SERVICE_TOKEN_LIFETIME_S = 10 * 60
SERVICE_TOKEN_TTL_S = 300


class TokenLifetimeTooLong(jwt.InvalidTokenError):
    """The token claims a validity longer than its kind of identity may have."""


class Principal(BaseModel):
    subject: str
    org_id: uuid.UUID | None = None
    role: Role | None = None
    service: str | None = None


# Every token must say when it expires; PyJWT then checks exp (and iat, when present) itself.
_REQUIRED = {"require": ["exp"]}


class TokenVerifier:
    """Users: HS256 with a static key for local use, or RS/ES keys from a JWKS URL in production.
    Services sign their own short-lived HS256 identities with the shared key in both modes."""

    # Verified tokens are remembered until they expire: a client sends the same token on every
    # request, and checking its signature and claims again costs more than a cached read answers in.
    # The key is the whole token (signature included), so only the exact bytes verified before hit;
    # an entry is never used at or past the token's `exp`. Bound: oldest dropped first.
    MAX_CACHED = 10_000

    def __init__(self, *, secret: str | None, jwks_url: str | None, issuer: str, audience: str):
        if not secret and not jwks_url:
            raise ValueError("set ARIA_JWT_SECRET or ARIA_JWT_JWKS_URL")
        self._secret = secret
        self._jwks = jwt.PyJWKClient(jwks_url) if jwks_url else None
        self._issuer, self._audience = issuer, audience
        self.fetches_keys = self._jwks is not None
        self._verified: dict[str, tuple[Principal, float]] = {}
        self._insert = threading.Lock()  # JWKS verification runs in worker threads

    def cached(self, token: str) -> Principal | None:
        """The principal of a token verified before and not yet expired, else None."""
        hit = self._verified.get(token)
        if hit is None:
            return None
        principal, expires_at = hit
        if time.time() >= expires_at:
            self._verified.pop(token, None)
            return None
        return principal

    def verify(self, token: str) -> Principal:
        principal = self.cached(token)
        if principal is not None:
            return principal
        principal, expires_at = self._verify(token)
        with self._insert:
            if len(self._verified) >= self.MAX_CACHED:
                self._verified.pop(next(iter(self._verified)), None)
            self._verified[token] = (principal, expires_at)
        return principal

    def _verify(self, token: str) -> tuple[Principal, float]:
        try:
            asymmetric = jwt.get_unverified_header(token).get("alg") != "HS256"
            if self._jwks is not None and asymmetric:
                key = self._jwks.get_signing_key_from_jwt(token).key
                claims = jwt.decode(token, key, algorithms=["RS256", "ES256"], audience=self._audience, issuer=self._issuer,
                                    options=_REQUIRED)
            elif self._secret:
                claims = jwt.decode(token, self._secret, algorithms=["HS256"], audience=self._audience,
                                    issuer=self._issuer, options=_REQUIRED)
                if self._jwks is not None and not claims.get("svc"):
                    # With an identity provider, users come from it; the shared key signs services only.
                    raise jwt.InvalidTokenError("user tokens must come from the identity provider")
            else:
                raise jwt.InvalidAlgorithmError("HS256 tokens are not accepted")
            limit = MAX_SERVICE_TOKEN_LIFETIME_S if claims.get("svc") else MAX_USER_TOKEN_LIFETIME_S
            if claims["exp"] - claims.get("iat", time.time()) > limit:
                raise TokenLifetimeTooLong(f"longer than {limit} s")
            principal = Principal(subject=claims["sub"], org_id=claims.get("org_id"), role=claims.get("role"),
                                  service=claims.get("svc"))
            return principal, claims["exp"]
        except (jwt.PyJWTError, KeyError, ValueError, TypeError) as exc:
            raise Problem(401, "invalid_token", "Invalid bearer token", type(exc).__name__,
                          headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}) from None


def mint_token(secret: str, *, subject: str, issuer: str = "aria", audience: str = "aria-marketplace",
               org_id: uuid.UUID | None = None, role: Role | None = None, service: str | None = None,
               ttl_s: int | None = None) -> str:
    """Sign a token: used for service identities, the demo organization and tests. Default
    lifetime: SERVICE_TOKEN_TTL_S for a service, an hour for a user."""
    if ttl_s is None:
        ttl_s = SERVICE_TOKEN_TTL_S if service is not None else 3600
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
    if (principal := verifier.cached(token)) is not None:
        return principal
    if verifier.fetches_keys:
        # PyJWKClient fetches the JWKS synchronously (on first use and for unknown key ids).
        return await asyncio.to_thread(verifier.verify, token)
    return verifier.verify(token)


def require_role(minimum: Role):
    """Dependency for public endpoints: a user of some organization with at least this role."""

    async def dependency(request: Request) -> Principal:
        principal = await _principal(request)  # called, not a sub-dependency: FastAPI's per-dependency cost
        if principal.org_id is None or principal.role is None:
            raise Problem(403, "user_required", "Forbidden", "this endpoint is for organization users")
        if _RANK[principal.role] < _RANK[minimum]:
            raise Problem(403, "insufficient_role", "Forbidden", f"requires role {minimum} or higher")
        return principal

    dependency.aria_access = {"role": minimum}  # type: ignore[attr-defined]  # read by aria_platform.openapi
    return dependency


def require_service(*allowed: str):
    """Dependency for internal endpoints: only the named service identities."""

    async def dependency(request: Request) -> Principal:
        principal = await _principal(request)
        if principal.service not in allowed:
            raise Problem(403, "service_not_allowed", "Forbidden", "this caller may not use this endpoint")
        return principal

    dependency.aria_access = {"services": list(allowed)}  # type: ignore[attr-defined]
    return dependency
