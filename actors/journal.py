"""The journal: the single writer of the event log.

The journal actor takes messages from its mailbox and encodes them into events on the event
loop; a writer thread of its own takes everything that has been handed to it since its last
commit and writes it as one transaction (group commit). So transactions grow to fill the time a
commit takes, encoding on the loop overlaps the commit, and the writer goes from one commit to
the next without waiting for the loop. When the server is quiet (`quiet()`: no more than one call
in flight) and the writer thread holds nothing, a small transaction is written on the loop
instead: nobody would wait behind it, and the hand-over to the thread and back costs more than
the loop loses. One of the two touches the SQLite connection at a time: the loop writes only
while every batch handed to the thread has been answered. Each commit is reported back to the
loop, which answers its callers: a `Record` is acknowledged only once durable; a `Finish` answers
its caller with the outcome only once the outcome is durable. If the log cannot be written, every
caller in the transaction gets `Failed(audit_unavailable)` (a `Record` reply gets
`AuditUnavailable`), and the journal goes on answering.

Events are written in the order they were handed over, so a terminal is never durable before
the `received` handed over ahead of it. A read alone hands its `received` over without waiting
for it (actors/system.py), marked `with_outcome`: the journal stamps it when it takes it and keeps it
until the read's outcome comes, then writes the two in one transaction, `received` first: one
commit per read. (So `ts` is when each event happened, and a read's `received` can follow, in
`seq`, events stamped after it.) If a `received` cannot be encoded or written, the journal
refuses whatever comes for that command afterwards: the log never holds an outcome without its
`received`.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any

import msgspec

from binance_mcp.actors.base import Actor, Crash, Reply
from binance_mcp.actors.messages import Finish, Record
from binance_mcp.events.lifecycle import TERMINAL_KINDS
from binance_mcp.events.outcomes import AUDIT_UNAVAILABLE, Executed, Failed, Outcome, kind_of
from binance_mcp.events.schema import Dispatched, LogEvent, encode, text_column
from binance_mcp.events.store import Event, EventStore

__all__ = ["MAX_BODY", "AlreadyRecorded", "AuditUnavailable", "Journal", "StaleDecision"]

log = logging.getLogger("binance_mcp.journal")
MAX_BODY = 64 * 1024  # larger results are stored as a digest and a truncated flag
MAX_BATCH = 1024  # messages taken from the mailbox at once
MAX_QUEUED = 4096  # events handed to the writer and not yet durable; past it the journal waits
INLINE_MAX = 4  # events a quiet server commits on the loop rather than in the writer thread
WRITE_BATCH = 256  # events per transaction at most: under a burst, one batch's callers wake
# up and come back while the next batch commits
_encoder = msgspec.json.Encoder(order="sorted", decimal_format="string")
_seen_decoder = msgspec.json.Decoder(Dispatched)
Batch = tuple[list[tuple[Any, Reply]], list[Event]]


class AuditUnavailable(Exception):
    """The event log could not be written."""


class AlreadyRecorded(AuditUnavailable):
    """The log already holds this command's event of this kind (its dispatched, terminal or
    reconciled): another run recorded it first (two live runs recovering one dead run)."""


class StaleDecision(Exception):
    """An order's `dispatched` refused: another run dispatched an order, or trading was halted,
    after the log position its guard decision saw. Nothing was written; judge it again."""


class NotReceived(Exception):
    """The command's `received` is not on record, so nothing else of it may be."""


def _already_recorded(exc: BaseException) -> bool:
    """The log's one-dispatched, one-terminal or one-reconciled index refused the event."""
    return isinstance(exc, sqlite3.IntegrityError) and "UNIQUE constraint failed: events.command_id" in str(exc)


def bounded_body(event: LogEvent | Outcome) -> str:
    """The event's body (events/schema.py); over MAX_BODY, its digest and size instead."""
    body = encode(event)
    if len(body) <= MAX_BODY:
        return body.decode()
    digest = hashlib.sha256(body).hexdigest()
    return _encoder.encode({"truncated": True, "size": len(body), "sha256": digest}).decode()


