"""Several `serve` processes on one log: a server never closes another live run's calls, and a
run that dies beside a running server is recovered by it, with nobody restarting anything."""

from __future__ import annotations

import asyncio
import json
import sys
from asyncio.subprocess import PIPE
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

from mcp import ClientSession, StdioServerParameters, stdio_client

from binance_mcp.events.lifecycle import TERMINAL_KINDS
from binance_mcp.exchange.paper import start_paper_exchange

from ..logs import events_of, read_log
from .conftest import ROOT, closed, errlog, holding, line_with, sent_once, serve_env
from .test_crash import answer, order_held, rpc, serve, started


def kinds_of(log: Path, command_id: str) -> list[str]:
    return [r.kind for r in events_of(log, command_id)]


def dispatched_id(log: Path) -> str:
    (command_id,) = [r.command_id for r in read_log(log) if r.kind == "dispatched"]
    return command_id


async def test_a_server_starting_leaves_a_live_runs_order_alone(tmp_path: Path) -> None:
    running, hold = await holding("POST /api/v3/order")
    log = tmp_path / "events.sqlite3"
    env = serve_env(running, log)
    try:
        first = await order_held(env, hold)
        command_id = dispatched_id(log)
        second = await serve(env)
        await started(second)  # its start-up recovery has run
        assert kinds_of(log, command_id) == [
            "received",
            "dispatched",
        ]  # left alone: its run is alive
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
        doomed = await order_held(serve_env(running, log), hold)
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


@asynccontextmanager
async def hosts(env: dict[str, str], n: int, stderr: list[Path]) -> AsyncIterator[list[ClientSession]]:
    """`n` MCP hosts, each with its own `serve` over stdio (the SDK's client), all on `env`'s log."""
    params = StdioServerParameters(
        command=sys.executable, args=[str(ROOT / "server.py"), "serve"], env=env, cwd=str(ROOT)
    )
    async with AsyncExitStack() as stack:
        sessions = []
        for path in stderr[:n]:
            err = stack.enter_context(errlog(path))
            read, write = await stack.enter_async_context(stdio_client(params, errlog=err))
            session = await stack.enter_async_context(ClientSession(read, write))
            await session.initialize()
            sessions.append(session)
        yield sessions


async def structured(
    session: ClientSession, tool: str, args: dict[str, Any], gate: asyncio.Semaphore
) -> dict[str, Any]:
    async with gate:
        result = await session.call_tool(tool, args)
    assert result.structured_content is not None
    return result.structured_content


async def audit_verify(log: Path) -> None:
    verify = await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "server.py"), "audit", "verify", "--event-log", str(log), stdout=PIPE, stderr=PIPE
    )
    out, err = await verify.communicate()
    assert verify.returncode == 0, out + err


async def test_three_servers_answer_hundreds_of_concurrent_calls_each_on_one_log(tmp_path: Path) -> None:
    running = await start_paper_exchange()
    log = tmp_path / "events.sqlite3"
    env = serve_env(running, log, MCP_RATE_LIMIT_ENABLED="false", MCP_LOG_SECURITY="false")
    calls = [
        ("get_ticker_price", {"symbol": "BTCUSDT"}),
        ("get_balance", {}),
        ("get_open_orders", {"symbol": "ETHUSDT"}),
    ]
    try:
        async with hosts(env, 3, [tmp_path / f"{i}.txt" for i in range(3)]) as sessions:
            gates = [asyncio.Semaphore(16) for _ in sessions]  # 16 in flight per host
            answers = await asyncio.gather(
                *(
                    structured(session, *calls[i % len(calls)], gate)
                    for session, gate in zip(sessions, gates, strict=True)
                    for i in range(200)
                )
            )
    finally:
        await running.stop()
    assert len(answers) == 600 and all(a["success"] is True for a in answers), [a for a in answers if not a["success"]][
        :3
    ]
    rows = read_log(log)
    received = [r.command_id for r in rows if r.kind == "received"]
    terminals = [r.command_id for r in rows if r.kind in TERMINAL_KINDS]
    assert len(received) == 600 and sorted(received) == sorted(terminals)  # one of each per call
    assert {a["command_id"] for a in answers} == set(received)
    assert len({r.event.run for r in rows if r.kind == "received"}) == 3
    await audit_verify(log)


async def test_the_daily_cap_holds_across_three_servers(tmp_path: Path) -> None:
    running = await start_paper_exchange()
    log = tmp_path / "events.sqlite3"
    order = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.001", "price": "40000"}
    env = serve_env(running, log, MCP_MAX_DAILY_NOTIONAL="USDT=100")  # 40 USDT each: two fit
    try:
        async with hosts(env, 3, [tmp_path / f"{i}.txt" for i in range(3)]) as sessions:
            gate = asyncio.Semaphore(6)
            answers = await asyncio.gather(
                *(structured(session, "create_order", order, gate) for session in sessions for _ in range(2))
            )
        orders = list(running.exchange.engine.accounts[running.api_key].orders.values())
    finally:
        await running.stop()
    assert sum(a["success"] for a in answers) == 2
    assert {a["error"]["type"] for a in answers if not a["success"]} == {"guard_limit"}
    assert len(orders) == 2  # checked on the exchange
    await audit_verify(log)


