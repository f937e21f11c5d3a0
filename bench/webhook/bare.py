"""The framework's ceiling: a FastAPI app on the same route that only answers 204, served by
uvicorn exactly as the services are (httptools, no access log, the same number of worker
processes as the measured service). With --raw, a plain ASGI app that answers 204 to anything:
what uvicorn alone costs per request, the floor under any Python endpoint served this way.

    python bench/webhook/bare.py PORT [WORKERS] [--raw]
"""

from __future__ import annotations

import sys
from pathlib import Path

import uvicorn
from fastapi import FastAPI, Response

app = FastAPI()


@app.post("/v1/webhooks/{installation_id}", status_code=204)
async def receive(installation_id: str) -> Response:
    return Response(status_code=204)


async def raw_app(scope, receive, send) -> None:
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


if __name__ == "__main__":
    # An import string, as worker processes need one to build their own app.
    args = [a for a in sys.argv[1:] if a != "--raw"]
    uvicorn.run("bare:raw_app" if "--raw" in sys.argv else "bare:app", app_dir=str(Path(__file__).parent),
                host="127.0.0.1", port=int(args[0]), workers=int(args[1]) if len(args) > 1 else 1,
                timeout_worker_healthcheck=30, log_config=None, access_log=False)
