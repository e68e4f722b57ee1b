"""The event log's language: one frozen Struct per kind of event, and the one codec through which
every event is written to the log and read from it (as eventsourcing's `Mapper` is). Pure, no I/O.

    kind                    Struct                  written by            body on disk
    received                Received                the system            {args, client, run, session, size}
    confirmation_requested  ConfirmationRequested   the confirmer         {summary, timeout_s}
    confirmed               Confirmed               the confirmer         {}
    dispatched              Dispatched              the executor          {request, symbol, client_order_id, ...}
    rejected … unknown      Outcome (outcomes.py)   the pipeline          {outcome, ...}: the tag is the kind
    reconciled              Reconciled              the reconciler        the order as the exchange showed it
    started, stopped        Started, Stopped        the system            a run's settings; why it stopped
    session                 Session                 the system            an MCP client's clientInfo
    security                Security                the system            {event_type, ...details}, flat
    account_event           AccountEvent            the account stream    {event_type, source, raw, ...}
    stream_connected        StreamConnected         the account stream    {run, url, subscription_id, ...}
    stream_lost             StreamLost              the account stream    {run, reason, retrying, events}
    paper_reset             PaperReset              `paper reset`         {account, state, moved_to, reason, ...}

The bodies are what schema version 2 wrote (tests/events/fixtures/log-schema2.sqlite3 decodes and
encodes back to the same bytes, event by event): keys sorted, decimals as strings, a key that a
body may lack is `UNSET` here (absent on disk), apart from one that is there as null. Keys that
earlier logs lack are `UNSET` too (a schema-1 `received` has only args, client and size; the
first orders' `dispatched` no base asset), so every log this server ever wrote still reads.

`encode(event) -> bytes` is a body; `decode(kind, body) -> the event`, or `Unreadable` for a body
that is not what its kind says (a log written by a bug, tampered with, or cut to its digest when
it was too large to keep, `truncated`): readers get a value, never an exception.

A client's text is written as it came, with two exceptions that keep every row valid UTF-8 and
the hash over exactly what is stored: a string that is no Unicode text (a lone surrogate, which
UTF-8 cannot carry) is written as `text_column` escapes it, in a body that says `"escaped": true`;
and the `tool` column holds `text_column(name)` (events/store.py says why).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, ClassVar

import msgspec
from msgspec import UNSET, UnsetType

from binance_mcp.events.accounts import AccountRecord
from binance_mcp.events.outcomes import Executed, Failed, Outcome, Rejected, Throttled, Unknown

__all__ = [
    "KINDS",
    "SECURITY_DETAILS",
    "AboutRun",
    "AccountEvent",
    "ClientInfo",
    "ConfirmationRequested",
    "Confirmed",
    "Dispatched",
    "ForeignOrder",
    "GuardRecord",
    "Halted",
    "LogEvent",
    "Logged",
    "PaperReset",
    "PaperRun",
    "Received",
    "Reconciled",
    "Request",
    "Resumed",
    "Security",
    "Session",
    "Started",
    "Stopped",
    "StreamConnected",
    "StreamLost",
    "TradingSwitch",
    "Unreadable",
    "decode",
    "encode",
    "is_text",
    "text_column",
]


MAX_TEXT_COLUMN = 200
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def is_text(value: str) -> bool:
    """Whether UTF-8 can carry `value`: it holds no lone surrogate."""
    return _LONE_SURROGATE.search(value) is None


def text_column(value: str, limit: int | None = MAX_TEXT_COLUMN) -> str:
    """A client's string as a text column holds it (events/store.py): JSON string escaping without
    the quotes, a lone surrogate as `\\udXXX`, cut to `limit` characters (None: never)."""
    if (
        (limit is None or len(value) <= limit)
        and value.isascii()
        and value.isprintable()
        and '"' not in value
        and "\\" not in value
    ):
        return value  # every tool name: nothing to escape (the common case, once per event)
    text = json.dumps(value, ensure_ascii=False)[1:-1]
    text = _LONE_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
    if limit is not None and len(text) > limit:
        return f"{text[:limit]}…[{len(value)} characters]"
    return text


class LogEvent(msgspec.Struct, frozen=True, kw_only=True):
    """Base of the events that are not outcomes; `kind` is the log's `kind` column."""

    kind: ClassVar[str]


