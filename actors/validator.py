"""The validator: raw arguments → a typed command, checked against the exchange's own rules and
the trading guard.

Order of checks: size (16 KiB of raw arguments), types and constraints (msgspec, strict), what
spans fields (`Command.problem`), symbol syntax, then, unless `MCP_INPUT_VALIDATION=false`, the
exchange rules: the symbol must be listed in exchangeInfo (cached; refreshed at most hourly, in
the background). Trading tools then meet the guard (trading enabled, allowlist, confirmation
possible) and, for orders, Binance's rules in Binance's order: symbol status, order type,
parameters, precision, then every filter of the symbol against the average price and the
symbol's open orders (fetched in a task), then the guard's caps on the order's value. Any
failure is a `Rejected` outcome, journaled like every other; nothing here raises into the
pipeline, and nothing rejected is ever sent.
"""

from __future__ import annotations

import asyncio
import difflib
import logging
import time
import unicodedata
from collections.abc import Awaitable, Callable
from decimal import ROUND_DOWN, ROUND_UP, Decimal
from typing import Any

import msgspec

from binance_mcp.actors.base import Actor, Reply
from binance_mcp.actors.guard import DailyNotional, Guard, Ledger
from binance_mcp.actors.limiter import NotSent
from binance_mcp.actors.messages import Envelope, Finish, OrderFacts, Priced, RateBudget, Settle, Validated
from binance_mcp.events.commands import (
    ARGUMENTS,
    CHOICES,
    COMMANDS,
    Command,
    CreateOrder,
    GetSymbolInfo,
    InvalidArgument,
    OrderSpec,
    decode,
    nearest_argument,
)
from binance_mcp.events.outcomes import (
    CONFIRMATION_UNAVAILABLE,
    FILTER_FAILURE,
    FORBIDDEN,
    GUARD_LIMIT,
    ORDER_REJECTED,
    RATE_LIMITED,
    REQUEST_TOO_LARGE,
    SYMBOL_NOT_ALLOWED,
    TRADING_DISABLED,
    TRADING_HALTED,
    TRANSPORT_ERROR,
    UNKNOWN_SYMBOL,
    UNKNOWN_TOOL,
    UNSUPPORTED_ON_VENUE,
    VALIDATION_ERROR,
    Failed,
    Rejected,
    bounded,
    echo,
)
from binance_mcp.exchange.errors import ExchangeError, RateLimited
from binance_mcp.exchange.rules import (
    OpenOrderCounts,
    OrderCheck,
    SymbolRules,
    check_order,
    code_problem,
    decimal_places,
    explain_failure,
    normalize_code,
    normalize_symbol,
    order_param_problem,
    plain,
    symbol_problem,
)

__all__ = ["MAX_ARGS_BYTES", "UNSUPPORTED", "MarketFacts", "SymbolDirectory", "Validator", "order_value", "rate_limits"]

log = logging.getLogger("binance_mcp.validator")
MAX_ARGS_BYTES = 16 * 1024
REFRESH_S = 3600.0


def rate_limits(info: Any) -> RateBudget:
    """exchangeInfo's REQUEST_WEIGHT limit per minute and ORDERS limits per 10 s and per day,
    those it states."""
    weight = ten_s = day = None
    for limit in info.get("rateLimits", ()):
        kind, interval, count = limit.get("rateLimitType"), limit.get("interval"), int(limit.get("intervalNum", 1))
        if kind == "REQUEST_WEIGHT" and interval == "MINUTE" and count >= 1:
            weight = int(limit["limit"]) // count
        elif kind == "ORDERS" and interval == "SECOND" and count == 10:
            ten_s = int(limit["limit"])
        elif kind == "ORDERS" and interval == "DAY" and count == 1:
            day = int(limit["limit"])
    return RateBudget(per_minute=weight, orders_per_10s=ten_s, orders_per_day=day)


