"""Exchange rules: exchangeInfo symbol filters as pure functions over Decimal.

Used by the paper exchange to reject orders as Binance does, and by the validator to reject
them before they leave the machine. No I/O, no asyncio: plain data in, a verdict out.

A check returns the name of the first filter that fails (Binance reports it as
"Filter failure: NAME"), or None when the order passes. A filter field set to 0 switches off
its own rule, as in the real data (MARKET_LOT_SIZE stepSize "0.00000000").

Exact and total: the checks and hints compute in `EXACT`, a decimal context wide enough that no
product, remainder or quotient of amounts Binance accepts (20 digits before the point, 20 after)
is rounded or refused; `plain` and `decimal_places` do no arithmetic at all, so they never round
and never overflow, whatever the exponent.
"""

from __future__ import annotations

import functools
import string
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_UP, Context, Decimal, localcontext
from typing import Any, ParamSpec, TypeVar

__all__ = [
    "ALGO_TYPES",
    "EXACT",
    "NEEDS_PRICE",
    "NEEDS_STOP_PRICE",
    "NEEDS_TIME_IN_FORCE",
    "ORDER_TYPES",
    "SYMBOL_SEPARATORS",
    "OpenOrderCounts",
    "OrderCheck",
    "SymbolRules",
    "check_order",
    "code_problem",
    "decimal_places",
    "explain_failure",
    "floor_to_step",
    "is_multiple",
    "normalize_code",
    "normalize_symbol",
    "order_param_problem",
    "plain",
    "symbol_problem",
]

