"""Messages between actors: frozen Structs. Reply futures travel beside them, never inside."""

from __future__ import annotations

from typing import Any

import msgspec

from binance_mcp.events.commands import Command
from binance_mcp.events.outcomes import Outcome

__all__ = ["Admitted", "Backoff", "Envelope", "Finish", "Record", "Validated", "WeightBudget", "WeightSeen"]


class Envelope(msgspec.Struct, frozen=True, kw_only=True):
    """A tool call as it arrived: before any validation."""

    command_id: str
    tool: str
    args: dict[str, Any]
    raw_size: int
    received_us: int
    client: str = ""


class Validated(msgspec.Struct, frozen=True, kw_only=True):
    envelope: Envelope
    command: Command


class Admitted(msgspec.Struct, frozen=True, kw_only=True):
    envelope: Envelope
    command: Command


class Record(msgspec.Struct, frozen=True, kw_only=True):
    """Append a non-terminal event (received, dispatched, security); the reply acks durability."""

    command_id: str
    kind: str
    tool: str
    body: Any


class Finish(msgspec.Struct, frozen=True, kw_only=True):
    """Journal the terminal outcome, then answer the caller with it."""

    envelope: Envelope
    outcome: Outcome


class Backoff(msgspec.Struct, frozen=True, kw_only=True):
    """The exchange said 429/418: send nothing for `seconds`."""

    seconds: float


class WeightSeen(msgspec.Struct, frozen=True, kw_only=True):
    """The exchange reported this much request weight used in its current minute."""

    used: int


class WeightBudget(msgspec.Struct, frozen=True, kw_only=True):
    """The exchange's REQUEST_WEIGHT limit per minute, as its exchangeInfo states it."""

    per_minute: int
