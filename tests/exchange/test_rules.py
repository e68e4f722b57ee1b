"""Filters as pure functions, with the examples from Binance's filter docs."""

import json
from decimal import Decimal as D
from pathlib import Path

import pytest

from binance_mcp.exchange.rules import (
    OpenOrderCounts,
    OrderCheck,
    SymbolRules,
    check_order,
    decimal_places,
    floor_to_step,
)

MARKETS = json.loads((Path(__file__).parents[2] / "exchange/paper/data/markets.json").read_text())
BTC = SymbolRules.from_exchange_info(next(m["info"] for m in MARKETS["markets"] if m["info"]["symbol"] == "BTCUSDT"))


def limit(price: str, qty: str, side: str = "BUY", ref: str = "65000") -> OrderCheck:
    return OrderCheck(side=side, type="LIMIT", quantity=D(qty), price=D(price), ref_price=D(ref))


def test_price_filter_uses_price_modulo_tick_not_offset_from_min() -> None:
    assert check_order(BTC, limit("65000.015", "0.001")) == "PRICE_FILTER"
    assert check_order(BTC, limit("65000.01", "0.001")) is None


def test_lot_size_step_and_bounds() -> None:
    assert check_order(BTC, limit("65000", "0.000015")) == "LOT_SIZE"
    assert check_order(BTC, limit("65000", "0.00002", ref="65000")) == "NOTIONAL"  # 1.3 USDT < 5
    assert check_order(BTC, limit("65000", "9000.00001")) == "LOT_SIZE"


def test_notional_min_applies_to_market_with_reference_price() -> None:
    market = OrderCheck(side="BUY", type="MARKET", quantity=D("0.00007"), ref_price=D("65000"))
    assert check_order(BTC, market) == "NOTIONAL"  # 4.55 < 5
    assert check_order(BTC, limit("65000", "0.00007")) == "NOTIONAL"


def test_notional_max_is_not_applied_to_market_but_market_lot_size_is() -> None:
    big = OrderCheck(side="BUY", type="MARKET", quantity=D("200"), ref_price=D("65000"))
    assert check_order(BTC, big) == "MARKET_LOT_SIZE"  # maxQty 129.84957276


def test_percent_price_by_side() -> None:
    assert check_order(BTC, limit("13000", "0.001", "BUY", ref="65000")) is None  # 0.2 × ref
    assert check_order(BTC, limit("12999.99", "0.001", "BUY", ref="65000")) == "PERCENT_PRICE_BY_SIDE"
    assert check_order(BTC, limit("325000.01", "0.001", "SELL", ref="65000")) == "PERCENT_PRICE_BY_SIDE"


def test_iceberg_parts() -> None:
    order = OrderCheck(
        side="BUY", type="LIMIT", quantity=D("0.011"), price=D("65000"), iceberg_qty=D("0.001"), ref_price=D("65000")
    )
    assert check_order(BTC, order) == "ICEBERG_PARTS"  # 11 parts > 10


def test_open_order_counts() -> None:
    stop = OrderCheck(
        side="SELL",
        type="STOP_LOSS_LIMIT",
        quantity=D("0.001"),
        price=D("60000"),
        stop_price=D("60000"),
        ref_price=D("65000"),
    )
    assert check_order(BTC, stop, OpenOrderCounts(orders=5, algo_orders=5)) == "MAX_NUM_ALGO_ORDERS"
    assert check_order(BTC, limit("65000", "0.001"), OpenOrderCounts(orders=200)) == "MAX_NUM_ORDERS"
    assert check_order(BTC, limit("65000", "0.001"), OpenOrderCounts(orders=199)) is None


@pytest.mark.parametrize(("value", "places"), [("1.2300", 2), ("100", 0), ("0.00000001", 8), ("1E+2", 0)])
def test_decimal_places(value: str, places: int) -> None:
    assert decimal_places(D(value)) == places


def test_floor_to_step_zero_step_is_identity() -> None:
    assert floor_to_step(D("1.23456"), D("0.01")) == D("1.23")
    assert floor_to_step(D("1.23456"), D("0")) == D("1.23456")
