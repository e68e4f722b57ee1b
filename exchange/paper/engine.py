"""Accounts, orders and matching for the paper exchange.

Orders from paper accounts match against the synthetic book of `market.SymbolMarket` (taking
liquidity) and rest there until the synthetic trade stream reaches them (making liquidity).
Stop and take-profit orders wait, not working, until a trade crosses their stopPrice.

Funds: a resting order locks what it may spend (quote at its limit price for a BUY, base for a
SELL); each fill releases its share of the lock. Commission is taken in the asset received.
Every paper fill is also appended to the symbol's public trade stream, so trades, klines and
tickers include it.

Every change to an account's orders and balances is reported as the user data stream reports
it (`executionReport`: NEW, TRADE with each fill, CANCELED, EXPIRED; then one
`outboundAccountPosition` with the balances that moved), to `Engine.listener`, at the end of each
action (a placement, a cancel, the market brought up to now), in the order it happened; a
placement the engine refuses reports nothing.

Sans-IO: the HTTP layer parses and validates parameters and passes the time in; this module
raises `BinanceError` for the engine's own rejections (balance, duplicates, unknown orders).
"""

from __future__ import annotations

import random
import secrets
import string
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import ROUND_UP, Decimal

from binance_mcp.exchange.paper.errors import BinanceError, Msg
from binance_mcp.exchange.paper.market import SymbolMarket, fmt
from binance_mcp.exchange.rules import ALGO_TYPES, OpenOrderCounts, OrderCheck, SymbolRules, check_order, floor_to_step

__all__ = ["OPEN_STATUSES", "Account", "Engine", "Fill", "NewOrder", "Order", "Report", "execution_report"]

