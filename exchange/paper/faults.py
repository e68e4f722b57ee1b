"""Faults the paper exchange can inject, per endpoint, for testing clients. Off by default.

Spec syntax (constructor and `--fault` flag alike): `[METHOD ]PATH=MODE[:MS][@TIMES]`, for
example `POST /api/v3/order=drop@1` or `/api/v3/depth=latency:250`. With a METHOD the fault
meets only requests of that method (a GET of the same path passes untouched); without one, any
method. `TIMES` limits the fault to the next N matching requests; without it the fault stays on.
Constructor keys and `Faults.set` take the same `[METHOD ]PATH` form.

| mode        | the request is applied? | the client sees                                   |
|-------------|-------------------------|---------------------------------------------------|
| latency:MS  | yes                     | the normal answer, MS milliseconds late            |
| unavailable | no                      | HTTP 503, -1006 (execution status unknown)        |
| timeout     | yes                     | HTTP 504, -1007 (execution status unknown)        |
| hang        | no                      | nothing, until the client gives up                |
| drop        | yes                     | the connection closed with no answer              |
| malformed   | yes                     | HTTP 200 with a truncated JSON body               |

The target `ws` is the WebSocket API's user data stream (userstream.py): `ws=drop@1` closes the
connection instead of sending the next event (the event is lost with it); `ws=latency:MS`
delays each event. No other mode applies to it.
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


_METHODS = ("GET", "POST", "PUT", "DELETE")


WS_TARGET = ("WS", "/ws-api/v3")  # the user data stream's events


def _target(where: str) -> tuple[str | None, str]:
    """`'POST /api/v3/order'` → ("POST", "/api/v3/order"); `'/api/v3/order'` → (None, …); `ws` →
    the WebSocket API's events."""
    if where.strip().lower() == "ws":
        return WS_TARGET
    method, _, path = where.strip().rpartition(" ")
    method = method.strip().upper()
    if (method and method not in _METHODS) or not path.startswith("/"):
        raise ValueError(f"fault target {where!r}: expected [METHOD ]PATH, METHOD one of {', '.join(_METHODS)}")
    return method or None, path


def parse_fault(spec: str) -> tuple[str, Fault]:
    """`POST /api/v3/order=drop@1` → ("POST /api/v3/order", Fault(DROP, times=1)); ValueError if malformed."""
    where, sep, rest = spec.partition("=")
    if not sep:
        raise ValueError(f"fault spec {spec!r}: expected [METHOD ]PATH=MODE[:MS][@TIMES]")
    try:
        method, path = _target(where)
    except ValueError as exc:
        raise ValueError(f"fault spec {spec!r}: {exc}") from None
    rest, _, times = rest.partition("@")
    mode_text, _, ms = rest.partition(":")
    try:
        mode = FaultMode(mode_text)
    except ValueError:
        raise ValueError(f"fault spec {spec!r}: mode must be one of {', '.join(m.value for m in FaultMode)}") from None
    if (mode is FaultMode.LATENCY) != bool(ms):
        raise ValueError(f"fault spec {spec!r}: latency needs :MS, other modes take none")
    if (method, path) == WS_TARGET and mode not in (FaultMode.DROP, FaultMode.LATENCY):
        raise ValueError(f"fault spec {spec!r}: the ws target takes drop or latency")
    if (ms and not ms.isdigit()) or (times and not times.isdigit()):
        raise ValueError(f"fault spec {spec!r}: MS and TIMES are whole numbers")
    where = "ws" if (method, path) == WS_TARGET else f"{method} {path}" if method else path
    return where, Fault(mode, int(ms or 0), int(times) if times else None)


class Faults:
    """Faults by (method, path); a method of None meets any method. One of a method wins over one
    without."""

    def __init__(self, faults: dict[str, Fault] | None = None):
        self._faults: dict[tuple[str | None, str], Fault] = {}
        for where, fault in (faults or {}).items():
            self.set(where, fault)

    def set(self, where: str, fault: Fault | None) -> None:
        key = _target(where)
        if fault is None:
            self._faults.pop(key, None)
        else:
            self._faults[key] = fault

    def take(self, method: str, path: str) -> Fault | None:
        """The fault for this request, counting it against `times`."""
        key: tuple[str | None, str] = (method.upper(), path)
        fault = self._faults.get(key)
        if fault is None:
            key = (None, path)
            fault = self._faults.get(key)
        if fault is None:
            return None
        if fault.times is not None:
            fault.times -= 1
            if fault.times <= 0:
                del self._faults[key]
        return fault
