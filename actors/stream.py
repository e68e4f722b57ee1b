"""The account stream: Binance's user data stream (WebSocket API) into the event log.

One run per account on a log holds the stream (a `Claim` beside the log, events/runs.py): the
others wait, trying again every `check_s`, and one of them takes over when the holder dies.
The holder task owns the connection: it connects, subscribes with
`userDataStream.subscribe.signature` (signed as BINANCE.md Part 4 §3 says), answers pings
(aiohttp does), reconnects with back-off and subscribes again, and renews the connection before
Binance's 24 h limit. Each frame goes to this actor's mailbox; the actor turns it into events:
- every `executionReport` and balance change is an `account_event`, under the command id of the
  `create_order` that placed the order when any run on this log dispatched it (its client order
  id is derived from the command id, events/commands.py), else under an id derived from the order:
  a **foreign order**, flagged once as a `security` event `foreign_order` (and its SECURITY_EVENT
  line) naming symbol, side, quantity, price and client id;
- the connection's own story is `stream_connected` / `stream_lost`.
On every (re)connection the gap is reconciled by REST reads through the limiter: the account's
open orders (all symbols), and each order the log still holds open that is no longer open (its
final state). A fact the log lacks, or that is newer than what it holds (events/facts.py), is
journaled as an `account_event` with `source: "rest"`; so a gap in the stream never leaves the
log wrong. A subscription the exchange refuses (a bad key or signature) is said once on stderr
and on record, and the server runs on without the stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
from msgspec import UNSET, UnsetType

from binance_mcp.actors.base import Actor, Reply
from binance_mcp.actors.journal import Journal
from binance_mcp.actors.limiter import NotSent, send_spent
from binance_mcp.actors.messages import Record
from binance_mcp.events.commands import GetOpenOrders, GetOrder, GetOrders
from binance_mcp.events.facts import Fact, fact, newer
from binance_mcp.events.ids import new_command_id
from binance_mcp.events.replay import DAY_MS
from binance_mcp.events.runs import Claim
from binance_mcp.events.schema import AccountEvent, ForeignOrder, StreamConnected, StreamLost
from binance_mcp.events.store import LogReader
from binance_mcp.exchange.client import BinanceClient, Credentials, shown_url
from binance_mcp.exchange.errors import ExchangeError
from binance_mcp.exchange.signing import ws_payload

__all__ = ["BACKOFF_S", "AccountStream", "Frame", "foreign_id"]

log = logging.getLogger("binance_mcp.stream")
BACKOFF_S = (0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0)
RENEW_S = 23.5 * 3600  # Binance closes a connection after 24 h
MAX_FRAME = 1 << 20
_OWN_ID = re.compile(r"mcp([0-9a-f]{32})")
_REFUSED = frozenset({-1022, -2014, -2015, -2008})  # bad signature, key format, key rejected, invalid key id
_OPEN = ("PENDING_NEW", "NEW", "PARTIALLY_FILLED", "PENDING_CANCEL")
GAP_SYMBOLS = 10  # allOrders is weight 20 per symbol
_TRADED = "SELECT DISTINCT symbol FROM orders WHERE account = ? AND dispatched_us >= ?"
_KNOWN_OPEN = (
    "SELECT command_id, symbol, client_order_id FROM orders WHERE account = ? AND status IN "
    f"({', '.join(repr(s) for s in _OPEN)}) ORDER BY dispatched_us DESC LIMIT 200"
)
# When a stream of this account last heard it: its account events, its runs' connections.
_LAST_HEARD = """
SELECT max(ts) FROM events WHERE (kind = 'account_event' AND body ->> '$.account' = :account)
    OR (kind IN ('stream_connected', 'stream_lost')
        AND body ->> '$.run' IN (SELECT run FROM runs WHERE account = :account))
