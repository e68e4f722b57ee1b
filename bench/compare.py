"""Benchmark: this tree against another revision, paired.

Whole runs of bench/stdio_calls.py vary by 5-10% from one to the next on a 2-core machine, more
than many changes are worth. This runs `serve` from the working tree and from REV (checked out into
a temporary git worktree, imported through PYTHONPATH) against one paper exchange, alternating
them round by round (the order flips each round), `get_ticker_price` over stdio with the SDK's
client, 16 in flight and then one at a time, and prints each round and the medians' ratios.

    .venv/bin/python bench/compare.py REV [--rounds N] [--calls N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from stdio_calls import ROOT, drive, start_paper, ticker_caller


def worktree(rev: str, into: Path) -> tuple[Path, dict[str, str]]:
    """REV checked out under `into`; the environment that makes `binance_mcp` import from it."""
    tree, shim = into / "tree", into / "shim"
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--quiet", "--detach", str(tree), rev], check=True)
    shim.mkdir()
    (shim / "binance_mcp").symlink_to(tree)
    return tree, {"PYTHONPATH": str(shim)}


async def one(
    root: Path, extra: dict[str, str], k: int, n: int, remote: dict[str, str], log: Path
) -> tuple[float, float]:
    base = {key: v for key, v in os.environ.items() if not key.startswith(("BINANCE_", "MCP_"))}
    env = {**base, **remote, **extra, "MCP_RATE_LIMIT_ENABLED": "false", "MCP_EVENT_LOG": str(log)}
    async with ticker_caller(str(root), [str(root / "server.py"), "serve"], env, log.with_suffix(".err")) as call:
        await drive(call, max(100, n // 10), k)
        rate, latencies = await drive(call, n, k)
    return rate, statistics.median(latencies) * 1e6


Results = dict[tuple[str, int], list[tuple[float, float]]]


async def measure(sides: dict[str, tuple[Path, dict[str, str]]], rounds: int, calls: int, tmp: Path) -> Results:
    results: Results = {}
    base = {key: v for key, v in os.environ.items() if not key.startswith(("BINANCE_", "MCP_"))}
    async with start_paper(base) as (_, remote):
        for r in range(rounds):
            order = list(sides) if r % 2 == 0 else list(sides)[::-1]
            for k, n in ((16, calls), (1, calls // 2)):
                for name in order:
                    root, env = sides[name]
                    log = tmp / f"{r}-{k}-{name.replace(' ', '_')}.sqlite3"
                    results.setdefault((name, k), []).append(await one(root, env, k, n, remote, log))
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("rev", help="the revision to compare the working tree with, e.g. HEAD~1")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--calls", type=int, default=3000, help="per round with 16 in flight; half one at a time")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tree, extra = worktree(args.rev, Path(tmp))
        sides = {args.rev: (tree, extra), "working tree": (ROOT, {})}
        try:
            results = asyncio.run(measure(sides, args.rounds, args.calls, Path(tmp)))
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=False)
    print(f"{args.rounds} rounds, alternating; Python {sys.version.split()[0]}")
    for k in (16, 1):
        for name in sides:
            runs = results[(name, k)]
            rates = ", ".join(f"{rate:.0f}" for rate, _ in runs)
            p50s = ", ".join(f"{p50:.0f}" for _, p50 in runs)
            print(f"{k:2d} in flight, {name:14s} calls/s {rates}   p50 us {p50s}")
        old, new = (results[(name, k)] for name in sides)
        rate = statistics.median(r for r, _ in new) / statistics.median(r for r, _ in old)
        p50 = statistics.median(p for _, p in new) / statistics.median(p for _, p in old)
        print(f"{k:2d} in flight: working tree / {args.rev}: calls/s {rate:.3f}, p50 {p50:.3f}")


if __name__ == "__main__":
    main()
