"""Benchmark: `binance-mcp audit` on a generated log of 1,000,000 events.

- verify: events per second, against a baseline measured in the same run that only reads the same
  rows and SHA-256-hashes each (aim: at least half of it);
- stats, and a filtered list: wall time (aim: 2 s each on 2 cores);
- export: peak resident memory of the process at 100,000 and at 1,000,000 events (aim: flat);
- replay, the fold of the whole log into the account's state: events per second.

The log is written once into a temporary directory through EventStore (the server's own append):
commands of a paper session spread over ten days, 40% market reads, orders, cancels, rejections
and throttles, each a `received` and its outcome, orders with `dispatched` between.

    .venv/bin/python bench/audit.py [--events N]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import os
import platform
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from binance_mcp.events.store import Event, EventStore  # noqa: E402
from binance_mcp.server import main  # noqa: E402

DAY_US = 86_400_000_000


def generate(path: Path, events: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    store = EventStore(path)
    start = 1_795_000_000_000_000
    span = 10 * DAY_US
    n, batch = 0, []
    run = "0" * 31 + "1"
    batch.append(Event(start, run, "started", "", "paper", json.dumps({"pid": 1, "venue": "paper"})))
    symbols = ("BTCUSDT", "ETHUSDT", "BNBUSDT", "SOLUSDT")
    while n + len(batch) < events:
        ts = start + (n * span) // events
        cid = f"{ts:016x}{rng.getrandbits(64):016x}"
        symbol = rng.choice(symbols)
        roll = rng.random()
        if roll < 0.6:
            tool, args = "get_ticker_price", {"symbol": symbol}
            outcome = ("executed", {"data": {"symbol": symbol, "price": "58000.01"}, "outcome": "executed"})
        elif roll < 0.8:
            tool = "create_order"
            args = {
                "symbol": symbol,
                "side": rng.choice(("BUY", "SELL")),
                "type": "LIMIT",
                "quantity": "0.001",
                "price": "50000",
            }
            outcome = (
                "executed",
                {"data": {"symbol": symbol, "orderId": n, "status": "NEW", "executedQty": "0"}, "outcome": "executed"},
            )
        elif roll < 0.9:
            tool, args = "get_order_book", {"symbol": symbol, "limit": 7}
            outcome = ("rejected", {"kind": "validation_error", "message": "bad limit", "outcome": "rejected"})
        else:
            tool, args = "get_balance", {}
            outcome = (
                "throttled",
                {"kind": "rate_limit_exceeded", "message": "too many", "outcome": "throttled", "retry_after_ms": 5},
            )
        received = {"args": args, "client": "bench/1", "size": 40, "run": run, "session": "s" * 32}
        batch.append(Event(ts, cid, "received", tool, "paper", json.dumps(received, sort_keys=True)))
        if tool == "create_order":
            dispatched = {"symbol": symbol, "client_order_id": "mcp" + cid, "notional": "50", "quote_asset": "USDT"}
            batch.append(Event(ts + 100, cid, "dispatched", tool, "paper", json.dumps(dispatched, sort_keys=True)))
        batch.append(Event(ts + 2000, cid, outcome[0], tool, "paper", json.dumps(outcome[1], sort_keys=True)))
        if len(batch) >= 10_000:
            store.append_batch(batch)
            n += len(batch)
            batch = []
    if batch:
        store.append_batch(batch)
    store.close()


def baseline(path: Path) -> float:
    """Read every row and SHA-256 its fields, nothing else: events per second."""
    conn = sqlite3.connect(path)
    started = time.perf_counter()
    n = 0
    for row in conn.execute("SELECT seq, ts, command_id, kind, tool, venue, body, hash FROM events ORDER BY seq"):
        hashlib.sha256("".join(map(str, row[:7])).encode()).digest()
        n += 1
    conn.close()
    return n / (time.perf_counter() - started)


def timed(args: list[str]) -> tuple[float, int]:
    """Wall time of one audit subcommand in this process, output discarded; and its exit code."""
    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        code = main(["audit", *args])
    return time.perf_counter() - started, code


_PEAK = """
import contextlib, os, sys
sys.path.insert(0, {root!r})
from binance_mcp.server import main
with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
    assert main(["audit", "export", "--event-log", {log!r}]) == 0
print(next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM:")))
"""


def export_peak_rss(path: Path) -> float:
    """Peak resident memory (MiB) of `audit export` to /dev/null, in a process of its own: its own
    VmHWM (getrusage's maxrss would carry the forking parent's size across exec)."""
    out = subprocess.run(
        [sys.executable, "-c", _PEAK.format(root=str(ROOT), log=str(path))], check=True, capture_output=True, text=True
    )
    return int(out.stdout.strip()) / 1024


def main_bench() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        small, large = Path(tmp) / "small.sqlite3", Path(tmp) / "large.sqlite3"
        started = time.perf_counter()
        generate(small, args.events // 10)
        generate(large, args.events)
        print(f"generated {args.events // 10:,} and {args.events:,} events in {time.perf_counter() - started:.1f} s")
        log = ["--event-log", str(large)]
        base = baseline(large)
        seconds, code = timed(["verify", *log])
        assert code == 0
        with sqlite3.connect(large) as conn:
            (events,) = conn.execute("SELECT count(*) FROM events").fetchone()
        rate = events / seconds
        print(
            f"verify:   {rate:>10,.0f} events/s ({seconds:.2f} s)   baseline read+SHA-256 {base:,.0f} events/s   "
            f"ratio {rate / base:.2f}   (aim >= 0.5)"
        )
        seconds, code = timed(["replay", "--json", *log])
        assert code == 0
        print(f"replay (the fold): {events / seconds:>10,.0f} events/s ({seconds:.2f} s)")
        for name, command in (
            ("stats", ["stats", *log]),
            ("stats --since (the last day of ten)", ["stats", "--since", "2026-11-27T00:00", *log]),
            ("list --tool create_order", ["list", "--tool", "create_order", *log]),
            (
                "list --outcome rejected --symbol BTCUSDT",
                ["list", "--outcome", "rejected", "--symbol", "BTCUSDT", *log],
            ),
            ("list (newest 50)", ["list", *log]),
        ):
            seconds, code = timed(command)
            assert code == 0
            print(f"{name:45s} {seconds:6.2f} s   (aim <= 2 s)")
        peak_small, peak_large = export_peak_rss(small), export_peak_rss(large)
        print(
            f"export peak RSS: {peak_small:.1f} MiB at {args.events // 10:,} events, {peak_large:.1f} MiB at "
            f"{args.events:,}   ratio {peak_large / peak_small:.2f}   (aim: flat)"
        )


if __name__ == "__main__":
    main_bench()
