"""The log's paper account in one process: one holder, the others reach it; a takeover on another
port (the old one taken) is followed by every server that reaches it; a state folder's account is
kept as it was made."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest

from binance_mcp.exchange.client import BinanceClient
from binance_mcp.face.paper import PaperMismatch, SharedPaper, reset


async def test_a_takeover_on_another_port_is_followed_by_every_server(tmp_path: Path) -> None:
    folder = tmp_path / "events.sqlite3.paper"
    a = await SharedPaper.join(folder)
    b, c = await SharedPaper.join(folder), await SharedPaper.join(folder)
    assert a.holding and not b.holding and not c.holding and a.url == b.url == c.url
    assert b.credentials().api_key == a.credentials().api_key  # one account: the state's
    moved: dict[str, asyncio.Event] = {"b": asyncio.Event(), "c": asyncio.Event()}
    urls: dict[str, str] = {}
    for name, shared in (("b", b), ("c", c)):
        shared.on_moved = lambda url, name=name: (urls.__setitem__(name, url), moved[name].set())  # type: ignore[misc]
    old = a.url
    await a.stop()  # the holder goes; before anyone takes over, its port is taken by something else
    blocker = socket.socket()
    blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    blocker.bind(("127.0.0.1", int(old.rpartition(":")[2])))
    blocker.listen()
    try:
        await asyncio.wait_for(asyncio.gather(moved["b"].wait(), moved["c"].wait()), 10)
        assert urls["b"] == urls["c"] != old and (b.holding != c.holding)
        client = BinanceClient(urls["b"])
        try:
            price = await client.request("GET", "/api/v3/ticker/price", {"symbol": "BTCUSDT"})
        finally:
            await client.close()
        assert price.data["symbol"] == "BTCUSDT"
    finally:
        blocker.close()
        await b.stop()
        await c.stop()


async def test_an_ed25519_request_on_an_hmac_account_and_a_reset_while_served_are_refused(tmp_path: Path) -> None:
    folder = tmp_path / "events.sqlite3.paper"
    held = await SharedPaper.join(folder)
    try:
        with pytest.raises(PaperMismatch, match="signs with HMAC"):
            await SharedPaper.join(folder, ed25519=True)
        with pytest.raises(PaperMismatch, match="stop the servers"):
            await asyncio.to_thread(reset, folder)
    finally:
        await held.stop()
    done = await asyncio.to_thread(reset, folder)
    assert done is not None and done[0] == f"paper:{held.account.uid}"
    fresh = await SharedPaper.join(folder, ed25519=True)  # a new account, of the kind asked for
    try:
        assert fresh.account.public_key is not None and fresh.account.uid != held.account.uid
    finally:
        await fresh.stop()
