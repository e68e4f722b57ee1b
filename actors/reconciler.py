"""The reconciler: owns the state changes whose outcome is unknown, and finds out what happened.

A `Pending` comes from the executor (a timeout, a lost answer, a 5XX on an order or a cancel) or
from the start-up fold (dispatched before a restart, never resolved). Each is looked up at the
exchange in a task of its own, with back-off, and the answer is journaled as `reconciled`:
- create_order: the order by its client order id. Found: `placed` with its status, executed and
  quote quantity. Binance says it does not exist: `placed: false`, but only once the request's
  recvWindow has passed since it was sent (before that the exchange could still accept it).
- cancel_order: the order's status (`canceled` when it is CANCELED).
- cancel_open_orders: how many orders are still open on the symbol.
Nothing is ever sent again. An order's fate goes to the validator (`Settle`) so the daily
notional frees what was not placed. A lookup that keeps failing is left for the next start.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import msgspec

from binance_mcp.actors.base import Actor, Reply
from binance_mcp.actors.journal import AlreadyRecorded, AuditUnavailable, Journal
from binance_mcp.actors.limiter import NotSent, send_spent
from binance_mcp.actors.messages import Settle
from binance_mcp.events.commands import Command, GetOpenOrders, GetOrder
from binance_mcp.events.replay import Pending
from binance_mcp.events.schema import Reconciled
from binance_mcp.exchange.client import BinanceClient
from binance_mcp.exchange.errors import ExchangeError, ExchangeRejected

__all__ = ["BACKOFF_S", "Reconciler"]

log = logging.getLogger("binance_mcp.reconciler")
BACKOFF_S = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0, 60.0, 60.0, 60.0)
_GONE = (-2013, -2011)  # "Order does not exist." / "Unknown order sent."


class Reconciler(Actor):
    def __init__(
        self,
        client: BinanceClient,
        journal: Journal,
        validator: Actor,
        *,
        backoff_s: Sequence[float] = BACKOFF_S,
        settle_margin_ms: int = 2000,
        clock_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
        limiter: Actor,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ):
        super().__init__("reconciler")
        self.client = client
        self.journal = journal
        self.validator = validator
        self.backoff_s = tuple(backoff_s)
        self.settle_margin_ms = settle_margin_ms
        self.clock_ms = clock_ms
        self.sleep = sleep
        self.limiter = limiter  # each lookup asks it for its weight first (`Spend`)
        self.tasks: dict[str, asyncio.Task[Reconciled | None]] = {}

    def reset(self) -> None:
        pass  # the lookups run in their own tasks and are not lost with the actor's loop

    async def handle(self, message: Pending, reply: Reply) -> None:
        """Start looking it up; the reply (if asked) says it is taken over."""
        if message.command_id not in self.tasks:
            self.tasks[message.command_id] = asyncio.create_task(self._reconcile(message))
        if reply is not None and not reply.done():
            reply.set_result(None)

    async def _reconcile(self, track: Pending) -> Reconciled | None:
        """The `reconciled` event once journaled, or None if every lookup failed."""
        for delay in (0.0, *self.backoff_s):
            if delay:
                await self.sleep(delay)
            try:
                found = await self._look_up(track)
            except ExchangeError as exc:
                log.warning("reconciling %s: lookup failed (%s); trying again", track.command_id, exc.message)
                continue
            if isinstance(found, NotSent):  # backing off, no weight left, or no answer: nothing was sent
                log.warning("reconciling %s: %s; trying again later", track.command_id, found.message)
                await self.sleep((getattr(found, "retry_after_ms", None) or 0) / 1000)
                continue
            if found is None:
                continue
            try:
                await self.journal.record(track.command_id, track.tool, found)
            except AlreadyRecorded:
                log.info("%s (%s) was reconciled by another run first", track.command_id, track.tool)
                return None
            except AuditUnavailable as exc:
                log.error("reconciling %s: %s; it stays unresolved until the next start", track.command_id, exc)
                return None
            if track.tool == "create_order":
                await self.validator.tell(Settle(command_id=track.command_id, placed=found.placed is True))
            log.info("reconciled %s (%s): %s", track.command_id, track.tool, found)
            return found
        log.error("could not reconcile %s (%s); it will be tried at the next start", track.command_id, track.tool)
        return None

    async def _send(self, lookup: Command) -> Any:
        """One lookup's answer, or why it was not sent (`send_spent`)."""
        sent = await send_spent(self.limiter, self.client, lookup)
        return sent[0].data if isinstance(sent, list) else sent

    async def _look_up(self, track: Pending) -> Reconciled | NotSent | None:
        """What happened, or None when it cannot be told yet."""
        if track.tool == "cancel_open_orders":
            opens = await self._send(GetOpenOrders(symbol=track.symbol))
            return opens if isinstance(opens, NotSent) else Reconciled(open_orders=len(opens))
        lookup = GetOrder(symbol=track.symbol, order_id=track.order_id, client_order_id=track.client_order_id)
        try:
            order = await self._send(lookup)
            if isinstance(order, NotSent):
                return order
        except ExchangeRejected as exc:
            if exc.code not in _GONE:
                raise
            if track.tool != "create_order":
                return Reconciled(status=None, canceled=False, reason="the exchange knows no such order")
            if self.clock_ms() < track.dispatched_ms + self.client.recv_window_ms + self.settle_margin_ms:
                return None  # the exchange could still accept it: look again later
            return Reconciled(
                placed=False,
                client_order_id=track.client_order_id,
                reason="the exchange has no order with this client order id, and its recvWindow has passed",
            )
        names = ("symbol", "orderId", "clientOrderId", "status", "executedQty", "cummulativeQuoteQty")
        try:  # the order as the exchange shows it, in its own names
            facts = msgspec.convert({k: order.get(k) for k in names}, Reconciled)
        except msgspec.ValidationError as exc:
            log.warning("reconciling %s: the exchange's answer is not an order (%s)", track.command_id, exc)
            return None
        if track.tool == "create_order":
            return msgspec.structs.replace(facts, placed=True)
        return msgspec.structs.replace(facts, canceled=order.get("status") == "CANCELED")
