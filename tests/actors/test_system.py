"""The pipeline end to end in-process: outcomes, the log, bursts, crashes, back-off, audit failure."""

from __future__ import annotations

import asyncio
import os
import threading
from collections import Counter
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from binance_mcp.actors import journal as journal_module
from binance_mcp.actors.executor import Executor
from binance_mcp.actors.journal import AuditUnavailable
from binance_mcp.actors.messages import Envelope, NeedsConfirmation
from binance_mcp.actors.system import System, new_envelope
from binance_mcp.events.commands import Command
from binance_mcp.events.lifecycle import TERMINAL_KINDS
from binance_mcp.events.outcomes import Executed, Failed, Outcome, Rejected, Throttled
from binance_mcp.events.schema import Received, Started, Stopped
from binance_mcp.events.store import verify_rows
from binance_mcp.exchange.paper import LimitConfig, PaperExchange

from ..logs import LogRow, command_rows, read_log
from .conftest import Harness, build, exchange_server, new_exchange, system_on, writing_threads


def log_rows(path: Path) -> list[LogRow]:
    return read_log(path)


async def test_a_call_is_received_then_executed_in_the_log(harness: Harness) -> None:
    outcome = await harness.call("get_ticker_price", symbol="btc/usdt")
    assert isinstance(outcome, Executed)
    assert outcome.data["symbol"] == "BTCUSDT"
    rows = command_rows(harness.log)
    assert [r.kind for r in rows] == ["received", "executed"]
    assert rows[0].command_id == rows[1].command_id and rows[0].venue == "paper"
    assert '"symbol":"btc/usdt"' in rows[0].body  # the raw arguments, as sent
    received = rows[0].event
    assert isinstance(received, Received) and received.run == harness.system.run_id
    assert verify_rows(log_rows(harness.log)) is None


async def test_a_run_is_on_record_from_started_to_stopped(tmp_path: Path) -> None:
    async with build(tmp_path) as h:
        await h.call("get_ticker_price", symbol="BTCUSDT")
        run = h.system.run_id
    rows = log_rows(h.log)
    assert (rows[0].command_id, rows[0].kind) == (run, "started")
    assert (rows[-1].command_id, rows[-1].kind) == (run, "stopped")
    started, stopped = rows[0].event, rows[-1].event
    assert isinstance(started, Started) and started.pid == os.getpid() and started.venue == "paper"
    assert started.guard.trading_enabled and stopped == Stopped(reason="stopped")
    assert "S" * 64 not in rows[0].body and "K" * 64 not in rows[0].body


async def test_validation_rejections_are_outcomes(harness: Harness) -> None:
    unknown = await harness.call("get_ticker_price", symbol="BTCUSD")
    assert isinstance(unknown, Rejected) and unknown.kind == "unknown_symbol"
    assert unknown.suggestions[0] == "BTCUSDT"
    numeric = await harness.call("get_ticker_price", symbol="12345")
    assert isinstance(numeric, Rejected) and numeric.kind == "validation_error" and numeric.field == "symbol"
    bad_limit = await harness.call("get_recent_trades", symbol="BTCUSDT", limit=0)
    assert isinstance(bad_limit, Rejected) and bad_limit.field == "limit"
    extra = await harness.call("get_ticker", symbol="BTCUSDT", surprise=True)
    assert isinstance(extra, Rejected) and extra.field == "surprise"
    assert isinstance(await harness.call("get_ticker_price", symbol="ETHUSDT"), Executed)  # still working


async def test_burst_of_1000_concurrent_calls_gives_one_terminal_each(harness: Harness) -> None:
    tools = [
        ("get_ticker_price", {"symbol": "BTCUSDT"}),
        ("get_avg_price", {"symbol": "ETHUSDT"}),
        ("get_ticker_price", {"symbol": "NOPE"}),
        ("get_symbol_info", {"symbol": "SOLUSDT"}),
    ]
    outcomes = await asyncio.gather(*(harness.call(t, **a) for t, a in (tools[i % 4] for i in range(1000))))
    assert len(outcomes) == 1000
    assert Counter(type(o).__name__ for o in outcomes) == {"Executed": 750, "Rejected": 250}
    rows = log_rows(harness.log)
    assert verify_rows(rows) is None
    received = {r.command_id for r in rows if r.kind == "received"}
    terminals = Counter(r.command_id for r in rows if r.kind in TERMINAL_KINDS)
    assert len(received) == 1000
    assert set(terminals) == received and set(terminals.values()) == {1}
    assert harness.system.journal.batches < harness.system.journal.appended  # group commit happened


