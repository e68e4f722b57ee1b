"""Matching and accounts: every order type and time in force, balances after fills and cancels."""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable
from decimal import Decimal as D
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from binance_mcp.exchange.paper import MarketConfig
from binance_mcp.exchange.paper.app import _load

from .conftest import Answer, ManualClock, PaperClient, make_exchange

FEE = D("0.001")


async def balances(paper: PaperClient) -> dict[str, tuple[D, D]]:
    answer = await paper.signed("GET", "/api/v3/account")
    return {b["asset"]: (D(b["free"]), D(b["locked"])) for b in answer.body["balances"]}


async def book(
    paper: PaperClient, symbol: str = "BTCUSDT", limit: int = 10
) -> tuple[list[tuple[D, D]], list[tuple[D, D]]]:
    depth = (await paper.get("/api/v3/depth", symbol=symbol, limit=limit)).body
    return [(D(p), D(q)) for p, q in depth["bids"]], [(D(p), D(q)) for p, q in depth["asks"]]


async def last_price(paper: PaperClient, symbol: str = "BTCUSDT") -> D:
    return D((await paper.get("/api/v3/ticker/price", symbol=symbol)).body["price"])


async def until(
    paper: PaperClient, done: Callable[[], Awaitable[bool]], step_ms: int = 60_000, steps: int = 2000
) -> None:
    """Move the market clock forward until `done()`; a bounded loop, no waiting on wall time."""
    for _ in range(steps):
        if await done():
            return
        paper.clock.advance(step_ms)
    raise AssertionError("the market never got there")


async def get_order(paper: PaperClient, order_id: int, symbol: str = "BTCUSDT") -> dict[str, Any]:
    answer = await paper.signed("GET", "/api/v3/order", symbol=symbol, orderId=order_id)
    assert answer.status == 200, answer.body
    body: dict[str, Any] = answer.body
    return body


def tick(price: D) -> D:
    return price.quantize(D("0.01"))


# -- MARKET -----------------------------------------------------------------------------------
async def test_market_buy_walks_the_book_and_returns_full_fills(paper: PaperClient) -> None:
    _, asks = await book(paper)
    qty = asks[0][1] + asks[1][1] + asks[2][1]
    before = await balances(paper)
    answer = await paper.order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=str(qty))
    assert answer.status == 200, answer.body
    body = answer.body
    assert body["status"] == "FILLED" and body["price"] == "0.00000000" and body["timeInForce"] == "GTC"
    assert [(D(f["price"]), D(f["qty"])) for f in body["fills"]] == asks[:3]
    cost = sum(p * q for p, q in asks[:3])
    assert D(body["cummulativeQuoteQty"]) == cost
    assert D(body["executedQty"]) == qty
    commission = sum(D(f["commission"]) for f in body["fills"])
    assert all(f["commissionAsset"] == "BTC" for f in body["fills"])
    assert commission == sum((q * FEE).quantize(D("1e-8")) for _, q in asks[:3])
    after = await balances(paper)
    assert after["USDT"] == (before["USDT"][0] - cost, D(0))
    assert after["BTC"] == (before["BTC"][0] + qty - commission, D(0))
    # The liquidity taken is gone from the book until the next synthetic trade.
    _, asks_after = await book(paper)
    assert asks_after[0] == asks[3]


async def test_market_sell_by_quote_order_qty(paper: PaperClient) -> None:
    answer = await paper.order(symbol="BTCUSDT", side="SELL", type="MARKET", quoteOrderQty="100")
    body = answer.body
    assert body["status"] == "FILLED", body
    assert body["origQuoteOrderQty"] == "100.00000000"
    spent = D(body["cummulativeQuoteQty"])
    bid = D(body["fills"][0]["price"])
    assert D(100) - bid * D("0.00001") < spent <= D(100)  # as close as the lot step allows
    assert D(body["executedQty"]) % D("0.00001") == 0
    assert D(body["origQty"]) == D(body["executedQty"])
    commission = sum(D(f["commission"]) for f in body["fills"])
    assert all(f["commissionAsset"] == "USDT" for f in body["fills"])
    after = await balances(paper)
    assert after["USDT"][0] == D(10000) + spent - commission
    assert after["BTC"][0] == D("0.5") - D(body["executedQty"])


