"""Offline analysis of the event log: pure functions over rows. No I/O: `events.store.LogReader`
reads the log (read-only) and the face (`binance-mcp audit`, the `get_audit_log` tool) renders.

- `parse_time`: ISO 8601 or relative ('90s', '15m', '2h', '3d', '1w') into µs since the epoch.
- `Filters`: what `list`, `stats`, `export` and `get_audit_log` narrow by, as SQL over the
  `commands` view (parameters bound, never formatted in).
- `command_entry`, `timeline`, `key_args`, `summary`, `percentile`, `Stats`: what `list`,
  `get_audit_log`, `show` and `stats` show.
- `find_alerts`: the security patterns of a period, judged against what came before it.
- `crosscheck`: the account's orders at the exchange against the orders this server dispatched.
The hash chain and its `Verifier` are in events/chain.py.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import msgspec

from binance_mcp.events.outcomes import Executed, Outcome, bounded, echo
from binance_mcp.events.schema import Received, decode
from binance_mcp.exchange.rules import SYMBOL_SEPARATORS, normalize_symbol

__all__ = [
    "Call",
    "Filters",
    "Order",
    "Stats",
    "Thresholds",
    "alert",
    "auth_failure_alerts",
    "bursts",
    "command_entry",
    "counted",
    "crosscheck",
    "find_alerts",
    "iso",
    "key_args",
    "normalized_symbol_sql",
    "parse_duration",
    "parse_time",
    "percentile",
    "quote_of",
    "summary",
    "timeline",
]

_RELATIVE = re.compile(r"([0-9]{1,12}(?:\.[0-9]{1,6})?) *([smhdw])")  # ASCII digits only: fullmatch
MAX_AGE_S = 100 * 365 * 86400  # an age reaches back at most 100 years
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_decoder = msgspec.json.Decoder()
KEY_ARGS = ("symbol", "side", "type", "quantity", "quote_quantity", "price", "stop_price", "order_id", "asset")


def parse_duration(text: str) -> int:
    """'90s', '15m', '2h', '30d', '1w' (ASCII digits, at most 100 years): whole seconds, at least 1."""
    found = _RELATIVE.fullmatch(text.strip(" "))
    if not found:
        raise ValueError(f"{echo(text)} is not a duration (90s, 15m, 2h, 30d, 1w; ASCII digits)")
    seconds = Decimal(found.group(1)) * _UNIT_S[found.group(2)]
    if not 1 <= seconds <= MAX_AGE_S:
        raise ValueError(f"{echo(text)} must be from 1 second to 100 years")
    return int(seconds)


def parse_time(text: str, now_us: int) -> int:
    """'2h' (that long ago), '2026-11-29T03:12', '2026-11-29T03:12:00Z' or a date: µs since the epoch.
    A time without a zone is UTC. ValueError names what it could not read."""
    text = text.strip(" ")
    relative = _RELATIVE.fullmatch(text)
    if relative:
        age_s = Decimal(relative.group(1)) * _UNIT_S[relative.group(2)]
        if age_s > MAX_AGE_S:
            raise ValueError(f"{echo(text)} reaches back more than 100 years")
        return now_us - int(age_s * 1_000_000)
    try:
        if not text.isascii():  # fromisoformat's digits are ASCII today; the grammar says so for sure
            raise ValueError
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{echo(text)} is neither a time (2026-11-29T03:12Z) nor an age (90s, 15m, 2h, 3d, 1w; ASCII digits)"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp() * 1_000_000)


def iso(ts_us: int) -> str:
    """µs since the epoch as UTC ISO 8601 with milliseconds."""
    return datetime.fromtimestamp(ts_us / 1_000_000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


COMMANDS_COLUMNS = {k: k for k in ("received_us", "tool", "outcome", "symbol", "session", "account")}


def normalized_symbol_sql(expr: str) -> str:
    """SQL for `expr` as `normalize_symbol` reads a symbol: the log keeps the arguments as the
    client sent them (`btc/usdt`), a filter names the symbol (`BTCUSDT`)."""
    for separator in SYMBOL_SEPARATORS:
        expr = f"replace({expr}, '{separator}', '')"
    return f"upper(trim({expr}))"


@dataclass(frozen=True)
class Filters:
    since_us: int | None = None
    until_us: int | None = None
    tool: str | None = None
    outcome: str | None = None
    symbol: str | None = None
    session: str | None = None
    account: str | None = None  # events/accounts.py

    def where(self, columns: Mapping[str, str] | None = None) -> tuple[str, list[object]]:
        """A WHERE clause over the `commands` view (or over other `columns`), and its parameters."""
        col = columns or COMMANDS_COLUMNS
        clauses: list[str] = []
        params: list[object] = []
        for name, value, op in (
            ("received_us", self.since_us, ">="),
            ("received_us", self.until_us, "<="),
            ("tool", self.tool, "="),
            ("account", self.account, "="),
        ):
            if value is not None:
                clauses.append(f"{col[name]} {op} ?")
                params.append(value)
        if self.outcome is not None:  # 'pending' is a command with no terminal yet
            outcome = col["outcome"]
            clauses.append(f"{outcome} IS NULL" if self.outcome == "pending" else f"{outcome} = ?")
            params.extend(() if self.outcome == "pending" else (self.outcome,))
        if self.session is not None:
            clauses.append(f"{col['session']} LIKE ?")
            params.append(self.session + "%")
        if self.symbol is not None:  # however the log or the filter spells it
            clauses.append(f"{normalized_symbol_sql(col['symbol'])} = ?")
            params.append(normalize_symbol(self.symbol))
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """`1 command`, `2 commands`, `1,234 events`: a count with its noun, singular or plural."""
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"


def command_entry(row: Sequence[Any]) -> dict[str, Any]:
    """One row of `LogReader.commands_page` as `list` and `get_audit_log` show it."""
    ts, cid, tool, request, outcome, latency, result, session, *later = row
    gist = summary(outcome, result)
    if later and later[0] and "status" in gist:
        gist["status"] = later[0]  # the account stream told more since the answer (a resting order filled)
    return {
        "at": iso(int(ts)),
        "command_id": cid,
        "tool": tool,
        "args": key_args(request),
        "outcome": outcome or "pending",
        "latency_ms": None if latency is None else round(float(latency), 2),
        "result": gist,
        "session": session,
    }


ORDER_EVENTS = ("executionReport", "order", "listStatus")
BALANCE_EVENTS = ("outboundAccountPosition", "balanceUpdate", "externalLockUpdate")


def account_events_page(
    reader: Any,
    *,
    symbol: str | None,
    kind: str | None,
    since_us: int | None,
    limit: int,
    offset: int,
    account: str | None = None,
) -> dict[str, Any]:
    """The account stream's events on record (`get_account_events`): newest `limit` after `offset`
    newer ones, oldest first, with how many match; with `account`, of that account alone (events
    written before accounts name none, and are never shown for one)."""
    clauses: list[str] = ["kind = 'account_event'"]
    params: list[object] = []
    if account is not None:
        clauses.append("body ->> '$.account' = ?")
        params.append(account)
    if symbol is not None:
        clauses.append("body ->> '$.symbol' = ?")
        params.append(symbol)
    if kind is not None:
        names = ORDER_EVENTS if kind == "order" else BALANCE_EVENTS
        clauses.append(f"body ->> '$.event_type' IN ({', '.join('?' * len(names))})")
        params.extend(names)
    if since_us is not None:
        clauses.append("ts >= ?")
        params.append(since_us)
    where = " AND ".join(clauses)
    matched = int(reader.query(f"SELECT count(*) FROM events WHERE {where}", params).fetchone()[0])
    rows = reader.query(
        f"SELECT seq, ts, command_id, body FROM events WHERE {where} ORDER BY seq DESC LIMIT ? OFFSET ?",
        [*params, limit, offset],
    ).fetchall()
    entries = [account_event_entry(*row) for row in reversed(rows)]
    more = offset + len(entries) < matched
    return {"events": entries, "matched": matched, "next_offset": offset + len(entries) if more else None}


def account_event_entry(seq: int, ts: int, command_id: str, body: str) -> dict[str, Any]:
    """One `account_event` as the assistant reads it: what it joins on, without the raw fields
    (balances, for a balance event)."""
    event = _decoder.decode(body)
    entry: dict[str, Any] = {"seq": seq, "at": iso(int(ts)), "command_id": command_id}
    for name in (
        "event_type",
        "source",
        "symbol",
        "client_order_id",
        "order_id",
        "side",
        "execution",
        "status",
        "executed_qty",
        "quote_qty",
        "foreign",
    ):
        if name in event:
            entry[name] = event[name]
    raw = event.get("raw") if isinstance(event.get("raw"), dict) else {}
    if isinstance(raw.get("B"), list):
        entry["balances"] = [
            {"asset": b.get("a"), "free": b.get("f"), "locked": b.get("l")} for b in raw["B"] if isinstance(b, dict)
        ][:50]
    elif event.get("event_type") == "balanceUpdate":
        entry["balances"] = [{"asset": raw.get("a"), "delta": raw.get("d")}]
    return entry


def timeline(rows: Iterable[Sequence[object]]) -> list[dict[str, Any]]:
    """A command's events: when, what, the time since the step before, and the body."""
    steps: list[dict[str, Any]] = []
    previous: int | None = None
    for seq, ts, _cid, kind, _tool, venue, body, _hash in rows:
        ts_us = int(str(ts))
        steps.append(
            {
                "seq": seq,
                "at": iso(ts_us),
                "kind": kind,
                "after_ms": None if previous is None else round((ts_us - previous) / 1000, 3),
                "venue": venue,
                "body": _decoder.decode(str(body)),
            }
        )
        previous = ts_us
    return steps


