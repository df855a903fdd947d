"""Signed merchant requests (RFC 9421): accepted when right, refused with a clear code and
audited when anything is wrong, on both databases."""

from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select

from pinpay.kit import clock, httpsig
from pinpay.merchants import signatures
from pinpay.merchants.models import SignatureNonce
from pinpay.runtime import Runtime
from pinpay.signing_client import PinPaySignatureAuth
from pinpay.worker.service import run_once
from tests.api_client import Shop
from tests.security.helpers import Call, create_payment_call, register_key, rejection_reasons

KEY = Ed25519PrivateKey.generate()


async def test_unsigned_calls_pass_while_signatures_are_not_required(
    runtime: Runtime, shop: Shop
) -> None:
    await register_key(runtime, shop, "k1", KEY, require=False)
    call = create_payment_call()
    assert (await call.send(shop.client, {})).status_code == 201
    # A signature that is sent is checked even when not required.
    headers = call.signed("k1", Ed25519PrivateKey.generate())
    refused = await call.send(shop.client, headers)
    assert refused.status_code == 401 and refused.json()["code"] == "invalid_signature"


@pytest.mark.parametrize(
    "private_key",
    [Ed25519PrivateKey.generate(), ec.generate_private_key(ec.SECP256R1())],
    ids=["ed25519", "ecdsa-p256"],
)
async def test_signed_calls_are_accepted(
    runtime: Runtime, shop: Shop, private_key: httpsig.PrivateKey
) -> None:
    await register_key(runtime, shop, "merchant-key", private_key)
    call = create_payment_call()
    created = await call.send(shop.client, call.signed("merchant-key", private_key))
    assert created.status_code == 201, created.text
    read = Call("GET", f"/v1/payments/{created.json()['id']}")
    both = read.signed("merchant-key", private_key, digests=("sha-256", "sha-512"))
    assert (await read.send(shop.client, both)).status_code == 200


async def test_the_httpx_auth_class_signs_every_request(runtime: Runtime, shop: Shop) -> None:
    await register_key(runtime, shop, "k1", KEY)
    auth = PinPaySignatureAuth("k1", KEY)
    created = await shop.client.post(
        "/v1/payments",
        content=create_payment_call().body,
        auth=auth,
        headers={"Content-Type": "application/json"},
    )
    assert created.status_code == 201, created.text
    listed = await shop.client.get("/v1/payments?limit=5", auth=auth)
    assert listed.status_code == 200, listed.text


def _uncovered_digest(call: Call) -> dict[str, str]:
    """Signed by the right key over @method and @target-uri only."""
    components = ["@method", "@target-uri"]
    params: dict[str, httpsig.Param] = {
        "created": int(clock.now().timestamp()),
        "keyid": "k1",
        "nonce": "n-uncovered",
    }
    values = {"@method": call.method, "@target-uri": "http://pinpay.test" + call.path}
    signature = httpsig.sign(KEY, httpsig.signature_base(values, components, params))
    return {
        "Content-Digest": httpsig.content_digest(call.body),
        "Signature-Input": "s=" + httpsig.serialize_signature_params(components, params),
        "Signature": f"s=:{httpsig.b64(signature)}:",
    }


def _tampered_body(call: Call) -> Call:
    return Call(call.method, call.path, call.body.replace(b"10.00", b"99.00"))


async def test_every_refusal_has_its_code_and_is_audited(runtime: Runtime, shop: Shop) -> None:
    await register_key(runtime, shop, "k1", KEY)
    call = create_payment_call()
    now = int(clock.now().timestamp())
    cases: list[tuple[str, Call, dict[str, str]]] = [
        ("signature_required", call, {}),
        ("content_digest_mismatch", _tampered_body(call), call.signed("k1", KEY)),
        ("invalid_signature", call, call.signed("k1", Ed25519PrivateKey.generate())),
        ("invalid_signature", call, call.signed("k1", KEY) | {"Signature": "pinpay=:AAAA:"}),
        ("invalid_signature", call, call.signed("k1", KEY) | {"Signature-Input": "(("}),
        ("signature_expired", call, call.signed("k1", KEY, created=now - 301)),
        ("signature_expired", call, call.signed("k1", KEY, created=now + 310)),
        ("unknown_key_id", call, call.signed("k2", KEY)),
        ("signature_component_missing", call, _uncovered_digest(call)),
        # The right signature sent to another path: the target URI does not match.
        ("invalid_signature", Call("POST", "/v1/payments?x=1", call.body), call.signed("k1", KEY)),
    ]
    for code, sent, headers in cases:
        response = await sent.send(shop.client, headers)
        assert response.status_code == 401, (code, response.text)
        body = response.json()
        assert body["code"] == code and "number" not in body and body["message"], body
    assert await rejection_reasons(runtime, shop.mid) == [code for code, _, _ in cases]


async def test_a_nonce_is_accepted_once_within_the_window(runtime: Runtime, shop: Shop) -> None:
    await register_key(runtime, shop, "k1", KEY)
    read = Call("GET", "/v1/payments")
    headers = read.signed("k1", KEY)
    assert (await read.send(shop.client, headers)).status_code == 200
    replayed = await read.send(shop.client, headers)
    assert replayed.status_code == 401 and replayed.json()["code"] == "signature_replayed"
    # The same nonce under a fresh created time is still a replay.
    nonce = httpsig.parse_dictionary(headers["Signature-Input"])["pinpay"].params["nonce"]
    again = read.signed("k1", KEY, nonce=nonce)
    assert (await read.send(shop.client, again)).json()["code"] == "signature_replayed"
    assert await rejection_reasons(runtime, shop.mid) == ["signature_replayed"] * 2


async def test_the_worker_purges_nonces_past_their_window(runtime: Runtime, shop: Shop) -> None:
    await register_key(runtime, shop, "k1", KEY)
    read = Call("GET", "/v1/payments")
    for _ in range(3):
        assert (await read.send(shop.client, read.signed("k1", KEY))).status_code == 200
    async with runtime.transaction() as session:
        first = await session.scalar(select(SignatureNonce).order_by(SignatureNonce.id))
        assert first is not None
        first.expires_at = clock.now() - timedelta(seconds=1)
    assert (await run_once(runtime))["purge_signature_nonces"] == 1
    async with runtime.sessions() as session:
        assert await session.scalar(select(func.count(SignatureNonce.id))) == 2


async def test_requiring_signatures_needs_a_registered_key(runtime: Runtime, shop: Shop) -> None:
    from pinpay.errors import InvalidRequestParameter
    from pinpay.merchants import admin

    with pytest.raises(InvalidRequestParameter):
        async with runtime.transaction() as session:
            await admin.update_merchant(
                session, shop.mid, admin.MerchantChanges(require_signatures=True)
            )
    with pytest.raises(InvalidRequestParameter):
        async with runtime.transaction() as session:
            await signatures.add_signing_key(session, shop.mid, "rsa", b"not a key")
