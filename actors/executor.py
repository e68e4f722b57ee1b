"""The executor: a pool of workers on one mailbox that send admitted commands to the exchange
and map the answer to an outcome. A timeout, dropped connection or 5XX is `Unknown` for a
command that changes state (never retried) and `Failed(transport_error)` for a read."""

from __future__ import annotations

from typing import Any

from binance_mcp.actors.base import Actor, Reply
from binance_mcp.actors.messages import Admitted, Backoff, Finish
from binance_mcp.actors.validator import SymbolDirectory
from binance_mcp.events.commands import Command, GetAvailableAssets, GetSymbolInfo
from binance_mcp.events.outcomes import (
    EXCHANGE_ERROR,
    RATE_LIMITED,
    TRANSPORT_ERROR,
    UNKNOWN_OUTCOME,
    Executed,
    Failed,
    Outcome,
    Unknown,
)
from binance_mcp.exchange.client import BinanceClient
from binance_mcp.exchange.errors import ExchangeRejected, RateLimited, TransportError, UnknownOutcome

__all__ = ["Executor"]

_INFO_KEYS = (
    "symbol",
    "status",
    "baseAsset",
    "baseAssetPrecision",
    "quoteAsset",
    "quoteAssetPrecision",
    "orderTypes",
    "icebergAllowed",
    "ocoAllowed",
    "quoteOrderQtyMarketAllowed",
    "isSpotTradingAllowed",
    "filters",
    "permissionSets",
)


class Executor(Actor):
    def __init__(self, client: BinanceClient, directory: SymbolDirectory, limiter: Actor, journal: Actor):
        super().__init__("executor")
        self.client = client
        self.directory = directory
        self.limiter = limiter
        self.journal = journal

    async def handle(self, message: Admitted, reply: Reply) -> None:
        outcome = await self.execute(message.command)
        await self.journal.tell(Finish(envelope=message.envelope, outcome=outcome), reply)

    def _local(self, command: Command) -> Any:
        if isinstance(command, GetAvailableAssets):
            return [
                {
                    "symbol": s["symbol"],
                    "baseAsset": s["baseAsset"],
                    "quoteAsset": s["quoteAsset"],
                    "status": s["status"],
                }
                for s in self.directory.symbols.values()
                if command.quote_asset is None or s["quoteAsset"] == command.quote_asset
            ]
        assert isinstance(command, GetSymbolInfo)
        info = self.directory.symbols[command.symbol]
        return {k: info[k] for k in _INFO_KEYS if k in info}

    async def execute(self, command: Command) -> Outcome:
        if isinstance(command, GetAvailableAssets | GetSymbolInfo):
            return Executed(data=self._local(command))
        try:
            reply = await self.client.request("GET", command.endpoint, command.binance_params())
        except RateLimited as exc:
            await self.limiter.tell(Backoff(seconds=exc.retry_after_s))
            return Failed(kind=RATE_LIMITED, message=exc.message, code=exc.code)
        except ExchangeRejected as exc:
            return Failed(kind=EXCHANGE_ERROR, message=exc.message, code=exc.code)
        except UnknownOutcome as exc:
            if command.changes_state:
                return Unknown(kind=UNKNOWN_OUTCOME, message=exc.message, code=exc.code)
            return Failed(kind=TRANSPORT_ERROR, message=exc.message, code=exc.code)
        except TransportError as exc:
            return Failed(kind=TRANSPORT_ERROR, message=exc.message)
        return Executed(data=reply.data)
