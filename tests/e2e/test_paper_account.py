"""The log's paper account lasts and is shared as a real one: `serve` twice on one log continues one
account; two hosts at once trade the same one; when the host holding the exchange goes, another
takes it over and nothing is lost."""

from __future__ import annotations

import asyncio
import json
import os
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from binance_mcp.events.chain import verify_rows
from binance_mcp.events.schema import PaperReset, Started
from binance_mcp.events.store import LogReader
from binance_mcp.server import main

from ..logs import read_log
from .conftest import closed, line_with
from .test_crash import answer, rpc, serve, started


def paper_env(log: Path) -> dict[str, str]:
    """`serve` on the log's own paper account: no keys, nothing of the test's BINANCE_*/MCP_*."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("BINANCE_", "MCP_"))}
    return {**base, "MCP_EVENT_LOG": str(log), "MCP_LOG_SECURITY": "false", "MCP_RUN_CHECK_S": "1"}


class Host:
    """One MCP host: a `serve` over stdio, spoken to in JSON-RPC."""

    def __init__(self, proc: asyncio.subprocess.Process):
        self.proc = proc
        self.next_id = 10

    @classmethod
    async def open(cls, log: Path) -> Host:
        proc = await serve(paper_env(log))
        await started(proc)
        return cls(proc)

    async def call(self, tool: str, **args: Any) -> Any:
        self.next_id += 1
        await rpc(self.proc, {"id": self.next_id, "method": "tools/call", "params": {"name": tool, "arguments": args}})
        found = (await answer(self.proc))["result"]["structuredContent"]
        assert found["success"], found
        return found["data"]

    async def resting_buy(self) -> dict[str, Any]:
        """A LIMIT buy 1% under the best bid: it rests (and PERCENT_PRICE takes it)."""
        book = await self.call("get_order_book", symbol="BTCUSDT", limit=5)
        price = (Decimal(book["bids"][0][0]) * Decimal("0.99")).quantize(Decimal("0.01"))
        placed = await self.call(
            "create_order", symbol="BTCUSDT", side="BUY", type="LIMIT", quantity="0.001", price=str(price)
        )
        assert placed["status"] == "NEW"
        return dict(placed)

    async def close(self) -> str:
        """Its host goes away; what it said on stderr."""
        assert await closed(self.proc) == 0
        assert self.proc.stderr is not None
        return (await self.proc.stderr.read()).decode()


async def rerun_differences(log: Path, capsys: Any) -> list[Any]:
    """What an unchanged re-run of the log (`audit replay --execute`) finds different."""
    capsys.readouterr()
    out = log.with_name("rerun.sqlite3")
    argv = ["audit", "replay", "--execute", "--json", "--event-log", str(log), "--out", str(out)]
    await asyncio.to_thread(main, argv)
    report = json.loads(capsys.readouterr().out)
    assert report["replayed"] > 0
    return list(report["differences"])


def moved_aside(state: Path, moved_to: Path) -> bool:
    """The reset folder is gone from its place and kept whole in another (nothing deleted)."""
    return not state.exists() and (moved_to / "paper.sqlite3").is_file()


def orders_view(log: Path) -> list[tuple[Any, ...]]:
    reader = LogReader(log)
    try:
        return reader.query("SELECT order_id, status, account FROM orders ORDER BY dispatched_us").fetchall()
    finally:
        reader.close()


async def test_serve_twice_on_one_log_continues_one_paper_account(tmp_path: Path, capsys: Any) -> None:
    log = tmp_path / "events.sqlite3"
    first = await Host.open(log)
    a1, a2 = await first.resting_buy(), await first.resting_buy()
    await first.call("cancel_order", symbol="BTCUSDT", order_id=a1["orderId"])
    usdt = (await first.call("get_balance", asset="USDT"))["balances"]
    said_first = await first.close()

    second = await Host.open(log)
    opens = await second.call("get_open_orders", symbol="BTCUSDT")
    assert [o["orderId"] for o in opens] == [a2["orderId"]]  # the first run's resting order, still there
    assert (await second.call("get_balance", asset="USDT"))["balances"] == usdt  # its funds still locked
    a3 = await second.resting_buy()
    assert a3["orderId"] == a2["orderId"] + 1  # the order ids go on
    await second.call("cancel_order", symbol="BTCUSDT", order_id=a2["orderId"])
    said_second = await second.close()

    assert "not found on this account" not in said_first + said_second
    rows = orders_view(log)
    assert [(r[0], r[1]) for r in rows] == [
        (a1["orderId"], "CANCELED"),
        (a2["orderId"], "CANCELED"),
        (a3["orderId"], "NEW"),
    ]
    assert len({r[2] for r in rows}) == 1  # one account
    runs = [r.event for r in read_log(log) if r.kind == "started"]
    assert len({r.account.id for r in runs if isinstance(r, Started) and r.account}) == 1
    capsys.readouterr()
    assert await asyncio.to_thread(main, ["audit", "stats", "--json", "--event-log", str(log)]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert {(o["status"], o["orders"]) for o in stats["orders"]} == {("CANCELED", 2), ("NEW", 1)}
    assert verify_rows(read_log(log)) is None
    assert await rerun_differences(log, capsys) == []  # both runs on one fresh paper account


async def test_two_hosts_trade_one_paper_account_and_one_takes_over_when_the_other_goes(
    tmp_path: Path, capsys: Any
) -> None:
    log = tmp_path / "events.sqlite3"
    a = await Host.open(log)  # holds the exchange
    b = await Host.open(log)  # reaches it
    placed = await a.resting_buy()
    seen = await b.call("get_open_orders", symbol="BTCUSDT")
    assert [o["clientOrderId"] for o in seen] == [placed["clientOrderId"]]
    b_placed = await b.resting_buy()
    assert b_placed["orderId"] == placed["orderId"] + 1  # one exchange: one sequence of ids
    await a.close()  # the holder's host goes: b takes the exchange over, with everything on it
    await line_with(b.proc, "this process holds it now")
    opens = await b.call("get_open_orders", symbol="BTCUSDT")
    assert sorted(o["orderId"] for o in opens) == [placed["orderId"], b_placed["orderId"]]
    await b.call("cancel_order", symbol="BTCUSDT", order_id=placed["orderId"])  # a's order, from b
    await b.close()
    assert verify_rows(read_log(log)) is None
    assert await rerun_differences(log, capsys) == []
    assert [(r[0], r[1]) for r in orders_view(log)] == [(placed["orderId"], "CANCELED"), (b_placed["orderId"], "NEW")]


async def test_paper_reset_starts_a_new_account_on_purpose_and_is_on_record(tmp_path: Path) -> None:
    log = tmp_path / "events.sqlite3"
    host = await Host.open(log)
    await host.resting_buy()
    refused = await asyncio.to_thread(main, ["paper", "reset", "--event-log", str(log)])
    assert refused == 2  # a server holds the account: stop it first
    await host.close()
    assert await asyncio.to_thread(main, ["paper", "reset", "--event-log", str(log), "--reason", "new week"]) == 0
    (reset,) = [r.event for r in read_log(log) if r.kind == "paper_reset"]
    assert isinstance(reset, PaperReset) and reset.reason == "new week"
    assert await asyncio.to_thread(moved_aside, Path(reset.state), Path(reset.moved_to))
    again = await Host.open(log)
    assert await again.call("get_open_orders", symbol="BTCUSDT") == []
    await again.close()
    accounts = [r.event.account for r in read_log(log) if r.kind == "started" and isinstance(r.event, Started)]
    assert len({a.id for a in accounts if a}) == 2 and reset.account == accounts[0].id


async def test_halt_and_crosscheck_reach_the_logs_paper_account(
    tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    log = tmp_path / "events.sqlite3"
    for name in [n for n in os.environ if n.startswith(("BINANCE_", "MCP_"))]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("MCP_EVENT_LOG", str(log))
    host = await Host.open(log)  # serves the paper account
    placed = await host.resting_buy()
    capsys.readouterr()
    assert await asyncio.to_thread(main, ["audit", "crosscheck", "--since", "1h", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["dispatched_compared"] == 1 and report["not_placed_by_this_server"] == []
    assert await asyncio.to_thread(main, ["halt", "--cancel-open-orders", "--reason", "drill"]) == 0
    said = capsys.readouterr()
    assert f"1 cancelled: {placed['clientOrderId']}" in said.out
    # its own run does not announce the halt it throws (a stray line on stderr, where logs go)
    assert "trading is halted on this event log" not in said.err + caplog.text
    assert await host.call("get_open_orders", symbol="BTCUSDT") == []  # taken off the book the host trades on
    await host.close()
    assert await asyncio.to_thread(main, ["resume"]) == 0
    assert [(r[0], r[1]) for r in orders_view(log)] == [(placed["orderId"], "CANCELED")]