class CrashingExecutor(Executor):
    async def execute(self, command: Command) -> Outcome:
        if getattr(command, "symbol", "") == "ETHUSDT":
            raise RuntimeError("boom")
        return await super().execute(command)


async def test_crash_mid_stream_every_caller_still_gets_an_answer(tmp_path: Path) -> None:
    async with build(tmp_path, executor_cls=CrashingExecutor, max_restarts=100) as h:
        symbols = ["BTCUSDT", "ETHUSDT", "BNBUSDT"] * 20
        outcomes = await asyncio.gather(*(h.call("get_ticker_price", symbol=s) for s in symbols))
        for symbol, outcome in zip(symbols, outcomes, strict=True):
            if symbol == "ETHUSDT":
                assert isinstance(outcome, Failed) and outcome.kind == "internal_error"
            else:
                assert isinstance(outcome, Executed)
        rows = log_rows(h.log)
        assert Counter(r.kind for r in rows if r.kind in TERMINAL_KINDS) == {"executed": 40, "failed": 20}
        assert not h.system.supervisor.fatal.is_set()


async def test_a_flood_of_one_poison_call_leaves_the_server_answering(tmp_path: Path) -> None:
    async with build(tmp_path, executor_cls=CrashingExecutor, max_restarts=2) as h:
        for _ in range(60):
            failed = await h.call("get_ticker_price", symbol="ETHUSDT")
            assert isinstance(failed, Failed) and failed.kind == "internal_error"
            assert "RuntimeError" in failed.message and "boom" not in failed.message  # its type, never its text
        assert not h.system.supervisor.fatal.is_set()
        assert isinstance(await h.call("get_ticker_price", symbol="BTCUSDT"), Executed)
    terminals = Counter(r.kind for r in log_rows(h.log) if r.kind in TERMINAL_KINDS)
    assert terminals == {"failed": 60, "executed": 1}


class LoopFailingExecutor(Executor):
    async def step(self) -> None:
        raise OSError("the executor's own loop")


async def test_crashes_with_no_message_to_blame_stop_the_server_with_a_clear_error(tmp_path: Path) -> None:
    async with build(tmp_path, executor_cls=LoopFailingExecutor, max_restarts=2) as h:
        await asyncio.wait_for(h.system.supervisor.fatal.wait(), 5)
        assert "executor crashed more than 2 times" in (h.system.supervisor.fatal_error or "")
        after = await h.call("get_ticker_price", symbol="BTCUSDT")
        assert isinstance(after, Failed) and "stopping" in after.message


async def test_mcp_call_budget_throttles_at_once(tmp_path: Path) -> None:
    async with build(tmp_path, calls_per_minute=2) as h:
        assert isinstance(await h.call("get_ticker_price", symbol="BTCUSDT"), Executed)
        assert isinstance(await h.call("get_ticker_price", symbol="BTCUSDT"), Executed)
        third = await h.call("get_ticker_price", symbol="BTCUSDT")
        assert isinstance(third, Throttled) and third.retry_after_ms > 0
        assert log_rows(h.log)[-1].kind == "throttled"


async def test_the_budgets_follow_the_systems_clock_not_the_wall_clock(tmp_path: Path) -> None:
    now = [1_700_000_000_000]  # a re-run of the log sets this to each command's recorded time
    async with build(tmp_path, calls_per_minute=2, clock_ms=lambda: now[0]) as h:
        assert isinstance(await h.call("get_ticker_price", symbol="BTCUSDT"), Executed)
        assert isinstance(await h.call("get_ticker_price", symbol="BTCUSDT"), Executed)
        assert isinstance(await h.call("get_ticker_price", symbol="BTCUSDT"), Throttled)
        now[0] += 30_000  # half a minute on this clock frees one call
        assert isinstance(await h.call("get_ticker_price", symbol="BTCUSDT"), Executed)
        assert isinstance(await h.call("get_ticker_price", symbol="BTCUSDT"), Throttled)
        now[0] += 86_400_000  # a day later on the log's clock: the whole budget again, at once
        outcomes = [await h.call("get_ticker_price", symbol="BTCUSDT") for _ in range(3)]
        assert [type(o) for o in outcomes] == [Executed, Executed, Throttled]


