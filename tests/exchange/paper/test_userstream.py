"""The paper exchange's WebSocket API user data stream: signing, framing, every order change and
balance move of the account pushed as Binance pushes it, and the drop fault."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from binance_mcp.exchange.paper import Fault, FaultMode, PaperExchange, parse_fault
from binance_mcp.exchange.paper.userstream import WS_PATH
from binance_mcp.exchange.signing import ed25519_public_bytes
from binance_mcp.exchange.signing import ws_payload as signing_payload

from .conftest import KEY, SECRET, ManualClock, PaperClient

WS = aiohttp.ClientWebSocketResponse


def test_the_signing_payload_is_binances_official_vector() -> None:
    params = {
        "apiKey": "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A",
        "symbol": "BTCUSDT",
        "side": "SELL",
        "type": "LIMIT",
        "timeInForce": "GTC",
        "quantity": "0.01000000",
        "price": "52000.00",
        "recvWindow": 100,
        "timestamp": 1645423376532,
        "signature": "ignored",
    }
    secret = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
    signed = hmac.new(secret.encode(), signing_payload(params).encode(), hashlib.sha256).hexdigest()
    assert signed == "aa1b5712c094bc4e57c05a1a5c1fd8d88dcd628338ea863fec7b88e59fe2db24"


def subscribe_params(clock: ManualClock, key: str = KEY, secret: str = SECRET) -> dict[str, Any]:
    params: dict[str, Any] = {"apiKey": key, "timestamp": clock()}
    params["signature"] = hmac.new(secret.encode(), signing_payload(params).encode(), hashlib.sha256).hexdigest()
    return params


async def call(ws: WS, method: str, params: dict[str, Any] | None = None, rid: Any = 1) -> dict[str, Any]:
    """The answer to one request, its `rateLimits` checked (every answer carries them) and left out."""
    await ws.send_json({"id": rid, "method": method, **({"params": params} if params is not None else {})})
    while True:
        frame = await ws.receive_json(timeout=5)
        if "subscriptionId" not in frame or "id" in frame:
            (limits,) = frame.pop("rateLimits")
            assert limits["rateLimitType"] == "REQUEST_WEIGHT" and limits["count"] >= 1 and limits["limit"] > 0
            return dict(frame)


async def events(ws: WS, n: int) -> list[dict[str, Any]]:
    out = []
    while len(out) < n:
        frame = await ws.receive_json(timeout=5)
        assert set(frame) == {"subscriptionId", "event"}, frame
        out.append(frame["event"])
    return out


async def subscribed(paper: PaperClient) -> WS:
    ws = await paper.client.ws_connect(WS_PATH)
    answer = await call(ws, "userDataStream.subscribe.signature", subscribe_params(paper.clock))
    assert answer["status"] == 200 and answer["result"] == {"subscriptionId": 0}, answer
    return ws


async def test_a_resting_order_reports_new_then_its_fill_then_the_balances(paper: PaperClient) -> None:
    ws = await subscribed(paper)
    book = await paper.get("/api/v3/depth", symbol="BTCUSDT", limit=5)
    below = Decimal(book.body["bids"][-1][0]) - 100
    placed = await paper.order(
        symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.001", price=f"{below:.2f}"
    )
    assert placed.status == 200, placed.body
    new, position = await events(ws, 2)
    assert (new["e"], new["x"], new["X"], new["c"], new["i"]) == (
        "executionReport",
        "NEW",
        "NEW",
        placed.body["clientOrderId"],
        placed.body["orderId"],
    )
    assert (new["z"], new["l"], new["t"], new["w"]) == ("0.00000000", "0.00000000", -1, True)
    assert position["e"] == "outboundAccountPosition"
    usdt = next(b for b in position["B"] if b["a"] == "USDT")
    assert Decimal(usdt["l"]) == Decimal("0.001") * below  # locked for the order

    paper.clock.advance(1000)
    paper.exchange.move_market("BTCUSDT", below - 50)
    trade, position = await events(ws, 2)
    assert (trade["x"], trade["X"], trade["z"], trade["l"], trade["m"]) == (
        "TRADE",
        "FILLED",
        "0.00100000",
        "0.00100000",
        True,
    )
    assert Decimal(trade["L"]) == below and Decimal(trade["Z"]) == below * Decimal("0.001")
    assert trade["t"] > 0 and trade["n"] != "0" and trade["N"] == "BTC"
    assert {b["a"] for b in position["B"]} == {"BTC", "USDT"}
    assert Decimal(next(b for b in position["B"] if b["a"] == "USDT")["l"]) == 0
    await ws.close()


async def test_a_market_order_reports_new_before_each_fill(paper: PaperClient) -> None:
    ws = await subscribed(paper)
    placed = await paper.order(symbol="BTCUSDT", side="SELL", type="MARKET", quantity="0.2")
    assert placed.status == 200, placed.body
    fills = placed.body["fills"]
    got = await events(ws, 2 + len(fills))
    assert [e.get("x") for e in got] == ["NEW"] + ["TRADE"] * len(fills) + [None]
    assert [e["X"] for e in got[1:-1]] == ["PARTIALLY_FILLED"] * (len(fills) - 1) + ["FILLED"]
    assert [e["l"] for e in got[1:-1]] == [f["qty"] for f in fills]
    assert got[-2]["z"] == placed.body["executedQty"] and got[-2]["Z"] == placed.body["cummulativeQuoteQty"]
    ids = [e["I"] for e in got[:-1]]
    assert len(set(ids)) == len(ids)
    await ws.close()


async def test_a_cancel_names_the_order_in_C_and_the_cancel_in_c(paper: PaperClient) -> None:
    ws = await subscribed(paper)
    book = await paper.get("/api/v3/depth", symbol="BTCUSDT", limit=5)
    above = Decimal(book.body["asks"][-1][0]) + 100
    placed = await paper.order(
        symbol="BTCUSDT", side="SELL", type="LIMIT", timeInForce="GTC", quantity="0.001", price=f"{above:.2f}"
    )
    assert placed.status == 200, placed.body
    await events(ws, 2)
    cancel = await paper.signed(
        "DELETE", "/api/v3/order", symbol="BTCUSDT", orderId=placed.body["orderId"], newClientOrderId="byHand1"
    )
    assert cancel.status == 200, cancel.body
    canceled, _ = await events(ws, 2)
    assert (canceled["x"], canceled["X"], canceled["c"], canceled["C"]) == (
        "CANCELED",
        "CANCELED",
        "byHand1",
        placed.body["clientOrderId"],
    )
    await ws.close()


async def test_refused_orders_report_nothing_and_other_accounts_see_nothing(paper: PaperClient) -> None:
    other_key, other_secret = "OtherKey" + "0" * 56, "OtherSecret" + "0" * 53
    paper.exchange.add_account(other_key, other_secret)
    ws = await subscribed(paper)
    other = await paper.client.ws_connect(WS_PATH)
    answer = await call(
        other, "userDataStream.subscribe.signature", subscribe_params(paper.clock, other_key, other_secret)
    )
    assert answer["status"] == 200
    refused = await paper.order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="50")  # more than it has
    assert refused.status == 400
    placed = await paper.order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.001")
    got = await events(ws, 1)
    assert got[0]["i"] == placed.body["orderId"]  # the refused one reported nothing
    assert await call(other, "ping") == {"id": 1, "status": 200, "result": {}}  # and the other heard nothing first
    await ws.close()
    await other.close()


async def test_an_ed25519_account_subscribes_with_a_base64_signature(clock: ManualClock) -> None:
    key = Ed25519PrivateKey.generate()
    exchange = PaperExchange(ed25519_accounts={KEY: ed25519_public_bytes(key)}, clock=clock)
    async with TestClient(aiohttp.test_utils.TestServer(exchange.app())) as client:
        ws = await client.ws_connect(WS_PATH)
        params: dict[str, Any] = {"apiKey": KEY, "timestamp": clock(), "recvWindow": 5000}
        params["signature"] = base64.b64encode(key.sign(signing_payload(params).encode())).decode()
        assert (await call(ws, "userDataStream.subscribe.signature", params))["result"] == {"subscriptionId": 0}
        other = Ed25519PrivateKey.generate()
        params["signature"] = base64.b64encode(other.sign(signing_payload(params).encode())).decode()
        refused = await call(ws, "userDataStream.subscribe.signature", params, rid="x")
        assert refused["id"] == "x" and refused["error"]["code"] == -1022
        await ws.close()


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"signature": "0" * 64}, -1022),
        ({"apiKey": "no such key"}, -2014),
        ({"apiKey": "Unknown" + "0" * 57}, -2015),
        ({"timestamp": 1}, -1021),
        ({"recvWindow": 70000}, -1102),
        ({"extra": "1"}, -1106),
        ({"timestamp": "soon"}, -1102),
    ],
)
async def test_a_bad_subscription_is_refused_and_the_connection_stays(
    paper: PaperClient, change: dict[str, Any], code: int
) -> None:
    ws = await paper.client.ws_connect(WS_PATH)
    params = {**subscribe_params(paper.clock), **change}
    answer = await call(ws, "userDataStream.subscribe.signature", params)
    assert answer["status"] >= 400 and answer["error"]["code"] == code, answer
    assert (await call(ws, "session.subscriptions"))["result"] == []
    assert (await call(ws, "userDataStream.subscribe.signature", subscribe_params(paper.clock)))["status"] == 200
    await ws.close()


async def test_unsubscribe_ends_the_events_and_says_so(paper: PaperClient) -> None:
    ws = await subscribed(paper)
    assert (await call(ws, "session.subscriptions"))["result"] == [{"subscriptionId": 0}]
    again = await call(ws, "userDataStream.subscribe.signature", subscribe_params(paper.clock))
    assert again["error"]["code"] == -1020  # one subscription per account per connection
    await ws.send_json({"id": 2, "method": "userDataStream.unsubscribe"})
    frames = [await ws.receive_json(timeout=5) for _ in range(2)]
    assert {"subscriptionId": 0, "event": {"e": "eventStreamTerminated", "E": paper.clock()}} in frames
    assert {"id": 2, "status": 200, "result": {}} in [{k: v for k, v in f.items() if k != "rateLimits"} for f in frames]
    await paper.order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.001")
    assert (await call(ws, "ping", rid=3)) == {"id": 3, "status": 200, "result": {}}  # no event came first
    await ws.close()


async def test_the_drop_fault_loses_the_event_with_the_connection(paper: PaperClient) -> None:
    ws = await subscribed(paper)
    where, fault = parse_fault("ws=drop@1")
    paper.exchange.faults.set(where, fault)
    await paper.order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.001")
    msg = await ws.receive(timeout=5)
    assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR)
    assert paper.exchange.streams.connections == set()
    ws = await subscribed(paper)  # the fault was for one event: the next connection hears everything
    await paper.order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.001")
    assert (await events(ws, 1))[0]["x"] == "NEW"
    await ws.close()


def test_ws_faults_take_drop_or_latency_only() -> None:
    assert parse_fault("ws=drop@2") == ("ws", Fault(FaultMode.DROP, 0, 2))
    assert parse_fault("WS=latency:5")[0] == "ws"
    with pytest.raises(ValueError, match="ws target"):
        parse_fault("ws=timeout")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    frame=st.one_of(
        st.text(max_size=300),
        st.builds(
            lambda m, p: __import__("json").dumps({"id": 1, "method": m, "params": p}),
            st.sampled_from(["userDataStream.subscribe.signature", "userDataStream.unsubscribe", "x", ""]),
            st.dictionaries(
                st.sampled_from(["apiKey", "timestamp", "signature", "recvWindow", "subscriptionId", "z"]),
                st.one_of(st.text(max_size=80), st.integers(), st.floats(allow_nan=True), st.none(), st.booleans()),
            ),
        ),
    )
)
async def test_no_frame_breaks_the_endpoint(paper: PaperClient, frame: str) -> None:
    ws = await paper.client.ws_connect(WS_PATH)
    await ws.send_str(frame)
    answer = await ws.receive_json(timeout=5)
    assert answer.get("status") in (200, 400, 401), answer
    assert (await call(ws, "ping", rid=9))["status"] == 200
    await ws.close()


async def test_shutdown_closes_the_connections(clock: ManualClock) -> None:
    exchange = PaperExchange(accounts={KEY: SECRET}, clock=clock)
    client: TestClient[Any, Any] = TestClient(aiohttp.test_utils.TestServer(exchange.app()))
    await client.start_server()
    ws = await client.ws_connect(WS_PATH)
    await asyncio.wait_for(client.close(), 5)
    assert (await ws.receive(timeout=5)).type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)


async def test_the_server_pings_and_drops_a_client_that_does_not_answer(clock: ManualClock) -> None:
    exchange = PaperExchange(accounts={KEY: SECRET}, clock=clock, ws_heartbeat_s=0.2)
    async with TestClient(aiohttp.test_utils.TestServer(exchange.app())) as client:
        answering = await client.ws_connect(WS_PATH)  # aiohttp answers each ping it reads with its payload
        reading = asyncio.create_task(answering.receive_json())  # as the stream's reader always is
        silent = await client.ws_connect(WS_PATH, autoping=False)
        assert (await silent.receive(timeout=5)).type is aiohttp.WSMsgType.PING  # and never answered
        while (msg := await silent.receive(timeout=5)).type is aiohttp.WSMsgType.PING:
            pass
        assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        # the one that answered lived through the same heartbeats
        await answering.send_json({"id": 1, "method": "ping"})
        answered = await asyncio.wait_for(reading, 5)
        assert answered.pop("rateLimits") and answered == {"id": 1, "status": 200, "result": {}}
        await answering.close()


async def test_every_answer_carries_its_rate_limits_unless_asked_not_to(paper: PaperClient) -> None:
    """As Binance's WebSocket API does (its official SDK reads `rateLimits` from every answer): the
    request's weight counts toward the IP's minute (ping 1, a list of subscriptions 2)."""
    ws = await paper.client.ws_connect(WS_PATH)
    await ws.send_json({"id": 1, "method": "ping"})
    first = (await ws.receive_json(timeout=5))["rateLimits"][0]["count"]
    await ws.send_json({"id": 2, "method": "session.subscriptions"})
    assert (await ws.receive_json(timeout=5))["rateLimits"][0]["count"] == first + 2
    await ws.send_json({"id": 3, "method": "ping", "params": {"returnRateLimits": False}})
    assert "rateLimits" not in await ws.receive_json(timeout=5)
    await ws.close()
    quiet = await paper.client.ws_connect(WS_PATH + "?returnRateLimits=false")
    await quiet.send_json({"id": 1, "method": "ping"})
    assert await quiet.receive_json(timeout=5) == {"id": 1, "status": 200, "result": {}}
    await quiet.close()
