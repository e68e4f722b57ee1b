"""The account stream against the paper exchange over a real WebSocket: every account event on
record under the order's command, foreign orders flagged, a drop reconciled, a refused
subscription survived, one holder per account on a log."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from binance_mcp.actors.base import Supervisor
from binance_mcp.actors.journal import Journal
from binance_mcp.actors.stream import AccountStream, Frame
from binance_mcp.actors.system import System, new_envelope
from binance_mcp.events.chain import verify_rows
from binance_mcp.events.outcomes import Executed, Outcome
from binance_mcp.events.schema import AccountEvent, Security, Stopped, StreamConnected, StreamLost
from binance_mcp.events.store import EventStore, LogReader
from binance_mcp.exchange.client import BinanceClient, Credentials
from binance_mcp.exchange.paper import Fault, FaultMode, PaperExchange, ws_api_url
from binance_mcp.server import main

from ..logs import read_log
from .conftest import KEY, SECRET, exchange_server, new_exchange, system_on


async def ask(system: System, tool: str, **args: Any) -> Outcome:
    outcome = await system.ask(new_envelope(tool, args, len(repr(args))))
    assert isinstance(outcome, Outcome)
    return outcome


async def until(stream: AccountStream, check: Callable[[], Any], within_s: float = 10.0) -> Any:
    """Wait for `check()` to hold, looking again each time the stream makes progress."""
    async with asyncio.timeout(within_s):
        while not (found := check()):
            stream.progress.clear()
            await stream.progress.wait()
    return found


def order_status(log: Path, command_id: str) -> tuple[str, str] | None:
    reader = LogReader(log)
    try:
        row = reader.query("SELECT status, executed_qty FROM orders WHERE command_id = ?", (command_id,))
        found = row.fetchone()
    finally:
        reader.close()
    return None if found is None else (str(found[0]), str(found[1]))


def streamed(system: System) -> AccountStream:
    assert system.stream is not None
    return system.stream


@asynccontextmanager
async def subscribed(
    log: Path, *, backoff_s: tuple[float, ...] | None = None, **options: Any
) -> AsyncIterator[tuple[PaperExchange, System, AccountStream, str]]:
    """A paper exchange, and a System on `log` (`options` for it) whose account stream is
    subscribed there (reconnecting after `backoff_s`); its URL last."""
    exchange = new_exchange()
    async with (
        exchange_server(exchange) as url,
        system_on(url, log, account_stream_url=ws_api_url(url), **options) as system,
    ):
        stream = streamed(system)
        if backoff_s is not None:
            stream.backoff_s = backoff_s
        await asyncio.wait_for(stream.connected.wait(), 10)
        yield exchange, system, stream, url


def resting_buy_price(exchange: PaperExchange) -> Decimal:
    market = exchange.market("BTCUSDT", exchange.now())
    bids, _ = market.book()
    return (bids[-1][0] - 50).quantize(Decimal("0.01"))


async def test_a_resting_limit_that_fills_is_on_record_without_anyone_asking(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "events.sqlite3"
    async with subscribed(log) as (exchange, system, stream, _):
        price = resting_buy_price(exchange)
        placed = await ask(
            system, "create_order", symbol="BTCUSDT", side="BUY", type="LIMIT", quantity="0.001", price=str(price)
        )
        assert isinstance(placed, Executed) and placed.data["status"] == "NEW"
        command_id = next(r.command_id for r in read_log(log) if r.kind == "dispatched")
        exchange.move_market("BTCUSDT", price - 20)
        assert await until(stream, lambda: order_status(log, command_id) == ("FILLED", "0.00100000"))
        assert exchange.served["GET /api/v3/order"] == 0  # nobody asked
        page = await ask(system, "get_account_events", symbol="BTCUSDT", kind="order")
        assert isinstance(page, Executed)
        mine = [e for e in page.data["events"] if e["command_id"] == command_id]
        assert [(e["execution"], e["status"]) for e in mine] == [("NEW", "NEW"), ("TRADE", "FILLED")]
        assert mine[-1]["executed_qty"] == "0.00100000" and mine[-1]["foreign"] is False
        balances = await ask(system, "get_account_events", kind="balance", limit=1)
        assert isinstance(balances, Executed) and balances.data["matched"] >= 2
        (latest,) = balances.data["events"]
        assert {b["asset"] for b in latest["balances"]} == {"BTC", "USDT"}
        assert latest["event_type"] == "outboundAccountPosition" and balances.data["next_offset"] == 1
        elsewhere = await ask(system, "get_account_events", symbol="ETHUSDT")
        assert isinstance(elsewhere, Executed) and elsewhere.data == {"events": [], "matched": 0, "next_offset": None}
    events = [r.event for r in read_log(log) if r.kind == "account_event" and r.command_id == command_id]
    assert [(e.execution, e.status) for e in events if isinstance(e, AccountEvent)][-1] == ("TRADE", "FILLED")
    # audit list and replay take the newer fact (the call's own answer said NEW)
    assert main(["audit", "list", "--event-log", str(log), "--tool", "create_order", "--json"]) == 0
    (entry,) = json.loads(capsys.readouterr().out)
    assert entry["command_id"] == command_id and entry["result"]["status"] == "FILLED"
    assert main(["audit", "replay", "--event-log", str(log), "--json"]) == 0
    (order,) = json.loads(capsys.readouterr().out)["orders"]
    assert (order["status"], order["executed_qty"]) == ("FILLED", "0.00100000")
    assert all(isinstance(e, AccountEvent) and not e.foreign for e in events)
    assert not [r for r in read_log(log) if r.kind == "security" and r.event.event_type == "foreign_order"]


async def test_an_order_placed_elsewhere_is_flagged_foreign_at_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "events.sqlite3"
    async with subscribed(log, log_security=True) as (_, _, stream, url):
        elsewhere = BinanceClient(url, credentials=Credentials(KEY, SECRET))
        reply = await elsewhere.request(
            "POST",
            "/api/v3/order",
            {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001", "newClientOrderId": "byHand42"},
            signed=True,
        )
        await elsewhere.close()

        def flagged() -> list[Any]:
            return [r for r in read_log(log) if r.kind == "security" and r.event.event_type == "foreign_order"]

        rows = await until(stream, flagged, within_s=2.0)
    (row,) = rows
    assert isinstance(row.event, Security)
    details = row.event.details
    assert (details["symbol"], details["side"], details["client_order_id"], details["quantity"]) == (
        "BTCUSDT",
        "BUY",
        "byHand42",
        "0.00100000",
    )
    assert details["order_id"] == reply.data["orderId"]
    foreign = [r for r in read_log(log) if r.kind == "account_event" and r.command_id == row.command_id]
    assert foreign and all(isinstance(r.event, AccountEvent) and r.event.foreign for r in foreign)
    line = next(x for x in capsys.readouterr().err.splitlines() if '"foreign_order"' in x)
    assert line.startswith("SECURITY_EVENT: ") and "byHand42" in line
    assert main(["audit", "alerts", "--event-log", str(log), "--json"]) == 1
    alerts = json.loads(capsys.readouterr().out)["alerts"]
    (alert,) = [a for a in alerts if a["pattern"] == "foreign_orders"]
    assert "BTCUSDT BUY 0.00100000" in alert["summary"] and "byHand42" in alert["summary"]
    assert alert["count"] == 1 and row.command_id in alert["command_ids"]


async def test_an_order_cancelled_at_the_exchange_shows_canceled(tmp_path: Path) -> None:
    log = tmp_path / "events.sqlite3"
    async with subscribed(log) as (exchange, system, stream, _):
        placed = await ask(
            system,
            "create_order",
            symbol="BTCUSDT",
            side="BUY",
            type="LIMIT",
            quantity="0.001",
            price=str(resting_buy_price(exchange)),
        )
        assert isinstance(placed, Executed)
        command_id = next(r.command_id for r in read_log(log) if r.kind == "dispatched")
        account = exchange.engine.accounts[KEY]
        exchange.engine.cancel(account, account.orders[placed.data["orderId"]], exchange.now(), cancel_id="byHand")
        assert await until(stream, lambda: (order_status(log, command_id) or ("",))[0] == "CANCELED")
    assert not [r for r in read_log(log) if r.kind == "security"]  # the cancel names our order in C


async def test_a_fill_lost_with_a_dropped_connection_is_on_record_after_the_reconnection(tmp_path: Path) -> None:
    log = tmp_path / "events.sqlite3"
    async with subscribed(log, backoff_s=(0.05,)) as (exchange, system, stream, _):
        price = resting_buy_price(exchange)
        placed = await ask(
            system, "create_order", symbol="BTCUSDT", side="BUY", type="LIMIT", quantity="0.001", price=str(price)
        )
        assert isinstance(placed, Executed)
        command_id = next(r.command_id for r in read_log(log) if r.kind == "dispatched")
        await until(stream, lambda: order_status(log, command_id) == ("NEW", "0.00000000"))
        exchange.faults.set("ws", Fault(FaultMode.DROP, times=1))
        exchange.move_market("BTCUSDT", price - 20)  # the fill's event is lost with the connection
        assert await until(stream, lambda: order_status(log, command_id) == ("FILLED", "0.00100000"))
        assert exchange.streams.connected == 2
    rows = read_log(log)
    assert [r.kind for r in rows if r.kind.startswith("stream_")] == [
        "stream_connected",
        "stream_lost",
        "stream_connected",
    ]
    fill = [r.event for r in rows if r.kind == "account_event" and r.command_id == command_id][-1]
    assert isinstance(fill, AccountEvent) and (fill.source, fill.status) == ("rest", "FILLED")


async def test_a_foreign_order_placed_and_filled_within_a_gap_is_found_after_it(tmp_path: Path) -> None:
    log = tmp_path / "events.sqlite3"
    async with subscribed(log, backoff_s=(0.05,)) as (exchange, system, stream, _):
        own = await ask(system, "create_order", symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.001")
        assert isinstance(own, Executed)
        await until(stream, lambda: any(r.kind == "account_event" for r in read_log(log)))
        exchange.faults.set("ws", Fault(FaultMode.DROP, times=1))
        account = exchange.engine.accounts[KEY]
        from binance_mcp.exchange.paper.engine import NewOrder

        foreign = exchange.engine.place(  # placed and filled at once: its events die with the connection
            account, NewOrder(symbol="BTCUSDT", side="SELL", type="MARKET", quantity=Decimal("0.002")), exchange.now()
        )

        def flagged() -> list[Any]:
            return [r for r in read_log(log) if r.kind == "security" and r.event.event_type == "foreign_order"]

        (row,) = await until(stream, flagged)
    assert isinstance(row.event, Security)
    details = row.event.details
    assert (details["order_id"], details["status"], details["source"]) == (foreign.order_id, "FILLED", "rest")
    facts = [r.event for r in read_log(log) if r.kind == "account_event" and r.command_id == row.command_id]
    assert len(facts) == 1  # found once, though two steps of the reconciliation could see it


async def test_a_refused_subscription_is_said_and_the_server_runs_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    exchange = PaperExchange(accounts={KEY: "Another" + SECRET[7:]})  # a key that signs otherwise
    log = tmp_path / "events.sqlite3"
    async with exchange_server(exchange) as url, system_on(url, log, account_stream_url=ws_api_url(url)) as system:
        stream = streamed(system)
        await until(stream, lambda: stream.given_up)
        assert "-1022" in (stream.given_up or "")
        outcome = await ask(system, "get_ticker_price", symbol="BTCUSDT")  # the server runs on
        assert isinstance(outcome, Executed)
    assert "running on without the stream" in caplog.text
    lost = [r.event for r in read_log(log) if r.kind == "stream_lost"]
    assert len(lost) == 1 and isinstance(lost[0], StreamLost) and not lost[0].retrying
    text = log.read_bytes()
    assert SECRET.encode() not in text and b"signature" not in text


async def test_one_run_holds_an_accounts_stream_and_another_takes_over(tmp_path: Path) -> None:
    exchange = new_exchange()
    log = tmp_path / "events.sqlite3"
    async with exchange_server(exchange) as url, AsyncExitStack() as stack:
        first = await stack.enter_async_context(
            system_on(url, log, account_stream_url=ws_api_url(url), run_check_s=0.1)
        )
        await asyncio.wait_for(streamed(first).connected.wait(), 10)
        second = await stack.enter_async_context(
            system_on(url, log, account_stream_url=ws_api_url(url), run_check_s=0.1)
        )
        await ask(second, "create_order", symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.001")
        await until(streamed(first), lambda: any(r.kind == "account_event" for r in read_log(log)))
        assert not streamed(second).connected.is_set() and exchange.streams.connected == 1
        await first.stop()
        await asyncio.wait_for(streamed(second).connected.wait(), 10)
    connected = [r.event for r in read_log(log) if r.kind == "stream_connected"]
    assert [c.run for c in connected if isinstance(c, StreamConnected)] == [first.run_id, second.run_id]
    assert not [r for r in read_log(log) if r.kind == "security"]  # the second's order is its own


_VALUE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.sampled_from(["NEW", "TRADE", "FILLED", "mcp" + "0" * 32, "BTCUSDT", "1e999", "-0"]),
)
_EVENT = st.dictionaries(
    st.sampled_from(["e", "E", "s", "c", "C", "S", "o", "q", "p", "x", "X", "i", "z", "Z", "B", "a", "d", "zz"]),
    st.one_of(_VALUE, st.lists(st.dictionaries(st.sampled_from(["a", "f", "l"]), _VALUE), max_size=3)),
    max_size=12,
).map(lambda event: {**event, "e": event.get("e", "executionReport")})
_FRAME = st.one_of(
    st.text(max_size=200),
    st.builds(lambda e: json.dumps({"subscriptionId": 0, "event": e}), _EVENT),
    st.builds(json.dumps, st.lists(_VALUE, max_size=3)),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(frames=st.lists(_FRAME, min_size=1, max_size=20))
async def test_no_frame_from_the_exchange_crashes_the_stream_or_spoils_the_log(
    tmp_path_factory: pytest.TempPathFactory, frames: list[str]
) -> None:
    log = tmp_path_factory.mktemp("hostile") / "events.sqlite3"
    store = EventStore(log)
    journal = Journal(store, "paper")
    supervisor = Supervisor(lambda crash: asyncio.sleep(0))
    supervisor.start(journal)
    flagged: list[dict[str, Any]] = []

    async def flag(command_id: str, details: dict[str, Any]) -> None:
        flagged.append(details)

    client = BinanceClient("http://127.0.0.1:9", credentials=Credentials(KEY, SECRET))
    stream = AccountStream(
        url="ws://127.0.0.1:9/ws-api/v3",
        credentials=Credentials(KEY, SECRET),
        client=client,
        journal=journal,
        limiter=journal,
        log_path=log,
        venue="paper",
        run="r" * 32,
        flag=flag,
    )
    try:
        for text in frames:
            await stream.handle(Frame(text=text, connection="c" * 32), None)  # raises nothing
        await journal.record("m" * 32, "", Stopped(reason="marker"))  # durable after every event before it
        rows = read_log(log)
        events = [r for r in rows if r.kind == "account_event"]
        assert len(events) == stream.journaled  # each event on record, none lost
        assert all(isinstance(r.event, AccountEvent) for r in events)  # and each readable as what it is
        assert len(flagged) <= len(events)
        assert verify_rows(LogReader(log).rows()) is None
    finally:
        await stream.stop()
        await supervisor.stop()
        await journal.close()
        await client.close()


async def test_the_connection_is_renewed_before_its_limit_and_the_gap_reconciled(tmp_path: Path) -> None:
    exchange = new_exchange()
    log = tmp_path / "events.sqlite3"
    async with exchange_server(exchange) as url, system_on(url, log, account_stream_url=ws_api_url(url)) as system:
        stream = streamed(system)
        stream.renew_s, stream.backoff_s = 0.3, (0.01,)
        await until(stream, lambda: exchange.streams.connected >= 2 and stream.connected.is_set())
    rows = read_log(log)
    lost = [r.event for r in rows if r.kind == "stream_lost"]
    assert lost and isinstance(lost[0], StreamLost) and lost[0].reason == "renewed before the 24 h limit"
    connected = [r.event for r in rows if r.kind == "stream_connected"]
    assert [c.attempt for c in connected if isinstance(c, StreamConnected)][:2] == [1, 2]
    assert isinstance(connected[1], StreamConnected) and connected[1].gap_from_us is not None


async def test_a_clean_stop_journals_the_frames_received_before_the_runs_stopped(tmp_path: Path) -> None:
    log = tmp_path / "events.sqlite3"
    async with subscribed(log) as (exchange, _, stream, _):
        from binance_mcp.exchange.paper.engine import NewOrder

        account = exchange.engine.accounts[KEY]
        for _ in range(40):  # a burst the stream is still reading when the stop comes
            req = NewOrder(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=Decimal("0.001"))
            exchange.engine.place(account, req, exchange.now())
        await until(stream, lambda: stream.depth > 0 or stream.journaled > 0)
    rows = read_log(log)
    stopped = next(r.seq for r in rows if r.kind == "stopped")
    streamed_rows = [r for r in rows if r.kind == "account_event"]
    assert streamed_rows and all(r.seq < stopped for r in streamed_rows)
    assert len(streamed_rows) == stream.journaled  # every frame taken from the socket is on record


async def test_a_password_in_the_stream_url_never_reaches_the_log(tmp_path: Path) -> None:
    exchange = new_exchange()
    log = tmp_path / "events.sqlite3"
    async with exchange_server(exchange) as url:
        secret_url = ws_api_url(url).replace("ws://", "ws://someone:Hunter2Pass@") + "?token=Q9secretQ9"
        async with system_on(url, log, account_stream_url=secret_url) as system:
            await asyncio.wait_for(streamed(system).connected.wait(), 10)
    text = log.read_bytes()
    assert b"stream_connected" in text
    assert b"Hunter2Pass" not in text and b"Q9secretQ9" not in text and b"someone" not in text
