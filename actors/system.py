"""The system: wires journal → limiter → executor → validator under one supervisor.

`await system.ask(envelope) -> Outcome`: the `received` event is made durable first (so probing
and junk are on record too, and nothing reaches the exchange unrecorded); then the envelope
flows validator → limiter → executor as messages, and whichever stage ends it sends the
terminal outcome to the journal, which answers the caller once that outcome is durable.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
import time
from typing import Any

from binance_mcp.actors.base import Crash, Supervisor
from binance_mcp.actors.executor import Executor
from binance_mcp.actors.journal import AuditUnavailable, Journal
from binance_mcp.actors.limiter import Limiter
from binance_mcp.actors.messages import Admitted, Envelope, Finish, Record, Validated, WeightBudget, WeightSeen
from binance_mcp.actors.validator import SymbolDirectory, Validator
from binance_mcp.events.ids import new_command_id
from binance_mcp.events.outcomes import (
    AUDIT_UNAVAILABLE,
    INTERNAL_ERROR,
    RATE_LIMITED,
    Failed,
    Outcome,
    Rejected,
    Throttled,
)
from binance_mcp.events.store import EventStore
from binance_mcp.exchange.client import BinanceClient

__all__ = ["System", "new_envelope"]

log = logging.getLogger("binance_mcp.system")


def new_envelope(tool: str, args: dict[str, Any], raw_size: int, client: str = "") -> Envelope:
    return Envelope(
        command_id=new_command_id(),
        tool=tool,
        args=args,
        raw_size=raw_size,
        received_us=time.time_ns() // 1000,
        client=client,
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
        workers: int = 8,
        max_restarts: int = 5,
        restart_window_s: float = 10.0,
    ):
        self.client = client
        self.venue = venue
        self.log_security = log_security
        self.workers = workers
        self.journal = Journal(store, venue)
        self.directory = SymbolDirectory(lambda: self._exchange_info(), on_weight_limit=self._weight_limit)
        self.limiter = Limiter(None, self.journal, calls_per_minute=calls_per_minute)
        self.executor = Executor(client, self.directory, self.limiter, self.journal)
        self.limiter.next_stage = self.executor  # the two refer to each other: wired after both exist
        self.validator = Validator(self.directory, self.limiter, self.journal, exchange_rules=exchange_rules)
        self.supervisor = Supervisor(self._on_crash, max_restarts=max_restarts, window_s=restart_window_s)
        client.on_weight = self._weight_seen
        self.stopping = False
        self._active = 0
        self._idle = asyncio.Event()

    async def _exchange_info(self) -> Any:
        return (await self.client.request("GET", "/api/v3/exchangeInfo")).data

    def _weight_limit(self, per_minute: int) -> None:
        with contextlib.suppress(asyncio.QueueFull):  # the next hourly refresh states it again
            self.limiter.mailbox.put_nowait((WeightBudget(per_minute=per_minute), None))

    def _weight_seen(self, used: int) -> None:
        with contextlib.suppress(asyncio.QueueFull):  # advisory: the next answer reports it again
            self.limiter.mailbox.put_nowait((WeightSeen(used=used), None))

    async def start(self) -> None:
        """Journal first, MCP last: each stage is running before anything can send to it."""
        self.supervisor.start(self.journal)
        self.supervisor.start(self.limiter)
        self.supervisor.start(self.executor, loops=self.workers)
        self.supervisor.start(self.validator)
        try:
            await self.directory.refresh()
        except Exception as exc:  # the validator retries in the background on first use
            log.warning("could not load exchangeInfo at start: %s", exc)

    async def stop(self, grace_s: float = 10.0) -> None:
        """Refuse new calls, let the calls in flight finish (up to `grace_s`), stop the actors,
        then let the journal write what is left and close the log. A second call does nothing."""
        if self.stopping:
            return
        self.stopping = True
        if self._active:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), grace_s)
        await self.supervisor.stop()
        await self.journal.close()
        await self.client.close()

    async def ask(self, envelope: Envelope) -> Outcome:
        if self.supervisor.fatal.is_set():
            return Failed(kind=INTERNAL_ERROR, message=f"the server is stopping: {self.supervisor.fatal_error}")
        if self.stopping:
            return Failed(kind=INTERNAL_ERROR, message="the server is stopping; the call was not started")
        # Shielded: a caller that goes away (MCP cancellation, the client closing stdin) does not
        # stop a call half way; it runs on to its terminal event, so the log never holds a
        # `received` without an outcome.
        return await asyncio.shield(asyncio.ensure_future(self._tracked(envelope)))

    async def _tracked(self, envelope: Envelope) -> Outcome:
        self._active += 1
        self._idle.clear()
        try:
            return await self._ask(envelope)
        finally:
            self._active -= 1
            if not self._active:
                self._idle.set()

    async def _ask(self, envelope: Envelope) -> Outcome:
        received = {"args": envelope.args, "client": envelope.client, "size": envelope.raw_size}
        try:
            await self.journal.record(envelope.command_id, "received", envelope.tool, received)
        except AuditUnavailable as exc:
            return Failed(kind=AUDIT_UNAVAILABLE, message=str(exc))
        reply: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        await self.validator.tell(envelope, reply)
        outcome = await reply
        if self.log_security:
            await self._security(envelope, outcome)
        return outcome

    async def security_event(self, event: str, command_id: str, tool: str, **details: Any) -> None:
        """SECURITY_EVENT on stderr, and the same record in the event log."""
        body = {"event": event, **details}
        print(f"SECURITY_EVENT: {json.dumps({'command_id': command_id, 'tool': tool, **body})}", file=sys.stderr)
        await self.journal.tell(Record(command_id=command_id, kind="security", tool=tool, body=body))

    async def _security(self, envelope: Envelope, outcome: Outcome) -> None:
        await self.security_event("tool_invocation", envelope.command_id, envelope.tool, client=envelope.client)
        if isinstance(outcome, Rejected):
            await self.security_event(
                "validation_error", envelope.command_id, envelope.tool, error_type=outcome.kind, field=outcome.field
            )
        elif isinstance(outcome, Throttled) or (isinstance(outcome, Failed) and outcome.kind == RATE_LIMITED):
            await self.security_event("rate_limit_exceeded", envelope.command_id, envelope.tool)

    async def _on_crash(self, crash: Crash) -> None:
        failed = Failed(
            kind=INTERNAL_ERROR, message=f"internal error in the {crash.actor.name}; the call was not retried"
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
            assert isinstance(message, Envelope | Validated | Admitted | Finish)
            await self.journal.tell(Finish(envelope=envelope, outcome=failed), reply)
