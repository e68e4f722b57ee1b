"""Run `binance-mcp serve` (or the do-nothing server) with timing probes, for bench/latency.py.

    python bench/traced.py OUT.json serve [serve flags]
    python bench/traced.py OUT.json noop

The probes wrap, at run time and only in this process, the functions a tool call passes through
and take `time.perf_counter_ns()` at each; no probe lives in the server's own code. Calls must
come one at a time (each probe writes to "the call in progress"). At exit, OUT.json gets, per
stage, the median and the 90th percentile in microseconds over the calls after the first 200.
"""

from __future__ import annotations

import atexit
import functools
import itertools
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

calls: list[dict[str, int]] = []
current: dict[str, int] = {}


def mark(name: str) -> None:
    current.setdefault(name, time.perf_counter_ns())


def probe(owner: Any, attr: str, before: str | None = None, after: str | None = None) -> None:
    """Wrap the coroutine function `owner.attr` to mark `before` on entry and `after` on return."""
    inner: Callable[..., Any] = getattr(owner, attr)

    @functools.wraps(inner)
    async def wrapped(*args: Any, **kwargs: Any) -> Any:
        if before:
            mark(before)
        result = await inner(*args, **kwargs)
        if after:
            mark(after)
        return result

    setattr(owner, attr, wrapped)


def transport_probes() -> None:
    from binance_mcp.face import stdio

    async def receive(self: Any, _inner: Any = stdio.PipeReadStream.receive) -> Any:
        if "readuntil" not in vars(self.reader):  # once per stream: time each line as it comes
            readuntil = self.reader.readuntil

            async def timed(separator: bytes = b"\n") -> bytes:
                line = await readuntil(separator)
                current.clear()
                mark("line")  # the line is complete: the call starts here
                return line

            self.reader.readuntil = timed
        message = await _inner(self)
        mark("parsed")
        return message

    async def send(self: Any, item: Any, _inner: Any = stdio.PipeWriteStream.send) -> None:
        mark("write")
        await _inner(self, item)
        if "answer" in current:  # the answer to a tool call (not the initialize reply)
            mark("written")
            calls.append(dict(current))

    stdio.PipeReadStream.receive = receive  # type: ignore[method-assign]
    stdio.PipeWriteStream.send = send  # type: ignore[method-assign]


def serve_probes() -> None:
    from binance_mcp.actors import executor, journal, limiter, system, validator
    from binance_mcp.actors.messages import Finish
    from binance_mcp.exchange import client

    probe(system.System, "ask", "ask", "answer")
    probe(validator.Validator, "handle", "validator")
    probe(limiter.Limiter, "handle", "limiter")
    probe(executor.Executor, "handle", "executor")
    probe(client.BinanceClient, "send", "http", "http_done")
    hand_over = journal.Journal._hand_over
    written = journal.Journal._written

    def traced_hand_over(self: Any, pairs: list[tuple[Any, Any]]) -> None:
        if any(isinstance(m, Finish) for m, _ in pairs):
            mark("finish")
        hand_over(self, pairs)

    def traced_written(self: Any, pairs: list[tuple[Any, Any]], results: list[Any]) -> None:
        if any(isinstance(m, Finish) for m, _ in pairs):
            mark("durable")
        written(self, pairs, results)

    journal.Journal._hand_over = traced_hand_over  # type: ignore[method-assign]
    journal.Journal._written = traced_written  # type: ignore[method-assign]


def noop_probes() -> None:
    import noop_server

    inner = noop_server.call_tool

    async def call_tool(ctx: Any, params: Any) -> Any:
        mark("ask")
        result = await inner(ctx, params)
        mark("answer")
        return result

    noop_server.call_tool = call_tool  # type: ignore[assignment]


def report(out: Path) -> None:
    kept = calls[200:]
    stages: dict[str, list[float]] = {}
    for call in kept:
        marks = sorted(call.items(), key=lambda item: item[1])
        for (a, t0), (b, t1) in itertools.pairwise(marks):
            stages.setdefault(f"{a}->{b}", []).append((t1 - t0) / 1000)
        stages.setdefault("total", []).append((call["written"] - call["line"]) / 1000)
    summary = {
        name: {"n": len(v), "p50_us": statistics.median(v), "p90_us": sorted(v)[int(len(v) * 0.9)]}
        for name, v in stages.items()
    }
    out.write_text(json.dumps({"calls": len(kept), "stages": summary}, indent=1))


def main() -> None:
    out, what, *rest = sys.argv[1:]
    transport_probes()
    atexit.register(report, Path(out))
    if what == "noop":
        import asyncio

        import noop_server

        noop_probes()
        asyncio.run(noop_server.main("pipes"))
        return
    serve_probes()
    from binance_mcp.server import main as server_main

    sys.exit(server_main(["serve", *rest]))


if __name__ == "__main__":
    main()
