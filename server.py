"""binance-mcp: the command line and the MCP face.

    binance-mcp paper [--host H] [--port P] [--seed N] [--fault PATH=MODE[:MS][@TIMES] ...]

The work of each subcommand lives in its room (exchange/, actors/, events/); this module only
parses arguments and wires. Logs go to stderr; stdout is reserved (for the MCP protocol under
`serve`, for the PAPER_EXCHANGE_URL line under `paper`).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

__all__ = ["main"]


def _paper(args: argparse.Namespace) -> int:
    from exchange.paper import LimitConfig, MarketConfig, parse_fault, run_standalone

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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="binance-mcp", description=__doc__.split("\n\n")[0] if __doc__ else None)
    sub = parser.add_subparsers(dest="command", required=True)
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
