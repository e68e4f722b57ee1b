"""The paper exchange's WebSocket API, as much of it as the user data stream needs
(BINANCE.md Part 4), at `/ws-api/v3` on the exchange's own port.

Requests are JSON text frames `{"id", "method", "params"}`; each is answered
`{"id", "status", "result" | "error": {"code", "msg"}}`:
- `userDataStream.subscribe.signature` (`apiKey`, `timestamp`, `signature`, optional `recvWindow`):
  signed over every parameter but the signature, sorted by name, `name=value` joined by `&`, values
  not percent-encoded; HMAC hex or Ed25519 base64, checked as REST checks it (-2014, -2015, -1021,
  -1022). One subscription per account per connection. Result `{"subscriptionId": N}`.
  A second subscription of the same account on one connection is refused with -1020 (the code
  is this exchange's choice: BINANCE.md does not say which Binance uses).
- `userDataStream.unsubscribe` (optional `subscriptionId`; without it, all), then an
  `eventStreamTerminated` event; `session.subscriptions` lists them; `ping` answers `{}`.
Every event of a subscribed account (engine.py: executionReport, outboundAccountPosition) goes to
each of its subscriptions as `{"subscriptionId": N, "event": {...}}`, one per frame, whether the
order came through REST or not. The server pings every `heartbeat_s` and drops a connection whose
pong does not come (aiohttp's heartbeat); a client's ping frames get their pong.

Faults (faults.py) on the target `ws` (the path `/ws-api/v3`): `drop` closes the connection
instead of sending the next event (with `@N`, the next N events: each is lost with its
connection, as a network failure loses it); `latency:MS` delays each event.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import msgspec
from aiohttp import WSMsgType, web

from binance_mcp.exchange.paper.engine import Account
from binance_mcp.exchange.paper.errors import BinanceError
from binance_mcp.exchange.paper.faults import FaultMode, Faults
from binance_mcp.exchange.signing import ws_payload

__all__ = ["WS_PATH", "UserStreams"]

log = logging.getLogger("binance_mcp.paper.ws")
WS_PATH = "/ws-api/v3"
MAX_FRAME = 64 * 1024
MAX_SUBSCRIPTIONS = 1000  # active per session (Binance's limit)


@dataclass(eq=False)
class Connection:
    ws: web.WebSocketResponse
    request: web.Request
    outbox: asyncio.Queue[bytes] = field(default_factory=lambda: asyncio.Queue(100_000))
    subscriptions: dict[int, str] = field(default_factory=dict)  # subscription id → API key
    next_id: int = 0

    def send_json(self, message: dict[str, Any]) -> None:
        with contextlib.suppress(asyncio.QueueFull):  # a client that reads nothing loses events, not the server
            self.outbox.put_nowait(msgspec.json.encode(message))


class UserStreams:
    """Every WebSocket API connection and its subscriptions; `publish` pushes an account's event."""

    def __init__(
        self,
        *,
        account_of: Callable[[str], Account],
        check_time: Callable[[int, Decimal | None, int], None],
        check_signature: Callable[[Account, str, str], None],
        now: Callable[[], int],
        faults: Faults,
        heartbeat_s: float = 20.0,
        weigh: Callable[[str, int], tuple[int, int]] | None = None,
    ):
        self._weigh = weigh  # charge a request's weight to an IP: (the minute's limit, its count now)
        self._account_of = account_of
        self._check_time = check_time
        self._check_signature = check_signature
        self._now = now
        self.faults = faults
        self.heartbeat_s = heartbeat_s
        self.connections: set[Connection] = set()
        self.connected = 0  # connections accepted over the exchange's life (tests watch reconnections)

    # -- events ---------------------------------------------------------------------------------
    def publish(self, account: Account, event: dict[str, object]) -> None:
        for conn in list(self.connections):
            for sub_id, key in conn.subscriptions.items():
                if key == account.api_key:
                    conn.send_json({"subscriptionId": sub_id, "event": event})

    # -- the endpoint ---------------------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(heartbeat=self.heartbeat_s, max_msg_size=MAX_FRAME)
        await ws.prepare(request)
        conn = Connection(ws, request)
        self.connections.add(conn)
        self.connected += 1
        sender = asyncio.create_task(self._send(conn))
        try:
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    conn.send_json(self._with_limits(conn, msg.data, self._answer(conn, msg.data)))
                elif msg.type is WSMsgType.BINARY:
                    conn.send_json(_error(None, BinanceError(-1100, "Binary frames are not accepted.")))
        finally:
            self.connections.discard(conn)
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender
        return ws

    async def _send(self, conn: Connection) -> None:
        while True:
            frame = await conn.outbox.get()
            if b'"subscriptionId"' in frame[:20]:  # an event (answers start with "id")
                fault = self.faults.take("WS", WS_PATH)
                if fault is not None and fault.mode is FaultMode.DROP:
                    self.connections.discard(conn)
                    if conn.request.transport is not None:
                        conn.request.transport.abort()  # the event is lost with the connection
                    return
                if fault is not None and fault.mode is FaultMode.LATENCY:
                    await asyncio.sleep(fault.latency_ms / 1000)
            try:
                await conn.ws.send_str(frame.decode())
            except (ConnectionError, RuntimeError):
                return

    async def close_all(self) -> None:
        for conn in list(self.connections):
            with contextlib.suppress(Exception):
                await conn.ws.close(code=1001, message=b"server shutdown")

    # -- requests -------------------------------------------------------------------------------
    def _with_limits(self, conn: Connection, text: str, answer: dict[str, Any]) -> dict[str, Any]:
        """`answer` with `rateLimits`, as Binance's WebSocket API answers carry them (its official
        SDK reads them from every answer), unless the connection or the request asked
        `returnRateLimits=false`. The request's weight counts toward the IP's REST minute, as
        Binance's does."""
        if self._weigh is None or conn.request.query.get("returnRateLimits") == "false":
            return answer
        with contextlib.suppress(msgspec.DecodeError):
            request = msgspec.json.decode(text)
            params = request.get("params") if isinstance(request, dict) else None
            if isinstance(params, dict) and params.get("returnRateLimits") is False:
                return answer
            method = request.get("method") if isinstance(request, dict) else None
            weight = _WEIGHTS.get(method, 1) if isinstance(method, str) else 1
            limit, count = self._weigh(conn.request.remote or "?", weight)
            answer["rateLimits"] = [
                {
                    "rateLimitType": "REQUEST_WEIGHT",
                    "interval": "MINUTE",
                    "intervalNum": 1,
                    "limit": limit,
                    "count": count,
                }
            ]
        return answer

    def _answer(self, conn: Connection, text: str) -> dict[str, Any]:
        try:
            request = msgspec.json.decode(text)
        except msgspec.DecodeError:
            return _error(None, BinanceError(-1100, "Invalid JSON."))
        if not isinstance(request, dict):
            return _error(None, BinanceError(-1100, "Invalid request."))
        rid = request.get("id")
        if not (rid is None or isinstance(rid, int | str)) or isinstance(rid, bool):
            rid = None
        method, params = request.get("method"), request.get("params", {})
        if not isinstance(params, dict):
            return _error(rid, BinanceError(-1100, "'params' must be an object."))
        try:
            if method == "userDataStream.subscribe.signature":
                result: Any = self._subscribe(conn, params)
            elif method == "userDataStream.unsubscribe":
                result = self._unsubscribe(conn, params)
            elif method == "session.subscriptions":
                result = [{"subscriptionId": sid} for sid in sorted(conn.subscriptions)]
            elif method == "ping":
                result = {}
            else:
                raise BinanceError(-1020, "This operation is not supported.")
        except BinanceError as exc:
            return _error(rid, exc)
        return {"id": rid, "status": 200, "result": result}

    def _subscribe(self, conn: Connection, params: dict[str, Any]) -> dict[str, int]:
        allowed = {"apiKey", "timestamp", "signature", "recvWindow", "returnRateLimits"}
        for name in params:
            if name not in allowed:
                raise BinanceError.not_required(str(name)[:64])
        key, signature, timestamp = params.get("apiKey"), params.get("signature"), params.get("timestamp")
        if not isinstance(key, str) or not key:
            raise BinanceError.mandatory("apiKey")
        if not isinstance(signature, str) or not signature:
            raise BinanceError.mandatory("signature")
        if not isinstance(timestamp, int) or isinstance(timestamp, bool):
            raise BinanceError.mandatory("timestamp")
        window = params.get("recvWindow")
        try:
            window_value = None if window is None else Decimal(str(window))
        except InvalidOperation:
            raise BinanceError(-1100, "Illegal characters found in parameter 'recvWindow'.") from None
        account = self._account_of(key)
        self._check_time(timestamp, window_value, self._now())
        self._check_signature(account, ws_payload(params), signature)
        if key in conn.subscriptions.values():
            raise BinanceError(-1020, "This account is already subscribed on this connection.")
        if len(conn.subscriptions) >= MAX_SUBSCRIPTIONS:
            raise BinanceError(-1020, "Too many subscriptions on this connection.")
        sub_id = conn.next_id
        conn.next_id += 1
        conn.subscriptions[sub_id] = key
        return {"subscriptionId": sub_id}

    def _unsubscribe(self, conn: Connection, params: dict[str, Any]) -> dict[str, Any]:
        sub_id = params.get("subscriptionId")
        if sub_id is None:
            ended = sorted(conn.subscriptions)
        elif isinstance(sub_id, int) and sub_id in conn.subscriptions:
            ended = [sub_id]
        else:
            raise BinanceError(-1020, "No such subscription.")
        for sid in ended:
            del conn.subscriptions[sid]
            conn.send_json({"subscriptionId": sid, "event": {"e": "eventStreamTerminated", "E": self._now()}})
        return {}


_WEIGHTS = {"userDataStream.subscribe.signature": 2, "userDataStream.unsubscribe": 2, "session.subscriptions": 2}


def _error(rid: Any, exc: BinanceError) -> dict[str, Any]:
    return {"id": rid, "status": exc.status, "error": {"code": exc.code, "msg": exc.msg}}
