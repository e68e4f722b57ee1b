"""Exchange rules: exchangeInfo symbol filters as pure functions over Decimal.

Used by the paper exchange to reject orders as Binance does, and by the validator to reject
them before they leave the machine. No I/O, no asyncio: plain data in, a verdict out.

A check returns the name of the first filter that fails (Binance reports it as
"Filter failure: NAME"), or None when the order passes. A filter field set to 0 switches off
its own rule, as in the real data (MARKET_LOT_SIZE stepSize "0.00000000").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_DOWN, Decimal
from typing import Any

__all__ = [
    "ALGO_TYPES",
    "NEEDS_PRICE",
    "NEEDS_STOP_PRICE",
    "NEEDS_TIME_IN_FORCE",
    "ORDER_TYPES",
    "OpenOrderCounts",
    "OrderCheck",
    "SymbolRules",
    "check_order",
    "decimal_places",
    "explain_failure",
    "floor_to_step",
    "is_multiple",
    "order_param_problem",
    "plain",
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


def plain(value: Decimal) -> str:
    """A decimal as Binance takes it: fixed point, no exponent, no trailing zeros ('0.00001', '65000')."""
    return format(value.normalize(), "f")


def decimal_places(value: Decimal) -> int:
    """Significant decimal places: Decimal('1.2300') has 2."""
    exponent = value.normalize().as_tuple().exponent
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


def _notional_hint(name: str, minimum: Decimal, cap: Decimal, rules: SymbolRules, order: OrderCheck) -> str:
    notional = _notional_of(order)
    assert notional is not None
    quote = rules.quote_asset
    if notional < minimum:
        price = _order_price(order)
        hint = ""
        if price and order.quote_order_qty is None:
            smallest = floor_to_step(minimum / price, rules.step_size)
            if smallest * price < minimum:
                smallest += rules.step_size or Decimal(0)
            hint = f"; at {plain(price)} the smallest quantity is {plain(smallest)}"
        valued = " (valued at the average price)" if order.type == "MARKET" and order.quote_order_qty is None else ""
        return f"order value {plain(notional)} {quote}{valued} is below minNotional {plain(minimum)} ({name}){hint}"
    return f"order value {plain(notional)} {quote} is above maxNotional {plain(cap)} ({name})"


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
        for what, qty in (("quantity", order.quantity), ("iceberg quantity", order.iceberg_qty)):
            hint = hint or (None if qty is None else _grid_hint(f, _LOT_KEYS, qty, what, name))
    elif name == "MARKET_LOT_SIZE" and order.quantity is not None:
        hint = _grid_hint(f, _LOT_KEYS, order.quantity, "quantity", name)
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
_SEPARATORS = str.maketrans("", "", SYMBOL_SEPARATORS)


def normalize_symbol(text: str) -> str:
    """`' btc/usdt '` → `'BTCUSDT'`: trimmed, upper-cased, separators removed."""
    return text.strip().upper().translate(_SEPARATORS)


def symbol_problem(symbol: str) -> str | None:
    """Why a normalized symbol cannot be one, or None. Unicode letters are allowed (Binance lists
    non-Latin names); digits are allowed but a symbol is never only digits."""
    if not 1 <= len(symbol) <= 20:
        return "must be 1 to 20 characters"
    if not all(ch.isalnum() for ch in symbol):
        return "may contain only letters and digits"
    if symbol.isdigit():
        return "cannot be only digits"
    return None
