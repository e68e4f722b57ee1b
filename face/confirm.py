"""Asking the person to confirm an order or a cancel, over MCP elicitation, in both protocol eras.

- Legacy (handshake, up to 2025-11-25): the server sends `elicitation/create` while the tool call
  waits, and gets the answer back in the same call.
- Modern (2026-07-28, no server-to-client requests): the tool call answers `InputRequiredResult`
  with the question and `request_state` naming the command; the client asks its person and calls
  the tool again with the answer. The SDK's RequestStateBoundary seals `request_state` and binds
  it to the tool name and arguments, so a retry cannot name another command; the retried call
  resumes that same command.
The form has one field, `confirm` (a boolean). Only `accept` with `confirm: true` goes ahead;
decline, cancel, `false`, or anything else is a no.
"""

from __future__ import annotations

from typing import Any

from mcp.types import ElicitRequest, ElicitRequestFormParams, ElicitResult, InputRequiredResult
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

__all__ = ["INPUT_KEY", "SCHEMA", "answer_of", "ask_in_call", "can_elicit", "input_required", "is_modern"]

INPUT_KEY = "confirm"
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        INPUT_KEY: {
            "type": "boolean",
            "title": "Go ahead",
            "description": "true to send it to the exchange; anything else sends nothing",
        }
    },
    "required": [INPUT_KEY],
}


def can_elicit(ctx: Any) -> bool:
    caps = ctx.session.client_capabilities
    return caps is not None and caps.elicitation is not None


def is_modern(ctx: Any) -> bool:
    return ctx.protocol_version in MODERN_PROTOCOL_VERSIONS


def input_required(command_id: str, summary: str) -> InputRequiredResult:
    request = ElicitRequest(params=ElicitRequestFormParams(message=summary, requested_schema=SCHEMA))
    return InputRequiredResult(input_requests={INPUT_KEY: request}, request_state=command_id)


def answer_of(response: Any) -> tuple[bool, str]:
    """(accepted, why not) from what the client answered."""
    if not isinstance(response, ElicitResult):
        return False, "no answer"
    if response.action != "accept":
        return False, "declined" if response.action == "decline" else "cancelled"
    if (response.content or {}).get(INPUT_KEY) is not True:
        return False, "not confirmed"
    return True, ""


async def ask_in_call(ctx: Any, summary: str) -> tuple[bool, str]:
    """Legacy era: ask now, inside this tool call."""
    result = await ctx.session.elicit_form(summary, SCHEMA, related_request_id=ctx.request_id)
    return answer_of(result)
