"""One frozen msgspec Struct per tool: everything about the tool in one place.

A command Struct is the tool's MCP input schema (its fields), its description (its docstring),
its annotations (`changes_state`, `destructive`), its Binance endpoint, method, weight and
whether it is signed, its decoder and its journal record. Adding a tool is adding a Struct here
and naming it in `COMMANDS`; nothing else changes.

`input_schema(cls)` is the JSON schema an MCP client sees (root inlined, the tag left out: the
tool name already says it; decimal amounts accept a string or a number). `decode(tool, args)`
turns raw arguments into the typed command with strict types and the `Meta` constraints, raising
`msgspec.ValidationError` with a message that names the bad field; `problem()` then checks what
spans fields (one of two ids, a time span). Exchange rules (does the symbol exist and trade, do
the filters pass?) are checked later, by the validator; this module does no I/O.

Arguments are snake_case; `binance_params()` gives the Binance (camelCase) query for each.
Amounts are `Decimal` from end to end and are sent as plain decimal strings ('0.00001').

Amounts have a grammar of their own, checked on the raw argument before any arithmetic
(`amount_problem`): a string of ASCII digits with at most one point, an optional leading `+` and an
optional exponent of up to 3 digits (`'0.001'`, `'1.5e3'`), at most 64 characters, or a JSON number;
and its value within what Binance accepts, 20 digits before the point and 20 after. Python's
`Decimal()` would also take fullwidth and other scripts' digits, `_` between digits and spaces
around, and any exponent: none of that reaches an order.
"""

from __future__ import annotations

import difflib
import inspect
import math
import re
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal

import msgspec
from msgspec import Meta

from binance_mcp.events.audit import parse_time
from binance_mcp.events.outcomes import echo
from binance_mcp.events.schema import is_text
from binance_mcp.exchange.rules import NEEDS_TIME_IN_FORCE, decimal_places, plain

__all__ = [
    "ARGUMENTS",
    "CASELESS",
    "CHOICES",
    "COMMANDS",
    "ID_FIELDS",
    "KLINE_INTERVALS",
    "CancelOpenOrders",
    "CancelOrder",
    "Command",
    "CreateOrder",
    "ExchangeInfo",
    "GetAccountEvents",
    "GetAccountSnapshot",
    "GetAuditLog",
    "GetAvailableAssets",
    "GetAvgPrice",
    "GetBalance",
    "GetBookTicker",
    "GetDepositAddress",
    "GetDepositHistory",
    "GetFeeInfo",
    "GetKlines",
    "GetLiquidationHistory",
    "GetMyTrades",
    "GetOpenOrders",
    "GetOrder",
    "GetOrderBook",
    "GetOrders",
    "GetPnl",
    "GetPositionInfo",
    "GetRecentTrades",
    "GetSymbolInfo",
    "GetTicker",
    "GetTickerPrice",
    "GetWithdrawHistory",
    "InvalidArgument",
    "LogRead",
    "OrderRef",
    "OrderSpec",
    "TestOrder",
    "amount_problem",
    "client_order_id",
    "decode",
    "input_schema",
    "nearest_argument",
]

KLINE_INTERVALS = ("1s", "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w", "1M")
BOOK_LIMITS = (5, 10, 20, 50, 100, 500, 1000, 5000)
DAY_MS = 86_400_000
_CLIENT_ID_PREFIX = "mcp"  # + 32 hex of the command id: 35 characters, Binance allows 36

Symbol = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=40,
        description="Trading pair, e.g. BTCUSDT. ASCII case and separators are forgiven: 'btc/usdt' means BTCUSDT.",
    ),
]
Asset = Annotated[str, Meta(min_length=1, max_length=20, description="An asset, e.g. BTC or USDT.")]
Millis = Annotated[int, Meta(ge=0, le=10**14, description="Time in milliseconds since the Unix epoch (UTC).")]
Amount = Annotated[
    Decimal,
    Meta(description="A positive decimal amount: a string such as '0.001' (exact) or a number."),
]
OrderId = Annotated[int, Meta(ge=0, le=2**63 - 1, description="Binance's numeric order id.")]
ClientOrderId = Annotated[
    str,
    Meta(
        pattern=r"^[a-zA-Z0-9\-_]{1,36}$",
        description="The client order id (this server gives every order one: 'mcp' and its command id).",
    ),
]
HistoryLimit = Annotated[int, Meta(ge=1, le=1000, description="How many rows, 1 to 1000.")]


AMOUNT_DIGITS = 20  # Binance's legal range for an amount: '^([0-9]{1,20})(\.[0-9]{1,20})?$'
MAX_AMOUNT_TEXT = 64
_AMOUNT_TEXT = re.compile(r"\+?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]{1,3})?")
AMOUNT_GRAMMAR = (
    "an amount is ASCII digits with at most one decimal point ('0.001', '1500'), optionally a leading + "
    "or an exponent ('1.5e3'); no minus sign, spaces, '_' or other digits"
)


