"""Regenerates the incident walkthrough of docs/audit.md from a real session, so that what the page
shows is what the code does: `binance-mcp paper` in a process of its own, two `serve` processes over
stdio pointed at it (the SDK's client, two MCP hosts on one log), an order placed on the account from
elsewhere, and every command shown run for real in a fresh directory. The text between the
`walkthrough` markers of docs/audit.md is replaced (`--write`), or printed.

    .venv/bin/python docs/walkthrough.py [--write]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.shared.exceptions import MCPError

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from binance_mcp.exchange.client import BinanceClient, Credentials  # noqa: E402

KEY, SECRET = "Walkthrough" + "4" * 53, "WalkSecret" + "9" * 54
BEGIN, END = "<!-- walkthrough: made by docs/walkthrough.py -->", "<!-- /walkthrough -->"


def base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BINANCE_", "MCP_"))}
    return {**env, "COLUMNS": "150", "MCP_EVENT_LOG": "var/events.sqlite3"}


async def run(cwd: Path, env: dict[str, str], *args: str) -> str:
    """`binance-mcp ARGS` as a person types it in `cwd`: the block to show (its exit code if not 0)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "server.py"), *args, cwd=cwd, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(proc.communicate(), 300)
    shown = " ".join(a if re.fullmatch(r"[\w./:=@-]+", a) else f"'{a}'" for a in args)
    text = "\n".join(line.rstrip() for line in out.decode().rstrip().splitlines())  # rich pads table rows
    block = f"$ binance-mcp {shown}\n{text}"
    return block + (f"\n(exit {proc.returncode})" if proc.returncode else "")


async def session(
    env: dict[str, str],
    cwd: Path,
    errlog: Path,
    calls: list[tuple[str, dict[str, Any]]],
    made: asyncio.Event | None = None,
    leave: asyncio.Event | None = None,
) -> None:
    """An MCP host: `serve` over stdio with the SDK's client, making `calls`; then, if told, it
    says so (`made`) and stays connected until `leave`."""
    params = StdioServerParameters(
        command=sys.executable, args=[str(ROOT / "server.py"), "serve"], env=env, cwd=str(cwd)
    )
    with errlog.open("w") as err:
        async with stdio_client(params, errlog=err) as (read, write), ClientSession(read, write) as client:
            await client.initialize()
            for tool, args in calls:
                with contextlib.suppress(MCPError):  # an unknown tool is a protocol error (and on record)
                    await client.call_tool(tool, args)
            if made is not None and leave is not None:
                made.set()
                await leave.wait()


async def line_in(path: Path, needle: str, within_s: float = 10.0) -> str:
    """The first line of a server's stderr file that holds `needle` (the file is written by
    another process: looked at again every 20 ms)."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        for line in (await asyncio.to_thread(path.read_text)).splitlines():
            if needle in line:
                return line
        await asyncio.sleep(0.02)
    raise TimeoutError(f"{needle!r} not in {path}")


def fence(text: str) -> str:
    return f"```\n{text}\n```"


async def scenario(cwd: Path) -> str:
    env = base_env()
    (cwd / "var").mkdir()
    paper = await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "server.py"), "paper", "--seed", "11", cwd=cwd,
        env={**env, "BINANCE_API_KEY": KEY, "BINANCE_API_SECRET": SECRET},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        assert paper.stdout is not None
        url = (await paper.stdout.readline()).decode().strip().removeprefix("PAPER_EXCHANGE_URL=")
        keyed = {**env, "BINANCE_VENUE": "paper", "BINANCE_BASE_URL": url, "BINANCE_API_KEY": KEY}
        keyed["BINANCE_API_SECRET"] = SECRET
        return await story(cwd, env, keyed, url)
    finally:
        paper.terminate()
        await paper.wait()


async def story(cwd: Path, env: dict[str, str], keyed: dict[str, str], url: str) -> str:
    parts: list[str] = []
    say = parts.append
    client = BinanceClient(url, credentials=Credentials(KEY, SECRET))
    prices = {}
    for symbol in ("BTCUSDT", "ETHUSDT"):
        prices[symbol] = Decimal(
            str((await client.request("GET", "/api/v3/ticker/price", {"symbol": symbol})).data["price"])
        )
    btc_bid, eth_bid = int(prices["BTCUSDT"] * Decimal("0.97")), int(prices["ETHUSDT"] * Decimal("0.97"))
    assistant = [
        ("get_ticker_price", {"symbol": "BTCUSDT"}),
        ("get_balance", {}),
        (
            "create_order",
            {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.002", "price": str(btc_bid)},
        ),
        ("create_order", {"symbol": "ETHUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.05"}),
        (
            "create_order",
            {"symbol": "ETHUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.1", "price": str(eth_bid)},
        ),
    ]
    probe = [
        ("get_ticker_price", {"symbol": "BTC USDT!!"}),
        ("get_balance", {"asset": "USDT'; DROP TABLE events;--"}),
        ("create_order", {"symbol": "BTCUSDT", "side": "SELL", "type": "MARKET", "quantity": "-1"}),
        ("get_klines", {"symbol": "BTCUSDT", "interval": "2m"}),
        ("get_order_book", {"symbol": "BTCUSDT", "limit": 7}),
        ("withdraw", {"coin": "BTC", "address": "bc1qexample", "amount": "0.4"}),
        ("create_order", {"symbol": "BTCUSDT", "side": "SELL", "type": "MARKET", "quantity": "0.4"}),
    ]
    first_err, second_err = cwd / "serve1.err", cwd / "serve2.err"

    # The assistant's host: its server holds the account stream while it runs.
    placed, leave = asyncio.Event(), asyncio.Event()
    first = asyncio.create_task(session(keyed, cwd, first_err, assistant, placed, leave))
    await placed.wait()
    await line_in(first_err, "account stream: subscribed")
    digest = await run(cwd, env, "audit", "digest")

    # Someone else, with the key: an order straight to the exchange.
    placed_at = time.monotonic()
    await client.request(
        "POST",
        "/api/v3/order",
        {"symbol": "BTCUSDT", "side": "SELL", "type": "MARKET", "quantity": "0.05", "newClientOrderId": "x7Hq2mB9"},
        signed=True,
    )
    line = await line_in(first_err, '"foreign_order"')
    noticed_s = time.monotonic() - placed_at
    await client.close()

    # A second MCP host on the same log, probing, then selling.
    await session(keyed, cwd, second_err, probe)
    leave.set()
    await first

    halt = await run(cwd, keyed, "halt", "--reason", "BTC gone: investigating", "--cancel-open-orders")
    alerts = await run(cwd, env, "audit", "alerts", "--since", "1h")
    listed = await run(cwd, env, "audit", "list", "--since", "1h", "--tool", "create_order")
    sell = sell_command(cwd)
    shown = await run(cwd, env, "audit", "show", sell[:24])
    before = received_seq(cwd, sell) - 1
    replayed = await run(cwd, env, "audit", "replay", "--until", str(before))
    rerun = await run(cwd, env, "audit", "replay", "--execute", "--set", "MCP_MAX_ORDER_NOTIONAL=1000")
    unchanged = await run(cwd, env, "audit", "replay", "--execute")
    if "(exit" in unchanged:  # the page says a re-run without --set is the same throughout
        raise RuntimeError(f"a re-run with the recorded settings differs:\n{unchanged}")
    crosscheck = await run(cwd, keyed, "audit", "crosscheck", "--since", "1h")
    verified = await run(cwd, env, "audit", "verify", "--against", digest.splitlines()[1])

    foreign_line = json.loads(line.split("SECURITY_EVENT: ", 1)[1])
    say(f"""A paper session, real output (made by `docs/walkthrough.py`: a `binance-mcp paper` in its own
process, and two MCP hosts, each a `serve` over stdio pointed at it and sharing one log, as real
hosts would be). The assistant read a price and the balance, placed two buys that rest on the book
and one that filled. You kept the head of the log afterwards (a cron job, or by hand):

