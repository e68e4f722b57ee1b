"""binance-mcp: the command line.

    binance-mcp serve [--venue paper|testnet|live] [--event-log PATH] ...   MCP over stdio
    binance-mcp paper [--host H] [--port P] [--seed N] [--state DIR] [--fault PATH=MODE[:MS][@TIMES] ...]
    binance-mcp paper reset [--event-log PATH | --state DIR] [--reason TEXT]
    binance-mcp audit verify|digest|list|show|stats|export [--event-log PATH] [--json] ...
    binance-mcp halt [--reason TEXT] [--cancel-open-orders] [--event-log PATH] / resume [--reason TEXT]

The work of each subcommand lives in its room (face/serve.py and face/mcp.py for `serve`,
exchange/paper for `paper`, face/audit.py for `audit`, face/halt.py for `halt` and `resume`);
this module only parses arguments and wires. Logs go to stderr; stdout is reserved (for the MCP
protocol under `serve`, for the PAPER_EXCHANGE_URL line under `paper`).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sqlite3
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

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
    if args.state:  # the account kept in a folder, across restarts (face/paper.py)
        from binance_mcp.face.paper import serve_state

        return serve_state(
            Path(args.state),
            host=args.host,
            port=args.port,
            api_key=key,
            api_secret=secret,
            public_key=public_key,
            seed=args.seed,
            limits=limits,
            options={"faults": faults, "clock_skew_ms": args.clock_skew_ms, "api_restrictions": restrictions},
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


def _paper_reset(args: argparse.Namespace) -> int:
    from binance_mcp.actors.config import default_event_log
    from binance_mcp.events.schema import PaperReset
    from binance_mcp.face.halt import append_alone, who
    from binance_mcp.face.paper import PaperMismatch, reset, state_folder

    log = Path(args.event_log or os.environ.get("MCP_EVENT_LOG") or default_event_log(os.environ))
    folder = Path(args.state) if args.state else state_folder(log)
    try:
        done = reset(folder)
    except (PaperMismatch, OSError) as exc:
        print(f"binance-mcp paper reset: {exc}", file=sys.stderr)
        return 2
    if done is None:
        print(f"binance-mcp paper reset: no paper account in {folder}: nothing to reset", file=sys.stderr)
        return 0
    account, moved = done
    if args.state is None:  # the log's own paper account: its reset is on the log
        event = PaperReset(account=account, state=str(folder), moved_to=str(moved), **who(args.reason))
        seq = append_alone(log, event, "paper")
        print(f"paper account {account} reset at seq {seq} of {log}; its state is kept in {moved}")
    else:
        print(f"paper account {account} reset; its state is kept in {moved}")
    print("the next server starts a new paper account (new balances, no orders, a new id)")
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
    from binance_mcp.face.serve import serve

    http = None
    if args.http:
        from binance_mcp.face.http import HttpOptions
        from binance_mcp.face.tokens import tokens_file

        http = HttpOptions(
            host=args.host,
            port=args.port,
            path=args.path,
            tokens=tokens_file(env),
            allowed_hosts=tuple(args.allowed_host),
            allowed_origins=tuple(args.allowed_origin),
            tls_cert=args.tls_cert,
            tls_key=args.tls_key,
            insecure_no_tls=args.insecure_no_tls,
        )
    return asyncio.run(serve(settings, args.paper_weight_limit, args.paper_ed25519, args.paper_order_limit, http))


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
    web = serve.add_argument_group("Streamable HTTP (instead of stdio; every request needs a token: binance-mcp token)")
    web.add_argument("--http", action="store_true", help="serve MCP over Streamable HTTP")
    web.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback)")
    web.add_argument("--port", type=int, default=8765, help="port (default 8765; 0: a free one)")
    web.add_argument("--path", default="/mcp", help="the MCP endpoint's path (default /mcp)")
    web.add_argument("--allowed-host", action="append", default=[], metavar="HOST[:PORT]", help="a Host to accept")
    web.add_argument("--allowed-origin", action="append", default=[], metavar="ORIGIN", help="an Origin to accept")
    web.add_argument("--tls-cert", metavar="FILE", help="serve TLS with this certificate (PEM)")
    web.add_argument("--tls-key", metavar="FILE", help="and this key (PEM)")
    web.add_argument(
        "--insecure-no-tls",
        action="store_true",
        help="plain HTTP on a non-loopback address (only behind a proxy that terminates TLS)",
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
    paper.add_argument("--orders-per-10s", type=int, default=50, help="ORDERS limit per 10 s per account")
    paper.add_argument("--orders-per-day", type=int, default=160_000, help="ORDERS limit per day per account")
    paper.add_argument("--ban-after", type=int, default=3, help="429 answers in a window before a 418 ban")
    paper.add_argument("--ban-seconds", type=int, default=120, help="first ban length; each later ban doubles")
    paper.add_argument(
        "--state",
        metavar="DIR",
        help="keep the account in this folder across restarts (balances, orders, trades, the market's clock); "
        "made on first use, with the key given or one drawn",
    )
    paper.set_defaults(run=_paper)
    paper_subs = paper.add_subparsers(dest="paper_command", metavar="{reset}")
    reset = paper_subs.add_parser(
        "reset", help="start the log's paper account afresh (its folder is moved aside, and it is on record)"
    )
    reset.add_argument("--event-log", metavar="PATH", help="the log (default: MCP_EVENT_LOG, else the default log)")
    reset.add_argument("--state", metavar="DIR", help="the folder to reset instead (a `binance-mcp paper --state`)")
    reset.add_argument("--reason", default="", help="why: on record")
    reset.set_defaults(run=_paper_reset)
    from binance_mcp.face.audit import add_parser as add_audit
    from binance_mcp.face.halt import add_parsers as add_halt
    from binance_mcp.face.tokens import add_parser as add_token

    add_audit(sub)
    add_halt(sub)
    add_token(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        code: int = args.run(args)
    except OSError as exc:  # a path below a file, a folder that cannot be written: said, not a traceback
        from binance_mcp.face.serve import reason_of

        print(f"binance-mcp {args.command}: {reason_of(exc)}", file=sys.stderr)
        return 2
    except sqlite3.DatabaseError as exc:  # a damaged log or paper state
        print(f"binance-mcp {args.command}: a database cannot be read (damaged?): {exc}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
