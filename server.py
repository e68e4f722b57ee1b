"""binance-mcp: the command line and the MCP face.

    binance-mcp serve [--venue paper|testnet|live] [--event-log PATH] ...   MCP over stdio
    binance-mcp paper [--host H] [--port P] [--seed N] [--fault PATH=MODE[:MS][@TIMES] ...]

The work of each subcommand lives in its room (exchange/, actors/, events/); this module only
parses arguments and wires. Logs go to stderr; stdout is reserved (for the MCP protocol under
`serve`, for the PAPER_EXCHANGE_URL line under `paper`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
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
    if (key is None) != (secret is None):
        print("binance-mcp paper: set both BINANCE_API_KEY and BINANCE_API_SECRET, or neither", file=sys.stderr)
        return 2
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
        seed=args.seed,
        market_config=MarketConfig(seed=args.seed),
        limits=limits,
        faults=faults,
        clock_skew_ms=args.clock_skew_ms,
    )


TOOL_DOCS: dict[str, str] = {
    "get_ticker_price": "Latest traded price of one Binance Spot symbol (e.g. BTCUSDT). Cheapest way to know "
    "what something trades at now.",
    "get_ticker": "24-hour rolling statistics of one symbol: open, high, low, last price, change and percent, "
    "volume and quote volume, best bid/ask, trade count.",
    "get_order_book": "Order book depth of one symbol: bids and asks as [price, quantity]. `limit` is levels per "
    "side (5, 10, 20, 50, 100, 500, 1000, 5000); larger costs more request weight.",
    "get_recent_trades": "The most recent public trades of one symbol (price, quantity, time, which side took).",
    "get_klines": "Candlesticks of one symbol: rows of [open time, open, high, low, close, volume, close time, "
    "quote volume, trades, taker buy base, taker buy quote, ignore]. Times are ms since the epoch (UTC).",
    "get_avg_price": "Binance's average price of one symbol over its 5-minute window (the reference price its "
    "PERCENT_PRICE and NOTIONAL filters use).",
    "get_book_ticker": "Best bid and best ask of one symbol with their quantities: the current spread.",
    "get_available_assets": "Every symbol on the venue with its base asset, quote asset and status (TRADING, "
    "BREAK, ...). Filter with `quote_asset`, e.g. USDT.",
    "get_symbol_info": "Trading rules of one symbol: status, order types, precisions and filters (tick size, "
    "step size, minimum notional). Read this before sizing an order.",
}


def _tools() -> list[Any]:
    from mcp.types import Tool, ToolAnnotations

    from binance_mcp.events.commands import COMMANDS, input_schema

    return [
        Tool(
            name=name,
            description=TOOL_DOCS[name],
            input_schema=input_schema(cls),
            annotations=ToolAnnotations(
                read_only_hint=not cls.changes_state,
                destructive_hint=cls.changes_state,
                idempotent_hint=not cls.changes_state,
                open_world_hint=True,
            ),
        )
        for name, cls in COMMANDS.items()
    ]


def tool_result(outcome: Any, command_id: str) -> Any:
    """An outcome as the MCP result: structured content plus the same JSON as text."""
    from mcp.types import CallToolResult, TextContent

    from binance_mcp.events.outcomes import Executed

    now = time.time_ns() // 1_000_000
    if isinstance(outcome, Executed):
        payload: dict[str, Any] = {"success": True, "data": outcome.data, "timestamp": now}
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
        error.update(timestamp=now, command_id=command_id)
        payload = {"success": False, "error": error}
    text = msgspec.json.encode(payload).decode()
    return CallToolResult(
        content=[TextContent(type="text", text=text)], structured_content=payload, is_error=not payload["success"]
    )


async def _serve_async(settings: Any, paper_weight_limit: int | None = None) -> int:
    from mcp import MCPError
    from mcp.server import Server, ServerRequestContext
    from mcp.types import INVALID_PARAMS, CallToolRequestParams, CallToolResult, ListToolsResult

    from binance_mcp.actors.system import System, new_envelope
    from binance_mcp.actors.validator import MAX_ARGS_BYTES
    from binance_mcp.events.commands import COMMANDS
    from binance_mcp.events.store import EventStore
    from binance_mcp.exchange.client import BinanceClient, Credentials
    from binance_mcp.exchange.paper import LimitConfig, start_paper_exchange
    from binance_mcp.face.stdio import stdio_transport

    paper = None
    credentials, base_url = settings.credentials, settings.base_url
    if settings.venue == "paper" and settings.base_url is None:  # else: a `binance-mcp paper` running elsewhere
        limits = LimitConfig(weight_per_minute=paper_weight_limit) if paper_weight_limit else None
        paper = await start_paper_exchange(limits=limits)
        credentials, base_url = Credentials(paper.api_key, paper.api_secret), paper.url
    client = BinanceClient(base_url, credentials=credentials, futures_base_url=settings.futures_base_url)
    store = EventStore(settings.event_log, server_version=__version__)
    system = System(
        client=client,
        store=store,
        venue=settings.venue,
        calls_per_minute=settings.max_requests_per_minute if settings.rate_limit_enabled else None,
        exchange_rules=settings.input_validation,
        log_security=settings.log_security,
    )
    await system.start()
    with contextlib.suppress(Exception):
        await client.sync_time()
    print(
        f"binance-mcp {__version__}: venue={settings.venue} base_url={base_url} event_log={settings.event_log}",
        file=sys.stderr,
        flush=True,
    )
    if not settings.input_validation:
        logging.getLogger("binance_mcp").warning("MCP_INPUT_VALIDATION=false: exchange-rule pre-checks are off")
    if settings.log_security:
        await system.security_event("configuration_validated", "system", "", venue=settings.venue)
    tools = _tools()

    async def list_tools(ctx: ServerRequestContext[Any], params: Any) -> ListToolsResult:
        return ListToolsResult(tools=tools)

    async def call_tool(ctx: ServerRequestContext[Any], params: CallToolRequestParams) -> CallToolResult:
        if params.name not in COMMANDS:
            raise MCPError(INVALID_PARAMS, f"Unknown tool: {params.name}")
        args = params.arguments or {}
        size = len(msgspec.json.encode(args))
        if size > MAX_ARGS_BYTES:  # the validator rejects it; the log keeps the size, not the bytes
            args = {"_omitted": f"arguments over {MAX_ARGS_BYTES // 1024} KiB are not stored"}
        envelope = new_envelope(params.name, dict(args), size)
        outcome = await system.ask(envelope)
        result: CallToolResult = tool_result(outcome, envelope.command_id)
        return result

    server = Server("binance-mcp", version=__version__, on_list_tools=list_tools, on_call_tool=call_tool)
    try:
        async with stdio_transport() as (read, write):
            serving = asyncio.create_task(server.run(read, write, server.create_initialization_options()))
            fatal = asyncio.create_task(system.supervisor.fatal.wait())
            done, _ = await asyncio.wait({serving, fatal}, return_when=asyncio.FIRST_COMPLETED)
            for task in (serving, fatal):
                task.cancel()
            if fatal in done:
                print(f"binance-mcp: stopping: {system.supervisor.fatal_error}", file=sys.stderr)
                return 1
    finally:
        await system.stop()
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
    ):
        value = getattr(args, flag)
        if value is not None:
            env[name] = str(value)
    try:
        settings = Settings.from_env(env)
    except ConfigError as exc:
        print(f"binance-mcp: configuration error: {exc}", file=sys.stderr)
        return 2
    return asyncio.run(_serve_async(settings, args.paper_weight_limit))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="binance-mcp", description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the MCP server on stdio")
    serve.add_argument("--venue", choices=("paper", "testnet", "live"), help="overrides BINANCE_VENUE")
    serve.add_argument("--base-url", help="overrides BINANCE_BASE_URL")
    serve.add_argument("--event-log", help="overrides MCP_EVENT_LOG")
    serve.add_argument("--max-requests-per-minute", type=int, help="overrides MCP_MAX_REQUESTS_PER_MINUTE")
    serve.add_argument(
        "--paper-weight-limit",
        type=int,
        metavar="N",
        help="paper venue only: the embedded exchange's REQUEST_WEIGHT per minute (default 6000), for load tests",
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
        metavar="PATH=MODE[:MS][@TIMES]",
        help="inject a fault on an endpoint (latency:MS, unavailable, timeout, hang, drop, malformed)",
    )
    paper.add_argument("--clock-skew-ms", type=int, default=0, help="skew the server clock by N ms")
    paper.add_argument("--weight-limit", type=int, default=6000, help="REQUEST_WEIGHT per minute per IP")
    paper.add_argument("--orders-per-10s", type=int, default=50)
    paper.add_argument("--orders-per-day", type=int, default=160_000)
    paper.add_argument("--ban-after", type=int, default=3, help="429 answers in a window before a 418 ban")
    paper.add_argument("--ban-seconds", type=int, default=120, help="first ban length; each later ban doubles")
    paper.set_defaults(run=_paper)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    code: int = args.run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
