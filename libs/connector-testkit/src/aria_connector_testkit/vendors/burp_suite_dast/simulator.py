"""Burp Suite DAST (Enterprise Edition) GraphQL API on top of its profile (``simulator.yaml``): the one
endpoint ``POST /graphql/v1`` answers the documents the connector sends
(https://portswigger.net/burp/extensibility/dast/graphql-api):

* ``scans(offset, limit, scan_status, sort_column: end, sort_order: asc, scan_end_time_from)`` - the
  succeeded scans ended at or after ``scan_end_time_from``, by end time (then id), a window of
  ``limit`` scans from ``offset``, each with ``issues(start, count)``: the issue records (stored flat,
  each with its scan under ``scan``) nested back into their scans;
* ``site_tree { sites }`` - every site; ``scan_configurations`` - the connection test.

Anything else is answered as GraphQL answers a document it cannot run: HTTP 200 with ``errors``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from aria_connector_testkit.simulators.base import Stream, json_object
from aria_connector_testkit.simulators.profile import ProfileSimulator, load_profile, order_value, parse_time, read
from aria_connectors.vendors.burp_suite_dast.connector import scan_issues

PROFILE = Path(__file__).with_name("simulator.yaml")
SCAN_CONFIGURATIONS = [{"id": "8741f9d8-8624-48b4-af2b-e9bcebf012dd", "name": "Crawl and Audit - Fast"}]


def corpus_records(target: str, case: dict[str, Any]) -> list[Any]:
    """A case's records where the connector reads them: a page of scans becomes their issues."""
    body = case["response"]["body"]
    if target == "issues":
        return scan_issues(read(body, "data.scans"))
    return list(read(body, "data.site_tree.sites") or [])


def identity(record: dict[str, Any]) -> str:
    """The connector's id of an issue (manifest external_id candidates)."""
    scan = record.get("scan") or {}
    site = (scan.get("scan_target") or {}).get("id")
    if site is not None and record.get("fingerprint") is not None:
        return f"{site}:{record['fingerprint']}"
    if record.get("serial_number") is not None:
        return f"{scan.get('id')}:{record['serial_number']}"
    kind = record.get("issue_type") or {}
    parts = [scan.get("id"), record.get("origin"), record.get("path"), kind.get("type_index"), kind.get("name")]
    return ":".join("" if p is None else str(p) for p in parts)


class GraphQLInvalid(ValueError):
    pass


class BurpSuiteDastSimulator(ProfileSimulator):
    def __init__(self, **options: Any) -> None:
        super().__init__("burp_suite_dast", load_profile(PROFILE), **options)

    def streams(self) -> dict[str, Stream]:
        d, out = self.data, dict(super().streams())
        issues = out["issues"]

        def touch(n: int) -> list[str]:
            scans = set(d.touch("issues", n))
            return [identity(r) for r in d.records["issues"] if str(read(r, "scan.id")) in scans]

        out["issues"] = Stream(issues.records, issues.malformed,
                               lambda malformed=False: {"id": identity(d.add("issues", malformed))}, touch)
        return out

    def graphql_error(self, message: str, headers: dict[str, str]) -> Response:
        return self.answer({"errors": [{"message": message}], "data": None}, headers=headers)

    def scans(self, variables: dict[str, Any]) -> list[dict[str, Any]]:
        offset, limit = variables.get("offset", 0), variables.get("limit", 50)
        count, since = variables.get("count", 100), variables.get("from")
        for name, value in (("offset", offset), ("limit", limit), ("count", count)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise GraphQLInvalid(f"Variable '{name}' has an invalid value: {value!r}")
        rows = list(self.data.records["issues"])
        if since is not None:
            try:
                bound = parse_time(since, "iso8601")
            except ValueError:
                raise GraphQLInvalid(f"Variable 'from' has an invalid value: {since!r} is not a Timestamp") from None
            rows = [r for r in rows if read(r, "scan.end_time") and parse_time(read(r, "scan.end_time"), "iso8601") >= bound]
        scans: dict[str, dict[str, Any]] = {}
        for row in rows:
            scan = row.get("scan") or {}
            if scan.get("status", "succeeded") != "succeeded":
                continue
            held = scans.setdefault(str(scan.get("id")), {**scan, "issues": []})
            held["issues"].append({k: v for k, v in row.items() if k != "scan"})
        ordered = sorted(scans.values(), key=lambda s: (order_value(s.get("end_time")), order_value(s.get("id"))))
        page = ordered[offset:offset + limit]
        return [{**s, "issues": s["issues"][:count]} for s in page]

    async def graphql(self, request: Request) -> Response:
        denied, headers = self.guard(request)
        if denied:
            return denied
        body = await json_object(request)
        query = (body or {}).get("query")
        variables = (body or {}).get("variables") or {}
        if not isinstance(query, str) or not isinstance(variables, dict):
            return self.error(400, headers, field="query")
        try:
            if re.search(r"\bscans\s*\(", query):
                return self.answer({"data": {"scans": self.scans(variables)}}, headers=headers)
        except GraphQLInvalid as exc:
            return self.graphql_error(str(exc), headers)
        if re.search(r"\bsite_tree\s*\{\s*sites\b", query):
            return self.answer({"data": {"site_tree": {"sites": self.data.records["sites"]}}}, headers=headers)
        if re.search(r"\bscan_configurations\b", query):
            return self.answer({"data": {"scan_configurations": SCAN_CONFIGURATIONS}}, headers=headers)
        return self.graphql_error("Validation error: the simulator does not answer this document", headers)

    def routes(self) -> list[Route]:
        return [Route("/graphql/v1", self.graphql, methods=["POST"])]


def create_app(**options: Any) -> Starlette:
    """Options: those of the profile (seed, records / issues / sites, malformed, per_timestamp, api_key,
    rate_limit, rate_window_seconds, replay)."""
    return BurpSuiteDastSimulator(**options).app()
