"""The Binance REST client: one reused aiohttp session, signing, server-time offset,
weight headers, and the mapping of every failure to `exchange.errors`.

- `prepare` builds the exact request (for a SIGNED one: `timestamp` from the local clock plus the
  measured offset, and `recvWindow`); `send` signs it (HMAC-SHA256 over the exact
  percent-encoded query) and sends those very bytes (the URL is not re-normalized on the way).
  Between the two the caller may journal the request: the query it is given is the one that is
  sent, minus the signature.
- The offset to the server's clock is measured at start (`sync_time`) and again after a -1021;
  a read is then retried once. A state change is never retried, not even by aiohttp: it resends
  a DELETE (an idempotent method in HTTP) once when the connection drops, which for a cancel
  would be a second cancel; `_send_once` turns that drop into an error aiohttp does not retry.
- Every spot answer's (`/api/…`) `X-MBX-USED-WEIGHT-1M` is passed to `on_weight`, and an order's
  `X-MBX-ORDER-COUNT-10S` / `-1D` to `on_order_count` (the limiter keeps in step). Futures
  (`/fapi/…`) count their weight against a limit of their own, and wallet routes (`/sapi/…`) report
  theirs in other headers: their answers are not the spot minute's count.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import msgspec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from yarl import URL

from binance_mcp.exchange.errors import ExchangeRejected, RateLimited, TransportError, UnknownOutcome
from binance_mcp.exchange.signing import ed25519_signature, encode_params, sign

__all__ = ["BinanceClient", "Credentials", "Prepared", "Reply", "shown_url"]


def shown_url(url: str) -> str:
    """A URL as the log and stderr may show it: without a user, a password or a query."""
    try:
        return str(URL(url).with_user(None).with_query(None).with_fragment(None))
    except (ValueError, TypeError):
        return "(a URL that cannot be read)"


class Credentials:
    """An API key with its HMAC secret or its Ed25519 private key; its repr shows neither."""

    __slots__ = ("_private_key", "_secret", "api_key")

    def __init__(self, api_key: str, secret: str | None = None, *, private_key: Ed25519PrivateKey | None = None):
        if (secret is None) == (private_key is None):
            raise ValueError("give an HMAC secret or an Ed25519 private key, one of them")
        self.api_key = api_key
        self._secret = secret
        self._private_key = private_key

    @property
    def kind(self) -> str:
        return "ed25519" if self._private_key is not None else "hmac"

    def sign(self, payload: str) -> str:
        """The `signature` parameter's value for `payload`, ready for the query."""
        if self._private_key is not None:
            return ed25519_signature(self._private_key, payload)
        assert self._secret is not None
        return sign(self._secret, payload)

    def sign_ws(self, payload: str) -> str:
        """The signature of a WebSocket API request: HMAC hex, or Ed25519 base64 as JSON carries it
        (not percent-encoded)."""
        if self._private_key is not None:
            return base64.b64encode(self._private_key.sign(payload.encode())).decode()
        assert self._secret is not None
        return sign(self._secret, payload)

    def __repr__(self) -> str:
        return f"Credentials(api_key='{self.api_key[:4]}…', {self.kind}='***')"


@dataclass(frozen=True)
class Reply:
    data: Any
    used_weight: int | None


@dataclass(frozen=True)
class Prepared:
    """A request ready to sign and send; `query` is exactly what is sent, minus the signature."""

    method: str
    path: str
    query: str
    signed: bool

    def record(self) -> dict[str, str]:
        return {"method": self.method, "path": self.path, "query": self.query}


class _AnswerLost(aiohttp.ClientError):
    """The connection closed after a state change was sent, before its answer."""


async def _send_once(req: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType) -> aiohttp.ClientResponse:
    """Client middleware for state changes: a dropped connection is not resent by aiohttp."""
    try:
        return await handler(req)
    except aiohttp.ClientConnectorError:
        raise  # it never left: aiohttp does not retry this either
    except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as exc:
        raise _AnswerLost(str(exc)) from exc


def _count(headers: Any, name: str) -> int | None:
    value = headers.get(name)
    return int(value) if value and value.isdigit() else None


