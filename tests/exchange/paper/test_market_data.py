"""Public endpoints, and a market that is deterministic, consistent and realistic."""

from __future__ import annotations

import json
from decimal import Decimal as D

from aiohttp.test_utils import TestClient, TestServer

from binance_mcp.exchange.paper import MarketConfig, PaperExchange
from binance_mcp.exchange.paper.market import DAY_MS

from .conftest import KEY, SECRET, ManualClock, PaperClient, make_exchange

REQUIRED = {"BTCUSDT", "ETHUSDT", "BNBUSDT", "SOLUSDT", "ETHBTC", "1000SATSUSDT", "1INCHUSDT"}


async def test_exchange_info_ships_real_symbols_with_their_filters(paper: PaperClient) -> None:
    answer = await paper.get("/api/v3/exchangeInfo")
    symbols = {s["symbol"]: s for s in answer.body["symbols"]}
    assert len(symbols) >= 20
    assert symbols.keys() >= REQUIRED
    assert any(s["status"] != "TRADING" for s in symbols.values())
    price_filter = next(f for f in symbols["BTCUSDT"]["filters"] if f["filterType"] == "PRICE_FILTER")
    assert price_filter["tickSize"] == "0.01000000"
    assert symbols["1000SATSUSDT"]["baseAsset"] == "1000SATS"


async def test_exchange_info_symbol_and_symbols_forms(paper: PaperClient) -> None:
    one = await paper.get("/api/v3/exchangeInfo", symbol="ETHBTC")
    assert [s["symbol"] for s in one.body["symbols"]] == ["ETHBTC"]
    many = await paper.get("/api/v3/exchangeInfo", symbols=json.dumps(["BTCUSDT", "1INCHUSDT"]))
    assert [s["symbol"] for s in many.body["symbols"]] == ["BTCUSDT", "1INCHUSDT"]
    both = await paper.get("/api/v3/exchangeInfo", symbol="ETHBTC", symbols='["BTCUSDT"]')
    assert both.error == (-1128, "Combination of optional parameters invalid.")


async def test_ping_time_and_weight_header(paper: PaperClient, clock: ManualClock) -> None:
    ping = await paper.get("/api/v3/ping")
    assert ping.status == 200 and ping.body == {}
    assert ping.headers["X-MBX-USED-WEIGHT-1M"] == "1"
    server_time = await paper.get("/api/v3/time")
    assert server_time.body == {"serverTime": clock()}
    assert server_time.headers["X-MBX-USED-WEIGHT-1M"] == "2"


async def test_endpoint_weights_follow_binance(paper: PaperClient) -> None:
    async def cost(path: str, **params: object) -> int:
        before = paper.exchange.weights.used("127.0.0.1", paper.clock())
        answer = await paper.get(path, **params)
        assert answer.status == 200, answer.body
        return int(answer.headers["X-MBX-USED-WEIGHT-1M"]) - before

    assert await cost("/api/v3/depth", symbol="BTCUSDT", limit=100) == 5
    assert await cost("/api/v3/depth", symbol="BTCUSDT", limit=500) == 25
    assert await cost("/api/v3/depth", symbol="BTCUSDT", limit=1000) == 50
    assert await cost("/api/v3/depth", symbol="BTCUSDT", limit=5000) == 250
    assert await cost("/api/v3/ticker/price", symbol="BTCUSDT") == 2
    assert await cost("/api/v3/ticker/price") == 4
    assert await cost("/api/v3/ticker/24hr", symbol="BTCUSDT") == 2
    assert await cost("/api/v3/ticker/24hr") == 80
    assert await cost("/api/v3/exchangeInfo") == 20
    assert await cost("/api/v3/trades", symbol="BTCUSDT") == 25


async def test_book_has_depth_on_both_sides_around_the_last_price(paper: PaperClient) -> None:
    depth = await paper.get("/api/v3/depth", symbol="BTCUSDT", limit=20)
    bids = [(D(p), D(q)) for p, q in depth.body["bids"]]
    asks = [(D(p), D(q)) for p, q in depth.body["asks"]]
    assert len(bids) == len(asks) == 20
    assert bids == sorted(bids, reverse=True) and asks == sorted(asks)
    assert bids[0][0] < asks[0][0]
    last = D((await paper.get("/api/v3/ticker/price", symbol="BTCUSDT")).body["price"])
    assert bids[0][0] <= last <= asks[0][0]
    assert D(20_000) < last < D(200_000)  # near realistic levels
    book = await paper.get("/api/v3/ticker/bookTicker", symbol="BTCUSDT")
    assert (D(book.body["bidPrice"]), D(book.body["askPrice"])) == (bids[0][0], asks[0][0])


