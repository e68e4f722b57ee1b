"""What a hostile or careless client sends, through the whole pipeline: every call gets a structured
answer, nothing it sends can stop the server or spoil the record, and no look-alike reaches the
exchange. (Each reproducer of the hardening issue is a test here.)"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from binance_mcp.actors.guard import Guard
from binance_mcp.events.outcomes import Executed, Outcome, Rejected
from binance_mcp.events.schema import Received
from binance_mcp.events.store import verify_rows
from binance_mcp.exchange.paper import PaperExchange
from binance_mcp.exchange.paper.app import _load

from ..logs import LogRow, read_log
from .conftest import KEY, SECRET, Harness, build, exchange_server, system_on

ORDER = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.001", "price": "30000"}


def rows_of(log: Path) -> list[LogRow]:
    return read_log(log)


def orders_sent(h: Harness) -> int:
    return h.exchange.served["POST /api/v3/order"] + h.exchange.served["POST /api/v3/order/test"]


def refused(outcome: Outcome, field: str) -> Rejected:
    assert isinstance(outcome, Rejected), outcome
    assert (outcome.kind, outcome.field) == ("validation_error", field), outcome
    return outcome


STOP = {**ORDER, "type": "STOP_LOSS_LIMIT", "stop_price": "30000"}
BY_QUOTE = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quote_quantity": "100"}


@pytest.mark.parametrize(
    ("field", "order"), [("quantity", ORDER), ("price", ORDER), ("stop_price", STOP), ("quote_quantity", BY_QUOTE)]
)
async def test_sixty_overflowing_amounts_are_refused_and_the_server_goes_on(
    tmp_path: Path, field: str, order: dict[str, str]
) -> None:
    async with build(tmp_path, max_restarts=5) as h:
        args = {**order, field: "1e1000000"}
        for _ in range(60):
            outcome = refused(await h.call("test_order", **args), field)
            assert "exponent" in outcome.message
        assert not h.system.supervisor.fatal.is_set() and h.system.supervisor.crashes == 0
        assert isinstance(await h.call("get_ticker_price", symbol="BTCUSDT"), Executed)
        assert orders_sent(h) == 0


async def test_sixty_ages_too_old_for_sqlite_are_refused_and_the_server_goes_on(tmp_path: Path) -> None:
    async with build(tmp_path, max_restarts=5) as h:
        for _ in range(60):
            refused(await h.call("get_audit_log", since="200000000d"), "since")
            refused(await h.call("get_audit_log", until="99999999999w"), "until")
            refused(await h.call("get_account_events", since="200000000d"), "since")
        assert h.system.supervisor.crashes == 0
        assert isinstance(await h.call("get_audit_log", since="2h"), Executed)


async def test_an_eight_byte_amount_gets_an_answer_under_a_kilobyte(tmp_path: Path) -> None:
    async with build(tmp_path) as h:
        for amount in ("1e999999", "9" * 10_000, "1" + "0" * 4000 + ".5"):
            outcome = refused(await h.call("test_order", **{**ORDER, "quantity": amount}), "quantity")
            assert len(outcome.message) < 1000
        rejected = [r.body for r in rows_of(h.log) if r.kind == "rejected"]
        assert len(rejected) == 3 and all(len(b) < 1000 for b in rejected)


@pytest.mark.parametrize(
    ("symbol", "meant"),
    [("ſolusdt", "SOLUSDT"), ("lınkusdt", "LINKUSDT"), ("ＢＴＣＵＳＤＴ", "BTCUSDT"), ("btcusdt\u200b", None)],
)
async def test_look_alike_symbols_are_refused_and_nothing_is_sent(tmp_path: Path, symbol: str, meant: str) -> None:
    async with build(tmp_path, guard=Guard(trading_enabled=True)) as h:
        for tool, args in (("create_order", ORDER), ("test_order", ORDER), ("get_ticker_price", {})):
            outcome = refused(await h.call(tool, **{**args, "symbol": symbol}), "symbol")
            assert "U+" in outcome.message  # names the character
            assert outcome.suggestions == ((meant,) if meant else ())
        assert orders_sent(h) == 0 and h.exchange.served["GET /api/v3/ticker/price"] == 0
        assert isinstance(await h.call("test_order", **{**ORDER, "symbol": "btc/usdt"}), Executed)  # ASCII forgiven


@pytest.mark.parametrize(
    ("field", "amount"),
    [
        ("quantity", "０.００５"),
        ("price", "１５００"),
        ("quantity", "0.00_02"),
        ("price", "1_500"),
        ("price", "30000\u00a0"),  # a no-break space: not an ASCII blank
        ("quantity", "0.001\u3000"),  # an ideographic space
    ],
)
async def test_amounts_in_other_digits_or_with_underscores_are_refused(tmp_path: Path, field: str, amount: str) -> None:
    async with build(tmp_path, guard=Guard(trading_enabled=True)) as h:
        outcome = refused(await h.call("create_order", **{**ORDER, field: amount}), field)
        assert "ASCII digits" in outcome.message
        assert orders_sent(h) == 0


async def test_ascii_spaces_around_an_amount_and_an_id_in_digits_are_forgiven(tmp_path: Path) -> None:
    """As a symbol's spaces are: `quantity: "0.001 "` is 0.001; `order_id: "7"` is order 7."""
    async with build(tmp_path, guard=Guard(trading_enabled=True)) as h:
        spaced = {**ORDER, "quantity": "0.001 ", "price": "\t30000"}
        assert isinstance(await h.call("test_order", **spaced), Executed)
        placed = await h.call("create_order", **{**ORDER, "type": "MARKET", "price": None, "quantity": " 0.001"})
        assert isinstance(placed, Executed)
        found = await h.call("get_order", symbol="BTCUSDT", order_id=str(placed.data["orderId"]))
        assert isinstance(found, Executed) and found.data["orderId"] == placed.data["orderId"]
        refused(await h.call("get_order", symbol="BTCUSDT", order_id="7x"), "order_id")  # digits only
        refused(await h.call("get_order", symbol="BTCUSDT", order_id="９"), "order_id")  # ASCII digits only


