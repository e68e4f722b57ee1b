"""The API key's permissions, checked at start-up (testnet and live, with credentials).

Least privilege, checked: the server reads GET /sapi/v1/account/apiRestrictions and
- refuses to start when the key can withdraw (`enableWithdrawals`), unless
  MCP_ALLOW_WITHDRAWAL_KEYS=true: a key that can move funds off the exchange is the worst thing an
  assistant could leak;
- warns when the key is not restricted to an IP (`ipRestrict` false);
- warns when the guard lets the assistant trade but the key cannot (`enableSpotAndMarginTrading`);
- notes a venue without the endpoint (the spot testnet has no /sapi), never fatal.
What it found is journaled as a `security` event (`key_permissions`). `judge` is pure.

`identify` names the account the key acts for (every venue with credentials, paper included):
GET /api/v3/account's `uid`, with the key's fingerprint, for the run's `started` (events/accounts.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from binance_mcp.events.accounts import AccountRecord, account_id, key_fingerprint
from binance_mcp.exchange.client import BinanceClient, shown_url
from binance_mcp.exchange.errors import ExchangeError

__all__ = ["KeyVerdict", "check_key", "identify", "judge"]

HOW_TO_TURN_OFF = (
    "On binance.com: Account > API Management > Edit restrictions > untick 'Enable Withdrawals' (and "
    "restrict the key to your IP). Or start with MCP_ALLOW_WITHDRAWAL_KEYS=true if you really mean it."
)
_KEPT = (
    "ipRestrict",
    "enableReading",
    "enableWithdrawals",
    "enableInternalTransfer",
    "enableMargin",
    "enableFutures",
    "permitsUniversalTransfer",
    "enableSpotAndMarginTrading",
    "tradingAuthorityExpirationTime",
)


@dataclass
class KeyVerdict:
    refuse: str | None = None  # why the server must not start
    warnings: list[str] = field(default_factory=list)
    record: dict[str, Any] = field(default_factory=dict)  # the `key_permissions` security event


def judge(
    restrictions: dict[str, Any] | None, unavailable: str | None, *, trading_enabled: bool, allow_withdrawals: bool
) -> KeyVerdict:
    """What to do about the permissions found (or the reason they could not be read)."""
    if restrictions is None:
        return KeyVerdict(
            warnings=[f"the API key's permissions could not be checked: {unavailable}"],
            record={"checked": False, "reason": unavailable},
        )
    found = {k: restrictions[k] for k in _KEPT if k in restrictions}
    verdict = KeyVerdict(record={"checked": True, **found})
    if found.get("enableWithdrawals"):
        if allow_withdrawals:
            verdict.warnings.append("the API key can WITHDRAW funds (allowed by MCP_ALLOW_WITHDRAWAL_KEYS=true)")
        else:
            verdict.refuse = f"the API key can withdraw funds; this server will not run with it. {HOW_TO_TURN_OFF}"
    if not found.get("ipRestrict"):
        verdict.warnings.append("the API key is not restricted to an IP address: restrict it on binance.com")
    if trading_enabled and not found.get("enableSpotAndMarginTrading", False):
        verdict.warnings.append(
            "trading is enabled here but the API key cannot trade (enableSpotAndMarginTrading is off): "
            "create_order and cancels will fail"
        )
    verdict.record["refused"] = verdict.refuse is not None
    return verdict


async def check_key(client: BinanceClient, *, trading_enabled: bool, allow_withdrawals: bool) -> KeyVerdict:
    """Ask the exchange, then `judge`."""
    try:
        reply = await client.request("GET", "/sapi/v1/account/apiRestrictions", signed=True)
    except ExchangeError as exc:
        reason = "this venue has no /sapi/v1/account/apiRestrictions" if exc.status == 404 else exc.message
        return judge(None, reason, trading_enabled=trading_enabled, allow_withdrawals=allow_withdrawals)
    data = reply.data if isinstance(reply.data, dict) else {}
    return judge(data, None, trading_enabled=trading_enabled, allow_withdrawals=allow_withdrawals)


async def identify(
    client: BinanceClient,
    venue: str,
    *,
    embedded: bool = False,
    read: Callable[[], Awaitable[Any]] | None = None,
) -> tuple[AccountRecord, str | None]:
    """The account the client's key acts for, and why its uid could not be read (None when it
    was). `read` gets GET /api/v3/account's answer (the System's goes through its limiter); by
    default the client asks directly. Without credentials: no account (market data only)."""
    credentials = client.credentials
    exchange = "embedded" if embedded else shown_url(client.base_url)
    fingerprint = key_fingerprint(credentials.api_key) if credentials is not None else None
    uid: str | None = None
    problem: str | None = None
    if credentials is not None:
        try:
            if read is None:
                data = (await client.request("GET", "/api/v3/account", {"omitZeroBalances": "true"}, signed=True)).data
            else:
                data = await read()
            found = data.get("uid") if isinstance(data, dict) else None
            if isinstance(found, int | str) and not isinstance(found, bool) and str(found).isdigit():
                uid = str(found)
            else:
                problem = "GET /api/v3/account named no uid"
        except ExchangeError as exc:
            problem = f"GET /api/v3/account: {exc.message}"
    record = AccountRecord(
        id=account_id(venue, uid, fingerprint), venue=venue, exchange=exchange, uid=uid, key=fingerprint
    )
    return record, problem