async def test_market_order_the_book_cannot_fill_expires_with_what_it_got(clock: ManualClock) -> None:
    exchange = make_exchange(clock, market_config=MarketConfig(seed=7, history_ms=3_600_000, depth_levels=2))
    async with TestClient(TestServer(exchange.app())) as client:
        paper = PaperClient(client, exchange, clock)
        _, asks = await book(paper, "ETHUSDT")
        available = sum(q for _, q in asks)
        answer = await paper.order(symbol="ETHUSDT", side="BUY", type="MARKET", quantity=str(available + 1))
        body = answer.body
        assert body["status"] == "EXPIRED"
        assert body["expiryReason"] == "INSUFFICIENT_LIQUIDITY"
        assert D(body["executedQty"]) == available < D(body["origQty"])
        assert len(body["fills"]) == 2


async def test_market_order_needs_funds_for_the_whole_fill(paper: PaperClient) -> None:
    answer = await paper.order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="1")
    assert answer.error == (-2010, "Account has insufficient balance for requested action.")
    sell = await paper.order(symbol="BTCUSDT", side="SELL", type="MARKET", quantity="0.6")
    assert sell.error == (-2010, "Account has insufficient balance for requested action.")
    assert (await balances(paper))["USDT"] == (D(10000), D(0))


# -- LIMIT ------------------------------------------------------------------------------------
async def test_resting_limit_locks_funds_and_cancel_releases_them(paper: PaperClient) -> None:
    bids, _ = await book(paper)
    price = tick(bids[0][0] * D("0.99"))
    placed = await paper.order(
        symbol="BTCUSDT",
        side="BUY",
        type="LIMIT",
        timeInForce="GTC",
        quantity="0.01",
        price=str(price),
        newClientOrderId="rest-1",
    )
    assert placed.body["status"] == "NEW" and placed.body["fills"] == []
    assert placed.headers["X-MBX-ORDER-COUNT-10S"] == "1"
    assert (await balances(paper))["USDT"] == (D(10000) - price * D("0.01"), price * D("0.01"))
    bids_now, _ = await book(paper, limit=5000)
    assert (price, D("0.01")) in [(p, q) for p, q in bids_now] or any(p == price for p, _ in bids_now)
    open_orders = (await paper.signed("GET", "/api/v3/openOrders", symbol="BTCUSDT")).body
    assert [o["clientOrderId"] for o in open_orders] == ["rest-1"]
    cancelled = await paper.signed(
        "DELETE", "/api/v3/order", symbol="BTCUSDT", origClientOrderId="rest-1", newClientOrderId="my-cancel"
    )
    assert cancelled.body["status"] == "CANCELED"
    assert cancelled.body["origClientOrderId"] == "rest-1" and cancelled.body["clientOrderId"] == "my-cancel"
    assert (await balances(paper))["USDT"] == (D(10000), D(0))
    again = await paper.signed("DELETE", "/api/v3/order", symbol="BTCUSDT", orderId=placed.body["orderId"])
    assert again.error == (-2011, "Unknown order sent.")


async def test_resting_limit_fills_when_the_market_trades_through_it(paper: PaperClient) -> None:
    bids, _ = await book(paper)
    price = tick(bids[0][0] * D("0.998"))
    placed = (
        await paper.order(
            symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.01", price=str(price)
        )
    ).body
    oid = placed["orderId"]

    async def filled() -> bool:
        return (await get_order(paper, oid))["status"] == "FILLED"

    await until(paper, filled)
    order = await get_order(paper, oid)
    assert D(order["cummulativeQuoteQty"]) == price * D("0.01")
    trades = (await paper.signed("GET", "/api/v3/myTrades", symbol="BTCUSDT", orderId=oid)).body
    assert all(t["isMaker"] and t["isBuyer"] and D(t["price"]) == price for t in trades)
    assert sum(D(t["qty"]) for t in trades) == D("0.01")
    after = await balances(paper)
    assert after["USDT"] == (D(10000) - price * D("0.01"), D(0))
    assert after["BTC"] == (D("0.5") + D("0.01") - sum(D(t["commission"]) for t in trades), D(0))
    # The fills are public trades too.
    public = (await paper.get("/api/v3/trades", symbol="BTCUSDT", limit=1000)).body
    assert {t["id"] for t in trades} <= {p["id"] for p in public}