def key_args(request: str | None) -> str:
    """The arguments that say what a call was about, in a few words: 'BTCUSDT BUY LIMIT 0.001 @ 60000'."""
    received = decode("received", request) if request else None
    if not isinstance(received, Received):
        return ""
    args = received.args
    words = [_word(args[k]) for k in ("symbol", "asset", "side", "type", "quantity") if k in args]
    if "quote_quantity" in args:  # an amount of the quote asset: `10 USDT`, never to be read as 10 BTC
        words.append(f"{args['quote_quantity']} {quote_of(str(args.get('symbol', ''))) or '(quote asset)'}")
    if "price" in args:
        words.append(f"@ {args['price']}")
    if "stop_price" in args:
        words.append(f"stop {args['stop_price']}")
    if "order_id" in args:
        words.append(f"#{args['order_id']}")
    if "client_order_id" in args:
        words.append(str(args["client_order_id"]))
    return " ".join(words)


def _word(value: Any) -> str:
    """An argument as a word: a choice in the case the order was sent in (`buy` → `BUY`, ASCII only)."""
    text = str(value)
    return text.upper() if text.isascii() and text.isalpha() else text


# Binance's quote assets, longest first where one ends another (FDUSD before USD…).
_QUOTE_ASSETS = ("FDUSD", "USDT", "USDC", "TUSD", "BUSD", "BTC", "ETH", "BNB", "EUR", "TRY", "BRL", "JPY", "DAI")


