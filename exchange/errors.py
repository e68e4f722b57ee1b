"""The exchange client's errors: one tree, mapped from aiohttp and HTTP at one edge (client.py).

    ExchangeError
    ├── ExchangeRejected      Binance answered 4XX with {code, msg}: the request did not happen
    │   └── RateLimited       429 or 418: back off for `retry_after_s`
    ├── UnknownOutcome        5XX, timeout, dropped connection, unreadable answer: it may have happened
    └── TransportError        the request never left (connection refused, DNS, closed session)

Messages never contain the API secret or a signature: the client builds them from the path
and Binance's own answer, not from the signed URL.
"""

from __future__ import annotations

__all__ = ["ExchangeError", "ExchangeRejected", "RateLimited", "TransportError", "UnknownOutcome"]


class ExchangeError(Exception):
    code: int | None = None

    def __init__(self, message: str, *, code: int | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status


class ExchangeRejected(ExchangeError):
    """The exchange refused the request (HTTP 4XX). Binance's code and message are kept."""


class RateLimited(ExchangeRejected):
    """HTTP 429 (over a limit) or 418 (IP banned); nothing may be sent for `retry_after_s`."""

    def __init__(self, message: str, *, code: int | None, status: int, retry_after_s: int):
        super().__init__(message, code=code, status=status)
        self.retry_after_s = retry_after_s


class UnknownOutcome(ExchangeError):
    """The request may or may not have taken effect: 5XX, timeout, lost answer."""


class TransportError(ExchangeError):
    """The request could not be sent at all."""
