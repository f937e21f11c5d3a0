"""Production identity: user tokens verified against a real JWKS served over HTTP (RS256)."""

import base64
import dataclasses
import hashlib
import hmac
import json
import time
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from aria_installer.main import define
from aria_platform.app import create_app
from aria_platform.testing import bearer, running_app, serving, user_token


def new_key(kid: str):
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
    return private, {**public, "kid": kid, "alg": "RS256", "use": "sig"}


def rs256(private, kid, *, org_id, role="viewer", audience="aria-marketplace", issuer="aria", ttl=300) -> str:
    now = int(time.time())
    claims = {"sub": "idp-user", "org_id": str(org_id), "role": role, "iss": issuer, "aud": audience,
              "iat": now, "exp": now + ttl}
    return jwt.encode(claims, private, algorithm="RS256", headers={"kid": kid})


@pytest.fixture(scope="module")
def keys():
    return {"k1": new_key("k1")}


@pytest.fixture(scope="module")
async def jwks_url(keys):
    async def jwks(request):
        return JSONResponse({"keys": [jwk for _, jwk in keys.values()]})

    async with serving(Starlette(routes=[Route("/.well-known/jwks.json", jwks)])) as url:
        yield f"{url}/.well-known/jwks.json"


@pytest.fixture(scope="module")
async def idp_client(settings, jwks_url):
    # JWKS for users; the HS256 secret stays only to sign this service's own calls to other services.
    jwks_settings = settings.model_copy(update={"jwt_jwks_url": jwks_url})
    async with running_app(create_app(dataclasses.replace(define(jwks_settings), kafka_routers=(),
                                                          outbox=False))) as c:
        yield c


async def test_tokens_signed_by_a_key_in_the_jwks_are_accepted(idp_client, keys):
    org = uuid.uuid4()
    private, _ = keys["k1"]
    ok = await idp_client.get("/v1/installations", headers=bearer(rs256(private, "k1", org_id=org)))
    assert ok.status_code == 200, ok.text
    admin = bearer(rs256(private, "k1", org_id=org, role="admin"))
    created = await idp_client.post("/v1/installations", json={"integration_key": "generic_webhook"}, headers=admin)
    assert created.status_code == 201
    other_org = bearer(rs256(private, "k1", org_id=uuid.uuid4()))
    assert (await idp_client.get(f"/v1/installations/{created.json()['id']}", headers=other_org)).status_code == 404


def hs256_with_public_key(public_jwk: dict, claims: dict) -> str:
    """The classic algorithm-confusion forgery: HMAC keyed with the (public) RSA key's PEM."""
    pem = jwt.algorithms.RSAAlgorithm.from_jwk(json.dumps(public_jwk)).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    def part(value: dict) -> bytes:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=")

    signing_input = part({"alg": "HS256", "typ": "JWT", "kid": public_jwk["kid"]}) + b"." + part(claims)
    signature = base64.urlsafe_b64encode(hmac.new(pem, signing_input, hashlib.sha256).digest()).rstrip(b"=")
    return (signing_input + b"." + signature).decode()


async def test_forged_expired_and_misdirected_tokens_are_refused(idp_client, keys, infra):
    org = uuid.uuid4()
    private, public_jwk = keys["k1"]
    stranger, _ = new_key("k1")
    refused = {
        "signed by a key not in the JWKS": rs256(stranger, "k1", org_id=org),
        "unknown kid": rs256(private, "nope", org_id=org),
        "expired": rs256(private, "k1", org_id=org, ttl=-60),
        "other audience": rs256(private, "k1", org_id=org, audience="someone-else"),
        "other issuer": rs256(private, "k1", org_id=org, issuer="evil"),
        "HS256 with the local secret": user_token(infra, org_id=org),
        "HS256 keyed with the public key": hs256_with_public_key(public_jwk, {
            "sub": "x", "org_id": str(org), "role": "admin", "iss": "aria", "aud": "aria-marketplace",
            "exp": int(time.time()) + 60}),
    }
    for name, token in refused.items():
        response = await idp_client.get("/v1/installations", headers=bearer(token))
        assert response.status_code == 401 and response.json()["code"] == "invalid_token", name


async def test_a_key_added_to_the_jwks_is_picked_up(idp_client, keys):
    # PyJWKClient refetches for an unknown kid at most once per 30 s (cooldown against kid floods);
    # the previous test just spent that refetch, so lift the cooldown rather than sleep.
    idp_client._transport.app.state.token_verifier._jwks.cooldown_duration = 0
    keys["k2"] = new_key("k2")
    private, _ = keys["k2"]
    response = await idp_client.get("/v1/installations", headers=bearer(rs256(private, "k2", org_id=uuid.uuid4())))
    assert response.status_code == 200, response.text
