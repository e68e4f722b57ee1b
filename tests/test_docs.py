"""The README and docs/ say only what works: every relative link resolves (to a file, and to a
heading when it names one), and every command line they show runs as shown. A `binance-mcp …`
line runs against a log a real server wrote (the schema-2 fixture, copied), with the log's own ids
and head where the page shows those of its example session; a line that needs an exchange or
credentials (serve, paper, halt, crosscheck) or is a synopsis (`[--reason TEXT]`) is parsed by the
real command line, each of its options checked. `sqlite3`, `sqlite-utils` and `datasette` lines
run against the same log where those tools are installed."""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from binance_mcp.events.store import EventStore
from binance_mcp.server import _parser

ROOT = Path(__file__).parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FIXTURE = ROOT / "tests" / "events" / "fixtures" / "log-schema2.sqlite3"
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
_FENCE = re.compile(r"^```[a-z]*\n(.*?)^```", re.M | re.S)
_ID = re.compile(r"\b[0-9a-f]{20,32}\b")
_HEAD = re.compile(r"\b\d+:[0-9a-f]{64}\b")
_SHOWN = ("binance-mcp ", ".venv/bin/binance-mcp ", "sqlite3 ", ".venv/bin/sqlite-utils ", "pipx run datasette ")
# Subcommands that read the log and nothing else: run for real.
_RUNS = {"verify", "digest", "list", "show", "stats", "export", "alerts", "replay"}


def slug(heading: str) -> str:
    """A heading's anchor as GitHub makes it."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = _FENCE.sub("", page.read_text())
    return {slug(m.group(1)) for m in re.finditer(r"^#+ (.+)$", text, re.M)}


def commands() -> list[tuple[str, str]]:
    """(page, line) for each command line in a fenced block of every page."""
    found = []
    for page in PAGES:
        for block in _FENCE.findall(page.read_text()):
            for line in block.splitlines():
                line = line.removeprefix("$ ").split("  #")[0].strip()
                if line.startswith(_SHOWN):
                    found.append((page.name, line))
    return found


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_relative_link_resolves(page: Path) -> None:
    for target in _LINK.findall(_FENCE.sub("", page.read_text())):
        if re.match(r"^[a-z]+:", target):  # http:, https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        assert linked.exists(), f"{page.name}: {target} names no file"
        if anchor:
            assert anchor in anchors(linked), f"{page.name}: {target} names no heading of {linked.name}"


def test_the_pages_show_commands_to_check() -> None:
    shown = commands()
    assert sum(line.startswith("binance-mcp ") for _, line in shown) >= 8
    assert any(line.startswith("sqlite3 ") for _, line in shown)


def _options_of(argv: list[str]) -> argparse.ArgumentParser:
    """The (sub)parser the words of `argv` lead to."""
    parser = _parser()
    for word in argv:
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs or word not in subs[0].choices:
            break
        parser = subs[0].choices[word]
    return parser


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    copy = tmp_path_factory.mktemp("docs") / "events.sqlite3"
    shutil.copyfile(FIXTURE, copy)
    EventStore(copy).close()  # opened again by a server of today, as any start does: today's views
    return copy


def _as_run(line: str, log: Path) -> list[str]:
    """The words of `line`, with the log's own ids and head for the example session's."""
    with sqlite3.connect(log) as conn:
        (command_id,) = conn.execute(
            "SELECT command_id FROM events WHERE tool = 'create_order' AND kind = 'dispatched' LIMIT 1"
        ).fetchone()
        seq, digest = conn.execute("SELECT seq, hash FROM events ORDER BY seq LIMIT 1 OFFSET 14").fetchone()
    line = _HEAD.sub(f"{seq}:{digest}", line)
    line = _ID.sub(lambda m: command_id[: len(m.group())], line)
    return [str(log) if word == "var/events.sqlite3" else word for word in shlex.split(line)]


@pytest.mark.parametrize(("page", "line"), commands(), ids=[f"{p}: {c[:60]}" for p, c in commands()])
def test_every_command_line_shown_works(page: str, line: str, log: Path, tmp_path: Path) -> None:
    argv = _as_run(line, log)
    program, args = Path(argv[0]).name, argv[1:]
    env = {**os.environ, "MCP_EVENT_LOG": str(log)}
    if program == "binance-mcp":
        words = [w for w in args if not w.startswith("-")]
        synopsis = any("[" in w or w.isupper() for w in args)
        if synopsis or not (words[:1] == ["audit"] and words[1:2] and words[1] in _RUNS):
            parser = _options_of(args)
            named = {opt for action in parser._actions for opt in action.option_strings}
            for word in args:
                option = word.strip("[]").split("=")[0]
                if option.startswith("--"):
                    assert option in named, f"{line}: no option {option}"
            if not synopsis:
                _parser().parse_args(args)  # raises SystemExit on anything it does not take
            return
        if "--execute" in args:
            args += ["--out", str(tmp_path / "rerun.sqlite3")]
        done = subprocess.run(
            [sys.executable, str(ROOT / "server.py"), *args],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        allowed = (0, 1) if words[1] in ("alerts", "replay") else (0,)  # 1: something found, or differs
        assert done.returncode in allowed, f"{line}: {done.returncode}\n{done.stdout[-500:]}\n{done.stderr[-500:]}"
        return
    tool = shutil.which(argv[0]) or (str(ROOT / argv[0]) if (ROOT / argv[0]).exists() else None)
    if program == "pipx" or tool is None:
        datasette = shutil.which("datasette")
        if program == "pipx" and datasette is not None:
            argv, tool = argv[2:], datasette
        else:
            pytest.skip(f"{argv[0]} is not installed here")
    if Path(argv[0]).name == "datasette":
        argv = [*argv, "--get", "/events/orders.json"]  # serve one page and exit
    done = subprocess.run([tool, *argv[1:]], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"{line}: {done.stderr[-500:]}"


def test_every_client_configuration_shown_starts_the_server() -> None:
    """A host started with `"command"` alone runs `binance-mcp` with no subcommand, which exits
    ("the following arguments are required: command"): each one shown names `serve` in its args."""
    shown = [
        line
        for page in (ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")))
        for line in page.read_text().splitlines()
        if '"command":' in line and "binance-mcp" in line
    ]
    assert shown
    for line in shown:
        assert re.search(r'"args": \[[^]]*"serve"', line), line


def test_every_npx_command_shown_pins_its_version() -> None:
    """Unpinned, `npx @modelcontextprotocol/inspector` on Node 20 resolves 0.15.0, which refuses a URL."""
    shown = [line for _, line in commands_of_any_kind() if line.startswith("npx ")]
    assert shown
    for line in shown:
        package = line.split()[1]
        assert re.fullmatch(r"@?[\w./-]+@\d+\.\d+\.\d+", package), line


def commands_of_any_kind() -> list[tuple[str, str]]:
    """Every line of a code block in README.md and docs/, with its page."""
    found = []
    for page in (ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))):
        inside = False
        for line in page.read_text().splitlines():
            if line.startswith("```"):
                inside = not inside
            elif inside:
                found.append((page.name, line.strip()))
    return found
