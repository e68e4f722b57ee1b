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

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from binance_mcp.events.schema import Dispatched, GuardRecord, Halted, Logged, Reconciled
from binance_mcp.exchange.rules import plain

__all__ = ["DAY_MS", "Caps", "DailyNotional", "Guard", "Ledger", "parse_caps"]

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
    """The value of orders per quote asset over a rolling 24 hours, by command id: orders the log
    holds as dispatched (any run's), and reservations for this process's orders that passed the
    guard and are not on record yet. Keyed by command id, so an order counts once however it is
    learned (its reservation, its own `dispatched`, a `Settle`)."""

    def __init__(self) -> None:
        self._placed: dict[str, tuple[int, str, Decimal]] = {}
        self._reserved: dict[str, tuple[int, str, Decimal]] = {}

    def counted(self, now_ms: int) -> list[tuple[int, str, Decimal]]:
        """The orders on record that count now: (when, quote asset, value), placed or maybe placed,
        in the last 24 hours (older ones are dropped)."""
        expired = [cid for cid, (ts, _, _) in self._placed.items() if ts <= now_ms - DAY_MS]
        for cid in expired:
            del self._placed[cid]
        return list(self._placed.values())

    def used(self, asset: str, now_ms: int, *, excluding: str = "") -> Decimal:
        """What counts against `asset`'s cap now; `excluding` one order's own reservation (an order
        judged again counts what the others hold)."""
        total = sum((v for _, a, v in self.counted(now_ms) if a == asset), Decimal(0))
        return total + sum(
            (
                v
                for cid, (_, a, v) in self._reserved.items()
                if a == asset and cid not in self._placed and cid != excluding
            ),
            Decimal(0),
        )

    def reserve(self, command_id: str, asset: str, value: Decimal, now_ms: int) -> None:
        self._reserved[command_id] = (now_ms, asset, value)

    def settle(self, command_id: str, placed: bool) -> None:
        """A reserved order was placed (its value stays for 24 h) or was not (freed)."""
        entry = self._reserved.pop(command_id, None)
        if not placed:
            self._placed.pop(command_id, None)
        elif entry is not None:
            self._placed.setdefault(command_id, entry)

    def dispatched(self, command_id: str, ts_ms: int, asset: str, value: Decimal) -> None:
        """The log holds this order as dispatched (placed, or maybe placed)."""
        self._placed[command_id] = (ts_ms, asset, value)

    def not_placed(self, command_id: str) -> None:
        """The log says this order was not placed (refused, or looked up and not found)."""
        self._placed.pop(command_id, None)


class Ledger:
    """What the guard judges across every run on the log, folded from the log: the daily notional
    per quote asset (with this process's reservations), the orders other runs sent (for the
    ORDERS windows), and a halt. `seen` is the last log position folded: a decision made on this
    state carries it into the order's `dispatched`, which the log refuses if another run
    dispatched an order, or trading was halted, after it (actors/journal.py). Pure: rows in,
    state out; the System reads the rows."""

    def __init__(self, account: str | None = None) -> None:
        self.account = account  # whose orders count (None: every account's); set at start
        self.seen = 0
        self.daily = DailyNotional()
        self.halt: Halted | None = None
        self.others_ordered: list[int] = []  # ms of other runs' orders not told to the limiter yet
        self._mine: set[str] = set()  # this process's orders (reserved here)

    def reserve(self, command_id: str, asset: str, value: Decimal, now_ms: int) -> None:
        self._mine.add(command_id)
        self.daily.reserve(command_id, asset, value, now_ms)

    def apply(self, row: Logged, *, counting: bool = True, account: str | None = None) -> None:
        """One event, in log order (folding an event twice changes nothing). `counting=False`: do not
        collect other runs' order times (the start-up fold hands the limiter the windows whole).
        `account`: the account an order's run recorded ('' none: a run before accounts, counted to
        be safe); another account's orders count toward neither its cap nor its ORDERS windows."""
        self.seen = max(self.seen, row.seq)
        kind = row.kind
        if account and self.account is not None and account != self.account:
            return
        if kind == "dispatched" and row.tool == "create_order":
            event = row.event
            if not isinstance(event, Dispatched):
                return
            ts_ms = row.ts_us // 1000
            if counting and row.command_id not in self._mine:
                self.others_ordered.append(ts_ms)
            if event.notional is not None and event.quote_asset:
                self.daily.dispatched(row.command_id, ts_ms, event.quote_asset, event.notional)
        elif kind == "failed":
            self.daily.not_placed(row.command_id)
        elif kind == "reconciled":
            event = row.event
            if isinstance(event, Reconciled) and event.placed is False:
                self.daily.not_placed(row.command_id)
        elif kind == "halted":
            event = row.event
            self.halt = event if isinstance(event, Halted) else Halted(reason="(unreadable)", user="", host="", pid=0)
        elif kind == "resumed":
            self.halt = None

    def take_others_ordered(self) -> list[int]:
        taken, self.others_ordered = self.others_ordered, []
        return taken
