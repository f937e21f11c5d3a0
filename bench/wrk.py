"""What the wrk-driven benchmarks share: a file of prepared requests, a wrk run over it through
bench/replay.lua, and the CPU a service process used (what a request costs the service itself,
whatever else the machine is doing)."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterable
from pathlib import Path

REPLAY = Path(__file__).resolve().parent / "replay.lua"


def request_file(path: Path, requests: Iterable[tuple[str, str, dict[str, str], str]]) -> Path:
    """(method, path, headers, body) per request, in replay.lua's format."""
    with path.open("w") as out:
        for method, url_path, headers, body in requests:
            header_text = "\x1f".join(f"{name}: {value}" for name, value in headers.items())
            out.write(f"{method}\t{url_path}\t{header_text}\t{body}\n")
    return path


def run(url: str, requests: Path, *, seconds: int, connections: int, threads: int = 1) -> dict[str, float]:
    """One closed-loop wrk run; replay.lua's figures (REQUESTS, LATENCY_P99_US, REPEATS...) plus rps."""
    env = {**os.environ, "BENCH_REQUESTS": str(requests), "WRK_THREADS": str(threads)}
    result = subprocess.run(["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
                             "-s", str(REPLAY), url], env=env, capture_output=True, text=True, check=True)
    figures = {k: float(v) for k, v in re.findall(r"^([A-Z0-9_.]+) (\d+)$", result.stdout, re.M)}
    figures["rps"] = figures["REQUESTS"] / (figures["DURATION_US"] / 1e6)
    return figures


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) used so far by a process and its descendants (uvicorn's workers)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except FileNotFoundError:
        return 0.0
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime
    return own + sum(cpu_seconds(int(child)) for child in children)
