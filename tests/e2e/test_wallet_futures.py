"""Wallet and futures reads over stdio: each tool against the paper exchange, their ranges checked
before sending, and a testnet-shaped venue that has no /sapi (and no /fapi until told where)."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from mcp import ClientSession, StdioServerParameters, stdio_client

from binance_mcp.exchange.paper import start_paper_exchange

from .conftest import serve_env

ROOT = Path(__file__).parents[2]


@asynccontextmanager
async def connect(env: dict[str, str]) -> AsyncIterator[ClientSession]:
    params = StdioServerParameters(
        command=sys.executable, args=[str(ROOT / "server.py"), "serve"], env=env, cwd=str(ROOT)
    )
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        yield session


async def call(session: ClientSession, tool: str, **args: Any) -> dict[str, Any]:
    result = await session.call_tool(tool, args)
    assert result.structured_content is not None
    return result.structured_content


async def test_each_wallet_and_futures_tool_over_stdio(tmp_path: Path) -> None:
    running = await start_paper_exchange()
    try:
        async with connect(serve_env(running, tmp_path / "events.sqlite3")) as session:
            snapshot = await call(session, "get_account_snapshot", limit=7)
            assert snapshot["success"] and snapshot["data"]["snapshotVos"][0]["type"] == "spot"
            address = await call(session, "get_deposit_address", coin="BTC")
            assert address["success"] and address["data"]["coin"] == "BTC" and address["data"]["address"]
            deposits = await call(session, "get_deposit_history", coin="USDT")
            assert deposits["success"] and {d["coin"] for d in deposits["data"]} <= {"USDT"}
            assert (await call(session, "get_withdraw_history"))["success"]
            positions = await call(session, "get_position_info")
            assert positions["success"] and {"positionAmt", "entryPrice"} <= set(positions["data"][0])
            pnl = await call(session, "get_pnl", income_type="REALIZED_PNL")
            assert pnl["success"] and {row["incomeType"] for row in pnl["data"]} == {"REALIZED_PNL"}
            liquidations = await call(session, "get_liquidation_history", auto_close_type="LIQUIDATION")
            assert liquidations["success"] and isinstance(liquidations["data"], list)
            # Ranges and limits as Binance states them, checked before anything is sent.
            wide = await call(session, "get_deposit_history", start_time=0, end_time=91 * 86_400_000)
            assert (wide["error"]["type"], wide["error"]["field"]) == ("validation_error", "end_time")
            assert "90 days" in wide["error"]["message"]
            few = await call(session, "get_account_snapshot", limit=5)
            assert few["error"]["type"] == "validation_error" and few["error"]["field"] == "limit"
            many = await call(session, "get_liquidation_history", limit=101)
            assert many["error"]["field"] == "limit"
        served = running.exchange.served
        assert served["GET /sapi/v1/capital/deposit/hisrec"] == 1 and served["GET /sapi/v1/accountSnapshot"] == 1
        assert served["GET /fapi/v1/forceOrders"] == 1
    finally:
        await running.stop()


async def test_a_testnet_venue_has_no_wallet_and_futures_only_when_told_where(tmp_path: Path) -> None:
    running = await start_paper_exchange()
    try:
        env = serve_env(running, tmp_path / "events.sqlite3", BINANCE_VENUE="testnet")
        async with connect(env) as session:
            listed = {t.name: t.description or "" for t in (await session.list_tools()).tools}
            assert listed["get_pnl"].startswith("NOT AVAILABLE ON THIS VENUE")
            assert listed["get_deposit_history"].startswith("NOT AVAILABLE ON THIS VENUE")
            assert not listed["get_balance"].startswith("NOT AVAILABLE")
            wallet = await call(session, "get_deposit_history")
            assert wallet["error"]["type"] == "unsupported_on_venue" and "/sapi" in wallet["error"]["message"]
            futures = await call(session, "get_pnl")
            assert futures["error"]["type"] == "unsupported_on_venue"
            assert "BINANCE_FUTURES_BASE_URL" in futures["error"]["message"]
            assert (await call(session, "get_balance"))["success"]
        env["BINANCE_FUTURES_BASE_URL"] = running.url  # the futures testnet, here the paper exchange
        async with connect(env) as session:
            assert (await call(session, "get_pnl"))["success"]
            assert (await call(session, "get_deposit_history"))["error"]["type"] == "unsupported_on_venue"
        assert running.exchange.served["GET /sapi/v1/capital/deposit/hisrec"] == 0  # nothing was sent
        assert running.exchange.served["GET /fapi/v1/income"] == 1
    finally:
        await running.stop()
