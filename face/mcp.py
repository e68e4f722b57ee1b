"""The MCP face: the tools a client sees, and the handlers that turn each `tools/call` into an
envelope for the System and its outcome into an MCP result. Any transport serves the `Server` this
builds (stdio today: face/stdio.py; Streamable HTTP next).

- `tools/list`: every tool, one the venue cannot serve marked in its description;
- `tools/call`: an envelope (arguments over 16 KiB are not stored, only their size), the session
  of its client (face/session.py), the System's outcome as `structuredContent` plus the same JSON
  as text; an unknown tool is journaled first, then refused as a protocol error;
- confirmation in both protocol eras (face/confirm.py): the legacy era asks within the call, the
  2026-07-28 era answers `InputRequiredResult` and the retried call carries the person's answer,
  sealed by the SDK's `RequestStateBoundary` so it can only name the command it was asked for.

It never raises into the SDK but for the unknown tool, and knows MCP, not Binance HTTP.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import msgspec
from mcp import MCPError
from mcp.server import Server, ServerRequestContext
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.request_state import RequestStateBoundary, RequestStateSecurity
from mcp.types import (
    INVALID_PARAMS,
    CallToolRequestParams,
    CallToolResult,
    InputRequiredResult,
    ListToolsResult,
    TextContent,
    Tool,
    ToolAnnotations,
)

from binance_mcp import __version__
from binance_mcp.actors.messages import NeedsConfirmation
from binance_mcp.actors.system import System, new_envelope
from binance_mcp.actors.validator import MAX_ARGS_BYTES, UNSUPPORTED
from binance_mcp.events.answers import output_schema
from binance_mcp.events.budget import DEFAULT_BUDGET, fit
from binance_mcp.events.commands import COMMANDS, Command, input_schema
from binance_mcp.events.outcomes import Executed, Outcome, echo
from binance_mcp.face import confirm
from binance_mcp.face.session import Sessions

__all__ = ["INSTRUCTIONS", "TITLES", "mcp_server", "tool_result", "tools"]

# What the model should know before its first call (sent at initialize).
INSTRUCTIONS = """\
binance-mcp: Binance Spot market data, the account, and trading, with every call recorded.
- Amounts (quantity, price, stop_price, quote_quantity) are decimal strings such as "0.001": exact.
- Every result is {"success": true, "data": ...} or {"success": false, "error": {"type", "message", ...}}.
  A long list is cut to fit: then "truncated": {"field", "kept", "left_out", "how"} says how many
  were left out and how to ask for the rest (the newest rows of a history are the ones kept).
  error.type says what to do: validation_error and filter_failure name the field and a value that
  passes; guard_limit, trading_disabled, symbol_not_allowed and trading_halted are this server's
  trading guard (nothing was sent; do not work around it); rate_limit_exceeded gives retry_after_ms.
- unknown_outcome on an order means it MAY have been placed: never send it again. Call get_order
  with the client_order_id the message names (the server is looking it up too).
