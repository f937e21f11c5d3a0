"""Catalog search and list latency at a fixed request rate, driven by wrk.

    uv run --frozen python bench/catalog/run.py [--rate 500] [--seconds 20] [--workers 2]

Creates a fresh database (10,000 synthetic catalog entries, 100,000 reviews), serves the catalog
with `aria-catalog serve` (uvicorn, real processes, ARIA_HTTP_WORKERS=--workers), and drives it
with wrk (C, little CPU) through pace.lua, which sends on a fixed schedule of --rate requests per
second over 64 keep-alive connections (Debian's wrk has no -R of its own). Scenarios:
- list / search: 200 different requests each, cycled (a marketplace's popular pages; after the
  warm-up they are answered from the response cache until the catalog changes);
- list, cold / search, cold: every request a query not asked before (the SQL path, no cache hit).
Prints achieved throughput, p50 / p90 / p99 / max latency (from each send), the sends that
left late because every connection was busy (0 = the schedule held: no coordinated omission), and
the server's CPU time per request (all its processes; less sensitive than latency to other work on
the machine, though contention inflates it too) and that of the Postgres backends serving the
benchmark's database.
Needs wrk (`apt-get install -y wrk`) and the infrastructure (ARIA_* endpoints, or .local/infra.env).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import re
import shutil
import socket
import subprocess
import tempfile
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode

import asyncpg
import uvloop

from aria_catalog.main import MIGRATIONS
from aria_platform.auth import mint_token
from aria_platform.db import migrate

REPO = Path(__file__).resolve().parents[2]
ENTRIES, REVIEWS, CONNECTIONS = 10_000, 100_000, 64
HERE = Path(__file__).resolve().parent
CATEGORIES = ["edr", "siem", "soar", "vulnerability_management", "identity", "cloud_security",
              "threat_intelligence", "email_security", "network_security", "itsm", "custom"]
CAPABILITIES = ["sync", "incremental", "test_connection", "health_check", "webhook", "push_actions"]
DATA_TYPES = ["risk", "asset", "vulnerability", "indicator", "alert", "ticket"]
AUTH = ["api_key", "basic", "oauth2_client_credentials", "bearer"]
PRICING = ["free", "freemium", "paid", "vendor_license", "contact_sales"]
SYLLABLES = ["cro", "wd", "str", "ike", "fal", "con", "sen", "tin", "el", "ten", "able", "qua", "lys", "spl", "unk",
             "dar", "kt", "ra", "ce", "zen", "desk", "jir", "lin", "ear", "okt", "sec", "ops", "log", "net", "vau"]


def _word(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3))).capitalize()


def _env() -> dict[str, str]:
    env = dict(os.environ)
    if not env.get("ARIA_TEST_DATABASE_ADMIN_URL"):
        for line in (REPO / ".local/infra.env").read_text().splitlines():
            if line.startswith("export "):
                name, _, value = line[7:].partition("=")
                env.setdefault(name, value.strip("'\""))
    return env


async def build_database(admin_url: str) -> tuple[str, list[str]]:
    name = f"bench_catalog_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    url = admin_url.rsplit("/", 1)[0] + "/" + name
    await migrate(url, MIGRATIONS)
    rng = random.Random(4)
    vendors = [_word(rng) for _ in range(800)]
    entries, keys = [], []
    for i in range(ENTRIES):
        vendor, product = rng.choice(vendors), _word(rng)
        key = f"bench_{i:05d}"
        keys.append(key)
        entries.append((
            key, f"{vendor} {product}", vendor, product, rng.choice(CATEGORIES),
            f"{vendor} {product} connector: pulls {' and '.join(rng.sample(DATA_TYPES, 2))} records from "
            f"{_word(rng)} {_word(rng)}.", "1.0.0", rng.choice(PRICING), rng.random() < 0.6, rng.random() < 0.3,
            rng.random() < 0.1, rng.random() < 0.02, sorted(rng.sample(CAPABILITIES, rng.randint(1, 4))),
            sorted(rng.sample(DATA_TYPES, rng.randint(1, 3))), sorted(rng.sample(AUTH, rng.randint(1, 2))),
            uuid.uuid4().hex, rng.randint(0, 5000)))
    reviews = [(uuid.uuid4(), rng.choice(keys), uuid.uuid4(), f"user-{i}", rng.randint(1, 5), "Synthetic review",
                "Text " * rng.randint(1, 40), rng.randint(0, 30), rng.randint(0, 5)) for i in range(REVIEWS)]
    conn = await asyncpg.connect(url)
    try:
        await conn.copy_records_to_table("integration_catalog", records=entries, columns=[
            "key", "name", "vendor", "product", "category", "description", "version", "pricing_model", "is_official",
            "is_community", "is_beta", "is_deprecated", "capabilities", "data_types", "auth_methods", "entry_hash",
            "install_count"])
        await conn.copy_records_to_table("integration_reviews", records=reviews, columns=[
            "id", "integration_key", "org_id", "user_id", "rating", "title", "body", "helpful_count",
            "not_helpful_count"])
        # The aggregate the review writes keep, computed once for the bulk load.
        await conn.execute(
            """UPDATE integration_catalog c SET average_rating = s.average, review_count = s.n
                 FROM (SELECT integration_key, round(avg(rating), 2) AS average, count(*) AS n
                         FROM integration_reviews GROUP BY integration_key) s
                WHERE c.key = s.integration_key""")
        await conn.execute("REFRESH MATERIALIZED VIEW catalog_vocabulary")
        await conn.execute("VACUUM ANALYZE")  # the steady state autovacuum reaches after a bulk load
    finally:
        await conn.close()
    return url, vendors


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def wait_ready(port: int, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("aria-catalog serve exited during start")
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: bench\r\n\r\n")
            await writer.drain()
            ok = (await reader.readline()).startswith(b"HTTP/1.1 200")
            writer.close()
            if ok:
                return
        except OSError:
            pass
        await asyncio.sleep(0.2)
    raise RuntimeError("aria-catalog serve did not become ready")


def wrk(port: int, paths: list[str], token: str, *, rate: int, seconds: float, work: Path) -> dict[str, float]:
    """`rate` requests per second for `seconds` through pace.lua (fixed schedule), cycling through `paths`."""
    path_file = work / "paths.txt"
    path_file.write_text("\n".join(paths) + "\n")
    env = {**os.environ, "BENCH_PATHS": str(path_file), "BENCH_RATE": str(rate), "WRK_THREADS": "1",
           "BENCH_AUTHORIZATION": f"Bearer {token}"}
    result = subprocess.run(["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds:.0f}s", "--timeout", "10s",
                             "-s", str(HERE / "pace.lua"), f"http://127.0.0.1:{port}"],
                            env=env, capture_output=True, text=True)
    if result.returncode:
        raise RuntimeError(f"wrk failed: {result.stderr or result.stdout}")
    figures = {k: float(v) for k, v in re.findall(r"^([A-Z0-9_.]+) (\d+)$", result.stdout, re.M)}
    figures["rps"] = figures["REQUESTS"] / (figures["DURATION_US"] / 1e6)
    return figures


def _cpu_s(wanted) -> float:
    """CPU seconds (user + system) of the processes for which wanted(pid, ppid, cmdline) holds."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:  # fields after the command name: state, ppid, ..., utime (12th), stime (13th)
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        if wanted(int(entry), int(fields[1]), cmdline):
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def server_cpu_s(pid: int) -> float:
    """The server process and its children (the uvicorn workers)."""
    return _cpu_s(lambda p, ppid, _: pid in (p, ppid))


