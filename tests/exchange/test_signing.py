"""The official HMAC-SHA256 vectors from Binance's docs (BINANCE.md §2)."""

from binance_mcp.exchange.signing import encode_params, sign, signature_matches

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
