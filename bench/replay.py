"""Benchmark: re-running a log (`audit replay --execute`) against serving the same commands.

In one run:
1. `binance-mcp serve` on its embedded paper exchange, driven over stdio by the SDK's client, one
   command at a time (a re-run is one command at a time too), through a generated mix of N
   commands (default 10,000): in every 20, 16 reads of eight kinds and 4 state changes (a MARKET
   BUY and SELL, a LIMIT BUY far below the market, cancel_open_orders). The paper exchange's limits
   are raised so nothing is throttled; the call budget is off. Commands per second.
2. The log that run wrote, re-run in this process: a fresh System and paper exchange on the log's
   clock, the market moved to the recorded prices. Commands per second, and how many outcomes
   came out different.

The fold over 1,000,000 events (`audit replay` without --execute) is in bench/audit.py.

    .venv/bin/python bench/replay.py [--commands N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from mcp import ClientSession, StdioServerParameters, stdio_client
from stdio_calls import ROOT, Run, drive

from binance_mcp.events.store import LogReader
from binance_mcp.face.rerun import rerun

ORDER = {"symbol": "BTCUSDT", "quantity": "0.0002"}
MIX: list[tuple[str, dict[str, Any]]] = [
    ("get_ticker_price", {"symbol": "BTCUSDT"}),
    ("get_book_ticker", {"symbol": "ETHUSDT"}),
    ("get_order_book", {"symbol": "BTCUSDT", "limit": 5}),
    ("get_ticker_price", {"symbol": "ETHUSDT"}),
    ("create_order", {**ORDER, "side": "BUY", "type": "MARKET"}),
    ("get_recent_trades", {"symbol": "BTCUSDT", "limit": 10}),
    ("get_avg_price", {"symbol": "SOLUSDT"}),
    ("get_ticker", {"symbol": "BNBUSDT"}),
    ("get_balance", {}),
    ("create_order", {**ORDER, "side": "BUY", "type": "LIMIT", "time_in_force": "GTC", "price": "50000"}),
    ("get_open_orders", {"symbol": "BTCUSDT"}),
    ("get_ticker_price", {"symbol": "BTCUSDT"}),
    ("get_book_ticker", {"symbol": "BTCUSDT"}),
    ("cancel_open_orders", {"symbol": "BTCUSDT"}),
    ("get_my_trades", {"symbol": "BTCUSDT", "limit": 5}),
    ("get_order_book", {"symbol": "ETHUSDT", "limit": 5}),
    ("create_order", {**ORDER, "side": "SELL", "type": "MARKET"}),
    ("get_ticker_price", {"symbol": "SOLUSDT"}),
    ("get_book_ticker", {"symbol": "BTCUSDT"}),
    ("get_balance", {}),
]


async def serve_run(n: int, log: Path, errlog: Path) -> Run:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BINANCE_", "MCP_"))}
    env |= {"MCP_RATE_LIMIT_ENABLED": "false", "MCP_EVENT_LOG": str(log), "MCP_LOG_SECURITY": "false"}
    flags = ["--paper-weight-limit", "1000000000", "--paper-order-limit", "1000000000"]
    params = StdioServerParameters(
        command=sys.executable, args=[str(ROOT / "server.py"), "serve", *flags], env=env, cwd=str(ROOT)
    )
    with errlog.open("w") as err:
        async with stdio_client(params, errlog=err) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            sent = iter(range(n))

            async def call() -> None:
                tool, args = MIX[next(sent) % len(MIX)]
                result = await session.call_tool(tool, args)
                if result.is_error:
                    raise RuntimeError(f"{tool}: {result.structured_content}")

            rate, latencies = await drive(call, n, 1)
    return Run(f"serve over stdio, {n} commands", rate, latencies)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--commands", type=int, default=10_000)
    n = parser.parse_args().commands
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "source.sqlite3"
        served = await serve_run(n, source, Path(tmp) / "stderr")
        print(served.line())
        reader = LogReader(source)
        started = time.perf_counter()
        report = await rerun(reader, None, {}, Path(tmp) / "rerun.sqlite3")
        seconds = time.perf_counter() - started
        reader.close()
    rate = report["replayed"] / seconds
    print(
        f"{'re-run (audit replay --execute)':42s} {rate:8.0f} commands/s   ratio {rate / served.rate:.2f}   "
        f"({report['replayed']} replayed in {seconds:.1f} s: {report['same']} the same, "
        f"{report['different']} different {report['by_difference'] or ''})"
    )
    for entry in report["differences"][:5]:
        print(f"  {entry['command_id']} {entry['tool']} {entry['original']} -> {entry['rerun']}")


if __name__ == "__main__":
    asyncio.run(main())
