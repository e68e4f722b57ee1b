"""The audit's pure parts: times, filters, what a command line and a timeline show, statistics,
and the chain verifier with golden vectors."""

from __future__ import annotations

import json
import sqlite3
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from binance_mcp.events.audit import (
    Call,
    Filters,
    Order,
    Stats,
    Thresholds,
    bursts,
    command_entry,
    crosscheck,
    find_alerts,
    iso,
    key_args,
    normalized_symbol_sql,
    parse_time,
    percentile,
    summary,
)
from binance_mcp.events.chain import GENESIS, Event, Verifier, chain_hash
from binance_mcp.exchange.rules import normalize_symbol

NOW = 1_800_000_000_000_000  # µs


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", NOW - 90_000_000),
        ("15m", NOW - 900_000_000),
        ("2h", NOW - 7_200_000_000),
        ("3d", NOW - 3 * 86_400_000_000),
        ("1w", NOW - 7 * 86_400_000_000),
        ("1.5h", NOW - 5_400_000_000),
        ("2026-11-29T03:12:00Z", 1_795_921_920_000_000),
        ("2026-11-29T03:12", 1_795_921_920_000_000),  # no zone: UTC
        ("2026-11-29T04:12:00+01:00", 1_795_921_920_000_000),
        ("2026-11-29", 1_795_910_400_000_000),
    ],
)
def test_times_are_iso_8601_or_ages(text: str, expected: int) -> None:
    assert parse_time(text, NOW) == expected


def test_an_unreadable_time_says_what_it_takes() -> None:
    with pytest.raises(ValueError, match=r"neither a time .* nor an age"):
        parse_time("yesterday", NOW)
    assert iso(1_795_921_920_123_456) == "2026-11-29T03:12:00.123Z"


def test_filters_bind_their_values_never_format_them() -> None:
    assert Filters().where() == ("", [])
    where, params = Filters(since_us=1, until_us=2, tool="x'; DROP TABLE events; --", outcome="pending").where()
    assert where == " WHERE received_us >= ? AND received_us <= ? AND tool = ? AND outcome IS NULL"
    assert params == [1, 2, "x'; DROP TABLE events; --"]
    where, params = Filters(outcome="rejected", symbol="btc/usdt", session="01ab").where()
    assert where == f" WHERE outcome = ? AND session LIKE ? AND {normalized_symbol_sql('symbol')} = ?"
    assert params == ["rejected", "01ab%", "BTCUSDT"]


def test_the_symbol_filter_reads_symbols_as_the_server_normalizes_them() -> None:
    with sqlite3.connect(":memory:") as conn:
        conn.execute("CREATE TABLE c (symbol TEXT)")
        spellings = ["BTCUSDT", "btc/usdt", " Btc-Usdt ", "btc_usdt", "BTC.USDT", "btc:usdt", "ETHUSDT", None]
        conn.executemany("INSERT INTO c VALUES (?)", [(s,) for s in spellings])
        where, params = Filters(symbol="btc usdt").where({"symbol": "symbol"})
        found = [r[0] for r in conn.execute(f"SELECT symbol FROM c{where}", params)]
    assert found == spellings[:6]
    assert all(normalize_symbol(s) == "BTCUSDT" for s in found)


def test_filters_name_other_columns_when_asked() -> None:
    columns = {"received_us": "r.ts", "tool": "r.tool", "outcome": "t.kind", "symbol": "s", "session": "x"}
    assert Filters(tool="a", outcome="pending").where(columns) == (" WHERE r.tool = ? AND t.kind IS NULL", ["a"])


