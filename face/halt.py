"""`binance-mcp halt` and `binance-mcp resume`: the switch every server on a log obeys.

`halt` appends a `halted` event (reason, and who: user, host, process id) to the event log. Every
server on the log folds it before its next order's decision, and an order judged before it is
refused at its `dispatched` (the log position its decision saw is older than the halt), so from
the halt on nothing new reaches the exchange: `create_order` answers `trading_halted`. Reads,
`test_order` and cancels keep working: in an incident a person wants exposure down, not frozen.
A server started later begins halted (the start-up fold reads the last halt or resume however
old), and each running server says so on stderr (`SECURITY_EVENT: trading_halted`) within a
second.

`--cancel-open-orders` then takes the account's open orders off the book: the venue and key from
the environment (as `audit crosscheck`), a run of its own on the log (`started`, each call a
command of it, `stopped`), the open orders read once for every symbol and each symbol that has
some cancelled with `cancel_open_orders` (Binance Spot has no account-wide cancel). That run's
guard lets cancels through whatever MCP_TRADING_ENABLED and the allowlist say: the person at the
switch asked for them, and the halt already stops every order.

`resume` appends `resumed`.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import getpass
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

from msgspec import UNSET, UnsetType

from binance_mcp import __version__
from binance_mcp.actors.config import ConfigError, Settings, default_event_log, load_dotenv
from binance_mcp.actors.guard import Guard
from binance_mcp.events.chain import Event
from binance_mcp.events.ids import new_command_id
from binance_mcp.events.outcomes import Executed, Outcome
from binance_mcp.events.runs import Lease
from binance_mcp.events.schema import (
    AboutRun,
    Halted,
    LogEvent,
    PaperRun,
    Resumed,
    decode,
    encode,
    is_text,
    text_column,
)
from binance_mcp.events.store import EventStore, LogReader, NoEventLog
from binance_mcp.face.paper import SharedPaper, on_paper_account

__all__ = ["add_parsers", "append_alone", "cancel_everything", "who"]


MAX_REASON = 500  # characters of a reason kept: every refusal repeats it


def who(reason: str) -> dict[str, Any]:
    """The reason (text as the log's columns hold it when it is not Unicode text, say an argument
    that was not UTF-8; cut to MAX_REASON) and who gives it."""
    if not is_text(reason) or len(reason) > MAX_REASON:
        reason = text_column(reason, limit=MAX_REASON)
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid
        user = str(os.getuid())
    return {"reason": reason, "user": user, "host": socket.gethostname(), "pid": os.getpid()}


def append_alone(log: Path, event: LogEvent, venue: str) -> int:
    """Append one event as a run of its own (its lease held while it writes): `halted`, `resumed`,
    `paper_reset`; its seq."""
    run = new_command_id()
    lease = Lease(log, run)
    store = EventStore(log, server_version=__version__)
    try:
        (seq,) = store.append_batch([Event(time.time_ns() // 1000, run, event.kind, "", venue, encode(event).decode())])
    finally:
        store.close()
        lease.release()
    return seq


async def cancel_everything(settings: Settings, event: Halted) -> list[dict[str, Any]]:
    """A run of its own: journal `event`, read the account's open orders, cancel each symbol's.
    What was cancelled, or could not be, one entry per symbol. On the paper venue without a base
    URL: the log's paper account (face/paper.py), reached where a server serves it, else served
    here for as long as this takes."""
    async with on_paper_account(settings, settings.event_log) as (reaching, shared):
        return await _cancel_everything(reaching, event, shared)


async def _cancel_everything(settings: Settings, event: Halted, shared: SharedPaper | None) -> list[dict[str, Any]]:
    from binance_mcp.actors.system import client_for, new_envelope, system_for

    # The cancels go through whatever guard the servers run with; nothing else can pass: halted.
    settings = dataclasses.replace(settings, guard=Guard(trading_enabled=True))
    client = client_for(settings)
    system = system_for(settings, client, server_version=__version__, log_security=False)
    system.say_halts = False  # this run throws the switch: the person at it knows
    # On paper, the exchange the servers use (never one of its own): a re-run of the log replays
    # these cancels on the paper account the orders were placed on, not on a fresh one.
    paper: PaperRun | UnsetType = UNSET
    if shared is not None:
        paper = PaperRun(embedded=True, state=str(shared.folder), limits=shared.served_limits)
    elif settings.venue == "paper":
        paper = PaperRun(embedded=False)
    await system.start(AboutRun(version=__version__, base_url=settings.base_url, paper=paper))
    done: list[dict[str, Any]] = []
    try:
        await system.journal.record(system.run_id, "", event)
        system.catch_up()

        async def call(tool: str, **args: Any) -> Outcome:
            outcome = await system.ask(new_envelope(tool, args, len(repr(args)), client="binance-mcp halt"))
            assert isinstance(outcome, Outcome)  # nobody is asked to confirm a halt's cancels
            return outcome

        opens = await call("get_open_orders")
        if not isinstance(opens, Executed):
            return [{"symbol": None, "error": getattr(opens, "message", str(opens))}]
        symbols = sorted({str(o["symbol"]) for o in opens.data})
        for symbol in symbols:
            outcome = await call("cancel_open_orders", symbol=symbol)
            if isinstance(outcome, Executed):
                ids = [o.get("origClientOrderId") or o.get("clientOrderId") for o in outcome.data]  # the order's own
                done.append({"symbol": symbol, "cancelled": len(outcome.data), "orders": ids})
            else:
                done.append({"symbol": symbol, "error": getattr(outcome, "message", str(outcome))})
    finally:
        await system.stop(reason="halt: open orders cancelled")
    return done


def _settings(args: argparse.Namespace, name: str) -> Settings | None:
    env = dict(os.environ)
    load_dotenv(Path.cwd() / ".env", env)
    if args.event_log:
        env["MCP_EVENT_LOG"] = args.event_log
    try:
        return Settings.from_env(env)
    except ConfigError as exc:
        print(f"binance-mcp {name}: configuration error: {exc}", file=sys.stderr)
        return None


def _log_of(args: argparse.Namespace, settings: Settings | None) -> Path:
    if settings is not None:
        return settings.event_log
    return Path(args.event_log or os.environ.get("MCP_EVENT_LOG") or default_event_log(os.environ))


def last_switch(log: Path) -> tuple[str, Halted | Resumed] | None:
    """The switch as the log last set it: ("halted" or "resumed", its event); None: never thrown."""
    try:
        reader = LogReader(log)
    except NoEventLog:
        return None
    try:
        row = reader.query(
            "SELECT kind, body FROM events WHERE kind IN ('halted', 'resumed') ORDER BY seq DESC LIMIT 1"
        ).fetchone()
    finally:
        reader.close()
    if row is None:
        return None
    event = decode(str(row[0]), str(row[1]))
    return (str(row[0]), event) if isinstance(event, Halted | Resumed) else None


def _halt(args: argparse.Namespace) -> int:
    settings = _settings(args, "halt")
    log = _log_of(args, settings)
    event = Halted(**who(args.reason))
    before = last_switch(log)
    if before is not None and before[0] == "halted":
        was = before[1]
        print(
            f"trading was halted already (by {was.user} on {was.host}: {was.reason or 'no reason given'}); halted again"
        )
    if not args.cancel_open_orders:
        seq = append_alone(log, event, settings.venue if settings else "")
        print(f"halted at seq {seq} of {log}: every server on this log refuses new orders until `binance-mcp resume`")
        return 0
    if settings is None:
        return 2
    if settings.venue != "paper" and (settings.base_url is None or settings.credentials is None):
        seq = append_alone(log, event, settings.venue)
        print(f"halted at seq {seq} of {log}")
        print("binance-mcp halt: no open orders cancelled: no key to cancel them with", file=sys.stderr)
        return 2
    done = asyncio.run(cancel_everything(settings, event))
    print(f"halted ({log}): every server on this log refuses new orders until `binance-mcp resume`")
    for entry in done:
        if "error" in entry:
            print(f"  {entry['symbol'] or 'open orders'}: NOT cancelled: {entry['error']}")
        else:
            print(f"  {entry['symbol']}: {entry['cancelled']} cancelled: {' '.join(map(str, entry['orders']))}")
    if not done:
        print("  no open orders")
    return 1 if any("error" in e for e in done) else 0


def _resume(args: argparse.Namespace) -> int:
    settings = _settings(args, "resume")
    log = _log_of(args, settings)
    before = last_switch(log)
    if before is None or before[0] == "resumed":
        where = f"on {log}" if log.is_file() else f"(there is no event log at {log})"
        print(f"trading is not halted {where}: nothing to resume")
        return 0
    seq = append_alone(log, Resumed(**who(args.reason)), settings.venue if settings else "")
    print(f"resumed at seq {seq} of {log}: orders may be sent again")
    return 0


def add_parsers(sub: Any) -> None:
    halt = sub.add_parser("halt", help="stop every server on the event log from placing orders (an incident switch)")
    halt.add_argument("--reason", default="", help="why: on record, and in every refusal")
    halt.add_argument(
        "--cancel-open-orders",
        action="store_true",
        help="then cancel every open order of the account (the venue and key from the environment)",
    )
    halt.add_argument("--event-log", help="the log (default: MCP_EVENT_LOG, else the default log)")
    halt.set_defaults(run=_halt)
    resume = sub.add_parser("resume", help="let the servers on the event log place orders again")
    resume.add_argument("--reason", default="", help="why: on record")
    resume.add_argument("--event-log", help="the log (default: MCP_EVENT_LOG, else the default log)")
    resume.set_defaults(run=_resume)
