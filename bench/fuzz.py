"""Fuzz harness: `binance-mcp serve` over stdio, driven as a hostile or careless client would.

For every tool, N calls with arguments from tests/hostile.py (hypothesis: valid calls varied by one
field, fields dropped, any fields with any values, stray names); then raw protocol lines (bytes,
JSON of any shape, batches, deep nesting), each followed by a ping. Checked, and counted as an
anomaly when it fails:

- every tools/call gets one answer with its id: a result whose structuredContent is
  `{"success": true, "data", ...}` or `{"success": false, "error": {"type", "message", ...}}`,
  or a JSON-RPC error (an unknown tool); never `internal_error`, never an error over 2 KB;
- every raw line that is not a notification gets a JSON-RPC error, and the ping after it its
  result: the server is alive after every line;
- the server exits 0 when stdin closes, and afterwards `audit verify` passes and the log holds
  exactly one terminal event for every call it received.

The server runs on the embedded paper exchange, trading on, the MCP call budget off and the paper's
limits high, so that the calls reach every stage rather than the limiter.

    .venv/bin/python bench/fuzz.py [--calls-per-tool N] [--raw-lines N] [--seed S]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import queue
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import IO, Any

from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from binance_mcp.events.commands import COMMANDS
from binance_mcp.events.lifecycle import TERMINAL_KINDS
from binance_mcp.tests.hostile import arguments

ROOT = Path(__file__).resolve().parents[1]
SHOWN = ("exchange_error", "transport_error", "audit_unavailable")  # rare kinds: their first calls are printed
MAX_ERROR = 2000  # characters of an error answer, whatever the input
INIT = {
    "jsonrpc": "2.0",
    "id": 0,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "fuzz", "version": "1"}},
}
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
ENVELOPES = st.fixed_dictionaries(
    {},
    optional={
        "jsonrpc": st.sampled_from(["2.0", "1.0", 2]),
        "id": st.one_of(st.integers(), st.text(max_size=8), st.none(), st.booleans()),
        "method": st.one_of(st.sampled_from(["tools/call", "tools/list", "ping", "initialize"]), st.text(max_size=8)),
        "params": JSON_VALUES,
    },
)
RAW_LINES = st.one_of(
    st.binary(max_size=64).filter(lambda b: b"\n" not in b and b"\r" not in b),
    JSON_VALUES.map(lambda v: json.dumps(v).encode()),
    ENVELOPES.map(lambda v: json.dumps(v).encode()),
    st.lists(ENVELOPES, min_size=1, max_size=3).map(lambda v: json.dumps(v).encode()),
    st.integers(min_value=100, max_value=2000).map(lambda n: b"[" * n + b"]" * n),
)


ANSWER_WITHIN_S = 30.0


class NoAnswer(Exception):
    """The server did not answer: it hangs, or it is gone. The run stops there."""


class Server:
    """One `serve` process, spoken to one line at a time."""

    def __init__(self, log: Path, stderr: IO[str]):
        env = {k: v for k, v in os.environ.items() if not k.startswith(("BINANCE_", "MCP_"))}
        env.update(MCP_EVENT_LOG=str(log), MCP_RATE_LIMIT_ENABLED="false", MCP_LOG_SECURITY="false")
        argv = [sys.executable, str(ROOT / "server.py"), "serve", "--trading-enabled", "true"]
        argv += ["--paper-weight-limit", "100000000", "--paper-order-limit", "100000000"]
        self.proc = subprocess.Popen(
            argv, env=env, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr
        )
        self.next_id = 1
        self.lines: queue.Queue[bytes] = queue.Queue()
        threading.Thread(target=self._read_lines, daemon=True).start()

    def _read_lines(self) -> None:
        """stdout, line by line, into a queue: `read` waits for a line with a time limit."""
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(b"")

    def send(self, line: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + b"\n")
        self.proc.stdin.flush()

    def read(self) -> dict[str, Any]:
        try:
            line = self.lines.get(timeout=ANSWER_WITHIN_S)
        except queue.Empty:
            raise NoAnswer(f"no answer within {ANSWER_WITHIN_S:g} s") from None
        if not line:
            raise NoAnswer("the server closed stdout")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def request(self, method: str, params: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
        request_id, self.next_id = self.next_id, self.next_id + 1
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
        if params is not None:
            message["params"] = params
        self.send(json.dumps(message).encode())
        return request_id, self.read()

    def close(self) -> int:
        assert self.proc.stdin is not None
        with contextlib.suppress(OSError):  # gone already
            self.proc.stdin.close()
        return self.proc.wait(timeout=60)


def call_anomaly(request_id: int, answer: dict[str, Any]) -> str | None:
    """What is wrong with the answer to a tools/call, or None."""
    if answer.get("id") != request_id:
        return f"answer id {answer.get('id')!r} for request {request_id}"
    if "error" in answer or not answer.get("result", {}).get("structuredContent", {}).get("success", True):
        size = len(json.dumps(answer))
        if size > MAX_ERROR:
            return f"an error answer of {size} characters"
    if "error" in answer:
        return None if isinstance(answer["error"].get("code"), int) else "a JSON-RPC error without a code"
    content = answer.get("result", {}).get("structuredContent")
    if not isinstance(content, dict) or not isinstance(content.get("success"), bool):
        return "a result without structuredContent.success"
    if content["success"]:
        return None if "data" in content else "success without data"
    error = content.get("error")
    if not isinstance(error, dict) or not isinstance(error.get("type"), str) or "message" not in error:
        return "an error without type and message"
    if error["type"] == "internal_error":
        return f"internal_error: {error['message'][:200]}"
    return None


def generating(examples: int) -> settings:
    """Hypothesis as a generator: `examples` inputs, none shrunk or replayed, no time limit."""
    return settings(
        max_examples=examples,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )


def fuzz_tools(
    server: Server, calls_per_tool: int, anomalies: list[str], seed_value: int, kinds: Counter[str]
) -> Counter[str]:
    for tool in sorted(COMMANDS):
        fuzz_tool(server, tool, calls_per_tool, anomalies, kinds, seed_value)
    return kinds


def fuzz_tool(
    server: Server, tool: str, calls: int, anomalies: list[str], kinds: Counter[str], seed_value: int
) -> None:
    @seed(seed_value)
    @generating(calls)
    @given(args=arguments(tool))
    def one_call(args: dict[str, Any]) -> None:
        request_id, answer = server.request("tools/call", {"name": tool, "arguments": args})
        problem = call_anomaly(request_id, answer)
        if problem is not None:
            anomalies.append(f"{tool} {json.dumps(args, default=repr)[:200]}: {problem}")
        content = answer.get("result", {}).get("structuredContent") or {}
        kind = content.get("error", {}).get("type", "executed") if content else "jsonrpc_error"
        kinds[kind] += 1
        if kind in SHOWN and kinds[kind] <= 3:
            message = content.get("error", {}).get("message", "")
            print(f"  {kind}: {tool} {json.dumps(args, default=repr)[:160]} -> {message[:160]}", file=sys.stderr)

    one_call()


def fuzz_lines(server: Server, lines: int, anomalies: list[str], seed_value: int) -> int:
    sent = [0]

    @seed(seed_value)
    @generating(lines)
    @given(line=RAW_LINES)
    def one_line(line: bytes) -> None:
        sent[0] += 1
        server.send(line)
        request_id, answer = server.request("ping")
        while answer.get("id") != request_id:  # what the raw line was owed comes first
            if "error" not in answer or not isinstance(answer["error"].get("code"), int):
                anomalies.append(f"raw line {line[:80]!r}: answered {json.dumps(answer)[:200]}")
            answer = server.read()
        if answer.get("result") != {}:
            anomalies.append(f"raw line {line[:80]!r}: the ping after it got {json.dumps(answer)[:200]}")

    one_line()
    return sent[0]


def check_log(log: Path, anomalies: list[str]) -> int:
    verify = subprocess.run(
        [sys.executable, str(ROOT / "server.py"), "audit", "verify", "--event-log", str(log)],
        capture_output=True,
        text=True,
        check=False,
    )
    if verify.returncode != 0:
        anomalies.append(f"audit verify: {verify.stdout.strip()} {verify.stderr.strip()}"[:300])
    with sqlite3.connect(log) as conn:
        rows = conn.execute("SELECT command_id, kind FROM events").fetchall()
    received = {cid for cid, kind in rows if kind == "received"}
    terminals = Counter(cid for cid, kind in rows if kind in TERMINAL_KINDS)
    if set(terminals) != received or set(terminals.values()) != {1}:
        anomalies.append(f"{len(received)} calls received, terminals for {len(terminals)}, some twice or none")
    return len(received)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--calls-per-tool", type=int, default=200)
    parser.add_argument("--raw-lines", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    options = parser.parse_args()
    anomalies: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "events.sqlite3"
        with (Path(tmp) / "stderr.txt").open("w") as stderr:
            started = time.perf_counter()
            server = Server(log, stderr)
            server.send(json.dumps(INIT).encode())
            server.read()
            server.send(b'{"jsonrpc":"2.0","method":"notifications/initialized"}')
            kinds: Counter[str] = Counter()
            lines = 0
            try:
                kinds = fuzz_tools(server, options.calls_per_tool, anomalies, options.seed, kinds)
                lines = fuzz_lines(server, options.raw_lines, anomalies, options.seed)
            except NoAnswer as exc:
                anomalies.append(f"stopped: {exc} (after {sum(kinds.values())} calls)")
                server.proc.kill()
            code = server.close()
            seconds = time.perf_counter() - started
        if code != 0:
            anomalies.append(f"the server exited {code}")
        received = check_log(log, anomalies)
    calls = sum(kinds.values())
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"{calls} tool calls over {len(COMMANDS)} tools and {lines} raw lines in {seconds:.1f} s")
    print(f"log: {received} calls received, audit verify {'failed' if any('verify' in a for a in anomalies) else 'ok'}")
    print("outcomes: " + ", ".join(f"{kind} {n}" for kind, n in kinds.most_common()))
    print(f"anomalies: {len(anomalies)}")
    for anomaly in anomalies[:20]:
        print(f"  {anomaly}")
    return 1 if anomalies else 0


if __name__ == "__main__":
    sys.exit(main())
