r"""The SQLite event log: schema, hash-chained append, read and verify.

Sans-IO core: the hash chain is pure (events/chain.py). `EventStore` is the thin I/O shell around
one sqlite3 connection; it must be used by one thread at a time (the journal's writer thread, or
the event loop while that thread holds nothing: actors/journal.py).
`LogReader` opens the log read-only, for audit.

- WAL and `synchronous=FULL`: an append returns only after its transaction is durable.
- `append_batch` writes many events in one transaction (group commit). Several processes may
  append to one log (one `serve` per MCP host): the seq key is the concurrency check, and a writer
  whose head is stale re-reads it under the write lock and chains on from it; a writer waits up to
  BUSY_TIMEOUT_MS for another's lock rather than fail.
- `hash_n = SHA-256(DOMAIN ‖ seq ‖ len-prefixed ts, command_id, kind, tool, venue, body ‖ hash_{n-1})`.
- Append-only: triggers refuse UPDATE and DELETE; partial unique indexes allow one `dispatched`,
  one terminal and one `reconciled` event per command, so no code path can dispatch, finish or
  reconcile a command twice.
- A client's text in a column of its own (`tool`: the name a call asked for, known or not) is
  stored as `text_column` writes it: JSON string escaping without the quotes (`a\u0000b` for a
  NUL, `\"` and `\\`, a lone surrogate as `\udXXX`), so the column is valid UTF-8 with no NUL
  (SQLite's JSON functions and C strings end a string at a NUL) and two names never look alike;
  over 200 characters, the first 200 and `…[N characters]`. Every tool this server has is
  stored as it is. Bodies are JSON, which escapes what it must by itself.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import msgspec
import sqlite_utils

from binance_mcp.events.accounts import RUN_ACCOUNT_SQL
from binance_mcp.events.chain import DOMAIN, GENESIS, Event, chain_digest, chain_hash, verify_rows
from binance_mcp.events.facts import Fact, fact, newer, sql_rank
from binance_mcp.events.lifecycle import SETTLED_KINDS, TERMINAL_KINDS, sql_list
from binance_mcp.events.runs import lease_dir
from binance_mcp.events.schema import text_column

__all__ = [
    "DOMAIN",
    "GENESIS",
    "SCHEMA_VERSION",
    "TERMINAL_KINDS",
    "Event",
    "EventStore",
    "LogReader",
    "NoEventLog",
    "chain_digest",
    "chain_hash",
    "fold_rows",
    "of_account",
    "text_column",
    "verify_rows",
]

SCHEMA_VERSION = "2"  # 2: the `orders` view, `run`/`session` in `commands`, one `reconciled`
# (the account stream's kinds added no table, column or index: the views are made anew at each open)
_TERMINAL_SQL = sql_list(TERMINAL_KINDS)
_RANK_CANCEL, _RANK_NEWEST = sql_rank("k.status"), sql_rank("p.newest_status")


def _status_of(x: str) -> str:
    """An order's status in event `x`: an `executed` answer's data, a `reconciled` or `account_event` body."""
    return f"(CASE {x}.kind WHEN 'executed' THEN {x}.body ->> '$.data.status' ELSE {x}.body ->> '$.status' END)"


def _executed_of(x: str) -> str:
    return (
        f"(CASE {x}.kind WHEN 'executed' THEN {x}.body ->> '$.data.executedQty' "
        f"WHEN 'reconciled' THEN {x}.body ->> '$.executedQty' ELSE {x}.body ->> '$.executed_qty' END)"
    )


def _quote_of(x: str) -> str:
    return (
        f"(CASE {x}.kind WHEN 'executed' THEN {x}.body ->> '$.data.cummulativeQuoteQty' "
        f"WHEN 'reconciled' THEN {x}.body ->> '$.cummulativeQuoteQty' ELSE {x}.body ->> '$.quote_qty' END)"
    )


_TABLES = f"""
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
"""


# Each run's account, once per query: an order or a command finds its run's here (a started body
# parsed once per run, not once per command).
_RUN_ACCOUNTS = f"SELECT s.command_id AS run, {RUN_ACCOUNT_SQL} AS account FROM events s WHERE s.kind = 'started'"


def views(temp: str = "") -> str:
    """The views, made anew at each open: in the log by its writer; `temp` ("TEMP") in a reader's
    own connection, which shadow the log's (a log last opened by an older server still reads)."""
    return f"""
DROP VIEW IF EXISTS {"temp." if temp else ""}runs;
CREATE {temp} VIEW runs AS  -- one row per run of a server (or a halt), and the account it acts for
    SELECT s.command_id AS run, s.ts AS started_us, s.venue, {RUN_ACCOUNT_SQL} AS account,
           s.body ->> '$.account.uid' AS uid, s.body ->> '$.account.key' AS key_fingerprint,
           s.body ->> '$.account.exchange' AS exchange, s.body ->> '$.base_url' AS base_url, s.body ->> '$.pid' AS pid
    FROM events s WHERE s.kind = 'started';
DROP VIEW IF EXISTS {"temp." if temp else ""}commands;
CREATE {temp} VIEW commands AS
    WITH ra AS MATERIALIZED ({_RUN_ACCOUNTS})
    SELECT r.command_id, r.tool, r.venue, r.ts AS received_us, t.kind AS outcome, t.ts AS finished_us,
           (t.ts - r.ts) / 1000.0 AS latency_ms, r.body AS request, t.body AS result,
           r.body ->> '$.args.symbol' AS symbol, r.body ->> '$.session' AS session, r.body ->> '$.run' AS run,
           -- in the select list: worked out only for the rows a query reads it of (a count reads none)
           coalesce((SELECT ra.account FROM ra WHERE ra.run = r.body ->> '$.run'), r.venue || ':') AS account
    FROM events r LEFT JOIN events t ON t.command_id = r.command_id AND t.kind IN ({_TERMINAL_SQL})
    WHERE r.kind = 'received';
DROP VIEW IF EXISTS {"temp." if temp else ""}orders;
CREATE {temp} VIEW orders AS
    WITH ra AS MATERIALIZED ({_RUN_ACCOUNTS}),
    cancels AS (  -- orders a cancel_order or cancel_open_orders reported canceled, on its account
        SELECT j.value ->> '$.symbol' AS symbol, j.value ->> '$.orderId' AS order_id,
               j.value ->> '$.status' AS status, x.command_id AS cancel_id,
               coalesce(ra.account, dc.venue || ':') AS account
        FROM events dc  -- cancels are dispatched: far fewer rows to look at than every `executed`
        JOIN events x ON x.command_id = dc.command_id AND x.kind IN ({_TERMINAL_SQL})
        JOIN events q ON q.command_id = dc.command_id AND +q.kind = 'received'
        LEFT JOIN ra ON ra.run = q.body ->> '$.run',
             json_each(CASE json_type(x.body, '$.data') WHEN 'array' THEN x.body -> '$.data'
                       ELSE json_array(x.body -> '$.data') END) j
        WHERE dc.kind = 'dispatched' AND dc.tool IN ('cancel_order', 'cancel_open_orders') AND x.kind = 'executed'
    ),
    placed AS (
        SELECT d.command_id, d.ts AS dispatched_us, d.venue, d.body ->> '$.symbol' AS symbol,
               d.body ->> '$.client_order_id' AS client_order_id,
               -- as the order was sent (the client may have written `buy`): upper() is ASCII-only
               upper(trim(r.body ->> '$.args.side')) AS side, upper(trim(r.body ->> '$.args.type')) AS type,
               r.body ->> '$.args.quantity' AS quantity, r.body ->> '$.args.quote_quantity' AS quote_quantity,
               r.body ->> '$.args.price' AS price, d.body ->> '$.notional' AS notional,
               d.body ->> '$.quote_asset' AS quote_asset, t.kind AS outcome,
               coalesce(c.body ->> '$.status', t.body ->> '$.data.status') AS answered_status,
               coalesce({_executed_of("n")}, c.body ->> '$.executedQty', t.body ->> '$.data.executedQty')
                   AS executed_qty,
               coalesce({_quote_of("n")}, c.body ->> '$.cummulativeQuoteQty', t.body ->> '$.data.cummulativeQuoteQty')
                   AS quote_qty,
               coalesce(c.body ->> '$.orderId', t.body ->> '$.data.orderId',
                        (SELECT a.body ->> '$.order_id' FROM events a
                         WHERE a.command_id = d.command_id AND +a.kind = 'account_event' LIMIT 1)) AS order_id,
               c.body ->> '$.placed' AS reconciled_placed, r.body ->> '$.session' AS session,
               r.body ->> '$.run' AS run, coalesce(ra.account, d.venue || ':') AS account,
               {_status_of("n")} AS newest_status
        FROM events d
        JOIN events r ON r.command_id = d.command_id AND +r.kind = 'received'  -- by command id, not kind
        LEFT JOIN events t ON t.command_id = d.command_id AND t.kind IN ({_TERMINAL_SQL})
        LEFT JOIN events c ON c.command_id = d.command_id AND c.kind = 'reconciled'
        LEFT JOIN ra ON ra.run = r.body ->> '$.run'
        -- the newest fact of the order (events/facts.py): its answer, a lookup, the account stream's
        -- events; by the command id index, a few rows per order (REAL orders quantities, holds none)
        LEFT JOIN events n ON n.seq = (
            SELECT f.seq FROM events f
            WHERE f.command_id = d.command_id AND f.kind IN ('executed', 'reconciled', 'account_event')
                  AND {sql_rank(_status_of("f"))} >= 0
            ORDER BY {sql_rank(_status_of("f"))} DESC, CAST({_executed_of("f")} AS REAL) DESC, f.seq DESC LIMIT 1)
        WHERE d.kind = 'dispatched' AND d.tool = 'create_order'
    )
    SELECT p.command_id, p.dispatched_us, p.venue, p.symbol, p.client_order_id, p.side, p.type, p.quantity,
           p.quote_quantity, p.price, p.notional, p.quote_asset, p.outcome, p.answered_status, p.executed_qty,
           p.quote_qty, p.order_id, p.reconciled_placed, p.session,
           CASE WHEN k.status IS NOT NULL AND {_RANK_CANCEL} >= coalesce({_RANK_NEWEST}, -1) THEN k.status
                ELSE coalesce(p.newest_status, p.answered_status) END AS status,
           k.cancel_id AS canceled_by, p.account, p.run
    FROM placed p LEFT JOIN cancels k ON k.symbol = p.symbol AND k.order_id = p.order_id AND k.account = p.account;
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
BUSY_TIMEOUT_MS = 10_000  # how long an append waits for another process's write lock
_FOLD_ROWS = f"""
SELECT seq, ts, command_id, kind, tool, body FROM events WHERE command_id IN (
    SELECT command_id FROM events WHERE ts >= :since
    UNION
    SELECT * FROM (SELECT command_id FROM events WHERE kind IN ('halted', 'resumed') ORDER BY seq DESC LIMIT 1)
    UNION
    SELECT * FROM (
        SELECT command_id FROM events WHERE kind = 'received'
        EXCEPT
        SELECT command_id FROM events WHERE kind IN ({sql_list(SETTLED_KINDS)})
    )
) ORDER BY seq
"""


def fold_rows(conn: sqlite3.Connection, since_us: int) -> list[tuple[object, ...]]:
    """What the start-up fold needs, in log order: every event of each command that has an event
    since `since_us`, and of each command still open however old (no terminal, or `unknown`
    never reconciled). With `since_us` in the future: the open commands' events alone."""
    return conn.execute(_FOLD_ROWS, {"since": since_us}).fetchall()


