"""`audit replay`'s fold against a scripted paper session: orders filled, resting then cancelled,
partly filled, unknown then reconciled; balances read and implied; any split of the log folds to
the same state."""

from __future__ import annotations

import contextlib
import io
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from binance_mcp.events.outcomes import Executed, Unknown
from binance_mcp.events.replay import Fold, replay_state
from binance_mcp.exchange.paper import Fault, FaultMode
from binance_mcp.server import main

from ..logs import LogRow, read_log
from .conftest import KEY, exchange_server, new_exchange, system_on
from .test_trading import BUY, call

FAST = {"reconcile_backoff_s": (0.05,) * 60, "reconcile_margin_ms": 100}


def rows(log: Path) -> list[LogRow]:
    return read_log(log)


def fold(events: list[LogRow]) -> dict[str, Any]:
    f = Fold(account=True)
    for event in events:
        f.apply(event.logged())
    return replay_state(f)


async def test_the_fold_of_a_scripted_session(tmp_path: Path) -> None:
    exchange = new_exchange()
    log = tmp_path / "events.sqlite3"
    async with exchange_server(exchange) as url, system_on(url, log, **FAST) as system:
        assert isinstance((await call(system, "get_balance"))[1], Executed)  # the full read
        _, filled = await call(system, "create_order", **BUY)
        _, read = await call(system, "get_balance")  # a second full read, after the first fill
        assert isinstance(read, Executed)
        at_read = {b["asset"]: Decimal(b["free"]) for b in read.data["balances"]}
        _, book = await call(system, "get_order_book", symbol="BTCUSDT", limit=5)
        assert isinstance(filled, Executed) and isinstance(book, Executed)
        best_ask, ask_qty = (Decimal(v) for v in book.data["asks"][0])
        ioc = {**BUY, "type": "LIMIT", "time_in_force": "IOC", "price": f"{best_ask:f}", "quantity": f"{ask_qty * 2:f}"}
        _, partial = await call(system, "create_order", **ioc)  # takes the best level, the rest expires
        assert isinstance(partial, Executed) and partial.data["status"] == "EXPIRED"
        resting_price = f"{int(best_ask * Decimal('0.9'))}"
        _, resting = await call(system, "create_order", **{**BUY, "type": "LIMIT", "price": resting_price})
        assert isinstance(resting, Executed) and resting.data["status"] == "NEW"
        assert isinstance(
            (await call(system, "cancel_order", symbol="BTCUSDT", order_id=resting.data["orderId"]))[1], Executed
        )
        exchange.faults.set("POST /api/v3/order", Fault(FaultMode.DROP, times=1))
        lost_id, lost = await call(system, "create_order", **BUY)
        assert isinstance(lost, Unknown)
        await system.reconciler.tasks[lost_id]
        await call(system, "get_balance", asset="BTC")  # one asset: not the picture of the account
    events = rows(log)
    state = fold(events)
    by_status = sorted((o["type"], o["status"]) for o in state["orders"])
    assert by_status == [("LIMIT", "CANCELED"), ("LIMIT", "EXPIRED"), ("MARKET", "FILLED"), ("MARKET", "FILLED")]
    expired = next(o for o in state["orders"] if o["status"] == "EXPIRED")
    assert Decimal(expired["executed_qty"]) == Decimal(partial.data["executedQty"]) > 0
    bought = sum(Decimal(o["executed_qty"]) for o in state["orders"])
    paid = sum(Decimal(o["quote_qty"]) for o in state["orders"])
    assert Decimal(state["flows"]["BTCUSDT"]["base"]) == bought and Decimal(state["flows"]["BTCUSDT"]["quote"]) == -paid
    balances = state["balances"]
    assert {a: Decimal(v) for a, v in balances["read"].items()} == at_read
    # The fills after that read move it (commissions aside); the first fill is in the read already.
    first_qty, first_quote = Decimal(filled.data["executedQty"]), Decimal(filled.data["cummulativeQuoteQty"])
    assert Decimal(balances["implied"]["BTC"]) == at_read["BTC"] + bought - first_qty
    assert Decimal(balances["implied"]["USDT"]) == at_read["USDT"] - (paid - first_quote)
    assert state["counts"]["create_order"] == {"executed": 3, "unknown": 1}
    assert state["unresolved"] == [] and state["anomalies"] == 0
    assert state["session"] is None  # an in-process system has no MCP session
    # The same log and point give the same state; any split folds to the same state as the whole.
    for cut in range(0, len(events) + 1, 3):
        f = Fold(account=True)
        for event in events[:cut]:
            f.apply(event.logged())
        for event in events[cut:]:
            f.apply(event.logged())
        assert replay_state(f) == state
    # As of an earlier point: before the lost order was dispatched.
    lost_seq = next(r.seq for r in events if r.command_id == lost_id)
    earlier = fold([r for r in events if r.seq < lost_seq])
    assert len(earlier["orders"]) == 3 and earlier["as_of"]["seq"] == lost_seq - 1
    with contextlib.redirect_stdout(io.StringIO()) as out:
        assert main(["audit", "replay", "--event-log", str(log), "--until", str(lost_seq - 1), "--json"]) == 0
    printed = json.loads(out.getvalue())
    assert printed.pop("accounts") == [f"paper:{exchange.engine.accounts[KEY].uid}"]  # whose state it is
    assert printed == earlier
