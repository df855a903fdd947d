"""Every /v1 route needs one named scope from a Bearer token: the table is complete, and each
route refuses a token without its scope (403 insufficient_scope) and accepts one with only it."""

from pathlib import Path
from types import SimpleNamespace

import pytest
from fastapi.routing import iter_route_contexts
from starlette.requests import Request

from pinpay.app import create_app
from pinpay.config import Settings
from pinpay.kit.crypto import Keyring
from pinpay.merchants import scopes
from pinpay.runtime import Runtime
from tests.api_client import Shop
from tests.oauth.helpers import access_token, bearer, new_client

DUMMY_PARAMS = {
    "payment_id": "pay_0000000000_unknown_EUR",
    "refund_id": "ref_unknown",
    "payout_id": "out_unknown",
    "notification_id": "evt_unknown",
    "currency": "EUR",
}


def _app_routes(tmp_path: Path) -> set[tuple[str, str]]:
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/unused.db")
    app = create_app(settings, Runtime.build(settings, Keyring.generate()))
    # FastAPI wraps included routers; iter_route_contexts walks into them.
    routes = {
        (method, str(route.path))
        for route in iter_route_contexts(app.routes)
        if str(route.path).startswith("/v1/")
        for method in route.methods or ()
        if method != "HEAD"
    }
    assert len(routes) >= 16
    documented = {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        if path.startswith("/v1/")
        for method in operations
    }
    assert documented == routes
    return routes


def test_every_v1_route_has_a_scope_and_no_scope_is_stale(tmp_path: Path) -> None:
    assert _app_routes(tmp_path) == set(scopes.ROUTE_SCOPES)
    assert set(scopes.ROUTE_SCOPES.values()) == set(scopes.SCOPES)


def test_an_unmapped_route_needs_a_scope_no_token_has() -> None:
    request = Request(
        {"type": "http", "method": "GET", "headers": [], "route": SimpleNamespace(path="/v1/new")}
    )
    assert scopes.required_scope(request) == scopes.UNMAPPED
    assert scopes.UNMAPPED not in scopes.SCOPES


def _path(template: str) -> str:
    return template.format(**{k: v for k, v in DUMMY_PARAMS.items() if "{" + k + "}" in template})


@pytest.mark.parametrize(("route", "needed"), sorted(scopes.ROUTE_SCOPES.items()))
async def test_each_route_enforces_its_scope(
    runtime: Runtime, shop: Shop, route: tuple[str, str], needed: str
) -> None:
    method, template = route
    others = [scope for scope in scopes.SCOPES if scope != needed]
    without = await access_token(shop.client, await new_client(runtime, shop.mid, others))
    only = await access_token(shop.client, await new_client(runtime, shop.mid, [needed]))
    body = {"json": {}} if method == "POST" else {}

    refused = await shop.client.request(method, _path(template), headers=bearer(without), **body)
    assert refused.status_code == 403, refused.text
    assert refused.json()["code"] == "insufficient_scope"
    challenge = refused.headers["www-authenticate"]
    assert 'error="insufficient_scope"' in challenge and f'scope="{needed}"' in challenge

    allowed = await shop.client.request(method, _path(template), headers=bearer(only), **body)
    assert allowed.status_code not in (401, 403), allowed.text