def test_a_command_line_says_what_it_was_about_and_how_it_ended() -> None:
    request = json.dumps(
        {"args": {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.001", "price": "60000"}}
    )
    assert key_args(request) == "BTCUSDT BUY LIMIT 0.001 @ 60000"
    # an amount of the quote asset names it: 10 USDT, not to be read as 10 BTC; choices as sent
    spent = {"symbol": "btc/usdt", "side": "buy", "type": "market", "quote_quantity": "10"}
    assert key_args(json.dumps({"args": spent})) == "btc/usdt BUY MARKET 10 USDT"
    assert key_args(json.dumps({"args": {**spent, "symbol": "ETHBTC"}})) == "ETHBTC BUY MARKET 10 BTC"
    assert key_args(json.dumps({"args": {**spent, "symbol": "BTCFDUSD"}})).endswith("10 FDUSD")
    assert key_args(json.dumps({"args": {**spent, "symbol": "XYZ"}})).endswith("10 (quote asset)")
    assert key_args(json.dumps({"args": {"symbol": "BTCUSDT", "order_id": 7}})) == "BTCUSDT #7"
    assert key_args(None) == "" and key_args(json.dumps({"args": {"_omitted": "x"}})) == ""
    filled = json.dumps(
        {"outcome": "executed", "data": {"symbol": "BTCUSDT", "orderId": 3, "status": "FILLED", "fills": []}}
    )
    assert summary("executed", filled) == {"symbol": "BTCUSDT", "orderId": 3, "status": "FILLED", "fills_count": 0}
    refused = json.dumps({"outcome": "rejected", "kind": "guard_limit", "message": "over", "field": None})
    assert summary("rejected", refused) == {"type": "guard_limit", "message": "over"}  # a tool error's keys
    failed = json.dumps({"outcome": "failed", "kind": "order_rejected", "message": "no", "code": -2010})
    assert summary("failed", failed) == {"type": "order_rejected", "message": "no", "code": -2010}
    assert summary("executed", json.dumps({"outcome": "executed", "data": [1, 2]})) == {"count": 2}
    price = json.dumps({"outcome": "executed", "data": {"symbol": "BTCUSDT", "price": "58000.1"}})
    assert summary("executed", price) == {"symbol": "BTCUSDT", "price": "58000.1"}
    balances = {"balances": [{"asset": "BTC"}, {"asset": "USDT"}], "canTrade": True, "accountType": "SPOT"}
    balance = json.dumps({"outcome": "executed", "data": balances})
    assert summary("executed", balance) == {"canTrade": True, "balances_count": 2}
    assert summary("executed", '{"outcome":"executed","truncated":true,"size":70000,"sha256":"ab"}') == {
        "truncated": True
    }
    assert summary(None, None) == {}
    entry = command_entry((NOW, "c1", "create_order", request, None, None, None, "s1"))
    assert entry["outcome"] == "pending" and entry["latency_ms"] is None and entry["at"].endswith("Z")


def test_percentiles_by_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 0.5), percentile(values, 0.95), percentile(values, 0.99)) == (50.0, 95.0, 99.0)
    assert percentile([], 0.5) is None and percentile([7.0], 0.99) == 7.0


def test_stats_report_outcomes_error_rates_latencies_throttles_sessions_and_days() -> None:
    stats = Stats()
    day = NOW // 86_400_000_000
    for latency in (3.0, 1.0, 2.0):
        stats.add("get_ticker_price", "executed", latency, "s1", day, None)
    stats.add("get_ticker_price", "throttled", 0.1, "s1", day, "too many calls")
    stats.add("create_order", None, None, "s2", day + 1, None)
    report = stats.report()
    ticker = report["tools"]["get_ticker_price"]
    assert ticker["calls"] == 4 and ticker["outcomes"] == {"executed": 3, "throttled": 1}
    assert ticker["error_rate"] == 0.25 and ticker["latency_ms"] == {"p50": 1.0, "p95": 3.0, "p99": 3.0}
    assert report["tools"]["create_order"] == {
        "calls": 1,
        "outcomes": {"pending": 1},
        "error_rate": 0.0,
        "latency_ms": {"p50": None, "p95": None, "p99": None},
    }
    assert report["throttles"] == {"too many calls": 1}
    assert report["sessions"] == {"s1": 4, "s2": 1} and list(report["days"]) == ["2027-01-15", "2027-01-16"]


