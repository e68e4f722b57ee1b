"""Actor and Supervisor on their own."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from binance_mcp.actors.base import Actor, Crash, Later, Reply, Supervisor


class Echo(Actor):
    def __init__(self) -> None:
        super().__init__("echo", mailbox_size=2)
        self.state = 0
        self.step_fails = False

    async def step(self) -> None:
        if self.step_fails:
            self.step_fails = False
            raise OSError("outside any message")
        await super().step()

    async def handle(self, message: Any, reply: Reply) -> None:
        if message == "boom":
            raise ValueError("boom")
        self.state += 1
        assert reply is not None
        reply.set_result((message, self.state))

    def reset(self) -> None:
        self.state = 0


async def answer_failed(crash: Crash) -> None:
    for _, reply in crash.pairs:
        assert reply is not None
        reply.set_result("failed")


async def test_a_crash_is_reported_once_the_actor_restarts_fresh_and_goes_on() -> None:
    crashes: list[Crash] = []

    async def on_crash(crash: Crash) -> None:
        crashes.append(crash)
        for _, reply in crash.pairs:
            assert reply is not None
            reply.set_result("failed")

    echo, supervisor = Echo(), Supervisor(on_crash)
    supervisor.start(echo)
    assert await echo.ask("a") == ("a", 1)
    assert await echo.ask("boom") == "failed"
    assert await echo.ask("b") == ("b", 1)  # fresh state after the restart
    echo.step_fails = True  # seen at the start of the step after the one already waiting
    assert await echo.ask("c") == ("c", 2)
    assert await echo.ask("d") == ("d", 1)  # a failure outside a message restarts it too
    assert [type(c.cause) for c in crashes] == [ValueError, OSError]
    assert crashes[1].pairs == []
    await supervisor.stop()


async def test_crashes_blamed_on_messages_never_escalate_however_many() -> None:
    echo = Echo()
    supervisor = Supervisor(answer_failed, max_restarts=2, window_s=10, clock=lambda: 0.0)
    supervisor.start(echo)
    for _ in range(60):  # the same poison message, far past max_restarts within the window
        assert await asyncio.wait_for(echo.ask("boom"), 5) == "failed"  # a stopped loop would never answer
    assert not supervisor.fatal.is_set()
    assert await echo.ask("a") == ("a", 1)
    assert supervisor.crashes == 60
    await supervisor.stop()


async def test_crashes_with_no_message_to_blame_escalate_past_max_restarts_in_the_window() -> None:
    now = [0.0]
    echo = Echo()

    async def on_crash(crash: Crash) -> None:
        assert crash.pairs == []

    supervisor = Supervisor(answer_failed, max_restarts=2, window_s=10, clock=lambda: now[0])
    supervisor.start(echo)

    async def loop_fails() -> None:
        echo.step_fails = True  # seen at the start of the step after the one already waiting
        assert (await echo.ask("x"))[0] == "x"

    await loop_fails()
    now[0] = 20.0  # the first crash has left the window
    await loop_fails()
    await loop_fails()
    assert not supervisor.fatal.is_set()
    await loop_fails()  # the third within the window
    await asyncio.wait_for(supervisor.fatal.wait(), 5)
    assert supervisor.fatal_error == "echo crashed more than 2 times in 10 s with no message to blame"
    await supervisor.stop()


class Unrestartable(Echo):
    def reset(self) -> None:
        raise RuntimeError("state cannot be rebuilt")


async def test_an_actor_that_cannot_restart_escalates_at_once() -> None:
    echo = Unrestartable()
    supervisor = Supervisor(answer_failed, max_restarts=100)
    supervisor.start(echo)
    assert await echo.ask("boom") == "failed"
    await asyncio.wait_for(supervisor.fatal.wait(), 5)
    assert supervisor.fatal_error == "echo cannot restart: RuntimeError"
    await supervisor.stop()


async def test_tell_waits_for_room_in_a_full_mailbox() -> None:
    echo = Echo()  # not started: nothing drains the mailbox yet
    await echo.tell("x", None)
    await echo.tell("y", None)
    third = asyncio.create_task(echo.tell("z", None))
    await asyncio.wait([third], timeout=0)
    assert not third.done() and echo.depth == 2
    echo.mailbox.get_nowait()
    await asyncio.wait_for(third, 5)
    assert echo.depth == 2


async def test_tell_nowait_refuses_when_the_mailbox_is_full_and_sends_nothing() -> None:
    echo = Echo()  # not started: mailbox of 2
    echo.tell_nowait("x")
    echo.tell_nowait("y")
    with pytest.raises(asyncio.QueueFull):
        echo.tell_nowait("z")
    assert [echo.mailbox.get_nowait()[0] for _ in range(echo.depth)] == ["x", "y"]


async def test_a_later_stage_is_bound_once_and_passes_tells_on() -> None:
    later, echo = Later("echo"), Echo()
    with pytest.raises(RuntimeError, match="no echo is bound"):
        await later.tell("early")
    later.bind(echo)
    with pytest.raises(RuntimeError, match="bound already"):
        later.bind(Echo())
    await later.tell("x")
    assert echo.mailbox.get_nowait() == ("x", None)
