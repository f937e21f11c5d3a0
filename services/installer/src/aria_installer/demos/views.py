"""Try demo (local stack only): which integrations have one, and opening one (admin)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from aria_platform.auth import Principal, require_role
from aria_platform.problems import MEDIA_TYPE
from aria_platform.runtime import Runtime, get_runtime

from ..deps import InstallerDeps
from ..installations.views import Installation, installation_out
from . import service

# Registered before the installations router: /v1/installations/demos is not an installation id.
router = APIRouter(prefix="/v1/installations/demos", tags=["try demo"])


class DemoAvailability(BaseModel):
    integration_keys: list[str] = Field(description="Integrations that can be tried against their simulator here "
                                                    "(empty outside the local stack).")


class DemoRequest(BaseModel):
    integration_key: str = Field(min_length=1, max_length=100, examples=["crowdstrike_falcon"])


@router.get("", response_model=DemoAvailability, summary="Integrations with a demo (Try demo)")
async def demos(rt: Runtime = Depends(get_runtime),
                principal: Principal = Depends(require_role("viewer"))) -> DemoAvailability:
    return DemoAvailability(integration_keys=service.available(rt.settings.demo_configs))


@router.post("", status_code=201, response_model=Installation,
             summary="Try demo: a sandbox installation against the integration's simulator",
             description="Installs the integration marked `demo`, configures it for its vendor simulator (sample "
                         "data, the simulator's demo credentials), enables it and starts a full sync. One demo per "
                         "integration and organization, next to a real installation; uninstall it to throw it "
                         "away. Local stack only.",
             responses={200: {"description": "The demo is already open: the same installation"},
                        404: {"content": {MEDIA_TYPE: {}}, "description": "demo_unavailable / unknown_integration"}})
async def open_demo(body: DemoRequest, request: Request, response: Response, rt: Runtime = Depends(get_runtime),
                    principal: Principal = Depends(require_role("admin"))) -> Installation:
    row, created = await service.open_demo(pool=rt.pool, vault_gateway=rt.deps_of(InstallerDeps).vault_gateway,
                                           principal=principal, integration_key=body.integration_key,
                                           demo_configs=rt.settings.demo_configs)
    if not created:
        response.status_code = 200
    return installation_out(request, row)
