"""What the MCP surface tells a host and its model before any call: instructions at initialize, a
title and an output schema per tool; and every tool's answer, success or refusal, conforms to its
schema (checked with a JSON Schema validator)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from mcp import ClientSession, StdioServerParameters, stdio_client

from binance_mcp.events.commands import COMMANDS

from .conftest import CHECKED, ROOT, errlog

LIMIT = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.001", "price": "40000"}
# One call of every tool that succeeds on the embedded paper exchange (with one resting order placed).
EVERY_TOOL: dict[str, dict[str, Any]] = {
    "get_ticker_price": {"symbol": "BTCUSDT"},
    "get_ticker": {"symbol": "BTCUSDT"},
    "get_order_book": {"symbol": "BTCUSDT", "limit": 5},
    "get_recent_trades": {"symbol": "BTCUSDT", "limit": 3},
    "get_klines": {"symbol": "BTCUSDT", "interval": "1m", "limit": 2},
    "get_avg_price": {"symbol": "BTCUSDT"},
    "get_book_ticker": {"symbol": "BTCUSDT"},
    "get_available_assets": {"quote_asset": "BTC"},
    "get_symbol_info": {"symbol": "ETHUSDT"},
    "get_audit_log": {"limit": 3},
    "get_account_events": {"limit": 3},
    "get_balance": {},
    "get_fee_info": {"symbol": "BTCUSDT"},
    "get_orders": {"symbol": "BTCUSDT"},
    "get_open_orders": {},
    "get_order": {"symbol": "BTCUSDT", "order_id": 1},
    "get_my_trades": {"symbol": "BTCUSDT"},
    "get_account_snapshot": {},
    "get_deposit_address": {"coin": "BTC"},
    "get_deposit_history": {},
    "get_withdraw_history": {},
    "get_position_info": {},
    "get_pnl": {},
    "get_liquidation_history": {},
    "test_order": LIMIT,
    "create_order": {**LIMIT, "side": "buy", "type": "limit"},  # resting: what cancel_open_orders takes
    "cancel_order": {"symbol": "BTCUSDT", "order_id": 1},
    "cancel_open_orders": {"symbol": "BTCUSDT"},
}


async def test_instructions_titles_and_every_answer_conforming_to_its_schema(tmp_path: Path) -> None:
    assert set(EVERY_TOOL) == set(COMMANDS)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BINANCE_", "MCP_"))}
    env["MCP_EVENT_LOG"] = str(tmp_path / "events.sqlite3")
    params = StdioServerParameters(command=sys.executable, args=[str(ROOT / "server.py"), "serve"], env=env)
    before = CHECKED.copy()
    with errlog(tmp_path / "stderr.txt") as err:
        async with stdio_client(params, errlog=err) as (read, write), ClientSession(read, write) as s:
            hello = await s.initialize()
            assert hello.instructions is not None
            for rule in (
                "decimal strings",
                "unknown_outcome",
                "never send it again",
                "get_audit_log",
                "trading_halted",
            ):
                assert rule in hello.instructions, rule
            listed = {tool.name: tool for tool in (await s.list_tools()).tools}
            for name, tool in listed.items():
                assert tool.title and tool.annotations is not None and tool.annotations.title == tool.title, name
                assert tool.output_schema is not None and tool.output_schema["type"] == "object", name
            assert len({tool.title for tool in listed.values()}) == len(listed)  # each its own
            placed = await s.call_tool("create_order", LIMIT)  # order 1, resting: read, then cancelled
            assert placed.structured_content is not None and placed.structured_content["success"] is True
            for name, args in EVERY_TOOL.items():
                result = await s.call_tool(name, args)
                assert result.structured_content is not None, name
                assert result.structured_content["success"] is True, (name, result.structured_content)
            refused = await s.call_tool("create_order", {**LIMIT, "quantity": "0.000015"})
            assert refused.is_error and refused.structured_content is not None
    checked = CHECKED - before
    assert set(checked) == set(COMMANDS)  # every tool's answer went through its schema
    assert checked["create_order"] == 3  # the two placed and the one refused
