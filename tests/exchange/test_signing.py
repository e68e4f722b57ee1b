"""Signing: the official HMAC-SHA256 vectors from Binance's docs (BINANCE.md §2), and Ed25519."""

import base64
from typing import Any
from urllib.parse import unquote

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from binance_mcp.exchange.signing import (
    KeyProblem,
    ed25519_matches,
    ed25519_public_bytes,
    ed25519_signature,
    encode_params,
    load_ed25519_private_key,
    load_ed25519_public_key,
    sign,
    signature_matches,
)

SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
REST = [
    ("side", "BUY"),
    ("type", "LIMIT"),
    ("timeInForce", "GTC"),
    ("quantity", "1"),
    ("price", "0.1"),
    ("recvWindow", "5000"),
    ("timestamp", "1499827319559"),
]


def test_ascii_vector() -> None:
    payload = encode_params([("symbol", "LTCBTC"), *REST])
    assert payload == (
        "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559"
    )
    assert sign(SECRET, payload) == "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"


def test_non_ascii_vector_is_percent_encoded_before_signing() -> None:
    payload = encode_params([("symbol", "１２３４５６"), *REST])
    assert payload.startswith("symbol=%EF%BC%91%EF%BC%92%EF%BC%93%EF%BC%94%EF%BC%95%EF%BC%96&side=BUY")
    assert sign(SECRET, payload) == "e1353ec6b14d888f1164ae9af8228a3dbd508bc82eb867db8ab6046442f33ef3"


def test_query_plus_body_vector_has_no_separator() -> None:
    query = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC"
    body = "quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559"
    assert sign(SECRET, query + body) == "0fd168b8ddb4876a0358a8d14d0c9f3da0e9b20c5d52b2a00fcf7d1c602f9a77"


def test_signature_check_accepts_either_case_and_rejects_others() -> None:
    payload = "a=1"
    good = sign(SECRET, payload)
    assert signature_matches(SECRET, payload, good.upper())
    assert not signature_matches(SECRET, payload + "&b=2", good)
    assert not signature_matches(SECRET[:-1] + "x", payload, good)


# RFC 8032, section 7.1, test 1: the Ed25519 reference vector (an empty message).
RFC_SECRET = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
RFC_PUBLIC = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
RFC_SIGNATURE = bytes.fromhex(
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5"
    "f0595bbe24655141438e7a100b"
)


def test_ed25519_signs_the_payload_bytes_base64_then_percent_encoded() -> None:
    key = Ed25519PrivateKey.from_private_bytes(RFC_SECRET)
    assert ed25519_public_bytes(key) == RFC_PUBLIC
    assert unquote(ed25519_signature(key, "")) == base64.b64encode(RFC_SIGNATURE).decode()
    payload = (
        "symbol=BTCUSDT&side=SELL&type=LIMIT&timeInForce=GTC&quantity=1&price=0.2&timestamp=1668481559918"
        "&recvWindow=5000"
    )
    signature = ed25519_signature(key, payload)
    assert signature == "XtZirsmmi0noRzUfkqktvkVfxpkq%2FWtbLg2UOL3QGYdUBZVlqOBEMuEVw8zioY93N54NcKj9UuAXQEa9zgTDBg%3D%3D"
    assert len(base64.b64decode(unquote(signature))) == 64 and "+" not in signature and "/" not in signature
    assert ed25519_matches(RFC_PUBLIC, payload, unquote(signature))
    assert not ed25519_matches(RFC_PUBLIC, payload + "&x=1", unquote(signature))
    assert not ed25519_matches(RFC_PUBLIC, payload, "not base64!")


def _pem(key: Any, passphrase: bytes | None = None) -> bytes:
    encryption = serialization.BestAvailableEncryption(passphrase) if passphrase else serialization.NoEncryption()
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


def test_key_files_load_or_say_what_is_wrong_without_the_key() -> None:
    key = Ed25519PrivateKey.generate()
    assert ed25519_public_bytes(load_ed25519_private_key(_pem(key), None)) == ed25519_public_bytes(key)
    locked = _pem(key, b"correct horse")
    assert ed25519_public_bytes(load_ed25519_private_key(locked, b"correct horse")) == ed25519_public_bytes(key)
    for pem, passphrase, why in (
        (locked, None, "encrypted and no passphrase"),
        (locked, b"wrong", "passphrase is wrong"),
        (_pem(key), b"extra", "not encrypted"),
        (_pem(ec.generate_private_key(ec.SECP256R1())), None, "not an Ed25519 key"),
        (b"-----BEGIN PRIVATE KEY-----\ngarbage\n-----END PRIVATE KEY-----\n", None, "not a PEM private key"),
    ):
        with pytest.raises(KeyProblem, match=why) as info:
            load_ed25519_private_key(pem, passphrase)
        assert pem.decode() not in str(info.value)
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert load_ed25519_public_key(public) == ed25519_public_bytes(key)
    with pytest.raises(KeyProblem, match="not an Ed25519 public key"):
        load_ed25519_public_key(
            ec.generate_private_key(ec.SECP256R1())
            .public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        )
