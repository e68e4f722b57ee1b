"""Orders through the whole pipeline, in-process over real HTTP to the paper exchange: the durable
dispatch, unknown outcomes and their reconciliation (with the paper exchange's faults), the
guard's state across a restart, and the ORDERS windows."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

from binance_mcp.actors.guard import Guard, parse_caps
from binance_mcp.actors.messages import Admitted, NeedsConfirmation, OrderCountSeen, Settle
from binance_mcp.actors.system import System, new_envelope
from binance_mcp.events.commands import client_order_id, decode
from binance_mcp.events.outcomes import Executed, Failed, Outcome, Rejected, Throttled, Unknown
from binance_mcp.events.replay import Pending
from binance_mcp.events.schema import Dispatched
from binance_mcp.events.store import Event, EventStore
from binance_mcp.exchange.paper import Fault, FaultMode, LimitConfig, PaperExchange

from ..logs import dispatched, events_of
from .conftest import KEY, exchange_server, new_exchange, system_on

FAST = {"reconcile_backoff_s": (0.05,) * 60, "reconcile_margin_ms": 100}
BUY = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001"}
POST, DELETE = "POST /api/v3/order", "DELETE /api/v3/order"


async def call(system: System, tool: str, **args: Any) -> tuple[str, Outcome]:
    envelope = new_envelope(tool, args, len(json.dumps(args)))
    outcome = await system.ask(envelope)
    assert isinstance(outcome, Outcome)
    return envelope.command_id, outcome


def kinds_of(log: Path, command_id: str) -> list[str]:
    return [r.kind for r in events_of(log, command_id)]


def orders_with(exchange: PaperExchange, client_id: str) -> int:
    account = exchange.engine.accounts[KEY]
    return sum(1 for o in account.orders.values() if o.client_order_id == client_id)


async def test_the_request_is_journaled_before_it_leaves_with_its_derived_client_id(tmp_path: Path) -> None:
    exchange = new_exchange()
    async with exchange_server(exchange) as url, system_on(url, tmp_path / "log.sqlite3") as system:
        command_id, outcome = await call(system, "create_order", **BUY)
    assert isinstance(outcome, Executed) and outcome.data["status"] == "FILLED"
    assert outcome.data["clientOrderId"] == client_order_id(command_id)
    kinds = kinds_of(tmp_path / "log.sqlite3", command_id)
    assert kinds == ["received", "dispatched", "executed"]
    dispatched = events_of(tmp_path / "log.sqlite3", command_id)[1].event
    assert isinstance(dispatched, Dispatched)
    query = dispatched.request.query
    assert dispatched.request.method == "POST" and dispatched.request.path == "/api/v3/order"
    assert f"newClientOrderId={client_order_id(command_id)}" in query and "timestamp=" in query
    assert "signature" not in query and "quantity=0.001&" in query
    assert dispatched.quote_asset == "USDT" and dispatched.notional is not None and dispatched.notional > 0
    assert dispatched.guard.trading_enabled is True


async def test_a_lost_answer_is_unknown_then_reconciled_filled_and_the_order_exists_once(tmp_path: Path) -> None:
    exchange = new_exchange(faults={"POST /api/v3/order": Fault(FaultMode.DROP, times=1)})
    log = tmp_path / "log.sqlite3"
    async with exchange_server(exchange) as url, system_on(url, log, **FAST) as system:
        command_id, outcome = await call(system, "create_order", **BUY)
        assert isinstance(outcome, Unknown) and outcome.kind == "unknown_outcome"
        assert "do NOT send it again" in outcome.message and client_order_id(command_id) in outcome.message
        found = await system.reconciler.tasks[command_id]
    assert found is not None and found.placed is True and found.status == "FILLED"
    assert orders_with(exchange, client_order_id(command_id)) == 1
    kinds = kinds_of(log, command_id)
    assert kinds == ["received", "dispatched", "unknown", "reconciled"]


async def test_a_503_is_unknown_then_reconciled_as_not_placed_once_the_window_has_passed(tmp_path: Path) -> None:
    exchange = new_exchange(faults={"POST /api/v3/order": Fault(FaultMode.UNAVAILABLE, times=1)})
    log = tmp_path / "log.sqlite3"
    async with exchange_server(exchange) as url, system_on(url, log, recv_window_ms=300, **FAST) as system:
        command_id, outcome = await call(system, "create_order", **BUY)
        assert isinstance(outcome, Unknown) and outcome.code == -1006
        assert exchange.served[POST] == 1  # not resent
        found = await system.reconciler.tasks[command_id]
        # Not placed: the reservation is freed, so the daily total does not count it.
        assert system.validator.daily.used("USDT", system.validator.clock_ms()) == 0
    assert found is not None and found.placed is False
    assert orders_with(exchange, client_order_id(command_id)) == 0
    assert kinds_of(log, command_id)[-1] == "reconciled"


async def test_a_timed_out_order_that_was_applied_is_reconciled_as_placed(tmp_path: Path) -> None:
    exchange = new_exchange(faults={"POST /api/v3/order": Fault(FaultMode.TIMEOUT, times=1)})
    async with exchange_server(exchange) as url, system_on(url, tmp_path / "log.sqlite3", **FAST) as system:
        command_id, outcome = await call(system, "create_order", **BUY)
        assert isinstance(outcome, Unknown) and outcome.code == -1007
        found = await system.reconciler.tasks[command_id]
    assert found is not None and found.placed is True
    assert orders_with(exchange, client_order_id(command_id)) == 1


async def test_a_lost_cancel_is_reconciled_from_the_orders_status(tmp_path: Path) -> None:
    exchange = new_exchange()
    async with exchange_server(exchange) as url, system_on(url, tmp_path / "log.sqlite3", **FAST) as system:
        _, avg = await call(system, "get_avg_price", symbol="BTCUSDT")
        assert isinstance(avg, Executed)
        price = str(int(Decimal(avg.data["price"]) * Decimal("0.9")))
        _, placed = await call(system, "create_order", **{**BUY, "type": "LIMIT", "price": price})
        assert isinstance(placed, Executed) and placed.data["status"] == "NEW"
        exchange.faults.set("DELETE /api/v3/order", Fault(FaultMode.DROP, times=1))
        sent = exchange.served[DELETE]
        command_id, outcome = await call(system, "cancel_order", symbol="BTCUSDT", order_id=placed.data["orderId"])
        assert isinstance(outcome, Unknown) and "cancel may have happened" in outcome.message
        # Sent once: aiohttp would resend a DELETE on a dropped connection, and a second cancel
        # would have answered -2011 over the first one's real outcome.
        assert exchange.served[DELETE] == sent + 1
        found = await system.reconciler.tasks[command_id]
    assert found is not None and found.canceled is True and found.status == "CANCELED"


async def test_the_daily_cap_counts_orders_of_earlier_runs_and_frees_refused_ones(tmp_path: Path) -> None:
    exchange = new_exchange()
    log = tmp_path / "log.sqlite3"
    async with exchange_server(exchange) as url:
        async with system_on(url, log) as system:
            _, avg = await call(system, "get_avg_price", symbol="BTCUSDT")
            assert isinstance(avg, Executed)
            price = int(Decimal(avg.data["price"]) * Decimal("0.9"))
        limit = {**BUY, "type": "LIMIT", "price": str(price)}
        value = Decimal(price) * Decimal("0.001")
        cap = value * Decimal("2.5")
        guard = Guard(max_daily_notional=parse_caps(f"USDT={cap}", "cap"))
        async with system_on(url, log, guard=guard) as system:
            assert isinstance((await call(system, "create_order", **limit))[1], Executed)
            # Within the cap, refused by the exchange (a LIMIT_MAKER that would take): not
            # placed, so not counted, now or after the restart.
            taker = str(int(price / Decimal("0.9") * Decimal("1.02")))
            _, refused = await call(system, "create_order", **{**limit, "type": "LIMIT_MAKER", "price": taker})
            assert isinstance(refused, Failed) and refused.kind == "order_rejected"
        async with system_on(url, log, guard=guard) as system:  # a restart
            assert isinstance((await call(system, "create_order", **limit))[1], Executed)
            _, over = await call(system, "create_order", **limit)
    assert isinstance(over, Rejected) and over.kind == "guard_limit"
    left = cap - 2 * value
    assert over.message == (
        f"order value {value.normalize():f} USDT is over what is left of MCP_MAX_DAILY_NOTIONAL: "
        f"{left.normalize():f} of {cap.normalize():f} USDT in the last 24 hours ({(2 * value).normalize():f} used); "
        "nothing was sent"
    )


async def test_the_orders_window_survives_a_restart_and_stops_orders_before_the_exchange_does(
    tmp_path: Path,
) -> None:
    exchange = new_exchange(LimitConfig(orders_per_10s=3))
    log = tmp_path / "log.sqlite3"
    async with exchange_server(exchange) as url:
        async with system_on(url, log) as system:
            for _ in range(2):
                assert isinstance((await call(system, "create_order", **BUY))[1], Executed)
        async with system_on(url, log) as system:  # exchangeInfo states 3 per 10 s; the log holds 2
            assert isinstance((await call(system, "create_order", **BUY))[1], Executed)
            posts = exchange.served[POST]
            _, outcome = await call(system, "create_order", **BUY)
            assert exchange.served[POST] == posts  # stopped here, not at the exchange
    assert isinstance(outcome, Throttled) and "3 new orders per 10 seconds" in outcome.message
    assert 0 < outcome.retry_after_ms <= 10_000


async def test_the_reconciler_sends_no_lookup_while_the_exchange_asks_us_to_back_off(tmp_path: Path) -> None:
    exchange = new_exchange()
    async with exchange_server(exchange) as url, system_on(url, tmp_path / "log.sqlite3", **FAST) as system:
        command_id, placed = await call(system, "create_order", **BUY)
        assert isinstance(placed, Executed)
        waits: list[tuple[float, int]] = []  # each back-off wait, and the lookups sent before it

        async def noted(seconds: float) -> None:
            waits.append((seconds, exchange.served["GET /api/v3/order"]))
            await asyncio.sleep(seconds)

        system.reconciler.sleep = noted
        system.limiter.back_off(0.3)  # as after a 429 with Retry-After
        pending = Pending(
            command_id=command_id,
            tool="create_order",
            symbol="BTCUSDT",
            client_order_id=client_order_id(command_id),
            order_id=None,
            dispatched_ms=system.clock_ms(),
            finished=True,
        )
        await system.reconciler.ask(pending)
        found = await system.reconciler.tasks[command_id]
    assert found is not None and found.placed is True
    assert waits[0][1] == 0 and 0.05 < waits[0][0] <= 0.31  # held for what is left of the back-off, nothing sent
    assert exchange.served["GET /api/v3/order"] == 1  # then one lookup


async def test_a_restart_closes_what_was_left_open_and_reconciles_dispatches(tmp_path: Path) -> None:
    exchange = new_exchange()
    log = tmp_path / "log.sqlite3"
    async with exchange_server(exchange) as url:
        async with system_on(url, log) as system:
            _, filled = await call(system, "create_order", **BUY)
            assert isinstance(filled, Executed)
        # What a killed server leaves, long ago: a call half way, and an order dispatched without
        # its answer (the body of the first order's dispatch: the same client order id).
        with sqlite3.connect(log) as conn:
            (body,) = conn.execute("SELECT body FROM events WHERE kind = 'dispatched'").fetchone()
        store = EventStore(log)
        lost = "e" * 32
        store.append_batch(
            [
                Event(1, "f" * 32, "received", "create_order", "paper", "{}"),
                Event(1, lost, "received", "create_order", "paper", "{}"),
                Event(1, lost, "dispatched", "create_order", "paper", body),
            ]
        )
        store.close()
        async with system_on(url, log, **FAST) as system:
            found = await system.reconciler.tasks[lost]
    assert found is not None and found.placed is True  # the order of the first run, by its client id
    assert kinds_of(log, "f" * 32) == ["received", "failed"]
    assert getattr(events_of(log, "f" * 32)[-1].event, "kind", None) == "interrupted"
    assert kinds_of(log, lost) == ["received", "dispatched", "unknown", "reconciled"]


async def test_an_unanswered_confirmation_expires_as_declined_and_frees_its_value(tmp_path: Path) -> None:
    exchange = new_exchange()
    log = tmp_path / "log.sqlite3"
    guard = Guard(confirm_orders=True, max_daily_notional=parse_caps("USDT=1000", "cap"))
    async with exchange_server(exchange) as url, system_on(url, log, guard=guard, confirm_timeout_s=0.01) as system:
        expired = asyncio.Event()
        declined = system.confirmer.on_declined
        assert declined is not None
        system.confirmer.on_declined = lambda v: (declined(v), expired.set())  # type: ignore[func-returns-value]
        envelope = new_envelope("create_order", BUY, 80, can_confirm=True)
        needs = await system.ask(envelope)
        assert isinstance(needs, NeedsConfirmation) and needs.command_id == envelope.command_id
        assert system.validator.daily.used("USDT", system.validator.clock_ms()) > 0  # reserved while asked
        await expired.wait()
        late = await system.confirm(envelope.command_id, True)
        assert isinstance(late, Rejected) and "no order or cancel is waiting" in late.message
        assert await system.validator.ask(Settle(command_id="flush", placed=False)) is None
        assert system.validator.daily.used("USDT", system.validator.clock_ms()) == 0
    assert kinds_of(log, envelope.command_id) == ["received", "confirmation_requested", "rejected"]
    assert getattr(events_of(log, envelope.command_id)[-1].event, "kind", None) == "declined_by_user"
    assert exchange.served[POST] == 0


async def test_a_confirmation_left_open_at_shutdown_ends_declined(tmp_path: Path) -> None:
    exchange = new_exchange()
    log = tmp_path / "log.sqlite3"
    async with exchange_server(exchange) as url, system_on(url, log, guard=Guard(confirm_orders=True)) as system:
        envelope = new_envelope("cancel_open_orders", {"symbol": "BTCUSDT"}, 20, can_confirm=True)
        needs = await system.ask(envelope)
        assert isinstance(needs, NeedsConfirmation)
        assert needs.summary == "Cancel ALL open orders on BTCUSDT, on the paper venue?"
    declined = events_of(log, envelope.command_id)[-1].event
    assert isinstance(declined, Rejected) and declined.kind == "declined_by_user"
    assert "the server is stopping" in declined.message


async def test_the_schema_refuses_a_second_dispatch_so_nothing_is_sent_twice(tmp_path: Path) -> None:
    exchange = new_exchange()
    async with exchange_server(exchange) as url, system_on(url, tmp_path / "log.sqlite3") as system:
        envelope = new_envelope("create_order", BUY, 80)
        command = decode("create_order", BUY)
        first = dispatched("BTCUSDT")  # an earlier dispatch of the same command
        await system.journal.record(envelope.command_id, "create_order", first)
        outcome = await system.executor.dispatch(Admitted(envelope=envelope, command=command))
    assert isinstance(outcome, Failed) and outcome.kind == "audit_unavailable"
    assert "nothing was sent" in outcome.message and exchange.served[POST] == 0


async def test_the_exchanges_order_count_holds_orders_it_would_refuse(tmp_path: Path) -> None:
    exchange = new_exchange(LimitConfig(orders_per_10s=50))
    async with exchange_server(exchange) as url, system_on(url, tmp_path / "log.sqlite3") as system:
        # Other clients of the account have placed 50 orders this window (X-MBX-ORDER-COUNT-10S).
        assert await system.limiter.ask(OrderCountSeen(ten_seconds=50, day=50)) is None
        _, outcome = await call(system, "create_order", **BUY)
        assert exchange.served[POST] == 0
        # The exchange's next answer reports its own count again, and orders go on.
        assert await system.limiter.ask(OrderCountSeen(ten_seconds=3, day=3)) is None
        _, after = await call(system, "create_order", **BUY)
    assert isinstance(outcome, Throttled) and "50 new orders per 10 seconds" in outcome.message
    assert isinstance(after, Executed)


async def test_without_input_validation_binance_judges_the_filters_and_the_guard_still_holds(
    tmp_path: Path,
) -> None:
    exchange = new_exchange()
    guard = Guard(symbol_allowlist=frozenset({"BTCUSDT"}))
    async with (
        exchange_server(exchange) as url,
        system_on(url, tmp_path / "log.sqlite3", exchange_rules=False, guard=guard) as system,
    ):
        _, odd = await call(system, "create_order", **{**BUY, "quantity": "0.000015"})
        _, other = await call(system, "create_order", **{**BUY, "symbol": "ETHUSDT"})
    assert isinstance(odd, Failed) and (odd.kind, odd.code, odd.message) == (
        "filter_failure",
        -1013,
        "Filter failure: LOT_SIZE",
    )
    assert isinstance(other, Rejected) and other.kind == "symbol_not_allowed"
    assert exchange.served[POST] == 1
