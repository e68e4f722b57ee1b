"""The limiter: our MCP call budget, Binance's request weight, and the exchange's back-off.

Each admitted command costs 1 MCP call (`MCP_MAX_REQUESTS_PER_MINUTE`, when
`MCP_RATE_LIMIT_ENABLED`) and its endpoint's request weight (the REQUEST_WEIGHT limit that
exchangeInfo states; 6000 per minute until it is known), from
aiolimiter buckets. The weight bucket is kept in step with the X-MBX-USED-WEIGHT-1M that the
exchange reports on spot answers (exchange/client.py); futures and wallet calls are charged to the
same bucket, though Binance counts them against limits of their own: the safe side. After a 429
or 418 (from any of them) nothing is sent until its Retry-After has passed. Requests that are not
a tool call's own (an order's price and open-order lookups, the reconciler's lookups, the
exchangeInfo read) ask first with `Spend` (`send_spent`): charged to the weight, not to the MCP
call budget, and held back like the rest.

A new order also counts against Binance's ORDERS limits (50 per 10 s and 160,000 per day until
exchangeInfo states them), kept as sliding windows of the times orders left: stricter than the
exchange's fixed windows, rebuilt from the event log at start so a restart cannot be used to
exceed them, and raised to the exchange's own count when X-MBX-ORDER-COUNT-10S / -1D report more.

A command that cannot go now is answered `Throttled(retry_after_ms)` at once: the limiter never
waits, so its mailbox never stalls.
"""

from __future__ import annotations

import asyncio
import bisect
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable

from aiolimiter import AsyncLimiter

from binance_mcp.actors.base import Actor, Later, Reply
from binance_mcp.actors.messages import (
    Admitted,
    Backoff,
    Finish,
    OrderCountSeen,
    OthersOrdered,
    RateBudget,
    Spend,
    Validated,
    WeightSeen,
)
from binance_mcp.events.commands import Command
from binance_mcp.events.outcomes import RATE_LIMITED, Failed, Throttled
from binance_mcp.exchange.client import BinanceClient
from binance_mcp.exchange.client import Reply as ExchangeReply
from binance_mcp.exchange.errors import RateLimited

__all__ = ["Bucket", "Limiter"]


class Bucket(AsyncLimiter):
    """aiolimiter's leaky bucket, drained by the limiter's own clock rather than the event loop's,
    so a re-run of the event log (`audit replay --execute`) keeps the budgets on the log's clock.
    The limiter only ever takes capacity the bucket has, so aiolimiter's timers never wait on it."""

    def __init__(self, max_rate: float, time_period: float, clock: Callable[[], float]):
        super().__init__(max_rate, time_period)
        self._clock = clock
        self._last_check = clock()

    @property
    def level(self) -> float:
        """How much of the bucket is taken now (what has leaked out by the clock's now is not)."""
        self._leak()
        return float(self._level)

    def _leak(self) -> None:
        now = self._clock()
        if self._level:
            self._level = max(self._level - (now - self._last_check) * self._rate_per_sec, 0)
        self._last_check = now


MAX_BUDGETS = 4096  # sessions whose call budget is kept


