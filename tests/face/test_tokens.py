"""HTTP tokens: made once, stored as hashes only, checked in constant time, revoked without a
restart, expired on time."""

from __future__ import annotations

import contextlib
import io
import stat
from pathlib import Path

import pytest

from binance_mcp.face.tokens import TokenFile, Verifier
from binance_mcp.server import main


async def test_a_token_is_made_once_stored_as_a_hash_and_verified_with_its_scope(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    tokens = TokenFile(path)
    reader, trader = tokens.add("laptop", "read", None), tokens.add("desk", "trade", None)
    assert reader.startswith("bmcp_") and len(reader) == 48 and reader != trader
    text = path.read_text()
    assert reader not in text and trader not in text  # only hashes on disk
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    verifier = Verifier(path)
    read = await verifier.verify_token(reader)
    trade = await verifier.verify_token(trader)
    assert read is not None and (read.client_id, read.scopes) == ("laptop", ["read"])
    assert trade is not None and (trade.client_id, trade.scopes) == ("desk", ["read", "trade"])
    for wrong in ("", reader[:-1], reader + "x", "bmcp_" + "A" * 43, trader.upper()):
        assert await verifier.verify_token(wrong) is None


async def test_revocation_holds_from_the_next_request_and_expiry_on_time(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    now = [1_000_000_000_000_000]
    token = TokenFile(path).add("ci", "trade", 3600, now_us=now[0])
    verifier = Verifier(path, clock_us=lambda: now[0])
    assert await verifier.verify_token(token) is not None
    now[0] += 3600 * 1_000_000
    assert await verifier.verify_token(token) is None  # expired
    expired = verifier.known(token)
    assert expired is not None and expired.name == "ci"  # whose it was, for the record
    now[0] -= 1
    assert await verifier.verify_token(token) is not None
    assert TokenFile(path).revoke("ci") and not TokenFile(path).revoke("ci")
    assert await verifier.verify_token(token) is None  # the same verifier: read again, no restart
    revoked = verifier.known(token)
    assert revoked is not None and revoked.name == "ci"
    assert await verifier.verify_token("bmcp_unknown") is None
    assert verifier.known("bmcp_unknown") is None  # an unknown token has no name to give


def test_names_and_scopes_are_checked(tmp_path: Path) -> None:
    tokens = TokenFile(tmp_path / "tokens.json")
    tokens.add("one", "read", None)
    for name, scope in (("one", "read"), ("", "read"), ("a b", "read"), ("x" * 65, "read"), ("two", "admin")):
        with pytest.raises(ValueError):
            tokens.add(name, scope, None)


def test_the_token_command_line(tmp_path: Path) -> None:
    path = str(tmp_path / "tokens.json")
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        assert main(["token", "--tokens-file", path, "add", "bot", "--scope", "trade", "--expires-in", "30d"]) == 0
        token = out.getvalue().strip()
        assert main(["token", "--tokens-file", path, "list"]) == 0
        assert main(["token", "--tokens-file", path, "revoke", "bot"]) == 0
        assert main(["token", "--tokens-file", path, "revoke", "bot"]) == 2
        assert main(["token", "--tokens-file", path, "add", "x", "--expires-in", "soon"]) == 2
    listed = out.getvalue()
    assert token.startswith("bmcp_") and listed.count(token) == 1  # printed once, at add
    assert "bot  scope=trade" in listed and "revoked" in listed