class InvalidArgument(ValueError):
    """An argument that breaks its grammar; `field` names it."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def amount_problem(value: object) -> str | None:
    """Why a raw argument is not an amount this server sends, or None (None too for a value of
    another type altogether: the decoder names the type it wanted)."""
    if isinstance(value, bool):
        return "must be a decimal string such as '0.001' or a number"
    if isinstance(value, int):
        if not -(10**AMOUNT_DIGITS) < value < 10**AMOUNT_DIGITS:
            return f"has more than {AMOUNT_DIGITS} digits before the point (Binance's limit)"
        text = str(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            return "must be a finite number"
        text = repr(value)
    elif isinstance(value, str):
        text = value
    else:
        return None
    if len(text) > MAX_AMOUNT_TEXT or not _AMOUNT_TEXT.fullmatch(text):
        if len(text) <= MAX_AMOUNT_TEXT and _AMOUNT_TEXT.fullmatch(re.sub(r"[eE][+-]?[0-9]+$", "", text)):
            return "has an exponent out of range: amounts are within 20 digits before the point and 20 after"
        return f"is not an amount: {AMOUNT_GRAMMAR}"
    amount = Decimal(text)  # bounded: at most 64 characters and a 3-digit exponent
    if amount and amount.adjusted() >= AMOUNT_DIGITS:
        return f"has more than {AMOUNT_DIGITS} digits before the point (Binance's limit)"
    if decimal_places(amount) > AMOUNT_DIGITS:
        return f"has more than {AMOUNT_DIGITS} digits after the point (Binance's limit)"
    return None


def client_order_id(command_id: str) -> str:
    """The `newClientOrderId` of the order a command places: derived, so a command can only ever
    name one order, and the order can be found again by it when its answer is lost."""
    return _CLIENT_ID_PREFIX + command_id


class Command(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, tag_field="tool"):
    """Base of every command; a subclass's docstring is its tool description."""

    endpoint: ClassVar[str] = ""
    method: ClassVar[str] = "GET"
    signed: ClassVar[bool] = False
    changes_state: ClassVar[bool] = False  # journaled `dispatched` before it leaves; never retried
    destructive: ClassVar[bool] = False
    places_order: ClassVar[bool] = False  # a new order: counts against ORDERS, gets a derived client id
    open_world: ClassVar[bool] = True  # it reads or acts on the exchange (not only this server's own record)

    @classmethod
    def tool_name(cls) -> str:
        return str(cls.__struct_config__.tag)

    @classmethod
    def description(cls) -> str:
        return inspect.cleandoc(cls.__doc__ or "")

    @classmethod
    def family(cls) -> str:
        """The API it needs: spot (/api), wallet (/sapi), futures (/fapi), or local (no exchange call)."""
        if not cls.endpoint:
            return "local"
        return {"/sapi": "wallet", "/fapi": "futures"}.get(cls.endpoint[:5], "spot")

    @classmethod
    def hints(cls) -> dict[str, bool]:
        """The MCP tool annotations, from what the command does."""
        return {
            "read_only_hint": not cls.changes_state,
            "destructive_hint": cls.destructive,
            "idempotent_hint": not cls.changes_state,
            "open_world_hint": cls.open_world,
        }

    def binance_params(self) -> dict[str, str]:
        """The Binance query for this command (camelCase names, strings)."""
        symbol = getattr(self, "symbol", None)
        return {"symbol": symbol} if symbol else {}

    def weight(self) -> int:
        """Binance REQUEST_WEIGHT of the call this command makes."""
        return 2

    def problem(self) -> tuple[str, str] | None:
        """(field, why) when the arguments do not fit together; the types are already checked."""
        return None

    def shape(self, data: Any) -> Any:
        """The tool's answer from the exchange's."""
        return data


def _with(params: dict[str, str], **optional: object) -> dict[str, str]:
    """`params` and each optional Binance parameter that has a value, as a string."""
    params.update({name: str(value) for name, value in optional.items() if value is not None})
    return params


def _time_params(params: dict[str, str], start: int | None, end: int | None) -> dict[str, str]:
    return _with(params, startTime=start, endTime=end)


def _span_problem(
    start: int | None, end: int | None, most_ms: int | None = DAY_MS, most: str = "24 hours"
) -> tuple[str, str] | None:
    """end before start, or further apart than Binance allows for the endpoint (None: no bound)."""
    if start is not None and end is not None:
        if end < start:
            return "end_time", "end_time is before start_time"
        if most_ms is not None and end - start > most_ms:
            return "end_time", f"Binance allows at most {most} between start_time and end_time"
    return None


# -- market data ------------------------------------------------------------------------------
class GetTickerPrice(Command, frozen=True, tag="get_ticker_price"):
    """Latest traded price of one Binance Spot symbol (e.g. BTCUSDT). Cheapest way to know what
    something trades at now."""

    endpoint: ClassVar[str] = "/api/v3/ticker/price"
    symbol: Symbol