ZERO = Decimal(0)
ORDER_TYPES = frozenset(
    {"LIMIT", "MARKET", "STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT", "LIMIT_MAKER"}
)
ALGO_TYPES = frozenset({"STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"})
NEEDS_TIME_IN_FORCE = frozenset({"LIMIT", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"})
NEEDS_PRICE = frozenset({"LIMIT", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT", "LIMIT_MAKER"})
NEEDS_STOP_PRICE = ALGO_TYPES


def is_multiple(value: Decimal, step: Decimal) -> bool:
    """`value % step == 0` in exact arithmetic; a zero step means the rule is off."""
    return step == 0 or value % step == 0


def floor_to_step(value: Decimal, step: Decimal) -> Decimal:
    """The largest multiple of `step` not above `value` (value itself when step is 0)."""
    if step == 0:
        return value
    return (value / step).to_integral_value(rounding=ROUND_DOWN) * step


# 200 significant digits: amounts have at most 40, filters at most 20 more; Emax/Emin far past
# any exponent an amount may carry, so nothing here rounds, overflows or underflows silently.
EXACT = Context(prec=200, Emax=10**6, Emin=-(10**6))


P = ParamSpec("P")
R = TypeVar("R")


def exact(check: Callable[P, R]) -> Callable[P, R]:
    """Run `check` in the EXACT decimal context."""

    @functools.wraps(check)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        with localcontext(EXACT):
            return check(*args, **kwargs)

    return run


def _stripped(value: Decimal) -> Decimal:
    """`value` without trailing zeros, exactly (`normalize()` rounds to the context's precision and
    raises Overflow on a large exponent; this only rebuilds the digits)."""
    sign, digits, exponent = value.as_tuple()
    if not isinstance(exponent, int):  # NaN or infinity: nothing to strip
        return value
    kept = len(digits)
    while kept > 1 and digits[kept - 1] == 0:
        kept -= 1
    if kept == 1 and digits[0] == 0:
        return Decimal(0)
    return Decimal((sign, digits[:kept], exponent + len(digits) - kept))


def plain(value: Decimal) -> str:
    """A decimal as Binance takes it: fixed point, no exponent, no trailing zeros ('0.00001', '65000')."""
    return format(_stripped(value), "f")


def decimal_places(value: Decimal) -> int:
    """Significant decimal places: Decimal('1.2300') has 2."""
    exponent = _stripped(value).as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


@dataclass(frozen=True)
class SymbolRules:
    """One exchangeInfo symbol entry, with its filters keyed by filterType."""

    symbol: str
    status: str
    base_asset: str
    quote_asset: str
    base_precision: int
    quote_precision: int
    order_types: frozenset[str]
    iceberg_allowed: bool
    quote_order_qty_market_allowed: bool
    filters: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @classmethod
    def from_exchange_info(cls, entry: Mapping[str, Any]) -> SymbolRules:
        return cls(
            symbol=entry["symbol"],
            status=entry["status"],
            base_asset=entry["baseAsset"],
            quote_asset=entry["quoteAsset"],
            base_precision=int(entry["baseAssetPrecision"]),
            quote_precision=int(entry["quoteAssetPrecision"]),
            order_types=frozenset(entry["orderTypes"]),
            iceberg_allowed=bool(entry.get("icebergAllowed", False)),
            quote_order_qty_market_allowed=bool(entry.get("quoteOrderQtyMarketAllowed", False)),
            filters={f["filterType"]: f for f in entry["filters"]},
        )

    def dec(self, filter_type: str, name: str) -> Decimal:
        return Decimal(self.filters[filter_type][name])

    @property
    def tick_size(self) -> Decimal:
        return self.dec("PRICE_FILTER", "tickSize") if "PRICE_FILTER" in self.filters else ZERO

    @property
    def step_size(self) -> Decimal:
        return self.dec("LOT_SIZE", "stepSize") if "LOT_SIZE" in self.filters else ZERO

    @property
    def min_qty(self) -> Decimal:
        return self.dec("LOT_SIZE", "minQty") if "LOT_SIZE" in self.filters else ZERO


@dataclass(frozen=True)
class OrderCheck:
    """What the filters look at in a new order. `ref_price` is the PERCENT_PRICE / NOTIONAL
    reference (the average price over avgPriceMins, or the last price)."""

    side: str
    type: str
    quantity: Decimal | None = None
    quote_order_qty: Decimal | None = None
    price: Decimal | None = None
    stop_price: Decimal | None = None
    iceberg_qty: Decimal | None = None
    ref_price: Decimal | None = None


@dataclass(frozen=True)
class OpenOrderCounts:
    """The account's open orders on the symbol, and its position, for the count filters."""

    orders: int = 0
    algo_orders: int = 0
    iceberg_orders: int = 0
    position: Decimal = ZERO


def _price_filter(f: Mapping[str, Any], order: OrderCheck) -> bool:
    lo, hi, tick = Decimal(f["minPrice"]), Decimal(f["maxPrice"]), Decimal(f["tickSize"])
    for price in (order.price, order.stop_price):
        if price is None:
            continue
        if (lo and price < lo) or (hi and price > hi) or not is_multiple(price, tick):
            return False
    return True


def _lot(f: Mapping[str, Any], qty: Decimal) -> bool:
    lo, hi, step = Decimal(f["minQty"]), Decimal(f["maxQty"]), Decimal(f["stepSize"])
    return not ((lo and qty < lo) or (hi and qty > hi) or not is_multiple(qty, step))


def _lot_size(f: Mapping[str, Any], order: OrderCheck) -> bool:
    qtys = (order.quantity, order.iceberg_qty)
    return all(_lot(f, q) for q in qtys if q is not None)


def _market_lot_size(f: Mapping[str, Any], order: OrderCheck) -> bool:
    if order.type != "MARKET" or order.quantity is None:
        return True
    return _lot(f, order.quantity)


def _order_price(order: OrderCheck) -> Decimal | None:
    return order.ref_price if order.type == "MARKET" else order.price


def _percent_price(f: Mapping[str, Any], order: OrderCheck) -> bool:
    if order.type == "MARKET" or order.price is None or order.ref_price is None:
        return True
    up, down = Decimal(f["multiplierUp"]), Decimal(f["multiplierDown"])
    return order.ref_price * down <= order.price <= order.ref_price * up


def _percent_price_by_side(f: Mapping[str, Any], order: OrderCheck) -> bool:
    if order.type == "MARKET" or order.price is None or order.ref_price is None:
        return True
    prefix = "bid" if order.side == "BUY" else "ask"
    up, down = Decimal(f[f"{prefix}MultiplierUp"]), Decimal(f[f"{prefix}MultiplierDown"])
    return order.ref_price * down <= order.price <= order.ref_price * up


def _notional_of(order: OrderCheck) -> Decimal | None:
    if order.quote_order_qty is not None:
        return order.quote_order_qty
    price = _order_price(order)
    if price is None or order.quantity is None:
        return None
    return price * order.quantity


def _notional(f: Mapping[str, Any], order: OrderCheck) -> bool:
    notional = _notional_of(order)
    if notional is None:
        return True
    market = order.type == "MARKET"
    if (not market or f.get("applyMinToMarket")) and notional < Decimal(f["minNotional"]):
        return False
    cap = Decimal(f["maxNotional"])
    return not ((not market or f.get("applyMaxToMarket")) and cap and notional > cap)


def _min_notional(f: Mapping[str, Any], order: OrderCheck) -> bool:
    notional = _notional_of(order)
    if notional is None or (order.type == "MARKET" and not f.get("applyToMarket")):
        return True
    return notional >= Decimal(f["minNotional"])


def _iceberg_parts(f: Mapping[str, Any], order: OrderCheck) -> bool:
    if not order.iceberg_qty or order.quantity is None:
        return True
    parts = (order.quantity / order.iceberg_qty).to_integral_value(rounding=ROUND_CEILING)
    return parts <= int(f["limit"])


_CHECKS = {
    "PRICE_FILTER": _price_filter,
    "PERCENT_PRICE": _percent_price,
    "PERCENT_PRICE_BY_SIDE": _percent_price_by_side,
    "LOT_SIZE": _lot_size,
    "MARKET_LOT_SIZE": _market_lot_size,
    "MIN_NOTIONAL": _min_notional,
    "NOTIONAL": _notional,
    "ICEBERG_PARTS": _iceberg_parts,
}


def _count_filter(name: str, f: Mapping[str, Any], order: OrderCheck, open_: OpenOrderCounts) -> bool:
    if name == "MAX_NUM_ORDERS":
        return open_.orders + 1 <= int(f["maxNumOrders"])
    if name == "MAX_NUM_ALGO_ORDERS":
        return order.type not in ALGO_TYPES or open_.algo_orders + 1 <= int(f["maxNumAlgoOrders"])
    if name == "MAX_NUM_ICEBERG_ORDERS":
        return not order.iceberg_qty or open_.iceberg_orders + 1 <= int(f["maxNumIcebergOrders"])
    if name == "MAX_POSITION" and order.side == "BUY" and order.quantity is not None:
        return open_.position + order.quantity <= Decimal(f["maxPosition"])
    return True


@exact
def check_order(rules: SymbolRules, order: OrderCheck, open_orders: OpenOrderCounts | None = None) -> str | None:
    """The first filter (in the symbol's own order) that `order` fails, or None."""
    for name, f in rules.filters.items():
        check = _CHECKS.get(name)
        if check is not None:
            if not check(f, order):
                return name
        elif open_orders is not None and not _count_filter(name, f, order, open_orders):
            return name
    return None


def order_param_problem(
    order_type: str,
    *,
    quantity: Decimal | None,
    quote_quantity: Decimal | None,
    price: Decimal | None,
    stop_price: Decimal | None,
    time_in_force: str | None,
) -> tuple[str, str] | None:
    """(parameter, why) for the first parameter an order of this type lacks or may not carry, as
    Binance requires them (BINANCE.md, mandatory parameters by type), or None."""
    if order_type == "MARKET":
        if quantity is None and quote_quantity is None:
            return "quantity", "a MARKET order needs quantity (base asset) or quote_quantity (quote asset)"
        if quantity is not None and quote_quantity is not None:
            return "quote_quantity", "give quantity or quote_quantity, not both"
    else:
        if quantity is None:
            return "quantity", f"a {order_type} order needs quantity"
        if quote_quantity is not None:
            return "quote_quantity", "quote_quantity is for MARKET orders only"
    if order_type in NEEDS_PRICE and price is None:
        return "price", f"a {order_type} order needs price"
    if order_type not in NEEDS_PRICE and price is not None:
        return "price", f"a {order_type} order takes no price"
    if order_type in NEEDS_STOP_PRICE and stop_price is None:
        return "stop_price", f"a {order_type} order needs stop_price"
    if order_type not in NEEDS_STOP_PRICE and stop_price is not None:
        return "stop_price", f"a {order_type} order takes no stop_price"
    if order_type not in NEEDS_TIME_IN_FORCE and time_in_force is not None:
        return "time_in_force", "time_in_force applies to LIMIT, STOP_LOSS_LIMIT and TAKE_PROFIT_LIMIT orders only"
    for name, value in (("quantity", quantity), ("quote_quantity", quote_quantity), ("price", price)):
        if value is not None and (not value.is_finite() or value <= 0):
            return name, f"{name} must be a positive number"
    if stop_price is not None and (not stop_price.is_finite() or stop_price <= 0):
        return "stop_price", "stop_price must be a positive number"
    return None


def _nearest(value: Decimal, step: Decimal, lo: Decimal, hi: Decimal) -> str:
    below = floor_to_step(value, step)
    candidates = [c for c in (below, below + step) if (not lo or c >= lo) and (not hi or c <= hi)]
    return " or ".join(plain(c) for c in candidates) if candidates else "none in range"


def _grid_hint(
    f: Mapping[str, Any], keys: tuple[str, str, str], value: Decimal, what: str, filter_name: str
) -> str | None:
    """Why `value` is off a filter's grid: below its minimum, above its maximum, or between steps."""
    lo, hi, step = (Decimal(f[k]) for k in keys)
    if lo and value < lo:
        return f"{what} {plain(value)} is below {keys[0]} {plain(lo)} ({filter_name})"
    if hi and value > hi:
        return f"{what} {plain(value)} is above {keys[1]} {plain(hi)} ({filter_name})"
    if not is_multiple(value, step):
        near = _nearest(value, step, lo, hi)
        return (
            f"{what} {plain(value)} is not a multiple of {keys[2]} {plain(step)} ({filter_name}); nearest valid: {near}"
        )
    return None


_LOT_KEYS = ("minQty", "maxQty", "stepSize")
_PRICE_KEYS = ("minPrice", "maxPrice", "tickSize")


def _band_hint(name: str, up: Decimal, down: Decimal, order: OrderCheck, tick: Decimal) -> str:
    assert order.price is not None and order.ref_price is not None
    lo, hi = order.ref_price * down, order.ref_price * up
    if tick:  # the valid prices: ticks inside the band
        lo = (lo / tick).to_integral_value(rounding=ROUND_CEILING) * tick
        hi = floor_to_step(hi, tick)
    return (
        f"price {plain(order.price)} for a {order.side} must be from {plain(lo)} to {plain(hi)}: "
        f"{plain(down)}x to {plain(up)}x the average price {plain(order.ref_price)} ({name})"
    )


def ceil_to_step(value: Decimal, step: Decimal) -> Decimal:
    """The smallest multiple of `step` not below `value` (value itself when step is 0)."""
    if step == 0:
        return value
    return (value / step).to_integral_value(rounding=ROUND_CEILING) * step


def shown(value: Decimal, step: Decimal, rounding: str = ROUND_DOWN) -> str:
    """`value` at the precision of `step` (a symbol's tick or step size), rounded the way that keeps
    what a message says of it true (down for "below", up for "above"); plain when step is 0."""
    if not step:
        return plain(value)
    places = decimal_places(step)
    cut = value.quantize(Decimal(1).scaleb(-places), rounding=rounding)
    if cut == 0 and value != 0:
        return f"less than {plain(Decimal(1).scaleb(-places))}"
    return plain(cut)


_QUANTITY_TRIES = 20  # steps above the first quantity the filters' minimums allow


def passing_quantity(rules: SymbolRules, order: OrderCheck) -> Decimal | None:
    """The smallest quantity on the symbol's step grid that passes every filter with the rest of the
    order as it is (its price, or the average price for MARKET), or None if none near the
    minimums does."""
    price = _order_price(order)
    least = max(rules.min_qty, Decimal(rules.filters.get("MARKET_LOT_SIZE", {}).get("minQty", 0)))
    for name in ("NOTIONAL", "MIN_NOTIONAL"):
        if name in rules.filters and price:
            least = max(least, Decimal(rules.filters[name]["minNotional"]) / price)
    quantity = ceil_to_step(least, rules.step_size) or rules.step_size
    for _ in range(_QUANTITY_TRIES):
        if quantity and check_order(rules, replace(order, quantity=quantity, quote_order_qty=None)) is None:
            return quantity
        quantity += rules.step_size or Decimal(0)
    return None


def _notional_hint(name: str, minimum: Decimal, cap: Decimal, rules: SymbolRules, order: OrderCheck) -> str:
    notional = _notional_of(order)
    assert notional is not None
    quote, tick = rules.quote_asset, rules.tick_size
    if notional < minimum:
        price = _order_price(order)
        hint = ""
        if price and order.quote_order_qty is None:
            smallest = passing_quantity(rules, order)
            if smallest is not None:
                hint = f"; at {plain(price)} the smallest quantity that passes every filter is {plain(smallest)}"
        valued = " (valued at the average price)" if order.type == "MARKET" and order.quote_order_qty is None else ""
        value = shown(notional, tick, ROUND_DOWN)
        return f"order value {value} {quote}{valued} is below minNotional {plain(minimum)} ({name}){hint}"
    return f"order value {shown(notional, tick, ROUND_UP)} {quote} is above maxNotional {plain(cap)} ({name})"


def _lot_hint(rules: SymbolRules, order: OrderCheck, name: str) -> str | None:
    """LOT_SIZE / MARKET_LOT_SIZE for the quantity: the grid's hint, and whether the nearest valid
    quantities would then pass every other filter at the order's price; if not, the smallest that
    would (an assistant follows hints literally: a hint must not lead into the next wall)."""
    assert order.quantity is not None
    f = rules.filters[name]
    hint = _grid_hint(f, _LOT_KEYS, order.quantity, "quantity", name)
    lo, hi, step = (Decimal(f[k]) for k in _LOT_KEYS)
    price = _order_price(order)
    at = f" at {plain(price)}" if price else ""
    if hint is not None and lo and order.quantity < lo and check_order(rules, replace(order, quantity=lo)):
        smallest = passing_quantity(rules, order)  # minQty itself would fail another filter
        if smallest is not None:
            hint += f"; the smallest quantity that passes every filter{at} is {plain(smallest)}"
    if hint is None or "nearest valid" not in hint:
        return hint
    below = floor_to_step(order.quantity, step)
    near = [c for c in (below, below + step) if (not lo or c >= lo) and (not hi or c <= hi)]
    failing = {c: check_order(rules, replace(order, quantity=c)) for c in near}
    passing = [c for c, failed in failing.items() if failed is None]
    if len(passing) == len(near):
        return hint
    grid = hint.split("; nearest valid:")[0]
    if passing:
        others = ", ".join(f"{plain(c)} fails {failing[c]}" for c in near if failing[c] is not None)
        return f"{grid}; nearest valid: {' or '.join(plain(c) for c in passing)} ({others}{at})"
    failed_filters = sorted({str(v) for v in failing.values()})
    smallest = passing_quantity(rules, order)
    then = (
        f"the smallest quantity that passes every filter{at} is {plain(smallest)}"
        if smallest is not None
        else "no quantity near the filters' minimums passes every filter"
    )
    return (
        f"{grid}; the nearest on the grid, {' or '.join(plain(c) for c in near)}, would fail "
        f"{' and '.join(failed_filters)}{at}: {then}"
    )


@exact
def explain_failure(
    rules: SymbolRules, order: OrderCheck, name: str, open_orders: OpenOrderCounts | None = None
) -> str:
    """What `check_order`'s failing filter means for this order, and how to fix it, in words."""
    f = rules.filters[name]
    hint: str | None = None
    if name == "PRICE_FILTER":
        for what, price in (("price", order.price), ("stop_price", order.stop_price)):
            hint = hint or (None if price is None else _grid_hint(f, _PRICE_KEYS, price, what, name))
    elif name == "LOT_SIZE":
        hint = None if order.quantity is None else _lot_hint(rules, order, name)
        if order.iceberg_qty is not None:
            hint = hint or _grid_hint(f, _LOT_KEYS, order.iceberg_qty, "iceberg quantity", name)
    elif name == "MARKET_LOT_SIZE" and order.quantity is not None:
        hint = _lot_hint(rules, order, name)
    elif name == "PERCENT_PRICE":
        hint = _band_hint(name, Decimal(f["multiplierUp"]), Decimal(f["multiplierDown"]), order, rules.tick_size)
    elif name == "PERCENT_PRICE_BY_SIDE":
        prefix = "bid" if order.side == "BUY" else "ask"
        up, down = Decimal(f[f"{prefix}MultiplierUp"]), Decimal(f[f"{prefix}MultiplierDown"])
        hint = _band_hint(name, up, down, order, rules.tick_size)
    elif name == "NOTIONAL":
        hint = _notional_hint(name, Decimal(f["minNotional"]), Decimal(f["maxNotional"]), rules, order)
    elif name == "MIN_NOTIONAL":
        hint = _notional_hint(name, Decimal(f["minNotional"]), ZERO, rules, order)
    elif name == "MAX_NUM_ORDERS" and open_orders is not None:
        hint = (
            f"{rules.symbol} already has {open_orders.orders} open orders, "
            f"the most allowed is {f['maxNumOrders']} (MAX_NUM_ORDERS)"
        )
    elif name == "MAX_NUM_ALGO_ORDERS" and open_orders is not None:
        hint = (
            f"{rules.symbol} already has {open_orders.algo_orders} open stop/take-profit orders, "
            f"the most allowed is {f['maxNumAlgoOrders']} (MAX_NUM_ALGO_ORDERS)"
        )
    return hint or f"Filter failure: {name}"


SYMBOL_SEPARATORS = "/-_ .:"
_ASCII_SPACE = " \t\n\r\f\v"
_SYMBOL_NORMAL = str.maketrans(string.ascii_lowercase, string.ascii_uppercase, SYMBOL_SEPARATORS)
_CODE_NORMAL = str.maketrans(string.ascii_lowercase, string.ascii_uppercase)
_ASCII_NAME = frozenset(string.ascii_uppercase + string.digits)


def normalize_symbol(text: str) -> str:
    """`' btc/usdt '` → `'BTCUSDT'`: separators and ASCII spaces removed, ASCII letters upper-cased.
    Nothing else is touched: no Unicode case mapping, which would make a long s (U+017F) an 'S' and a
    dotless i (U+0131) an 'I'."""
    return text.strip(_ASCII_SPACE).translate(_SYMBOL_NORMAL)


def normalize_code(text: str) -> str:
    """An asset, coin or network as Binance names it: `' usdt '` → `'USDT'` (ASCII only, as symbols)."""
    return text.strip(_ASCII_SPACE).translate(_CODE_NORMAL)


def _foreign_character(name: str) -> str | None:
    """The first character of `name` that no Binance name is made of, described, or None.
    Names are ASCII letters and digits, or letters of scripts without case (Binance lists Chinese
    names): a letter with case outside ASCII, a compatibility form (fullwidth, ligatures), another
    script's digits, punctuation or a control character all look like something they are not."""
    for ch in name:
        if ch in _ASCII_NAME:
            continue
        if ord(ch) > 127 and unicodedata.category(ch) == "Lo" and unicodedata.normalize("NFKC", ch) == ch:
            continue
        label = unicodedata.name(ch, "unnamed") if ch.isprintable() else "unprintable"
        return f"{ch!r} (U+{ord(ch):04X}, {label})"
    return None


def symbol_problem(symbol: str) -> str | None:
    """Why a normalized symbol cannot be one, or None: 1 to 20 characters, ASCII letters and
    digits or caseless letters (`_foreign_character`), never only digits. A listed symbol is
    taken as it is listed, whatever its characters (the validator looks it up first)."""
    if not 1 <= len(symbol) <= 20:
        return "must be 1 to 20 characters"
    foreign = _foreign_character(symbol)
    if foreign is not None:
        return (
            f"has the character {foreign}, which no Binance symbol uses: write symbols in ASCII letters and "
            "digits (BTCUSDT)"
        )
    if symbol.isdigit():
        return "cannot be only digits"
    return None


def code_problem(code: str) -> str | None:
    """Why a normalized asset, coin or network name cannot be one, or None (as `symbol_problem`)."""
    if not 1 <= len(code) <= 20:
        return "must be 1 to 20 characters"
    foreign = _foreign_character(code)
    if foreign is not None:
        return f"has the character {foreign}, which no Binance name uses: write it in ASCII letters and digits"
    return None
