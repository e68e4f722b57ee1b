"""The simulated market of the paper exchange.

Each symbol has a deterministic random walk of trades: the gaps between trades and the price
moves come from a random generator seeded by (seed, symbol), so the same seed gives the same
trades at the same offsets from the market's start. Prices move in whole ticks (an integer
count of tickSize), so every price is an exact Decimal on the symbol's tick grid.

Everything a client can see is derived from that stream: recent trades, klines, 24 h tickers
and the average price are aggregations of the same trades, so they agree with each other. The
order book is synthetic depth laid around the walk's current price, drawn afresh after each
synthetic trade; liquidity that a paper order takes stays taken until then.

No I/O here: the caller passes the time in.
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
import random
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from decimal import Decimal

from binance_mcp.exchange.rules import SymbolRules

__all__ = ["KLINE_INTERVALS", "MarketConfig", "SymbolMarket", "Trade", "fmt"]

DAY_MS = 86_400_000
_FIXED_MS = {
    "1s": 1_000,
    "1m": 60_000,
    "3m": 180_000,
    "5m": 300_000,
    "15m": 900_000,
    "30m": 1_800_000,
    "1h": 3_600_000,
    "2h": 7_200_000,
    "4h": 14_400_000,
    "6h": 21_600_000,
    "8h": 28_800_000,
    "12h": 43_200_000,
    "1d": DAY_MS,
    "3d": 3 * DAY_MS,
    "1w": 7 * DAY_MS,
}
KLINE_INTERVALS = (*_FIXED_MS, "1M")
_MONDAY_OFFSET_MS = 4 * DAY_MS  # 1970-01-01 was a Thursday; Binance weeks open on Monday.

# What one unit of each quote asset is worth in USD, to size trades and depth alike everywhere.
QUOTE_USD = {"USDT": Decimal(1), "FDUSD": Decimal(1), "USDC": Decimal(1), "BTC": Decimal(58000)}
TRADE_NOTIONAL_USD = Decimal(200)


def fmt(value: Decimal, places: int) -> str:
    """Binance's fixed-point rendering: fmt(Decimal('0.1'), 8) == '0.10000000'."""
    return f"{value:.{places}f}"


@dataclass(frozen=True, slots=True)
class Trade:
    id: int
    price: Decimal
    qty: Decimal
    time: int
    is_buyer_maker: bool

    @property
    def quote_qty(self) -> Decimal:
        return self.price * self.qty


@dataclass(frozen=True)
class MarketConfig:
    """Shape of the simulated market. Defaults give two days of history at ~1 trade / 30 s.
    With `walk_until_ms` the synthetic trades stop at that time: after it, the market moves only
    where it is moved to (`move_to`), as a re-run of the event log moves it to recorded prices."""

    seed: int = 0
    history_ms: int = 2 * DAY_MS
    mean_trade_gap_ms: int = 30_000
    depth_levels: int = 100
    daily_volatility: float = 0.03
    walk_until_ms: int | None = None


def _bucket_open(t: int, interval: str) -> int:
    if interval == "1M":
        d = dt.datetime.fromtimestamp(t / 1000, tz=dt.UTC)
        return calendar.timegm((d.year, d.month, 1, 0, 0, 0)) * 1000
    size = _FIXED_MS[interval]
    offset = _MONDAY_OFFSET_MS if interval == "1w" else 0
    return t - ((t - offset) % size)


def _bucket_next(open_ms: int, interval: str) -> int:
    if interval == "1M":
        d = dt.datetime.fromtimestamp(open_ms / 1000, tz=dt.UTC)
        year, month = (d.year + 1, 1) if d.month == 12 else (d.year, d.month + 1)
        return calendar.timegm((year, month, 1, 0, 0, 0)) * 1000
    return open_ms + _FIXED_MS[interval]


def _bucket_prev(open_ms: int, interval: str) -> int:
    if interval == "1M":
        return _bucket_open(open_ms - 1, "1M")
    return open_ms - _FIXED_MS[interval]


