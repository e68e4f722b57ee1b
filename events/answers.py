"""What each tool answers, as types: the envelope every result has and the data of each tool. The
MCP `outputSchema` of a tool is generated from these (face/mcp.py), so a host can check a result
and show it, and the model knows the shape before it calls.

Every result is one of two objects:
- `{"success": true, "data": …, "timestamp": ms, "command_id": …}`, `data` as the tool's type says,
  and `truncated` (`{field, kept, left_out, how}`) when a list of it was cut to the result budget;
- `{"success": false, "error": {"type", "message", "code"?, "field"?, "suggestions"?,
  "retry_after_ms"?, "hint"?, "timestamp", "command_id"}}`.

The data types name the fields a caller relies on (an order's `orderId`, `status`, quantities as
decimal strings, as Binance sends them) and let the rest through: Binance adds fields over time,
and a schema that forbade them would make a host refuse a correct answer. A test checks every
result the end-to-end suite sees against its tool's schema (tests/e2e/conftest.py).
"""

from __future__ import annotations

from typing import Any, Generic, Literal, TypeVar

import msgspec
from msgspec import UNSET, UnsetType

__all__ = ["ANSWERS", "Failure", "ToolError", "output_schema"]

T = TypeVar("T")


class ToolError(msgspec.Struct, kw_only=True):
    """Why a call did not do what it asked: `type` says what to do next (docs/tools.md, its table of error types)."""

    type: str
    message: str
    code: int | UnsetType = UNSET  # Binance's error code, when the exchange refused it
    field: str | UnsetType = UNSET  # the argument at fault
    suggestions: list[str] | UnsetType = UNSET
    retry_after_ms: int | UnsetType = UNSET
    hint: str | UnsetType = UNSET
    timestamp: int
    command_id: str


class Failure(msgspec.Struct, kw_only=True):
    success: Literal[False]
    error: ToolError


class Success(msgspec.Struct, Generic[T], kw_only=True):
    success: Literal[True]
    data: T
    timestamp: int
    command_id: str
    # `truncated` (events/budget.py), beside `data` when a list of it was cut to the result budget, is
    # not declared here: in each of the 28 schemas it weighed 12 KB of tools/list; the schemas allow it
    # (no additionalProperties: false) and the server's instructions say what it is.


# -- the data of each tool ------------------------------------------------------------------------
Decimal = str  # Binance sends amounts as decimal strings, and so does this server


class Price(msgspec.Struct):
    symbol: str
    price: Decimal


class Ticker(msgspec.Struct):
    symbol: str
    lastPrice: Decimal
    priceChangePercent: Decimal
    volume: Decimal


class OrderBook(msgspec.Struct):
    lastUpdateId: int
    bids: list[list[Decimal]]  # [price, quantity], best first
    asks: list[list[Decimal]]


class Trade(msgspec.Struct):
    id: int
    price: Decimal
    qty: Decimal
    time: int


class AvgPrice(msgspec.Struct):
    mins: int
    price: Decimal


class BookTicker(msgspec.Struct):
    symbol: str
    bidPrice: Decimal
    bidQty: Decimal
    askPrice: Decimal
    askQty: Decimal


class Listing(msgspec.Struct):
    symbol: str
    baseAsset: str
    quoteAsset: str
    status: str


class SymbolInfo(msgspec.Struct):
    symbol: str
    status: str
    baseAsset: str
    quoteAsset: str
    orderTypes: list[str]
    filters: list[dict[str, Any]]


class AuditEntry(msgspec.Struct):
    at: str
    command_id: str
    tool: str
    args: str
    outcome: str
    latency_ms: float | None
    result: dict[str, Any]  # the outcome's summary, in a tool result's keys
    session: str | None


class AuditPage(msgspec.Struct):
    commands: list[AuditEntry]
    matched: int
    next_offset: int | None


class AccountBalance(msgspec.Struct):
    asset: str | None
    free: str | None = None
    locked: str | None = None
    delta: str | None = None


class AccountEventEntry(msgspec.Struct):
    seq: int
    at: str
    command_id: str  # the create_order command that placed the order (when this server did)
    event_type: str
    source: str  # stream, or rest (read after a gap in the stream)
    foreign: bool = False
    symbol: str | None = None
    client_order_id: str | None = None
    order_id: int | None = None
    side: str | None = None
    execution: str | None = None
    status: str | None = None
    executed_qty: str | None = None
    quote_qty: str | None = None
    balances: list[AccountBalance] | None = None


class AccountEventsPage(msgspec.Struct):
    events: list[AccountEventEntry]
    matched: int
    next_offset: int | None


class Balance(msgspec.Struct):
    asset: str
    free: Decimal
    locked: Decimal


class Account(msgspec.Struct):
    balances: list[Balance]
    canTrade: bool | None
    accountType: str | None
    updateTime: int | None


class Commission(msgspec.Struct):
    symbol: str


class Order(msgspec.Struct):
    symbol: str
    orderId: int
    clientOrderId: str
    status: str
    origQty: Decimal
    executedQty: Decimal


class MyTrade(msgspec.Struct):
    symbol: str
    id: int
    orderId: int
    price: Decimal
    qty: Decimal


class DepositAddress(msgspec.Struct):
    coin: str
    address: str


ANSWERS: dict[str, Any] = {
    "get_ticker_price": Price,
    "get_ticker": Ticker,
    "get_order_book": OrderBook,
    "get_recent_trades": list[Trade],
    "get_klines": list[list[Any]],  # [open time, open, high, low, close, volume, close time, …]
    "get_avg_price": AvgPrice,
    "get_book_ticker": BookTicker,
    "get_available_assets": list[Listing],
    "get_symbol_info": SymbolInfo,
    "get_audit_log": AuditPage,
    "get_account_events": AccountEventsPage,
    "get_balance": Account,
    "get_fee_info": Commission,
    "get_orders": list[Order],
    "get_open_orders": list[Order],
    "get_order": Order,
    "get_my_trades": list[MyTrade],
    "get_account_snapshot": dict[str, Any],
    "get_deposit_address": DepositAddress,
    "get_deposit_history": list[dict[str, Any]],
    "get_withdraw_history": list[dict[str, Any]],
    "get_position_info": list[dict[str, Any]],
    "get_pnl": list[dict[str, Any]],
    "get_liquidation_history": list[dict[str, Any]],
    "create_order": Order,
    "test_order": dict[str, Any],  # commission rates when asked for; else empty
    "cancel_order": Order,
    "cancel_open_orders": list[dict[str, Any]],  # the cancelled orders (and order lists)
}


def output_schema(tool: str) -> dict[str, Any]:
    """The JSON Schema of `tool`'s result: an object that is a success with the tool's data, or a
    failure. (`type: object` at the root, as MCP wants it; the two shapes under `anyOf`.)"""
    data = ANSWERS[tool]
    shapes, defs = msgspec.json.schema_components([Success[data], Failure])  # type: ignore[valid-type]
    return {"type": "object", "anyOf": list(shapes), "$defs": dict(defs)}
