"""Runs' leases: held while the process lives, free once it is gone however it went, and never
read from a PID."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from binance_mcp.events.ids import new_command_id
from binance_mcp.events.runs import Lease, alive, lease_dir


def test_a_lease_is_alive_while_held_and_dead_once_released(tmp_path: Path) -> None:
    log, run = tmp_path / "events.sqlite3", new_command_id()
    assert not alive(log, run)  # no lease file: a run that stopped, or never had one
    lease = Lease(log, run)
    assert alive(log, run) and lease.held
    assert alive(log, run)  # asking did not take it
    with pytest.raises(BlockingIOError):
        Lease(log, run)  # one holder at a time, even in one process
    lease.release()
    assert not alive(log, run) and not lease.path.exists()
    lease.release()  # a second release does nothing


def test_a_killed_process_leaves_its_lease_free_though_its_file_stays(tmp_path: Path) -> None:
    log, run = tmp_path / "events.sqlite3", new_command_id()
    code = (
        "import sys; from pathlib import Path; from binance_mcp.events.runs import Lease\n"
        f"lease = Lease(Path({str(log)!r}), {run!r}); print('held', flush=True); sys.stdin.read()"
    )
    with subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE) as child:
        try:
            assert child.stdout is not None and child.stdout.readline() == b"held\n"
            assert alive(log, run)
        finally:
            child.kill()
    assert (lease_dir(log) / f"{run}.lease").exists()  # SIGKILL cleans nothing up ...
    assert not alive(log, run)  # ... and the kernel let the lock go all the same
    Lease(log, run).release()  # and it can be taken (a second asker recovering it)


def test_a_pid_in_the_file_is_not_what_is_asked(tmp_path: Path) -> None:
    """A dead run's file naming a PID that is alive now (as a reused PID would be) is still dead;
    a live run is alive whatever its file says."""
    log, dead, live = tmp_path / "events.sqlite3", new_command_id(), new_command_id()
    lease_dir(log).mkdir()
    (lease_dir(log) / f"{dead}.lease").write_text(f"pid {os.getpid()} on here\n")
    assert not alive(log, dead)
    lease = Lease(log, live)
    lease.path.write_text("pid 999999999 on nowhere\n")
    assert alive(log, live)
    lease.release()


def test_names_that_are_not_run_ids_have_no_lease(tmp_path: Path) -> None:
    log = tmp_path / "events.sqlite3"
    for name in ("", "../../etc/passwd", "A" * 32, "0" * 31):
        assert not alive(log, name)
        with pytest.raises(ValueError):
            Lease(log, name)
