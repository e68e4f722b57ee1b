"""A System wired to an in-process paper exchange over real HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from binance_mcp.actors.system import System, new_envelope
from binance_mcp.events.outcomes import Outcome
from binance_mcp.exchange.client import BinanceClient, Credentials
from binance_mcp.exchange.paper import LimitConfig, MarketConfig, PaperExchange

KEY, SECRET = "K" * 64, "S" * 64


class Harness:
    def __init__(self, system: System, exchange: PaperExchange, log: Path):
        self.system = system
        self.exchange = exchange
        self.log = log

    async def call(self, tool: str, **args: Any) -> Outcome:
        return await self.system.ask(new_envelope(tool, args, len(str(args))))


@asynccontextmanager
async def build(
    tmp_path: Path,
    *,
    limits: LimitConfig | None = None,
    system_cls: type[System] = System,
    prepare: Callable[[PaperExchange], None] | None = None,
    **options: Any,
) -> AsyncIterator[Harness]:
    exchange = PaperExchange(
        accounts={KEY: SECRET}, market_config=MarketConfig(seed=1, history_ms=3_600_000), limits=limits
    )
    if prepare is not None:  # the exchange as the system will find it at start
        prepare(exchange)
    server = TestServer(exchange.app())
    await server.start_server()
    client = BinanceClient(str(server.make_url("")), credentials=Credentials(KEY, SECRET))
    from binance_mcp.events.store import EventStore

    log = tmp_path / "events.sqlite3"
    options.setdefault("calls_per_minute", None)
    system = system_cls(client=client, store=EventStore(log), venue="paper", **options)
    await system.start()
    try:
        yield Harness(system, exchange, log)
    finally:
        await system.stop()
        await server.close()


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    async with build(tmp_path) as h:
        yield h
