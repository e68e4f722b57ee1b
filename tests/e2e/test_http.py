"""`serve --http` as a real process, driven with the SDK's Streamable HTTP client in both eras and
with raw HTTP requests: tokens (none, wrong, revoked without a restart), scopes (a read token is
refused orders, journaled, nothing sent), a trade token's order filled, Host and Origin checks
before the pipeline, the body limit, SIGTERM, and the token text nowhere."""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import shutil
import signal
import ssl
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp.client.client import Client
from mcp.client.streamable_http import streamable_http_client

from binance_mcp.exchange.paper import start_paper_exchange
from binance_mcp.face.http import HttpOptions, serve_http
from binance_mcp.face.tokens import TokenFile, last_used

from ..logs import read_log
from .conftest import ROOT, serve_env, spawn
from .test_trading import answering

INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}},
}
HEADERS = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
ORDER = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001"}


async def start_http(env: dict[str, str], *extra: str) -> tuple[asyncio.subprocess.Process, str]:
    """`serve --http --port 0`; the process and the URL its first stdout line names."""
    proc = await spawn(env, sys.executable, str(ROOT / "server.py"), "serve", "--http", "--port", "0", *extra)
    assert proc.stdout is not None
    line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode().strip()
    assert line.startswith("MCP_HTTP_URL=http://127.0.0.1:"), line
    return proc, line.removeprefix("MCP_HTTP_URL=")


@asynccontextmanager
async def connected(url: str, token: str, mode: str) -> AsyncIterator[Client]:
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30)
    async with http, Client(streamable_http_client(url, http_client=http), mode=mode) as client:  # type: ignore[arg-type]
        yield client


async def post(url: str, body: Any, **headers: str) -> httpx2.Response:
    async with httpx2.AsyncClient(timeout=30) as http:
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        return await http.post(url, content=content, headers={**HEADERS, **headers})


