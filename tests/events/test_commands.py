"""Commands: the schema an MCP client sees, strict decoding, Binance parameter names."""

import msgspec
import pytest

from binance_mcp.events.commands import COMMANDS, GetKlines, GetOrderBook, decode, input_schema
from binance_mcp.events.outcomes import Executed, Rejected, kind_of


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
