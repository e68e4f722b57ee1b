"""The real server over stdio, sent what a hostile or careless client sends: every line gets the
answer JSON-RPC 2.0 owes it, every call a structured result, the server keeps serving, and
`audit verify` passes on the log afterwards."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from asyncio.subprocess import PIPE
from pathlib import Path
from typing import Any

from binance_mcp.face.stdio import MAX_LINE

from .conftest import ROOT, answered, called, errlog, spawn

INIT = {
    "jsonrpc": "2.0",
    "id": 0,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "hostile", "version": "1"}},
}


def env_for(log: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BINANCE_", "MCP_"))}
    return {**env, "MCP_EVENT_LOG": str(log)}  # the embedded paper exchange


async def send(proc: asyncio.subprocess.Process, line: bytes) -> None:
    with contextlib.suppress(ValueError, RecursionError):  # hostile lines are not all JSON, or too deep
        called(line)
    assert proc.stdin is not None
    proc.stdin.write(line + b"\n")
    await proc.stdin.drain()


async def read(proc: asyncio.subprocess.Process) -> dict[str, Any]:
    assert proc.stdout is not None
    found: dict[str, Any] = json.loads(await asyncio.wait_for(proc.stdout.readline(), 30))
    return answered(found)


def call(request_id: int, tool: str, args: dict[str, Any]) -> bytes:
    message = {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": {"name": tool, "arguments": args}}
    return json.dumps(message).encode()


async def test_malformed_json_rpc_is_answered_and_hostile_calls_leave_the_log_verifying(tmp_path: Path) -> None:
    log = tmp_path / "events.sqlite3"
    with errlog(tmp_path / "stderr.txt") as err:
        proc = await spawn(env_for(log), sys.executable, str(ROOT / "server.py"), "serve", stderr=err.fileno())
    try:
        for line, code, request_id in [
            (b"{not json", -32700, None),
            (b'{"jsonrpc":"2.0","id":1,"method":"ping","params":{"a":"\\ud800"}}', -32600, 1),
            (b"[" * 500 + b"]" * 500, -32600, None),
            (b"[" * 5000 + b"]" * 5000, -32700, None),
            (b'{"jsonrpc":"2.0","id":5}', -32600, 5),
            (b'{"jsonrpc":"2.0","id":6,"method":"tools/list","params":[]}', -32600, 6),
            (b'[{"jsonrpc":"2.0","id":7,"method":"ping"}]', -32600, None),
            (b'{"jsonrpc":"2.0","id":8,"method":"ping","params":{"x":"' + b"a" * MAX_LINE + b'"}}', -32600, 8),
        ]:
            await send(proc, line)
            answer = await read(proc)
            assert (answer["error"]["code"], answer["id"]) == (code, request_id), answer
        await send(proc, json.dumps(INIT).encode())
        assert "result" in await read(proc)
        await send(proc, b'{"jsonrpc":"2.0","method":"notifications/initialized"}')
        hostile = [
            (
                "test_order",
                {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "1e1000000", "price": "1"},
            ),
            ("get_audit_log", {"since": "200000000d"}),
            ("a\u0000b", {}),
            ("x" * 100_000, {}),  # a huge unknown name: a short answer
            ("create_order\u0000", {"symbol": "BTCUSDT"}),
            ("create_order", {"symbol": "ſolusdt", "side": "BUY", "type": "MARKET", "quantity": "0.1"}),
            ("get_deposit_history", {"coin": "A'B"}),
        ]
        for i in range(60):  # far more than the supervisor's 5 restarts in 10 s
            tool, args = hostile[i % len(hostile)]
            await send(proc, call(100 + i, tool, args))
            answer = await read(proc)
            assert answer["id"] == 100 + i
            text = json.dumps(answer)
            assert len(text) < 2000 and "internal_error" not in text and "auth_error" not in text
        await send(proc, call(999, "get_ticker_price", {"symbol": "BTCUSDT"}))
        alive = await read(proc)
        assert alive["result"]["structuredContent"]["success"] is True
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        assert await asyncio.wait_for(proc.wait(), 30) == 0
    security = [line for line in (tmp_path / "stderr.txt").read_text().splitlines() if "SECURITY_EVENT" in line]
    assert security and max(len(line) for line in security) < 1000  # the huge name is not echoed whole
    verify = await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "server.py"), "audit", "verify", "--event-log", str(log), stdout=PIPE, stderr=PIPE
    )
    out, err = await verify.communicate()
    assert verify.returncode == 0, out + err
