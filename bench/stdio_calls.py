"""Benchmark (b): `get_ticker_price` calls per second through `binance-mcp serve` over stdio,
16 calls in flight, driven by the SDK's own client; in the same run, the same measurement of
a do-nothing server on the same SDK (bench/noop_server.py, over the SDK's `stdio_server()` and
over our pipe transport), and direct aiohttp GETs to the same paper endpoint.

The server runs on the embedded paper exchange with the MCP call budget off and a paper weight
limit high enough not to throttle: what is measured is the pipeline, the journal (every call is
two durable events) and the transport.

    .venv/bin/python bench/stdio_calls.py [--calls N] [--in-flight K]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import re
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp
from mcp import ClientSession, StdioServerParameters, stdio_client

ROOT = Path(__file__).resolve().parents[1]
ARGS = {"symbol": "BTCUSDT"}


class Run:
    def __init__(self, name: str, rate: float, latencies: list[float]):
        self.name, self.rate = name, rate
        ordered = sorted(latencies)
        self.p50 = statistics.median(ordered) * 1000
        self.p99 = ordered[int(len(ordered) * 0.99) - 1] * 1000

    def line(self, baseline: float | None = None) -> str:
        ratio = f"   ratio {self.rate / baseline:.2f}" if baseline else ""
        return f"{self.name:42s} {self.rate:8.0f} calls/s   p50 {self.p50:6.2f} ms   p99 {self.p99:6.2f} ms{ratio}"


async def drive(call: object, n: int, in_flight: int) -> tuple[float, list[float]]:
    """`n` calls with `in_flight` at a time; returns (calls per second, latencies)."""
    assert callable(call)
    latencies: list[float] = []
    remaining = iter(range(n))

    async def worker() -> None:
        for _ in remaining:
            started = time.perf_counter()
            await call()
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(in_flight)))
    return n / (time.perf_counter() - started), latencies


@contextlib.asynccontextmanager
async def ticker_caller(
    name: str, args: list[str], env: dict[str, str], errlog: Path
) -> AsyncIterator[Callable[[], Awaitable[None]]]:
    """An MCP server started over stdio with the SDK's client: yields one get_ticker_price call,
    which raises on an error result (a benchmark of throttled answers measures nothing)."""
    params = StdioServerParameters(command=sys.executable, args=args, env=env, cwd=str(ROOT))
    with errlog.open("w") as err:
        async with stdio_client(params, errlog=err) as (read, write), ClientSession(read, write) as session:
            await session.initialize()

            async def call() -> None:
                result = await session.call_tool("get_ticker_price", ARGS)
                if result.is_error:
                    raise RuntimeError(f"{name}: {result.structured_content}")

            yield call


async def measured(name: str, call: Callable[[], Awaitable[None]], n: int, k: int) -> list[Run]:
    """`call` after a warm-up (caches, connections, first symbol history), `n` times with `k` in
    flight and then `n / 2` times one at a time."""
    await drive(call, max(200, n // 10), k)
    rate, latencies = await drive(call, n, k)
    one_rate, one_latencies = await drive(call, n // 2, 1)
    return [Run(f"{name}, {k} in flight", rate, latencies), Run(f"{name}, 1 at a time", one_rate, one_latencies)]


async def mcp_runs(name: str, args: list[str], env: dict[str, str], n: int, k: int, errlog: Path) -> list[Run]:
    """One server, measured with `k` calls in flight and then one at a time (n / 2 calls)."""
    async with ticker_caller(name, args, env, errlog) as call:
        return await measured(name, call, n, k)


async def http_runs(base_url: str, n: int, k: int) -> list[Run]:
    async with aiohttp.ClientSession() as http:
        url = f"{base_url}/api/v3/ticker/price"

        async def call() -> None:
            async with http.get(url, params=ARGS) as response:
                await response.read()
                if response.status != 200:
                    raise RuntimeError(f"HTTP {response.status}")

        return await measured("direct aiohttp GET (no MCP, no log)", call, n, k)


@contextlib.asynccontextmanager
async def start_paper(base_env: dict[str, str], *flags: str) -> AsyncIterator[tuple[str, dict[str, str]]]:
    """`binance-mcp paper` in a process of its own (more `flags` for it): yields its URL and the
    environment that points `serve` at it (paper venue, its base URL and key pair)."""
    key, secret = "BenchKey" + "7" * 56, "BenchSecret" + "3" * 53
    paper = await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "server.py"), "paper", "--weight-limit", "1000000000", *flags,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL, cwd=str(ROOT),
        env={**base_env, "BINANCE_API_KEY": key, "BINANCE_API_SECRET": secret},
    )  # fmt: skip
    try:
        assert paper.stdout is not None
        first = (await paper.stdout.readline()).decode()
        match = re.search(r"https?://\S+", first)
        assert match, first
        url = match.group(0).rstrip("/")
        yield (
            url,
            {
                "BINANCE_VENUE": "paper",
                "BINANCE_BASE_URL": url,
                "BINANCE_API_KEY": key,
                "BINANCE_API_SECRET": secret,
            },
        )
    finally:
        paper.terminate()
        await paper.wait()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--in-flight", type=int, default=16)
    parser.add_argument("--embedded", action="store_true", help="also binance-mcp on its embedded paper exchange")
    args = parser.parse_args()
    n, k = args.calls, args.in_flight
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"{n} calls with {k} in flight, then {n // 2} one at a time; SDK client over stdio")
    base_env = {key: v for key, v in os.environ.items() if not key.startswith(("BINANCE_", "MCP_"))}
    runs: list[Run] = []
    with tempfile.TemporaryDirectory() as tmp:
        noop = str(ROOT / "bench" / "noop_server.py")
        noop_sdk = await mcp_runs(
            "do-nothing server, SDK stdio_server()", [noop, "--transport", "sdk"], base_env, n, k, Path(tmp) / "a"
        )
        noop_pipes = await mcp_runs(
            "do-nothing server, asyncio pipes", [noop, "--transport", "pipes"], base_env, n, k, Path(tmp) / "b"
        )
        runs += noop_sdk + noop_pipes
        env = {**base_env, "MCP_RATE_LIMIT_ENABLED": "false"}
        serve = [str(ROOT / "server.py"), "serve", "--paper-weight-limit", "1000000000"]
        if args.embedded:
            log = {"MCP_EVENT_LOG": str(Path(tmp) / "embedded.sqlite3")}
            runs += await mcp_runs("binance-mcp, embedded paper", serve, {**env, **log}, n, k, Path(tmp) / "c")
        # A paper exchange in a process of its own, as a real exchange is elsewhere: both
        # binance-mcp and the direct GETs go to it.
        async with start_paper(base_env) as (url, remote):
            log = {"MCP_EVENT_LOG": str(Path(tmp) / "remote.sqlite3")}
            ours = await mcp_runs("binance-mcp", serve[:2], {**env, **remote, **log}, n, k, Path(tmp) / "d")
            direct = await http_runs(url, n, k)
        runs += ours + direct
    for run in runs:
        print(run.line())
    (ours_k, ours_1), (noop_k, noop_1), direct_1 = ours, noop_pipes, direct[1]
    ratio = ours_k.rate / noop_k.rate
    print(f"binance-mcp with {k} in flight: {ratio:.2f} of the do-nothing server on pipes (aim >= 0.5)")
    budget = noop_1.p50 + direct_1.p50 + 0.3
    print(
        f"binance-mcp one at a time: p50 {ours_1.p50:.2f} ms; do-nothing p50 {noop_1.p50:.2f} + direct GET p50 "
        f"{direct_1.p50:.2f} + 0.3 = {budget:.2f} ms (aim: p50 <= that); ours over do-nothing + GET: "
        f"{(ours_1.p50 - noop_1.p50 - direct_1.p50) * 1000:.0f} us"
    )


if __name__ == "__main__":
    asyncio.run(main())
