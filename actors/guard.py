"""The trading guard: what this server lets an assistant do with money, whatever Binance allows.

Settings (each an environment variable and a `serve` flag):
- `MCP_TRADING_ENABLED`: on by default for paper and testnet, **off for live**. Off: every tool
  that changes state (create_order, cancel_order, cancel_open_orders) is refused.
- `MCP_MAX_ORDER_NOTIONAL`: the most one order may be worth, in its quote asset.
- `MCP_MAX_DAILY_NOTIONAL`: the most all orders of a rolling 24 hours may be worth, per quote asset.
  Both take `1000` (any quote asset, in its own units) or `USDT=1000,BTC=0.02` (only these quote
  assets may be traded, each with its cap).
- `MCP_SYMBOL_ALLOWLIST`: only these symbols may be traded (orders and cancels alike).
- `MCP_CONFIRM_ORDERS`: every state change waits for the person to confirm it.

`DailyNotional` is the rolling total: orders placed (or maybe placed) count; an order the
exchange refused does not. It is rebuilt from the event log at start (events/replay.py), so a
restart cannot be used to exceed the cap. Pure: no I/O, the clock is passed in.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from binance_mcp.events.schema import GuardRecord
from binance_mcp.exchange.rules import plain

__all__ = ["DAY_MS", "Caps", "DailyNotional", "Guard", "parse_caps"]

DAY_MS = 86_400_000


@dataclass(frozen=True)
class Caps:
    """A cap per quote asset: `default` for any asset not named, `per_asset` for those named.
    With `per_asset` and no `default`, an asset not named may not be traded."""

    default: Decimal | None = None
    per_asset: Mapping[str, Decimal] = field(default_factory=dict)

    def of(self, quote_asset: str) -> Decimal | None:
        """The cap for this quote asset; Decimal(0) when it may not be traded at all."""
        if quote_asset in self.per_asset:
            return self.per_asset[quote_asset]
        if self.default is not None:
            return self.default
        return Decimal(0) if self.per_asset else None

    @property
    def off(self) -> bool:
        return self.default is None and not self.per_asset

    def describe(self) -> str | None:
        if self.off:
            return None
        parts = [f"{asset}={plain(cap)}" for asset, cap in sorted(self.per_asset.items())]
        return ",".join(([plain(self.default)] if self.default is not None else []) + parts)


def parse_caps(text: str | None, name: str) -> Caps:
    """`'1000'` or `'USDT=1000,BTC=0.02'`; ValueError naming the setting when it is malformed."""
    if text is None or not text.strip():
        return Caps()
    default: Decimal | None = None
    per_asset: dict[str, Decimal] = {}
    for part in text.split(","):
        asset, sep, amount = part.strip().rpartition("=")
        try:
            value = Decimal(amount.strip())
        except InvalidOperation:
            raise ValueError(f"{name}: {amount.strip()!r} is not a number") from None
        if not value.is_finite() or value <= 0:
            raise ValueError(f"{name}: caps must be positive numbers")
        if sep:
            per_asset[asset.strip().upper()] = value
        elif default is None:
            default = value
        else:
            raise ValueError(f"{name}: give one plain cap at most, then ASSET=cap pairs")
    return Caps(default, per_asset)


@dataclass(frozen=True)
class Guard:
    trading_enabled: bool = True
    max_order_notional: Caps = field(default_factory=Caps)
    max_daily_notional: Caps = field(default_factory=Caps)
    symbol_allowlist: frozenset[str] | None = None
    confirm_orders: bool = False

    def record(self) -> GuardRecord:
        """The settings in force, as journaled with every order and run."""
        return GuardRecord(
            trading_enabled=self.trading_enabled,
            max_order_notional=self.max_order_notional.describe(),
            max_daily_notional=self.max_daily_notional.describe(),
            symbol_allowlist=sorted(self.symbol_allowlist) if self.symbol_allowlist is not None else None,
            confirm_orders=self.confirm_orders,
        )


class DailyNotional:
    """The value of orders per quote asset over a rolling 24 hours, with reservations for orders
    that passed the guard and are not settled yet."""

    def __init__(self, entries: Iterable[tuple[int, str, Decimal]] = ()):
        self._entries: dict[str, deque[tuple[int, Decimal]]] = {}
        self._reserved: dict[str, tuple[int, str, Decimal]] = {}
        for ts, asset, value in sorted(entries, key=lambda e: e[0]):
            self._entries.setdefault(asset, deque()).append((ts, value))

    def used(self, asset: str, now_ms: int) -> Decimal:
        window = self._entries.get(asset)
        total = Decimal(0)
        if window is not None:
            while window and window[0][0] <= now_ms - DAY_MS:
                window.popleft()
            total = sum((v for _, v in window), Decimal(0))
        return total + sum((v for _, a, v in self._reserved.values() if a == asset), Decimal(0))

    def reserve(self, command_id: str, asset: str, value: Decimal, now_ms: int) -> None:
        self._reserved[command_id] = (now_ms, asset, value)

    def settle(self, command_id: str, placed: bool) -> None:
        """A reserved order was placed (its value stays for 24 h) or was not (freed)."""
        entry = self._reserved.pop(command_id, None)
        if entry is not None and placed:
            ts, asset, value = entry
            self._entries.setdefault(asset, deque()).append((ts, value))
