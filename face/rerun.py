"""`binance-mcp audit replay --execute`: re-send a log's commands through a fresh pipeline.

The recorded commands go, in their original order and exactly as they arrived, through a fresh
System (the same validator, guard, limiter and executor) against a fresh embedded paper exchange,
into a new event log; each outcome is compared with the original (events/replay.py
`outcome_signature`). Never a live or testnet venue: the exchange is always a new paper one.

- What applied then applies again: the caller's token scope (its `received` says it), and the halt
  switch (each `halted` and `resumed` is written to the re-run's log before the first command
  received after it).
- Settings: each original run's own, as its `started` recorded them (guard, call budget, input
  validation, recvWindow), with `--set NAME=VALUE` (MCP_* only) on top: "would today's guard have
  stopped it?". A new run in the log is a new run in the re-run (a restart, as it was then).
  Nobody is asked to confirm anything (MCP_CONFIRM_ORDERS is off, and the report says so).
- The clock is the log's: before each command it is set to the time the command was received,
  for the limiter's budgets, the guard's rolling day, the paper exchange's weight and order
  limits and its fills, and the new log's timestamps; so a day of commands replays in seconds
  with the throttles it had.
- The market is the recorded one (events/replay.py `RecordedMarket`): the paper market starts
  from the first prices the log holds, stands still between commands, and is moved to the
  prices each command met before it is sent.
- The paper exchange: one fresh paper account for each account of the log (events/accounts.py),
  kept across that account's runs: two hosts on one paper account re-run on one, two live
  accounts on two. An account's exchange has the limits its first run's embedded exchange had
  (else Binance's) and, when the log read that account's whole balance before its first order,
  those balances. `--account` re-runs one account's commands alone.
"""

from __future__ import annotations

import dataclasses
from collections import Counter, deque
from collections.abc import Iterator
from decimal import Decimal
from itertools import groupby
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from binance_mcp import __version__
from binance_mcp.actors.config import ConfigError, Settings
from binance_mcp.actors.system import System, client_for, new_envelope, system_for
from binance_mcp.events.commands import COMMANDS, client_order_id
from binance_mcp.events.ids import new_command_id
from binance_mcp.events.outcomes import FORBIDDEN, Executed, Outcome, Rejected, kind_of
from binance_mcp.events.replay import Move, RecordedMarket, account_balances, difference, outcome_signature
from binance_mcp.events.schema import (
    AboutRun,
    Dispatched,
    Halted,
    PaperRun,
    Received,
    Reconciled,
    Resumed,
    Started,
    decode,
)
from binance_mcp.events.store import LogReader
from binance_mcp.exchange.paper import LimitConfig, MarketConfig, RunningPaperExchange, start_paper_exchange
from binance_mcp.exchange.rules import normalize_symbol

__all__ = ["Identities", "LogClock", "parse_sets", "recorded_settings", "rerun"]

_encoder = msgspec.json.Encoder()


class LogClock:
    """The re-run's clock, in ms: the time the command being replayed was received; never back."""

    def __init__(self, start_ms: int):
        self.now = start_ms

    def __call__(self) -> int:
        return self.now

    def to(self, ms: int) -> None:
        self.now = max(self.now, ms)


def parse_sets(pairs: list[str]) -> dict[str, str]:
    """`--set NAME=VALUE` pairs; only MCP_* settings (the venue is always a fresh paper exchange)."""
    sets: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.startswith("MCP_") or name in ("MCP_EVENT_LOG",):
            raise ConfigError(f"--set {pair!r}: NAME=VALUE with an MCP_* setting (not the venue, not the log)")
        sets[name] = value
    return sets


T = TypeVar("T")


def recorded_settings(started: Started | None) -> dict[str, str]:
    """A run's settings, as its `started` event recorded them, in their environment spelling (none
    for a run the log has no readable `started` of)."""
    env: dict[str, str] = {}
    if started is None:
        return env
    guard = started.guard
    env["MCP_TRADING_ENABLED"] = "true" if guard.trading_enabled else "false"
    if guard.max_order_notional:
        env["MCP_MAX_ORDER_NOTIONAL"] = guard.max_order_notional
    if guard.max_daily_notional:
        env["MCP_MAX_DAILY_NOTIONAL"] = guard.max_daily_notional
    if guard.symbol_allowlist:
        env["MCP_SYMBOL_ALLOWLIST"] = ",".join(guard.symbol_allowlist)
    env["MCP_RATE_LIMIT_ENABLED"] = "false" if started.calls_per_minute is None else "true"
    if started.calls_per_minute:
        env["MCP_MAX_REQUESTS_PER_MINUTE"] = str(started.calls_per_minute)
    env["MCP_INPUT_VALIDATION"] = "true" if started.exchange_rules else "false"
    if started.recv_window_ms:
        env["BINANCE_RECV_WINDOW_MS"] = str(started.recv_window_ms)
    return env


