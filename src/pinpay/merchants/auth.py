"""Merchant authentication: HTTP Basic with the API key as user name, then the IP allow-list."""

import base64
import binascii
import ipaddress

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession

from pinpay.errors import InvalidApiKey, IpNotAllowed
from pinpay.merchants.models import Merchant
from pinpay.merchants.service import merchant_for_api_key


def api_key_from_header(authorization: str | None) -> str | None:
    """`Basic base64(api_key)` as Paysafecard documents it, or `base64(api_key:)` as curl sends."""
    if not authorization:
        return None
    scheme, _, encoded = authorization.partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    api_key = decoded.split(":", 1)[0]
    return api_key or None


def client_ip(request: Request) -> str | None:
    # X-Forwarded-For is never trusted here; a trusted-proxy setting is the only way to honour it.
    return request.client.host if request.client else None


def ip_allowed(merchant: Merchant, ip: str | None) -> bool:
    if not merchant.allowed_ips:
        return True
    if ip is None:
        return False
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(cidr) for cidr in merchant.allowed_ips)


async def authenticate(session: AsyncSession, request: Request) -> Merchant:
    api_key = api_key_from_header(request.headers.get("authorization"))
    merchant = await merchant_for_api_key(session, api_key) if api_key else None
    if merchant is None:
        raise InvalidApiKey()
    request.state.merchant_mid = merchant.mid  # for the audit record of a refusal
    if not ip_allowed(merchant, client_ip(request)):
        raise IpNotAllowed()
    return merchant
