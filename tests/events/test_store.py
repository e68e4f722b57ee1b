"""The event log: hash chain (pinned vector), verify, tamper detection, append-only, one terminal."""

import sqlite3
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from binance_mcp.events.store import (
    GENESIS,
    SCHEMA_VERSION,
    Event,
    EventStore,
    LogReader,
    chain_hash,
    text_column,
    verify_rows,
)

E1 = Event(1_700_000_000_000_000, "c1", "received", "get_ticker_price", "paper", '{"args":{"symbol":"BTCUSDT"}}')


def test_chain_hash_pinned_vector_and_length_prefixes() -> None:
    # Pinned: a change to the hashing scheme must be deliberate (and bump the DOMAIN).
    assert chain_hash(GENESIS, 1, E1) == "a42b2cb1510939157002e7c79c561f21c456b67b48e86fb89a9ad4d1bc8d7c03"
    shifted = Event(E1.ts, "c", "1received", E1.tool, E1.venue, E1.body)
    assert chain_hash(GENESIS, 1, shifted) != chain_hash(GENESIS, 1, E1)  # "c1","received" vs "c","1received"
    assert chain_hash(GENESIS, 2, E1) != chain_hash(GENESIS, 1, E1)


def test_append_verify_and_reopen(tmp_path: Path) -> None:
    store = EventStore(tmp_path / "log.sqlite3")
    assert store.append_batch([E1, Event(2, "c1", "executed", "t", "paper", "{}")]) == [1, 2]
    store.close()
    reopened = EventStore(tmp_path / "log.sqlite3")
    assert reopened.head_seq == 2
    assert reopened.append_batch([Event(3, "c2", "received", "t", "paper", "{}")]) == [3]
    assert reopened.verify() is None
    assert reopened.conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() == (SCHEMA_VERSION,)


def test_tampering_is_found_at_its_seq(tmp_path: Path) -> None:
    store = EventStore(tmp_path / "log.sqlite3")
    store.append_batch([Event(i, f"c{i}", "received", "t", "paper", "{}") for i in range(5)])
    rows = store.rows()
    forged = list(rows[2])
    forged[6] = '{"forged":true}'
    assert verify_rows([*rows[:2], tuple(forged), *rows[3:]]) == 3
    assert verify_rows([rows[0], rows[2]]) == 2  # seq 2 is missing: a deleted event breaks the order


def test_log_is_append_only(tmp_path: Path) -> None:
    store = EventStore(tmp_path / "log.sqlite3")
    store.append_batch([E1])
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        store.conn.execute("UPDATE events SET body = '{}'")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        store.conn.execute("DELETE FROM events")


def test_one_terminal_and_one_dispatch_per_command(tmp_path: Path) -> None:
    store = EventStore(tmp_path / "log.sqlite3")
    store.append_batch([E1, Event(2, "c1", "executed", "t", "paper", "{}")])
    with pytest.raises(sqlite3.IntegrityError):
        store.append_batch([Event(3, "c1", "failed", "t", "paper", "{}")])
    assert store.head_seq == 2 and store.verify() is None  # nothing of the failed batch was written
    store.append_batch([Event(4, "c9", "dispatched", "t", "paper", "{}")])
    with pytest.raises(sqlite3.IntegrityError):
        store.append_batch([Event(5, "c9", "dispatched", "t", "paper", "{}")])


def test_commands_view(tmp_path: Path) -> None:
    store = EventStore(tmp_path / "log.sqlite3")
    store.append_batch([E1, Event(E1.ts + 2500, "c1", "executed", "get_ticker_price", "paper", "{}")])
    row = store.conn.execute("SELECT command_id, tool, outcome, latency_ms FROM commands").fetchone()
    assert row == ("c1", "get_ticker_price", "executed", 2.5)


def test_bodies_survive_the_batch_insert_exactly(tmp_path: Path) -> None:
    # The batch travels to SQLite as one JSON array; every body must come back byte for byte,
    # or the chain would not verify.
    bodies = [
        '{"q":"say \\"hi\\"","path":"C:\\\\x"}',
        '{"name":"币安人生","emoji":"🚀","nul":"\\u0000"}',
        "\t line\nbreaks\r and \x7f controls",
        '{"big":123456789012345678901234567890,"price":"0.00000001"}',
    ]
    store = EventStore(tmp_path / "log.sqlite3")
    store.append_batch([Event(1 << 60, f"c{i}", "received", "t", "paper", b) for i, b in enumerate(bodies)])
    rows = store.rows()
    assert [r[6] for r in rows] == bodies
    assert [type(r[1]) for r in rows] == [int] * len(bodies) and rows[0][1] == 1 << 60
    assert store.verify() is None


