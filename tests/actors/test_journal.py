"""The journal actor on its own: durability acks, group commit, isolation of a refused event."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from binance_mcp.actors.base import Crash, Supervisor
from binance_mcp.actors.journal import AuditUnavailable, Journal
from binance_mcp.actors.messages import Envelope, Finish
from binance_mcp.events.outcomes import Executed, Failed
from binance_mcp.events.schema import Received
from binance_mcp.events.store import EventStore

from .conftest import writing_threads


def received(**args: Any) -> Received:
    return Received(args=args, client="", size=0, run="run", session="")


@pytest.fixture(params=[False, True], ids=["busy", "quiet"])
async def journal(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Journal]:
    """Every test runs twice: on a busy server (each transaction in the writer thread) and on a
    quiet one (small transactions on the loop while the writer thread holds nothing)."""
    crashes: list[Crash] = []

    async def on_crash(crash: Crash) -> None:
        crashes.append(crash)

    quiet: bool = request.param
    journal = Journal(EventStore(tmp_path / "log.sqlite3"), "paper", quiet=lambda: quiet)
    supervisor = Supervisor(on_crash)
    supervisor.start(journal)
    yield journal
    await supervisor.stop()
    await journal.close()
    assert not crashes


def envelope(command_id: str) -> Envelope:
    return Envelope(command_id=command_id, tool="get_ticker_price", args={}, raw_size=2, received_us=0)


async def finish(journal: Journal, command_id: str) -> object:
    reply = asyncio.get_running_loop().create_future()
    await journal.tell(Finish(envelope=envelope(command_id), outcome=Executed(data={"n": command_id})), reply)
    return await reply


async def test_an_acknowledged_event_is_already_in_the_file(journal: Journal, tmp_path: Path) -> None:
    await journal.record("c1", "get_ticker_price", received())
    other = EventStore(tmp_path / "log.sqlite3")  # a second connection sees the committed row
    assert [r[2:4] for r in other.rows()] == [("c1", "received")]
    other.close()


async def test_a_quiet_server_commits_small_transactions_on_the_loop(
    journal: Journal, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = writing_threads(journal, monkeypatch)
    await journal.record("c1", "get_ticker_price", received())
    assert isinstance(await finish(journal, "c1"), Executed)
    on_loop = journal.quiet()
    assert len(seen) == 2
    assert all((ident == threading.get_ident()) == on_loop for ident in seen)
    assert journal.store.verify() is None


async def test_a_burst_goes_to_the_writer_thread_even_on_a_quiet_server(
    journal: Journal, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = writing_threads(journal, monkeypatch)
    await asyncio.gather(*(journal.record(f"c{i}", "t", received(i=i)) for i in range(50)))
    assert threading.get_ident() not in seen  # 50 events at once: more than INLINE_MAX
    assert [r[2] for r in journal.store.rows()] == [f"c{i}" for i in range(50)]


async def test_concurrent_events_share_commits_and_keep_the_chain(journal: Journal) -> None:
    await asyncio.gather(*(journal.record(f"c{i}", "t", received(i=i)) for i in range(2000)))
    assert journal.appended == 2000
    assert journal.batches < 2000
    assert journal.store.verify() is None


async def test_a_second_terminal_fails_alone_and_its_batch_neighbours_are_written(journal: Journal) -> None:
    assert isinstance(await finish(journal, "dup"), Executed)
    batches = journal.batches
    results = await asyncio.gather(*(finish(journal, c) for c in ["a", "dup", "b", "c"]))
    assert journal.batches == batches + 1  # the four went to the writer together
    assert isinstance(results[1], Failed) and results[1].kind == "audit_unavailable"
    assert all(isinstance(results[i], Executed) for i in (0, 2, 3))
    rows = journal.store.rows()
    assert [r[2] for r in rows] == ["dup", "a", "b", "c"]
    assert journal.store.verify() is None


async def test_an_unwritable_log_answers_every_caller(journal: Journal) -> None:
    journal.store.conn.execute("PRAGMA query_only=1")
    outcomes = await asyncio.gather(
        journal.record("r1", "t", received()), finish(journal, "f1"), return_exceptions=True
    )
    assert isinstance(outcomes[0], AuditUnavailable)
    assert isinstance(outcomes[1], Failed) and outcomes[1].kind == "audit_unavailable"
    journal.store.conn.execute("PRAGMA query_only=0")
    await journal.record("r2", "t", received())
    assert [r[2] for r in journal.store.rows()] == ["r2"]
