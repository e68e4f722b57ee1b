"""`binance-mcp audit`: the event log for incident response and offline analysis.

Every subcommand opens the log read-only (events.store.LogReader), never writes to it, and works
while a server appends to it. Human output by default (rich tables on a terminal, plain text
otherwise); `--json` for machines. The analysis itself is pure (events/audit.py, events/chain.py);
this module reads, renders and sets the exit code.

    verify [--against SEQ:HASH]   the hash chain and the invariants; exit 1 on tampering
    replay [--until SEQ|WHEN]     the state the log folds into as of a point (events/replay.py)
    digest                        the head (seq:hash) to keep elsewhere
    list                          one line per command, filtered
    show COMMAND_ID               one command's whole timeline (a unique prefix is enough)
    stats                         counts, error rates, latencies, throttles, orders, sessions, days
    export --format jsonl|csv     every event (or --commands: the commands view), streamed
    alerts [--since 24h]          security patterns worth a look, with evidence; exit 1 if any
    crosscheck --since WHEN       the account's orders at the exchange against this log; exit 1 if
                                  the account holds orders this server never placed, or the reverse
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import sqlite3
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import msgspec

from binance_mcp.actors.config import default_event_log
from binance_mcp.events.accounts import may_be
from binance_mcp.events.audit import (
    Call,
    Filters,
    Order,
    Stats,
    Thresholds,
    alert,
    auth_failure_alerts,
    command_entry,
    counted,
    crosscheck,
    find_alerts,
    iso,
    parse_time,
    timeline,
)
from binance_mcp.events.chain import Verifier
from binance_mcp.events.lifecycle import SETTLED_KINDS, TERMINAL_KINDS, sql_list
from binance_mcp.events.replay import Fold, replay_state
from binance_mcp.events.runs import alive
from binance_mcp.events.schema import Logged, Received, Session
from binance_mcp.events.store import LogReader, NoEventLog, of_account
from binance_mcp.exchange.errors import ExchangeError

__all__ = ["add_parser"]

_TERMINALS = sql_list(TERMINAL_KINDS)
_UNRESOLVED = f"""
SELECT d.command_id, d.tool, d.ts,
       (SELECT r.body ->> '$.run' FROM events r WHERE r.command_id = d.command_id AND r.kind = 'received') AS run
