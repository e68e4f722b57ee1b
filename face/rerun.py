"""`binance-mcp audit replay --execute`: re-send a log's commands through a fresh pipeline.

The recorded commands go, in their original order and exactly as they arrived, through a fresh
System (the same validator, guard, limiter and executor) against a fresh embedded paper exchange,
into a new event log; each outcome is compared with the original (events/replay.py
`outcome_signature`). `--set NAME=VALUE` changes MCP_* settings for the re-run: "would today's
guard have stopped it?". Never a live or testnet venue: the exchange is always a new paper one.
Nobody is asked to confirm anything (MCP_CONFIRM_ORDERS is off in a re-run, and the report says
so). Not done yet (issue 11): moving the paper market to the prices the log recorded, and running
the rate limits on the log's clock (the re-run has the MCP call budget off and the paper exchange's
limits raised instead, so a day of commands is not throttled by the wall clock).
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from pathlib import Path
from typing import Any

import msgspec

from binance_mcp import __version__
from binance_mcp.actors.config import ConfigError, Settings
from binance_mcp.actors.system import System, new_envelope
from binance_mcp.events.commands import COMMANDS
from binance_mcp.events.outcomes import Outcome
from binance_mcp.events.replay import difference, outcome_signature
from binance_mcp.events.store import EventStore, LogReader
from binance_mcp.exchange.client import BinanceClient
from binance_mcp.exchange.paper import LimitConfig, start_paper_exchange

__all__ = ["parse_sets", "rerun"]

_UNLIMITED = LimitConfig(weight_per_minute=10**9, orders_per_10s=10**9, orders_per_day=10**9)
_encoder = msgspec.json.Encoder()


def parse_sets(pairs: list[str]) -> dict[str, str]:
    """`--set NAME=VALUE` pairs; only MCP_* settings (the venue is always a fresh paper exchange)."""
    sets: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.startswith("MCP_") or name in ("MCP_EVENT_LOG",):
            raise ConfigError(f"--set {pair!r}: NAME=VALUE with an MCP_* setting (not the venue, not the log)")
        sets[name] = value
    return sets


def _commands(reader: LogReader, until_us: int | None) -> list[tuple[Any, ...]]:
    where, params = ("", []) if until_us is None else (" WHERE received_us <= ?", [until_us])
    return reader.query(
        f"SELECT command_id, tool, request, outcome, result FROM commands{where} ORDER BY received_us", params
    ).fetchall()


async def rerun(reader: LogReader, until_us: int | None, sets: dict[str, str], out: Path) -> dict[str, Any]:
    """Re-run the log's commands (up to `until_us`) with `sets`; the report."""
    settings = Settings.from_env({"BINANCE_VENUE": "paper", "MCP_EVENT_LOG": str(out), **sets})
    guard = dataclasses.replace(settings.guard, confirm_orders=False)
    paper = await start_paper_exchange(limits=_UNLIMITED)
    client = BinanceClient(paper.url, credentials=paper.credentials())
    system = System(
        client=client,
        store=EventStore(out, server_version=__version__),
        venue="paper",
        calls_per_minute=None,
        exchange_rules=settings.input_validation,
        log_security=False,
        guard=guard,
    )
    same = 0
    by_difference: Counter[str] = Counter()
    differences: list[dict[str, Any]] = []
    not_replayable: list[dict[str, Any]] = []
    try:
        await system.start({"version": __version__, "replay_of": str(reader.path), "until_us": until_us, "set": sets})
        for command_id, tool, request, outcome, result in _commands(reader, until_us):
            try:
                args = json.loads(request)["args"]
            except (ValueError, KeyError, TypeError):
                args = None
            if tool not in COMMANDS or not isinstance(args, dict) or "_omitted" in args:
                why = "unknown tool" if tool not in COMMANDS else "its arguments are not in the log"
                not_replayable.append({"command_id": command_id, "tool": tool, "why": why})
                continue
            original = outcome_signature(outcome, json.loads(result) if result else None)
            answer = await system.ask(new_envelope(tool, args, len(_encoder.encode(args))))
            assert isinstance(answer, Outcome)  # confirmations are off in a re-run
            again = outcome_signature(*_as_logged(answer))
            what = difference(original, again)
            if what is None:
                same += 1
                continue
            by_difference[what] += 1
            differences.append(
                {"command_id": command_id, "tool": tool, "args": args, "original": original, "rerun": again}
            )
    finally:
        await system.stop(reason="replay done")
        await paper.stop()
    return {
        "source": str(reader.path),
        "new_log": str(out),
        "set": sets,
        "replayed": same + len(differences),
        "same": same,
        "different": len(differences),
        "by_difference": dict(by_difference),
        "not_replayable": not_replayable,
        "differences": differences,
        "confirmations": "not asked: nobody to ask in a re-run (MCP_CONFIRM_ORDERS off)",
    }


def _as_logged(outcome: Outcome) -> tuple[str, dict[str, Any]]:
    """An outcome as its terminal event's kind and body."""
    body = msgspec.to_builtins(outcome)
    kind = str(type(outcome).__struct_config__.tag)
    return kind, body if isinstance(body, dict) else {}
