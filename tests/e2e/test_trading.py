"""Account and trading tools over stdio (the SDK's client) against a paper exchange this test runs:
every tool, every order type and time in force, a dry run, cancels by both ids, each filter
rejection with its hint, and the trading guard (live default, caps across a restart, allowlist,
confirmation in both protocol eras)."""

from __future__ import annotations

import copy
import json
import sqlite3
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, StdioServerParameters
from mcp.types import ElicitResult

from binance_mcp.events.commands import client_order_id
from binance_mcp.exchange.paper import RunningPaperExchange, start_paper_exchange
from binance_mcp.exchange.rules import plain

from ..logs import events_of
from .conftest import serve_env

ROOT = Path(__file__).parents[2]
POST = "POST /api/v3/order"


def _markets() -> dict[str, Any]:
    """The shipped markets, with BTCUSDT allowing every order type (the 2024 data has no plain
    STOP_LOSS / TAKE_PROFIT) and ETHUSDT allowing two open orders (to meet MAX_NUM_ORDERS)."""
    text = resources.files("binance_mcp.exchange.paper").joinpath("data", "markets.json").read_text()
    doc: dict[str, Any] = copy.deepcopy(json.loads(text))
    for market in doc["markets"]:
        info = market["info"]
        if info["symbol"] == "BTCUSDT":
            info["orderTypes"] = sorted({*info["orderTypes"], "STOP_LOSS", "TAKE_PROFIT"})
        if info["symbol"] == "ETHUSDT":
            for f in info["filters"]:
                if f["filterType"] == "MAX_NUM_ORDERS":
                    f["maxNumOrders"] = 2
    return doc


MARKETS = _markets()


@asynccontextmanager
async def paper_exchange() -> AsyncIterator[RunningPaperExchange]:
    running = await start_paper_exchange(markets=MARKETS)
    try:
        yield running
    finally:
        await running.stop()


def env_for(running: RunningPaperExchange, log: Path, **extra: str) -> dict[str, str]:
    return serve_env(running, log, MCP_MAX_REQUESTS_PER_MINUTE="10000", **extra)


@asynccontextmanager
async def connect(env: dict[str, str], mode: str = "legacy", elicit: Any = None) -> AsyncIterator[Client]:
    params = StdioServerParameters(
        command=sys.executable, args=[str(ROOT / "server.py"), "serve"], env=env, cwd=str(ROOT)
    )
    async with Client(params, mode=mode, elicitation_callback=elicit) as client:  # type: ignore[arg-type]
        yield client


async def ok(client: Client, tool: str, **args: Any) -> Any:
    result = await client.call_tool(tool, args)
    assert result.is_error is False and result.structured_content is not None, (tool, result.structured_content)
    return result.structured_content["data"]


async def error(client: Client, tool: str, **args: Any) -> dict[str, Any]:
    result = await client.call_tool(tool, args)
    assert result.is_error is True and result.structured_content is not None, (tool, result.structured_content)
    found: dict[str, Any] = result.structured_content["error"]
    return found


def kinds(log: Path, command_id: str) -> list[str]:
    return [r.kind for r in events_of(log, command_id)]


def at(avg: Decimal, factor: str) -> str:
    """A whole-USDT price `factor` times the average price (a multiple of BTCUSDT's tick)."""
    return str(int(avg * Decimal(factor)))


