"""The API-key permission check at start-up, every branch: refuse a key that can withdraw, the
override, the warnings (no IP restriction; trading on but the key cannot trade), a venue without
the endpoint noted, and what is journaled."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import pytest

from binance_mcp.actors.keycheck import judge
from binance_mcp.events.schema import Security
from binance_mcp.exchange.paper import DEFAULT_API_RESTRICTIONS, start_paper_exchange

from ..logs import read_log
from .conftest import serve_env

ROOT = Path(__file__).parents[2]


def test_judge_every_branch() -> None:
    careful = {**DEFAULT_API_RESTRICTIONS, "ipRestrict": True}
    assert judge(careful, None, trading_enabled=True, allow_withdrawals=False).warnings == []
    withdraws = {**careful, "enableWithdrawals": True}
    refused = judge(withdraws, None, trading_enabled=False, allow_withdrawals=False)
    assert refused.refuse is not None and "Enable Withdrawals" in refused.refuse and refused.record["refused"]
    allowed = judge(withdraws, None, trading_enabled=False, allow_withdrawals=True)
    assert allowed.refuse is None and "WITHDRAW" in allowed.warnings[0]
    open_ip = judge(DEFAULT_API_RESTRICTIONS, None, trading_enabled=False, allow_withdrawals=False)
    assert open_ip.warnings == ["the API key is not restricted to an IP address: restrict it on binance.com"]
    no_trade = {**careful, "enableSpotAndMarginTrading": False}
    assert "cannot trade" in judge(no_trade, None, trading_enabled=True, allow_withdrawals=False).warnings[0]
    assert judge(no_trade, None, trading_enabled=False, allow_withdrawals=False).warnings == []
    noted = judge(None, "no endpoint", trading_enabled=True, allow_withdrawals=False)
    assert noted.refuse is None and noted.record == {"checked": False, "reason": "no endpoint"}


async def _start(env: dict[str, str]) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "server.py"),
        "serve",
        env=env,
        cwd=str(ROOT),
        stdin=asyncio.subprocess.DEVNULL,  # it starts, checks, finds stdin closed and stops
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, err.decode()


def _permissions_event(log: Path) -> dict[str, Any]:
    (security,) = [r.event for r in read_log(log) if r.kind == "security"]
    assert isinstance(security, Security)
    return {"event_type": security.event_type, **security.details}


@pytest.mark.parametrize(
    ("venue", "permissions", "extra", "code", "says", "record"),
    [
        (
            "live",
            {"enableWithdrawals": True, "ipRestrict": True},
            {},
            2,
            "refusing to start: the API key can withdraw",
            {"refused": True},
        ),
        (
            "live",
            {"enableWithdrawals": True, "ipRestrict": True},
            {"MCP_ALLOW_WITHDRAWAL_KEYS": "true"},
            0,
            "WARNING: the API key can WITHDRAW funds",
            {"refused": False, "enableWithdrawals": True},
        ),
        ("live", {}, {}, 0, "WARNING: the API key is not restricted to an IP address", {"ipRestrict": False}),
        (
            "live",
            {"ipRestrict": True, "enableSpotAndMarginTrading": False},
            {"MCP_TRADING_ENABLED": "true"},
            0,
            "WARNING: trading is enabled here but the API key cannot trade",
            {"enableSpotAndMarginTrading": False},
        ),
        (
            "testnet",
            None,
            {},
            0,
            "could not be checked: this venue has no /sapi/v1/account/apiRestrictions",
            {"checked": False},
        ),
    ],
    ids=["withdrawals-refused", "withdrawals-allowed", "no-ip-restriction", "cannot-trade", "no-endpoint"],
)
async def test_the_key_check_at_start_up(
    tmp_path: Path,
    venue: str,
    permissions: dict[str, bool] | None,
    extra: dict[str, str],
    code: int,
    says: str,
    record: dict[str, Any],
) -> None:
    restrictions = None if permissions is None else {**DEFAULT_API_RESTRICTIONS, **permissions}
    running = await start_paper_exchange(api_restrictions=restrictions)
    log = tmp_path / "events.sqlite3"
    try:
        returncode, stderr = await _start(serve_env(running, log, BINANCE_VENUE=venue, **extra))
    finally:
        await running.stop()
    assert returncode == code and says in stderr, stderr
    event = _permissions_event(log)
    assert event["event_type"] == "key_permissions" and record.items() <= event.items()
    kinds = [r.kind for r in read_log(log)]
    assert kinds[0] == "started" and kinds[-1] == "stopped"  # a refusal is a clean stop too
