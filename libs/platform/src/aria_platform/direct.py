"""Direct routes: a service's hottest endpoint served ahead of FastAPI's middleware and routing.

A request through FastAPI passes about ten ASGI layers before its endpoint runs (Starlette's error
and exception middleware, FastAPI's body-limit and telemetry middleware and exit stack, the router
trying route after route, the request/response wrapper): 50-80 µs of CPU in process, as much as
all of the webhook endpoint's own work. A direct route keeps its ordinary declaration on its
router (OpenAPI, response models, name), but a request that matches it runs only the platform's
own layers, trace context and request metrics, and then the endpoint. A `Problem` it raises is
answered as problem+json and an unexpected error as a logged 500, as through FastAPI.

Only an endpoint that takes the Request alone (no parameters or dependencies for FastAPI to
resolve) and returns a Response can be direct; `DirectRoutes` checks that when the app is built.
A deployment with a root path is served through FastAPI as usual (the path does not match).
With a trace exporter configured, the request's server span is `TraceContext`'s (named after the
method and route, with method, path, route and status attributes), not the FastAPI
instrumentation's.
"""

from __future__ import annotations

from collections.abc import Sequence

import structlog
from fastapi import FastAPI, Request
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.requests import ClientDisconnect
from starlette.routing import compile_path

from .metrics import RequestMetrics
from .problems import Problem, client_gone_response, problem_response, unexpected_error_response
from .telemetry import TraceContext

log = structlog.get_logger(__name__)


class DirectRoutes:
    def __init__(self, app: FastAPI, names: Sequence[str], *, service: str):
        # Included routers are resolved lazily by FastAPI: their routes, with prefixes, come from here.
        routes = {route.name: route for route in iter_route_contexts(app.routes)
                  if isinstance(route.original_route, APIRoute)}
        self._app, self._routes = app, []
        for name in names:
            route = routes.get(name)
            if route is None:
                raise ValueError(f"direct route {name!r}: no API route of that name")
            d = route.original_route.dependant
            if (d.path_params or d.query_params or d.header_params or d.cookie_params or d.body_params
                    or d.dependencies or d.request_param_name is None):
                raise ValueError(f"direct route {name!r}: its endpoint must take the Request alone")
            regex, _, convertors = compile_path(route.path)
            self._routes.append((regex, route.methods, convertors, route))
        self._stack = TraceContext(RequestMetrics(self._serve, service=service))

    async def serve(self, scope, receive, send) -> bool:
        """Serve an HTTP request that matches a direct route; False (nothing done) otherwise."""
        path = scope["path"]
        for regex, methods, convertors, route in self._routes:
            match = regex.match(path)
            if match is not None and scope["method"] in methods:
                scope["app"], scope["route"] = self._app, route  # the route: for metrics' route label
                scope["path_params"] = {key: convertors[key].convert(value) for key, value in match.groupdict().items()}
                await self._stack(scope, receive, send)
                return True
        return False

    @staticmethod
    async def _serve(scope, receive, send) -> None:
        request = Request(scope, receive)
        try:
            response = await scope["route"].endpoint(request)
        except Problem as exc:
            response = problem_response(request, exc)
        except ClientDisconnect:
            response = client_gone_response(request)
        except Exception:
            log.exception("unhandled error", path=scope["path"])
            response = unexpected_error_response(request)
        await response(scope, receive, send)
