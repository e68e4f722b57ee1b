"""SIGNED endpoints: API key, timestamp and recvWindow, the signature over the exact bytes sent."""

from __future__ import annotations

from binance_mcp.exchange.signing import encode_params, sign

from .conftest import KEY, SECRET, ManualClock, PaperClient


async def test_signed_call_succeeds(paper: PaperClient) -> None:
    answer = await paper.signed("GET", "/api/v3/account")
    assert answer.status == 200
    assert {"asset": "USDT", "free": "10000.00000000", "locked": "0.00000000"} in answer.body["balances"]


async def test_missing_and_malformed_api_key(paper: PaperClient, clock: ManualClock) -> None:
    query = encode_params({"timestamp": clock()})
    signed = f"{query}&signature={sign(SECRET, query)}"
    missing = await paper.request("GET", "/api/v3/account", signed, key=None)
    assert (missing.status, missing.error) == (401, (-2014, "API-key format invalid."))
    malformed = await paper.request("GET", "/api/v3/account", signed, key="not a key!")
    assert malformed.error == (-2014, "API-key format invalid.")
    unknown = await paper.request("GET", "/api/v3/account", signed, key="A" * 64)
    assert (unknown.status, unknown.error) == (401, (-2015, "Invalid API-key, IP, or permissions for action."))


async def test_bad_signature(paper: PaperClient) -> None:
    answer = await paper.signed("GET", "/api/v3/account", secret="wrong" + SECRET[5:])
    assert (answer.status, answer.error) == (400, (-1022, "Signature for this request is not valid."))


async def test_missing_signature_and_timestamp(paper: PaperClient, clock: ManualClock) -> None:
    no_sig = await paper.request("GET", "/api/v3/account", f"timestamp={clock()}")
    assert no_sig.error == (-1102, "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.")
    query = "omitZeroBalances=true"
    no_ts = await paper.request("GET", "/api/v3/account", f"{query}&signature={sign(SECRET, query)}")
    assert no_ts.error == (-1102, "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed.")


async def test_timestamp_outside_recv_window_and_ahead(paper: PaperClient, clock: ManualClock) -> None:
    stale = await paper.signed("GET", "/api/v3/account", timestamp=clock() - 5001)
    assert stale.error == (-1021, "Timestamp for this request is outside of the recvWindow.")
    wide = await paper.signed("GET", "/api/v3/account", timestamp=clock() - 5001, recvWindow=10000)
    assert wide.status == 200
    ahead = await paper.signed("GET", "/api/v3/account", timestamp=clock() + 1000)
    assert ahead.error == (-1021, "Timestamp for this request was 1000ms ahead of the server's time.")
    too_wide = await paper.signed("GET", "/api/v3/account", recvWindow=60001)
    assert too_wide.error == (-1102, "'recvWindow' contains unexpected value. Cannot be greater than 60000.")
    micros = await paper.signed("GET", "/api/v3/account", timestamp=clock() * 1000)
    assert micros.status == 200


async def test_query_plus_body_is_signed_without_separator(paper: PaperClient, clock: ManualClock) -> None:
    query = "symbol=BTCUSDT&side=BUY&type=MARKET"
    body = f"quantity=0.001&timestamp={clock()}"
    signature = sign(SECRET, query + body)
    answer = await paper.request("POST", "/api/v3/order", query, body=f"{body}&signature={signature}")
    assert answer.status == 200, answer.body
    assert answer.body["status"] == "FILLED"


async def test_non_ascii_parameters_must_be_percent_encoded_when_signed(paper: PaperClient, clock: ManualClock) -> None:
    # A Unicode symbol the exchange does not list: the signature is valid, so the symbol check answers.
    encoded = await paper.signed("GET", "/api/v3/openOrders", symbol="币安人生USDT")
    assert encoded.error == (-1121, "Invalid symbol.")
    # Signing the raw UTF-8 text instead of its percent-encoding is rejected, as on live since 2026-01.
    raw_payload = f"symbol=币安人生USDT&timestamp={clock()}"
    query = encode_params({"symbol": "币安人生USDT", "timestamp": clock()})
    wrong = await paper.request("GET", "/api/v3/openOrders", f"{query}&signature={sign(SECRET, raw_payload)}")
    assert wrong.error == (-1022, "Signature for this request is not valid.")


async def test_clock_skew_option_shifts_server_time(clock: ManualClock) -> None:
    from aiohttp.test_utils import TestClient, TestServer

    from .conftest import make_exchange

    exchange = make_exchange(clock, clock_skew_ms=-3000)
    async with TestClient(TestServer(exchange.app())) as client:
        paper = PaperClient(client, exchange, clock)
        assert (await paper.get("/api/v3/time")).body["serverTime"] == clock() - 3000
        # A client that trusts its own clock is now 3 s ahead of the server.
        ahead = await paper.signed("GET", "/api/v3/account")
        assert ahead.error == (-1021, "Timestamp for this request was 1000ms ahead of the server's time.")
        corrected = await paper.signed("GET", "/api/v3/account", timestamp=clock() - 3000)
        assert corrected.status == 200


async def test_other_key_has_its_own_account(paper: PaperClient) -> None:
    other_key, other_secret = "B" * 64, "S" * 64
    paper.exchange.add_account(other_key, other_secret)
    order = await paper.order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.001")
    assert order.status == 200
    mine = await paper.signed("GET", "/api/v3/allOrders", symbol="BTCUSDT")
    theirs = await paper.signed("GET", "/api/v3/allOrders", key=other_key, secret=other_secret, symbol="BTCUSDT")
    assert len(mine.body) == 1 and theirs.body == []
    assert other_key != KEY
