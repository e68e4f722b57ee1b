"""The journal: the single writer of the event log.

It owns one writer thread (the only thread that touches the SQLite connection) and commits
whatever is pending in its mailbox as one transaction (group commit). A `Record` is acknowledged
only after its commit is durable; a `Finish` answers the caller only after its terminal outcome
is durable. If the log cannot be written, every caller in the batch gets
`Failed(audit_unavailable)` (a `Record` reply gets `AuditUnavailable`), so nothing reaches the
exchange unrecorded, and the journal goes on answering.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import logging
import sqlite3
import time
from typing import Any

import msgspec

from actors.base import Actor, Reply
from actors.messages import Finish, Record
from events.outcomes import AUDIT_UNAVAILABLE, Executed, Failed, Outcome, kind_of
from events.store import Event, EventStore

__all__ = ["MAX_BODY", "AuditUnavailable", "Journal"]

log = logging.getLogger("binance_mcp.journal")
MAX_BODY = 64 * 1024  # larger results are stored as a digest and a truncated flag
MAX_BATCH = 256
PIPELINE = 2  # batches handed to the writer thread and not yet durable
_encoder = msgspec.json.Encoder(order="sorted", decimal_format="string")


class AuditUnavailable(Exception):
    """The event log could not be written."""


def bounded_body(value: Any) -> str:
    """Deterministic JSON of `value`; over MAX_BODY, its digest and size instead."""
    body = _encoder.encode(value)
    if len(body) <= MAX_BODY:
        return body.decode()
    digest = hashlib.sha256(body).hexdigest()
    return _encoder.encode({"truncated": True, "size": len(body), "sha256": digest}).decode()


def outcome_body(outcome: Outcome) -> str:
    if isinstance(outcome, Executed):
        body = _encoder.encode(outcome)
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
    def __init__(self, store: EventStore, venue: str, mailbox_size: int = 4096):
        super().__init__("journal", mailbox_size)
        self.store = store
        self.venue = venue
        self.writer = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="event-log-writer")
        self._slots = asyncio.Semaphore(PIPELINE)
        self._in_flight: set[asyncio.Future[list[Exception | None]]] = set()
        self._held: list[tuple[Any, Reply]] = []
        self.batches = 0
        self.appended = 0

    async def record(self, command_id: str, kind: str, tool: str, body: Any) -> None:
        """Append one event and wait until it is durable; AuditUnavailable if it cannot be."""
        reply: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        await self.tell(Record(command_id=command_id, kind=kind, tool=tool, body=body), reply)
        await reply

    def _event(self, message: Any, now: int) -> Event:
        if isinstance(message, Finish):
            env = message.envelope
            return Event(
                now, env.command_id, kind_of(message.outcome), env.tool, self.venue, outcome_body(message.outcome)
            )
        assert isinstance(message, Record)
        return Event(now, message.command_id, message.kind, message.tool, self.venue, bounded_body(message.body))

    async def step(self) -> None:
        pairs = [await self.mailbox.get()]
        while len(pairs) < MAX_BATCH and not self.mailbox.empty():
            pairs.append(self.mailbox.get_nowait())
        pairs, events = self._encode(pairs)
        if not events:
            return
        # Pipelining: while the writer thread commits one batch, this loop gathers and encodes the
        # next, and the callers of the batch before wake up. The single writer thread keeps the
        # batches in order; the slots bound how much waits for it.
        try:
            await self._slots.acquire()
        except asyncio.CancelledError:
            self._held.extend(pairs)  # stopping: close() writes them
            raise
        self._submit(pairs, events)

    def _encode(self, pairs: list[tuple[Any, Reply]]) -> tuple[list[tuple[Any, Reply]], list[Event]]:
        """The events for `pairs`; a message that cannot be encoded is answered as unwritable
        and left out, so one bad body never costs its batch neighbours their record."""
        now = time.time_ns() // 1000  # one stamp per batch: when it was handed to the writer
        try:
            return pairs, [self._event(m, now) for m, _ in pairs]
        except Exception:
            kept, events = [], []
            for message, reply in pairs:
                try:
                    events.append(self._event(message, now))
                    kept.append((message, reply))
                except Exception as exc:
                    log.error("event not encodable for the log: %s", exc)
                    self.answer_unavailable(message, reply, exc)
            return kept, events

    def _submit(self, pairs: list[tuple[Any, Reply]], events: list[Event]) -> asyncio.Future[list[Exception | None]]:
        write = asyncio.get_running_loop().run_in_executor(self.writer, self._write, events)
        self._in_flight.add(write)
        write.add_done_callback(lambda done: self._written(done, pairs))
        return write

    def _write(self, events: list[Event]) -> list[Exception | None]:
        """In the writer thread: one transaction; if a constraint refuses one event (a second
        terminal outcome for a command), the others are written one by one so only it fails."""
        try:
            self.store.append_batch(events)
            return [None] * len(events)
        except sqlite3.IntegrityError:
            if len(events) == 1:
                raise
        results: list[Exception | None] = []
        for event in events:
            try:
                self.store.append_batch([event])
                results.append(None)
            except Exception as exc:
                results.append(exc)
        return results

    def _written(self, done: asyncio.Future[list[Exception | None]], pairs: list[tuple[Any, Reply]]) -> None:
        self._in_flight.discard(done)
        self._slots.release()
        exc = done.exception() if not done.cancelled() else asyncio.CancelledError()
        results = done.result() if exc is None else [exc] * len(pairs)
        self.batches += 1
        for (message, reply), error in zip(pairs, results, strict=True):
            if error is not None:
                log.error("event log write failed: %s", error)
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
        else:
            reply.set_exception(AuditUnavailable(f"the event log cannot be written ({type(exc).__name__})"))

    async def close(self) -> None:
        """After the actor loop has stopped: write what it held and what is still in the
        mailbox (security events told without waiting, terminals of calls in flight), then close."""
        pending, self._held = self._held, []
        while not self.mailbox.empty():
            pending.append(self.mailbox.get_nowait())
        pending, events = self._encode(pending)
        if events:
            await self._slots.acquire()
            self._submit(pending, events)
        await asyncio.gather(*self._in_flight, return_exceptions=True)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self.writer, self.store.close)
        self.writer.shutdown(wait=True)