async def test_tokens_scopes_checks_and_a_clean_stop_over_http(tmp_path: Path) -> None:
    running = await start_paper_exchange()
    log, tokens = tmp_path / "events.sqlite3", tmp_path / "tokens.json"
    reader = TokenFile(tokens).add("laptop", "read", None)
    trader = TokenFile(tokens).add("desk", "trade", None)
    an_hour_ago = time.time_ns() // 1000 - 3_600_000_000
    expired = TokenFile(tokens).add("old", "trade", 60, now_us=an_hour_ago)  # expired 59 minutes ago
    env = serve_env(running, log, MCP_HTTP_TOKENS_FILE=str(tokens), MCP_MAX_REQUESTS_PER_MINUTE="10000")
    proc, url = await start_http(env)
    try:
        for presented, why in (
            ({}, "no token"),
            ({"Authorization": "Bearer bmcp_wrong"}, "unknown token"),
            ({"Authorization": f"Basic {reader}"}, "not a Bearer token"),
            ({"Authorization": f"Bearer {expired}"}, "this token has expired"),
        ):
            refused = await post(url, INIT, **presented)
            assert refused.status_code == 401 and refused.headers["www-authenticate"].startswith("Bearer")
            # what is wrong, in the body; no authorization server advertised (there is none)
            assert refused.json()["error_description"].startswith(why) and "old" not in refused.text
            assert "resource_metadata" not in refused.headers["www-authenticate"]
        async with httpx2.AsyncClient(timeout=30) as http:
            base = url.rpartition("/mcp")[0]
            for document in ("oauth-protected-resource/mcp", "oauth-authorization-server"):
                assert (await http.get(f"{base}/.well-known/{document}")).status_code == 404
        async with connected(url, reader, "legacy") as client:
            price = await client.call_tool("get_ticker_price", {"symbol": "BTCUSDT"})
            assert price.structured_content is not None and price.structured_content["success"] is True
            forbidden = await client.call_tool("create_order", ORDER)
            assert forbidden.is_error and forbidden.structured_content is not None
            error = forbidden.structured_content["error"]
            assert error["type"] == "forbidden" and "trade scope" in error["message"]
        assert running.exchange.served["POST /api/v3/order"] == 0  # nothing sent
        async with connected(url, trader, "auto") as client:
            placed = await client.call_tool("create_order", ORDER)
            assert placed.structured_content is not None and placed.structured_content["data"]["status"] == "FILLED"
        before = len(read_log(log))
        origin = await post(url, INIT, Authorization=f"Bearer {trader}", Origin="https://evil.example")
        host = await post(url, INIT, Authorization=f"Bearer {trader}", Host="evil.example")
        assert (origin.status_code, host.status_code) == (403, 421)
        big = await post(url, b'{"pad": "' + b"x" * (2 * 1024 * 1024) + b'"}', Authorization=f"Bearer {trader}")
        assert big.status_code == 413
        assert len(read_log(log)) == before  # none of those reached the pipeline
        assert TokenFile(tokens).revoke("laptop")
        revoked = await post(url, INIT, Authorization=f"Bearer {reader}")
        assert revoked.status_code == 401 and revoked.json()["error_description"] == "this token was revoked"
        for _ in range(5):  # a burst of bad credentials
            assert (await post(url, INIT, Authorization="Bearer bmcp_guess")).status_code == 401
        async with connected(url, trader, "legacy") as client:  # and the server goes on
            again = await client.call_tool("get_ticker_price", {"symbol": "ETHUSDT"})
            assert again.structured_content is not None and again.structured_content["success"] is True
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 30) == 0
        assert proc.stderr is not None
        stderr = (await proc.stderr.read()).decode()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await running.stop()
    rows = read_log(log)
    assert rows[-1].kind == "stopped" and json.loads(rows[-1].body) == {"reason": "SIGTERM"}
    sessions = [json.loads(r.body) for r in rows if r.kind == "session"]
    assert {s.get("principal") for s in sessions} == {"laptop", "desk"}
    assert all(s["remote"] == "127.0.0.1" for s in sessions)
    refused = [r for r in rows if r.tool == "create_order" and r.kind == "rejected"]
    assert len(refused) == 1 and json.loads(refused[0].body)["kind"] == "forbidden"
    everything = "".join(r.body for r in rows) + stderr + log.read_bytes().decode("latin-1")
    assert all(t not in everything for t in (reader, trader, expired))  # the token text: nowhere
    placed_id = next(r.command_id for r in rows if r.tool == "create_order" and r.kind == "dispatched")
    show = await asyncio.create_subprocess_exec(
        *(sys.executable, str(ROOT / "server.py"), "audit", "show", placed_id, "--event-log", str(log)),
        stdout=asyncio.subprocess.PIPE,
    )
    shown = (await show.communicate())[0].decode()
    assert "token desk  from 127.0.0.1" in shown  # which token placed the order
    used = last_used(log)
    assert set(used) == {"laptop", "desk"} and used["desk"] > used["laptop"]  # `token list`'s last used
    failures = [json.loads(r.body) for r in rows if r.kind == "security"]
    assert [f["event_type"] for f in failures] == ["authentication_failed"] * 10
    assert [f.get("credential") for f in failures[:4]] == ["none", "bearer", "other", "bearer"]
    assert [f.get("token") for f in failures[3:6]] == ["old", "laptop", None]  # known tokens named, never their text
    assert all(f["remote"].startswith("127.0.0.1:") for f in failures)
    assert stderr.count('"event_type": "authentication_failed"') == 10
    alerts = await asyncio.create_subprocess_exec(
        *(sys.executable, str(ROOT / "server.py"), "audit", "alerts", "--json", "--event-log", str(log)),
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await alerts.communicate()
    found = {a["pattern"]: a for a in json.loads(out)["alerts"]}
    assert alerts.returncode == 1 and found["authentication_failures"]["count"] == 10


async def test_a_non_loopback_address_without_tls_is_refused(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BINANCE_", "MCP_"))}
    env["MCP_EVENT_LOG"] = str(tmp_path / "events.sqlite3")
    proc = await spawn(env, sys.executable, str(ROOT / "server.py"), "serve", "--http", "--host", "0.0.0.0")
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 2 and out == b""
    assert b"--tls-cert" in err and b"--insecure-no-tls" in err
    assert not (tmp_path / "events.sqlite3").exists()  # refused before anything started


async def test_two_sessions_each_have_their_own_call_budget(tmp_path: Path) -> None:
    running = await start_paper_exchange()
    log, tokens = tmp_path / "events.sqlite3", tmp_path / "tokens.json"
    noisy, quiet = TokenFile(tokens).add("noisy", "read", None), TokenFile(tokens).add("quiet", "read", None)
    env = serve_env(running, log, MCP_HTTP_TOKENS_FILE=str(tokens), MCP_MAX_REQUESTS_PER_MINUTE="3")
    proc, url = await start_http(env)
    try:
        async with connected(url, noisy, "legacy") as first, connected(url, quiet, "legacy") as second:
            price = {"symbol": "BTCUSDT"}
            answers = [await first.call_tool("get_ticker_price", price) for _ in range(4)]
            assert [a.is_error for a in answers] == [False, False, False, True]
            assert answers[-1].structured_content is not None
            assert answers[-1].structured_content["error"]["type"] == "rate_limit_exceeded"
            others = await asyncio.gather(*(second.call_tool("get_ticker_price", price) for _ in range(3)))
            assert not any(a.is_error for a in others)  # the noisy one did not spend them
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), 30)
        await running.stop()


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_confirmation_over_http_in_both_eras(tmp_path: Path, mode: str) -> None:
    """MCP_CONFIRM_ORDERS over HTTP: the person is asked through the client that made the call (the
    legacy era within the call, the 2026-07-28 era by a retried call), and the order goes only then."""
    running = await start_paper_exchange()
    log, tokens = tmp_path / "events.sqlite3", tmp_path / "tokens.json"
    trader = TokenFile(tokens).add("desk", "trade", None)
    env = serve_env(running, log, MCP_HTTP_TOKENS_FILE=str(tokens), MCP_CONFIRM_ORDERS="true")
    elicit, asked = answering("accept", True)
    proc, url = await start_http(env)
    try:
        http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {trader}"}, timeout=30)
        transport = streamable_http_client(url, http_client=http)
        async with http, Client(transport, mode=mode, elicitation_callback=elicit) as client:  # type: ignore[arg-type]
            assert client.protocol_version == ("2025-11-25" if mode == "legacy" else "2026-07-28")
            placed = await client.call_tool("create_order", ORDER)
        assert placed.structured_content is not None and placed.structured_content["data"]["status"] == "FILLED"
        assert running.exchange.served["POST /api/v3/order"] == 1
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), 30)
        await running.stop()
    (question,) = asked
    assert question.startswith("Place order: BUY 0.001 BTCUSDT MARKET")
    kinds = [r.kind for r in read_log(log) if r.tool == "create_order"]
    assert kinds == ["received", "confirmation_requested", "confirmed", "dispatched", "executed"]


