"""MCP over stdio on non-blocking asyncio pipes.

The SDK's `stdio_server()` wraps stdin and stdout with `anyio.wrap_file`, so each line read,
each write and each flush is a hop to a worker thread, and every message crosses two memory
streams and two extra tasks. `Server.run` needs only a read stream of `SessionMessage | Exception`
and a write stream of `SessionMessage`; here they are two small classes over the event loop's
own pipe transports. The protocol handling stays the SDK's: messages are parsed with its
`jsonrpc_message_adapter` and written with `model_dump_json`, exactly as `stdio_server()` does.

Safety kept from `stdio_server()`: while serving, fd 1 points at stderr and fd 0 at /dev/null,
so a stray print or a child process cannot corrupt the protocol; the wire is served from private
duplicates, and both descriptors (and their blocking mode) are restored on exit.

`stdio_transport()` falls back to the SDK's `stdio_server()` where the event loop cannot watch
the descriptors (stdin redirected from a regular file or from /dev/null, say).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import selectors
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from types import TracebackType
from typing import Any, BinaryIO, Self

import anyio
import mcp_types
from mcp.server.stdio import stdio_server
from mcp.shared.message import SessionMessage
from mcp_types import JSONRPCError

from binance_mcp.face.jsonrpc import owed_error, owed_error_for_overlong

__all__ = ["MAX_LINE", "PipeReadStream", "PipeWriteStream", "serve_stdio", "stdio_transport"]

log = logging.getLogger("binance_mcp.stdio")
MAX_LINE = 4 * 1024 * 1024  # one JSON-RPC message; longer lines are dropped with an error
_HEAD = 4096  # what is kept of an over-long line to find its id


class _TransportOwned:
    """Async context manager whose close is left to `pipe_streams`, which owns the pipe."""

    async def aclose(self) -> None:
        """Closed (and flushed) when `pipe_streams` exits."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


Answer = Callable[[JSONRPCError], Awaitable[None]]


class PipeReadStream(_TransportOwned):
    """Newline-delimited JSON-RPC messages from an asyncio StreamReader. A line the SDK cannot
    read is answered as JSON-RPC 2.0 says (face/jsonrpc.py) through `answer`, and handed on as
    an exception (the SDK logs it)."""

    def __init__(self, reader: asyncio.StreamReader, max_line: int = MAX_LINE, answer: Answer | None = None):
        self.reader = reader
        self.max_line = max_line
        self.answer = answer

    async def receive(self) -> SessionMessage | Exception:
        while True:
            try:
                line = await self.reader.readuntil(b"\n")
            except asyncio.IncompleteReadError as eof:
                if not eof.partial.strip():
                    raise anyio.EndOfStream from None
                line = eof.partial  # a last message without its newline
            except asyncio.LimitOverrunError:
                head = await self._skip_line()
                log.warning("a message longer than %d bytes was dropped", self.max_line)
                await self._answer(owed_error_for_overlong(head, self.max_line))
                return ValueError(f"a message longer than {self.max_line} bytes was dropped")
            if not line.strip():
                continue
            try:
                return SessionMessage(mcp_types.jsonrpc_message_adapter.validate_json(line, by_name=False))
            except Exception as exc:  # answered here as JSON-RPC 2.0 says; the SDK logs it
                owed = owed_error(line, exc)
                log.info("an unreadable message (%s) was %s", type(exc).__name__, "answered" if owed else "dropped")
                if owed is not None:
                    await self._answer(owed)
                return exc

    async def _answer(self, error: JSONRPCError) -> None:
        if self.answer is not None:
            await self.answer(error)

    async def _skip_line(self) -> bytes:
        """Discard the rest of an over-long line, up to and including its newline; its first bytes."""
        head = b""
        while True:
            try:
                line = await self.reader.readuntil(b"\n")
                return head or line[:_HEAD]
            except asyncio.LimitOverrunError as over:
                chunk = await self.reader.readexactly(over.consumed)
                head = head or chunk[:_HEAD]
            except asyncio.IncompleteReadError:
                return head

    def __aiter__(self) -> PipeReadStream:
        return self

    async def __anext__(self) -> SessionMessage | Exception:
        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None


class PipeWriteStream(_TransportOwned):
    """One JSON line per message on an asyncio StreamWriter, written by the sender's task."""

    def __init__(self, writer: asyncio.StreamWriter):
        self.writer = writer

    async def send(self, item: SessionMessage, /) -> None:
        line = item.message.model_dump_json(by_alias=True, exclude_unset=True)
        self.writer.write(line.encode() + b"\n")  # one write per message: lines never interleave
        await self.writer.drain()

    async def send_error(self, error: JSONRPCError) -> None:
        """An error response of the transport's own (a line nobody else could answer)."""
        await self.send(SessionMessage(error))


