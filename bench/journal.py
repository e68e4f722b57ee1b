"""Benchmark (a): event-log appends per second through the journal actor, against raw sqlite3
`executemany` of the same rows with the same pragmas (WAL, synchronous=FULL), measured in the
same run. The journal is driven by `--batch` concurrent callers that each wait for durability;
the raw baseline commits `--batch` prepared rows per transaction. The journal adds hashing,
JSON bodies, the actor mailbox, the writer thread and a future per caller.

Two baselines: the same rows into the event log's own table (same indexes: the aim is measured
against this one), and into a bare table with no index (what the indexes themselves cost).

    .venv/bin/python bench/journal.py [--events N] [--batch B]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sqlite3
import tempfile
import time
from pathlib import Path

from binance_mcp.actors.base import Supervisor
from binance_mcp.actors.journal import Journal, bounded_body
from binance_mcp.events.ids import new_command_id
from binance_mcp.events.schema import Received
from binance_mcp.events.store import EventStore

BODY = Received(args={"symbol": "BTCUSDT", "limit": 100}, client="bench", size=32, run="run", session="")


async def journal_rate(path: Path, ids: list[str], batch: int) -> float:
    n = len(ids)
    journal = Journal(EventStore(path), "paper", mailbox_size=batch * 2)

    async def crash(_: object) -> None:
        raise AssertionError("the journal crashed")

    supervisor = Supervisor(crash)
    supervisor.start(journal)
    remaining = iter(ids)

    async def caller() -> None:
        # Each caller waits for its event to be durable before the next, as a tool call does;
        # `batch` callers in flight let the journal commit their events together.
        for command_id in remaining:
            await journal.record(command_id, "get_ticker_price", BODY)

    started = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(batch)))
    elapsed = time.perf_counter() - started
    await supervisor.stop()
    await journal.close()
    return n / elapsed


def raw_rate(path: Path, ids: list[str], batch: int, *, indexed: bool) -> float:
    n = len(ids)
    if indexed:
        EventStore(path).close()  # the event log's own schema, indexes and triggers
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    if not indexed:
        conn.execute(
            "CREATE TABLE events (seq INTEGER PRIMARY KEY, ts INTEGER, command_id TEXT, kind TEXT, tool TEXT, "
            "venue TEXT, body TEXT, hash TEXT)"
        )
    body = bounded_body(BODY)
    now = time.time_ns() // 1000
    rows = [(i + 1, now + i, ids[i], "received", "get_ticker_price", "paper", body, "0" * 64) for i in range(n)]
    started = time.perf_counter()
    for wave in range(0, n, batch):
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows[wave : wave + batch])
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return n / elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}"
    )
    ids = [new_command_id() for _ in range(args.events)]
    with tempfile.TemporaryDirectory() as tmp:
        bare = raw_rate(Path(tmp) / "bare.sqlite3", ids, args.batch, indexed=False)
        raw = raw_rate(Path(tmp) / "raw.sqlite3", ids, args.batch, indexed=True)
        ours = asyncio.run(journal_rate(Path(tmp) / "journal.sqlite3", ids, args.batch))
    print(f"raw executemany, bare table       {bare:8.0f} events/s")
    print(f"raw executemany, event-log schema {raw:8.0f} events/s")
    print(f"journal (actor, hash chain, JSON) {ours:8.0f} events/s")
    print(f"ratio journal / raw, same schema: {ours / raw:.2f}   (aim >= 0.5)")
    print(f"ratio journal / raw, bare table:  {ours / bare:.2f}")


if __name__ == "__main__":
    main()
