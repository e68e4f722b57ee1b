"""Configuration from the environment: venues, credential checks that never echo the value."""

import string
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from binance_mcp.actors.config import (
    LIVE_FUTURES_URL,
    LIVE_URL,
    TESTNET_URL,
    ConfigError,
    Settings,
    default_event_log,
    load_dotenv,
)

KEY, SECRET = "A1" * 32, "B2" * 32


def test_no_credentials_means_paper() -> None:
    settings = Settings.from_env({})
    assert (settings.venue, settings.credentials, settings.base_url) == ("paper", None, None)
    assert settings.rate_limit_enabled and settings.max_requests_per_minute == 60 and settings.input_validation


def test_credentials_choose_live_or_testnet() -> None:
    live = Settings.from_env({"BINANCE_API_KEY": KEY, "BINANCE_API_SECRET": SECRET})
    assert (live.venue, live.base_url) == ("live", LIVE_URL)
    testnet = Settings.from_env({"BINANCE_API_KEY": KEY, "BINANCE_API_SECRET": SECRET, "BINANCE_TESTNET": "true"})
    assert (testnet.venue, testnet.base_url) == ("testnet", TESTNET_URL)
    custom = Settings.from_env({"BINANCE_API_KEY": KEY, "BINANCE_API_SECRET": SECRET, "BINANCE_BASE_URL": "http://x"})
    assert custom.base_url == "http://x"
    assert SECRET not in repr(custom)


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"BINANCE_API_KEY": KEY}, "BINANCE_API_SECRET"),
        ({"BINANCE_API_SECRET": SECRET}, "BINANCE_API_KEY"),
        ({"BINANCE_API_KEY": "your_api_key_here", "BINANCE_API_SECRET": SECRET}, "BINANCE_API_KEY"),
        ({"BINANCE_API_KEY": KEY, "BINANCE_API_SECRET": "<your secret>"}, "BINANCE_API_SECRET"),
        ({"BINANCE_API_KEY": "x" * 64, "BINANCE_API_SECRET": SECRET}, "BINANCE_API_KEY"),
        ({"BINANCE_API_KEY": "CHANGEME", "BINANCE_API_SECRET": SECRET}, "BINANCE_API_KEY"),
        ({"BINANCE_API_KEY": KEY, "BINANCE_API_SECRET": "your_api_secret_here"}, "BINANCE_API_SECRET"),
        ({"BINANCE_API_KEY": KEY, "BINANCE_API_SECRET": SECRET[:20] + " " + SECRET[21:]}, "BINANCE_API_SECRET"),
        ({"BINANCE_API_KEY": "short", "BINANCE_API_SECRET": SECRET}, "BINANCE_API_KEY"),
        ({"BINANCE_VENUE": "live"}, "BINANCE_API_KEY"),
        ({"BINANCE_VENUE": "moon"}, "BINANCE_VENUE"),
        ({"MCP_MAX_REQUESTS_PER_MINUTE": "many"}, "MCP_MAX_REQUESTS_PER_MINUTE"),
        ({"MCP_RATE_LIMIT_ENABLED": "maybe"}, "MCP_RATE_LIMIT_ENABLED"),
        ({"MCP_ACCOUNT_STREAM": "sometimes"}, "MCP_ACCOUNT_STREAM"),
        ({"BINANCE_WS_API_URL": "https://ws-api.binance.com/ws-api/v3"}, "BINANCE_WS_API_URL"),
    ],
)
def test_bad_settings_name_the_variable_and_hide_the_value(env: dict[str, str], names: str) -> None:
    with pytest.raises(ConfigError) as info:
        Settings.from_env(env)
    assert names in str(info.value)
    for value in env.values():
        if len(value) > 8:
            assert value not in str(info.value)