class GetTicker(Command, frozen=True, tag="get_ticker"):
    """24-hour rolling statistics of one symbol: open, high, low, last price, change and percent,
    volume and quote volume, best bid/ask, trade count."""

    endpoint: ClassVar[str] = "/api/v3/ticker/24hr"
    symbol: Symbol


class GetOrderBook(Command, frozen=True, tag="get_order_book"):
    """Order book depth of one symbol: bids and asks as [price, quantity]. `limit` is levels per
    side (5, 10, 20, 50, 100, 500, 1000, 5000); larger costs more request weight."""

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
    """The most recent public trades of one symbol (price, quantity, time, which side took)."""

    endpoint: ClassVar[str] = "/api/v3/trades"
    symbol: Symbol
    limit: Annotated[int, Meta(ge=1, le=1000, description="How many trades, 1 to 1000.")] = 100

    def binance_params(self) -> dict[str, str]:
        return {"symbol": self.symbol, "limit": str(self.limit)}

    def weight(self) -> int:
        return 25


class GetKlines(Command, frozen=True, tag="get_klines"):
    """Candlesticks of one symbol: rows of [open time, open, high, low, close, volume, close time,
    quote volume, trades, taker buy base, taker buy quote, ignore]. Times are ms since the epoch (UTC)."""

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
        return _time_params(params, self.start_time, self.end_time)

    def problem(self) -> tuple[str, str] | None:
        return _span_problem(self.start_time, self.end_time, None)


class GetAvgPrice(Command, frozen=True, tag="get_avg_price"):
    """Binance's average price of one symbol over its 5-minute window (the reference price its
    PERCENT_PRICE and NOTIONAL filters use)."""

    endpoint: ClassVar[str] = "/api/v3/avgPrice"
    symbol: Symbol


class GetBookTicker(Command, frozen=True, tag="get_book_ticker"):
    """Best bid and best ask of one symbol with their quantities: the current spread."""

    endpoint: ClassVar[str] = "/api/v3/ticker/bookTicker"
    symbol: Symbol


class ExchangeInfo(Command, frozen=True, tag="exchange_info"):
    """Not a tool: the server's own read of every symbol's rules and the exchange's rate limits
    (at start, then at most hourly), which the tools get_available_assets and get_symbol_info serve."""

    endpoint: ClassVar[str] = "/api/v3/exchangeInfo"

    def weight(self) -> int:
        return 20


class GetAvailableAssets(Command, frozen=True, tag="get_available_assets"):
    """Every symbol on the venue with its base asset, quote asset and status (TRADING, BREAK, ...).
    Filter with `quote_asset`, e.g. USDT."""

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
    """Trading rules of one symbol: status, order types, precisions and filters (tick size, step
    size, minimum notional). Read this before sizing an order."""

    symbol: Symbol

    def weight(self) -> int:
        return 0  # served from the cached exchangeInfo


Since = Annotated[str, Meta(max_length=40, description="From: 2026-11-29T03:00Z, or an age: 2h, 3d.")]


class LogRead(Command, frozen=True):
    """A read of this server's own event log: no exchange call, no weight; its time arguments
    (`times`) are checked before it runs."""

    open_world: ClassVar[bool] = False  # this server's own event log, nothing else
    times: ClassVar[tuple[str, ...]] = ("since",)

    def weight(self) -> int:
        return 0

    def problem(self) -> tuple[str, str] | None:
        """The first time argument (ISO 8601 or an age) that cannot be read, and why."""
        for name in self.times:
            value = getattr(self, name)
            if value is not None:
                try:
                    parse_time(value, 0)
                except ValueError as exc:
                    return name, str(exc)
        return None


class GetAuditLog(LogRead, frozen=True, tag="get_audit_log"):
    """This server's own record of what it did: recent commands (tool calls) with their key
    arguments and outcomes, newest last, from its event log. No exchange call. Narrow by `of_tool`,
    `outcome` (executed, rejected, throttled, failed, unknown, pending), `symbol`, and
    `since`/`until` (ISO 8601 UTC or an age such as 2h or 3d); page back with `offset`."""

    of_tool: Annotated[str, Meta(min_length=1, max_length=64, description="Only calls of this tool.")] | None = None
    outcome: Literal["executed", "rejected", "throttled", "failed", "unknown", "pending"] | None = None
    symbol: Symbol | None = None
    since: Since | None = None
    until: Annotated[str, Meta(max_length=40, description="To, as since.")] | None = None
    times: ClassVar[tuple[str, ...]] = ("since", "until")
    limit: Annotated[int, Meta(ge=1, le=100, description="How many commands, 1 to 100.")] = 20
    offset: Annotated[int, Meta(ge=0, le=1_000_000, description="Skip this many newer commands.")] = 0