def quote_of(symbol: str) -> str | None:
    """The quote asset of a symbol as a client may spell it (`btc/usdt`, `BTCUSDT`); None when the
    spelling does not say."""
    text = symbol.strip()
    for separator in SYMBOL_SEPARATORS:
        if separator in text.strip(separator):
            return normalize_symbol(text.rpartition(separator)[2]) or None
    name = normalize_symbol(text)
    found = [q for q in _QUOTE_ASSETS if name.endswith(q) and len(name) > len(q)]
    return max(found, key=len) if found else None


_GIST_KEYS = (
    "symbol",
    "orderId",
    "clientOrderId",
    "status",
    "price",
    "origQty",
    "executedQty",
    "cummulativeQuoteQty",
    "lastPrice",
    "priceChangePercent",
    "bidPrice",
    "askPrice",
    "asset",
    "free",
    "locked",
    "canTrade",
)


def summary(outcome: str | None, result: str | None) -> dict[str, Any]:
    """The gist of an outcome, in the keys a tool result uses: an error's `type`, `message` and
    `code`; for an answer, its order or price fields (status and quantities, a price), and for each
    list in it (balances, bids, fills…) how many; for a list answer, how many. Empty while pending."""
    event = decode(outcome, result) if outcome and result else None
    if not isinstance(event, Outcome):
        return {"truncated": True} if outcome == "executed" and result and '"truncated"' in result else {}
    if not isinstance(event, Executed):
        gist = {"type": getattr(event, "kind", None), "message": getattr(event, "message", None)}
        gist["code"] = getattr(event, "code", None)
        return {k: bounded(v) if isinstance(v, str) else v for k, v in gist.items() if v is not None}
    data = event.data
    if isinstance(data, list):
        return {"count": len(data)}
    if not isinstance(data, dict):
        return {}
    gist = {k: data[k] for k in _GIST_KEYS if k in data and not isinstance(data[k], dict | list)}
    gist.update({f"{k}_count": len(v) for k, v in data.items() if isinstance(v, list)})
    return gist


