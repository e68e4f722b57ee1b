"""Settings from the environment (and a `.env` file that never overrides it), checked at start.

Credentials: both or neither; no placeholders, no whitespace, a sane length. A failure names
the variable and never echoes its value. The trading guard's settings are read here too
(actors/guard.py says what each does); trading is off by default on the live venue.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from binance_mcp.actors.guard import Guard, parse_caps
from binance_mcp.events.budget import DEFAULT_BUDGET
from binance_mcp.exchange.client import Credentials
from binance_mcp.exchange.rules import normalize_symbol, symbol_problem
from binance_mcp.exchange.signing import KeyProblem, load_ed25519_private_key

__all__ = ["LIVE_FUTURES_URL", "LIVE_URL", "TESTNET_URL", "ConfigError", "Settings", "default_event_log", "load_dotenv"]

PACKAGE_DIR = Path(__file__).resolve().parents[1]  # binance_mcp: the repository root in a checkout
LIVE_URL = "https://api.binance.com"
LIVE_FUTURES_URL = "https://fapi.binance.com"
TESTNET_URL = "https://testnet.binance.vision"
LIVE_WS_API_URL = "wss://ws-api.binance.com:443/ws-api/v3"
TESTNET_WS_API_URL = "wss://ws-api.testnet.binance.vision/ws-api/v3"
# A real key is 64 random letters and digits, so it may well contain "xxx" or "example" somewhere:
# a value is a placeholder only as a whole (one of the template values people leave in a config,
# an <angle-bracketed> hole, or one character repeated), never for what it contains.
_PLACEHOLDERS = frozenset(
    {
        "your_api_key_here",
        "your_api_secret_here",
        "your_secret_key_here",
        "your_api_key",
        "your_api_secret",
        "your_secret_key",
        "your_secret",
        "api_key_here",
        "api_secret_here",
        "secret_key_here",
        "changeme",
        "change_me",
        "placeholder",
        "example",
        "replace_me",
        "todo",
    }
)


def _placeholder(value: str) -> bool:
    low = value.lower()
    return low in _PLACEHOLDERS or "<" in low or ">" in low or len(set(low)) == 1


class ConfigError(Exception):
    """A setting is missing or wrong; the message names it and never shows a secret."""


def load_dotenv(path: Path, environ: dict[str, str]) -> None:
    """KEY=VALUE lines from `path` into `environ`, never over a variable already set."""
    if not path.is_file():
        return
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        environ.setdefault(key.strip(), value.strip().strip("'\""))


def default_event_log(env: Mapping[str, str], package_dir: Path = PACKAGE_DIR) -> Path:
    """Where the event log goes when MCP_EVENT_LOG is not set: `var/events.sqlite3` in a checkout
    (the package directory is the repository root, with its pyproject.toml and var/); otherwise,
    installed from a wheel, the user's state directory, never inside site-packages."""
    if (package_dir / "pyproject.toml").is_file() and (package_dir / "var").is_dir():
        return package_dir / "var" / "events.sqlite3"
    state = env.get("XDG_STATE_HOME") or ""
    if not Path(state).is_absolute():  # the XDG spec: a relative path is invalid and ignored
        home = env.get("HOME")
        state = str(Path(home) / ".local" / "state") if home else str(Path.home() / ".local" / "state")
    return Path(state) / "binance-mcp" / "events.sqlite3"


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    value = env.get(name)
    if value is None or value == "":
        return default
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be true or false")


def _whole(env: Mapping[str, str], name: str, default: int, lo: int, hi: int) -> int:
    try:
        value = int(env.get(name) or default)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number") from None
    if not lo <= value <= hi:
        raise ConfigError(f"{name} must be from {lo} to {hi}")
    return value