def test_random_keys_that_happen_to_contain_placeholder_words_are_real_keys() -> None:
    # Seen as a flaky test: a generated 64-character key held "xxx" and was refused.
    key, secret = "aB3xxx" + "Q7" * 29, "k9Example" + "Zz" * 27 + "w"
    settings = Settings.from_env({"BINANCE_API_KEY": key, "BINANCE_API_SECRET": secret})
    assert settings.credentials is not None and settings.credentials.api_key == key


@settings(max_examples=500, deadline=None)
@given(
    st.text(alphabet=string.ascii_letters + string.digits, min_size=64, max_size=64).filter(
        lambda s: len(set(s)) >= 8  # Binance's keys are random: never a handful of characters
    ),
    st.text(alphabet=string.ascii_letters + string.digits, min_size=64, max_size=64).filter(lambda s: len(set(s)) >= 8),
)
def test_no_key_of_binances_shape_is_refused(key: str, secret: str) -> None:
    settings = Settings.from_env({"BINANCE_API_KEY": key, "BINANCE_API_SECRET": secret})
    assert settings.credentials is not None and settings.credentials.api_key == key


def test_dotenv_never_overrides_the_environment(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("# comment\nMCP_LOG_SECURITY=true\nexport MCP_EVENT_LOG='/tmp/x.sqlite3'\n")
    env = {"MCP_LOG_SECURITY": "false"}
    load_dotenv(tmp_path / ".env", env)
    assert env == {"MCP_LOG_SECURITY": "false", "MCP_EVENT_LOG": "/tmp/x.sqlite3"}


def test_default_event_log_in_a_checkout_is_var_under_the_repository() -> None:
    root = Path(__file__).resolve().parents[2]
    assert Settings.from_env({}).event_log == root / "var" / "events.sqlite3"
    assert Settings.from_env({"MCP_EVENT_LOG": "/tmp/x.sqlite3"}).event_log == Path("/tmp/x.sqlite3")


def test_default_event_log_outside_a_checkout_is_the_state_directory(tmp_path: Path) -> None:
    installed = tmp_path / "site-packages" / "binance_mcp"  # no pyproject.toml, no var/ beside it
    installed.mkdir(parents=True)
    home = tmp_path / "home"
    assert default_event_log({"HOME": str(home)}, installed) == home / ".local/state/binance-mcp/events.sqlite3"
    state = tmp_path / "state"
    xdg = {"HOME": str(home), "XDG_STATE_HOME": str(state)}
    assert default_event_log(xdg, installed) == state / "binance-mcp" / "events.sqlite3"
    relative = {"HOME": str(home), "XDG_STATE_HOME": "relative/state"}  # invalid per the XDG spec: ignored
    assert default_event_log(relative, installed) == home / ".local/state/binance-mcp/events.sqlite3"


def test_api_families_and_hosts_per_venue() -> None:
    creds = {"BINANCE_API_KEY": KEY, "BINANCE_API_SECRET": SECRET}
    live = Settings.from_env(creds)
    assert live.futures_base_url == LIVE_FUTURES_URL and live.families == {"spot", "wallet", "futures"}
    testnet = Settings.from_env({**creds, "BINANCE_TESTNET": "true"})
    assert testnet.futures_base_url is None and testnet.families == {"spot"}
    told = Settings.from_env({**creds, "BINANCE_TESTNET": "true", "BINANCE_FUTURES_BASE_URL": "https://f"})
    assert told.families == {"spot", "futures"} and told.futures_base_url == "https://f"
    assert Settings.from_env({}).families == {"spot", "wallet", "futures"}  # the paper exchange serves all three


def test_the_account_stream_per_venue() -> None:
    creds = {"BINANCE_API_KEY": KEY, "BINANCE_API_SECRET": SECRET}
    live = Settings.from_env(creds)
    assert live.account_stream and live.ws_api_url == "wss://ws-api.binance.com:443/ws-api/v3"
    testnet = Settings.from_env({**creds, "BINANCE_TESTNET": "true"})
    assert testnet.ws_api_url == "wss://ws-api.testnet.binance.vision/ws-api/v3"
    paper = Settings.from_env({})
    assert paper.account_stream and paper.ws_api_url is None  # the paper exchange's own, known at start
    off = Settings.from_env(
        {**creds, "MCP_ACCOUNT_STREAM": "false", "BINANCE_WS_API_URL": "ws://127.0.0.1:9/ws-api/v3"}
    )
    assert not off.account_stream and off.ws_api_url == "ws://127.0.0.1:9/ws-api/v3"


def _key_file(tmp_path: Path, name: str, key: Any, passphrase: bytes | None = None) -> Path:
    encryption = serialization.BestAvailableEncryption(passphrase) if passphrase else serialization.NoEncryption()
    path = tmp_path / name
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption))
    return path