async def test_every_account_and_trading_tool_every_order_type_and_time_in_force(tmp_path: Path) -> None:
    log = tmp_path / "events.sqlite3"
    async with paper_exchange() as running, connect(env_for(running, log)) as client:
        balances = (await ok(client, "get_balance"))["balances"]
        assert {b["asset"] for b in balances} >= {"BTC", "USDT"} and all(Decimal(b["free"]) for b in balances)
        assert (await ok(client, "get_balance", asset="btc"))["balances"] == [
            {"asset": "BTC", "free": "0.50000000", "locked": "0.00000000"}
        ]
        fees = await ok(client, "get_fee_info", symbol="BTCUSDT")
        assert fees["standardCommission"]["taker"] == "0.00100000"
        avg = Decimal((await ok(client, "get_avg_price", symbol="BTCUSDT"))["price"])

        base = {"symbol": "BTCUSDT", "quantity": "0.001"}
        placed: dict[str, dict[str, Any]] = {}
        for name, args, status in (
            ("market", {"side": "BUY", "type": "MARKET"}, "FILLED"),
            ("market by quote", {"side": "BUY", "type": "MARKET", "quote_quantity": 20, "quantity": None}, "FILLED"),
            ("limit gtc", {"side": "BUY", "type": "LIMIT", "price": at(avg, "0.9")}, "NEW"),
            ("limit ioc", {"side": "BUY", "type": "LIMIT", "price": at(avg, "0.9"), "time_in_force": "IOC"}, "EXPIRED"),
            ("limit fok", {"side": "BUY", "type": "LIMIT", "price": at(avg, "0.9"), "time_in_force": "FOK"}, "EXPIRED"),
            ("limit maker", {"side": "BUY", "type": "LIMIT_MAKER", "price": at(avg, "0.9")}, "NEW"),
            ("stop loss", {"side": "BUY", "type": "STOP_LOSS", "stop_price": at(avg, "1.05")}, "NEW"),
            ("take profit", {"side": "BUY", "type": "TAKE_PROFIT", "stop_price": at(avg, "0.95")}, "NEW"),
            (
                "stop loss limit",
                {"side": "SELL", "type": "STOP_LOSS_LIMIT", "stop_price": at(avg, "0.95"), "price": at(avg, "0.94")},
                "NEW",
            ),
            (
                "take profit limit",
                {"side": "SELL", "type": "TAKE_PROFIT_LIMIT", "stop_price": at(avg, "1.05"), "price": at(avg, "1.06")},
                "NEW",
            ),
        ):
            order_args = {k: v for k, v in {**base, **args}.items() if v is not None}
            result = await client.call_tool("create_order", order_args)
            assert result.structured_content is not None and result.is_error is False, (name, result)
            data = result.structured_content["data"]
            command_id = data["clientOrderId"].removeprefix("mcp")
            assert data["clientOrderId"] == client_order_id(command_id)
            assert kinds(log, command_id) == ["received", "dispatched", "executed"], name
            order = await ok(client, "get_order", symbol="BTCUSDT", order_id=data["orderId"])
            assert order["status"] == status, name
            placed[name] = data
        assert Decimal(placed["market by quote"]["cummulativeQuoteQty"]) <= 20
        assert placed["limit fok"]["timeInForce"] == "FOK" and placed["limit gtc"]["timeInForce"] == "GTC"

        open_before = await ok(client, "get_open_orders", symbol="BTCUSDT")
        assert len(open_before) == 6
        dry = await ok(
            client, "test_order", symbol="BTCUSDT", side="BUY", type="LIMIT", quantity="0.001", price=at(avg, "0.9")
        )
        assert dry["standardCommissionForOrder"] == {"maker": "0.00100000", "taker": "0.00100000"}
        assert len(await ok(client, "get_open_orders")) == 6  # the dry run placed nothing (all symbols)

        by_id = await ok(client, "cancel_order", symbol="BTCUSDT", order_id=placed["limit gtc"]["orderId"])
        assert by_id["status"] == "CANCELED" and by_id["orderId"] == placed["limit gtc"]["orderId"]
        client_id = placed["limit maker"]["clientOrderId"]
        by_client = await ok(client, "cancel_order", symbol="BTCUSDT", client_order_id=client_id)
        assert by_client["status"] == "CANCELED" and by_client["origClientOrderId"] == client_id
        rest = await ok(client, "cancel_open_orders", symbol="BTCUSDT")
        assert len(rest) == 4 and {r["status"] for r in rest} == {"CANCELED"}
        assert await ok(client, "get_open_orders", symbol="BTCUSDT") == []

        history = await ok(client, "get_orders", symbol="BTCUSDT")
        assert len(history) == 10
        by_client_id = await ok(
            client, "get_order", symbol="BTCUSDT", client_order_id=placed["market"]["clientOrderId"]
        )
        assert by_client_id["orderId"] == placed["market"]["orderId"]
        trades = await ok(client, "get_my_trades", symbol="BTCUSDT")
        assert {t["orderId"] for t in trades} == {placed["market"]["orderId"], placed["market by quote"]["orderId"]}
        assert await ok(client, "get_my_trades", symbol="BTCUSDT", order_id=placed["market"]["orderId"])
        gone = await error(client, "cancel_order", symbol="BTCUSDT", order_id=placed["market"]["orderId"])
        assert (gone["type"], gone["code"]) == ("order_not_found", -2011) and gone["hint"]
        assert running.exchange.served[POST] == 10 and running.exchange.served["POST /api/v3/order/test"] == 1


