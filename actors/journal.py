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
import time
from typing import Any

import msgspec

from actors.base import Actor, Crash, Reply
from actors.messages import Finish, Record
from events.outcomes import AUDIT_UNAVAILABLE, Executed, Failed, Outcome, kind_of
from events.store import Event, EventStore

__all__ = ["MAX_BODY", "AuditUnavailable", "Journal"]

log = logging.getLogger("binance_mcp.journal")
MAX_BODY = 64 * 1024  # larger results are stored as a digest and a truncated flag
MAX_BATCH = 1024
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
        self.batches = 0
        self.appended = 0

    async def record(self, command_id: str, kind: str, tool: str, body: Any) -> None:
        """Append one event and wait until it is durable; AuditUnavailable if it cannot be."""
        await self.ask(Record(command_id=command_id, kind=kind, tool=tool, body=body))

    def _event(self, message: Any) -> Event:
        now = time.time_ns() // 1000
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
        try:
            events = [self._event(m) for m, _ in pairs]
        except Exception as exc:
            raise Crash(self, pairs, exc) from exc
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self.writer, self.store.append_batch, events)
        except Exception as exc:
            log.error("event log write failed: %s", exc)
            for message, reply in pairs:
                self._answer_unavailable(message, reply, exc)
            return
        self.batches += 1
        self.appended += len(events)
        for message, reply in pairs:
            if reply is not None and not reply.done():
                reply.set_result(message.outcome if isinstance(message, Finish) else None)

    @staticmethod
    def _answer_unavailable(message: Any, reply: Reply, exc: Exception) -> None:
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
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self.writer, self.store.close)
        self.writer.shutdown(wait=True)
