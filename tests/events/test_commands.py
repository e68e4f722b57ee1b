"""Commands: the schema an MCP client sees, strict decoding, Binance parameter names."""

import re
from decimal import Decimal
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from binance_mcp.events.commands import (
    COMMANDS,
    CancelOpenOrders,
    CreateOrder,
    GetBalance,
    GetKlines,
    GetOrderBook,
    GetTicker,
    InvalidArgument,
    amount_problem,
    client_order_id,
    decode,
    input_schema,
)
from binance_mcp.events.commands import TestOrder as OrderTest  # not a test class
from binance_mcp.events.ids import new_command_id
from binance_mcp.events.outcomes import Executed, Rejected, kind_of
from binance_mcp.exchange.rules import plain


def test_every_tool_has_an_object_schema_without_the_tag() -> None:
    for name, cls in COMMANDS.items():
        schema = input_schema(cls)
        assert schema["type"] == "object", name
        assert "tool" not in schema["properties"]
        assert schema["additionalProperties"] is False


def test_decode_is_strict_and_names_the_field() -> None:
    with pytest.raises(msgspec.ValidationError, match=r"\$\.limit"):
        decode("get_order_book", {"symbol": "BTCUSDT", "limit": 7})
    with pytest.raises(msgspec.ValidationError, match=r"Expected `int`, got `str`"):
        decode("get_klines", {"symbol": "BTCUSDT", "interval": "1m", "limit": "5"})
    with pytest.raises(msgspec.ValidationError, match="unknown field `bogus`"):
        decode("get_ticker", {"symbol": "BTCUSDT", "bogus": 1})


def test_snake_case_arguments_become_binance_camel_case() -> None:
    klines = GetKlines(symbol="BTCUSDT", interval="1h", start_time=1, end_time=2, limit=3)
    assert klines.binance_params() == {
        "symbol": "BTCUSDT",
        "interval": "1h",
        "limit": "3",
        "startTime": "1",
        "endTime": "2",
    }


@pytest.mark.parametrize(("limit", "weight"), [(5, 5), (100, 5), (500, 25), (1000, 50), (5000, 250)])
def test_depth_weight_depends_on_limit(limit: int, weight: int) -> None:
    assert GetOrderBook(symbol="BTCUSDT", limit=limit).weight() == weight  # type: ignore[arg-type]


def test_commands_are_frozen_and_journal_with_their_tool_name() -> None:
    command = decode("get_ticker_price", {"symbol": "BTCUSDT"})
    with pytest.raises(AttributeError):
        command.symbol = "ETHUSDT"  # type: ignore[attr-defined,misc]
    assert msgspec.json.decode(msgspec.json.encode(command))["tool"] == "get_ticker_price"
    assert kind_of(Executed(data=1)) == "executed" and kind_of(Rejected(kind="x", message="y")) == "rejected"


def test_every_tool_is_described_and_annotated_from_its_struct() -> None:
    for name, cls in COMMANDS.items():
        assert cls.tool_name() == name and len(cls.description()) > 30, name
        hints = cls.hints()
        assert hints["read_only_hint"] is not cls.changes_state
    assert CreateOrder.hints()["destructive_hint"] and not CreateOrder.hints()["idempotent_hint"]
    assert OrderTest.hints()["read_only_hint"] and OrderTest.signed and OrderTest.method == "POST"
    assert CancelOpenOrders.hints()["destructive_hint"] and GetBalance.signed and not GetTicker.signed


