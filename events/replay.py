"""The fold: the event log → the state the actors must not forget across a restart. Pure, no I/O.

`Fold.apply` takes events in log order, one at a time, so folding the first N events and then
the rest gives the same state as folding them all at once. What comes out:
- `order_times(now)`: when each new order left in the last 24 h (the limiter's ORDERS windows);
  (the guard's daily notional is folded from the same events by its Ledger, actors/guard.py);
- `unresolved()`: state changes that were dispatched and whose outcome is not known (no answer
  yet, or `unknown` and never reconciled): the reconciler looks each one up;
- `interrupted()`: commands received and never finished nor dispatched (the server stopped);
  both take the runs to look at (`runs_open()` names the runs with something open: recovery is only
  ever done for runs that are dead, events/runs.py);
- `anomalies`: moves the lifecycle table does not allow (a log written by a bug, or tampered).
"""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple

import msgspec

from binance_mcp.events.facts import Fact, fact, newer
from binance_mcp.events.lifecycle import OUTSIDE, TERMINAL_KINDS, illegal_move
from binance_mcp.events.outcomes import Executed, Outcome
from binance_mcp.events.schema import AccountEvent, Dispatched, Halted, Logged, Received, Reconciled, Session
from binance_mcp.exchange.rules import normalize_symbol, plain

__all__ = [
    "DAY_MS",
    "AccountView",
    "Fold",
    "Move",
    "OrderView",
    "Pending",
    "RecordedMarket",
    "account_balances",
    "difference",
    "outcome_signature",
    "replay_state",
]

DAY_MS = 86_400_000


def account_balances(args: dict[str, Any], data: Any) -> dict[str, Decimal] | None:
    """The free balance of each asset in a `get_balance` answer that pictures the whole account;
    None for a read of one asset (`args` name it) or an answer without a list of balances."""
    if args.get("asset") is not None or not isinstance(data, dict) or not isinstance(data.get("balances"), list):
        return None
    return {
        str(b["asset"]): Decimal(str(b["free"]))
        for b in data["balances"]
        if isinstance(b, dict) and "asset" in b and "free" in b
    }


class Pending(msgspec.Struct, frozen=True, kw_only=True):
    """A dispatched state change whose outcome is not known: what the reconciler looks up."""

    command_id: str
    tool: str
    symbol: str
    client_order_id: str | None
    order_id: int | None
    dispatched_ms: int
    finished: bool  # it has its terminal event (`unknown`); else the server stopped before the answer


@dataclass
class _Command:
    tool: str
    last: str | None = None
    dispatched_ms: int | None = None
    dispatch: Dispatched | None = None  # None too when its body is unreadable
    terminal: str | None = None
    run: str = ""  # from `received` ("" in logs of schema version 1)