async def test_halt_with_two_servers_running_then_resume(tmp_path: Path) -> None:
    running = await start_paper_exchange()
    log = tmp_path / "events.sqlite3"
    env = serve_env(running, log)
    resting = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.001", "price": "40000"}
    gate = asyncio.Semaphore(1)
    try:
        first, second = await serve(env), await serve(env)
        await started(first)
        await started(second)
        async with hosts(env, 1, [tmp_path / "host.txt"]) as (host,):
            placed = []
            eth = {**resting, "symbol": "ETHUSDT", "price": "1000", "quantity": "0.01"}
            for order in ({**resting, "price": "40000"}, {**resting, "price": "41000"}, eth):
                answered = await structured(host, "create_order", order, gate)
                assert answered["success"] is True and answered["data"]["status"] == "NEW"
                placed.append(answered["data"]["clientOrderId"])
            halt = await asyncio.create_subprocess_exec(
                sys.executable,
                str(ROOT / "server.py"),
                "halt",
                "--reason",
                "key leaked?",
                "--cancel-open-orders",
                env=env,
                cwd=str(ROOT),
                stdout=PIPE,
                stderr=PIPE,
            )
            out, err = await halt.communicate()
            assert halt.returncode == 0, out + err
            assert b"BTCUSDT: 2 cancelled" in out and b"ETHUSDT: 1 cancelled" in out
            assert all(client_id.encode() in out for client_id in placed)  # each order named
            account = running.exchange.engine.accounts[running.api_key]
            assert all(o.status == "CANCELED" for o in account.orders.values())  # off the book
            for proc in (first, second):  # every running server says so on stderr
                await line_with(proc, '"event_type": "trading_halted"')
            sent = running.exchange.served["POST /api/v3/order"]
            refused = await structured(host, "create_order", resting, gate)
            assert refused["success"] is False and refused["error"]["type"] == "trading_halted"
            assert "key leaked?" in refused["error"]["message"]
            assert (await structured(host, "get_ticker_price", {"symbol": "BTCUSDT"}, gate))["success"] is True
            await rpc(
                first, {"id": 2, "method": "tools/call", "params": {"name": "create_order", "arguments": resting}}
            )
            answered = (await answer(first))["result"]["structuredContent"]
            assert answered["error"]["type"] == "trading_halted"
            assert running.exchange.served["POST /api/v3/order"] == sent  # nothing was sent
            resume = await asyncio.create_subprocess_exec(
                sys.executable, str(ROOT / "server.py"), "resume", env=env, cwd=str(ROOT), stdout=PIPE, stderr=PIPE
            )
            assert await resume.wait() == 0
            await line_with(second, '"event_type": "trading_resumed"')
            assert (await structured(host, "create_order", resting, gate))["success"] is True
        assert [await closed(first), await closed(second)] == [0, 0]
    finally:
        await running.stop()
    rows = read_log(log)
    kinds = [r.kind for r in rows]
    assert kinds.count("halted") == 1 and kinds.count("resumed") == 1
    halted = next(r for r in rows if r.kind == "halted")
    cancels = [r for r in rows if r.kind == "received" and r.tool == "cancel_open_orders"]
    assert len(cancels) == 2 and all(r.event.run == halted.command_id for r in cancels)  # the halt's own run
    await audit_verify(log)
    for until, expected in ((halted.seq, "key leaked?"), (rows[-1].seq, None)):  # `audit replay` shows it
        replay = await asyncio.create_subprocess_exec(
            *(sys.executable, str(ROOT / "server.py"), "audit", "replay", "--json", "--event-log", str(log)),
            *("--until", str(until)),
            stdout=PIPE,
            stderr=PIPE,
        )
        out, err = await replay.communicate()
        state = json.loads(out)
        assert (state["halted"] or {}).get("reason") == expected, err
    # A re-run replays the halt's cancels on the exchange the orders were placed on (its `started`
    # says the servers' exchange, not one of its own): the same outcome, orders cancelled.
    rerun = await asyncio.create_subprocess_exec(
        *(sys.executable, str(ROOT / "server.py"), "audit", "replay", "--execute", "--json", "--event-log", str(log)),
        *("--out", str(tmp_path / "rerun.sqlite3")),
        stdout=PIPE,
        stderr=PIPE,
    )
    out, err = await rerun.communicate()
    report = json.loads(out)
    assert report["replayed"] > 0, err
    assert not [d for d in report["differences"] if d["tool"] == "cancel_open_orders"], report["differences"]