class BinanceClient:
    def __init__(
        self,
        base_url: str,
        *,
        credentials: Credentials | None = None,
        futures_base_url: str | None = None,
        session: aiohttp.ClientSession | None = None,
        recv_window_ms: int = 5000,
        timeout_s: float = 10.0,
        clock: Callable[[], int] | None = None,
        on_weight: Callable[[int], None] | None = None,
        on_order_count: Callable[[int | None, int | None], None] | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self.futures_base_url = (futures_base_url or base_url).rstrip("/")
        self.credentials = credentials
        self._session = session
        self._own_session = session is None
        self.recv_window_ms = recv_window_ms
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self.clock = clock or (lambda: time.time_ns() // 1_000_000)
        self.offset_ms = 0
        self.on_weight = on_weight
        self.on_order_count = on_order_count

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            # Binance sets no cookies we need; a dummy jar spares the cookie bookkeeping per request.
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=64), cookie_jar=aiohttp.DummyCookieJar()
            )
        return self._session

    async def close(self) -> None:
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def sync_time(self) -> int:
        """Measure the offset to the server's clock (midpoint of the round trip)."""
        before = self.clock()
        reply = await self.request("GET", "/api/v3/time")
        after = self.clock()
        self.offset_ms = int(reply.data["serverTime"]) - (before + after) // 2
        return self.offset_ms

    def _url(self, path: str) -> str:
        """Spot (/api) and wallet (/sapi) routes live on the spot host, futures (/fapi) on its own."""
        base = self.futures_base_url if path.startswith("/fapi") else self.base_url
        return base + path

    async def request(
        self, method: str, path: str, params: dict[str, str] | None = None, *, signed: bool = False
    ) -> Reply:
        try:
            return await self.send(self.prepare(method, path, params, signed=signed))
        except ExchangeRejected as exc:
            if exc.code == -1021 and method == "GET" and signed:
                await self.sync_time()
                return await self.send(self.prepare(method, path, params, signed=signed))  # reads only: one retry
            raise

    def prepare(
        self, method: str, path: str, params: dict[str, str] | None = None, *, signed: bool = False
    ) -> Prepared:
        query = encode_params(params or {})
        if signed:
            if self.credentials is None:
                raise TransportError("this call needs BINANCE_API_KEY and BINANCE_API_SECRET")
            extra = encode_params({"recvWindow": self.recv_window_ms, "timestamp": self.clock() + self.offset_ms})
            query = f"{query}&{extra}" if query else extra
        return Prepared(method, path, query, signed)

    async def send(self, prepared: Prepared) -> Reply:
        method, path, query = prepared.method, prepared.path, prepared.query
        headers = {}
        if prepared.signed:
            assert self.credentials is not None
            query = f"{query}&signature={self.credentials.sign(query)}"
            headers["X-MBX-APIKEY"] = self.credentials.api_key
        # encoded=True: yarl would otherwise re-normalize the query (%27 back to ', %2F to /, ...),
        # and the exchange would check the signature against bytes other than the ones signed.
        url = URL(self._url(path) + (f"?{query}" if query else ""), encoded=True)
        once = () if method == "GET" else (_send_once,)
        try:
            async with self.session.request(
                method, url, headers=headers, timeout=self.timeout, middlewares=once
            ) as resp:
                body = await resp.read()
                status, resp_headers = resp.status, resp.headers
        except TimeoutError as exc:
            raise UnknownOutcome(f"{method} {path}: no answer within {self.timeout.total:g} s") from exc
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError, _AnswerLost) as exc:
            raise UnknownOutcome(f"{method} {path}: the connection closed before the answer") from exc
        except aiohttp.ClientConnectorError as exc:
            raise TransportError(f"{method} {path}: cannot connect to the exchange") from exc
        except aiohttp.ClientError as exc:
            raise UnknownOutcome(f"{method} {path}: {type(exc).__name__}") from exc
        used = _count(resp_headers, "X-MBX-USED-WEIGHT-1M")
        if used is not None and self.on_weight is not None and path.startswith("/api/"):
            self.on_weight(used)
        if self.on_order_count is not None and "X-MBX-ORDER-COUNT-10S" in resp_headers:
            self.on_order_count(
                _count(resp_headers, "X-MBX-ORDER-COUNT-10S"), _count(resp_headers, "X-MBX-ORDER-COUNT-1D")
            )
        try:
            data = msgspec.json.decode(body) if body else None
        except msgspec.DecodeError as exc:
            if status < 400:  # a success we cannot read: it may have happened
                raise UnknownOutcome(f"{method} {path}: the answer was not valid JSON") from exc
            data = None  # an error page (a 404 from a route the venue lacks, a proxy's 5XX): the status says it
        code, msg = (
            (data.get("code"), str(data.get("msg", ""))) if isinstance(data, dict) and "msg" in data else (None, "")
        )
        if status in (418, 429):
            retry = resp_headers.get("Retry-After", "")
            raise RateLimited(
                msg or f"HTTP {status}", code=code, status=status, retry_after_s=int(retry) if retry.isdigit() else 60
            )
        if status >= 500:
            raise UnknownOutcome(msg or f"HTTP {status}", code=code, status=status)
        if status >= 400:
            raise ExchangeRejected(msg or f"HTTP {status}", code=code, status=status)
        return Reply(data, used)
