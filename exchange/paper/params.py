"""Request parameters as Binance reads them: typed getters that raise Binance's own errors,
and a tally of what was read, so a request with parameters the endpoint does not take gets
-1104 as on the real exchange."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from urllib.parse import unquote_plus

from binance_mcp.exchange.paper.errors import BinanceError, Msg

__all__ = ["Params", "parse_query"]

DECIMAL_RANGE = r"^([0-9]{1,20})(\.[0-9]{1,20})?$"
INTEGER_RANGE = r"^[0-9]{1,20}$"
SYMBOL_RANGE = r"^[\w\-._&&[^a-z]]{1,50}$"
CLIENT_ID_RANGE = r"^[a-zA-Z0-9-_]{1,36}$"
_DECIMAL = re.compile(DECIMAL_RANGE)
_INTEGER = re.compile(r"^-?[0-9]{1,20}$")
_CLIENT_ID = re.compile(r"^[a-zA-Z0-9\-_]{1,36}$")


def symbol_well_formed(text: str) -> bool:
    """Binance's symbol rule: word characters plus -._, no ASCII lower case, 1 to 50 code points."""
    if not 1 <= len(text) <= 50:
        return False
    return all((ch.isalnum() or ch in "-._") and not ("a" <= ch <= "z") for ch in text)


def parse_query(raw: str) -> list[tuple[str, str]]:
    """Split `a=1&b=2` into decoded pairs, keeping empty values and duplicates."""
    pairs = []
    for part in raw.split("&"):
        if not part:
            continue
        key, _, value = part.partition("=")
        pairs.append((unquote_plus(key), unquote_plus(value)))
    return pairs


class Params:
    def __init__(self, query: list[tuple[str, str]], body: list[tuple[str, str]]):
        values: dict[str, str] = {}
        for source in (body, query):  # a name in both places: the query string wins
            seen: set[str] = set()
            for key, value in source:
                if key in seen:
                    raise BinanceError(-1101, Msg.DUPLICATE_PARAM)
                seen.add(key)
                values[key] = value
        self.values = values
        self.read: set[str] = set()

    def __contains__(self, name: str) -> bool:
        return name in self.values

    def text(self, name: str, required: bool = False) -> str | None:
        self.read.add(name)
        value = self.values.get(name)
        if value is None or value == "":
            if required:
                raise BinanceError.mandatory(name)
            if value == "":
                raise BinanceError(-1105, f"Parameter '{name}' was empty.")
            return None
        return value

    def required(self, name: str) -> str:
        value = self.text(name, required=True)
        assert value is not None
        return value

    def decimal(self, name: str, required: bool = False) -> Decimal | None:
        value = self.text(name, required)
        if value is None:
            return None
        if not _DECIMAL.fullmatch(value):
            raise BinanceError.illegal(name, DECIMAL_RANGE)
        return Decimal(value)

    def integer(self, name: str, required: bool = False) -> int | None:
        value = self.text(name, required)
        if value is None:
            return None
        if not _INTEGER.fullmatch(value):
            raise BinanceError.illegal(name, INTEGER_RANGE)
        return int(value)

    def limit(self, default: int, maximum: int, clamp: bool = False) -> int:
        value = self.integer("limit")
        if value is None:
            return default
        if value <= 0:
            raise BinanceError(
                -1100, f"Illegal characters found in parameter 'limit'; legal range is '{INTEGER_RANGE}'."
            )
        if value > maximum:
            if clamp:
                return maximum
            raise BinanceError(-1102, f"'limit' contains unexpected value. Cannot be greater than {maximum}.")
        return value

    def enum(
        self,
        name: str,
        allowed: frozenset[str] | tuple[str, ...],
        *,
        required: bool = False,
        code: int = -1102,
        msg: str | None = None,
    ) -> str | None:
        value = self.text(name, required)
        if value is not None and value not in allowed:
            raise BinanceError(code, msg or f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")
        return value

    def flag(self, name: str) -> bool:
        value = self.enum(name, ("true", "false", "TRUE", "FALSE"))
        return value is not None and value.lower() == "true"

    def client_id(self, name: str) -> str | None:
        value = self.text(name)
        if value is not None and not _CLIENT_ID.fullmatch(value):
            raise BinanceError.illegal(name, CLIENT_ID_RANGE)
        return value

    def symbol_text(self, name: str = "symbol", required: bool = True) -> str | None:
        value = self.text(name, required)
        if value is not None and not symbol_well_formed(value):
            raise BinanceError.illegal(name, SYMBOL_RANGE)
        return value

    def symbol_list(self) -> list[str] | None:
        raw = self.text("symbols")
        if raw is None:
            return None
        try:
            names = json.loads(raw)
        except ValueError:
            names = None
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            raise BinanceError.illegal("symbols", r"^\[(\"[A-Z0-9-_.]{1,20}\"(,\"[A-Z0-9-_.]{1,20}\"){0,}){0,1}\]$")
        for n in names:
            if not symbol_well_formed(n):
                raise BinanceError.illegal("symbol", SYMBOL_RANGE)
        return names

    def finish(self) -> None:
        """-1104 when the request carried parameters the endpoint never read."""
        if len(self.read & self.values.keys()) < len(self.values):
            read = len(self.read & self.values.keys())
            raise BinanceError(
                -1104,
                f"Not all sent parameters were read; read '{read}' parameter(s) but was sent '{len(self.values)}'.",
            )