FROM events d
WHERE d.kind = 'dispatched' AND NOT EXISTS (
    SELECT 1 FROM events t WHERE t.command_id = d.command_id
    AND t.kind IN ({sql_list(SETTLED_KINDS)})
) ORDER BY d.seq
"""
_DOUBLE_TERMINALS = f"""
SELECT command_id, count(*) FROM events WHERE kind IN ({_TERMINALS}) GROUP BY command_id HAVING count(*) > 1 LIMIT 5
"""
_encoder = msgspec.json.Encoder()


def _console() -> Any:
    from rich.console import Console

    class Plain(Console):
        """Not a terminal (a pipe, a file): plain text, lines as long as they need to be and no
        longer (rich pads a table's cells to the column's width)."""

        def print(self, *objects: Any, **options: Any) -> None:
            with self.capture() as captured:
                super().print(*objects, **options)
            sys.stdout.write("".join(line.rstrip() + "\n" for line in captured.get().splitlines()))

    if sys.stdout.isatty():
        return Console(highlight=False)
    return Plain(highlight=False, width=400)


_ID = re.compile(r"(?<![0-9a-zA-Z])((?:mcp)?[0-9a-f]{16})[0-9a-f]{16}(?![0-9a-zA-Z])")
_TIME = re.compile(r"^\d{4}-(\d\d-\d\dT\d\d:\d\d:\d\d)\.\d{3}Z$")
_DAY = re.compile(r"^\d\d-\d\dT(?=\d\d:\d\d:\d\d$)")
_WHOLE = 12  # a word up to this long is never split across lines in these columns (BTCUSDT, FILLED)
_WORDS = ("arguments", "symbol", "outcome", "status", "side", "type")
_ONE_LINE = ("time (UTC)", "command", "tool", "seq")  # never wrapped


def _narrow(columns: list[str], cells: list[list[str]], width: int) -> list[list[str]]:
    """Cells that fit `width` better, a step at a time until they do: ids cut to a prefix `audit
    show` still takes (16 hex digits, then …), times without their year and milliseconds, then
    without their day; as they were when they fit."""

    def room(i: int, text: str) -> int:  # what a cell needs on one line (a wrapping column: a few words)
        return len(text) if columns[i] in _ONE_LINE else min(len(text), 2 * _WHOLE)

    for pattern, replacement in ((_ID, r"\1…"), (_TIME, r"\1"), (_DAY, "")):
        natural = sum(max([len(h), *(room(i, r[i]) for r in cells)]) for i, h in enumerate(columns)) + 2 * len(columns)
        if natural <= width:
            break
        cells = [[pattern.sub(replacement, c) for c in row] for row in cells]
    return cells


def _table(title: str, columns: list[str], rows: list[list[Any]]) -> Any:
    """A rich table for the terminal's width: ids shortened when it is narrow, and words (a symbol,
    a status) never split across lines."""
    from rich.table import Table

    cells = _narrow(columns, [["" if v is None else str(v) for v in row] for row in rows], _console().width)
    table = Table(title=title, title_justify="left", box=None, pad_edge=False, header_style="bold")
    for i, column in enumerate(columns):
        longest_word = max([len(w) for row in cells for w in row[i].split()] or [0]) if column in _WORDS else 0
        table.add_column(
            column,
            overflow="fold",
            no_wrap=column in _ONE_LINE,
            min_width=min(longest_word, _WHOLE) or None,
        )
    for row in cells:
        table.add_row(*row)
    return table


def _emit_json(value: Any) -> None:
    sys.stdout.write(_encoder.encode(value).decode() + "\n")


# -- verify and digest ------------------------------------------------------------------------
def _verify(reader: LogReader, args: argparse.Namespace) -> int:
    against: tuple[int, str] | None = None
    if args.against:
        seq_text, _, hash_text = args.against.partition(":")
        if not seq_text.isdigit() or len(hash_text) != 64:
            print("binance-mcp audit verify: --against takes SEQ:HASH, as `audit digest` prints it", file=sys.stderr)
            return 2
        against = (int(seq_text), hash_text.lower())
    verifier = Verifier(keep=frozenset({against[0]}) if against else frozenset())
    total, _ = reader.head()
    _walk(reader, verifier, total, show_progress=not args.json and sys.stderr.isatty())
    problems: list[str] = []
    if verifier.problem is not None:
        problems.append(verifier.problem)
    else:
        doubles = reader.query(_DOUBLE_TERMINALS).fetchall()
        problems += [f"command {cid} has {n} terminal events (one is allowed)" for cid, n in doubles]
        if against is not None:
            seq, expected = against
            if seq > verifier.head_seq:
                problems.append(
                    f"the log ends at seq {verifier.head_seq}, before the kept head seq {seq} (rows cut off)"
                )
            elif verifier.seen.get(seq) != expected:
                problems.append(
                    f"the log does not extend the kept head: at seq {seq} its hash is {verifier.seen.get(seq)}, "
                    f"not {expected} (rewritten)"
                )
    unresolved = [
        {"command_id": cid, "tool": tool, "dispatched": iso(int(ts)), "run_alive": alive(reader.path, str(run or ""))}
        for cid, tool, ts, run in reader.query(_UNRESOLVED)
    ]
    ok = not problems
    report = {
        "ok": ok,
        "events": verifier.events,
        "head": {"seq": verifier.head_seq, "hash": verifier.head_hash},
        "bad_seq": verifier.bad_seq,
        "problems": problems,
        "unresolved": unresolved,
    }
    if args.json:
        _emit_json(report)
    else:
        if ok:
            print(f"ok: {counted(verifier.events, 'event')}, head seq={verifier.head_seq} hash={verifier.head_hash}")
        else:
            print(f"TAMPERED: first bad seq {verifier.bad_seq}" if verifier.bad_seq else "TAMPERED")
            for problem in problems:
                print(f"  {problem}")
        for entry in unresolved:
            state = (
                "its server is running and has it in hand"
                if entry["run_alive"]
                else "its server ended: a running or the next server looks it up"
            )
            print(
                f"unresolved: {entry['command_id']} {entry['tool']} dispatched {entry['dispatched']}, "
                f"outcome unknown ({state})"
            )
    return 0 if ok else 1


def _walk(reader: LogReader, verifier: Verifier, total: int, *, show_progress: bool) -> None:
    if not show_progress:
        verifier.feed_all(reader.rows())
        return
    from rich.progress import Progress

    with Progress(transient=True) as progress:
        task = progress.add_task("verifying", total=total)
        while verifier.problem is None and verifier.head_seq < total:
            if not verifier.feed_all(reader.rows(after_seq=verifier.head_seq, limit=50_000)):
                return
            progress.update(task, completed=verifier.head_seq)


def _digest(reader: LogReader, args: argparse.Namespace) -> int:
    seq, digest = reader.head()
    if args.json:
        _emit_json({"seq": seq, "hash": digest})
    else:
        print(f"{seq}:{digest}")
    return 0


# -- list, show, stats ------------------------------------------------------------------------
def _filters(args: argparse.Namespace, account: str | None = None) -> Filters:
    now = time.time_ns() // 1000
    return Filters(
        account=account,
        since_us=parse_time(args.since, now) if args.since else None,
        until_us=parse_time(args.until, now) if args.until else None,
        tool=getattr(args, "tool", None),
        outcome=getattr(args, "outcome", None),
        symbol=getattr(args, "symbol", None) or None,
        session=getattr(args, "session", None),
    )


def _account(reader: LogReader, args: argparse.Namespace) -> str | None:
    """The account `--account` names (its id, or a unique part of it: the uid); None: all of them.
    ValueError, naming the log's accounts, for one it does not hold."""
    wanted = str(getattr(args, "account", None) or "")
    if not wanted:
        return None
    accounts = reader.accounts()
    if wanted in accounts:
        return wanted
    found = [a for a in accounts if wanted in a]
    if len(found) == 1:
        return found[0]
    held = ", ".join(accounts) or "none"
    what = "names more than one" if found else "is none"
    raise ValueError(f"--account {wanted!r} {what} of the accounts this log holds: {held}")


def _accounts_note(reader: LogReader, account: str | None) -> str | None:
    """A line saying that what follows adds up several accounts (None: one account, or one chosen)."""
    if account is not None:
        return None
    accounts = reader.accounts()
    if len(accounts) < 2:
        return None
    return (
        f"this log holds {counted(len(accounts), 'account')} ({', '.join(accounts)}): the figures below are of all "
        "of them; --account ACCOUNT for one"
    )


def page_note(matched: int, shown: int, offset: int) -> str:
    """What a page of `list` holds of what matched, and how to see the rest."""
    if offset == 0 and shown == matched:
        return counted(matched, "command")
    note = f"{'newest ' if offset == 0 else ''}{shown:,} of {counted(matched, 'command')}"
    if offset:
        note += f", after the newest {offset:,}"
    more = []
    if offset + shown < matched:
        more.append(f"--offset {offset + shown} for older")
    more.append("--limit 0 for all")
    return f"{note} ({'; '.join(more)})"


def _detail(gist: dict[str, Any]) -> str:
    """A command's result in a table cell: an error's type, an order's status, a price, a count."""
    for key in ("type", "status", "price", "count"):
        if key in gist:
            return str(gist[key])
    return ""


