"""Benchmark: what the chain check after a start costs the calls that come meanwhile.

A System on a generated log of N events (bench/audit.py's generator), against an in-process paper
exchange: `get_ticker_price` one call at a time while the check runs (it verifies the whole chain in
a thread, right after the start), then as many after it has finished; p50 and p99 of each, and how
long the check took. The check holds the GIL for most of its work, so calls made meanwhile wait.

    .venv/bin/python bench/chain_check.py [--events N]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from audit import generate

from binance_mcp.actors.system import new_envelope
from tests.actors.conftest import exchange_server, new_exchange, system_on


async def calls(system: object, until: asyncio.Event | None, most: int) -> list[float]:
    """Latencies (ms) of calls one at a time: until `until` is set, or `most` of them."""
    out: list[float] = []
    while len(out) < most and not (until is not None and until.is_set()):
        started = time.perf_counter()
        await system.ask(new_envelope("get_ticker_price", {"symbol": "BTCUSDT"}, 20))  # type: ignore[attr-defined]
        out.append((time.perf_counter() - started) * 1000)
    return out


def line(name: str, latencies: list[float]) -> str:
    ordered = sorted(latencies)
    p99 = ordered[max(0, int(len(ordered) * 0.99) - 1)]
    return f"{name:34s} {len(ordered):6d} calls   p50 {statistics.median(ordered):6.2f} ms   p99 {p99:7.2f} ms"


async def main(events: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "events.sqlite3"
        generate(log, events)
        exchange = new_exchange()
        async with exchange_server(exchange) as url, system_on(url, log, calls_per_minute=None) as system:
            started = time.perf_counter()
            during = await calls(system, system.chain_checked, 100_000)
            took = time.perf_counter() - started
            await system.chain_checked.wait()
            after = await calls(system, None, max(200, len(during)))
    print(f"a log of {events:,} events: the check took {took:.2f} s after the start")
    print(line("while the chain is checked", during))
    print(line("after", after))
    print(f"p50 ratio during / after: {statistics.median(during) / statistics.median(after):.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=300_000)
    asyncio.run(main(parser.parse_args().events))