def percentile(ordered: Sequence[float], q: float) -> float | None:
    """The q-quantile (0 < q ≤ 1) of sorted values, nearest rank; None when there are none."""
    if not ordered:
        return None
    rank = max(1, -(-int(q * 1000) * len(ordered) // 1000))
    return ordered[min(rank, len(ordered)) - 1]


@dataclass
class Stats:
    """Counts and latencies of commands, added one at a time, as `audit stats` reports them."""

    by_tool: Counter[tuple[str, str]] = field(default_factory=Counter)
    latencies: defaultdict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    throttles: Counter[str] = field(default_factory=Counter)
    per_session: Counter[str] = field(default_factory=Counter)
    per_day: Counter[int] = field(default_factory=Counter)  # days since the epoch (UTC)

    def add(
        self,
        tool: str,
        outcome: str | None,
        latency_ms: float | None,
        session: str | None,
        day: int,
        throttled: str | None,
    ) -> None:
        """One command; `throttled` is the message of a throttle (ours or the exchange's), else None."""
        self.add_rows([(tool, outcome, latency_ms, session, day, throttled)])

    def add_rows(self, rows: Iterable[tuple[str, str | None, float | None, str | None, int, str | None]]) -> None:
        """`add` for many commands in one loop (a million-event log is half a million commands)."""
        by_tool, latencies, sessions, days, throttles = (
            self.by_tool,
            self.latencies,
            self.per_session,
            self.per_day,
            self.throttles,
        )
        for tool, outcome, latency_ms, session, day, throttled in rows:
            by_tool[(tool, outcome or "pending")] += 1
            if latency_ms is not None:
                latencies[tool].append(latency_ms)
            sessions[session or "-"] += 1
            days[day] += 1
            if throttled is not None:
                throttles[throttled] += 1

    def report(self) -> dict[str, Any]:
        tools: dict[str, dict[str, Any]] = {}
        for (tool, outcome), n in sorted(self.by_tool.items()):
            entry = tools.setdefault(tool, {"calls": 0, "outcomes": {}})
            entry["calls"] += n
            entry["outcomes"][outcome] = n
        for tool, entry in tools.items():
            errors = sum(n for o, n in entry["outcomes"].items() if o not in ("executed", "pending"))
            entry["error_rate"] = round(errors / entry["calls"], 4)
            ordered = sorted(self.latencies.get(tool, ()))
            entry["latency_ms"] = {f"p{int(q * 100)}": percentile(ordered, q) for q in (0.5, 0.95, 0.99)}
        return {
            "tools": tools,
            "throttles": dict(self.throttles.most_common()),
            "sessions": dict(self.per_session.most_common()),
            "days": {iso(day * 86_400_000_000)[:10]: n for day, n in sorted(self.per_day.items())},
        }


# -- alerts ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Thresholds:
    """When a pattern is worth a look; each is an `audit alerts` flag."""

    probe_count: int = 5  # validation errors from one session within probe_window_s
    probe_window_s: int = 60
    rate_limit_hits: int = 1  # 429/418 answers from the exchange, or our own throttles x10
    history_min: int = 20  # commands before the period needed to judge "never used before"
    orders_history_min: int = 10  # orders before the period needed to judge hours and sizes
    size_factor: float = 5.0  # an order worth more than this times the median order before it


PROBING_KINDS = frozenset({"validation_error", "unknown_tool", "unknown_symbol", "request_too_large"})


@dataclass(frozen=True)
class Call:
    """One command as `alerts` looks at it."""

    command_id: str
    tool: str
    received_us: int
    outcome: str | None
    kind: str | None  # the error type of a rejection or failure
    code: int | None
    symbol: str | None
    session: str | None

    @property
    def at_us(self) -> int:
        return self.received_us


@dataclass(frozen=True)
class Order:
    command_id: str
    dispatched_us: int
    symbol: str
    quote_asset: str
    notional: Decimal

    @property
    def at_us(self) -> int:
        return self.dispatched_us


def alert(pattern: str, summary_text: str, ids: Sequence[str], times: Sequence[int]) -> dict[str, Any]:
    """One alert: its pattern, what it means, how many, and its evidence, bounded: up to 20 command
    ids, the first and last id and time, the span."""
    return {
        "pattern": pattern,
        "summary": summary_text,
        "count": len(ids),  # all of them; the evidence below is bounded
        "command_ids": list(ids[:20]),
        "first_id": ids[0] if ids else None,
        "last_id": ids[-1] if ids else None,
        "first": iso(min(times)) if times else None,
        "last": iso(max(times)) if times else None,
        "span_s": (max(times) - min(times)) / 1e6 if times else None,
    }


def bursts(calls: Sequence[Call], count: int, window_us: int) -> list[list[Call]]:
    """The bursts in `calls` (in time order): every call of every window of `window_us` that holds
    `count` or more, overlapping windows making one burst. Whole: 29 rejected calls in 0.3 s are
    one burst of 29, not the first 5 of them; a trickle that never fills a window is none."""
    found: list[list[Call]] = []
    lo = hi = -1  # the burst being grown, as indexes into `calls`
    start = 0
    for end in range(len(calls)):
        while calls[end].received_us - calls[start].received_us > window_us:
            start += 1
        if end - start + 1 < count:
            continue
        if hi >= start:  # this window overlaps the burst being grown
            hi = end
            continue
        if hi >= 0:
            found.append(list(calls[lo : hi + 1]))
        lo, hi = start, end
    if hi >= 0:
        found.append(list(calls[lo : hi + 1]))
    return found


def auth_failure_alerts(failures: Sequence[tuple[str, int, str]], t: Thresholds = Thresholds()) -> list[dict[str, Any]]:
    """Bursts of refused credentials (`security` events `authentication_failed`: command id, time,
    remote address), per remote address, as `find_alerts` counts probing: every failure of every
    full window (`probe_count` within `probe_window_s`)."""
    by_remote: defaultdict[str, list[Call]] = defaultdict(list)
    for command_id, at_us, remote in failures:
        host = remote.rpartition(":")[0] or remote
        by_remote[host].append(Call(command_id, "", at_us, "rejected", "authentication_failed", None, None, None))
    found = []
    for host, calls in sorted(by_remote.items()):
        calls.sort(key=lambda c: c.received_us)
        for burst in bursts(calls, t.probe_count, t.probe_window_s * 1_000_000):
            span_s = (burst[-1].received_us - burst[0].received_us) / 1e6
            what = f"{len(burst)} refused credentials within {span_s:.3g} s from {host}"
            found.append(
                alert("authentication_failures", what, [c.command_id for c in burst], [c.received_us for c in burst])
            )
    return found


def find_alerts(
    period: Sequence[Call],
    history: Sequence[Call],
    orders: Sequence[Order],
    orders_before: Sequence[Order],
    t: Thresholds = Thresholds(),
) -> list[dict[str, Any]]:
    """The security patterns in `period` (judged against what came before it), with evidence."""
    alerts: list[dict[str, Any]] = []

    def add(pattern: str, what: str, items: Sequence[Call | Order]) -> None:
        if items:
            alerts.append(alert(pattern, what, [i.command_id for i in items], [i.at_us for i in items]))

    # Probing: bursts of rejected input from one session, and any made-up tool name.
    by_session: defaultdict[str, list[Call]] = defaultdict(list)
    for call in period:
        if call.kind in PROBING_KINDS:
            by_session[call.session or "-"].append(call)
    for session, calls in by_session.items():
        calls.sort(key=lambda c: c.received_us)
        for burst in bursts(calls, t.probe_count, t.probe_window_s * 1_000_000):
            span_s = (burst[-1].received_us - burst[0].received_us) / 1e6
            refused = Counter(c.kind for c in burst).most_common()
            what = ", ".join(f"{n} {kind}" for kind, n in refused)  # what was refused, most first
            add(
                "probing",
                f"{len(burst)} rejected calls within {span_s:.3g} s from session {session}: {what} "
                f"(a burst: {t.probe_count} or more within {t.probe_window_s} s)",
                burst,
            )
    unknown = [c for c in period if c.kind == "unknown_tool"]
    add("unknown_tools", f"calls to tools that do not exist: {', '.join(sorted({c.tool for c in unknown}))}", unknown)
    big = [c for c in period if c.kind == "request_too_large"]
    add("oversized_requests", f"{counted(len(big), 'call')} over the argument size limit", big)
    limited = [c for c in period if c.kind == "rate_limit_exceeded" and c.outcome == "failed"]
    throttled = [c for c in period if c.outcome == "throttled"]
    if len(limited) >= t.rate_limit_hits or len(throttled) >= 10 * t.rate_limit_hits:
        what = (
            f"{counted(len(limited), 'rate-limit answer')} from the exchange (429/418), "
            f"{counted(len(throttled), 'call')} throttled here"
        )
        add("rate_limits", what, limited + throttled)
    if len(history) >= t.history_min:
        known_tools = {c.tool for c in history}
        known_symbols = {normalize_symbol(c.symbol) for c in history if c.symbol}
        new_tools = [c for c in period if c.tool not in known_tools and c.kind != "unknown_tool"]
        new_symbols = [c for c in period if c.symbol and normalize_symbol(c.symbol) not in known_symbols]
        add("new_tools", f"never used before in this log: {', '.join(sorted({c.tool for c in new_tools}))}", new_tools)
        names = ", ".join(sorted({normalize_symbol(c.symbol or "") for c in new_symbols}))
        add("new_symbols", f"never used before in this log: {names}", new_symbols)
    if len(orders_before) >= t.orders_history_min:
        usual_hours = {int(iso(o.dispatched_us)[11:13]) for o in orders_before}
        odd_hours = [o for o in orders if int(iso(o.dispatched_us)[11:13]) not in usual_hours]
        add("unusual_hours", f"orders at hours (UTC) with none before: {sorted(usual_hours)} are usual", odd_hours)
        medians: dict[str, Decimal] = {}
        for asset in {o.quote_asset for o in orders_before}:
            values = sorted(o.notional for o in orders_before if o.quote_asset == asset)
            medians[asset] = values[len(values) // 2]
        factor = Decimal(str(t.size_factor))
        large = [o for o in orders if o.quote_asset in medians and o.notional > factor * medians[o.quote_asset]]
        add("unusual_sizes", f"orders worth over {t.size_factor:g}x the median order before them", large)
    return alerts


# -- crosscheck -----------------------------------------------------------------------------
def crosscheck(
    dispatched: Sequence[tuple[str, str, str | None]],
    exchange_orders: Sequence[dict[str, Any]],
    client_prefix: str = "mcp",
) -> dict[str, Any]:
    """`dispatched`: (command id, client order id, known fate: 'placed' / 'not_placed' / None) of
    the orders this server sent in the period; `exchange_orders`: the account's orders as the
    exchange lists them. What is on the account that this server never placed, and what this
    server placed that the exchange does not know."""
    ours = {client_id: (cid, fate) for cid, client_id, fate in dispatched}
    foreign = [o for o in exchange_orders if o.get("clientOrderId") not in ours]
    seen = {o.get("clientOrderId") for o in exchange_orders}
    missing = [
        {"command_id": cid, "client_order_id": client_id}
        for client_id, (cid, fate) in ours.items()
        if client_id not in seen and fate != "not_placed"
    ]
    keys = ("symbol", "orderId", "clientOrderId", "side", "type", "status", "origQty", "executedQty", "price", "time")
    return {
        "not_placed_by_this_server": [{k: o.get(k) for k in keys} for o in foreign],
        "unknown_to_the_exchange": missing,
        "orders_compared": len(exchange_orders),
        "dispatched_compared": len(dispatched),
        "ours_by_prefix_but_not_in_log": [
            o.get("clientOrderId") for o in foreign if str(o.get("clientOrderId", "")).startswith(client_prefix)
        ],
    }
