"""Real vendor responses through the connectors' own sync path (the corpus replay).

Every case of a connector's corpus (``aria_connector_testkit.corpus``) is served by its simulator
in replay mode (exactly the recorded records, through the vendor's routes, auth and paging) and
read by ``drain_sync`` over real HTTP; webhook cases go through ``handle_webhook`` signed as the
vendor signs. Per record it asserts what a subscriber relies on. Adding a corpus file adds no
test code. The ``replay`` quality criterion passes only when every declared stream (and the
webhook) has a real case (the scaffold's placeholders do not count) and all of them replay.
"""

from __future__ import annotations

import ipaddress
import json
import re
import time
import uuid
from datetime import datetime, timezone
from typing import Any

import pytest

from aria_connectors.sdk import drain_sync
from aria_connectors.sdk.paths import get_path, split_path
from aria_connectors.sdk.templates import render
from aria_connector_testkit import simulator_factory, simulator_module
from aria_connector_testkit.corpus import Case, cases, json_shape, path_pattern, records_of
from aria_connector_testkit.testing import SimulatorServer

CVE = re.compile(r"^CVE-\d{4}-\d{4,}$")
TECHNIQUE = re.compile(r"^T\d{4}(\.\d{3})?$")
TACTIC_ID = re.compile(r"^TA\d{4}$")
# MITRE ATT&CK Enterprise tactics (v15), compared without case, spaces, hyphens or underscores
TACTICS = {"reconnaissance", "resourcedevelopment", "initialaccess", "execution", "persistence",
           "privilegeescalation", "defenseevasion", "credentialaccess", "discovery", "lateralmovement",
           "collection", "commandandcontrol", "exfiltration", "impact"}


def event_problems(event: Any) -> list[str]:
    """What a subscriber could not rely on in one published event."""
    problems = []
    if not event.provenance.external_id:
        problems.append("empty external id")
    for name in type(event).model_fields:
        value = getattr(event, name)
        if isinstance(value, datetime) and value.utcoffset() is None:
            problems.append(f"{name} has no UTC offset")
    for cve in getattr(event, "cve_ids", None) or []:
        if not CVE.match(cve):
            problems.append(f"cve_ids holds {cve!r}, not a CVE id")
    tactic = getattr(event, "tactic", None)
    if tactic is not None and not TACTIC_ID.match(tactic) and re.sub(r"[\s_-]", "", tactic.lower()) not in TACTICS:
        problems.append(f"tactic {tactic!r} is not a MITRE ATT&CK tactic")
    technique = getattr(event, "technique", None)
    if technique is not None and not TECHNIQUE.match(technique):
        problems.append(f"technique {technique!r} is not an ATT&CK technique id")
    for ip in getattr(event, "ip_addresses", None) or []:
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            problems.append(f"ip_addresses holds {ip!r}, not an IP address")
    problems += asset_identity_problems(event)
    return problems


MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")


def asset_identity_problems(event: Any) -> list[str]:
    """An endpoint seen by several vendors is correlated on the same fields: a short host name, a
    fully qualified name, canonical MACs (the contract normalises the usual forms)."""
    if event.entity_type != "asset":
        return []
    problems = []
    for name in ("hostname", "fqdn"):
        value = getattr(event, name)
        if value is None:
            continue
        try:
            ipaddress.ip_address(value)
            problems.append(f"{name} holds the IP address {value!r}")
            continue
        except ValueError:
            pass
        if name == "hostname" and "." in value:
            problems.append(f"hostname {value!r} is fully qualified (its short name goes there, the name to fqdn)")
        if name == "fqdn" and "." not in value:
            problems.append(f"fqdn {value!r} is not fully qualified")
    problems += [f"mac_addresses holds {mac!r}, not a MAC address" for mac in event.mac_addresses
                 if not MAC.match(mac)]
    return problems