async def test_each_filter_rejection_names_the_filter_and_the_fix_and_sends_nothing(tmp_path: Path) -> None:
    log = tmp_path / "events.sqlite3"
    async with paper_exchange() as running, connect(env_for(running, log)) as client:
        avg = Decimal((await ok(client, "get_avg_price", symbol="BTCUSDT"))["price"])
        price = at(avg, "0.9")
        limit = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.001", "price": price}
        for args, field, text in (
            (
                {"price": f"{price}.005"},
                "price",
                f"price {price}.005 is not a multiple of tickSize 0.01 (PRICE_FILTER); nearest valid: "
                f"{price} or {price}.01",
            ),
            (
                {"quantity": "0.001235"},
                "quantity",
                "quantity 0.001235 is not a multiple of stepSize 0.00001 (LOT_SIZE); nearest valid: 0.00123 or 0.00124",
            ),
            (
                {"quantity": "0.000015"},
                "quantity",
                "quantity 0.000015 is not a multiple of stepSize 0.00001 (LOT_SIZE); the nearest on the grid, "
                f"0.00001 or 0.00002, would fail NOTIONAL at {price}: the smallest quantity that passes every filter",
            ),
            (
                {"type": "MARKET", "price": None, "quantity": "130"},
                "quantity",
                "quantity 130 is above maxQty 129.84957276 (MARKET_LOT_SIZE)",
            ),
            ({"quantity": "0.00005"}, "quantity", "(NOTIONAL); at "),
            ({"price": at(avg, "0.1")}, "price", "(PERCENT_PRICE_BY_SIDE)"),
        ):
            order = {k: v for k, v in {**limit, **args}.items() if v is not None}
            found = await error(client, "create_order", **order)
            assert (found["type"], found["field"]) == ("filter_failure", field), found
            assert text in found["message"], found
        notional = await error(client, "create_order", **{**limit, "quantity": "0.00005"})
        smallest = Decimal(notional["message"].rsplit(" ", 1)[1])
        assert smallest * Decimal(price) >= 5 > (smallest - Decimal("0.00001")) * Decimal(price)
        too_precise = await error(client, "create_order", **{**limit, "quantity": "0.000000001"})
        assert too_precise["type"] == "validation_error" and "-1111" in too_precise["message"]
        unsupported = await error(
            client, "create_order", symbol="ETHUSDT", side="BUY", type="STOP_LOSS", quantity=1, stop_price=9999
        )
        assert (
            unsupported["type"] == "order_rejected"
            and "STOP_LOSS orders are not supported for ETHUSDT" in unsupported["message"]
        )
        closed = await error(client, "create_order", symbol="MATICUSDT", side="BUY", type="MARKET", quantity=10)
        assert "Market is closed." in closed["message"]
        no_price = await error(client, "create_order", symbol="BTCUSDT", side="BUY", type="LIMIT", quantity="0.001")
        assert (no_price["type"], no_price["field"]) == ("validation_error", "price")
        assert running.exchange.served[POST] == 0  # none of them left the machine

        eth = Decimal((await ok(client, "get_avg_price", symbol="ETHUSDT"))["price"])
        eth_limit = {"symbol": "ETHUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.01", "price": at(eth, "0.9")}
        for _ in range(2):
            await ok(client, "create_order", **eth_limit)
        full = await error(client, "create_order", **eth_limit)
        assert full["message"] == "ETHUSDT already has 2 open orders, the most allowed is 2 (MAX_NUM_ORDERS)"
        assert running.exchange.served[POST] == 2


