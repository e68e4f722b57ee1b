"""The wheel as a user gets it: built from a clean copy of the tree, installed into a fresh virtual
environment outside the checkout, run as `binance-mcp serve` over stdio.

Offline: the wheel is built without build isolation (setuptools from the test extra), and the
fresh environment sees the dependencies of the test environment through a .pth line (a plain
path, so the checkout's editable finder is never activated there); binance_mcp itself comes only
from the wheel, which the test checks.
"""

from __future__ import annotations

import email
import os
import shutil
import sqlite3
import subprocess
import sys
import sysconfig
import zipfile
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

import pytest
from mcp import ClientSession, StdioServerParameters, stdio_client

ROOT = Path(__file__).resolve().parents[2]
VERSION = version("binance-mcp")
DIST_INFO = f"binance_mcp-{VERSION}.dist-info"
_NOT_SOURCE = shutil.ignore_patterns(".git", ".venv", "build", "dist", "var", "*.egg-info", "__pycache__", ".*_cache")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tree = tmp_path_factory.mktemp("src") / "binance-mcp"
    shutil.copytree(ROOT, tree, ignore=_NOT_SOURCE)  # a clean tree: no build/ left over from earlier builds
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", str(out), "."],
        cwd=tree,
        check=True,
    )
    (built,) = out.glob("binance_mcp-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh venv with the wheel installed; yields its directory."""
    where = tmp_path_factory.mktemp("venv") / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True)
    python = where / "bin" / "python"
    site = Path(
        subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    before = set(os.listdir(site))
    (site / "_test_dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    pip = [sys.executable, "-m", "pip", "--python", str(python)]
    subprocess.run([*pip, "install", "--quiet", "--no-deps", "--no-index", str(wheel)], check=True)
    added = set(os.listdir(site)) - before - {"_test_dependencies.pth"}
    assert added == {"binance_mcp", DIST_INFO}
    yield where


def test_the_wheel_holds_one_top_level_name_and_what_the_package_needs(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        metadata = email.message_from_bytes(zf.read(f"{DIST_INFO}/METADATA"))
        entry_points = zf.read(f"{DIST_INFO}/entry_points.txt").decode()
    assert {n.split("/")[0] for n in names} == {"binance_mcp", DIST_INFO}
    for needed in (
        "binance_mcp/__init__.py",
        "binance_mcp/__main__.py",
        "binance_mcp/server.py",
        "binance_mcp/py.typed",
        "binance_mcp/exchange/paper/data/markets.json",
        "binance_mcp/exchange/paper/data/fixtures.json",
        "binance_mcp/face/stdio.py",
    ):
        assert needed in names
    assert not [n for n in names if n.startswith(("binance_mcp/tests/", "binance_mcp/bench/", "binance_mcp/var/"))]
    assert metadata["Version"] == VERSION
    assert metadata["Description-Content-Type"] == "text/markdown"
    assert "make serve" in metadata.get_payload()  # the README is the long description
    assert "binance-mcp = binance_mcp.server:main" in entry_points


def _run(venv: Path, *args: str, cwd: Path) -> str:
    """Run a command of the venv with its own environment; its stdout."""
    result = subprocess.run(list(args), cwd=cwd, check=True, capture_output=True, text=True, env=_env(venv, cwd))
    return result.stdout.strip()


def _logs_inside(where: Path) -> list[Path]:
    return list(where.rglob("*.sqlite3"))


def _env(venv: Path, home: Path) -> dict[str, str]:
    """No BINANCE_/MCP_/XDG_ variables, HOME in a temp dir, the venv first on PATH."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BINANCE_", "MCP_", "XDG_", "PYTHON"))}
    env.update(HOME=str(home), PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}")
    return env


def test_the_installed_package_comes_from_the_wheel_and_knows_its_version(venv: Path, tmp_path: Path) -> None:
    python = str(venv / "bin" / "python")
    where = _run(venv, python, "-c", "import binance_mcp; print(binance_mcp.__file__)", cwd=tmp_path)
    assert Path(where).is_relative_to(venv) and not Path(where).is_relative_to(ROOT)
    assert _run(venv, str(venv / "bin" / "binance-mcp"), "--version", cwd=tmp_path) == f"binance-mcp {VERSION}"
    assert _run(venv, python, "-m", "binance_mcp", "--version", cwd=tmp_path) == f"binance-mcp {VERSION}"


async def test_installed_serve_answers_over_stdio_with_its_log_in_the_state_directory(
    venv: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    stderr = tmp_path / "stderr.txt"
    params = StdioServerParameters(
        command=str(venv / "bin" / "binance-mcp"), args=["serve"], env=_env(venv, home), cwd=str(home)
    )
    with stderr.open("w") as errlog:
        async with stdio_client(params, errlog=errlog) as (read, write), ClientSession(read, write) as session:
            init = await session.initialize()
            assert init.server_info.name == "binance-mcp" and init.server_info.version == VERSION
            result = await session.call_tool("get_ticker_price", {"symbol": "BTCUSDT"})
    assert result.is_error is False and result.structured_content is not None
    assert result.structured_content["data"]["symbol"] == "BTCUSDT"  # the paper exchange found its market data
    log = home / ".local" / "state" / "binance-mcp" / "events.sqlite3"
    assert f"event_log={log}" in stderr.read_text()
    with sqlite3.connect(log) as conn:
        kinds = conn.execute("SELECT kind FROM events WHERE tool = 'get_ticker_price' ORDER BY seq").fetchall()
    assert kinds == [("received",), ("executed",)]
    assert _logs_inside(venv) == []  # nothing written inside the environment (site-packages)
