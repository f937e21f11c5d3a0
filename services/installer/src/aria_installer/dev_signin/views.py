"""POST /v1/dev/sign-in: local mode only (see service.py)."""

from __future__ import annotations

import uuid
from typing import Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from aria_platform.problems import Problem
from aria_platform.runtime import Runtime, get_runtime

from . import service

router = APIRouter(prefix="/v1/dev", tags=["dev sign-in"])


class SignInRequest(BaseModel):
    role: Literal["viewer", "operator", "admin"]
    org_id: uuid.UUID | None = Field(default=None, description="Organization; absent: the demo organization.")
    name: str | None = Field(default=None, max_length=60, pattern=r"^[A-Za-z0-9_.-]+$",
                             description="Shown as the token's subject (dev-<name>).")


class SignInResult(BaseModel):
    access_token: str
    token_type: Literal["Bearer"]
    expires_in: int
    org_id: uuid.UUID
    role: str
    subject: str


@router.post("/sign-in", response_model=SignInResult, summary="Dev sign-in (local stack only)",
             description="Mints a bearer token for the demo organization with the chosen role. Served only when "
                         "the service runs with ARIA_DEV_SIGNIN=1 and a local HS256 key (deploy/local).")
async def sign_in(body: SignInRequest, rt: Runtime = Depends(get_runtime)) -> dict:
    secret = rt.settings.jwt_secret
    if secret is None:
        raise Problem(404, "not_found", "Not found", "dev sign-in needs the local signing key")
    return service.sign_in(jwt_secret=secret.get_secret_value(), role=body.role, org_id=body.org_id, name=body.name)
