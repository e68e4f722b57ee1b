"""The event log's paper account: one per log, kept beside it, shared by every server on the log.

A paper account lasts and is shared as a real one is. Its state (exchange/paper/state.py) lives in
`<log>.paper/` (or the folder `binance-mcp paper --state` names): made by the first server that
needs it, loaded by every later one. One process at a time **holds** the exchange: it holds an
exclusive `flock` on `<folder>/holder.lock`, loads the state, serves the exchange on loopback and
writes where (`<folder>/holder.json`: its URL, its limits, its process id). Every other server on
the log **reaches** it there, signing with the account's own key from the state. Two servers never
run two exchanges that both claim to be the log's paper account: the lock decides.

When the holder goes (its host closed, the process killed), the kernel frees its lock and one of
the others takes it within a fraction of a second: it loads the state (every action the old holder
answered was committed before its answer left) and serves on the same port, so the others' URL
stays good. (If that port is taken, it serves on another and writes it; the others follow the file.)
A request in flight at that moment fails as a lost connection does: a read is an error to retry, an
order an `unknown` outcome that the server looks up once the exchange is back.

The first state of a log draws the account's key pair (HMAC, or Ed25519 with `--paper-ed25519`) and
its uid, and starts its market now. `binance-mcp paper reset` moves the folder aside (nothing is
deleted) and puts a `paper_reset` event on the log; the next server starts a new paper account.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import fcntl
import json
import logging
import os
import secrets
import sqlite3
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from binance_mcp.actors.config import Settings
from binance_mcp.exchange.client import Credentials
from binance_mcp.exchange.paper import (
    LimitConfig,
    PaperExchange,
    announce,
    generate_credentials,
    serve_exchange,
    stop_on_signals,
)
from binance_mcp.exchange.paper.state import STATE_FILE, PaperState, StoredAccount
from binance_mcp.exchange.signing import ed25519_public_bytes

__all__ = ["PaperMismatch", "SharedPaper", "on_paper_account", "reset", "serve_state", "state_folder"]

log = logging.getLogger("binance_mcp.paper")
HOLDER_FILE = "holder.json"
TAKEOVER_CHECK_S = 0.2  # how often a server that reaches the exchange asks whether it can hold it


def state_folder(event_log: Path) -> Path:
    """Where the log's paper account is kept: beside the log."""
    return event_log.with_name(event_log.name + ".paper")


class PaperMismatch(Exception):
    """The state's account is not the kind asked for (HMAC against Ed25519)."""


