"""`binance-mcp serve` over stdio, driven by the mcp SDK's client, against the paper exchange."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from mcp import ClientSession, MCPError, StdioServerParameters, stdio_client

from binance_mcp.events.commands import COMMANDS
from binance_mcp.events.lifecycle import TERMINAL_KINDS
from binance_mcp.events.schema import PaperRun, Received, Session, Started, Stopped
from binance_mcp.events.store import verify_rows
from binance_mcp.exchange.paper import start_paper_exchange

from ..logs import LogRow, read_log
from .conftest import errlog

ROOT = Path(__file__).parents[2]
CALLS: list[tuple[str, dict[str, Any]]] = [
    ("get_ticker_price", {"symbol": "BTCUSDT"}),
    ("get_ticker", {"symbol": "eth-usdt"}),
    ("get_order_book", {"symbol": "BNBUSDT", "limit": 5}),
    ("get_recent_trades", {"symbol": "SOLUSDT", "limit": 3}),
    ("get_klines", {"symbol": "ETHBTC", "interval": "1h", "limit": 2}),
    ("get_avg_price", {"symbol": "1000SATSUSDT"}),
    ("get_book_ticker", {"symbol": "1INCHUSDT"}),
    ("get_available_assets", {"quote_asset": "BTC"}),
    ("get_symbol_info", {"symbol": "BTCUSDT"}),
]


@asynccontextmanager
async def session(env: dict[str, str], stderr: Path | None = None) -> AsyncIterator[ClientSession]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("BINANCE_", "MCP_"))}
    params = StdioServerParameters(
        command=sys.executable, args=[str(ROOT / "server.py"), "serve"], env={**base, **env}, cwd=str(ROOT)
    )
    with errlog(stderr) as err:
        async with stdio_client(params, errlog=err) as (read, write), ClientSession(read, write) as s:
            await s.initialize()
            yield s


def rows(log: Path) -> list[LogRow]:
    return read_log(log)


async def test_every_tool_bad_input_and_unknown_tool(tmp_path: Path) -> None:
    log = tmp_path / "events.sqlite3"
    async with session({"MCP_EVENT_LOG": str(log)}) as s:
        listed = await s.list_tools()
        assert {t.name for t in listed.tools} == set(COMMANDS)
        market_data = {name for name, _ in CALLS}
        for tool in listed.tools:
            assert tool.input_schema["type"] == "object" and tool.description
            assert tool.annotations is not None
            if tool.name in market_data:
                assert tool.annotations.read_only_hint is True
        for name, args in CALLS:
            result = await s.call_tool(name, args)
            assert result.is_error is False, (name, result.structured_content)
            assert result.structured_content is not None and result.structured_content["success"] is True
            assert json.loads(result.content[0].text) == result.structured_content  # type: ignore[union-attr]
        bad = await s.call_tool("get_order_book", {"symbol": "BTCUSDT", "limit": 7})
        assert bad.is_error and bad.structured_content is not None
        error = bad.structured_content["error"]
        assert (error["type"], error["field"]) == ("validation_error", "limit")
        assert len(error["command_id"]) == 32 and isinstance(error["timestamp"], int)
        unknown_symbol = await s.call_tool("get_ticker_price", {"symbol": "btc/usd"})
        assert unknown_symbol.structured_content is not None
        assert unknown_symbol.structured_content["error"]["suggestions"][0] == "BTCUSDT"
        with pytest.raises(MCPError, match="Unknown tool"):
            await s.call_tool("place_everything", {})
        assert (await s.call_tool("get_ticker_price", {"symbol": "ETHUSDT"})).is_error is False  # still answering
    events = rows(log)
    assert verify_rows(events) is None
    received = [r for r in events if r.kind == "received"]
    terminal = [r for r in events if r.kind in TERMINAL_KINDS]
    assert len(received) == len(terminal) == len(CALLS) + 4
    assert {r.venue for r in events} == {"paper"}
    # The made-up tool is on record, then refused as a protocol error.
    (probe,) = [r for r in received if r.tool == "place_everything"]
    assert [getattr(r.event, "kind", None) for r in terminal if r.command_id == probe.command_id] == ["unknown_tool"]
    # Who and when: the run from started to stopped, the client's session, each call in both.
    kinds = [r.kind for r in events]
    assert kinds[0] == "started" and kinds[-1] == "stopped" and kinds.count("session") == 1
    # What a re-run of this log needs to rebuild the exchange: its own paper one, Binance's limits.
    started, stopped = events[0].event, events[-1].event
    assert isinstance(started, Started) and isinstance(started.paper, PaperRun) and started.paper.embedded is True
    assert isinstance(started.paper.limits, dict) and started.paper.limits["weight_per_minute"] == 6000
    (session_row,) = [r for r in events if r.kind == "session"]
    session_event = session_row.event
    assert isinstance(session_event, Session)
    assert session_event.client.name == "mcp" and session_event.protocol == "2025-11-25"
    assert session_event.run == events[0].command_id and stopped == Stopped(reason="stdin closed")
    calls = [r.event for r in received]
    assert all(isinstance(c, Received) for c in calls)
    assert {getattr(c, "session", None) for c in calls} == {session_row.command_id}
    assert {getattr(c, "run", None) for c in calls} == {events[0].command_id}


async def test_throttled_call_and_security_lines_as_a_view_of_the_log(tmp_path: Path) -> None:
    log, stderr = tmp_path / "events.sqlite3", tmp_path / "stderr.txt"
    async with session({"MCP_EVENT_LOG": str(log), "MCP_MAX_REQUESTS_PER_MINUTE": "2"}, stderr) as s:
        for _ in range(2):
            ok = await s.call_tool("get_ticker_price", {"symbol": "BTCUSDT"})
            assert ok.is_error is False and ok.structured_content is not None
            assert len(ok.structured_content["command_id"]) == 32  # successes carry it too
        third = await s.call_tool("get_ticker_price", {"symbol": "BTCUSDT"})
        assert third.is_error and third.structured_content is not None
        assert third.structured_content["error"]["type"] == "rate_limit_exceeded"
        assert third.structured_content["error"]["retry_after_ms"] > 0
    lines = [
        json.loads(line.split("SECURITY_EVENT: ", 1)[1])
        for line in stderr.read_text().splitlines()
        if "SECURITY_EVENT: " in line
    ]
    types = [line["event_type"] for line in lines]  # MCP_LOG_SECURITY is on by default
    assert types.count("tool_invocation") == 3 and types.count("rate_limit_exceeded") == 1
    assert types[0] == "configuration_validated"
    events = rows(log)
    assert [r for r in events if r.kind == "security"] == []  # the facts are in received/throttled/started
    throttled = [r.command_id for r in events if r.kind == "throttled"]
    assert [line["command_id"] for line in lines if line["event_type"] == "rate_limit_exceeded"] == throttled


async def test_real_credentials_never_reach_the_log(tmp_path: Path) -> None:
    """Credentials from the environment (venue live, pointed at a local paper exchange)."""
    key, secret = "E2eKey" + "k" * 58, "E2eSecret" + "s" * 55
    running = await start_paper_exchange(api_key=key, api_secret=secret)
    log = tmp_path / "events.sqlite3"
    try:
        env = {
            "BINANCE_API_KEY": key,
            "BINANCE_API_SECRET": secret,
            "BINANCE_BASE_URL": running.url,
            "MCP_EVENT_LOG": str(log),
            "MCP_LOG_SECURITY": "true",
        }
        async with session(env) as s:
            result = await s.call_tool("get_ticker_price", {"symbol": "BTCUSDT"})
            assert result.is_error is False
            assert secret not in json.dumps(result.structured_content)
    finally:
        await running.stop()
    assert {r.venue for r in rows(log)} == {"live"}
    raw = log.read_bytes()
    assert secret.encode() not in raw and key.encode() not in raw


async def test_the_paper_venue_can_use_a_paper_exchange_running_elsewhere(tmp_path: Path) -> None:
    key, secret = "Elsewhere" + "k" * 55, "Elsewhere" + "s" * 55
    running = await start_paper_exchange(api_key=key, api_secret=secret)
    log = tmp_path / "events.sqlite3"
    try:
        env = {
            "BINANCE_VENUE": "paper",
            "BINANCE_BASE_URL": running.url,
            "BINANCE_API_KEY": key,
            "BINANCE_API_SECRET": secret,
            "MCP_EVENT_LOG": str(log),
        }
        async with session(env) as s:
            assert (await s.call_tool("get_ticker_price", {"symbol": "BTCUSDT"})).is_error is False
        # exchangeInfo at start and the ticker went to this exchange, not to an embedded one
        assert running.exchange.served["GET /api/v3/ticker/price"] == 1
        assert running.exchange.served["GET /api/v3/exchangeInfo"] >= 1
    finally:
        await running.stop()
    assert {r.venue for r in rows(log)} == {"paper"}


async def test_bad_configuration_exits_2_naming_the_variable() -> None:
    import asyncio

    base = {k: v for k, v in os.environ.items() if not k.startswith(("BINANCE_", "MCP_"))}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "server.py"),
        "serve",
        env={**base, "BINANCE_API_KEY": "your_api_key_here", "BINANCE_API_SECRET": "x" * 64},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        stdin=asyncio.subprocess.DEVNULL,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 2
    assert b"BINANCE_API_KEY" in err and b"your_api_key_here" not in err and b"x" * 64 not in err
    assert out == b""
