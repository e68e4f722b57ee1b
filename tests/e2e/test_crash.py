"""The server killed (SIGKILL) after an order's `dispatched` is durable and before its answer: the
next run finds it in the log, looks it up by its client order id, journals `reconciled`, and
sends nothing twice."""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
import sys
from pathlib import Path
from typing import Any

from binance_mcp.exchange.paper import start_paper_exchange

from ..logs import STREAM_KINDS
from .conftest import Hold, answered, called, closed, holding, line_with, sent_once, serve_env, spawn

ROOT = Path(__file__).parents[2]


async def serve(env: dict[str, str]) -> asyncio.subprocess.Process:
    return await spawn(env, sys.executable, str(ROOT / "server.py"), "serve")


async def rpc(proc: asyncio.subprocess.Process, message: dict[str, Any]) -> None:
    called(message)
    assert proc.stdin is not None
    proc.stdin.write(json.dumps({"jsonrpc": "2.0", **message}).encode() + b"\n")
    await proc.stdin.drain()


async def answer(proc: asyncio.subprocess.Process) -> dict[str, Any]:
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), 30)
    found: dict[str, Any] = json.loads(line)
    return answered(found)


INIT = {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}


async def started(proc: asyncio.subprocess.Process) -> None:
    """The handshake: answered only once the server's start (its recovery included) is over."""
    await rpc(proc, {"id": 1, "method": "initialize", "params": INIT})
    assert (await answer(proc))["result"]["serverInfo"]["name"] == "binance-mcp"
    await rpc(proc, {"method": "notifications/initialized"})


ORDER = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001"}


async def order_held(env: dict[str, str], hold: Hold) -> asyncio.subprocess.Process:
    """A `serve` whose MARKET order has reached the exchange, which holds it (so its `dispatched`
    is durable: the executor waits for that before sending)."""
    proc = await serve(env)
    await started(proc)
    await rpc(proc, {"id": 2, "method": "tools/call", "params": {"name": "create_order", "arguments": ORDER}})
    await asyncio.wait_for(hold.arrived.wait(), 30)
    return proc


async def test_an_order_dispatched_before_a_kill_is_reconciled_at_the_next_start(tmp_path: Path) -> None:
    running, hold = await holding("POST /api/v3/order")
    log = tmp_path / "events.sqlite3"
    env = serve_env(running, log)
    try:
        first = await order_held(env, hold)
        first.kill()
        await first.wait()
        hold.release.set()  # the exchange goes on and applies the order; its answer has nowhere to go

        with sqlite3.connect(log) as conn:
            (command_id,) = conn.execute("SELECT command_id FROM events WHERE kind = 'dispatched'").fetchone()
            kinds = [r[0] for r in conn.execute("SELECT kind FROM events WHERE command_id = ?", (command_id,))]
            run_kinds = [r[0] for r in conn.execute("SELECT kind FROM events WHERE kind IN ('started', 'stopped')")]
        assert kinds == ["received", "dispatched"]  # killed before the answer
        assert run_kinds == ["started"]  # an unclean stop: a run with no `stopped`

        second = await serve(env)
        await line_with(second, f"reconciled {command_id}")  # at start, before any client asks anything
        assert await closed(second) == 0
        sent_once(running, command_id)
    finally:
        hold.release.set()
        await running.stop()
    with sqlite3.connect(log) as conn:
        rows = conn.execute("SELECT kind, body FROM events WHERE command_id = ? ORDER BY seq", (command_id,)).fetchall()
    assert [k for k, _ in rows] == ["received", "dispatched", "unknown", "reconciled"]
    reconciled = json.loads(rows[-1][1])
    assert reconciled["placed"] is True and reconciled["status"] == "FILLED"


async def test_sigterm_and_sigint_stop_cleanly_with_calls_in_flight(tmp_path: Path) -> None:
    running = await start_paper_exchange()
    try:
        for sig in (signal.SIGTERM, signal.SIGINT):
            log = tmp_path / f"{sig.name}.sqlite3"
            proc = await serve(serve_env(running, log))
            await started(proc)
            call = {"name": "get_ticker_price", "arguments": {"symbol": "BTCUSDT"}}
            await rpc(proc, {"id": 2, "method": "tools/call", "params": call})
            assert (await answer(proc))["result"]["structuredContent"]["success"] is True
            proc.send_signal(sig)
            assert await asyncio.wait_for(proc.wait(), 30) == 0
            with sqlite3.connect(log) as conn:
                rows = conn.execute("SELECT kind, body FROM events ORDER BY seq").fetchall()
            kinds = [k for k, _ in rows if k not in STREAM_KINDS]
            assert kinds == ["started", "session", "received", "executed", "stopped"]
            assert json.loads(rows[-1][1]) == {"reason": sig.name}
    finally:
        await running.stop()


async def test_a_kill_while_reads_are_in_flight_leaves_no_outcome_without_its_received(tmp_path: Path) -> None:
    """A read hands its `received` to the journal without waiting for it; killed with reads in
    flight (one held at the exchange after its request arrived), the log still never holds an
    outcome without its `received`."""
    running, hold = await holding("GET /api/v3/avgPrice")
    log = tmp_path / "events.sqlite3"
    env = serve_env(running, log, MCP_RATE_LIMIT_ENABLED="false", MCP_LOG_SECURITY="false")
    try:
        first = await serve(env)
        await started(first)
        for i in range(40):  # a burst of reads; the 20th is the one the exchange holds
            tool, args = (
                ("get_avg_price", {"symbol": "ETHUSDT"}) if i == 19 else ("get_ticker_price", {"symbol": "BTCUSDT"})
            )
            await rpc(first, {"id": 10 + i, "method": "tools/call", "params": {"name": tool, "arguments": args}})
        await asyncio.wait_for(hold.arrived.wait(), 30)
        first.kill()
        await first.wait()
        with sqlite3.connect(log) as conn:
            rows = conn.execute("SELECT command_id, kind, tool FROM events ORDER BY seq").fetchall()
        received = {cid for cid, kind, _ in rows if kind == "received"}
        outcomes = [
            (cid, tool) for cid, kind, tool in rows if kind not in ("received", "started", "session", *STREAM_KINDS)
        ]
        assert all(cid in received for cid, _ in outcomes)
        assert "get_avg_price" not in {tool for _, tool in outcomes}  # killed before its answer
        second = await serve(env)
        await rpc(second, {"id": 1, "method": "initialize", "params": INIT})
        await answer(second)  # answering: the start-up recovery is done
        assert second.stdin is not None
        second.stdin.close()
        assert await asyncio.wait_for(second.wait(), 30) == 0
    finally:
        hold.release.set()
        await running.stop()
    with sqlite3.connect(log) as conn:
        held = [k for (k,) in conn.execute("SELECT kind FROM events WHERE tool = 'get_avg_price' ORDER BY seq")]
    # Among other calls in flight a read waits for its `received` (then the next start closes it as
    # interrupted); alone it would have been written with its outcome, and left nothing.
    assert held in ([], ["received", "failed"])
