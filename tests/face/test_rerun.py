"""`audit replay --execute`: a paper session re-run with unchanged settings is the same; with a
tightened guard exactly the orders it stops differ; what cannot be replayed is reported; only ever
a fresh paper exchange."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

from binance_mcp.actors.system import new_envelope
from binance_mcp.events.chain import Event
from binance_mcp.events.outcomes import Executed, Throttled
from binance_mcp.events.schema import Received, Started
from binance_mcp.events.store import EventStore
from binance_mcp.server import main
from tests.actors.conftest import build
from tests.logs import read_log


def _run(args: list[str]) -> tuple[int, str]:
    with contextlib.redirect_stdout(io.StringIO()) as out:
        code = main(args)
    return code, out.getvalue()


async def test_a_re_run_is_the_same_and_a_tighter_guard_stops_exactly_the_big_orders(tmp_path: Path) -> None:
    small = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001"}  # about 58 USDT
    big = {**small, "quantity": "0.01"}  # about 580 USDT
    async with build(tmp_path) as h:
        for tool, args in (
            ("get_ticker_price", {"symbol": "BTCUSDT"}),
            ("create_order", small),
            ("create_order", big),
            ("get_order_book", {"symbol": "BTCUSDT", "limit": 7}),  # rejected then and now
            ("create_order", {**small, "side": "SELL"}),
            ("withdraw_all", {}),  # a made-up tool: not replayable
        ):
            await h.call(tool, **args)
        await h.system.ask(new_envelope("get_balance", {"_omitted": "over 16 KiB"}, 20_000))
    source = str(h.log)
    code, out = await asyncio.to_thread(
        _run, ["audit", "replay", "--execute", "--json", "--event-log", source, "--out", str(tmp_path / "a.sqlite3")]
    )
    same = json.loads(out)
    assert code == 0 and same["different"] == 0 and same["replayed"] == 5 and same["same"] == 5
    assert [e["why"] for e in same["not_replayable"]] == ["unknown tool", "its arguments are not in the log"]
    assert "nobody to ask" in same["confirmations"]
    tight = ["--set", "MCP_MAX_ORDER_NOTIONAL=100"]
    code, out = await asyncio.to_thread(
        _run,
        ["audit", "replay", "--execute", "--json", "--event-log", source, "--out", str(tmp_path / "b.sqlite3"), *tight],
    )
    report: dict[str, Any] = json.loads(out)
    assert code == 1 and report["different"] == 1 and report["by_difference"] == {"outcome": 1}
    (stopped,) = report["differences"]
    assert stopped["args"] == big
    assert stopped["original"] == {"outcome": "executed", "status": "FILLED", "executed": "0.01"}
    assert stopped["rerun"] == {"outcome": "rejected", "type": "guard_limit"}
    # "Had only ETHUSDT been allowed": every BTCUSDT order is stopped, and nothing else changes.
    code, allow = await asyncio.to_thread(
        _replay, h.log, tmp_path / "c.sqlite3", "--set", "MCP_SYMBOL_ALLOWLIST=ETHUSDT"
    )
    assert code == 1 and allow["different"] == 3 and allow["same"] == 2
    assert {d["rerun"]["type"] for d in allow["differences"]} == {"symbol_not_allowed"}
    assert {d["tool"] for d in allow["differences"]} == {"create_order"}
    # The new log is a normal event log, and its run says what it replays.
    assert _run(["audit", "verify", "--event-log", str(tmp_path / "b.sqlite3")])[0] == 0
    (started,) = [r.event for r in read_log(tmp_path / "b.sqlite3") if r.kind == "started"]
    assert isinstance(started, Started) and started.replay_of == source
    assert started.set == {"MCP_MAX_ORDER_NOTIONAL": "100"}


async def test_a_re_run_never_leaves_the_paper_venue(tmp_path: Path) -> None:
    async with build(tmp_path) as h:
        await h.call("get_ticker_price", symbol="BTCUSDT")
    for bad in ("BINANCE_VENUE=live", "BINANCE_BASE_URL=https://api.binance.com", "MCP_EVENT_LOG=/tmp/x"):
        args = ["audit", "replay", "--execute", "--event-log", str(h.log), "--out", str(tmp_path / "c.sqlite3")]
        code, _ = await asyncio.to_thread(_run, [*args, "--set", bad])
        assert code == 2
    assert not (tmp_path / "c.sqlite3").exists()


def _replay(source: Path, out: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    code, text = _run(["audit", "replay", "--execute", "--json", "--event-log", str(source), "--out", str(out), *extra])
    return code, json.loads(text)


def _fills(log: Path) -> list[Decimal]:
    """The average fill price of each order a log's create_order calls executed, in order."""
    with sqlite3.connect(log) as conn:
        bodies = conn.execute("SELECT body FROM events WHERE kind = 'executed' AND tool = 'create_order' ORDER BY seq")
        data = [json.loads(b)["data"] for (b,) in bodies]
    return [Decimal(d["cummulativeQuoteQty"]) / Decimal(d["executedQty"]) for d in data if Decimal(d["executedQty"])]


