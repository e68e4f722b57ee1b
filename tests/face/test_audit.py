"""`binance-mcp audit` against a log written by the real server over stdio: each subcommand, the
tamper cases, a log rebuilt with a valid chain caught by `verify --against`, and reading while a
server appends."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from binance_mcp.actors.system import System, new_envelope
from binance_mcp.events.chain import GENESIS, Event, chain_hash
from binance_mcp.events.outcomes import Executed
from binance_mcp.events.runs import Lease
from binance_mcp.events.store import EventStore
from binance_mcp.exchange.client import BinanceClient, Credentials
from binance_mcp.exchange.paper import start_paper_exchange
from binance_mcp.server import main
from tests.e2e.conftest import stdio_calls
from tests.logs import STREAM_KINDS

ROOT = Path(__file__).parents[2]
SESSION: list[tuple[str, dict[str, Any]]] = [
    ("get_ticker_price", {"symbol": "btc/usdt"}),  # as a client may write it: the server normalizes it
    ("get_balance", {"asset": "USDT"}),
    ("create_order", {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001"}),
    ("create_order", {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.001", "price": "40000"}),
    ("create_order", {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.000015", "price": "40000"}),
    ("cancel_open_orders", {"symbol": "BTCUSDT"}),
    ("get_order_book", {"symbol": "ETHUSDT", "limit": 7}),
    ("get_audit_log", {"of_tool": "create_order"}),
]


async def _run_session(log: Path) -> list[dict[str, Any]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BINANCE_", "MCP_"))}
    env["MCP_EVENT_LOG"] = str(log)
    env["MCP_ACCOUNT_STREAM"] = "false"  # the commands' record alone: its seqs are the same every run
    return await stdio_calls(env, SESSION)


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Any]]]:
    """A log written by a real paper session, and what the session's calls answered."""
    log = tmp_path_factory.mktemp("audit") / "events.sqlite3"
    results = asyncio.run(_run_session(log))
    return log, results


@pytest.fixture
def log(written: tuple[Path, list[dict[str, Any]]], tmp_path: Path) -> Path:
    copy = tmp_path / "events.sqlite3"
    shutil.copy(written[0], copy)
    return copy


def audit(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["audit", *args])
    return code, capsys.readouterr().out


