"""The start-up fold: pure over events; the same log gives the same state, in one go or in parts."""

from __future__ import annotations

import json
from decimal import Decimal as D
from typing import Any

import msgspec

from binance_mcp.actors.guard import Ledger
from binance_mcp.events.lifecycle import NEXT, TERMINAL_KINDS, illegal_move
from binance_mcp.events.outcomes import Executed, Rejected
from binance_mcp.events.replay import (
    DAY_MS,
    Fold,
    Move,
    RecordedMarket,
    account_balances,
    difference,
    outcome_signature,
)
from binance_mcp.events.schema import Logged
from tests.logs import dispatched

NOW = 2_000 * DAY_MS
Row = tuple[int, int, str, str, str, str]


def log(*steps: tuple[str, str, str, dict[str, Any], int]) -> list[Row]:
    """(command id, kind, tool, body, ms) → rows with seq and µs timestamps."""
    return [
        (i + 1, ms * 1000, cid, kind, tool, json.dumps(body)) for i, (cid, kind, tool, body, ms) in enumerate(steps)
    ]


def order(
    cid: str, notional: str, ms: int, *then: tuple[str, dict[str, Any]]
) -> list[tuple[str, str, str, dict[str, Any], int]]:
    dispatch = msgspec.to_builtins(dispatched("BTCUSDT", f"mcp{cid}", D(notional)))
    steps = [(cid, "received", "create_order", {}, ms), (cid, "dispatched", "create_order", dispatch, ms)]
    return steps + [(cid, kind, "create_order", body, ms) for kind, body in then]


ROWS = log(
    *order("filled", "100", NOW - 1000, ("executed", {})),
    *order("refused", "200", NOW - 900, ("failed", {})),
    *order("lost", "300", NOW - 800, ("unknown", {})),
    *order("lost-not-placed", "400", NOW - 700, ("unknown", {}), ("reconciled", {"placed": False})),
    *order("lost-placed", "500", NOW - 600, ("unknown", {}), ("reconciled", {"placed": True})),
    *order("killed", "600", NOW - 500),
    *order("yesterday", "700", NOW - DAY_MS - 1, ("executed", {})),
    ("read", "received", "get_ticker_price", {}, NOW - 400),
    ("read", "executed", "get_ticker_price", {}, NOW - 400),
    ("half", "received", "cancel_order", {}, NOW - 300),
    ("asking", "received", "cancel_order", {}, NOW - 200),
    ("asking", "confirmation_requested", "cancel_order", {}, NOW - 200),
    ("system", "security", "", {}, NOW - 100),
)


def fold(rows: list[Row]) -> Fold:
    f = Fold()
    for row in rows:
        f.apply(Logged.of(row))
    return f


def ledger(rows: list[Row]) -> Ledger:
    """The guard's daily notional, folded from the same events as start-up folds it."""
    folded = Ledger()
    for row in rows:
        folded.apply(Logged.of(row), counting=False)
    return folded


def state(f: Fold, daily: Ledger) -> tuple[Any, ...]:
    unresolved = sorted((p.command_id, p.finished, p.client_order_id) for p in f.unresolved())
    counted = sorted(daily.daily.counted(NOW))
    return f.order_times(NOW), counted, unresolved, sorted(f.interrupted()), f.anomalies


def test_what_the_actors_get_back_from_the_log() -> None:
    f, notional = fold(ROWS), ledger(ROWS).daily.counted(NOW)
    assert f.order_times(NOW) == [NOW - 1000, NOW - 900, NOW - 800, NOW - 700, NOW - 600, NOW - 500]
    assert {str(v) for _, _, v in notional} == {"100", "300", "500", "600"}  # not refused nor not placed
    assert all(asset == "USDT" for _, asset, _ in notional)
    assert sorted((p.command_id, p.finished) for p in f.unresolved()) == [("killed", False), ("lost", True)]
    assert next(p for p in f.unresolved() if p.command_id == "lost").client_order_id == "mcplost"
    assert sorted(f.interrupted()) == [("asking", "cancel_order"), ("half", "cancel_order")]
    assert f.anomalies == []
    assert sum(v for _, _, v in notional) == D(1500)


def test_folding_in_parts_gives_the_same_state_as_folding_at_once() -> None:
    whole = state(fold(ROWS), ledger(ROWS))
    for cut in range(len(ROWS) + 1):
        f, daily = Fold(), Ledger()
        for row in ROWS[:cut]:
            f.apply(Logged.of(row))
            daily.apply(Logged.of(row), counting=False)
        for row in ROWS[cut:]:
            f.apply(Logged.of(row))
            daily.apply(Logged.of(row), counting=False)
        assert state(f, daily) == whole