class Fold:
    """`account=True` also keeps the AccountView that `audit replay` prints (the start-up fold
    does without it: it reads no answers)."""

    def __init__(self, *, account: bool = False) -> None:
        self.commands: dict[str, _Command] = {}
        self.anomalies: list[tuple[int, str, str]] = []  # (seq, command id, what)
        self.account = AccountView() if account else None

    def apply(self, row: Logged) -> None:
        if self.account is not None:
            self.account.apply(row)
        seq, command_id, kind, tool = row.seq, row.command_id, row.kind, row.tool
        if kind in OUTSIDE or command_id == "system":
            return
        command = self.commands.get(command_id)
        if command is None:
            command = self.commands[command_id] = _Command(tool)
        if illegal_move(command.last, kind):
            self.anomalies.append((seq, command_id, f"{kind} after {command.last or 'nothing'}"))
        command.last = kind
        if kind == "received":
            event = row.event
            command.run = event.run if isinstance(event, Received) and isinstance(event.run, str) else ""
        elif kind == "dispatched":
            command.dispatched_ms = row.ts_us // 1000
            event = row.event
            command.dispatch = event if isinstance(event, Dispatched) else None
        elif kind in TERMINAL_KINDS:
            command.terminal = kind

    def _orders(self, now_ms: int) -> list[_Command]:
        return [
            c
            for c in self.commands.values()
            if c.tool == "create_order" and c.dispatched_ms is not None and c.dispatched_ms > now_ms - DAY_MS
        ]

    def order_times(self, now_ms: int, runs: Container[str] | None = None) -> list[int]:
        """When the orders of the last 24 hours were dispatched (`runs`: only theirs)."""
        return sorted(
            c.dispatched_ms
            for c in self._orders(now_ms)
            if c.dispatched_ms is not None and (runs is None or c.run in runs)
        )

    def _open(self, c: _Command) -> bool:
        return c.terminal is None or (
            c.dispatched_ms is not None and c.terminal == "unknown" and c.last != "reconciled"
        )

    def runs_open(self) -> set[str]:
        """The runs with a command still open: not finished, or dispatched and never resolved."""
        return {c.run for c in self.commands.values() if self._open(c)}

    def unresolved(self, runs: Container[str] | None = None) -> list[Pending]:
        return [
            Pending(
                command_id=command_id,
                tool=c.tool,
                symbol=(c.dispatch.symbol if c.dispatch else None) or "",
                client_order_id=c.dispatch.client_order_id if c.dispatch else None,
                order_id=c.dispatch.order_id if c.dispatch else None,
                dispatched_ms=c.dispatched_ms,
                finished=c.terminal == "unknown",
            )
            for command_id, c in self.commands.items()
            if c.dispatched_ms is not None
            and c.terminal in (None, "unknown")
            and c.last != "reconciled"
            and (runs is None or c.run in runs)
        ]

    def interrupted(self, runs: Container[str] | None = None) -> list[tuple[str, str]]:
        return [
            (command_id, c.tool)
            for command_id, c in self.commands.items()
            if c.terminal is None and c.dispatched_ms is None and (runs is None or c.run in runs)
        ]


# -- the account as this server saw it (`audit replay`) -------------------------------------
_READ_KINDS = frozenset({"session", "received", "dispatched", "reconciled", "halted", "account_event"})
_ORDER_READS = ("create_order", "get_order", "get_orders", "get_open_orders", "cancel_order", "cancel_open_orders")


@dataclass
class OrderView:
    """An order this server dispatched, as the log last saw it."""

    command_id: str
    client_order_id: str
    symbol: str
    side: str | None
    type: str | None
    base_asset: str | None
    quote_asset: str | None
    status: str = "DISPATCHED"
    executed_qty: Decimal = Decimal(0)
    quote_qty: Decimal = Decimal(0)
    order_id: int | None = None
    seq: int = 0  # the event that last told us about it
    fact: Fact | None = None  # the newest fact of its status (events/facts.py)

    def report(self) -> dict[str, Any]:
        return {
            "command_id": self.command_id,
            "client_order_id": self.client_order_id,
            "symbol": self.symbol,
            "side": self.side,
            "type": self.type,
            "status": self.status,
            "executed_qty": f"{self.executed_qty:f}",
            "quote_qty": f"{self.quote_qty:f}",
            "order_id": self.order_id,
            "as_of_seq": self.seq,
        }


