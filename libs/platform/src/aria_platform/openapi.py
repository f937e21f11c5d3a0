"""What every service's OpenAPI document says about authentication and errors, added in one place.

Routes declare their role through `require_role` / `require_service`; FastAPI does not see those as
security schemes, and it documents validation errors with its own body while the services answer
RFC 9457 problem+json. Without this, a client generated from the documents neither sends a token
nor knows the error shape.
"""

from __future__ import annotations

import json
from typing import Any, Iterable

from fastapi.routing import APIRoute, iter_route_contexts

from .problems import MEDIA_TYPE, PROBLEM_BASE

SCHEME = "bearerAuth"
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "Problem",
    "description": "RFC 9457 problem details; `code` is stable and machine-readable, `detail` is for people.",
    "required": ["type", "title", "status", "code"],
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "code": {"type": "string"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {"type": "array", "description": "Validation errors: where, and what is wrong (never the value).",
                   "items": {"type": "object", "properties": {"location": {"type": "string"},
                                                              "message": {"type": "string"}}}},
    },
    "additionalProperties": True,
}
# status -> (description, the code and title of an example body)
_STANDARD = {
    "401": ("No valid bearer token (missing, expired, wrong issuer or audience)",
            "invalid_token", "Invalid bearer token"),
    "403": ("The token's role or service identity may not do this", "insufficient_role", "Forbidden"),
    "422": ("The request body or parameters failed validation", "validation_error", "Request is invalid"),
    "default": ("Any other error, as problem+json", "internal_error", "Internal error"),
}


def auth_of(route: APIRoute) -> dict[str, Any] | None:
    """The access rule a route's dependencies declare (`require_role` / `require_service`), if any."""
    pending = [route.dependant]
    while pending:
        dependant = pending.pop()
        rule = getattr(dependant.call, "aria_access", None)
        if rule is not None:
            return rule
        pending.extend(dependant.dependencies)
    return None


def _problem(status: str, path: str) -> dict[str, Any]:
    description, code, title = _STANDARD[status]
    example = {"type": PROBLEM_BASE + code, "title": title, "status": 500 if status == "default" else int(status),
               "code": code, "instance": path}
    return {"description": description, "content": {MEDIA_TYPE: {"schema": PROBLEM_REF, "example": example}}}


def complete(schema: dict[str, Any], routes: Iterable[Any]) -> dict[str, Any]:
    components = schema.setdefault("components", {})
    components.setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    components.setdefault("securitySchemes", {})[SCHEME] = {
        "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
        "description": "A user token of an organization (role viewer, operator or admin) or a service token; "
                       "tokens must carry `exp` (users at most 12 h, services at most 10 min).",
    }
    # Included routers are resolved lazily by FastAPI: their routes' full paths come from the contexts.
    rules = {(ctx.path_format, method.lower()): auth_of(ctx.original_route)
             for ctx in iter_route_contexts(list(routes)) if isinstance(ctx.original_route, APIRoute)
             for method in ctx.methods or ()}
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            rule = rules.get((path, method))
            if rule is not None:
                operation["security"] = [{SCHEME: []}]
                operation["x-aria-access"] = rule
                for status in ("401", "403"):
                    responses.setdefault(status, _problem(status, path))
            if "422" in responses and MEDIA_TYPE not in responses["422"].get("content", {}):
                responses["422"] = _problem("422", path)  # FastAPI's own body is not what is sent
            responses.setdefault("default", _problem("default", path))
            for status, response in responses.items():  # errors the services list get the body's schema
                if status == "default" or status.startswith(("4", "5")):
                    body = response.setdefault("content", {}).setdefault(MEDIA_TYPE, {})
                    body.setdefault("schema", PROBLEM_REF)
                    response["content"].pop("application/json", None)
    if "/HTTPValidationError" not in json.dumps(schema.get("paths", {})):
        for unused in ("HTTPValidationError", "ValidationError"):
            components["schemas"].pop(unused, None)
    return schema
