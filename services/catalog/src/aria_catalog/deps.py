"""catalog's per-process state, built once at start and read as ``rt.deps_of(CatalogDeps)``."""

from __future__ import annotations

from dataclasses import dataclass

from aria_platform.runtime import Runtime

from .catalog.cache import ResponseCache, VersionReads


@dataclass(frozen=True)
class CatalogDeps:
    responses: ResponseCache  # list / search / facet answers per catalog version
    versions: VersionReads  # the current catalog version, one read shared by concurrent requests


async def wire(rt: Runtime) -> None:
    """on_start hook."""
    rt.deps = CatalogDeps(responses=ResponseCache(), versions=VersionReads(rt.pool))