def _list(reader: LogReader, args: argparse.Namespace) -> int:
    account = _account(reader, args)
    where, params = _filters(args, account).where()
    matched = reader.commands_count(where, params)
    page = reader.commands_page(where, params, args.limit or -1, args.offset)
    entries = [{**command_entry(row), "account": row[-1]} for row in page]
    if args.json:  # the list as it always was on stdout; what it is a page of, on stderr
        _emit_json(entries)
        facts = {"matched": matched, "shown": len(entries), "offset": args.offset, "limit": args.limit}
        print(_encoder.encode(facts).decode(), file=sys.stderr)
        return 0
    several = account is None and len(reader.accounts()) > 1  # then each line says whose
    rows = [
        [
            e["at"],
            e["command_id"],
            *([e["account"]] if several else []),
            e["tool"],
            e["args"],
            e["outcome"],
            e["latency_ms"],
            _detail(e["result"]),
        ]
        for e in entries
    ]
    title = page_note(matched, len(rows), args.offset)
    whose = ["account"] if several else []
    columns = ["time (UTC)", "command", *whose, "tool", "arguments", "outcome", "ms", "detail"]
    _console().print(_table(title, columns, rows))
    return 0


def _show(reader: LogReader, args: argparse.Namespace) -> int:
    found = reader.command_ids(args.command_id.lower())
    if not found:
        print(f"binance-mcp audit show: no command {args.command_id!r} in {reader.path}", file=sys.stderr)
        return 2
    if len(found) > 1:
        print(
            f"binance-mcp audit show: {args.command_id!r} names more than one command; give more of it", file=sys.stderr
        )
        return 2
    rows_of_command = reader.events_of(found[0])
    steps = timeline(rows_of_command)  # the bodies as stored, for the reader to see
    logged = [Logged.of((r[0], r[1], r[2], r[3], r[4], r[6])) for r in rows_of_command]
    received = next((e.event for e in logged if e.kind == "received"), None)
    session_id = received.session if isinstance(received, Received) and isinstance(received.session, str) else ""
    session_rows = reader.events_of(session_id) if session_id else []
    session = timeline(session_rows)[0]["body"] if session_rows else {}
    accounts = reader.accounts_of([found[0]])
    report = {
        "command_id": found[0],
        "tool": rows_of_command[0][4],
        "account": accounts.get(found[0]) or _named_account(steps),
        "steps": steps,
        "session": session,
    }
    if args.json:
        _emit_json(report)
        return 0
    console = _console()
    console.print(f"command {found[0]}  tool {report['tool']}  account {report['account'] or '-'}")
    opened = Logged.of([session_rows[0][i] for i in (0, 1, 2, 3, 4, 6)]).event if session_rows else None
    if isinstance(opened, Session) and isinstance(received, Received):
        who = f"  token {opened.principal}" if isinstance(opened.principal, str) else ""  # over HTTP
        where = f"  from {opened.remote}" if isinstance(opened.remote, str) else ""
        console.print(
            f"session {session_id}  client {opened.client.name} {opened.client.version}  "
            f"protocol {opened.protocol}  run {received.run if isinstance(received.run, str) else '-'}{who}{where}"
        )
    rows = [
        [s["seq"], s["at"], s["kind"], "" if s["after_ms"] is None else f"+{s['after_ms']} ms", _brief(s)]
        for s in steps
    ]
    console.print(_table("timeline", ["seq", "time (UTC)", "event", "after", "what"], rows))
    for step in steps:
        if step["kind"] == "account_event":
            continue  # its line in the timeline says it; the raw fields are in --json
        console.print(f"[bold]{step['kind']}[/bold] {json.dumps(step['body'], sort_keys=True)}", markup=True)
    newest = reader.newest_facts([found[0]]).get(found[0])
    if newest is not None and report["tool"] == "create_order":
        fact, told_by = newest
        console.print(
            f"status now: {fact.status}, executed {fact.executed_qty:f} (newest fact: seq {fact.seq}, {told_by})"
        )
    return 0


def _named_account(steps: list[dict[str, Any]]) -> str | None:
    """The account a command's own events name (a foreign order's, a connection's balances)."""
    for step in steps:
        body = step["body"]
        if isinstance(body, dict) and isinstance(body.get("account"), str):
            return str(body["account"])
    return None


def _brief(step: dict[str, Any]) -> str:
    """An account event in a few words: what happened to the order (or which balances moved)."""
    body = step["body"]
    if step["kind"] != "account_event" or not isinstance(body, dict):
        return ""
    if body.get("status"):
        words = [str(body.get("execution") or body.get("event_type")), "→", str(body["status"])]
        words += [f"executed {body.get('executed_qty')}", f"({body.get('source')})"]
        return " ".join(words) + (" FOREIGN" if body.get("foreign") else "")
    raw: dict[str, Any] = body["raw"] if isinstance(body.get("raw"), dict) else {}
    listed = raw.get("B")
    assets = [str(b.get("a")) for b in listed if isinstance(b, dict)] if isinstance(listed, list) else []
    return f"{body.get('event_type')} {' '.join(assets)}".strip()


# One pass over the log for `stats`: SQLite joins each command to its outcome, Python counts.
_STATS_COLUMNS = {
    "received_us": "r.ts",
    "tool": "r.tool",
    "outcome": "t.kind",
    "symbol": "r.body ->> '$.args.symbol'",
    "session": "r.body ->> '$.session'",
    "account": ("coalesce((SELECT a.account FROM runs a WHERE a.run = r.body ->> '$.run'), r.venue || ':')"),
}
_STATS = f"""
SELECT r.tool, t.kind, (t.ts - r.ts) / 1000.0, r.body ->> '$.session', r.ts / 86400000000,
       CASE WHEN t.kind = 'throttled' OR (t.kind = 'failed' AND t.body ->> '$.kind' = 'rate_limit_exceeded')
            THEN t.body ->> '$.message' END
FROM events r LEFT JOIN events t ON t.command_id = r.command_id AND t.kind IN ({_TERMINALS})
"""