async def test_trading_is_off_on_live_by_default_and_nothing_is_sent(tmp_path: Path) -> None:
    log = tmp_path / "events.sqlite3"
    async with paper_exchange() as running:
        env = {**env_for(running, log), "BINANCE_VENUE": "live"}  # live, pointed at the paper exchange
        async with connect(env) as client:
            assert (await ok(client, "get_balance", asset="USDT"))["balances"]  # reads work
            for tool, args in (
                ("create_order", {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001"}),
                ("cancel_open_orders", {"symbol": "BTCUSDT"}),
                ("cancel_order", {"symbol": "BTCUSDT", "order_id": 1}),
            ):
                found = await error(client, tool, **args)
                assert found["type"] == "trading_disabled" and "MCP_TRADING_ENABLED" in found["message"]
            dry = await ok(client, "test_order", symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.001")
            assert "standardCommissionForOrder" in dry  # a dry run trades nothing: it stays available
        assert running.exchange.served[POST] == 0 and running.exchange.served["DELETE /api/v3/openOrders"] == 0
    with sqlite3.connect(log) as conn:
        assert {r[0] for r in conn.execute("SELECT venue FROM events")} == {"live"}


async def test_order_cap_daily_cap_across_a_restart_and_the_allowlist(tmp_path: Path) -> None:
    log = tmp_path / "events.sqlite3"
    async with paper_exchange() as running:
        async with connect(env_for(running, log)) as client:
            price = at(Decimal((await ok(client, "get_avg_price", symbol="BTCUSDT"))["price"]), "0.9")
        value = Decimal(price) / 1000  # of 0.001 BTC at that price
        guard = {
            "MCP_MAX_ORDER_NOTIONAL": str(value * Decimal("1.5")),
            "MCP_MAX_DAILY_NOTIONAL": f"USDT={value * Decimal('2.5')}",
            "MCP_SYMBOL_ALLOWLIST": "btcusdt, BNB/USDT",
        }
        limit = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "price": price}
        async with connect(env_for(running, log, **guard)) as client:
            big = await error(client, "create_order", **limit, quantity="0.002")
            assert big["type"] == "guard_limit"
            assert big["message"] == (
                f"order value {plain(2 * value)} USDT is over MCP_MAX_ORDER_NOTIONAL, "
                f"{plain(value * Decimal('1.5'))} USDT per order; nothing was sent"
            )
            await ok(client, "create_order", **limit, quantity="0.001")
            await ok(client, "create_order", **limit, quantity="0.001")
            over = await error(client, "create_order", **limit, quantity="0.001")
            assert over["type"] == "guard_limit" and "MCP_MAX_DAILY_NOTIONAL" in over["message"]
            assert f"({plain(2 * value)} used)" in over["message"]
            other = await error(client, "create_order", symbol="ETHUSDT", side="BUY", type="MARKET", quantity="0.01")
            assert other["type"] == "symbol_not_allowed" and "BNBUSDT, BTCUSDT" in other["message"]
            no_quote = await error(client, "create_order", symbol="BNBBTC", side="BUY", type="MARKET", quantity="1")
            assert no_quote["type"] == "symbol_not_allowed"
        async with connect(env_for(running, log, **guard)) as client:  # a restart: the log remembers
            again = await error(client, "create_order", **limit, quantity="0.001")
            assert again["type"] == "guard_limit" and f"({plain(2 * value)} used)" in again["message"]
        assert running.exchange.served[POST] == 2


def answering(action: str, confirm: Any = True) -> tuple[Any, list[str]]:
    asked: list[str] = []

    async def elicit(context: Any, params: Any) -> ElicitResult:
        asked.append(params.message)
        return ElicitResult(action=action, content={"confirm": confirm} if action == "accept" else None)  # type: ignore[arg-type]

    return elicit, asked


@pytest.mark.parametrize("mode", ["legacy", "auto"])
@pytest.mark.parametrize(
    ("action", "confirm", "outcome"),
    [
        ("accept", True, "executed"),
        ("accept", False, "declined_by_user"),
        ("decline", None, "declined_by_user"),
        ("cancel", None, "declined_by_user"),
        (None, None, "confirmation_unavailable"),
    ],
)
async def test_confirmation_in_both_protocol_eras(
    tmp_path: Path, mode: str, action: str | None, confirm: Any, outcome: str
) -> None:
    log = tmp_path / "events.sqlite3"
    elicit, asked = answering(action, confirm) if action else (None, [])
    order = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001"}
    async with paper_exchange() as running:
        async with connect(env_for(running, log, MCP_CONFIRM_ORDERS="true"), mode, elicit) as client:
            assert client.protocol_version == ("2025-11-25" if mode == "legacy" else "2026-07-28")
            result = await client.call_tool("create_order", order)
            assert result.structured_content is not None
            dry = await client.call_tool("test_order", order)  # a dry run needs no confirmation
            assert dry.is_error is False
        sent = running.exchange.served[POST]
    payload = result.structured_content
    with sqlite3.connect(log) as conn:
        (command_id,) = conn.execute(
            "SELECT command_id FROM events WHERE kind = 'received' AND tool = 'create_order'"
        ).fetchone()
    if outcome == "executed":
        assert payload["success"] is True and sent == 1
        assert kinds(log, command_id) == ["received", "confirmation_requested", "confirmed", "dispatched", "executed"]
    else:
        assert payload["error"]["type"] == outcome and sent == 0
        expected = ["received", "rejected"] if action is None else ["received", "confirmation_requested", "rejected"]
        assert kinds(log, command_id) == expected
    if action is not None:
        (question,) = asked
        assert question.startswith("Place order: BUY 0.001 BTCUSDT MARKET, worth about ")
        assert question.endswith(" USDT, on the paper venue?")
