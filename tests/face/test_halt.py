"""`binance-mcp halt` / `resume` as commands: what they append, and that no reason a person (or a
script) gives can spoil the record or make every refusal huge."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from binance_mcp.events.schema import Halted, is_text
from binance_mcp.events.store import EventStore
from binance_mcp.face.halt import MAX_REASON, append_alone, who
from binance_mcp.server import main

from ..logs import read_log


@given(st.text() | st.text(alphabet=st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)))
def test_any_reason_becomes_bounded_text(reason: str) -> None:
    said = who(reason)["reason"]
    assert is_text(said) and len(said) <= MAX_REASON + 40
    if is_text(reason) and len(reason) <= MAX_REASON:
        assert said == reason  # a plain reason is kept as given


@settings(max_examples=20, deadline=None)
@given(st.text(max_size=3000))
def test_a_switch_with_any_reason_keeps_the_chain(tmp_path_factory: pytest.TempPathFactory, reason: str) -> None:
    log = tmp_path_factory.mktemp("halt") / "events.sqlite3"
    append_alone(log, Halted(**who(reason)), "paper")
    assert EventStore(log).verify() is None
    (row,) = read_log(log)
    assert row.kind == "halted" and isinstance(row.event, Halted)


def test_halt_and_resume_on_the_command_line(tmp_path: Path) -> None:
    log = tmp_path / "events.sqlite3"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["halt", "--reason", "looking into it", "--event-log", str(log)]) == 0
        assert main(["resume", "--event-log", str(log)]) == 0
    assert "halted at seq 1" in out.getvalue() and "resumed at seq 2" in out.getvalue()
    halted, resumed = read_log(log)
    assert (halted.kind, resumed.kind) == ("halted", "resumed")
    assert isinstance(halted.event, Halted) and halted.event.reason == "looking into it" and halted.event.pid > 0
    assert halted.command_id != resumed.command_id  # each a run of its own
    assert not list((tmp_path / "events.sqlite3.runs").glob("*.lease"))  # and gone: leases released


def test_a_halt_when_halted_says_so_and_a_resume_when_not_halted_does_nothing(tmp_path: Path) -> None:
    log = tmp_path / "events.sqlite3"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["resume", "--event-log", str(log)]) == 0  # never halted
        assert main(["halt", "--reason", "first", "--event-log", str(log)]) == 0
        assert main(["halt", "--reason", "second", "--event-log", str(log)]) == 0
        assert main(["resume", "--event-log", str(log)]) == 0
        assert main(["resume", "--event-log", str(log)]) == 0  # resumed already
    said = out.getvalue().splitlines()
    assert said[0].startswith("trading is not halted") and "nothing to resume" in said[0]
    assert said[2].startswith("trading was halted already") and "first" in said[2]
    assert "nothing to resume" in said[-1]
    assert [r.kind for r in read_log(log)] == ["halted", "halted", "resumed"]  # no resume of nothing