class GetAccountEvents(LogRead, frozen=True, tag="get_account_events"):
    """What happened to the account as Binance's user data stream told this server: order events
    (NEW, each fill as TRADE, CANCELED, EXPIRED; with status and executed quantity) and balance
    changes, newest last, from this server's event log. No exchange call: learn what happened to
    your orders without polling (get_order asks the exchange itself). An order no run of this
    server placed is marked `foreign`. Narrow by `symbol`, `kind` (order or balance) and `since`
    (ISO 8601 UTC or an age such as 2h); page back with `offset`."""

    symbol: Symbol | None = None
    kind: Literal["order", "balance"] | None = None
    since: Since | None = None
    limit: Annotated[int, Meta(ge=1, le=100, description="How many events, 1 to 100.")] = 20
    offset: Annotated[int, Meta(ge=0, le=1_000_000, description="Skip this many newer events.")] = 0


# -- account (signed reads) -------------------------------------------------------------------
class GetBalance(Command, frozen=True, tag="get_balance"):
    """Balances of the account, free and locked, per asset: one `asset`, or all. Zero balances are
    left out unless `include_zero` is true."""

    endpoint: ClassVar[str] = "/api/v3/account"
    signed: ClassVar[bool] = True
    asset: Asset | None = None
    include_zero: Annotated[bool, Meta(description="Also list assets with nothing free or locked.")] = False

    def binance_params(self) -> dict[str, str]:
        return {} if self.include_zero or self.asset else {"omitZeroBalances": "true"}

    def weight(self) -> int:
        return 20

    def shape(self, data: Any) -> Any:
        balances = [b for b in data.get("balances", ()) if self.asset is None or b["asset"] == self.asset]
        return {
            "balances": balances,
            "canTrade": data.get("canTrade"),
            "accountType": data.get("accountType"),
            "updateTime": data.get("updateTime"),
        }


class GetFeeInfo(Command, frozen=True, tag="get_fee_info"):
    """The account's commission rates for one symbol: standard maker/taker (and buyer/seller),
    special and tax rates, and any BNB discount."""

    endpoint: ClassVar[str] = "/api/v3/account/commission"
    signed: ClassVar[bool] = True
    symbol: Symbol

    def weight(self) -> int:
        return 20


class GetOrders(Command, frozen=True, tag="get_orders"):
    """All orders of the account on one symbol (open, filled, canceled, expired), oldest first.
    `start_time`/`end_time` (ms) narrow it, at most 24 hours apart."""

    endpoint: ClassVar[str] = "/api/v3/allOrders"
    signed: ClassVar[bool] = True
    symbol: Symbol
    start_time: Millis | None = None
    end_time: Millis | None = None
    limit: HistoryLimit = 500

    def binance_params(self) -> dict[str, str]:
        return _time_params({"symbol": self.symbol, "limit": str(self.limit)}, self.start_time, self.end_time)

    def weight(self) -> int:
        return 20

    def problem(self) -> tuple[str, str] | None:
        return _span_problem(self.start_time, self.end_time)


class GetOpenOrders(Command, frozen=True, tag="get_open_orders"):
    """Open orders of the account: on one `symbol` (weight 6), or on every symbol when none is
    given (weight 80: prefer a symbol)."""

    endpoint: ClassVar[str] = "/api/v3/openOrders"
    signed: ClassVar[bool] = True
    symbol: Symbol | None = None

    def weight(self) -> int:
        return 6 if self.symbol else 80


class OrderRef(Command, frozen=True):
    """One order, named by `order_id` or `client_order_id` (GetOrder, CancelOrder)."""

    endpoint: ClassVar[str] = "/api/v3/order"
    signed: ClassVar[bool] = True
    symbol: Symbol
    order_id: OrderId | None = None
    client_order_id: ClientOrderId | None = None

    def binance_params(self) -> dict[str, str]:
        return _with({"symbol": self.symbol}, orderId=self.order_id, origClientOrderId=self.client_order_id)

    def problem(self) -> tuple[str, str] | None:
        if self.order_id is None and self.client_order_id is None:
            return "order_id", "give order_id or client_order_id"
        return None


class GetOrder(OrderRef, frozen=True, tag="get_order"):
    """One order of the account, by `order_id` or `client_order_id`: its status, executed quantity
    and quote quantity. Use it to find out what happened to an order whose outcome was unknown."""

    def weight(self) -> int:
        return 4