class GuardRecord(msgspec.Struct, frozen=True, kw_only=True):
    """The trading guard's settings in force (actors/guard.py `Guard.record`)."""

    trading_enabled: bool
    max_order_notional: str | None
    max_daily_notional: str | None
    symbol_allowlist: list[str] | None
    confirm_orders: bool


class Received(LogEvent, frozen=True):
    """A tool call as it arrived, first of its command's events."""

    kind: ClassVar[str] = "received"
    args: dict[str, Any]
    client: str | UnsetType = UNSET  # absent, with run and session, in logs of schema version 1
    size: int | UnsetType = UNSET
    run: str | UnsetType = UNSET
    session: str | UnsetType = UNSET
    escaped: bool | UnsetType = UNSET  # a lone surrogate was written as text (actors/journal.py)
    scopes: list[str] | UnsetType = UNSET  # over HTTP: what the caller's token allowed (absent: everything)


class ConfirmationRequested(LogEvent, frozen=True):
    kind: ClassVar[str] = "confirmation_requested"
    summary: str
    timeout_s: float


class Confirmed(LogEvent, frozen=True):
    kind: ClassVar[str] = "confirmed"


class Request(msgspec.Struct, frozen=True, kw_only=True):
    """The exact request of a state change, minus its signature."""

    method: str
    path: str
    query: str


class Dispatched(LogEvent, frozen=True):
    """A state change about to leave: durable before it is sent."""

    kind: ClassVar[str] = "dispatched"
    request: Request
    symbol: str | None
    client_order_id: str | None
    order_id: int | None
    quote_asset: str | None
    notional: Decimal | None  # an order's value in its quote asset
    ref_price: Decimal | None
    guard: GuardRecord
    base_asset: str | UnsetType | None = UNSET  # absent in the first logs that dispatched orders
    # An order's: the log position (seq) the guard's decision saw. The append is refused if another
    # run dispatched an order, or trading was halted, after it (actors/journal.py); absent before.
    seen_seq: int | UnsetType = UNSET


class Reconciled(LogEvent, frozen=True):
    """What the reconciler found of a state change whose outcome was unknown: for an order,
    `placed` (and the order as the exchange shows it, in its own names); for a cancel, `canceled`;
    for cancel_open_orders, how many orders are still open."""

    kind: ClassVar[str] = "reconciled"
    placed: bool | UnsetType = UNSET
    canceled: bool | UnsetType = UNSET
    open_orders: int | UnsetType = UNSET
    reason: str | UnsetType = UNSET
    client_order_id: str | UnsetType | None = UNSET  # an order the exchange does not know
    symbol: str | UnsetType | None = UNSET
    order_id: int | UnsetType | None = msgspec.field(default=UNSET, name="orderId")
    exchange_client_order_id: str | UnsetType | None = msgspec.field(default=UNSET, name="clientOrderId")
    status: str | UnsetType | None = UNSET
    executed_qty: str | UnsetType | None = msgspec.field(default=UNSET, name="executedQty")
    cummulative_quote_qty: str | UnsetType | None = msgspec.field(default=UNSET, name="cummulativeQuoteQty")


class PaperRun(msgspec.Struct, frozen=True, kw_only=True):
    embedded: bool  # the log's own paper account (face/paper.py), not a `binance-mcp paper` elsewhere
    limits: dict[str, Any] | UnsetType = UNSET
    state: str | UnsetType = UNSET  # the folder the log's paper account is kept in (absent before it was kept)


