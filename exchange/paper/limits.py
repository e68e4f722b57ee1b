"""Binance's rate limits as the paper exchange keeps them.

REQUEST_WEIGHT is counted per client IP in fixed one-minute windows (as Binance's
X-MBX-USED-WEIGHT-1M reports it); ORDERS per account over a sliding 10 s window and per UTC day.
A client that goes on sending after it was answered 429 is banned (418) for a time that doubles
with each ban, from `ban_base_s` up to `ban_max_s`. Sans-IO: the caller passes the time in.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

__all__ = ["LimitConfig", "OrderLimiter", "Verdict", "WeightLimiter"]

MINUTE_MS = 60_000
DAY_MS = 86_400_000


def _ceil_s(ms: int) -> int:
    return max(1, -(-ms // 1000))


@dataclass(frozen=True)
class LimitConfig:
    weight_per_minute: int = 6000
    orders_per_10s: int = 50
    orders_per_day: int = 160_000
    ban_after: int = 3  # 429 answers in one window before the IP is banned
    ban_base_s: int = 120
    ban_max_s: int = 3 * 86_400


@dataclass(frozen=True)
class Verdict:
    status: int  # 200, 429 or 418
    used: int
    retry_after_s: int = 0
    banned_until: int = 0


@dataclass
class _IpState:
    window: int = -1
    used: int = 0
    refusals: int = 0
    banned_until: int = 0
    bans: int = 0


class WeightLimiter:
    def __init__(self, config: LimitConfig):
        self.config = config
        self._ips: dict[str, _IpState] = {}

    def charge(self, ip: str, weight: int, now: int) -> Verdict:
        state = self._ips.get(ip)
        if state is None:
            state = self._ips[ip] = _IpState()
        if state.banned_until:
            if now < state.banned_until:
                return Verdict(418, state.used, _ceil_s(state.banned_until - now), state.banned_until)
            state.banned_until, state.used, state.refusals = 0, 0, 0
        window = now - now % MINUTE_MS
        if window != state.window:
            state.window, state.used, state.refusals = window, 0, 0
        state.used += weight
        if state.used <= self.config.weight_per_minute:
            return Verdict(200, state.used)
        state.refusals += 1
        if state.refusals > self.config.ban_after:
            state.bans += 1
            seconds = min(self.config.ban_base_s * 2 ** (state.bans - 1), self.config.ban_max_s)
            state.banned_until = now + seconds * 1000
            return Verdict(418, state.used, seconds, state.banned_until)
        return Verdict(429, state.used, _ceil_s(window + MINUTE_MS - now))

    def refusals(self, ip: str) -> int:
        """How many requests of `ip` this window (or since its ban ended) were refused with a 429."""
        state = self._ips.get(ip)
        return 0 if state is None else state.refusals

    def used(self, ip: str, now: int) -> int:
        state = self._ips.get(ip)
        if state is None or state.window != now - now % MINUTE_MS:
            return 0
        return state.used


@dataclass
class _OrderState:
    recent: deque[int] = field(default_factory=deque)
    day: int = -1
    today: int = 0


class OrderLimiter:
    """New-order counts per account: 10 s sliding window and UTC day."""

    def __init__(self, config: LimitConfig):
        self.config = config
        self._accounts: dict[str, _OrderState] = {}

    def _state(self, key: str, now: int) -> _OrderState:
        state = self._accounts.setdefault(key, _OrderState())
        while state.recent and state.recent[0] <= now - 10_000:
            state.recent.popleft()
        if state.day != now // DAY_MS:
            state.day, state.today = now // DAY_MS, 0
        return state

    def counts(self, key: str, now: int) -> tuple[int, int]:
        state = self._state(key, now)
        return len(state.recent), state.today

    def charge(self, key: str, now: int) -> tuple[str, int] | None:
        """Count a new order; returns (interval text, retry-after s) when over a limit."""
        state = self._state(key, now)
        if len(state.recent) >= self.config.orders_per_10s:
            return f"{self.config.orders_per_10s} orders per 10 SECOND", _ceil_s(state.recent[0] + 10_000 - now)
        if state.today >= self.config.orders_per_day:
            return f"{self.config.orders_per_day} orders per 1 DAY", _ceil_s((state.day + 1) * DAY_MS - now)
        state.recent.append(now)
        state.today += 1
        return None
