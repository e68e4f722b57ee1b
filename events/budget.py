"""The result budget: every tool's answer fits what a host will take. Pure, no I/O.

Hosts refuse large tool results (Claude Code, by default, one over 25,000 tokens: about 100 KB of
JSON), and a result is sent twice, as structured content and as the same JSON in text. So the data
of an answer is held to `budget` characters of JSON (MCP_RESULT_BUDGET, default 24,000: about
50 KB in all), and a list cut to fit says so: `truncated` beside `data` names the list, how many
items were kept and left out, and the argument that gets the rest.

What is kept: the newest rows of a history (klines, trades, orders and trades of the account: Binance
lists them oldest first, so the last ones), the best levels of an order book, the first rows of any
other list. The event log keeps the whole answer (within the journal's own bound): the budget is
the host's, not the record's.
"""

from __future__ import annotations

from typing import Any

import msgspec

__all__ = ["DEFAULT_BUDGET", "Truncated", "fit"]

DEFAULT_BUDGET = 24_000

_encoder = msgspec.json.Encoder()
# Histories Binance lists oldest first: the newest rows are the ones to keep.
_NEWEST_LAST = frozenset(
    {"get_klines", "get_recent_trades", "get_orders", "get_my_trades", "get_pnl", "get_deposit_history"}
)
_HOW = {
    "get_klines": "ask for fewer (limit), or page with start_time and end_time",
    "get_recent_trades": "ask for fewer (limit)",
    "get_order_book": "ask for fewer levels (limit)",
    "get_orders": "narrow with start_time and end_time, or from an order_id, or ask for fewer (limit)",
    "get_my_trades": "page with from_id, narrow with start_time and end_time, or ask for fewer (limit)",
    "get_available_assets": "narrow by quote_asset",
    "get_open_orders": "ask per symbol",
    "get_audit_log": "ask for fewer (limit), or page with offset",
    "get_account_events": "ask for fewer (limit), or page with offset",
}


class Truncated(msgspec.Struct, kw_only=True):
    """A list of the answer cut to fit the result budget: which, how many kept and left out, and
    how to get the rest."""

    field: str | None  # the list cut (None: the answer is the list); an order book cuts bids and asks
    kept: int
    left_out: int
    how: str


def _size(value: Any) -> int:
    return len(_encoder.encode(value))


def _cut(data: Any, keep: int, newest_last: bool) -> Any:
    """`data` with each of its lists (or itself, a list) cut to `keep` items."""
    if isinstance(data, list):
        return data[len(data) - keep :] if newest_last else data[:keep]
    return {k: (v[len(v) - keep :] if newest_last else v[:keep]) if isinstance(v, list) else v for k, v in data.items()}


def fit(tool: str, data: Any, budget: int) -> tuple[Any, Truncated | None]:
    """`data` as it fits `budget` characters of JSON (0: no budget), and what was cut (None: nothing)."""
    if budget <= 0 or _size(data) <= budget:
        return data, None
    if isinstance(data, list):
        longest, field = len(data), None
    elif isinstance(data, dict):
        lists = {k: len(v) for k, v in data.items() if isinstance(v, list)}
        if not lists:
            return data, None  # no list to cut: sent whole (an answer that is one large object)
        field = max(lists, key=lambda k: lists[k])
        longest = lists[field]
        if {"bids", "asks"} <= set(lists):
            field = "bids, asks"
    else:
        return data, None
    newest_last = tool in _NEWEST_LAST
    lo, hi = 0, longest  # the most items each list may keep and still fit: found by halving
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if _size(_cut(data, mid, newest_last)) <= budget:
            lo = mid
        else:
            hi = mid - 1
    how = _HOW.get(tool, "narrow the request")
    return _cut(data, lo, newest_last), Truncated(field=field, kept=lo, left_out=longest - lo, how=how)