def expectation_problems(case: Case, events: list[Any]) -> list[str]:
    problems = []
    for i, wanted in enumerate(case.expect.get("events", [])):
        if i >= len(events):
            problems.append(f"expected event {i} is missing")
            continue
        got = events[i].model_dump(mode="json")
        for path, value in wanted.items():
            actual = get_path(got, "provenance.external_id" if path == "external_id" else path)
            if actual != value:
                problems.append(f"event {i}: {path} is {actual!r}, expected {value!r}")
    return problems


async def replay_stream(h, case: Case) -> tuple[list[Any], list[Any], int]:
    """(events, record errors, records served) of one stream case, read from the simulator in
    replay mode as a sync reads the vendor."""
    options = (h.fixtures.get("simulator") or {}).get("options", {})
    records = records_of(h.plugin, case)
    with SimulatorServer(simulator_factory(h.plugin)(**options, replay={case.target: records})) as server:
        cfg = render(h.fixtures.get("config", {}), {"simulator_url": server.url})
        context = h.context()
        runs = []
        for _ in range(2):  # twice from scratch: the same records must get the same ids
            events: list[Any] = []

            async def keep(batch) -> None:
                events.extend(batch.events)
            result = await drain_sync(h.create(cfg, context=context), None, uuid.uuid4(), on_batch=keep,
                                      streams=[case.target])
            runs.append((events, result.record_errors))
    (events, errors), (again, _) = runs
    assert [e.entity_id for e in events] == [e.entity_id for e in again], f"{case.id}: ids differ between two reads"
    return events, errors, len(records)


def replay_webhook(h, case: Case) -> tuple[list[Any], list[Any], int]:
    module = simulator_module(h.plugin)
    body = case.data["body"]
    raw = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    now = int(time.time())
    _, secrets = h.plugin.split_config(h.config())
    headers = {**(case.data.get("headers") or {}), **module.sign_webhook(secrets, raw, now, None)}
    handled = h.create().handle_webhook(headers, raw, datetime.fromtimestamp(now, timezone.utc))
    assert handled.verdict.ok, f"{case.id}: delivery refused ({handled.verdict.reason})"
    return handled.events, handled.record_errors, len(handled.events) + len(handled.record_errors)


def push_problems(h, case: Case) -> list[str]:
    action = h.plugin.manifest.push_action(case.target.removeprefix("push."))
    if action.vendor_id_path is None:
        return []
    vendor_id = get_path(case.response.get("body"), action.vendor_id_path)
    return [] if vendor_id not in (None, "") and not isinstance(vendor_id, (dict, list)) else \
        [f"{case.id}: no vendor id at {action.vendor_id_path!r} in the vendor's answer"]


def covered_targets(h) -> set[str]:
    manifest = h.plugin.manifest
    wanted = {s.name for s in manifest.api.streams} if manifest.api else set()
    if "webhook" in manifest.capabilities:
        wanted.add("webhook")
    return wanted


@pytest.mark.quality("replay")
async def test_real_vendor_responses_replay(harness):
    h = harness
    corpus = cases(h.plugin)
    problems: list[str] = []
    for case in corpus:
        if case.target.startswith("push."):
            problems += push_problems(h, case)
            continue
        if case.target == "webhook":
            events, errors, served = replay_webhook(h, case)
        else:
            events, errors, served = await replay_stream(h, case)
        allowed = case.expect.get("record_errors", 0)
        if len(errors) != allowed:
            problems.append(f"{case.id}: {len(errors)} record errors, {allowed} allowed: "
                            f"{[e.reason for e in errors][:3]}")
        wanted = case.expect.get("event_count", served - allowed)
        if len(events) != wanted:
            problems.append(f"{case.id}: {len(events)} events from {served} records, expected {wanted}")
        ids = [e.entity_id for e in events]
        if len(set(ids)) != len(ids) and not case.expect.get("duplicate_ids"):
            problems.append(f"{case.id}: two records share an entity id")
        for i, event in enumerate(events):
            problems += [f"{case.id} event {i}: {p}" for p in event_problems(event)]
        problems += expectation_problems(case, events)
    assert not problems, "\n".join(problems[:40])
    skip_unless_complete(h, corpus)