def _guard(env: Mapping[str, str], venue: str) -> Guard:
    try:
        order_caps = parse_caps(env.get("MCP_MAX_ORDER_NOTIONAL"), "MCP_MAX_ORDER_NOTIONAL")
        daily_caps = parse_caps(env.get("MCP_MAX_DAILY_NOTIONAL"), "MCP_MAX_DAILY_NOTIONAL")
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    allow_text = env.get("MCP_SYMBOL_ALLOWLIST")
    allowlist = None
    if allow_text is not None and allow_text.strip():
        allowlist = frozenset(normalize_symbol(s) for s in allow_text.split(",") if s.strip())
        bad = sorted(s for s in allowlist if symbol_problem(s))
        if bad:
            raise ConfigError(f"MCP_SYMBOL_ALLOWLIST: {', '.join(bad)} cannot be a symbol")
    return Guard(
        trading_enabled=_flag(env, "MCP_TRADING_ENABLED", venue != "live"),
        max_order_notional=order_caps,
        max_daily_notional=daily_caps,
        symbol_allowlist=allowlist,
        confirm_orders=_flag(env, "MCP_CONFIRM_ORDERS", False),
    )


def _budget(env: Mapping[str, str]) -> int:
    """MCP_RESULT_BUDGET: 0 (no budget), or at least 2,000 characters (less could not hold one row)."""
    value = _whole(env, "MCP_RESULT_BUDGET", DEFAULT_BUDGET, 0, 10**9)
    if 0 < value < 2000:
        raise ConfigError("MCP_RESULT_BUDGET must be 0 (no budget) or at least 2000")
    return value


def _credential(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name)
    if value is None or value == "":
        return None
    if any(ch.isspace() for ch in value):
        raise ConfigError(f"{name} contains whitespace")
    if _placeholder(value):
        raise ConfigError(f"{name} looks like a placeholder, not a real credential")
    if not 16 <= len(value) <= 128:
        raise ConfigError(f"{name} has an implausible length (expected 16 to 128 characters)")
    if not value.isascii() or not value.isalnum():
        raise ConfigError(f"{name} must be letters and digits only")
    return value


def _private_key(env: Mapping[str, str]) -> Ed25519PrivateKey | None:
    """The Ed25519 key from BINANCE_PRIVATE_KEY_PATH (BINANCE_PRIVATE_KEY_PASSPHRASE if encrypted).
    Errors name the variable and the problem, never the key."""
    path = env.get("BINANCE_PRIVATE_KEY_PATH") or None
    passphrase = env.get("BINANCE_PRIVATE_KEY_PASSPHRASE") or None
    if path is None:
        if passphrase is not None:
            raise ConfigError("BINANCE_PRIVATE_KEY_PASSPHRASE is set without BINANCE_PRIVATE_KEY_PATH")
        return None
    try:
        pem = Path(path).expanduser().read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"BINANCE_PRIVATE_KEY_PATH: cannot read {path} ({exc.strerror or type(exc).__name__})"
        ) from None
    try:
        return load_ed25519_private_key(pem, passphrase.encode() if passphrase is not None else None)
    except KeyProblem as exc:
        blame_passphrase = passphrase is not None and "passphrase" in str(exc)
        where = "BINANCE_PRIVATE_KEY_PASSPHRASE" if blame_passphrase else "BINANCE_PRIVATE_KEY_PATH"
        raise ConfigError(f"{where}: {path}: {exc}") from None


def _credentials(key: str | None, secret: str | None, private_key: Ed25519PrivateKey | None) -> Credentials | None:
    if key is None:
        return None
    return Credentials(key, private_key=private_key) if private_key is not None else Credentials(key, secret)


def _ws_url(env: Mapping[str, str], venue: str) -> str | None:
    url = env.get("BINANCE_WS_API_URL") or None
    if url is not None and not url.startswith(("ws://", "wss://")):
        raise ConfigError("BINANCE_WS_API_URL must start with ws:// or wss://")
    if url is None and venue != "paper":
        url = TESTNET_WS_API_URL if venue == "testnet" else LIVE_WS_API_URL
    return url


