"""Actor and Supervisor.

An actor owns its state and a bounded asyncio mailbox of `(message, reply)` pairs. `tell` waits
for space (backpressure), `tell_nowait` refuses when there is none; `ask` attaches a future and
waits for the answer. Nothing else puts into a mailbox. Messages are frozen
Structs; the reply future travels beside the message and is never journaled.

The supervisor runs each actor's loop (N loops on one mailbox for a worker pool). When handling
a message raises, it hands the message and its reply to `on_crash` (which answers the caller
with `Failed(internal_error)`), resets the actor to fresh state and goes on with the next
message: the one that crashed is never redelivered.

When it escalates (sets `fatal`, which stops the server): a crash blamed on a message is that
message's failure, answered and never redelivered, so it does not count towards escalation; a
client sending the same bad call again and again gets the same answer each time and cannot stop
a server that serves other calls too. What escalates is what no answer contains: an actor whose
reset fails (it cannot restart), and crashes with no message to blame (its loop itself failing)
more than `max_restarts` times within `window_s` seconds, as Erlang/OTP escalates.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

__all__ = ["Actor", "Crash", "Later", "Reply", "Supervisor"]

log = logging.getLogger("binance_mcp.actors")
Reply = asyncio.Future[Any] | None


class Crash(Exception):
    """An actor failed while handling these messages."""

    def __init__(self, actor: Actor, pairs: list[tuple[Any, Reply]], cause: BaseException):
        super().__init__(f"{actor.name} crashed: {type(cause).__name__}: {cause}")
        self.actor = actor
        self.pairs = pairs
        self.cause = cause


class Actor:
    def __init__(self, name: str, mailbox_size: int = 1024):
        self.name = name
        self.mailbox: asyncio.Queue[tuple[Any, Reply]] = asyncio.Queue(mailbox_size)

    async def tell(self, message: Any, reply: Reply = None) -> None:
        await self.mailbox.put((message, reply))

    def tell_nowait(self, message: Any, reply: Reply = None) -> None:
        """`tell` without waiting, for callers that cannot await (a callback of the client, a
        timer): asyncio.QueueFull when the mailbox has no room, and the message is not sent."""
        self.mailbox.put_nowait((message, reply))

    async def ask(self, message: Any) -> Any:
        reply: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        await self.tell(message, reply)
        return await reply

    @property
    def depth(self) -> int:
        return self.mailbox.qsize()

    def reset(self) -> None:
        """Drop in-memory state after a crash. Actors with state override this."""

    async def handle(self, message: Any, reply: Reply) -> None:
        raise NotImplementedError

    async def step(self) -> None:
        """Take one message (or a batch) from the mailbox and handle it."""
        message, reply = await self.mailbox.get()
        try:
            await self.handle(message, reply)
        except Exception as exc:
            raise Crash(self, [(message, reply)], exc) from exc


class Later:
    """The stage an actor sends to when that stage is built after it: the pipeline's one cycle (the
    limiter admits to the executor, which is built with what the limiter's neighbours need and tells
    the limiter of a back-off). Bound once, by whoever builds both; a `tell` before then is a bug."""

    def __init__(self, role: str):
        self.role = role
        self._actor: Actor | None = None

    def bind(self, actor: Actor) -> None:
        if self._actor is not None:
            raise RuntimeError(f"the {self.role} is bound already")
        self._actor = actor

    async def tell(self, message: Any, reply: Reply = None) -> None:
        if self._actor is None:
            raise RuntimeError(f"no {self.role} is bound")
        await self._actor.tell(message, reply)


class Supervisor:
    def __init__(
        self,
        on_crash: Callable[[Crash], Awaitable[None]],
        *,
        max_restarts: int = 5,
        window_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.on_crash = on_crash
        self.max_restarts = max_restarts
        self.window_s = window_s
        self.clock = clock
        self.restarts: deque[float] = deque()  # crashes with no message to blame, within the window
        self.crashes = 0  # every crash, answered or not
        self.fatal = asyncio.Event()
        self.fatal_error: str | None = None
        self._tasks: list[asyncio.Task[None]] = []

    def start(self, actor: Actor, loops: int = 1) -> None:
        for i in range(loops):
            self._tasks.append(asyncio.create_task(self._loop(actor), name=f"{actor.name}-{i}"))

    async def _loop(self, actor: Actor) -> None:
        while not self.fatal.is_set():
            try:
                await actor.step()
            except Exception as exc:
                # A failure outside any message is a crash too, with nobody to answer.
                crash = exc if isinstance(exc, Crash) else Crash(actor, [], exc)
                log.error("%s", crash, exc_info=crash.cause)
                self.crashes += 1
                await self.on_crash(crash)
                if not crash.pairs and not self._may_restart():
                    self._escalate(
                        f"{actor.name} crashed more than {self.max_restarts} times in {self.window_s:g} s "
                        "with no message to blame"
                    )
                    return
                try:
                    actor.reset()
                except Exception as reset_failed:
                    log.error("%s cannot restart", actor.name, exc_info=reset_failed)
                    self._escalate(f"{actor.name} cannot restart: {type(reset_failed).__name__}")
                    return

    def _escalate(self, why: str) -> None:
        self.fatal_error = why
        self.fatal.set()

    def _may_restart(self) -> bool:
        now = self.clock()
        self.restarts.append(now)
        while self.restarts and self.restarts[0] < now - self.window_s:
            self.restarts.popleft()
        return len(self.restarts) <= self.max_restarts

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
