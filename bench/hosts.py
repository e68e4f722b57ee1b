"""Benchmark: a second MCP host on the same event log. `get_ticker_price` through one `serve`
process with 16 calls in flight, against two `serve` processes on one log, each with 16 in
flight at the same time, in the same run, against one paper exchange in a process of its own.
Reported: the calls per second of each setup (the two: together), the p50 and p99 of a call,
and the ratio of two to one (aim >= 1.0: a second host costs the first nothing it would notice).
The rounds alternate (one, two, one, two, ...) so drift on the machine falls on both alike.

    .venv/bin/python bench/hosts.py [--calls N] [--in-flight K] [--rounds R]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import tempfile
from contextlib import AsyncExitStack
from pathlib import Path

from stdio_calls import ROOT, Run, drive, start_paper, ticker_caller


async def round_of(hosts: int, env: dict[str, str], log: Path, n: int, k: int, tmp: Path) -> Run:
    """`hosts` servers on `log`, each driven with `k` in flight for `n` calls at the same time."""
    serve = [str(ROOT / "server.py"), "serve"]
    async with AsyncExitStack() as stack:
        calls = [
            await stack.enter_async_context(
                ticker_caller(f"host {i}", serve, {**env, "MCP_EVENT_LOG": str(log)}, tmp / f"err{hosts}-{i}")
            )
            for i in range(hosts)
        ]
        await asyncio.gather(*(drive(call, max(200, n // 10), k) for call in calls))  # warm-up
        loop = asyncio.get_running_loop()
        started = loop.time()
        results = await asyncio.gather(*(drive(call, n, k) for call in calls))
        elapsed = loop.time() - started
    latencies = [latency for _, each in results for latency in each]
    name = "one serve" if hosts == 1 else f"{hosts} serve processes, one log"
    return Run(f"{name}, {k} in flight each", hosts * n / elapsed, latencies)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=3000, help="calls per host per round")
    parser.add_argument("--in-flight", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    n, k = args.calls, args.in_flight
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"{n} get_ticker_price calls per host with {k} in flight; {args.rounds} rounds of each, alternating")
    base_env = {key: v for key, v in os.environ.items() if not key.startswith(("BINANCE_", "MCP_"))}
    env = {**base_env, "MCP_RATE_LIMIT_ENABLED": "false", "MCP_LOG_SECURITY": "false"}
    ones: list[Run] = []
    twos: list[Run] = []
    with tempfile.TemporaryDirectory() as tmp:
        async with start_paper(base_env) as (_url, remote):
            for r in range(args.rounds):
                ones.append(await round_of(1, {**env, **remote}, Path(tmp) / f"one{r}.sqlite3", n, k, Path(tmp)))
                twos.append(await round_of(2, {**env, **remote}, Path(tmp) / f"two{r}.sqlite3", n, k, Path(tmp)))
    for one, two in zip(ones, twos, strict=True):
        print(one.line())
        print(two.line(one.rate))
    ratio = sum(t.rate for t in twos) / sum(o.rate for o in ones)
    print(f"two hosts on one log against one, calls/s together: {ratio:.2f} (aim >= 1.0)")
    print(
        f"p99: one {max(o.p99 for o in ones):.2f} ms, two {max(t.p99 for t in twos):.2f} ms (the worst round of each)"
    )


if __name__ == "__main__":
    asyncio.run(main())