async def test_the_re_run_moves_the_paper_market_to_the_prices_the_log_recorded(tmp_path: Path) -> None:
    """The original market went to 70,000 and down to 68,500; a fresh paper market starts near
    58,000, where the LIMIT BUY at 69,000 would fill at once. Moved to the recorded prices, each
    order rests or fills as it did, and the MARKET orders fill near the prices they met."""
    buy = {"symbol": "BTCUSDT", "side": "BUY", "quantity": "0.001"}
    async with build(tmp_path) as h:
        h.exchange.move_market("BTCUSDT", Decimal(70_000))
        assert isinstance(await h.call("get_ticker_price", symbol="BTCUSDT"), Executed)
        resting = await h.call("create_order", **buy, type="LIMIT", time_in_force="GTC", price="69000")
        assert isinstance(resting, Executed) and resting.data["status"] == "NEW"
        assert isinstance(await h.call("create_order", **buy, type="MARKET"), Executed)
        h.exchange.move_market("BTCUSDT", Decimal(68_500))  # through the resting BUY: it fills
        assert isinstance(await h.call("get_book_ticker", symbol="BTCUSDT"), Executed)
        got = await h.call("get_order", symbol="BTCUSDT", order_id=resting.data["orderId"])
        assert isinstance(got, Executed) and got.data["status"] == "FILLED"
        sell = await h.call("create_order", **{**buy, "side": "SELL"}, type="MARKET")
        assert isinstance(sell, Executed) and sell.data["status"] == "FILLED"
    code, report = await asyncio.to_thread(_replay, h.log, tmp_path / "again.sqlite3")
    assert (code, report["different"], report["replayed"]) == (0, 0, 6), report["differences"]
    original, again = _fills(h.log), _fills(tmp_path / "again.sqlite3")
    assert len(original) == len(again) == 2
    for then, now in zip(original, again, strict=True):
        assert abs(now / then - 1) < Decimal("0.0001"), (then, now)  # within a hundredth of a percent


async def test_rate_limits_follow_the_logs_clock(tmp_path: Path) -> None:
    """A day and a half of calls 10 minutes apart under a budget of 2 a minute, and one burst:
    replayed in moments, only the burst's third call is throttled, as it was."""
    now = [1_790_000_000_000]
    async with build(tmp_path, calls_per_minute=2, clock_ms=lambda: now[0]) as h:
        for _ in range(200):
            now[0] += 600_000
            assert isinstance(await h.call("get_ticker_price", symbol="ETHUSDT"), Executed)
        now[0] += 600_000
        burst = [await h.call("get_ticker_price", symbol="BTCUSDT") for _ in range(3)]
        assert [type(o) for o in burst] == [Executed, Executed, Throttled]
    code, report = await asyncio.to_thread(_replay, h.log, tmp_path / "again.sqlite3")
    assert (code, report["replayed"], report["same"]) == (0, 203, 203), report["differences"]
    with sqlite3.connect(tmp_path / "again.sqlite3") as conn:
        assert conn.execute("SELECT count(*) FROM events WHERE kind = 'throttled'").fetchone() == (1,)
        (first_us,) = conn.execute("SELECT min(ts) FROM events WHERE kind = 'received'").fetchone()
    assert first_us == 1_790_000_600_000 * 1000  # the new log carries the original's times