def test_an_ed25519_key_file_signs_instead_of_a_secret(tmp_path: Path) -> None:
    plain = _key_file(tmp_path, "plain.pem", Ed25519PrivateKey.generate())
    settings = Settings.from_env({"BINANCE_API_KEY": KEY, "BINANCE_PRIVATE_KEY_PATH": str(plain)})
    assert settings.credentials is not None and settings.credentials.kind == "ed25519"
    assert settings.venue == "live" and "ed25519='***'" in repr(settings.credentials)
    locked = _key_file(tmp_path, "locked.pem", Ed25519PrivateKey.generate(), b"s3cret pass")
    env = {
        "BINANCE_API_KEY": KEY,
        "BINANCE_PRIVATE_KEY_PATH": str(locked),
        "BINANCE_PRIVATE_KEY_PASSPHRASE": "s3cret pass",
    }
    assert Settings.from_env(env).credentials is not None


def test_each_ed25519_set_up_error_names_its_variable_and_never_the_key(tmp_path: Path) -> None:
    plain = _key_file(tmp_path, "plain.pem", Ed25519PrivateKey.generate())
    locked = _key_file(tmp_path, "locked.pem", Ed25519PrivateKey.generate(), b"right")
    other = _key_file(tmp_path, "ec.pem", ec.generate_private_key(ec.SECP256R1()))
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    cases = [
        ({"BINANCE_API_SECRET": SECRET, "BINANCE_PRIVATE_KEY_PATH": str(plain)}, "are both set"),
        ({"BINANCE_PRIVATE_KEY_PATH": str(tmp_path / "missing.pem")}, "BINANCE_PRIVATE_KEY_PATH: cannot read"),
        ({"BINANCE_PRIVATE_KEY_PATH": str(other)}, "BINANCE_PRIVATE_KEY_PATH: .* not an Ed25519 key"),
        ({"BINANCE_PRIVATE_KEY_PATH": str(garbage)}, "BINANCE_PRIVATE_KEY_PATH: .* not a PEM private key"),
        ({"BINANCE_PRIVATE_KEY_PATH": str(locked)}, "BINANCE_PRIVATE_KEY_PATH: .* encrypted and no passphrase"),
        (
            {"BINANCE_PRIVATE_KEY_PATH": str(locked), "BINANCE_PRIVATE_KEY_PASSPHRASE": "wrong"},
            "BINANCE_PRIVATE_KEY_PASSPHRASE: .* passphrase is wrong",
        ),
        ({"BINANCE_PRIVATE_KEY_PASSPHRASE": "right"}, "without BINANCE_PRIVATE_KEY_PATH"),
    ]
    for extra, why in cases:
        with pytest.raises(ConfigError, match=why) as info:
            Settings.from_env({"BINANCE_API_KEY": KEY, **extra})
        for path in (plain, locked, other):
            assert path.read_text().splitlines()[1] not in str(info.value)  # no key material
    with pytest.raises(ConfigError, match="BINANCE_API_KEY is not set"):
        Settings.from_env({"BINANCE_PRIVATE_KEY_PATH": str(plain)})
