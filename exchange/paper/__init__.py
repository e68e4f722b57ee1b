"""The paper exchange: a local server that speaks the Binance Spot REST API.

- `PaperExchange(...).app()`: the aiohttp.web application, for tests in-process.
- `await start_paper_exchange()`: embedded, on 127.0.0.1 and a free port, with a generated key
  pair; `await running.stop()` shuts it down cleanly.
- `run_standalone(...)`: what `binance-mcp paper` runs.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from binance_mcp.exchange.paper.app import DEFAULT_BALANCES, PaperExchange, generate_credentials
from binance_mcp.exchange.paper.faults import Fault, FaultMode, parse_fault
from binance_mcp.exchange.paper.limits import LimitConfig
from binance_mcp.exchange.paper.market import MarketConfig

__all__ = [
    "DEFAULT_BALANCES",
    "Fault",
    "FaultMode",
    "LimitConfig",
    "MarketConfig",
    "PaperExchange",
    "RunningPaperExchange",
    "generate_credentials",
    "parse_fault",
    "run_standalone",
    "start_paper_exchange",
]


@dataclass
class RunningPaperExchange:
    url: str
    api_key: str
    api_secret: str
    exchange: PaperExchange
    runner: web.AppRunner

    async def stop(self) -> None:
        await self.runner.cleanup()


async def start_paper_exchange(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    api_key: str | None = None,
    api_secret: str | None = None,
    **options: Any,
) -> RunningPaperExchange:
    """Start a paper exchange on (host, port); port 0 picks a free one. `options` go to PaperExchange."""
    if (api_key is None) != (api_secret is None):
        raise ValueError("pass both api_key and api_secret, or neither")
    if api_key is None or api_secret is None:
        api_key, api_secret = generate_credentials()
    exchange = PaperExchange(accounts={api_key: api_secret}, **options)
    runner = web.AppRunner(exchange.app(), access_log=None, handle_signals=False, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound_host, bound_port = runner.addresses[0][:2]
    url_host = f"[{bound_host}]" if ":" in bound_host else bound_host
    return RunningPaperExchange(f"http://{url_host}:{bound_port}", api_key, api_secret, exchange, runner)


async def _standalone(host: str, port: int, api_key: str | None, api_secret: str | None, **options: Any) -> None:
    # Handlers first: a signal that arrives right after the URL line must still stop us cleanly.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    generated = api_key is None
    running = await start_paper_exchange(host=host, port=port, api_key=api_key, api_secret=api_secret, **options)
    print(f"PAPER_EXCHANGE_URL={running.url}", flush=True)
    if generated:
        print(
            f"paper exchange: generated credentials BINANCE_API_KEY={running.api_key} "
            f"BINANCE_API_SECRET={running.api_secret}",
            file=sys.stderr,
            flush=True,
        )
    await stop.wait()
    await running.stop()


def run_standalone(*, host: str, port: int, api_key: str | None, api_secret: str | None, **options: Any) -> int:
    """Serve until SIGINT or SIGTERM, then return 0."""
    asyncio.run(_standalone(host, port, api_key, api_secret, **options))
    return 0
