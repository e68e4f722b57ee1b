"""A tampered log is noticed by the server that extends it: after its start it verifies the whole
chain, puts `chain_broken` on record with its SECURITY_EVENT line, and refuses orders (reads go on)
until a person acknowledges it with `binance-mcp resume`; `audit alerts` reports the broken chain."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import sqlite3
from pathlib import Path

from binance_mcp.events.outcomes import Executed, Rejected
from binance_mcp.events.schema import Resumed, Security
from binance_mcp.face.halt import append_alone, who
from binance_mcp.server import main

from ..logs import read_log
from .conftest import build

ORDER = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001"}


def flip_a_byte(log: Path, seq: int) -> None:
    """What someone editing the file would do: one character of one row's body changed."""
    with sqlite3.connect(log) as conn:
        conn.execute("DROP TRIGGER events_no_update")  # the log refuses UPDATE; a file editor does not ask
        (body,) = conn.execute("SELECT body FROM events WHERE seq = ?", (seq,)).fetchone()
        conn.execute("UPDATE events SET body = ? WHERE seq = ?", (body.replace("BTCUSDT", "BTCUSDX", 1), seq))


async def test_a_tampered_log_stops_orders_until_a_person_says_go_on(tmp_path: Path) -> None:
    async with build(tmp_path) as h:
        for _ in range(3):
            assert isinstance(await h.call("get_ticker_price", symbol="BTCUSDT"), Executed)
        await asyncio.wait_for(h.system.chain_checked.wait(), 10)
        assert isinstance(await h.call("create_order", **ORDER), Executed)  # an intact log: trading
    bad = next(r.seq for r in read_log(h.log) if r.kind == "received" and "BTCUSDT" in r.body and r.seq > 3)
    flip_a_byte(h.log, bad)
    async with build(tmp_path) as h:
        await asyncio.wait_for(h.system.chain_checked.wait(), 10)
        assert isinstance(await h.call("get_ticker_price", symbol="BTCUSDT"), Executed)  # reads go on
        refused = await h.call("create_order", **ORDER)
        assert isinstance(refused, Rejected) and refused.kind == "trading_halted" and "hash chain" in refused.message
        broken = [r.event for r in read_log(h.log) if r.kind == "security"]
        assert any(
            isinstance(e, Security) and e.event_type == "chain_broken" and e.details["bad_seq"] == bad for e in broken
        )
        with contextlib.redirect_stdout(io.StringIO()) as out:
            code = main(["audit", "alerts", "--json", "--event-log", str(h.log)])
        assert code == 1 and "chain_broken" in {a["pattern"] for a in json.loads(out.getvalue())["alerts"]}
        append_alone(h.log, Resumed(**who("seen: a test edited it")), "paper")  # the person's answer
        h.system.catch_up()
        assert isinstance(await h.call("create_order", **ORDER), Executed)
    async with build(tmp_path) as h:  # acknowledged: the next run trades, and says the chain is broken all the same
        await asyncio.wait_for(h.system.chain_checked.wait(), 10)
        assert isinstance(await h.call("create_order", **ORDER), Executed)
    reports = [r for r in read_log(h.log) if r.kind == "security" and '"chain_broken"' in r.body]
    assert len(reports) == 2