class GetMyTrades(Command, frozen=True, tag="get_my_trades"):
    """The account's own trades (fills) on one symbol, with price, quantity, commission and its
    asset. Narrow by `order_id`, by `from_id` (trade id), or by `start_time`/`end_time` (ms, at
    most 24 hours apart)."""

    endpoint: ClassVar[str] = "/api/v3/myTrades"
    signed: ClassVar[bool] = True
    symbol: Symbol
    order_id: OrderId | None = None
    from_id: Annotated[int, Meta(ge=0, le=2**63 - 1, description="Trades with this trade id and later.")] | None = None
    start_time: Millis | None = None
    end_time: Millis | None = None
    limit: HistoryLimit = 500

    def binance_params(self) -> dict[str, str]:
        params = _with({"symbol": self.symbol, "limit": str(self.limit)}, orderId=self.order_id, fromId=self.from_id)
        return _time_params(params, self.start_time, self.end_time)

    def weight(self) -> int:
        return 5 if self.order_id is not None else 20

    def problem(self) -> tuple[str, str] | None:
        if self.from_id is not None and (self.start_time is not None or self.end_time is not None):
            return "from_id", "from_id cannot be combined with start_time or end_time"
        return _span_problem(self.start_time, self.end_time)


# -- wallet and futures (signed reads) --------------------------------------------------------
Coin = Annotated[str, Meta(min_length=1, max_length=20, description="A coin, e.g. BTC or USDT.")]


class GetAccountSnapshot(Command, frozen=True, tag="get_account_snapshot"):
    """Daily snapshots of the spot account (total value in BTC and the balances), from Binance's
    wallet API: the last `limit` days (7 to 30), or between `start_time` and `end_time`. Weight 2400:
    use it sparingly."""

    endpoint: ClassVar[str] = "/sapi/v1/accountSnapshot"
    signed: ClassVar[bool] = True
    start_time: Millis | None = None
    end_time: Millis | None = None
    limit: Annotated[int, Meta(ge=7, le=30, description="Days, 7 to 30.")] = 7

    def binance_params(self) -> dict[str, str]:
        return _time_params({"type": "SPOT", "limit": str(self.limit)}, self.start_time, self.end_time)

    def weight(self) -> int:
        return 2400

    def problem(self) -> tuple[str, str] | None:
        return _span_problem(self.start_time, self.end_time, 30 * DAY_MS, "30 days")


class GetDepositAddress(Command, frozen=True, tag="get_deposit_address"):
    """The account's deposit address for a coin (and a network, e.g. ETH, BSC, TRX; the coin's
    default network when not given), with its tag or memo if the network needs one."""

    endpoint: ClassVar[str] = "/sapi/v1/capital/deposit/address"
    signed: ClassVar[bool] = True
    coin: Coin
    network: Annotated[str, Meta(min_length=1, max_length=20, description="e.g. ETH, BSC, TRX.")] | None = None

    def binance_params(self) -> dict[str, str]:
        return _with({"coin": self.coin}, network=self.network)

    def weight(self) -> int:
        return 10


class _WalletHistory(Command, frozen=True):
    signed: ClassVar[bool] = True
    coin: Coin | None = None
    status: Annotated[int, Meta(ge=0, le=10, description="Binance's status code of the transfer.")] | None = None
    start_time: Millis | None = None
    end_time: Millis | None = None
    offset: Annotated[int, Meta(ge=0, le=100_000)] = 0
    limit: Annotated[int, Meta(ge=1, le=1000, description="How many, 1 to 1000.")] = 100

    def binance_params(self) -> dict[str, str]:
        params = _with({"offset": str(self.offset), "limit": str(self.limit)}, coin=self.coin, status=self.status)
        return _time_params(params, self.start_time, self.end_time)

    def problem(self) -> tuple[str, str] | None:
        return _span_problem(self.start_time, self.end_time, 90 * DAY_MS, "90 days")


class GetDepositHistory(_WalletHistory, frozen=True, tag="get_deposit_history"):
    """Deposits into the account: coin, amount, network, address, transaction id and status.
    Narrow by `coin`, `status` and `start_time`/`end_time` (ms, at most 90 days apart)."""

    endpoint: ClassVar[str] = "/sapi/v1/capital/deposit/hisrec"

    def weight(self) -> int:
        return 1


class GetWithdrawHistory(_WalletHistory, frozen=True, tag="get_withdraw_history"):
    """Withdrawals from the account: coin, amount, fee, network, address, transaction id and
    status. Narrow by `coin`, `status` and `start_time`/`end_time` (ms, at most 90 days apart).
    This server can read withdrawals; it cannot make one."""

    endpoint: ClassVar[str] = "/sapi/v1/capital/withdraw/history"

    def weight(self) -> int:
        return 10


FuturesSymbol = Annotated[str, Meta(min_length=1, max_length=40, description="A USDⓈ-M futures symbol, e.g. BTCUSDT.")]


class GetPositionInfo(Command, frozen=True, tag="get_position_info"):
    """Open USDⓈ-M futures positions: size, entry and mark price, unrealized PnL, liquidation price,
    leverage, margin type. One `symbol`, or all."""

    endpoint: ClassVar[str] = "/fapi/v2/positionRisk"
    signed: ClassVar[bool] = True
    symbol: FuturesSymbol | None = None

    def weight(self) -> int:
        return 5