{fence(digest)}

The first server holds the account's user data stream. Then its stderr says, unprompted:

{fence(line)}

An order nobody asked this server for: a SELL of {foreign_line["quantity"]} BTC, client order id
`{foreign_line["client_order_id"]}`, placed on the account {noticed_s:.2f} s before that line,
from somewhere else. Whoever placed it has the key. That alone is reason to act: stop every server
on the log from placing orders, and take what rests on the book off it (the ids are the orders'
client order ids):

{fence(halt)}

Any assistant that tries to trade now gets `trading_halted`, naming the reason and how to resume;
reads keep working, so you and it can look. What does the record flag?

{fence(alerts)}

The foreign order, and a second session that probed the server: malformed arguments, an injection
attempt in `asset`, a made-up `withdraw` tool. What orders went through this server?

{fence(listed)}

The resting buys are cancelled (the halt), the ETH market buy filled, and there is a SELL of 0.4 BTC.
Who sent it, and what exactly went to Binance?

{fence(shown)}

It came from the probing session (the second host), and its fills are on record from the account
stream too. What did the account look like, from this server's point of view, just before it?

{fence(replayed)}

No guard was in force: no caps, no confirmation. Would a per-order cap have stopped the sell? Re-run
the session against a fresh paper exchange with one:

{fence(rerun)}

It would have (the same re-run without `--set` reports every replayable command the same: exit 0):
that is the lesson for the settings (`MCP_MAX_ORDER_NOTIONAL`, `MCP_CONFIRM_ORDERS`). The stream
saw the foreign order as it happened; `crosscheck` asks the exchange about any period, and finds
the same:

{fence(crosscheck)}

Finally, can the record be trusted?

{fence(verified)}

The log still extends the head kept earlier and its chain holds, so nothing was removed or rewritten.
Conclusion: revoke the API key now (it was used outside this server, and the stream said so when it
happened, not an hour later); the 0.4 BTC sell came through this server from a second MCP session,
so find what else could start that client; turn on the guard before running again. Keep the new
digest.""")
    return "\n".join(parts)


def sell_command(cwd: Path) -> str:
    import sqlite3

    with sqlite3.connect(cwd / "var" / "events.sqlite3") as conn:
        row = conn.execute(
            "SELECT command_id FROM events WHERE kind = 'received' AND body ->> '$.args.quantity' = '0.4'"
        ).fetchone()
    return str(row[0])


def received_seq(cwd: Path, command_id: str) -> int:
    import sqlite3

    with sqlite3.connect(cwd / "var" / "events.sqlite3") as conn:
        row = conn.execute(
            "SELECT seq FROM events WHERE command_id = ? AND kind = 'received'", (command_id,)
        ).fetchone()
    return int(row[0])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--write", action="store_true", help="replace the walkthrough in docs/audit.md")
    parser.add_argument("--keep", type=Path, help="run in this (new) directory and keep it, to look at afterwards")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        where = args.keep or Path(tmp)
        where.mkdir(parents=True, exist_ok=True)
        text = asyncio.run(scenario(where))
    text = re.sub(re.escape(tmp), "/tmp/…", text)
    if not args.write:
        print(text)
        return
    page = ROOT / "docs" / "audit.md"
    before, _, rest = page.read_text().partition(BEGIN)
    _, _, after = rest.partition(END)
    page.write_text(f"{before}{BEGIN}\n{text}\n{END}{after}")


if __name__ == "__main__":
    main()
