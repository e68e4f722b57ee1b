"""The ordering rules of the log: an order's `received` and `dispatched` are durable before its
request leaves; a read's `received` is handed over without waiting, and the log never holds an
outcome whose `received` is not there."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from binance_mcp.actors.journal import Journal, NotReceived
from binance_mcp.actors.system import System, new_envelope
from binance_mcp.events.chain import Event
from binance_mcp.events.outcomes import Executed, Failed
from binance_mcp.events.store import EventStore
from binance_mcp.exchange.paper import Fault, FaultMode, PaperExchange

from ..logs import events_of, read_log
from .conftest import Harness, build, exchange_server, new_exchange, system_on

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def kinds_of(log: Path, command_id: str) -> list[str]:
    return [r.kind for r in events_of(log, command_id)]  # another connection: what is durable, not queued


@asynccontextmanager
async def watched(exchange: PaperExchange, log: Path, look: Any) -> AsyncIterator[System]:
    """A started System over `exchange`, whose requests the aiohttp middleware `look` sees first."""
    app = exchange.app()
    app.middlewares.append(look)
    server = TestServer(app)
    await server.start_server()
    try:
        async with system_on(str(server.make_url("")), log) as system:
            yield system
    finally:
        await server.close()


async def test_an_order_reaches_the_exchange_only_once_received_and_dispatched_are_durable(tmp_path: Path) -> None:
    log = tmp_path / "events.sqlite3"
    seen: list[list[str]] = []

    @web.middleware
    async def look_at_the_log(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method == "POST" and request.path == "/api/v3/order":
            client_id = request.query.get("newClientOrderId") or (await request.post()).get("newClientOrderId")
            seen.append(kinds_of(log, str(client_id).removeprefix("mcp")))
        return await handler(request)

    async with watched(new_exchange(), log, look_at_the_log) as system:
        for side in ("BUY", "SELL"):
            envelope = new_envelope(
                "create_order", {"symbol": "BTCUSDT", "side": side, "type": "MARKET", "quantity": "0.001"}, 80
            )
            assert isinstance(await system.ask(envelope), Executed)
    assert seen == [["received", "dispatched"], ["received", "dispatched"]]


async def test_a_read_whose_received_is_not_written_leaves_nothing_of_it(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The write of one read's `received` fails (whether its outcome comes in the same
    transaction or a later one): the caller hears audit_unavailable, the log holds nothing of it,
    and the calls around it are untouched."""
    store = harness.system.journal.store
    append = store.append_batch
    doomed = new_envelope("get_ticker_price", {"symbol": "BTCUSDT"}, 20)

    def failing(events: Sequence[Event]) -> list[int]:
        if any(e.command_id == doomed.command_id and e.kind == "received" for e in events):
            raise sqlite3.OperationalError("disk I/O error")
        return append(events)

    monkeypatch.setattr(store, "append_batch", failing)
    before = await harness.call("get_ticker_price", symbol="ETHUSDT")
    outcome = await harness.system.ask(doomed)
    after = await harness.call("get_ticker_price", symbol="ETHUSDT")
    assert isinstance(outcome, Failed) and outcome.kind == "audit_unavailable"
    assert isinstance(before, Executed) and isinstance(after, Executed)
    assert kinds_of(harness.log, doomed.command_id) == []
    assert not harness.system.journal._unrecorded  # forgotten once its outcome was refused: bounded


async def test_a_read_whose_received_cannot_be_encoded_has_no_outcome_on_record(harness: Harness) -> None:
    class Opaque:  # not JSON: the journal cannot encode the `received` that carries it
        pass

    envelope = new_envelope("get_ticker_price", {"symbol": Opaque()}, 20)
    outcome = await harness.system.ask(envelope)
    assert isinstance(outcome, Failed) and outcome.kind == "audit_unavailable"
    assert kinds_of(harness.log, envelope.command_id) == []
    assert isinstance(await harness.call("get_ticker_price", symbol="BTCUSDT"), Executed)


async def test_every_read_answered_under_load_has_both_events_on_record_when_answered(tmp_path: Path) -> None:
    async with build(tmp_path) as h:

        async def ask_and_look(tool: str, args: dict[str, Any]) -> tuple[Any, list[str]]:
            envelope = new_envelope(tool, args, 20)
            outcome = await h.system.ask(envelope)
            return outcome, kinds_of(h.log, envelope.command_id)  # the moment the caller has its answer

        calls = [("get_ticker_price", {"symbol": "BTCUSDT"}), ("get_order_book", {"symbol": "BTCUSDT", "limit": 7})]
        answers = await asyncio.gather(*(ask_and_look(*calls[i % 2]) for i in range(200)))
    assert all(isinstance(o, Executed) and k == ["received", "executed"] for o, k in answers[::2])
    assert all(o.kind == "validation_error" and k == ["received", "rejected"] for o, k in answers[1::2])


