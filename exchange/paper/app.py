"""The paper exchange's HTTP face: an aiohttp.web application that speaks the Binance Spot REST
API (plus the wallet and futures read endpoints our tools call, served from fixtures).

One request, in order: the request weight is charged to the client's IP (429 / 418 with
Retry-After when over); an injected fault may answer first; parameters are parsed (query and
form body; the query wins); a SIGNED endpoint checks the API key, timestamp/recvWindow and the
HMAC signature over the exact bytes sent; the handler runs; every answer carries
X-MBX-USED-WEIGHT-1M. Errors are Binance's `{"code", "msg"}` with Binance's HTTP status.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import secrets
import string
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from importlib import resources
from typing import Any
from urllib.parse import quote

import msgspec
from aiohttp import web

from binance_mcp.exchange.paper.engine import (
    Account,
    Engine,
    NewOrder,
    Order,
    cancel_fields,
    fill_fields,
    order_fields,
    order_query_fields,
)
from binance_mcp.exchange.paper.errors import BinanceError, Msg
from binance_mcp.exchange.paper.faults import Fault, FaultMode, Faults
from binance_mcp.exchange.paper.limits import LimitConfig, OrderLimiter, WeightLimiter
from binance_mcp.exchange.paper.market import KLINE_INTERVALS, MarketConfig, SymbolMarket, fmt
from binance_mcp.exchange.paper.params import Params, parse_query
from binance_mcp.exchange.paper.state import PaperState
from binance_mcp.exchange.paper.userstream import WS_PATH, UserStreams
from binance_mcp.exchange.rules import (
    NEEDS_PRICE,
    NEEDS_STOP_PRICE,
    NEEDS_TIME_IN_FORCE,
    ORDER_TYPES,
    SymbolRules,
    decimal_places,
)
from binance_mcp.exchange.signing import ed25519_matches, signature_matches

__all__ = ["DEFAULT_API_RESTRICTIONS", "DEFAULT_BALANCES", "PaperExchange", "generate_credentials"]

# What GET /sapi/v1/account/apiRestrictions answers for every paper key, unless told otherwise:
# a careful key (read and trade, no withdrawals), not locked to an IP.
DEFAULT_API_RESTRICTIONS: dict[str, Any] = {
    "ipRestrict": False,
    "enableReading": True,
    "enableWithdrawals": False,
    "enableInternalTransfer": False,
    "enableMargin": False,
    "enableFutures": False,
    "permitsUniversalTransfer": False,
    "enableVanillaOptions": False,
    "enableFixApiTrade": False,
    "enableFixReadOnly": False,
    "enableSpotAndMarginTrading": True,
    "enablePortfolioMarginTrading": False,
}
DEFAULT_BALANCES = {
    "USDT": Decimal("10000"),
    "BTC": Decimal("0.5"),
    "ETH": Decimal("5"),
    "BNB": Decimal("10"),
    "SOL": Decimal("50"),
    "FDUSD": Decimal("10000"),
    "USDC": Decimal("10000"),
}
STP_MODES = ("NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH", "DECREMENT", "TRANSFER")
_KEY_CHARS = frozenset(string.ascii_letters + string.digits)
_SAFE_RAW = "".join(chr(c) for c in range(0x21, 0x7F))  # printable ASCII passes; the rest is %-encoded


def generate_credentials() -> tuple[str, str]:
    """A fresh (api_key, secret) pair shaped like Binance's 64-character keys."""
    alphabet = string.ascii_letters + string.digits
    return (
        "".join(secrets.choice(alphabet) for _ in range(64)),
        "".join(secrets.choice(alphabet) for _ in range(64)),
    )


def _load(name: str) -> Any:
    return json.loads(resources.files("binance_mcp.exchange.paper").joinpath("data", name).read_text(encoding="utf-8"))


@dataclass
class Ctx:
    params: Params
    now: int
    account: Account | None = None
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def acct(self) -> Account:
        assert self.account is not None
        return self.account


Handler = Callable[["PaperExchange", Ctx], Any]
Weight = Callable[[dict[str, str]], int]


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    signed: bool
    weight: Weight
    handler: Handler


def _fixed(n: int) -> Weight:
    return lambda _p: n


def _depth_weight(p: dict[str, str]) -> int:
    try:
        limit = int(p.get("limit", "100"))
    except ValueError:
        limit = 100
    return 5 if limit <= 100 else 25 if limit <= 500 else 50 if limit <= 1000 else 250


def _symbols_count(p: dict[str, str]) -> int | None:
    if "symbol" in p:
        return 1
    if "symbols" in p:
        try:
            return len(json.loads(p["symbols"]))
        except (ValueError, TypeError):
            return 1
    return None


def _ticker24_weight(p: dict[str, str]) -> int:
    n = _symbols_count(p)
    if n is None:
        return 80
    return 2 if n <= 20 else 40 if n <= 100 else 80


def _one_or_many(one: int, many: int) -> Weight:
    return lambda p: one if "symbol" in p else many


