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
    "OpenOrderCounts",
    "OrderCheck",
    "SymbolRules",
    "check_order",
    "decimal_places",
    "floor_to_step",
    "is_multiple",
]

ZERO = Decimal(0)
ALGO_TYPES = frozenset({"STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"})


def is_multiple(value: Decimal, step: Decimal) -> bool:
    """`value % step == 0` in exact arithmetic; a zero step means the rule is off."""
    return step == 0 or value % step == 0


def floor_to_step(value: Decimal, step: Decimal) -> Decimal:
    """The largest multiple of `step` not above `value` (value itself when step is 0)."""
    if step == 0:
        return value
    return (value / step).to_integral_value(rounding=ROUND_DOWN) * step


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


_SEPARATORS = str.maketrans("", "", "/-_ .:")


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
