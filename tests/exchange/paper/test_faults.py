"""Every fault mode, and that faults are off unless asked for."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from binance_mcp.exchange.paper import Fault, FaultMode, parse_fault

from .conftest import ManualClock, PaperClient, make_exchange

ORDER = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001"}


async def placed_orders(paper: PaperClient) -> int:
    return len((await paper.signed("GET", "/api/v3/allOrders", symbol="BTCUSDT")).body)


def test_parse_fault_specs() -> None:
    assert parse_fault("/api/v3/order=drop@1") == ("/api/v3/order", Fault(FaultMode.DROP, 0, 1))
    assert parse_fault("/api/v3/depth=latency:250") == ("/api/v3/depth", Fault(FaultMode.LATENCY, 250, None))
    assert parse_fault("POST /api/v3/order=drop@1") == ("POST /api/v3/order", Fault(FaultMode.DROP, 0, 1))
    assert parse_fault("delete /api/v3/order=timeout")[0] == "DELETE /api/v3/order"
    for bad in (
        "order=drop",
        "/api/v3/order=explode",
        "/api/v3/order=latency",
        "/api/v3/order=drop:5",
        "/x=hang@y",
        "FETCH /api/v3/order=drop",
        "POST order=drop",
    ):
        with pytest.raises(ValueError, match="fault spec"):
            parse_fault(bad)


async def test_a_fault_with_a_method_spares_the_other_methods_of_its_path(paper: PaperClient) -> None:
    paper.exchange.faults.set("POST /api/v3/order", Fault(FaultMode.UNAVAILABLE, times=1))
    lookup = await paper.signed("GET", "/api/v3/order", symbol="BTCUSDT", orderId="1")
    assert lookup.error[0] == -2013  # the GET went through to the handler, and did not use the fault up
    answer = await paper.order(**ORDER)
    assert answer.status == 503  # the POST met it
    assert (await paper.order(**ORDER)).status == 200  # @1: once only
    assert await placed_orders(paper) == 1


async def test_a_fault_with_a_method_wins_over_one_without(paper: PaperClient) -> None:
    paper.exchange.faults.set("/api/v3/order", Fault(FaultMode.UNAVAILABLE))
    paper.exchange.faults.set("POST /api/v3/order", Fault(FaultMode.TIMEOUT, times=1))
    assert (await paper.order(**ORDER)).status == 504
    assert (await paper.order(**ORDER)).status == 503  # the method's fault is used up; any-method remains
    assert (await paper.signed("GET", "/api/v3/order", symbol="BTCUSDT", orderId="1")).status == 503


async def test_latency_delays_the_answer(clock: ManualClock) -> None:
    slept: list[float] = []

    async def record(seconds: float) -> None:
        slept.append(seconds)

    exchange = make_exchange(clock, sleep=record, faults={"/api/v3/ticker/price": Fault(FaultMode.LATENCY, 250)})
    async with TestClient(TestServer(exchange.app())) as client:
        paper = PaperClient(client, exchange, clock)
        answer = await paper.get("/api/v3/ticker/price", symbol="BTCUSDT")
        assert answer.status == 200 and answer.body["symbol"] == "BTCUSDT"
        assert slept == [0.25]
        await paper.get("/api/v3/ping")
        assert slept == [0.25]  # other endpoints are untouched


async def test_latency_is_real_time_by_default(paper: PaperClient) -> None:
    paper.exchange.faults.set("/api/v3/ping", Fault(FaultMode.LATENCY, 50))
    loop = asyncio.get_running_loop()
    started = loop.time()
    await paper.get("/api/v3/ping")
    assert loop.time() - started >= 0.05


async def test_unavailable_is_503_unknown_and_not_applied(paper: PaperClient) -> None:
    paper.exchange.faults.set("/api/v3/order", Fault(FaultMode.UNAVAILABLE, times=1))
    answer = await paper.order(**ORDER)
    assert answer.status == 503
    assert answer.error == (
        -1006,
        "An unexpected response was received from the message bus. Execution status unknown.",
    )
    assert await placed_orders(paper) == 0
    assert (await paper.order(**ORDER)).status == 200  # times=1: the next one goes through


async def test_timeout_is_1007_after_the_order_was_applied(paper: PaperClient) -> None:
    paper.exchange.faults.set("/api/v3/order", Fault(FaultMode.TIMEOUT, times=1))
    answer = await paper.order(**ORDER)
    assert answer.status == 504
    assert answer.error == (
        -1007,
        "Timeout waiting for response from backend server. Send status unknown; execution status unknown.",
    )
    assert await placed_orders(paper) == 1


async def test_hang_until_the_client_gives_up(paper: PaperClient) -> None:
    paper.exchange.faults.set("/api/v3/order", Fault(FaultMode.HANG, times=1))
    with pytest.raises(asyncio.TimeoutError):
        async with paper.client.post("/api/v3/order", timeout=aiohttp.ClientTimeout(total=0.2)):
            pass
    assert await placed_orders(paper) == 0
    assert (await paper.get("/api/v3/ping")).status == 200


async def test_drop_after_apply_loses_the_answer_but_not_the_order(paper: PaperClient) -> None:
    paper.exchange.faults.set("/api/v3/order", Fault(FaultMode.DROP, times=1))
    with pytest.raises(aiohttp.ClientError):
        await paper.order(**ORDER, newClientOrderId="lost-answer")
    found = await paper.signed("GET", "/api/v3/order", symbol="BTCUSDT", origClientOrderId="lost-answer")
    assert found.status == 200 and found.body["status"] == "FILLED"


async def test_malformed_json_body(paper: PaperClient) -> None:
    paper.exchange.faults.set("/api/v3/ticker/price", Fault(FaultMode.MALFORMED))
    async with paper.client.get("/api/v3/ticker/price?symbol=BTCUSDT") as resp:
        assert resp.status == 200
        with pytest.raises(ValueError):
            await resp.json()
    paper.exchange.faults.set("/api/v3/ticker/price", None)
    assert (await paper.get("/api/v3/ticker/price", symbol="BTCUSDT")).status == 200


async def test_faults_are_off_by_default(clock: ManualClock) -> None:
    exchange = make_exchange(clock)
    async with TestClient(TestServer(exchange.app())) as client:
        paper = PaperClient(client, exchange, clock)
        for path in ("/api/v3/ping", "/api/v3/time"):
            assert (await paper.get(path)).status == 200
        assert (await paper.order(**ORDER)).status == 200