class _Row(msgspec.Struct, frozen=True):
    """A command as the log holds it, its events typed (None where the log holds none readable)."""

    command_id: str
    tool: str
    received_us: int
    request: Received | None
    outcome: str | None
    result: Outcome | None
    dispatch: Dispatched | None
    run: str
    reconciled: Reconciled | None = None
    account: str = ""


def _typed(kind: str | None, body: Any, cls: type[T]) -> T | None:
    """The event `body` holds if it is a `cls` (of `kind`), else None."""
    if not kind or not isinstance(body, str | bytes):
        return None
    event = decode(kind, body)
    return event if isinstance(event, cls) else None


def _rows(reader: LogReader, until_us: int | None, account: str | None = None) -> Iterator[_Row]:
    clauses, params = [], []
    for clause, value in (("c.received_us <= ?", until_us), ("c.account = ?", account)):
        if value is not None:
            clauses.append(clause)
            params.append(value)
    where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
    cursor = reader.query(
        "SELECT c.command_id, c.tool, c.received_us, c.request, c.outcome, c.result, d.body, c.run, k.body, c.account "
        "FROM commands c LEFT JOIN events d ON d.command_id = c.command_id AND d.kind = 'dispatched' "
        "LEFT JOIN events k ON k.command_id = c.command_id AND k.kind = 'reconciled'"
        f"{where} ORDER BY c.received_us, c.command_id",
        params,
    )
    for command_id, tool, received_us, request, outcome, result, dispatch, run, reconciled, account_id in cursor:
        yield _Row(
            str(command_id),
            str(tool),
            int(received_us),
            _typed("received", request, Received),
            outcome,
            _typed(outcome, result, Outcome),
            _typed("dispatched", dispatch, Dispatched),
            str(run or ""),
            _typed("reconciled", reconciled, Reconciled),
            str(account_id or ""),
        )


class Identities:
    """The orders of the original and of the re-run, one for one: an order the original placed is
    named in later commands by its client order id (`mcp` + the original command id) or by the
    order id its exchange gave; the re-run's order has its own of each. Each later argument that
    names an order (`order_id`, `client_order_id`, whatever the tool) is mapped to the re-run's,
    so an unchanged re-run of a session finds the same orders. An id the original never placed
    (an order from outside this server) is left as it is."""

    def __init__(self) -> None:
        self.client_ids: dict[str, str] = {}
        self.order_ids: dict[tuple[str, int], int] = {}

    def learn(self, row: _Row, rerun_client_id: str, answer: Outcome) -> None:
        """An original order and the re-run's answer to it."""
        original_client = row.dispatch.client_order_id if row.dispatch is not None else None
        original_id = _order_id(row.result)
        if original_id is None and row.reconciled is not None and isinstance(row.reconciled.order_id, int):
            original_id = row.reconciled.order_id
        rerun_id = _order_id(answer)
        if isinstance(answer, Executed) and isinstance(answer.data, dict):
            rerun_client_id = str(answer.data.get("clientOrderId") or rerun_client_id)
        if original_client:
            self.client_ids[original_client] = rerun_client_id
        symbol = normalize_symbol(str((row.request.args if row.request else {}).get("symbol", "")))
        if original_id is not None and rerun_id is not None:
            self.order_ids[(symbol, original_id)] = rerun_id

    def mapped(self, args: dict[str, Any]) -> dict[str, Any]:
        """`args` with each order the original placed named as the re-run's."""
        out = dict(args)
        client_id = args.get("client_order_id")
        if isinstance(client_id, str) and client_id in self.client_ids:
            out["client_order_id"] = self.client_ids[client_id]
        order_id = args.get("order_id")
        symbol = args.get("symbol")
        if isinstance(order_id, int) and isinstance(symbol, str):
            key = (normalize_symbol(symbol), order_id)
            if key in self.order_ids:
                out["order_id"] = self.order_ids[key]
        return out


