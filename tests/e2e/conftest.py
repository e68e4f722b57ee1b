"""What the end-to-end tests share. Every tool result an end-to-end test sees (through the SDK's
client, or read off the wire as JSON-RPC) is checked against its tool's output schema with a JSON
Schema validator, failures included (the SDK's client checks only successes)."""

from __future__ import annotations

import asyncio
import functools
import json
import os
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

import jsonschema
import pytest
from mcp import ClientSession, StdioServerParameters, stdio_client

from binance_mcp.events.answers import output_schema
from binance_mcp.events.commands import COMMANDS, client_order_id
from binance_mcp.exchange.paper import Fault, FaultMode, RunningPaperExchange, start_paper_exchange


def errlog(path: Path | None) -> TextIO:
    """Where a server's stderr goes: a file to read afterwards, or nowhere. (A helper, so that async
    tests open it outside the event loop's view.)"""
    return Path(path or os.devnull).open("w")


ROOT = Path(__file__).parents[2]
CHECKED: Counter[str] = Counter()  # results checked against their tool's schema, by tool
_CALLED: dict[object, str] = {}  # JSON-RPC request id -> tool, for answers read off the wire


@functools.cache
def _validator(tool: str) -> jsonschema.protocols.Validator:
    schema = output_schema(tool)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def conforms(tool: str, structured: Any) -> None:
    """`structured` is a result `tool`'s output schema allows (raises jsonschema's error if not)."""
    _validator(tool).validate(structured)
    CHECKED[tool] += 1


def called(request: bytes | dict[str, Any]) -> None:
    """Note the tool of an outgoing `tools/call`, so its answer can be checked (`answered`)."""
    message = json.loads(request) if isinstance(request, bytes) else request
    if isinstance(message, dict) and message.get("method") == "tools/call":
        _CALLED[message.get("id")] = str(message.get("params", {}).get("name"))


def answered(message: dict[str, Any]) -> dict[str, Any]:
    """An answer read off the wire, its structured result checked when it answers a known tool."""
    tool = _CALLED.pop(message.get("id"), None) if isinstance(message, dict) else None
    result = message.get("result") if isinstance(message, dict) else None
    if tool in COMMANDS and isinstance(result, dict) and "structuredContent" in result:
        conforms(tool, result["structuredContent"])
    return message


@pytest.fixture(autouse=True)
def _results_conform(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every result the SDK's client returns to a test is checked against its tool's schema."""
    call_tool = ClientSession.call_tool

    async def checked(self: ClientSession, name: str, *args: Any, **kwargs: Any) -> Any:
        result = await call_tool(self, name, *args, **kwargs)
        structured = getattr(result, "structured_content", None)  # none in an InputRequiredResult
        if name in COMMANDS and structured is not None:
            conforms(name, structured)
        return result

    monkeypatch.setattr(ClientSession, "call_tool", checked)
    yield


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
