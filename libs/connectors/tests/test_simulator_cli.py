"""``python -m aria_connector_testkit.simulators serve`` starts a real server."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_cli_serves_crowdstrike():
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "aria_connector_testkit.simulators", "serve", "crowdstrike_falcon", "--port", str(port),
         "--records", "3", "--client-id", "cli-id", "--client-secret", "cli-secret"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60  # a bound, not a target: a busy CI machine imports slowly
        while True:
            try:
                resp = httpx.post(f"http://127.0.0.1:{port}/oauth2/token",
                                  data={"client_id": "cli-id", "client_secret": "cli-secret"})
                break
            except httpx.TransportError:
                assert proc.poll() is None, "the simulator exited"
                assert time.monotonic() < deadline, "simulator did not start"
                time.sleep(0.1)
        assert resp.status_code == 201 and resp.json()["token_type"] == "bearer"
        state = httpx.get(f"http://127.0.0.1:{port}/_sim/state").json()
        assert state["streams"]["alerts"]["records"] == 3
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_cli_rejects_connector_without_http_simulator():
    out = subprocess.run([sys.executable, "-m", "aria_connector_testkit.simulators", "serve", "generic_webhook"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 2 and "no HTTP simulator" in out.stderr
