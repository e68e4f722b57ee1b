"""The system: wires journal → limiter → executor → reconciler → confirmer → validator under one
supervisor.

`await system.ask(envelope) -> Outcome | NeedsConfirmation`: the `received` event is made durable
first (so probing and junk are on record too, and nothing reaches the exchange unrecorded); then
the envelope flows validator → (confirmer) → limiter → executor as messages, and whichever stage
ends it sends the terminal outcome to the journal, which answers the caller once that outcome is
durable. With MCP_CONFIRM_ORDERS a state change stops at the confirmer and the caller gets
`NeedsConfirmation`; `await system.confirm(envelope, accepted)` carries the person's answer and
returns the outcome.

Each run is on record: `started` (what the face says of it, the venue, the guard and rate
settings, the process id) and, on a clean stop, `stopped`; each MCP client's `session`; every
`received` names its run and session. SECURITY_EVENT lines on stderr are a view of those events
(no row of their own where the log holds the fact).

At start the event log is folded (events/replay.py) into what must survive a restart: the
ORDERS windows, the daily notional, and what was left open. Several servers may share the log,
so what was left open is recovered only for runs that are dead (their lease is free,
events/runs.py): a command dispatched and never resolved gets `unknown` (if it had no terminal)
and goes to the reconciler; a command left open before dispatch gets `failed` (`interrupted`):
nothing of it was sent. The same recovery runs every `run_check_s` while the server runs, so a
run that dies beside this one has its orders looked up without anybody restarting anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import msgspec
from msgspec import UNSET

from binance_mcp.actors.base import Crash, Later, Supervisor
from binance_mcp.actors.config import Settings
from binance_mcp.actors.confirmer import Confirmer
from binance_mcp.actors.executor import Executor
from binance_mcp.actors.guard import Guard, Ledger
from binance_mcp.actors.journal import AuditUnavailable, Journal
from binance_mcp.actors.keycheck import identify
from binance_mcp.actors.limiter import Limiter, NotSent, send_spent
from binance_mcp.actors.messages import (
    Admitted,
    Confirm,
    Envelope,
    Finish,
    NeedsConfirmation,
    OrderCountSeen,
    OrderFacts,
    OthersOrdered,
    Priced,
    RateBudget,
    Record,
    Settle,
    Validated,
    WeightSeen,
)
from binance_mcp.actors.reconciler import BACKOFF_S, Reconciler
from binance_mcp.actors.stream import AccountStream
from binance_mcp.actors.validator import SymbolDirectory, Validator
from binance_mcp.events.accounts import AccountRecord, may_be
from binance_mcp.events.chain import Verifier
from binance_mcp.events.commands import COMMANDS, ExchangeInfo, GetAvgPrice, GetBalance, GetOpenOrders
from binance_mcp.events.ids import new_command_id
from binance_mcp.events.outcomes import (
    AUDIT_UNAVAILABLE,
    DECLINED_BY_USER,
    INTERNAL_ERROR,
    RATE_LIMITED,
    UNKNOWN_OUTCOME,
    Executed,
    Failed,
    Outcome,
    Rejected,
    Throttled,
    Unknown,
)
from binance_mcp.events.replay import DAY_MS, Fold
from binance_mcp.events.runs import Lease, alive
from binance_mcp.events.schema import (
    AboutRun,
    ClientInfo,
    Halted,
    Logged,
    PaperRun,
    Received,
    Security,
    Session,
    Started,
    Stopped,
    text_column,
)
from binance_mcp.events.store import EventStore, LogReader
from binance_mcp.exchange.client import BinanceClient, Credentials
from binance_mcp.exchange.errors import ExchangeError
from binance_mcp.exchange.rules import ALGO_TYPES

__all__ = ["System", "client_for", "new_envelope", "system_for"]

log = logging.getLogger("binance_mcp.system")


INTERRUPTED = "interrupted"
T = TypeVar("T")


class Stopping(Exception):
    """A stage gave up while the System was starting (the supervisor's fatal error)."""


def new_envelope(
    tool: str,
    args: dict[str, Any],
    raw_size: int,
    client: str = "",
    *,
    session: str = "",
    can_confirm: bool = False,
    scopes: frozenset[str] | None = None,
) -> Envelope:
    return Envelope(
        command_id=new_command_id(),
        tool=tool,
        args=args,
        raw_size=raw_size,
        received_us=time.time_ns() // 1000,
        client=client,
        session=session,
        can_confirm=can_confirm,
        scopes=scopes,
    )


def client_for(
    settings: Settings,
    base_url: str | None = None,
    credentials: Credentials | None = None,
    *,
    clock: Callable[[], int] | None = None,
) -> BinanceClient:
    """The client of a venue as the settings describe it; `base_url` and `credentials` stand in for
    the settings' own when the venue is a paper exchange started here (or a re-run's)."""
    return BinanceClient(
        base_url or settings.base_url or "",
        credentials=credentials or settings.credentials,
        futures_base_url=settings.futures_base_url,
        recv_window_ms=settings.recv_window_ms,
        clock=clock,
    )


def system_for(
    settings: Settings,
    client: BinanceClient,
    *,
    server_version: str,
    log_security: bool | None = None,
    clock_ms: Callable[[], int] | None = None,
    account_stream_url: str | None = None,
) -> System:
    """The one way from Settings to a System (`serve`, and the re-run on its fresh paper exchange):
    its log, venue, families, budget, rules, guard and confirmation as the settings say; the
    account stream where `serve` says (a re-run holds none)."""
    return System(
        client=client,
        store=EventStore(settings.event_log, server_version=server_version),
        venue=settings.venue,
        calls_per_minute=settings.max_requests_per_minute if settings.rate_limit_enabled else None,
        exchange_rules=settings.input_validation,
        log_security=settings.log_security if log_security is None else log_security,
        guard=settings.guard,
        confirm_timeout_s=settings.confirm_timeout_s,
        families=settings.families,
        clock_ms=clock_ms,
        run_check_s=settings.run_check_s,
        account_stream_url=account_stream_url,
    )


class System:
    def __init__(
        self,
        *,
        client: BinanceClient,
        store: EventStore,
        venue: str,
        calls_per_minute: int | None = 60,
        exchange_rules: bool = True,
        log_security: bool = False,
        guard: Guard | None = None,
        confirm_timeout_s: float = 300.0,
        reconcile_backoff_s: tuple[float, ...] = BACKOFF_S,
        reconcile_margin_ms: int = 2000,
        families: frozenset[str] = frozenset({"spot", "wallet", "futures"}),
        workers: int = 8,
        max_restarts: int = 5,
        restart_window_s: float = 10.0,
        clock_ms: Callable[[], int] | None = None,
        run_check_s: float = 30.0,
        executor_cls: type[Executor] = Executor,  # a seam for tests
        account_stream_url: str | None = None,  # hold the account's user data stream there (actors/stream.py)
    ):
        self.client = client
        self.store = store
        self.venue = venue
        self.run_id = new_command_id()
        self.calls_per_minute = calls_per_minute
        self.exchange_rules = exchange_rules
        self.guard = guard or Guard()
        self.log_security = log_security
        self.workers = workers
        self.run_check_s = run_check_s
        self.lease: Lease | None = None  # this run's, held from before the fold until the log is closed
        self._reader: LogReader | None = None  # recovery's own reads (the store's connection is the journal's)
        self._watcher: asyncio.Task[None] | None = None
        self.account: str | None = None  # the account this run acts for (events/accounts.py), from its start
        self._runs: dict[str, tuple[str, bool]] = {}  # every run on the log: its account, and whether recorded
        # Wall-clock ms unless told otherwise: a re-run of the log runs on the log's clock.
        self.clock_ms = clock_ms or (lambda: time.time_ns() // 1_000_000)
        if clock_ms is None:
            self.journal = Journal(store, venue, quiet=self._quiet, run=self.run_id)
        else:  # a re-run's log carries the original's times
            self.journal = Journal(store, venue, clock_us=lambda: clock_ms() * 1000, quiet=self._quiet, run=self.run_id)
        # The guard's state across every run on the log: folded at start, caught up before each
        # order's decision and every second (actors/guard.py).
        self.ledger = Ledger()
        self._guard_reader: LogReader | None = None
        self.directory = SymbolDirectory(lambda: self._exchange_info(), on_rate_limits=self._rate_limits)
        executor_stage = Later("executor")  # built below: it needs the limiter's neighbours
        self.limiter = Limiter(
            executor_stage,
            self.journal,
            calls_per_minute=calls_per_minute,
            clock=lambda: self.clock_ms() / 1000,
            clock_ms=self.clock_ms,
        )
        self.confirmer = Confirmer(
            self.limiter, self.journal, venue, timeout_s=confirm_timeout_s, on_declined=self._declined
        )
        self.validator = Validator(
            self.directory,
            self.limiter,
            self.journal,
            exchange_rules=exchange_rules,
            guard=self.guard,
            ledger=self.ledger,
            catch_up=self.catch_up,
            market_facts=self._market_facts,
            confirmer=self.confirmer,
            families=families,
            clock_ms=self.clock_ms,
        )
        self.reconciler = Reconciler(
            client,
            self.journal,
            self.validator,
            backoff_s=reconcile_backoff_s,
            settle_margin_ms=reconcile_margin_ms,
            clock_ms=self.clock_ms,
            limiter=self.limiter,
        )
        self.executor = executor_cls(
            client,
            self.directory,
            self.limiter,
            self.journal,
            reconciler=self.reconciler,
            guard=self.guard,
            clock_ms=self.clock_ms,
            rejudge=self._rejudge,
        )
        executor_stage.bind(self.executor)  # the pipeline's one cycle: every other stage is given at build
        self.supervisor = Supervisor(self._on_crash, max_restarts=max_restarts, window_s=restart_window_s)
        client.on_weight = self._weight_seen
        client.on_order_count = self._order_count_seen
        self.stopping = False
        self.say_halts = True  # a halt or resume on the log is said on stderr (not by the run that throws it)
        self._chain_check: asyncio.Task[None] | None = None
        self.chain_checked = asyncio.Event()  # set once the chain has been verified after the start
        self.on_call: Callable[[Envelope], None] | None = None  # told of each call it takes (a seam)
        self._weight_queued = False  # a WeightSeen waits in the limiter's mailbox
        self._awaiting: dict[str, Envelope] = {}  # commands waiting for their person's confirmation
        self._active = 0
        self._idle = asyncio.Event()
        self.stream: AccountStream | None = None
        if account_stream_url and client.credentials is not None:
            self.stream = AccountStream(
                url=account_stream_url,
                credentials=client.credentials,
                client=client,
                journal=self.journal,
                limiter=self.limiter,
                log_path=store.path,
                venue=venue,
                run=self.run_id,
                # An order no run placed: its line at once, and its `security` row, durable.
                flag=lambda command_id, details: self.security_event(
                    "foreign_order", command_id, "", durable=True, **details
                ),
                check_s=run_check_s,
            )

    async def _exchange_info(self) -> Any:
        sent = await send_spent(self.limiter, self.client, ExchangeInfo())
        if not isinstance(sent, list):  # the start retries on first use; an hourly refresh keeps the cache
            raise RuntimeError(f"exchangeInfo not read now: {sent.message}")
        return sent[0].data

    def _rate_limits(self, budget: RateBudget) -> None:
        with contextlib.suppress(asyncio.QueueFull):  # the next hourly refresh states it again
            self.limiter.tell_nowait(budget)

    def _weight_seen(self, used: int) -> None:
        """Tell the limiter the exchange's count, one message at a time: while one waits in its
        mailbox, later answers are not queued behind it (each answer reports the minute's count
        so far, so the next one after it is read carries what they would have said)."""
        if self._weight_queued:
            return
        seen: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        try:
            self.limiter.tell_nowait(WeightSeen(used=used), seen)
        except asyncio.QueueFull:  # advisory: the next answer reports it again
            return
        self._weight_queued = True
        seen.add_done_callback(self._weight_read)

    def _weight_read(self, _seen: asyncio.Future[None]) -> None:
        self._weight_queued = False

    def _declined(self, validated: Validated) -> None:
        """A command the person did not confirm, or that expired unanswered: forget it, free its value."""
        command_id = validated.envelope.command_id
        self._awaiting.pop(command_id, None)
        with contextlib.suppress(asyncio.QueueFull):
            self.validator.tell_nowait(Settle(command_id=command_id, placed=False))

    def _order_count_seen(self, ten_seconds: int | None, day: int | None) -> None:
        with contextlib.suppress(asyncio.QueueFull):  # advisory, like the weight
            self.limiter.tell_nowait(OrderCountSeen(ten_seconds=ten_seconds, day=day))

    async def _market_facts(self, symbol: str) -> tuple[Decimal, int, int] | NotSent:
        """What an order's checks need: the symbol's average price and its open orders (weight 2 + 6,
        asked of the limiter first: during a back-off they are not sent and the order is throttled)."""
        sent = await send_spent(self.limiter, self.client, GetAvgPrice(symbol=symbol), GetOpenOrders(symbol=symbol))
        self.catch_up()  # the guard judges next, on the log as it is now
        if not isinstance(sent, list):
            return sent
        avg, opens = sent
        algo = sum(1 for o in opens.data if o.get("type") in ALGO_TYPES)
        return Decimal(str(avg.data["price"])), len(opens.data), algo

    async def start(self, about: AboutRun | None = None) -> None:
        """Journal first, MCP last: each stage is running before anything can send to it. Then the
        exchange's rules and the account this run acts for (`about.account`, else asked of the
        exchange through the limiter); the fold of the log, for that account; the run's `started`
        (with `about`: what the face knows of it, never a credential); then what the log left
        open is closed and reconciled."""
        # The lease first: a server starting beside this one from now on finds this run alive and
        # leaves its commands alone.
        self.lease = Lease(self.store.path, self.run_id)
        try:
            self.journal.open()  # a log that cannot be written stops the run before anything is sent
        except AuditUnavailable:
            await self.journal.close()
            self.lease.release()
            raise
        self.supervisor.start(self.journal)
        self.supervisor.start(self.limiter)
        self.supervisor.start(self.executor, loops=self.workers)
        self.supervisor.start(self.reconciler)
        self.supervisor.start(self.confirmer)
        self.supervisor.start(self.validator)
        try:
            await self._unless_fatal(self.directory.refresh())
        except Exception as exc:  # the validator retries in the background on first use
            log.warning("could not load exchangeInfo at start: %s", exc)
        try:
            said = await self._unless_fatal(self._identified(about or AboutRun()))
        except Stopping:  # a stage gave up already: what the face sees next is the fatal error
            account, _ = await identify(self.client, self.venue)
            said = msgspec.structs.replace(about or AboutRun(), account=account)
        assert isinstance(said.account, AccountRecord)
        self.account = self.ledger.account = self.executor.account = said.account.id
        if self.stream is not None:
            self.stream.account = self.account
        self._reader = LogReader(self.store.path)  # recovery's own reads (the store's connection is the journal's)
        self._guard_reader = LogReader(self.store.path)
        now_ms = self.clock_ms()
        fold = Fold()
        # Whose orders this run's guard counts, and which runs' lost orders it may look up: its own
        # account's (events/accounts.py); a run before accounts recorded none, and counts (to be safe).
        self._runs = await asyncio.to_thread(self._reader.run_accounts)
        # The fold reads the last 24 hours (and what is open, and the last halt): the guard has seen
        # the log up to its head as the store opened it, older events included (folding an event
        # twice changes nothing, so what comes between that head and the fold may come twice).
        self.ledger.seen = self.store.head_seq
        for row in await asyncio.to_thread(self.store.fold_rows, (now_ms - DAY_MS) * 1000):
            logged = Logged.of(row)
            fold.apply(logged)
            command = fold.commands.get(logged.command_id)
            self.ledger.apply(logged, counting=False, account=self._recorded_account(command.run if command else ""))
        if fold.anomalies:
            log.warning(
                "the event log has %d moves the lifecycle does not allow; first: %s",
                len(fold.anomalies),
                fold.anomalies[0],
            )
        self.limiter.order_times.extend(fold.order_times(now_ms, self._runs_of_account()))
        event = Started(
            venue=self.venue,
            pid=os.getpid(),
            guard=self.guard.record(),
            calls_per_minute=self.calls_per_minute,
            exchange_rules=self.exchange_rules,
            recv_window_ms=self.client.recv_window_ms,
            **{name: getattr(said, name) for name in said.__struct_fields__},
        )
        try:
            await self._unless_fatal(self.journal.record(self.run_id, "", event))
        except Stopping:
            return
        except AuditUnavailable:  # no run without its record: fail closed
            await self.supervisor.stop()
            for reader in (self._reader, self._guard_reader):
                reader.close()
            await self.journal.close()
            self.lease.release()
            raise
        self._security_line("configuration_validated", self.run_id, "", venue=self.venue, account=self.account)
        self.catch_up()
        if self.ledger.halt is not None:
            self._halt_line(True)
        await self.recover_dead_runs(fold)
        self._watcher = asyncio.create_task(self._watch_runs())
        self._chain_check = asyncio.create_task(self._check_chain(), name="chain-check")
        if self.stream is not None:
            self.supervisor.start(self.stream)
            self.stream.start()

    async def open_session(
        self, client_name: str, client_version: str, protocol: str, principal: str = "", remote: str = ""
    ) -> str:
        """Journal a new MCP client session (its clientInfo and protocol version; over HTTP, the
        token's name and the remote address); its id."""
        session_id = new_command_id()
        client = ClientInfo(name=client_name, version=client_version)
        event = Session(
            run=self.run_id,
            client=client,
            protocol=protocol,
            principal=principal or UNSET,
            remote=remote or UNSET,
        )
        await self.journal.record(session_id, "", event)
        return session_id

    async def _watch_runs(self) -> None:
        """Every second, what other runs appended (a halt is said on stderr within a second);
        every `run_check_s`, recover what runs that died beside this one left open."""
        tick = min(1.0, self.run_check_s)
        next_check = self.run_check_s
        while True:
            await asyncio.sleep(tick)  # a timer: nothing announces another process's writes or death
            next_check -= tick
            try:
                self.catch_up()
                if next_check <= 0:
                    next_check = self.run_check_s
                    await self.recover_dead_runs()
            except Exception as exc:  # the next round tries again
                log.warning("could not read what other runs did: %s: %s", type(exc).__name__, exc)

    def catch_up(self) -> None:
        """Fold into the guard's ledger what the log holds after the position it last saw (other
        runs' orders and their fates, a halt or a resume); other runs' orders go to the limiter's
        ORDERS windows. On the loop: a read of the log's tail by primary key, no waiting on writers."""
        if self._guard_reader is None:
            return
        halted = self.ledger.halt is not None
        for row, account in self._guard_reader.guard_rows(self.ledger.seen):
            self.ledger.apply(Logged.of(row), account=account)
        others = self.ledger.take_others_ordered()
        if others:
            with contextlib.suppress(asyncio.QueueFull):  # advisory, as the exchange's own counts are
                self.limiter.tell_nowait(OthersOrdered(times_ms=tuple(others)))
        if (self.ledger.halt is not None) != halted:
            self._halt_line(not halted)

    def _halt_line(self, halted: bool) -> None:
        if not self.say_halts:
            return
        halt = self.ledger.halt
        if halted and halt is not None:
            log.warning("trading is halted on this event log: %s (by %s on %s)", halt.reason, halt.user, halt.host)
            self._security_line("trading_halted", self.run_id, "", reason=halt.reason, user=halt.user, host=halt.host)
        else:
            log.warning("trading resumed on this event log")
            self._security_line("trading_resumed", self.run_id, "")

    async def _rejudge(self, admitted: Admitted) -> OrderFacts | Rejected:
        """An order whose `dispatched` the log refused (another run dispatched an order, or halted
        trading, after its decision): the guard again, on the log as it is now."""
        self.catch_up()
        assert admitted.facts is not None
        return self.validator.judge(admitted.command, admitted.facts, admitted.envelope.command_id)

    async def _unless_fatal(self, work: Awaitable[T]) -> T:
        """`work`'s result; `Stopping` if a stage gives up first (the supervisor's fatal error: no
        actor answers from then on, so what waits on one would wait for ever)."""
        task = asyncio.ensure_future(work)
        fatal = asyncio.ensure_future(self.supervisor.fatal.wait())
        try:
            await asyncio.wait((task, fatal), return_when=asyncio.FIRST_COMPLETED)
        finally:
            fatal.cancel()
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            raise Stopping(self.supervisor.fatal_error or "the server is stopping")
        return task.result()

    async def _identified(self, said: AboutRun) -> AboutRun:
        """`said` with the account this run acts for: as the face said it, else asked of the
        exchange (GET /api/v3/account, weight 20, through the limiter); its uid, or (when it cannot
        be read) its key's fingerprint, said on stderr."""
        if isinstance(said.account, AccountRecord):
            return said

        async def read() -> Any:
            sent = await send_spent(self.limiter, self.client, GetBalance())
            if not isinstance(sent, list):
                raise ExchangeError(sent.message)
            return sent[0].data

        embedded = isinstance(said.paper, PaperRun) and said.paper.embedded
        account, problem = await identify(self.client, self.venue, embedded=embedded, read=read)
        if isinstance(said.paper, PaperRun) and isinstance(said.paper.state, str):
            account = msgspec.structs.replace(account, paper_state=said.paper.state)
        if problem is not None:
            log.warning(
                "the account's id could not be read (%s); this run's orders are on record under its key's "
                "fingerprint (%s)",
                problem,
                account.id,
            )
        return msgspec.structs.replace(said, account=account)

    async def _check_chain(self) -> None:
        """The whole hash chain this run extends, verified after the start (in a thread: a large
        log starts in the same time). A broken chain (a row changed, cut or inserted) is a
        `security` event `chain_broken` with its SECURITY_EVENT line, and this run refuses orders
        (reads go on) until a person acknowledges it with `binance-mcp resume`: a `resumed` after a
        `chain_broken` of the same first bad seq (this run's or an earlier one's) is that answer."""
        try:
            # In the thread from end to end, its own connection with it: a connection closed while
            # another thread steps through it crashes the process (it did, at a stop).
            found = await asyncio.to_thread(_verify_chain, self.store.path, lambda: self.stopping)
            if found is None or self.stopping:
                return
            bad_seq, problem, acknowledged = found
            details = {"bad_seq": bad_seq, "problem": problem}
            await self.security_event("chain_broken", self.run_id, "", durable=True, **details)
            log.error("the event log's hash chain is broken: %s", problem)
            if not acknowledged:
                self.ledger.halt = Halted(
                    reason=f"the event log's hash chain is broken ({problem}): `binance-mcp audit verify` "
                    "says where; `binance-mcp resume` to trade on this log all the same",
                    user="binance-mcp",
                    host=socket.gethostname(),
                    pid=os.getpid(),
                )
                self._halt_line(True)
        except Exception as exc:  # a check that cannot run is said, and the run goes on
            log.warning("the event log's chain could not be checked: %s: %s", type(exc).__name__, exc)
        finally:
            self.chain_checked.set()

    def _recorded_account(self, run: str) -> str:
        """The account `run` recorded ('' for a run before accounts, or one not known yet)."""
        account, recorded = self._runs.get(run, ("", False))
        return account if recorded else ""

    def _runs_of_account(self) -> set[str] | None:
        """The runs whose orders count as this account's in the guard: its own account's, and (to
        be safe) those that recorded none. None: every run's (this run names no account)."""
        if self.account is None:
            return None
        return {run for run in self._runs if self._recorded_account(run) in ("", self.account)} | {self.run_id}

    def _may_look_up(self, run: str) -> bool:
        """Whether this run may look up the lost orders of `run` (a dead run): only on the account
        they were sent to (events/accounts.py `may_be`)."""
        if self.account is None or run not in self._runs:  # a command of no run (schema 1)
            return True
        return may_be(self.account, self._runs[run][0])

    async def _open_fold(self) -> Fold:
        assert self._reader is not None
        fold = Fold()
        for row in await asyncio.to_thread(self._reader.open_rows):
            fold.apply(Logged.of(row))
        return fold

    async def recover_dead_runs(self, fold: Fold | None = None) -> int:
        """Close and reconcile what dead runs left open (`fold`: the log as folded at start; else
        read now); how many commands that was. The runs with something open are asked for their
        lease; for those found dead, the open commands are read again (a run may have finished
        them before it ended) and only those are recovered. Two live servers may do this at once:
        the log's one-terminal and one-reconciled indexes make the second a no-op."""
        fold = fold or await self._open_fold()
        dead = {run for run in fold.runs_open() if run != self.run_id and not alive(self.store.path, run)}
        if not dead:
            return 0
        fold = await self._open_fold()  # after the lease said dead: nothing of those runs can change now
        assert self._reader is not None
        self._runs = await asyncio.to_thread(self._reader.run_accounts)
        # What was never sent is closed whoever's it was; a lost order is looked up on its own account.
        interrupted = fold.interrupted(dead)
        unresolved = fold.unresolved({run for run in dead if self._may_look_up(run)})
        if interrupted or unresolved:
            log.warning(
                "%d calls left open by %d runs that ended without stopping: recovering them",
                len(interrupted) + len(unresolved),
                len(dead),
            )
        for command_id, tool in interrupted:
            envelope = Envelope(command_id=command_id, tool=tool, args={}, raw_size=0, received_us=0)
            failed = Failed(kind=INTERRUPTED, message="the server stopped before this call was sent; nothing was sent")
            await self.journal.ask(Finish(envelope=envelope, outcome=failed))
        for pending in unresolved:
            if not pending.finished:
                envelope = Envelope(
                    command_id=pending.command_id, tool=pending.tool, args={}, raw_size=0, received_us=0
                )
                unknown = Unknown(
                    kind=UNKNOWN_OUTCOME,
                    message="the server stopped after sending this and before the answer; it is being looked up",
                )
                await self.journal.ask(Finish(envelope=envelope, outcome=unknown))
            log.info("reconciling %s (%s) left open by a run that ended", pending.command_id, pending.tool)
            await self.reconciler.ask(pending)
        return len(interrupted) + len(unresolved)

    async def stop(self, grace_s: float = 10.0, reason: str = "stopped") -> None:
        """Refuse new calls, let the calls in flight finish (up to `grace_s`), stop the actors,
        then let the journal write what is left and close the log. A second call does nothing."""
        if self.stopping:
            return
        self.stopping = True
        for background in (self._watcher, self._chain_check):
            if background is not None:
                background.cancel()
                await asyncio.gather(background, return_exceptions=True)
        if self.stream is not None:
            await self.stream.stop()
        await self.confirmer.expire_all("the server is stopping")
        if self._active:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), grace_s)
        for task in self.reconciler.tasks.values():
            task.cancel()  # what is not reconciled yet stays open in the log: the next start takes it up
        await asyncio.gather(*self.reconciler.tasks.values(), return_exceptions=True)
        if not self.supervisor.fatal.is_set():
            with contextlib.suppress(AuditUnavailable):
                await self.journal.record(self.run_id, "", Stopped(reason=reason))
        await self.supervisor.stop()
        for reader in (self._reader, self._guard_reader):
            if reader is not None:  # before the writer: the last connection to close checkpoints the WAL
                reader.close()
        await self.journal.close()
        if self.lease is not None:
            self.lease.release()  # last: the log holds everything this run will ever write
        await self.client.close()

    def _refusal(self) -> Failed | None:
        if self.supervisor.fatal.is_set():
            return Failed(kind=INTERNAL_ERROR, message=f"the server is stopping: {self.supervisor.fatal_error}")
        if self.stopping:
            return Failed(kind=INTERNAL_ERROR, message="the server is stopping; the call was not started")
        return None

    async def ask(self, envelope: Envelope) -> Outcome | NeedsConfirmation:
        refused = self._refusal()
        if refused is not None:
            return refused
        if self.on_call is not None:
            self.on_call(envelope)
        # Shielded: a caller that goes away (MCP cancellation, the client closing stdin) does not
        # stop a call half way; it runs on to its terminal event, so the log never holds a
        # `received` without an outcome.
        return await asyncio.shield(asyncio.ensure_future(self._tracked(self._ask(envelope))))

    async def confirm(self, command_id: str, accepted: bool, reason: str = "") -> Outcome:
        """The person's answer to the NeedsConfirmation of `command_id`; the command's outcome."""
        envelope = self._awaiting.pop(command_id, None)
        if envelope is None:
            return Rejected(kind=DECLINED_BY_USER, message="no order or cancel is waiting for this confirmation")
        answer = Confirm(command_id=command_id, accepted=accepted, reason=reason)
        outcome = await asyncio.shield(asyncio.ensure_future(self._tracked(self._pipeline(envelope, answer))))
        assert not isinstance(outcome, NeedsConfirmation)
        return outcome

    def _quiet(self) -> bool:
        """No more than one call in flight: the journal may commit on the loop, as nothing else
        would wait behind the commit (one at a time, measured 60-110 µs less per call at p50 than
        handing the events to the writer thread and coming back)."""
        return self._active <= 1

    async def _tracked(self, work: Awaitable[Outcome | NeedsConfirmation]) -> Outcome | NeedsConfirmation:
        self._active += 1
        self._idle.clear()
        try:
            return await work
        finally:
            self._active -= 1
            if not self._active:
                self._idle.set()

    async def _ask(self, envelope: Envelope) -> Outcome | NeedsConfirmation:
        """`received` first. A command that changes state waits until it is durable before going
        on (and its `dispatched` is durable before the request leaves: actors/executor.py). So does
        a read that arrives while other calls are in flight: calls that arrive together then go on
        together after one shared commit, which keeps commits few and large under load (measured:
        13% more throughput with 16 in flight than without the wait). A read alone hands its
        `received` to the journal and goes on at once: the journal writes it with the outcome, in
        one transaction, and the caller hears nothing before both are durable."""
        received = Received(
            args=envelope.args,
            client=envelope.client,
            size=envelope.raw_size,
            run=self.run_id,
            session=envelope.session,
            scopes=sorted(envelope.scopes) if envelope.scopes is not None else UNSET,
        )
        command = COMMANDS.get(envelope.tool)
        wait = command is None or command.changes_state or self._active > 1
        record = Record(command_id=envelope.command_id, tool=envelope.tool, event=received, with_outcome=not wait)
        if wait:
            try:
                await self.journal.ask(record)
            except AuditUnavailable as exc:
                return Failed(kind=AUDIT_UNAVAILABLE, message=str(exc))
            return await self._pipeline(envelope, envelope)
        noted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        await self.journal.tell(record, noted)
        outcome = await self._pipeline(envelope, envelope)
        try:
            await noted  # done already: it was written with the outcome
        except AuditUnavailable as exc:
            return Failed(kind=AUDIT_UNAVAILABLE, message=str(exc))
        return outcome

    async def _pipeline(self, envelope: Envelope, first: Envelope | Confirm) -> Outcome | NeedsConfirmation:
        """Send `first` into the pipeline (a new envelope to the validator, an answer to the
        confirmer) and wait for what comes back."""
        reply: asyncio.Future[Outcome | NeedsConfirmation] = asyncio.get_running_loop().create_future()
        stage = self.validator if isinstance(first, Envelope) else self.confirmer
        await stage.tell(first, reply)
        outcome = await reply
        if isinstance(outcome, NeedsConfirmation):
            self._awaiting[envelope.command_id] = envelope
            return outcome
        if envelope.tool == "create_order" and not isinstance(outcome, Unknown):
            # Placed or not is known now (the reconciler settles an unknown one).
            await self.validator.tell(Settle(command_id=envelope.command_id, placed=isinstance(outcome, Executed)))
        self._security_lines(envelope, outcome)
        return outcome

    def _security_line(self, event_type: str, command_id: str, tool: str, **details: Any) -> None:
        if self.log_security:
            # A client's text (the tool name it asked for, its clientInfo) as the log's columns hold
            # it: escaped and bounded, so no call can write a huge or forged line to stderr.
            shown = {k: text_column(v) if isinstance(v, str) else v for k, v in details.items()}
            line = {"event_type": event_type, "command_id": command_id, "tool": text_column(tool), **shown}
            print(f"SECURITY_EVENT: {json.dumps(line)}", file=sys.stderr, flush=True)

    async def security_event(
        self, event_type: str, command_id: str, tool: str, *, durable: bool = False, **details: Any
    ) -> None:
        """A security fact the log holds nowhere else: a `security` row, and its line on stderr.
        `durable`: return once the row is committed (a failure to write it is logged)."""
        self._security_line(event_type, command_id, tool, **details)
        record = Record(command_id=command_id, tool=tool, event=Security(event_type=event_type, details=details))
        if not durable:
            await self.journal.tell(record)
            return
        try:
            await self.journal.ask(record)
        except AuditUnavailable as exc:
            log.error("the security event %s could not be put on record: %s", event_type, exc)

    def _security_lines(self, envelope: Envelope, outcome: Outcome) -> None:
        """The lines for a call: a view of its `received` and terminal events, no rows of their own."""
        cid, tool = envelope.command_id, envelope.tool
        self._security_line("tool_invocation", cid, tool, client=envelope.client, session=envelope.session)
        if isinstance(outcome, Rejected):
            self._security_line("validation_error", cid, tool, error_type=outcome.kind, field=outcome.field)
        elif isinstance(outcome, Throttled) or (isinstance(outcome, Failed) and outcome.kind == RATE_LIMITED):
            self._security_line("rate_limit_exceeded", cid, tool)

    async def _on_crash(self, crash: Crash) -> None:
        # The exception's type, never its text: that could carry the input that caused it.
        failed = Failed(
            kind=INTERNAL_ERROR,
            message=f"internal error in the {crash.actor.name} ({type(crash.cause).__name__}); "
            "the call was not retried",
        )
        for message, reply in crash.pairs:
            envelope = message if isinstance(message, Envelope) else getattr(message, "envelope", None)
            if crash.actor is self.journal:  # not recorded: a Record's caller must not go on
                Journal.answer_unavailable(message, reply, crash.cause)
                continue
            if envelope is None:
                if reply is not None and not reply.done():
                    reply.set_result(failed)
                continue
            assert isinstance(message, Envelope | Validated | Admitted | Finish | Priced)
            await self.journal.tell(Finish(envelope=envelope, outcome=failed), reply)


