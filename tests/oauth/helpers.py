"""OAuth API clients for tests, and the calls that get and use their tokens."""

import base64
from dataclasses import dataclass

import httpx

from pinpay.merchants import oauth, scopes
from pinpay.runtime import Runtime


@dataclass
class Client:
    mid: str
    client_id: str
    client_secret: str


async def new_client(runtime: Runtime, mid: str, granted: list[str] | None = None) -> Client:
    async with runtime.transaction() as session:
        created = await oauth.create_client(session, mid, granted or list(scopes.SCOPES))
    return Client(created.mid, created.client_id, created.client_secret)


def client_basic(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


async def token_response(
    api: httpx.AsyncClient, client: Client, scope: str | None = None
) -> httpx.Response:
    form = {"grant_type": "client_credentials"}
    if scope is not None:
        form["scope"] = scope
    return await api.post(
        "/oauth/token", data=form, headers=client_basic(client.client_id, client.client_secret)
    )


async def access_token(api: httpx.AsyncClient, client: Client, scope: str | None = None) -> str:
    response = await token_response(api, client, scope)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