ZERO = Decimal(0)
OPEN_STATUSES = frozenset({"NEW", "PARTIALLY_FILLED"})
LIMIT_TYPES = frozenset({"LIMIT", "LIMIT_MAKER", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"})
# Trigger direction: these fire when the price rises to stopPrice; the others when it falls.
_TRIGGERS_ABOVE = frozenset(
    {("STOP_LOSS", "BUY"), ("STOP_LOSS_LIMIT", "BUY"), ("TAKE_PROFIT", "SELL"), ("TAKE_PROFIT_LIMIT", "SELL")}
)


@dataclass
class Balance:
    free: Decimal = ZERO
    locked: Decimal = ZERO


@dataclass(frozen=True)
class Fill:
    price: Decimal
    qty: Decimal
    commission: Decimal
    commission_asset: str
    trade_id: int
    is_maker: bool
    time: int
    order_id: int
    is_buyer: bool


@dataclass(frozen=True)
class NewOrder:
    """A new order whose parameters the HTTP layer has parsed (types and formats are valid)."""

    symbol: str
    side: str
    type: str
    time_in_force: str | None = None
    quantity: Decimal | None = None
    quote_order_qty: Decimal | None = None
    price: Decimal | None = None
    stop_price: Decimal | None = None
    iceberg_qty: Decimal | None = None
    new_client_order_id: str | None = None
    stp_mode: str = "EXPIRE_MAKER"


@dataclass
class Order:
    symbol: str
    order_id: int
    client_order_id: str
    side: str
    type: str
    time_in_force: str
    price: Decimal
    orig_qty: Decimal
    stop_price: Decimal
    iceberg_qty: Decimal
    orig_quote_order_qty: Decimal
    time: int
    stp_mode: str
    is_working: bool = True
    working_time: int = -1
    update_time: int = 0
    executed_qty: Decimal = ZERO
    cum_quote: Decimal = ZERO
    status: str = "NEW"
    expiry_reason: str | None = None
    reserved_asset: str = ""
    reserve_per_unit: Decimal = ZERO
    fills: list[Fill] = field(default_factory=list)

    @property
    def remaining(self) -> Decimal:
        return self.orig_qty - self.executed_qty

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


@dataclass
class Account:
    api_key: str
    secret: str  # HMAC; empty for an Ed25519 account
    balances: dict[str, Balance]
    public_key: bytes | None = None  # raw Ed25519 public key: requests are verified with it
    uid: int = 0  # the account's own id, as GET /api/v3/account states it
    orders: dict[int, Order] = field(default_factory=dict)
    fills: list[Fill] = field(default_factory=list)
    fill_symbols: list[str] = field(default_factory=list)
    update_time: int = 0

    def balance(self, asset: str) -> Balance:
        return self.balances.setdefault(asset, Balance())

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        return [o for o in self.orders.values() if o.is_open and (symbol is None or o.symbol == symbol)]


def _plan(
    levels: Iterable[tuple[Decimal, Decimal]],
    *,
    side: str,
    limit: Decimal | None,
    qty: Decimal | None,
    quote: Decimal | None,
    step: Decimal,
) -> list[tuple[Decimal, Decimal]]:
    """Walk book levels (best first) for up to `qty` base or `quote` quote; returns (price, qty)."""
    out = []
    for price, avail in levels:
        if limit is not None and (price > limit if side == "BUY" else price < limit):
            break
        if qty is not None:
            take = min(avail, qty)
            qty -= take
        else:
            assert quote is not None
            take = min(avail, floor_to_step(quote / price, step))
            quote -= take * price
        if take <= 0:
            break
        out.append((price, take))
        if qty is not None and qty <= 0:
            break
    return out


Report = Callable[["Account", dict[str, object]], None]  # an account's user data stream event


class Engine:
    """Every paper account and order; matching against `SymbolMarket`s."""

    def __init__(self, market: Callable[[str], SymbolMarket], *, seed: int = 0, commission: Decimal = Decimal("0.001")):
        self._market = market
        self.commission = commission
        self.accounts: dict[str, Account] = {}
        self._next_order_id = 1
        self._ids = random.Random(f"{seed}/client-order-ids")
        # Orders that may still rest, by symbol; closed ones are pruned as they are met.
        self._book_orders: dict[str, list[tuple[Account, Order]]] = {}
        self.listener: Report | None = None  # told of every account event (the user data stream)
        self._pending: list[tuple[Account, dict[str, object]]] = []  # reported at the end of the action
        self._moved: dict[str, tuple[Account, set[str]]] = {}  # assets whose balances moved, by account
        self._executions = 0  # execution ids (`I`), one per report

    # -- accounts -----------------------------------------------------------------------------
    def add_account(
        self,
        api_key: str,
        secret: str,
        balances: dict[str, Decimal],
        public_key: bytes | None = None,
        uid: int | None = None,
    ) -> Account:
        """An account; its `uid` drawn at random when not given, so that two paper exchanges'
        accounts never share one (a log tells accounts apart by it)."""
        uid = uid if uid is not None else 100_000_000 + secrets.randbelow(9_900_000_000)
        account = Account(
            api_key, secret, {a: Balance(free=v) for a, v in balances.items()}, public_key=public_key, uid=uid
        )
        self.accounts[api_key] = account
        return account

    def _lock(self, account: Account, order: Order, asset: str, per_unit: Decimal) -> None:
        amount = per_unit * order.remaining
        bal = account.balance(asset)
        if bal.free < amount:
            raise BinanceError.rejected(Msg.INSUFFICIENT_BALANCE)
        bal.free -= amount
        bal.locked += amount
        order.reserved_asset, order.reserve_per_unit = asset, per_unit
        self._touch(account, asset)

    def _release(self, account: Account, order: Order, qty: Decimal) -> None:
        if order.reserve_per_unit:
            amount = order.reserve_per_unit * qty
            bal = account.balance(order.reserved_asset)
            bal.locked -= amount
            bal.free += amount
            self._touch(account, order.reserved_asset)

    # -- the user data stream -----------------------------------------------------------------
    def _touch(self, account: Account, *assets: str) -> None:
        self._moved.setdefault(account.api_key, (account, set()))[1].update(assets)

    def _report(
        self,
        account: Account,
        order: Order,
        x: str,
        now: int,
        *,
        status: str | None = None,
        fill: Fill | None = None,
        cancel_id: str = "",
    ) -> None:
        self._executions += 1
        rules = self._market(order.symbol).rules
        report = execution_report(order, rules, x, now, self._executions, status=status, fill=fill, cancel_id=cancel_id)
        self._pending.append((account, report))

    def _flush(self, now: int) -> None:
        """Tell the listener what the action did: the order events in order, then each account's
        balances that moved."""
        pending, moved = self._pending, self._moved
        self._pending, self._moved = [], {}
        if self.listener is None:
            return
        for account, event in pending:
            self.listener(account, event)
        for account, assets in moved.values():
            self.listener(account, balance_report(account, sorted(assets), now))

    # -- the market clock ---------------------------------------------------------------------
    def sync(self, symbol: str, now: int) -> SymbolMarket:
        """Bring the symbol's market up to `now`, filling and triggering paper orders on the way."""
        market = self._market(symbol)
        for trade in market.advance(now):
            self._on_trade(market, trade.price, trade.qty, trade.time)
        self._flush(now)
        return market

    def move(self, symbol: str, price: Decimal, now: int, at: str = "last") -> None:
        """Move the symbol's market to `price` at `now` (SymbolMarket.move_to); paper orders fill
        and trigger on the way."""
        market = self.sync(symbol, now)
        trade = market.move_to(price, now, at)
        if trade is not None:
            self._on_trade(market, trade.price, trade.qty, trade.time)
        self._flush(now)

    def resting(self, symbol: str) -> list[tuple[Account, Order]]:
        """Every account's open orders on `symbol`, from the index kept as orders are placed."""
        live = [(a, o) for a, o in self._book_orders.get(symbol, ()) if o.is_open]
        self._book_orders[symbol] = live
        return list(live)

    def _on_trade(self, market: SymbolMarket, price: Decimal, qty: Decimal, now: int) -> None:
        for account, order in self.resting(market.symbol):
            if not order.is_working:
                above = (order.type, order.side) in _TRIGGERS_ABOVE
                if (price >= order.stop_price) if above else (price <= order.stop_price):
                    self._trigger(account, order, market, now)
                continue
            if (order.side == "BUY" and price <= order.price) or (order.side == "SELL" and price >= order.price):
                # Traded through the limit: all of it fills; traded at the limit: up to the trade's size.
                fill_qty = order.remaining if price != order.price else min(order.remaining, qty)
                self._fill(account, order, market, order.price, fill_qty, is_maker=True, now=now)
                self._finish(account, order, now)

    def _trigger(self, account: Account, order: Order, market: SymbolMarket, now: int) -> None:
        order.is_working, order.working_time, order.update_time = True, now, now
        if order.type in ("STOP_LOSS", "TAKE_PROFIT"):
            self._release(account, order, order.remaining)
            order.reserve_per_unit = ZERO
            plan = self._plan_for(order, market, limit=None)
            if self._affordable(account, order, market, plan):
                self._take(account, order, market, plan, now)
            order.status = "FILLED" if order.remaining == 0 else "EXPIRED"
            if order.remaining:
                order.expiry_reason = "INSUFFICIENT_LIQUIDITY"
                self._report(account, order, "EXPIRED", now)
        else:
            self._take_limit(account, order, market, now)

    # -- placing ------------------------------------------------------------------------------
    def validate(self, account: Account, req: NewOrder, market: SymbolMarket, now: int) -> SymbolRules:
        """The checks that `order/test` runs too: symbol state, order type, filters."""
        rules = market.rules
        if rules.status != "TRADING":
            raise BinanceError.rejected(Msg.MARKET_CLOSED)
        if req.type not in rules.order_types:
            raise BinanceError.rejected(Msg.TYPE_NOT_SUPPORTED.get(req.type, Msg.UNSUPPORTED_COMBO))
        if req.iceberg_qty and not rules.iceberg_allowed:
            raise BinanceError.rejected(Msg.ICEBERG_NOT_SUPPORTED)
        if req.quote_order_qty is not None and not rules.quote_order_qty_market_allowed:
            raise BinanceError.rejected(Msg.QUOTE_QTY_NOT_SUPPORTED)
        if req.iceberg_qty and req.quantity is not None and req.iceberg_qty >= req.quantity:
            raise BinanceError(-1013, Msg.ICEBERG_EXCEEDS)
        opens = account.open_orders(req.symbol)
        counts = OpenOrderCounts(
            orders=len(opens),
            algo_orders=sum(1 for o in opens if o.type in ALGO_TYPES),
            iceberg_orders=sum(1 for o in opens if o.iceberg_qty),
            position=account.balance(rules.base_asset).free
            + account.balance(rules.base_asset).locked
            + sum((o.remaining for o in opens if o.side == "BUY"), ZERO),
        )
        mins = int(rules.filters.get("NOTIONAL", rules.filters.get("PERCENT_PRICE_BY_SIDE", {})).get("avgPriceMins", 5))
        check = OrderCheck(
            side=req.side,
            type=req.type,
            quantity=req.quantity,
            quote_order_qty=req.quote_order_qty,
            price=req.price,
            stop_price=req.stop_price,
            iceberg_qty=req.iceberg_qty,
            ref_price=market.avg_price(now, mins),
        )
        failed = check_order(rules, check, counts)
        if failed:
            raise BinanceError.filter_failure(failed)
        return rules

    def place(self, account: Account, req: NewOrder, now: int) -> Order:
        market = self.sync(req.symbol, now)
        self._executions += 1
        new_id = self._executions
        try:
            order = self._place(account, req, market, now)
        except BinanceError:
            self._pending.clear()  # refused: nothing happened to the account
            self._moved.clear()
            self._executions = new_id - 1  # nor to its execution ids (a restored state replays no refusal)
            raise
        # NEW first, then what the order met on the way in (its fills, an expiry).
        new = execution_report(order, market.rules, "NEW", now, new_id, status="NEW", executed=ZERO, quote=ZERO)
        self._pending.insert(0, (account, new))
        self._flush(now)
        return order

    def _place(self, account: Account, req: NewOrder, market: SymbolMarket, now: int) -> Order:
        rules = self.validate(account, req, market, now)
        client_id = req.new_client_order_id or self.new_client_id()
        if any(o.client_order_id == client_id for o in account.open_orders()):
            raise BinanceError.rejected(Msg.DUPLICATE_ORDER)
        last = market.last_price
        if req.stop_price is not None:
            above = (req.type, req.side) in _TRIGGERS_ABOVE
            if (last >= req.stop_price) if above else (last <= req.stop_price):
                raise BinanceError.rejected(Msg.WOULD_TRIGGER)
        order = Order(
            symbol=req.symbol,
            order_id=self._next_order_id,
            client_order_id=client_id,
            side=req.side,
            type=req.type,
            time_in_force=req.time_in_force or "GTC",
            price=req.price or ZERO,
            orig_qty=req.quantity or ZERO,
            stop_price=req.stop_price or ZERO,
            iceberg_qty=req.iceberg_qty or ZERO,
            orig_quote_order_qty=req.quote_order_qty or ZERO,
            time=now,
            update_time=now,
            working_time=now,
            stp_mode=req.stp_mode,
        )
        if req.type == "MARKET":
            self._place_market(account, order, market, req)
        elif req.type in ALGO_TYPES:
            order.is_working, order.working_time = False, -1
            base, quote = rules.base_asset, rules.quote_asset
            per_unit = (order.price or order.stop_price) if order.side == "BUY" else Decimal(1)
            self._lock(account, order, quote if order.side == "BUY" else base, per_unit)
        else:
            self._place_limit(account, order, market)
        self._next_order_id += 1
        account.orders[order.order_id] = order
        if order.is_open:
            self._book_orders.setdefault(order.symbol, []).append((account, order))
        account.update_time = now
        return order

    def _place_market(self, account: Account, order: Order, market: SymbolMarket, req: NewOrder) -> None:
        plan = self._plan_for(order, market, limit=None)
        if req.quote_order_qty is not None:
            available = sum((q for _, q in self._levels(order, market)), ZERO)
            if available < market.rules.min_qty:
                raise BinanceError.rejected(Msg.THIN_BOOK)
        if not self._affordable(account, order, market, plan):
            raise BinanceError.rejected(Msg.INSUFFICIENT_BALANCE)
        self._take(account, order, market, plan, order.time)
        if req.quote_order_qty is not None:
            order.orig_qty = order.executed_qty
            spent = order.cum_quote
            # Filled when what is left of the budget cannot buy one more lot at the last price.
            book_left = self._levels(order, market)
            done = not book_left or (req.quote_order_qty - spent) < book_left[0][0] * (market.step or Decimal(1))
            order.status = "FILLED" if done and order.executed_qty > 0 else "EXPIRED"
        else:
            order.status = "FILLED" if order.remaining == 0 else "EXPIRED"
        if order.status == "EXPIRED":
            order.expiry_reason = "INSUFFICIENT_LIQUIDITY"
            self._report(account, order, "EXPIRED", order.time)

    def _place_limit(self, account: Account, order: Order, market: SymbolMarket) -> None:
        rules = market.rules
        base, quote = rules.base_asset, rules.quote_asset
        if order.type == "LIMIT_MAKER" and self._plan_for(order, market, limit=order.price):
            raise BinanceError.rejected(Msg.WOULD_TAKE)
        self._lock(
            account, order, quote if order.side == "BUY" else base, order.price if order.side == "BUY" else Decimal(1)
        )
        self._take_limit(account, order, market, order.time)

    def _take_limit(self, account: Account, order: Order, market: SymbolMarket, now: int) -> None:
        """Take what the book offers up to the limit price (all or nothing for FOK), then settle."""
        plan = self._plan_for(order, market, limit=order.price)
        if order.time_in_force == "FOK" and sum((q for _, q in plan), ZERO) < order.remaining:
            plan = []
        self._take(account, order, market, plan, now)
        self._finish(account, order, now)

    def _finish(self, account: Account, order: Order, now: int) -> None:
        """Status after taking: resting GTC orders stay open; IOC/FOK remainders expire."""
        order.update_time = now
        if order.remaining == 0:
            order.status = "FILLED"
        elif order.time_in_force in ("IOC", "FOK") and order.is_working:
            order.status = "EXPIRED"
        elif order.executed_qty > 0:
            order.status = "PARTIALLY_FILLED"
        if order.status == "EXPIRED":
            self._release(account, order, order.remaining)
            order.reserve_per_unit = ZERO
            self._report(account, order, "EXPIRED", now)

    def _levels(self, order: Order, market: SymbolMarket) -> list[tuple[Decimal, Decimal]]:
        bids, asks = market.book()
        return asks if order.side == "BUY" else bids

    def _plan_for(self, order: Order, market: SymbolMarket, limit: Decimal | None) -> list[tuple[Decimal, Decimal]]:
        by_quote = order.orig_quote_order_qty > 0 and order.type == "MARKET"
        return _plan(
            self._levels(order, market),
            side=order.side,
            limit=limit,
            qty=None if by_quote else order.remaining,
            quote=order.orig_quote_order_qty if by_quote else None,
            step=market.step,
        )

    def _affordable(
        self, account: Account, order: Order, market: SymbolMarket, plan: list[tuple[Decimal, Decimal]]
    ) -> bool:
        rules = market.rules
        if order.side == "BUY":
            return account.balance(rules.quote_asset).free >= sum((p * q for p, q in plan), ZERO)
        return account.balance(rules.base_asset).free >= sum((q for _, q in plan), ZERO)

    def _take(
        self, account: Account, order: Order, market: SymbolMarket, plan: list[tuple[Decimal, Decimal]], now: int
    ) -> None:
        book_side = "ASK" if order.side == "BUY" else "BID"
        for price, qty in plan:
            market.take(book_side, price, qty)
            self._fill(account, order, market, price, qty, is_maker=False, now=now)

    def _fill(
        self,
        account: Account,
        order: Order,
        market: SymbolMarket,
        price: Decimal,
        qty: Decimal,
        *,
        is_maker: bool,
        now: int,
    ) -> None:
        rules = market.rules
        base, quote = account.balance(rules.base_asset), account.balance(rules.quote_asset)
        self._release(account, order, qty)
        notional = price * qty
        buyer = order.side == "BUY"
        if buyer:
            commission = (qty * self.commission).quantize(Decimal(1).scaleb(-rules.base_precision), ROUND_UP)
            quote.free -= notional
            base.free += qty - commission
            asset = rules.base_asset
        else:
            commission = (notional * self.commission).quantize(Decimal(1).scaleb(-rules.quote_precision), ROUND_UP)
            base.free -= qty
            quote.free += notional - commission
            asset = rules.quote_asset
        trade = market.record(price, qty, now, is_buyer_maker=buyer == is_maker)
        fill = Fill(price, qty, commission, asset, trade.id, is_maker, trade.time, order.order_id, buyer)
        order.executed_qty += qty
        order.cum_quote += notional
        order.update_time = now
        order.fills.append(fill)
        account.fills.append(fill)
        account.fill_symbols.append(order.symbol)
        account.update_time = now
        self._touch(account, rules.base_asset, rules.quote_asset)
        status = "FILLED" if order.remaining == 0 else "PARTIALLY_FILLED"
        self._report(account, order, "TRADE", now, status=status, fill=fill)

    # -- cancelling and looking up ------------------------------------------------------------
    def find(
        self, account: Account, symbol: str, order_id: int | None, client_id: str | None, *, code: int, msg: str
    ) -> Order:
        order = None
        if order_id is not None:
            order = account.orders.get(order_id)
            if order is not None and client_id is not None and order.client_order_id != client_id:
                order = None
        elif client_id is not None:
            # Open orders first: an id can be reused once its earlier order is closed.
            matches = [o for o in account.orders.values() if o.symbol == symbol and o.client_order_id == client_id]
            matches.sort(key=lambda o: (o.is_open, o.order_id))
            order = matches[-1] if matches else None
        if order is None or order.symbol != symbol:
            raise BinanceError(code, msg)
        return order

    def cancel(
        self, account: Account, order: Order, now: int, restriction: str | None = None, cancel_id: str = ""
    ) -> Order:
        """Cancel an open order; `cancel_id` is the cancel request's own client order id."""
        if not order.is_open:
            raise BinanceError(-2011, Msg.UNKNOWN_ORDER)
        if (restriction == "ONLY_NEW" and order.status != "NEW") or (
            restriction == "ONLY_PARTIALLY_FILLED" and order.status != "PARTIALLY_FILLED"
        ):
            raise BinanceError(-2011, Msg.CANCEL_RESTRICTED)
        self._release(account, order, order.remaining)
        order.reserve_per_unit = ZERO
        order.status = "CANCELED"
        order.update_time = now
        account.update_time = now
        self._report(account, order, "CANCELED", now, cancel_id=cancel_id or self.new_client_id())
        self._flush(now)
        return order

    def new_client_id(self) -> str:
        alphabet = string.ascii_letters + string.digits
        return "".join(self._ids.choice(alphabet) for _ in range(22))

    def next_order_id(self) -> int:
        return self._next_order_id


def order_fields(order: Order, rules: SymbolRules, resp_type: str) -> dict[str, object]:
    """A new-order response in ACK, RESULT or FULL form."""
    qp, bp = rules.quote_precision, rules.base_precision
    out: dict[str, object] = {
        "symbol": order.symbol,
        "orderId": order.order_id,
        "orderListId": -1,
        "clientOrderId": order.client_order_id,
        "transactTime": order.time,
    }
    if resp_type == "ACK":
        return out
    out.update(_state(order, qp, bp))
    out["workingTime"] = order.working_time
    out["selfTradePreventionMode"] = order.stp_mode
    if resp_type == "FULL":
        out["fills"] = [
            {
                "price": fmt(f.price, qp),
                "qty": fmt(f.qty, bp),
                "commission": fmt(f.commission, bp if f.is_buyer else qp),
                "commissionAsset": f.commission_asset,
                "tradeId": f.trade_id,
            }
            for f in order.fills
        ]
    return out


def _state(order: Order, qp: int, bp: int) -> dict[str, object]:
    out: dict[str, object] = {
        "price": fmt(order.price, qp),
        "origQty": fmt(order.orig_qty, bp),
        "executedQty": fmt(order.executed_qty, bp),
        "origQuoteOrderQty": fmt(order.orig_quote_order_qty, qp),
        "cummulativeQuoteQty": fmt(order.cum_quote, qp),
        "status": order.status,
        "timeInForce": order.time_in_force,
        "type": order.type,
        "side": order.side,
    }
    if order.stop_price:
        out["stopPrice"] = fmt(order.stop_price, qp)
    if order.iceberg_qty:
        out["icebergQty"] = fmt(order.iceberg_qty, bp)
    if order.expiry_reason:
        out["expiryReason"] = order.expiry_reason
    return out


def order_query_fields(order: Order, rules: SymbolRules) -> dict[str, object]:
    """An order as GET order / openOrders / allOrders show it."""
    qp, bp = rules.quote_precision, rules.base_precision
    out: dict[str, object] = {
        "symbol": order.symbol,
        "orderId": order.order_id,
        "orderListId": -1,
        "clientOrderId": order.client_order_id,
    }
    out.update(_state(order, qp, bp))
    out.setdefault("stopPrice", fmt(order.stop_price, qp))
    out.setdefault("icebergQty", fmt(order.iceberg_qty, bp))
    out.update(
        time=order.time,
        updateTime=order.update_time,
        isWorking=order.is_working,
        workingTime=order.working_time,
        selfTradePreventionMode=order.stp_mode,
    )
    return out


def cancel_fields(order: Order, rules: SymbolRules, cancel_client_id: str, now: int) -> dict[str, object]:
    qp, bp = rules.quote_precision, rules.base_precision
    out: dict[str, object] = {
        "symbol": order.symbol,
        "origClientOrderId": order.client_order_id,
        "orderId": order.order_id,
        "orderListId": -1,
        "clientOrderId": cancel_client_id,
        "transactTime": now,
    }
    out.update(_state(order, qp, bp))
    out["selfTradePreventionMode"] = order.stp_mode
    return out


def fill_fields(fill: Fill, symbol: str, rules: SymbolRules) -> dict[str, object]:
    qp, bp = rules.quote_precision, rules.base_precision
    return {
        "symbol": symbol,
        "id": fill.trade_id,
        "orderId": fill.order_id,
        "orderListId": -1,
        "price": fmt(fill.price, qp),
        "qty": fmt(fill.qty, bp),
        "quoteQty": fmt(fill.price * fill.qty, qp),
        "commission": fmt(fill.commission, bp if fill.is_buyer else qp),
        "commissionAsset": fill.commission_asset,
        "time": fill.time,
        "isBuyer": fill.is_buyer,
        "isMaker": fill.is_maker,
        "isBestMatch": True,
    }


def execution_report(
    order: Order,
    rules: SymbolRules,
    x: str,
    now: int,
    execution_id: int,
    *,
    status: str | None = None,
    executed: Decimal | None = None,
    quote: Decimal | None = None,
    fill: Fill | None = None,
    cancel_id: str = "",
) -> dict[str, object]:
    """An `executionReport` as the user data stream carries it (BINANCE.md Part 4 §5): `x` the
    execution type; a cancel's `c` is the cancel's own client id and `C` the order's."""
    qp, bp = rules.quote_precision, rules.base_precision
    executed = order.executed_qty if executed is None else executed
    quote = order.cum_quote if quote is None else quote
    zero_b, zero_q = fmt(ZERO, bp), fmt(ZERO, qp)
    return {
        "e": "executionReport",
        "E": now,
        "s": order.symbol,
        "c": cancel_id or order.client_order_id,
        "S": order.side,
        "o": order.type,
        "f": order.time_in_force,
        "q": fmt(order.orig_qty, bp),
        "p": fmt(order.price, qp),
        "P": fmt(order.stop_price, qp),
        "F": fmt(order.iceberg_qty, bp),
        "g": -1,
        "C": order.client_order_id if cancel_id else "",
        "x": x,
        "X": status or order.status,
        "r": "NONE",
        "i": order.order_id,
        "l": fmt(fill.qty, bp) if fill else zero_b,
        "z": fmt(executed, bp),
        "L": fmt(fill.price, qp) if fill else zero_q,
        "n": (fmt(fill.commission, bp if fill.is_buyer else qp) if fill else "0"),
        "N": fill.commission_asset if fill else None,
        "T": fill.time if fill else now,
        "t": fill.trade_id if fill else -1,
        "I": execution_id,
        "w": (status or order.status) in OPEN_STATUSES and order.is_working,
        "m": fill.is_maker if fill else False,
        "M": False,
        "O": order.time,
        "Z": fmt(quote, qp),
        "Y": fmt(fill.price * fill.qty, qp) if fill else zero_q,
        "Q": fmt(order.orig_quote_order_qty, qp),
        "W": order.working_time,
        "V": order.stp_mode,
    }


def balance_report(account: Account, assets: list[str], now: int) -> dict[str, object]:
    """An `outboundAccountPosition`: the balances of the assets that may have changed."""
    return {
        "e": "outboundAccountPosition",
        "E": now,
        "u": account.update_time or now,
        "B": [{"a": a, "f": fmt(account.balance(a).free, 8), "l": fmt(account.balance(a).locked, 8)} for a in assets],
    }
