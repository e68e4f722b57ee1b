"""`make serve`, the README's first command, as an MCP client starts it: its stdout carries the
protocol and nothing else (no command echoed by make), from the first line."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from pathlib import Path

import pytest

from .conftest import spawn


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
async def test_make_serve_writes_only_the_protocol_to_stdout(tmp_path: Path) -> None:
    # As from a shell: no BINANCE_*/MCP_* of ours, and not as a sub-make of `make test`.
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("BINANCE_", "MCP_")) and k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")
    }
    env["MCP_EVENT_LOG"] = str(tmp_path / "events.sqlite3")
    proc = await spawn(env, "make", "serve", stderr=asyncio.subprocess.DEVNULL)
    assert proc.stdin is not None and proc.stdout is not None
    ping = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    proc.stdin.write(json.dumps(ping).encode() + b"\n")
    await proc.stdin.drain()
    first = await asyncio.wait_for(proc.stdout.readline(), 60)
    proc.stdin.close()
    rest = await asyncio.wait_for(proc.stdout.read(), 60)
    assert await asyncio.wait_for(proc.wait(), 60) == 0
    assert json.loads(first) == {"jsonrpc": "2.0", "id": 1, "result": {}}
    assert rest == b""
