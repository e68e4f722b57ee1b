"""A full tool session signed with an Ed25519 key (an encrypted PEM file) against the paper exchange,
which holds only the public key; no key material anywhere; a wrong key is -1022."""

from __future__ import annotations

import base64
import json
import os
import sys
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from mcp import ClientSession, StdioServerParameters, stdio_client

from binance_mcp.exchange.client import BinanceClient, Credentials
from binance_mcp.exchange.errors import ExchangeRejected
from binance_mcp.exchange.paper import start_paper_exchange

from .conftest import serve_env, stdio_calls

ROOT = Path(__file__).parents[2]
PASSPHRASE = "paper passphrase 42"


def _read(path: Path) -> str:
    return "".join(p.read_bytes().decode("latin-1") for p in sorted(path.parent.rglob(path.name + "*")) if p.is_file())


async def test_a_whole_session_signed_with_ed25519_and_no_key_material_anywhere(tmp_path: Path) -> None:
    running = await start_paper_exchange(ed25519=True)
    assert running.private_key is not None and running.api_secret == ""
    pem = running.private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(PASSPHRASE.encode()),
    )
    key_file = tmp_path / "binance-ed25519.pem"
    key_file.write_bytes(pem)
    raw = running.private_key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    env = serve_env(running, tmp_path / "events.sqlite3", BINANCE_PRIVATE_KEY_PATH=str(key_file))
    env["BINANCE_PRIVATE_KEY_PASSPHRASE"] = PASSPHRASE
    del env["BINANCE_API_SECRET"]
    order = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001"}
    try:
        answers = await stdio_calls(
            env,
            stderr=tmp_path / "stderr.txt",
            calls=[
                ("get_balance", {"asset": "BTC"}),
                ("create_order", order),
                ("create_order", {**order, "type": "LIMIT", "price": "40000"}),
                ("cancel_open_orders", {"symbol": "BTCUSDT"}),
                ("get_my_trades", {"symbol": "BTCUSDT"}),
                ("test_order", order),
                ("get_pnl", {}),
            ],
        )
    finally:
        await running.stop()
    assert all(a["success"] for a in answers), answers
    assert answers[1]["data"]["status"] == "FILLED"
    texts = {
        "event log": _read(tmp_path / "events.sqlite3"),
        "stderr": (tmp_path / "stderr.txt").read_text(),
        "results": json.dumps(answers),
    }
    secrets = [PASSPHRASE, raw.hex(), base64.b64encode(raw).decode(), *pem.decode().splitlines()[1:-1]]
    for where, text in texts.items():
        for secret in secrets:
            assert secret not in text, where


async def test_the_paper_exchange_refuses_another_keys_signature_with_1022() -> None:
    running = await start_paper_exchange(ed25519=True)
    try:
        good = BinanceClient(running.url, credentials=running.credentials())
        assert (await good.request("GET", "/api/v3/account", signed=True)).data["canTrade"] is True
        await good.close()
        thief = BinanceClient(
            running.url, credentials=Credentials(running.api_key, private_key=Ed25519PrivateKey.generate())
        )
        try:
            await thief.request("GET", "/api/v3/account", signed=True)
            raise AssertionError("a signature of another key was accepted")
        except ExchangeRejected as exc:
            assert (exc.code, exc.message) == (-1022, "Signature for this request is not valid.")
        finally:
            await thief.close()
    finally:
        await running.stop()


async def test_serve_can_run_its_embedded_paper_exchange_on_an_ed25519_pair(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BINANCE_", "MCP_"))}
    env["MCP_EVENT_LOG"] = str(tmp_path / "events.sqlite3")
    params = StdioServerParameters(
        command=sys.executable, args=[str(ROOT / "server.py"), "serve", "--paper-ed25519"], env=env, cwd=str(ROOT)
    )
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        result = await session.call_tool("get_balance", {"asset": "USDT"})
    assert result.structured_content is not None and result.structured_content["success"] is True
