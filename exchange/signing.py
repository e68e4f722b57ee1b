"""Request signing for Binance SIGNED endpoints: HMAC-SHA256 or Ed25519.

The payload is the exact percent-encoded query string followed by the exact body, with no
separator between them. Sign exactly the bytes that are sent: this module builds the encoded
string once and the client sends that same string.

- HMAC-SHA256: lower-case hex, keyed by the API secret.
- Ed25519 (the key type Binance recommends): the 64-byte signature of the payload bytes, base64,
  then percent-encoded for the query (`+` `/` `=`). Binance holds only the public key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from urllib.parse import quote

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

__all__ = [
    "KeyProblem",
    "ed25519_matches",
    "ed25519_public_bytes",
    "ed25519_signature",
    "encode_params",
    "load_ed25519_private_key",
    "load_ed25519_public_key",
    "sign",
    "signature_matches",
    "ws_payload",
]

# Binance's documented examples percent-encode everything but unreserved characters.
_SAFE = "-_.~"


def encode_params(params: Mapping[str, object] | Iterable[tuple[str, object]]) -> str:
    """Percent-encode parameters as UTF-8 in the given order: `a=1&b=%EF%BC%91`."""
    items = params.items() if isinstance(params, Mapping) else params
    return "&".join(f"{quote(str(k), safe=_SAFE)}={quote(str(v), safe=_SAFE)}" for k, v in items)


def ws_payload(params: Mapping[str, object]) -> str:
    """What a WebSocket API request signs (BINANCE.md Part 4 §3): every parameter but `signature`,
    sorted by name, `name=value` joined by `&`, values as text and not percent-encoded."""
    return "&".join(f"{k}={_ws_text(v)}" for k, v in sorted(params.items()) if k != "signature")


def _ws_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def sign(secret: str, payload: str) -> str:
    """Lower-case hex HMAC-SHA256 of `payload` keyed by `secret`."""
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def ed25519_signature(private_key: Ed25519PrivateKey, payload: str) -> str:
    """The Ed25519 signature of the payload bytes, base64, percent-encoded as the query carries it."""
    return quote(base64.b64encode(private_key.sign(payload.encode())).decode(), safe="")


def ed25519_matches(public_key: bytes, payload: str, signature: str) -> bool:
    """Whether `signature` (base64, already percent-decoded) is the key's signature of `payload`."""
    try:
        raw = base64.b64decode(signature, validate=True)
        Ed25519PublicKey.from_public_bytes(public_key).verify(raw, payload.encode())
    except (InvalidSignature, ValueError, binascii.Error):
        return False
    return True


class KeyProblem(ValueError):
    """What is wrong with a key file, in words that never include the key."""


def load_ed25519_private_key(pem: bytes, passphrase: bytes | None) -> Ed25519PrivateKey:
    """An Ed25519 private key from PEM (PKCS#8, encrypted or not); KeyProblem says why not."""
    try:
        key = serialization.load_pem_private_key(pem, password=passphrase)
    except TypeError:  # encrypted without a passphrase, or a passphrase for a plain key
        raise KeyProblem(
            "the key is encrypted and no passphrase was given"
            if passphrase is None
            else "a passphrase was given but the key is not encrypted"
        ) from None
    except ValueError:
        raise KeyProblem("not a PEM private key, or the passphrase is wrong") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyProblem(f"not an Ed25519 key (it is {type(key).__name__.removeprefix('_')})")
    return key


def load_ed25519_public_key(pem: bytes) -> bytes:
    """The raw 32 bytes of an Ed25519 public key in PEM; KeyProblem says why not."""
    try:
        key = serialization.load_pem_public_key(pem)
    except ValueError:
        raise KeyProblem("not a PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise KeyProblem("not an Ed25519 public key")
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def ed25519_public_bytes(private_key: Ed25519PrivateKey) -> bytes:
    return private_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def signature_matches(secret: str, payload: str, signature: str) -> bool:
    """Constant-time check; Binance accepts the hex signature in either case."""
    return hmac.compare_digest(sign(secret, payload), signature.lower())
