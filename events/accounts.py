"""Whose account: the identity every order-shaped fact in the log belongs to. Pure, no I/O.

A log may hold several accounts (two keys, a main account and a sub-account, paper beside live).
Each run records the account it acts for in its `started` (`AccountRecord`): the venue, the
exchange it talks to, the account's own id as the exchange states it (Binance's `uid`, read with
GET /api/v3/account at start) and a fingerprint of the API key (never the key). The account's
**id** is what readers group and filter by:

    <venue>:<uid>            the exchange told the account's uid (every run since accounts exist)
    <venue>:key-<fp>         it could not be read at start: the key's fingerprint stands in
    <venue>:no-key           a run with no key (market data only: no account to act for)
    paper:run-<run16>        a run written before accounts, on an embedded paper exchange: each
                             started a fresh exchange, so each such run was an account of its own
    <venue>:<base URL>       a run written before accounts, elsewhere: one account per venue and
                             exchange (which key it used was not recorded)

An order belongs to the account of the run that dispatched it (through its `received`'s run); an
account event and a foreign order's `security` event name their account themselves. `run_account`
and `RUN_ACCOUNT_SQL` are one rule, in Python and in SQL (the `runs` view, events/store.py).
"""

from __future__ import annotations

import hashlib
from typing import Any

import msgspec
from msgspec import UNSET, UnsetType

__all__ = [
    "RUN_ACCOUNT_SQL",
    "AccountRecord",
    "account_id",
    "is_recorded",
    "key_fingerprint",
    "legacy_account",
    "may_be",
    "run_account",
]


class AccountRecord(msgspec.Struct, frozen=True, kw_only=True):
    """The account a run acts for, as its `started` records it (never a credential)."""

    id: str
    venue: str
    exchange: str  # the base URL without credentials; "embedded" for the run's own paper exchange
    uid: str | None  # the account's id as the exchange states it (None: it could not be read)
    key: str | None  # the API key's fingerprint (key_fingerprint); None without a key
    paper_state: str | UnsetType = UNSET  # an embedded paper exchange's state folder


def key_fingerprint(api_key: str) -> str:
    """A short, stable name for an API key: the first 16 hex digits of its SHA-256. Enough to say
    which orders a key placed once it is compromised; nothing of the key can be read back."""
    return hashlib.sha256(api_key.encode()).hexdigest()[:16]


def account_id(venue: str, uid: str | None, fingerprint: str | None) -> str:
    if uid:
        return f"{venue}:{uid}"
    return f"{venue}:key-{fingerprint}" if fingerprint else f"{venue}:no-key"


def is_recorded(account: str) -> bool:
    """Whether `account` is an id a run recorded (else one derived for a run before accounts)."""
    rest = account.partition(":")[2]
    return rest.isdigit() or rest == "no-key" or (rest.startswith("key-") and rest[4:].isalnum())


def may_be(mine: str, other: str) -> bool:
    """Whether facts on record under `other` may be of account `mine`: the same account, or one
    derived for a run before accounts on the same venue and exchange-wide (its key was not
    recorded: taken as this venue's account, as it always was). A run before accounts on an
    embedded paper exchange had an account of its own, gone with it."""
    if other == mine:
        return True
    return (
        not is_recorded(other)
        and not other.startswith("paper:run-")
        and other.partition(":")[0] == mine.partition(":")[0]
    )


def legacy_account(run: str, venue: str, embedded: bool | None, base_url: str | None) -> str:
    """The account of a run written before runs recorded one (as well as it can be told)."""
    if venue == "paper" and embedded:
        return f"paper:run-{run[:16]}"
    return f"{venue}:{base_url or ''}"


def run_account(run: str, venue: str, started: dict[str, Any]) -> str:
    """The account id of a run from its `started` body (as builtins)."""
    account = started.get("account")
    if isinstance(account, dict) and isinstance(account.get("id"), str):
        return str(account["id"])
    paper = started.get("paper")
    embedded = paper.get("embedded") if isinstance(paper, dict) else None
    base = started.get("base_url")
    return legacy_account(run, venue, embedded is True, base if isinstance(base, str) else None)


# The same rule over a `started` row `s` (events/store.py's `runs` view).
RUN_ACCOUNT_SQL = """coalesce(
    s.body ->> '$.account.id',
    CASE WHEN s.venue = 'paper' AND s.body ->> '$.paper.embedded' = 1 THEN 'paper:run-' || substr(s.command_id, 1, 16)
         ELSE s.venue || ':' || coalesce(s.body ->> '$.base_url', '') END)"""
