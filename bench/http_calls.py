"""Benchmark: `get_ticker_price` over Streamable HTTP, 16 calls in flight and then one at a time,
driven by the SDK's HTTP client (the 2026-07-28 era: a POST per call, no session), against a
do-nothing server on the same HTTP stack (bench/noop_server.py --transport http: the SDK's app,
uvicorn, the same token check), and against `serve` over stdio, in the same run; the paper
exchange in a process of its own, as a real exchange is elsewhere.

    .venv/bin/python bench/http_calls.py [--calls N] [--in-flight K]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import sys
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx2
from mcp.client.client import Client
from mcp.client.streamable_http import streamable_http_client
from stdio_calls import ARGS, ROOT, Run, mcp_runs, measured, start_paper

from binance_mcp.face.tokens import TokenFile

MODES = ("legacy", "auto")  # the SDK client's eras: a handshake session; 2026-07-28 requests


@contextlib.asynccontextmanager
async def http_server(argv: list[str], env: dict[str, str], errlog: Path) -> AsyncIterator[str]:
    """A server that prints `MCP_HTTP_URL=…` first: yields the URL; stopped with SIGTERM."""
    with errlog.open("w") as err:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, *argv, env=env, cwd=str(ROOT), stdout=asyncio.subprocess.PIPE, stderr=err
        )
        try:
            assert proc.stdout is not None
            line = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode().strip()
            assert line.startswith("MCP_HTTP_URL="), line
            yield line.removeprefix("MCP_HTTP_URL=")
        finally:
            proc.terminate()
            await proc.wait()


@contextlib.asynccontextmanager
async def caller(url: str, token: str, mode: str) -> AsyncIterator[Callable[[], Awaitable[None]]]:
    limits = httpx2.Limits(max_connections=64, max_keepalive_connections=64)  # 16 in flight: no pool waits
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=60, limits=limits)
    async with http, Client(streamable_http_client(url, http_client=http), mode=mode) as client:  # type: ignore[arg-type]

        async def call() -> None:
            result = await client.call_tool("get_ticker_price", ARGS)
            if result.is_error:
                raise RuntimeError(f"{url}: {result.structured_content}")

        yield call


async def runs(name: str, url: str, token: str, n: int, k: int, mode: str) -> list[Run]:
    name = f"{name} ({'2025-11-25, a session' if mode == 'legacy' else '2026-07-28, no session'})"
    async with caller(url, token, mode) as call:
        return await measured(name, call, n, k)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--in-flight", type=int, default=16)
    args = parser.parse_args()
    n, k = args.calls, args.in_flight
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"{n} calls with {k} in flight, then {n // 2} one at a time; the SDK's clients")
    base = {key: v for key, v in os.environ.items() if not key.startswith(("BINANCE_", "MCP_"))}
    with tempfile.TemporaryDirectory() as tmp:
        tokens = Path(tmp) / "tokens.json"
        token = TokenFile(tokens).add("bench", "read", None)
        env = {**base, "MCP_HTTP_TOKENS_FILE": str(tokens), "MCP_RATE_LIMIT_ENABLED": "false"}
        noop_argv = [str(ROOT / "bench" / "noop_server.py"), "--transport", "http", "--tokens", str(tokens)]
        noop, ours = {}, {}
        async with http_server(noop_argv, env, Path(tmp) / "noop.txt") as url:
            for mode in MODES:
                noop[mode] = await runs("do-nothing, HTTP", url, token, n, k, mode)
        async with start_paper(base) as (_url, remote):
            served = {**env, **remote, "MCP_EVENT_LOG": str(Path(tmp) / "http.sqlite3")}
            argv = [str(ROOT / "server.py"), "serve", "--http", "--port", "0"]
            async with http_server(argv, served, Path(tmp) / "h.txt") as url:
                for mode in MODES:
                    ours[mode] = await runs("binance-mcp, HTTP", url, token, n, k, mode)
            stdio_env = {**env, **remote, "MCP_EVENT_LOG": str(Path(tmp) / "stdio.sqlite3")}
            serve = [str(ROOT / "server.py"), "serve"]
            stdio = await mcp_runs("binance-mcp, stdio", serve, stdio_env, n, k, Path(tmp) / "s")
    for mode in MODES:
        for run in noop[mode] + ours[mode]:
            print(run.line())
    for run in stdio:
        print(run.line())
    for mode in MODES:
        (o16, o1), (n16, n1) = ours[mode], noop[mode]
        print(
            f"{mode}: binance-mcp over HTTP, {k} in flight: {o16.rate / n16.rate:.2f} of the do-nothing server on the "
            f"same HTTP stack (aim >= 0.5), {o16.rate / stdio[0].rate:.2f} of binance-mcp over stdio; one at a time "
            f"p50 {o1.p50:.2f} ms (do-nothing {n1.p50:.2f} ms, stdio {stdio[1].p50:.2f} ms)"
        )


if __name__ == "__main__":
    asyncio.run(main())