class SymbolDirectory:
    """exchangeInfo's symbols, cached. `refresh` is I/O; lookups are not."""

    def __init__(
        self,
        fetch: Callable[[], Awaitable[Any]],
        clock: Callable[[], float] = time.monotonic,
        on_rate_limits: Callable[[RateBudget], None] | None = None,
    ):
        self._fetch = fetch
        self.clock = clock
        self.on_rate_limits = on_rate_limits
        self.symbols: dict[str, dict[str, Any]] = {}
        self.rules: dict[str, SymbolRules] = {}
        self.loaded_at: float | None = None
        self._refreshing: asyncio.Task[None] | None = None

    async def refresh(self) -> None:
        info = await self._fetch()
        self.symbols = {s["symbol"]: s for s in info["symbols"]}
        self.rules = {name: SymbolRules.from_exchange_info(s) for name, s in self.symbols.items()}
        self.loaded_at = self.clock()
        if self.on_rate_limits is not None:
            self.on_rate_limits(rate_limits(info))

    def refresh_if_stale(self) -> None:
        """Start a background refresh when the cache is over an hour old; never waits for it."""
        stale = self.loaded_at is None or self.clock() - self.loaded_at > REFRESH_S
        if stale and (self._refreshing is None or self._refreshing.done()):
            self._refreshing = asyncio.create_task(self._refresh_logged())

    async def _refresh_logged(self) -> None:
        try:
            await self.refresh()
        except Exception as exc:
            log.warning("exchangeInfo refresh failed; keeping the cached symbols: %s", exc)

    def closest(self, symbol: str, n: int = 3) -> tuple[str, ...]:
        return tuple(difflib.get_close_matches(symbol, self.symbols, n=n, cutoff=0.5))


# symbol → (avg price, open, open algo), or why the lookups could not be sent now
MarketFacts = Callable[[str], Awaitable[tuple[Decimal, int, int] | NotSent]]


