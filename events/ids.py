"""Command ids: UUIDv7 (RFC 9562), time-ordered so the event log's indexes grow at one edge.

48 bits of Unix milliseconds, then a 12-bit counter that keeps ids strictly increasing within
one process even when many are made in the same millisecond (or the clock steps back), then
62 random bits. Rendered as 32 lowercase hex digits, like `uuid.UUID.hex`.

Why it matters: a random (v4) id lands anywhere in the `command_id` B-tree, and every append
then touches a random page of three indexes; measured on this project's machine that doubled the
cost of an insert (31 µs against 16 µs per event at 500 events per commit).
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable

__all__ = ["CommandIds", "new_command_id"]

_COUNTER_MAX = 0xFFF


class CommandIds:
    """A generator of strictly increasing UUIDv7 hex strings."""

    def __init__(self, clock_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000):
        self.clock_ms = clock_ms
        self._lock = threading.Lock()
        self._last_ms = -1
        self._counter = 0
        # Uniqueness comes from the clock and the counter; the random bits keep ids of separate
        # processes apart. A PRNG seeded from os.urandom is enough for that, without a syscall
        # per id.
        self._random = random.Random(os.urandom(16))

    def __call__(self) -> str:
        with self._lock:
            ms = self.clock_ms()
            if ms > self._last_ms:
                self._last_ms, self._counter = ms, 0
            elif self._counter < _COUNTER_MAX:
                self._counter += 1
            else:  # 4096 ids in one millisecond: borrow the next one
                self._last_ms, self._counter = self._last_ms + 1, 0
            ms, counter = self._last_ms, self._counter
        rand = self._random.getrandbits(62)
        value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | counter << 64 | 0b10 << 62 | rand
        return f"{value:032x}"


new_command_id = CommandIds()