def _orders_by_status(path: Path, filters: Filters) -> list[dict[str, Any]]:
    """Orders by account, symbol and last known status, on a connection of its own (see `_stats`)."""
    clauses: list[str] = []
    params: list[object] = []
    for column, op, value in (
        ("dispatched_us", ">=", filters.since_us),
        ("dispatched_us", "<=", filters.until_us),
        ("account", "=", filters.account),
    ):
        if value is not None:
            clauses.append(f"{column} {op} ?")
            params.append(value)
    where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
    reader = LogReader(path)
    try:
        rows = reader.query(
            f"SELECT account, symbol, status, outcome, count(*) FROM orders{where} "
            "GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3",
            params,
        ).fetchall()
    finally:
        reader.close()
    return [
        {"account": account, "symbol": sym, "status": status or outcome or "pending", "orders": n}
        for account, sym, status, outcome, n in rows
    ]


def _stats(reader: LogReader, args: argparse.Namespace) -> int:
    account = _account(reader, args)
    filters = _filters(args, account)
    where, params = filters.where(_STATS_COLUMNS)
    where = f"{where} AND r.kind = 'received'" if where else " WHERE r.kind = 'received'"
    stats = Stats()
    # The orders query runs beside the commands pass: SQLite works without the GIL, on the other core.
    with ThreadPoolExecutor(1) as pool:
        orders = pool.submit(_orders_by_status, reader.path, filters)
        cursor = reader.query(_STATS + where, params)
        while chunk := cursor.fetchmany(50_000):
            stats.add_rows(chunk)
        report = stats.report()
        report["orders"] = orders.result()
    report["accounts"] = [account] if account is not None else reader.accounts()
    if args.json:
        _emit_json(report)
        return 0
    console = _console()
    note = _accounts_note(reader, account)
    if note is not None:
        console.print(note)
    tool_rows = []
    for tool, entry in report["tools"].items():
        lat = entry["latency_ms"]
        outcomes = ", ".join(f"{o} {n}" for o, n in entry["outcomes"].items())
        tool_rows.append(
            [tool, entry["calls"], outcomes, f"{entry['error_rate']:.1%}", lat["p50"], lat["p95"], lat["p99"]]
        )
    console.print(_table("tools", ["tool", "calls", "outcomes", "errors", "p50 ms", "p95 ms", "p99 ms"], tool_rows))
    if report["throttles"]:
        console.print(_table("throttles", ["cause", "count"], [[k, v] for k, v in report["throttles"].items()]))
    if report["orders"]:
        console.print(
            _table(
                "orders",
                ["account", "symbol", "status", "orders"],
                [[o["account"], o["symbol"], o["status"], o["orders"]] for o in report["orders"]],
            )
        )
    console.print(_table("sessions", ["session", "calls"], [[k, v] for k, v in report["sessions"].items()]))
    console.print(_table("days (UTC)", ["day", "calls"], [[k, v] for k, v in report["days"].items()]))
    return 0


# -- alerts and crosscheck --------------------------------------------------------------------
_CALLS = (
    "SELECT command_id, tool, received_us, outcome, result ->> '$.kind', result ->> '$.code', symbol, session, "
    "account FROM commands"
)
_ORDERS = (
    "SELECT command_id, dispatched_us, symbol, quote_asset, notional, account FROM orders WHERE notional IS NOT NULL"
)
_AUTH_FAILURES = (
    "SELECT command_id, ts, body ->> '$.remote' FROM events WHERE kind = 'security' "
    "AND body ->> '$.event_type' = 'authentication_failed' AND ts >= ? ORDER BY seq"
)
_FOREIGN_ORDERS = (
    "SELECT command_id, ts, body ->> '$.symbol', body ->> '$.side', body ->> '$.quantity', body ->> '$.price', "
    "body ->> '$.client_order_id', body ->> '$.account' FROM events WHERE kind = 'security' "
    "AND body ->> '$.event_type' = 'foreign_order' AND ts >= ? ORDER BY seq"
)
_UNSTOPPED = (
    "SELECT command_id, ts FROM events WHERE kind = 'started' "
    "AND command_id NOT IN (SELECT command_id FROM events WHERE kind = 'stopped') ORDER BY seq"
)


def _evidence(found: dict[str, Any]) -> str:
    """An alert's evidence on a line: its ids when two or fewer, else the first and the last."""
    ids = found["command_ids"]
    return " ".join(ids) if found["count"] <= 2 else f"{found['first_id']} … {found['last_id']}"


