"""POST /oauth/token (RFC 6749 4.4) and a payment made with the token it gives."""

import base64
import json

import httpx
import jwt
import pytest
from sqlalchemy import select

from pinpay.audit.models import AuditRecord
from pinpay.kit.crypto import Keyring
from pinpay.merchants import oauth
from pinpay.runtime import Runtime
from tests.api_client import Shop, payment_body
from tests.oauth.helpers import (
    Client,
    bearer,
    client_basic,
    new_client,
    token_response,
)


def _claims(token: str) -> dict[str, object]:
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


async def test_client_credentials_then_a_payment_with_the_token(
    runtime: Runtime, shop: Shop, client: Client, keyring: Keyring
) -> None:
    response = await token_response(shop.client, client)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 600
    assert body["scope"] == "payments:read payments:write refunds payouts"
    token = body["access_token"]
    header = jwt.get_unverified_header(token)
    assert header["typ"] == "at+jwt" and header["alg"] == "EdDSA"
    assert header["kid"] == keyring.newest("token").kid
    claims = _claims(token)
    base = runtime.settings.public_base_url
    assert claims["iss"] == base and claims["aud"] == base + "/v1"
    assert claims["sub"] == shop.mid and claims["client_id"] == client.client_id
    assert claims["exp"] == claims["iat"] + 600  # type: ignore[operator]
    assert claims["jti"] and claims["scope"] == body["scope"]

    created = await shop.client.post("/v1/payments", json=payment_body(), headers=bearer(token))
    assert created.status_code == 201, created.text
    payment_id = created.json()["id"]
    assert payment_id.startswith(f"pay_{shop.mid}_")
    fetched = await shop.client.get(f"/v1/payments/{payment_id}", headers=bearer(token))
    assert fetched.status_code == 200 and fetched.json()["status"] == "INITIATED"


async def test_scope_narrowing_and_client_secret_post(
    runtime: Runtime, shop: Shop, client: Client
) -> None:
    narrowed = await token_response(shop.client, client, scope="payments:read refunds")
    assert narrowed.status_code == 200 and narrowed.json()["scope"] == "payments:read refunds"
    assert _claims(narrowed.json()["access_token"])["scope"] == "payments:read refunds"
    posted = await shop.client.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": client.client_id,
            "client_secret": client.client_secret,
        },
        headers={"Authorization": ""},
    )
    assert posted.status_code == 200, posted.text
    reader = await new_client(runtime, shop.mid, ["payments:read"])
    assert (await token_response(shop.client, reader)).json()["scope"] == "payments:read"


def _oauth_error(response: httpx.Response, status: int, error: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"] == error and response.json()["error_description"]
    assert response.headers["cache-control"] == "no-store"
    if status == 401:
        assert response.headers["www-authenticate"].startswith("Basic ")


async def test_bad_client_credentials_are_invalid_client(
    runtime: Runtime, shop: Shop, client: Client
) -> None:
    form = {"grant_type": "client_credentials"}
    for headers in (
        client_basic(client.client_id, client.client_secret + "x"),
        client_basic("ppc_unknown", client.client_secret),
        client_basic(shop.api_key, ""),  # an API key is not a client
        {"Authorization": "Basic %%%"},
        {"Authorization": ""},
    ):
        _oauth_error(
            await shop.client.post("/oauth/token", data=form, headers=headers),
            401,
            "invalid_client",
        )
    async with runtime.transaction() as session:
        await oauth.revoke_client(session, client.client_id)
    _oauth_error(await token_response(shop.client, client), 401, "invalid_client")
    async with runtime.transaction() as session:
        refusals = (
            await session.scalars(select(AuditRecord).where(AuditRecord.action == "oauth.token"))
        ).all()
    assert [r.reason for r in refusals] == ["invalid_client"] * 6
    # The client ids are recorded, never what was sent as one (an API key, here).
    assert [r.subject for r in refusals].count(client.client_id) == 2
    assert not any(shop.api_key in str(r.subject) + str(r.details) for r in refusals)


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({"grant_type": "password", "username": "a", "password": "b"}, "unsupported_grant_type"),
        ({"grant_type": "authorization_code", "code": "x"}, "unsupported_grant_type"),
        ({}, "invalid_request"),
        ({"grant_type": "client_credentials", "scope": "payments:read admin"}, "invalid_scope"),
    ],
)
async def test_grant_and_scope_refusals(
    shop: Shop, client: Client, form: dict[str, str], error: str
) -> None:
    headers = client_basic(client.client_id, client.client_secret)
    _oauth_error(await shop.client.post("/oauth/token", data=form, headers=headers), 400, error)


async def test_a_scope_the_client_lacks_is_invalid_scope(runtime: Runtime, shop: Shop) -> None:
    reader = await new_client(runtime, shop.mid, ["payments:read"])
    _oauth_error(await token_response(shop.client, reader, "payments:write"), 400, "invalid_scope")


async def test_malformed_requests_are_invalid_request(shop: Shop, client: Client) -> None:
    headers = client_basic(client.client_id, client.client_secret)
    as_json = await shop.client.post(
        "/oauth/token", json={"grant_type": "client_credentials"}, headers=headers
    )
    _oauth_error(as_json, 400, "invalid_request")
    twice = await shop.client.post(
        "/oauth/token",
        content=b"grant_type=client_credentials&grant_type=client_credentials",
        headers={**headers, "Content-Type": "application/x-www-form-urlencoded"},
    )
    _oauth_error(twice, 400, "invalid_request")
    both_methods = await shop.client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "client_secret": client.client_secret},
        headers=headers,
    )
    _oauth_error(both_methods, 400, "invalid_request")


async def test_a_keyring_without_token_keys_names_the_command(
    runtime: Runtime, shop: Shop, client: Client
) -> None:
    runtime.keyring = Keyring({p: r for p, r in runtime.keyring.keys.items() if p != "token"})
    response = await token_response(shop.client, client)
    assert response.status_code == 500
    assert response.json()["error"] == "server_error"
    assert "pinpay keys rotate --purpose token" in response.json()["error_description"]
    assert (await shop.client.get("/.well-known/jwks.json")).json() == {"keys": []}