def _chain(n: int) -> list[tuple[object, ...]]:
    rows, prev = [], GENESIS
    for seq in range(1, n + 1):
        event = Event(seq * 10, f"c{seq}", "received", "t", "paper", f'{{"n":{seq}}}')
        prev = chain_hash(prev, seq, event)
        rows.append((seq, *event, prev))
    return rows


def test_golden_vectors_pin_the_chain() -> None:
    # If these change, every log ever written stops verifying: never change them lightly.
    assert [r[7] for r in _chain(3)] == [
        "7e62761436584a76af96297bc36ba735bf7a616ff1d9c50a2394afd78b056147",
        "703d6ec4ec594cc1d31895eedc290d782c6e15829ea7ea97f8450ff6a8e68601",
        "e04fefdf5f4ca140670fdc96d12730a26a96dd1079a89d157fc7d4cb1e4a7788",
    ]


def test_the_verifier_names_the_first_bad_seq_and_what_is_wrong() -> None:
    rows = _chain(6)
    ok = Verifier(keep=frozenset({4}))
    assert all(ok.feed(r) for r in rows)
    assert (ok.events, ok.head_seq, ok.head_hash, ok.seen) == (6, 6, rows[-1][7], {4: rows[3][7]})
    for tampered, bad, what in (
        ([*rows[:2], (3, 30, "c3", "received", "t", "paper", '{"n":4}', rows[2][7]), *rows[3:]], 3, "its hash"),
        ([*rows[:2], *rows[3:]], 3, "is missing"),
        ([*rows[:3], rows[2], *rows[3:]], 3, "comes again"),
        ([rows[0], rows[2], rows[1], *rows[3:]], 2, "is missing"),
    ):
        verifier = Verifier()
        assert not all(verifier.feed(r) for r in tampered)
        assert verifier.bad_seq == bad and verifier.problem is not None and what in verifier.problem


S = 1_000_000  # µs in a second


def call(
    n: int,
    at_s: float,
    *,
    tool: str = "get_ticker_price",
    kind: str | None = None,
    outcome: str = "executed",
    symbol: str | None = "BTCUSDT",
    session: str = "s1",
) -> Call:
    return Call(f"c{n}", tool, NOW + int(at_s * S), outcome, kind, None, symbol, session)


def order(n: int, at_s: float, notional: str = "100") -> Order:
    return Order(f"o{n}", NOW + int(at_s * S), "BTCUSDT", "USDT", Decimal(notional))


HISTORY = [call(i, -86_400 + i * 60) for i in range(30)]
ORDERS_BEFORE = [order(i, -86_400 + (i % 3) * 3600) for i in range(12)]  # at 3 hours of the day


def patterns(period: list[Call], orders: list[Order] | None = None, thresholds: Thresholds | None = None) -> set[str]:
    alerts = find_alerts(period, HISTORY, orders or [], ORDERS_BEFORE, thresholds or Thresholds())
    return {a["pattern"] for a in alerts}


def test_a_normal_period_raises_nothing() -> None:
    assert patterns([call(100 + i, i * 30) for i in range(40)], [order(100, 0), order(101, 3600)]) == set()


def test_each_pattern_is_raised_with_its_evidence() -> None:
    burst = [call(200 + i, i * 5, outcome="rejected", kind="validation_error") for i in range(5)]
    alerts = find_alerts(burst, HISTORY, [], ORDERS_BEFORE)
    assert [a["pattern"] for a in alerts] == ["probing"]
    assert alerts[0]["command_ids"] == [c.command_id for c in burst] and alerts[0]["count"] == 5
    spread = [call(300 + i, i * 120, outcome="rejected", kind="validation_error") for i in range(5)]
    assert patterns(spread) == set()  # five, but never five within a minute
    assert patterns(burst[:4]) == set()
    assert patterns(burst, thresholds=Thresholds(probe_count=6)) == set()
    assert patterns([call(1, 0, tool="withdraw_all", outcome="rejected", kind="unknown_tool")]) == {"unknown_tools"}
    assert patterns([call(1, 0, outcome="rejected", kind="request_too_large")]) == {"oversized_requests"}
    assert patterns([call(1, 0, outcome="failed", kind="rate_limit_exceeded")]) == {"rate_limits"}
    throttled = [call(i, i, outcome="throttled", kind="rate_limit_exceeded") for i in range(10)]
    assert patterns(throttled[:9]) == set() and patterns(throttled) == {"rate_limits"}
    assert patterns([call(1, 0, tool="create_order")]) == {"new_tools"}
    assert patterns([call(1, 0, symbol="PEPEUSDT")]) == {"new_symbols"}
    assert patterns([call(1, 0, symbol="btc/usdt")]) == set()  # BTCUSDT, as the history has it
    assert patterns([], [order(1, 5 * 3600)]) == {"unusual_hours"}
    assert patterns([], [order(1, 0, notional="500.01")]) == {"unusual_sizes"}
    assert patterns([], [order(1, 0, notional="500")]) == set()  # 5x the median exactly: not over


