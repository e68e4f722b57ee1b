"""The executor: a pool of workers on one mailbox that send admitted commands to the exchange
and map the answer to an outcome.

A command that changes state (an order, a cancel) is first journaled as `dispatched`: the exact
request minus its signature, with the order's client order id (derived from the command id), its
value and the guard settings in force. Only once that event is durable does the request leave;
if it cannot be made durable, nothing is sent. It is never retried: a timeout, a dropped
connection, a 5XX or -1007 is `Unknown` (`unknown_outcome`), and the reconciler takes it over. A
read that meets the same is `Failed(transport_error)`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from msgspec import UNSET

from binance_mcp.actors.base import Actor, Reply
from binance_mcp.actors.guard import Guard
from binance_mcp.actors.journal import AuditUnavailable, Journal, StaleDecision
from binance_mcp.actors.messages import Admitted, Backoff, Finish, OrderFacts
from binance_mcp.actors.validator import SymbolDirectory
from binance_mcp.events.audit import Filters, account_events_page, command_entry, parse_time
from binance_mcp.events.commands import (
    Command,
    GetAccountEvents,
    GetAuditLog,
    GetAvailableAssets,
    GetSymbolInfo,
    client_order_id,
)
from binance_mcp.events.outcomes import (
    AUDIT_UNAVAILABLE,
    GUARD_LIMIT,
    RATE_LIMITED,
    TRANSPORT_ERROR,
    UNKNOWN_OUTCOME,
    Executed,
    Failed,
    Outcome,
    Rejected,
    Unknown,
    failure_of,
)
from binance_mcp.events.replay import Pending
from binance_mcp.events.schema import Dispatched, Request
from binance_mcp.events.store import LogReader
from binance_mcp.exchange.client import BinanceClient
from binance_mcp.exchange.errors import ExchangeError, ExchangeRejected, RateLimited, TransportError, UnknownOutcome

__all__ = ["MAX_REJUDGED", "Executor"]

MAX_REJUDGED = 20  # an order judged again this many times (others kept dispatching) is refused

_INFO_KEYS = (
    "symbol",
    "status",
    "baseAsset",
    "baseAssetPrecision",
    "quoteAsset",
    "quoteAssetPrecision",
    "orderTypes",
    "icebergAllowed",
    "ocoAllowed",
    "quoteOrderQtyMarketAllowed",
    "isSpotTradingAllowed",
    "filters",
    "permissionSets",
)


class Executor(Actor):
    def __init__(
        self,
        client: BinanceClient,
        directory: SymbolDirectory,
        limiter: Actor,
        journal: Journal,
        *,
        reconciler: Actor | None = None,
        guard: Guard | None = None,
        clock_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
        rejudge: Callable[[Admitted], Awaitable[OrderFacts | Rejected]] | None = None,
    ):
        super().__init__("executor")
        self.rejudge = rejudge  # an order whose decision went stale: the guard again, on the log as it is now
        self.clock_ms = clock_ms
        self.client = client
        self.directory = directory
        self.limiter = limiter
        self.journal = journal
        self.reconciler = reconciler
        self.guard_record = (guard or Guard()).record()
        self.account: str | None = None  # the run's account: the record tools answer about it alone

    async def handle(self, message: Admitted, reply: Reply) -> None:
        if message.command.changes_state:
            outcome = await self.dispatch(message)
        else:
            outcome = await self.execute(message.command)
        await self.journal.tell(Finish(envelope=message.envelope, outcome=outcome), reply)

    async def dispatch(self, message: Admitted) -> Outcome:
        """Journal the exact request durably, then send it once."""
        command, env = message.command, message.envelope
        params = command.binance_params()
        client_id = (
            client_order_id(env.command_id) if command.places_order else getattr(command, "client_order_id", None)
        )
        if command.places_order and client_id is not None:
            params["newClientOrderId"] = client_id
        try:
            prepared = self.client.prepare(command.method, command.endpoint, params, signed=command.signed)
        except TransportError as exc:
            return Failed(kind=TRANSPORT_ERROR, message=exc.message)
        facts = message.facts
        dispatched = Dispatched(
            request=Request(method=prepared.method, path=prepared.path, query=prepared.query),
            symbol=getattr(command, "symbol", None),
            client_order_id=client_id,
            order_id=getattr(command, "order_id", None),
            quote_asset=facts.quote_asset if facts else None,
            base_asset=facts.base_asset if facts else None,
            notional=facts.notional if facts else None,
            ref_price=facts.ref_price if facts else None,
            guard=self.guard_record,
            seen_seq=facts.seen_seq if facts and facts.seen_seq is not None else UNSET,
        )
        for _ in range(MAX_REJUDGED):
            try:
                await self.journal.record(env.command_id, env.tool, dispatched)
                break
            except AuditUnavailable as exc:
                return Failed(kind=AUDIT_UNAVAILABLE, message=f"{exc}; nothing was sent")
            except StaleDecision:  # another run sent an order, or trading was halted: judge it again
                if self.rejudge is None:
                    raise
                judged = await self.rejudge(message)
                if isinstance(judged, Rejected):
                    return judged
                dispatched = msgspec.structs.replace(dispatched, seen_seq=judged.seen_seq)
        else:
            return Rejected(
                kind=GUARD_LIMIT,
                message=f"other servers on this event log sent orders while this one was judged, {MAX_REJUDGED} "
                "times over; nothing was sent: try again",
            )
        try:
            reply = await self.client.send(prepared)
        except UnknownOutcome as exc:
            await self._track(message, client_id)
            return Unknown(
                kind=UNKNOWN_OUTCOME, message=_unknown_message(command, client_id, exc.message), code=exc.code
            )
        except ExchangeError as exc:
            return await self._failed(exc)
        return Executed(data=command.shape(reply.data))

    async def _track(self, message: Admitted, client_id: str | None) -> None:
        if self.reconciler is None:
            return
        command = message.command
        pending = Pending(
            command_id=message.envelope.command_id,
            tool=message.envelope.tool,
            symbol=getattr(command, "symbol", ""),
            client_order_id=client_id,
            order_id=getattr(command, "order_id", None),
            dispatched_ms=self.clock_ms(),
            finished=True,
        )
        await self.reconciler.ask(pending)  # taken over before the caller hears `unknown`

    async def _failed(self, exc: ExchangeError) -> Failed:
        if isinstance(exc, RateLimited):
            await self.limiter.tell(Backoff(seconds=exc.retry_after_s))
            return Failed(kind=RATE_LIMITED, message=exc.message, code=exc.code)
        if isinstance(exc, ExchangeRejected):
            return failure_of(exc.code, exc.message)
        if isinstance(exc, UnknownOutcome):
            return Failed(kind=TRANSPORT_ERROR, message=exc.message, code=exc.code)
        return Failed(kind=TRANSPORT_ERROR, message=exc.message)

    def _local(self, command: Command) -> Any:
        if isinstance(command, GetAvailableAssets):
            return [
                {
                    "symbol": s["symbol"],
                    "baseAsset": s["baseAsset"],
                    "quoteAsset": s["quoteAsset"],
                    "status": s["status"],
                }
                for s in self.directory.symbols.values()
                if command.quote_asset is None or s["quoteAsset"] == command.quote_asset
            ]
        assert isinstance(command, GetSymbolInfo)
        info = self.directory.symbols[command.symbol]
        return {k: info[k] for k in _INFO_KEYS if k in info}

    def _audit_log(self, query: GetAuditLog) -> dict[str, Any]:
        """In a worker thread: this server's record, read-only, as `audit list` shows it."""
        now = time.time_ns() // 1000
        filters = Filters(
            since_us=parse_time(query.since, now) if query.since else None,
            until_us=parse_time(query.until, now) if query.until else None,
            tool=query.of_tool,
            outcome=query.outcome,
            symbol=query.symbol,
            account=self.account,
        )
        reader = LogReader(self.journal.store.path)
        try:
            where, params = filters.where()
            matched = reader.commands_count(where, params)
            entries = [command_entry(row) for row in reader.commands_page(where, params, query.limit, query.offset)]
        finally:
            reader.close()
        more = query.offset + len(entries) < matched
        return {
            "commands": entries,
            "matched": matched,  # how many commands the filters match; `commands` is a page of them
            "next_offset": query.offset + len(entries) if more else None,
        }

    def _account_events(self, query: GetAccountEvents) -> dict[str, Any]:
        """In a worker thread: the account stream's events on record, read-only."""
        since = parse_time(query.since, time.time_ns() // 1000) if query.since else None
        reader = LogReader(self.journal.store.path)
        try:
            return account_events_page(
                reader,
                symbol=query.symbol,
                kind=query.kind,
                since_us=since,
                limit=query.limit,
                offset=query.offset,
                account=self.account,
            )
        finally:
            reader.close()

    async def execute(self, command: Command) -> Outcome:
        if isinstance(command, GetAvailableAssets | GetSymbolInfo):
            return Executed(data=self._local(command))
        if isinstance(command, GetAuditLog | GetAccountEvents):
            try:
                if isinstance(command, GetAuditLog):
                    return Executed(data=await asyncio.to_thread(self._audit_log, command))
                return Executed(data=await asyncio.to_thread(self._account_events, command))
            except Exception as exc:  # the log unreadable (or a bound we missed): an answer, not a crash
                return Failed(kind=AUDIT_UNAVAILABLE, message=f"the event log could not be read ({type(exc).__name__})")
        try:
            reply = await self.client.request(
                command.method, command.endpoint, command.binance_params(), signed=command.signed
            )
        except ExchangeError as exc:
            return await self._failed(exc)
        return Executed(data=command.shape(reply.data))


def _unknown_message(command: Command, client_id: str | None, why: str) -> str:
    symbol = getattr(command, "symbol", "")
    if command.places_order:
        return (
            f"{why}. The order may exist: do NOT send it again. This server is looking it up; to see it yourself, "
            f"call get_order with symbol {symbol} and client_order_id {client_id}."
        )
    return (
        f"{why}. The cancel may have happened: this server is looking the order up; check it with get_order or "
        f"get_open_orders on {symbol} before acting again."
    )
