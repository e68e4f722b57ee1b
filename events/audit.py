"""Offline analysis of the event log: pure functions over rows. No I/O: `events.store.LogReader`
reads the log (read-only) and the face (`binance-mcp audit`, the `get_audit_log` tool) renders.

- `parse_time`: ISO 8601 or relative ('90s', '15m', '2h', '3d', '1w') into µs since the epoch.
- `Filters`: what `list`, `stats`, `export` and `get_audit_log` narrow by, as SQL over the
  `commands` view (parameters bound, never formatted in).
- `command_entry`, `timeline`, `key_args`, `summary`, `percentile`, `Stats`: what `list`,
  `get_audit_log`, `show` and `stats` show.
The hash chain and its `Verifier` are in events/chain.py.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import msgspec

__all__ = [
    "Filters",
    "Stats",
    "command_entry",
    "iso",
    "key_args",
    "parse_time",
    "percentile",
    "summary",
    "timeline",
]

_RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_decoder = msgspec.json.Decoder()
KEY_ARGS = ("symbol", "side", "type", "quantity", "quote_quantity", "price", "stop_price", "order_id", "asset")


def parse_time(text: str, now_us: int) -> int:
    """'2h' (that long ago), '2026-11-29T03:12', '2026-11-29T03:12:00Z' or a date: µs since the epoch.
    A time without a zone is UTC. ValueError names what it could not read."""
    text = text.strip()
    relative = _RELATIVE.match(text)
    if relative:
        return now_us - int(float(relative.group(1)) * _UNIT_S[relative.group(2)] * 1_000_000)
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is neither a time (2026-11-29T03:12Z) nor an age (90s, 15m, 2h, 3d, 1w)") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp() * 1_000_000)


def iso(ts_us: int) -> str:
    """µs since the epoch as UTC ISO 8601 with milliseconds."""
    return datetime.fromtimestamp(ts_us / 1_000_000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass(frozen=True)
class Filters:
    since_us: int | None = None
    until_us: int | None = None
    tool: str | None = None
    outcome: str | None = None
    symbol: str | None = None
    session: str | None = None

    def where(self) -> tuple[str, list[object]]:
        """A WHERE clause over the `commands` view, and its parameters."""
        clauses: list[str] = []
        params: list[object] = []
        for column, value, op in (
            ("received_us", self.since_us, ">="),
            ("received_us", self.until_us, "<="),
            ("tool", self.tool, "="),
            ("symbol", self.symbol, "="),
        ):
            if value is not None:
                clauses.append(f"{column} {op} ?")
                params.append(value)
        if self.outcome is not None:  # 'pending' is a command with no terminal yet
            clauses.append("outcome IS NULL" if self.outcome == "pending" else "outcome = ?")
            params.extend(() if self.outcome == "pending" else (self.outcome,))
        if self.session is not None:
            clauses.append("session LIKE ?")
            params.append(self.session + "%")
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def command_entry(row: Sequence[Any]) -> dict[str, Any]:
    """One row of `LogReader.commands_page` as `list` and `get_audit_log` show it."""
    ts, cid, tool, request, outcome, latency, result, session = row
    return {
        "at": iso(int(ts)),
        "command_id": cid,
        "tool": tool,
        "args": key_args(request),
        "outcome": outcome or "pending",
        "latency_ms": None if latency is None else round(float(latency), 2),
        "result": summary(outcome, result),
        "session": session,
    }


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
    if not request:
        return ""
    args = _decoder.decode(request).get("args") or {}
    if not isinstance(args, dict):
        return ""
    words = [f"{args[k]}" for k in ("symbol", "asset", "side", "type", "quantity", "quote_quantity") if k in args]
    if "price" in args:
        words.append(f"@ {args['price']}")
    if "stop_price" in args:
        words.append(f"stop {args['stop_price']}")
    if "order_id" in args:
        words.append(f"#{args['order_id']}")
    if "client_order_id" in args:
        words.append(str(args["client_order_id"]))
    return " ".join(words)


def summary(outcome: str | None, result: str | None) -> dict[str, Any]:
    """The gist of an outcome: an error's type and message, an order's status, or nothing."""
    if not result:
        return {}
    body = _decoder.decode(result)
    if not isinstance(body, dict):
        return {}
    if outcome != "executed":
        return {k: body[k] for k in ("kind", "message", "code") if body.get(k) is not None}
    data = body.get("data")
    if isinstance(data, dict):
        return {k: data[k] for k in ("symbol", "orderId", "status", "executedQty", "price") if k in data}
    return {}


def percentile(ordered: Sequence[float], q: float) -> float | None:
    """The q-quantile (0 < q ≤ 1) of sorted values, nearest rank; None when there are none."""
    if not ordered:
        return None
    rank = max(1, -(-int(q * 1000) * len(ordered) // 1000))
    return ordered[min(rank, len(ordered)) - 1]


@dataclass
class Stats:
    """Counts and latencies, fed one command at a time (tool, outcome, latency_ms, received_us,
    session, result)."""

    by_tool: Counter[tuple[str, str]] = field(default_factory=Counter)
    latencies: defaultdict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    throttles: Counter[str] = field(default_factory=Counter)
    per_session: Counter[str] = field(default_factory=Counter)
    per_day: Counter[str] = field(default_factory=Counter)

    def feed(
        self,
        tool: str,
        outcome: str | None,
        latency_ms: float | None,
        received_us: int,
        session: str | None,
        result: str | None,
    ) -> None:
        self.by_tool[(tool, outcome or "pending")] += 1
        if latency_ms is not None:
            self.latencies[tool].append(latency_ms)
        if outcome == "throttled" or (outcome == "failed" and result and "rate_limit_exceeded" in result):
            self.throttles[str(_decoder.decode(result or "{}").get("message", "?"))] += 1
        self.per_session[session or "-"] += 1
        self.per_day[iso(received_us)[:10]] += 1

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
            "days": dict(sorted(self.per_day.items())),
        }
