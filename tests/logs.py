"""The tests' one reader of an event log: every row with named fields and its body decoded through
the schema's codec (`event`), in seq order. A row is a tuple too, in the order `verify_rows` takes."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import NamedTuple

from binance_mcp.actors.guard import Guard
from binance_mcp.events.lifecycle import OUTSIDE
from binance_mcp.events.outcomes import Outcome
from binance_mcp.events.schema import (
    AccountEvent,
    Dispatched,
    LogEvent,
    Logged,
    Request,
    StreamConnected,
    StreamLost,
    decode,
)

__all__ = ["STREAM_KINDS", "LogRow", "command_rows", "dispatched", "events_of", "read_log"]


class LogRow(NamedTuple):
    seq: int
    ts: int
    command_id: str
    kind: str
    tool: str
    venue: str
    body: str
    hash: str

    @property
    def event(self) -> LogEvent | Outcome:
        return decode(self.kind, self.body)

    def logged(self) -> Logged:
        """As the fold takes it."""
        return Logged(self.seq, self.ts, self.command_id, self.kind, self.tool, self.body)


def read_log(path: Path | str) -> list[LogRow]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT seq, ts, command_id, kind, tool, venue, body, hash FROM events ORDER BY seq")
        return [LogRow(*row) for row in rows.fetchall()]


def command_rows(path: Path | str) -> list[LogRow]:
    """The rows of commands (not of runs, sessions or security)."""
    return [r for r in read_log(path) if r.kind not in OUTSIDE]


STREAM_KINDS = frozenset(cls.kind for cls in (AccountEvent, StreamConnected, StreamLost))


def events_of(path: Path | str, command_id: str) -> list[LogRow]:
    """The rows of one command's lifecycle, in seq order (without the account stream's events of
    its order, which come when the exchange sends them)."""
    return [r for r in read_log(path) if r.command_id == command_id and r.kind not in STREAM_KINDS]


def dispatched(
    symbol: str, client_order_id: str | None = None, notional: Decimal | None = None, ref_price: Decimal | None = None
) -> Dispatched:
    """A `dispatched` event of an order on `symbol` (quoted in USDT), as the executor writes one."""
    return Dispatched(
        request=Request(method="POST", path="/api/v3/order", query=""),
        symbol=symbol,
        client_order_id=client_order_id,
        order_id=None,
        quote_asset="USDT",
        base_asset=symbol.removesuffix("USDT"),
        notional=notional,
        ref_price=ref_price,
        guard=Guard().record(),
    )