@dataclass
class AccountView:
    """What `audit replay` prints: orders, flows, balances, counts and the session, folded one event
    at a time (so any split of the log gives the same view as the whole). Balances are the last
    full read (a `get_balance` without `asset`); the implied ones move it by the fills since."""

    orders: dict[str, OrderView] = field(default_factory=dict)  # by client order id
    client_ids: dict[str, str] = field(default_factory=dict)  # command id → client order id
    args: dict[str, dict[str, Any]] = field(default_factory=dict)  # create_order arguments, by command id
    counts: dict[str, dict[str, int]] = field(default_factory=dict)  # tool → outcome → n
    session: dict[str, Any] | None = None
    balances: dict[str, Decimal] | None = None  # free, as get_balance last read them
    balances_seq: int | None = None
    at_read: dict[str, tuple[Decimal, Decimal]] = field(
        default_factory=dict
    )  # executed at that read, of orders moved since
    last_seq: int = 0
    last_ts_us: int = 0
    halt: dict[str, Any] | None = None  # trading halted (`binance-mcp halt`) as of this point, by whom

    def apply(self, row: Logged) -> None:
        seq, command_id, kind, tool = row.seq, row.command_id, row.kind, row.tool
        self.last_seq, self.last_ts_us = seq, row.ts_us
        event = row.event if kind in _READ_KINDS else None
        if isinstance(event, Session):
            self.session = {"session": command_id, **msgspec.to_builtins(event)}
        elif isinstance(event, Halted):
            self.halt = {"seq": seq, "ts_us": row.ts_us, **msgspec.to_builtins(event)}
        elif kind == "resumed":
            self.halt = None
        elif isinstance(event, Received) and tool in ("create_order", "get_balance"):
            self.args[command_id] = event.args
        elif isinstance(event, Dispatched) and tool == "create_order":
            self._dispatched(seq, command_id, event)
        elif isinstance(event, Reconciled) and tool == "create_order":
            self._reconciled(seq, command_id, event)
        elif isinstance(event, AccountEvent) and not event.foreign:
            order = self._by_command(command_id)  # an order's events are under the command that placed it
            if order is not None and isinstance(event.status, str):
                report = {"status": event.status, "executedQty": event.executed_qty, "orderId": event.order_id}
                report["cummulativeQuoteQty"] = event.quote_qty
                self._update(order, {k: v for k, v in report.items() if isinstance(v, str | int)}, seq)
        if kind in TERMINAL_KINDS:
            per_tool = self.counts.setdefault(tool, {})
            per_tool[kind] = per_tool.get(kind, 0) + 1
            self._outcome(row)

    def _dispatched(self, seq: int, command_id: str, dispatch: Dispatched) -> None:
        client_id = dispatch.client_order_id or ""
        args = self.args.get(command_id, {})
        symbol, quote = dispatch.symbol or "", dispatch.quote_asset
        base = dispatch.base_asset if isinstance(dispatch.base_asset, str) else None
        if not base and quote and symbol.endswith(quote):  # logs from before base_asset was kept
            base = symbol[: -len(quote)]
        self.client_ids[command_id] = client_id
        self.orders[client_id] = OrderView(
            command_id=command_id,
            client_order_id=client_id,
            symbol=symbol,
            side=args.get("side"),
            type=args.get("type"),
            base_asset=base,
            quote_asset=quote,
            seq=seq,
        )

    def _by_command(self, command_id: str) -> OrderView | None:
        client_id = self.client_ids.get(command_id)
        return None if client_id is None else self.orders.get(client_id)

    def _reconciled(self, seq: int, command_id: str, found: Reconciled) -> None:
        order = self._by_command(command_id)
        if order is None:
            return
        if found.placed is False:
            order.status, order.seq = "NOT_PLACED", seq
        else:  # the order as the exchange showed it, in its own names, as an answer does
            self._update(order, msgspec.to_builtins(found), seq)

    def _outcome(self, row: Logged) -> None:
        seq, command_id, kind, tool = row.seq, row.command_id, row.kind, row.tool
        if tool == "create_order" and kind in ("failed", "unknown"):
            order = self._by_command(command_id)
            if order is not None:
                order.status, order.seq = ("NOT_PLACED" if kind == "failed" else "UNKNOWN"), seq
            return
        if kind != "executed" or (tool not in _ORDER_READS and tool != "get_balance"):
            return
        event = row.event
        if not isinstance(event, Executed):
            return  # its body is unreadable (or cut to its digest: too large to keep)
        data = event.data
        if tool == "get_balance":
            balances = account_balances(self.args.pop(command_id, {}), data)
            if balances is None:
                return  # one asset, or no balances: not a picture of the account
            self.balances = balances
            self.balances_seq = seq
            self.at_read = {}  # filled in as orders move after this read (see _update)
            return
        for report in data if isinstance(data, list) else [data]:
            if not isinstance(report, dict):
                continue
            # A cancel's own clientOrderId names the cancel; the order is origClientOrderId.
            client_id = report.get("origClientOrderId") or report.get("clientOrderId")
            order = self.orders.get(str(client_id))
            if order is None and tool == "create_order":
                order = self._by_command(command_id)
            if order is not None:
                self._update(order, report, seq)

    def _update(self, order: OrderView, report: dict[str, Any], seq: int) -> None:
        if self.balances_seq is not None and order.client_order_id not in self.at_read:
            # What it had executed when the balances were read: the fills since move them.
            self.at_read[order.client_order_id] = (
                (order.executed_qty, order.quote_qty) if order.seq < self.balances_seq else (Decimal(0), Decimal(0))
            )
        if report.get("orderId") is not None:
            order.order_id = int(report["orderId"])
        told = fact(report.get("status"), report.get("executedQty"), report.get("cummulativeQuoteQty"), seq)
        if told is not None and not newer(order.fact, told):
            return  # it tells less than the log already holds (an answer journaled after a stream event)
        order.fact = told
        if report.get("status"):
            order.status = str(report["status"])
        if report.get("executedQty") is not None:
            order.executed_qty = Decimal(str(report["executedQty"]))
        if report.get("cummulativeQuoteQty") is not None:
            order.quote_qty = Decimal(str(report["cummulativeQuoteQty"]))
        order.seq = seq

    def flows(self) -> dict[str, dict[str, str]]:
        """Per symbol: the base bought (+) or sold (-) and the quote paid (-) or received (+)."""
        totals: dict[str, list[Decimal]] = {}
        for order in self.orders.values():
            sign = 1 if order.side == "BUY" else -1 if order.side == "SELL" else 0
            entry = totals.setdefault(order.symbol, [Decimal(0), Decimal(0)])
            entry[0] += sign * order.executed_qty
            entry[1] -= sign * order.quote_qty
        return {s: {"base": f"{b:f}", "quote": f"{q:f}"} for s, (b, q) in sorted(totals.items())}

    def implied_balances(self) -> dict[str, str] | None:
        """The last balances read, moved by what the fills since then imply (commissions aside)."""
        if self.balances is None:
            return None
        implied = dict(self.balances)
        for client_id, order in self.orders.items():
            # Not in at_read: it has not moved since the read (or began after it, at zero).
            then_qty, then_quote = self.at_read.get(client_id, (order.executed_qty, order.quote_qty))
            sign = 1 if order.side == "BUY" else -1 if order.side == "SELL" else 0
            if not sign or not order.base_asset or not order.quote_asset:
                continue
            implied[order.base_asset] = implied.get(order.base_asset, Decimal(0)) + sign * (
                order.executed_qty - then_qty
            )
            implied[order.quote_asset] = implied.get(order.quote_asset, Decimal(0)) - sign * (
                order.quote_qty - then_quote
            )
        return {asset: f"{value:f}" for asset, value in sorted(implied.items())}


