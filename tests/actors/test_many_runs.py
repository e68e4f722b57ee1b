"""Several runs on one log, in one process (each System its own run, journal and connection, as
separate `serve` processes have): the guard's caps hold across them, and a halt stops them all."""

from __future__ import annotations

import asyncio
import time
from contextlib import AsyncExitStack
from decimal import Decimal
from pathlib import Path
from typing import Any

from binance_mcp.actors.executor import Executor
from binance_mcp.actors.guard import Guard, parse_caps
from binance_mcp.actors.messages import Admitted
from binance_mcp.actors.system import System, new_envelope
from binance_mcp.events.ids import new_command_id
from binance_mcp.events.outcomes import Executed, Outcome, Rejected, Throttled
from binance_mcp.events.runs import Lease
from binance_mcp.events.schema import Halted, Received, Reconciled, Resumed, encode
from binance_mcp.events.store import Event, EventStore
from binance_mcp.exchange.paper import LimitConfig
from binance_mcp.face.halt import append_alone, who

from ..logs import dispatched, read_log
from .conftest import KEY, exchange_server, new_exchange, system_on

PRICE = "40000"  # a resting LIMIT buy: its value is exactly quantity × price
ORDER = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.001", "price": PRICE}
VALUE = Decimal("40")


async def ask(system: System, tool: str, **args: Any) -> Outcome:
    outcome = await system.ask(new_envelope(tool, args, len(repr(args))))
    assert isinstance(outcome, Outcome)
    return outcome


async def test_three_runs_with_a_daily_cap_that_fits_two_place_exactly_two(tmp_path: Path) -> None:
    """Six orders, two per run, each judged before any of them is on record (so each run's guard
    passes its own two: it sees only its own): the log's conditional append makes all but the
    first run's judge again, on the log as it is then, and refuse."""
    exchange = new_exchange()
    log = tmp_path / "events.sqlite3"
    guard = Guard(max_daily_notional=parse_caps(f"USDT={VALUE * Decimal('2.5')}", "cap"))
    judged, all_judged = [0], asyncio.Event()

    class AllJudgedFirst(Executor):
        async def dispatch(self, message: Admitted) -> Outcome:
            judged[0] += 1
            if judged[0] == 6:
                all_judged.set()
            await all_judged.wait()
            return await super().dispatch(message)

    async with exchange_server(exchange) as url, AsyncExitStack() as stack:
        systems = [
            await stack.enter_async_context(system_on(url, log, guard=guard, executor_cls=AllJudgedFirst))
            for _ in range(3)
        ]
        outcomes = await asyncio.gather(*(ask(s, "create_order", **ORDER) for s in systems for _ in range(2)))
    placed = [o for o in outcomes if isinstance(o, Executed)]
    refused = [o for o in outcomes if isinstance(o, Rejected)]
    assert len(placed) == 2 and len(refused) == 4
    assert {o.kind for o in refused} == {"guard_limit"}
    assert len(exchange.engine.accounts[KEY].orders) == 2  # on the exchange too
    rows = read_log(log)
    assert sum(r.kind == "dispatched" for r in rows) == 2
    assert len({r.event.run for r in rows if r.kind == "received"}) == 3  # three runs took part


async def test_a_halt_stops_every_run_from_its_next_order_and_a_resume_lets_them_go(tmp_path: Path) -> None:
    exchange = new_exchange()
    log = tmp_path / "events.sqlite3"
    async with exchange_server(exchange) as url, system_on(url, log) as first, system_on(url, log) as second:
        resting = await ask(first, "create_order", **ORDER)
        assert isinstance(resting, Executed)
        append_alone(log, Halted(**who("incident 42")), "paper")
        sent = exchange.served["POST /api/v3/order"]
        for system in (first, second):
            refused = await ask(system, "create_order", **ORDER)
            assert isinstance(refused, Rejected) and refused.kind == "trading_halted"
            assert "incident 42" in refused.message and "binance-mcp resume" in refused.message
            assert isinstance(await ask(system, "get_ticker_price", symbol="BTCUSDT"), Executed)  # reads work
            assert isinstance(await ask(system, "test_order", **ORDER), Executed)
        assert exchange.served["POST /api/v3/order"] == sent  # nothing was sent
        cancel = await ask(second, "cancel_order", symbol="BTCUSDT", order_id=resting.data["orderId"])
        assert isinstance(cancel, Executed)  # exposure can come down during a halt
        async with system_on(url, log) as later:  # a server started during the halt begins halted
            assert later.ledger.halt is not None
            refused = await ask(later, "create_order", **ORDER)
            assert isinstance(refused, Rejected) and refused.kind == "trading_halted"
        append_alone(log, Resumed(**who("all clear")), "paper")
        assert isinstance(await ask(first, "create_order", **ORDER), Executed)
        assert isinstance(await ask(second, "create_order", **ORDER), Executed)


