"""RFC 9457 problem+json errors with a stable machine-readable `code`."""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

PROBLEM_BASE = "https://docs.aria.example/problems/"
MEDIA_TYPE = "application/problem+json"
log = structlog.get_logger(__name__)


class Problem(Exception):
    """Raise from a service function; the adapter turns it into problem+json."""

    def __init__(self, status: int, code: str, title: str, detail: str | None = None,
                 headers: dict[str, str] | None = None, **extra: Any):
        super().__init__(detail or title)
        self.status, self.code, self.title, self.detail = status, code, title, detail
        self.headers = headers or {}
        self.extra = extra


def not_found(what: str) -> Problem:
    return Problem(404, "not_found", "Not found", f"{what} does not exist")


def problem_body(*, status: int, code: str, title: str, detail: str | None, instance: str, **extra) -> dict:
    body = {"type": PROBLEM_BASE + code, "title": title, "status": status, "code": code, "instance": instance}
    if detail:
        body["detail"] = detail
    body.update(extra)
    return body


def _response(request: Request, status: int, code: str, title: str, detail: str | None,
              headers: dict[str, str] | None = None, **extra) -> JSONResponse:
    body = problem_body(status=status, code=code, title=title, detail=detail, instance=request.url.path, **extra)
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def problem_response(request: Request, exc: Problem) -> JSONResponse:
    return _response(request, exc.status, exc.code, exc.title, exc.detail, exc.headers, **exc.extra)


def client_gone_response(request: Request) -> JSONResponse:
    """The client closed the connection before its request was read: nobody is waiting for an
    answer, and it is not the service's error (logged as info, not as an unhandled exception)."""
    log.info("client disconnected before the request was read", path=request.url.path)
    return _response(request, 499, "client_closed_request", "Client closed the request", None)


def unexpected_error_response(request: Request) -> JSONResponse:
    """A 500 for an unhandled exception, which the caller logs; never the exception's text."""
    return _response(request, 500, "internal_error", "Internal error", "the error was logged")


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem):
        return problem_response(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        # Echo locations and messages only: input values may hold secrets.
        errors = [{"location": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()]
        return _response(request, 422, "validation_error", "Request is invalid",
                         "the request body or parameters failed validation", errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        codes = {401: "unauthenticated", 403: "forbidden", 404: "not_found", 405: "method_not_allowed"}
        return _response(request, exc.status_code, codes.get(exc.status_code, f"http_{exc.status_code}"),
                         str(exc.detail), None, getattr(exc, "headers", None))

    @app.exception_handler(ClientDisconnect)
    async def _gone(request: Request, exc: ClientDisconnect):
        return client_gone_response(request)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        log.exception("unhandled error", path=request.url.path)
        return unexpected_error_response(request)
