"""A paper exchange's state on disk: an exchange restored from it is the exchange that wrote it,
balances, orders, fills, order ids and market alike, for any sequence of placements, cancels and
time passing (hypothesis); a state written by a refusal changes nothing."""

from __future__ import annotations

import asyncio
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from binance_mcp.exchange.paper import PaperExchange
from binance_mcp.exchange.paper.state import PaperState

from .conftest import KEY, SECRET, T0, ManualClock, PaperClient, make_exchange


def snapshot(exchange: PaperExchange, now: int) -> dict[str, Any]:
    """Everything a client could learn of the account and the market at `now`."""
    market = exchange.market("BTCUSDT", now)
    account = exchange.engine.accounts[KEY]
    for symbol in {o.symbol for o in account.orders.values()}:
        exchange.market(symbol, now)
    return {
        "balances": {a: (b.free, b.locked) for a, b in sorted(account.balances.items()) if b.free or b.locked},
        "orders": [
            (o.order_id, o.client_order_id, o.status, o.executed_qty, o.cum_quote, o.update_time)
            for o in account.orders.values()
        ],
        "fills": [(f.trade_id, f.price, f.qty, f.commission) for f in account.fills],
        "next_order_id": exchange.engine.next_order_id(),
        "last_price": market.last_price,
        "trades": len(market.trades),
    }


STEP = st.tuples(
    st.integers(min_value=0, max_value=120_000),  # time passing first, in ms
    st.sampled_from(["market_buy", "market_sell", "rest_buy", "rest_sell", "cross_buy", "cancel", "cancel_all"]),
    st.integers(min_value=0, max_value=9),
)


async def play(paper: PaperClient, action: str, pick: int) -> None:
    bids, asks = paper.exchange.market("BTCUSDT", paper.clock()).book()
    order: dict[str, Any] = {"symbol": "BTCUSDT", "quantity": "0.001"}
    if action in ("market_buy", "market_sell"):
        await paper.order(**order, side="BUY" if action == "market_buy" else "SELL", type="MARKET")
    elif action in ("rest_buy", "rest_sell", "cross_buy"):
        buy = action != "rest_sell"
        base = bids[0][0] if buy else asks[0][0]
        factor = {"rest_buy": "0.998", "rest_sell": "1.002", "cross_buy": "1.001"}[action]
        price = (base * Decimal(factor)).quantize(Decimal("0.01"))
        side = "BUY" if buy else "SELL"
        await paper.order(**order, side=side, type="LIMIT", timeInForce="GTC", price=str(price))
    else:
        opens = paper.exchange.engine.accounts[KEY].open_orders("BTCUSDT")
        if action == "cancel" and opens:
            await paper.signed("DELETE", "/api/v3/order", symbol="BTCUSDT", orderId=opens[pick % len(opens)].order_id)
        elif action == "cancel_all":
            await paper.signed("DELETE", "/api/v3/openOrders", symbol="BTCUSDT")


async def written_then_restored(folder: Path, steps: list[tuple[int, str, int]]) -> tuple[Any, Any, Any, Any]:
    clock = ManualClock()
    state = PaperState(folder)
    original = make_exchange(clock, state=state, started_at=T0)
    async with TestClient(TestServer(original.app())) as client:
        paper = PaperClient(client, original, clock)
        for gap, action, pick in steps:
            clock.advance(gap)
            await play(paper, action, pick)
    restored = PaperExchange(started_at=T0, clock=clock, market_config=original.market_config)
    restored.add_account(KEY, SECRET, uid=original.engine.accounts[KEY].uid)
    assert restored.restore(state.actions()) == []
    state.close()
    now, later = clock(), clock() + 600_000  # and both run on to the same later time
    return snapshot(original, now), snapshot(restored, now), snapshot(original, later), snapshot(restored, later)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(STEP, min_size=1, max_size=12))
def test_an_exchange_restored_from_its_state_is_the_exchange_that_wrote_it(steps: list[tuple[int, str, int]]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        now_a, now_b, later_a, later_b = asyncio.run(written_then_restored(Path(folder), steps))
    assert now_b == now_a
    assert later_b == later_a
    if any(action not in ("cancel", "cancel_all") for _, action, _ in steps):
        assert now_a["orders"]  # something was placed: the comparison is of something


async def test_a_refused_order_is_not_kept(tmp_path: Path) -> None:
    clock = ManualClock()
    state = PaperState(tmp_path)
    exchange = make_exchange(clock, state=state, started_at=T0)
    async with TestClient(TestServer(exchange.app())) as client:
        paper = PaperClient(client, exchange, clock)
        refused = await paper.order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="1000")  # far too much
        assert refused.status == 400
        placed = await paper.order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.001")
        assert placed.status == 200
    kinds = [kind for kind, _, _ in state.actions()]
    state.close()
    assert kinds == ["place"]
