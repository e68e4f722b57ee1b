"""What the end-to-end tests share."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TextIO

from binance_mcp.exchange.paper import RunningPaperExchange


def errlog(path: Path | None) -> TextIO:
    """Where a server's stderr goes: a file to read afterwards, or nowhere. (A helper, so that async
    tests open it outside the event loop's view.)"""
    return Path(path or os.devnull).open("w")


def serve_env(running: RunningPaperExchange, log: Path, **extra: str) -> dict[str, str]:
    """The environment of a `serve` on the paper venue, pointed at `running`, its log at `log`;
    nothing else of BINANCE_* or MCP_* from the test's own environment."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("BINANCE_", "MCP_"))}
    return {
        **base,
        "BINANCE_VENUE": "paper",
        "BINANCE_BASE_URL": running.url,
        "BINANCE_API_KEY": running.api_key,
        "BINANCE_API_SECRET": running.api_secret,
        "MCP_EVENT_LOG": str(log),
        **extra,
    }