@pytest.mark.parametrize("quantity", ["0.00001", 0.00001, "1e-5", "0.000010"])
def test_amounts_are_decimals_in_and_plain_strings_out(quantity: Any) -> None:
    order = decode(
        "create_order", {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": quantity, "price": 65000}
    )
    assert isinstance(order, CreateOrder) and order.quantity == Decimal("0.00001")
    params = order.binance_params()
    assert params["quantity"] == "0.00001" and params["price"] == "65000"
    assert params["timeInForce"] == "GTC" and params["newOrderRespType"] == "FULL"
    assert "newClientOrderId" not in params  # the executor adds it, from the command id


def test_amounts_accept_strings_or_numbers_in_the_schema_and_nothing_else() -> None:
    schema = input_schema(CreateOrder)
    quantity = schema["properties"]["quantity"]["anyOf"][0]
    assert quantity["type"] == ["string", "number"] and "format" not in quantity
    assert schema["required"] == ["symbol", "side", "type"]
    for wrong in (True, "lots"):
        with pytest.raises(InvalidArgument, match=r"^quantity ") as raised:
            decode("create_order", {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": wrong})
        assert raised.value.field == "quantity"
    with pytest.raises(msgspec.ValidationError, match=r"\$\.quantity"):  # another type altogether
        decode("create_order", {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": ["1"]})


def test_test_order_asks_for_commission_rates_and_sends_nothing_else_new() -> None:
    order = decode("test_order", {"symbol": "BTCUSDT", "side": "SELL", "type": "MARKET", "quote_quantity": "25.5"})
    assert order.endpoint == "/api/v3/order/test" and order.weight() == 20
    assert order.binance_params() == {
        "symbol": "BTCUSDT",
        "side": "SELL",
        "type": "MARKET",
        "quoteOrderQty": "25.5",
        "computeCommissionRates": "true",
    }


def test_client_order_ids_are_derived_from_the_command_id_within_binance_limits() -> None:
    cid = client_order_id(new_command_id())
    assert re.fullmatch(r"[a-zA-Z0-9\-_]{1,36}", cid) and len(cid) == 35
    assert client_order_id("0" * 32) == "mcp" + "0" * 32


@pytest.mark.parametrize(
    ("tool", "args", "field"),
    [
        ("get_order", {"symbol": "BTCUSDT"}, "order_id"),
        ("cancel_order", {"symbol": "BTCUSDT"}, "order_id"),
        ("get_orders", {"symbol": "BTCUSDT", "start_time": 10, "end_time": 5}, "end_time"),
        ("get_orders", {"symbol": "BTCUSDT", "start_time": 0, "end_time": 86_400_001}, "end_time"),
        ("get_my_trades", {"symbol": "BTCUSDT", "from_id": 3, "start_time": 1}, "from_id"),
    ],
)
def test_arguments_that_do_not_fit_together_name_a_field(tool: str, args: dict[str, Any], field: str) -> None:
    problem = decode(tool, args).problem()
    assert problem is not None and problem[0] == field


def test_account_reads_map_to_binance_parameters_and_weights() -> None:
    assert decode("get_balance", {}).binance_params() == {"omitZeroBalances": "true"}
    assert decode("get_balance", {"include_zero": True}).binance_params() == {}
    assert decode("get_open_orders", {}).weight() == 80 and decode("get_open_orders", {"symbol": "X"}).weight() == 6
    trades = decode("get_my_trades", {"symbol": "BTCUSDT", "order_id": 7, "limit": 3})
    assert trades.weight() == 5 and trades.binance_params() == {"symbol": "BTCUSDT", "limit": "3", "orderId": "7"}
    by_client = decode("get_order", {"symbol": "BTCUSDT", "client_order_id": "abc-1"})
    assert by_client.binance_params() == {"symbol": "BTCUSDT", "origClientOrderId": "abc-1"}
    balances = {
        "balances": [{"asset": "BTC", "free": "1", "locked": "0"}, {"asset": "ETH", "free": "2", "locked": "0"}]
    }
    assert decode("get_balance", {"asset": "BTC"}).shape(balances)["balances"] == [balances["balances"][0]]


BINANCE_AMOUNT = re.compile(r"([0-9]{1,20})(\.[0-9]{1,20})?")


@given(st.one_of(st.text(max_size=80), st.from_regex(r"\+?[0-9]{0,25}\.?[0-9]{0,25}([eE][+-]?[0-9]{1,4})?")))
def test_an_amount_the_grammar_accepts_is_one_binance_accepts(text: str) -> None:
    if amount_problem(text) is None:
        assert text.isascii() and "_" not in text and text.strip() == text
        assert BINANCE_AMOUNT.fullmatch(plain(Decimal(text)))


@given(st.one_of(st.integers(), st.floats(allow_nan=True, allow_infinity=True)))
def test_a_json_number_is_an_amount_only_within_binances_range(number: float) -> None:
    problem = amount_problem(number)
    if problem is None:
        assert BINANCE_AMOUNT.fullmatch(plain(Decimal(repr(number) if isinstance(number, float) else number)))
    else:
        assert len(problem) < 300


def test_the_amount_grammar_by_example() -> None:
    for good in ("0.001", "1500", "+1.5", "1.5e3", "1E-8", ".5", "1.", "99999999999999999999", 1500, 0.25):
        assert amount_problem(good) is None, good
    for bad in (
        "１５００",
        "1_500",
        " 1",
        "1 ",
        "-1",
        "NaN",
        "Infinity",
        "1e20",
        "1e-21",
        "1e1000000",
        "",
        ".",
        "0x10",
    ):
        assert amount_problem(bad) is not None, bad
    assert amount_problem(True) is not None and amount_problem(10**20) is not None
    assert amount_problem(float("inf")) is not None
