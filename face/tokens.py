"""HTTP access tokens: named, scoped, revocable, and stored only as hashes.

`binance-mcp token add NAME [--scope read|trade] [--expires-in 30d]` prints a new token once, on
stdout: `bmcp_` and 43 characters of `secrets.token_urlsafe(32)` (256 bits). The token file
(`MCP_HTTP_TOKENS_FILE`; default `tokens.json` beside the default event log, in the user's state
directory) keeps, per name: the scope, the token's SHA-256 (a token has 256 bits of entropy, so a
fast hash is enough: there is nothing to guess), when it was made, when it expires, when it was
revoked. Written whole to a temporary file and renamed over the old one, mode 0600, so a reader
never sees half a file. `token revoke NAME` marks it; a running server reads the file again when
its modification time changes (a `stat` per request), so a revocation holds from the next request,
no restart.

`Verifier` is the SDK's `TokenVerifier`: the presented token's hash is compared with every
entry's in constant time (`hmac.compare_digest`), all of them, so timing tells nothing of which
name or how many. Scopes: `read` (every read tool, test_order, get_audit_log) and `trade` (also
the order tools). The token text is never stored, logged or journaled: the log names the token.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import logging
import os
import re
import secrets
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import msgspec
from mcp.server.auth.provider import AccessToken

from binance_mcp.actors.config import default_event_log
from binance_mcp.events.audit import iso, parse_duration
from binance_mcp.events.store import LogReader, NoEventLog

log = logging.getLogger("binance_mcp.tokens")
__all__ = ["SCOPES", "TokenEntry", "TokenFile", "Verifier", "add_parser", "last_used", "tokens_file"]

SCOPES = {"read": ("read",), "trade": ("read", "trade")}
PREFIX = "bmcp_"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


class TokenEntry(msgspec.Struct, kw_only=True):
    name: str
    scope: str
    sha256: str
    created_us: int
    expires_us: int | None = None
    revoked_us: int | None = None

    def usable(self, now_us: int) -> bool:
        return self.revoked_us is None and (self.expires_us is None or now_us < self.expires_us)


class _File(msgspec.Struct):
    tokens: list[TokenEntry] = msgspec.field(default_factory=list)


def tokens_file(env: Mapping[str, str]) -> Path:
    """MCP_HTTP_TOKENS_FILE, else `tokens.json` beside the default event log."""
    named = env.get("MCP_HTTP_TOKENS_FILE")
    return Path(named) if named else default_event_log(env).with_name("tokens.json")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


class TokenFile:
    """The token file: read whole, written whole (atomically, mode 0600)."""

    def __init__(self, path: Path):
        self.path = path

    def entries(self) -> list[TokenEntry]:
        """The file's tokens. ValueError for a file that is not a token file (damaged, or another)."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return []
        try:
            return msgspec.json.decode(data, type=_File).tokens
        except msgspec.DecodeError as exc:
            raise ValueError(f"{self.path} is not a token file this server wrote ({exc})") from None

    def _write(self, entries: list[TokenEntry]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".tokens-")
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, msgspec.json.format(msgspec.json.encode(_File(entries))) + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)

    def add(self, name: str, scope: str, expires_in_s: int | None, now_us: int | None = None) -> str:
        """A new token for `name` (ValueError if the name is taken or malformed); its text, once."""
        if not _NAME.fullmatch(name):
            raise ValueError(
                "a token name is 1-64 ASCII letters, digits, '.', '_' or '-', starting with a letter or digit"
            )
        if scope not in SCOPES:
            raise ValueError(f"scope is one of {', '.join(SCOPES)}")
        entries = self.entries()
        if any(e.name == name for e in entries):
            raise ValueError(f"there is a token named {name} already (revoke it, or choose another name)")
        now = now_us if now_us is not None else time.time_ns() // 1000
        token = PREFIX + secrets.token_urlsafe(32)
        expires = now + expires_in_s * 1_000_000 if expires_in_s else None
        entries.append(TokenEntry(name=name, scope=scope, sha256=_digest(token), created_us=now, expires_us=expires))
        self._write(entries)
        return token

    def revoke(self, name: str, now_us: int | None = None) -> bool:
        """Revoke `name`'s token; False if there is none (or it was revoked already)."""
        entries = self.entries()
        for entry in entries:
            if entry.name == name and entry.revoked_us is None:
                entry.revoked_us = now_us if now_us is not None else time.time_ns() // 1000
                self._write(entries)
                return True
        return False


