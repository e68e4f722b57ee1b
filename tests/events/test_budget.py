"""The result budget: an answer's data fits the budget, and what was cut is said; as much is kept
as fits (one more would not), the newest rows of a history, the best levels of a book."""

from __future__ import annotations

from typing import Any

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from binance_mcp.events.budget import fit

ROW = st.lists(st.text(max_size=30), min_size=1, max_size=6)


def size(value: Any) -> int:
    return len(msgspec.json.encode(value))


@given(st.lists(ROW, max_size=300), st.integers(min_value=2000, max_value=20_000), st.booleans())
def test_a_list_is_cut_to_fit_keeping_as_much_as_fits(rows: list[Any], budget: int, history: bool) -> None:
    tool = "get_klines" if history else "get_available_assets"
    data, cut = fit(tool, rows, budget)
    if cut is None:
        assert data == rows and size(rows) <= budget
        return
    assert size(data) <= budget < size(rows)
    assert cut.kept == len(data) and cut.kept + cut.left_out == len(rows) and cut.field is None
    assert data == (rows[len(rows) - cut.kept :] if history else rows[: cut.kept])  # the newest, or the first
    one_more = rows[len(rows) - cut.kept - 1 :] if history else rows[: cut.kept + 1]
    assert size(one_more) > budget  # as much as fits
    assert cut.how


def test_an_order_book_keeps_its_best_levels_on_both_sides() -> None:
    levels = [[f"{60000 - i}.00", "0.5"] for i in range(2000)]
    book = {"lastUpdateId": 7, "bids": levels, "asks": list(reversed(levels))}
    data, cut = fit("get_order_book", book, 10_000)
    assert cut is not None and cut.field == "bids, asks" and "limit" in cut.how
    assert data["bids"] == levels[: cut.kept] and data["asks"] == book["asks"][: cut.kept]
    assert data["lastUpdateId"] == 7 and size(data) <= 10_000
    assert fit("get_order_book", book, 0) == (book, None)  # no budget: whole
