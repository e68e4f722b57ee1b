"""Runs alive or dead: each run's liveness lease, beside the log.

A run (a `serve`, a `halt`) holds an exclusive OS advisory lock (`flock`) on a file of its own,
`<log>.runs/<run id>.lease`, for as long as its process lives: taken before its `started` is
journaled, given up only after its last event is written (the file removed first, then closed).
The kernel drops the lock when the process dies however it dies (SIGKILL, a crash, the machine
off), so a free lease means the run can write nothing more. Not a PID: PIDs are reused, a lock
is not inherited by whoever gets the number next.

`alive(log, run)` asks with a *shared* lock that it drops at once, so asking never makes a dead
run look alive to another asker; two askers may both find a run dead, and both recover it (the
log's one-terminal and one-reconciled indexes make the second attempt a no-op). A run with no
lease file is dead: it stopped (and removed it), or it ran before leases existed.

Linux and macOS (`fcntl.flock`). A log in memory (":memory:") has no runs beside its own.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import socket
from pathlib import Path

__all__ = ["Claim", "Lease", "alive", "lease_dir"]

_RUN_ID = re.compile(r"[0-9a-f]{32}")


def lease_dir(log: Path) -> Path:
    return log.with_name(log.name + ".runs")


def _path(log: Path, run: str) -> Path | None:
    """The lease file of `run`; None for a name that is not a run id (an old log's empty run)."""
    return lease_dir(log) / f"{run}.lease" if _RUN_ID.fullmatch(run) else None


class Lease:
    """This process's lease on its run; `release()` when the run's last event is written."""

    def __init__(self, log: Path, run: str):
        path = _path(log, run)
        if path is None:
            raise ValueError(f"not a run id: {run!r}")
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.write(fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode())  # for a person looking
        except BaseException:
            os.close(fd)
            raise
        self._fd: int | None = fd

    def release(self) -> None:
        """Remove the file, then let the lock go: nobody finds the run alive after this."""
        if self._fd is None:
            return
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        os.close(self._fd)
        self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None


def alive(log: Path, run: str) -> bool:
    """Whether `run`'s lease is held by a living process (this one included)."""
    path = _path(log, run)
    if path is None:
        return False
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # drops the shared lock, if it was taken
    return False


class Claim:
    """A role only one run on the log may hold at a time (the account stream of an account):
    an exclusive `flock` on `<log>.runs/<name>.lock`, taken without waiting, given up by
    `release()` or by the process's end, however it ends. The file stays (removing a lock file
    that another run may have opened would let two runs hold the role)."""

    def __init__(self, fd: int, path: Path):
        self._fd: int | None = fd
        self.path = path

    @classmethod
    def take(cls, log: Path, name: str) -> Claim | None:
        """The claim, or None while another run holds it."""
        if not re.fullmatch(r"[a-z0-9-]{1,80}", name):
            raise ValueError(f"not a claim name: {name!r}")
        path = lease_dir(log) / f"{name}.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        return cls(fd, path)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