def outcome_body(outcome: Outcome) -> str:
    if isinstance(outcome, Executed):
        body = encode(outcome)
        if len(body) > MAX_BODY:
            return _encoder.encode(
                {
                    "outcome": "executed",
                    "truncated": True,
                    "size": len(body),
                    "sha256": hashlib.sha256(body).hexdigest(),
                }
            ).decode()
        return body.decode()
    return bounded_body(outcome)


class Journal(Actor):
    def __init__(
        self,
        store: EventStore,
        venue: str,
        mailbox_size: int = 4096,
        clock_us: Callable[[], int] = lambda: time.time_ns() // 1000,
        quiet: Callable[[], bool] = lambda: False,
        run: str = "",
    ):
        super().__init__("journal", mailbox_size)
        self.store = store
        self.venue = venue
        self.run = run  # this run's id: its own orders never make its decisions stale
        self.clock_us = clock_us  # the wall clock; a re-run of the log stamps its events with the log's
        self.quiet = quiet  # True when no more than one call is in flight (actors/system.py)
        self._to_writer: queue.SimpleQueue[Batch | None] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._queued = 0  # events handed to the writer and not yet answered
        self._room = asyncio.Event()
        self.batches = 0
        self.appended = 0
        # Commands whose `received` could not be written: added on the loop (not encodable) and
        # in the writer thread (not written); read by the writer thread before each write.
        self._unrecorded: set[str] = set()
        # Reads' `received` events, encoded and stamped, waiting for their outcome (by command id).
        self._held: dict[str, tuple[tuple[Any, Reply], Event]] = {}

    async def record(self, command_id: str, tool: str, event: LogEvent) -> None:
        """Append one event and wait until it is durable; AuditUnavailable if it cannot be."""
        await self.ask(Record(command_id=command_id, tool=tool, event=event))

    async def step(self) -> None:
        while self._queued >= MAX_QUEUED:  # the writer is behind: let the mailbox push back
            self._room.clear()
            await self._room.wait()
        pairs = [await self.mailbox.get()]
        while len(pairs) < MAX_BATCH and not self.mailbox.empty():
            pairs.append(self.mailbox.get_nowait())
        try:
            self._hand_over(pairs)
        except Exception as exc:  # the writer thread could not start, say: answer them all
            raise Crash(self, pairs, exc) from exc

    def _hand_over(self, pairs: list[tuple[Any, Reply]]) -> None:
        self._hand_over_events(*self._encode(pairs))

    def open(self) -> None:
        """Start the writer thread now (the System does, before anything is sent): a thread that
        cannot start stops the run before it begins, with AuditUnavailable. A daemon, so that a
        server stopping on a fatal error can always exit; each transaction is atomic, so an abrupt
        exit loses only what was never acknowledged."""
        if self._writer is not None:
            return
        loop = asyncio.get_running_loop()
        writer = threading.Thread(target=self._writer_loop, args=(loop,), name="event-log-writer", daemon=True)
        try:
            writer.start()
        except RuntimeError as exc:
            raise AuditUnavailable(f"the event log cannot be written ({type(exc).__name__}: {exc})") from exc
        self._writer = writer

    def _hand_over_events(self, pairs: list[tuple[Any, Reply]], events: list[Event]) -> None:
        if not events:
            return
        if self._writer is None:  # started with the first events, even if a quiet server writes them itself:
            self.open()  # a thread that cannot start stops the run at its first record, not under load
        if self._queued == 0 and len(events) <= INLINE_MAX and self.quiet():
            self._write_here(pairs, events)
            return
        self._queued += len(events)
        for i in range(0, len(events), WRITE_BATCH):
            self._to_writer.put((pairs[i : i + WRITE_BATCH], events[i : i + WRITE_BATCH]))

    def _write_here(self, pairs: list[tuple[Any, Reply]], events: list[Event]) -> None:
        """On the loop: one transaction, answered at once. Only while the writer thread holds
        nothing (every batch handed to it has been answered, so it is not in `_write`) and
        `quiet()` says no other call would wait behind the commit."""
        try:
            results: list[BaseException | None] = list(self._write(events))
        except Exception as exc:  # not the store's: answer them all
            results = [exc] * len(events)
        self._queued += len(events)
        self._written(pairs, results)

    def _event(self, message: Any, now: int) -> Event:
        if isinstance(message, Finish):
            env = message.envelope
            tool = text_column(env.tool)
            return Event(now, env.command_id, kind_of(message.outcome), tool, self.venue, outcome_body(message.outcome))
        assert isinstance(message, Record)
        tool = text_column(message.tool)
        return Event(now, message.command_id, message.kind, tool, self.venue, bounded_body(message.event))

    def _encode(self, pairs: list[tuple[Any, Reply]]) -> tuple[list[tuple[Any, Reply]], list[Event]]:
        """The events for `pairs`; a message that cannot be encoded is answered as unwritable
        and left out, so one bad body never costs its batch neighbours their record."""
        now = self.clock_us()  # one stamp per batch: when the journal took it
        held = self._held
        kept, events = [], []
        for message, reply in pairs:
            try:
                event = self._event(message, now)
            except Exception as exc:
                log.error("event not encodable for the log: %s", exc)
                if isinstance(message, Record) and message.kind == "received":
                    self._unrecorded.add(message.command_id)
                self.answer_unavailable(message, reply, exc)
                ahead = held.pop(message.envelope.command_id, None) if isinstance(message, Finish) else None
                if ahead is not None:  # its read's `received` goes alone: on record, with no outcome
                    kept.append(ahead[0])
                    events.append(ahead[1])
                continue
            if isinstance(message, Record) and message.with_outcome:
                held[message.command_id] = ((message, reply), event)
                continue
            if held and isinstance(message, Finish):
                ahead = held.pop(message.envelope.command_id, None)
                if ahead is not None:  # the read's `received`, in the same transaction, first
                    kept.append(ahead[0])
                    events.append(ahead[1])
            kept.append((message, reply))
            events.append(event)
        return kept, events

    @staticmethod
    def _seen_of(event: Event) -> int | None:
        """The log position an order's guard decision saw (its `dispatched` is then appended only if
        that decision still holds); None for every other event."""
        if event.kind != "dispatched" or event.tool != "create_order":
            return None
        try:
            seen = _seen_decoder.decode(event.body).seen_seq
        except msgspec.DecodeError:
            return None
        return seen if isinstance(seen, int) else None

    def _append(self, events: list[Event]) -> list[Exception | None]:
        """One transaction; an order whose decision is stale is left out and answered StaleDecision."""
        seen = [self._seen_of(e) for e in events]
        if all(s is None for s in seen):
            self.store.append_batch(events)
            return [None] * len(events)
        seqs = self.store.append_checked(events, seen, self.run)
        return [None if q is not None else StaleDecision("judged on a stale position") for q in seqs]

    def _write(self, events: list[Event]) -> list[Exception | None]:
        """In the writer thread: one transaction. If a constraint refuses one event (a second
        terminal outcome for a command), or an event belongs to a command whose `received` is not
        on record, the others are written one by one so only it fails. A command whose `received`
        fails here is remembered, so that nothing of it is written later."""
        unrecorded = self._unrecorded
        if not unrecorded or not any(e.command_id in unrecorded for e in events):
            try:
                return self._append(events)
            except sqlite3.IntegrityError:
                pass  # one by one, below
            except Exception as exc:  # nothing of the transaction was written
                # An outcome that failed with its `received` ends the command: nothing comes later.
                lost = {e.command_id for e in events if e.kind == "received"}
                unrecorded.update(lost - {e.command_id for e in events if e.kind in TERMINAL_KINDS})
                return [exc] * len(events)
        results: list[Exception | None] = []
        for event in events:
            if event.command_id in unrecorded:
                results.append(NotReceived(f"{event.kind} of a command whose received is not on record"))
                if event.kind in TERMINAL_KINDS:  # nothing comes for a command after its outcome
                    unrecorded.discard(event.command_id)
                continue
            try:
                results.append(self._append([event])[0])
            except Exception as exc:
                results.append(exc)
                if event.kind == "received":
                    unrecorded.add(event.command_id)
        return results

    def _writer_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        """The writer thread: take what is queued (up to WRITE_BATCH), commit it, report back."""
        stopping = False
        while not stopping:
            first = self._to_writer.get()
            if first is None:
                return
            pairs, events = list(first[0]), list(first[1])
            while len(events) < WRITE_BATCH:
                try:
                    more = self._to_writer.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stopping = True
                    break
                pairs += more[0]
                events += more[1]
            results: list[BaseException | None]
            try:
                results = list(self._write(events))
            except Exception as exc:  # not the store's: answer them all
                results = [exc] * len(events)
            try:
                loop.call_soon_threadsafe(self._written, pairs, results)
            except RuntimeError:  # the loop is closed: nobody is left to answer
                return

    def _written(self, pairs: list[tuple[Any, Reply]], results: list[BaseException | None]) -> None:
        """On the loop: answer the callers of one transaction."""
        self._queued -= len(pairs)
        self._room.set()
        self.batches += 1
        failed = [e for e in results if e is not None and not isinstance(e, StaleDecision)]
        doubles = [e for e in failed if _already_recorded(e)]
        if doubles:  # two live runs recovering one dead run's call: the second finds it done
            log.warning("%d events already on record (another run recorded them first): %s", len(doubles), doubles[0])
        failed = [e for e in failed if not _already_recorded(e)]
        if failed:
            log.error("event log write failed for %d of %d events: %s", len(failed), len(results), failed[0])
        for (message, reply), error in zip(pairs, results, strict=True):
            if isinstance(error, StaleDecision):
                if reply is not None and not reply.done():
                    reply.set_exception(error)
                continue
            if error is not None:
                self.answer_unavailable(message, reply, error)
                continue
            self.appended += 1
            if reply is not None and not reply.done():
                reply.set_result(message.outcome if isinstance(message, Finish) else None)

    @staticmethod
    def answer_unavailable(message: Any, reply: Reply, exc: BaseException) -> None:
        if reply is None or reply.done():
            return
        if isinstance(message, Finish):
            reply.set_result(
                Failed(
                    kind=AUDIT_UNAVAILABLE, message=f"the event log could not record the outcome ({type(exc).__name__})"
                )
            )
        elif _already_recorded(exc):
            reply.set_exception(AlreadyRecorded("the log already holds this command's event of this kind"))
        else:
            reply.set_exception(AuditUnavailable(f"the event log cannot be written ({type(exc).__name__})"))

    async def close(self) -> None:
        """After the actor loop has stopped: write what is still in the mailbox (security events
        told without waiting, terminals of calls in flight), wait until all of it is answered,
        then stop the writer and close the log."""
        left = []
        while not self.mailbox.empty():
            left.append(self.mailbox.get_nowait())
        self._hand_over(left)
        # Reads whose outcome never came (still running when the stop's grace ran out): their
        # `received` alone, which the next start closes as interrupted.
        orphans, self._held = list(self._held.values()), {}
        if orphans:
            self._hand_over_events([pair for pair, _ in orphans], [event for _, event in orphans])
        while self._queued:
            self._room.clear()
            await self._room.wait()
        if self._writer is not None:
            self._to_writer.put(None)
            await asyncio.to_thread(self._writer.join)
        self.store.close()