def _alerts(reader: LogReader, args: argparse.Namespace) -> int:
    now = time.time_ns() // 1000
    since = parse_time(args.since, now)
    chosen = _account(reader, args)
    # Each account is judged against its own past (its usual hours, sizes, tools): what one
    # account does is never the usual of another. Each alert names its account.
    period: defaultdict[str, list[Call]] = defaultdict(list)
    history: defaultdict[str, list[Call]] = defaultdict(list)
    for *row, account in reader.query(_CALLS):
        if chosen is None or account == chosen:
            call = Call(*row)
            (period if call.received_us >= since else history)[str(account)].append(call)
    orders: defaultdict[str, list[Order]] = defaultdict(list)
    before: defaultdict[str, list[Order]] = defaultdict(list)
    for cid, at, symbol, quote, notional, account in reader.query(_ORDERS):
        if chosen is None or account == chosen:
            order = Order(cid, at, symbol, quote, Decimal(str(notional)))
            (orders if order.dispatched_us >= since else before)[str(account)].append(order)
    thresholds = Thresholds(
        probe_count=args.probe_count,
        probe_window_s=args.probe_window,
        rate_limit_hits=args.rate_limit_hits,
        size_factor=args.size_factor,
    )
    alerts: list[dict[str, Any]] = []
    several = len(set(period) | set(orders)) > 1
    for account in sorted(set(period) | set(orders)):
        for found in find_alerts(period[account], history[account], orders[account], before[account], thresholds):
            if several:
                found["summary"] = f"{account}: {found['summary']}"
            alerts.append({**found, "account": account})
    failures = reader.query(_AUTH_FAILURES, (since,)).fetchall()
    alerts += auth_failure_alerts([(str(c), int(t), str(r or "")) for c, t, r in failures], thresholds)
    foreign_by: defaultdict[str, list[Any]] = defaultdict(list)
    for row in reader.query(_FOREIGN_ORDERS, (since,)).fetchall():
        if chosen is None or row[7] == chosen:
            foreign_by[str(row[7] or "-")].append(row)
    for account, foreign in sorted(foreign_by.items()):
        shown = "; ".join(f"{r[2]} {r[3]} {r[4]} @ {r[5]} ({r[6]})" for r in foreign[:5])
        more = f"; and {len(foreign) - 5} more" if len(foreign) > 5 else ""
        what = (
            f"{counted(len(foreign), 'order')} on account {account} that no run on this log placed, "
            f"seen by the account stream: {shown}{more}"
        )
        found = alert("foreign_orders", what, [r[0] for r in foreign], [int(r[1]) for r in foreign])
        alerts.append({**found, "account": account})
    # What a running server has in hand (its lease is held: events/runs.py) is not an alert yet.
    runs = reader.run_accounts()

    def chosen_run(run: object) -> bool:  # with --account: a run of that account
        return chosen is None or runs.get(str(run or ""), ("", False))[0] == chosen

    unresolved = [
        r for r in reader.query(_UNRESOLVED).fetchall() if not alive(reader.path, str(r[3] or "")) and chosen_run(r[3])
    ]
    if unresolved:
        what = f"{counted(len(unresolved), 'order or cancel', 'orders or cancels')} sent whose outcome is still unknown"
        alerts.append(alert("unresolved_orders", what, [r[0] for r in unresolved], [int(r[2]) for r in unresolved]))
    unstopped = [
        r for r in reader.query(_UNSTOPPED).fetchall() if not alive(reader.path, str(r[0])) and chosen_run(r[0])
    ]
    if unstopped:
        what = f"{counted(len(unstopped), 'server run')} ended without `stopped` (killed or crashed)"
        alerts.append(alert("unclean_stop", what, [r[0] for r in unstopped], [int(r[1]) for r in unstopped]))
    # The chain first of all: every other figure is only as good as the record (what `verify` checks).
    verifier = Verifier()
    verifier.feed_all(reader.rows())
    if verifier.bad_seq is not None:
        broken = alert("chain_broken", f"the log's hash chain is broken: {verifier.problem} (audit verify)", [], [])
        alerts.insert(0, {**broken, "count": 1, "bad_seq": verifier.bad_seq})
    if args.json:
        _emit_json({"since": iso(since), "alerts": alerts})
    elif alerts:
        rows = [[a["pattern"], a["count"], a["summary"], a["first"], _evidence(a)] for a in alerts]
        _console().print(
            _table(
                f"{counted(len(alerts), 'alert')} since {iso(since)}",
                ["pattern", "n", "what", "first", "evidence"],
                rows,
            )
        )
    else:
        print(f"no alerts since {iso(since)}")
    return 1 if alerts else 0


def _fate(outcome: str | None, placed: object) -> str | None:
    if outcome == "executed" or placed in (1, "1", True):
        return "placed"
    if outcome in ("failed", "rejected") or placed in (0, "0", False):
        return "not_placed"
    return None


