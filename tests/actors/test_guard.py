"""The trading guard's settings and its rolling daily total: pure, on a given clock."""

from decimal import Decimal as D

import msgspec
import pytest

from binance_mcp.actors.guard import DAY_MS, Caps, DailyNotional, Guard, parse_caps


def test_caps_plain_or_per_quote_asset() -> None:
    assert parse_caps(None, "X").off and parse_caps("  ", "X").off
    plain = parse_caps("1000", "X")
    assert plain.of("USDT") == D(1000) and plain.of("BTC") == D(1000)
    named = parse_caps("usdt=1000, BTC=0.02", "X")
    assert named.of("USDT") == D(1000) and named.of("BTC") == D("0.02")
    assert named.of("ETH") == D(0)  # named assets only: any other may not be traded
    both = parse_caps("50,BTC=0.01", "X")
    assert both.of("ETH") == D(50) and both.of("BTC") == D("0.01")
    assert both.describe() == "50,BTC=0.01"


@pytest.mark.parametrize("text", ["abc", "-5", "0", "NaN", "USDT=", "1,2"])
def test_bad_caps_name_the_setting(text: str) -> None:
    with pytest.raises(ValueError, match="MCP_MAX_ORDER_NOTIONAL"):
        parse_caps(text, "MCP_MAX_ORDER_NOTIONAL")


def test_the_guard_record_is_plain_data() -> None:
    guard = Guard(trading_enabled=False, max_order_notional=Caps(D(10)), symbol_allowlist=frozenset({"B", "A"}))
    assert msgspec.to_builtins(guard.record()) == {
        "trading_enabled": False,
        "max_order_notional": "10",
        "max_daily_notional": None,
        "symbol_allowlist": ["A", "B"],
        "confirm_orders": False,
    }


def test_daily_notional_rolls_over_24_hours_and_counts_reservations() -> None:
    t0 = 1_000 * DAY_MS
    daily = DailyNotional()
    daily.dispatched("x", t0, "USDT", D(100))
    daily.dispatched("y", t0 + 1000, "BTC", D("0.5"))
    assert daily.used("USDT", t0 + 10) == D(100)
    daily.reserve("a", "USDT", D(30), t0 + 20)
    daily.reserve("b", "USDT", D(40), t0 + 20)
    assert daily.used("USDT", t0 + 30) == D(170)
    daily.settle("a", placed=True)  # stays for 24 h from when it was reserved
    daily.settle("b", placed=False)  # freed
    daily.settle("never-reserved", placed=True)  # nothing to do
    assert daily.used("USDT", t0 + 30) == D(130)
    assert daily.used("USDT", t0 + DAY_MS) == D(30)  # the first order has left the window
    assert daily.used("USDT", t0 + 20 + DAY_MS) == D(0)
    assert daily.used("BTC", t0 + DAY_MS) == D("0.5")
