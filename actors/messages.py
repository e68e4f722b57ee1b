"""Messages between actors: frozen Structs. Reply futures travel beside them, never inside."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec

from binance_mcp.events.commands import Command
from binance_mcp.events.outcomes import Outcome
from binance_mcp.events.schema import LogEvent

__all__ = [
    "Admitted",
    "Backoff",
    "Confirm",
    "Envelope",
    "Finish",
    "NeedsConfirmation",
    "OrderCountSeen",
    "OrderFacts",
    "OthersOrdered",
    "Priced",
    "RateBudget",
    "Record",
    "Settle",
    "Validated",
    "WeightSeen",
]


class Envelope(msgspec.Struct, frozen=True, kw_only=True):
    """A tool call as it arrived: before any validation."""

    command_id: str
    tool: str
    args: dict[str, Any]
    raw_size: int
    received_us: int
    client: str = ""  # the MCP client's name/version
    session: str = ""  # the id of its `session` event
    can_confirm: bool = False  # the client can ask its user (MCP elicitation)
    scopes: frozenset[str] | None = None  # over HTTP, what the caller's token allows; None: everything (stdio)


class OrderFacts(msgspec.Struct, frozen=True, kw_only=True):
    """What the validator learned about an order: its quote asset, its value in that asset and the
    reference price it was valued at (both `None` for a cancel)."""

    quote_asset: str
    base_asset: str = ""
    notional: Decimal | None = None
    ref_price: Decimal | None = None
    seen_seq: int | None = None  # an order's: the log position the guard's decision saw


class Priced(msgspec.Struct, frozen=True, kw_only=True):
    """The validator's own message: the market facts an order's checks need have arrived."""

    envelope: Envelope
    command: Command
    ref_price: Decimal
    open_orders: int
    open_algo_orders: int


class Validated(msgspec.Struct, frozen=True, kw_only=True):
    envelope: Envelope
    command: Command
    facts: OrderFacts | None = None


class Admitted(msgspec.Struct, frozen=True, kw_only=True):
    envelope: Envelope
    command: Command
    facts: OrderFacts | None = None


class NeedsConfirmation(msgspec.Struct, frozen=True, kw_only=True):
    """Not an outcome: the command waits for its person to confirm it (`System.confirm`)."""

    command_id: str
    summary: str


class Confirm(msgspec.Struct, frozen=True, kw_only=True):
    """The person's answer to a NeedsConfirmation (or its expiry)."""

    command_id: str
    accepted: bool
    reason: str = ""


class Settle(msgspec.Struct, frozen=True, kw_only=True):
    """An order's fate is known: `placed` keeps its value in the daily total, else it is freed."""

    command_id: str
    placed: bool


class Record(msgspec.Struct, frozen=True, kw_only=True):
    """Append an event that is not an outcome (events/schema.py); the reply acks durability.
    `with_outcome`: stamped now, written in the same transaction as the command's outcome (a
    read's `received`: one commit per read)."""

    command_id: str
    tool: str
    event: LogEvent
    with_outcome: bool = False

    @property
    def kind(self) -> str:
        return self.event.kind


class Finish(msgspec.Struct, frozen=True, kw_only=True):
    """Journal the terminal outcome, then answer the caller with it."""

    envelope: Envelope
    outcome: Outcome


class Backoff(msgspec.Struct, frozen=True, kw_only=True):
    """The exchange said 429/418: send nothing for `seconds`."""

    seconds: float


class Spend(msgspec.Struct, frozen=True, kw_only=True):
    """A request that is not a tool call's own (an order's price and open-order lookups, the
    reconciler's lookups, the exchangeInfo read) asks for its request weight before it is sent. The limiter answers
    None (send it: charged) or a `Throttled` (do not: backing off, or no weight left), and never
    charges the MCP call budget for it."""

    weight: int


class WeightSeen(msgspec.Struct, frozen=True, kw_only=True):
    """The exchange reported this much request weight used in its current minute."""

    used: int


class OrderCountSeen(msgspec.Struct, frozen=True, kw_only=True):
    """The exchange's count of this account's orders (X-MBX-ORDER-COUNT-10S / -1D)."""

    ten_seconds: int | None
    day: int | None


class OthersOrdered(msgspec.Struct, frozen=True, kw_only=True):
    """Other runs on the log sent new orders at these times (ms): the ORDERS windows are the
    account's, whichever process sent them."""

    times_ms: tuple[int, ...]


class RateBudget(msgspec.Struct, frozen=True, kw_only=True):
    """The exchange's limits as its exchangeInfo states them: REQUEST_WEIGHT per minute, and
    ORDERS per 10 seconds and per day when it states them."""

    per_minute: int | None = None
    orders_per_10s: int | None = None
    orders_per_day: int | None = None
