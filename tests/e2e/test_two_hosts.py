"""Two MCP hosts, two `serve` processes, one event log (every installed copy uses the same default
log): both answer every call, and the log is one chain with every call of both on record."""

from __future__ import annotations

import asyncio
import json
import sys
from asyncio.subprocess import PIPE
from pathlib import Path

from ..logs import read_log
from .conftest import ROOT, errlog, spawn
from .test_hostile import INIT, call, env_for, read, send


async def test_two_servers_on_one_log_both_answer_and_the_chain_holds(tmp_path: Path) -> None:
    log = tmp_path / "events.sqlite3"
    with errlog(tmp_path / "a.txt") as a_err, errlog(tmp_path / "b.txt") as b_err:
        servers = [
            await spawn(env_for(log), sys.executable, str(ROOT / "server.py"), "serve", stderr=err.fileno())
            for err in (a_err, b_err)
        ]
        try:
            for proc in servers:
                await send(proc, json.dumps(INIT).encode())
                assert "result" in await read(proc)
                await send(proc, b'{"jsonrpc":"2.0","method":"notifications/initialized"}')
            for i in range(20):  # interleaved: each appends after the other has
                proc = servers[i % 2]
                tool, args = ("get_ticker_price", {"symbol": "BTCUSDT"}) if i % 4 < 2 else ("get_balance", {})
                await send(proc, call(i + 1, tool, args))
                answer = await read(proc)
                assert answer["result"]["structuredContent"]["success"] is True, answer
        finally:
            for proc in servers:
                assert proc.stdin is not None
                proc.stdin.close()
            codes = [await asyncio.wait_for(proc.wait(), 30) for proc in servers]
    assert codes == [0, 0]
    rows = read_log(log)
    runs = [r for r in rows if r.kind == "started"]
    assert len(runs) == 2 and [r.kind for r in rows].count("stopped") == 2
    received = [r for r in rows if r.kind == "received"]
    assert len(received) == 20 and sum(r.kind == "executed" for r in rows) == 20
    verify = await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "server.py"), "audit", "verify", "--event-log", str(log), stdout=PIPE, stderr=PIPE
    )
    out, err = await verify.communicate()
    assert verify.returncode == 0, out + err
