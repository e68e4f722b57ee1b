"""A paper exchange's state on disk, so that a paper account lasts as a real one does.

One SQLite file, `<folder>/paper.sqlite3` (0600): the exchange's own settings (the market's seed and
the time its market began, so its clock and prices go on where they were), its account (the API key
with its HMAC secret or Ed25519 key, and the account's uid), and every action that changed the
account, in order, with the time it happened: a placement (as the engine took it, its client order
id included), a cancel, a market moved to a price. The exchange is deterministic given those (the
market is a seeded walk from its start; matching is a pure function of the orders and the trades),
so loading the state is replaying the actions at their times: balances, open and past orders,
trades and the order id sequence come back as they were, and the market then runs on to now
(resting orders fill on the way, as they would have while nobody watched).

Each action is committed before the exchange answers the request that made it (WAL,
synchronous=NORMAL: it survives the process being killed; a power cut may lose the last actions,
which nobody was told of unless their answer had left). A secret is kept here, for the paper
account only: this folder is the paper account, as a key file is.
"""

from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["STATE_FILE", "PaperState", "StoredAccount"]

STATE_FILE = "paper.sqlite3"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS account (
    api_key TEXT PRIMARY KEY, secret TEXT NOT NULL, public_key TEXT, private_key TEXT, uid INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS actions (
    seq INTEGER PRIMARY KEY, at_ms INTEGER NOT NULL, kind TEXT NOT NULL, body TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class StoredAccount:
    api_key: str
    secret: str  # HMAC; empty for an Ed25519 account
    public_key: bytes | None  # raw Ed25519 public key
    private_key_pem: bytes | None  # the generated pair's private half (an embedded exchange signs for its hosts)
    uid: int


class PaperState:
    """The state folder of one paper exchange (one process at a time writes it: the holder)."""

    def __init__(self, folder: Path):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / STATE_FILE
        if not path.exists():
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("PRAGMA busy_timeout = 10000")
        self.conn.executescript(_SCHEMA)

    # -- what the exchange is ----------------------------------------------------------------------
    def settings(self) -> dict[str, Any]:
        return {str(k): json.loads(v) for k, v in self.conn.execute("SELECT key, value FROM settings")}

    def settle(self, **settings: Any) -> dict[str, Any]:
        """The settings the state holds, with each of `settings` it lacks added (a new state takes
        them all; an existing one keeps its own)."""
        held = self.settings()
        new = {k: v for k, v in settings.items() if k not in held}
        with self.conn:
            self.conn.executemany(
                "INSERT INTO settings (key, value) VALUES (?, ?)", [(k, json.dumps(v)) for k, v in new.items()]
            )
        return {**held, **new}

    def accounts(self) -> list[StoredAccount]:
        rows = self.conn.execute("SELECT api_key, secret, public_key, private_key, uid FROM account ORDER BY rowid")
        return [
            StoredAccount(
                str(key),
                str(secret),
                bytes.fromhex(public) if public else None,
                str(private).encode() if private else None,
                int(uid),
            )
            for key, secret, public, private, uid in rows
        ]

    def add_account(self, account: StoredAccount) -> None:
        with self.conn:
            self.conn.execute(
                "INSERT INTO account (api_key, secret, public_key, private_key, uid) VALUES (?, ?, ?, ?, ?)",
                (
                    account.api_key,
                    account.secret,
                    account.public_key.hex() if account.public_key else None,
                    account.private_key_pem.decode() if account.private_key_pem else None,
                    account.uid,
                ),
            )

    # -- what happened to it -------------------------------------------------------------------------
    def actions(self) -> list[tuple[str, int, dict[str, Any]]]:
        rows = self.conn.execute("SELECT kind, at_ms, body FROM actions ORDER BY seq")
        return [(str(kind), int(at), json.loads(body)) for kind, at, body in rows]

    def record(self, kind: str, at_ms: int, body: dict[str, Any]) -> None:
        """One action, committed before the request that made it is answered."""
        self.conn.execute(
            "INSERT INTO actions (at_ms, kind, body) VALUES (?, ?, ?)", (at_ms, kind, json.dumps(body, sort_keys=True))
        )

    def close(self) -> None:
        self.conn.close()