def test_moves_the_lifecycle_forbids_are_reported() -> None:
    f = fold(
        log(
            ("a", "executed", "get_ticker_price", {}, NOW),
            ("b", "received", "create_order", {}, NOW),
            ("b", "executed", "create_order", {}, NOW),
            ("b", "dispatched", "create_order", {"symbol": "X"}, NOW),
        )
    )
    assert [(seq, cid) for seq, cid, _ in f.anomalies] == [(1, "a"), (4, "b")]
    assert f.anomalies[1][2] == "dispatched after executed"


def test_the_lifecycle_table() -> None:
    assert not illegal_move(None, "received") and illegal_move(None, "executed")
    assert not illegal_move("received", "dispatched") and not illegal_move("dispatched", "unknown")
    assert not illegal_move("unknown", "reconciled") and illegal_move("executed", "reconciled")
    assert illegal_move("confirmation_requested", "dispatched")  # never without `confirmed`
    assert not illegal_move("confirmation_requested", "confirmed") and not illegal_move("confirmed", "dispatched")
    assert not illegal_move("executed", "security")
    for terminal in TERMINAL_KINDS:
        assert terminal in NEXT["dispatched"] or terminal in NEXT["received"]
        assert NEXT[terminal] == (frozenset({"reconciled"}) if terminal == "unknown" else frozenset())


# -- comparing outcomes and the recorded market (`audit replay --execute`) --------------------
def test_an_orders_signature_has_its_executed_quantity_unless_it_was_sized_in_quote() -> None:
    sized = Executed(data={"status": "FILLED", "executedQty": "0.00100000", "origQuoteOrderQty": "0.00000000"})
    in_quote = Executed(data={"status": "FILLED", "executedQty": "0.00171000", "origQuoteOrderQty": "100.00000000"})
    assert outcome_signature("executed", sized) == {"outcome": "executed", "status": "FILLED", "executed": "0.001"}
    assert outcome_signature("executed", in_quote) == {"outcome": "executed", "status": "FILLED"}
    partly = Executed(data={"status": "FILLED", "executedQty": "0.0005", "origQuoteOrderQty": "0"})
    assert difference(outcome_signature("executed", sized), outcome_signature("executed", partly)) == "executed"
    refused = outcome_signature("rejected", Rejected(kind="guard_limit", message="over the cap"))
    assert refused == {"outcome": "rejected", "type": "guard_limit"}
    assert difference(outcome_signature("executed", sized), refused) == "outcome"


def test_the_recorded_market_is_what_each_command_met() -> None:
    market = RecordedMarket()
    tickers = Executed(data=[{"symbol": "BTCUSDT", "price": "70000.00"}, {"symbol": "ETHUSDT", "price": "2500.5"}])
    assert market.moves("get_ticker_price", {}, tickers, None) == [
        Move("BTCUSDT", D("70000.00")),
        Move("ETHUSDT", D("2500.5")),
    ]
    book = Executed(data={"bids": [["69990.00", "1"]], "asks": [["70010.00", "2"]]})
    assert market.moves("get_order_book", {"symbol": "btc/usdt"}, book, None) == [Move("BTCUSDT", D("70000.00"))]
    trades = Executed(data=[{"price": "69000"}, {"price": "69100"}])
    assert market.moves("get_recent_trades", {"symbol": "BTCUSDT"}, trades, None) == [Move("BTCUSDT", D("69100"))]
    fill = Executed(data={"symbol": "BTCUSDT", "side": "SELL", "executedQty": "2", "cummulativeQuoteQty": "138000"})
    assert market.moves("create_order", {}, fill, None) == [Move("BTCUSDT", D(69000), "bid")]
    # An order that met no fill: its checked average price only where nothing closer is known.
    rested = Executed(data={"symbol": "BTCUSDT", "side": "BUY", "executedQty": "0", "cummulativeQuoteQty": "0"})
    checked = dispatched("BTCUSDT", ref_price=D(68000))
    assert market.moves("create_order", {}, rested, checked) == []
    assert market.moves("create_order", {}, rested, dispatched("SOLUSDT", ref_price=D(68000))) == [
        Move("SOLUSDT", D(68000))
    ]
    assert market.moves("get_ticker_price", {}, Rejected(kind="validation_error", message="no"), None) == []
    assert market.known == {"BTCUSDT": D(69000), "ETHUSDT": D("2500.5"), "SOLUSDT": D(68000)}


def test_only_a_whole_account_balance_read_pictures_the_account() -> None:
    whole = {"balances": [{"asset": "BTC", "free": "0.5", "locked": "0"}, {"asset": "USDT", "free": "100.25"}]}
    assert account_balances({}, whole) == {"BTC": D("0.5"), "USDT": D("100.25")}
    assert account_balances({"asset": "BTC"}, whole) is None  # one asset: not a picture of the account
    assert account_balances({}, {"accountType": "SPOT"}) is None
    assert account_balances({}, None) is None