async def test_crossing_limit_takes_then_rests(paper: PaperClient) -> None:
    _, asks = await book(paper)
    limit = asks[1][0]
    qty = asks[0][1] + asks[1][1] + D("0.01")
    body = (
        await paper.order(
            symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC", quantity=str(qty), price=str(limit)
        )
    ).body
    assert body["status"] == "PARTIALLY_FILLED"
    assert [(D(f["price"]), D(f["qty"])) for f in body["fills"]] == asks[:2]
    cost = asks[0][0] * asks[0][1] + asks[1][0] * asks[1][1]
    assert D(body["cummulativeQuoteQty"]) == cost
    free, locked = (await balances(paper))["USDT"]
    assert locked == limit * D("0.01")
    assert free == D(10000) - cost - locked


async def test_ioc_fills_what_it_can_and_expires_the_rest(paper: PaperClient) -> None:
    _, asks = await book(paper)
    qty = asks[0][1] + D("0.01")
    body = (
        await paper.order(
            symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="IOC", quantity=str(qty), price=str(asks[0][0])
        )
    ).body
    assert body["status"] == "EXPIRED"
    assert D(body["executedQty"]) == asks[0][1]
    assert (await balances(paper))["USDT"][1] == 0


async def test_fok_is_all_or_nothing(paper: PaperClient) -> None:
    _, asks = await book(paper)
    too_much = (
        await paper.order(
            symbol="BTCUSDT",
            side="BUY",
            type="LIMIT",
            timeInForce="FOK",
            quantity=str(asks[0][1] + D("0.01")),
            price=str(asks[0][0]),
        )
    ).body
    assert too_much["status"] == "EXPIRED" and too_much["executedQty"] == "0.00000000" and too_much["fills"] == []
    assert (await balances(paper))["USDT"] == (D(10000), D(0))
    exact = (
        await paper.order(
            symbol="BTCUSDT",
            side="BUY",
            type="LIMIT",
            timeInForce="FOK",
            quantity=str(asks[0][1]),
            price=str(asks[0][0]),
        )
    ).body
    assert exact["status"] == "FILLED"


async def test_limit_maker_is_rejected_if_it_would_take(paper: PaperClient) -> None:
    bids, asks = await book(paper)
    taker = await paper.order(symbol="BTCUSDT", side="BUY", type="LIMIT_MAKER", quantity="0.001", price=str(asks[0][0]))
    assert taker.error == (-2010, "Order would immediately match and take.")
    maker = await paper.order(
        symbol="BTCUSDT",
        side="BUY",
        type="LIMIT_MAKER",
        quantity="0.001",
        price=str(bids[0][0]),
        newOrderRespType="RESULT",
    )
    assert maker.body["status"] == "NEW" and maker.body["type"] == "LIMIT_MAKER"


# -- STOP_LOSS / TAKE_PROFIT ------------------------------------------------------------------
async def test_stop_loss_limit_triggers_when_price_falls(paper: PaperClient) -> None:
    last = await last_price(paper)
    stop = tick(last * D("0.997"))
    placed = await paper.order(
        symbol="BTCUSDT",
        side="SELL",
        type="STOP_LOSS_LIMIT",
        timeInForce="GTC",
        quantity="0.01",
        price=str(tick(stop * D("0.99"))),
        stopPrice=str(stop),
    )
    assert set(placed.body) == {"symbol", "orderId", "orderListId", "clientOrderId", "transactTime"}  # ACK
    oid = placed.body["orderId"]
    waiting = await get_order(paper, oid)
    assert (waiting["status"], waiting["isWorking"]) == ("NEW", False)
    assert (await balances(paper))["BTC"] == (D("0.49"), D("0.01"))

    async def triggered() -> bool:
        return bool((await get_order(paper, oid))["isWorking"])

    await until(paper, triggered)
    order = await get_order(paper, oid)
    assert order["status"] == "FILLED"
    assert order["workingTime"] >= order["time"]
    fills = (await paper.signed("GET", "/api/v3/myTrades", symbol="BTCUSDT", orderId=oid)).body
    assert all(D(f["price"]) >= D(order["price"]) for f in fills)
    assert (await balances(paper))["BTC"] == (D("0.49"), D(0))


