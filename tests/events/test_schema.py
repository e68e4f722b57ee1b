"""The log's language: every event of a schema-2 log decodes to its Struct and encodes back to the
same bytes; a body that is not what its kind says is `Unreadable`, never an exception."""

from __future__ import annotations

import shutil
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest

from binance_mcp.events.lifecycle import OUTSIDE, TERMINAL_KINDS
from binance_mcp.events.outcomes import Executed, Rejected
from binance_mcp.events.schema import KINDS, Dispatched, Reconciled, Security, Started, Unreadable, decode, encode

FIXTURE = Path(__file__).parent / "fixtures" / "log-schema2.sqlite3"


def fixture_rows(tmp_path: Path) -> list[tuple[str, str]]:
    log = tmp_path / "old.sqlite3"
    shutil.copyfile(FIXTURE, log)
    with sqlite3.connect(log) as conn:
        return conn.execute("SELECT kind, body FROM events ORDER BY seq").fetchall()


def test_every_event_of_a_schema_2_log_decodes_and_encodes_back_to_its_bytes(tmp_path: Path) -> None:
    rows = fixture_rows(tmp_path)
    # Every kind but two, and those that came after it (halted and resumed: the several-hosts issue;
    # the account stream's three; paper_reset: the accounts issue)
    later = {"halted", "resumed", "account_event", "stream_connected", "stream_lost", "paper_reset"}
    assert {kind for kind, _ in rows} == set(KINDS) - {"throttled", "failed"} - later
    for kind, body in rows:
        event = decode(kind, body)
        assert not isinstance(event, Unreadable), event
        assert encode(event).decode() == body


def test_the_schema_knows_every_kind_the_lifecycle_names() -> None:
    assert set(KINDS) == set(TERMINAL_KINDS) | OUTSIDE | {"received", "confirmation_requested", "confirmed"} | {
        "dispatched",
        "reconciled",
    }


def test_fields_are_typed(tmp_path: Path) -> None:
    events = [decode(kind, body) for kind, body in fixture_rows(tmp_path)]
    dispatched = [e for e in events if isinstance(e, Dispatched)]
    assert dispatched[0].request.method == "POST" and isinstance(dispatched[0].notional, Decimal)
    started = next(e for e in events if isinstance(e, Started))
    assert started.paper and started.paper.embedded is True and started.guard.trading_enabled is True
    reconciled = next(e for e in events if isinstance(e, Reconciled))
    assert reconciled.placed is True and reconciled.status == "FILLED" and reconciled.order_id == 1
    security = next(e for e in events if isinstance(e, Security))
    assert security.event_type == "key_permissions" and security.details == {"can_trade": True, "can_withdraw": False}
    assert any(isinstance(e, Rejected) and e.kind == "unknown_tool" for e in events)
    assert any(isinstance(e, Executed) for e in events)


@pytest.mark.parametrize(
    ("kind", "body"),
    [
        ("dispatched", "{}"),
        ("received", "not json"),
        ("security", '{"event_type": 5}'),
        ("security", "{}"),
        ("executed", '{"outcome":"executed","truncated":true,"size":70000,"sha256":"ab"}'),
        ("halted", "{}"),
        ("rejected", '{"outcome":"executed","data":1}'),
    ],
)
def test_a_body_that_is_not_what_its_kind_says_is_unreadable(kind: str, body: str) -> None:
    event = decode(kind, body)
    assert isinstance(event, Unreadable) and event.of_kind == kind and event.body == body


