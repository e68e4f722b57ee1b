"""Request signing for Binance SIGNED endpoints (HMAC-SHA256).

The payload is the exact percent-encoded query string followed by the exact body, with no
separator between them. Sign exactly the bytes that are sent: this module builds the encoded
string once and the client sends that same string.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from urllib.parse import quote

__all__ = ["encode_params", "sign", "signature_matches"]

# Binance's documented examples percent-encode everything but unreserved characters.
_SAFE = "-_.~"


def encode_params(params: Mapping[str, object] | Iterable[tuple[str, object]]) -> str:
    """Percent-encode parameters as UTF-8 in the given order: `a=1&b=%EF%BC%91`."""
    items = params.items() if isinstance(params, Mapping) else params
    return "&".join(f"{quote(str(k), safe=_SAFE)}={quote(str(v), safe=_SAFE)}" for k, v in items)


def sign(secret: str, payload: str) -> str:
    """Lower-case hex HMAC-SHA256 of `payload` keyed by `secret`."""
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def signature_matches(secret: str, payload: str, signature: str) -> bool:
    """Constant-time check; Binance accepts the hex signature in either case."""
    return hmac.compare_digest(sign(secret, payload), signature.lower())