async def test_take_profit_limit_buy_triggers_when_price_falls(paper: PaperClient) -> None:
    last = await last_price(paper)
    stop = tick(last * D("0.997"))
    oid = (
        await paper.order(
            symbol="BTCUSDT",
            side="BUY",
            type="TAKE_PROFIT_LIMIT",
            timeInForce="GTC",
            quantity="0.01",
            price=str(tick(stop * D("1.01"))),
            stopPrice=str(stop),
        )
    ).body["orderId"]

    async def done() -> bool:
        return (await get_order(paper, oid))["status"] == "FILLED"

    await until(paper, done)
    assert (await balances(paper))["USDT"][1] == 0


async def test_stop_that_would_trigger_now_is_rejected(paper: PaperClient) -> None:
    last = await last_price(paper)
    answer = await paper.order(
        symbol="BTCUSDT",
        side="SELL",
        type="STOP_LOSS_LIMIT",
        timeInForce="GTC",
        quantity="0.01",
        price=str(tick(last * D("1.01"))),
        stopPrice=str(tick(last * D("1.01"))),
    )
    assert answer.error == (-2010, "Order would trigger immediately.")


async def test_market_stop_types_follow_the_symbol(paper: PaperClient) -> None:
    answer = await paper.order(symbol="BTCUSDT", side="SELL", type="STOP_LOSS", quantity="0.01", stopPrice="1000.00")
    assert answer.error == (-2010, "Stop loss orders are not supported for this symbol.")
    answer = await paper.order(symbol="BTCUSDT", side="SELL", type="TAKE_PROFIT", quantity="0.01", stopPrice="99999.00")
    assert answer.error == (-2010, "Take profit orders are not supported for this symbol.")


@pytest.fixture
async def stops_allowed(clock: ManualClock) -> Any:
    """A market whose BTCUSDT also allows the market-style STOP_LOSS and TAKE_PROFIT types."""
    doc = copy.deepcopy(_load("markets.json"))
    for m in doc["markets"]:
        if m["info"]["symbol"] == "BTCUSDT":
            m["info"]["orderTypes"] += ["STOP_LOSS", "TAKE_PROFIT"]
    exchange = make_exchange(clock, markets=doc)
    async with TestClient(TestServer(exchange.app())) as client:
        yield PaperClient(client, exchange, clock)


@pytest.mark.parametrize(
    ("otype", "side", "factor"),
    [
        ("STOP_LOSS", "SELL", "0.997"),
        ("TAKE_PROFIT", "SELL", "1.003"),
        ("STOP_LOSS", "BUY", "1.003"),
        ("TAKE_PROFIT", "BUY", "0.997"),
    ],
)
async def test_market_stops_trigger_and_fill(stops_allowed: PaperClient, otype: str, side: str, factor: str) -> None:
    paper = stops_allowed
    stop = tick(await last_price(paper) * D(factor))
    oid = (await paper.order(symbol="BTCUSDT", side=side, type=otype, quantity="0.01", stopPrice=str(stop))).body[
        "orderId"
    ]

    async def done() -> bool:
        return (await get_order(paper, oid))["status"] != "NEW"

    await until(paper, done)
    order = await get_order(paper, oid)
    assert order["status"] == "FILLED" and order["isWorking"]
    free_btc, locked_btc = (await balances(paper))["BTC"]
    assert locked_btc == 0
    assert free_btc < D("0.5") if side == "SELL" else free_btc > D("0.5")