def test_without_history_nothing_is_new() -> None:
    alerts = find_alerts([call(1, 0, tool="create_order")], HISTORY[:5], [order(1, 5 * 3600)], ORDERS_BEFORE[:3])
    assert alerts == []


def test_crosscheck_finds_orders_on_either_side_only() -> None:
    dispatched = [("a", "mcpa", "placed"), ("b", "mcpb", None), ("c", "mcpc", "not_placed")]
    exchange = [
        {"symbol": "BTCUSDT", "orderId": 1, "clientOrderId": "mcpa", "status": "FILLED"},
        {"symbol": "BTCUSDT", "orderId": 2, "clientOrderId": "web_123", "status": "NEW"},
    ]
    report = crosscheck(dispatched, exchange)
    assert [o["orderId"] for o in report["not_placed_by_this_server"]] == [2]
    assert report["unknown_to_the_exchange"] == [{"command_id": "b", "client_order_id": "mcpb"}]
    clean = crosscheck([("a", "mcpa", "placed")], exchange[:1])
    assert clean["not_placed_by_this_server"] == [] and clean["unknown_to_the_exchange"] == []


def test_a_burst_is_counted_whole_and_its_evidence_is_bounded() -> None:
    """29 rejected calls within 0.3 s are one burst of 29 (not the first 5); two bursts apart are two;
    the evidence names the first and the last and the span, and at most 20 ids."""
    fast = [call(400 + i, i * 0.01, outcome="rejected", kind="unknown_symbol") for i in range(25)]
    fast += [call(425 + i, 0.25 + i * 0.01, outcome="rejected", kind="validation_error") for i in range(4)]
    later = [call(500 + i, 600 + i, outcome="rejected", kind="validation_error") for i in range(6)]
    alerts = find_alerts(fast + later, HISTORY, [], ORDERS_BEFORE)
    assert [(a["pattern"], a["count"]) for a in alerts] == [("probing", 29), ("probing", 6)]
    first = alerts[0]
    # what was refused, and how many of each (the reader need not go to `audit list` to learn it)
    assert first["summary"].startswith(
        "29 rejected calls within 0.28 s from session s1: 25 unknown_symbol, 4 validation_error"
    )
    assert (first["first_id"], first["last_id"]) == (fast[0].command_id, fast[-1].command_id)
    assert len(first["command_ids"]) == 20 and abs(first["span_s"] - 0.28) < 1e-6


@given(st.lists(st.floats(min_value=0, max_value=3600, allow_nan=False), max_size=80))
def test_bursts_hold_every_call_of_every_full_window_and_nothing_else(times: list[float]) -> None:
    calls = sorted(
        (call(i, t, outcome="rejected", kind="validation_error") for i, t in enumerate(times)),
        key=lambda c: c.received_us,
    )
    found = bursts(calls, 5, 60 * S)
    in_bursts = [c.command_id for b in found for c in b]
    assert len(in_bursts) == len(set(in_bursts))  # a call is in one burst at most
    full = set()  # the calls of every window of 60 s that holds 5 or more
    for c in calls:
        window = [d for d in calls if c.received_us <= d.received_us <= c.received_us + 60 * S]
        if len(window) >= 5:
            full.update(d.command_id for d in window)
    assert set(in_bursts) == full