def postgres_cpu_s(database: str) -> float:
    """The Postgres backends serving `database` (their process title names it; same machine only).
    A backend that exits during a run takes its CPU with it: the catalog's pools keep theirs."""
    name = f" {database} ".encode()
    return _cpu_s(lambda _, __, cmdline: cmdline.startswith(b"postgres: ") and name in cmdline)


def scenarios(vendors: list[str], cold_requests: int) -> dict[str, list[str]]:
    rng = random.Random(9)

    def list_params() -> dict:
        params = {"limit": 20, "sort": rng.choice(["name", "rating", "installs", "updated"])}
        if rng.random() < 0.5:
            params["category"] = rng.choice(CATEGORIES)
        if rng.random() < 0.2:
            params["capability"] = rng.choice(CAPABILITIES)
        return params

    def search_params() -> dict:
        word = rng.choice(vendors).lower()
        if rng.random() < 0.3:  # a typo: drop one letter
            cut = rng.randrange(1, len(word))
            word = word[:cut - 1] + word[cut:]
        params = {"q": word, "limit": 20}
        if rng.random() < 0.3:
            params["category"] = rng.choice(CATEGORIES)
        return params

    def distinct(make, count: int) -> list[str]:
        """`count` requests, none repeated: page size and pricing vary where the filters run out of combinations."""
        seen: dict[str, None] = {}
        while len(seen) < count:
            params = {**make(), "limit": rng.randint(10, 100)}
            if rng.random() < 0.5:
                params["pricing_model"] = rng.choice(PRICING)
            seen["/v1/integrations?" + urlencode(params)] = None
        return list(seen)

    return {"list": ["/v1/integrations?" + urlencode(list_params()) for _ in range(200)],
            "search": ["/v1/integrations?" + urlencode(search_params()) for _ in range(200)],
            "list, cold": distinct(list_params, cold_requests),
            "search, cold": distinct(search_params, cold_requests)}


