"""The fold: the event log → the state the actors must not forget across a restart. Pure, no I/O.

`Fold.apply` takes events in log order, one at a time, so folding the first N events and then
the rest gives the same state as folding them all at once. What comes out:
- `order_times(now)`: when each new order left in the last 24 h (the limiter's ORDERS windows);
- `notional(now)`: each order of the last 24 h that was placed, or may have been, with its value
  and quote asset (the guard's daily cap); an order the exchange refused does not count;
- `unresolved()`: state changes that were dispatched and whose outcome is not known (no answer
  yet, or `unknown` and never reconciled): the reconciler looks each one up;
- `interrupted()`: commands received and never finished nor dispatched (the server stopped);
- `anomalies`: moves the lifecycle table does not allow (a log written by a bug, or tampered).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import msgspec

from binance_mcp.events.lifecycle import OUTSIDE, illegal_move

__all__ = ["DAY_MS", "Fold", "Pending"]

DAY_MS = 86_400_000
_decoder = msgspec.json.Decoder()


class Pending(msgspec.Struct, frozen=True, kw_only=True):
    """A dispatched state change whose outcome is not known: what the reconciler looks up."""

    command_id: str
    tool: str
    symbol: str
    client_order_id: str | None
    order_id: int | None
    dispatched_ms: int
    finished: bool  # it has its terminal event (`unknown`); else the server stopped before the answer


@dataclass
class _Command:
    tool: str
    last: str | None = None
    dispatched_ms: int | None = None
    dispatch: dict[str, Any] = field(default_factory=dict)
    terminal: str | None = None
    placed: bool | None = None  # from `reconciled`, for an order


class Fold:
    def __init__(self) -> None:
        self.commands: dict[str, _Command] = {}
        self.anomalies: list[tuple[int, str, str]] = []  # (seq, command id, what)

    def apply(self, seq: int, ts_us: int, command_id: str, kind: str, tool: str, body: str) -> None:
        if kind in OUTSIDE or command_id == "system":
            return
        command = self.commands.get(command_id)
        if command is None:
            command = self.commands[command_id] = _Command(tool)
        if illegal_move(command.last, kind):
            self.anomalies.append((seq, command_id, f"{kind} after {command.last or 'nothing'}"))
        command.last = kind
        if kind == "dispatched":
            command.dispatched_ms = ts_us // 1000
            command.dispatch = _decoder.decode(body)
        elif kind == "reconciled":
            placed = _decoder.decode(body).get("placed")
            command.placed = placed if isinstance(placed, bool) else None
        elif kind in ("rejected", "throttled", "executed", "failed", "unknown"):
            command.terminal = kind

    def _orders(self, now_ms: int) -> list[_Command]:
        return [
            c
            for c in self.commands.values()
            if c.tool == "create_order" and c.dispatched_ms is not None and c.dispatched_ms > now_ms - DAY_MS
        ]

    def order_times(self, now_ms: int) -> list[int]:
        return sorted(c.dispatched_ms for c in self._orders(now_ms) if c.dispatched_ms is not None)

    def notional(self, now_ms: int) -> list[tuple[int, str, Decimal]]:
        out = []
        for c in self._orders(now_ms):
            value, asset = c.dispatch.get("notional"), c.dispatch.get("quote_asset")
            not_placed = c.terminal == "failed" or c.placed is False
            if value is not None and asset and not not_placed and c.dispatched_ms is not None:
                out.append((c.dispatched_ms, str(asset), Decimal(str(value))))
        return out

    def unresolved(self) -> list[Pending]:
        return [
            Pending(
                command_id=command_id,
                tool=c.tool,
                symbol=str(c.dispatch.get("symbol", "")),
                client_order_id=c.dispatch.get("client_order_id"),
                order_id=c.dispatch.get("order_id"),
                dispatched_ms=c.dispatched_ms,
                finished=c.terminal == "unknown",
            )
            for command_id, c in self.commands.items()
            if c.dispatched_ms is not None and c.terminal in (None, "unknown") and c.last != "reconciled"
        ]

    def interrupted(self) -> list[tuple[str, str]]:
        return [
            (command_id, c.tool)
            for command_id, c in self.commands.items()
            if c.terminal is None and c.dispatched_ms is None
        ]