async def test_a_listed_symbol_with_letters_of_a_caseless_script_is_taken_exactly(tmp_path: Path) -> None:
    markets = copy.deepcopy(_load("markets.json"))
    market = next(m for m in markets["markets"] if m["info"]["symbol"] == "BNBUSDT")
    market["info"]["symbol"], market["info"]["baseAsset"] = "币安人生USDT", "币安人生"

    exchange = PaperExchange(accounts={KEY: SECRET}, markets=markets)
    async with exchange_server(exchange) as url, system_on(url, tmp_path / "log.sqlite3") as system:
        h = Harness(system, exchange, tmp_path / "log.sqlite3")
        outcome = await h.call("get_ticker_price", symbol="币安人生usdt")
        assert isinstance(outcome, Executed) and outcome.data["symbol"] == "币安人生USDT"
        assert isinstance(await h.call("get_ticker_price", symbol="币安人生"), Rejected)  # not listed


@pytest.mark.parametrize("coin", ["A'B", "A/B", "A?B", "usdt\u0000", "ＵＳＤＴ", "uſdt"])
async def test_coin_and_network_codes_outside_binances_characters_are_refused(tmp_path: Path, coin: str) -> None:
    async with build(tmp_path) as h:
        refused(await h.call("get_deposit_history", coin=coin), "coin")
        refused(await h.call("get_deposit_address", coin="USDT", network=coin), "network")
        assert h.exchange.served["GET /sapi/v1/capital/deposit/hisrec"] == 0


async def test_codes_are_upper_cased_like_assets(tmp_path: Path) -> None:
    async with build(tmp_path) as h:
        outcome = await h.call("get_deposit_address", coin="usdt", network="eth")
        assert isinstance(outcome, Executed)
        assert outcome.data["coin"] == "USDT"


@pytest.mark.parametrize("age", ["２h", "١٢h", "1_0h", "2h\n", "1e3h", "-2h"])
async def test_ages_in_other_digits_are_refused(tmp_path: Path, age: str) -> None:
    async with build(tmp_path) as h:
        refused(await h.call("get_audit_log", since=age), "since")


