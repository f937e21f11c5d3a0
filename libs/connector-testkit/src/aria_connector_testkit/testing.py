"""Test helpers: run a simulator over real HTTP (uvicorn on 127.0.0.1, a free port, in a thread)."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import httpx
import uvicorn
from starlette.types import ASGIApp


class SimulatorServer:
    """``with SimulatorServer(app) as server: server.url`` - uvicorn serving ``app`` in a thread."""

    def __init__(self, app: ASGIApp, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._sock: socket.socket | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> "SimulatorServer":
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        self._sock = sock
        config = uvicorn.Config(self.app, log_level="warning", lifespan="off", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True,
                                        name=f"simulator:{self.port}")
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("simulator did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._sock is not None:
            self._sock.close()

    def __enter__(self) -> "SimulatorServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


class SimulatorControl:
    """Client of the ``/_sim`` control protocol (see aria_connector_testkit.simulators.base)."""

    def __init__(self, base_url: str) -> None:
        self.client = httpx.Client(base_url=base_url, timeout=10)

    def state(self) -> dict[str, Any]:
        return self.client.get("/_sim/state").raise_for_status().json()

    def reset(self) -> None:
        self.client.post("/_sim/reset").raise_for_status()

    def add_records(self, stream: str, count: int = 0, *, malformed: int = 0, update: int = 0) -> dict[str, Any]:
        return self.client.post("/_sim/records", json={"stream": stream, "count": count, "malformed": malformed,
                                                        "update": update}).raise_for_status().json()

    def faults(self, status: int, count: int = 1, retry_after: int | None = None, *, after_write: bool = False) -> None:
        self.client.post("/_sim/faults", json={"status": status, "count": count, "retry_after": retry_after,
                                               "after_write": after_write}).raise_for_status()

    def clear_faults(self) -> None:
        self.client.post("/_sim/faults", json={"clear": True}).raise_for_status()

    def rate_limit(self, limit: int, window_seconds: float) -> None:
        self.client.post("/_sim/rate_limit", json={"limit": limit, "window_seconds": window_seconds}).raise_for_status()

    def expire_tokens(self) -> None:
        self.client.post("/_sim/expire_tokens").raise_for_status()

    def close(self) -> None:
        self.client.close()
