"""Several `serve` processes on one log: a server never closes another live run's calls, and a
run that dies beside a running server is recovered by it, with nobody restarting anything."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from .conftest import closed, holding, line_with, sent_once, serve_env
from .test_crash import answer, rpc, serve

INIT = {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}
ORDER = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001"}


async def started(proc: asyncio.subprocess.Process) -> None:
    """Handshake: answered only once the server's start (its recovery included) is over."""
    await rpc(proc, {"id": 1, "method": "initialize", "params": INIT})
    assert (await answer(proc))["result"]["serverInfo"]["name"] == "binance-mcp"
    await rpc(proc, {"method": "notifications/initialized"})


def kinds_of(log: Path, command_id: str) -> list[str]:
    with sqlite3.connect(log) as conn:
        return [r[0] for r in conn.execute("SELECT kind FROM events WHERE command_id = ? ORDER BY seq", (command_id,))]


def dispatched_id(log: Path) -> str:
    with sqlite3.connect(log) as conn:
        (command_id,) = conn.execute("SELECT command_id FROM events WHERE kind = 'dispatched'").fetchone()
    return str(command_id)


async def test_a_server_starting_leaves_a_live_runs_order_alone(tmp_path: Path) -> None:
    running, hold = await holding("POST /api/v3/order")
    log = tmp_path / "events.sqlite3"
    env = serve_env(running, log)
    try:
        first = await serve(env)
        await started(first)
        await rpc(first, {"id": 2, "method": "tools/call", "params": {"name": "create_order", "arguments": ORDER}})
        await asyncio.wait_for(hold.arrived.wait(), 30)
        command_id = dispatched_id(log)
        second = await serve(env)
        await started(second)  # its start-up recovery has run
        assert kinds_of(log, command_id) == ["received", "dispatched"]  # left alone: its run is alive
        hold.release.set()
        result = (await answer(first))["result"]["structuredContent"]
        assert result["success"] is True and result["data"]["status"] == "FILLED"
        assert [await closed(first), await closed(second)] == [0, 0]
    finally:
        hold.release.set()
        await running.stop()
    assert kinds_of(log, command_id) == ["received", "dispatched", "executed"]


async def test_a_run_killed_beside_a_running_server_is_reconciled_by_it(tmp_path: Path) -> None:
    running, hold = await holding("POST /api/v3/order")
    log = tmp_path / "events.sqlite3"
    try:
        survivor = await serve(serve_env(running, log, MCP_RUN_CHECK_S="1"))
        await started(survivor)
        doomed = await serve(serve_env(running, log))
        await started(doomed)
        await rpc(doomed, {"id": 2, "method": "tools/call", "params": {"name": "create_order", "arguments": ORDER}})
        await asyncio.wait_for(hold.arrived.wait(), 30)
        command_id = dispatched_id(log)
        doomed.kill()
        await doomed.wait()
        hold.release.set()  # the exchange applies the order; its answer has nowhere to go
        # The survivor notices the dead run within its check interval; nobody restarts anything.
        await line_with(survivor, f"reconciled {command_id}")
        assert await closed(survivor) == 0
        sent_once(running, command_id)
    finally:
        hold.release.set()
        await running.stop()
    assert kinds_of(log, command_id) == ["received", "dispatched", "unknown", "reconciled"]
