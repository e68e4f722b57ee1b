"""What JSON-RPC 2.0 owes a client for a message the SDK cannot read: pure, no I/O.

The SDK's transports hand an unreadable line to the session as an exception, which it logs and
drops: a client that sent it waits for its own timeout. JSON-RPC 2.0 (section 5.1) answers
instead:

- not JSON at all: -32700 Parse error, `id` null;
- JSON the SDK's parser refuses though it is JSON (a string with a lone surrogate escape, which is
  no Unicode text; nesting deeper than that parser goes): -32600 Invalid Request, with the `id`
  when one can be read, so that the client's request is not left waiting;
- JSON that is not one request, notification or response object (a batch, `params` as an
  array, an `id` without a `method`): -32600 Invalid Request, with the `id` when one can be
  read, else null;
- a notification (an object with a `method` and no `id`) gets no answer, however malformed:
  a notification is never answered;
- a line over the size limit: -32600, with the `id` when it stands among the first members of
  the object (read from its first bytes only: the rest is never parsed).
"""

from __future__ import annotations

import json
import re
from typing import Any

from mcp_types import INVALID_REQUEST, PARSE_ERROR, ErrorData, JSONRPCError
from pydantic import ValidationError

__all__ = ["owed_error", "owed_error_for_overlong"]

_NOT_ONE_MESSAGE = "Invalid Request: not a single JSON-RPC 2.0 request, notification or response object"
_UNREADABLE = (
    "Invalid Request: the message is JSON this server cannot take (a string that is not Unicode text, such as "
    "a lone surrogate escape, or nesting too deep)"
)
# `{"jsonrpc":"2.0","method":"x","id":7` : the id among the first members, as clients write them
_LEADING_ID = re.compile(
    rb'\s*\{(?:\s*"(?:jsonrpc|method)"\s*:\s*"[^"\\]{0,64}"\s*,)*\s*"id"\s*:\s*(-?[0-9]{1,18}|"[^"\\]{0,256}")'
)


def _error(request_id: str | int | None, code: int, message: str) -> JSONRPCError:
    return JSONRPCError(jsonrpc="2.0", id=request_id, error=ErrorData(code=code, message=message))


def _readable_id(value: Any) -> str | int | None:
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    return value


def owed_error(line: bytes, problem: Exception) -> JSONRPCError | None:
    """The error response owed for `line`, which the SDK's parser refused with `problem`; None
    when nothing is owed (a notification)."""
    try:
        decoded = json.loads(line)
    except (ValueError, RecursionError):
        return _error(None, PARSE_ERROR, "Parse error: the line is not valid JSON")
    if isinstance(decoded, dict) and "id" not in decoded and isinstance(decoded.get("method"), str):
        return None
    request_id = _readable_id(decoded.get("id")) if isinstance(decoded, dict) else None
    refused = isinstance(problem, ValidationError) and any(e["type"] == "json_invalid" for e in problem.errors())
    why = _UNREADABLE if refused else _NOT_ONE_MESSAGE
    return _error(request_id, INVALID_REQUEST, why)


def owed_error_for_overlong(head: bytes, limit: int) -> JSONRPCError:
    """The error response for a line longer than `limit` bytes, of which `head` is the start."""
    found = _LEADING_ID.match(head)
    request_id: str | int | None = None
    if found is not None:
        token = found.group(1)
        request_id = json.loads(token) if token.startswith(b'"') else int(token)
    return _error(request_id, INVALID_REQUEST, f"Invalid Request: the message is longer than {limit} bytes")