# -- ids, lookups, lists ----------------------------------------------------------------------
async def test_client_order_ids_are_unique_among_open_orders(paper: PaperClient) -> None:
    bids, _ = await book(paper)
    price = str(tick(bids[0][0] * D("0.95")))
    args = {
        "symbol": "BTCUSDT",
        "side": "BUY",
        "type": "LIMIT",
        "timeInForce": "GTC",
        "quantity": "0.001",
        "price": price,
        "newClientOrderId": "same-id",
    }
    first = await paper.order(**args)
    assert first.status == 200
    assert (await paper.order(**args)).error == (-2010, "Duplicate order sent.")
    await paper.signed("DELETE", "/api/v3/order", symbol="BTCUSDT", origClientOrderId="same-id")
    reused = await paper.order(**args)
    assert reused.status == 200 and reused.body["orderId"] != first.body["orderId"]
    by_client_id = await paper.signed("GET", "/api/v3/order", symbol="BTCUSDT", origClientOrderId="same-id")
    assert by_client_id.body["orderId"] == reused.body["orderId"]
    mismatch = await paper.signed(
        "GET", "/api/v3/order", symbol="BTCUSDT", orderId=first.body["orderId"], origClientOrderId="other"
    )
    assert mismatch.error == (-2013, "Order does not exist.")


async def test_unknown_orders(paper: PaperClient) -> None:
    assert (await paper.signed("GET", "/api/v3/order", symbol="BTCUSDT", orderId=999)).error == (
        -2013,
        "Order does not exist.",
    )
    assert (await paper.signed("DELETE", "/api/v3/order", symbol="BTCUSDT", orderId=999)).error == (
        -2011,
        "Unknown order sent.",
    )
    assert (await paper.signed("DELETE", "/api/v3/openOrders", symbol="BTCUSDT")).error == (
        -2011,
        "Unknown order sent.",
    )
    assert (await paper.signed("GET", "/api/v3/order", symbol="BTCUSDT")).error == (
        -1102,
        "Param 'orderId' or 'origClientOrderId' must be sent, but both were empty/null!",
    )


async def test_cancel_all_open_orders_and_cancel_restrictions(paper: PaperClient) -> None:
    bids, asks = await book(paper)
    for i in range(3):
        await paper.order(
            symbol="BTCUSDT",
            side="BUY",
            type="LIMIT",
            timeInForce="GTC",
            quantity="0.001",
            price=str(tick(bids[0][0] * D("0.95")) - i),
            newClientOrderId=f"bulk-{i}",
        )
    partial = (
        await paper.order(
            symbol="BTCUSDT",
            side="BUY",
            type="LIMIT",
            timeInForce="GTC",
            quantity=str(asks[0][1] + D("0.001")),
            price=str(asks[0][0]),
        )
    ).body
    assert partial["status"] == "PARTIALLY_FILLED"
    restricted = await paper.signed(
        "DELETE", "/api/v3/order", symbol="BTCUSDT", orderId=partial["orderId"], cancelRestrictions="ONLY_NEW"
    )
    assert restricted.error == (-2011, "Order was not canceled due to cancel restrictions.")
    cancelled = await paper.signed("DELETE", "/api/v3/openOrders", symbol="BTCUSDT")
    assert sorted(c["origClientOrderId"] for c in cancelled.body if c["origClientOrderId"].startswith("bulk")) == [
        "bulk-0",
        "bulk-1",
        "bulk-2",
    ]
    assert all(c["status"] == "CANCELED" for c in cancelled.body)
    assert (await balances(paper))["USDT"][1] == 0
    assert (await paper.signed("GET", "/api/v3/openOrders")).body == []
    history = (await paper.signed("GET", "/api/v3/allOrders", symbol="BTCUSDT")).body
    assert len(history) == 4 and {o["status"] for o in history} == {"CANCELED"}


async def test_new_order_response_types(paper: PaperClient) -> None:
    ack = (
        await paper.order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.001", newOrderRespType="ACK")
    ).body
    assert set(ack) == {"symbol", "orderId", "orderListId", "clientOrderId", "transactTime"}
    result = (
        await paper.order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.001", newOrderRespType="RESULT")
    ).body
    assert "fills" not in result and result["status"] == "FILLED"