def audit_json(capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    code, out = audit(capsys, *args, "--json")
    assert code == 0, out
    return json.loads(out)


def test_verify_and_digest(log: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = audit(capsys, "digest", "--event-log", str(log))
    seq, digest = out.strip().split(":")
    assert code == 0 and int(seq) > 20 and len(digest) == 64
    code, out = audit(capsys, "verify", "--event-log", str(log), "--against", f"{seq}:{digest}")
    assert (code, out.strip()) == (0, f"ok: {seq} events, head seq={seq} hash={digest}")
    report = audit_json(capsys, "verify", "--event-log", str(log))
    assert report["ok"] is True and report["unresolved"] == [] and report["problems"] == []


def _tamper(log: Path, *statements: str) -> None:
    with sqlite3.connect(log) as conn:  # an attacker with the file: the triggers are no obstacle
        conn.execute("DROP TRIGGER events_no_update")
        conn.execute("DROP TRIGGER events_no_delete")
        for statement in statements:
            conn.execute(statement)


_FLIP = "iif(substr({c}, 1, 1) = '0', '1', '0') || substr({c}, 2)"  # a different first character


@pytest.mark.parametrize(
    ("statements", "bad_seq", "what"),
    [
        (["UPDATE events SET ts = ts + 1 WHERE seq = 7"], 7, "hash"),
        ([f"UPDATE events SET command_id = {_FLIP.format(c='command_id')} WHERE seq = 7"], 7, "hash"),
        (["UPDATE events SET kind = 'rejected' WHERE seq = 9"], 9, "hash"),
        (["UPDATE events SET tool = 'get_balance' WHERE seq = 7"], 7, "hash"),
        (["UPDATE events SET venue = 'live' WHERE seq = 7"], 7, "hash"),
        (["UPDATE events SET body = replace(body, '0.001', '0.002') WHERE seq = 7"], 7, "hash"),
        (
            ["UPDATE events SET hash = iif(substr(hash, 1, 1) = '0', '1', '0') || substr(hash, 2) WHERE seq = 7"],
            7,
            "hash",
        ),
        (["DELETE FROM events WHERE seq = 7"], 7, "is missing"),
        (
            [
                "UPDATE events SET seq = seq + 1000 WHERE seq > 7",
                "UPDATE events SET seq = seq - 999 WHERE seq > 1000",
                "INSERT INTO events SELECT 8, ts, command_id, kind, tool, venue, body, hash FROM events WHERE seq = 7",
            ],
            8,
            "hash",
        ),
        (
            [
                "UPDATE events SET seq = -7 WHERE seq = 7",
                "UPDATE events SET seq = 7 WHERE seq = 8",
                "UPDATE events SET seq = 8 WHERE seq = -7",
            ],
            7,
            "hash",
        ),
    ],
    ids=["ts", "command_id", "kind", "tool", "venue", "body", "hash", "deleted", "inserted", "swapped"],
)
def test_tampering_is_named_at_its_first_bad_seq(
    log: Path, capsys: pytest.CaptureFixture[str], statements: list[str], bad_seq: int, what: str
) -> None:
    _tamper(log, *statements)
    code, out = audit(capsys, "verify", "--event-log", str(log), "--json")
    report = json.loads(out)
    assert code == 1 and report["ok"] is False and report["bad_seq"] == bad_seq
    assert what in report["problems"][0]
    code, text = audit(capsys, "verify", "--event-log", str(log))
    assert code == 1 and text.startswith(f"TAMPERED: first bad seq {bad_seq}")


def test_rows_cut_off_the_end_are_caught_against_a_kept_head(log: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, kept = audit(capsys, "digest", "--event-log", str(log))
    _tamper(log, "DELETE FROM events WHERE seq > 10")
    assert audit(capsys, "verify", "--event-log", str(log))[0] == 0  # the chain that is left holds
    code, out = audit(capsys, "verify", "--event-log", str(log), "--against", kept.strip())
    assert code == 1 and "rows cut off" in out


def test_a_log_rebuilt_with_a_valid_chain_is_caught_against_a_kept_head(
    log: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, kept = audit(capsys, "digest", "--event-log", str(log))
    with sqlite3.connect(log) as conn:
        rows = conn.execute("SELECT seq, ts, command_id, kind, tool, venue, body FROM events ORDER BY seq").fetchall()
    forged, prev = [], GENESIS
    for seq, ts, cid, kind, tool, venue, body in rows:  # a forger who knows the algorithm
        body = body.replace('"0.001"', '"0.0001"')
        prev = chain_hash(prev, seq, Event(ts, cid, kind, tool, venue, body))
        forged.append((body, prev, seq))
    _tamper(log, "UPDATE events SET hash = hash")  # drop the triggers
    with sqlite3.connect(log) as conn:
        conn.executemany("UPDATE events SET body = ?, hash = ? WHERE seq = ?", forged)
    assert audit(capsys, "verify", "--event-log", str(log))[0] == 0  # a valid chain, on its own
    code, out = audit(capsys, "verify", "--event-log", str(log), "--against", kept.strip())
    assert code == 1 and "does not extend the kept head" in out


def test_a_truncated_file_is_reported_not_a_crash(log: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with sqlite3.connect(log) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = log.read_bytes()
    log.write_bytes(data[: len(data) // 2])
    code = main(["audit", "verify", "--event-log", str(log)])
    captured = capsys.readouterr()
    assert code == 1 and "cannot be read" in captured.err


def test_a_server_told_MCP_ACCOUNT_STREAM_false_holds_no_stream(log: Path) -> None:
    with sqlite3.connect(log) as conn:
        kinds = {kind for (kind,) in conn.execute("SELECT DISTINCT kind FROM events")}
    assert "started" in kinds and not kinds & STREAM_KINDS


def test_list_filters_and_show_a_timeline(
    log: Path, written: tuple[Path, list[dict[str, Any]]], capsys: pytest.CaptureFixture[str]
) -> None:
    everything = audit_json(capsys, "list", "--event-log", str(log))
    assert [e["tool"] for e in everything] == [tool for tool, _ in SESSION]
    orders = audit_json(capsys, "list", "--event-log", str(log), "--tool", "create_order")
    assert orders[0]["args"] == "BTCUSDT BUY MARKET 0.001"
    assert [e["result"].get("status") or e["result"].get("type") for e in orders] == ["FILLED", "NEW", "filter_failure"]
    rejected = audit_json(capsys, "list", "--event-log", str(log), "--outcome", "rejected")
    assert {e["tool"] for e in rejected} == {"create_order", "get_order_book"}
    assert audit_json(capsys, "list", "--event-log", str(log), "--symbol", "ethusdt")[0]["tool"] == "get_order_book"
    on_btc = ["get_ticker_price", "create_order", "create_order", "create_order", "cancel_open_orders"]
    for spelled in ("BTCUSDT", "btc-usdt"):  # however the symbol was written, in the log or in the filter
        found = audit_json(capsys, "list", "--event-log", str(log), "--symbol", spelled)
        assert [e["tool"] for e in found] == on_btc
    assert audit_json(capsys, "list", "--event-log", str(log), "--since", "2099-01-01") == []
    assert len(audit_json(capsys, "list", "--event-log", str(log), "--since", "1h", "--limit", "2")) == 2
    code, text = audit(capsys, "list", "--event-log", str(log))
    assert code == 0 and "create_order" in text and "filter_failure" in text

    command_id = written[1][2]["command_id"]  # the MARKET order, as its result named it
    shown = audit_json(capsys, "show", "--event-log", str(log), command_id[:20])
    assert shown["command_id"] == command_id
    assert [s["kind"] for s in shown["steps"]] == ["received", "dispatched", "executed"]
    assert shown["session"]["client"]["name"] == "mcp" and shown["steps"][1]["after_ms"] >= 0
    assert "signature" not in json.dumps(shown)
    assert main(["audit", "show", "--event-log", str(log), command_id[:4]]) == 2  # ambiguous
    assert main(["audit", "show", "--event-log", str(log), "ffff"]) == 2
    assert "names more than one" in capsys.readouterr().err


def test_stats_and_export(log: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = audit_json(capsys, "stats", "--event-log", str(log))
    assert report["tools"]["create_order"]["outcomes"] == {"executed": 2, "rejected": 1}
    assert report["tools"]["get_order_book"]["error_rate"] == 1.0
    assert {(o["status"], o["orders"]) for o in report["orders"]} == {("FILLED", 1), ("CANCELED", 1)}
    assert sum(report["sessions"].values()) == len(SESSION)
    with sqlite3.connect(log) as conn:
        (events,) = conn.execute("SELECT count(*) FROM events").fetchone()
    code, out = audit(capsys, "export", "--event-log", str(log))
    lines = out.splitlines()
    assert code == 0 and len(lines) == events and json.loads(lines[0])["kind"] == "started"
    target = log.parent / "commands.csv"
    assert main(["audit", "export", "--event-log", str(log), "--commands", "--format", "csv", "-o", str(target)]) == 0
    assert len(target.read_text().splitlines()) == len(SESSION) + 1  # and a header


def test_get_audit_log_is_the_same_record(written: tuple[Path, list[dict[str, Any]]]) -> None:
    answer = written[1][-1]
    assert answer["success"] is True
    entries = answer["data"]["commands"]
    assert [e["args"] for e in entries] == [
        "BTCUSDT BUY MARKET 0.001",
        "BTCUSDT BUY LIMIT 0.001 @ 40000",
        "BTCUSDT BUY LIMIT 0.000015 @ 40000",
    ]
    assert entries[0]["command_id"] == written[1][2]["command_id"] and answer["data"]["next_offset"] is None
    assert answer["data"]["matched"] == 3  # all of them shown: nothing left out


def test_an_absent_log_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "list", "--event-log", str(tmp_path / "nope.sqlite3")]) == 2
    assert "no event log at" in capsys.readouterr().err


async def test_reading_while_a_server_appends_under_load(tmp_path: Path) -> None:
    from tests.actors.conftest import build

    async with build(tmp_path) as h:

        async def load() -> int:
            done = 0
            while not stop.is_set():
                outcomes = await asyncio.gather(*(h.call("get_ticker_price", symbol="BTCUSDT") for _ in range(50)))
                assert all(o.__class__.__name__ == "Executed" for o in outcomes)
                done += len(outcomes)
            return done

        stop = asyncio.Event()
        writer = asyncio.create_task(load())
        codes = []
        for _ in range(3):  # each reads a log that grows while it reads
            for args in (["verify"], ["list", "--limit", "20"], ["stats"], ["export"]):
                codes.append(await asyncio.to_thread(_quiet_main, ["audit", *args, "--event-log", str(h.log)]))
        stop.set()
        written = await writer
    assert codes == [0] * 12 and written >= 50
    assert _quiet_main(["audit", "verify", "--event-log", str(h.log)]) == 0


def _quiet_main(args: list[str]) -> int:
    with contextlib.redirect_stdout(io.StringIO()):
        return main(args)


def test_alerts_stay_quiet_on_a_normal_session(log: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = audit(capsys, "alerts", "--event-log", str(log))
    assert (code, out.startswith("no alerts since")) == (0, True)


async def test_alerts_raise_each_pattern_of_a_scripted_session(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.actors.conftest import build

    async with build(tmp_path) as h:
        for _ in range(6):  # probing: bad input, fast
            await h.call("get_order_book", symbol="BTCUSDT", limit=7)
        await h.call("withdraw_all")  # a made-up tool
        await h.system.ask(new_envelope("get_ticker_price", {"_omitted": "big"}, 20_000))  # over 16 KiB
    gone = await asyncio.create_subprocess_exec(sys.executable, "-c", "pass")
    await gone.wait()  # its pid belongs to no process now
    store = EventStore(h.log)
    live = "a" * 32  # a run still going (its lease is held): neither its stop nor its order is due yet
    store.append_batch(
        [
            Event(1, "r" * 32, "started", "", "paper", json.dumps({"pid": gone.pid})),  # a run that never stopped
            Event(2, "d" * 32, "received", "create_order", "paper", "{}"),
            Event(3, "d" * 32, "dispatched", "create_order", "paper", json.dumps({"symbol": "BTCUSDT"})),
            Event(4, live, "started", "", "paper", json.dumps({"pid": gone.pid})),
            Event(5, "e" * 32, "received", "create_order", "paper", json.dumps({"args": {}, "run": live})),
            Event(6, "e" * 32, "dispatched", "create_order", "paper", json.dumps({"symbol": "BTCUSDT"})),
        ]
    )
    store.close()
    lease = Lease(h.log, live)
    try:
        code = await asyncio.to_thread(main, ["audit", "alerts", "--event-log", str(h.log), "--json"])
        report = json.loads(capsys.readouterr().out)
        await asyncio.to_thread(main, ["audit", "verify", "--event-log", str(h.log), "--json"])
        verified = json.loads(capsys.readouterr().out)
    finally:
        lease.release()
    assert {u["command_id"]: u["run_alive"] for u in verified["unresolved"]} == {"d" * 32: False, "e" * 32: True}
    found = {a["pattern"]: a for a in report["alerts"]}
    assert code == 1
    assert set(found) == {"probing", "unknown_tools", "oversized_requests", "unresolved_orders", "unclean_stop"}
    assert found["probing"]["count"] >= 5 and found["unresolved_orders"]["command_ids"] == ["d" * 32]
    assert found["unclean_stop"]["command_ids"] == ["r" * 32]


async def test_crosscheck_finds_an_order_placed_around_the_server(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    running = await start_paper_exchange()
    log = tmp_path / "events.sqlite3"
    for name, value in (
        ("BINANCE_VENUE", "paper"),
        ("BINANCE_BASE_URL", running.url),
        ("BINANCE_API_KEY", running.api_key),
        ("BINANCE_API_SECRET", running.api_secret),
    ):
        monkeypatch.setenv(name, value)
    try:
        client = BinanceClient(running.url, credentials=Credentials(running.api_key, running.api_secret))
        system = System(client=client, store=EventStore(log), venue="paper", calls_per_minute=None)
        await system.start()
        order = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001"}
        placed = await system.ask(new_envelope("create_order", order, 80))
        assert isinstance(placed, Executed)
        await system.stop()
        crosscheck = ["audit", "crosscheck", "--since", "1h", "--event-log", str(log), "--json"]
        assert await asyncio.to_thread(main, crosscheck) == 0  # a clean session
        clean = json.loads(capsys.readouterr().out)
        assert clean["orders_compared"] == 1 and clean["dispatched_compared"] == 1
        # Someone with the key places an order without the server (the website, another app, a thief).
        other = BinanceClient(running.url, credentials=Credentials(running.api_key, running.api_secret))
        await other.request("POST", "/api/v3/order", {**order, "newClientOrderId": "web_1"}, signed=True)
        await other.close()
        assert await asyncio.to_thread(main, crosscheck) == 1
        report = json.loads(capsys.readouterr().out)
    finally:
        await running.stop()
    assert [o["clientOrderId"] for o in report["not_placed_by_this_server"]] == ["web_1"]
    assert report["unknown_to_the_exchange"] == [] and "BTCUSDT" in report["symbols"]
    assert "ETHUSDT" in report["symbols"]  # from the balances: the account holds ETH


def _log_of_commands(path: Path, n: int) -> None:
    """A log of `n` reads (received and executed), one a second."""
    store = EventStore(path)
    events = []
    for i in range(n):
        cid = f"{i:032x}"
        events += [
            Event(1_000_000 * i, cid, "received", "get_ticker_price", "paper", '{"args":{"symbol":"BTCUSDT"}}'),
            Event(1_000_000 * i + 1, cid, "executed", "get_ticker_price", "paper", '{"outcome":"executed","data":{}}'),
        ]
    store.append_batch(events)
    store.close()


def test_list_says_what_it_leaves_out_and_pages(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "events.sqlite3"
    _log_of_commands(log, 72)
    code, out = audit(capsys, "list", "--event-log", str(log))
    assert code == 0 and "newest 50 of 72 commands (--offset 50 for older; --limit 0 for all)" in out
    assert main(["audit", "list", "--event-log", str(log), "--json"]) == 0
    captured = capsys.readouterr()
    page = json.loads(captured.out)
    assert isinstance(page, list) and len(page) == 50  # the shape scripts know, unchanged
    assert json.loads(captured.err) == {"matched": 72, "shown": 50, "offset": 0, "limit": 50}
    everything = audit_json(capsys, "list", "--event-log", str(log), "--limit", "0")
    assert len(everything) == 72 and everything[0]["command_id"] == f"{0:032x}"
    older = audit_json(capsys, "list", "--event-log", str(log), "--offset", "50")
    assert [e["command_id"] for e in older] == [e["command_id"] for e in everything[:22]]
    code, out = audit(capsys, "list", "--event-log", str(log), "--offset", "50", "--limit", "10")
    assert "10 of 72 commands, after the newest 50 (--offset 60 for older; --limit 0 for all)" in out
    one = tmp_path / "one.sqlite3"
    _log_of_commands(one, 1)
    assert audit(capsys, "list", "--event-log", str(one))[1].startswith("1 command\n")
    for bad in ("-1", "x"):
        with pytest.raises(SystemExit) as refused:
            main(["audit", "list", "--event-log", str(log), "--limit", bad])
        assert refused.value.code == 2
    assert "give 0 or more" in capsys.readouterr().err


def test_export_says_how_many_and_refuses_filters_it_cannot_apply(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "events.sqlite3"
    _log_of_commands(log, 7)
    assert main(["audit", "export", "--event-log", str(log)]) == 0
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 14 and "14 events, all that matched" in captured.err
    assert main(["audit", "export", "--event-log", str(log), "--symbol", "BTCUSDT"]) == 2
    assert "--symbol filter commands, not events: add --commands" in capsys.readouterr().err
    assert main(["audit", "export", "--event-log", str(log), "--symbol", "BTCUSDT", "--commands"]) == 0
    assert "7 commands, all that matched" in capsys.readouterr().err


def test_every_option_of_every_command_line_says_what_it_does() -> None:
    from binance_mcp.server import _parser

    def walk(parser: argparse.ArgumentParser, path: str) -> list[str]:
        missing = []
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    missing += walk(sub, f"{path} {name}")
            elif action.option_strings and action.help is None:
                missing.append(f"{path} {'/'.join(action.option_strings)}")
            elif not action.option_strings and action.help is None:
                missing.append(f"{path} {action.dest}")
        return missing

    assert walk(_parser(), "binance-mcp") == []


def test_at_a_hundred_columns_ids_are_shortened_and_symbols_stay_whole(
    log: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rich.console import Console

    import binance_mcp.face.audit as face

    shown = io.StringIO()
    monkeypatch.setattr(face, "_console", lambda: Console(width=100, file=shown, highlight=False))
    assert main(["audit", "list", "--event-log", str(log)]) == 0
    lines = shown.getvalue().splitlines()
    assert all(len(line.rstrip()) <= 100 for line in lines)
    assert not any(line.rstrip().endswith(("BTCUS", "ETHUS")) for line in lines)  # never cut mid-symbol
    text = shown.getvalue()
    assert "BTCUSDT" in text and "ETHUSDT" in text
    ids = re.findall(r"\b[0-9a-f]{16}…", text)
    assert ids and not re.search(r"\b[0-9a-f]{32}\b", text)  # shortened to a prefix `show` takes
    assert main(["audit", "show", "--event-log", str(log), ids[0].rstrip("…")]) == 0


def test_the_top_level_help_names_every_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    from binance_mcp.server import _parser

    text = _parser().format_help()
    audit = next(a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction)).choices["audit"]
    (subs,) = [a for a in audit._actions if isinstance(a, argparse._SubParsersAction)]
    for name in subs.choices:
        assert name in text, name
    assert "replay" in text and "halt" in text and "resume" in text


def test_the_log_may_be_named_before_the_subcommand_and_piped_output_has_no_trailing_spaces(
    tmp_path: Path,
) -> None:
    log = tmp_path / "events.sqlite3"
    shutil.copyfile(Path(__file__).parents[1] / "events" / "fixtures" / "log-schema2.sqlite3", log)
    for argv in (["audit", "--event-log", str(log), "verify"], ["audit", "verify", "--event-log", str(log)]):
        done = subprocess.run([sys.executable, str(ROOT / "server.py"), *argv], capture_output=True, text=True)
        assert done.returncode == 0 and done.stdout.startswith("ok: "), done.stderr
    for sub in ("list", "stats", "replay"):
        piped = subprocess.run(
            [sys.executable, str(ROOT / "server.py"), "audit", sub, "--event-log", str(log)],
            capture_output=True,
            text=True,
        )
        assert piped.returncode == 0 and piped.stdout.count("\n") > 3, piped.stderr
        assert all(line == line.rstrip() for line in piped.stdout.splitlines()), sub  # rich pads cells


def test_a_read_only_copy_of_an_intact_log_verifies(tmp_path: Path) -> None:
    """`audit` is read-only: a copy on a read-only mount (where SQLite cannot make the log's -shm
    file) verifies, lists and gives its digest. A mount namespace of the test's own makes the folder
    read-only even for root; where that is not allowed, the test says so and skips."""
    folder = tmp_path / "copy"
    folder.mkdir()
    shutil.copyfile(
        Path(__file__).parents[1] / "events" / "fixtures" / "log-schema2.sqlite3", folder / "events.sqlite3"
    )
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("no unshare here")
    server = f"{sys.executable} {ROOT / 'server.py'}"
    script = (
        f"mount --bind -o ro {folder} {folder} || exit 77; touch {folder}/x 2>/dev/null && exit 78; "
        f"for c in verify digest list; do {server} audit $c --event-log {folder}/events.sqlite3 || exit $?; done"
    )
    done = subprocess.run([unshare, "-m", "sh", "-c", script], capture_output=True, text=True, timeout=120)
    if done.returncode in (77, 78):
        pytest.skip("a read-only mount cannot be made here")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ok: 45 events") and "Traceback" not in done.stderr


def test_crosscheck_with_an_exchange_that_cannot_be_reached_says_so(tmp_path: Path) -> None:
    import socket

    log = tmp_path / "events.sqlite3"
    shutil.copyfile(Path(__file__).parents[1] / "events" / "fixtures" / "log-schema2.sqlite3", log)
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))  # a port nobody listens on
    port = closed.getsockname()[1]
    closed.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BINANCE_", "MCP_"))}
    env |= {"BINANCE_VENUE": "paper", "BINANCE_BASE_URL": f"http://127.0.0.1:{port}"}
    env |= {"BINANCE_API_KEY": "Key7" * 16, "BINANCE_API_SECRET": "Sec9" * 16}
    done = subprocess.run(
        [sys.executable, str(ROOT / "server.py"), "audit", "crosscheck", "--since", "1h", "--event-log", str(log)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 2 and "the exchange could not be asked" in done.stderr, done.stderr[-500:]
    assert "Traceback" not in done.stderr