"""


class Frame(msgspec.Struct, frozen=True):
    """A text frame of the stream, as it came, and the connection that carried it."""

    text: str
    connection: str


class Drain(msgspec.Struct, frozen=True):
    """Answered once every frame before it in the mailbox is handled (a clean stop)."""


class Refused(Exception):
    """The exchange refused the subscription for a reason that retrying will not mend."""


def foreign_id(account: str, symbol: str, order_id: object) -> str:
    """One command id for every event of an order no run on this log placed (an order is named
    within its account: two accounts have orders of the same id)."""
    return hashlib.sha256(f"foreign/{account}/{symbol}/{order_id}".encode()).hexdigest()[:32]


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _int(value: Any) -> int | UnsetType:
    """A whole number as sent (a bool is none: JSON's true is no order id)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else UNSET


class AccountStream(Actor):
    def __init__(
        self,
        *,
        url: str,
        credentials: Credentials,
        client: BinanceClient,
        journal: Journal,
        limiter: Actor,
        log_path: Path,
        venue: str,
        run: str,
        flag: Callable[[str, dict[str, Any]], Awaitable[None]],
        backoff_s: Sequence[float] = BACKOFF_S,
        renew_s: float = RENEW_S,
        check_s: float = 30.0,
        heartbeat_s: float = 30.0,
        clock_us: Callable[[], int] = lambda: time.time_ns() // 1000,
    ):
        super().__init__("account stream", mailbox_size=4096)
        self.url = url
        self.shown_url = shown_url(url)  # what the log and stderr say of it: no user, password or query
        self.credentials = credentials
        self.client = client
        self.journal = journal
        self.limiter = limiter
        self.log_path = log_path
        self.account = ""  # the account's id (events/accounts.py), set by the System at its start
        self.run = run
        self.flag = flag  # a foreign order: the `security` event and its line (actors/system.py)
        self.backoff_s = tuple(backoff_s)
        self.renew_s = renew_s
        self.check_s = check_s
        self.heartbeat_s = heartbeat_s
        self.clock_us = clock_us
        # One claim per account and venue: runs with other keys (each embedded paper exchange is an
        # account of its own) hold streams of their own.
        self.claim_name = "stream-" + hashlib.sha256(f"{venue}|{url}|{credentials.api_key}".encode()).hexdigest()[:24]
        self.claim: Claim | None = None
        self._reader: LogReader | None = None
        self._own: set[str] = set()  # command ids known dispatched
        self._flagged: set[str] = set()  # foreign orders flagged
        self.connection = ""  # the current connection's id (its events' command id)
        self.connected = asyncio.Event()  # set while subscribed (tests and the benchmark wait on it)
        self.progress = asyncio.Event()  # set when an account event is durable or the connection changes
        self.journaled = 0  # account events journaled by this run
        self.given_up: str | None = None  # why the stream stopped for good
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None
        self._reconciling: asyncio.Task[None] | None = None
        self._told: dict[str, Fact] = {}  # what this reconciliation journaled (not durable yet), by command

    # -- the holder -----------------------------------------------------------------------------
    def start(self) -> None:
        self._task = asyncio.create_task(self._holding(), name="account-stream")

    async def stop(self) -> None:
        """No more frames, the ones received journaled (before the run's `stopped`), then closed."""
        for task in (self._reconciling, self._task):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        if self._task is not None:  # started: frames may wait in the mailbox
            drained: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            try:
                self.tell_nowait(Drain(), drained)
                await asyncio.wait_for(drained, 5.0)  # handled in order: every frame before it is done
            except (asyncio.QueueFull, TimeoutError):
                log.warning("account stream: stopping with %d frames not journaled", self.depth)
        if self._session is not None:
            await self._session.close()
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        if self.claim is not None:
            self.claim.release()
            self.claim = None

    def reader(self) -> LogReader:
        if self._reader is None:
            self._reader = LogReader(self.log_path)
        return self._reader

    async def _holding(self) -> None:
        """`_hold`, and if it fails for a reason nobody foresaw, said (the server runs on without
        the stream; the next start reconciles what it missed)."""
        try:
            await self._hold()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.given_up = f"{type(exc).__name__}: {exc}"[:300]
            self.connected.clear()
            log.error("account stream stopped (%s); running on without it", self.given_up, exc_info=exc)
            self.progress.set()

    async def _hold(self) -> None:
        while self.claim is None:
            self.claim = Claim.take(self.log_path, self.claim_name)
            if self.claim is None:
                # A timer: nothing announces another process's death. Its claim is free once it is.
                await asyncio.sleep(self.check_s)
        log.info("account stream: this run holds the stream (%s)", self.shown_url)
        self._session = aiohttp.ClientSession()
        gap_from_us: int | None = self._last_heard()
        attempt, failures = 0, 0
        while True:
            events_before = self.journaled
            try:
                async with self._session.ws_connect(
                    self.url, heartbeat=self.heartbeat_s, max_msg_size=MAX_FRAME, autoping=True
                ) as ws:
                    subscription = await self._subscribe(ws)
                    attempt += 1
                    failures = 0
                    self.connection = new_command_id()
                    await self.journal.record(
                        self.connection,
                        "",
                        StreamConnected(
                            run=self.run,
                            url=self.shown_url,
                            subscription_id=subscription,
                            attempt=attempt,
                            gap_from_us=gap_from_us,
                        ),
                    )
                    log.info("account stream: subscribed (connection %d)", attempt)
                    self.connected.set()
                    self.progress.set()
                    self._reconciling = asyncio.create_task(self._reconcile_soon(gap_from_us))
                    reason = await self._read(ws)
            except Refused as exc:
                self.given_up = str(exc)
                log.warning("account stream: %s; running on without the stream", exc)
                await self.journal.record(
                    new_command_id(), "", StreamLost(run=self.run, reason=str(exc), retrying=False, events=0)
                )
                self.progress.set()
                return
            except (aiohttp.ClientError, OSError, TimeoutError, ValueError) as exc:
                reason = f"{type(exc).__name__}: {exc}".replace(self.url, self.shown_url)[:300]
            self.connected.clear()
            self.progress.set()
            gap_from_us = self.clock_us() - 1_000_000  # a second's margin before the loss
            if self.connection:
                event = StreamLost(run=self.run, reason=reason, retrying=True, events=self.journaled - events_before)
                await self.journal.record(self.connection, "", event)
                self.connection = ""
            delay = self.backoff_s[min(failures, len(self.backoff_s) - 1)]
            failures += 1
            log.warning("account stream lost (%s); reconnecting in %g s", reason, delay)
            await asyncio.sleep(delay)

    def _last_heard(self) -> int | None:
        """When a stream on this log last heard the account (a run that held it before): the gap
        to reconcile starts there. None when no stream ever ran on this log."""
        row = self.reader().query(_LAST_HEARD, {"account": self.account}).fetchone()
        return int(row[0]) if row and row[0] is not None else None

    async def _subscribe(self, ws: aiohttp.ClientWebSocketResponse) -> int:
        params: dict[str, Any] = {
            "apiKey": self.credentials.api_key,
            "recvWindow": self.client.recv_window_ms,
            "timestamp": self.client.clock() + self.client.offset_ms,
        }
        params["signature"] = self.credentials.sign_ws(ws_payload(params))
        request_id = new_command_id()
        await ws.send_str(
            msgspec.json.encode(
                {"id": request_id, "method": "userDataStream.subscribe.signature", "params": params}
            ).decode()
        )
        async with asyncio.timeout(15):
            while True:
                msg = await ws.receive()
                if msg.type is not aiohttp.WSMsgType.TEXT:
                    raise aiohttp.ClientError(
                        f"the connection ended before the subscription was answered ({msg.type.name})"
                    )
                with contextlib.suppress(msgspec.DecodeError):
                    answer = msgspec.json.decode(msg.data)
                    if isinstance(answer, dict) and answer.get("id") == request_id:
                        break
        if answer.get("status") == 200 and isinstance(answer.get("result"), dict):
            return int(answer["result"].get("subscriptionId", 0))
        error: dict[str, Any] = answer["error"] if isinstance(answer.get("error"), dict) else {}
        code, msg_text = error.get("code"), str(error.get("msg", ""))[:200]
        why = f"the exchange refused the subscription ({code}: {msg_text})"
        if code in _REFUSED or answer.get("status") in (401, 403):
            raise Refused(why)
        raise aiohttp.ClientError(why)

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> str:
        """Frames to the mailbox until the connection ends (why) or it is time to renew it."""
        try:
            async with asyncio.timeout(self.renew_s):
                async for msg in ws:
                    if msg.type is aiohttp.WSMsgType.TEXT:
                        await self.tell(Frame(text=msg.data, connection=self.connection))
                    elif msg.type is aiohttp.WSMsgType.ERROR:
                        return f"connection error: {ws.exception()}"
        except TimeoutError:
            await ws.close()
            return "renewed before the 24 h limit"
        return f"closed by the exchange (code {ws.close_code})"

    # -- frames → events ------------------------------------------------------------------------
    async def handle(self, message: Frame | Drain, reply: Reply) -> None:
        if isinstance(message, Drain):
            if reply is not None and not reply.done():
                reply.set_result(None)
            return
        try:
            frame = msgspec.json.decode(message.text)
        except msgspec.DecodeError:
            log.warning("account stream: a frame that is not JSON (%d characters), skipped", len(message.text))
            return
        event = frame.get("event") if isinstance(frame, dict) else None
        if not isinstance(event, dict):
            return  # an answer to a request, or not an event
        await self.account_event(event, "stream", message.connection)
        if reply is not None and not reply.done():
            reply.set_result(None)

    async def account_event(self, raw: dict[str, Any], source: str, connection: str) -> None:
        """Journal one account event (a stream event's fields, or a REST order's)."""
        event_type = _text(raw.get("e")) or ("order" if source == "rest" else "unknown")
        if event_type == "executionReport" or source == "rest":
            await self._order_event(raw, event_type, source)
        else:
            event = AccountEvent(
                event_type=event_type[:64],
                source=source,
                raw=raw,
                event_ms=_int(raw.get("E")),
                account=self.account,
            )
            await self._record(connection or self.run, event)

    async def _order_event(self, raw: dict[str, Any], event_type: str, source: str) -> None:
        if source == "rest":  # a REST order's own names
            symbol, order_id = _text(raw.get("symbol")), raw.get("orderId")
            client_id, side = _text(raw.get("clientOrderId")), _text(raw.get("side"))
            status, execution = _text(raw.get("status")), None
            executed, quote = raw.get("executedQty"), raw.get("cummulativeQuoteQty")
        else:
            symbol, order_id = _text(raw.get("s")), raw.get("i")
            client_id, side = _text(raw.get("C")) or _text(raw.get("c")), _text(raw.get("S"))
            status, execution = _text(raw.get("X")), _text(raw.get("x"))
            executed, quote = raw.get("z"), raw.get("Z")
        command_id, foreign = self._owner(client_id, symbol or "", order_id)
        event = AccountEvent(
            event_type=event_type[:64],
            source=source,
            raw=raw,
            symbol=symbol[:64] if symbol else UNSET,
            client_order_id=client_id[:64] if client_id else UNSET,
            order_id=_int(order_id),
            side=side[:16] if side else UNSET,
            execution=execution[:32] if execution else UNSET,
            status=status[:32] if status else UNSET,
            executed_qty=str(executed)[:64] if executed is not None else UNSET,
            quote_qty=str(quote)[:64] if quote is not None else UNSET,
            foreign=foreign,
            event_ms=_int(raw.get("E")),
            account=self.account,
        )
        await self._record(command_id, event)
        if foreign and command_id not in self._flagged:
            self._flagged.add(command_id)
            if not self.reader().has_event(command_id, "security"):
                details = ForeignOrder(
                    symbol=symbol,
                    side=side,
                    type=_text(raw.get("o") if source == "stream" else raw.get("type")),
                    quantity=_text(raw.get("q") if source == "stream" else raw.get("origQty")),
                    price=_text(raw.get("p") if source == "stream" else raw.get("price")),
                    client_order_id=client_id,
                    order_id=event.order_id if isinstance(event.order_id, int) else None,
                    status=status,
                    source=source,
                    account=self.account,
                )
                await self.flag(command_id, msgspec.structs.asdict(details))
                self.progress.set()

    def _owner(self, client_id: str | None, symbol: str, order_id: object) -> tuple[str, bool]:
        """(command id, foreign): the create_order command that placed the order, if any run on
        this log dispatched it (its `dispatched` is durable before the order is sent)."""
        matched = _OWN_ID.fullmatch(client_id or "")
        if matched:
            command_id = matched.group(1)
            if command_id in self._own or self.reader().has_event(command_id, "dispatched"):
                self._own.add(command_id)
                return command_id, False
        return foreign_id(self.account, symbol, order_id), True

    async def _record(self, command_id: str, event: AccountEvent) -> None:
        """To the journal without waiting for its commit (the stream's events go in the journal's
        batches); a failure to write is logged, and the next reconnection's reconciliation reads
        what the log lacks again."""
        self.journaled += 1
        written: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        written.add_done_callback(self._written)
        await self.journal.tell(Record(command_id=command_id, tool="", event=event), written)

    def _written(self, written: asyncio.Future[None]) -> None:
        if not written.cancelled() and written.exception() is not None:
            log.error("account stream: an account event was not written: %s", written.exception())
        self.progress.set()

    # -- the gap --------------------------------------------------------------------------------
    async def _reconcile_soon(self, gap_from_us: int | None) -> None:
        for delay in (0.0, 1.0, 2.0, 4.0, 8.0):
            if delay:
                await asyncio.sleep(delay)
            try:
                await self.reconcile(gap_from_us)
                return
            except (ExchangeError, aiohttp.ClientError, OSError, TimeoutError) as exc:
                log.warning("account stream: reconciling the gap failed (%s); trying again", exc)
        log.error("account stream: could not reconcile the gap; the next connection tries again")

    async def _send(self, *commands: Any) -> list[Any]:
        sent = await send_spent(self.limiter, self.client, *commands)
        if isinstance(sent, NotSent):
            raise aiohttp.ClientError(f"not sent: {sent.message}")
        return [reply.data for reply in sent]

    async def reconcile(self, gap_from_us: int | None = None) -> int:
        """What the stream may have missed, from REST; how many facts were journaled:
        1. the account's open orders (every symbol), each one the log lacks or holds older;
        2. each order the log holds open that is no longer open: its final state;
        3. with a gap of known start (a connection lost; a stream on this log before this run),
           the orders placed since it began on the symbols this log trades (its open orders', and
           those it dispatched in the last day, at most `GAP_SYMBOLS`): a foreign order placed and
           closed within the gap is found here. (`audit crosscheck` looks at any period and symbol.)"""
        self._told = {}
        known = await asyncio.to_thread(self._known_open)
        (opens,) = await self._send(GetOpenOrders())
        journaled = 0
        open_ids = set()
        symbols = {symbol for _, symbol, _ in known if symbol}
        for order in opens if isinstance(opens, list) else []:
            if not isinstance(order, dict):
                continue
            open_ids.add(_text(order.get("clientOrderId")))
            symbols.add(str(order.get("symbol") or ""))
            journaled += await self._rest_fact(order)
        for command_id, symbol, client_id in known:
            if client_id in open_ids or not symbol:
                continue
            try:
                (order,) = await self._send(GetOrder(symbol=symbol, client_order_id=client_id))
            except ExchangeError as exc:  # not this account's order (another run's paper account), or gone
                log.info("account stream: %s (%s) not found on this account: %s", command_id, client_id, exc)
                continue
            journaled += await self._rest_fact(order)
        if gap_from_us is not None:
            now_ms = self.clock_us() // 1000
            start_ms = max(gap_from_us // 1000, now_ms - DAY_MS + 60_000)  # allOrders spans at most 24 h
            symbols |= await asyncio.to_thread(self._traded_symbols, (now_ms - DAY_MS) * 1000)
            for symbol in sorted(s for s in symbols if s)[:GAP_SYMBOLS]:
                (orders,) = await self._send(GetOrders(symbol=symbol, start_time=start_ms, limit=1000))
                for order in orders if isinstance(orders, list) else []:
                    journaled += await self._rest_fact(order)
        if journaled:
            log.info("account stream: %d facts the stream missed, from REST", journaled)
        return journaled

    async def _rest_fact(self, order: Any) -> int:
        """Journal a REST order when it tells more than the log holds (1), else nothing (0)."""
        if not isinstance(order, dict) or not await self._newer(order):
            return 0
        await self.account_event(order, "rest", self.connection)
        return 1

    def _traded_symbols(self, since_us: int) -> set[str]:
        """The symbols of the orders this log dispatched since `since_us` (a connection of its own)."""
        reader = LogReader(self.log_path)
        try:
            rows = reader.query(_TRADED, (self.account, since_us)).fetchall()
        finally:
            reader.close()
        return {str(r[0]) for r in rows if r[0]}

    def _known_open(self) -> list[tuple[str, str, str]]:
        """The orders the log holds open (a connection of its own: this runs in a thread)."""
        reader = LogReader(self.log_path)
        try:
            rows = reader.query(_KNOWN_OPEN, (self.account,)).fetchall()
        finally:
            reader.close()
        return [(str(c), str(s or ""), str(k or "")) for c, s, k in rows]

    async def _newer(self, order: dict[str, Any]) -> bool:
        """Whether a REST order tells more than the log holds of it."""
        found = fact(order.get("status"), order.get("executedQty"), order.get("cummulativeQuoteQty"), 1 << 62)
        if found is None:
            return False
        command_id, _ = self._owner(
            _text(order.get("clientOrderId")), str(order.get("symbol") or ""), order.get("orderId")
        )
        held = self._told.get(command_id) or self._held(command_id)
        if held is not None and not (
            newer(held, found) and (held.status, held.executed_qty) != (found.status, found.executed_qty)
        ):
            return False
        self._told[command_id] = found  # journaled now: a later step of this reconciliation sees it
        return True

    def _held(self, command_id: str) -> Fact | None:
        """The newest fact the log holds of an order, from its own events (one indexed read; a
        cancel's answer, under the cancel's command, is not looked at: at worst the REST read then
        states again what that answer said)."""
        found = self.reader().newest_facts([command_id]).get(command_id)
        return None if found is None else found[0]