async def test_the_weight_budget_is_the_one_exchange_info_states(tmp_path: Path) -> None:
    async with build(tmp_path, limits=LimitConfig(weight_per_minute=60)) as h:
        outcomes = [await h.call("get_ticker_price", symbol="BTCUSDT") for _ in range(40)]
        assert h.system.limiter.weight_per_minute == 60
        # exchangeInfo and the account's id (GET /api/v3/account) at start cost 20 each; each
        # ticker/price costs 2: we stop ourselves at the limit
        assert sum(isinstance(o, Executed) for o in outcomes) == 10
        assert all(isinstance(o, Throttled) for o in outcomes[10:])
        assert h.exchange.weights.refusals("127.0.0.1") == 0  # the exchange never had to refuse


async def test_weight_others_used_is_judged_against_the_exchanges_own_limit(tmp_path: Path) -> None:
    def busy_minute(exchange: PaperExchange) -> None:  # another client spent more than 6000 already
        exchange.weights.charge("127.0.0.1", 7000, exchange.now())

    async with build(tmp_path, limits=LimitConfig(weight_per_minute=100_000), prepare=busy_minute) as h:
        outcome = await h.call("get_ticker_price", symbol="BTCUSDT")
        assert isinstance(outcome, Executed), outcome
        assert h.system.limiter.weight_per_minute == 100_000


async def test_after_a_429_nothing_is_sent_until_retry_after(tmp_path: Path) -> None:
    async with build(tmp_path, limits=LimitConfig(weight_per_minute=100)) as h:
        # another client on the same IP spends the rest of the minute behind our back
        now = h.exchange.now()
        h.exchange.weights.charge("127.0.0.1", 100 - h.exchange.weights.used("127.0.0.1", now), now)
        outcomes = [await h.call("get_ticker_price", symbol="BTCUSDT") for _ in range(12)]
        failed = outcomes[0]
        assert isinstance(failed, Failed) and failed.kind == "rate_limit_exceeded" and failed.code == -1003
        assert all(isinstance(o, Throttled) and o.retry_after_ms > 0 for o in outcomes[1:])
        # The exchange saw exactly one over-limit request: the limiter held back the rest.
        assert h.exchange.weights.refusals("127.0.0.1") == 1


