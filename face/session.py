"""Who is calling: the MCP client of each call, as a `session` event in the log.

A session is one client (clientInfo name and version, the protocol version it speaks; over HTTP
also the name of the token it presented and its address). Legacy clients say who they are in
`initialize`; 2026-07-28 clients may say it on each request or not at all ("unknown"). The first
call of a client, and the first after it changes, journals a `session` event; every `received`
then names that session. Over HTTP many clients call at once: each identity keeps its session
(the most recent MAX_KNOWN identities are remembered; an older one journals a new session when
it comes back).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

__all__ = ["Sessions"]

MAX_KNOWN = 4096
Key = tuple[str, str, str, str, str]  # name, version, protocol, principal, remote


class Sessions:
    def __init__(self, open_session: Callable[[str, str, str, str, str], Awaitable[str]]):
        self._open = open_session
        self._known: OrderedDict[Key, str] = OrderedDict()
        self._lock = asyncio.Lock()

    async def of(self, ctx: Any, principal: str = "", remote: str = "") -> tuple[str, str]:
        """(session id, "name/version") of the client behind this request."""
        params = ctx.session.client_params
        info = getattr(params, "client_info", None)
        name = str(getattr(info, "name", "") or "unknown")
        version = str(getattr(info, "version", "") or "")
        key: Key = (name, version, str(ctx.protocol_version), principal, remote)
        label = f"{name}/{version}" if version else name
        found = self._known.get(key)
        if found is not None:  # a client seen before: nothing to journal
            self._known.move_to_end(key)
            return found, label
        async with self._lock:  # two first calls at once open one session
            found = self._known.get(key)
            if found is None:
                found = self._known[key] = await self._open(*key)
                while len(self._known) > MAX_KNOWN:
                    self._known.popitem(last=False)
            return found, label
