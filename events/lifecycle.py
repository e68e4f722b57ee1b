"""The command lifecycle as data: which journaled event may follow which, for one command.

    received ─► rejected | throttled | executed | failed                (reads; guard and limiter)
             └► confirmation_requested ─► confirmed ─► …               (MCP_CONFIRM_ORDERS)
                                       └► rejected                     (declined, expired)
                                          confirmed ─► rejected        (judged again: another run
                                                                        dispatched, or a halt)
             └► dispatched ─► executed | failed | unknown ─► reconciled (state changes)

`validated` and `admitted` happen in memory and are not journaled. Outside the lifecycle: a run's
`started` and `stopped` and an MCP client's `session` (their command id is the run's or the
session's own id), `halted` and `resumed` (the halting run's id), `security` events, and the
account stream's `account_event` (an order's, under the command that placed it), `stream_connected`
and `stream_lost`. A
terminal kind ends the command; only `unknown` is followed, by `reconciled`. After a crash the
server closes what it finds open: a `dispatched` gets `unknown` (then `reconciled`), anything
else before dispatch gets `failed`.
"""

from __future__ import annotations

__all__ = ["NEXT", "OUTSIDE", "SETTLED_KINDS", "TERMINAL_KINDS", "illegal_move", "sql_list"]

TERMINAL_KINDS = ("rejected", "throttled", "executed", "failed", "unknown")
OUTSIDE = frozenset(
    {
        "started",
        "stopped",
        "session",
        "security",
        "halted",
        "resumed",
        "account_event",
        "paper_reset",
        "stream_connected",
        "stream_lost",
    }
)
_ENDS = frozenset({"rejected", "throttled", "executed", "failed"})
# A command is settled by one of these: a terminal outcome other than `unknown`, or `reconciled`.
# Until then it is unresolved (start-up recovery, `audit alerts`, the reconciler's work).
SETTLED_KINDS = (*sorted(_ENDS), "reconciled")

NEXT: dict[str | None, frozenset[str]] = {
    None: frozenset({"received"}),
    "received": frozenset({"confirmation_requested", "dispatched"}) | _ENDS,
    "confirmation_requested": frozenset({"confirmed", "rejected", "failed"}),
    "confirmed": frozenset({"dispatched", "throttled", "failed", "rejected"}),
    "dispatched": frozenset({"executed", "failed", "unknown"}),
    "unknown": frozenset({"reconciled"}),
    "reconciled": frozenset(),
    **{end: frozenset() for end in _ENDS},
}


def illegal_move(last: str | None, kind: str) -> bool:
    """Whether `kind` may not follow `last` (None: the command's first event)."""
    return kind not in OUTSIDE and kind not in NEXT.get(last, frozenset())


def sql_list(kinds: tuple[str, ...] | frozenset[str]) -> str:
    """Kinds as an SQL list for `IN (...)`: the views and queries spell these lists from here."""
    return ", ".join(f"'{k}'" for k in (sorted(kinds) if isinstance(kinds, frozenset) else kinds))