@given(st.text(), st.text())
def test_a_text_column_is_utf8_without_nul_and_tells_two_names_apart(a: str, b: str) -> None:
    column = text_column(a)
    column.encode()  # valid UTF-8: no lone surrogate
    assert "\x00" not in column
    if a != b and len(a) <= 50 and len(b) <= 50:
        assert column != text_column(b)


def test_a_text_column_keeps_tool_names_and_escapes_the_rest() -> None:
    assert text_column("get_ticker_price") == "get_ticker_price"
    assert text_column("a\x00b") == "a\\u0000b" and text_column("a\\u0000b") == "a\\\\u0000b"
    assert text_column("\ud800") == "\\ud800"
    assert text_column("x" * 500) == "x" * 200 + "…[500 characters]"


def test_two_writers_on_one_log_continue_each_others_chain(tmp_path: Path) -> None:
    """Several processes append to one log: each picks up the other's appends through the seq
    key (a stale head fails the insert whole, then the head is read under the write lock)."""
    path = tmp_path / "log.sqlite3"
    a, b = EventStore(path), EventStore(path)
    seqs = []
    for i in range(20):
        writer = a if i % 3 else b
        seqs += writer.append_batch([Event(i, f"c{i}", "received", "t", "paper", "{}")] * (1 + i % 2))
    assert seqs == list(range(1, len(seqs) + 1))
    assert a.verify() is None and b.verify() is None
    a.close()
    b.close()


def test_a_constraint_another_writer_did_not_cause_is_still_raised(tmp_path: Path) -> None:
    path = tmp_path / "log.sqlite3"
    a, b = EventStore(path), EventStore(path)
    a.append_batch([Event(1, "c1", "received", "t", "paper", "{}"), Event(2, "c1", "executed", "t", "paper", "{}")])
    with pytest.raises(sqlite3.IntegrityError):  # a second terminal, appended by the other writer
        b.append_batch([Event(3, "c1", "failed", "t", "paper", "{}")])
    assert b.append_batch([Event(4, "c2", "received", "t", "paper", "{}")]) == [3]  # and it goes on
    assert a.verify() is None
    a.close()
    b.close()