def _lock(path: Path, *, wait: bool) -> int | None:
    """An exclusive flock on `path` (its fd), or None when another holds it and `wait` is false."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _new_account(ed25519: bool) -> StoredAccount:
    key, secret = generate_credentials()
    uid = 100_000_000 + secrets.randbelow(9_900_000_000)
    if not ed25519:
        return StoredAccount(key, secret, None, None, uid)
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return StoredAccount(key, "", ed25519_public_bytes(private), pem, uid)


def _prepare(
    folder: Path, ed25519: bool, given: StoredAccount | None, seed: int
) -> tuple[int, PaperState, StoredAccount, dict[str, Any], int | None]:
    """Under the folder's set-up lock (returned, held): the state, made on first use (with the
    `given` account, else one drawn); its account and settings; the holder lock, when free."""
    folder.mkdir(parents=True, exist_ok=True)
    setup = _lock(folder / "setup.lock", wait=True)
    assert setup is not None
    try:
        state = PaperState(folder)
        stored = state.accounts()
        if not stored:
            state.add_account(given or _new_account(ed25519))
            stored = state.accounts()
        account = stored[0]
        if given is not None and given.api_key != account.api_key:
            state.close()
            raise PaperMismatch(f"the paper account in {folder} has another API key than the one given")
        if ed25519 != (account.public_key is not None):
            state.close()
            kinds = ("HMAC", "Ed25519") if account.public_key is None else ("Ed25519", "HMAC")
            raise PaperMismatch(
                f"the paper account in {folder} signs with {kinds[0]}, not {kinds[1]}: "
                "`binance-mcp paper reset` to start afresh"
            )
        settings = state.settle(seed=seed, started_at=time.time_ns() // 1_000_000)
        return setup, state, account, settings, _lock(folder / "holder.lock", wait=False)
    except BaseException:
        os.close(setup)
        raise


@dataclass
class _Holding:
    exchange: PaperExchange
    runner: web.AppRunner
    url: str


class SharedPaper:
    """This process's part in a state folder's paper exchange: holding it, or reaching it."""

    def __init__(
        self,
        folder: Path,
        account: StoredAccount,
        limits: LimitConfig,
        settings: dict[str, Any],
        options: dict[str, Any] | None = None,
        host: str = "127.0.0.1",
    ):
        self.folder = folder
        self.options = options or {}  # for the exchange, when this process holds it (faults, …)
        self.host = host
        self.account = account
        self.limits = limits  # what this process serves with, when it holds the exchange
        self.settings = settings
        self.url = ""
        self.served_limits: dict[str, Any] = asdict(limits)  # the holder's, as it wrote them
        self.on_moved: Callable[[str], None] | None = None  # the exchange is now at this URL
        self._fd: int | None = None
        self._holding: _Holding | None = None
        self._state: PaperState | None = None
        self._watch: asyncio.Task[None] | None = None
        self.port = 0

    @classmethod
    async def join(
        cls,
        folder: Path,
        *,
        limits: LimitConfig | None = None,
        ed25519: bool = False,
        port: int = 0,
        host: str = "127.0.0.1",
        account: StoredAccount | None = None,
        seed: int = 0,
        options: dict[str, Any] | None = None,
        hold: bool = False,
    ) -> SharedPaper:
        """Hold the folder's exchange, or reach the process that does (made on first use, with
        `account` if given). `hold`: this process must hold it (`binance-mcp paper --state`);
        PaperMismatch when another does."""
        # One process at a time sets up: a server that finds the exchange held reads holder.json
        # only once the holder wrote it.
        setup, state, stored, settings, fd = await asyncio.to_thread(_prepare, folder, ed25519, account, seed)
        try:
            shared = cls(folder, stored, limits or LimitConfig(), settings, options, host)
            shared.port = port
            shared._fd = fd
            if fd is None and hold:
                state.close()
                raise PaperMismatch(f"another process serves the paper account in {folder}")
            if fd is not None:
                shared._state = state
                await shared._hold()
            else:
                state.close()
                shared._follow_file()
                shared._watch = asyncio.create_task(shared._watching(), name="paper-takeover")
        finally:
            os.close(setup)
        return shared

    @property
    def holding(self) -> bool:
        return self._holding is not None

    @property
    def exchange(self) -> PaperExchange | None:
        """The exchange, when this process holds it."""
        return self._holding.exchange if self._holding is not None else None

    def credentials(self) -> Credentials:
        if self.account.private_key_pem is not None:
            private = serialization.load_pem_private_key(self.account.private_key_pem, password=None)
            assert isinstance(private, Ed25519PrivateKey)
            return Credentials(self.account.api_key, private_key=private)
        return Credentials(self.account.api_key, self.account.secret)

    def _holder_file(self) -> dict[str, Any]:
        return _read_json(self.folder / HOLDER_FILE)

    def _follow_file(self) -> None:
        said = self._holder_file()
        url = said.get("url")
        if isinstance(url, str) and url and url != self.url:
            moved = bool(self.url)
            self.url = url
            if isinstance(said.get("limits"), dict):
                self.served_limits = said["limits"]
            if moved and self.on_moved is not None:
                self.on_moved(url)

    async def _hold(self) -> None:
        """Load the state and serve it: on the port the last holder used, if it is free."""
        assert self._state is not None
        state, account = self._state, self.account
        exchange = PaperExchange(
            seed=int(self.settings["seed"]),
            started_at=int(self.settings["started_at"]),
            limits=self.limits,
            state=state,
            **self.options,
        )
        exchange.add_account(account.api_key, account.secret, public_key=account.public_key, uid=account.uid)
        actions = state.actions()
        for problem in exchange.restore(actions):
            log.warning("paper exchange: its state holds what this version cannot apply again: %s", problem)
        last = self._holder_file().get("url")
        ports = [int(str(last).rpartition(":")[2])] if isinstance(last, str) and last[-1:].isdigit() else []
        runner: web.AppRunner | None = None
        for port in [self.port] if self.port else [*ports, 0]:
            try:
                runner, url = await serve_exchange(exchange, self.host, port)
                break
            except OSError as exc:
                taken = exc
                log.info("paper exchange: port %d is taken (%s); another", port, exc)
        if runner is None:  # the port asked for (`paper --state --port N`) is taken
            raise taken
        self._holding = _Holding(exchange, runner, url)
        self.served_limits = asdict(self.limits)
        self._write_holder_file(url)
        moved = bool(self.url) and url != self.url
        self.url = url
        log.info("paper exchange: this process holds it (%s, %d actions restored)", url, len(actions))
        if moved and self.on_moved is not None:
            self.on_moved(url)

    def _write_holder_file(self, url: str) -> None:
        said = {"url": url, "pid": os.getpid(), "limits": self.served_limits}
        tmp = self.folder / f".{HOLDER_FILE}.{os.getpid()}"
        tmp.write_text(json.dumps(said))
        tmp.replace(self.folder / HOLDER_FILE)  # whole, or not at all: a reader never sees half

    async def _watching(self) -> None:
        """Reaching the exchange: take it over when its holder goes; follow it if it moves."""
        while True:
            await asyncio.sleep(TAKEOVER_CHECK_S)  # a timer: nothing announces another process's death
            fd = _lock(self.folder / "holder.lock", wait=False)
            if fd is None:
                self._follow_file()
                continue
            self._fd = fd
            self._state = PaperState(self.folder)
            try:
                await self._hold()
            except Exception as exc:  # the others may take it: let go
                log.error("paper exchange: could not take it over (%s: %s)", type(exc).__name__, exc)
                self._state.close()
                self._state = None
                os.close(fd)
                self._fd = None
                continue
            log.warning("paper exchange: its holder went; this process holds it now (%s)", self.url)
            return

    async def stop(self) -> None:
        """Stop serving (or reaching), then let the lock go: another server takes it at once."""
        if self._watch is not None:
            self._watch.cancel()
            await asyncio.gather(self._watch, return_exceptions=True)
        if self._holding is not None:
            await self._holding.runner.cleanup()
            self._holding = None
        if self._state is not None:
            self._state.close()
            self._state = None
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None


def reset(folder: Path) -> tuple[str | None, Path] | None:
    """Move the paper account's folder aside (nothing is deleted): (its account's id, where it is
    now); None when there is nothing to reset. PaperMismatch while a process serves it."""
    if not (folder / STATE_FILE).exists():
        return None
    setup = _lock(folder / "setup.lock", wait=True)
    assert setup is not None
    try:
        held = _lock(folder / "holder.lock", wait=False)
        if held is None:
            said = _read_json(folder / HOLDER_FILE)
            raise PaperMismatch(
                f"a server (process {said.get('pid', '?')}) serves the paper account in {folder}: stop the servers "
                "on this log first"
            )
        try:
            state = PaperState(folder)
            stored = state.accounts()
            state.close()
            moved = folder.with_name(f"{folder.name}.reset-{time.strftime('%Y%m%dT%H%M%S')}")
            folder.rename(moved)
        finally:
            os.close(held)
    finally:
        os.close(setup)
    return (f"paper:{stored[0].uid}" if stored else None), moved


def _read_json(path: Path) -> dict[str, Any]:
    try:
        found = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def serve_state(
    folder: Path,
    *,
    host: str,
    port: int,
    api_key: str | None,
    api_secret: str | None,
    public_key: bytes | None,
    seed: int,
    limits: LimitConfig,
    options: dict[str, Any],
) -> int:
    """`binance-mcp paper --state DIR`: serve the paper account kept in `folder` (made on first use,
    with the key given, else one drawn) until SIGINT or SIGTERM; 2 when another process serves it."""

    async def run() -> int:
        stop = stop_on_signals()
        given = None
        if api_key is not None:
            uid = 100_000_000 + secrets.randbelow(9_900_000_000)
            given = StoredAccount(api_key, api_secret or "", public_key, None, uid)
        try:
            shared = await SharedPaper.join(
                folder,
                limits=limits,
                ed25519=public_key is not None,
                port=port,
                host=host,
                account=given,
                seed=seed,
                options=options,
                hold=True,
            )
        except (PaperMismatch, OSError, sqlite3.DatabaseError) as exc:
            print(f"binance-mcp paper: {exc}", file=sys.stderr)
            return 2
        kept = (f"the account kept in {folder}:", shared.account.api_key, shared.account.secret)
        announce(shared.url, kept if api_key is None else None)
        await stop.wait()
        await shared.stop()
        return 0

    return asyncio.run(run())


@contextlib.asynccontextmanager
async def on_paper_account(settings: Settings, log: Path) -> AsyncIterator[tuple[Settings, SharedPaper | None]]:
    """`settings` as they are; or, on the paper venue with no base URL, pointed at `log`'s paper
    account (reached where a server serves it, else served here) for as long as the block runs,
    with this process's part in it (`halt --cancel-open-orders`, `audit crosscheck`)."""
    if settings.venue != "paper" or settings.base_url is not None:
        yield settings, None
        return
    shared = await SharedPaper.join(state_folder(log))
    try:
        yield dataclasses.replace(settings, base_url=shared.url, credentials=shared.credentials()), shared
    finally:
        await shared.stop()
