"""Hypothesis strategies for a tool's arguments, valid and hostile: shared by the property tests
(tests/actors/test_properties.py) and the fuzz harness (bench/fuzz.py)."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from binance_mcp.events.commands import COMMANDS, input_schema

__all__ = ["VALID", "arguments"]

HOSTILE_TEXT = st.one_of(
    st.text(max_size=24),
    st.sampled_from(["", "\x00", "a\x00b", "\ud800", "\udfff", "\u202e", "\u200b", "😀", "'", "%", "?", "/", "+", " "]),
)
INTS = st.one_of(st.integers(min_value=-5, max_value=2_000), st.integers(), st.sampled_from([2**63, 2**64, 10**30]))
ANY = st.one_of(
    st.none(),
    st.booleans(),
    INTS,
    st.floats(),
    HOSTILE_TEXT,
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
)
SYMBOLS = st.sampled_from(
    [
        "BTCUSDT",
        "btc/usdt",
        " eth-btc ",
        "SOLUSDT",
        "ſolusdt",
        "lınkusdt",
        "ＢＴＣＵＳＤＴ",
        "BTCUSDT\x00",
        "币安人生USDT",
    ]
)
AMOUNTS = st.one_of(
    st.sampled_from(
        [
            *("0.001", "0.0001", "0.00001", "30000", "65000.5", "+1.5", "1.5e3", "99999999999999999999"),
            *("1e1000000", "1e999999", "０.００５", "1_500", "-1", "0", "NaN", "1e-30"),
            "12345678901234567890.12345678901234567890",
        ]
    ),
    st.decimals(allow_nan=False, allow_infinity=False).map(str),
    st.integers(),
    st.floats(),
)
CODES = st.sampled_from(["USDT", "usdt", "BTC", "ETH", "A'B", "A/B", "ＵＳＤＴ", "uſdt", "BSC", "\x00"])
AGES = st.sampled_from(
    ["2h", "3d", "90s", "２h", "١٢h", "200000000d", "99999999999w", "2026-11-29T03:00Z", "1e3h", "x"]
)
BY_NAME: dict[str, st.SearchStrategy[Any]] = {
    "symbol": SYMBOLS,
    "quantity": AMOUNTS,
    "quote_quantity": AMOUNTS,
    "price": AMOUNTS,
    "stop_price": AMOUNTS,
    "since": AGES,
    "until": AGES,
    "coin": CODES,
    "network": CODES,
    "asset": CODES,
    "quote_asset": CODES,
    "of_tool": st.sampled_from(sorted(COMMANDS)),
}


def _values(name: str, schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """What a field gets: its own kind of value (valid or a near miss) or anything at all."""
    enums = [v for option in schema.get("anyOf", [schema]) for v in option.get("enum", [])]
    if name in BY_NAME:
        own = BY_NAME[name]
    else:
        own = st.sampled_from(enums) if enums else INTS if "time" in name or "id" in name else ANY
    return st.one_of(own, own, own, ANY)


BTC = {"symbol": "BTCUSDT"}
ORDER = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.001", "price": "50000"}
VALID: dict[str, dict[str, Any]] = {  # one call of each tool that the paper exchange carries out
    "get_ticker_price": BTC,
    "get_ticker": BTC,
    "get_order_book": {**BTC, "limit": 5},
    "get_recent_trades": {**BTC, "limit": 10},
    "get_klines": {**BTC, "interval": "1m", "limit": 5},
    "get_avg_price": BTC,
    "get_book_ticker": BTC,
    "get_available_assets": {"quote_asset": "USDT"},
    "get_symbol_info": BTC,
    "get_audit_log": {"since": "2h", "limit": 5},
    "get_account_events": {"since": "2h", "kind": "order", "limit": 5},
    "get_balance": {"asset": "USDT"},
    "get_fee_info": BTC,
    "get_orders": {**BTC, "limit": 5},
    "get_open_orders": BTC,
    "get_order": {**BTC, "order_id": 1},
    "get_my_trades": {**BTC, "limit": 5},
    "create_order": {**BTC, "side": "BUY", "type": "MARKET", "quantity": "0.0002"},
    "test_order": ORDER,
    "cancel_order": {**BTC, "order_id": 1},
    "cancel_open_orders": BTC,
    "get_account_snapshot": {"limit": 7},
    "get_deposit_address": {"coin": "USDT", "network": "ETH"},
    "get_deposit_history": {"coin": "USDT"},
    "get_withdraw_history": {"coin": "USDT"},
    "get_position_info": BTC,
    "get_pnl": {"limit": 5},
    "get_liquidation_history": {"limit": 5},
}


def _replaced(valid: dict[str, Any], name: str, value: Any) -> dict[str, Any]:
    return {**valid, name: value}


def arguments(tool: str) -> st.SearchStrategy[dict[str, Any]]:
    """A valid call with one field changed or dropped (most of them: the deeper stages see them),
    or any choice of the tool's fields, with a stray field of any name at times."""
    properties = input_schema(COMMANDS[tool])["properties"]
    fields = {name: _values(name, schema) for name, schema in properties.items()}
    valid = VALID[tool]
    one_changed = st.sampled_from(sorted(fields)).flatmap(lambda n: fields[n].map(lambda v: _replaced(valid, n, v)))
    one_dropped = st.sampled_from(sorted(valid) or [""]).map(lambda n: {k: v for k, v in valid.items() if k != n})
    chosen = st.fixed_dictionaries({}, optional=fields)
    extra = st.dictionaries(HOSTILE_TEXT, ANY, max_size=1)
    anything = st.builds(lambda a, b: {**a, **b}, chosen, extra)
    return st.one_of(
        st.just(valid), st.just(valid), one_changed, one_changed, one_changed, one_dropped, chosen, anything
    )