- test_order checks an order against every rule without placing it.
- get_audit_log tells what this server did (your earlier calls, their outcomes): use it to recall,
  not your memory. get_account_events tells what happened to the account since (fills, cancels,
  foreign orders) without asking the exchange."""

TITLES = {
    "get_ticker_price": "Price of a symbol",
    "get_ticker": "24-hour ticker",
    "get_order_book": "Order book",
    "get_recent_trades": "Recent trades",
    "get_klines": "Candlesticks (klines)",
    "get_avg_price": "Average price",
    "get_book_ticker": "Best bid and ask",
    "get_available_assets": "Listed symbols",
    "get_symbol_info": "Symbol rules",
    "get_audit_log": "This server's record of its calls",
    "get_account_events": "What happened to the account",
    "get_balance": "Account balances",
    "get_fee_info": "Commission rates",
    "get_orders": "Orders of a symbol",
    "get_open_orders": "Open orders",
    "get_order": "One order",
    "get_my_trades": "The account's trades",
    "get_account_snapshot": "Daily account snapshots",
    "get_deposit_address": "Deposit address",
    "get_deposit_history": "Deposit history",
    "get_withdraw_history": "Withdrawal history",
    "get_position_info": "Futures positions",
    "get_pnl": "Futures income (PnL)",
    "get_liquidation_history": "Futures liquidations",
    "create_order": "Place an order",
    "test_order": "Check an order (nothing placed)",
    "cancel_order": "Cancel an order",
    "cancel_open_orders": "Cancel every open order of a symbol",
}


def tools(families: frozenset[str]) -> list[Tool]:
    """Every tool; one the venue cannot serve is listed, marked in its description."""

    def description(cls: type[Command]) -> str:
        family = cls.family()
        if family in families or family == "local":
            return cls.description()
        return f"NOT AVAILABLE ON THIS VENUE ({UNSUPPORTED[family]}). {cls.description()}"

    return [
        Tool(
            name=name,
            title=TITLES[name],
            description=description(cls),
            input_schema=input_schema(cls),
            output_schema=output_schema(name),
            annotations=ToolAnnotations.model_validate({**cls.hints(), "title": TITLES[name]}),
        )
        for name, cls in COMMANDS.items()
    ]


def tool_result(outcome: Outcome, command_id: str, tool: str = "", budget: int = DEFAULT_BUDGET) -> CallToolResult:
    """An outcome as the MCP result: structured content plus the same JSON as text; an answer's data
    held to `budget` characters of JSON (events/budget.py), saying what was cut."""
    now = time.time_ns() // 1_000_000
    if isinstance(outcome, Executed):
        data, cut = fit(tool, outcome.data, budget)
        payload: dict[str, Any] = {"success": True, "data": data, "timestamp": now, "command_id": command_id}
        if cut is not None:
            payload["truncated"] = msgspec.to_builtins(cut)
    else:
        error: dict[str, Any] = {"type": getattr(outcome, "kind", ""), "message": getattr(outcome, "message", "")}
        if getattr(outcome, "code", None) is not None:
            error["code"] = getattr(outcome, "code", None)
        if getattr(outcome, "field", None):
            error["field"] = getattr(outcome, "field", None)
        if getattr(outcome, "suggestions", None):
            error["suggestions"] = list(getattr(outcome, "suggestions", ()))
        if getattr(outcome, "retry_after_ms", None) is not None:
            error["retry_after_ms"] = getattr(outcome, "retry_after_ms", None)
        if getattr(outcome, "hint", None):
            error["hint"] = getattr(outcome, "hint", None)
        error.update(timestamp=now, command_id=command_id)
        payload = {"success": False, "error": error}
    text = msgspec.json.encode(payload).decode()
    return CallToolResult(
        content=[TextContent(type="text", text=text)], structured_content=payload, is_error=not payload["success"]
    )


def mcp_server(
    system: System, families: frozenset[str], confirm_timeout_s: float, result_budget: int = DEFAULT_BUDGET
) -> Server[Any]:
    """The MCP server of `system`: its handlers and the request-state boundary of confirmations;
    each answer held to `result_budget` (events/budget.py)."""
    listed = tools(families)
    sessions = Sessions(system.open_session)
    pending: set[asyncio.Future[Any]] = set()  # declines of confirmations whose call was cancelled

    async def list_tools(ctx: ServerRequestContext[Any], params: Any) -> ListToolsResult:
        return ListToolsResult(tools=listed)

    async def call_tool(
        ctx: ServerRequestContext[Any], params: CallToolRequestParams
    ) -> CallToolResult | InputRequiredResult:
        if params.request_state is not None and params.name in COMMANDS:  # modern era: the person's answer
            accepted, why = confirm.answer_of((params.input_responses or {}).get(confirm.INPUT_KEY))
            outcome = await system.confirm(params.request_state, accepted, why)
            return tool_result(outcome, params.request_state, params.name, result_budget)
        args = params.arguments or {}
        size = len(msgspec.json.encode(args))
        if size > MAX_ARGS_BYTES:  # the validator rejects it; the log keeps the size, not the bytes
            args = {"_omitted": f"arguments over {MAX_ARGS_BYTES // 1024} KiB are not stored"}
        token = get_access_token()  # over HTTP: who is calling, and what the token allows
        principal = token.client_id if token is not None else ""
        client = getattr(ctx.request, "client", None)
        remote = str(client.host) if client is not None else ""  # the address; its port changes per connection
        session, client_label = await sessions.of(ctx, principal, remote)
        envelope = new_envelope(
            params.name,
            dict(args),
            size,
            client_label,
            session=session,
            can_confirm=confirm.can_elicit(ctx),
            scopes=frozenset(token.scopes) if token is not None else None,
        )
        answer = await system.ask(envelope)
        if params.name not in COMMANDS:  # journaled (received, rejected unknown_tool), then refused
            raise MCPError(INVALID_PARAMS, f"Unknown tool: {echo(params.name)}")
        if isinstance(answer, NeedsConfirmation):
            if confirm.is_modern(ctx):
                return confirm.input_required(answer.command_id, answer.summary)
            answer = await confirm_in_call(ctx, answer)
        return tool_result(answer, envelope.command_id, params.name, result_budget)

    async def confirm_in_call(ctx: ServerRequestContext[Any], needs: NeedsConfirmation) -> Outcome:
        answered = False
        try:
            try:
                accepted, why = await confirm.ask_in_call(ctx, needs.summary)
            except Exception as exc:  # the client could not show it: a no, never a yes
                accepted, why = False, f"the question could not be asked ({type(exc).__name__})"
            answered = True
            return await system.confirm(needs.command_id, accepted, why)
        finally:
            if not answered:  # the call was cancelled while the person was asked: end it as declined
                closing = asyncio.ensure_future(system.confirm(needs.command_id, False, "the call was cancelled"))
                pending.add(closing)
                closing.add_done_callback(pending.discard)

    server: Server[Any] = Server(
        "binance-mcp",
        version=__version__,
        instructions=INSTRUCTIONS,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )
    server.middleware.append(
        RequestStateBoundary(RequestStateSecurity.ephemeral(ttl=confirm_timeout_s), default_audience="binance-mcp")
    )
    return server
