"""The validator: raw arguments → a typed command, checked against the exchange's own rules.

Order of checks: size (16 KiB of raw arguments), types and constraints (msgspec, strict),
symbol syntax, then, unless `MCP_INPUT_VALIDATION=false`, the exchange rules: the symbol must be
listed in exchangeInfo (cached; refreshed at most hourly, in the background). Any failure is a
`Rejected` outcome, journaled like every other; nothing here raises into the pipeline.
"""

from __future__ import annotations

import asyncio
import difflib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec

from binance_mcp.actors.base import Actor, Reply
from binance_mcp.actors.messages import Envelope, Finish, Validated
from binance_mcp.events.commands import COMMANDS, decode
from binance_mcp.events.outcomes import REQUEST_TOO_LARGE, UNKNOWN_SYMBOL, VALIDATION_ERROR, Rejected
from binance_mcp.exchange.rules import SymbolRules, normalize_symbol, symbol_problem

__all__ = ["MAX_ARGS_BYTES", "SymbolDirectory", "Validator", "weight_limit_per_minute"]

log = logging.getLogger("binance_mcp.validator")
MAX_ARGS_BYTES = 16 * 1024
REFRESH_S = 3600.0


def weight_limit_per_minute(info: Any) -> int | None:
    """exchangeInfo's REQUEST_WEIGHT limit, per minute, if it states one."""
    for limit in info.get("rateLimits", ()):
        if limit.get("rateLimitType") == "REQUEST_WEIGHT" and limit.get("interval") == "MINUTE":
            count = int(limit.get("intervalNum", 1))
            if count >= 1:
                return int(limit["limit"]) // count
    return None


class SymbolDirectory:
    """exchangeInfo's symbols, cached. `refresh` is I/O; lookups are not."""

    def __init__(
        self,
        fetch: Callable[[], Awaitable[Any]],
        clock: Callable[[], float] = time.monotonic,
        on_weight_limit: Callable[[int], None] | None = None,
    ):
        self._fetch = fetch
        self.clock = clock
        self.on_weight_limit = on_weight_limit
        self.symbols: dict[str, dict[str, Any]] = {}
        self.rules: dict[str, SymbolRules] = {}
        self.loaded_at: float | None = None
        self._refreshing: asyncio.Task[None] | None = None

    async def refresh(self) -> None:
        info = await self._fetch()
        self.symbols = {s["symbol"]: s for s in info["symbols"]}
        self.rules = {name: SymbolRules.from_exchange_info(s) for name, s in self.symbols.items()}
        self.loaded_at = self.clock()
        limit = weight_limit_per_minute(info)
        if limit is not None and self.on_weight_limit is not None:
            self.on_weight_limit(limit)

    def refresh_if_stale(self) -> None:
        """Start a background refresh when the cache is over an hour old; never waits for it."""
        stale = self.loaded_at is None or self.clock() - self.loaded_at > REFRESH_S
        if stale and (self._refreshing is None or self._refreshing.done()):
            self._refreshing = asyncio.create_task(self._refresh_logged())

    async def _refresh_logged(self) -> None:
        try:
            await self.refresh()
        except Exception as exc:
            log.warning("exchangeInfo refresh failed; keeping the cached symbols: %s", exc)

    def closest(self, symbol: str, n: int = 3) -> tuple[str, ...]:
        return tuple(difflib.get_close_matches(symbol, self.symbols, n=n, cutoff=0.5))


class Validator(Actor):
    def __init__(self, directory: SymbolDirectory, next_stage: Actor, journal: Actor, *, exchange_rules: bool = True):
        super().__init__("validator")
        self.directory = directory
        self.next_stage = next_stage
        self.journal = journal
        self.exchange_rules = exchange_rules

    async def handle(self, message: Envelope, reply: Reply) -> None:
        result = self.check(message)
        if isinstance(result, Rejected):
            await self.journal.tell(Finish(envelope=message, outcome=result), reply)
        else:
            await self.next_stage.tell(result, reply)

    def check(self, env: Envelope) -> Validated | Rejected:
        if env.raw_size > MAX_ARGS_BYTES:
            return Rejected(
                kind=REQUEST_TOO_LARGE, message=f"arguments are {env.raw_size} bytes; the limit is {MAX_ARGS_BYTES}"
            )
        try:
            command = decode(env.tool, env.args)
        except msgspec.ValidationError as exc:
            text = str(exc)
            field = text.rsplit("`$.", 1)[1].rstrip("`").split(".")[0].split("[")[0] if "`$." in text else None
            if field is None and "unknown field" in text:
                field = text.split("`")[1] if "`" in text else None
            return Rejected(kind=VALIDATION_ERROR, message=f"invalid arguments for {env.tool}: {text}", field=field)
        symbol = getattr(command, "symbol", None)
        if symbol is not None:
            normalized = normalize_symbol(symbol)
            problem = symbol_problem(normalized)
            if problem:
                return Rejected(kind=VALIDATION_ERROR, message=f"symbol {symbol!r} {problem}", field="symbol")
            if self.exchange_rules or COMMANDS[env.tool].__name__ == "GetSymbolInfo":
                self.directory.refresh_if_stale()
                if normalized not in self.directory.symbols:
                    suggestions = self.directory.closest(normalized)
                    hint = f"; did you mean {', '.join(suggestions)}?" if suggestions else ""
                    return Rejected(
                        kind=UNKNOWN_SYMBOL,
                        message=f"{normalized} is not listed on this venue{hint}",
                        field="symbol",
                        suggestions=suggestions,
                    )
            command = msgspec.structs.replace(command, symbol=normalized)
        quote = getattr(command, "quote_asset", None)
        if quote is not None:
            command = msgspec.structs.replace(command, quote_asset=normalize_symbol(quote))
        return Validated(envelope=env, command=command)
