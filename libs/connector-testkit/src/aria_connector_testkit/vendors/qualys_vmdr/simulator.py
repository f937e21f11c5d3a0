"""Simulator of the Qualys VMDR XML APIs the connector uses.

Faithful to the Qualys VM/PC API user guide:

* Host List Detection - https://docs.qualys.com/en/vm/api/assets/host_lists/host_detection.htm
  and https://discussions.qualys.com/docs/DOC-2102 (pagination logic):
  ``GET|POST /api/2.0/fo/asset/host/vm/detection/?action=list`` -> ``HOST_LIST_VM_DETECTION_OUTPUT/
  RESPONSE/{DATETIME, HOST_LIST/HOST/{ID, IP, TRACKING_METHOD, OS, DNS, DNS_DATA{HOSTNAME,
  DOMAIN, FQDN}, NETBIOS, LAST_SCAN_DATETIME, LAST_VM_SCANNED_DATE, LAST_VM_SCANNED_DURATION,
  DETECTION_LIST/DETECTION/{UNIQUE_VULN_ID (not always), QID, TYPE (Confirmed|Potential|Info), SEVERITY
  1..5, PORT, PROTOCOL, SSL, STATUS (New|Active|Fixed|Re-Opened), FIRST_FOUND_DATETIME,
  LAST_FOUND_DATETIME, TIMES_FOUND, LAST_TEST_DATETIME, LAST_UPDATE_DATETIME,
  LAST_FIXED_DATETIME, IS_IGNORED, IS_DISABLED, LAST_PROCESSED_DATETIME, QDS}},
  WARNING{CODE 1980, TEXT, URL}}``. Hosts are sorted by ID; ``truncation_limit`` (hosts
  per response, default 1000) truncates and the WARNING URL carries ``id_min`` of the next
  batch. ``status`` defaults to ``New,Active,Re-Opened`` (Fixed only when asked);
  ``vm_processed_after`` keeps hosts whose vulnerability data was processed after the
  date; hosts without a matching detection are left out.
* Host List - https://docs.qualys.com/en/vm/qweb-all-api/mergedProjects/qapi-assets/host_lists/host_list.htm :
  ``/api/2.0/fo/asset/host/?action=list`` -> ``HOST_LIST_OUTPUT`` (hosts by ID ascending,
  ``truncation_limit`` default 1000, ``vm_scan_since``; ``details`` is not applied: hosts
  are served with the elements they were recorded with).
* KnowledgeBase - https://docs.qualys.com/en/vm/api/knowledgebase/knowledgebase.htm :
  ``/api/2.0/fo/knowledge_base/vuln/?action=list&ids=`` -> ``KNOWLEDGE_BASE_VULN_LIST_OUTPUT/
  RESPONSE/VULN_LIST/VULN/{QID, VULN_TYPE, SEVERITY_LEVEL, TITLE, CATEGORY, PATCHABLE,
  CVE_LIST/CVE/{ID, URL}, CVSS{BASE}, CVSS_V3{BASE}, ...}``.
* Conventions - https://docs.qualys.com/en/vm/api/get_started/api_limits.htm : basic auth,
  every request must send ``X-Requested-With``; responses carry ``X-RateLimit-Limit``,
  ``X-RateLimit-Window-Sec``, ``X-RateLimit-Remaining``, ``X-Concurrency-Limit-Limit``,
  ``X-Concurrency-Limit-Running``; an exhausted budget is **409** with ``SIMPLE_RETURN``
  code 1965 and ``X-RateLimit-ToWait-Sec``; errors are ``SIMPLE_RETURN/RESPONSE/{DATETIME,
  CODE, TEXT}``. ``/msp/about.php`` answers ``ABOUT`` (versions).

Records are real: seeded hosts and detections are the corpus records (``corpus/``: a recorded
detection list and the guide's samples, read by ``corpus_records``) with ids, addresses, QIDs
and times varied by the seed; ``replay`` serves given records verbatim. Elements keep the
vendor's names and order (``element_dict`` / ``element_xml``); the KnowledgeBase answers
with a recorded response's entries (``knowledge_base.json``; none in replay mode).

Injected faults (``/_sim/faults``) answer 429/5xx with ``Retry-After`` as the control
protocol requires. Text is served escaped instead of in CDATA sections (equivalent XML).
Demo credentials: ``demo_user`` / ``demo-password``.
"""

