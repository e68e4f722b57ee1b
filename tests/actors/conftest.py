"""A System wired to an in-process paper exchange over real HTTP."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from binance_mcp.actors.journal import Journal
from binance_mcp.actors.system import System, new_envelope
from binance_mcp.events.outcomes import Outcome
from binance_mcp.events.schema import AboutRun
from binance_mcp.events.store import EventStore
from binance_mcp.exchange.client import BinanceClient, Credentials
from binance_mcp.exchange.paper import LimitConfig, MarketConfig, PaperExchange

KEY, SECRET = "K" * 64, "S" * 64


class Harness:
    def __init__(self, system: System, exchange: PaperExchange, log: Path):
        self.system = system
        self.exchange = exchange
        self.log = log

    async def call(self, tool: str, **args: Any) -> Outcome:
        outcome = await self.system.ask(new_envelope(tool, args, len(str(args))))
        assert isinstance(outcome, Outcome)
        return outcome


def new_exchange(limits: LimitConfig | None = None, **options: Any) -> PaperExchange:
    return PaperExchange(
        accounts={KEY: SECRET}, market_config=MarketConfig(seed=1, history_ms=3_600_000), limits=limits, **options
    )


@asynccontextmanager
async def exchange_server(exchange: PaperExchange) -> AsyncIterator[str]:
    """The paper exchange on a loopback port; yields its URL."""
    server = TestServer(exchange.app())
    await server.start_server()
    try:
        yield str(server.make_url(""))
    finally:
        await server.close()


@asynccontextmanager
async def system_on(
    url: str,
    log: Path,
    *,
    system_cls: type[System] = System,
    recv_window_ms: int = 5000,
    about: AboutRun | None = None,
    **options: Any,
) -> AsyncIterator[System]:
    """A started System over the exchange at `url`, its log at `log` (its `started` saying `about`);
    stopped on the way out."""
    client = BinanceClient(url, credentials=Credentials(KEY, SECRET), recv_window_ms=recv_window_ms)
    options.setdefault("calls_per_minute", None)
    system = system_cls(client=client, store=EventStore(log), venue="paper", **options)
    await system.start(about)
    try:
        yield system
    finally:
        await system.stop()


@asynccontextmanager
async def build(
    tmp_path: Path,
    *,
    limits: LimitConfig | None = None,
    prepare: Callable[[PaperExchange], None] | None = None,
    **options: Any,
) -> AsyncIterator[Harness]:
    exchange = new_exchange(limits)
    if prepare is not None:  # the exchange as the system will find it at start
        prepare(exchange)
    log = tmp_path / "events.sqlite3"
    async with exchange_server(exchange) as url, system_on(url, log, **options) as system:
        yield Harness(system, exchange, log)


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    async with build(tmp_path) as h:
        yield h


def writing_threads(journal: Journal, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The thread of each transaction the journal's store commits, in order."""
    seen: list[int] = []
    append = journal.store.append_batch

    def noted(events: Any) -> list[int]:
        seen.append(threading.get_ident())
        return append(events)

    monkeypatch.setattr(journal.store, "append_batch", noted)
    return seen