@dataclass(frozen=True)
class Settings:
    venue: str
    base_url: str | None  # None for paper: the embedded exchange's URL is known at start
    futures_base_url: str | None
    families: frozenset[str]  # the API families the venue serves: spot (/api), wallet (/sapi), futures (/fapi)
    credentials: Credentials | None
    rate_limit_enabled: bool
    max_requests_per_minute: int
    input_validation: bool
    log_security: bool
    event_log: Path
    guard: Guard
    allow_withdrawal_keys: bool
    recv_window_ms: int
    confirm_timeout_s: int
    run_check_s: int = 30
    account_stream: bool = False  # MCP_ACCOUNT_STREAM: hold the user data stream (true by default with a key)
    ws_api_url: str | None = None  # the WebSocket API; None on paper: the embedded exchange's is known at start
    result_budget: int = DEFAULT_BUDGET  # MCP_RESULT_BUDGET: characters of JSON an answer's data may take (0: any)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        key, secret = _credential(env, "BINANCE_API_KEY"), _credential(env, "BINANCE_API_SECRET")
        private_key = _private_key(env)
        if secret is not None and private_key is not None:
            raise ConfigError(
                "BINANCE_API_SECRET and BINANCE_PRIVATE_KEY_PATH are both set: give the HMAC secret or the "
                "Ed25519 key file, one of them"
            )
        signer = secret or private_key
        if (key is None) != (signer is None):
            missing = "BINANCE_API_KEY" if key is None else "BINANCE_API_SECRET (or BINANCE_PRIVATE_KEY_PATH)"
            raise ConfigError(
                f"{missing} is not set: set BINANCE_API_KEY with BINANCE_API_SECRET or BINANCE_PRIVATE_KEY_PATH, "
                "or none of them"
            )
        testnet = _flag(env, "BINANCE_TESTNET", False)
        venue = env.get("BINANCE_VENUE") or ("paper" if key is None else "testnet" if testnet else "live")
        if venue not in ("paper", "testnet", "live"):
            raise ConfigError("BINANCE_VENUE must be paper, testnet or live")
        if venue != "paper" and key is None:
            raise ConfigError(
                f"BINANCE_VENUE={venue} needs BINANCE_API_KEY and BINANCE_API_SECRET (or BINANCE_PRIVATE_KEY_PATH)"
            )
        base = env.get("BINANCE_BASE_URL") or None
        if venue != "paper":
            base = base or (TESTNET_URL if venue == "testnet" else LIVE_URL)
        rpm = _whole(env, "MCP_MAX_REQUESTS_PER_MINUTE", 60, 1, 10**9)
        # The spot testnet has no /sapi and no /fapi; its futures testnet is a host of its own.
        futures = env.get("BINANCE_FUTURES_BASE_URL") or (LIVE_FUTURES_URL if venue == "live" else None)
        if venue == "testnet":
            families = frozenset({"spot", "futures"} if futures else {"spot"})
        else:  # live, and the paper exchange (which serves all three on one host)
            families = frozenset({"spot", "wallet", "futures"})
        log_path = Path(env.get("MCP_EVENT_LOG") or default_event_log(env))
        return cls(
            venue=venue,
            base_url=base,
            futures_base_url=futures,
            families=families,
            credentials=_credentials(key, secret, private_key),
            rate_limit_enabled=_flag(env, "MCP_RATE_LIMIT_ENABLED", True),
            max_requests_per_minute=rpm,
            input_validation=_flag(env, "MCP_INPUT_VALIDATION", True),
            log_security=_flag(env, "MCP_LOG_SECURITY", True),
            event_log=log_path,
            guard=_guard(env, venue),
            allow_withdrawal_keys=_flag(env, "MCP_ALLOW_WITHDRAWAL_KEYS", False),
            recv_window_ms=_whole(env, "BINANCE_RECV_WINDOW_MS", 5000, 1, 60000),
            confirm_timeout_s=_whole(env, "MCP_CONFIRM_TIMEOUT_S", 300, 5, 3600),
            run_check_s=_whole(env, "MCP_RUN_CHECK_S", 30, 1, 30),
            account_stream=_flag(env, "MCP_ACCOUNT_STREAM", True),
            ws_api_url=_ws_url(env, venue),
            result_budget=_budget(env),
        )
