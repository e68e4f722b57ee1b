"""`binance-mcp serve --http`: the same tools, pipeline and event log over Streamable HTTP.

One System serves every session (one guard, one reconciler, one rate budget toward Binance). The
SDK's app does the protocol (both eras: handshake sessions with `Mcp-Session-Id`, and 2026-07-28
requests without), its transport security checks Host and Origin (loopback names by default; a
foreign Host 421, a foreign Origin 403, before anything reaches the pipeline), its auth middleware
asks our `Verifier` (face/tokens.py) for every request (401 with `WWW-Authenticate: Bearer …`
without a usable token), and its body limit answers 413 past 1 MiB. uvicorn serves it on the
asyncio loop the actors run on, from a socket bound here, so the first line on stdout,
`MCP_HTTP_URL=http://HOST:PORT/PATH`, is printed only once it listens (`--port 0` takes a free
port). SIGTERM and SIGINT stop it as they stop stdio: uvicorn closes the sessions and lets the
requests in flight finish, then the System stops (the journal drains, `stopped`).

A non-loopback address is refused unless the person says how it is protected: `--tls-cert` and
`--tls-key` (uvicorn serves TLS) or `--insecure-no-tls` (a TLS-terminating proxy in front), with
a warning. Never plain HTTP on the network by accident.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import signal
import socket
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn
from mcp.server import Server
from mcp.server.auth.settings import AuthSettings
from mcp.server.transport_security import TransportSecuritySettings

from binance_mcp.events.schema import text_column
from binance_mcp.face.tokens import TokenFile, Verifier

__all__ = ["AuthFailures", "HttpOptions", "TokenGate", "no_token_problem", "refusal", "serve_http"]

log = logging.getLogger("binance_mcp.http")
MAX_BODY = 1024 * 1024  # a request body past this gets 413
MAX_SESSIONS = 256
SESSION_IDLE_S = 1800.0


@dataclass(frozen=True)
class HttpOptions:
    host: str = "127.0.0.1"
    port: int = 8765
    path: str = "/mcp"
    tokens: Path = Path("tokens.json")
    allowed_hosts: tuple[str, ...] = ()
    allowed_origins: tuple[str, ...] = ()
    tls_cert: str | None = None
    tls_key: str | None = None
    insecure_no_tls: bool = False

    @property
    def scheme(self) -> str:
        return "https" if self.tls_cert else "http"


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    with contextlib.suppress(ValueError):
        return ipaddress.ip_address(host).is_loopback
    return False


def refusal(options: HttpOptions) -> str | None:
    """Why these options may not be served, or None."""
    if not options.path.startswith("/"):
        return "--path must start with /"
    if (options.tls_cert is None) != (options.tls_key is None):
        return "--tls-cert and --tls-key go together"
    if not _loopback(options.host) and options.tls_cert is None and not options.insecure_no_tls:
        return (
            f"--host {options.host} is not a loopback address: serve TLS (--tls-cert FILE --tls-key FILE), or, "
            "behind a reverse proxy that terminates TLS, say so with --insecure-no-tls"
        )
    return None


def _security(options: HttpOptions, port: int) -> TransportSecuritySettings:
    """Host and Origin allowlists: loopback names at this port, and what the person added."""
    names = ["127.0.0.1", "localhost", "[::1]"]
    if not _loopback(options.host) and options.host not in ("0.0.0.0", "::"):
        names.append(options.host)
    hosts = [f"{name}:{port}" for name in names] + list(options.allowed_hosts)
    origins = [f"{scheme}://{name}:{port}" for name in names for scheme in ("http", "https")]
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=hosts,
        allowed_origins=origins + list(options.allowed_origins),
    )


class _Server(uvicorn.Server):
    """uvicorn, with signals left to us: its own handlers re-raise the signal after the shutdown,
    which would end the process before the System has stopped."""

    def __init__(self, config: uvicorn.Config):
        super().__init__(config)
        self.listening = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            self.listening.set()


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.setblocking(False)
    return sock


class AuthFailures:
    """An ASGI wrapper that puts every refused credential on record: a request answered 401 is a
    `security` event `authentication_failed` (the remote address, the token's name when it was a
    known one, revoked or expired; never the presented text) and its SECURITY_EVENT line. At most
    MAX_PER_MINUTE of them a minute are written, so a flood of bad requests cannot fill the disk;
    the next one written says how many were left out."""

    MAX_PER_MINUTE = 120

    def __init__(self, app: Any, verifier: Verifier, record: Callable[[dict[str, Any]], Awaitable[None]]):
        self.app = app
        self.verifier = verifier
        self.record = record
        self.minute = 0
        self.written = 0
        self.left_out = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return
        status: list[int] = []

        async def noted(message: dict[str, Any]) -> None:
            if message.get("type") == "http.response.start":
                status.append(int(message.get("status", 0)))
            await send(message)

        await self.app(scope, receive, noted)
        if status[:1] == [401]:
            await self._refused(scope)

    async def _refused(self, scope: dict[str, Any]) -> None:
        minute = int(time.monotonic() // 60)
        if minute != self.minute:
            self.minute, self.written = minute, 0
        if self.written >= self.MAX_PER_MINUTE:
            self.left_out += 1
            return
        self.written += 1
        headers = dict(scope.get("headers") or [])
        credential = headers.get(b"authorization", b"").decode("latin-1")
        scheme, _, token = credential.partition(" ")
        entry = self.verifier.known(token.strip()) if scheme.lower() == "bearer" and token else None
        client = scope.get("client") or ("", 0)
        details: dict[str, Any] = {
            "remote": f"{client[0]}:{client[1]}",
            "path": text_column(str(scope.get("path", ""))),
            "credential": "none" if not credential else "bearer" if scheme.lower() == "bearer" else "other",
        }
        if entry is not None:
            details["token"] = entry.name  # a known token that is revoked or expired: name it
        if self.left_out:
            details["left_out_before"], self.left_out = self.left_out, 0
        await self.record(details)


class TokenGate:
    """An ASGI wrapper in front of the SDK's app: a request without a usable token is answered here,
    401 with a body that says what is wrong (no token, not a Bearer token, unknown, revoked,
    expired; never which tokens exist) and `WWW-Authenticate: Bearer` without `resource_metadata`.
    These tokens come from `binance-mcp token add`, not from an authorization server, so none is
    advertised: the OAuth discovery documents are 404 (a client that found one would start an
    OAuth flow that cannot succeed). A request with a usable token goes on to the SDK's app."""

    def __init__(self, app: Any, verifier: Verifier):
        self.app = app
        self.verifier = verifier

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope.get("type") != "http" or scope.get("method") == "OPTIONS":  # a CORS preflight has no token
            await self.app(scope, receive, send)
            return
        if str(scope.get("path", "")).startswith("/.well-known/oauth"):
            await _answer(send, 404, {"error": "not_found", "error_description": "no authorization server here"})
            return
        headers = dict(scope.get("headers") or [])
        credential = headers.get(b"authorization", b"").decode("latin-1").strip()
        scheme, _, token = credential.partition(" ")
        why = self._refusal(credential, scheme, token.strip())
        if why is None:
            await self.app(scope, receive, send)
            return
        challenge = 'Bearer realm="binance-mcp"' + (
            f', error="invalid_token", error_description="{why}"' if credential else ""
        )
        await _answer(send, 401, {"error": "invalid_token", "error_description": why}, challenge)

    def _refusal(self, credential: str, scheme: str, token: str) -> str | None:
        if not credential:
            return "no token: send Authorization: Bearer <token> (binance-mcp token add NAME makes one)"
        if scheme.lower() != "bearer" or not token:
            return "not a Bearer token: send Authorization: Bearer <token>"
        entry = self.verifier.known(token)
        if entry is None:
            return "unknown token"
        if entry.revoked_us is not None:
            return "this token was revoked"
        if not entry.usable(self.verifier.clock_us()):
            return "this token has expired"
        return None


