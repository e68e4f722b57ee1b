"""One frozen msgspec Struct per tool: its MCP input schema, its decoder and its journal record.

The Struct's tag is the tool name. `input_schema(cls)` is the JSON schema an MCP client sees
(root inlined, the tag left out: the tool name already says it); `decode(tool, args)` turns
raw arguments into the typed command with strict types and the `Meta` constraints, raising
`msgspec.ValidationError` with a message that names the bad field. Exchange rules (does the
symbol exist and trade?) are checked later, by the validator; this module does no I/O.

Arguments are snake_case; `binance_params()` gives the Binance (camelCase) query for each.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

import msgspec
from msgspec import Meta

__all__ = [
    "COMMANDS",
    "KLINE_INTERVALS",
    "Command",
    "GetAvailableAssets",
    "GetAvgPrice",
    "GetBookTicker",
    "GetKlines",
    "GetOrderBook",
    "GetRecentTrades",
    "GetSymbolInfo",
    "GetTicker",
    "GetTickerPrice",
    "decode",
    "input_schema",
]

KLINE_INTERVALS = ("1s", "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w", "1M")
BOOK_LIMITS = (5, 10, 20, 50, 100, 500, 1000, 5000)

Symbol = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=40,
        description="Trading pair, e.g. BTCUSDT. Case and separators are forgiven: 'btc/usdt' means BTCUSDT.",
    ),
]
Millis = Annotated[int, Meta(ge=0, le=10**14, description="Time in milliseconds since the Unix epoch (UTC).")]


class Command(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, tag_field="tool"):
    """Base of every command. Subclasses set `endpoint` (Binance path) and `changes_state`."""

    endpoint: ClassVar[str] = ""
    changes_state: ClassVar[bool] = False
    needs_symbol: ClassVar[bool] = True

    def binance_params(self) -> dict[str, str]:
        """The Binance query for this command (camelCase names, strings)."""
        symbol = getattr(self, "symbol", None)
        return {"symbol": symbol} if symbol else {}

    def weight(self) -> int:
        """Binance REQUEST_WEIGHT of the call this command makes."""
        return 2


class GetTickerPrice(Command, frozen=True, tag="get_ticker_price"):
    """Latest price of one symbol."""

    endpoint: ClassVar[str] = "/api/v3/ticker/price"
    symbol: Symbol


class GetTicker(Command, frozen=True, tag="get_ticker"):
    """24-hour rolling statistics of one symbol."""

    endpoint: ClassVar[str] = "/api/v3/ticker/24hr"
    symbol: Symbol


class GetOrderBook(Command, frozen=True, tag="get_order_book"):
    """Bids and asks of one symbol."""

    endpoint: ClassVar[str] = "/api/v3/depth"
    symbol: Symbol
    limit: Annotated[
        Literal[5, 10, 20, 50, 100, 500, 1000, 5000], Meta(description="Levels per side (weight grows with it).")
    ] = 100

    def binance_params(self) -> dict[str, str]:
        return {"symbol": self.symbol, "limit": str(self.limit)}

    def weight(self) -> int:
        n = self.limit
        return 5 if n <= 100 else 25 if n <= 500 else 50 if n <= 1000 else 250


class GetRecentTrades(Command, frozen=True, tag="get_recent_trades"):
    """The most recent public trades of one symbol."""

    endpoint: ClassVar[str] = "/api/v3/trades"
    symbol: Symbol
    limit: Annotated[int, Meta(ge=1, le=1000, description="How many trades, 1 to 1000.")] = 100

    def binance_params(self) -> dict[str, str]:
        return {"symbol": self.symbol, "limit": str(self.limit)}

    def weight(self) -> int:
        return 25


class GetKlines(Command, frozen=True, tag="get_klines"):
    """Candlesticks (OHLCV) of one symbol."""

    endpoint: ClassVar[str] = "/api/v3/klines"
    symbol: Symbol
    interval: Annotated[
        Literal["1s", "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w", "1M"],
        Meta(description="Candle length; case-sensitive (1m is a minute, 1M a month)."),
    ]
    start_time: Millis | None = None
    end_time: Millis | None = None
    limit: Annotated[int, Meta(ge=1, le=1000, description="How many candles, 1 to 1000.")] = 100

    def binance_params(self) -> dict[str, str]:
        params = {"symbol": self.symbol, "interval": self.interval, "limit": str(self.limit)}
        if self.start_time is not None:
            params["startTime"] = str(self.start_time)
        if self.end_time is not None:
            params["endTime"] = str(self.end_time)
        return params


class GetAvgPrice(Command, frozen=True, tag="get_avg_price"):
    """Volume-weighted average price of one symbol over Binance's window (5 minutes)."""

    endpoint: ClassVar[str] = "/api/v3/avgPrice"
    symbol: Symbol


class GetBookTicker(Command, frozen=True, tag="get_book_ticker"):
    """Best bid and best ask of one symbol, with their quantities."""

    endpoint: ClassVar[str] = "/api/v3/ticker/bookTicker"
    symbol: Symbol


class GetAvailableAssets(Command, frozen=True, tag="get_available_assets"):
    """Symbols listed on the venue with base and quote asset and status (from exchangeInfo)."""

    needs_symbol: ClassVar[bool] = False
    quote_asset: (
        Annotated[
            str,
            Meta(min_length=1, max_length=20, description="Only pairs quoted in this asset, e.g. USDT."),
        ]
        | None
    ) = None

    def weight(self) -> int:
        return 0  # served from the cached exchangeInfo


class GetSymbolInfo(Command, frozen=True, tag="get_symbol_info"):
    """Trading rules of one symbol: filters, order types, precisions (from exchangeInfo)."""

    symbol: Symbol

    def weight(self) -> int:
        return 0  # served from the cached exchangeInfo


COMMANDS: dict[str, type[Command]] = {
    cls.__struct_config__.tag: cls  # type: ignore[misc]
    for cls in (
        GetTickerPrice,
        GetTicker,
        GetOrderBook,
        GetRecentTrades,
        GetKlines,
        GetAvgPrice,
        GetBookTicker,
        GetAvailableAssets,
        GetSymbolInfo,
    )
}


def input_schema(cls: type[Command]) -> dict[str, Any]:
    """The tool's MCP input schema: msgspec's schema with the root inlined and the tag removed."""
    schema = msgspec.json.schema(cls)
    defs = schema.pop("$defs", {})
    root: dict[str, Any] = defs.pop(schema["$ref"].rsplit("/", 1)[-1]) if "$ref" in schema else schema
    root = dict(root)
    root["properties"] = {k: v for k, v in root.get("properties", {}).items() if k != "tool"}
    root["required"] = [r for r in root.get("required", []) if r != "tool"]
    if not root["required"]:
        del root["required"]
    root.pop("title", None)
    if defs:
        root["$defs"] = defs
    return root


def decode(tool: str, args: dict[str, Any]) -> Command:
    """Typed command from raw arguments; `msgspec.ValidationError` when they do not fit."""
    return msgspec.convert(args, COMMANDS[tool], strict=True)
