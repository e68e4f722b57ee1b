"""`audit replay --execute`: a paper session re-run with unchanged settings is the same; with a
tightened guard exactly the orders it stops differ; what cannot be replayed is reported; only ever
a fresh paper exchange."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import sqlite3
from pathlib import Path
from typing import Any

from binance_mcp.actors.system import new_envelope
from binance_mcp.server import main
from tests.actors.conftest import build


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
    assert stopped["args"] == big and stopped["original"] == {"outcome": "executed", "status": "FILLED"}
    assert stopped["rerun"] == {"outcome": "rejected", "type": "guard_limit"}
    # The new log is a normal event log, and its run says what it replays.
    assert _run(["audit", "verify", "--event-log", str(tmp_path / "b.sqlite3")])[0] == 0
    with sqlite3.connect(tmp_path / "b.sqlite3") as conn:
        (started,) = conn.execute("SELECT body FROM events WHERE kind = 'started'").fetchone()
    assert json.loads(started)["replay_of"] == source and json.loads(started)["set"] == {
        "MCP_MAX_ORDER_NOTIONAL": "100"
    }


async def test_a_re_run_never_leaves_the_paper_venue(tmp_path: Path) -> None:
    async with build(tmp_path) as h:
        await h.call("get_ticker_price", symbol="BTCUSDT")
    for bad in ("BINANCE_VENUE=live", "BINANCE_BASE_URL=https://api.binance.com", "MCP_EVENT_LOG=/tmp/x"):
        args = ["audit", "replay", "--execute", "--event-log", str(h.log), "--out", str(tmp_path / "c.sqlite3")]
        code, _ = await asyncio.to_thread(_run, [*args, "--set", bad])
        assert code == 2
    assert not (tmp_path / "c.sqlite3").exists()