class GetPnl(Command, frozen=True, tag="get_pnl"):
    """USDⓈ-M futures income: realized PnL, funding fees, commissions, transfers… Narrow by
    `symbol`, `income_type` and `start_time`/`end_time` (ms); without times, the last 7 days.
    Binance keeps 3 months."""

    endpoint: ClassVar[str] = "/fapi/v1/income"
    signed: ClassVar[bool] = True
    symbol: FuturesSymbol | None = None
    income_type: (
        Literal[
            "TRANSFER",
            "WELCOME_BONUS",
            "REALIZED_PNL",
            "FUNDING_FEE",
            "COMMISSION",
            "INSURANCE_CLEAR",
            "REFERRAL_KICKBACK",
            "COMMISSION_REBATE",
            "API_REBATE",
            "CONTEST_REWARD",
        ]
        | None
    ) = None
    start_time: Millis | None = None
    end_time: Millis | None = None
    limit: Annotated[int, Meta(ge=1, le=1000, description="How many rows, 1 to 1000.")] = 100

    def binance_params(self) -> dict[str, str]:
        params = _with({"limit": str(self.limit)}, symbol=self.symbol, incomeType=self.income_type)
        return _time_params(params, self.start_time, self.end_time)

    def weight(self) -> int:
        return 30

    def problem(self) -> tuple[str, str] | None:
        return _span_problem(self.start_time, self.end_time, None)


class GetLiquidationHistory(Command, frozen=True, tag="get_liquidation_history"):
    """The account's USDⓈ-M futures orders closed by liquidation or auto-deleveraging (ADL).
    Narrow by `symbol`, `auto_close_type` and `start_time`/`end_time` (ms); without a start, the
    7 days before the end."""

    endpoint: ClassVar[str] = "/fapi/v1/forceOrders"
    signed: ClassVar[bool] = True
    symbol: FuturesSymbol | None = None
    auto_close_type: Literal["LIQUIDATION", "ADL"] | None = None
    start_time: Millis | None = None
    end_time: Millis | None = None
    limit: Annotated[int, Meta(ge=1, le=100, description="How many orders, 1 to 100.")] = 50

    def binance_params(self) -> dict[str, str]:
        params = _with({"limit": str(self.limit)}, symbol=self.symbol, autoCloseType=self.auto_close_type)
        return _time_params(params, self.start_time, self.end_time)

    def weight(self) -> int:
        return 20 if self.symbol else 50

    def problem(self) -> tuple[str, str] | None:
        return _span_problem(self.start_time, self.end_time, None)


# -- trading ----------------------------------------------------------------------------------
class OrderSpec(Command, frozen=True):
    """A new order's arguments; CreateOrder places it, TestOrder only checks it."""

    endpoint: ClassVar[str] = "/api/v3/order"
    method: ClassVar[str] = "POST"
    signed: ClassVar[bool] = True
    symbol: Symbol
    side: Annotated[Literal["BUY", "SELL"], Meta(description="BUY or SELL.")]
    type: Annotated[
        Literal["LIMIT", "MARKET", "STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT", "LIMIT_MAKER"],
        Meta(
            description="LIMIT and LIMIT_MAKER need price; MARKET needs quantity or quote_quantity; STOP_LOSS and "
            "TAKE_PROFIT need stop_price; the _LIMIT kinds need price and stop_price. A symbol allows only "
            "some types (get_symbol_info: orderTypes)."
        ),
    ]
    quantity: Amount | None = None
    quote_quantity: (
        Annotated[
            Decimal,
            Meta(description="MARKET only: how much of the quote asset to spend (BUY) or receive (SELL)."),
        ]
        | None
    ) = None
    price: Amount | None = None
    stop_price: Amount | None = None
    time_in_force: (
        Annotated[
            Literal["GTC", "IOC", "FOK"],
            Meta(description="LIMIT, STOP_LOSS_LIMIT, TAKE_PROFIT_LIMIT: GTC (default), IOC or FOK."),
        ]
        | None
    ) = None

    def binance_params(self) -> dict[str, str]:
        params = {"symbol": self.symbol, "side": self.side, "type": self.type}
        tif = self.time_in_force or ("GTC" if self.type in NEEDS_TIME_IN_FORCE else None)
        if tif is not None:
            params["timeInForce"] = tif
        for name, value in (
            ("quantity", self.quantity),
            ("quoteOrderQty", self.quote_quantity),
            ("price", self.price),
            ("stopPrice", self.stop_price),
        ):
            if value is not None:
                params[name] = plain(value)
        params["newOrderRespType"] = "FULL"
        return params

    def weight(self) -> int:
        return 1


