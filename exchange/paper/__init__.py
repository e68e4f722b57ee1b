"""The paper exchange: a local server that speaks the Binance Spot REST API, and the WebSocket
API's user data stream at `/ws-api/v3` on the same port (userstream.py).

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
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from binance_mcp.exchange.client import Credentials
from binance_mcp.exchange.paper.app import (
    DEFAULT_API_RESTRICTIONS,
    DEFAULT_BALANCES,
    PaperExchange,
    generate_credentials,
)
from binance_mcp.exchange.paper.faults import Fault, FaultMode, parse_fault
from binance_mcp.exchange.paper.limits import LimitConfig
from binance_mcp.exchange.paper.market import MarketConfig
from binance_mcp.exchange.paper.userstream import WS_PATH
from binance_mcp.exchange.signing import ed25519_public_bytes

__all__ = [
    "DEFAULT_API_RESTRICTIONS",
    "DEFAULT_BALANCES",
    "Fault",
    "FaultMode",
    "LimitConfig",
    "MarketConfig",
    "PaperExchange",
    "RunningPaperExchange",
    "announce",
    "generate_credentials",
    "parse_fault",
    "run_standalone",
    "serve_exchange",
    "start_paper_exchange",
    "stop_on_signals",
    "ws_api_url",
]


def ws_api_url(base_url: str) -> str:
    """A paper exchange's WebSocket API address from its REST base URL (same host and port)."""
    scheme, sep, rest = base_url.rstrip("/").partition("://")
    return f"{'wss' if scheme == 'https' else 'ws'}{sep}{rest}{WS_PATH}"


@dataclass
class RunningPaperExchange:
    url: str
    api_key: str
    api_secret: str  # empty for an Ed25519 account
    exchange: PaperExchange
    runner: web.AppRunner
    private_key: Ed25519PrivateKey | None = None  # the generated pair's, for an Ed25519 account

    @property
    def ws_url(self) -> str:
        """The WebSocket API's address on this exchange (the user data stream)."""
        return ws_api_url(self.url)

    def credentials(self) -> Credentials:
        """What a client signs this account's requests with."""
        if self.private_key is not None:
            return Credentials(self.api_key, private_key=self.private_key)
        return Credentials(self.api_key, self.api_secret)

    async def stop(self) -> None:
        await self.runner.cleanup()


async def start_paper_exchange(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    api_key: str | None = None,
    api_secret: str | None = None,
    ed25519: bool = False,
    ed25519_public_key: bytes | None = None,
    **options: Any,
) -> RunningPaperExchange:
    """Start a paper exchange on (host, port); port 0 picks a free one. Its account signs with HMAC
    (`api_secret`, generated if not given), or with Ed25519: the raw `ed25519_public_key` given, or
    a pair generated when `ed25519` is true. `options` go to PaperExchange."""
    if (api_key is None) != (api_secret is None) and ed25519_public_key is None:
        raise ValueError("pass both api_key and api_secret, or neither")
    generated_key, generated_secret = generate_credentials()
    api_key = api_key or generated_key
    private_key = None
    if ed25519 and ed25519_public_key is None:
        private_key = Ed25519PrivateKey.generate()
        ed25519_public_key = ed25519_public_bytes(private_key)
    if ed25519_public_key is not None:
        api_secret = ""
        exchange = PaperExchange(ed25519_accounts={api_key: ed25519_public_key}, **options)
    else:
        api_secret = api_secret or generated_secret
        exchange = PaperExchange(accounts={api_key: api_secret}, **options)
    runner, url = await serve_exchange(exchange, host, port)
    return RunningPaperExchange(url, api_key, api_secret, exchange, runner, private_key=private_key)


async def serve_exchange(exchange: PaperExchange, host: str, port: int) -> tuple[web.AppRunner, str]:
    """Serve `exchange` on (host, port) (0: a free one); its runner and URL. OSError when the
    address is taken (nothing is left running)."""
    runner = web.AppRunner(exchange.app(), access_log=None, handle_signals=False, shutdown_timeout=1.0)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError:
        await runner.cleanup()
        raise
    bound_host, bound_port = runner.addresses[0][:2]
    url_host = f"[{bound_host}]" if ":" in bound_host else bound_host
    return runner, f"http://{url_host}:{bound_port}"


def stop_on_signals() -> asyncio.Event:
    """Set on SIGINT or SIGTERM. Before anything starts: a signal that arrives right after the URL
    line must still stop the exchange cleanly."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


def announce(url: str, drawn: tuple[str, str, str] | None) -> None:
    """`PAPER_EXCHANGE_URL=…` as the first line on stdout; credentials not given (`drawn`: what the
    account is, its key, its HMAC secret or "") on stderr."""
    print(f"PAPER_EXCHANGE_URL={url}", flush=True)
    if drawn is not None:
        what, key, secret = drawn
        shown = f" BINANCE_API_SECRET={secret}" if secret else ""
        print(f"paper exchange: {what} BINANCE_API_KEY={key}{shown}", file=sys.stderr, flush=True)


async def _standalone(host: str, port: int, api_key: str | None, api_secret: str | None, **options: Any) -> None:
    stop = stop_on_signals()
    running = await start_paper_exchange(host=host, port=port, api_key=api_key, api_secret=api_secret, **options)
    drawn = ("generated credentials", running.api_key, running.api_secret) if api_key is None else None
    announce(running.url, drawn)
    await stop.wait()
    await running.stop()


def run_standalone(*, host: str, port: int, api_key: str | None, api_secret: str | None, **options: Any) -> int:
    """Serve until SIGINT or SIGTERM, then return 0."""
    asyncio.run(_standalone(host, port, api_key, api_secret, **options))
    return 0
