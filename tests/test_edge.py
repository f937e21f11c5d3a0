"""The local edge as users meet it: Debian's nginx with the stack's own configuration
(`deploy/local/services.sh render_edge_conf`), in front of stand-in upstreams that say which
service a request reached. OWASP API4 (unrestricted resource consumption) at the edge: a client
over its budget gets 429 problem+json with Retry-After, and a flood on the API does not spend the
vendors' webhook budget.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from aria_connector_testkit.testing import SimulatorServer

REPO = Path(__file__).resolve().parents[1]
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
pytestmark = pytest.mark.skipif(not os.access(NGINX, os.X_OK), reason="nginx is installed by the console steps")


def upstream(name: str) -> Starlette:
    async def echo(request: Request) -> JSONResponse:
        return JSONResponse({"service": name, "path": request.url.path})

    return Starlette(routes=[Route("/{path:path}", echo, methods=["GET", "POST"])])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def edge(tmp_path_factory):
    state = tmp_path_factory.mktemp("edge")
    # services.sh places catalog, installer and webhook-ingest at PORT_BASE + 1, 2 and 5
    for attempt in range(20):
        base = 40000 + (os.getpid() * 7 + attempt * 97) % 20000
        servers = []
        try:
            for offset, name in ((1, "catalog"), (2, "installer"), (5, "webhook-ingest")):
                servers.append(SimulatorServer(upstream(name), port=base + offset).start())
            break
        except (OSError, RuntimeError):
            for server in servers:
                server.stop()
    else:
        pytest.fail("no free ports for the stand-in upstreams")
    port = free_port()
    env = {**os.environ, "ARIA_LOCAL_PORT_BASE": str(base), "ARIA_LOCAL_EDGE_PORT": str(port),
           "ARIA_LOCAL_SERVICES_STATE": str(state), "ARIA_EDGE_API_RATE": "2"}
    conf = subprocess.run(["bash", "-c", ". deploy/local/lib.sh && . deploy/local/services.sh && render_edge_conf"],
                          cwd=REPO, env=env, check=True, capture_output=True, text=True).stdout
    (state / "edge" / "tmp").mkdir(parents=True)
    (state / "edge" / "nginx.conf").write_text(conf)
    proc = subprocess.Popen([NGINX, "-e", str(state / "edge" / "error.log"), "-p", str(state / "edge"),
                             "-c", str(state / "edge" / "nginx.conf")], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    deadline = time.monotonic() + 15
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"nginx did not start: {proc.stderr.read().decode() if proc.stderr else ''}")
            time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        for server in servers:
            server.stop()


def test_public_paths_reach_their_owner_and_nothing_else_is_routed(edge):
    with httpx.Client(base_url=edge) as client:
        assert client.get("/v1/integrations/splunk").json()["service"] == "catalog"
        assert client.get("/v1/installations").json()["service"] == "installer"
        assert client.get("/v1/rules").json()["service"] == "installer"
        assert client.post("/v1/webhooks/abc", content=b"{}").json()["service"] == "webhook-ingest"
        for path in ("/internal/v1/credentials", "/v1/metrics", "/v1/unknown"):
            response = client.get(path)
            assert response.status_code == 404, path
            assert response.headers["content-type"].startswith("application/problem+json")
            assert response.json()["code"] == "not_found"


def test_a_client_over_its_api_budget_gets_429_and_webhooks_keep_their_own(edge):
    with httpx.Client(base_url=edge) as client:
        answers = [client.get("/v1/integrations") for _ in range(160)]  # rate 2/s, burst 100
        limited = [r for r in answers if r.status_code == 429]
        assert 40 <= len(limited) < 160
        assert limited[0].headers["retry-after"] == "1"
        assert limited[0].headers["content-type"].startswith("application/problem+json")
        assert limited[0].json()["code"] == "rate_limited"
        # the API flood spent the API budget only: a vendor's delivery still gets through
        assert client.post("/v1/webhooks/abc", content=b"{}").status_code == 200
        time.sleep(1.1)  # 2 requests/s: the budget refills
        assert client.get("/v1/integrations").status_code == 200
