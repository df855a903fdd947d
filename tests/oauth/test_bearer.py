"""The merchant API with `Authorization: Bearer <JWT>`: every forged, stale or misdirected token
is refused with 401 invalid_api_key 10008 and an RFC 6750 challenge; Basic can be switched off."""

import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from pinpay.app import create_app
from pinpay.config import Settings
from pinpay.kit import clock
from pinpay.kit.clock import FrozenClock
from pinpay.kit.crypto import Keyring
from pinpay.merchants import admin, oauth, tokens
from pinpay.runtime import Runtime
from tests.api_client import Shop, basic, payment_body
from tests.oauth.helpers import Client, access_token, bearer


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unsigned(header: dict[str, Any], payload: dict[str, Any]) -> str:
    return _b64(json.dumps(header).encode()) + "." + _b64(json.dumps(payload).encode())


def _payload(client: Client, runtime: Runtime, **changes: Any) -> dict[str, Any]:
    issuer = tokens.TokenIssuer.from_settings(runtime.settings)
    now = int(clock.now().timestamp())
    payload = {
        "iss": issuer.issuer,
        "aud": issuer.audience,
        "sub": client.mid,
        "client_id": client.client_id,
        "iat": now,
        "exp": now + 600,
        "jti": "test-jti",
        "scope": "payments:read payments:write",
    }
    payload.update(changes)
    return {k: v for k, v in payload.items() if v is not None}


def _signed(keyring: Keyring, payload: dict[str, Any], **header: Any) -> str:
    signer = keyring.token_signer()
    assert signer is not None
    kid, key = signer
    headers = {"typ": "at+jwt", "kid": kid, **header}
    return jwt.encode(payload, key, algorithm="EdDSA", headers=headers)


async def _refused(shop: Shop, token: str, description: str) -> None:
    response = await shop.client.get("/v1/payments", headers=bearer(token))
    assert response.status_code == 401, response.text
    assert response.json()["code"] == "invalid_api_key" and response.json()["number"] == 10008
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer ") and 'error="invalid_token"' in challenge
    assert f'error_description="{description}"' in challenge


async def test_a_valid_token_is_accepted(shop: Shop, client: Client, runtime: Runtime) -> None:
    token = _signed(runtime.keyring, _payload(client, runtime))
    assert (await shop.client.get("/v1/payments", headers=bearer(token))).status_code == 200


async def test_alg_none_is_refused(shop: Shop, client: Client, runtime: Runtime) -> None:
    header = {"alg": "none", "typ": "at+jwt", "kid": runtime.keyring.newest("token").kid}
    await _refused(
        shop, _unsigned(header, _payload(client, runtime)) + ".", "algorithm not accepted"
    )


async def test_hs256_signed_with_the_public_key_is_refused(
    shop: Shop, client: Client, runtime: Runtime
) -> None:
    kid = runtime.keyring.newest("token").kid
    public = runtime.keyring.token_public_keys()[kid]
    header = {"alg": "HS256", "typ": "at+jwt", "kid": kid}
    signing_input = _unsigned(header, _payload(client, runtime))
    for secret in (
        public.public_bytes(Encoding.Raw, PublicFormat.Raw),
        public.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo),
        _b64(public.public_bytes(Encoding.Raw, PublicFormat.Raw)).encode(),
    ):
        mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        await _refused(shop, f"{signing_input}.{_b64(mac)}", "algorithm not accepted")


async def test_expired_token_is_refused(shop: Shop, client: Client, frozen: FrozenClock) -> None:
    token = await access_token(shop.client, client)
    frozen.advance(timedelta(seconds=599))
    assert (await shop.client.get("/v1/payments", headers=bearer(token))).status_code == 200
    frozen.advance(timedelta(seconds=1))
    await _refused(shop, token, "token expired")


@pytest.mark.parametrize(
    ("changes", "description"),
    [
        ({"aud": "https://elsewhere.example/v1"}, "wrong audience"),
        ({"aud": ["https://elsewhere.example/v1"]}, "wrong audience"),
        ({"iss": "https://evil.example"}, "wrong issuer"),
        ({"client_id": None}, "malformed token"),
        ({"exp": "tomorrow"}, "malformed claims"),
        ({"sub": "0000000000"}, "client revoked or unknown"),
        ({"client_id": "ppc_nobody"}, "client revoked or unknown"),
    ],
)
async def test_misdirected_or_malformed_claims_are_refused(
    shop: Shop, client: Client, runtime: Runtime, changes: dict[str, Any], description: str
) -> None:
    await _refused(
        shop, _signed(runtime.keyring, _payload(client, runtime, **changes)), description
    )