class AboutRun(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What the face says of a run, for its `started`: `serve` its version, base URL and paper
    exchange (server.py); a re-run also the log it re-runs (face/rerun.py)."""

    version: str | UnsetType = UNSET
    base_url: str | UnsetType | None = UNSET
    paper: PaperRun | UnsetType = UNSET
    replay_of: str | UnsetType = UNSET  # the log a re-run re-runs
    of_run: str | UnsetType = UNSET  # the run of that log this run re-runs
    until_us: int | UnsetType | None = UNSET
    set: dict[str, str] | UnsetType = UNSET  # the settings a re-run changed
    account: AccountRecord | UnsetType = UNSET  # the account the run acts for (events/accounts.py)


class Started(LogEvent, frozen=True):
    """A run of the server: what it said of itself, never a credential."""

    kind: ClassVar[str] = "started"
    venue: str
    pid: int
    guard: GuardRecord
    calls_per_minute: int | None
    exchange_rules: bool
    recv_window_ms: int
    version: str | UnsetType = UNSET
    base_url: str | UnsetType | None = UNSET
    paper: PaperRun | UnsetType = UNSET
    replay_of: str | UnsetType = UNSET
    of_run: str | UnsetType = UNSET
    until_us: int | UnsetType | None = UNSET
    set: dict[str, str] | UnsetType = UNSET
    account: AccountRecord | UnsetType = UNSET  # absent before runs recorded their account


class Stopped(LogEvent, frozen=True):
    kind: ClassVar[str] = "stopped"
    reason: str


class TradingSwitch(LogEvent, frozen=True):
    """The switch every run on the log obeys (face/halt.py): why, and who threw it."""

    reason: str
    user: str
    host: str
    pid: int


class Halted(TradingSwitch, frozen=True):
    """Trading halted for every run on the log (`binance-mcp halt`), until a `resumed`."""

    kind: ClassVar[str] = "halted"


class Resumed(TradingSwitch, frozen=True):
    """Trading allowed again (`binance-mcp resume`)."""

    kind: ClassVar[str] = "resumed"


class PaperReset(LogEvent, frozen=True):
    """The log's paper account started afresh on purpose (`binance-mcp paper reset`): its state
    moved aside (nothing deleted); the next server makes a new paper account, with a new id."""

    kind: ClassVar[str] = "paper_reset"
    account: str | None  # the paper account that was reset (its id; None: its state named none)
    state: str  # the folder it was kept in
    moved_to: str  # where that folder is now
    reason: str
    user: str
    host: str
    pid: int


class ClientInfo(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    version: str


class Session(LogEvent, frozen=True):
    """An MCP client's session: its clientInfo and protocol version, in a run."""

    kind: ClassVar[str] = "session"
    run: str
    client: ClientInfo
    protocol: str
    principal: str | UnsetType = UNSET  # over HTTP: the name of the token that opened it
    remote: str | UnsetType = UNSET  # over HTTP: the client's address


class Security(LogEvent, frozen=True):
    """A security fact the log holds nowhere else. On disk flat: `{"event_type", ...details}`."""

    kind: ClassVar[str] = "security"
    event_type: str
    details: dict[str, Any] = msgspec.field(default_factory=dict)


class AccountEvent(LogEvent, frozen=True):
    """An event of the account as Binance reported it: from the user data stream (`source`
    "stream"), or found by a REST read after a gap in the stream ("rest"). `raw` keeps the
    event's own fields as sent (an executionReport's one-letter names; a REST order's names); the
    fields beside it are what readers join on. An order event's command id is the `create_order`
    command that placed the order, when this log has one; else (a foreign order) one id derived
    from the order, so every event of it reads together; a balance event's, the connection's."""

    kind: ClassVar[str] = "account_event"
    event_type: str  # executionReport, outboundAccountPosition, balanceUpdate, listStatus, …
    source: str  # "stream" or "rest"
    raw: dict[str, Any]
    symbol: str | UnsetType = UNSET
    client_order_id: str | UnsetType = UNSET  # the order's own: `C` when a cancel sets it, else `c`
    order_id: int | UnsetType = UNSET
    side: str | UnsetType = UNSET
    execution: str | UnsetType = UNSET  # x: NEW, TRADE, CANCELED, EXPIRED, …
    status: str | UnsetType = UNSET  # X: the order's status after this event
    executed_qty: str | UnsetType = UNSET  # z: cumulative
    quote_qty: str | UnsetType = UNSET  # Z: cumulative
    foreign: bool = False  # no run on this log dispatched the order
    event_ms: int | UnsetType = UNSET  # E: when the exchange sent it
    account: str | UnsetType = UNSET  # the account's id (events/accounts.py); absent before accounts


class ForeignOrder(msgspec.Struct, frozen=True, kw_only=True):
    """The details of a `security` event `foreign_order` (written flat beside `event_type`): an
    order on the account that no run on this log placed, as the account stream first saw it."""

    symbol: str | None
    side: str | None
    type: str | None
    quantity: str | None
    price: str | None
    client_order_id: str | None
    order_id: int | None
    status: str | None
    source: str  # stream, or rest (found after a gap)
    account: str  # the account it is on (events/accounts.py)


SECURITY_DETAILS: tuple[type[msgspec.Struct], ...] = (ForeignOrder,)  # typed details of `security` events


class StreamConnected(LogEvent, frozen=True):
    """The account stream subscribed (its command id is the connection's own)."""

    kind: ClassVar[str] = "stream_connected"
    run: str
    url: str
    subscription_id: int
    attempt: int  # 1 for the run's first connection; then each reconnection's number
    gap_from_us: int | None  # when the stream was last known to hear everything (None: never on this log)


class StreamLost(LogEvent, frozen=True):
    """The account stream's connection ended, or could not be made; `retrying` false: given up
    (a refused subscription: a bad key or signature)."""

    kind: ClassVar[str] = "stream_lost"
    run: str
    reason: str
    retrying: bool
    events: int  # account events this connection carried


class Unreadable(LogEvent, frozen=True):
    """A body that is not what its kind says (or a kind this code does not know)."""

    kind: ClassVar[str] = "unreadable"
    of_kind: str
    body: str
    why: str


_EVENTS: tuple[type[LogEvent], ...] = (
    Received,
    ConfirmationRequested,
    Confirmed,
    Dispatched,
    Reconciled,
    Started,
    Stopped,
    Session,
    Security,
    Halted,
    Resumed,
    AccountEvent,
    StreamConnected,
    StreamLost,
    PaperReset,
)
_OUTCOMES: tuple[type[Outcome], ...] = (Rejected, Throttled, Executed, Failed, Unknown)
KINDS: dict[str, type[LogEvent] | type[Outcome]] = {
    **{cls.kind: cls for cls in _EVENTS},
    **{str(cls.__struct_config__.tag): cls for cls in _OUTCOMES},
}
_encoder = msgspec.json.Encoder(order="sorted", decimal_format="string")
_decoders = {kind: msgspec.json.Decoder(cls) for kind, cls in KINDS.items() if cls is not Security}
_flat = msgspec.json.Decoder(dict[str, Any])


def _builtins(event: LogEvent | Outcome) -> Any:
    if isinstance(event, Security):
        return {**event.details, "event_type": event.event_type}
    return event


def _escaped(value: Any) -> Any:
    """`value` (builtins) with each lone surrogate in its strings written as the text `\\udXXX`."""
    if isinstance(value, str):
        return value if is_text(value) else text_column(value, limit=None)
    if isinstance(value, dict):
        return {_escaped(k): _escaped(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_escaped(v) for v in value]
    return value


def encode(event: LogEvent | Outcome) -> bytes:
    """The body of `event` as the log stores it (keys sorted, decimals as strings)."""
    try:
        return _encoder.encode(_builtins(event))
    except UnicodeEncodeError:  # not Unicode text: written escaped, and said so
        escaped = _escaped(msgspec.to_builtins(_builtins(event)))
        if isinstance(escaped, dict):
            escaped["escaped"] = True
        return _encoder.encode(escaped)


def decode(kind: str, body: str | bytes) -> LogEvent | Outcome:
    """The event a row holds; `Unreadable` when its body is not what its kind says."""
    try:
        if kind == "security":
            flat = _flat.decode(body)
            event_type = flat.pop("event_type")
            if not isinstance(event_type, str):
                raise msgspec.ValidationError("event_type is not a string")
            return Security(event_type=event_type, details=flat)
        decoder = _decoders.get(kind)
        if decoder is None:
            raise msgspec.ValidationError(f"no kind {kind!r}")
        event: LogEvent | Outcome = decoder.decode(body)
        return event
    except (msgspec.DecodeError, KeyError) as exc:  # ValidationError is a DecodeError
        text = body if isinstance(body, str) else body.decode(errors="replace")
        return Unreadable(of_kind=kind, body=text, why=str(exc)[:200])


class Logged:
    """One row of the log as readers take it: its place and columns, and `event`, its body decoded
    (when first asked for: a reader that looks only at kinds decodes nothing)."""

    __slots__ = ("_event", "body", "command_id", "kind", "seq", "tool", "ts_us")

    def __init__(self, seq: int, ts_us: int, command_id: str, kind: str, tool: str, body: str | bytes):
        self.seq, self.ts_us, self.command_id, self.kind, self.tool = seq, ts_us, command_id, kind, tool
        self.body = body
        self._event: LogEvent | Outcome | None = None

    @classmethod
    def of(cls, row: Sequence[object]) -> Logged:
        """From (seq, ts, command_id, kind, tool, body), as the store's queries give them."""
        seq, ts, command_id, kind, tool, body = row
        assert isinstance(body, str | bytes)
        return cls(int(str(seq)), int(str(ts)), str(command_id), str(kind), str(tool), body)

    @property
    def event(self) -> LogEvent | Outcome:
        if self._event is None:
            self._event = decode(self.kind, self.body)
        return self._event
