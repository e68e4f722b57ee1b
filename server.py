"""binance-mcp: the command line and the MCP face.

    binance-mcp serve [--venue paper|testnet|live] [--event-log PATH] ...   MCP over stdio
    binance-mcp paper [--host H] [--port P] [--seed N] [--fault PATH=MODE[:MS][@TIMES] ...]
    binance-mcp audit verify|digest|list|show|stats|export [--event-log PATH] [--json] ...

The work of each subcommand lives in its room (exchange/, actors/, events/); this module only
parses arguments and wires. Logs go to stderr; stdout is reserved (for the MCP protocol under
`serve`, for the PAPER_EXCHANGE_URL line under `paper`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import logging
import os
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec

from binance_mcp import __version__

__all__ = ["main"]


def _paper(args: argparse.Namespace) -> int:
    from binance_mcp.exchange.paper import LimitConfig, MarketConfig, parse_fault, run_standalone

    faults = {}
    for spec in args.fault:
        try:
            path, fault = parse_fault(spec)
        except ValueError as exc:
            print(f"binance-mcp paper: {exc}", file=sys.stderr)
            return 2
        faults[path] = fault
    key, secret = os.environ.get("BINANCE_API_KEY") or None, os.environ.get("BINANCE_API_SECRET") or None
    public_key = None
    if args.ed25519_public_key:
        from binance_mcp.exchange.signing import KeyProblem, load_ed25519_public_key

        try:
            public_key = load_ed25519_public_key(Path(args.ed25519_public_key).read_bytes())
        except (OSError, KeyProblem) as exc:
            print(f"binance-mcp paper: --ed25519-public-key {args.ed25519_public_key}: {exc}", file=sys.stderr)
            return 2
        if secret is not None:
            print("binance-mcp paper: an Ed25519 account takes no BINANCE_API_SECRET", file=sys.stderr)
            return 2
    elif (key is None) != (secret is None):
        print("binance-mcp paper: set both BINANCE_API_KEY and BINANCE_API_SECRET, or neither", file=sys.stderr)
        return 2
    from binance_mcp.exchange.paper import DEFAULT_API_RESTRICTIONS

    restrictions: dict[str, Any] | None = dict(DEFAULT_API_RESTRICTIONS)
    for spec in args.key_permission:
        name, _, value = spec.partition("=")
        if name not in DEFAULT_API_RESTRICTIONS or value not in ("true", "false"):
            known = ", ".join(DEFAULT_API_RESTRICTIONS)
            print(
                f"binance-mcp paper: --key-permission {spec!r}: NAME=true|false, NAME one of {known}", file=sys.stderr
            )
            return 2
        assert restrictions is not None
        restrictions[name] = value == "true"
    if args.no_api_restrictions:
        restrictions = None
    limits = LimitConfig(
        weight_per_minute=args.weight_limit,
        orders_per_10s=args.orders_per_10s,
        orders_per_day=args.orders_per_day,
        ban_after=args.ban_after,
        ban_base_s=args.ban_seconds,
    )
    return run_standalone(
        host=args.host,
        port=args.port,
        api_key=key,
        api_secret=secret,
        ed25519_public_key=public_key,
        api_restrictions=restrictions,
        seed=args.seed,
        market_config=MarketConfig(seed=args.seed),
        limits=limits,
        faults=faults,
        clock_skew_ms=args.clock_skew_ms,
    )


def _tools(families: frozenset[str]) -> list[Any]:
    """Every tool; one the venue cannot serve is listed, marked in its description."""
    from mcp.types import Tool, ToolAnnotations

    from binance_mcp.actors.validator import UNSUPPORTED
    from binance_mcp.events.commands import COMMANDS, input_schema

    def description(cls: Any) -> str:
        family = cls.family()
        if family in families or family == "local":
            return str(cls.description())
        return f"NOT AVAILABLE ON THIS VENUE ({UNSUPPORTED[family]}). {cls.description()}"

    return [
        Tool(
            name=name,
            description=description(cls),
            input_schema=input_schema(cls),
            annotations=ToolAnnotations.model_validate(cls.hints()),
        )
        for name, cls in COMMANDS.items()
    ]


def tool_result(outcome: Any, command_id: str) -> Any:
    """An outcome as the MCP result: structured content plus the same JSON as text."""
    from mcp.types import CallToolResult, TextContent

    from binance_mcp.events.outcomes import Executed

    now = time.time_ns() // 1_000_000
    if isinstance(outcome, Executed):
        payload: dict[str, Any] = {"success": True, "data": outcome.data, "timestamp": now, "command_id": command_id}
    else:
        error: dict[str, Any] = {"type": outcome.kind, "message": outcome.message}
        if getattr(outcome, "code", None) is not None:
            error["code"] = outcome.code
        if getattr(outcome, "field", None):
            error["field"] = outcome.field
        if getattr(outcome, "suggestions", None):
            error["suggestions"] = list(outcome.suggestions)
        if getattr(outcome, "retry_after_ms", None) is not None:
            error["retry_after_ms"] = outcome.retry_after_ms
        if getattr(outcome, "hint", None):
            error["hint"] = outcome.hint
        error.update(timestamp=now, command_id=command_id)
        payload = {"success": False, "error": error}
    text = msgspec.json.encode(payload).decode()
    return CallToolResult(
        content=[TextContent(type="text", text=text)], structured_content=payload, is_error=not payload["success"]
    )


async def _serve_async(
    settings: Any,
    paper_weight_limit: int | None = None,
    paper_ed25519: bool = False,
    paper_order_limit: int | None = None,
) -> int:
    from mcp import MCPError
    from mcp.server import Server, ServerRequestContext
    from mcp.server.request_state import RequestStateBoundary, RequestStateSecurity
    from mcp.types import INVALID_PARAMS, CallToolRequestParams, CallToolResult, InputRequiredResult, ListToolsResult

    from binance_mcp.actors.journal import AuditUnavailable
    from binance_mcp.actors.keycheck import check_key
    from binance_mcp.actors.messages import NeedsConfirmation
    from binance_mcp.actors.system import client_for, new_envelope, system_for
    from binance_mcp.actors.validator import MAX_ARGS_BYTES
    from binance_mcp.events.commands import COMMANDS
    from binance_mcp.events.outcomes import echo
    from binance_mcp.exchange.paper import LimitConfig, start_paper_exchange
    from binance_mcp.face import confirm
    from binance_mcp.face.session import Sessions
    from binance_mcp.face.stdio import stdio_transport

    paper = None
    credentials, base_url = settings.credentials, settings.base_url
    if settings.venue == "paper" and settings.base_url is None:  # else: a `binance-mcp paper` running elsewhere
        limits = LimitConfig()
        if paper_weight_limit:
            limits = dataclasses.replace(limits, weight_per_minute=paper_weight_limit)
        if paper_order_limit:
            limits = dataclasses.replace(limits, orders_per_10s=paper_order_limit, orders_per_day=paper_order_limit)
        paper = await start_paper_exchange(limits=limits, ed25519=paper_ed25519)
        credentials, base_url = paper.credentials(), paper.url
    client = client_for(settings, base_url, credentials)
    system = system_for(settings, client, server_version=__version__)
    try:
        about: dict[str, Any] = {"version": __version__, "base_url": base_url}
        if settings.venue == "paper":  # what a re-run of this log needs to rebuild the same exchange
            about["paper"] = {"embedded": paper is not None}
            if paper is not None:
                about["paper"]["limits"] = dataclasses.asdict(paper.exchange.weights.config)
        await system.start(about)
    except AuditUnavailable as exc:
        print(f"binance-mcp: {exc} ({settings.event_log}); not starting without it", file=sys.stderr)
        await client.close()
        if paper is not None:
            await paper.stop()
        return 2
    with contextlib.suppress(Exception):
        await client.sync_time()
    print(
        f"binance-mcp {__version__}: venue={settings.venue} base_url={base_url} event_log={settings.event_log}",
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
    tools = _tools(settings.families)
    sessions = Sessions(system.open_session)

    async def list_tools(ctx: ServerRequestContext[Any], params: Any) -> ListToolsResult:
        return ListToolsResult(tools=tools)

    async def call_tool(
        ctx: ServerRequestContext[Any], params: CallToolRequestParams
    ) -> CallToolResult | InputRequiredResult:
        if params.request_state is not None and params.name in COMMANDS:  # modern era: the person's answer
            accepted, why = confirm.answer_of((params.input_responses or {}).get(confirm.INPUT_KEY))
            outcome = await system.confirm(params.request_state, accepted, why)
            return tool_result(outcome, params.request_state)  # type: ignore[no-any-return]
        args = params.arguments or {}
        size = len(msgspec.json.encode(args))
        if size > MAX_ARGS_BYTES:  # the validator rejects it; the log keeps the size, not the bytes
            args = {"_omitted": f"arguments over {MAX_ARGS_BYTES // 1024} KiB are not stored"}
        session, client_label = await sessions.of(ctx)
        envelope = new_envelope(
            params.name, dict(args), size, client_label, session=session, can_confirm=confirm.can_elicit(ctx)
        )
        answer = await system.ask(envelope)
        if params.name not in COMMANDS:  # journaled (received, rejected unknown_tool), then refused
            raise MCPError(INVALID_PARAMS, f"Unknown tool: {echo(params.name)}")
        if isinstance(answer, NeedsConfirmation):
            if confirm.is_modern(ctx):
                return confirm.input_required(answer.command_id, answer.summary)
            answer = await _confirm_in_call(ctx, answer)
        return tool_result(answer, envelope.command_id)  # type: ignore[no-any-return]

    async def _confirm_in_call(ctx: ServerRequestContext[Any], needs: NeedsConfirmation) -> Any:
        answered = False
        try:
            try:
                accepted, why = await confirm.ask_in_call(ctx, needs.summary)
            except Exception as exc:  # the client could not show it: a no, never a yes
                accepted, why = False, f"the question could not be asked ({type(exc).__name__})"
            answered = True
            return await system.confirm(needs.command_id, accepted, why)
        finally:
            if not answered:  # the call was cancelled while the person was asked: end it as declined
                closing = asyncio.ensure_future(system.confirm(needs.command_id, False, "the call was cancelled"))
                pending.add(closing)
                closing.add_done_callback(pending.discard)

    pending: set[asyncio.Future[Any]] = set()
    server = Server("binance-mcp", version=__version__, on_list_tools=list_tools, on_call_tool=call_tool)
    server.middleware.append(
        RequestStateBoundary(
            RequestStateSecurity.ephemeral(ttl=settings.confirm_timeout_s), default_audience="binance-mcp"
        )
    )
    # SIGTERM and SIGINT stop the server as a closed stdin does: calls in flight finish (up to
    # 10 s), the journal drains, `stopped` is written.
    loop = asyncio.get_running_loop()
    signals: list[str] = []
    signalled = asyncio.Event()

    def on_signal(name: str) -> None:
        signals.append(name)
        signalled.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal, sig.name)
    reason = "stdin closed"
    try:
        async with stdio_transport() as (read, write):
            serving = asyncio.create_task(server.run(read, write, server.create_initialization_options()))
            fatal = asyncio.create_task(system.supervisor.fatal.wait())
            stop = asyncio.create_task(signalled.wait())
            done, _ = await asyncio.wait({serving, fatal, stop}, return_when=asyncio.FIRST_COMPLETED)
            for task in (serving, fatal, stop):
                task.cancel()
            if stop in done:
                reason = signals[0]
                print(f"binance-mcp: {reason}: stopping", file=sys.stderr, flush=True)
            if fatal in done:
                print(f"binance-mcp: stopping: {system.supervisor.fatal_error}", file=sys.stderr)
                return 1
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        await system.stop(reason=reason)
        if paper is not None:
            await paper.stop()
    return 0


def _serve(args: argparse.Namespace) -> int:
    from binance_mcp.actors.config import ConfigError, Settings, load_dotenv

    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    env = dict(os.environ)
    load_dotenv(Path.cwd() / ".env", env)
    for flag, name in (
        ("venue", "BINANCE_VENUE"),
        ("base_url", "BINANCE_BASE_URL"),
        ("event_log", "MCP_EVENT_LOG"),
        ("max_requests_per_minute", "MCP_MAX_REQUESTS_PER_MINUTE"),
        ("trading_enabled", "MCP_TRADING_ENABLED"),
        ("max_order_notional", "MCP_MAX_ORDER_NOTIONAL"),
        ("max_daily_notional", "MCP_MAX_DAILY_NOTIONAL"),
        ("symbol_allowlist", "MCP_SYMBOL_ALLOWLIST"),
        ("confirm_orders", "MCP_CONFIRM_ORDERS"),
    ):
        value = getattr(args, flag)
        if value is not None:
            env[name] = str(value)
    try:
        settings = Settings.from_env(env)
    except ConfigError as exc:
        print(f"binance-mcp: configuration error: {exc}", file=sys.stderr)
        return 2
    return asyncio.run(_serve_async(settings, args.paper_weight_limit, args.paper_ed25519, args.paper_order_limit))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="binance-mcp", description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the MCP server on stdio")
    serve.add_argument("--venue", choices=("paper", "testnet", "live"), help="overrides BINANCE_VENUE")
    serve.add_argument("--base-url", help="overrides BINANCE_BASE_URL")
    serve.add_argument("--event-log", help="overrides MCP_EVENT_LOG")
    serve.add_argument("--max-requests-per-minute", type=int, help="overrides MCP_MAX_REQUESTS_PER_MINUTE")
    guard = serve.add_argument_group("trading guard (each overrides its variable)")
    guard.add_argument(
        "--trading-enabled", choices=("true", "false"), help="MCP_TRADING_ENABLED (default: false on live)"
    )
    guard.add_argument("--max-order-notional", metavar="CAP", help="MCP_MAX_ORDER_NOTIONAL: 1000 or USDT=1000,BTC=0.02")
    guard.add_argument("--max-daily-notional", metavar="CAP", help="MCP_MAX_DAILY_NOTIONAL, per rolling 24 h")
    guard.add_argument("--symbol-allowlist", metavar="SYMBOLS", help="MCP_SYMBOL_ALLOWLIST: BTCUSDT,ETHUSDT")
    guard.add_argument("--confirm-orders", choices=("true", "false"), help="MCP_CONFIRM_ORDERS")
    serve.add_argument(
        "--paper-weight-limit",
        type=int,
        metavar="N",
        help="paper venue only: the embedded exchange's REQUEST_WEIGHT per minute (default 6000), for load tests",
    )
    serve.add_argument(
        "--paper-order-limit",
        type=int,
        metavar="N",
        help="paper venue only: the embedded exchange's ORDERS limits, N per 10 s and per day, for load tests",
    )
    serve.add_argument(
        "--paper-ed25519",
        action="store_true",
        help="paper venue only: the embedded exchange's account signs with a generated Ed25519 key pair",
    )
    serve.set_defaults(run=_serve)
    paper = sub.add_parser("paper", help="run the paper exchange (a local Binance Spot REST API)")
    paper.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback)")
    paper.add_argument("--port", type=int, default=0, help="port (default 0: a free port)")
    paper.add_argument("--seed", type=int, default=0, help="market seed: the same seed gives the same market")
    paper.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="[METHOD ]PATH=MODE[:MS][@TIMES]",
        help="inject a fault on an endpoint, of one method or any (latency:MS, unavailable, timeout, hang, drop, "
        "malformed)",
    )
    paper.add_argument("--clock-skew-ms", type=int, default=0, help="skew the server clock by N ms")
    paper.add_argument(
        "--key-permission",
        action="append",
        default=[],
        metavar="NAME=true|false",
        help="what /sapi/v1/account/apiRestrictions says of the key, e.g. enableWithdrawals=true, ipRestrict=true",
    )
    paper.add_argument(
        "--no-api-restrictions", action="store_true", help="answer that endpoint 404, as the spot testnet does"
    )
    paper.add_argument(
        "--ed25519-public-key",
        metavar="PATH",
        help="the account signs with Ed25519: this public key (PEM) verifies it; BINANCE_API_KEY names it",
    )
    paper.add_argument("--weight-limit", type=int, default=6000, help="REQUEST_WEIGHT per minute per IP")
    paper.add_argument("--orders-per-10s", type=int, default=50)
    paper.add_argument("--orders-per-day", type=int, default=160_000)
    paper.add_argument("--ban-after", type=int, default=3, help="429 answers in a window before a 418 ban")
    paper.add_argument("--ban-seconds", type=int, default=120, help="first ban length; each later ban doubles")
    paper.set_defaults(run=_paper)
    from binance_mcp.face.audit import add_parser as add_audit

    add_audit(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    code: int = args.run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
