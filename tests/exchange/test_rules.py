"""Filters as pure functions, with the examples from Binance's filter docs."""

import json
import re
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from binance_mcp.exchange.rules import (
    OpenOrderCounts,
    OrderCheck,
    SymbolRules,
    check_order,
    decimal_places,
    explain_failure,
    floor_to_step,
    order_param_problem,
    plain,
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


def explain(order: OrderCheck, counts: OpenOrderCounts | None = None) -> str:
    failed = check_order(BTC, order, counts)
    assert failed is not None
    return explain_failure(BTC, order, failed, counts)


def test_hints_name_the_filter_and_the_nearest_valid_values() -> None:
    assert explain(limit("65000", "0.001235")) == (
        "quantity 0.001235 is not a multiple of stepSize 0.00001 (LOT_SIZE); nearest valid: 0.00123 or 0.00124"
    )
    # A hint never leads into the next wall: the grid's neighbours would fail NOTIONAL at this price.
    assert explain(limit("65000", "0.000015")) == (
        "quantity 0.000015 is not a multiple of stepSize 0.00001 (LOT_SIZE); the nearest on the grid, 0.00001 or "
        "0.00002, would fail NOTIONAL at 65000: the smallest quantity that passes every filter at 65000 is 0.00008"
    )
    assert explain(limit("65000", "0.0000769")) == (
        "quantity 0.0000769 is not a multiple of stepSize 0.00001 (LOT_SIZE); nearest valid: 0.00008 "
        "(0.00007 fails NOTIONAL at 65000)"
    )
    assert explain(limit("65000.015", "0.001")) == (
        "price 65000.015 is not a multiple of tickSize 0.01 (PRICE_FILTER); nearest valid: 65000.01 or 65000.02"
    )
    assert explain(limit("65000", "9000.00001")).startswith("quantity 9000.00001 is above maxQty 9000 (LOT_SIZE)")
    assert explain(limit("65000", "0.00007")) == (
        "order value 4.55 USDT is below minNotional 5 (NOTIONAL); at 65000 the smallest quantity that passes "
        "every filter is 0.00008"
    )
    # Values at the symbol's precision (its tick size), rounded so the sentence stays true.
    assert explain(limit("65000.01", "0.00007")).startswith("order value 4.55 USDT is below minNotional 5")
    assert explain(limit("65000", "0.00001")).startswith("order value 0.65 USDT is below")
    market = OrderCheck(side="BUY", type="MARKET", quantity=D("0.00007"), ref_price=D("65000"))
    assert "(valued at the average price)" in explain(market)
    band = explain(limit("600", "1", ref="100"))  # BTCUSDT bids: 0.2x to 5x
    assert (
        band == "price 600 for a BUY must be from 20 to 500: 0.2x to 5x the average price 100 (PERCENT_PRICE_BY_SIDE)"
    )


def test_count_filter_hints_say_how_many_are_open() -> None:
    full = OpenOrderCounts(orders=200, algo_orders=0)
    assert explain(limit("65000", "0.001"), full) == (
        "BTCUSDT already has 200 open orders, the most allowed is 200 (MAX_NUM_ORDERS)"
    )
    stops = OrderCheck(
        side="SELL", type="STOP_LOSS_LIMIT", quantity=D("0.001"), price=D("60000"), stop_price=D("60000")
    )
    assert "open stop/take-profit orders" in explain(stops, OpenOrderCounts(orders=5, algo_orders=5))


@pytest.mark.parametrize(
    ("order_type", "params", "problem"),
    [
        ("LIMIT", {"quantity": D(1)}, "price"),
        ("LIMIT", {"price": D(1)}, "quantity"),
        ("MARKET", {}, "quantity"),
        ("MARKET", {"quantity": D(1), "quote_quantity": D(1)}, "quote_quantity"),
        ("MARKET", {"quantity": D(1), "price": D(1)}, "price"),
        ("MARKET", {"quantity": D(1), "time_in_force": "GTC"}, "time_in_force"),
        ("LIMIT", {"quantity": D(1), "price": D(1), "quote_quantity": D(1)}, "quote_quantity"),
        ("STOP_LOSS", {"quantity": D(1)}, "stop_price"),
        ("STOP_LOSS_LIMIT", {"quantity": D(1), "stop_price": D(1)}, "price"),
        ("TAKE_PROFIT_LIMIT", {"quantity": D(1), "price": D(1)}, "stop_price"),
        ("LIMIT_MAKER", {"quantity": D(1), "price": D(1), "time_in_force": "GTC"}, "time_in_force"),
        ("LIMIT", {"quantity": D(1), "price": D(1), "stop_price": D(1)}, "stop_price"),
        ("LIMIT", {"quantity": D(0), "price": D(1)}, "quantity"),
        ("LIMIT", {"quantity": D("NaN"), "price": D(1)}, "quantity"),
        ("LIMIT", {"quantity": D(1), "price": D(-1)}, "price"),
    ],
)
def test_order_parameters_as_binance_requires_them(order_type: str, params: dict[str, Any], problem: str) -> None:
    full = {"quantity": None, "quote_quantity": None, "price": None, "stop_price": None, "time_in_force": None}
    found = order_param_problem(order_type, **{**full, **params})
    assert found is not None and found[0] == problem


def test_complete_orders_have_no_parameter_problem() -> None:
    base = {"quantity": None, "quote_quantity": None, "price": None, "stop_price": None, "time_in_force": None}
    for order_type, params in (
        ("LIMIT", {"quantity": D(1), "price": D(1), "time_in_force": "IOC"}),
        ("MARKET", {"quote_quantity": D(10)}),
        ("STOP_LOSS", {"quantity": D(1), "stop_price": D(1)}),
        ("TAKE_PROFIT_LIMIT", {"quantity": D(1), "price": D(1), "stop_price": D(1)}),
        ("LIMIT_MAKER", {"quantity": D(1), "price": D(1)}),
    ):
        assert order_param_problem(order_type, **{**base, **params}) is None


@pytest.mark.parametrize(
    ("value", "text"), [("0.00001", "0.00001"), ("1E-5", "0.00001"), ("1.50", "1.5"), ("1E+2", "100")]
)
def test_plain_decimals_never_use_exponents(value: str, text: str) -> None:
    assert plain(D(value)) == text


def test_plain_and_decimal_places_are_exact_and_total_whatever_the_exponent() -> None:
    forty = D("12345678901234567890.12345678901234567890")  # more digits than the default context's 28
    assert plain(forty) == "12345678901234567890.1234567890123456789"
    assert decimal_places(forty) == 19
    assert decimal_places(D("1e1000000")) == 0 and decimal_places(D("1e-1000000")) == 1_000_000
    assert plain(D("1.2300")) == "1.23" and plain(D("0.000")) == "0" and plain(D("1E+2")) == "100"


def test_symbols_are_upper_cased_in_ascii_only_and_look_alikes_are_named() -> None:
    from binance_mcp.exchange.rules import code_problem, normalize_code, normalize_symbol, symbol_problem

    assert normalize_symbol(" btc/usdt ") == "BTCUSDT"
    assert normalize_symbol("ſolusdt") == "ſOLUSDT"  # no Unicode case mapping: never 'SOLUSDT'
    assert normalize_symbol("lınkusdt") == "LıNKUSDT"
    for look_alike in ("ſOLUSDT", "LıNKUSDT", "ＢＴＣUSDT", "BTC\u200bUSDT", "١٢٣USDT", "BTCUSDTª"):
        problem = symbol_problem(look_alike)
        assert problem is not None and "U+" in problem
    assert symbol_problem("币安人生USDT") is None and symbol_problem("1000SATSUSDT") is None
    assert symbol_problem("123") == "cannot be only digits"
    assert normalize_code(" usdt ") == "USDT" and code_problem("USDT") is None
    assert code_problem("A'B") is not None and code_problem("") is not None


def test_checks_do_not_round_or_refuse_the_largest_amounts_binance_takes() -> None:
    rules = SymbolRules.from_exchange_info(
        {
            "symbol": "XUSDT",
            "status": "TRADING",
            "baseAsset": "X",
            "quoteAsset": "USDT",
            "baseAssetPrecision": 8,
            "quoteAssetPrecision": 8,
            "orderTypes": ["LIMIT"],
            "filters": [{"filterType": "LOT_SIZE", "minQty": "0", "maxQty": "0", "stepSize": "0.00000000000000000002"}],
        }
    )
    huge = D("99999999999999999999.00000000000000000002")  # % by the step: a 40-digit quotient
    order = OrderCheck(side="BUY", type="LIMIT", quantity=huge, price=D(1))
    assert check_order(rules, order) is None
    off_grid = OrderCheck(side="BUY", type="LIMIT", quantity=D("99999999999999999999.00000000000000000001"), price=D(1))
    assert check_order(rules, off_grid) == "LOT_SIZE"


@given(
    st.decimals(min_value=D("0.000001"), max_value=D("2"), places=7, allow_nan=False),
    st.decimals(min_value=D("14000"), max_value=D("300000"), places=2, allow_nan=False),
)
def test_a_quantity_a_hint_names_passes_every_filter(quantity: D, price: D) -> None:
    """Whatever quantity a hint calls valid, or the smallest that passes, does pass (at that price)."""
    order = limit(str(price), str(quantity), ref=str(price))
    failed = check_order(BTC, order)
    if failed not in ("LOT_SIZE", "NOTIONAL"):
        return
    hint = explain(order)
    named = re.findall(r"(?:passes every filter(?: at [0-9.]+)? is|nearest valid:) ([0-9.]+)", hint)
    for text in named:
        assert check_order(BTC, limit(str(price), text, ref=str(price))) is None, hint
    assert named or "no quantity" in hint or "above maxQty" in hint or "above maxNotional" in hint, hint