def _order_id(outcome: Outcome | None) -> int | None:
    data = outcome.data if isinstance(outcome, Executed) else None
    found = data.get("orderId") if isinstance(data, dict) else None
    return found if isinstance(found, int) else None


def _args(row: _Row) -> dict[str, Any] | None:
    """The arguments as they arrived; None when the log does not hold them (malformed, omitted)."""
    args = row.request.args if row.request is not None else None
    return args if isinstance(args, dict) and "_omitted" not in args else None


def _scopes(row: _Row) -> frozenset[str] | None:
    """What the caller's token allowed, as the record says: its `received` (over HTTP), or, in a
    log from before that was recorded, a `forbidden` refusal (the token could only read)."""
    if row.request is not None and isinstance(row.request.scopes, list):
        return frozenset(row.request.scopes)
    if isinstance(row.result, Rejected) and row.result.kind == FORBIDDEN:
        return frozenset({"read"})
    return None


def _recorded_moves(rows: list[_Row]) -> dict[str, list[Move]]:
    """The market moves to make before each replayable command (by command id), in one pass."""
    market, moves = RecordedMarket(), {}
    for row in rows:
        args = _args(row)
        if row.tool in COMMANDS and args is not None:
            moves[row.command_id] = market.moves(row.tool, args, row.result, row.dispatch)
    return moves


def _opening_balances(rows: list[_Row]) -> dict[str, Decimal] | None:
    """The free balances of the log's first whole-account read, when it came before any order."""
    for row in rows:
        if row.tool == "create_order":
            return None
        if row.tool == "get_balance" and isinstance(row.result, Executed):
            balances = account_balances(_args(row) or {}, row.result.data)
            if balances is not None:
                return balances
    return None


def _embedded(started: Started | None) -> bool:
    """Whether the run had its own paper exchange (`serve` without keys); logs older than the
    `paper` record say so only by their venue."""
    if started is None or started.venue != "paper":
        return False
    return not isinstance(started.paper, PaperRun) or started.paper.embedded


def _limits(started: Started | None) -> LimitConfig:
    paper = started.paper if started is not None else None
    recorded = paper.limits if isinstance(paper, PaperRun) and isinstance(paper.limits, dict) else {}
    names = {f.name for f in dataclasses.fields(LimitConfig)}
    return LimitConfig(**{k: int(v) for k, v in recorded.items() if k in names})


async def rerun(
    reader: LogReader, until_us: int | None, sets: dict[str, str], out: Path, account: str | None = None
) -> dict[str, Any]:
    """Re-run the log's commands (up to `until_us`; of `account` alone, if given) with `sets`; the report."""
    Settings.from_env({"BINANCE_VENUE": "paper", "MCP_EVENT_LOG": str(out), **sets})  # refuse a bad --set first
    rows = list(_rows(reader, until_us, account))
    runs: dict[str, Started] = {}
    for run, body in reader.query("SELECT command_id, body FROM events WHERE kind = 'started'"):
        started = decode("started", body)
        if isinstance(started, Started):  # an unreadable one: the run is re-run with the defaults
            runs[str(run)] = started
    replay = _Rerun(reader.path, until_us, sets, out, rows, runs)
    # The halt switch as it was thrown, in its order: each halt and resume is applied again before
    # the first command received after it.
    for ts, kind, body in reader.query(
        "SELECT ts, kind, body FROM events WHERE kind IN ('halted', 'resumed') ORDER BY seq"
    ):
        switch = decode(str(kind), str(body))
        if isinstance(switch, Halted | Resumed) and (until_us is None or int(ts) <= until_us):
            replay.switches.append((int(ts), switch))
    try:
        for run, in_run in groupby(rows, key=lambda r: r.run):
            await replay.run(run, list(in_run))
    finally:
        for paper in replay.papers.values():
            await paper.stop()
    return replay.report()


