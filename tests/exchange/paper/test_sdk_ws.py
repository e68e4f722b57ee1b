"""Binance's official Python SDK (`binance-sdk-spot`, our conformance client) on the paper
exchange's WebSocket API: it connects, pings, subscribes to the account's user data stream with a
signature, receives an order's events, and unsubscribes. It failed on the first answer before the
paper exchange sent `rateLimits` with every answer, as Binance does (KeyError: 'rateLimits')."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from binance_common.configuration import ConfigurationWebSocketAPI
from binance_sdk_spot.spot import Spot

from binance_mcp.exchange.client import BinanceClient, Credentials
from binance_mcp.exchange.paper import start_paper_exchange


# The SDK passes aiohttp a float timeout, which aiohttp deprecates: the SDK's, not ours.
@pytest.mark.filterwarnings("ignore:parameter 'timeout' of type 'float' is deprecated:DeprecationWarning")
async def test_the_official_sdk_subscribes_and_hears_an_order() -> None:
    paper = await start_paper_exchange()
    config = ConfigurationWebSocketAPI(api_key=paper.api_key, api_secret=paper.api_secret, stream_url=paper.ws_url)
    client = Spot(config_ws_api=config)
    connection = await client.websocket_api.create_connection()
    heard: asyncio.Queue[Any] = asyncio.Queue()
    rest = BinanceClient(paper.url, credentials=Credentials(paper.api_key, paper.api_secret))
    try:
        pong = await connection.ping()
        assert pong.rate_limits and pong.rate_limits[0].rateLimitType == "REQUEST_WEIGHT"
        subscribed = await connection.user_data_stream_subscribe_signature()
        subscribed.stream.on("message", heard.put_nowait)
        order = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001"}
        placed = (await rest.request("POST", "/api/v3/order", order, signed=True)).data
        first = await asyncio.wait_for(heard.get(), 10)
        report = first.actual_instance if hasattr(first, "actual_instance") else first
        dumped = report.model_dump(by_alias=True) if hasattr(report, "model_dump") else dict(report)
        # the SDK read it as its own ExecutionReport (the `e` field chose the model), of this order
        assert type(report).__name__ == "ExecutionReport" and dumped.get("i") == placed["orderId"], dumped
        await subscribed.stream.unsubscribe()
    finally:
        await rest.close()
        await connection.close_connection()
        await paper.stop()