def test_writers_in_threads_at_once_lose_nothing_and_keep_the_chain(tmp_path: Path) -> None:
    import threading

    path = tmp_path / "log.sqlite3"
    EventStore(path).close()

    ready = threading.Barrier(3)

    def write(name: str) -> None:
        store = EventStore(path)
        ready.wait()  # all three know the same head before any appends
        for i in range(100):
            store.append_batch([Event(i, f"{name}{i}", "received", "t", "paper", "{}")])
        store.close()

    threads = [threading.Thread(target=write, args=(n,)) for n in "abc"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    store = EventStore(path)
    assert store.verify() is None and len(store.rows()) == 300
    store.close()


def _order(command_id: str, run: str) -> list[Event]:
    """An order of `run`: its `received` and its `dispatched`."""
    received = Event(1, command_id, "received", "create_order", "paper", f'{{"args":{{}},"run":"{run}"}}')
    return [received, Event(2, command_id, "dispatched", "create_order", "paper", "{}")]


def test_a_decision_is_stale_once_another_run_dispatched_an_order_or_halted_after_it(tmp_path: Path) -> None:
    """The conditional append: an order's `dispatched` states the log position its decision saw and
    is refused (nothing written) when another run dispatched an order, or trading was halted, after
    it; this run's own orders since, and other runs' reads, never make it stale."""
    mine, theirs = "a" * 32, "b" * 32
    store = EventStore(tmp_path / "log.sqlite3")
    other = EventStore(tmp_path / "log.sqlite3")
    store.append_batch(_order("o1", mine))
    seen = store.head_seq
    store.append_batch(_order("o2", mine))  # this run's own order since: not a conflict
    other.append_batch([Event(5, "r1", "received", "get_ticker_price", "paper", f'{{"args":{{}},"run":"{theirs}"}}')])
    received, dispatched = _order("o3", mine)
    store.append_batch([received])
    assert store.append_checked([dispatched], [seen], mine) != [None]
    other.append_batch(_order("t1", theirs))  # another run's order after `seen`
    received, dispatched = _order("o4", mine)
    store.append_batch([received])
    head = store.head_seq
    assert store.append_checked([dispatched], [seen], mine) == [None]  # refused: judge again
    assert store.head_seq == head and store.verify() is None  # nothing written
    assert store.append_checked([dispatched], [store.head_seq], mine) == [head + 1]  # judged on the new head
    seen = store.head_seq
    other.append_batch([Event(9, theirs, "halted", "", "paper", '{"reason":"x"}')])
    received, dispatched = _order("o5", mine)
    store.append_batch([received])
    unchecked = Event(10, "o5x", "received", "get_ticker_price", "paper", "{}")
    assert store.append_checked([unchecked, dispatched], [None, seen], mine)[1] is None  # a halt after it
    assert store.verify() is None


def test_what_runs_before_every_order_reads_the_logs_tail_not_the_log(tmp_path: Path) -> None:
    """The conflict check and the guard's catch-up run before each order: their plans search by
    index from the position seen (a plan that walks every `received` made orders 45% slower on
    a log of a few thousand events)."""
    from binance_mcp.events.store import _CONFLICT, _GUARD_ROWS

    store = EventStore(tmp_path / "log.sqlite3")
    for sql, params in ((_CONFLICT, {"seen": 1, "run": "a" * 32}), (_GUARD_ROWS, (1,))):
        plan = [str(row[3]) for row in store.conn.execute(f"EXPLAIN QUERY PLAN {sql}", params)]
        searches = [step for step in plan if step.startswith(("SEARCH", "SCAN"))]
        assert searches and all(s.startswith("SEARCH") and ("rowid>?" in s or "command_id=?" in s) for s in searches)


def test_an_orders_newest_fact_is_read_by_its_command_not_by_walking_a_kind(tmp_path: Path) -> None:
    """`audit list` and the account stream read an order's facts by its command id: the work does
    not grow with the log (a plan that took the kind index walked every `executed`, +50 ms per page
    on 300k events)."""
    from binance_mcp.events.schema import AccountEvent, encode

    store = EventStore(tmp_path / "log.sqlite3")
    answer = '{"data":{"status":"NEW","executedQty":"0"},"outcome":"executed"}'
    filled = AccountEvent(event_type="executionReport", source="stream", raw={}, status="FILLED", executed_qty="1")

    def steps(reader: LogReader) -> int:
        count = [0]

        def tick() -> int:
            count[0] += 1
            return 0

        reader.conn.set_progress_handler(tick, 10)
        page = ["mine", *(f"absent{i}" for i in range(49))]  # a page of `audit list`: 50 commands
        assert reader.newest_facts(page)["mine"][0].status == "FILLED"
        reader.conn.set_progress_handler(None, 0)
        return count[0]

    store.append_batch(
        [
            Event(1, "mine", "executed", "create_order", "paper", answer),
            Event(2, "mine", "account_event", "", "paper", encode(filled).decode()),
        ]
    )
    small = steps(LogReader(store.path))
    store.append_batch([Event(3 + i, f"other{i}", "executed", "create_order", "paper", answer) for i in range(3000)])
    assert steps(LogReader(store.path)) < small * 2  # 3000 more `executed` of other commands: no more work


def test_servers_opening_a_new_log_at_once_all_open_it(tmp_path: Path) -> None:
    """MCP hosts started together on a log that does not exist yet: each process opens it (the
    switch to WAL is made in one writer's turn; SQLite answers the others 'database is locked' at
    once, busy timeout or not). Each process waits on its stdin and opens the log when released."""
    import subprocess
    import sys

    code = (
        "import sys; from binance_mcp.events.store import EventStore\n"
        "print('ready', flush=True); sys.stdin.read(1); EventStore(sys.argv[1]).close(); print('opened')"
    )
    for round_ in range(4):  # the race is narrow: a few rounds
        log = tmp_path / f"new{round_}.sqlite3"
        children = [
            subprocess.Popen(
                [sys.executable, "-c", code, str(log)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(6)
        ]
        for child in children:  # each ready, its imports done
            assert child.stdout is not None and child.stdout.readline() == "ready\n"
        for child in children:  # released together
            assert child.stdin is not None
            child.stdin.write("x")
            child.stdin.flush()
        results = [child.communicate(timeout=60) for child in children]
        assert [out.strip() for out, _ in results] == ["opened"] * 6, [err[-300:] for _, err in results]
