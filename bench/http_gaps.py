"""Benchmark: what a GET to the paper exchange costs when it is not back to back.

The latency budget (bench/latency.py) finds the request inside `serve` about twice as slow as the
direct GETs of bench/stdio_calls.py. Those GETs follow one another at once; inside a call, a
request comes after a millisecond or more of other work. This measures plain aiohttp GETs to a
`binance-mcp paper` in a process of its own, one at a time, each right after one of: nothing,
500 µs of CPU work, a 0.5 ms or 2 ms sleep, touching 16 MiB of memory. Prints each p50 and its
ratio to back-to-back GETs measured in the same run.

    .venv/bin/python bench/http_gaps.py [--calls N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import time
from collections.abc import Awaitable, Callable

import aiohttp
from stdio_calls import start_paper

ARGS = {"symbol": "BTCUSDT"}


def spin(us: float) -> None:
    end = time.perf_counter() + us / 1e6
    while time.perf_counter() < end:
        pass


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=1500)
    n = parser.parse_args().calls
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("BINANCE_", "MCP_"))}
    memory = [bytearray(1 << 20) for _ in range(16)]

    def touch() -> None:
        for block in memory:
            block[::64] = b"x" * len(block[::64])

    async def nothing() -> None:
        return None

    async def cpu() -> None:
        spin(500)

    async def touched() -> None:
        touch()

    gaps: list[tuple[str, Callable[[], Awaitable[None]]]] = [
        ("back to back", nothing),
        ("after 500 us of CPU work", cpu),
        ("after a 0.5 ms sleep", lambda: asyncio.sleep(0.0005)),
        ("after a 2 ms sleep", lambda: asyncio.sleep(0.002)),
        ("after touching 16 MiB", touched),
    ]
    async with start_paper(base_env) as (url, _), aiohttp.ClientSession() as http:

        async def get() -> float:
            started = time.perf_counter()
            async with http.get(f"{url}/api/v3/ticker/price", params=ARGS) as response:
                await response.read()
            return time.perf_counter() - started

        for _ in range(300):  # warm-up
            await get()
        p50s: dict[str, float] = {}
        for name, gap in gaps:
            latencies = []
            for _ in range(n):
                await gap()
                latencies.append(await get())
            p50s[name] = statistics.median(latencies) * 1e6
    baseline = p50s["back to back"]
    for name, p50 in p50s.items():
        print(f"GET {name:28s} p50 {p50:5.0f} us   ratio {p50 / baseline:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
