"""Benchmark (c): resident memory of `binance-mcp serve` after 10,000 and after 50,000
`get_ticker_price` calls over stdio (SDK client, 16 in flight), against a paper exchange in a
process of its own so that only the server is measured. Aim: the second within 10% of the first.

    .venv/bin/python bench/memory.py [--first N] [--second M]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from stdio_calls import ROOT, drive, start_paper, ticker_caller


def rss_kib(marker: str) -> int:
    """VmRSS of the one process whose command line holds `marker`."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            if marker in cmdline and "server.py" in cmdline:
                status = Path(f"/proc/{pid}/status").read_text()
                found.append(int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:"))))
        except (OSError, StopIteration):
            continue
    if len(found) != 1:
        raise RuntimeError(f"expected one server process, found {len(found)}")
    return found[0]


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--first", type=int, default=10_000)
    parser.add_argument("--second", type=int, default=50_000)
    parser.add_argument("--in-flight", type=int, default=16)
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("BINANCE_", "MCP_"))}
    with tempfile.TemporaryDirectory() as tmp:
        log = str(Path(tmp) / "events.sqlite3")
        async with start_paper(base_env) as (_, remote):
            env = {**base_env, **remote, "MCP_RATE_LIMIT_ENABLED": "false"}
            serve = [str(ROOT / "server.py"), "serve", "--event-log", log]
            async with ticker_caller("binance-mcp", serve, env, Path(tmp) / "server.err") as call:
                start = rss_kib(log)
                await drive(call, args.first, args.in_flight)
                first = rss_kib(log)
                await drive(call, args.second - args.first, args.in_flight)
                second = rss_kib(log)
    print(f"RSS after start-up:            {start / 1024:7.1f} MiB")
    print(f"RSS after {args.first:6d} calls:        {first / 1024:7.1f} MiB")
    print(f"RSS after {args.second:6d} calls:        {second / 1024:7.1f} MiB")
    print(f"ratio {args.second} / {args.first}: {second / first:.3f}   (aim <= 1.10)")


if __name__ == "__main__":
    asyncio.run(main())