class PaperExchange:
    """State and configuration of one paper exchange; `app()` gives its aiohttp application."""

    def __init__(
        self,
        *,
        seed: int = 0,
        accounts: dict[str, str] | None = None,
        ed25519_accounts: dict[str, bytes] | None = None,
        balances: dict[str, Decimal] | None = None,
        market_config: MarketConfig | None = None,
        limits: LimitConfig | None = None,
        faults: dict[str, Fault] | None = None,
        clock_skew_ms: int = 0,
        clock: Callable[[], int] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        markets: dict[str, Any] | None = None,
        start_prices: dict[str, Decimal] | None = None,
        api_restrictions: dict[str, Any] | None = DEFAULT_API_RESTRICTIONS,
        ws_heartbeat_s: float = 20.0,
        started_at: int | None = None,
        state: PaperState | None = None,
    ):
        """`started_at`: when the market began (a state restored: its own time, so its clock and
        prices go on where they were); `state`: where each action is kept (state.py)."""
        self.clock = clock or (lambda: time.time_ns() // 1_000_000)
        self.state = state
        self.clock_skew_ms = clock_skew_ms
        self.sleep = sleep
        self.market_config = market_config or MarketConfig(seed=seed)
        if self.market_config.seed != seed and market_config is not None and seed:
            raise ValueError("pass the seed once: in MarketConfig or as seed=")
        doc = markets or _load("markets.json")
        self.exchange_doc = doc
        self.rules = {m["info"]["symbol"]: SymbolRules.from_exchange_info(m["info"]) for m in doc["markets"]}
        self._start_prices = {m["info"]["symbol"]: Decimal(m["startPrice"]) for m in doc["markets"]}
        self._start_prices.update((s, p) for s, p in (start_prices or {}).items() if s in self._start_prices)
        self.stp_defaults = {
            m["info"]["symbol"]: str(m["info"].get("defaultSelfTradePreventionMode", "NONE")) for m in doc["markets"]
        }
        self._markets: dict[str, SymbolMarket] = {}
        self.started_at = self.now() if started_at is None else started_at
        self._genesis = self.started_at - self.started_at % 60_000 - self.market_config.history_ms
        self.engine = Engine(self._market, seed=self.market_config.seed)
        self.balances = dict(balances or DEFAULT_BALANCES)
        for key, secret in (accounts or {}).items():
            self.add_account(key, secret)
        for key, public_key in (ed25519_accounts or {}).items():
            self.add_account(key, "", public_key=public_key)
        self.weights = WeightLimiter(limits or LimitConfig())
        self.served: Counter[str] = Counter()  # requests received per endpoint: "GET /api/v3/time"
        self.orders = OrderLimiter(limits or LimitConfig())
        self.faults = Faults(faults)
        self.fixtures = _load("fixtures.json")
        self.api_restrictions = api_restrictions  # None: the endpoint is missing, as on the spot testnet
        self._closing = asyncio.Event()
        self.endpoints = _endpoints()
        self.streams = UserStreams(
            account_of=self.account_of,
            check_time=self.check_time,
            check_signature=self.check_signature,
            now=self.now,
            faults=self.faults,
            heartbeat_s=ws_heartbeat_s,
            weigh=lambda ip, weight: (
                self.weights.config.weight_per_minute,
                self.weights.charge(ip, weight, self.now()).used,
            ),
        )
        self.engine.listener = self.streams.publish

    # -- state --------------------------------------------------------------------------------
    def now(self) -> int:
        return self.clock() + self.clock_skew_ms

    def add_account(
        self,
        api_key: str,
        secret: str,
        balances: dict[str, Decimal] | None = None,
        public_key: bytes | None = None,
        uid: int | None = None,
    ) -> Account:
        """An account whose requests are signed with HMAC `secret`, or with the Ed25519 key whose
        raw `public_key` it holds."""
        return self.engine.add_account(api_key, secret, dict(balances or self.balances), public_key, uid)

    # -- the state on disk (state.py) ----------------------------------------------------------
    def persist(self, kind: str, at_ms: int, body: dict[str, Any]) -> None:
        """Keep an action that changed an account (before its request is answered)."""
        if self.state is not None:
            self.state.record(kind, at_ms, body)

    def restore(self, actions: list[tuple[str, int, dict[str, Any]]]) -> list[str]:
        """Apply kept actions again, at their times, telling nobody (no stream is connected yet).
        What could not be applied (a state this code reads otherwise than the code that wrote it):
        each said, in order; the rest is applied."""
        listener, self.engine.listener = self.engine.listener, None
        problems: list[str] = []
        try:
            for n, (kind, at_ms, body) in enumerate(actions, 1):
                try:
                    self._apply(kind, at_ms, body)
                except (BinanceError, KeyError, TypeError, ValueError, ArithmeticError) as exc:
                    problems.append(f"action {n} ({kind} at {at_ms}): {type(exc).__name__}: {exc}"[:300])
        finally:
            self.engine.listener = listener
        return problems

    def _apply(self, kind: str, at_ms: int, body: dict[str, Any]) -> None:
        if kind == "move":
            self.engine.move(body["symbol"], Decimal(body["price"]), at_ms, body["at"])
            return
        account = self.engine.accounts[body["account"]]
        if kind == "place":
            self.engine.place(account, _kept_order(body["order"]), at_ms)
        elif kind == "cancel":
            self.market(body["symbol"], at_ms)
            order = account.orders[body["order_id"]]
            self.engine.cancel(account, order, at_ms, body.get("restriction"), body["cancel_id"])
        else:
            raise ValueError(f"no action {kind!r}")

    def _market(self, symbol: str) -> SymbolMarket:
        market = self._markets.get(symbol)
        if market is None:
            market = SymbolMarket(self.rules[symbol], self._start_prices[symbol], self.market_config, self._genesis)
            self._markets[symbol] = market
        return market

    def market(self, symbol: str, now: int) -> SymbolMarket:
        """The symbol's market brought up to `now`; a symbol that is not TRADING stopped at start."""
        if self.rules[symbol].status != "TRADING":
            now = min(now, self.started_at)
        return self.engine.sync(symbol, now)

    def move_market(self, symbol: str, price: Decimal, at: str = "last") -> bool:
        """Move a symbol's market to `price` now (a re-run of the event log moving the paper market
        to the prices the original session saw); False for a symbol this exchange does not list."""
        if symbol not in self.rules or self.rules[symbol].status != "TRADING":
            return False
        now = self.now()
        self.engine.move(symbol, price, now, at)
        self.persist("move", now, {"account": "", "symbol": symbol, "price": str(price), "at": at})
        return True

    # -- the application ----------------------------------------------------------------------
    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024)
        for ep in self.endpoints:
            app.router.add_route(ep.method, ep.path, self._wrap(ep))
        app.router.add_get(WS_PATH, self.streams.handle)
        app.on_shutdown.append(self._on_shutdown)
        return app

    async def _on_shutdown(self, _app: web.Application) -> None:
        self._closing.set()
        await self.streams.close_all()

    def _wrap(self, ep: Endpoint) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handle(request: web.Request) -> web.StreamResponse:
            return await self._serve(ep, request)

        return handle

    async def _serve(self, ep: Endpoint, request: web.Request) -> web.StreamResponse:
        now = self.now()
        self.served[f"{ep.method} {ep.path}"] += 1
        raw_query = request.raw_path.partition("?")[2]
        raw_body = (await request.read()).decode("utf-8", "replace") if request.can_read_body else ""
        ip = request.remote or "?"
        query, body = parse_query(raw_query), parse_query(raw_body)
        verdict = self.weights.charge(ip, ep.weight(dict(body + query)), now)
        headers = {"X-MBX-USED-WEIGHT-1M": str(verdict.used)}
        if verdict.status == 418:
            headers["Retry-After"] = str(verdict.retry_after_s)
            msg = (
                f"Way too much request weight used; IP banned until {verdict.banned_until}. "
                "Please use WebSocket Streams for live updates to avoid bans."
            )
            return _error(BinanceError(-1003, msg, 418), headers)
        if verdict.status == 429:
            headers["Retry-After"] = str(verdict.retry_after_s)
            msg = (
                f"Too much request weight used; current limit is {self.weights.config.weight_per_minute} "
                "request weight per 1 MINUTE. Please use WebSocket Streams for live updates to avoid polling the API."
            )
            return _error(BinanceError(-1003, msg, 429), headers)

        fault = self.faults.take(ep.method, ep.path)
        if fault is not None:
            if fault.mode is FaultMode.LATENCY:
                await self.sleep(fault.latency_ms / 1000)
            elif fault.mode is FaultMode.UNAVAILABLE:
                return _error(BinanceError(-1006, Msg.UNEXPECTED_RESP, 503), headers)
            elif fault.mode is FaultMode.HANG:
                await self._closing.wait()
                return _error(
                    BinanceError(-1001, "Internal error; unable to process your request. Please try again.", 503),
                    headers,
                )

        try:
            ctx = Ctx(Params(query, body), now)
            if ep.signed:
                ctx.account = self._authenticate(request, ctx.params, raw_query, raw_body, now)
            result = ep.handler(self, ctx)
            ctx.params.finish()
            headers.update(ctx.headers)
        except BinanceError as exc:
            exc.headers.update(headers)
            return _error(exc, exc.headers)

        if fault is not None:
            if fault.mode is FaultMode.TIMEOUT:
                return _error(BinanceError(-1007, Msg.TIMEOUT, 504), headers)
            if fault.mode is FaultMode.DROP:
                if request.transport is not None:
                    request.transport.abort()
                raise asyncio.CancelledError  # the connection is gone; nothing is written
            if fault.mode is FaultMode.MALFORMED:
                body_bytes = msgspec.json.encode(result)
                return web.Response(
                    body=body_bytes[: max(1, len(body_bytes) // 2)], headers=headers, content_type="application/json"
                )
        return web.Response(body=msgspec.json.encode(result), headers=headers, content_type="application/json")

    def _authenticate(self, request: web.Request, params: Params, raw_query: str, raw_body: str, now: int) -> Account:
        account = self.account_of(request.headers.get("X-MBX-APIKEY", ""))
        timestamp = params.integer("timestamp", required=True)
        signature = params.required("signature")
        assert timestamp is not None
        self.check_time(timestamp, params.decimal("recvWindow"), now)
        payload = _without_signature(raw_query) + _without_signature(raw_body)
        # Binance signs the percent-encoded form: raw non-ASCII bytes in the request do not match.
        self.check_signature(account, quote(payload, safe=_SAFE_RAW), signature)
        return account

    # -- what REST and the WebSocket API check alike --------------------------------------------
    def account_of(self, key: str) -> Account:
        """The account of an API key; -2014 for a key that is not shaped like one, -2015 unknown."""
        if not key or len(key) > 128 or not set(key) <= _KEY_CHARS:
            raise BinanceError(-2014, Msg.BAD_API_KEY_FORMAT, 401)
        account = self.engine.accounts.get(key)
        if account is None:
            raise BinanceError(-2015, Msg.REJECTED_KEY, 401)
        return account

    @staticmethod
    def check_time(timestamp: int, window: Decimal | None, now: int) -> None:
        """`timestamp` (ms, or µs) within `recvWindow` (default 5000 ms, at most 60000) of `now`."""
        if window is not None and (window > 60000 or decimal_places(window) > 3):
            raise BinanceError(-1102, "'recvWindow' contains unexpected value. Cannot be greater than 60000.")
        recv_window = window if window is not None else Decimal(5000)
        ts_ms = Decimal(timestamp) / 1000 if timestamp >= 10**14 else Decimal(timestamp)  # µs timestamps
        if ts_ms >= now + 1000:
            raise BinanceError(-1021, Msg.AHEAD_OF_SERVER)
        if now - ts_ms > recv_window:
            raise BinanceError(-1021, Msg.OUTSIDE_RECV_WINDOW)

    @staticmethod
    def check_signature(account: Account, payload: str, signature: str) -> None:
        """HMAC (hex) or Ed25519 (base64) over `payload`, as the account's key signs; -1022 if not."""
        if account.public_key is not None:
            valid = ed25519_matches(account.public_key, payload, signature)
        else:
            valid = signature_matches(account.secret, payload, signature)
        if not valid:
            raise BinanceError(-1022, Msg.BAD_SIGNATURE)

    # -- helpers for handlers -----------------------------------------------------------------
    def symbol(self, params: Params, name: str = "symbol") -> str:
        text = params.symbol_text(name)
        assert text is not None
        if text not in self.rules:
            raise BinanceError(-1121, Msg.INVALID_SYMBOL)
        return text

    def symbols_selected(self, params: Params) -> tuple[list[str], bool]:
        """(symbols, single) from `symbol`, `symbols` or neither (all)."""
        if "symbol" in params and "symbols" in params:
            params.read.update(("symbol", "symbols"))
            raise BinanceError(-1128, "Combination of optional parameters invalid.")
        if "symbol" in params:
            return [self.symbol(params)], True
        names = params.symbol_list()
        if names is None:
            return list(self.rules), False
        for n in names:
            if n not in self.rules:
                raise BinanceError(-1121, Msg.INVALID_SYMBOL)
        return names, False

    def depth(self, symbol: str, now: int, limit: int) -> tuple[list[list[str]], list[list[str]], int]:
        market = self.market(symbol, now)
        bids, asks = market.book()
        own_bids: dict[Decimal, Decimal] = {}
        own_asks: dict[Decimal, Decimal] = {}
        for _, o in self.engine.resting(symbol):
            if o.is_working and o.price:
                side = own_bids if o.side == "BUY" else own_asks
                side[o.price] = side.get(o.price, Decimal(0)) + (
                    min(o.iceberg_qty, o.remaining) if o.iceberg_qty else o.remaining
                )
        qp, bp = market.rules.quote_precision, market.rules.base_precision

        def merged(
            levels: list[tuple[Decimal, Decimal]], own: dict[Decimal, Decimal], reverse: bool
        ) -> list[list[str]]:
            book = dict(levels)
            for price, qty in own.items():
                book[price] = book.get(price, Decimal(0)) + qty
            return [[fmt(p, qp), fmt(book[p], bp)] for p in sorted(book, reverse=reverse)[:limit]]

        update_id = len(market.trades) * 1000 + self.engine.next_order_id()
        return merged(bids, own_bids, True), merged(asks, own_asks, False), update_id


_ORDER_AMOUNTS = ("quantity", "quote_order_qty", "price", "stop_price", "iceberg_qty")


def _order_body(req: NewOrder) -> dict[str, Any]:
    """A placement as the state keeps it: amounts as decimal strings."""
    body = dataclasses.asdict(req)
    return {k: (str(v) if k in _ORDER_AMOUNTS and v is not None else v) for k, v in body.items()}


def _kept_order(body: dict[str, Any]) -> NewOrder:
    """A placement the state kept, as the engine takes it again."""
    fields: dict[str, Any] = {k: (Decimal(v) if k in _ORDER_AMOUNTS and v is not None else v) for k, v in body.items()}
    return NewOrder(**fields)


def _without_signature(raw: str) -> str:
    return "&".join(p for p in raw.split("&") if p and not p.startswith("signature="))


def _error(exc: BinanceError, headers: dict[str, str]) -> web.Response:
    body = msgspec.json.encode({"code": exc.code, "msg": exc.msg})
    return web.Response(status=exc.status, body=body, headers=headers, content_type="application/json")


# -- market data ------------------------------------------------------------------------------
def h_ping(ex: PaperExchange, ctx: Ctx) -> Any:
    return {}


def h_time(ex: PaperExchange, ctx: Ctx) -> Any:
    return {"serverTime": ctx.now}


def h_exchange_info(ex: PaperExchange, ctx: Ctx) -> Any:
    p = ctx.params
    if "symbol" in p or "symbols" in p:
        names, _ = ex.symbols_selected(p)
    else:
        names = list(ex.rules)
    status = p.enum("symbolStatus", ("TRADING", "HALT", "BREAK"))
    p.read.update(("permissions", "showPermissionSets"))
    by_name = {m["info"]["symbol"]: m["info"] for m in ex.exchange_doc["markets"]}
    symbols = [by_name[n] for n in names if status is None or by_name[n]["status"] == status]
    if status is not None and "symbol" in p and not symbols:
        raise BinanceError(-1220, "The symbol's status does not match the requested symbolStatus.")
    return {
        "timezone": ex.exchange_doc["timezone"],
        "serverTime": ctx.now,
        "rateLimits": [
            {
                "rateLimitType": "REQUEST_WEIGHT",
                "interval": "MINUTE",
                "intervalNum": 1,
                "limit": ex.weights.config.weight_per_minute,
            },
            {
                "rateLimitType": "ORDERS",
                "interval": "SECOND",
                "intervalNum": 10,
                "limit": ex.orders.config.orders_per_10s,
            },
            {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": ex.orders.config.orders_per_day},
            {"rateLimitType": "RAW_REQUESTS", "interval": "MINUTE", "intervalNum": 5, "limit": 61000},
        ],
        "exchangeFilters": ex.exchange_doc["exchangeFilters"],
        "symbols": symbols,
    }


def h_depth(ex: PaperExchange, ctx: Ctx) -> Any:
    symbol = ex.symbol(ctx.params)
    limit = ctx.params.limit(100, 5000, clamp=True)
    bids, asks, update_id = ex.depth(symbol, ctx.now, limit)
    return {"lastUpdateId": update_id, "bids": bids, "asks": asks}


def h_trades(ex: PaperExchange, ctx: Ctx) -> Any:
    symbol = ex.symbol(ctx.params)
    limit = ctx.params.limit(500, 1000)
    market = ex.market(symbol, ctx.now)
    qp, bp = market.rules.quote_precision, market.rules.base_precision
    return [
        {
            "id": t.id,
            "price": fmt(t.price, qp),
            "qty": fmt(t.qty, bp),
            "quoteQty": fmt(t.quote_qty, qp),
            "time": t.time,
            "isBuyerMaker": t.is_buyer_maker,
            "isBestMatch": True,
        }
        for t in market.trades[-limit:]
    ]


def h_klines(ex: PaperExchange, ctx: Ctx) -> Any:
    p = ctx.params
    symbol = ex.symbol(p)
    interval = p.required("interval")
    if interval not in KLINE_INTERVALS:
        raise BinanceError(-1120, "Invalid interval.")
    start, end = p.integer("startTime"), p.integer("endTime")
    if start is not None and end is not None and start > end:
        raise BinanceError(-1023, "Start time is greater than end time.")
    limit = p.limit(500, 1000, clamp=True)
    return ex.market(symbol, ctx.now).klines(interval, start, end, limit, ctx.now)


def h_avg_price(ex: PaperExchange, ctx: Ctx) -> Any:
    market = ex.market(ex.symbol(ctx.params), ctx.now)
    mins = 5
    return {
        "mins": mins,
        "price": fmt(market.avg_price(ctx.now, mins), 8),
        "closeTime": market.trades[-1].time if market.trades else ctx.now,
    }


def _many(ex: PaperExchange, ctx: Ctx, one: Callable[[str], dict[str, Any]]) -> Any:
    names, single = ex.symbols_selected(ctx.params)
    status = ctx.params.enum("symbolStatus", ("TRADING", "HALT", "BREAK"))
    rows = [one(n) for n in names if status is None or ex.rules[n].status == status]
    if single:
        if not rows:
            raise BinanceError(-1220, "The symbol's status does not match the requested symbolStatus.")
        return rows[0]
    return rows


def h_ticker_24h(ex: PaperExchange, ctx: Ctx) -> Any:
    mini = ctx.params.enum("type", ("FULL", "MINI")) == "MINI"
    mini_keys = (
        "symbol",
        "openPrice",
        "highPrice",
        "lowPrice",
        "lastPrice",
        "volume",
        "quoteVolume",
        "openTime",
        "closeTime",
        "firstId",
        "lastId",
        "count",
    )

    def one(symbol: str) -> dict[str, Any]:
        full = ex.market(symbol, ctx.now).ticker_24h(ctx.now)
        return {k: full[k] for k in mini_keys} if mini else full

    return _many(ex, ctx, one)


def h_ticker_price(ex: PaperExchange, ctx: Ctx) -> Any:
    def one(symbol: str) -> dict[str, Any]:
        market = ex.market(symbol, ctx.now)
        return {"symbol": symbol, "price": fmt(market.last_price, market.rules.quote_precision)}

    return _many(ex, ctx, one)


def h_book_ticker(ex: PaperExchange, ctx: Ctx) -> Any:
    def one(symbol: str) -> dict[str, Any]:
        bids, asks, _ = ex.depth(symbol, ctx.now, 1)
        bid, ask = (bids[0] if bids else ["0", "0"]), (asks[0] if asks else ["0", "0"])
        return {"symbol": symbol, "bidPrice": bid[0], "bidQty": bid[1], "askPrice": ask[0], "askQty": ask[1]}

    return _many(ex, ctx, one)


# -- trading ----------------------------------------------------------------------------------
def _new_order(ex: PaperExchange, p: Params) -> tuple[NewOrder, str | None]:
    symbol = ex.symbol(p)
    side = p.enum("side", ("BUY", "SELL"), required=True, code=-1117, msg="Invalid side.")
    otype = p.enum("type", ORDER_TYPES, required=True, code=-1116, msg="Invalid orderType.")
    assert side is not None and otype is not None
    tif = p.enum("timeInForce", ("GTC", "IOC", "FOK"), code=-1115, msg="Invalid timeInForce.")
    quantity, quote_qty = p.decimal("quantity"), p.decimal("quoteOrderQty")
    price, stop, iceberg = p.decimal("price"), p.decimal("stopPrice"), p.decimal("icebergQty")
    trailing = p.integer("trailingDelta")
    client_id = p.client_id("newClientOrderId")
    resp_type = p.enum("newOrderRespType", ("ACK", "RESULT", "FULL"))
    stp = p.enum("selfTradePreventionMode", STP_MODES)
    p.read.update(("strategyId", "strategyType"))
    strategy_type = p.integer("strategyType")
    if strategy_type is not None and strategy_type < 1000000:
        raise BinanceError(-1102, "'strategyType' contains unexpected value. Cannot be less than 1000000.")
    if otype in NEEDS_TIME_IN_FORCE and tif is None:
        raise BinanceError.mandatory("timeInForce")
    if otype not in NEEDS_TIME_IN_FORCE and tif is not None and not (otype == "LIMIT_MAKER"):
        raise BinanceError(-1106, "Parameter 'timeInForce' sent when not required.")
    if otype in NEEDS_PRICE and price is None:
        raise BinanceError.mandatory("price")
    if otype not in NEEDS_PRICE and price is not None:
        raise BinanceError.not_required("price")
    if otype == "MARKET":
        if quantity is None and quote_qty is None:
            raise BinanceError.either("quantity", "quoteOrderQty")
        if quantity is not None and quote_qty is not None:
            raise BinanceError(-1128, "Conflicting fields: ['quantity', 'quoteOrderQty']")
    else:
        if quantity is None:
            raise BinanceError.mandatory("quantity")
        if quote_qty is not None:
            raise BinanceError.not_required("quoteOrderQty")
    if otype in NEEDS_STOP_PRICE and stop is None and trailing is None:
        raise BinanceError.either("stopPrice", "trailingDelta")
    if otype not in NEEDS_STOP_PRICE and stop is not None:
        raise BinanceError.not_required("stopPrice")
    if iceberg is not None and (otype not in NEEDS_PRICE or (tif or "GTC") != "GTC"):
        raise BinanceError(-1013, Msg.UNSUPPORTED_COMBO)
    rules = ex.rules[symbol]
    for name, value, places in (
        ("quantity", quantity, rules.base_precision),
        ("icebergQty", iceberg, rules.base_precision),
        ("quoteOrderQty", quote_qty, rules.quote_precision),
        ("price", price, rules.quote_precision),
        ("stopPrice", stop, rules.quote_precision),
    ):
        if value is not None and decimal_places(value) > places:
            raise BinanceError.precision(name)
    if trailing is not None:
        raise BinanceError.rejected(Msg.TRAILING_NOT_SUPPORTED)  # trailing stops are not simulated
    req = NewOrder(
        symbol=symbol,
        side=side,
        type=otype,
        time_in_force=tif,
        quantity=quantity,
        quote_order_qty=quote_qty,
        price=price,
        stop_price=stop,
        iceberg_qty=iceberg,
        new_client_order_id=client_id,
        stp_mode=stp or ex.stp_defaults[symbol],
    )
    return req, resp_type


def _order_counts(ex: PaperExchange, ctx: Ctx) -> None:
    ten, day = ex.orders.counts(ctx.acct.api_key, ctx.now)
    ctx.headers["X-MBX-ORDER-COUNT-10S"] = str(ten)
    ctx.headers["X-MBX-ORDER-COUNT-1D"] = str(day)


def h_order_new(ex: PaperExchange, ctx: Ctx) -> Any:
    req, resp_type = _new_order(ex, ctx.params)
    ctx.params.finish()
    over = ex.orders.charge(ctx.acct.api_key, ctx.now)
    if over is not None:
        interval, retry = over
        raise BinanceError(
            -1015, f"Too many new orders; current limit is {interval}.", 429, {"Retry-After": str(retry)}
        )
    _order_counts(ex, ctx)
    order = ex.engine.place(ctx.acct, req, ctx.now)
    placed = dataclasses.replace(req, new_client_order_id=order.client_order_id)  # as the engine took it
    ex.persist("place", ctx.now, {"account": ctx.acct.api_key, "order": _order_body(placed)})
    default = "FULL" if req.type in ("MARKET", "LIMIT") else "ACK"
    return order_fields(order, ex.rules[req.symbol], resp_type or default)


def h_order_test(ex: PaperExchange, ctx: Ctx) -> Any:
    compute = ctx.params.flag("computeCommissionRates")
    req, _ = _new_order(ex, ctx.params)
    market = ex.market(req.symbol, ctx.now)
    ex.engine.validate(ctx.acct, req, market, ctx.now)
    if not compute:
        return {}
    rate = fmt(ex.engine.commission, 8)
    zero = fmt(Decimal(0), 8)
    return {
        "standardCommissionForOrder": {"maker": rate, "taker": rate},
        "specialCommissionForOrder": {"maker": zero, "taker": zero},
        "taxCommissionForOrder": {"maker": zero, "taker": zero},
        "discount": {"enabledForAccount": False, "enabledForSymbol": False, "discountAsset": "BNB", "discount": zero},
    }


def _lookup(ex: PaperExchange, ctx: Ctx, code: int, msg: str) -> tuple[str, Any]:
    p = ctx.params
    symbol = ex.symbol(p)
    order_id = p.integer("orderId")
    client_id = p.text("origClientOrderId")
    if order_id is None and client_id is None:
        raise BinanceError.either("orderId", "origClientOrderId")
    ex.market(symbol, ctx.now)
    return symbol, ex.engine.find(ctx.acct, symbol, order_id, client_id, code=code, msg=msg)


def h_order_get(ex: PaperExchange, ctx: Ctx) -> Any:
    symbol, order = _lookup(ex, ctx, -2013, Msg.NO_SUCH_ORDER)
    return order_query_fields(order, ex.rules[symbol])


def h_order_cancel(ex: PaperExchange, ctx: Ctx) -> Any:
    cancel_id = ctx.params.client_id("newClientOrderId")
    restriction = ctx.params.enum("cancelRestrictions", ("ONLY_NEW", "ONLY_PARTIALLY_FILLED"))
    symbol, order = _lookup(ex, ctx, -2011, Msg.UNKNOWN_ORDER)
    ctx.params.finish()
    cancel_id = cancel_id or ex.engine.new_client_id()
    ex.engine.cancel(ctx.acct, order, ctx.now, restriction, cancel_id)
    _kept_cancel(ex, ctx, order, cancel_id, restriction)
    return cancel_fields(order, ex.rules[symbol], cancel_id, ctx.now)


def _kept_cancel(ex: PaperExchange, ctx: Ctx, order: Order, cancel_id: str, restriction: str | None = None) -> None:
    body = {"account": ctx.acct.api_key, "symbol": order.symbol, "order_id": order.order_id, "cancel_id": cancel_id}
    ex.persist("cancel", ctx.now, {**body, "restriction": restriction})


def h_open_orders(ex: PaperExchange, ctx: Ctx) -> Any:
    symbol = ex.symbol(ctx.params) if "symbol" in ctx.params else None
    # Brought up to now: the markets where the account has open orders (they may fill or trigger
    # on the way); no other market can change an open order. (Every listed market, as this once
    # did, made the first all-symbols call generate each symbol's hour of history: 0.8-1.3 s.)
    for name in [symbol] if symbol else sorted({o.symbol for o in ctx.acct.open_orders(None)}):
        ex.market(name, ctx.now)
    return [order_query_fields(o, ex.rules[o.symbol]) for o in ctx.acct.open_orders(symbol)]


def h_cancel_all(ex: PaperExchange, ctx: Ctx) -> Any:
    symbol = ex.symbol(ctx.params)
    ctx.params.finish()
    ex.market(symbol, ctx.now)
    opens = ctx.acct.open_orders(symbol)
    if not opens:
        raise BinanceError(-2011, Msg.UNKNOWN_ORDER)
    out = []
    for order in opens:
        cancel_id = ex.engine.new_client_id()
        ex.engine.cancel(ctx.acct, order, ctx.now, cancel_id=cancel_id)
        _kept_cancel(ex, ctx, order, cancel_id)
        out.append(cancel_fields(order, ex.rules[symbol], cancel_id, ctx.now))
    return out


def _time_range(p: Params) -> tuple[int | None, int | None]:
    start, end = p.integer("startTime"), p.integer("endTime")
    if start is not None and end is not None:
        if start > end:
            raise BinanceError(-1023, "Start time is greater than end time.")
        if end - start > 86_400_000:
            raise BinanceError(-1127, "More than 24 hours between startTime and endTime.")
    return start, end


def h_all_orders(ex: PaperExchange, ctx: Ctx) -> Any:
    p = ctx.params
    symbol = ex.symbol(p)
    from_id = p.integer("orderId")
    start, end = _time_range(p)
    limit = p.limit(500, 1000)
    ex.market(symbol, ctx.now)
    orders = [
        o
        for o in ctx.acct.orders.values()
        if o.symbol == symbol
        and (from_id is None or o.order_id >= from_id)
        and (start is None or o.time >= start)
        and (end is None or o.time <= end)
    ]
    orders = orders[:limit] if from_id is not None or start is not None else orders[-limit:]
    return [order_query_fields(o, ex.rules[symbol]) for o in orders]


def h_my_trades(ex: PaperExchange, ctx: Ctx) -> Any:
    p = ctx.params
    symbol = ex.symbol(p)
    order_id, from_id = p.integer("orderId"), p.integer("fromId")
    start, end = _time_range(p)
    limit = p.limit(500, 1000)
    if from_id is not None and (start is not None or end is not None):
        raise BinanceError(-1128, "Combination of optional parameters invalid.")
    ex.market(symbol, ctx.now)
    acct = ctx.acct
    fills = [
        f
        for f, s in zip(acct.fills, acct.fill_symbols, strict=True)
        if s == symbol
        and (order_id is None or f.order_id == order_id)
        and (from_id is None or f.trade_id >= from_id)
        and (start is None or f.time >= start)
        and (end is None or f.time <= end)
    ]
    fills = fills[:limit] if from_id is not None or start is not None else fills[-limit:]
    return [fill_fields(f, symbol, ex.rules[symbol]) for f in fills]


def h_account(ex: PaperExchange, ctx: Ctx) -> Any:
    omit = ctx.params.flag("omitZeroBalances")
    acct = ctx.acct
    rate, zero = fmt(ex.engine.commission, 8), fmt(Decimal(0), 8)
    bps = int(ex.engine.commission * 10000)
    balances = [
        {"asset": a, "free": fmt(b.free, 8), "locked": fmt(b.locked, 8)}
        for a, b in sorted(acct.balances.items())
        if not omit or b.free or b.locked
    ]
    return {
        "makerCommission": bps,
        "takerCommission": bps,
        "buyerCommission": 0,
        "sellerCommission": 0,
        "commissionRates": {"maker": rate, "taker": rate, "buyer": zero, "seller": zero},
        "canTrade": True,
        "canWithdraw": True,
        "canDeposit": True,
        "brokered": False,
        "requireSelfTradePrevention": False,
        "preventSor": False,
        "updateTime": acct.update_time,
        "accountType": "SPOT",
        "balances": balances,
        "permissions": ["SPOT"],
        "uid": acct.uid,
    }


def h_commission(ex: PaperExchange, ctx: Ctx) -> Any:
    symbol = ex.symbol(ctx.params)
    rate, zero = fmt(ex.engine.commission, 8), fmt(Decimal(0), 8)
    return {
        "symbol": symbol,
        "standardCommission": {"maker": rate, "taker": rate, "buyer": zero, "seller": zero},
        "specialCommission": {"maker": zero, "taker": zero, "buyer": zero, "seller": zero},
        "taxCommission": {"maker": zero, "taker": zero, "buyer": zero, "seller": zero},
        "discount": {"enabledForAccount": False, "enabledForSymbol": False, "discountAsset": "BNB", "discount": zero},
    }


def h_rate_limit_order(ex: PaperExchange, ctx: Ctx) -> Any:
    ten, day = ex.orders.counts(ctx.acct.api_key, ctx.now)
    cfg = ex.orders.config
    return [
        {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": cfg.orders_per_10s, "count": ten},
        {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": cfg.orders_per_day, "count": day},
    ]


# -- wallet and futures reads (fixtures) ------------------------------------------------------
def h_account_snapshot(ex: PaperExchange, ctx: Ctx) -> Any:
    p = ctx.params
    kind = p.enum("type", ("SPOT", "MARGIN", "FUTURES"), required=True)
    assert kind is not None
    p.integer("startTime"), p.integer("endTime")
    limit = p.integer("limit") or 7
    if not 7 <= limit <= 30:
        raise BinanceError(-1100, "Illegal characters found in parameter 'limit'; legal range is '[7, 30]'.")
    return {"code": 200, "msg": "", "snapshotVos": ex.fixtures["accountSnapshot"][kind][-limit:]}


def h_deposit_address(ex: PaperExchange, ctx: Ctx) -> Any:
    coin = ctx.params.required("coin")
    ctx.params.text("network"), ctx.params.text("amount")
    entry = ex.fixtures["depositAddress"].get(coin)
    if entry is None:
        raise BinanceError(-4018, "The coin does not exist.")
    return {"coin": coin, "address": entry["address"], "tag": entry["tag"], "url": ""}


def _history(ex: PaperExchange, ctx: Ctx, name: str, time_key: str | None) -> Any:
    p = ctx.params
    coin = p.text("coin")
    status = p.integer("status")
    start, end = p.integer("startTime"), p.integer("endTime")
    p.read.update(("offset", "limit", "txId", "withdrawOrderId", "includeSource", "idList"))
    rows = ex.fixtures[name]
    return [
        r
        for r in rows
        if (coin is None or r["coin"] == coin)
        and (status is None or r["status"] == status)
        and (time_key is None or ((start is None or r[time_key] >= start) and (end is None or r[time_key] <= end)))
    ]


def h_deposit_history(ex: PaperExchange, ctx: Ctx) -> Any:
    return _history(ex, ctx, "depositHistory", "insertTime")


def h_withdraw_history(ex: PaperExchange, ctx: Ctx) -> Any:
    return _history(ex, ctx, "withdrawHistory", None)


def h_api_restrictions(ex: PaperExchange, ctx: Ctx) -> Any:
    if ex.api_restrictions is None:
        raise web.HTTPNotFound()  # the spot testnet has no /sapi
    return {**ex.api_restrictions, "createTime": ex.started_at}


def h_trade_fee(ex: PaperExchange, ctx: Ctx) -> Any:
    names = [ex.symbol(ctx.params)] if "symbol" in ctx.params else list(ex.rules)
    rate = fmt(ex.engine.commission, 8)
    return [{"symbol": n, "makerCommission": rate, "takerCommission": rate} for n in names]


def h_position_risk(ex: PaperExchange, ctx: Ctx) -> Any:
    symbol = ctx.params.text("symbol")
    return [r for r in ex.fixtures["positionRisk"] if symbol is None or r["symbol"] == symbol]


def _futures_rows(ex: PaperExchange, ctx: Ctx, name: str) -> Any:
    p = ctx.params
    symbol = p.text("symbol")
    income_type = p.text("incomeType") if name == "income" else None
    start, end = p.integer("startTime"), p.integer("endTime")
    p.read.update(("limit", "page", "autoCloseType"))
    return [
        r
        for r in ex.fixtures[name]
        if (symbol is None or r["symbol"] == symbol)
        and (income_type is None or r["incomeType"] == income_type)
        and (start is None or r["time"] >= start)
        and (end is None or r["time"] <= end)
    ]


def h_income(ex: PaperExchange, ctx: Ctx) -> Any:
    return _futures_rows(ex, ctx, "income")


def h_force_orders(ex: PaperExchange, ctx: Ctx) -> Any:
    return _futures_rows(ex, ctx, "forceOrders")


def _endpoints() -> list[Endpoint]:
    one = _fixed
    return [
        Endpoint("GET", "/api/v3/ping", False, one(1), h_ping),
        Endpoint("GET", "/api/v3/time", False, one(1), h_time),
        Endpoint("GET", "/api/v3/exchangeInfo", False, one(20), h_exchange_info),
        Endpoint("GET", "/api/v3/depth", False, _depth_weight, h_depth),
        Endpoint("GET", "/api/v3/trades", False, one(25), h_trades),
        Endpoint("GET", "/api/v3/klines", False, one(2), h_klines),
        Endpoint("GET", "/api/v3/avgPrice", False, one(2), h_avg_price),
        Endpoint("GET", "/api/v3/ticker/24hr", False, _ticker24_weight, h_ticker_24h),
        Endpoint("GET", "/api/v3/ticker/price", False, _one_or_many(2, 4), h_ticker_price),
        Endpoint("GET", "/api/v3/ticker/bookTicker", False, _one_or_many(2, 4), h_book_ticker),
        Endpoint("POST", "/api/v3/order", True, one(1), h_order_new),
        Endpoint(
            "POST",
            "/api/v3/order/test",
            True,
            lambda p: 20 if p.get("computeCommissionRates") == "true" else 1,
            h_order_test,
        ),
        Endpoint("GET", "/api/v3/order", True, one(4), h_order_get),
        Endpoint("DELETE", "/api/v3/order", True, one(1), h_order_cancel),
        Endpoint("GET", "/api/v3/openOrders", True, _one_or_many(6, 80), h_open_orders),
        Endpoint("DELETE", "/api/v3/openOrders", True, one(1), h_cancel_all),
        Endpoint("GET", "/api/v3/allOrders", True, one(20), h_all_orders),
        Endpoint("GET", "/api/v3/myTrades", True, lambda p: 5 if "orderId" in p else 20, h_my_trades),
        Endpoint("GET", "/api/v3/account", True, one(20), h_account),
        Endpoint("GET", "/api/v3/account/commission", True, one(20), h_commission),
        Endpoint("GET", "/api/v3/rateLimit/order", True, one(40), h_rate_limit_order),
        Endpoint("GET", "/sapi/v1/accountSnapshot", True, one(2400), h_account_snapshot),
        Endpoint("GET", "/sapi/v1/capital/deposit/address", True, one(10), h_deposit_address),
        Endpoint("GET", "/sapi/v1/capital/deposit/hisrec", True, one(1), h_deposit_history),
        Endpoint("GET", "/sapi/v1/capital/withdraw/history", True, one(10), h_withdraw_history),
        Endpoint("GET", "/sapi/v1/asset/tradeFee", True, one(1), h_trade_fee),
        Endpoint("GET", "/sapi/v1/account/apiRestrictions", True, one(1), h_api_restrictions),
        Endpoint("GET", "/fapi/v2/positionRisk", True, one(5), h_position_risk),
        Endpoint("GET", "/fapi/v1/income", True, one(30), h_income),
        Endpoint("GET", "/fapi/v1/forceOrders", True, one(20), h_force_orders),
    ]
