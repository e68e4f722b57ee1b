"""Whose account: the rule that names a run's account (Python and the `runs` view's SQL agree),
the guard counting its own account's orders, and the `orders` view matching a cancel to an order
within its account."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from binance_mcp.actors.guard import Guard, Ledger
from binance_mcp.events.accounts import AccountRecord, account_id, is_recorded, key_fingerprint, may_be, run_account
from binance_mcp.events.chain import Event
from binance_mcp.events.schema import Dispatched, Logged, Request, encode
from binance_mcp.events.store import EventStore, LogReader

T0 = 1_800_000_000_000_000


def started(account: AccountRecord | None = None, **body: Any) -> str:
    shape: dict[str, Any] = {"venue": "paper", "pid": 1, "calls_per_minute": None, "exchange_rules": True}
    shape |= {"recv_window_ms": 5000, "guard": msgspec.to_builtins(Guard().record()), **body}
    if account is not None:
        shape["account"] = msgspec.to_builtins(account)
    return json.dumps(shape, sort_keys=True)


def record(uid: str | None, key: str | None = "k" * 64, venue: str = "paper") -> AccountRecord:
    fingerprint = key_fingerprint(key) if key else None
    return AccountRecord(
        id=account_id(venue, uid, fingerprint), venue=venue, exchange="embedded", uid=uid, key=fingerprint
    )


def test_an_accounts_id_is_its_venue_and_uid_else_its_keys_fingerprint() -> None:
    assert account_id("live", "354937868", "ab12") == "live:354937868"
    assert account_id("live", None, "ab12") == "live:key-ab12"
    assert account_id("paper", None, None) == "paper:no-key"
    for made in ("live:354937868", "live:key-ab12", "paper:no-key"):
        assert is_recorded(made)
    for derived in ("paper:run-01a2", "live:https://api.binance.com", "testnet:"):
        assert not is_recorded(derived)
    assert key_fingerprint("A" * 64) != key_fingerprint("B" * 64) and len(key_fingerprint("A" * 64)) == 16
    # Facts of a run before accounts: taken as the venue's account, unless its exchange was its own.
    assert may_be("live:1", "live:1") and may_be("live:1", "live:https://api.binance.com")
    assert not may_be("live:1", "live:2") and not may_be("live:1", "testnet:https://testnet.binance.vision")
    assert not may_be("paper:1", "paper:run-01a2")


_STARTED = st.fixed_dictionaries(
    {},
    optional={
        "account": st.builds(record, st.one_of(st.none(), st.from_regex(r"[1-9][0-9]{0,11}", fullmatch=True))),
        "paper": st.fixed_dictionaries({"embedded": st.booleans()}),
        "base_url": st.sampled_from(["http://127.0.0.1:8000", "https://api.binance.com"]),
        "venue": st.sampled_from(["paper", "testnet", "live"]),
    },
)


@given(st.lists(_STARTED, min_size=1, max_size=6))
def test_the_runs_view_names_the_account_as_the_python_rule_does(runs: list[dict[str, Any]]) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        log = Path(folder) / "events.sqlite3"
        store = EventStore(log)
        events = []
        for i, shape in enumerate(runs):
            venue = shape.pop("venue", "paper")
            body = started(shape.pop("account", None), venue=venue, **shape)
            events.append(Event(T0 + i, f"{i:032x}", "started", "", venue, body))
        store.append_batch(events)
        store.close()
        reader = LogReader(log)
        try:
            viewed = dict(reader.query("SELECT run, account FROM runs").fetchall())
        finally:
            reader.close()
    assert viewed == {e.command_id: run_account(e.command_id, e.venue, json.loads(e.body)) for e in events}


def dispatch(command_id: str, value: str) -> Dispatched:
    return Dispatched(
        request=Request(method="POST", path="/api/v3/order", query=""),
        symbol="BTCUSDT",
        client_order_id=f"mcp{command_id}",
        order_id=None,
        quote_asset="USDT",
        notional=Decimal(value),
        ref_price=Decimal(60000),
        guard=Guard().record(),
    )


def dispatched_row(seq: int, command_id: str, value: str) -> Logged:
    return Logged(seq, T0 + seq, command_id, "dispatched", "create_order", encode(dispatch(command_id, value)))


def test_the_guard_counts_its_own_accounts_orders_and_those_of_no_recorded_account() -> None:
    ledger = Ledger(account="live:1")
    ledger.apply(dispatched_row(1, "a" * 32, "100"), account="live:1")
    ledger.apply(dispatched_row(2, "b" * 32, "1000"), account="live:2")  # another account's: not ours
    ledger.apply(dispatched_row(3, "c" * 32, "10"), account="")  # a run before accounts: counted, to be safe
    assert ledger.daily.used("USDT", T0 // 1000 + 10) == Decimal(110)
    assert ledger.take_others_ordered() == [(T0 + 1) // 1000, (T0 + 3) // 1000]
    assert ledger.seen == 3


def test_a_cancel_is_matched_to_the_order_of_its_own_account(tmp_path: Path) -> None:
    """Two accounts, each with an order of id 1 on BTCUSDT; one account cancels its order 1: the
    other account's order 1 stays FILLED."""
    log = tmp_path / "events.sqlite3"
    store = EventStore(log)
    events: list[Event] = []
    order = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.001", "price": "50000"}
    for n, (run, uid, status) in enumerate((("1" * 32, "7", "NEW"), ("2" * 32, "8", "FILLED"))):
        events.append(Event(T0 + 10 * n, run, "started", "", "paper", started(record(uid))))
        placed = f"{n + 3}" * 32
        sent = order if n == 0 else {**order, "side": "buy", "type": " limit"}  # as a client may write them
        received = {"args": sent, "client": "", "run": run, "session": "", "size": 1}
        answer = {"outcome": "executed", "data": {"symbol": "BTCUSDT", "orderId": 1, "status": status}}
        events += [
            Event(T0 + 10 * n + 1, placed, "received", "create_order", "paper", json.dumps(received)),
            Event(
                T0 + 10 * n + 2, placed, "dispatched", "create_order", "paper", encode(dispatch(placed, "50")).decode()
            ),
            Event(T0 + 10 * n + 3, placed, "executed", "create_order", "paper", json.dumps(answer)),
        ]
    cancel = "9" * 32
    received = {"args": {"symbol": "BTCUSDT", "order_id": 1}, "client": "", "run": "1" * 32, "session": "", "size": 1}
    answer = {"outcome": "executed", "data": {"symbol": "BTCUSDT", "orderId": 1, "status": "CANCELED"}}
    events += [
        Event(T0 + 30, cancel, "received", "cancel_order", "paper", json.dumps(received)),
        Event(T0 + 31, cancel, "dispatched", "cancel_order", "paper", encode(dispatch(cancel, "0")).decode()),
        Event(T0 + 32, cancel, "executed", "cancel_order", "paper", json.dumps(answer)),
    ]
    store.append_batch(events)
    store.close()
    reader = LogReader(log)
    try:
        rows = reader.query("SELECT account, order_id, status, canceled_by FROM orders ORDER BY account").fetchall()
        # the view names side and type as the order was sent (upper case), however the client wrote them
        assert reader.query("SELECT count(*) FROM orders WHERE side = 'BUY' AND type = 'LIMIT'").fetchone() == (2,)
        assert reader.accounts() == ["paper:7", "paper:8"]
    finally:
        reader.close()
    assert rows == [("paper:7", 1, "CANCELED", cancel), ("paper:8", 1, "FILLED", None)]
