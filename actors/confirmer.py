"""The confirmer: the stage between the guard and dispatch when MCP_CONFIRM_ORDERS=true.

It parks each validated state change, journals `confirmation_requested` (with the summary the
person is shown) and answers the caller `NeedsConfirmation`; the face asks the person over MCP
and answers with `Confirm`. Accepted: `confirmed` is journaled and the command goes on to the
limiter with the reply of the Confirm. Declined, cancelled, or not answered within the timeout:
the command ends `rejected` with `declined_by_user`, and nothing is sent. The actors never see
MCP; the confirmer only holds commands and a timer per command.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from binance_mcp.actors.base import Actor, Reply
from binance_mcp.actors.messages import Confirm, Finish, NeedsConfirmation, Record, Validated
from binance_mcp.events.commands import CancelOpenOrders, CancelOrder, OrderSpec
from binance_mcp.events.outcomes import DECLINED_BY_USER, Rejected
from binance_mcp.events.schema import ConfirmationRequested, Confirmed
from binance_mcp.exchange.rules import plain

__all__ = ["Confirmer", "summary"]


def summary(validated: Validated, venue: str) -> str:
    """The command in plain words, as the person is asked to confirm it."""
    command = validated.command
    where = f"on the {venue} venue" + (" (REAL MONEY)" if venue == "live" else "")
    if isinstance(command, OrderSpec):
        facts = validated.facts
        parts: list[str] = [command.side]
        if command.quantity is not None:
            parts.append(plain(command.quantity))
        parts.append(command.symbol)
        parts.append(command.type)
        if command.quote_quantity is not None:
            parts.append(f"for {plain(command.quote_quantity)} {facts.quote_asset if facts else ''}".rstrip())
        if command.price is not None:
            parts.append(f"at {plain(command.price)}")
        if command.stop_price is not None:
            parts.append(f"triggered at {plain(command.stop_price)}")
        text = " ".join(parts)
        if facts is not None and facts.notional is not None:
            approx = " about" if command.type == "MARKET" and command.quote_quantity is None else ""
            text += f", worth{approx} {plain(round(facts.notional, 8))} {facts.quote_asset}"
        return f"Place order: {text}, {where}?"
    if isinstance(command, CancelOrder):
        which = f"order id {command.order_id}" if command.order_id is not None else f"'{command.client_order_id}'"
        return f"Cancel order {which} on {command.symbol}, {where}?"
    assert isinstance(command, CancelOpenOrders)
    return f"Cancel ALL open orders on {command.symbol}, {where}?"


class Confirmer(Actor):
    def __init__(
        self,
        next_stage: Actor,
        journal: Actor,
        venue: str,
        *,
        timeout_s: float = 300.0,
        on_declined: Callable[[Validated], None] | None = None,
    ):
        super().__init__("confirmer")
        self.next_stage = next_stage
        self.journal = journal
        self.venue = venue
        self.timeout_s = timeout_s
        self.on_declined = on_declined  # e.g. free an order's share of the daily notional
        self.parked: dict[str, tuple[Validated, asyncio.TimerHandle]] = {}
        self._expiring: set[asyncio.Task[None]] = set()

    def reset(self) -> None:
        # After a crash the parked commands are kept: each has a caller waiting on the person,
        # and its timer still ends it if no answer comes.
        pass

    async def handle(self, message: Validated | Confirm, reply: Reply) -> None:
        if isinstance(message, Validated):
            await self._park(message, reply)
        else:
            await self._answer(message, reply)

    async def _park(self, validated: Validated, reply: Reply) -> None:
        command_id = validated.envelope.command_id
        text = summary(validated, self.venue)
        loop = asyncio.get_running_loop()
        timer = loop.call_later(self.timeout_s, self._expire, command_id)
        self.parked[command_id] = (validated, timer)
        asked = ConfirmationRequested(summary=text, timeout_s=self.timeout_s)
        await self.journal.tell(Record(command_id=command_id, tool=validated.envelope.tool, event=asked))
        if reply is not None and not reply.done():
            reply.set_result(NeedsConfirmation(command_id=command_id, summary=text))

    def _expire(self, command_id: str) -> None:
        answer = Confirm(command_id=command_id, accepted=False, reason="not confirmed in time")
        task = asyncio.ensure_future(self.tell(answer))
        self._expiring.add(task)
        task.add_done_callback(self._expiring.discard)

    async def _answer(self, answer: Confirm, reply: Reply) -> None:
        entry = self.parked.pop(answer.command_id, None)
        if entry is None:  # answered twice, or expired: the command has its outcome already
            if reply is not None and not reply.done():
                reply.set_result(
                    Rejected(kind=DECLINED_BY_USER, message="this confirmation has already been answered or expired")
                )
            return
        validated, timer = entry
        timer.cancel()
        env = validated.envelope
        if answer.accepted:
            await self.journal.tell(Record(command_id=env.command_id, tool=env.tool, event=Confirmed()))
            await self.next_stage.tell(validated, reply)
            return
        why = answer.reason or "declined"
        declined = Rejected(kind=DECLINED_BY_USER, message=f"the person did not confirm it ({why}); nothing was sent")
        await self.journal.tell(Finish(envelope=env, outcome=declined), reply)
        if self.on_declined is not None:
            self.on_declined(validated)

    async def expire_all(self, reason: str) -> None:
        """At shutdown: every parked command ends declined, so none is left without an outcome."""
        for command_id in list(self.parked):
            await self._answer(Confirm(command_id=command_id, accepted=False, reason=reason), None)
