"""The client: the official signature on the wire, error mapping, time offset, no secret leaks."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from binance_mcp.exchange.client import BinanceClient, Credentials
from binance_mcp.exchange.errors import ExchangeRejected, RateLimited, TransportError, UnknownOutcome
from binance_mcp.exchange.paper import Fault, FaultMode, LimitConfig, MarketConfig, PaperExchange
from binance_mcp.exchange.signing import sign

KEY, SECRET = "K" * 64, "S" * 64
DOC_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"


async def test_signed_request_carries_the_official_signature() -> None:
    seen: list[web.Request] = []

    async def record(request: web.Request) -> web.Response:
        seen.append(request)
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/api/v3/order", record)
    server = TestServer(app)
    await server.start_server()
    client = BinanceClient(
        str(server.make_url("")), credentials=Credentials("vmPUZE6mv9SD5VNH", DOC_SECRET), clock=lambda: 1499827319559
    )
    params = {"symbol": "LTCBTC", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "1", "price": "0.1"}
    reply = await client.request("POST", "/api/v3/order", params, signed=True)
    await client.close()
    await server.close()
    assert reply.data == {"ok": True}
    raw_query = seen[0].raw_path.partition("?")[2]
    assert raw_query == (
        "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559"
        "&signature=c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
    )
    assert seen[0].headers["X-MBX-APIKEY"] == "vmPUZE6mv9SD5VNH"


def test_credentials_never_show_the_secret() -> None:
    creds = Credentials("ABCDEFGHIJKLMNOP", SECRET)
    assert SECRET not in repr(creds) and SECRET not in str(creds)


@pytest.fixture
async def paper() -> AsyncIterator[tuple[PaperExchange, BinanceClient]]:
    exchange = PaperExchange(
        accounts={KEY: SECRET},
        market_config=MarketConfig(seed=2, history_ms=3_600_000),
        limits=LimitConfig(weight_per_minute=100_000),
    )
    server = TestServer(exchange.app())
    await server.start_server()
    seen: list[int] = []
    client = BinanceClient(
        str(server.make_url("")), credentials=Credentials(KEY, SECRET), on_weight=seen.append, timeout_s=0.5
    )
    yield exchange, client
    await client.close()
    await server.close()


async def test_weight_headers_are_reported(paper: tuple[PaperExchange, BinanceClient]) -> None:
    _, client = paper
    first = await client.request("GET", "/api/v3/ticker/price", {"symbol": "BTCUSDT"})
    second = await client.request("GET", "/api/v3/ticker/price", {"symbol": "BTCUSDT"})
    assert (first.used_weight, second.used_weight) == (2, 4)


async def test_only_the_spot_apis_weight_header_is_the_spot_limit() -> None:
    """/fapi counts its own weight (and /sapi its own, in other headers): a futures answer saying
    5,000 must not make the spot limiter think the spot minute is spent."""

    async def answer(request: web.Request) -> web.Response:
        used = {"/api": "7", "/fapi": "5000", "/sapi": "4000"}[request.path.split("/v")[0]]
        return web.json_response({}, headers={"X-MBX-USED-WEIGHT-1M": used})

    app = web.Application()
    for path in ("/api/v3/ticker/price", "/fapi/v1/income", "/sapi/v1/capital/deposit/hisrec"):
        app.router.add_get(path, answer)
    server = TestServer(app)
    await server.start_server()
    seen: list[int] = []
    client = BinanceClient(str(server.make_url("")), on_weight=seen.append)
    for path in ("/fapi/v1/income", "/sapi/v1/capital/deposit/hisrec", "/api/v3/ticker/price"):
        await client.request("GET", path)
    await client.close()
    await server.close()
    assert seen == [7]


async def test_binance_errors_keep_code_and_message(paper: tuple[PaperExchange, BinanceClient]) -> None:
    _, client = paper
    with pytest.raises(ExchangeRejected) as info:
        await client.request("GET", "/api/v3/ticker/price", {"symbol": "NOPEUSDT"})
    assert (info.value.code, info.value.message, info.value.status) == (-1121, "Invalid symbol.", 400)


@pytest.mark.parametrize(
    "mode", [FaultMode.UNAVAILABLE, FaultMode.TIMEOUT, FaultMode.DROP, FaultMode.MALFORMED, FaultMode.HANG]
)
async def test_failures_that_may_have_happened_are_unknown(
    paper: tuple[PaperExchange, BinanceClient], mode: FaultMode
) -> None:
    exchange, client = paper
    exchange.faults.set("/api/v3/order", Fault(mode, times=1))
    with pytest.raises(UnknownOutcome) as info:
        await client.request(
            "POST",
            "/api/v3/order",
            {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001"},
            signed=True,
        )
    assert SECRET not in str(info.value) and "signature" not in str(info.value)


async def test_rate_limited_carries_retry_after(paper: tuple[PaperExchange, BinanceClient]) -> None:
    exchange, client = paper
    exchange.weights.config = LimitConfig(weight_per_minute=3)  # type: ignore[misc]
    await client.request("GET", "/api/v3/ping")
    with pytest.raises(RateLimited) as info:
        for _ in range(3):
            await client.request("GET", "/api/v3/ticker/price", {"symbol": "BTCUSDT"})
    assert info.value.status == 429 and info.value.code == -1003 and info.value.retry_after_s >= 1


async def test_clock_offset_is_measured_and_remeasured_after_1021(paper: tuple[PaperExchange, BinanceClient]) -> None:
    exchange, client = paper
    exchange.clock_skew_ms = -20_000  # the server is 20 s behind us
    assert (await client.request("GET", "/api/v3/account", signed=True)).data["accountType"] == "SPOT"  # retried once
    assert -21_000 < client.offset_ms < -19_000
    exchange.clock_skew_ms = 0
    with pytest.raises(ExchangeRejected) as info:  # a state change is never retried
        await client.request(
            "POST",
            "/api/v3/order",
            {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001"},
            signed=True,
        )
    assert info.value.code == -1021


async def test_unreachable_exchange_is_a_transport_error() -> None:
    client = BinanceClient("http://127.0.0.1:9", timeout_s=2)
    with pytest.raises(TransportError):
        await client.request("GET", "/api/v3/ping")
    await client.close()


HOSTILE = "A'B/?+% é&=#~*()!$,;:@[]"


async def test_what_is_sent_is_what_is_signed_for_every_character() -> None:
    """The query on the wire is byte for byte the one signed (aiohttp's URL handling would turn
    %27 back into ' and %2F into /, and the signature would no longer match)."""
    seen: list[str] = []

    async def record(request: web.Request) -> web.Response:
        seen.append(request.raw_path.partition("?")[2])
        return web.json_response([])

    app = web.Application()
    app.router.add_get("/sapi/v1/capital/deposit/hisrec", record)
    server = TestServer(app)
    await server.start_server()
    client = BinanceClient(str(server.make_url("")), credentials=Credentials(KEY, SECRET), clock=lambda: 1)
    prepared = client.prepare("GET", "/sapi/v1/capital/deposit/hisrec", {"coin": HOSTILE}, signed=True)
    await client.send(prepared)
    await client.close()
    await server.close()
    assert prepared.query == (
        "coin=A%27B%2F%3F%2B%25%20%C3%A9%26%3D%23~%2A%28%29%21%24%2C%3B%3A%40%5B%5D&recvWindow=5000&timestamp=1"
    )
    assert seen == [f"{prepared.query}&signature={sign(SECRET, prepared.query)}"]


async def test_the_paper_exchange_takes_a_signature_over_any_character(
    paper: tuple[PaperExchange, BinanceClient],
) -> None:
    _, client = paper
    reply = await client.request("GET", "/sapi/v1/capital/deposit/hisrec", {"coin": HOSTILE}, signed=True)
    assert reply.data == []  # no such coin: an answer, not -1022