async def test_klines_with_start_after_end_and_an_unbounded_trade_id_are_refused_before_sending(
    tmp_path: Path,
) -> None:
    async with build(tmp_path) as h:
        refused(await h.call("get_klines", symbol="BTCUSDT", interval="1m", start_time=2000, end_time=1000), "end_time")
        refused(await h.call("get_my_trades", symbol="BTCUSDT", from_id=2**64), "from_id")
        assert h.exchange.served["GET /api/v3/klines"] == 0 and h.exchange.served["GET /api/v3/myTrades"] == 0


TOOL_NAMES = [
    "a\u0000b",
    "create_order\u0000",
    "get_ticker_price\u0000",
    "\ud800",  # a lone surrogate: not Unicode text
    "\u202eredro_etaerc",  # right-to-left override
    "\U0001f600",  # four bytes in UTF-8
    'a"b\\c',
    "x" * 5000,
]


async def test_any_tool_name_is_journaled_as_unknown_and_the_log_verifies(tmp_path: Path) -> None:
    async with build(tmp_path) as h:
        for name in TOOL_NAMES:
            outcome = await h.call(name, symbol="BTCUSDT")
            assert isinstance(outcome, Rejected) and outcome.kind == "unknown_tool"
            assert len(outcome.message) < 300
    rows = rows_of(h.log)
    assert verify_rows(rows) is None
    tools = [r.tool for r in rows if r.kind == "received"]
    assert len(tools) == len(TOOL_NAMES) and len(set(tools)) == len(TOOL_NAMES)  # none mistaken for another
    assert not {"create_order", "get_ticker_price", "a"} & set(tools)
    assert all("\x00" not in t for t in tools)


STRINGS = ["nul\u0000in", "\ud83d", "\udfff alone", "\u202e\u200f rtl", "\U0001f600\U00010348", "\u0085\u2028", "é"]


async def test_every_code_point_class_in_arguments_is_on_record_and_the_log_verifies(tmp_path: Path) -> None:
    async with build(tmp_path) as h:
        for text in STRINGS:
            outcome = await h.call("get_ticker_price", symbol=text, **{text: text})
            assert isinstance(outcome, Rejected) and outcome.kind == "validation_error"
    rows = rows_of(h.log)
    assert verify_rows(rows) is None
    received = [r.event for r in rows if r.kind == "received"]
    assert len(received) == len(STRINGS)
    for text, event in zip(STRINGS, received, strict=True):
        assert isinstance(event, Received)
        if any(0xD800 <= ord(c) <= 0xDFFF for c in text):  # not text: written escaped, and said so
            assert event.escaped is True and "\\ud" in event.args["symbol"]
        else:
            assert event.args == {"symbol": text, text: text}  # exactly as it came


async def test_refusals_lead_to_an_argument_and_a_value_that_pass(tmp_path: Path) -> None:
    async with build(tmp_path, guard=Guard(trading_enabled=True)) as h:
        market = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET"}
        wrong = refused(await h.call("create_order", **market, quoteOrderQty="10"), "quoteOrderQty")
        assert wrong.message.endswith("did you mean quote_quantity?")
        wrong = refused(await h.call("create_order", **market, amount="0.001"), "amount")
        assert wrong.message.endswith("did you mean quantity?")
        wrong = refused(await h.call("cancel_order", symbol="BTCUSDT", orderId=3), "orderId")
        assert wrong.message.endswith("did you mean order_id?")
        wrong = refused(await h.call("get_ticker", symbol="BTCUSDT", zzz=1), "zzz")
        assert "get_ticker takes symbol" in wrong.message  # nothing near: what it takes
        # Too many decimal places: the nearest values that pass; "as strings" only for a JSON number.
        text = refused(await h.call("create_order", **market, quantity="0.0012345678"), "quantity")
        assert text.suggestions == ("0.00123456", "0.00123457") and "0.00123456 or 0.00123457" in text.message
        assert "as strings" not in text.message
        number = refused(await h.call("create_order", **market, quantity=0.0012345678), "quantity")
        assert "Send amounts as strings" in number.message
        assert orders_sent(h) == 0