def _self_signed(where: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, made here (the `cryptography` package)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = where / "cert.pem", where / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


async def test_tls_when_given_a_certificate(tmp_path: Path) -> None:
    running = await start_paper_exchange()
    log, tokens = tmp_path / "events.sqlite3", tmp_path / "tokens.json"
    token = TokenFile(tokens).add("tls", "read", None)
    cert, key = _self_signed(tmp_path)
    env = serve_env(running, log, MCP_HTTP_TOKENS_FILE=str(tokens))
    argv = ("serve", "--http", "--port", "0", "--tls-cert", str(cert), "--tls-key", str(key))
    proc = await spawn(env, sys.executable, str(ROOT / "server.py"), *argv)
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode().strip()
        assert line.startswith("MCP_HTTP_URL=https://127.0.0.1:"), line
        url = line.removeprefix("MCP_HTTP_URL=")
        trust = ssl.create_default_context(cafile=str(cert))
        http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, verify=trust, timeout=30)
        async with http, Client(streamable_http_client(url, http_client=http), mode="legacy") as client:  # type: ignore[arg-type]
            price = await client.call_tool("get_ticker_price", {"symbol": "BTCUSDT"})
            assert price.structured_content is not None and price.structured_content["success"] is True
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), 30)
        await running.stop()
    assert proc.returncode == 0


async def test_serve_http_without_a_usable_token_refuses_to_start_and_says_how_to_make_one(tmp_path: Path) -> None:
    running = await start_paper_exchange()
    tokens = tmp_path / "tokens.json"
    try:
        for made in ("none", "revoked"):
            if made == "revoked":
                TokenFile(tokens).add("gone", "read", None)
                TokenFile(tokens).revoke("gone")
            env = serve_env(running, tmp_path / "events.sqlite3", MCP_HTTP_TOKENS_FILE=str(tokens))
            proc = await spawn(env, sys.executable, str(ROOT / "server.py"), "serve", "--http", "--port", "0")
            assert await asyncio.wait_for(proc.wait(), 30) == 2
            assert proc.stderr is not None
            said = (await proc.stderr.read()).decode()
            assert "no usable token" in said and "binance-mcp token add" in said, said
    finally:
        await running.stop()


async def test_a_fatal_error_stops_serving_http_as_it_stops_stdio(tmp_path: Path) -> None:
    from mcp.server.lowlevel import Server

    tokens = tmp_path / "tokens.json"
    TokenFile(tokens).add("someone", "read", None)
    fatal = asyncio.Event()
    fatal.set()  # a stage gave up
    options = HttpOptions(port=0, tokens=tokens)
    code, why = await asyncio.wait_for(serve_http(Server("x"), options, None, fatal), 30)
    assert (code, why) == (1, "fatal error")


DOCS_HTTP = (ROOT / "docs" / "http.md").read_text()


async def test_the_inspector_command_the_docs_show_lists_the_tools(tmp_path: Path) -> None:
    """docs/http.md's Inspector command, run as shown (its URL and token this server's), where Node's
    npx is present; a registry that cannot be reached skips rather than fails."""
    npx = shutil.which("npx")
    if npx is None:
        pytest.skip("no Node (npx) here")
    (shown,) = [
        line
        for line in (ROOT / "docs" / "http.md").read_text().splitlines()
        if line.startswith("npx ") and "--cli" in line
    ]
    running = await start_paper_exchange()
    tokens = tmp_path / "tokens.json"
    token = TokenFile(tokens).add("inspector", "read", None)
    proc, url = await start_http(serve_env(running, tmp_path / "events.sqlite3", MCP_HTTP_TOKENS_FILE=str(tokens)))
    try:
        words = shlex.split(shown.replace("http://127.0.0.1:8765/mcp", url).replace("bmcp_…", token))
        inspector = await asyncio.create_subprocess_exec(
            npx, "-y", *words[1:], stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        out, err = await asyncio.wait_for(inspector.communicate(), 240)
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), 30)
        await running.stop()
    said = err.decode(errors="replace")
    if inspector.returncode and any(code in said for code in ("ENOTFOUND", "ETIMEDOUT", "EAI_AGAIN", "ECONNREFUSED")):
        pytest.skip(f"the npm registry cannot be reached: {said[-200:]}")
    assert inspector.returncode == 0, said[-800:]
    listed = json.loads(out)
    assert {"get_ticker_price", "create_order"} <= {t["name"] for t in listed["tools"]}