class SymbolMarket:
    """One symbol's trade stream, synthetic book and the views derived from them."""

    def __init__(self, rules: SymbolRules, start_price: Decimal, config: MarketConfig, genesis_ms: int):
        self.rules = rules
        self.symbol = rules.symbol
        self.tick = rules.tick_size
        self.step = rules.step_size
        self.min_qty = rules.min_qty
        self.config = config
        self.trades: list[Trade] = []
        self.times: list[int] = []
        self._rng = random.Random(f"{config.seed}/{rules.symbol}/walk")
        self._start_ticks = int(start_price / self.tick)
        self._ticks = self._start_ticks
        self._next_ms = genesis_ms
        self._step_count = 0
        quote_usd = QUOTE_USD.get(rules.quote_asset, Decimal(1))
        # Sizes are drawn as whole lot steps, so every quantity is exact and on the LOT_SIZE grid.
        self._lot = self.step or Decimal("0.00000001")
        self._typical_lots = float(TRADE_NOTIONAL_USD / quote_usd / start_price / self._lot)
        self._min_lots = max(1, int(self.min_qty / self._lot))
        self._book: tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]] | None = None
        self._taken: dict[tuple[str, Decimal], Decimal] = {}

    # -- the trade stream ---------------------------------------------------------------------
    def _size(self, rng: random.Random, scale: float) -> Decimal:
        lots = int(self._typical_lots * math.exp(rng.gauss(0.0, 0.8)) * scale)
        return self._lot * max(self._min_lots, lots)

    def advance(self, now_ms: int) -> list[Trade]:
        """Generate the synthetic trades due up to `now_ms`; returns the new ones in order."""
        new: list[Trade] = []
        cfg = self.config
        if cfg.walk_until_ms is not None:
            now_ms = min(now_ms, cfg.walk_until_ms)
        while self._next_ms <= now_ms:
            rng = self._rng
            gap = 1 + int(rng.expovariate(1.0 / cfg.mean_trade_gap_ms))
            sigma = cfg.daily_volatility * math.sqrt(gap / DAY_MS)
            # A weak pull back toward the start keeps a long-running market near realistic levels.
            drift = -0.5 * math.log(self._ticks / self._start_ticks) * gap / DAY_MS
            ticks = max(1, round(self._ticks * math.exp(rng.gauss(drift, sigma))))
            buyer_maker = ticks < self._ticks or (ticks == self._ticks and rng.random() < 0.5)
            qty = self._size(rng, 1.0)
            self._ticks = ticks
            self._step_count += 1
            self._book = None
            self._taken.clear()
            new.append(self._append(self.tick * ticks, qty, self._next_ms, buyer_maker))
            self._next_ms += gap
        return new

    def record(self, price: Decimal, qty: Decimal, time_ms: int, is_buyer_maker: bool) -> Trade:
        """Append a paper account's fill to the public stream."""
        return self._append(price, qty, max(time_ms, self.times[-1] if self.times else time_ms), is_buyer_maker)

    def _append(self, price: Decimal, qty: Decimal, time_ms: int, is_buyer_maker: bool) -> Trade:
        trade = Trade(len(self.trades) + 1, price, qty, time_ms, is_buyer_maker)
        self.trades.append(trade)
        self.times.append(time_ms)
        return trade

    def move_to(self, price: Decimal, time_ms: int, at: str = "last") -> Trade | None:
        """Put the market at `price` (to the nearest tick): one trade of a typical size there, and
        the walk and the synthetic book go on from it; with `at="ask"` (or `"bid"`) the book's best
        ask (bid) is at `price` instead. None when it is already there."""
        ticks = max(1, int((price / self.tick).to_integral_value()))
        if at in ("ask", "bid"):  # the middle whose best ask is at or just under (bid: over) the price
            sign = 1 if at == "ask" else -1
            mid = ticks - sign * self._half_spread(ticks)
            while sign * (mid + sign * self._half_spread(mid) - ticks) > 0:
                mid -= sign
            while sign * (mid + sign + sign * self._half_spread(mid + sign) - ticks) <= 0:
                mid += sign
            ticks = max(1, mid)
        if ticks == self._ticks and self.trades and self.trades[-1].price == self.tick * ticks:
            return None
        buyer_maker = ticks < self._ticks
        self._ticks = ticks
        self._step_count += 1
        self._book = None
        self._taken.clear()
        qty = self._lot * max(self._min_lots, int(self._typical_lots))
        return self.record(self.tick * ticks, qty, time_ms, buyer_maker)

    @property
    def last_price(self) -> Decimal:
        return self.trades[-1].price if self.trades else self.tick * self._ticks

    # -- the synthetic book -------------------------------------------------------------------
    def _draw_book(self) -> tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
        rng = random.Random(f"{self.config.seed}/{self.symbol}/book/{self._step_count}")
        mid = self._ticks
        half = self._half_spread(mid)
        spacing = max(1, round(mid * 0.0001))
        bids, asks = [], []
        for i in range(self.config.depth_levels):
            scale = 5.0 * (1 + i / 20)
            if mid - half - i * spacing >= 1:
                bids.append((self.tick * (mid - half - i * spacing), self._size(rng, scale)))
            asks.append((self.tick * (mid + half + i * spacing), self._size(rng, scale)))
        return bids, asks

    @staticmethod
    def _half_spread(mid_ticks: int) -> int:
        return max(1, round(mid_ticks * 0.00001))

    def book(self) -> tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
        """(bids best first, asks best first) of synthetic depth, less what paper orders took."""
        if self._book is None:
            self._book = self._draw_book()
        bids, asks = self._book
        if not self._taken:
            return bids, asks
        return self._left("BID", bids), self._left("ASK", asks)

    def _left(self, side: str, levels: list[tuple[Decimal, Decimal]]) -> list[tuple[Decimal, Decimal]]:
        out = []
        for price, qty in levels:
            left = qty - self._taken.get((side, price), Decimal(0))
            if left > 0:
                out.append((price, left))
        return out

    def take(self, side: str, price: Decimal, qty: Decimal) -> None:
        """Remove `qty` at `price` from the synthetic BID or ASK side until the next redraw."""
        key = (side, price)
        self._taken[key] = self._taken.get(key, Decimal(0)) + qty

    # -- views derived from trades ------------------------------------------------------------
    def trades_between(self, start_ms: int, end_ms: int) -> list[Trade]:
        return self.trades[bisect_left(self.times, start_ms) : bisect_right(self.times, end_ms)]

    def price_before(self, t_ms: int) -> Decimal | None:
        i = bisect_left(self.times, t_ms)
        return self.trades[i - 1].price if i else None

    def avg_price(self, now_ms: int, mins: int) -> Decimal:
        window = self.trades_between(now_ms - mins * 60_000, now_ms)
        volume = sum((t.qty for t in window), Decimal(0))
        if not volume:
            return self.last_price
        quote = sum((t.quote_qty for t in window), Decimal(0))
        return (quote / volume).quantize(Decimal("0.00000001"))

    def klines(
        self, interval: str, start_ms: int | None, end_ms: int | None, limit: int, now_ms: int
    ) -> list[list[object]]:
        if not self.trades:
            return []
        first = _bucket_open(self.times[0], interval)
        last = _bucket_open(min(end_ms, now_ms) if end_ms is not None else now_ms, interval)
        opens: list[int] = []
        if start_ms is not None:
            t = max(first, _bucket_open(start_ms, interval))
            while t <= last and len(opens) < limit:
                opens.append(t)
                t = _bucket_next(t, interval)
        else:
            t = last
            while t >= first and len(opens) < limit:
                opens.append(t)
                t = _bucket_prev(t, interval)
            opens.reverse()
        return [self._kline(o, _bucket_next(o, interval) - 1) for o in opens]

    def _kline(self, open_ms: int, close_ms: int) -> list[object]:
        bp, qp = self.rules.quote_precision, self.rules.base_precision
        window = self.trades_between(open_ms, close_ms)
        if window:
            prices = [t.price for t in window]
            o, h, lo, c = prices[0], max(prices), min(prices), prices[-1]
        else:
            o = h = lo = c = self.price_before(open_ms) or self.last_price
        zero = Decimal(0)
        volume = sum((t.qty for t in window), zero)
        quote = sum((t.quote_qty for t in window), zero)
        taker_base = sum((t.qty for t in window if not t.is_buyer_maker), zero)
        taker_quote = sum((t.quote_qty for t in window if not t.is_buyer_maker), zero)
        return [
            open_ms,
            fmt(o, bp),
            fmt(h, bp),
            fmt(lo, bp),
            fmt(c, bp),
            fmt(volume, qp),
            close_ms,
            fmt(quote, bp),
            len(window),
            fmt(taker_base, qp),
            fmt(taker_quote, bp),
            "0",
        ]

    def ticker_24h(self, now_ms: int) -> dict[str, object]:
        """Rolling 24 h statistics computed from the same trades as klines."""
        qp, bp = self.rules.quote_precision, self.rules.base_precision
        start = now_ms - DAY_MS
        window = self.trades_between(start, now_ms)
        last = self.trades[-1] if self.trades else None
        last_price = self.last_price
        prev_close = self.price_before(start)
        open_price = prev_close if prev_close is not None else (window[0].price if window else last_price)
        zero = Decimal(0)
        volume = sum((t.qty for t in window), zero)
        quote = sum((t.quote_qty for t in window), zero)
        prices = [t.price for t in window] or [last_price]
        change = last_price - open_price
        pct = (change / open_price * 100).quantize(Decimal("0.001")) if open_price else zero
        wavg = quote / volume if volume else last_price
        bids, asks = self.book()
        bid, ask = (bids[0] if bids else (zero, zero)), (asks[0] if asks else (zero, zero))
        return {
            "symbol": self.symbol,
            "priceChange": fmt(change, qp),
            "priceChangePercent": fmt(pct, 3),
            "weightedAvgPrice": fmt(wavg, qp),
            "prevClosePrice": fmt(prev_close if prev_close is not None else zero, qp),
            "lastPrice": fmt(last_price, qp),
            "lastQty": fmt(last.qty if last else zero, bp),
            "bidPrice": fmt(bid[0], qp),
            "bidQty": fmt(bid[1], bp),
            "askPrice": fmt(ask[0], qp),
            "askQty": fmt(ask[1], bp),
            "openPrice": fmt(open_price, qp),
            "highPrice": fmt(max(prices), qp),
            "lowPrice": fmt(min(prices), qp),
            "volume": fmt(volume, bp),
            "quoteVolume": fmt(quote, qp),
            "openTime": start,
            "closeTime": now_ms,
            "firstId": window[0].id if window else -1,
            "lastId": window[-1].id if window else -1,
            "count": len(window),
        }