class Verifier:
    """The SDK's TokenVerifier over the token file, read again when it changes."""

    def __init__(self, path: Path, clock_us: Callable[[], int] = lambda: time.time_ns() // 1000):
        self.file = TokenFile(path)
        self.clock_us = clock_us
        self._seen: tuple[int, int] | None = None
        self._entries: list[TokenEntry] = []

    def _current(self) -> list[TokenEntry]:
        try:
            stat = self.file.path.stat()
            seen = (stat.st_mtime_ns, stat.st_size)
        except FileNotFoundError:
            seen = (0, 0)
        if seen != self._seen:
            try:
                self._entries = self.file.entries() if seen != (0, 0) else []
            except FileNotFoundError:
                pass
            except ValueError as exc:  # a damaged token file: no token is good (fail closed), and said
                log.error("%s; every request is refused until it is mended (binance-mcp token add)", exc)
                self._entries = []
            self._seen = seen
        return self._entries

    def known(self, token: str) -> TokenEntry | None:
        """The entry `token` is, usable or not (for saying whose revoked or expired token it was);
        compared with every entry in constant time, all of them."""
        presented = _digest(token)
        found = None
        for entry in self._current():
            if hmac.compare_digest(entry.sha256, presented):
                found = entry
        return found

    def check(self, token: str) -> TokenEntry | None:
        """The usable entry `token` is, or None (`known` says whose it was, for the record)."""
        found = self.known(token)
        return found if found is not None and found.usable(self.clock_us()) else None

    async def verify_token(self, token: str) -> AccessToken | None:
        entry = self.check(token)
        if entry is None:
            return None
        expires = entry.expires_us // 1_000_000 if entry.expires_us else None
        return AccessToken(token=token, client_id=entry.name, scopes=list(SCOPES[entry.scope]), expires_at=expires)


# -- the command line ----------------------------------------------------------------------------
def _path(args: argparse.Namespace) -> Path:
    return Path(args.tokens_file) if args.tokens_file else tokens_file(os.environ)


def _add(args: argparse.Namespace) -> int:
    try:
        expires = parse_duration(args.expires_in) if args.expires_in else None
        token = TokenFile(_path(args)).add(args.name, args.scope, expires)
    except ValueError as exc:
        print(f"binance-mcp token add: {exc}", file=sys.stderr)
        return 2
    print(token)
    print(
        f"token {args.name} ({args.scope}) added to {_path(args)}; this is the only time it is shown. "
        "Send it as: Authorization: Bearer <token>",
        file=sys.stderr,
    )
    return 0


_LAST_USED = """
SELECT s.body ->> '$.principal', max(r.ts) FROM events r
JOIN events s ON s.command_id = r.body ->> '$.session' AND s.kind = 'session'
WHERE r.kind = 'received' AND s.body ->> '$.principal' IS NOT NULL GROUP BY 1
"""


def last_used(log: Path) -> dict[str, int]:
    """When each token last made a call, from the event log (the log is the record of use; the
    token file is written only by these commands)."""
    try:
        reader = LogReader(log)
    except NoEventLog:
        return {}
    try:
        return {str(name): int(ts) for name, ts in reader.query(_LAST_USED)}
    finally:
        reader.close()


def _list(args: argparse.Namespace) -> int:
    now = time.time_ns() // 1000
    try:
        entries = TokenFile(_path(args)).entries()
    except ValueError as exc:
        print(f"binance-mcp token list: {exc}", file=sys.stderr)
        return 2
    if not entries:
        print(f"no tokens in {_path(args)}")
        return 0
    log = Path(args.event_log or os.environ.get("MCP_EVENT_LOG") or default_event_log(os.environ))
    used = last_used(log)
    for e in entries:
        state = "revoked " + iso(e.revoked_us) if e.revoked_us else "expired" if not e.usable(now) else "active"
        expires = iso(e.expires_us) if e.expires_us else "never"
        last = iso(used[e.name]) if e.name in used else "never"
        print(f"{e.name}  scope={e.scope}  created={iso(e.created_us)}  expires={expires}  last used={last}  {state}")
    return 0


def _revoke(args: argparse.Namespace) -> int:
    try:
        revoked = TokenFile(_path(args)).revoke(args.name)
    except ValueError as exc:
        print(f"binance-mcp token revoke: {exc}", file=sys.stderr)
        return 2
    if not revoked:
        print(f"binance-mcp token revoke: no active token named {args.name} in {_path(args)}", file=sys.stderr)
        return 2
    print(f"token {args.name} revoked: refused from the next request on, no restart needed")
    return 0


def add_parser(sub: Any) -> None:
    token = sub.add_parser("token", help="HTTP access tokens: add, list, revoke")
    token.add_argument("--tokens-file", metavar="PATH", help="default: MCP_HTTP_TOKENS_FILE, else beside the log")
    subs = token.add_subparsers(dest="token_command", required=True)
    add = subs.add_parser("add", help="make a token (printed once, on stdout)")
    add.add_argument("name", help="who or what it is for: on record with every call it makes")
    add.add_argument("--scope", choices=tuple(SCOPES), default="read", help="read (default) or trade (orders too)")
    add.add_argument("--expires-in", metavar="DURATION", help="90m, 12h, 30d, 1w (default: never)")
    add.set_defaults(run=_add)
    listing = subs.add_parser(
        "list", help="the tokens: name, scope, created, expires, last used, state (never a token)"
    )
    listing.add_argument("--event-log", metavar="PATH", help="where `last used` is read (default: MCP_EVENT_LOG)")
    listing.set_defaults(run=_list)
    revoke = subs.add_parser("revoke", help="revoke a token; a running server refuses it at once")
    revoke.add_argument("name", help="the token's name")
    revoke.set_defaults(run=_revoke)
