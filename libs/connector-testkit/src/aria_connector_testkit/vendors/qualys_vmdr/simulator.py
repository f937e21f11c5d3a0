"""Simulator of the Qualys VMDR XML APIs the connector uses.

Faithful to the Qualys VM/PC API user guide:

* Host List Detection - https://docs.qualys.com/en/vm/api/assets/host_lists/host_detection.htm
  and https://discussions.qualys.com/docs/DOC-2102 (pagination logic):
  ``GET|POST /api/2.0/fo/asset/host/vm/detection/?action=list`` -> ``HOST_LIST_VM_DETECTION_OUTPUT/
  RESPONSE/{DATETIME, HOST_LIST/HOST/{ID, IP, TRACKING_METHOD, OS, DNS, DNS_DATA{HOSTNAME,
  DOMAIN, FQDN}, NETBIOS, LAST_SCAN_DATETIME, LAST_VM_SCANNED_DATE, LAST_VM_SCANNED_DURATION,
  DETECTION_LIST/DETECTION/{UNIQUE_VULN_ID, QID, TYPE (Confirmed|Potential|Info), SEVERITY
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
  ``truncation_limit`` default 1000, ``vm_scan_since``, ``details`` Basic|All|None).
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

Injected faults (``/_sim/faults``) answer 429/5xx with ``Retry-After`` as the control
protocol requires. Text is served escaped instead of in CDATA sections (equivalent XML).
Demo credentials: ``demo_user`` / ``demo-password``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone
from functools import partial
from typing import Any, Callable
from urllib.parse import parse_qs, urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from aria_connector_testkit.simulators.base import SeededData, Simulator, Stream, basic_credentials, record_counts, seed_records

DEMO_USERNAME = "demo_user"
DEMO_PASSWORD = "demo-password"
T0 = datetime(2024, 5, 1, tzinfo=timezone.utc)
KB = {
    "38170": ("SSL Certificate - Subject Common Name Does Not Match Server FQDN", 2, "Confirmed", "General remote services", [], 5.8, 6.5),
    "38794": ("Secure Sockets Layer/Transport Layer Security (SSL/TLS) Protocol Detected", 3, "Confirmed", "General remote services", [], 5.0, 7.5),
    "91345": ("Microsoft Windows Security Update for May 2024", 4, "Confirmed", "Windows", ["CVE-2024-30051", "CVE-2024-30040"], 7.2, 8.8),
    "376187": ("Apache Log4j Remote Code Execution (RCE) Vulnerability (Log4Shell)", 5, "Confirmed", "Local", ["CVE-2021-44228", "CVE-2021-45046"], 9.3, 10.0),
    "105489": ("OpenSSH Terrapin Attack Vulnerability", 3, "Potential", "General remote services", ["CVE-2023-48795"], 5.4, 5.9),
    "45017": ("Operating System Detected", 1, "Info", "Information gathering", [], None, None),
    "150004": ("Path-Based Vulnerability", 2, "Potential", "Web Application", [], 4.3, 5.3),
}
OSES = ["Windows Server 2019 Standard 64 bit Edition Version 1809", "Windows 10 Enterprise 64 bit Edition Version 22H2",
        "Ubuntu Linux 22.04", "Red Hat Enterprise Linux 8.9", "Cisco IOS 15.2"]
STATUSES = ["New", "Active", "Active", "Re-Opened", "Fixed"]


def qdt(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_qdt(value: str) -> datetime:
    value = value.strip()
    if len(value) == 10:
        value += "T00:00:00Z"
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


class QualysData(SeededData):
    def __init__(self, seed: int, detections: int, hosts: int, malformed: int = 0, per_timestamp: int = 2) -> None:
        super().__init__(seed, per_timestamp)
        self.hosts: dict[int, dict[str, Any]] = {}
        self.detections: dict[str, dict[str, Any]] = {}  # UNIQUE_VULN_ID -> detection (with "_host")
        self.next_vuln_id = 1_000_000 + seed * 1000
        for _ in range(max(hosts, 1) if detections else hosts):
            self.add_host()
        seed_records(self.add_detection, detections, malformed)

    def add_host(self, malformed: bool = False) -> dict[str, Any]:
        rng = self.rng
        n = len(self.hosts)
        host_id = 1_000_000 + n * 7 + rng.randrange(0, 7)
        scanned = self.minute(T0, "hosts")
        name = f"{rng.choice(['web', 'db', 'app', 'wks', 'dc'])}{n:04d}"
        host = {
            "ID": host_id, "ASSET_ID": 9_000_000 + n, "IP": f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}",
            "TRACKING_METHOD": rng.choice(["IP", "DNS", "QAGENT"]), "NETWORK_ID": "0", "OS": rng.choice(OSES),
            "DNS": f"{name}.corp.example.com", "HOSTNAME": name, "DOMAIN": "corp.example.com",
            "NETBIOS": name.upper(), "LAST_VM_SCANNED_DATE": qdt(scanned), "LAST_VULN_SCAN_DATETIME": qdt(scanned),
            "LAST_VM_SCANNED_DURATION": str(rng.randrange(60, 3600)), "LAST_VM_AUTH_SCANNED_DATE": qdt(scanned),
            "TRURISK_SCORE": str(rng.randrange(0, 1000)), "ASSET_CRITICALITY_SCORE": str(rng.randrange(1, 6)),
            "processed": T0 - timedelta(days=1),
        }
        if malformed:
            host["DNS"] = None  # no DNS name: the asset has no name, fails mapping
            self.malformed["hosts"] += 1
        self.hosts[host_id] = host
        return host

    def add_detection(self, malformed: bool = False) -> dict[str, Any]:
        rng = self.rng
        if not self.hosts:
            self.add_host()
        host = list(self.hosts.values())[len(self.detections) % len(self.hosts)]
        qid = rng.choice(sorted(KB))
        title, severity, vtype, _cat, _cves, _cvss, _cvss3 = KB[qid]
        processed = self.minute(T0, "detections")
        first = processed - timedelta(days=rng.randrange(1, 200))
        self.next_vuln_id += 1
        status = rng.choice(STATUSES)
        d = {
            "UNIQUE_VULN_ID": str(self.next_vuln_id), "QID": qid, "TYPE": vtype, "SEVERITY": str(severity),
            "PORT": str(rng.choice([22, 443, 445, 3389, 8080])), "PROTOCOL": "tcp", "SSL": rng.choice(["0", "1"]),
            "STATUS": status, "FIRST_FOUND_DATETIME": qdt(first), "LAST_FOUND_DATETIME": qdt(processed),
            "TIMES_FOUND": str(rng.randrange(1, 40)), "LAST_TEST_DATETIME": qdt(processed),
            "LAST_UPDATE_DATETIME": qdt(processed), "IS_IGNORED": "0", "IS_DISABLED": "0",
            "LAST_PROCESSED_DATETIME": qdt(processed), "QDS": (str(rng.randrange(1, 101)), rng.choice(["LOW", "MEDIUM", "HIGH", "CRITICAL"])),
            "_host": host["ID"],
        }
        if status == "Fixed":
            d["LAST_FIXED_DATETIME"] = qdt(processed)
        if malformed:
            d["SEVERITY"] = "9"  # not a Qualys severity (1-5): fails mapping
            self.malformed["detections"] += 1
        host["processed"] = max(host["processed"], processed)
        self.detections[d["UNIQUE_VULN_ID"]] = d
        return d

    def touch(self, stream: str, count: int) -> list[str]:
        if stream == "hosts":
            oldest = sorted(self.hosts.values(), key=lambda h: (h["LAST_VM_SCANNED_DATE"], h["ID"]))[:count]
            for h in oldest:
                h["LAST_VM_SCANNED_DATE"] = h["LAST_VULN_SCAN_DATETIME"] = qdt(self.minute(T0, "hosts"))
            return [str(h["ID"]) for h in oldest]
        oldest = sorted(self.detections.values(), key=lambda d: (d["LAST_PROCESSED_DATETIME"], d["UNIQUE_VULN_ID"]))[:count]
        for d in oldest:
            now = self.minute(T0, "detections")
            d["LAST_PROCESSED_DATETIME"] = d["LAST_UPDATE_DATETIME"] = d["LAST_TEST_DATETIME"] = qdt(now)
            if d["STATUS"] == "Fixed":
                d["STATUS"] = "Re-Opened"
                d.pop("LAST_FIXED_DATETIME", None)
            else:
                d["STATUS"], d["LAST_FIXED_DATETIME"] = "Fixed", qdt(now)
            host = self.hosts[d["_host"]]
            host["processed"] = max(host["processed"], now)
        return [d["UNIQUE_VULN_ID"] for d in oldest]


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
                 **_ignored: Any) -> None:
        self.options = dict(seed=seed, **record_counts(records, detections=detections, hosts=hosts), malformed=malformed,
                            per_timestamp=per_timestamp)
        self.username, self.password = username, password
        super().__init__(rate_limit=rate_limit, rate_window_seconds=rate_window_seconds)

    def reset(self) -> None:
        self.data = QualysData(**self.options)

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
        hosts = sorted((h for h in hosts if id_min is None or h["ID"] >= id_min), key=lambda h: h["ID"])
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

    def _host_xml(self, parent: ET.Element, h: dict[str, Any], details: str = "All") -> ET.Element:
        host = _sub(parent, "HOST")
        _sub(host, "ID", h["ID"])
        if details != "None":
            _sub(host, "ASSET_ID", h["ASSET_ID"])
            _sub(host, "IP", h["IP"])
            _sub(host, "TRACKING_METHOD", h["TRACKING_METHOD"])
            _sub(host, "NETWORK_ID", h["NETWORK_ID"])
            if h["DNS"]:
                _sub(host, "DNS", h["DNS"])
                dns = _sub(host, "DNS_DATA")
                _sub(dns, "HOSTNAME", h["HOSTNAME"])
                _sub(dns, "DOMAIN", h["DOMAIN"])
                _sub(dns, "FQDN", h["DNS"])
            _sub(host, "NETBIOS", h["NETBIOS"])
            _sub(host, "OS", h["OS"])
        if details == "All":
            for f in ("LAST_VULN_SCAN_DATETIME", "LAST_VM_SCANNED_DATE", "LAST_VM_SCANNED_DURATION",
                      "LAST_VM_AUTH_SCANNED_DATE", "TRURISK_SCORE", "ASSET_CRITICALITY_SCORE"):
                _sub(host, f, h[f])
        return host

    async def detections(self, request: Request) -> Response:
        denied, headers, p = await self._list_call(request)
        if denied:
            return denied
        statuses = {s.strip() for s in p.get("status", "New,Active,Re-Opened").split(",")}
        try:
            after = parse_qdt(p["vm_processed_after"]) if p.get("vm_processed_after") else None
        except ValueError:
            return simple_return(1905, "parameter vm_processed_after has invalid value", 400, headers)
        by_host: dict[int, list[dict[str, Any]]] = {}
        for d in self.data.detections.values():
            if d["STATUS"] in statuses:
                by_host.setdefault(d["_host"], []).append(d)
        hosts = [self.data.hosts[i] for i in by_host if after is None or self.data.hosts[i]["processed"] > after]

        def write_host(hl: ET.Element, h: dict[str, Any]) -> None:
            host = self._host_xml(hl, h, "Basic")
            _sub(host, "LAST_SCAN_DATETIME", h["LAST_VM_SCANNED_DATE"])
            _sub(host, "LAST_VM_SCANNED_DATE", h["LAST_VM_SCANNED_DATE"])
            _sub(host, "LAST_VM_SCANNED_DURATION", h["LAST_VM_SCANNED_DURATION"])
            dl = _sub(host, "DETECTION_LIST")
            for d in sorted(by_host[h["ID"]], key=lambda d: int(d["QID"])):
                det = _sub(dl, "DETECTION")
                for k, v in d.items():
                    if k == "_host":
                        continue
                    if k == "QDS":
                        _sub(det, "QDS", v[0], severity=v[1])
                    else:
                        _sub(det, k, v)

        return self._hosts_output("HOST_LIST_VM_DETECTION_OUTPUT", hosts, p, request, headers, write_host)

    async def host_list(self, request: Request) -> Response:
        denied, headers, p = await self._list_call(request)
        if denied:
            return denied
        try:
            since = parse_qdt(p["vm_scan_since"]) if p.get("vm_scan_since") else None
        except ValueError:
            return simple_return(1905, "parameter vm_scan_since has invalid value", 400, headers)
        hosts = [h for h in self.data.hosts.values() if since is None or parse_qdt(h["LAST_VM_SCANNED_DATE"]) >= since]
        details = p.get("details", "Basic")
        return self._hosts_output("HOST_LIST_OUTPUT", hosts, p, request, headers,
                                  lambda hl, h: self._host_xml(hl, h, details))

    async def knowledge_base(self, request: Request) -> Response:
        denied, headers, p = await self._list_call(request)
        if denied:
            return denied
        ids = [i.strip() for i in p.get("ids", "").split(",") if i.strip()] or sorted(KB)
        root, resp = _output("KNOWLEDGE_BASE_VULN_LIST_OUTPUT")
        vl = _sub(resp, "VULN_LIST")
        for qid in ids:
            if qid not in KB:
                continue
            title, severity, vtype, category, cves, cvss, cvss3 = KB[qid]
            v = _sub(vl, "VULN")
            _sub(v, "QID", qid)
            _sub(v, "VULN_TYPE", {"Confirmed": "Vulnerability", "Potential": "Potential Vulnerability", "Info": "Information Gathered"}[vtype])
            _sub(v, "SEVERITY_LEVEL", severity)
            _sub(v, "TITLE", title)
            _sub(v, "CATEGORY", category)
            _sub(v, "LAST_SERVICE_MODIFICATION_DATETIME", "2024-04-02T10:00:00Z")
            _sub(v, "PUBLISHED_DATETIME", "2021-12-10T08:00:00Z")
            _sub(v, "PATCHABLE", "1" if cves else "0")
            if cves:
                cl = _sub(v, "CVE_LIST")
                for cve in cves:
                    c = _sub(cl, "CVE")
                    _sub(c, "ID", cve)
                    _sub(c, "URL", f"https://cve.mitre.org/cgi-bin/cvename.cgi?name={cve}")
            if cvss is not None:
                _sub(_sub(v, "CVSS"), "BASE", cvss, source="service")
                _sub(_sub(v, "CVSS_V3"), "BASE", cvss3)
            _sub(v, "PCI_FLAG", "1" if severity >= 3 else "0")
        return xml_response(root, headers=headers)

    # -- control ------------------------------------------------------------------------------

    def streams(self) -> dict[str, Stream]:
        d = self.data
        return {"detections": Stream(d.detections, d.malformed["detections"], d.add_detection,
                                     partial(d.touch, "detections"), id_field="UNIQUE_VULN_ID"),
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
    password, rate_limit (calls per window, default 300), rate_window_seconds (default 3600)."""
    return QualysSimulator(**options).app()


__all__ = ["create_app"]