async def test_an_order_judged_before_a_halt_is_judged_again_and_not_sent(tmp_path: Path) -> None:
    """The halt lands between the guard's decision and the order's `dispatched`: the append is
    refused (the decision saw an older log), the order is judged again, and refused."""
    exchange = new_exchange()
    log = tmp_path / "events.sqlite3"

    class HaltInBetween(Executor):
        async def dispatch(self, message: Admitted) -> Outcome:
            append_alone(log, Halted(**who("just now")), "paper")
            return await super().dispatch(message)

    async with exchange_server(exchange) as url, system_on(url, log, executor_cls=HaltInBetween) as system:
        refused = await ask(system, "create_order", **ORDER)
    assert isinstance(refused, Rejected) and refused.kind == "trading_halted"
    assert exchange.served["POST /api/v3/order"] == 0
    rows = read_log(log)
    assert not any(r.kind == "dispatched" for r in rows)
    assert [r.kind for r in rows if r.tool == "create_order"] == ["received", "rejected"]


async def test_two_servers_starting_at_once_recover_a_dead_runs_calls_once_and_leave_a_live_ones(
    tmp_path: Path,
) -> None:
    exchange = new_exchange()
    log = tmp_path / "events.sqlite3"
    dead, live = new_command_id(), new_command_id()
    hour_ago = (time.time_ns() // 1000) - 3_600_000_000
    rows = []
    for run, read, order in ((dead, "dead-read", "dead-order"), (live, "live-read", "live-order")):
        received = Received(args={}, client="t", size=2, run=run, session="")
        rows += [
            Event(hour_ago, run, "started", "", "paper", "{}"),
            Event(hour_ago, read, "received", "get_ticker_price", "paper", encode(received).decode()),
            Event(hour_ago, order, "received", "create_order", "paper", encode(received).decode()),
            Event(
                hour_ago,
                order,
                "dispatched",
                "create_order",
                "paper",
                encode(dispatched("BTCUSDT", "mcp" + order)).decode(),
            ),
        ]
    store = EventStore(log)
    store.append_batch(rows)
    store.close()
    lease = Lease(log, live)  # the live run's process: this one
    found: list[Reconciled | None] = []
    try:
        async with exchange_server(exchange) as url, AsyncExitStack() as stack:
            both = await asyncio.gather(*(stack.enter_async_context(system_on(url, log)) for _ in range(2)))
            for system in both:  # the lookups run in the background: wait for them
                found += await asyncio.gather(*system.reconciler.tasks.values())
    finally:
        lease.release()
    assert len([f for f in found if f is not None]) == 1  # recorded once; a second finds it done
    kinds = {cid: [r.kind for r in read_log(log) if r.command_id == cid] for cid in ("dead-read", "dead-order")}
    assert kinds == {
        "dead-read": ["received", "failed"],  # closed once, by whichever server got there first
        "dead-order": ["received", "dispatched", "unknown", "reconciled"],
    }
    untouched = [r.kind for r in read_log(log) if r.command_id in ("live-read", "live-order")]
    assert untouched == ["received", "received", "dispatched"]  # a live run's calls are its own
    assert EventStore(log).verify() is None


async def test_the_orders_window_counts_the_orders_other_runs_sent(tmp_path: Path) -> None:
    """ORDERS is the account's limit: a run that sent no order yet (so no answer of the exchange has
    told it the count) stops an order before the exchange would, because others sent three."""
    exchange = new_exchange(LimitConfig(orders_per_10s=3))
    log = tmp_path / "events.sqlite3"
    market = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001"}
    async with exchange_server(exchange) as url, system_on(url, log) as first, system_on(url, log) as second:
        for _ in range(3):
            assert isinstance(await ask(first, "create_order", **market), Executed)
        posts = exchange.served["POST /api/v3/order"]
        outcome = await ask(second, "create_order", **market)
        assert exchange.served["POST /api/v3/order"] == posts  # stopped here, not at the exchange
    assert isinstance(outcome, Throttled) and "3 new orders per 10 seconds" in outcome.message
