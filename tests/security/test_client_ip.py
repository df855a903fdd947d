"""Client addresses: IPv4 and IPv6 allow-lists, and X-Forwarded-For only from trusted proxies."""

import httpx
import pytest

from pinpay.app import create_app
from pinpay.kit.netaddr import client_address
from pinpay.merchants import admin
from pinpay.runtime import Runtime
from tests.api_client import basic
from tests.factories import create_merchant

PROXIES = ["10.0.0.0/8", "fd00::/8"]


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        ("203.0.113.9", ["198.51.100.1"], "203.0.113.9"),  # untrusted peer: header ignored
        ("10.0.0.2", [], "10.0.0.2"),  # trusted proxy, no header: the proxy itself
        ("10.0.0.2", ["198.51.100.1"], "198.51.100.1"),
        # The client can write anything left of what our proxies appended: right-most wins.
        ("10.0.0.2", ["1.2.3.4, 198.51.100.1, 10.0.0.7"], "198.51.100.1"),
        ("10.0.0.2", ["1.2.3.4", "198.51.100.1, 10.0.0.7"], "198.51.100.1"),  # two headers
        ("fd00::1", ["2001:db8::5, fd00::2"], "2001:db8::5"),
        ("::ffff:10.0.0.2", ["198.51.100.1"], "198.51.100.1"),  # IPv4-mapped peer
        ("10.0.0.2", ["garbage, 10.0.0.3"], "10.0.0.3"),  # stops at what it cannot read
    ],
)
def test_forwarded_for_rules(peer: str, forwarded: list[str], expected: str) -> None:
    assert client_address(peer, forwarded, PROXIES) == expected


def test_no_proxy_is_trusted_by_default() -> None:
    assert client_address("10.0.0.2", ["198.51.100.1"], []) == "10.0.0.2"


async def _status(runtime: Runtime, api_key: str, peer: str, forwarded: str | None = None) -> int:
    app = create_app(runtime.settings, runtime)
    transport = httpx.ASGITransport(app=app, client=(peer, 40000))
    headers = basic(api_key) | ({"X-Forwarded-For": forwarded} if forwarded else {})
    async with httpx.AsyncClient(transport=transport, base_url="http://pinpay.test") as client:
        return (await client.get("/v1/payments", headers=headers)).status_code


async def _allow(runtime: Runtime, mid: str, cidrs: list[str]) -> None:
    async with runtime.transaction() as session:
        await admin.update_merchant(session, mid, admin.MerchantChanges(allow_ips=cidrs))


async def test_ipv6_and_ipv4_mapped_allow_lists(runtime: Runtime) -> None:
    created = await create_merchant(runtime)
    await _allow(runtime, created.merchant.mid, ["2001:db8:1::/48", "192.0.2.0/24"])
    key = created.api_key
    assert await _status(runtime, key, "2001:db8:1:ffff::1") == 200
    assert await _status(runtime, key, "2001:db8:2::1") == 403
    assert await _status(runtime, key, "192.0.2.77") == 200
    assert await _status(runtime, key, "::ffff:192.0.2.77") == 200  # dual-stack socket
    assert await _status(runtime, key, "::ffff:198.51.100.1") == 403
    assert await _status(runtime, key, "198.51.100.1") == 403


async def test_forwarded_for_through_the_api(runtime: Runtime) -> None:
    created = await create_merchant(runtime)
    await _allow(runtime, created.merchant.mid, ["198.51.100.0/24"])
    key = created.api_key
    # Default: no trusted proxy, a forged header gets nobody in.
    assert await _status(runtime, key, "10.0.0.2", "198.51.100.1") == 403
    runtime.settings = runtime.settings.model_copy(update={"trusted_proxies": PROXIES})
    assert await _status(runtime, key, "10.0.0.2", "198.51.100.1") == 200
    assert await _status(runtime, key, "10.0.0.2", "198.51.100.1, 203.0.113.5") == 403
    assert await _status(runtime, key, "203.0.113.5", "198.51.100.1") == 403  # untrusted peer


def test_trusted_proxies_setting_parses_lists() -> None:
    from pinpay.config import Settings

    assert Settings(trusted_proxies="10.0.0.0/8, fd00::/8").trusted_proxies == PROXIES  # type: ignore[arg-type]
    assert Settings(trusted_proxies='["10.1.2.3"]').trusted_proxies == ["10.1.2.3/32"]  # type: ignore[arg-type]
    assert Settings().trusted_proxies == []
    with pytest.raises(ValueError):
        Settings(trusted_proxies="not-a-network")  # type: ignore[arg-type]
