"""Benchmark: what the durable `dispatched` barrier costs an order.

Through one `binance-mcp serve` over stdio (the SDK's client), against `binance-mcp paper` in a
process of its own, in the same run:
- `get_ticker_price`: a read (two durable events, one GET);
- `test_order`: every check an order meets (its average price and open orders looked up, the
  filters, the guard), sent to the order test endpoint: no `dispatched`, nothing placed;
- `create_order`: the same, then `dispatched` made durable before the POST, which places it;
  and again on a paper account that keeps its state (`paper --state`, as the log's own does).
MARKET orders of 0.0001 BTC, BUY and SELL in turn, first one at a time (latency) and then K in
flight (throughput). The paper exchange's order limits are raised so none is throttled; every
result must be a success.

    .venv/bin/python bench/orders.py [--orders N] [--in-flight K]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import platform
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from mcp import ClientSession, StdioServerParameters, stdio_client
from stdio_calls import ROOT, Run, drive, start_paper

ORDER = {"symbol": "BTCUSDT", "type": "MARKET", "quantity": "0.0001"}


def caller(session: ClientSession, tool: str) -> Callable[[], Awaitable[None]]:
    sides = itertools.cycle(("BUY", "SELL"))

    async def call() -> None:
        args: dict[str, Any] = {"symbol": "BTCUSDT"} if tool == "get_ticker_price" else {**ORDER, "side": next(sides)}
        result = await session.call_tool(tool, args)
        if result.is_error:
            raise RuntimeError(f"{tool}: {result.structured_content}")

    return call


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--in-flight", type=int, default=8)
    args = parser.parse_args()
    n, k = args.orders, args.in_flight
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    base_env = {key: v for key, v in os.environ.items() if not key.startswith(("BINANCE_", "MCP_"))}
    limits = ("--orders-per-10s", "100000000", "--orders-per-day", "100000000")
    runs: dict[tuple[str, int], Run] = {}

    async def measure(paper_flags: tuple[str, ...], name: str, tools: tuple[str, ...], label: str = "") -> None:
        """`serve` on a `binance-mcp paper` of these flags: each tool warmed up, then one at a time
        and `k` in flight; into `runs` under (tool, or `label`, in flight)."""
        async with start_paper(base_env, *limits, *paper_flags) as (_url, remote):
            env = {**base_env, **remote, "MCP_RATE_LIMIT_ENABLED": "false", "MCP_EVENT_LOG": f"{tmp}/{name}.sqlite3"}
            params = StdioServerParameters(
                command=sys.executable, args=[str(ROOT / "server.py"), "serve"], env=env, cwd=str(ROOT)
            )
            with (Path(tmp) / f"{name}.stderr").open("w") as err:
                async with stdio_client(params, errlog=err) as (read, write), ClientSession(read, write) as session:
                    await session.initialize()
                    for tool in tools:
                        await drive(caller(session, tool), 100, 4)  # warm-up
                    for in_flight in (1, k):
                        for tool in tools:
                            count = n if in_flight > 1 else n // 4
                            rate, latencies = await drive(caller(session, tool), count, in_flight)
                            shown = f"{tool}{label}, {in_flight} in flight"
                            runs[(label or tool, in_flight)] = Run(shown, rate, latencies)

    with tempfile.TemporaryDirectory() as tmp:
        await measure((), "orders", ("get_ticker_price", "test_order", "create_order"))
        # The same orders on a paper account that keeps its state (`paper --state`, as the log's own
        # paper account does): each placement committed to its state before it is answered.
        await measure(("--state", f"{tmp}/kept"), "kept", ("create_order",), ", kept account")
    for in_flight in (1, k):
        ticker = runs[("get_ticker_price", in_flight)]
        dry = runs[("test_order", in_flight)]
        order = runs[("create_order", in_flight)]
        for run in (ticker, dry, order):
            print(run.line(ticker.rate))
        print(
            f"  create_order vs test_order: {order.rate / dry.rate:.2f} of the rate, "
            f"p50 {order.p50 - dry.p50:+.2f} ms, p99 {order.p99 - dry.p99:+.2f} ms"
        )
        kept = runs[(", kept account", in_flight)]
        print(kept.line(ticker.rate))
        print(
            f"  a kept paper account vs one that is not: {kept.rate / order.rate:.2f} of the rate, "
            f"p50 {kept.p50 - order.p50:+.2f} ms"
        )


if __name__ == "__main__":
    asyncio.run(main())