def replay_state(fold: Fold) -> dict[str, Any]:
    """The state `audit replay` prints, from a Fold made with `account=True`."""
    view = fold.account
    assert view is not None, "fold with account=True"
    return {
        "as_of": {"seq": view.last_seq, "ts_us": view.last_ts_us},
        "orders": [o.report() for o in view.orders.values()],
        "flows": view.flows(),
        "balances": {
            "read_at_seq": view.balances_seq,
            "read": {a: f"{v:f}" for a, v in sorted((view.balances or {}).items())},
            "implied": view.implied_balances(),
        },
        "unresolved": [p.command_id for p in fold.unresolved()],
        "counts": view.counts,
        "session": view.session,
        "halted": view.halt,
        "anomalies": len(fold.anomalies),
    }


# -- comparing outcomes (`audit replay --execute`) -----------------------------------------
def outcome_signature(outcome: str | None, result: Outcome | None) -> dict[str, Any]:
    """What a re-run must reproduce of an outcome: its kind, the error type of a refusal, and an
    order's status. Prices are not in it: on paper they differ by themselves."""
    signature: dict[str, Any] = {"outcome": outcome or "pending"}
    if isinstance(result, Executed):
        data = result.data
        if isinstance(data, dict) and "status" in data:
            signature["status"] = data["status"]
            # What an order sized in base units executed; one sized in quote (quoteOrderQty)
            # executes a quantity that follows the price, which differs on paper by itself.
            executed = _decimal(data.get("executedQty"))
            if executed is not None and not _decimal(data.get("origQuoteOrderQty")):
                signature["executed"] = plain(executed)
    elif result is not None:
        signature["type"] = getattr(result, "kind", None)
    return signature