def _crosscheck(reader: LogReader, args: argparse.Namespace) -> int:
    from binance_mcp.actors.config import ConfigError, Settings, load_dotenv

    env = dict(os.environ)
    load_dotenv(Path.cwd() / ".env", env)
    try:
        settings = Settings.from_env(env)
    except ConfigError as exc:
        print(f"binance-mcp audit crosscheck: configuration error: {exc}", file=sys.stderr)
        return 2
    if settings.venue != "paper" and (settings.base_url is None or settings.credentials is None):
        print("binance-mcp audit crosscheck: no key to ask the exchange with", file=sys.stderr)
        return 2
    now = time.time_ns() // 1000
    since = parse_time(args.since, now)
    every = reader.query(
        "SELECT command_id, client_order_id, symbol, outcome, reconciled_placed, account FROM orders "
        "WHERE dispatched_us >= ?",
        (since,),
    ).fetchall()
    import asyncio

    from binance_mcp.actors.keycheck import identify
    from binance_mcp.actors.system import client_for
    from binance_mcp.exchange.client import BinanceClient
    from binance_mcp.face.paper import on_paper_account

    mine = ""
    rows: list[Any] = []

    async def fetch() -> tuple[list[dict[str, Any]], list[str]]:
        # On the paper venue with no base URL: the log's paper account, wherever it is served.
        async with on_paper_account(settings, reader.path) as (reaching, _):
            return await ask(client_for(reaching))

    async def ask(client: BinanceClient) -> tuple[list[dict[str, Any]], list[str]]:
        nonlocal mine, rows
        try:
            await client.sync_time()
            listed = {s["symbol"]: s for s in (await client.request("GET", "/api/v3/exchangeInfo")).data["symbols"]}
            account = (await client.request("GET", "/api/v3/account", {"omitZeroBalances": "true"}, signed=True)).data

            async def answered() -> Any:
                return account

            # This key's account's orders only: another account's are none of this account's business.
            mine = (await identify(client, settings.venue, read=answered))[0].id
            rows = [r for r in every if may_be(mine, str(r[5]))]
            symbols = {str(r[2]) for r in rows if r[2]}
            for balance in account.get("balances", ()):
                for quote in _QUOTES:
                    name = balance["asset"] + quote
                    if name in listed and (Decimal(balance["free"]) or Decimal(balance["locked"])):
                        symbols.add(name)
            checked = sorted(symbols)[: args.max_symbols]
            found: list[dict[str, Any]] = []
            for symbol in checked:
                start = since // 1000
                while start < now // 1000:
                    end = min(start + 86_400_000, now // 1000)
                    params = {"symbol": symbol, "startTime": str(start), "endTime": str(end), "limit": "1000"}
                    found += (await client.request("GET", "/api/v3/allOrders", params, signed=True)).data
                    start = end + 1
            return found, checked
        finally:
            await client.close()

    exchange_orders, checked = asyncio.run(fetch())
    dispatched = [(cid, client_id, _fate(outcome, placed)) for cid, client_id, _sym, outcome, placed, _ in rows]
    report = crosscheck(dispatched, exchange_orders)
    report["account"] = mine
    report["symbols"] = checked
    report["since"] = iso(since)
    suspicious = bool(report["not_placed_by_this_server"] or report["unknown_to_the_exchange"])
    if args.json:
        _emit_json(report)
    else:
        console = _console()
        console.print(
            f"account {mine}: {counted(report['orders_compared'], 'order')} at the exchange on "
            f"{counted(len(checked), 'symbol')} "
            f"since {iso(since)}, "
            f"{report['dispatched_compared']} dispatched by this server"
        )
        foreign = report["not_placed_by_this_server"]
        if foreign:
            columns = ["symbol", "orderId", "clientOrderId", "side", "type", "status", "origQty", "price", "time"]
            console.print(
                _table("on the account, not placed by this server", columns, [[o[c] for c in columns] for o in foreign])
            )
        for missing in report["unknown_to_the_exchange"]:
            console.print(
                f"dispatched by this server, unknown to the exchange: {missing['command_id']} "
                f"({missing['client_order_id']})"
            )
        if not suspicious:
            console.print("every order on the account was placed by this server, and every order it placed is there")
    return 1 if suspicious else 0


_QUOTES = ("USDT", "FDUSD", "USDC", "BTC")


# -- replay (the fold) -------------------------------------------------------------------------
def _replay(reader: LogReader, args: argparse.Namespace) -> int:
    until_seq: int | None = None
    until_us: int | None = None
    if args.until:
        if args.until.isdigit():
            until_seq = int(args.until)
        else:
            until_us = parse_time(args.until, time.time_ns() // 1000)
    if args.execute:
        return _rerun(reader, args, until_seq, until_us)
    account = _account(reader, args)
    note = _accounts_note(reader, account)
    keep: set[str] | None = None
    if account is not None:  # the events of that account (and the halt switch, every account's)
        clause, params = of_account(account)
        keep = {str(r[0]) for r in reader.query(f"SELECT DISTINCT command_id FROM events WHERE {clause}", params)}
    fold = Fold(account=True)
    for row in reader.rows():
        if keep is not None and str(row[2]) not in keep:
            continue
        seq, ts = int(str(row[0])), int(str(row[1]))
        if until_seq is not None and seq > until_seq:
            break
        if until_us is not None and ts > until_us:
            continue  # not `break`: a read's `received` is written with its outcome, after events stamped later
        fold.apply(Logged(seq, ts, str(row[2]), str(row[3]), str(row[4]), str(row[6])))
    state = replay_state(fold)
    state["accounts"] = [account] if account is not None else reader.accounts()
    if args.json:
        _emit_json(state)
        return 0
    console = _console()
    if note is not None:
        console.print(note)
    as_of = state["as_of"]
    console.print(f"as of seq {as_of['seq']} ({iso(as_of['ts_us']) if as_of['ts_us'] else '-'})")
    if state["session"]:
        who = state["session"].get("client", {})
        console.print(f"session {state['session']['session']}: {who.get('name')} {who.get('version')}")
    halt = state["halted"]
    if halt:
        console.print(
            f"trading HALTED since seq {halt['seq']} ({iso(halt['ts_us'])}) by {halt['user']} on {halt['host']}: "
            f"{halt['reason'] or 'no reason given'}"
        )
    columns = ["symbol", "side", "type", "status", "executed_qty", "quote_qty", "client_order_id"]
    shown = state["orders"][-args.orders :] if args.orders else []
    more = len(state["orders"]) - len(shown)
    title = f"{counted(len(state['orders']), 'order')} dispatched" + (
        f", the last {len(shown)} (--orders N, --json: all)" if more else ""
    )
    console.print(_table(title, columns, [[o[c] for c in columns] for o in shown]))
    flows = [[s, f["base"], f["quote"]] for s, f in state["flows"].items()]
    console.print(_table("net executed, per symbol", ["symbol", "base", "quote"], flows))
    balances = state["balances"]
    if balances["read_at_seq"] is not None:
        implied = balances["implied"] or {}
        rows = [[a, balances["read"].get(a, ""), implied.get(a, "")] for a in sorted(implied)]
        console.print(
            _table(f"balances (free) read at seq {balances['read_at_seq']}", ["asset", "read", "implied now"], rows)
        )
    counts = [[t, ", ".join(f"{o} {n}" for o, n in sorted(c.items()))] for t, c in sorted(state["counts"].items())]
    console.print(_table("commands", ["tool", "outcomes"], counts))
    for command_id in state["unresolved"]:
        console.print(f"unresolved: {command_id}")
    return 0


def _rerun(reader: LogReader, args: argparse.Namespace, until_seq: int | None, until_us: int | None) -> int:
    import asyncio

    from binance_mcp.actors.config import ConfigError
    from binance_mcp.face.rerun import parse_sets, rerun

    if until_seq is not None:
        row = reader.row_at(until_seq)
        until_us = int(str(row[1])) if row else None
    out = Path(
        args.out or reader.path.with_name(reader.path.stem + f".replay-{time.strftime('%Y%m%dT%H%M%S')}.sqlite3")
    )
    if out.exists():
        print(f"binance-mcp audit replay: {out} exists; give another --out", file=sys.stderr)
        return 2
    try:
        report = asyncio.run(rerun(reader, until_us, parse_sets(args.set), out, _account(reader, args)))
    except ConfigError as exc:
        print(f"binance-mcp audit replay: {exc}", file=sys.stderr)
        return 2
    if args.json:
        _emit_json(report)
    else:
        console = _console()
        kinds = ", ".join(f"{kind} {n}" for kind, n in sorted(report["by_difference"].items()))
        console.print(
            f"replayed {counted(report['replayed'], 'command')} of {report['source']} into {report['new_log']}: "
            f"{report['same']} the same, {report['different']} different{f' ({kinds})' if kinds else ''}, "
            f"{len(report['not_replayable'])} not replayable; {counted(report['runs'], 'run')} on the log's clock, the "
            f"market moved {counted(report['market_moves'], 'time')} to recorded prices; {report['confirmations']}"
        )
        if report["set"]:
            console.print("with " + ", ".join(f"{k}={v}" for k, v in report["set"].items()))
        rows = [
            [d["command_id"], d["tool"], json.dumps(d["args"], sort_keys=True), _sig(d["original"]), _sig(d["rerun"])]
            for d in report["differences"]
        ]
        if rows:
            console.print(_table("differences", ["command", "tool", "arguments", "original", "re-run"], rows))
        for entry in report["not_replayable"]:
            console.print(f"not replayable: {entry['command_id']} {entry['tool']} ({entry['why']})")
    return 1 if report["different"] else 0


def _sig(signature: dict[str, Any]) -> str:
    return " ".join(str(v) for v in signature.values())


# -- export -----------------------------------------------------------------------------------
_EVENT_COLUMNS = ("seq", "ts", "command_id", "kind", "tool", "venue", "body", "hash")
_COMMAND_COLUMNS = (
    "command_id", "tool", "venue", "received_us", "outcome", "finished_us", "latency_ms", "symbol", "session", "run",
    "account", "request", "result",
)  # fmt: skip


def _export(reader: LogReader, args: argparse.Namespace) -> int:
    account = _account(reader, args)
    filters = _filters(args, account)
    columns: tuple[str, ...]
    if args.commands:
        where, params = filters.where()
        columns = _COMMAND_COLUMNS
        cursor = reader.query(f"SELECT {', '.join(columns)} FROM commands{where} ORDER BY received_us", params)
    else:
        only_commands = [name for name in ("outcome", "symbol", "session") if getattr(filters, name) is not None]
        if only_commands:
            flags = ", ".join(f"--{name}" for name in only_commands)
            print(f"binance-mcp audit export: {flags} filter commands, not events: add --commands", file=sys.stderr)
            return 2
        clauses, params = [], []
        if filters.since_us is not None:
            clauses.append("ts >= ?")
            params.append(filters.since_us)
        if filters.until_us is not None:
            clauses.append("ts <= ?")
            params.append(filters.until_us)
        if filters.tool is not None:
            clauses.append("tool = ?")
            params.append(filters.tool)
        if account is not None:
            clause, more = of_account(account)
            clauses.append(clause)
            params.extend(more)
        where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
        columns = _EVENT_COLUMNS
        cursor = reader.query(f"SELECT {', '.join(columns)} FROM events{where} ORDER BY seq", params)
    rows: Iterator[tuple[Any, ...]] = (row for chunk in iter(lambda: cursor.fetchmany(10_000), []) for row in chunk)
    if args.output:
        with Path(args.output).open("w", newline="") as out:
            written = _write(out, args.format, columns, rows)
    else:
        written = _write(sys.stdout, args.format, columns, rows)
    what = counted(written, "command" if args.commands else "event")
    print(f"binance-mcp audit export: {what}, all that matched", file=sys.stderr)
    return 0


def _write(out: IO[str], fmt: str, columns: tuple[str, ...], rows: Iterator[tuple[Any, ...]]) -> int:
    """Write the rows; how many."""
    n = 0
    if fmt == "csv":
        writer = csv.writer(out)
        writer.writerow(columns)
        for row in rows:
            writer.writerow(row)
            n += 1
        return n
    for row in rows:
        out.write(_encoder.encode(dict(zip(columns, row, strict=True))).decode())
        out.write("\n")
        n += 1
    return n


# -- the command line -------------------------------------------------------------------------
def _count(text: str) -> int:
    """A whole number, 0 or more (argparse type)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative: give 0 or more")
    return value


def _run(handler: Callable[[LogReader, argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        given = args.event_log or getattr(args, "audit_event_log", None)
        path = Path(given or os.environ.get("MCP_EVENT_LOG") or default_event_log(os.environ))
        try:
            reader = LogReader(path)
        except NoEventLog as exc:
            print(f"binance-mcp audit: {exc}", file=sys.stderr)
            return 2
        except sqlite3.DatabaseError as exc:
            print(f"binance-mcp audit: {path} cannot be read (damaged or truncated?): {exc}", file=sys.stderr)
            return 1
        try:
            return handler(reader, args)
        except sqlite3.DatabaseError as exc:
            print(f"binance-mcp audit: {reader.path} cannot be read (damaged or truncated?): {exc}", file=sys.stderr)
            return 1
        except BrokenPipeError:  # the reader went away (`| head`): not an error
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 0
        except ValueError as exc:
            print(f"binance-mcp audit: {exc}", file=sys.stderr)
            return 2
        except ExchangeError as exc:  # crosscheck: the exchange could not be asked (down, a bad key)
            print(f"binance-mcp audit: the exchange could not be asked: {exc.message}", file=sys.stderr)
            return 2
        finally:
            reader.close()

    return run


def add_parser(sub: Any) -> None:
    """The `audit` subcommand and its own subcommands, on the CLI's subparsers."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--event-log", metavar="PATH", help="the log (default: MCP_EVENT_LOG, else the server's default)"
    )
    common.add_argument("--json", action="store_true", help="machine-readable output")
    filters = argparse.ArgumentParser(add_help=False)
    filters.add_argument(
        "--since", metavar="WHEN", help="ISO 8601 time (UTC unless given) or an age: 90s, 15m, 2h, 3d, 1w"
    )
    filters.add_argument("--until", metavar="WHEN", help="as --since")
    filters.add_argument("--tool", help="only calls of this tool (as the log names it)")
    filters.add_argument("--outcome", help="executed, rejected, throttled, failed, unknown, or pending")
    filters.add_argument("--symbol", help="only calls on this symbol, however spelled (btc/usdt finds BTCUSDT)")
    filters.add_argument("--session", help="a session id (a prefix is enough)")
    chosen = argparse.ArgumentParser(add_help=False)
    chosen.add_argument(
        "--account",
        metavar="ACCOUNT",
        help="only this account's (its id as `audit stats` lists it, or its uid); default: every account",
    )

    audit = sub.add_parser("audit", help="read the event log")  # the help names the subcommands, below
    # Before the subcommand too (`audit --event-log X verify`), under a name of its own: a subcommand's
    # default would otherwise overwrite it.
    audit.add_argument(
        "--event-log", dest="audit_event_log", metavar="PATH", help="the log (also after the subcommand)"
    )
    subs = audit.add_subparsers(dest="audit_command", required=True)
    verify = subs.add_parser("verify", parents=[common], help="check the hash chain and the invariants")
    verify.add_argument("--against", metavar="SEQ:HASH", help="a head kept from `audit digest`")
    verify.set_defaults(run=_run(_verify))
    subs.add_parser("digest", parents=[common], help="the head seq:hash to keep elsewhere").set_defaults(
        run=_run(_digest)
    )
    listing = subs.add_parser("list", parents=[common, filters, chosen], help="one line per command")
    listing.add_argument(
        "--limit", type=_count, default=50, help="how many commands, newest first (default 50; 0: all of them)"
    )
    listing.add_argument("--offset", type=_count, default=0, help="skip this many newer commands first (default 0)")
    listing.set_defaults(run=_run(_list))
    show = subs.add_parser("show", parents=[common], help="one command's timeline")
    show.add_argument("command_id", help="a command id or a unique prefix of one")
    show.set_defaults(run=_run(_show))
    subs.add_parser("stats", parents=[common, filters, chosen], help="counts, errors, latencies, orders").set_defaults(
        run=_run(_stats)
    )
    export = subs.add_parser("export", parents=[common, filters, chosen], help="stream events or commands")
    export.add_argument("--format", choices=("jsonl", "csv"), default="jsonl", help="one JSON object a line, or CSV")
    export.add_argument("--commands", action="store_true", help="the commands view instead of the events")
    export.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    export.set_defaults(run=_run(_export))
    alerts = subs.add_parser("alerts", parents=[common, chosen], help="security patterns worth a look; exit 1 if any")
    defaults = Thresholds()
    alerts.add_argument(
        "--since", default="24h", help="the period to judge (default 24h); what came before is the usual"
    )
    alerts.add_argument(
        "--probe-count", type=int, default=defaults.probe_count, help="rejected calls that make a burst"
    )
    alerts.add_argument(
        "--probe-window",
        type=int,
        default=defaults.probe_window_s,
        metavar="SECONDS",
        help="the window a burst of rejected calls falls within",
    )
    alerts.add_argument(
        "--rate-limit-hits",
        type=int,
        default=defaults.rate_limit_hits,
        help="rate-limit answers from the exchange worth an alert (10x that many throttles here)",
    )
    alerts.add_argument("--size-factor", type=float, default=defaults.size_factor, help="x the median order")
    alerts.set_defaults(run=_run(_alerts))
    cross = subs.add_parser("crosscheck", parents=[common], help="the account's orders against this log")
    cross.add_argument("--since", required=True, help="ISO 8601 or an age (24h, 7d)")
    cross.add_argument(
        "--max-symbols", type=int, default=40, help="ask about at most this many symbols (weight 20 each a day)"
    )
    cross.set_defaults(run=_run(_crosscheck))
    replay = subs.add_parser("replay", parents=[common, chosen], help="the state the log folds into, as of a point")
    replay.add_argument("--until", metavar="SEQ|WHEN", help="stop at this seq, or this time (ISO 8601 or an age)")
    replay.add_argument("--orders", type=int, default=50, metavar="N", help="show the last N orders (default 50)")
    replay.add_argument(
        "--execute", action="store_true", help="re-send the commands to a fresh paper exchange and compare outcomes"
    )
    replay.add_argument(
        "--set", action="append", default=[], metavar="NAME=VALUE", help="an MCP_* setting for the re-run"
    )
    replay.add_argument("--out", metavar="NEW_LOG", help="the re-run's event log (default: beside the source)")
    replay.set_defaults(run=_run(_replay))
    # The top-level help names every audit subcommand (argparse keeps a subcommand's help on its action).
    named = next(a for a in sub._choices_actions if a.dest == "audit")
    named.help = f"read the event log: {', '.join(subs.choices)}"