async def test_what_the_writers_write_decodes_to_the_schema_and_back(tmp_path: Path) -> None:
    from tests.actors.conftest import build

    async with build(tmp_path) as h:
        await h.system.open_session("c", "1", "2025-06-18")
        await h.call("get_ticker_price", symbol="BTCUSDT")
        await h.call("test_order", symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.001")
        await h.call("no_such_tool")
        await h.call("get_ticker_price", symbol="\ud800")  # written escaped, and said so
        await h.system.security_event("key_permissions", h.system.run_id, "", can_trade=True)
    with sqlite3.connect(h.log) as conn:
        rows = conn.execute("SELECT kind, body FROM events ORDER BY seq").fetchall()
    assert {"started", "session", "received", "executed", "rejected", "security", "stopped"} <= {k for k, _ in rows}
    for kind, body in rows:
        event = decode(kind, body)
        assert not isinstance(event, Unreadable), event
        assert encode(event).decode() == body


def test_the_docs_table_of_kinds_names_every_field_of_the_schema() -> None:
    import re

    import msgspec

    readme = (Path(__file__).parents[2] / "docs" / "event-log.md").read_text()
    rows = {m.group(1): m.group(3) for m in re.finditer(r"^\| `(\w+)` \| `(\w+)` \| (.*) \|$", readme, re.M)}
    for kind, cls in KINDS.items():
        assert kind in rows, kind
        info = msgspec.inspect.type_info(cls)
        assert isinstance(info, msgspec.inspect.StructType)
        names = {f.encode_name for f in info.fields} | ({"outcome"} if kind in TERMINAL_KINDS else set())
        top_level = re.sub(r"\([^)]*\)", "", rows[kind])  # a nested Struct's fields are in brackets
        assert set(re.findall(r"`(\w+)`", top_level)) == names, kind


def test_every_json_path_the_sql_reads_names_a_field_of_the_schema() -> None:
    """The views and queries read bodies with SQLite's JSON paths, which mypy cannot see: each
    path's first name must be a field of some kind's Struct, and `$.args.NAME` an argument of
    some tool (a field renamed in the schema fails here, not silently in a view)."""
    import re

    import msgspec

    from binance_mcp.events.commands import COMMANDS

    fields: set[str] = {"outcome"}
    for cls in KINDS.values():
        info = msgspec.inspect.type_info(cls)
        assert isinstance(info, msgspec.inspect.StructType)
        fields |= {f.encode_name for f in info.fields}
    from binance_mcp.events.schema import SECURITY_DETAILS

    fields |= {f for cls in SECURITY_DETAILS for f in cls.__struct_fields__}
    arguments = {f for cls in COMMANDS.values() for f in cls.__struct_fields__}
    root = Path(__file__).parents[2]
    sources = ["events/store.py", "face/audit.py", "events/audit.py", "face/rerun.py"]
    paths = [p for name in sources for p in re.findall(r"'\$\.([A-Za-z_.]+)'", (root / name).read_text())]
    assert len(paths) > 20  # the views are read
    for path in paths:
        first, *rest = path.split(".")
        assert first in fields, path
        if first == "args" and rest:
            assert rest[0] in arguments, path


def test_the_audit_tool_names_the_outcomes_the_lifecycle_has() -> None:
    import msgspec

    from binance_mcp.events.commands import GetAuditLog
    from binance_mcp.events.lifecycle import SETTLED_KINDS

    info = msgspec.inspect.type_info(GetAuditLog)
    assert isinstance(info, msgspec.inspect.StructType)
    (outcome,) = (f.type for f in info.fields if f.name == "outcome")
    assert isinstance(outcome, msgspec.inspect.UnionType)
    named = {v for t in outcome.types if isinstance(t, msgspec.inspect.LiteralType) for v in t.values}
    assert named == {*TERMINAL_KINDS, "pending"}
    assert set(SETTLED_KINDS) == (set(TERMINAL_KINDS) - {"unknown"}) | {"reconciled"}


def test_the_shapes_of_earlier_logs_still_decode() -> None:
    """Keys added since the first logs are optional: a schema-1 `received` (args, client, size) and
    a `dispatched` of the first orders (no base asset) decode, and encode back to themselves."""
    received = '{"args":{"symbol":"BTCUSDT"},"client":"claude/1","size":20}'
    dispatched = (
        '{"client_order_id":"mcpx","guard":{"confirm_orders":false,"max_daily_notional":null,'
        '"max_order_notional":null,"symbol_allowlist":null,"trading_enabled":true},"notional":"58.1",'
        '"order_id":null,"quote_asset":"USDT","ref_price":"58100","request":{"method":"POST",'
        '"path":"/api/v3/order","query":"q"},"symbol":"BTCUSDT"}'
    )
    for kind, body in (("received", received), ("dispatched", dispatched)):
        event = decode(kind, body)
        assert not isinstance(event, Unreadable), event
        assert encode(event).decode() == body