async def test_order_test_validates_without_placing(paper: PaperClient) -> None:
    ok = await paper.signed("POST", "/api/v3/order/test", symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.001")
    assert (ok.status, ok.body) == (200, {})
    rates = await paper.signed(
        "POST",
        "/api/v3/order/test",
        symbol="BTCUSDT",
        side="BUY",
        type="MARKET",
        quantity="0.001",
        computeCommissionRates="true",
    )
    assert rates.body["standardCommissionForOrder"] == {"maker": "0.00100000", "taker": "0.00100000"}
    bad = await paper.signed(
        "POST", "/api/v3/order/test", symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.000001"
    )
    assert bad.error == (-1013, "Filter failure: LOT_SIZE")
    assert (await paper.signed("GET", "/api/v3/allOrders", symbol="BTCUSDT")).body == []


# -- Binance's checks on new orders -----------------------------------------------------------
ORDER_ERRORS: list[tuple[dict[str, str], tuple[int, str]]] = [
    ({"side": "HOLD", "type": "MARKET", "quantity": "0.001"}, (-1117, "Invalid side.")),
    ({"side": "BUY", "type": "LIMITT", "quantity": "0.001"}, (-1116, "Invalid orderType.")),
    (
        {"side": "BUY", "type": "LIMIT", "timeInForce": "GTX", "quantity": "0.001", "price": "50000"},
        (-1115, "Invalid timeInForce."),
    ),
    (
        {"side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.001"},
        (-1102, "Mandatory parameter 'price' was not sent, was empty/null, or malformed."),
    ),
    (
        {"side": "BUY", "type": "LIMIT", "quantity": "0.001", "price": "50000"},
        (-1102, "Mandatory parameter 'timeInForce' was not sent, was empty/null, or malformed."),
    ),
    (
        {"side": "BUY", "type": "MARKET"},
        (-1102, "Param 'quantity' or 'quoteOrderQty' must be sent, but both were empty/null!"),
    ),
    (
        {"side": "BUY", "type": "MARKET", "quantity": "0.001", "timeInForce": "GTC"},
        (-1106, "Parameter 'timeInForce' sent when not required."),
    ),
    (
        {"side": "BUY", "type": "MARKET", "quantity": "0.001", "price": "50000"},
        (-1106, "Parameter 'price' sent when not required."),
    ),
    (
        {"side": "BUY", "type": "MARKET", "quantity": "1e-3"},
        (-1100, "Illegal characters found in parameter 'quantity'; legal range is '^([0-9]{1,20})(\\.[0-9]{1,20})?$'."),
    ),
    (
        {"side": "BUY", "type": "MARKET", "quantity": "0.000000001"},
        (-1111, "Parameter 'quantity' has too much precision."),
    ),
    (
        {"side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.001", "price": "50000.001"},
        (-1013, "Filter failure: PRICE_FILTER"),
    ),
    (
        {"side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.0010001", "price": "50000"},
        (-1013, "Filter failure: LOT_SIZE"),
    ),
    (
        {"side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.00001", "price": "50000"},
        (-1013, "Filter failure: NOTIONAL"),
    ),
    (
        {"side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.001", "price": "500000"},
        (-1013, "Filter failure: PERCENT_PRICE_BY_SIDE"),
    ),
    ({"side": "SELL", "type": "MARKET", "quantity": "130"}, (-1013, "Filter failure: MARKET_LOT_SIZE")),
    (
        {
            "side": "BUY",
            "type": "LIMIT",
            "timeInForce": "GTC",
            "quantity": "0.011",
            "price": "50000",
            "icebergQty": "0.001",
        },
        (-1013, "Filter failure: ICEBERG_PARTS"),
    ),
    (
        {
            "side": "BUY",
            "type": "LIMIT",
            "timeInForce": "GTC",
            "quantity": "0.001",
            "price": "50000",
            "icebergQty": "0.002",
        },
        (-1013, "IcebergQty exceeds QTY."),
    ),
    (
        {
            "side": "BUY",
            "type": "LIMIT",
            "timeInForce": "GTC",
            "quantity": "0.001",
            "price": "50000",
            "newClientOrderId": "has space",
        },
        (-1100, "Illegal characters found in parameter 'newClientOrderId'; legal range is '^[a-zA-Z0-9-_]{1,36}$'."),
    ),
    (
        {"side": "BUY", "type": "STOP_LOSS_LIMIT", "timeInForce": "GTC", "quantity": "0.001", "price": "50000"},
        (-1102, "Param 'stopPrice' or 'trailingDelta' must be sent, but both were empty/null!"),
    ),
    (
        {"side": "BUY", "type": "MARKET", "quantity": "0.001", "bogus": "1"},
        (-1104, "Not all sent parameters were read; read '6' parameter(s) but was sent '7'."),
    ),
    ({"side": "BUY", "type": "MARKET", "quantity": ""}, (-1105, "Parameter 'quantity' was empty.")),
]


@pytest.mark.parametrize(("params", "expected"), ORDER_ERRORS)
async def test_new_order_errors_carry_binance_codes_and_messages(
    paper: PaperClient, params: dict[str, str], expected: tuple[int, str]
) -> None:
    answer: Answer = await paper.order(symbol="BTCUSDT", **params)
    assert answer.status == 400
    assert answer.error == expected
    assert (await paper.signed("GET", "/api/v3/allOrders", symbol="BTCUSDT")).body == []


async def test_algo_order_count_filter(paper: PaperClient) -> None:
    last = await last_price(paper)
    for i in range(5):
        stop = tick(last * D("0.9")) - i
        ok = await paper.order(
            symbol="BTCUSDT",
            side="SELL",
            type="STOP_LOSS_LIMIT",
            timeInForce="GTC",
            quantity="0.001",
            price=str(stop),
            stopPrice=str(stop),
        )
        assert ok.status == 200, ok.body
    sixth = await paper.order(
        symbol="BTCUSDT",
        side="SELL",
        type="STOP_LOSS_LIMIT",
        timeInForce="GTC",
        quantity="0.001",
        price=str(tick(last * D("0.8"))),
        stopPrice=str(tick(last * D("0.8"))),
    )
    assert sixth.error == (-1013, "Filter failure: MAX_NUM_ALGO_ORDERS")


async def test_thin_book_rejects_quote_order_qty_up_front(clock: ManualClock) -> None:
    exchange = make_exchange(clock, market_config=MarketConfig(seed=7, history_ms=3_600_000, depth_levels=1))
    async with TestClient(TestServer(exchange.app())) as client:
        paper = PaperClient(client, exchange, clock)
        _, asks = await book(paper, "BTCUSDT")
        first = await paper.order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=str(asks[0][1]))
        assert first.body["status"] == "FILLED"
        thin = await paper.order(symbol="BTCUSDT", side="BUY", type="MARKET", quoteOrderQty="50")
        assert thin.error == (-2010, "Order book liquidity is less than LOT_SIZE filter minimum quantity.")