async def main(rate: int, seconds: float, workers: int) -> None:
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install -y wrk")
    env = _env()
    t0 = time.monotonic()
    database, vendors = await build_database(env["ARIA_TEST_DATABASE_ADMIN_URL"])
    database_name = database.rsplit("/", 1)[1]
    print(f"database: {ENTRIES:,} entries, {REVIEWS:,} reviews loaded in {time.monotonic() - t0:.1f} s")
    port = free_port()
    server_env = {**env, "ARIA_DATABASE_URL": database, "ARIA_HTTP_PORT": str(port), "ARIA_LOG_LEVEL": "WARNING",
                  "ARIA_REGISTRY_SYNC_ON_START": "false", "ARIA_HTTP_WORKERS": str(workers),
                  "ARIA_KAFKA_GROUP_PREFIX": env.get("ARIA_KAFKA_GROUP_PREFIX", "") + "bench-"}
    server = subprocess.Popen([sys.executable, "-c", "from aria_catalog.main import cli; cli()", "serve"],
                              env=server_env, stdout=subprocess.DEVNULL)
    work = Path(tempfile.mkdtemp(prefix="bench-catalog-"))
    try:
        await wait_ready(port, server)
        token = mint_token(env["ARIA_JWT_SECRET"], subject="bench-user", org_id=uuid.uuid4(), role="viewer",
                           ttl_s=3600)
        print(f"catalog benchmark ({time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} CPUs, load average "
              f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}): aria-catalog serve, {workers} worker(s); wrk "
              f"{CONNECTIONS} keep-alive connections, fixed rate {rate} req/s for {seconds:.0f} s per scenario")
        row = "{:<13} {:>8} {:>8} {:>8} {:>8} {:>8} {:>9} {:>8} {:>11} {:>15} {:>13}"
        print(row.format("", "requests", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "non-2xx", "late sends",
                         "server CPU/req", "Postgres/req"))
        for name, paths in scenarios(vendors, int(rate * seconds * 1.2)).items():
            if not name.endswith("cold"):  # every path ~5 times: each worker's cache holds it
                wrk(port, paths, token, rate=min(rate, 200), seconds=5, work=work)
            cpu_before, pg_before = server_cpu_s(server.pid), postgres_cpu_s(database_name)
            r = wrk(port, paths, token, rate=rate, seconds=seconds, work=work)
            cpu_ms = (server_cpu_s(server.pid) - cpu_before) * 1000 / r["REQUESTS"]
            pg_ms = (postgres_cpu_s(database_name) - pg_before) * 1000 / r["REQUESTS"]
            print(row.format(name, int(r["REQUESTS"]), f"{r['rps']:.0f}",
                             *(f"{r[f'LATENCY_P{p}_US'] / 1000:.1f}" for p in (50, 90, 99)),
                             f"{r['LATENCY_MAX_US'] / 1000:.1f}", int(r["NON_2XX"] + r["SOCKET_ERRORS"]),
                             f"{int(r['LATE_SENDS'])} (max {r['LATE_MAX_US'] / 1000:.0f} ms)", f"{cpu_ms:.2f} ms", f"{pg_ms:.2f} ms"))
        print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; target: p99 < 25 ms at "
              f"500 req/s")
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(work, ignore_errors=True)
        conn = await asyncpg.connect(env["ARIA_TEST_DATABASE_ADMIN_URL"])
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{database_name}" WITH (FORCE)')
        finally:
            await conn.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=500, help="requests per second (default 500)")
    parser.add_argument("--seconds", type=float, default=20, help="seconds per scenario (default 20)")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes (default 2)")
    args = parser.parse_args()
    uvloop.run(main(args.rate, args.seconds, args.workers))
