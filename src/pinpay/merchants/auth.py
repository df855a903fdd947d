"""Merchant authentication: HTTP Basic with the API key as user name or an OAuth Bearer token,
then the IP allow-list and, for a token, the scope of the route."""

import base64
import binascii

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession

from pinpay.errors import InvalidApiKey, IpNotAllowed
from pinpay.kit import netaddr
from pinpay.merchants import oauth, scopes, signatures
from pinpay.merchants.models import Merchant
from pinpay.merchants.service import merchant_for_api_key
from pinpay.merchants.tokens import TokenIssuer


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
    # X-Forwarded-For counts only when the peer is one of PINPAY_TRUSTED_PROXIES (default none).
    return netaddr.client_address(
        request.client.host if request.client else None,
        request.headers.getlist("x-forwarded-for"),
        request.app.state.runtime.settings.trusted_proxies,
    )


def ip_allowed(merchant: Merchant, ip: str | None) -> bool:
    if not merchant.allowed_ips:
        return True
    address = netaddr.parse_ip(ip)
    return address is not None and netaddr.in_networks(address, merchant.allowed_ips)


def bearer_token(authorization: str | None) -> str | None:
    """`Bearer <JWT>` (RFC 6750 section 2.1): an OAuth access token from POST /oauth/token."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


async def authenticate(session: AsyncSession, request: Request) -> Merchant:
    """The merchant behind a request (API key or Bearer token), with its IP and scope checked."""
    runtime = request.app.state.runtime
    token = bearer_token(request.headers.get("authorization"))
    grant = None
    if token is not None:
        issuer = TokenIssuer.from_settings(runtime.settings)
        grant = await oauth.merchant_for_token(session, runtime.keyring, issuer, token)
        merchant: Merchant | None = grant.merchant
    else:
        api_key = api_key_from_header(request.headers.get("authorization"))
        merchant = await merchant_for_api_key(session, api_key) if api_key else None
    if merchant is None:
        raise InvalidApiKey()
    request.state.merchant_mid = merchant.mid  # for the audit record of a refusal
    if grant is None and not merchant.basic_auth:
        refused = InvalidApiKey("This merchant takes OAuth access tokens only, not API keys.")
        refused.headers = {"WWW-Authenticate": 'Bearer realm="pinpay"'}
        raise refused
    if not ip_allowed(merchant, client_ip(request)):
        raise IpNotAllowed()
    if grant is not None:
        scopes.require_scope(request, grant.scopes)
    await signatures.check_request(session, merchant, request)
    return merchant
