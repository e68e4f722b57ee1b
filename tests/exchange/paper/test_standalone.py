"""`binance-mcp paper` as a process, and the embedded start/stop."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

import aiohttp
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from binance_mcp.exchange.client import BinanceClient, Credentials
from binance_mcp.exchange.paper import start_paper_exchange
from binance_mcp.exchange.signing import encode_params, sign

ROOT = Path(__file__).parents[3]


async def _spawn(*args: str, env: dict[str, str] | None = None) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "server.py"),
        "paper",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **(env or {})},
    )


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_standalone_prints_its_url_first_and_exits_0_on_signal(sig: signal.Signals) -> None:
    env = {"BINANCE_API_KEY": "K" * 64, "BINANCE_API_SECRET": "S" * 64}
    proc = await _spawn("--seed", "5", env=env)
    assert proc.stdout is not None and proc.stderr is not None
    first = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode().strip()
    assert first.startswith("PAPER_EXCHANGE_URL=http://127.0.0.1:")
    url = first.split("=", 1)[1]
    query = encode_params({"timestamp": int(time.time() * 1000)})
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{url}/api/v3/ticker/price?symbol=BTCUSDT") as resp:
            assert resp.status == 200
        headers = {"X-MBX-APIKEY": "K" * 64}
        async with session.get(
            f"{url}/api/v3/account?{query}&signature={sign('S' * 64, query)}", headers=headers
        ) as resp:
            assert resp.status == 200  # the account takes the credentials from the environment
    proc.send_signal(sig)
    assert await asyncio.wait_for(proc.wait(), 30) == 0
    stderr = (await proc.stderr.read()).decode()
    assert "S" * 64 not in stderr


async def test_standalone_generates_credentials_and_prints_them_to_stderr() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BINANCE_")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "server.py"),
        "paper",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    assert proc.stdout is not None and proc.stderr is not None
    first = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
    assert first.startswith("PAPER_EXCHANGE_URL=")
    line = (await asyncio.wait_for(proc.stderr.readline(), 30)).decode()
    assert "BINANCE_API_KEY=" in line and "BINANCE_API_SECRET=" in line
    proc.terminate()
    assert await asyncio.wait_for(proc.wait(), 30) == 0
    assert (await proc.stdout.read()) == b""  # nothing else on stdout


async def test_bad_fault_spec_is_a_clear_error() -> None:
    proc = await _spawn("--fault", "/api/v3/order=explode")
    _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 2
    assert b"mode must be one of" in err


async def test_embedded_start_and_stop() -> None:
    running = await start_paper_exchange(seed=3)
    assert running.url.startswith("http://127.0.0.1:")
    assert len(running.api_key) == 64 and len(running.api_secret) == 64
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{running.url}/api/v3/ping") as resp:
            assert resp.status == 200
        await running.stop()
        with pytest.raises(aiohttp.ClientConnectionError):
            async with session.get(f"{running.url}/api/v3/ping"):
                pass


async def test_standalone_with_an_ed25519_public_key_and_key_permissions(tmp_path: Path) -> None:
    private = Ed25519PrivateKey.generate()
    public = tmp_path / "public.pem"
    public.write_bytes(
        private.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    key = "Ed25519PaperKey" + "5" * 49
    env = {k: v for k, v in os.environ.items() if not k.startswith("BINANCE_")} | {"BINANCE_API_KEY": key}
    proc = await _spawn("--ed25519-public-key", str(public), "--key-permission", "enableWithdrawals=true", env=env)
    assert proc.stdout is not None
    url = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode().strip().split("=", 1)[1]
    client = BinanceClient(url, credentials=Credentials(key, private_key=private))
    try:
        restrictions = (await client.request("GET", "/sapi/v1/account/apiRestrictions", signed=True)).data
        assert restrictions["enableWithdrawals"] is True and restrictions["enableReading"] is True
        assert (await client.request("GET", "/api/v3/account", signed=True)).data["canTrade"] is True
    finally:
        await client.close()
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 30) == 0
    bad = await _spawn("--key-permission", "enableEverything=true")
    assert await asyncio.wait_for(bad.wait(), 30) == 2


async def test_standalone_with_a_state_folder_keeps_its_account_across_restarts(tmp_path: Path) -> None:
    env = {"BINANCE_API_KEY": "K" * 64, "BINANCE_API_SECRET": "S" * 64}
    credentials = Credentials("K" * 64, "S" * 64)
    order = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.001"}
    placed: dict[str, object] = {}
    for run in range(2):
        proc = await _spawn("--state", str(tmp_path / "state"), env=env)
        assert proc.stdout is not None
        url = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode().strip().split("=", 1)[1]
        client = BinanceClient(url, credentials=credentials)
        try:
            if run == 0:
                price = (await client.request("GET", "/api/v3/ticker/price", {"symbol": "BTCUSDT"})).data["price"]
                limit = f"{float(price) * 0.99:.2f}"  # rests under the market
                placed = (await client.request("POST", "/api/v3/order", {**order, "price": limit}, signed=True)).data
                second = await _spawn("--state", str(tmp_path / "state"), env=env)  # one process serves a state
                assert await asyncio.wait_for(second.wait(), 30) == 2
                assert second.stderr is not None and b"another process serves" in await second.stderr.read()
            else:
                opens = (await client.request("GET", "/api/v3/openOrders", {"symbol": "BTCUSDT"}, signed=True)).data
                assert [(o["orderId"], o["clientOrderId"]) for o in opens] == [
                    (placed["orderId"], placed["clientOrderId"])
                ]
        finally:
            await client.close()
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 30) == 0


async def test_standalone_with_a_state_folder_on_a_taken_port_says_so(tmp_path: Path) -> None:
    import socket

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        proc = await _spawn("--state", str(tmp_path / "state"), "--port", str(taken.getsockname()[1]))
        assert await asyncio.wait_for(proc.wait(), 30) == 2
        assert proc.stderr is not None
        said = (await proc.stderr.read()).decode()
    finally:
        taken.close()
    assert "binance-mcp paper:" in said and "Traceback" not in said