from __future__ import annotations

import copy
import json
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone
from functools import lru_cache, partial
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qs, urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from aria_connector_testkit.corpus import records_for
from aria_connector_testkit.simulators.base import SeededData, Simulator, Stream, basic_credentials, record_counts, seed_records

DEMO_USERNAME = "demo_user"
DEMO_PASSWORD = "demo-password"
T0 = datetime(2024, 5, 1, tzinfo=timezone.utc)


@lru_cache(maxsize=1)
def knowledge_base() -> dict[str, ET.Element]:
    """QID -> VULN element of a recorded KnowledgeBase response (``knowledge_base.json``), served
    as recorded (one of its entries has an empty title and an empty CVE id; neither has CVSS)."""
    case = json.loads((Path(__file__).parent / "knowledge_base.json").read_text())
    root = ET.fromstring(case["response"]["text"].encode())
    return {v.findtext("QID"): v for v in root.findall("RESPONSE/VULN_LIST/VULN")}


STATUSES = ["New", "Active", "Active", "Re-Opened", "Fixed"]
PORTS = [("22", "tcp", "0"), ("443", "tcp", "1"), ("445", "tcp", "0"), ("53", "udp", "0"), ("3389", "tcp", "1")]
Record = dict[str, Any]


def qdt(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_qdt(value: str) -> datetime:
    value = value.strip()
    if len(value) == 10:
        value += "T00:00:00Z"
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def element_dict(elem: ET.Element) -> Any:
    """An XML element as data in the vendor's own names and order: a leaf is its text (with
    attributes: ``{"@name": v, "#text": text}``), a ``*_LIST`` a list of its children, any other
    element a dict of its children. ``element_xml`` writes it back."""
    children = list(elem)
    if not children:
        text = (elem.text or "").strip()
        return {**{f"@{k}": v for k, v in elem.attrib.items()}, "#text": text} if elem.attrib else text
    if elem.tag.endswith("_LIST"):
        return [element_dict(c) for c in children]
    return {c.tag: element_dict(c) for c in children}


def element_xml(parent: ET.Element, tag: str, value: Any) -> None:
    el = ET.SubElement(parent, tag)
    if isinstance(value, list):  # X_LIST holds X elements
        for item in value:
            element_xml(el, tag[: -len("_LIST")], item)
    elif isinstance(value, dict) and "#text" in value:
        el.attrib.update({k[1:]: v for k, v in value.items() if k.startswith("@")})
        el.text = value["#text"]
    elif isinstance(value, dict):
        for k, v in value.items():
            element_xml(el, k, v)
    else:
        el.text = str(value)


def corpus_records(target: str, case: dict[str, Any]) -> list[Record]:
    """The records a recorded XML response holds, as this simulator stores them: a Host List
    host (``hosts``), or a detection with its host (``detections``: ``{"HOST", "DETECTION"}``)."""
    root = ET.fromstring(case["response"]["text"].encode())
    hosts = [element_dict(h) for h in root.findall("RESPONSE/HOST_LIST/HOST")]
    if target == "hosts":
        return hosts
    out = []
    for host in hosts:
        detections = host.pop("DETECTION_LIST", None) or []
        out.extend({"HOST": host, "DETECTION": d} for d in detections)
    return out


def detection_key(r: Record) -> str:
    """A detection's identity (real detections carry no UNIQUE_VULN_ID): host, QID, port, protocol, SSL."""
    d = r["DETECTION"]
    return ":".join(str(x) for x in (r["HOST"]["ID"], d["QID"], d.get("PORT", ""), d.get("PROTOCOL", ""), d.get("SSL", "")))


class QualysData(SeededData):
    """Hosts (Host List API) and detections with their host (Host List Detection API). Seeded
    records are the corpus records (real responses) varied by the seed; ``replay`` holds given
    records verbatim."""

    def __init__(self, seed: int, detections: int, hosts: int, malformed: int = 0, per_timestamp: int = 2,
                 replay: dict[str, list[Record]] | None = None) -> None:
        super().__init__(seed, per_timestamp)
        if replay is not None:
            self.hosts = [copy.deepcopy(h) for h in replay.get("hosts", [])]
            self.detections = [copy.deepcopy(d) for d in replay.get("detections", [])]
            self.kb_entries = False  # nothing seeded: the KnowledgeBase knows no QID
            return
        self.kb_entries = True
        self.host_templates = records_for("qualys_vmdr", "hosts")
        self.detection_templates = records_for("qualys_vmdr", "detections")
        self.hosts: list[Record] = []
        self.detections: list[Record] = []
        for _ in range(max(hosts, 1) if detections else hosts):
            self.add_host()
        seed_records(self.add_detection, detections, malformed)

    def add_host(self, malformed: bool = False) -> Record:
        rng = self.rng
        n = len(self.hosts)
        host = copy.deepcopy(self.host_templates[n % len(self.host_templates)])
        scanned = qdt(self.minute(T0, "hosts"))
        name = f"{rng.choice(['web', 'db', 'app', 'wks', 'dc'])}{n:04d}.corp.example.com"
        host["ID"] = str(1_000_000 + n * 7 + rng.randrange(0, 7))
        host["IP"] = f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        for key in ("DNS", "EC2_INSTANCE_ID"):
            if key in host:
                host[key] = name if key == "DNS" else f"i-{rng.getrandbits(64):016x}"
        for key in ("LAST_VULN_SCAN_DATETIME", "LAST_VM_SCANNED_DATE"):
            if key in host:
                host[key] = scanned
        if malformed:
            del host["IP"]  # neither DNS nor IP: the asset has no name, fails mapping
            host.pop("DNS", None)
            self.malformed["hosts"] += 1
        self.hosts.append(host)
        return host

    def add_detection(self, malformed: bool = False) -> Record:
        rng = self.rng
        if not self.hosts:
            self.add_host()
        n = len(self.detections)
        host = self.hosts[n % len(self.hosts)]
        record = copy.deepcopy(self.detection_templates[n % len(self.detection_templates)])
        h, d = record["HOST"], record["DETECTION"]
        h["ID"] = host["ID"]
        h["IP"] = host.get("IP", "")
        if "OS" in h and host.get("OS"):
            h["OS"] = host["OS"]
        if "DNS" in h and host.get("DNS"):
            h["DNS"] = host["DNS"]
            if isinstance(h.get("DNS_DATA"), dict):
                hostname, _, domain = host["DNS"].partition(".")
                h["DNS_DATA"].update(HOSTNAME=hostname, DOMAIN=domain, FQDN=host["DNS"])
        kb = knowledge_base()
        qids = sorted(kb)
        turn = n // len(self.hosts)  # the n-th detection of its host: a QID it has not had yet
        qid = qids[turn % len(qids)]
        d["QID"] = str(int(qid) + 1_000_000 * (turn // len(qids)))  # past the recorded QIDs: one the KB lacks
        d["SEVERITY"] = kb[qid].findtext("SEVERITY_LEVEL")
        if "UNIQUE_VULN_ID" in d:  # the guide's sample has one; recorded tenants do not
            d["UNIQUE_VULN_ID"] = str(1_000_000 + self.seed * 1000 + n)
        if "PORT" in d:
            d["PORT"], d["PROTOCOL"], d["SSL"] = rng.choice(PORTS)
        processed = self.minute(T0, "detections")
        d["STATUS"] = rng.choice(STATUSES)
        d["FIRST_FOUND_DATETIME"] = qdt(processed - timedelta(days=rng.randrange(1, 200)))
        d["LAST_FOUND_DATETIME"] = d["LAST_PROCESSED_DATETIME"] = qdt(processed)
        if malformed:
            d["SEVERITY"] = "9"  # not a Qualys severity (1-5): fails mapping
            self.malformed["detections"] += 1
        self.detections.append(record)
        return record

    def touch(self, stream: str, count: int) -> list[str]:
        if stream == "hosts":
            oldest = sorted(self.hosts, key=lambda h: (h.get("LAST_VM_SCANNED_DATE", ""), int(h["ID"])))[:count]
            for h in oldest:
                h["LAST_VM_SCANNED_DATE"] = h["LAST_VULN_SCAN_DATETIME"] = qdt(self.minute(T0, "hosts"))
            return [h["ID"] for h in oldest]
        oldest = sorted(self.detections, key=lambda r: (r["DETECTION"].get("LAST_PROCESSED_DATETIME", ""), detection_key(r)))[:count]
        for r in oldest:
            d = r["DETECTION"]
            d["LAST_PROCESSED_DATETIME"] = d["LAST_FOUND_DATETIME"] = qdt(self.minute(T0, "detections"))
            d["STATUS"] = "Re-Opened" if d["STATUS"] == "Fixed" else "Fixed"
        return [detection_key(r) for r in oldest]


def _sub(parent: ET.Element, tag: str, text: Any = None, **attrib: str) -> ET.Element:
    el = ET.SubElement(parent, tag, attrib)
    if text is not None:
        el.text = str(text)
    return el


def xml_response(root: ET.Element, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    body = b'<?xml version="1.0" encoding="UTF-8" ?>\n' + ET.tostring(root, encoding="utf-8")
    return Response(body, status_code=status, media_type="text/xml; charset=UTF-8", headers=headers)


def _output(tag: str) -> tuple[ET.Element, ET.Element]:
    """A Qualys output document ``tag`` and its RESPONSE element, stamped with the current DATETIME."""
    root = ET.Element(tag)
    resp = _sub(root, "RESPONSE")
    _sub(resp, "DATETIME", qdt(datetime.now(timezone.utc)))
    return root, resp


def simple_return(code: int | None, text: str, status: int, headers: dict[str, str] | None = None,
                  items: dict[str, str] | None = None) -> Response:
    root, resp = _output("SIMPLE_RETURN")
    if code is not None:
        _sub(resp, "CODE", code)
    _sub(resp, "TEXT", text)
    if items:
        il = _sub(resp, "ITEM_LIST")
        for k, v in items.items():
            item = _sub(il, "ITEM")
            _sub(item, "KEY", k)
            _sub(item, "VALUE", v)
    return xml_response(root, status, headers)


class QualysSimulator(Simulator):
    def __init__(self, *, seed: int = 42, records: int | None = None, detections: int | None = None,
                 hosts: int | None = None, malformed: int = 0, per_timestamp: int = 2, username: str = DEMO_USERNAME,
                 password: str = DEMO_PASSWORD, rate_limit: int = 300, rate_window_seconds: float = 3600.0,
                 replay: dict[str, list[Record]] | None = None, **_ignored: Any) -> None:
        self.options = dict(seed=seed, **record_counts(records, detections=detections, hosts=hosts), malformed=malformed,
                            per_timestamp=per_timestamp)
        self.username, self.password = username, password
        super().__init__(rate_limit=rate_limit, rate_window_seconds=rate_window_seconds, replay=replay)

    def reset(self) -> None:
        self.data = QualysData(**self.options, replay=self.replay)

    def guard(self, request: Request) -> tuple[Response | None, dict[str, str]]:
        gate = self.control.admit(request)
        headers = {"X-RateLimit-Limit": str(self.control.rate_limit),
                   "X-RateLimit-Window-Sec": str(int(self.control.rate_window_seconds)),
                   "X-RateLimit-Remaining": str(gate.remaining), "X-Concurrency-Limit-Limit": "2",
                   "X-Concurrency-Limit-Running": "0"}
        if gate.exhausted:
            wait = str(gate.retry_after)
            return simple_return(1965, f"This API cannot be run again for another {wait} seconds.", 409,
                                 {**headers, "X-RateLimit-ToWait-Sec": wait}, {"SECONDS_TO_WAIT": wait}), headers
        if gate.status == 429:
            return simple_return(1965, "Too many requests.", 429, {**headers, "Retry-After": str(gate.retry_after)}), headers
        if gate.status is not None:
            return simple_return(999, "Internal error. Please contact customer support.", gate.status, headers), headers
        if basic_credentials(request) != (self.username, self.password):
            return simple_return(None, "Bad Login/Password", 401, {**headers, "WWW-Authenticate": 'Basic realm="MSP Portal"'}), headers
        if not request.headers.get("x-requested-with"):
            return simple_return(1905, "Missing required header: X-Requested-With", 400, headers), headers
        return None, headers

    # -- endpoints ------------------------------------------------------------------------------

    async def about(self, request: Request) -> Response:
        denied, headers = self.guard(request)
        if denied:
            return denied
        root = ET.Element("ABOUT")
        _sub(root, "API-VERSION", MAJOR="2", MINOR="0")
        _sub(root, "WEB-VERSION", "10.28.0.0-1")
        _sub(root, "SCANNER-VERSION", "13.4.33-1")
        _sub(root, "VULNSIGS-VERSION", "2.6.32-2")
        return xml_response(root, headers=headers)

    @staticmethod
    async def _params(request: Request) -> dict[str, str]:
        params = dict(request.query_params)
        if request.method == "POST":
            params.update({k: v[0] for k, v in parse_qs((await request.body()).decode()).items()})
        return params

    def _page(self, hosts: list[dict[str, Any]], params: dict[str, str], request: Request) -> tuple[list[dict[str, Any]], str | None]:
        try:
            limit = int(params.get("truncation_limit", "1000"))
            id_min = int(params["id_min"]) if params.get("id_min") else None
        except ValueError:
            raise ValueError("truncation_limit and id_min must be integers") from None
        hosts = sorted((h for h in hosts if id_min is None or int(h["ID"]) >= id_min), key=lambda h: int(h["ID"]))
        if limit <= 0 or len(hosts) <= limit:
            return hosts, None
        nxt = {**params, "id_min": str(hosts[limit]["ID"])}
        return hosts[:limit], f"{str(request.base_url).rstrip('/')}{request.url.path}?{urlencode(nxt)}"

    async def _list_call(self, request: Request) -> tuple[Response | None, dict[str, str], dict[str, str]]:
        """(refusal, headers, parameters) of an ``action=list`` call; 1903 without the action."""
        denied, headers = self.guard(request)
        if denied:
            return denied, headers, {}
        p = await self._params(request)
        if p.get("action") != "list":
            return simple_return(1903, "Missing required parameter: action", 400, headers), headers, p
        return None, headers, p

    def _hosts_output(self, output: str, hosts: list[dict[str, Any]], p: dict[str, str], request: Request,
                      headers: dict[str, str], write_host: Callable[[ET.Element, dict[str, Any]], Any]) -> Response:
        """One page of ``hosts`` in an ``output`` document: at most ``truncation_limit`` of them, and
        while more remain the WARNING (code 1980) whose URL asks for the next page."""
        try:
            page, next_url = self._page(hosts, p, request)
        except ValueError as exc:
            return simple_return(1905, str(exc), 400, headers)
        root, resp = _output(output)
        if page:
            hl = _sub(resp, "HOST_LIST")
            for h in page:
                write_host(hl, h)
        if next_url:
            w = _sub(resp, "WARNING")
            _sub(w, "CODE", 1980)
            _sub(w, "TEXT", f"{p.get('truncation_limit')} record limit exceeded. Use URL to get next batch of results.")
            _sub(w, "URL", next_url)
        return xml_response(root, headers=headers)

    async def detections(self, request: Request) -> Response:
        denied, headers, p = await self._list_call(request)
        if denied:
            return denied
        statuses = {s.strip() for s in p.get("status", "New,Active,Re-Opened").split(",")}
        try:
            after = parse_qdt(p["vm_processed_after"]) if p.get("vm_processed_after") else None
        except ValueError:
            return simple_return(1905, "parameter vm_processed_after has invalid value", 400, headers)
        by_host: dict[str, list[Record]] = {}
        for r in self.data.detections:
            if r["DETECTION"].get("STATUS") in statuses:
                by_host.setdefault(r["HOST"]["ID"], []).append(r)

        def processed(group: list[Record]) -> datetime | None:
            times = [parse_qdt(r["DETECTION"]["LAST_PROCESSED_DATETIME"]) for r in group if r["DETECTION"].get("LAST_PROCESSED_DATETIME")]
            return max(times) if times else None

        hosts = [group[0]["HOST"] for group in by_host.values()
                 if after is None or (processed(group) or after) > after]

        def write_host(hl: ET.Element, h: Record) -> None:
            el = ET.SubElement(hl, "HOST")
            for k, v in h.items():
                element_xml(el, k, v)
            element_xml(el, "DETECTION_LIST", [r["DETECTION"] for r in by_host[h["ID"]]])

        return self._hosts_output("HOST_LIST_VM_DETECTION_OUTPUT", hosts, p, request, headers, write_host)

    async def host_list(self, request: Request) -> Response:
        denied, headers, p = await self._list_call(request)
        if denied:
            return denied
        try:
            since = parse_qdt(p["vm_scan_since"]) if p.get("vm_scan_since") else None
        except ValueError:
            return simple_return(1905, "parameter vm_scan_since has invalid value", 400, headers)
        hosts = [h for h in self.data.hosts
                 if since is None or (h.get("LAST_VM_SCANNED_DATE") and parse_qdt(h["LAST_VM_SCANNED_DATE"]) >= since)]
        return self._hosts_output("HOST_LIST_OUTPUT", hosts, p, request, headers, lambda hl, h: element_xml(hl, "HOST", h))

    async def knowledge_base(self, request: Request) -> Response:
        denied, headers, p = await self._list_call(request)
        if denied:
            return denied
        known = knowledge_base() if self.data.kb_entries else {}
        ids = [i.strip() for i in p.get("ids", "").split(",") if i.strip()] or sorted(known)
        root, resp = _output("KNOWLEDGE_BASE_VULN_LIST_OUTPUT")
        vl = _sub(resp, "VULN_LIST")
        vl.extend(copy.deepcopy(known[qid]) for qid in ids if qid in known)
        return xml_response(root, headers=headers)

    # -- control ------------------------------------------------------------------------------

    def streams(self) -> dict[str, Stream]:
        d = self.data
        return {"detections": Stream(d.detections, d.malformed["detections"],
                                     lambda malformed=False: {"id": detection_key(d.add_detection(malformed))},
                                     partial(d.touch, "detections")),
                "hosts": Stream(d.hosts, d.malformed["hosts"], d.add_host, partial(d.touch, "hosts"), id_field="ID")}

    def routes(self) -> list[Route]:
        return [
            Route("/msp/about.php", self.about, methods=["GET"]),
            Route("/api/2.0/fo/asset/host/vm/detection/", self.detections, methods=["GET", "POST"]),
            Route("/api/2.0/fo/asset/host/", self.host_list, methods=["GET", "POST"]),
            Route("/api/2.0/fo/knowledge_base/vuln/", self.knowledge_base, methods=["GET", "POST"]),
        ]


def create_app(**options: Any) -> Starlette:
    """Options: seed, records (both streams), detections, hosts, malformed, per_timestamp, username,
    password, rate_limit (calls per window, default 300), rate_window_seconds (default 3600); replay
    ({stream: records as ``corpus_records`` makes them}: exactly those records, nothing seeded)."""
    return QualysSimulator(**options).app()


__all__ = ["create_app"]
