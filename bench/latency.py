"""Benchmark: where one call's time goes (docs/benchmarks.md, the latency budget).

`get_ticker_price` one call at a time over stdio with the SDK's client, against `serve` (paper
exchange in a process of its own) and against the do-nothing server on the same pipes, each
started through bench/traced.py, which times the stages of every call inside the server. In the
same run, direct aiohttp GETs to the same paper endpoint. Prints the median of each stage.

    .venv/bin/python bench/latency.py [--calls N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import tempfile
from pathlib import Path
from typing import Any

from stdio_calls import ROOT, http_runs, mcp_runs, start_paper

TRACED = str(ROOT / "bench" / "traced.py")

# (stage as bench/traced.py names it, what it is)
SERVE_STAGES = [
    ("line->parsed", "SDK: parse the JSON-RPC line (our pipe transport)"),
    ("parsed->ask", "SDK: dispatch to the handler; ours: session, envelope"),
    ("ask->validator", "received handed to the journal; to the validator"),
    ("validator->limiter", "validator: arguments, symbol, rules"),
    ("limiter->executor", "limiter: call budget, weight"),
    ("executor->http", "executor: build the request"),
    ("http->http_done", "HTTP request to the exchange (aiohttp)"),
    ("http_done->finish", "shape the answer; to the journal"),
    ("finish->durable", "journal: commit received + outcome, one transaction (fsync)"),
    ("durable->answer", "back to the handler"),
    ("answer->write", "SDK: build and serialize the result"),
    ("write->written", "write the line"),
]
NOOP_STAGES = [
    ("line->parsed", "SDK: parse the JSON-RPC line (our pipe transport)"),
    ("parsed->ask", "SDK: dispatch to the handler"),
    ("ask->answer", "the handler (returns a constant)"),
    ("answer->write", "SDK: build and serialize the result"),
    ("write->written", "write the line"),
]


def stages(path: Path) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(path.read_text())["stages"]
    return found


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=3000)
    n = parser.parse_args().calls
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    base_env = {key: v for key, v in os.environ.items() if not key.startswith(("BINANCE_", "MCP_"))}
    with tempfile.TemporaryDirectory() as tmp:
        noop_out, serve_out = Path(tmp) / "noop.json", Path(tmp) / "serve.json"
        # mcp_runs: n calls with k in flight, then n // 2 one at a time; here k = 1 for both.
        noop = (await mcp_runs("do-nothing", [TRACED, str(noop_out), "noop"], base_env, n * 2, 1, Path(tmp) / "a"))[1]
        async with start_paper(base_env) as (url, remote):
            env = {**base_env, **remote, "MCP_RATE_LIMIT_ENABLED": "false", "MCP_EVENT_LOG": f"{tmp}/l.sqlite3"}
            ours = (await mcp_runs("binance-mcp", [TRACED, str(serve_out), "serve"], env, n * 2, 1, Path(tmp) / "b"))[1]
            direct = (await http_runs(url, n * 2, 1))[1]
        served, idle = stages(serve_out), stages(noop_out)
    for run in (noop, ours, direct):
        print(run.line())
    print(f"\n{'stage (median, microseconds)':58s} {'binance-mcp':>12s} {'do-nothing':>11s}")
    for stage, what in SERVE_STAGES:
        mine = served.get(stage, {}).get("p50_us")
        theirs = idle.get(stage, {}).get("p50_us") if stage in dict(NOOP_STAGES) else None
        print(f"{what:58s} {_us(mine):>12s} {_us(theirs):>11s}")
    print(f"{'the handler (do-nothing: returns a constant)':58s} {'':>12s} {_us(idle['ask->answer']['p50_us']):>11s}")
    print(f"{'in the server, line in to line out':58s} {_us(served['total']['p50_us']):>12s} "
          f"{_us(idle['total']['p50_us']):>11s}")  # fmt: skip
    for run, inside in ((ours, served), (noop, idle)):
        outside = run.p50 * 1000 - inside["total"]["p50_us"]
        print(f"  {run.name}: client round trip p50 {run.p50 * 1000:.0f} us, of which outside the server "
              f"(pipes, the client's SDK) {outside:.0f} us")  # fmt: skip
    print(f"  direct GET p50 {direct.p50 * 1000:.0f} us")


def _us(value: float | None) -> str:
    return "" if value is None else f"{value:.0f}"


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
