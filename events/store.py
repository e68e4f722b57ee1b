"""The SQLite event log: schema, hash-chained append, read and verify.

Sans-IO core: `chain_hash` and `Event` are pure. `EventStore` is the thin I/O shell around one
sqlite3 connection; it must be used from one thread only (the journal's writer thread).

- WAL and `synchronous=FULL`: an append returns only after its transaction is durable.
- `append_batch` writes many events in one transaction (group commit).
- `hash_n = SHA-256(DOMAIN ‖ seq ‖ len-prefixed ts, command_id, kind, tool, venue, body ‖ hash_{n-1})`.
- Append-only: triggers refuse UPDATE and DELETE; partial unique indexes allow one `dispatched`,
  one terminal and one `reconciled` event per command, so no code path can dispatch, finish or
  reconcile a command twice.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

import msgspec
import sqlite_utils

from binance_mcp.events.lifecycle import TERMINAL_KINDS

__all__ = [
    "DOMAIN",
    "GENESIS",
    "SCHEMA_VERSION",
    "TERMINAL_KINDS",
    "Event",
    "EventStore",
    "chain_digest",
    "chain_hash",
    "verify_rows",
]

DOMAIN = b"binance-mcp/event-log/v1"
GENESIS = "0" * 64
SCHEMA_VERSION = "1"
_TERMINAL_SQL = ", ".join(f"'{k}'" for k in TERMINAL_KINDS)


class Event(NamedTuple):
    """An event before it has a place in the log (a tuple: cheap to make, binds as a row)."""

    ts: int  # UTC, microseconds
    command_id: str
    kind: str
    tool: str
    venue: str
    body: str  # JSON


def chain_digest(prev: bytes, seq: int, event: Event) -> bytes:
    """The raw SHA-256 link: one buffer, one hash call (the journal's hot path)."""
    parts = [DOMAIN, seq.to_bytes(8, "big")]
    for field in (str(event.ts), event.command_id, event.kind, event.tool, event.venue, event.body):
        data = field.encode()
        parts.append(len(data).to_bytes(4, "big"))
        parts.append(data)
    parts.append(prev)
    return hashlib.sha256(b"".join(parts)).digest()


def chain_hash(prev: str, seq: int, event: Event) -> str:
    return chain_digest(bytes.fromhex(prev), seq, event).hex()


def verify_rows(rows: Iterable[Sequence[object]]) -> int | None:
    """The first `seq` whose hash or order is wrong, or None when the chain holds.
    Rows are (seq, ts, command_id, kind, tool, venue, body, hash) in seq order."""
    prev, expected_seq = GENESIS, 1
    for seq, ts, command_id, kind, tool, venue, body, stored in rows:
        assert isinstance(seq, int)
        event = Event(int(str(ts)), str(command_id), str(kind), str(tool), str(venue), str(body))
        if seq != expected_seq or chain_hash(prev, seq, event) != stored:
            return seq
        prev, expected_seq = str(stored), seq + 1
    return None


_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    ts INTEGER NOT NULL,
    command_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    tool TEXT NOT NULL,
    venue TEXT NOT NULL,
    body TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_command_id ON events(command_id);
CREATE INDEX IF NOT EXISTS events_kind ON events(kind);
CREATE INDEX IF NOT EXISTS events_ts ON events(ts);
CREATE UNIQUE INDEX IF NOT EXISTS events_one_dispatch ON events(command_id) WHERE kind = 'dispatched';
CREATE UNIQUE INDEX IF NOT EXISTS events_one_terminal ON events(command_id) WHERE kind IN ({_TERMINAL_SQL});
CREATE UNIQUE INDEX IF NOT EXISTS events_one_reconciled ON events(command_id) WHERE kind = 'reconciled';
CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
    BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events
    BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE VIEW IF NOT EXISTS commands AS
    SELECT r.command_id, r.tool, r.venue, r.ts AS received_us, t.kind AS outcome, t.ts AS finished_us,
           (t.ts - r.ts) / 1000.0 AS latency_ms, r.body AS request, t.body AS result
    FROM events r LEFT JOIN events t ON t.command_id = r.command_id AND t.kind IN ({_TERMINAL_SQL})
    WHERE r.kind = 'received';
"""


# The whole batch goes to SQLite as one JSON array and is inserted by one statement, which is
# its own transaction: SQLite walks the array and commits in C with the GIL released once.
# `executemany` inside BEGIN/COMMIT takes the GIL back for every row and every statement, and
# each time the writer thread may wait a whole switch interval (5 ms) for a busy event loop
# to let go of it. json_each keeps the array order.
_INSERT_BATCH = (
    "INSERT INTO events (seq, ts, command_id, kind, tool, venue, body, hash) "
    "SELECT value->>0, value->>1, value->>2, value->>3, value->>4, value->>5, value->>6, value->>7 "
    "FROM json_each(?)"
)
_rows_encoder = msgspec.json.Encoder()
_FOLD_ROWS = f"""
SELECT seq, ts, command_id, kind, tool, body FROM events WHERE command_id IN (
    SELECT command_id FROM events WHERE ts >= :since
    UNION
    SELECT * FROM (
        SELECT command_id FROM events WHERE kind = 'received'
        EXCEPT
        SELECT command_id FROM events WHERE kind IN ({_TERMINAL_SQL}, 'reconciled') AND kind != 'unknown'
    )
) ORDER BY seq
"""


class EventStore:
    """One connection to the log. Not thread-safe: the journal gives it a thread of its own."""

    def __init__(self, path: str | Path, server_version: str = "0"):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=FULL")
        self.conn.executescript(_SCHEMA)
        db = sqlite_utils.Database(self.conn)
        db["meta"].upsert_all(  # type: ignore[union-attr]
            [{"key": "schema_version", "value": SCHEMA_VERSION}, {"key": "server_version", "value": server_version}],
            pk="key",
        )
        row = self.conn.execute("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
        self.head_seq, self.head_hash = (int(row[0]), str(row[1])) if row else (0, GENESIS)

    def append_batch(self, events: Sequence[Event]) -> list[int]:
        """Append in one durable transaction; returns the seqs. On error nothing is written."""
        seq, prev = self.head_seq, bytes.fromhex(self.head_hash)
        rows = []
        for event in events:
            seq += 1
            prev = chain_digest(prev, seq, event)
            rows.append((seq, *event, prev.hex()))
        # One statement is one transaction (autocommit): all rows or none, durable on return.
        self.conn.execute(_INSERT_BATCH, (_rows_encoder.encode(rows),))
        self.head_seq, self.head_hash = seq, prev.hex()
        return [r[0] for r in rows]

    def rows(self) -> list[tuple[object, ...]]:
        return self.conn.execute(
            "SELECT seq, ts, command_id, kind, tool, venue, body, hash FROM events ORDER BY seq"
        ).fetchall()

    def fold_rows(self, since_us: int) -> list[tuple[object, ...]]:
        """What the start-up fold needs, in log order: every event of each command that has an event
        since `since_us`, and of each command still open however old (no terminal, or `unknown`
        never reconciled)."""
        return self.conn.execute(_FOLD_ROWS, {"since": since_us}).fetchall()

    def verify(self) -> int | None:
        return verify_rows(self.rows())

    def close(self) -> None:
        self.conn.close()
