"""Which of two facts about an order is the newer: one rule for the `orders` view (SQL), the
replay fold and `audit list` (Python), and the account stream's gap reconciliation.

An order's facts come from several places that do not arrive in order: the answer to the
`create_order` that placed it, a `reconciled` lookup, a cancel's answer, the account stream's
events, a REST read after a gap. The exchange's own order is monotonic: its status only moves
forward (NEW → PARTIALLY_FILLED → a final status) and its executed quantity only grows. So the
newer fact is the one further along: the higher status rank, then the larger executed quantity,
then (a tie) the later in the log. A stream event journaled before the placing call's answer
(it can come first) is not undone by that answer.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import NamedTuple

__all__ = ["FINAL_STATUSES", "STATUS_RANK", "Fact", "fact", "newer", "sql_rank"]

STATUS_RANK: dict[str, int] = {
    "PENDING_NEW": 0,
    "NEW": 1,
    "PARTIALLY_FILLED": 2,
    "PENDING_CANCEL": 2,
    "FILLED": 3,
    "CANCELED": 3,
    "EXPIRED": 3,
    "EXPIRED_IN_MATCH": 3,
    "REJECTED": 3,
}
FINAL_STATUSES = frozenset(s for s, rank in STATUS_RANK.items() if rank == 3)


class Fact(NamedTuple):
    status: str
    executed_qty: Decimal
    quote_qty: Decimal
    seq: int


def _amount(text: object) -> Decimal:
    try:
        value = Decimal(str(text))
    except (InvalidOperation, ValueError):
        return Decimal(0)
    return value if value.is_finite() else Decimal(0)


def fact(status: object, executed: object, quote: object, seq: int) -> Fact | None:
    """A fact from an answer's or an event's fields; None without a status this rule knows."""
    if not isinstance(status, str) or status not in STATUS_RANK:
        return None
    return Fact(status, _amount(executed), _amount(quote), seq)


def newer(old: Fact | None, new: Fact) -> bool:
    """Whether `new` tells more of the order than `old`."""
    if old is None:
        return True
    return (STATUS_RANK[new.status], new.executed_qty, new.seq) > (STATUS_RANK[old.status], old.executed_qty, old.seq)


def sql_rank(expr: str) -> str:
    """The status rank of an SQL expression, as STATUS_RANK says (-1 for a status it does not know)."""
    whens = " ".join(f"WHEN '{status}' THEN {rank}" for status, rank in STATUS_RANK.items())
    return f"(CASE {expr} {whens} ELSE -1 END)"
