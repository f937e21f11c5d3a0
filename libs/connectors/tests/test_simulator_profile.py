"""Profile-driven simulators (``aria_connector_testkit.simulators.profile``): what the ported
vendors' conformance runs do not reach - OAuth2 and Basic auth, page numbers with a Link header,
next URLs in the body - and the profile's validation errors. The profiles here vary the
SentinelOne corpus's agents."""

from __future__ import annotations

import base64
from pathlib import Path

import httpx
import pytest
import yaml

from aria_connector_testkit.simulators.profile import create_app, load_profile

STREAM = {
    "route": {"path": "/agents"},
    "fields": {"id": {"id": True}, "updatedAt": {"clock": "now"}},
    "malformed": {"computerName": None},
}
ERRORS = {"body": {"error": "{message}", "status": "{status}"},
          "statuses": {401: {"message": "unauthorized"}, 404: {"message": "no such resource"}}}


def write(tmp_path: Path, profile: dict) -> Path:
    path = tmp_path / "simulator.yaml"
    path.write_text(yaml.safe_dump(profile))
    return path


def client(path: Path, **options) -> httpx.AsyncClient:
    app = create_app("sentinelone", path, **options)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sim")


async def read_all(http: httpx.AsyncClient, url: str, headers: dict, next_of) -> list[str]:
    ids = []
    while url:
        resp = await http.get(url, headers=headers)
        assert resp.status_code == 200, resp.text
        ids += [r["id"] for r in resp.json()["data"]]
        url = next_of(resp)
    return ids


async def test_oauth2_tokens_and_link_header_paging(tmp_path):
    path = write(tmp_path, {
        "auth": {"type": "oauth2_client_credentials", "client_id": {"option": "client_id", "default": "cid"},
                 "client_secret": {"option": "client_secret", "default": "secret"},
                 "token": {"path": "/oauth/token", "status": 201, "ttl_seconds": 600,
                           "response": {"access_token": "{token}", "token_type": "bearer",
                                        "expires_in": "{expires_in}"}}},
        "errors": ERRORS,
        "streams": {"agents": {**STREAM, "envelope": {"data": "{records}"},
                               "pagination": {"by": "page", "limit_param": "per_page", "link": "header"}}}})
    async with client(path, agents=7) as http:
        assert (await http.post("/oauth/token", data={"client_id": "cid", "client_secret": "x"})).json() == \
            {"error": "unauthorized", "status": 401}
        token = await http.post("/oauth/token", data={"client_id": "cid", "client_secret": "secret"})
        assert token.status_code == 201 and token.json()["expires_in"] == 600
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        ids = await read_all(http, "/agents?per_page=3", headers, lambda r: r.links.get("next", {}).get("url"))
        assert len(ids) == len(set(ids)) == 7
        assert (await http.get("/_sim/state")).json()["tokens_issued"] == 1
        await http.post("/_sim/expire_tokens")
        assert (await http.get("/agents", headers=headers)).status_code == 401


async def test_basic_auth_and_next_url_in_the_body(tmp_path):
    path = write(tmp_path, {
        "auth": {"type": "basic", "username": {"option": "user", "default": "u"},
                 "password": {"option": "password", "default": "p"}},
        "errors": ERRORS,
        "streams": {"agents": {**STREAM, "envelope": {"data": "{records}", "next": "{next?}", "count": "{total}"},
                               "pagination": {"by": "offset", "link": "body"}}}})
    good = {"Authorization": "Basic " + base64.b64encode(b"u:p").decode()}
    async with client(path, records=5) as http:
        assert (await http.get("/agents", headers={"Authorization": "Basic eDp5"})).status_code == 401
        ids = await read_all(http, "/agents?limit=2", good, lambda r: r.json().get("next"))
        assert len(set(ids)) == 5
        last = await http.get("/agents?limit=2&offset=4", headers=good)
        assert "next" not in last.json() and last.json()["count"] == 5  # {next?}: left out on the last page
        missing = await http.get("/no/such/path", headers=good)
        assert missing.status_code == 404 and missing.json() == {"error": "no such resource", "status": 404}


def test_profile_errors_name_the_file_and_every_wrong_key(tmp_path):
    path = write(tmp_path, {
        "auth": {"type": "api_key", "header": "X-Key", "key": {"option": "api_key", "default": "k"}},
        "errors": ERRORS, "colour": "blue",
        "streams": {"agents": {"route": {"path": "/agents"}, "pagination": {"by": "cursor"},
                               "fields": {"id": {"id": True, "hash": "md5"}}}}})
    with pytest.raises(ValueError) as info:
        load_profile(path)
    message = str(info.value)
    assert str(path) in message and "colour" in message and "streams.agents.malformed" in message
    assert "exactly one of" in message
    with pytest.raises(TypeError, match="unknown options"):
        create_app("sentinelone", write(tmp_path, {
            "auth": {"type": "api_key", "header": "X-Key", "key": {"option": "api_key", "default": "k"}},
            "errors": ERRORS, "streams": {"agents": {**STREAM, "pagination": {"by": "offset"}}}}), colour="blue")
