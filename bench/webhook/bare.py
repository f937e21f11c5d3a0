"""The framework's ceiling: a FastAPI app on the same route that only answers 204, served by
uvicorn exactly as the services are (httptools, no access log, the same number of worker
processes as the measured service).

    python bench/webhook/bare.py PORT [WORKERS]
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


if __name__ == "__main__":
    # An import string, as worker processes need one to build their own app.
    uvicorn.run("bare:app", app_dir=str(Path(__file__).parent), host="127.0.0.1", port=int(sys.argv[1]),
                workers=int(sys.argv[2]) if len(sys.argv) > 2 else 1, timeout_worker_healthcheck=30, log_config=None,
                access_log=False)