# -- account and fixture reads ----------------------------------------------------------------
async def test_account_reads(paper: PaperClient) -> None:
    full = (await paper.signed("GET", "/api/v3/account")).body
    trimmed = (await paper.signed("GET", "/api/v3/account", omitZeroBalances="true")).body
    assert full["commissionRates"]["taker"] == "0.00100000"
    assert all(D(b["free"]) or D(b["locked"]) for b in trimmed["balances"])
    commission = (await paper.signed("GET", "/api/v3/account/commission", symbol="ETHBTC")).body
    assert commission["symbol"] == "ETHBTC" and commission["standardCommission"]["maker"] == "0.00100000"
    await paper.order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.001")
    limits = (await paper.signed("GET", "/api/v3/rateLimit/order")).body
    assert [(r["interval"], r["limit"], r["count"]) for r in limits] == [("SECOND", 50, 1), ("DAY", 160000, 1)]


@pytest.mark.parametrize(
    ("path", "params", "check"),
    [
        ("/sapi/v1/accountSnapshot", {"type": "SPOT"}, lambda b: b["code"] == 200 and b["snapshotVos"]),
        ("/sapi/v1/capital/deposit/address", {"coin": "BTC"}, lambda b: b["coin"] == "BTC" and b["address"]),
        ("/sapi/v1/capital/deposit/hisrec", {"coin": "USDT"}, lambda b: [d["coin"] for d in b] == ["USDT"]),
        ("/sapi/v1/capital/withdraw/history", {}, lambda b: b and b[0]["coin"] == "ETH"),
        (
            "/sapi/v1/asset/tradeFee",
            {"symbol": "BTCUSDT"},
            lambda b: b == [{"symbol": "BTCUSDT", "makerCommission": "0.00100000", "takerCommission": "0.00100000"}],
        ),
        ("/fapi/v2/positionRisk", {"symbol": "BTCUSDT"}, lambda b: [p["symbol"] for p in b] == ["BTCUSDT"]),
        ("/fapi/v1/income", {"incomeType": "FUNDING_FEE"}, lambda b: [i["incomeType"] for i in b] == ["FUNDING_FEE"]),
        ("/fapi/v1/forceOrders", {}, lambda b: b and b[0]["symbol"] == "SOLUSDT"),
    ],
)
async def test_wallet_and_futures_fixtures(paper: PaperClient, path: str, params: dict[str, str], check: Any) -> None:
    answer = await paper.signed("GET", path, **params)
    assert answer.status == 200, answer.body
    assert check(answer.body)
    unsigned = await paper.get(path, **params)
    assert unsigned.error[0] == -2014


