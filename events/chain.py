"""The hash chain of the event log: pure, no I/O.

    hash_n = SHA-256(DOMAIN ‖ seq as 8 bytes ‖ for each of ts, command_id, kind, tool, venue, body:
                     its UTF-8 length as 4 bytes ‖ its UTF-8 bytes ‖ hash_{n-1} as 32 bytes)

with hash_0 = 32 zero bytes (GENESIS). The length prefixes make ("ab", "c") and ("a", "bc") differ;
`seq` in the hash makes a moved row fail. A row changed, inserted, deleted or moved breaks the chain
at that row; rows cut off the end leave a valid chain, which only a kept head (seq, hash) catches.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

__all__ = ["DOMAIN", "GENESIS", "Event", "Verifier", "chain_digest", "chain_hash", "verify_rows"]

DOMAIN = b"binance-mcp/event-log/v1"
GENESIS = "0" * 64


class Event(NamedTuple):
    """An event before it has a place in the log (a tuple: cheap to make, binds as a row)."""

    ts: int  # UTC, microseconds
    command_id: str
    kind: str
    tool: str
    venue: str
    body: str  # JSON


def chain_digest(prev: bytes, seq: int, event: Sequence[object]) -> bytes:
    """The raw SHA-256 link of an Event, or of any (ts, command_id, kind, tool, venue, body): one
    buffer, one hash call (the journal's and verify's hot path)."""
    parts = [DOMAIN, seq.to_bytes(8, "big")]
    for value in event:
        data = str(value).encode()
        parts.append(len(data).to_bytes(4, "big"))
        parts.append(data)
    parts.append(prev)
    return hashlib.sha256(b"".join(parts)).digest()


def chain_hash(prev: str, seq: int, event: Event) -> str:
    return chain_digest(bytes.fromhex(prev), seq, event).hex()


@dataclass
class Verifier:
    """Feed rows (seq, ts, command_id, kind, tool, venue, body, hash) in seq order, one at a time;
    at the first that breaks the chain, `problem` says what and `bad_seq` where."""

    events: int = 0
    head_seq: int = 0
    head: bytes = bytes(32)
    problem: str | None = None
    bad_seq: int | None = None
    seen: dict[int, str] = field(default_factory=dict)  # the hashes at the seqs in `keep`
    keep: frozenset[int] = frozenset()

    @property
    def head_hash(self) -> str:
        return self.head.hex()

    def feed_all(self, rows: Iterable[Sequence[object]]) -> bool:
        """`feed` for every row, in one loop (verify's hot path); False at the first bad one."""
        head, head_seq, events, keep = self.head, self.head_seq, self.events, self.keep
        for row in rows:
            seq, stored = row[0], row[7]
            assert isinstance(seq, int)
            digest = chain_digest(head, seq, row[1:7]) if seq == head_seq + 1 else b""
            if digest.hex() != stored:
                self.head, self.head_seq, self.events = head, head_seq, events
                return self.feed(row)  # names the problem
            head, head_seq, events = digest, seq, events + 1
            if seq in keep:
                self.seen[seq] = str(stored)
        self.head, self.head_seq, self.events = head, head_seq, events
        return True

    def feed(self, row: Sequence[object]) -> bool:
        """False (and `problem` set) once the chain breaks; feed no more after that."""
        seq, ts, command_id, kind, tool, venue, body, stored = row
        assert isinstance(seq, int)
        expected = self.head_seq + 1
        if seq != expected:
            what = "is missing (rows deleted)" if seq > expected else "comes again (rows moved or inserted)"
            self.problem = f"seq {min(seq, expected)} {what}: seq {seq} follows seq {self.head_seq}"
            self.bad_seq = min(seq, expected)
            return False
        digest = chain_digest(self.head, seq, (ts, command_id, kind, tool, venue, body))
        if digest.hex() != stored:
            self.problem = f"seq {seq}: its hash does not match its fields and the hash before it"
            self.bad_seq = seq
            return False
        self.events += 1
        self.head_seq, self.head = seq, digest
        if seq in self.keep:
            self.seen[seq] = stored
        return True


def verify_rows(rows: Iterable[Sequence[object]]) -> int | None:
    """The first `seq` whose hash or order is wrong, or None when the chain holds."""
    verifier = Verifier()
    return None if verifier.feed_all(rows) else verifier.bad_seq
