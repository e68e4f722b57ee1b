"""Who is calling: the MCP client of each call, as a `session` event in the log.

A session is one client (clientInfo name and version, the protocol version it speaks) on this
server's stdio. Legacy clients say who they are in `initialize`; 2026-07-28 clients may say it on
each request or not at all ("unknown"). The first call of a client, and the first after it changes,
journals a `session` event; every `received` then names that session.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

__all__ = ["Sessions"]


class Sessions:
    def __init__(self, open_session: Callable[[str, str, str], Awaitable[str]]):
        self._open = open_session
        self._current: tuple[str, str, str] | None = None
        self._id = ""
        self._lock = asyncio.Lock()

    async def of(self, ctx: Any) -> tuple[str, str]:
        """(session id, "name/version") of the client behind this request."""
        params = ctx.session.client_params
        info = getattr(params, "client_info", None)
        name = str(getattr(info, "name", "") or "unknown")
        version = str(getattr(info, "version", "") or "")
        key = (name, version, str(ctx.protocol_version))
        label = f"{name}/{version}" if version else name
        if key == self._current:  # the same client as the last call: nothing to journal
            return self._id, label
        async with self._lock:  # two first calls at once open one session
            if key != self._current:
                self._id = await self._open(*key)
                self._current = key
            return self._id, label