# -- a market moved to recorded prices (what a re-run of the event log does) ------------------
async def test_a_frozen_market_moves_only_where_it_is_moved_and_fills_what_the_move_crosses(clock: ManualClock) -> None:
    config = MarketConfig(seed=7, history_ms=3_600_000, walk_until_ms=clock.now)
    exchange = make_exchange(clock, market_config=config, start_prices={"BTCUSDT": D("97000")})
    async with TestClient(TestServer(exchange.app())) as client:
        paper = PaperClient(client, exchange, clock)
        start = await last_price(paper)
        assert abs(start / D(97000) - 1) < D("0.05")  # the history walked from the recorded level
        clock.advance(3_600_000)  # an hour with no synthetic trades: the market stands still
        assert await last_price(paper) == start
        resting = (
            await paper.order(
                symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.001", price="96000.00"
            )
        ).body
        assert resting["status"] == "NEW"
        assert exchange.move_market("BTCUSDT", D("96500.004"))  # to the tick grid
        assert await last_price(paper) == D("96500.00")
        assert (await get_order(paper, resting["orderId"]))["status"] == "NEW"
        assert exchange.move_market("BTCUSDT", D("95990"))  # traded through the limit: filled there
        assert (await get_order(paper, resting["orderId"]))["status"] == "FILLED"
        _, asks = await book(paper)
        bought = (await paper.order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.001")).body
        assert D(bought["fills"][0]["price"]) == asks[0][0] and abs(asks[0][0] / D(95990) - 1) < D("0.0001")
        assert not exchange.move_market("NOSUCHUSDT", D(1))


async def test_all_open_orders_bring_only_the_accounts_markets_up_to_now(paper: PaperClient) -> None:
    """Without a symbol, openOrders brings up to now the markets where the account has open orders
    (a resting order there fills on the way, as Binance's would have) and no other market: the
    first such call used to generate every listed symbol's history (about a second)."""
    bids, _ = await book(paper)
    price = tick(bids[0][0] * D("0.998"))
    placed = await paper.order(
        symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.01", price=str(price)
    )
    oid = placed.body["orderId"]
    markets = paper.exchange._markets
    assert set(markets) == {"BTCUSDT"}

    async def gone_from_open_orders() -> bool:
        opens = (await paper.signed("GET", "/api/v3/openOrders")).body
        return oid not in {o["orderId"] for o in opens}

    await until(paper, gone_from_open_orders)  # filled while only the all-symbols call was asked
    assert (await get_order(paper, oid))["status"] == "FILLED"
    assert set(markets) == {"BTCUSDT"}  # no other market was generated
