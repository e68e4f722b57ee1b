"""No command of the CLI prints a Python traceback for a bad path, a folder it cannot write or a
damaged file: each says what is wrong, on stderr, and exits with a code. Every command that opens
the event log, its paper account or the token file is walked, as processes, against each."""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]


def bad_places(tmp_path: Path) -> dict[str, Path]:
    """Where a log (or a token file) cannot be: below a file, in a folder nobody may write (Linux's
    /sys refuses even root), a file that is not what it should be."""
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder")
    damaged = tmp_path / "damaged.sqlite3"
    damaged.write_bytes(b"SQLite format 3\x00" + secrets.token_bytes(4000))
    places = {"below a file": a_file / "events.sqlite3", "damaged": damaged}
    if Path("/sys").is_dir():
        places["unwritable"] = Path(f"/sys/binance-mcp-{secrets.token_hex(4)}/events.sqlite3")
    return places


COMMANDS = [
    ["serve"],
    ["halt", "--reason", "x"],
    ["halt", "--cancel-open-orders"],
    ["resume"],
    ["audit", "verify"],
    ["audit", "list"],
    ["audit", "stats"],
    ["paper", "reset"],
    ["token", "list", "--tokens-file", "{place}"],
    ["token", "add", "someone", "--tokens-file", "{place}"],
]


async def run(argv: list[str], place: Path) -> tuple[list[str], int, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BINANCE_", "MCP_"))}
    env["MCP_EVENT_LOG"] = str(place)
    words = [w.replace("{place}", str(place)) for w in argv]
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "server.py"),
        *words,
        env=env,
        cwd=str(ROOT),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(proc.communicate(), 120)
    return words, int(proc.returncode or 0), err.decode(errors="replace")


async def test_no_command_prints_a_traceback_for_a_bad_path_an_unwritable_folder_or_a_damaged_file(
    tmp_path: Path,
) -> None:
    places = bad_places(tmp_path)
    runs = [run(argv, place) for argv in COMMANDS for place in places.values()]
    done = await asyncio.gather(*runs)
    for words, code, err in done:
        assert "Traceback" not in err, (words, err[-800:])
        assert code in (0, 1, 2), (words, code, err[-300:])
        if code:
            assert err.strip(), words  # a refusal says why
    # The rest refuse, naming the problem; a command with nothing to do where there is no log or
    # token file (a reset, a resume, a list) says so.
    passed = [" ".join(w) for w, c, _ in done if c == 0]
    assert all(w.startswith(("paper reset", "resume", "token list")) for w in passed), passed
