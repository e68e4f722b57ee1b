"""Benchmark: GET /api/v3/ticker/price against the standalone paper exchange on loopback.

32 concurrent connections from one aiohttp client process. The baseline, measured in the same
run with the same client, is a do-nothing aiohttp server (one route returning a constant JSON
body) in its own process: the ratio says how much of aiohttp's own speed the paper exchange
keeps. The paper exchange runs with a raised weight limit so the benchmark is not throttled.

    .venv/bin/python bench/paper_ticker.py [--requests N] [--concurrency C]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
BASELINE = """
import sys
from aiohttp import web
async def price(request):
    return web.Response(body=b'{"symbol":"BTCUSDT","price":"58000.00000000"}', content_type="application/json")
app = web.Application()
app.router.add_get("/api/v3/ticker/price", price)
async def main():
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    print(f"PAPER_EXCHANGE_URL=http://{host}:{port}", flush=True)
    import asyncio
    await asyncio.Event().wait()
import asyncio
asyncio.run(main())
"""


async def _start(args: list[str]) -> tuple[asyncio.subprocess.Process, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        *args,
        stdout=asyncio.subprocess.PIPE,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "BINANCE_API_KEY": "B" * 64, "BINANCE_API_SECRET": "B" * 64},
    )
    assert proc.stdout is not None
    line = (await proc.stdout.readline()).decode().strip()
    return proc, line.split("=", 1)[1]


async def _drive(url: str, total: int, concurrency: int) -> tuple[float, list[float]]:
    target = f"{url}/api/v3/ticker/price?symbol=BTCUSDT"
    latencies: list[float] = []
    remaining = total
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        async with session.get(target) as resp:  # warm-up: the first call builds the symbol's history
            assert resp.status == 200, await resp.text()

        async def worker() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                started = time.perf_counter()
                async with session.get(target) as resp:
                    await resp.read()
                    if resp.status != 200:
                        raise RuntimeError(f"HTTP {resp.status}")
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return total / elapsed, sorted(latencies)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"aiohttp {aiohttp.__version__}"
    )
    results = {}
    for name, cmd in (
        ("baseline aiohttp (constant)", ["-c", BASELINE]),
        ("paper exchange ticker/price", ["server.py", "paper", "--weight-limit", "1000000000"]),
    ):
        proc, url = await _start(cmd)
        try:
            rate, lat = await _drive(url, args.requests, args.concurrency)
        finally:
            proc.terminate()
            await proc.wait()
        p50, p99 = lat[len(lat) // 2] * 1000, lat[int(len(lat) * 0.99)] * 1000
        results[name] = rate
        print(f"{name:32s} {rate:8.0f} req/s   p50 {p50:6.2f} ms   p99 {p99:6.2f} ms")
    base, paper = results.values()
    print(f"ratio paper / baseline: {paper / base:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
