"""Faults the paper exchange can inject, per endpoint, for testing clients. Off by default.

Spec syntax (constructor and `--fault` flag alike): `PATH=MODE[:MS][@TIMES]`, for example
`/api/v3/order=drop@1` or `/api/v3/depth=latency:250`. `TIMES` limits the fault to the next
N matching requests; without it the fault stays on.

| mode        | the request is applied? | the client sees                                   |
|-------------|-------------------------|---------------------------------------------------|
| latency:MS  | yes                     | the normal answer, MS milliseconds late            |
| unavailable | no                      | HTTP 503, -1006 (execution status unknown)        |
| timeout     | yes                     | HTTP 504, -1007 (execution status unknown)        |
| hang        | no                      | nothing, until the client gives up                |
| drop        | yes                     | the connection closed with no answer              |
| malformed   | yes                     | HTTP 200 with a truncated JSON body               |
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["Fault", "FaultMode", "Faults", "parse_fault"]


class FaultMode(StrEnum):
    LATENCY = "latency"
    UNAVAILABLE = "unavailable"
    TIMEOUT = "timeout"
    HANG = "hang"
    DROP = "drop"
    MALFORMED = "malformed"


@dataclass
class Fault:
    mode: FaultMode
    latency_ms: int = 0
    times: int | None = None


def parse_fault(spec: str) -> tuple[str, Fault]:
    """`/api/v3/order=drop@1` → ("/api/v3/order", Fault(DROP, times=1)); ValueError if malformed."""
    path, sep, rest = spec.partition("=")
    if not sep or not path.startswith("/"):
        raise ValueError(f"fault spec {spec!r}: expected PATH=MODE[:MS][@TIMES]")
    rest, _, times = rest.partition("@")
    mode_text, _, ms = rest.partition(":")
    try:
        mode = FaultMode(mode_text)
    except ValueError:
        raise ValueError(f"fault spec {spec!r}: mode must be one of {', '.join(m.value for m in FaultMode)}") from None
    if (mode is FaultMode.LATENCY) != bool(ms):
        raise ValueError(f"fault spec {spec!r}: latency needs :MS, other modes take none")
    if (ms and not ms.isdigit()) or (times and not times.isdigit()):
        raise ValueError(f"fault spec {spec!r}: MS and TIMES are whole numbers")
    return path, Fault(mode, int(ms or 0), int(times) if times else None)


class Faults:
    def __init__(self, faults: dict[str, Fault] | None = None):
        self._faults = dict(faults or {})

    def set(self, path: str, fault: Fault | None) -> None:
        if fault is None:
            self._faults.pop(path, None)
        else:
            self._faults[path] = fault

    def take(self, path: str) -> Fault | None:
        """The fault for this request, counting it against `times`."""
        fault = self._faults.get(path)
        if fault is None:
            return None
        if fault.times is not None:
            fault.times -= 1
            if fault.times <= 0:
                del self._faults[path]
        return fault