def test_the_writer_refuses_whatever_comes_after_a_received_it_could_not_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both shapes: the `received` failing alone with its outcome in a later transaction, and the
    two failing in one transaction."""
    journal = Journal(EventStore(tmp_path / "events.sqlite3"), "paper")
    failing = {"A"}
    append = journal.store.append_batch

    def flaky(events: Sequence[Event]) -> list[int]:
        if any(e.command_id in failing and e.kind == "received" for e in events):
            raise sqlite3.OperationalError("disk I/O error")
        return append(events)

    def event(command_id: str, kind: str) -> Event:
        return Event(1, command_id, kind, "get_ticker_price", "paper", "{}")

    monkeypatch.setattr(journal.store, "append_batch", flaky)
    (alone,) = journal._write([event("A", "received")])
    later = journal._write([event("B", "received"), event("A", "executed"), event("B", "executed")])
    assert isinstance(alone, sqlite3.OperationalError)
    assert [type(r) for r in later] == [type(None), NotReceived, type(None)]
    failing.add("C")
    together = journal._write([event("C", "received"), event("C", "executed")])
    assert all(isinstance(r, sqlite3.OperationalError) for r in together)
    assert not journal._unrecorded  # each command's outcome ended it: nothing is kept
    journal.store.close()
    rows = read_log(tmp_path / "events.sqlite3")
    assert [(r.command_id, r.kind) for r in rows] == [("B", "received"), ("B", "executed")]


async def test_a_read_still_running_at_a_stop_leaves_its_received_which_the_next_start_closes(tmp_path: Path) -> None:
    arrived, release = asyncio.Event(), asyncio.Event()

    async def held(_seconds: float) -> None:  # the exchange holds the read until the test lets go
        arrived.set()
        await release.wait()

    exchange = new_exchange(faults={"GET /api/v3/avgPrice": Fault(FaultMode.LATENCY, 1, 1)}, sleep=held)
    log = tmp_path / "events.sqlite3"
    envelope = new_envelope("get_avg_price", {"symbol": "BTCUSDT"}, 20)
    async with exchange_server(exchange) as url:
        async with system_on(url, log) as system:
            call = asyncio.ensure_future(system.ask(envelope))
            await asyncio.wait_for(arrived.wait(), 10)
            assert kinds_of(log, envelope.command_id) == []  # held by the journal until its outcome
            await system.stop(grace_s=0.05)  # the grace runs out with the read still at the exchange
        assert kinds_of(log, envelope.command_id) == ["received"]
        release.set()
        call.cancel()
        async with system_on(url, log):
            pass  # the next start closes what the log left open
    assert kinds_of(log, envelope.command_id) == ["received", "failed"]


async def test_a_read_alone_is_written_with_its_outcome_and_one_among_others_waits_for_its_received(
    tmp_path: Path,
) -> None:
    arrived, release = asyncio.Event(), asyncio.Event()

    async def held(_seconds: float) -> None:
        arrived.set()
        await release.wait()

    log = tmp_path / "events.sqlite3"
    seen_at_request: list[list[str]] = []
    second = new_envelope("get_ticker_price", {"symbol": "BTCUSDT"}, 20)

    @web.middleware
    async def look_at_the_log(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path == "/api/v3/ticker/price":
            seen_at_request.append(kinds_of(log, second.command_id))
        return await handler(request)

    exchange = new_exchange(faults={"GET /api/v3/avgPrice": Fault(FaultMode.LATENCY, 1, 1)}, sleep=held)
    async with watched(exchange, log, look_at_the_log) as system:
        first = new_envelope("get_avg_price", {"symbol": "BTCUSDT"}, 20)
        alone = asyncio.ensure_future(system.ask(first))
        await asyncio.wait_for(arrived.wait(), 10)
        assert kinds_of(log, first.command_id) == []  # alone: held until its outcome
        assert isinstance(await system.ask(second), Executed)  # among others: waited for its received
        assert seen_at_request == [["received"]]
        release.set()
        assert isinstance(await alone, Executed)
        assert kinds_of(log, first.command_id) == ["received", "executed"]