# What the guard folds from every run (actors/guard.py Ledger), after the position it last saw.
# An order's account as its run recorded it ('' for a run before accounts), beside the order's
# `dispatched`: the guard counts its own account's orders, and (to be safe) those of no recorded account.
_GUARD_ROWS = """
SELECT seq, ts, command_id, kind, tool, body,
       CASE WHEN kind = 'dispatched' AND tool = 'create_order' THEN coalesce((
           SELECT s.body ->> '$.account.id' FROM events q
           JOIN events s ON s.command_id = q.body ->> '$.run' AND +s.kind = 'started'
           WHERE q.command_id = e.command_id AND +q.kind = 'received'), '') END
FROM events e WHERE seq > ? AND kind IN ('dispatched', 'failed', 'reconciled', 'halted', 'resumed') ORDER BY seq
"""
# Whether an order judged on the log up to :seen must be judged again: another run dispatched an
# order after it, or trading was halted after it.
_CONFLICT = """
SELECT 1 FROM events d WHERE d.seq > :seen AND (
    d.kind = 'halted' OR (d.kind = 'dispatched' AND d.tool = 'create_order' AND NOT EXISTS (
        -- `+r.kind`: look the command up by its id (left alone, SQLite walks every `received`)
        SELECT 1 FROM events r WHERE r.command_id = d.command_id AND +r.kind = 'received' AND r.body ->> '$.run' = :run
    ))
) LIMIT 1
"""


