"""A whole trading session with a known API key and secret: neither, nor any signature the exchange
received, appears in the event log file, on stderr, or in any tool result."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web
from mcp import ClientSession, StdioServerParameters, stdio_client

from binance_mcp.exchange.paper import Fault, FaultMode, PaperExchange

ROOT = Path(__file__).parents[2]
KEY = "SessionKey" + "7" * 54
SECRET = "SessionSecret" + "Q" * 51


def _log_files(where: Path) -> str:
    """The log and its WAL, as bytes read as text."""
    return b"".join(p.read_bytes() for p in sorted(where.rglob("events.sqlite3*")) if p.is_file()).decode("latin-1")


async def test_no_secret_or_signature_in_the_log_stderr_or_results(tmp_path: Path) -> None:
    signatures: set[str] = set()

    @web.middleware
    async def keep_signature(request: web.Request, handler: Callable[[web.Request], Awaitable[Any]]) -> Any:
        if "signature" in request.query:
            signatures.add(request.query["signature"])
        return await handler(request)

    exchange = PaperExchange(accounts={KEY: SECRET}, faults={"POST /api/v3/order": Fault(FaultMode.DROP, times=1)})
    app = exchange.app()
    app.middlewares.append(keep_signature)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    log, stderr = tmp_path / "events.sqlite3", tmp_path / "stderr.txt"
    base = {k: v for k, v in os.environ.items() if not k.startswith(("BINANCE_", "MCP_"))}
    env = {
        **base,
        "BINANCE_VENUE": "testnet",
        "BINANCE_BASE_URL": f"http://{host}:{port}",
        "BINANCE_API_KEY": KEY,
        "BINANCE_API_SECRET": SECRET,
        "MCP_EVENT_LOG": str(log),
        "MCP_LOG_SECURITY": "true",
    }
    order = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001"}
    calls: list[tuple[str, dict[str, Any]]] = [
        ("create_order", order),  # its answer is dropped: unknown, then reconciled
        ("get_balance", {}),
        ("create_order", order),
        ("test_order", order),
        ("get_open_orders", {"symbol": "BTCUSDT"}),
        ("get_orders", {"symbol": "BTCUSDT"}),
        ("get_my_trades", {"symbol": "BTCUSDT"}),
        ("get_fee_info", {"symbol": "BTCUSDT"}),
        ("cancel_open_orders", {"symbol": "BTCUSDT"}),  # none open: Binance's -2011
        ("create_order", {**order, "quantity": "1e3"}),  # refused before it is sent
    ]
    results = []
    try:
        params = StdioServerParameters(
            command=sys.executable, args=[str(ROOT / "server.py"), "serve"], env=env, cwd=str(ROOT)
        )
        with stderr.open("w") as errlog:
            async with stdio_client(params, errlog=errlog) as (read, write), ClientSession(read, write) as session:
                await session.initialize()
                for tool, args in calls:
                    result = await session.call_tool(tool, args)
                    results.append(json.dumps(result.model_dump(mode="json")))
    finally:
        await runner.cleanup()
    assert len(signatures) >= 8  # every signed request of the session, lookups included
    outcomes = [json.loads(r)["structured_content"] for r in results]
    assert outcomes[0]["error"]["type"] == "unknown_outcome" and outcomes[2]["success"] is True
    texts = {"event log": _log_files(tmp_path), "stderr": stderr.read_text(), "results": "\n".join(results)}
    assert "SECURITY_EVENT" in texts["stderr"] and "reconciled" in texts["event log"]
    for where, text in texts.items():
        assert SECRET not in text, where
        assert KEY not in text, where
        leaked = [s for s in signatures if s in text]
        assert leaked == [], where