async def test_unknown_kid_wrong_key_and_wrong_type_are_refused(
    shop: Shop, client: Client, runtime: Runtime
) -> None:
    payload = _payload(client, runtime)
    stranger = Keyring.generate()
    await _refused(shop, _signed(stranger, payload), "unknown key id")
    # Our key id, someone else's key: the signature does not verify.
    await _refused(
        shop, _signed(stranger, payload, kid=runtime.keyring.newest("token").kid), "bad signature"
    )
    await _refused(shop, _signed(runtime.keyring, payload, typ="JWT"), "not an access token")
    await _refused(shop, "not-a-jwt", "malformed token")
    token = _signed(runtime.keyring, payload)
    await _refused(
        shop, token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB"), "bad signature"
    )


async def test_a_revoked_client_is_refused_at_once(
    shop: Shop, client: Client, runtime: Runtime
) -> None:
    token = await access_token(shop.client, client)
    assert (await shop.client.get("/v1/payments", headers=bearer(token))).status_code == 200
    async with runtime.transaction() as session:
        assert await oauth.revoke_client(session, client.client_id) == shop.mid
    await _refused(shop, token, "client revoked or unknown")


async def test_basic_switched_off_refuses_the_api_key_but_not_tokens(
    shop: Shop, client: Client, runtime: Runtime
) -> None:
    token = await access_token(shop.client, client)
    async with runtime.transaction() as session:
        await admin.update_merchant(session, shop.mid, admin.MerchantChanges(basic_auth=False))
    refused = await shop.client.get("/v1/payments", headers=basic(shop.api_key))
    assert refused.status_code == 401
    assert refused.json()["code"] == "invalid_api_key" and refused.json()["number"] == 10008
    assert refused.headers["www-authenticate"].startswith("Bearer ")
    created = await shop.client.post("/v1/payments", json=payment_body(), headers=bearer(token))
    assert created.status_code == 201, created.text
    async with runtime.transaction() as session:
        await admin.update_merchant(session, shop.mid, admin.MerchantChanges(basic_auth=True))
    assert (await shop.client.get("/v1/payments", headers=basic(shop.api_key))).status_code == 200


@pytest.fixture
async def rotated(runtime: Runtime, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A server process started after `pinpay keys rotate --purpose token`: same database."""
    rotated_json = runtime.keyring.rotated(["token"]).to_json()
    later = Runtime.build(settings.model_copy(update={"keys_json": rotated_json}))
    transport = httpx.ASGITransport(app=create_app(later.settings, later))
    async with httpx.AsyncClient(transport=transport, base_url="http://pinpay.test") as api:
        yield api
    await later.close()


async def test_jwks_and_rotation_keep_old_tokens_valid_until_expiry(
    shop: Shop,
    client: Client,
    runtime: Runtime,
    rotated: httpx.AsyncClient,
    frozen: FrozenClock,
) -> None:
    old_token = await access_token(shop.client, client)
    old_kid = runtime.keyring.newest("token").kid
    jwks = (await rotated.get("/.well-known/jwks.json")).json()
    kids = [key["kid"] for key in jwks["keys"]]
    assert len(kids) == 2 and kids[0] == old_kid
    assert all(
        k["kty"] == "OKP" and k["crv"] == "Ed25519" and k["alg"] == "EdDSA" for k in jwks["keys"]
    )

    frozen.advance(timedelta(seconds=300))
    new_token = await access_token(rotated, client)
    assert jwt.get_unverified_header(new_token)["kid"] == kids[1]
    # A third party verifies both tokens with nothing but the published JWKS.
    key_set = jwt.PyJWKSet.from_dict(jwks)
    for token in (old_token, new_token):
        kid = jwt.get_unverified_header(token)["kid"]
        claims = jwt.decode(
            token,
            key_set[kid],
            algorithms=["EdDSA"],
            audience=runtime.settings.public_base_url + "/v1",
            options={"verify_exp": False, "verify_iat": False},
        )
        assert claims["sub"] == shop.mid

    frozen.advance(timedelta(seconds=299))  # the old token's last second
    assert (await rotated.get("/v1/payments", headers=bearer(old_token))).status_code == 200
    frozen.advance(timedelta(seconds=1))
    old_refused = await rotated.get("/v1/payments", headers=bearer(old_token))
    assert old_refused.status_code == 401 and old_refused.json()["number"] == 10008
    assert (await rotated.get("/v1/payments", headers=bearer(new_token))).status_code == 200