def skip_unless_complete(h, corpus: tuple[Case, ...]) -> None:
    """After a test's checks passed: a corpus missing a stream or the webhook earns no `replay`
    criterion, so the test is reported as skipped rather than passed."""
    missing = covered_targets(h) - {c.target for c in corpus if not c.placeholder}
    if missing:
        pytest.skip(f"{h.key}: no real-response corpus for {sorted(missing)} (placeholders do not count)")


def recorded_shapes(h, corpus: tuple[Case, ...]) -> list[tuple[str, Any, Case, set[tuple[str, str]]]]:
    """Per recorded request (method, path pattern): the shapes the vendor's responses showed (not the
    scaffold's placeholders). A text body (XML) is compared through the simulator's
    ``corpus_records`` reading of it."""
    by_request: dict[tuple[str, str], tuple[Case, set]] = {}
    for case in corpus:
        req = case.request
        if "path" not in req or case.target == "webhook" or case.target.startswith("push.") or case.placeholder:
            continue
        key = (req.get("method", "GET").upper(), req["path"])
        shapes = by_request.setdefault(key, (case, set()))[1]
        shapes |= body_shape(h, case, case.response)
    return [(method, path_pattern(path), case, shapes) for (method, path), (case, shapes) in by_request.items()]


def body_shape(h, case: Case, response: dict[str, Any]) -> set[tuple[str, str]]:
    if "text" in response:
        return json_shape(records_of(h.plugin, Case(case.key, case.target, case.name, case.path,
                                                    {**case.data, "response": response})))
    return json_shape(response.get("body"))


def paging_fields(h, target: str) -> set[str]:
    """The envelope fields the stream's pagination reads (a next link, a next token, a total): a
    single recorded page often lacks them (the last page of a list has no next link), while the
    simulator must serve them to page at all; the manifest cites the vendor's docs for each."""
    if target not in {s.name for s in (h.plugin.manifest.api.streams if h.plugin.manifest.api else [])}:
        return set()
    pag = h.plugin.manifest.stream(target).pagination
    names = ("next_url_path", "next_cursor_path", "total_path", "has_more_path", "total_pages_path",
             "next_offset_path")
    return {"$." + ".".join(split_path(p)) for p in (getattr(pag, n, None) for n in names) if p}


@pytest.mark.quality("replay")
async def test_simulator_serves_only_recorded_shapes(harness):
    """The seeded simulator may produce only field paths and JSON types the vendor's recorded
    responses show: a simulator written from our own reading of the docs is caught inventing."""
    h = harness
    h.require("sync")
    corpus = cases(h.plugin)
    recorded = recorded_shapes(h, corpus)
    if not recorded:
        pytest.skip(f"{h.key}: no recorded stream responses")
    served: list[tuple[str, str, dict[str, Any]]] = []

    async def capture(response) -> None:
        await response.aread()
        text = response.text
        try:
            served.append((response.request.method, response.request.url.path, {"body": json.loads(text)}))
        except ValueError:
            served.append((response.request.method, response.request.url.path, {"text": text}))
    h.http.event_hooks["response"].append(capture)
    try:
        await drain_sync(h.create(), None, uuid.uuid4())
    finally:
        h.http.event_hooks["response"].remove(capture)
    problems, compared = [], 0
    for method, path, response in served:
        for want_method, pattern, case, shapes in recorded:
            if method == want_method and pattern.match(path):
                compared += 1
                invented = sorted(s for s in body_shape(h, case, response) - shapes
                                  if s[0] not in paging_fields(h, case.target))
                problems += [f"{method} {path}: {p} ({t}) never recorded" for p, t in invented]
                break
    assert compared, f"{h.key}: the simulator answered no request the corpus records"
    assert not problems, "\n".join(sorted(set(problems))[:40])
    skip_unless_complete(h, corpus)