async def test_a_malformed_command_is_not_replayable_and_the_rest_replays(tmp_path: Path) -> None:
    async with build(tmp_path) as h:
        await h.call("get_ticker_price", symbol="BTCUSDT")
    store = EventStore(h.log)
    ts = store.conn.execute("SELECT max(ts) FROM events").fetchone()[0] + 1
    store.append_batch(  # a `received` whose arguments are not an object, as no server of ours writes
        [
            Event(ts, "01bad", "received", "get_ticker_price", "paper", '{"args":"BTCUSDT"}'),
            Event(ts, "01bad", "rejected", "get_ticker_price", "paper", '{"kind":"validation_error"}'),
        ]
    )
    store.close()
    code, report = await asyncio.to_thread(_replay, h.log, tmp_path / "again.sqlite3")
    assert (code, report["replayed"], report["same"]) == (0, 1, 1)
    assert report["not_replayable"] == [
        {"command_id": "01bad", "tool": "get_ticker_price", "why": "its arguments are not in the log"}
    ]


async def test_an_unchanged_re_run_finds_the_same_orders_by_client_id_and_by_order_id(tmp_path: Path) -> None:
    """The re-run's orders have their own client order ids and order ids: each later command that
    names an original order (cancel, lookup, trades) is pointed at the re-run's, so nothing differs."""
    resting = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.001", "price": "40000"}
    market = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001"}
    # The original's exchange had numbered many orders before (a real one has): its ids are not the
    # re-run's fresh exchange's.
    async with build(tmp_path, prepare=lambda exchange: setattr(exchange.engine, "_next_order_id", 7000)) as h:
        by_client = await h.call("create_order", **resting)
        by_id = await h.call("create_order", **{**resting, "price": "41000"})
        filled = await h.call("create_order", **market)
        assert isinstance(by_client, Executed) and isinstance(by_id, Executed) and isinstance(filled, Executed)
        client_id, order_id = by_client.data["clientOrderId"], by_id.data["orderId"]
        for tool, args in (
            ("get_order", {"symbol": "BTCUSDT", "client_order_id": client_id}),
            ("cancel_order", {"symbol": "btc/usdt", "client_order_id": client_id}),
            ("get_order", {"symbol": "BTCUSDT", "order_id": order_id}),
            ("cancel_order", {"symbol": "BTCUSDT", "order_id": order_id}),
            ("get_order", {"symbol": "BTCUSDT", "order_id": order_id}),  # CANCELED now
            ("get_my_trades", {"symbol": "BTCUSDT", "order_id": filled.data["orderId"]}),
        ):
            assert isinstance(await h.call(tool, **args), Executed), (tool, args)
    assert order_id >= 7000
    code, report = await asyncio.to_thread(_replay, h.log, tmp_path / "again.sqlite3")
    assert (code, report["different"], report["same"]) == (0, 0, 9), report["differences"]
    rows = [r for r in read_log(tmp_path / "again.sqlite3") if r.kind == "received" and r.tool == "cancel_order"]
    sent = [r.event.args.get("client_order_id") for r in rows if isinstance(r.event, Received)]
    assert sent[0] != client_id and sent[0].startswith("mcp")  # the re-run's own order, not the original's


async def test_a_re_run_applies_what_applied_then_a_tokens_scope_and_the_halt_switch(tmp_path: Path) -> None:
    """A create_order refused `forbidden` (a read token) and one refused `trading_halted` re-run as
    refused, not FILLED: the scope is in its `received`, the halt and resume are applied in order."""
    from binance_mcp.events.schema import Halted, Resumed
    from binance_mcp.face.halt import append_alone, who

    order = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001"}
    async with build(tmp_path) as h:
        read_only = await h.system.ask(new_envelope("create_order", order, 80, scopes=frozenset({"read"})))
        assert getattr(read_only, "kind", None) == "forbidden"
        append_alone(h.log, Halted(**who("drill")), "paper")
        h.system.catch_up()
        halted = await h.call("create_order", **order)
        assert getattr(halted, "kind", None) == "trading_halted"
        append_alone(h.log, Resumed(**who("over")), "paper")
        h.system.catch_up()
        assert isinstance(await h.call("create_order", **order), Executed)
    out_log = tmp_path / "rerun.sqlite3"
    code, out = await asyncio.to_thread(
        _run, ["audit", "replay", "--execute", "--json", "--event-log", str(h.log), "--out", str(out_log)]
    )
    report = json.loads(out)
    assert code == 0 and report["different"] == 0 and report["replayed"] == 3, report["differences"]
    kinds = [r.kind for r in read_log(out_log) if r.kind in ("halted", "resumed")]
    assert kinds == ["halted", "resumed"]  # on the re-run's own record, as they were