async def test_trades_and_klines_agree(paper: PaperClient, clock: ManualClock) -> None:
    trades = (await paper.get("/api/v3/trades", symbol="ETHUSDT", limit=1000)).body
    klines = (await paper.get("/api/v3/klines", symbol="ETHUSDT", interval="1m", limit=1000)).body
    assert trades and klines
    first_open = klines[0][0]
    in_range = [t for t in trades if t["time"] >= first_open]
    by_minute: dict[int, list[dict[str, object]]] = {}
    for t in in_range:
        by_minute.setdefault(int(t["time"]) - int(t["time"]) % 60_000, []).append(t)
    checked = 0
    for k in klines:
        rows = by_minute.get(k[0], [])
        if not rows or len(rows) != k[8]:
            continue  # the 1000-trade window may start inside this minute
        prices = [D(str(r["price"])) for r in rows]
        assert (D(k[1]), D(k[2]), D(k[3]), D(k[4])) == (prices[0], max(prices), min(prices), prices[-1])
        assert D(k[5]) == sum(D(str(r["qty"])) for r in rows)
        assert k[6] == k[0] + 59_999
        checked += 1
    assert checked > 10
    ticker = (await paper.get("/api/v3/ticker/24hr", symbol="ETHUSDT")).body
    assert ticker["lastPrice"] == trades[-1]["price"]


async def test_avg_price_is_the_five_minute_vwap(paper: PaperClient, clock: ManualClock) -> None:
    answer = (await paper.get("/api/v3/avgPrice", symbol="BNBUSDT")).body
    trades = (await paper.get("/api/v3/trades", symbol="BNBUSDT", limit=1000)).body
    window = [t for t in trades if t["time"] >= clock() - 5 * 60_000]
    assert answer["mins"] == 5
    if window:
        vwap = sum(D(t["quoteQty"]) for t in window) / sum(D(t["qty"]) for t in window)
        assert abs(D(answer["price"]) - vwap) < D("0.00000001")


async def test_multi_symbol_forms_and_mini_ticker(paper: PaperClient) -> None:
    prices = (await paper.get("/api/v3/ticker/price", symbols='["BTCUSDT","ETHBTC"]')).body
    assert [p["symbol"] for p in prices] == ["BTCUSDT", "ETHBTC"]
    every = (await paper.get("/api/v3/ticker/bookTicker")).body
    assert len(every) >= 20
    mini = (await paper.get("/api/v3/ticker/24hr", symbol="SOLUSDT", type="MINI")).body
    assert "bidPrice" not in mini and "lastPrice" in mini
    full_list = (await paper.get("/api/v3/ticker/24hr", symbols='["SOLUSDT"]')).body
    assert isinstance(full_list, list) and full_list[0]["symbol"] == "SOLUSDT"


async def test_bad_market_data_parameters(paper: PaperClient) -> None:
    assert (await paper.get("/api/v3/depth", symbol="btcusdt")).error == (
        -1100,
        "Illegal characters found in parameter 'symbol'; legal range is '^[\\w\\-._&&[^a-z]]{1,50}$'.",
    )
    assert (await paper.get("/api/v3/depth", symbol="NOPEUSDT")).error == (-1121, "Invalid symbol.")
    assert (await paper.get("/api/v3/depth")).error == (
        -1102,
        "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.",
    )
    assert (await paper.get("/api/v3/klines", symbol="BTCUSDT", interval="2m")).error == (-1120, "Invalid interval.")
    assert (await paper.get("/api/v3/ticker/price", symbol="BTCUSDT", extra="1")).error == (
        -1104,
        "Not all sent parameters were read; read '1' parameter(s) but was sent '2'.",
    )
    dup = await paper.request("GET", "/api/v3/ticker/price", "symbol=BTCUSDT&symbol=ETHUSDT", key=None)
    assert dup.error == (-1101, "Duplicate values for a parameter detected.")
    # Bad input leaves the exchange working.
    assert (await paper.get("/api/v3/ticker/price", symbol="BTCUSDT")).status == 200


async def test_halted_symbol_serves_data_but_does_not_trade(paper: PaperClient, clock: ManualClock) -> None:
    before = (await paper.get("/api/v3/ticker/price", symbol="MATICUSDT")).body
    clock.advance(DAY_MS)
    after = (await paper.get("/api/v3/ticker/price", symbol="MATICUSDT")).body
    assert before == after
    order = await paper.order(symbol="MATICUSDT", side="BUY", type="MARKET", quantity="20")
    assert order.error == (-2010, "Market is closed.")


async def _snapshot(exchange: PaperExchange, clock: ManualClock) -> list[object]:
    async with TestClient(TestServer(exchange.app())) as client:
        paper = PaperClient(client, exchange, clock)
        out: list[object] = []
        for symbol in ("BTCUSDT", "PEPEUSDT"):
            out.append((await paper.get("/api/v3/klines", symbol=symbol, interval="5m", limit=50)).body)
            out.append((await paper.get("/api/v3/depth", symbol=symbol, limit=10)).body)
            out.append((await paper.get("/api/v3/trades", symbol=symbol, limit=30)).body)
        return out


async def test_same_seed_gives_the_same_market() -> None:
    first = await _snapshot(make_exchange(ManualClock()), ManualClock())
    second = await _snapshot(make_exchange(ManualClock()), ManualClock())
    other_clock = ManualClock()
    other = await _snapshot(
        PaperExchange(
            accounts={KEY: SECRET}, clock=other_clock, market_config=MarketConfig(seed=8, history_ms=3 * 3_600_000)
        ),
        other_clock,
    )
    assert first == second
    assert first != other
