"""Binance's error answers, as the paper exchange gives them: HTTP status, code, exact message.

Messages are data copied from Binance's errors.md (see ../shared/BINANCE.md); `%s` slots are
filled by the helpers below. Nothing here is raised past the paper exchange's HTTP layer.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

__all__ = ["BinanceError", "Msg"]


class BinanceError(Exception):
    """An error answer: `{"code": code, "msg": msg}` with HTTP `status`."""

    def __init__(self, code: int, msg: str, status: int = 400, headers: dict[str, str] | None = None):
        super().__init__(f"{code}: {msg}")
        self.code = code
        self.msg = msg
        self.status = status
        self.headers = headers or {}

    @classmethod
    def mandatory(cls, name: str) -> BinanceError:
        return cls(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")

    @classmethod
    def either(cls, a: str, b: str) -> BinanceError:
        return cls(-1102, f"Param '{a}' or '{b}' must be sent, but both were empty/null!")

    @classmethod
    def illegal(cls, name: str, legal: str) -> BinanceError:
        return cls(-1100, f"Illegal characters found in parameter '{name}'; legal range is '{legal}'.")

    @classmethod
    def not_required(cls, name: str) -> BinanceError:
        return cls(-1106, f"Parameter '{name}' sent when not required.")

    @classmethod
    def precision(cls, name: str) -> BinanceError:
        return cls(-1111, f"Parameter '{name}' has too much precision.")

    @classmethod
    def filter_failure(cls, name: str) -> BinanceError:
        return cls(-1013, f"Filter failure: {name}")

    @classmethod
    def rejected(cls, msg: str) -> BinanceError:
        return cls(-2010, msg)


class Msg:
    """Matching-engine and request messages used with several codes."""

    INSUFFICIENT_BALANCE = "Account has insufficient balance for requested action."
    DUPLICATE_ORDER = "Duplicate order sent."
    UNKNOWN_ORDER = "Unknown order sent."
    NO_SUCH_ORDER = "Order does not exist."
    MARKET_CLOSED = "Market is closed."
    WOULD_TRIGGER = "Order would trigger immediately."
    WOULD_TAKE = "Order would immediately match and take."
    ICEBERG_EXCEEDS = "IcebergQty exceeds QTY."
    UNSUPPORTED_COMBO = "Unsupported order combination"
    CANCEL_RESTRICTED = "Order was not canceled due to cancel restrictions."
    INVALID_SYMBOL = "Invalid symbol."
    BAD_API_KEY_FORMAT = "API-key format invalid."
    REJECTED_KEY = "Invalid API-key, IP, or permissions for action."
    BAD_SIGNATURE = "Signature for this request is not valid."
    OUTSIDE_RECV_WINDOW = "Timestamp for this request is outside of the recvWindow."
    AHEAD_OF_SERVER = "Timestamp for this request was 1000ms ahead of the server's time."
    DUPLICATE_PARAM = "Duplicate values for a parameter detected."
    TIMEOUT = "Timeout waiting for response from backend server. Send status unknown; execution status unknown."
    UNEXPECTED_RESP = "An unexpected response was received from the message bus. Execution status unknown."
    TYPE_NOT_SUPPORTED: Mapping[str, str] = MappingProxyType(
        {
            "MARKET": "Market orders are not supported for this symbol.",
            "STOP_LOSS": "Stop loss orders are not supported for this symbol.",
            "STOP_LOSS_LIMIT": "Stop loss limit orders are not supported for this symbol.",
            "TAKE_PROFIT": "Take profit orders are not supported for this symbol.",
            "TAKE_PROFIT_LIMIT": "Take profit limit orders are not supported for this symbol.",
        }
    )
    ICEBERG_NOT_SUPPORTED = "Iceberg orders are not supported for this symbol."
    TRAILING_NOT_SUPPORTED = "Trailing stop orders are not supported for this symbol."
    QUOTE_QTY_NOT_SUPPORTED = "Quote order qty market orders are not support for this symbol."
    THIN_BOOK = "Order book liquidity is less than LOT_SIZE filter minimum quantity."
