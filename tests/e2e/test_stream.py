"""The account stream through `serve` (a process of its own, stdio) on a paper exchange: an order
placed on the account from elsewhere is a SECURITY_EVENT line within 2 s, and on record."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from binance_mcp.exchange.client import BinanceClient
from binance_mcp.exchange.paper import start_paper_exchange

from ..logs import read_log
from .conftest import ROOT, closed, line_with, serve_env, spawn


async def test_an_order_placed_elsewhere_is_a_security_line_within_two_seconds(tmp_path: Path) -> None:
    running = await start_paper_exchange()
    log = tmp_path / "events.sqlite3"
    try:
        proc = await spawn(serve_env(running, log), sys.executable, str(ROOT / "server.py"), "serve")
        await line_with(proc, "account stream: subscribed")
        elsewhere = BinanceClient(running.url, credentials=running.credentials())
        placed_at = time.monotonic()
        order = {"symbol": "ETHUSDT", "side": "SELL", "type": "MARKET", "quantity": "0.01", "newClientOrderId": "x9"}
        reply = await elsewhere.request("POST", "/api/v3/order", order, signed=True)
        await elsewhere.close()
        lines = await line_with(proc, '"foreign_order"', timeout_s=2.0)
        assert time.monotonic() - placed_at < 2.0
        line = json.loads(lines[-1].removeprefix("SECURITY_EVENT: "))
        assert (line["symbol"], line["side"], line["quantity"], line["client_order_id"]) == (
            "ETHUSDT",
            "SELL",
            "0.01000000",
            "x9",
        )
        assert line["order_id"] == reply.data["orderId"]
        assert await closed(proc) == 0
    finally:
        await running.stop()
    rows = read_log(log)
    kinds = [r.kind for r in rows]
    assert "stream_connected" in kinds and kinds[-1] == "stopped"
    assert any(r.kind == "security" and r.event.event_type == "foreign_order" for r in rows)
    text = log.read_bytes()
    assert running.api_secret.encode() not in text and b"signature" not in text
