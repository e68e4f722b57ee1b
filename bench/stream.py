"""Benchmark: the account stream (actors/stream.py) against the paper exchange, in one process.

1. A burst of fills: `--orders` resting LIMIT orders on the account (placed on the paper exchange
   directly, so they are foreign: each is flagged once as it is placed, before the burst), then
   the market moved through all of them at once: each fill is an executionReport pushed over the
   WebSocket, decoded, classified and journaled as an `account_event`. Measured: events per second
   from the move until the last is durable (aim: 1,000/s on 2 cores), against a baseline in the
   same run: the same number of `account_event` records told straight to a journal of its own (no
   socket, no decoding, no classification): the ratio is what the stream's path costs.
2. What the stream costs a read: `get_ticker_price` one call at a time through the System, its
   p50 and p99, with the stream off, on and idle, and on while the exchange pushes fills in the
   background (`--background` events per second), all in the same run. Ratios against off.

    .venv/bin/python bench/stream.py [--orders N] [--calls N] [--background N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path

from aiohttp.test_utils import TestServer

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from binance_mcp.actors.base import Supervisor  # noqa: E402
from binance_mcp.actors.journal import Journal  # noqa: E402
from binance_mcp.actors.messages import Record  # noqa: E402
from binance_mcp.actors.system import System, new_envelope  # noqa: E402
from binance_mcp.events.ids import new_command_id  # noqa: E402
from binance_mcp.events.schema import AccountEvent, Stopped  # noqa: E402
from binance_mcp.events.store import EventStore  # noqa: E402
from binance_mcp.exchange.client import BinanceClient, Credentials  # noqa: E402
from binance_mcp.exchange.paper import LimitConfig, MarketConfig, PaperExchange, ws_api_url  # noqa: E402
from binance_mcp.exchange.paper.engine import NewOrder  # noqa: E402
from binance_mcp.exchange.rules import OrderCheck, passing_quantity  # noqa: E402

KEY = "BenchKey" + "0" * 56
SECRET = "BenchSecret" + "0" * 53
SYMBOL = "BTCUSDT"


def new_exchange() -> PaperExchange:
    limits = LimitConfig(weight_per_minute=10**9, orders_per_10s=10**9, orders_per_day=10**9)
    return PaperExchange(
        accounts={KEY: SECRET},
        balances={"USDT": Decimal(10**9), "BTC": Decimal(10**6)},
        market_config=MarketConfig(seed=3, history_ms=600_000),
        limits=limits,
    )


@asynccontextmanager
async def running(stream: bool, tmp: Path) -> AsyncIterator[tuple[PaperExchange, System]]:
    exchange = new_exchange()
    server = TestServer(exchange.app())
    await server.start_server()
    url = str(server.make_url(""))
    client = BinanceClient(url, credentials=Credentials(KEY, SECRET))
    log = tmp / f"{new_command_id()}.sqlite3"
    system = System(
        client=client,
        store=EventStore(log),
        venue="paper",
        calls_per_minute=None,
        account_stream_url=ws_api_url(url) if stream else None,
    )
    await system.start()
    if system.stream is not None:
        await asyncio.wait_for(system.stream.connected.wait(), 10)
    try:
        yield exchange, system
    finally:
        await system.stop()
        await server.close()


async def settled(system: System, count: int) -> None:
    """Until the stream has journaled `count` events and every one of them is durable."""
    stream = system.stream
    assert stream is not None
    while stream.journaled < count:
        stream.progress.clear()
        await stream.progress.wait()
    await system.journal.record(new_command_id(), "", Stopped(reason="marker"))  # after all before it


def rest_orders(exchange: PaperExchange, n: int) -> dict[str, Decimal]:
    """`n` resting buys just under the market, up to 200 per symbol (MAX_NUM_ORDERS) on as many
    USDT symbols as that takes, one tick apart; per symbol, the price that crosses them all."""
    account = exchange.engine.accounts[KEY]
    symbols = sorted(s for s, r in exchange.rules.items() if r.status == "TRADING" and r.quote_asset == "USDT")
    crosses: dict[str, Decimal] = {}
    for symbol in symbols:
        if n <= 0:
            break
        rules = exchange.rules[symbol]
        bids, _ = exchange.market(symbol, exchange.now()).book()
        tick = rules.tick_size
        top = bids[-1][0] - 5 * tick
        count = min(n, 200)
        quantity = passing_quantity(
            rules, OrderCheck(side="BUY", type="LIMIT", quantity=None, price=top - count * tick)
        )
        if quantity is None:
            continue
        for i in range(count):
            req = NewOrder(
                symbol=symbol,
                side="BUY",
                type="LIMIT",
                time_in_force="GTC",
                quantity=quantity * 2,
                price=top - i * tick,
            )
            exchange.engine.place(account, req, exchange.now())
        crosses[symbol] = top - (count + 5) * tick
        n -= count
    return crosses


async def burst(orders: int, tmp: Path) -> tuple[float, int]:
    async with running(True, tmp) as (exchange, system):
        stream = system.stream
        assert stream is not None
        crosses = rest_orders(exchange, orders)
        await settled(system, stream.journaled + 1)  # the placements' events are in
        while stream.mailbox.qsize():
            await settled(system, stream.journaled + 1)
        before = stream.journaled
        started = time.perf_counter()
        for symbol, cross in crosses.items():  # back to back: every fill is pushed before any is read
            exchange.move_market(symbol, cross)
        account = exchange.engine.accounts[KEY]
        assert not account.open_orders(), "every order filled"
        expected = before + orders + len(crosses)  # a TRADE per order, a balance event per symbol
        await settled(system, expected)
        elapsed = time.perf_counter() - started
        return orders / elapsed, stream.journaled - before


async def direct(n: int, tmp: Path) -> float:
    journal = Journal(EventStore(tmp / "direct.sqlite3"), "paper")
    supervisor = Supervisor(lambda crash: asyncio.sleep(0))
    supervisor.start(journal)
    raw = {"e": "executionReport", "s": SYMBOL, "x": "TRADE", "X": "FILLED", "z": "0.00100000", "c": "x" * 22}
    event = AccountEvent(event_type="executionReport", source="stream", raw=raw, symbol=SYMBOL, status="FILLED")
    started = time.perf_counter()
    acks = []
    for _ in range(n):
        ack: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        await journal.tell(Record(command_id=new_command_id(), tool="", event=event), ack)
        acks.append(ack)
    await asyncio.gather(*acks)
    elapsed = time.perf_counter() - started
    await supervisor.stop()
    await journal.close()
    return n / elapsed


async def read_latencies(system: System, calls: int) -> list[float]:
    out = []
    for _ in range(calls):
        started = time.perf_counter()
        await system.ask(new_envelope("get_ticker_price", {"symbol": "ETHUSDT"}, 20))
        out.append((time.perf_counter() - started) * 1000)
    return out


async def reads(stream: bool, background: int, calls: int, tmp: Path) -> list[float]:
    async with running(stream, tmp) as (exchange, system):
        await read_latencies(system, 50)  # warm-up
        if not background:
            return await read_latencies(system, calls)
        stop = asyncio.Event()

        async def pusher() -> None:
            # `background` fills per second: a market order each tick (NEW, TRADE, balances: ~3 events)
            account = exchange.engine.accounts[KEY]
            per_tick = max(1, background // 3 // 50)
            while not stop.is_set():
                for _ in range(per_tick):
                    req = NewOrder(symbol=SYMBOL, side="BUY", type="MARKET", quantity=Decimal("0.001"))
                    exchange.engine.place(account, req, exchange.now())
                await asyncio.sleep(0.02)  # a rate, not a wait for anything

        task = asyncio.create_task(pusher())
        try:
            return await read_latencies(system, calls)
        finally:
            stop.set()
            await task


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[int(len(ordered) * 0.99) - 1]


async def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        rate, journaled = await burst(args.orders, tmp)
        baseline = await direct(args.orders, tmp)
        print(f"burst of {args.orders} fills: {journaled} account events journaled")
        print(f"  through the stream (socket, decode, classify, journal): {rate:8.0f} events/s   (aim >= 1000)")
        print(f"  told straight to a journal (baseline, same run):        {baseline:8.0f} events/s")
        print(f"  ratio stream / baseline: {rate / baseline:.2f}")
        off = percentiles(await reads(False, 0, args.calls, tmp))
        idle = percentiles(await reads(True, 0, args.calls, tmp))
        busy = percentiles(await reads(True, args.background, args.calls, tmp))
    print(f"get_ticker_price, one at a time, {args.calls} calls: p50 / p99 ms")
    for label, (p50, p99) in (
        ("stream off", off),
        ("stream on, idle", idle),
        (f"stream on, ~{args.background} ev/s", busy),
    ):
        print(f"  {label:<24} {p50:6.2f} / {p99:6.2f}   ratio to off {p50 / off[0]:.2f} / {p99 / off[1]:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=3000)
    parser.add_argument("--calls", type=int, default=400)
    parser.add_argument("--background", type=int, default=300)
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}"
    )
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
