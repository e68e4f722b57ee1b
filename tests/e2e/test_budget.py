"""Answers that fit the host: through `serve`, a thousand klines or trades come back within the
result budget, the newest of them, saying how many were left out and how to get the rest; the
budget is a setting."""

from __future__ import annotations

import json
from pathlib import Path

from binance_mcp.events.budget import DEFAULT_BUDGET
from binance_mcp.exchange.paper import start_paper_exchange

from .conftest import serve_env, stdio_calls


async def test_large_answers_are_cut_to_the_budget_and_say_so(tmp_path: Path) -> None:
    running = await start_paper_exchange()
    log = tmp_path / "events.sqlite3"
    calls = [
        ("get_klines", {"symbol": "BTCUSDT", "interval": "1m", "limit": 1000}),
        ("get_recent_trades", {"symbol": "BTCUSDT", "limit": 1000}),
        ("get_klines", {"symbol": "BTCUSDT", "interval": "1m", "limit": 10}),
    ]
    try:
        klines, trades, few = await stdio_calls(serve_env(running, log), calls)
        (whole,) = await stdio_calls(serve_env(running, log, MCP_RESULT_BUDGET="0"), calls[:1])
    finally:
        await running.stop()
    for answer in (klines, trades):
        assert answer["success"] and len(json.dumps(answer["data"], separators=(",", ":"))) <= DEFAULT_BUDGET
        cut = answer["truncated"]
        assert cut["kept"] == len(answer["data"]) and cut["kept"] + cut["left_out"] == 1000 and "limit" in cut["how"]
    # the newest kept (the whole answer was read a moment later: its newest minute may be the next)
    assert 0 <= whole["data"][-1][0] - klines["data"][-1][0] <= 60_000
    assert klines["data"][0][0] - whole["data"][0][0] >= 60_000 * klines["truncated"]["left_out"] - 60_000
    assert len(whole["data"]) == 1000 and "truncated" not in whole  # MCP_RESULT_BUDGET=0: no budget
    assert "truncated" not in few and len(few["data"]) == 10
