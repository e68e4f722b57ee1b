"""Configuration from the environment: venues, credential checks that never echo the value."""

import string
from pathlib import Path

import pytest
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