async def _answer(send: Any, status: int, body: dict[str, str], challenge: str | None = None) -> None:
    payload = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    if challenge is not None:
        headers.append((b"www-authenticate", challenge.encode("latin-1", "replace")))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


def no_token_problem(options: HttpOptions) -> str | None:
    """Why `serve --http` must not start for want of a token (every request would be refused), or None."""
    try:
        entries = TokenFile(options.tokens).entries()
    except ValueError as exc:
        return str(exc)
    now = time.time_ns() // 1000
    if not any(e.usable(now) for e in entries):
        return (
            f"no usable token in {options.tokens}: every request would be refused. Make one first: "
            "binance-mcp token add NAME --scope read (or trade)"
        )
    return None


async def serve_http(
    server: Server[Any],
    options: HttpOptions,
    on_auth_failure: Callable[[dict[str, Any]], Awaitable[None]] | None = None,
    fatal: asyncio.Event | None = None,
) -> tuple[int, str]:
    """Serve `server` over Streamable HTTP until SIGTERM or SIGINT, or until `fatal` is set (a
    stage gave up: stopped as stdio stops); (exit code, why it stopped). `on_auth_failure` is told
    of each refused credential (AuthFailures)."""
    sock = _bind(options.host, options.port)
    port = sock.getsockname()[1]
    shown_host = f"[{options.host}]" if ":" in options.host else options.host
    url = f"{options.scheme}://{shown_host}:{port}{options.path}"
    verifier = Verifier(options.tokens)
    app = server.streamable_http_app(
        streamable_http_path=options.path,
        transport_security=_security(options, port),
        token_verifier=verifier,
        auth=AuthSettings(
            issuer_url=f"{options.scheme}://{shown_host}:{port}",  # type: ignore[arg-type]
            resource_server_url=url,  # type: ignore[arg-type]
            required_scopes=["read"],
            validate_token_resource=False,  # our tokens are not audience-bound JWTs
        ),
        max_request_body_size=MAX_BODY,
        max_sessions=MAX_SESSIONS,
        session_idle_timeout=SESSION_IDLE_S,
        host=options.host,
    )
    app = TokenGate(app, verifier)  # type: ignore[assignment]
    if on_auth_failure is not None:
        app = AuthFailures(app, verifier, on_auth_failure)  # type: ignore[assignment]
    config = uvicorn.Config(
        app,
        log_level="warning",
        lifespan="on",
        ssl_certfile=options.tls_cert,
        ssl_keyfile=options.tls_key,
        timeout_graceful_shutdown=10,
        access_log=False,
    )
    web = _Server(config)
    signals: list[str] = []
    loop = asyncio.get_running_loop()

    def on_signal(name: str) -> None:
        signals.append(name)
        web.should_exit = True

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal, sig.name)
    serving = asyncio.create_task(web.serve(sockets=[sock]))
    listening = asyncio.create_task(web.listening.wait())
    gave_up = asyncio.create_task((fatal or asyncio.Event()).wait())
    try:
        await asyncio.wait({serving, listening}, return_when=asyncio.FIRST_COMPLETED)
        listening.cancel()
        if web.started:
            print(f"MCP_HTTP_URL={url}", flush=True)
            if options.insecure_no_tls and not _loopback(options.host):
                print(f"binance-mcp: WARNING: plain HTTP on {options.host}: TLS must be done in front", file=sys.stderr)
        await asyncio.wait({serving, gave_up}, return_when=asyncio.FIRST_COMPLETED)
        if gave_up.done():  # the server cannot serve any more: stop, as stdio does
            web.should_exit = True
            await serving
    finally:
        gave_up.cancel()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        sock.close()
    if gave_up.done() and not gave_up.cancelled() and not signals:
        return 1, "fatal error"
    if signals:
        print(f"binance-mcp: {signals[0]}: stopping", file=sys.stderr, flush=True)
        return 0, signals[0]
    return (0, "stopped") if web.started else (2, "could not serve")
