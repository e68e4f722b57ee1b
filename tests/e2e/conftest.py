"""What the end-to-end tests share."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any, TextIO

from mcp import ClientSession, StdioServerParameters, stdio_client

from binance_mcp.exchange.paper import RunningPaperExchange


def errlog(path: Path | None) -> TextIO:
    """Where a server's stderr goes: a file to read afterwards, or nowhere. (A helper, so that async
    tests open it outside the event loop's view.)"""
    return Path(path or os.devnull).open("w")


ROOT = Path(__file__).parents[2]


async def stdio_calls(
    env: dict[str, str], calls: list[tuple[str, dict[str, Any]]], stderr: Path | None = None
) -> list[dict[str, Any]]:
    """`serve` over stdio with the SDK's client (legacy handshake): each call's structured result."""
    params = StdioServerParameters(
        command=sys.executable, args=[str(ROOT / "server.py"), "serve"], env=env, cwd=str(ROOT)
    )
    answers = []
    with errlog(stderr) as err:
        async with stdio_client(params, errlog=err) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            for tool, args in calls:
                result = await session.call_tool(tool, args)
                assert result.structured_content is not None
                answers.append(result.structured_content)
    return answers


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


async def spawn(env: dict[str, str], *argv: str, stderr: int = asyncio.subprocess.PIPE) -> asyncio.subprocess.Process:
    """`argv` started in the project's directory, its stdin and stdout piped to the test."""
    return await asyncio.create_subprocess_exec(
        *argv,
        env=env,
        cwd=str(ROOT),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=stderr,
    )