class Limiter(Actor):
    def __init__(
        self,
        next_stage: Actor | Later,
        journal: Actor,
        *,
        calls_per_minute: int | None = 60,
        weight_per_minute: int = 6000,
        orders_per_10s: int = 50,
        orders_per_day: int = 160_000,
        order_times_ms: Iterable[int] = (),
        clock: Callable[[], float] = time.monotonic,
        clock_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
    ):
        super().__init__("limiter")
        self.next_stage = next_stage
        self.journal = journal
        self.calls_per_minute = calls_per_minute
        self.weight_per_minute = weight_per_minute
        self.clock = clock
        self.clock_ms = clock_ms
        self.orders_per_10s = orders_per_10s
        self.orders_per_day = orders_per_day
        # Survives a restart of the actor: it is what the exchange has counted, not our state.
        self.order_times: deque[int] = deque(sorted(order_times_ms))
        self.seen_10s = (0, 0)  # (count, when) as the exchange last reported them
        self.seen_day = (0, 0)
        self.throttled = 0
        self.reset()

    def reset(self) -> None:
        # The MCP call budget, one per session: over HTTP one noisy client cannot starve another.
        # (Binance's weight and ORDERS are the exchange's, per IP and per account: shared.)
        self.calls: OrderedDict[str, Bucket] = OrderedDict()
        self.weight = Bucket(self.weight_per_minute, 60, self.clock)
        self.backoff_until = 0.0  # the exchange said 429/418: nothing goes out before this
        self.spent_until = 0.0  # its headers say this minute's weight is spent (our inference)
        self.window = -1  # the exchange's fixed one-minute window, as wall-clock minute number
        self.charged = 0  # weight we charged in that window

    def calls_of(self, session: str) -> Bucket | None:
        """The call budget of `session` (None: no budget). The most recent MAX_BUDGETS sessions are
        remembered; an older one starts afresh when it comes back."""
        if not self.calls_per_minute:
            return None
        bucket = self.calls.get(session)
        if bucket is None:
            bucket = self.calls[session] = Bucket(self.calls_per_minute, 60, self.clock)
            while len(self.calls) > MAX_BUDGETS:
                self.calls.popitem(last=False)
        else:
            self.calls.move_to_end(session)
        return bucket

    def _charge_window(self, weight: int) -> None:
        minute = self.clock_ms() // 60_000
        if minute != self.window:
            self.window, self.charged = minute, 0
        self.charged += weight

    async def observe_weight(self, used: int) -> None:
        """The exchange's count of weight used this minute (X-MBX-USED-WEIGHT-1M): when it is
        above ours (another client on the same IP, a restart), charge the difference; when that
        does not fit, hold calls until the exchange's window rolls over."""
        self._charge_window(0)
        extra = used - self.charged
        if extra <= 0:
            return
        if self.weight.has_capacity(extra):
            await self.weight.acquire(extra)  # returns at once: the capacity is there
            self.charged += extra
        else:
            self.spent_until = max(self.spent_until, self.clock() + 60 - self.clock_ms() % 60_000 / 1000)

    def back_off(self, seconds: float) -> None:
        self.backoff_until = max(self.backoff_until, self.clock() + seconds)

    async def set_weight_budget(self, per_minute: int) -> None:
        """Take the exchange's own limit (exchangeInfo rateLimits); Binance has changed it before.
        The new bucket starts with what this minute has already used."""
        if per_minute > 0 and per_minute != self.weight_per_minute:
            self.weight_per_minute = per_minute
            self.weight = Bucket(per_minute, 60, self.clock)
            self.spent_until = 0.0  # judged against the old budget: the next header judges again
            self._charge_window(0)
            used = min(self.charged, per_minute)
            if used:
                await self.weight.acquire(used)  # at once: a fresh bucket has the capacity

    def observe_orders(self, ten_seconds: int | None, day: int | None) -> None:
        now = self.clock_ms()
        if ten_seconds is not None:
            self.seen_10s = (ten_seconds, now)
        if day is not None:
            self.seen_day = (day, now)

    def _orders_within(self, span_ms: int, now: int) -> int:
        while self.order_times and self.order_times[0] <= now - 86_400_000:
            self.order_times.popleft()
        return sum(1 for t in self.order_times if t > now - span_ms)

    def _order_verdict(self) -> Throttled | None:
        now = self.clock_ms()
        for span_ms, limit, seen, label in (
            (10_000, self.orders_per_10s, self.seen_10s, "10 seconds"),
            (86_400_000, self.orders_per_day, self.seen_day, "24 hours"),
        ):
            ours = self._orders_within(span_ms, now)
            theirs = seen[0] if now - seen[1] < span_ms else 0
            if max(ours, theirs) + 1 > limit:
                oldest = next((t for t in self.order_times if t > now - span_ms), now)
                wait = max(oldest + span_ms - now, 1)
                return Throttled(
                    kind=RATE_LIMITED,
                    message=f"Binance allows {limit} new orders per {label} (ORDERS); the order was not sent",
                    retry_after_ms=wait,
                )
        return None

    async def _learn(self, message: Backoff | WeightSeen | RateBudget | OrderCountSeen | OthersOrdered) -> None:
        if isinstance(message, RateBudget):
            if message.per_minute is not None:
                await self.set_weight_budget(message.per_minute)
            self.orders_per_10s = message.orders_per_10s or self.orders_per_10s
            self.orders_per_day = message.orders_per_day or self.orders_per_day
        elif isinstance(message, OrderCountSeen):
            self.observe_orders(message.ten_seconds, message.day)
        elif isinstance(message, OthersOrdered):
            for t in message.times_ms:
                bisect.insort(self.order_times, t)
        elif isinstance(message, Backoff):
            self.back_off(message.seconds)
        else:
            await self.observe_weight(message.used)

    async def handle(
        self,
        message: Validated | Spend | Backoff | WeightSeen | RateBudget | OrderCountSeen | OthersOrdered,
        reply: Reply,
    ) -> None:
        if isinstance(message, Spend):
            verdict = await self.admit(message.weight, tool_call=False)
            if verdict is not None:
                self.throttled += 1
            if reply is not None and not reply.done():
                reply.set_result(verdict)
            return
        if not isinstance(message, Validated):  # what the exchange told us; acknowledged if asked
            await self._learn(message)
            if reply is not None and not reply.done():
                reply.set_result(None)
            return
        places_order = message.command.places_order
        verdict = self._order_verdict() if places_order else None
        verdict = verdict or await self.admit(message.command.weight(), session=message.envelope.session)
        if verdict is not None:
            self.throttled += 1
            await self.journal.tell(Finish(envelope=message.envelope, outcome=verdict), reply)
            return
        if places_order:
            self.order_times.append(self.clock_ms())
        admitted = Admitted(envelope=message.envelope, command=message.command, facts=message.facts)
        await self.next_stage.tell(admitted, reply)

    async def admit(self, weight: int, *, tool_call: bool = True, session: str = "") -> Throttled | None:
        """None, with `weight` (and, for a tool call, one call of `session`'s MCP budget) charged; or why not."""
        now = self.clock()
        if now < self.backoff_until:
            wait = int((self.backoff_until - now) * 1000) + 1
            return Throttled(kind=RATE_LIMITED, message="the exchange asked us to back off", retry_after_ms=wait)
        if now < self.spent_until:
            wait = int((self.spent_until - now) * 1000) + 1
            return Throttled(
                kind=RATE_LIMITED,
                message=f"the exchange reports this minute's {self.weight_per_minute} request weight as used",
                retry_after_ms=wait,
            )
        calls = self.calls_of(session) if tool_call else None
        if calls is not None and not calls.has_capacity(1):
            wait = int(60_000 / calls.max_rate) + 1
            return Throttled(
                kind=RATE_LIMITED,
                message=f"more than {self.calls_per_minute} tool calls per minute (MCP_MAX_REQUESTS_PER_MINUTE)",
                retry_after_ms=wait,
            )
        if weight and not self.weight.has_capacity(weight):
            wait = int(weight * 60_000 / self.weight_per_minute) + 1
            return Throttled(
                kind=RATE_LIMITED,
                message=f"Binance request weight would exceed {self.weight_per_minute} per minute",
                retry_after_ms=wait,
            )
        # Both have capacity, so these acquisitions return at once: the limiter never waits.
        if calls is not None:
            await calls.acquire(1)
        if weight:
            await self.weight.acquire(weight)
            self._charge_window(weight)
        return None


NotSent = Throttled | Failed  # the limiter said no, or it crashed on the question


async def send_spent(limiter: Actor, client: BinanceClient, *commands: Command) -> list[ExchangeReply] | NotSent:
    """Requests that are not a tool call's own (`Spend`): their weight is asked of the limiter
    first, once for all of them; if it says no (`Throttled`), or cannot answer (`Failed`), nothing
    is sent and that is returned. Then they go together; a 429/418 among them starts the back-off as
    a tool call's would."""
    verdict: NotSent | None = await limiter.ask(Spend(weight=sum(c.weight() for c in commands)))
    if verdict is not None:
        return verdict
    try:
        return list(
            await asyncio.gather(
                *(client.request(c.method, c.endpoint, c.binance_params(), signed=c.signed) for c in commands)
            )
        )
    except RateLimited as exc:
        await limiter.tell(Backoff(seconds=exc.retry_after_s))
        raise