_ACKNOWLEDGED = """
SELECT 1 FROM events r WHERE r.kind = 'resumed' AND r.seq > (
    SELECT max(b.seq) FROM events b WHERE b.kind = 'security' AND b.body ->> '$.event_type' = 'chain_broken'
    AND b.body ->> '$.bad_seq' = ?
) LIMIT 1
"""


def _verify_chain(path: Path, stopping: Callable[[], bool]) -> tuple[int, str, bool] | None:
    """In a thread: the log's chain verified on a connection of its own; None when it holds (or the
    run stopped first), else (the first bad seq, what is wrong, whether a person acknowledged it:
    resumed trading after a run said the chain breaks there)."""
    reader = LogReader(path)
    try:
        verifier = Verifier()

        def rows() -> Iterator[tuple[object, ...]]:  # given up as the run stops
            for n, row in enumerate(reader.rows()):
                if n % 256 == 0:
                    if stopping():
                        return
                    # Let the event loop have the GIL now and then: a thread that never lets go of it
                    # made the calls of the first seconds wait for the interpreter's 5 ms switches.
                    time.sleep(0)
                yield row

        verifier.feed_all(rows())
        if verifier.bad_seq is None or verifier.problem is None:
            return None
        acknowledged = reader.query(_ACKNOWLEDGED, (verifier.bad_seq,)).fetchone() is not None
        return verifier.bad_seq, verifier.problem, acknowledged
    finally:
        reader.close()
