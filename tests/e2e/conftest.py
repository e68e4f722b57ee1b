"""What the end-to-end tests share."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any, TextIO

from mcp import ClientSession, StdioServerParameters, stdio_client

from binance_mcp.events.commands import client_order_id
from binance_mcp.exchange.paper import Fault, FaultMode, RunningPaperExchange, start_paper_exchange


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


async def line_with(proc: asyncio.subprocess.Process, needle: str, timeout_s: float = 60) -> list[str]:
    """The process's stderr up to and including the first line that holds `needle` (a server's log
    says what it did: awaited, not slept on); fails if the process exits first."""
    assert proc.stderr is not None
    seen: list[str] = []
    while True:
        line = (await asyncio.wait_for(proc.stderr.readline(), timeout_s)).decode()
        assert line, f"the server exited before {needle!r}: {''.join(seen)}"
        seen.append(line)
        if needle in line:
            return seen


async def closed(proc: asyncio.subprocess.Process) -> int:
    """Close the server's stdin (its host went away) and its exit code."""
    assert proc.stdin is not None
    proc.stdin.close()
    return await asyncio.wait_for(proc.wait(), 30)


def sent_once(running: RunningPaperExchange, command_id: str, status: str = "FILLED") -> None:
    """The exchange has exactly one order of this command, in `status`, and one order request was made."""
    account = running.exchange.engine.accounts[running.api_key]
    mine = [o for o in account.orders.values() if o.client_order_id == client_order_id(command_id)]
    assert len(mine) == 1 and mine[0].status == status
    assert running.exchange.served["POST /api/v3/order"] == 1  # nothing was sent twice


class Hold:
    """The paper exchange's latency fault as a gate: a matching request waits at the exchange
    (`arrived` is set) until the test lets it go (`release`)."""

    def __init__(self) -> None:
        self.arrived, self.release = asyncio.Event(), asyncio.Event()

    async def sleep(self, _seconds: float) -> None:
        self.arrived.set()
        await self.release.wait()


async def holding(endpoint: str) -> tuple[RunningPaperExchange, Hold]:
    """A paper exchange that holds the next request to `endpoint` ("POST /api/v3/order")."""
    hold = Hold()
    return await start_paper_exchange(faults={endpoint: Fault(FaultMode.LATENCY, 1, 1)}, sleep=hold.sleep), hold
