"""An in-process paper exchange on a manual clock, and a client that signs like Binance's."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from binance_mcp.exchange.paper import LimitConfig, MarketConfig, PaperExchange
from binance_mcp.exchange.signing import encode_params, sign

KEY = "PaperTestKey0000000000000000000000000000000000000000000000000001"
SECRET = "PaperTestSecret000000000000000000000000000000000000000000000001"
T0 = 1_725_700_000_000  # 2024-09-07, a fixed start for every test


class ManualClock:
    def __init__(self, start: int = T0):
        self.now = start

    def __call__(self) -> int:
        return self.now

    def advance(self, ms: int) -> None:
        self.now += ms


@dataclass
class Answer:
    status: int
    body: Any
    headers: dict[str, str]

    @property
    def error(self) -> tuple[int, str]:
        return self.body["code"], self.body["msg"]


class PaperClient:
    def __init__(self, client: TestClient[Any, Any], exchange: PaperExchange, clock: ManualClock):
        self.client = client
        self.exchange = exchange
        self.clock = clock

    async def request(
        self, method: str, path: str, query: str = "", *, key: str | None = KEY, body: str = ""
    ) -> Answer:
        headers = {"X-MBX-APIKEY": key} if key is not None else {}
        if body:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        url = f"{path}?{query}" if query else path
        async with self.client.request(method, url, headers=headers, data=body.encode() if body else None) as resp:
            text = await resp.text()
            import json

            return Answer(resp.status, json.loads(text) if text else None, dict(resp.headers))

    async def get(self, path: str, **params: Any) -> Answer:
        return await self.request("GET", path, encode_params(params), key=None)

    async def signed(self, method: str, path: str, *, secret: str = SECRET, key: str = KEY, **params: Any) -> Answer:
        params.setdefault("timestamp", self.clock())
        query = encode_params(params)
        return await self.request(method, path, f"{query}&signature={sign(secret, query)}", key=key)

    async def order(self, **params: Any) -> Answer:
        return await self.signed("POST", "/api/v3/order", **params)


def make_exchange(clock: ManualClock, **options: Any) -> PaperExchange:
    options.setdefault("market_config", MarketConfig(seed=7, history_ms=3 * 3_600_000))
    return PaperExchange(accounts={KEY: SECRET}, clock=clock, **options)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def paper(clock: ManualClock) -> AsyncIterator[PaperClient]:
    exchange = make_exchange(clock)
    async with TestClient(TestServer(exchange.app())) as client:
        yield PaperClient(client, exchange, clock)


async def open_client(exchange: PaperExchange, clock: ManualClock) -> TestClient[Any, Any]:
    client: TestClient[Any, Any] = TestClient(TestServer(exchange.app()))
    await client.start_server()
    return client


__all__ = ["KEY", "SECRET", "T0", "Answer", "LimitConfig", "ManualClock", "PaperClient", "make_exchange", "open_client"]