def difference(original: dict[str, Any], rerun: dict[str, Any]) -> str | None:
    """How a re-run's outcome signature differs from the original's ('outcome', 'type', 'status',
    'executed'), or None when they are the same."""
    for field_name in ("outcome", "type", "status", "executed"):
        if original.get(field_name) != rerun.get(field_name):
            return field_name
    return None


# -- the market as recorded (`audit replay --execute`) --------------------------------------
class Move(NamedTuple):
    """Put `symbol`'s market at `price`: as its last trade (`at="last"`), or so that its best ask
    (`"ask"`) or best bid (`"bid"`) is there, the side an order that took liquidity met."""

    symbol: str
    price: Decimal
    at: str = "last"


def _decimal(value: Any) -> Decimal | None:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def _mid(bid: Any, ask: Any) -> Decimal | None:
    low, high = _decimal(bid), _decimal(ask)
    return (low + high) / 2 if low and high else None


def _seen(tool: str, args: dict[str, Any], data: Any) -> list[Move]:
    """The prices a command's own answer holds: what it met."""
    symbol = normalize_symbol(str(args.get("symbol") or ""))
    price: Decimal | None
    if tool in ("get_ticker_price", "get_ticker", "get_book_ticker"):
        field_name = {"get_ticker_price": "price", "get_ticker": "lastPrice"}.get(tool)
        moves = []
        for item in data if isinstance(data, list) else [data]:
            if not isinstance(item, dict) or not item.get("symbol"):
                continue
            price = _decimal(item.get(field_name)) if field_name else _mid(item.get("bidPrice"), item.get("askPrice"))
            if price:
                moves.append(Move(str(item["symbol"]), price))
        return moves
    if tool == "get_order_book" and isinstance(data, dict) and data.get("bids") and data.get("asks"):
        price = _mid(data["bids"][0][0], data["asks"][0][0])
        return [Move(symbol, price)] if price and symbol else []
    if tool == "get_recent_trades" and isinstance(data, list) and data and isinstance(data[-1], dict):
        price = _decimal(data[-1].get("price"))
        return [Move(symbol, price)] if price and symbol else []
    if tool == "create_order" and isinstance(data, dict):
        executed, quote = _decimal(data.get("executedQty")), _decimal(data.get("cummulativeQuoteQty"))
        if executed and quote:  # it took liquidity: its average price, on the side it took from
            side = "ask" if data.get("side") == "BUY" else "bid"
            return [Move(str(data.get("symbol") or symbol), quote / executed, side)]
    return []


class RecordedMarket:
    """Where a re-run puts each symbol's paper market before a command: at the prices the
    original session saw. A command's own answer says what it met (a ticker's price, the middle of
    a book's best bid and ask, the last of the recent trades, an order's average fill on the side
    it took); an order that met no fill was at least checked against the average price in its
    `dispatched` record, used when nothing closer is known. Between commands the market stands
    still. Pure: fed the commands in log order."""

    def __init__(self) -> None:
        self.known: dict[str, Decimal] = {}

    def moves(self, tool: str, args: dict[str, Any], result: Outcome | None, dispatch: Dispatched | None) -> list[Move]:
        data = result.data if isinstance(result, Executed) else None
        moves = _seen(tool, args, data)
        if not moves and dispatch is not None:
            symbol, ref = dispatch.symbol or "", dispatch.ref_price
            if symbol and ref and ref.is_finite() and symbol not in self.known:
                moves = [Move(symbol, ref)]
        for move in moves:
            self.known[move.symbol] = move.price
        return moves