class _Rerun:
    def __init__(
        self,
        source: Path,
        until_us: int | None,
        sets: dict[str, str],
        out: Path,
        rows: list[_Row],
        runs: dict[str, Started],
    ):
        self.source, self.until_us, self.sets, self.out, self.runs = source, until_us, sets, out, runs
        self.clock = LogClock(rows[0].received_us // 1000 if rows else 0)
        self.moves = _recorded_moves(rows)
        # Where each paper market's history ends: the first price the log holds for its symbol.
        self.first_prices: dict[str, Decimal] = {}
        for moves in self.moves.values():
            for move in moves:
                self.first_prices.setdefault(move.symbol, move.price)
        self.known: dict[str, Decimal] = {}  # the prices the market was moved to so far
        self.balances = {
            account: _opening_balances([r for r in rows if r.account == account])
            for account in {r.account for r in rows}
        }
        self.papers: dict[str, RunningPaperExchange] = {}  # a paper account for each account of the log
        self.same = 0
        self.by_difference: Counter[str] = Counter()
        self.differences: list[dict[str, Any]] = []
        self.not_replayable: list[dict[str, Any]] = []
        self.runs_replayed = 0
        self.market_moves = 0
        self.identities = Identities()  # the original's orders and the re-run's, one for one
        self.switches: deque[tuple[int, Halted | Resumed]] = deque()  # halts and resumes not applied yet

    async def run(self, run: str, rows: list[_Row]) -> None:
        """One run of the original: its settings (with --set on top), a System of its own."""
        self.clock.to(rows[0].received_us // 1000)
        started = self.runs.get(run)
        env = {**recorded_settings(started), **self.sets, "BINANCE_VENUE": "paper", "MCP_EVENT_LOG": str(self.out)}
        settings = Settings.from_env(env)
        paper = await self._exchange(started, rows[0].account)
        self.runs_replayed += 1
        settings = dataclasses.replace(settings, guard=dataclasses.replace(settings.guard, confirm_orders=False))
        client = client_for(settings, paper.url, paper.credentials(), clock=self.clock)
        system = system_for(settings, client, server_version=__version__, log_security=False, clock_ms=self.clock)
        await system.start(
            AboutRun(version=__version__, replay_of=str(self.source), of_run=run, until_us=self.until_us, set=self.sets)
        )
        try:
            for row in rows:
                await self._one(system, paper, row)
        finally:
            await system.stop(reason="replay done")

    async def _exchange(self, started: Started | None, account: str) -> RunningPaperExchange:
        """The paper account standing for `account`: made at its first run, kept for its others."""
        paper = self.papers.get(account)
        if paper is None:
            paper = self.papers[account] = await start_paper_exchange(
                clock=self.clock,
                limits=_limits(started),
                market_config=MarketConfig(walk_until_ms=self.clock.now),
                start_prices={**self.first_prices, **self.known},
                balances=None if _embedded(started) else self.balances.get(account),
            )
        return paper

    async def _one(self, system: System, paper: RunningPaperExchange, row: _Row) -> None:
        args = _args(row)
        if row.tool not in COMMANDS or args is None:
            why = "unknown tool" if row.tool not in COMMANDS else "its arguments are not in the log"
            self.not_replayable.append({"command_id": row.command_id, "tool": row.tool, "why": why})
            return
        self.clock.to(row.received_us // 1000)
        while self.switches and self.switches[0][0] <= row.received_us:
            _, switch = self.switches.popleft()
            await system.journal.record(new_command_id(), "", switch)  # on the re-run's log, as it was
            system.catch_up()
        for move in self.moves[row.command_id]:
            self.market_moves += paper.exchange.move_market(move.symbol, move.price, move.at)
            self.known[move.symbol] = move.price
        envelope = new_envelope(row.tool, self.identities.mapped(args), len(_encoder.encode(args)), scopes=_scopes(row))
        answer = await system.ask(envelope)
        assert isinstance(answer, Outcome)  # confirmations are off in a re-run
        if row.tool == "create_order":
            self.identities.learn(row, client_order_id(envelope.command_id), answer)
        original = outcome_signature(row.outcome, row.result)
        again = outcome_signature(kind_of(answer), answer)
        what = difference(original, again)
        if what is None:
            self.same += 1
            return
        self.by_difference[what] += 1
        self.differences.append(
            {"command_id": row.command_id, "tool": row.tool, "args": args, "original": original, "rerun": again}
        )

    def report(self) -> dict[str, Any]:
        return {
            "source": str(self.source),
            "new_log": str(self.out),
            "set": self.sets,
            "replayed": self.same + len(self.differences),
            "same": self.same,
            "different": len(self.differences),
            "by_difference": dict(self.by_difference),
            "not_replayable": self.not_replayable,
            "runs": self.runs_replayed,
            "market_moves": self.market_moves,
            "differences": self.differences,
            "confirmations": "not asked: nobody to ask in a re-run (MCP_CONFIRM_ORDERS off)",
        }
