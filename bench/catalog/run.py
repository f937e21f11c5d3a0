"""Catalog search and list latency at a fixed request rate.

    uv run --frozen python bench/catalog/run.py [--rate 500] [--seconds 20]

Creates a fresh database (10,000 synthetic catalog entries, 100,000 reviews), serves the catalog
with `aria-catalog serve` (uvicorn, a real process), and drives it with an open-loop generator on
this machine: requests are scheduled at fixed intervals whatever the server does, and latency is
measured from each request's scheduled time, so queueing behind a slow server counts (no
coordinated omission). Prints p50 / p90 / p99 / max and the achieved throughput per scenario;
requests still unanswered 5 s after the last send are reported as unanswered (the run stays bounded).
Needs the local infrastructure (deploy/local/infra.sh up; .local/infra.env is read if the ARIA_*
variables are not exported).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import socket
import statistics
import subprocess
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
ENTRIES, REVIEWS, CONNECTIONS, DRAIN_S = 10_000, 100_000, 64, 5.0
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


async def build_database(admin_url: str) -> str:
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


class Connection:
    """One keep-alive HTTP/1.1 connection: send a GET, read the whole response."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader, self.writer = reader, writer

    async def get(self, request: bytes) -> int:
        self.writer.write(request)
        status = int((await self.reader.readline()).split(b" ", 2)[1])
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        await self.reader.readexactly(length)
        return status


async def open_loop(port: int, paths: list[str], token: str, rate: int, seconds: float) -> dict:
    """Send `rate` requests per second for `seconds`, cycling through `paths`."""
    pool: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(CONNECTIONS):
        pool.put_nowait(Connection(*await asyncio.open_connection("127.0.0.1", port)))
    requests = [(f"GET {p} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\n\r\n").encode()
                for p in paths]
    latencies: list[float] = []
    errors: dict[int, int] = {}
    loop = asyncio.get_running_loop()

    async def one(request: bytes, scheduled: float) -> None:
        conn = await pool.get()  # waiting for a free connection counts: latency runs from `scheduled`
        try:
            status = await conn.get(request)
        finally:
            pool.put_nowait(conn)
        latencies.append(loop.time() - scheduled)
        if status != 200:
            errors[status] = errors.get(status, 0) + 1

    total = int(rate * seconds)
    start = loop.time() + 0.05
    tasks = []
    for i in range(total):
        scheduled = start + i / rate
        delay = scheduled - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(requests[i % len(requests)], scheduled)))
    # Keep the run bounded when the server cannot keep up: what is unanswered DRAIN_S after the last
    # send is counted as lost and, for the percentiles, as answered at the cut-off (a lower bound).
    done, pending = await asyncio.wait(tasks, timeout=DRAIN_S)
    elapsed = loop.time() - start
    for task in pending:
        task.cancel()
    answered = len(latencies)
    latencies += [loop.time() - (start + i / rate) for i in range(total - len(pending), total)]
    for conn in list(pool._queue):  # noqa: SLF001 - closing the idle ones; busy ones die with their tasks
        conn.writer.close()
    q = statistics.quantiles(latencies, n=100, method="inclusive")
    return {"requests": total, "throughput": answered / elapsed, "p50": q[49] * 1000, "p90": q[89] * 1000,
            "p99": q[98] * 1000, "max": max(latencies) * 1000, "errors": errors, "lost": len(pending)}


def scenarios(vendors: list[str]) -> dict[str, list[str]]:
    rng = random.Random(9)
    lists = []
    for _ in range(200):
        params = {"limit": 20, "sort": rng.choice(["name", "rating", "installs", "updated"])}
        if rng.random() < 0.5:
            params["category"] = rng.choice(CATEGORIES)
        if rng.random() < 0.2:
            params["capability"] = rng.choice(CAPABILITIES)
        lists.append("/v1/integrations?" + urlencode(params))
    searches = []
    for _ in range(200):
        word = rng.choice(vendors).lower()
        if rng.random() < 0.3:  # a typo: drop one letter
            cut = rng.randrange(1, len(word))
            word = word[:cut - 1] + word[cut:]
        params = {"q": word, "limit": 20}
        if rng.random() < 0.3:
            params["category"] = rng.choice(CATEGORIES)
        searches.append("/v1/integrations?" + urlencode(params))
    return {"list": lists, "search": searches}


async def main(rate: int, seconds: float) -> None:
    env = _env()
    t0 = time.monotonic()
    database, vendors = await build_database(env["ARIA_TEST_DATABASE_ADMIN_URL"])
    print(f"database: {ENTRIES:,} entries, {REVIEWS:,} reviews loaded in {time.monotonic() - t0:.1f} s")
    port = free_port()
    server_env = {**env, "ARIA_DATABASE_URL": database, "ARIA_HTTP_PORT": str(port), "ARIA_LOG_LEVEL": "WARNING",
                  "ARIA_REGISTRY_SYNC_ON_START": "false",
                  "ARIA_KAFKA_GROUP_PREFIX": env.get("ARIA_KAFKA_GROUP_PREFIX", "") + "bench-"}
    server = subprocess.Popen([sys.executable, "-c", "from aria_catalog.main import cli; cli()", "serve"],
                              env=server_env, stdout=subprocess.DEVNULL)
    try:
        await wait_ready(port, server)
        token = mint_token(env["ARIA_JWT_SECRET"], subject="bench-user", org_id=uuid.uuid4(), role="viewer",
                           ttl_s=3600)
        print(f"server: aria-catalog serve (uvicorn, 1 process) pid {server.pid}; {os.cpu_count()} CPUs; "
              f"open loop at {rate} req/s for {seconds:.0f} s per scenario, {CONNECTIONS} keep-alive connections")
        for name, paths in scenarios(vendors).items():
            await open_loop(port, paths, token, rate=min(rate, 100), seconds=2)  # warm caches and plans
            r = await open_loop(port, paths, token, rate=rate, seconds=seconds)
            print(f"{name:7s} {r['requests']:6d} req  {r['throughput']:6.0f} req/s  p50 {r['p50']:6.1f} ms  "
                  f"p90 {r['p90']:6.1f} ms  p99 {r['p99']:6.1f} ms  max {r['max']:7.1f} ms  "
                  f"non-200 {r['errors'] or 0}  unanswered {r['lost']}")
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        conn = await asyncpg.connect(env["ARIA_TEST_DATABASE_ADMIN_URL"])
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{database.rsplit("/", 1)[1]}" WITH (FORCE)')
        finally:
            await conn.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=500, help="requests per second (default 500)")
    parser.add_argument("--seconds", type=float, default=20, help="seconds per scenario (default 20)")
    args = parser.parse_args()
    uvloop.run(main(args.rate, args.seconds))
