"""The framework's ceiling: a FastAPI app on the same route that only answers 204, served by
uvicorn exactly as the services are (one process, httptools, no access log)."""

from __future__ import annotations

import sys

import uvicorn
from fastapi import FastAPI, Response

app = FastAPI()


@app.post("/v1/webhooks/{installation_id}", status_code=204)
async def receive(installation_id: str) -> Response:
    return Response(status_code=204)


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_config=None, access_log=False)