class Validator(Actor):
    """Checks each command; an order's price-dependent checks wait for its market facts (the
    average price and the symbol's open orders), fetched in a task of their own so the mailbox
    never waits on the exchange."""

    def __init__(
        self,
        directory: SymbolDirectory,
        next_stage: Actor,
        journal: Actor,
        *,
        exchange_rules: bool = True,
        guard: Guard | None = None,
        ledger: Ledger | None = None,
        catch_up: Callable[[], None] = lambda: None,
        market_facts: MarketFacts | None = None,
        confirmer: Actor | None = None,
        clock_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
        families: frozenset[str] = frozenset({"spot", "wallet", "futures"}),
    ):
        super().__init__("validator")
        self.families = families
        self.directory = directory
        self.next_stage = next_stage
        self.journal = journal
        self.exchange_rules = exchange_rules
        self.guard = guard or Guard()
        self.ledger = ledger or Ledger()  # the guard's state across every run on the log (the System's)
        self.catch_up = catch_up  # folds into it what the log holds since it last looked
        self.market_facts = market_facts
        self.confirmer = confirmer
        self.clock_ms = clock_ms
        self._lookups: set[asyncio.Task[None]] = set()

    @property
    def daily(self) -> DailyNotional:
        return self.ledger.daily

    async def handle(self, message: Envelope | Priced | Settle, reply: Reply) -> None:
        if isinstance(message, Settle):
            self.daily.settle(message.command_id, message.placed)
            if reply is not None and not reply.done():
                reply.set_result(None)
            return
        result = self.check_priced(message) if isinstance(message, Priced) else self.check(message)
        if isinstance(result, Rejected):
            env = message.envelope if isinstance(message, Priced) else message
            await self.journal.tell(Finish(envelope=env, outcome=result), reply)
        elif isinstance(result, Priced):  # its facts are being fetched; it comes back as Priced
            self._look_up(result, reply)
        else:
            await self._admit(result, reply)

    async def _admit(self, validated: Validated, reply: Reply) -> None:
        command = validated.command
        if isinstance(command, CreateOrder) and validated.facts is not None and validated.facts.notional is not None:
            facts = validated.facts
            assert facts.notional is not None
            self.ledger.reserve(validated.envelope.command_id, facts.quote_asset, facts.notional, self.clock_ms())
        if command.changes_state and self.guard.confirm_orders and self.confirmer is not None:
            await self.confirmer.tell(validated, reply)
        else:
            await self.next_stage.tell(validated, reply)

    def _look_up(self, pending: Priced, reply: Reply) -> None:
        async def look_up() -> None:
            assert self.market_facts is not None
            symbol = getattr(pending.command, "symbol", "")
            try:
                facts = await self.market_facts(symbol)
            except Exception as exc:  # whatever it is, the caller gets an outcome and nothing is sent
                why = exc.message if isinstance(exc, ExchangeError) else f"{type(exc).__name__}: {exc}"
                message = f"could not read {symbol}'s average price and open orders to check the order: {why}"
                code = exc.code if isinstance(exc, ExchangeError) else None
                kind = RATE_LIMITED if isinstance(exc, RateLimited) else TRANSPORT_ERROR
                failed = Failed(kind=kind, message=message, code=code)
                await self.journal.tell(Finish(envelope=pending.envelope, outcome=failed), reply)
                return
            if isinstance(facts, NotSent):  # backing off, no weight left: not even the lookups went
                held = msgspec.structs.replace(facts, message=f"{facts.message}; the order was not sent")
                await self.journal.tell(Finish(envelope=pending.envelope, outcome=held), reply)
                return
            price, open_orders, open_algo = facts
            priced = msgspec.structs.replace(
                pending, ref_price=price, open_orders=open_orders, open_algo_orders=open_algo
            )
            await self.tell(priced, reply)

        task = asyncio.create_task(look_up())
        self._lookups.add(task)
        task.add_done_callback(self._lookups.discard)

    def check(self, env: Envelope) -> Validated | Rejected | Priced:
        if env.raw_size > MAX_ARGS_BYTES:
            return Rejected(
                kind=REQUEST_TOO_LARGE, message=f"arguments are {env.raw_size} bytes; the limit is {MAX_ARGS_BYTES}"
            )
        if env.tool not in COMMANDS:  # on record all the same: probing with made-up names shows
            return Rejected(kind=UNKNOWN_TOOL, message=f"there is no tool {echo(env.tool)}")
        try:
            command = decode(env.tool, env.args)
        except InvalidArgument as exc:
            return Rejected(kind=VALIDATION_ERROR, message=str(exc), field=exc.field)
        except msgspec.ValidationError as exc:
            text = bounded(str(exc))
            field = text.rsplit("`$.", 1)[1].rstrip("`").split(".")[0].split("[")[0] if "`$." in text else None
            if field is None and ("unknown field" in text or "missing required field" in text):
                field = text.split("`")[1] if "`" in text else None
            choices = CHOICES[env.tool].get(field or "")
            if choices is not None:  # say what it may be
                text += f"; {field} is one of {', '.join(map(str, choices))}"
            if field is not None and "unknown field" in text:  # the argument it most likely meant
                meant = nearest_argument(env.tool, field)
                text += f"; did you mean {meant}?" if meant else f"; {env.tool} takes {', '.join(ARGUMENTS[env.tool])}"
            return Rejected(kind=VALIDATION_ERROR, message=f"invalid arguments for {env.tool}: {text}", field=field)
        problem = command.problem()
        if problem is not None:
            return Rejected(kind=VALIDATION_ERROR, message=problem[1], field=problem[0])
        family = command.family()
        if family not in self.families and family != "local":
            return Rejected(kind=UNSUPPORTED_ON_VENUE, message=UNSUPPORTED[family])
        trading = command.signed and command.method != "GET"  # orders, order tests and cancels
        symbol = getattr(command, "symbol", None)
        if symbol is not None:
            normalized = normalize_symbol(symbol)
            # The guard needs the symbol's quote asset, so a trading tool always checks the listing.
            # Futures symbols are not in the spot exchangeInfo: only spot tools are checked.
            spot = family in ("spot", "local")
            listed = spot and (self.exchange_rules or trading or isinstance(command, GetSymbolInfo))
            if listed:
                self.directory.refresh_if_stale()
            if not (listed and normalized in self.directory.symbols):  # a listed symbol is taken as listed
                problem_text = symbol_problem(normalized)
                if problem_text:
                    # What the look-alike looks like (NFKC folds 'ſ' and fullwidth letters, upper() 'ı'):
                    # named as a hint, never taken in its place.
                    meant = normalize_symbol(unicodedata.normalize("NFKC", symbol).upper())
                    looks_like = listed and meant != normalized and meant in self.directory.symbols
                    return Rejected(
                        kind=VALIDATION_ERROR,
                        message=f"symbol {echo(symbol)} {problem_text}"
                        + (f"; did you mean {meant}?" if looks_like else ""),
                        field="symbol",
                        suggestions=(meant,) if looks_like else (),
                    )
                if listed:
                    suggestions = self.directory.closest(normalized)
                    hint = f"; did you mean {', '.join(suggestions)}?" if suggestions else ""
                    return Rejected(
                        kind=UNKNOWN_SYMBOL,
                        message=f"{normalized} is not listed on this venue{hint}",
                        field="symbol",
                        suggestions=suggestions,
                    )
            command = msgspec.structs.replace(command, symbol=normalized)
        for name in ("quote_asset", "asset", "coin", "network"):
            value = getattr(command, name, None)
            if value is not None:
                code = normalize_code(value)
                problem_text = code_problem(code)
                if problem_text:
                    return Rejected(kind=VALIDATION_ERROR, message=f"{name} {echo(value)} {problem_text}", field=name)
                command = msgspec.structs.replace(command, **{name: code})
        if not trading:
            return Validated(envelope=env, command=command)
        return self._check_trading(env, command)

    def _check_trading(self, env: Envelope, command: Command) -> Validated | Rejected | Priced:
        """The guard's static part, then (orders) the rules that need no price."""
        symbol: str = getattr(command, "symbol", "")
        if command.changes_state and env.scopes is not None and "trade" not in env.scopes:
            return Rejected(
                kind=FORBIDDEN,
                message=f"{env.tool} needs a token with the trade scope; this one has "
                f"{', '.join(sorted(env.scopes)) or 'none'}; nothing was sent",
            )
        if command.changes_state and not self.guard.trading_enabled:
            return Rejected(
                kind=TRADING_DISABLED,
                message=f"trading is disabled on this server (MCP_TRADING_ENABLED=false); nothing was sent. "
                f"{env.tool} needs MCP_TRADING_ENABLED=true",
            )
        allow = self.guard.symbol_allowlist
        if allow is not None and symbol not in allow:
            return Rejected(
                kind=SYMBOL_NOT_ALLOWED,
                message=f"{symbol} is not in MCP_SYMBOL_ALLOWLIST ({', '.join(sorted(allow)) or 'empty'}); "
                "nothing was sent",
                field="symbol",
            )
        if command.changes_state and self.guard.confirm_orders and not env.can_confirm:
            return Rejected(
                kind=CONFIRMATION_UNAVAILABLE,
                message="MCP_CONFIRM_ORDERS=true and this client cannot ask its user to confirm (no MCP "
                "elicitation); nothing was sent",
            )
        if isinstance(command, CreateOrder):
            self.catch_up()
            if self.ledger.halt is not None:  # before the order's market facts are read (weight)
                return self._halted()
        rules = self.directory.rules[symbol]
        if not isinstance(command, OrderSpec):
            facts = OrderFacts(quote_asset=rules.quote_asset, base_asset=rules.base_asset)
            return Validated(envelope=env, command=command, facts=facts)
        static = self._order_problem(rules, command, env.args) if self.exchange_rules else None
        if static is not None:
            return static
        if self.market_facts is None:  # no way to value it: refuse rather than trade blind
            return Rejected(kind=VALIDATION_ERROR, message="orders cannot be checked on this server; nothing was sent")
        return Priced(envelope=env, command=command, ref_price=Decimal(0), open_orders=0, open_algo_orders=0)

    @staticmethod
    def _order_problem(rules: SymbolRules, order: OrderSpec, raw: dict[str, Any] | None = None) -> Rejected | None:
        """Status, order type and parameters, precision: what Binance refuses before any filter
        (`raw`: the arguments as they came, to say how an amount was sent)."""
        if rules.status != "TRADING":
            return Rejected(
                kind=ORDER_REJECTED,
                message=f"{rules.symbol} is not trading (status {rules.status}); Binance would answer "
                "'Market is closed.'",
                field="symbol",
            )
        if order.type not in rules.order_types:
            allowed = ", ".join(sorted(rules.order_types))
            return Rejected(
                kind=ORDER_REJECTED,
                message=f"{order.type} orders are not supported for {rules.symbol}; it allows {allowed}",
                field="type",
            )
        wrong = order_param_problem(
            order.type,
            quantity=order.quantity,
            quote_quantity=order.quote_quantity,
            price=order.price,
            stop_price=order.stop_price,
            time_in_force=order.time_in_force,
        )
        if wrong is not None:
            return Rejected(kind=VALIDATION_ERROR, message=wrong[1], field=wrong[0])
        if order.quote_quantity is not None and not rules.quote_order_qty_market_allowed:
            return Rejected(
                kind=ORDER_REJECTED,
                message=f"{rules.symbol} does not take MARKET orders by quote_quantity; give quantity",
                field="quote_quantity",
            )
        for name, value, places, asset in (
            ("quantity", order.quantity, rules.base_precision, rules.base_asset),
            ("quote_quantity", order.quote_quantity, rules.quote_precision, rules.quote_asset),
            ("price", order.price, rules.quote_precision, rules.quote_asset),
            ("stop_price", order.stop_price, rules.quote_precision, rules.quote_asset),
        ):
            if value is not None and decimal_places(value) > places:
                step = Decimal(1).scaleb(-places)
                down, up = value.quantize(step, ROUND_DOWN), value.quantize(step, ROUND_UP)
                nearest = " or ".join(plain(v) for v in dict.fromkeys((down, up)) if v > 0)
                sent = (raw or {}).get(name)
                as_number = isinstance(sent, int | float) and not isinstance(sent, bool)
                return Rejected(
                    kind=VALIDATION_ERROR,
                    message=f"{name} {plain(value)} has too many decimal places: {asset} allows {places} "
                    f"(Binance -1111); the nearest that pass: {nearest}"
                    + (". Send amounts as strings to keep them exact." if as_number else ""),
                    field=name,
                    suggestions=tuple(plain(v) for v in dict.fromkeys((down, up)) if v > 0),
                )
        return None

    def check_priced(self, message: Priced) -> Validated | Rejected:
        """The filters that need the reference price, then the guard's caps."""
        order = message.command
        assert isinstance(order, OrderSpec)
        rules = self.directory.rules[order.symbol]
        check = OrderCheck(
            side=order.side,
            type=order.type,
            quantity=order.quantity,
            quote_order_qty=order.quote_quantity,
            price=order.price,
            stop_price=order.stop_price,
            ref_price=message.ref_price,
        )
        if self.exchange_rules:
            counts = OpenOrderCounts(orders=message.open_orders, algo_orders=message.open_algo_orders)
            failed = check_order(rules, check, counts)
            if failed is not None:
                return Rejected(
                    kind=FILTER_FAILURE,
                    message=explain_failure(rules, check, failed, counts),
                    field=_FILTER_FIELDS.get(failed),
                )
        notional = order_value(order, message.ref_price)
        facts = OrderFacts(
            quote_asset=rules.quote_asset, base_asset=rules.base_asset, notional=notional, ref_price=message.ref_price
        )
        judged = self.judge(order, facts)
        if isinstance(judged, Rejected):
            return judged
        return Validated(envelope=message.envelope, command=order, facts=judged)

    def judge(self, order: Command, facts: OrderFacts, command_id: str = "") -> OrderFacts | Rejected:
        """The guard's part that depends on every run on the log (as the ledger has folded it): a
        halt, the caps. Passed: the facts with the log position the decision saw. `command_id`: an
        order judged again (its `dispatched` was refused): its own reservation does not count."""
        if isinstance(order, CreateOrder) and self.ledger.halt is not None:
            return self._halted()
        over = self._over_caps(facts, command_id)
        if over is not None:
            return over
        return msgspec.structs.replace(facts, seen_seq=self.ledger.seen)

    def _halted(self) -> Rejected:
        halt = self.ledger.halt
        assert halt is not None
        return Rejected(
            kind=TRADING_HALTED,
            message=f"trading is halted on this event log ({bounded(halt.reason) or 'no reason given'}; by "
            f"{bounded(halt.user) or '?'} on {bounded(halt.host) or '?'}); nothing was sent. "
            "Reads and cancels still work. "
            "`binance-mcp resume` lets orders through again",
        )

    def _over_caps(self, facts: OrderFacts, command_id: str = "") -> Rejected | None:
        if facts.notional is None:
            return None
        asset, value = facts.quote_asset, facts.notional
        cap = self.guard.max_order_notional.of(asset)
        if cap is not None and value > cap:
            return Rejected(
                kind=GUARD_LIMIT,
                message=f"order value {plain(value)} {asset} is over MCP_MAX_ORDER_NOTIONAL, {plain(cap)} {asset} "
                f"per order; nothing was sent",
            )
        daily = self.guard.max_daily_notional.of(asset)
        if daily is not None:
            used = self.daily.used(asset, self.clock_ms(), excluding=command_id)
            left = max(daily - used, Decimal(0))
            if value > left:
                return Rejected(
                    kind=GUARD_LIMIT,
                    message=f"order value {plain(value)} {asset} is over what is left of MCP_MAX_DAILY_NOTIONAL: "
                    f"{plain(left)} of {plain(daily)} {asset} in the last 24 hours ({plain(used)} used); "
                    "nothing was sent",
                )
        return None


UNSUPPORTED = {
    "wallet": "this venue has no wallet API (/sapi): the spot testnet has none; use the live venue",
    "futures": "this venue has no futures API (/fapi): set BINANCE_FUTURES_BASE_URL (the futures testnet is "
    "https://testnet.binancefuture.com)",
    "spot": "this venue has no spot API",
}


_FILTER_FIELDS = {
    "PRICE_FILTER": "price",
    "PERCENT_PRICE": "price",
    "PERCENT_PRICE_BY_SIDE": "price",
    "LOT_SIZE": "quantity",
    "MARKET_LOT_SIZE": "quantity",
    "NOTIONAL": "quantity",
    "MIN_NOTIONAL": "quantity",
}


def order_value(order: OrderSpec, ref_price: Decimal) -> Decimal:
    """An order's value in its quote asset: quote_quantity as given; else quantity at its price
    (limit price, stop price for a stop that becomes a market order, the average price for MARKET)."""
    if order.quote_quantity is not None:
        return order.quote_quantity
    assert order.quantity is not None
    price = order.price or order.stop_price or ref_price
    return order.quantity * price