class CreateOrder(OrderSpec, frozen=True, tag="create_order"):
    """Place an order on Binance Spot. It is checked first as Binance will check it (order type,
    precision, tick and step size, notional, price band) and against this server's trading guard;
    an outcome of `unknown_outcome` means the order may exist: do not send it again, look it up with
    get_order by the client order id in the message."""

    changes_state: ClassVar[bool] = True
    destructive: ClassVar[bool] = True
    places_order: ClassVar[bool] = True


class TestOrder(OrderSpec, frozen=True, tag="test_order"):
    """Dry run of create_order: the same arguments and checks, sent to Binance's order test
    endpoint. Nothing is placed; the answer shows the commission rates the order would pay."""

    endpoint: ClassVar[str] = "/api/v3/order/test"

    def binance_params(self) -> dict[str, str]:
        params = super().binance_params()
        del params["newOrderRespType"]
        params["computeCommissionRates"] = "true"
        return params

    def weight(self) -> int:
        return 20


class CancelOrder(OrderRef, frozen=True, tag="cancel_order"):
    """Cancel one open order, by `order_id` or `client_order_id`."""

    method: ClassVar[str] = "DELETE"
    changes_state: ClassVar[bool] = True
    destructive: ClassVar[bool] = True

    def weight(self) -> int:
        return 1


class CancelOpenOrders(Command, frozen=True, tag="cancel_open_orders"):
    """Cancel every open order of the account on one symbol."""

    endpoint: ClassVar[str] = "/api/v3/openOrders"
    method: ClassVar[str] = "DELETE"
    signed: ClassVar[bool] = True
    changes_state: ClassVar[bool] = True
    destructive: ClassVar[bool] = True
    symbol: Symbol

    def weight(self) -> int:
        return 1


COMMANDS: dict[str, type[Command]] = {
    cls.tool_name(): cls
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
        GetAuditLog,
        GetAccountEvents,
        GetBalance,
        GetFeeInfo,
        GetOrders,
        GetOpenOrders,
        GetOrder,
        GetMyTrades,
        CreateOrder,
        TestOrder,
        CancelOrder,
        CancelOpenOrders,
        GetAccountSnapshot,
        GetDepositAddress,
        GetDepositHistory,
        GetWithdrawHistory,
        GetPositionInfo,
        GetPnl,
        GetLiquidationHistory,
    )
}


