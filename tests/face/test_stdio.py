"""The asyncio-pipe stdio transport: framing, bad lines, fd safety, and the fallback."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import IO

import anyio
import mcp_types
import pytest
from mcp.shared.message import SessionMessage

from binance_mcp.face.stdio import PipeReadStream, pipe_streams

ROOT = Path(__file__).resolve().parents[2]
PING = b'{"jsonrpc":"2.0","id":1,"method":"ping"}'


def feed(data: bytes, limit: int = 1024) -> PipeReadStream:
    reader = asyncio.StreamReader(limit=limit)
    reader.feed_data(data)
    reader.feed_eof()
    return PipeReadStream(reader, max_line=limit)


async def test_framing_blank_lines_bad_json_and_a_last_line_without_newline() -> None:
    stream = feed(b"\n" + PING + b"\n  \n{not json}\n" + PING.replace(b"1", b"2"))
    first = await stream.receive()
    assert isinstance(first, SessionMessage) and first.message.id == 1  # type: ignore[union-attr]
    assert isinstance(await stream.receive(), Exception)
    last = await stream.receive()
    assert isinstance(last, SessionMessage) and last.message.id == 2  # type: ignore[union-attr]
    with pytest.raises(anyio.EndOfStream):
        await stream.receive()


async def test_an_over_long_line_is_dropped_and_the_next_message_still_arrives() -> None:
    huge = b'{"jsonrpc":"2.0","id":9,"method":"ping","params":{"x":"' + b"a" * 5000 + b'"}}'
    items = [item async for item in feed(huge + b"\n" + PING + b"\n")]
    assert len(items) == 2
    assert isinstance(items[0], ValueError) and "longer than 1024 bytes" in str(items[0])
    assert isinstance(items[1], SessionMessage) and items[1].message.id == 1  # type: ignore[union-attr]


async def test_pipe_streams_carry_messages_and_keep_stray_writes_off_the_wire() -> None:
    in_r, in_w = os.pipe()  # client -> server
    out_r, out_w = os.pipe()  # server -> client
    try:
        was_blocking = os.get_blocking(in_r)
        async with pipe_streams(in_r, out_w) as (read, write):
            os.write(in_w, PING + b"\n")
            received = await read.receive()
            assert isinstance(received, SessionMessage)
            os.write(out_w, b"stray output\n")  # goes to stderr while serving, not to the client
            answer = mcp_types.JSONRPCResponse(jsonrpc="2.0", id=1, result={})
            await write.send(SessionMessage(answer))
            assert os.read(out_r, 4096) == b'{"jsonrpc":"2.0","id":1,"result":{}}\n'
            assert os.read(in_r, 1) == b""  # the claimed descriptor now reads /dev/null
        assert os.get_blocking(in_r) == was_blocking
        os.write(out_w, b"after\n")  # restored: the descriptor is the wire again
        assert os.read(out_r, 4096) == b"after\n"
        os.write(in_w, b"x")
        assert os.read(in_r, 1) == b"x"
    finally:
        for fd in (in_r, in_w, out_r, out_w):
            os.close(fd)


def serve(tmp_path: Path, stdin: IO[bytes] | int) -> subprocess.CompletedProcess[bytes]:
    """`server.py serve` on the embedded paper exchange, stdin as given, until it exits."""
    env = {**os.environ, "MCP_EVENT_LOG": str(tmp_path / "events.sqlite3"), "BINANCE_VENUE": "paper"}
    env.pop("BINANCE_API_KEY", None)
    env.pop("BINANCE_API_SECRET", None)
    command = [sys.executable, str(ROOT / "server.py"), "serve"]
    return subprocess.run(command, stdin=stdin, capture_output=True, env=env, cwd=tmp_path, timeout=60, check=False)


def test_stdin_from_a_regular_file_falls_back_to_the_sdk_transport(tmp_path: Path) -> None:
    requests = tmp_path / "requests.jsonl"
    initialize = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
    }
    lines = [initialize, {"jsonrpc": "2.0", "method": "notifications/initialized"}]
    requests.write_text("".join(json.dumps(line) + "\n" for line in lines))
    with requests.open("rb") as stdin:
        done = serve(tmp_path, stdin)
    assert done.returncode == 0, done.stderr.decode()
    answer = json.loads(done.stdout.decode().splitlines()[0])
    assert answer["id"] == 1 and answer["result"]["serverInfo"]["name"] == "binance-mcp"
    assert b"threaded transport" in done.stderr


def test_stdin_from_dev_null_falls_back_and_exits_at_once(tmp_path: Path) -> None:
    # /dev/null passes the pipe transport's own check but cannot be polled: without the
    # fallback the server would wait for input forever instead of seeing end of file.
    done = serve(tmp_path, subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout == b""
    assert b"threaded transport" in done.stderr


MALFORMED = [  # (line, the error code owed, the id it names)
    (b"{not json", -32700, None),
    (b'{"jsonrpc":"2.0","id":1,"method":"ping","params":{"a":"\\ud800"}}', -32600, 1),  # a lone surrogate
    (b"[" * 500 + b"]" * 500, -32600, None),  # nested deeper than the SDK's parser goes
    (b"[" * 5000 + b"]" * 5000, -32700, None),  # deeper than any parser here goes
    (b"\xff\xfe{}", -32700, None),  # not UTF-8
    (b'{"jsonrpc":"2.0","id":5}', -32600, 5),  # an id but no method
    (b'{"jsonrpc":"2.0","id":"r-6","method":"tools/list","params":[]}', -32600, "r-6"),  # params as an array
    (b'[{"jsonrpc":"2.0","id":1,"method":"ping"}]', -32600, None),  # a batch
    (b'{"jsonrpc":"2.0","id":true,"method":5}', -32600, None),  # an id that is no id
    (b"42", -32600, None),
]


@pytest.mark.parametrize(("line", "code", "request_id"), MALFORMED)
async def test_a_malformed_line_is_answered_as_json_rpc_says(line: bytes, code: int, request_id: object) -> None:
    answers: list[mcp_types.JSONRPCError] = []

    async def answer(error: mcp_types.JSONRPCError) -> None:
        answers.append(error)

    reader = asyncio.StreamReader(limit=1024 * 1024)
    reader.feed_data(line + b"\n" + PING + b"\n")
    reader.feed_eof()
    stream = PipeReadStream(reader, max_line=1024 * 1024, answer=answer)
    assert isinstance(await stream.receive(), Exception)
    assert [(a.error.code, a.id) for a in answers] == [(code, request_id)]
    after = await stream.receive()  # and the next message still arrives
    assert isinstance(after, SessionMessage) and after.message.id == 1  # type: ignore[union-attr]


async def test_a_malformed_notification_is_not_answered() -> None:
    answers: list[mcp_types.JSONRPCError] = []

    async def answer(error: mcp_types.JSONRPCError) -> None:
        answers.append(error)

    reader = asyncio.StreamReader()
    reader.feed_data(b'{"jsonrpc":"2.0","method":"notifications/initialized","params":[]}\n')
    reader.feed_eof()
    assert isinstance(await PipeReadStream(reader, answer=answer).receive(), Exception)
    assert answers == []


@pytest.mark.parametrize(("head", "request_id"), [(b'{"jsonrpc":"2.0","id":9,"method":"ping"', 9), (b'{"a":', None)])
async def test_an_over_long_line_is_answered_with_its_id_when_it_leads(head: bytes, request_id: object) -> None:
    answers: list[mcp_types.JSONRPCError] = []

    async def answer(error: mcp_types.JSONRPCError) -> None:
        answers.append(error)

    reader = asyncio.StreamReader(limit=1024)
    reader.feed_data(head + b',"params":{"x":"' + b"a" * 5000 + b'"}}\n' + PING + b"\n")
    reader.feed_eof()
    stream = PipeReadStream(reader, max_line=1024, answer=answer)
    assert isinstance(await stream.receive(), ValueError)
    assert [(a.error.code, a.id) for a in answers] == [(-32600, request_id)]
    assert "longer than 1024 bytes" in answers[0].error.message
    assert isinstance(await stream.receive(), SessionMessage)
