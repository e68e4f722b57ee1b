"""`binance-mcp serve`: one run of the server over stdio, from Settings to `stopped`.

The paper exchange started in-process when the venue is paper and no base URL is given; the
client and the System (actors/system.py `system_for`); the run's `started` with what a re-run
needs to rebuild its exchange; the key's permissions checked on testnet and live (refusing a key
that can withdraw); the MCP server (face/mcp.py) over stdio (face/stdio.py) until stdin closes,
a signal, or the supervisor gives up; then the System stopped, so the journal drains.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import sqlite3
import sys
from typing import Any

import msgspec
from msgspec import UNSET, UnsetType

from binance_mcp import __version__
from binance_mcp.actors.config import Settings
from binance_mcp.actors.journal import AuditUnavailable
from binance_mcp.actors.keycheck import check_key
from binance_mcp.actors.system import System, client_for, system_for
from binance_mcp.events.ids import new_command_id
from binance_mcp.events.schema import AboutRun, PaperRun
from binance_mcp.exchange.paper import LimitConfig, ws_api_url
from binance_mcp.face.http import HttpOptions, no_token_problem, refusal, serve_http
from binance_mcp.face.mcp import mcp_server
from binance_mcp.face.paper import PaperMismatch, SharedPaper, state_folder
from binance_mcp.face.stdio import serve_stdio

__all__ = ["reason_of", "serve"]


async def serve(
    settings: Settings,
    paper_weight_limit: int | None = None,
    paper_ed25519: bool = False,
    paper_order_limit: int | None = None,
    http: HttpOptions | None = None,
) -> int:
    """One run of `serve` (over stdio, or over Streamable HTTP with `http`); its exit code (0
    stopped cleanly, 1 the supervisor gave up, 2 refused to start)."""
    if http is not None and (why := refusal(http) or no_token_problem(http)) is not None:
        print(f"binance-mcp: refusing to serve HTTP: {why}", file=sys.stderr)
        return 2
    paper = None
    credentials, base_url = settings.credentials, settings.base_url
    if settings.venue == "paper" and settings.base_url is None:  # else: a `binance-mcp paper` running elsewhere
        limits = LimitConfig()
        if paper_weight_limit:
            limits = dataclasses.replace(limits, weight_per_minute=paper_weight_limit)
        if paper_order_limit:
            limits = dataclasses.replace(limits, orders_per_10s=paper_order_limit, orders_per_day=paper_order_limit)
        try:  # the log's paper account: held here, or reached where another server holds it (face/paper.py)
            paper = await SharedPaper.join(state_folder(settings.event_log), limits=limits, ed25519=paper_ed25519)
        except (PaperMismatch, OSError, sqlite3.DatabaseError) as exc:
            print(f"binance-mcp: the log's paper account cannot be used: {reason_of(exc)}", file=sys.stderr)
            return 2
        credentials, base_url = paper.credentials(), paper.url
    client = client_for(settings, base_url, credentials)
    stream_url = None
    if settings.account_stream and credentials is not None:
        stream_url = settings.ws_api_url or (ws_api_url(base_url) if settings.venue == "paper" and base_url else None)
    try:
        system = system_for(settings, client, server_version=__version__, account_stream_url=stream_url)
    except (OSError, sqlite3.DatabaseError) as exc:  # an unwritable folder, a path below a file, a damaged log
        print(f"binance-mcp: the event log {settings.event_log} cannot be opened: {reason_of(exc)}", file=sys.stderr)
        await client.close()
        if paper is not None:
            await paper.stop()
        return 2
    if paper is not None:
        paper.on_moved = lambda url: _moved(system, url)
    try:
        run_paper: PaperRun | UnsetType = UNSET
        if settings.venue == "paper":  # what a re-run of this log needs to rebuild the same exchange
            recorded = paper.served_limits if paper is not None else UNSET
            folder = str(paper.folder) if paper is not None else UNSET
            run_paper = PaperRun(embedded=paper is not None, limits=recorded, state=folder)
        await system.start(AboutRun(version=__version__, base_url=base_url, paper=run_paper))
    except AuditUnavailable as exc:
        print(f"binance-mcp: {exc} ({settings.event_log}); not starting without it", file=sys.stderr)
        await client.close()
        if paper is not None:
            await paper.stop()
        return 2
    # After the start: its first request (exchangeInfo) states the weight limit the answers' counts
    # are judged against (a count seen before it is judged against the default 6000).
    with contextlib.suppress(Exception):
        await client.sync_time()
    print(
        f"binance-mcp {__version__}: venue={settings.venue} base_url={base_url} event_log={settings.event_log} "
        f"account={system.account}",
        file=sys.stderr,
        flush=True,
    )
    guard = msgspec.json.encode(settings.guard.record()).decode()
    print(f"binance-mcp: trading guard {guard}", file=sys.stderr, flush=True)
    if settings.venue in ("testnet", "live") and credentials is not None:
        verdict = await check_key(
            client,
            trading_enabled=settings.guard.trading_enabled,
            allow_withdrawals=settings.allow_withdrawal_keys,
        )
        await system.security_event("key_permissions", system.run_id, "", **verdict.record)
        for warning in verdict.warnings:
            print(f"binance-mcp: WARNING: {warning}", file=sys.stderr, flush=True)
        if verdict.refuse is not None:
            print(f"binance-mcp: refusing to start: {verdict.refuse}", file=sys.stderr, flush=True)
            await system.stop(reason="refused: the API key can withdraw")
            return 2
    if not settings.input_validation:
        logging.getLogger("binance_mcp").warning("MCP_INPUT_VALIDATION=false: exchange-rule pre-checks are off")
    server = mcp_server(system, settings.families, settings.confirm_timeout_s, settings.result_budget)
    reason = "stdin closed"
    try:
        if http is not None:

            async def auth_failed(details: dict[str, Any]) -> None:
                await system.security_event("authentication_failed", new_command_id(), "", **details)

            code, reason = await serve_http(server, http, auth_failed, system.supervisor.fatal)
            if code == 1:
                print(f"binance-mcp: stopping: {system.supervisor.fatal_error}", file=sys.stderr)
        else:
            code, reason = await serve_stdio(server, system)
    finally:
        await system.stop(reason=reason)
        if paper is not None:
            await paper.stop()
    return code


def _moved(system: System, url: str) -> None:
    """The log's paper exchange serves elsewhere now (its new holder could not have the old port)."""
    system.client.base_url = url.rstrip("/")
    system.client.futures_base_url = system.client.base_url
    if system.stream is not None:  # its next connection goes there
        system.stream.url = system.stream.shown_url = ws_api_url(url)


def reason_of(exc: BaseException) -> str:
    """An OS or SQLite error in a line: what went wrong, and where."""
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror
    return str(exc) or type(exc).__name__