def _decimal_accepts_numbers(node: Any) -> Any:
    """msgspec describes a Decimal as a string; ours also take a JSON number."""
    if isinstance(node, dict):
        if node.get("format") == "decimal":
            node = {k: v for k, v in node.items() if k not in ("format", "type")}
            node["type"] = ["string", "number"]
            node["pattern"] = f"^{_AMOUNT_TEXT.pattern}$"  # applies to the string form
            return node
        return {k: _decimal_accepts_numbers(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_decimal_accepts_numbers(v) for v in node]
    return node


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
    root.pop("description", None)  # the docstring is the tool's description, not the schema's
    if defs:
        root["$defs"] = defs
    result: dict[str, Any] = _decimal_accepts_numbers(root)
    return result


def _is_amount(kind: msgspec.inspect.Type) -> bool:
    if isinstance(kind, msgspec.inspect.Metadata):
        return _is_amount(kind.type)
    if isinstance(kind, msgspec.inspect.DecimalType):
        return True
    return isinstance(kind, msgspec.inspect.UnionType) and any(_is_amount(t) for t in kind.types)


def _amount_fields(cls: type[Command]) -> tuple[str, ...]:
    info = msgspec.inspect.type_info(cls)
    assert isinstance(info, msgspec.inspect.StructType)
    return tuple(f.name for f in info.fields if _is_amount(f.type))


AMOUNT_FIELDS = {name: _amount_fields(cls) for name, cls in COMMANDS.items()}


def _choices(kind: msgspec.inspect.Type) -> tuple[Any, ...] | None:
    """The values a field may take when its type is a Literal (optional or not), else None."""
    if isinstance(kind, msgspec.inspect.Metadata):
        return _choices(kind.type)
    if isinstance(kind, msgspec.inspect.LiteralType):
        return tuple(kind.values)
    if isinstance(kind, msgspec.inspect.UnionType):
        found = [c for c in (_choices(t) for t in kind.types) if c is not None]
        return found[0] if len(found) == 1 else None
    return None


def _enum_fields(cls: type[Command]) -> dict[str, tuple[Any, ...]]:
    info = msgspec.inspect.type_info(cls)
    assert isinstance(info, msgspec.inspect.StructType)
    return {f.encode_name: c for f in info.fields if (c := _choices(f.type)) is not None}


def _caseless(values: tuple[Any, ...]) -> bool:
    """Values that are all upper-case words, none two of which differ only in case: `buy` can only
    mean BUY. (An interval cannot be: `1m` is a minute and `1M` a month.)"""
    words = [v for v in values if isinstance(v, str)]
    return (
        len(words) == len(values)
        and all(v == v.upper() for v in words)
        and len({v.lower() for v in words}) == len(words)
    )


# Each tool's fields that take one of a set of values, with the values: what a refusal lists.
CHOICES = {name: _enum_fields(cls) for name, cls in COMMANDS.items()}
# Those accepted in any ASCII case (`buy` → BUY).
CASELESS = {name: {f: frozenset(v) for f, v in fields.items() if _caseless(v)} for name, fields in CHOICES.items()}


_text_check = msgspec.json.Encoder()


def _not_text(args: dict[str, Any]) -> str | None:
    """The argument holding a string that UTF-8 cannot carry (a lone surrogate), or None. Encoding
    is the check (in C, once, for arguments that are all text); only a failure looks for where."""
    try:
        _text_check.encode(args)
        return None
    except UnicodeEncodeError:
        pass
    for key, value in args.items():
        try:
            _text_check.encode({key: value})
        except UnicodeEncodeError:
            return key if is_text(key) else "arguments"
    return "arguments"


def _id_fields(cls: type[Command]) -> tuple[str, ...]:
    """The fields that hold one of Binance's numeric ids (an order id)."""
    info = msgspec.inspect.type_info(cls)
    assert isinstance(info, msgspec.inspect.StructType)

    def numeric_id(kind: msgspec.inspect.Type) -> bool:
        if isinstance(kind, msgspec.inspect.Metadata):
            return numeric_id(kind.type)
        if isinstance(kind, msgspec.inspect.UnionType):
            return any(numeric_id(t) for t in kind.types)
        return isinstance(kind, msgspec.inspect.IntType) and kind.ge == 0 and kind.le == 2**63 - 1

    return tuple(f.encode_name for f in info.fields if numeric_id(f.type))


ID_FIELDS = {name: _id_fields(cls) for name, cls in COMMANDS.items()}
ARGUMENTS = {name: tuple(f for f in cls.__struct_fields__) for name, cls in COMMANDS.items()}
_DIGITS = re.compile(r"[0-9]{1,19}")
_ASCII_BLANKS = " \t"
# What models write for an argument, in Binance's names or plain words, and the argument it means.
_SYNONYMS = {
    "quoteorderqty": "quote_quantity",
    "quoteqty": "quote_quantity",
    "amount": "quantity",
    "qty": "quantity",
    "size": "quantity",
    "origclientorderid": "client_order_id",
    "newclientorderid": "client_order_id",
    "timeinforce": "time_in_force",
    "tif": "time_in_force",
    "stopprice": "stop_price",
    "pair": "symbol",
    "ticker": "symbol",
}


def nearest_argument(tool: str, name: str) -> str | None:
    """The argument of `tool` that an unknown `name` most likely meant (`quoteOrderQty` →
    `quote_quantity`, `orderId` → `order_id`), or None."""
    known = ARGUMENTS.get(tool, ())
    squashed = name.replace("_", "").replace("-", "").lower()
    by_squash = {k.replace("_", ""): k for k in known}
    if squashed in by_squash:
        return by_squash[squashed]
    if _SYNONYMS.get(squashed) in known:
        return _SYNONYMS[squashed]
    close = difflib.get_close_matches(squashed, list(by_squash), n=1, cutoff=0.75)
    return by_squash[close[0]] if close else None


def decode(tool: str, args: dict[str, Any]) -> Command:
    """Typed command from raw arguments: `InvalidArgument` for an amount off its grammar (checked
    first, before any arithmetic), `msgspec.ValidationError` when the arguments do not fit. A
    choice of upper-case words is taken in any ASCII case (`side: "buy"`), an id in ASCII digits
    as a string (`order_id: "12"`), an amount with ASCII spaces or tabs around it."""
    where = _not_text(args)
    if where is not None:
        raise InvalidArgument(where, f"{where}: a string is not Unicode text (it has a lone surrogate)")
    for name in ID_FIELDS[tool]:  # Binance's ids are whole numbers; models often send them as strings
        value = args.get(name)
        if isinstance(value, str) and _DIGITS.fullmatch(value) and int(value) <= 2**63 - 1:
            args = {**args, name: int(value)}
    for name in AMOUNT_FIELDS[tool]:
        value = args.get(name)
        if isinstance(value, str) and value != value.strip(_ASCII_BLANKS):  # forgiven, as in a symbol
            value = value.strip(_ASCII_BLANKS)
            args = {**args, name: value}
        problem = None if value is None else amount_problem(value)
        if problem is not None:
            raise InvalidArgument(name, f"{name} {echo(value)} {problem}")
    for name, allowed in CASELESS[tool].items():
        value = args.get(name)
        # ASCII only: Unicode case mapping folds look-alikes ('ſell'.upper() is 'SELL')
        if isinstance(value, str) and value not in allowed and value.isascii() and value.upper() in allowed:
            args = {**args, name: value.upper()}
    return msgspec.convert(args, COMMANDS[tool], strict=True)