class _Claim:
    """Serve `fd` from a private duplicate and point `fd` itself elsewhere until released."""

    def __init__(self, fd: int, diversion: int):
        self.fd = fd
        try:
            self.private = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3)
            self.blocking = os.get_blocking(fd)
            os.dup2(diversion, fd)
        finally:
            os.close(diversion)

    def release(self) -> None:
        with contextlib.suppress(OSError):
            os.set_blocking(self.private, self.blocking)  # the pipe's other users share this flag
        with contextlib.suppress(OSError):
            os.dup2(self.private, self.fd)


def _check_pollable(fd: int, events: int) -> None:
    """Raise OSError unless the event loop's selector can watch `fd`. The pipe transports accept
    any character device, but /dev/null cannot be polled: the failure would surface later, in a
    callback, and leave the server waiting for a line that never comes."""
    with selectors.DefaultSelector() as selector:
        selector.register(fd, events)


@contextlib.asynccontextmanager
async def pipe_streams(stdin_fd: int = 0, stdout_fd: int = 1) -> AsyncIterator[tuple[PipeReadStream, PipeWriteStream]]:
    """The read and write streams for `Server.run`, over non-blocking pipes on the two fds."""
    sys.stdout.flush()
    loop = asyncio.get_running_loop()
    claims: list[_Claim] = []
    writer: asyncio.StreamWriter | None = None
    read_transport: asyncio.BaseTransport | None = None
    try:
        for fd, events in ((stdin_fd, selectors.EVENT_READ), (stdout_fd, selectors.EVENT_WRITE)):
            _check_pollable(fd, events)
        claims.append(_Claim(stdin_fd, os.open(os.devnull, os.O_RDONLY)))
        claims.append(_Claim(stdout_fd, os.dup(2)))
        read_file: BinaryIO = os.fdopen(claims[0].private, "rb", buffering=0, closefd=False)
        write_file: BinaryIO = os.fdopen(claims[1].private, "wb", buffering=0, closefd=False)
        reader = asyncio.StreamReader(limit=MAX_LINE)
        read_transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), read_file)
        write_transport, protocol = await loop.connect_write_pipe(
            lambda: asyncio.StreamReaderProtocol(asyncio.StreamReader()), write_file
        )
        writer = asyncio.StreamWriter(write_transport, protocol, None, loop)
        write = PipeWriteStream(writer)
        yield PipeReadStream(reader, answer=write.send_error), write
    finally:
        if writer is not None:
            with contextlib.suppress(Exception):
                await writer.drain()
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
        if read_transport is not None:
            read_transport.close()
        for claim in claims:
            claim.release()
            with contextlib.suppress(OSError):
                os.close(claim.private)


@contextlib.asynccontextmanager
async def stdio_transport() -> AsyncIterator[tuple[Any, Any]]:
    """Fast pipes when the event loop can watch stdin and stdout, else the SDK's own transport
    (stdin redirected from a regular file or /dev/null, for one)."""
    async with contextlib.AsyncExitStack() as stack:
        try:
            streams: tuple[Any, Any] = await stack.enter_async_context(pipe_streams())
        except (OSError, ValueError) as exc:
            log.info("stdio cannot be watched by the event loop (%s): using the SDK's threaded transport", exc)
            streams = await stack.enter_async_context(stdio_server())
        yield streams


async def serve_stdio(server: Any, system: Any) -> tuple[int, str]:
    """Serve `server` (face/mcp.py) on stdio until stdin closes, SIGTERM or SIGINT (exit code 0),
    or the system's supervisor gives up (1); the exit code and the reason, for the run's `stopped`.
    The caller stops the system: calls in flight finish, the journal drains."""
    loop = asyncio.get_running_loop()
    signals: list[str] = []
    signalled = asyncio.Event()

    def on_signal(name: str) -> None:
        signals.append(name)
        signalled.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal, sig.name)
    try:
        async with stdio_transport() as (read, write):
            serving = asyncio.create_task(server.run(read, write, server.create_initialization_options()))
            fatal = asyncio.create_task(system.supervisor.fatal.wait())
            stop = asyncio.create_task(signalled.wait())
            done, _ = await asyncio.wait({serving, fatal, stop}, return_when=asyncio.FIRST_COMPLETED)
            for task in (serving, fatal, stop):
                task.cancel()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
    if fatal in done:
        print(f"binance-mcp: stopping: {system.supervisor.fatal_error}", file=sys.stderr)
        return 1, "stdin closed"
    if stop in done:
        print(f"binance-mcp: {signals[0]}: stopping", file=sys.stderr, flush=True)
        return 0, signals[0]
    return 0, "stdin closed"