async def test_after_a_429_an_order_sends_not_even_its_price_and_open_order_lookups(tmp_path: Path) -> None:
    async with build(tmp_path, limits=LimitConfig(weight_per_minute=100)) as h:
        now = h.exchange.now()
        h.exchange.weights.charge("127.0.0.1", 100 - h.exchange.weights.used("127.0.0.1", now), now)
        failed = await h.call("get_ticker_price", symbol="BTCUSDT")
        assert isinstance(failed, Failed) and failed.code == -1003  # the exchange said 429: back off
        order = await h.call("create_order", symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.001")
        assert isinstance(order, Throttled) and order.retry_after_ms > 0, order
        assert h.exchange.served["GET /api/v3/avgPrice"] == 0
        assert h.exchange.served["GET /api/v3/openOrders"] == 0
        assert h.exchange.served["POST /api/v3/order"] == 0
        assert h.exchange.weights.refusals("127.0.0.1") == 1
        assert [r.kind for r in command_rows(h.log)][-2:] == ["received", "throttled"]


async def test_an_exchange_info_refresh_waits_out_a_back_off_and_keeps_the_cache(harness: Harness) -> None:
    served = harness.exchange.served["GET /api/v3/exchangeInfo"]
    symbols = harness.system.directory.symbols
    harness.system.limiter.back_off(60)
    with pytest.raises(RuntimeError, match="back off"):
        await harness.system.directory.refresh()
    assert harness.exchange.served["GET /api/v3/exchangeInfo"] == served  # not sent
    assert harness.system.directory.symbols is symbols


async def test_an_orders_lookups_that_would_overrun_the_weight_budget_are_not_sent(tmp_path: Path) -> None:
    # 27 a minute: exchangeInfo at start spends 20, the order's lookups would need 2 + 6 more
    async with build(tmp_path, limits=LimitConfig(weight_per_minute=27)) as h:
        order = await h.call("create_order", symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.001")
        assert isinstance(order, Throttled) and "weight" in order.message, order
        assert h.exchange.served["GET /api/v3/avgPrice"] == 0
        assert h.exchange.served["GET /api/v3/openOrders"] == 0
        assert h.exchange.weights.refusals("127.0.0.1") == 0  # the exchange never had to say no


async def test_a_limiter_that_crashes_on_an_orders_lookups_fails_the_order_and_sends_nothing(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(weight: int, *, tool_call: bool = True) -> None:
        raise RuntimeError("limiter bug")

    monkeypatch.setattr(harness.system.limiter, "admit", broken)
    order = await harness.call("create_order", symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.001")
    assert isinstance(order, Failed) and order.kind == "internal_error", order
    assert "the order was not sent" in order.message
    assert harness.exchange.served["GET /api/v3/avgPrice"] == 0
    assert harness.exchange.served["POST /api/v3/order"] == 0
    assert [r.kind for r in command_rows(harness.log)][-2:] == ["received", "failed"]


async def test_an_orders_lookups_cost_no_tool_call_of_the_call_budget(tmp_path: Path) -> None:
    async with build(tmp_path, calls_per_minute=60) as h:
        calls = h.system.limiter.calls_of("")  # the harness's calls name no session
        assert calls is not None
        before = calls.level
        order = await h.call("create_order", symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.001")
        assert isinstance(order, Executed), order
        assert h.exchange.served["GET /api/v3/avgPrice"] == 1
        assert calls.level - before == pytest.approx(1, abs=0.05)  # the order; its lookups are not calls


async def test_unwritable_log_fails_calls_sends_no_order_and_answers_no_read(harness: Harness) -> None:
    assert isinstance(await harness.call("get_ticker_price", symbol="BTCUSDT"), Executed)
    harness.system.journal.store.conn.execute("PRAGMA query_only=1")  # as if the file turned read-only
    order = await harness.call("create_order", symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.001")
    assert isinstance(order, Failed) and order.kind == "audit_unavailable"
    assert harness.exchange.served["POST /api/v3/order"] == 0  # an order never leaves unrecorded
    # A read may have left before its `received` was refused; its answer is not given unrecorded.
    read = await harness.call("get_ticker_price", symbol="BTCUSDT")
    assert isinstance(read, Failed) and read.kind == "audit_unavailable"
    harness.system.journal.store.conn.execute("PRAGMA query_only=0")
    assert isinstance(await harness.call("get_ticker_price", symbol="BTCUSDT"), Executed)  # and it recovers
    rows = command_rows(harness.log)
    received = {r.command_id for r in rows if r.kind == "received"}
    assert all(r.command_id in received for r in rows)  # nothing of a command whose `received` is missing
    assert [r.kind for r in rows] == ["received", "executed", "received", "executed"]


@pytest.mark.parametrize("tool", ["get_available_assets", "get_symbol_info"])
async def test_exchange_info_tools_are_served_from_the_cache(harness: Harness, tool: str) -> None:
    args = {"quote_asset": "btc"} if tool == "get_available_assets" else {"symbol": "1inch-usdt"}
    outcome = await harness.call(tool, **args)
    assert isinstance(outcome, Executed)
    if tool == "get_available_assets":
        assert {s["quoteAsset"] for s in outcome.data} == {"BTC"}
    else:
        assert outcome.data["symbol"] == "1INCHUSDT" and outcome.data["filters"]


def when_started(system: System, n: int) -> asyncio.Event:
    """An event set once `n` calls have entered the pipeline."""
    started, event = 0, asyncio.Event()

    def counted(envelope: Envelope) -> None:
        nonlocal started
        started += 1
        if started == n:
            event.set()

    system.on_call = counted
    return event


async def test_one_call_at_a_time_commits_on_the_loop_and_calls_together_in_the_writer_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with build(tmp_path) as h:
        seen = writing_threads(h.system.journal, monkeypatch)
        for _ in range(3):
            assert isinstance(await h.call("get_ticker_price", symbol="BTCUSDT"), Executed)
        assert seen == [threading.get_ident()] * 3  # one commit per read, each on the loop
        seen.clear()
        calls = await asyncio.gather(*(h.call("get_ticker_price", symbol="BTCUSDT") for _ in range(20)))
        assert all(isinstance(c, Executed) for c in calls)
        assert any(ident != threading.get_ident() for ident in seen)  # nineteen `received` at once
        assert verify_rows(log_rows(h.log)) is None


async def test_stop_lets_calls_in_flight_finish_and_refuses_new_ones(tmp_path: Path) -> None:
    async with build(tmp_path, log_security=True) as h:
        all_started = when_started(h.system, 20)
        calls = [asyncio.create_task(h.call("get_ticker_price", symbol="BTCUSDT")) for _ in range(20)]
        await all_started.wait()  # all twenty are in flight when stop begins
        await h.system.stop()
        assert all(isinstance(c.result(), Executed) for c in calls)
        late = await h.call("get_ticker_price", symbol="BTCUSDT")
        assert isinstance(late, Failed) and "stopping" in late.message
        rows = log_rows(h.log)
        assert verify_rows(rows) is None
        kinds = Counter(r.kind for r in rows)
        # nothing lost: every call's outcome, and the run's end after them; the security lines
        # are a view of these rows, with none of their own
        assert kinds["received"] == 20 and kinds["executed"] == 20 and kinds["security"] == 0
        assert rows[-1][3] == "stopped"


async def test_a_cancelled_caller_does_not_leave_a_call_without_its_outcome(tmp_path: Path) -> None:
    async with build(tmp_path) as h:
        started = when_started(h.system, 1)
        call = asyncio.create_task(h.call("get_ticker_price", symbol="BTCUSDT"))
        await started.wait()
        call.cancel()  # as when the MCP client cancels the request or closes stdin
        with pytest.raises(asyncio.CancelledError):
            await call
        await h.system.stop()  # waits for the call, which goes on to its outcome
        kinds = [r.kind for r in command_rows(h.log)]
        assert kinds == ["received", "executed"]


async def test_a_writer_thread_that_cannot_start_stops_the_run_before_it_begins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    exchange = new_exchange()
    log = tmp_path / "events.sqlite3"

    class NoThread:  # the journal's writer thread, refused as the OS would
        def __init__(self, *args: Any, **kwargs: Any):
            pass

        def start(self) -> None:
            raise RuntimeError("can't start new thread")

    async with exchange_server(exchange) as url:
        monkeypatch.setattr(journal_module, "threading", SimpleNamespace(Thread=NoThread))
        with pytest.raises(AuditUnavailable):  # no run without its record: `started` cannot be written
            async with system_on(url, log):
                pass
        assert exchange.served["GET /api/v3/exchangeInfo"] == 0  # nothing went out unrecorded
        monkeypatch.setattr(journal_module, "threading", threading)
        async with system_on(url, log) as system:
            assert isinstance((await system.ask(new_envelope("get_ticker_price", {"symbol": "BTCUSDT"}, 20))), Executed)


async def test_each_session_has_its_own_call_budget(tmp_path: Path) -> None:
    """MCP_MAX_REQUESTS_PER_MINUTE per session: one noisy client does not starve another."""
    async with build(tmp_path, calls_per_minute=3) as h:

        async def call(session: str) -> Outcome | NeedsConfirmation:
            return await h.system.ask(new_envelope("get_ticker_price", {"symbol": "BTCUSDT"}, 20, session=session))

        noisy = [await call("noisy") for _ in range(4)]
        assert [type(o).__name__ for o in noisy] == ["Executed", "Executed", "Executed", "Throttled"]
        quiet = [await call("quiet") for _ in range(3)]
        assert all(isinstance(o, Executed) for o in quiet)