class EventStore:
    """One connection to the log. Not thread-safe: the journal uses it from one thread at a time."""

    def __init__(self, path: str | Path, server_version: str = "0"):
        self.path = Path(path)
        turns = lease_dir(self.path)
        turns.mkdir(parents=True, exist_ok=True)
        self._turn_fd = os.open(turns / "writers.lock", os.O_RDWR | os.O_CREAT, 0o600)
        self.conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        # Other processes may write the same log: wait for their write lock rather than fail.
        self.conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        self.conn.execute("PRAGMA synchronous=FULL")
        # The set-up in this writer's turn: two servers opening a new log at once would otherwise
        # race to switch it to WAL, and SQLite answers the loser "database is locked" at once (the
        # busy timeout does not cover that switch). The schema in one transaction under the write
        # lock too: nobody sees the views half dropped and recreated.
        with self._turn():
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.executescript(f"BEGIN IMMEDIATE;{_TABLES}{views()}COMMIT;")
            db = sqlite_utils.Database(self.conn)
            db["meta"].upsert_all(  # type: ignore[union-attr]
                [
                    {"key": "schema_version", "value": SCHEMA_VERSION},
                    {"key": "server_version", "value": server_version},
                ],
                pk="key",
            )
        self._read_head()

    def _read_head(self) -> None:
        row = self.conn.execute("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
        self.head_seq, self.head_hash = (int(row[0]), str(row[1])) if row else (0, GENESIS)

    @contextlib.contextmanager
    def _turn(self) -> Iterator[None]:
        """This writer's turn among the processes on the log: an exclusive flock on a file beside
        it, held for one transaction. SQLite's own lock would do for safety, but a writer that
        finds it taken sleeps and polls (1, 2, 5, 10 ... 100 ms): with two busy servers that was
        a p99 of 70 ms. A writer waiting on the flock is woken by the kernel the moment it is free."""
        fcntl.flock(self._turn_fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._turn_fd, fcntl.LOCK_UN)

    def append_batch(self, events: Sequence[Event]) -> list[int]:
        with self._turn():
            return self._append_batch(events)

    def _append_batch(self, events: Sequence[Event]) -> list[int]:
        """Append in one durable transaction; returns the seqs. On error nothing is written.

        Other processes may append to the same log. The seq primary key is the concurrency check
        (as eventsourcing's recorders use their table's key): the rows are chained from the head
        this connection knows and inserted in one statement; if another process appended since,
        the first seq is taken and the insert fails whole. Then the head is read from the log
        under SQLite's write lock (BEGIN IMMEDIATE: nobody appends in between) and the rows are
        chained again from it. Alone, an append is the one statement it always was."""
        try:
            return self._append(events)
        except sqlite3.IntegrityError:
            if self._head_is_current():
                raise  # not another's append: a constraint of the schema refused these events
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            self._read_head()
            seqs = self._append(events)
            conn.execute("COMMIT")  # durable on return (WAL, synchronous=FULL)
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            self._read_head()
            raise
        return seqs

    def append_checked(self, events: Sequence[Event], seen: Sequence[int | None], run: str) -> list[int | None]:
        """Append in one durable transaction, under the write lock, each event whose `seen` is an
        int only if no other run than `run` dispatched an order, and nobody halted trading, after
        that position (the guard's decision and its `dispatched` as one optimistic step). Returns
        each event's seq, None for those refused."""
        with self._turn():
            return self._append_checked(events, seen, run)

    def _append_checked(self, events: Sequence[Event], seen: Sequence[int | None], run: str) -> list[int | None]:
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            self._read_head()
            kept = [s is None or conn.execute(_CONFLICT, {"seen": s, "run": run}).fetchone() is None for s in seen]
            appended = iter(self._append([e for e, keep in zip(events, kept, strict=True) if keep]))
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            self._read_head()
            raise
        return [next(appended) if keep else None for keep in kept]

    def _append(self, events: Sequence[Event]) -> list[int]:
        seq, prev = self.head_seq, bytes.fromhex(self.head_hash)
        rows = []
        for event in events:
            seq += 1
            prev = chain_digest(prev, seq, event)
            rows.append((seq, *event, prev.hex()))
        # One statement: all rows or none (alone, its own transaction, durable on return; in the
        # locked retry, part of the BEGIN IMMEDIATE transaction).
        self.conn.execute(_INSERT_BATCH, (_rows_encoder.encode(rows),))
        self.head_seq, self.head_hash = seq, prev.hex()
        return [r[0] for r in rows]

    def _head_is_current(self) -> bool:
        row = self.conn.execute("SELECT max(seq) FROM events").fetchone()
        return int(row[0] or 0) == self.head_seq

    def rows(self) -> list[tuple[object, ...]]:
        return self.conn.execute(
            "SELECT seq, ts, command_id, kind, tool, venue, body, hash FROM events ORDER BY seq"
        ).fetchall()

    def fold_rows(self, since_us: int) -> list[tuple[object, ...]]:
        return fold_rows(self.conn, since_us)

    def verify(self) -> int | None:
        return verify_rows(self.rows())

    def close(self) -> None:
        self.conn.close()
        os.close(self._turn_fd)


class NoEventLog(Exception):
    """There is no event log at the path given."""


_ROW = "SELECT seq, ts, command_id, kind, tool, venue, body, hash FROM events"


def of_account(account: str, alias: str = "events") -> tuple[str, list[object]]:
    """SQL (and its parameters) for "this event is of `account`" (events/accounts.py), in a reader
    (its views): a command's events through its run; an event that names its account (an account
    event, a foreign order); a run's own events, and those that name the run (its sessions, the
    account stream's connections). The halt switch's events are every account's."""
    e = alias
    sql = (
        f"({e}.command_id IN (SELECT command_id FROM commands WHERE account = ?) "
        f"OR {e}.body ->> '$.account' = ? "
        f"OR {e}.command_id IN (SELECT run FROM runs WHERE account = ?) "
        f"OR ({e}.kind IN ('session', 'stream_connected', 'stream_lost') "
        f"AND {e}.body ->> '$.run' IN (SELECT run FROM runs WHERE account = ?)) "
        f"OR {e}.kind IN ('halted', 'resumed'))"
    )
    return sql, [account] * 4


class LogReader:
    """The log opened read-only: never writes, and reads while a server appends (WAL readers see
    the last commit before each statement). What `binance-mcp audit` and `get_audit_log` use."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.is_file():
            raise NoEventLog(f"no event log at {self.path}")
        self.immutable = False  # read as a file nobody writes (its folder cannot be written)
        self.conn = self._open("mode=ro")
        self.conn.execute("PRAGMA query_only = ON")
        self._views = False  # the views are made on first need (`viewed`)

    def _open(self, mode: str) -> sqlite3.Connection:
        """A read-only connection (the log itself is never written), its schema read at once. A
        log in WAL mode needs its `-shm` file: in a folder that cannot be written (a read-only
        copy, a read-only mount) SQLite cannot open it so, and the file is read as immutable
        instead (a `-wal` beside it is then not read: on such a copy there is none to read)."""
        conn = sqlite3.connect(f"file:{self.path}?{mode}", uri=True, check_same_thread=False)
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.OperationalError as exc:
            conn.close()
            if mode == "mode=ro" and "unable to open" in str(exc) and not os.access(self.path.parent, os.W_OK):
                self.immutable = True
                return self._open("mode=ro&immutable=1")
            raise
        except sqlite3.DatabaseError:  # not a log, or a damaged one: the caller says so
            conn.close()
            raise
        return conn

    def viewed(self) -> sqlite3.Connection:
        """The connection with the views as this server reads them, in its own temporary schema:
        they shadow the log's (a log last opened by an older server reads as this one would). Made
        on first need: parsing them costs about a millisecond, which a reader of events alone (the
        record tools, once per call) need not pay."""
        if not self._views:
            self.conn.execute("PRAGMA query_only = OFF")  # the temporary schema only: the file is read-only
            try:
                self.conn.executescript(views("TEMP"))
            finally:
                self.conn.execute("PRAGMA query_only = ON")
            self._views = True
        return self.conn

    def head(self) -> tuple[int, str]:
        row = self.conn.execute("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
        return (int(row[0]), str(row[1])) if row else (0, GENESIS)

    def rows(self, after_seq: int = 0, batch: int = 20_000, limit: int = -1) -> Iterator[tuple[object, ...]]:
        """The events after `after_seq` (at most `limit`), in log order, with bounded memory."""
        cursor = self.conn.execute(f"{_ROW} WHERE seq > ? ORDER BY seq LIMIT ?", (after_seq, limit))
        while chunk := cursor.fetchmany(batch):
            yield from chunk

    def row_at(self, seq: int) -> tuple[object, ...] | None:
        found: tuple[object, ...] | None = self.conn.execute(f"{_ROW} WHERE seq = ?", (seq,)).fetchone()
        return found

    def has_event(self, command_id: str, kind: str) -> bool:
        """Whether the command has an event of `kind` (the account stream: did a run dispatch this
        order; was this foreign order flagged already). By the command id index."""
        row = self.conn.execute("SELECT 1 FROM events WHERE command_id = ? AND kind = ? LIMIT 1", (command_id, kind))
        return row.fetchone() is not None

    def last_body(self, command_id: str, kind: str) -> str | None:
        row = self.conn.execute(
            "SELECT body FROM events WHERE command_id = ? AND kind = ? ORDER BY seq DESC LIMIT 1", (command_id, kind)
        ).fetchone()
        return None if row is None else str(row[0])

    def guard_rows(self, after_seq: int) -> list[tuple[tuple[object, ...], str | None]]:
        """What the guard folds from every run, after the position it last saw: each row (as
        `Logged.of` takes it) with the account its run recorded for the order it dispatched ('' a
        run before accounts; None: not an order)."""
        return [(row[:6], row[6]) for row in self.conn.execute(_GUARD_ROWS, (after_seq,)).fetchall()]

    def accounts_of(self, command_ids: Sequence[str]) -> dict[str, str]:
        """The account of each of these commands (through its run; events/accounts.py). A command
        of no run (schema 1) is not in the answer."""
        found: dict[str, str] = {}
        for start in range(0, len(command_ids), 500):
            chunk = list(command_ids[start : start + 500])
            rows = self.conn.execute(
                f"SELECT q.command_id, {RUN_ACCOUNT_SQL} FROM events q "
                "JOIN events s ON s.command_id = q.body ->> '$.run' AND +s.kind = 'started' "
                f"WHERE q.command_id IN ({', '.join('?' * len(chunk))}) AND +q.kind = 'received'",
                chunk,
            )
            found.update((str(cid), str(account)) for cid, account in rows)
        return found

    def run_accounts(self) -> dict[str, tuple[str, bool]]:
        """Every run on the log: the account it acts for, and whether the run recorded it (False:
        a run before accounts, its account derived: events/accounts.py)."""
        rows = self.conn.execute(
            "SELECT s.command_id, s.body ->> '$.account.id' IS NOT NULL, "
            f"{RUN_ACCOUNT_SQL} FROM events s WHERE s.kind = 'started'"
        )
        return {str(run): (str(account), bool(recorded)) for run, recorded, account in rows}

    def accounts(self) -> list[str]:
        """The accounts the log holds runs of, in the order they first appear."""
        rows = self.viewed().execute("SELECT account FROM runs GROUP BY account ORDER BY min(started_us)")
        return [str(r[0]) for r in rows]

    def open_rows(self) -> list[tuple[object, ...]]:
        """The events of every command still open, in log order (what recovery looks at)."""
        return fold_rows(self.conn, 2**62)

    def command_ids(self, prefix: str, limit: int = 2) -> list[str]:
        rows = self.conn.execute(
            "SELECT DISTINCT command_id FROM events WHERE command_id >= ? AND command_id < ? LIMIT ?",
            (prefix, prefix + "\uffff", limit),
        )
        return [str(r[0]) for r in rows.fetchall()]

    def events_of(self, command_id: str) -> list[tuple[object, ...]]:
        return self.conn.execute(f"{_ROW} WHERE command_id = ? ORDER BY seq", (command_id,)).fetchall()

    def commands_count(self, where: str, params: Sequence[object]) -> int:
        """How many commands match `where` (over the `commands` view)."""
        row = self.viewed().execute(f"SELECT count(*) FROM commands{where}", list(params)).fetchone()
        return int(row[0])

    def commands_page(self, where: str, params: Sequence[object], limit: int, offset: int = 0) -> list[tuple[Any, ...]]:
        """The newest `limit` commands (-1: all) matching `where` (over the `commands` view) after
        skipping `offset` newer ones, oldest first; each row ends with the status the account
        stream told of an order since its answer (None: nothing newer), then the command's account."""
        sql = (
            "SELECT received_us, command_id, tool, request, outcome, latency_ms, result, session, account "
            f"FROM commands{where} ORDER BY received_us DESC LIMIT ? OFFSET ?"
        )
        rows = self.viewed().execute(sql, [*params, limit, offset]).fetchall()
        newest = self._streamed([str(r[1]) for r in rows if r[2] == "create_order" and r[4] == "executed"])
        return [(*row[:8], newest.get(str(row[1])), row[8]) for row in rows[::-1]]

    def _streamed(self, command_ids: list[str]) -> dict[str, str]:
        """Of these orders, the status the account stream last told, where it is newer than the
        placing call's answer (events/facts.py): a resting order that filled since."""
        newest = self.newest_facts(command_ids, ("executed", "account_event"))
        return {cid: f.status for cid, (f, kind) in newest.items() if kind == "account_event"}

    def newest_facts(
        self, command_ids: Sequence[str], kinds: Sequence[str] = ("executed", "reconciled", "account_event")
    ) -> dict[str, tuple[Fact, str]]:
        """The newest fact (events/facts.py) of each of these orders among its own events of
        `kinds`, and the kind of event that told it. By the command id index."""
        best: dict[str, tuple[Fact, str]] = {}
        for start in range(0, len(command_ids), 500):
            chunk = list(command_ids[start : start + 500])
            rows = self.conn.execute(
                f"SELECT command_id, seq, kind, {_status_of('e')}, {_executed_of('e')}, {_quote_of('e')} FROM events e "
                f"WHERE command_id IN ({', '.join('?' * len(chunk))}) AND +kind IN ({', '.join('?' * len(kinds))}) "
                "ORDER BY seq",
                [*chunk, *kinds],
            ).fetchall()
            for command_id, seq, kind, status, executed, quote in rows:
                told = fact(status, executed, quote, int(seq))
                if told is not None and (command_id not in best or newer(best[command_id][0], told)):
                    best[str(command_id)] = (told, str(kind))
        return best

    def query(self, sql: str, params: Sequence[object] | dict[str, object] = ()) -> sqlite3.Cursor:
        """A read-only query, the views at hand (the connection refuses writes)."""
        return self.viewed().execute(sql, params)

    def close(self) -> None:
        self.conn.close()
