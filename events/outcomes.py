"""The terminal outcomes of a command: exactly one per command in the event log.

    Outcome
    ├── Rejected   the validator refused it (bad input, unknown symbol, trading guard); nothing sent
    ├── Throttled  the limiter refused it (our budget or Binance's back-off); nothing sent
    ├── Executed   the exchange answered with success; `data` is the answer
    ├── Failed     it did not happen: the exchange refused it, or we could not send it
    └── Unknown    it may have happened: timeout, dropped connection or 5XX on a state change

Error `kind`s (the `error.type` a client sees) are the constants below.
"""

from __future__ import annotations

from typing import Any

import msgspec

__all__ = [
    "AUDIT_UNAVAILABLE",
    "EXCHANGE_ERROR",
    "INTERNAL_ERROR",
    "RATE_LIMITED",
    "REQUEST_TOO_LARGE",
    "TRANSPORT_ERROR",
    "UNKNOWN_SYMBOL",
    "VALIDATION_ERROR",
    "Executed",
    "Failed",
    "Outcome",
    "Rejected",
    "Throttled",
    "Unknown",
]

VALIDATION_ERROR = "validation_error"
REQUEST_TOO_LARGE = "request_too_large"
UNKNOWN_SYMBOL = "unknown_symbol"
RATE_LIMITED = "rate_limit_exceeded"
EXCHANGE_ERROR = "exchange_error"
TRANSPORT_ERROR = "transport_error"
AUDIT_UNAVAILABLE = "audit_unavailable"
INTERNAL_ERROR = "internal_error"
UNKNOWN_OUTCOME = "unknown_outcome"


class Outcome(msgspec.Struct, frozen=True, kw_only=True, tag_field="outcome"):
    """Base of the terminal outcomes; the tag is the event-log kind."""


class Rejected(Outcome, frozen=True, tag="rejected"):
    kind: str
    message: str
    field: str | None = None
    suggestions: tuple[str, ...] = ()


class Throttled(Outcome, frozen=True, tag="throttled"):
    kind: str
    message: str
    retry_after_ms: int


class Executed(Outcome, frozen=True, tag="executed"):
    data: Any


class Failed(Outcome, frozen=True, tag="failed"):
    kind: str
    message: str
    code: int | None = None


class Unknown(Outcome, frozen=True, tag="unknown"):
    kind: str
    message: str
    code: int | None = None


def kind_of(outcome: Outcome) -> str:
    """The event-log kind of a terminal outcome: its tag."""
    return str(type(outcome).__struct_config__.tag)
