"""The terminal outcomes of a command: exactly one per command in the event log.

    Outcome
    ├── Rejected   the validator refused it (bad input, unknown symbol, trading guard); nothing sent
    ├── Throttled  the limiter refused it (our budget or Binance's back-off); nothing sent
    ├── Executed   the exchange answered with success; `data` is the answer
    ├── Failed     it did not happen: the exchange refused it, or we could not send it
    └── Unknown    it may have happened: timeout, dropped connection or 5XX on a state change

Error `kind`s (the `error.type` a client sees) are the constants below. An exchange rejection
keeps Binance's code and message; its kind says what to do next (`failure_of`).
"""

from __future__ import annotations

from typing import Any

import msgspec

__all__ = [
    "AUDIT_UNAVAILABLE",
    "AUTH_ERROR",
    "CONFIRMATION_UNAVAILABLE",
    "DECLINED_BY_USER",
    "EXCHANGE_ERROR",
    "FILTER_FAILURE",
    "FORBIDDEN",
    "GUARD_LIMIT",
    "INSUFFICIENT_BALANCE",
    "INTERNAL_ERROR",
    "INVALID_PARAMETER",
    "ORDER_NOT_FOUND",
    "ORDER_REJECTED",
    "RATE_LIMITED",
    "REQUEST_TOO_LARGE",
    "SYMBOL_NOT_ALLOWED",
    "TIMESTAMP_ERROR",
    "TRADING_DISABLED",
    "TRADING_HALTED",
    "TRANSPORT_ERROR",
    "UNKNOWN_OUTCOME",
    "UNKNOWN_SYMBOL",
    "UNKNOWN_TOOL",
    "UNSUPPORTED_ON_VENUE",
    "VALIDATION_ERROR",
    "Executed",
    "Failed",
    "Outcome",
    "Rejected",
    "Throttled",
    "Unknown",
    "bounded",
    "echo",
    "failure_of",
    "kind_of",
]

VALIDATION_ERROR = "validation_error"
REQUEST_TOO_LARGE = "request_too_large"
UNKNOWN_SYMBOL = "unknown_symbol"
UNKNOWN_TOOL = "unknown_tool"
UNSUPPORTED_ON_VENUE = "unsupported_on_venue"
RATE_LIMITED = "rate_limit_exceeded"
EXCHANGE_ERROR = "exchange_error"
TRANSPORT_ERROR = "transport_error"
AUDIT_UNAVAILABLE = "audit_unavailable"
INTERNAL_ERROR = "internal_error"
UNKNOWN_OUTCOME = "unknown_outcome"
# the trading guard
TRADING_DISABLED = "trading_disabled"
FORBIDDEN = "forbidden"  # over HTTP: the caller's token has not the scope the tool needs
TRADING_HALTED = "trading_halted"  # `binance-mcp halt`: every server on the log refuses new orders
GUARD_LIMIT = "guard_limit"
SYMBOL_NOT_ALLOWED = "symbol_not_allowed"
DECLINED_BY_USER = "declined_by_user"
CONFIRMATION_UNAVAILABLE = "confirmation_unavailable"
# exchange rejections, by what to do next
FILTER_FAILURE = "filter_failure"
INSUFFICIENT_BALANCE = "insufficient_balance"
ORDER_REJECTED = "order_rejected"
ORDER_NOT_FOUND = "order_not_found"
INVALID_PARAMETER = "invalid_parameter"
AUTH_ERROR = "auth_error"
TIMESTAMP_ERROR = "timestamp_error"


MAX_ECHO = 200  # characters of any client input an error message repeats


def echo(value: object, limit: int = MAX_ECHO) -> str:
    """A client's value as an error message may repeat it: its repr, cut to `limit` characters with
    the input's full length said, so a small input can never make a large answer."""
    text = repr(value)
    if len(text) <= limit:
        return text
    size = len(value) if isinstance(value, str | bytes | list | dict) else len(text)
    return f"{text[:limit]}… ({size} characters)"


def bounded(text: str, limit: int = 4 * MAX_ECHO) -> str:
    """A message that may hold a library's words about an input (msgspec's, say), cut to `limit`."""
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} characters)"


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
    hint: str | None = None


class Unknown(Outcome, frozen=True, tag="unknown"):
    kind: str
    message: str
    code: int | None = None


def kind_of(outcome: Outcome) -> str:
    """The event-log kind of a terminal outcome: its tag."""
    return str(type(outcome).__struct_config__.tag)


_NEXT = {
    FILTER_FAILURE: "the order breaks one of the symbol's filters: read get_symbol_info and adjust it",
    INSUFFICIENT_BALANCE: "not enough free balance: check get_balance (open orders lock funds) and size down",
    ORDER_REJECTED: "the matching engine refused the order as it stands: change it, do not resend it unchanged",
    ORDER_NOT_FOUND: "no such order on this symbol: check the id with get_orders or get_open_orders",
    INVALID_PARAMETER: "a parameter was refused: correct it before sending again",
    AUTH_ERROR: "the API key was refused (key, signature, IP restriction or permissions): fix the key set-up",
    TIMESTAMP_ERROR: "the clock was off from Binance's; the server re-syncs it, so the call may be sent again",
}


def failure_of(code: int | None, message: str) -> Failed:
    """An exchange rejection (HTTP 4XX) as a Failed whose kind says what to do next; Binance's
    code and message are kept as they came (the message bounded, as every message is)."""
    message = bounded(message)
    if code == -1013:
        kind = FILTER_FAILURE
    elif code == -2010:
        kind = INSUFFICIENT_BALANCE if "insufficient balance" in message else ORDER_REJECTED
    elif code in (-2011, -2013, -2026):
        kind = ORDER_NOT_FOUND if "Unknown order" in message or code != -2011 else ORDER_REJECTED
    elif code == -1021:
        kind = TIMESTAMP_ERROR
    elif code in (-1002, -1022, -2014, -2015):
        kind = AUTH_ERROR
    elif code is not None and -1199 <= code <= -1100:
        kind = INVALID_PARAMETER
    else:
        kind = EXCHANGE_ERROR
    return Failed(kind=kind, message=message, code=code, hint=_NEXT.get(kind))
