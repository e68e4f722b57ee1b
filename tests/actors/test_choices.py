"""Forgiving where it is safe, exact where it is not: a choice of upper-case words in any ASCII case,
a refusal that lists the allowed values, a missing argument named."""

from __future__ import annotations

import re

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from binance_mcp.events.commands import CASELESS, CHOICES, decode
from binance_mcp.events.outcomes import Executed, Rejected

from .conftest import Harness

LIMIT = {"symbol": "BTCUSDT", "quantity": "0.001", "price": "40000"}


async def test_side_type_and_time_in_force_in_any_case(harness: Harness) -> None:
    outcome = await harness.call("test_order", **LIMIT, side="buy", type="Limit", time_in_force="gtc")
    assert isinstance(outcome, Executed)
    placed = await harness.call("create_order", **LIMIT, side="bUy", type="limit")
    assert isinstance(placed, Executed) and placed.data["side"] == "BUY" and placed.data["type"] == "LIMIT"


@pytest.mark.parametrize(
    ("args", "field", "listed"),
    [
        ({**LIMIT, "side": "HOLD", "type": "LIMIT"}, "side", "side is one of BUY, SELL"),
        ({**LIMIT, "side": "ſell", "type": "LIMIT"}, "side", "side is one of BUY, SELL"),  # a look-alike: never folded
        ({**LIMIT, "side": "BUY", "type": "limitt"}, "type", "LIMIT_MAKER"),
        ({**LIMIT, "side": "BUY", "type": "LIMIT", "time_in_force": 3}, "time_in_force", "FOK, GTC, IOC"),
    ],
)
async def test_a_refused_choice_lists_what_it_may_be(
    harness: Harness, args: dict[str, object], field: str, listed: str
) -> None:
    outcome = await harness.call("create_order", **args)
    assert isinstance(outcome, Rejected) and outcome.kind == "validation_error"
    assert outcome.field == field and listed in outcome.message


async def test_an_interval_stays_exact_a_minute_is_not_a_month(harness: Harness) -> None:
    refused = await harness.call("get_klines", symbol="BTCUSDT", interval="1H")
    assert isinstance(refused, Rejected) and refused.field == "interval" and "1h" in refused.message
    minute = await harness.call("get_klines", symbol="BTCUSDT", interval="1m", limit=2)
    month = await harness.call("get_klines", symbol="BTCUSDT", interval="1M", limit=2)
    assert isinstance(minute, Executed) and isinstance(month, Executed)
    assert minute.data != month.data


async def test_a_missing_argument_is_named(harness: Harness) -> None:
    outcome = await harness.call("create_order", symbol="BTCUSDT", type="MARKET", quantity="0.001")
    assert isinstance(outcome, Rejected) and outcome.field == "side" and "side is one of BUY, SELL" in outcome.message
    outcome = await harness.call("get_ticker_price")
    assert isinstance(outcome, Rejected) and outcome.field == "symbol"


@given(st.sampled_from(sorted(CASELESS["create_order"]["side"])), st.lists(st.booleans(), min_size=4, max_size=4))
def test_any_ascii_casing_of_a_choice_is_that_choice(side: str, upper: list[bool]) -> None:
    spelled = "".join(c.upper() if u else c.lower() for c, u in zip(side, upper, strict=False))
    command = decode("create_order", {"symbol": "BTCUSDT", "side": spelled, "type": "MARKET", "quantity": "1"})
    assert command.side == side


@given(st.text(min_size=1, max_size=8).filter(lambda t: not t.isascii()))
def test_no_other_text_is_taken_for_a_choice(side: str) -> None:
    with pytest.raises(msgspec.ValidationError):
        decode("create_order", {"symbol": "BTCUSDT", "side": side, "type": "MARKET", "quantity": "1"})


def test_every_caseless_choice_is_upper_case_and_the_intervals_are_not_caseless() -> None:
    assert "interval" in CHOICES["get_klines"] and "interval" not in CASELESS["get_klines"]
    assert all(v == v.upper() for fields in CASELESS.values() for values in fields.values() for v in values)


async def test_the_hint_for_a_quantity_off_the_grid_names_one_the_exchange_then_accepts(harness: Harness) -> None:
    refused = await harness.call("create_order", **{**LIMIT, "quantity": "0.000015"}, side="BUY", type="LIMIT")
    assert isinstance(refused, Rejected) and refused.kind == "filter_failure" and refused.field == "quantity"
    found = re.search(r"the smallest quantity that passes every filter at 40000 is ([0-9.]+)", refused.message)
    assert found, refused.message
    placed = await harness.call("create_order", **{**LIMIT, "quantity": found.group(1)}, side="BUY", type="LIMIT")
    assert isinstance(placed, Executed) and placed.data["status"] == "NEW"
