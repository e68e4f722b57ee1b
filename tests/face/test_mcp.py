"""What a client sees of the tools: names, hints."""

from __future__ import annotations

from binance_mcp.face.mcp import tools

FAMILIES = frozenset({"spot", "wallet", "futures"})


def test_only_the_event_log_readers_are_a_closed_world() -> None:
    hints = {tool.name: tool.annotations for tool in tools(FAMILIES)}
    assert all(a is not None for a in hints.values())
    closed = sorted(name for name, a in hints.items() if a is not None and a.open_world_hint is False)
    # this server's own log; every other tool reads the exchange
    assert closed == ["get_account_events", "get_audit_log"]
    for name in closed:
        audit = hints[name]
        assert audit is not None and audit.read_only_hint is True
