"""REQUEST_WEIGHT and ORDERS limits: headers, 429, the 418 ban that grows, recovery."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer

from binance_mcp.exchange.paper import LimitConfig
from binance_mcp.exchange.paper.limits import WeightLimiter

from .conftest import ManualClock, PaperClient, make_exchange

LIMITS = LimitConfig(weight_per_minute=10, orders_per_10s=3, orders_per_day=5, ban_after=2, ban_base_s=120)


@pytest.fixture
async def tight(clock: ManualClock) -> AsyncIterator[PaperClient]:
    clock.now -= clock.now % 60_000  # start on a minute boundary: windows are fixed minutes
    exchange = make_exchange(clock, limits=LIMITS)
    async with TestClient(TestServer(exchange.app())) as client:
        yield PaperClient(client, exchange, clock)


async def test_weight_429_then_418_and_recovery(tight: PaperClient, clock: ManualClock) -> None:
    for used in range(1, 11):
        answer = await tight.get("/api/v3/ping")
        assert (answer.status, answer.headers["X-MBX-USED-WEIGHT-1M"]) == (200, str(used))
    clock.advance(15_000)
    over = await tight.get("/api/v3/ping")
    assert over.status == 429
    assert over.headers["Retry-After"] == "45"
    assert over.error == (
        -1003,
        "Too much request weight used; current limit is 10 request weight per 1 MINUTE. "
        "Please use WebSocket Streams for live updates to avoid polling the API.",
    )
    assert (await tight.get("/api/v3/ping")).status == 429
    banned = await tight.get("/api/v3/ping")  # the third 429-worthy request in the window: banned
    assert banned.status == 418
    assert banned.headers["Retry-After"] == "120"
    until = clock() + 120_000
    assert banned.error == (
        -1003,
        f"Way too much request weight used; IP banned until {until}. "
        "Please use WebSocket Streams for live updates to avoid bans.",
    )
    clock.advance(60_000)
    still = await tight.get("/api/v3/ping")
    assert (still.status, still.headers["Retry-After"]) == (418, "60")
    clock.advance(60_000)
    assert (await tight.get("/api/v3/ping")).status == 200  # recovered after Retry-After


async def test_repeat_offenders_are_banned_longer(clock: ManualClock) -> None:
    limiter = WeightLimiter(LIMITS)
    now = clock.now - clock.now % 60_000
    lengths = []
    for _ in range(3):
        verdict = limiter.charge("1.2.3.4", 1, now)
        while verdict.status != 418:
            verdict = limiter.charge("1.2.3.4", 5, now)
        lengths.append(verdict.retry_after_s)
        now = verdict.banned_until
    assert lengths == [120, 240, 480]
    assert limiter.charge("5.6.7.8", 1, now).status == 200  # limits are per IP


async def test_order_count_limit(tight: PaperClient, clock: ManualClock) -> None:
    exchange = tight.exchange
    exchange.weights = WeightLimiter(LimitConfig())  # only the order limits are tight here
    for n in range(1, 4):
        answer = await tight.order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.0001")
        assert answer.status == 200, answer.body
        assert (answer.headers["X-MBX-ORDER-COUNT-10S"], answer.headers["X-MBX-ORDER-COUNT-1D"]) == (str(n), str(n))
    fourth = await tight.order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.0001")
    assert fourth.status == 429
    assert fourth.error == (-1015, "Too many new orders; current limit is 3 orders per 10 SECOND.")
    assert fourth.headers["Retry-After"] == "10"
    clock.advance(10_000)
    for _ in range(2):
        assert (await tight.order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.0001")).status == 200
    clock.advance(10_000)
    daily = await tight.order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.0001")
    assert daily.error == (-1015, "Too many new orders; current limit is 5 orders per 1 DAY.")
    assert len((await tight.signed("GET", "/api/v3/allOrders", symbol="BTCUSDT")).body) == 5
