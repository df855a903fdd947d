"""OAuth 2.0 client credentials (RFC 6749 section 4.4) for the merchant API: a merchant's API
clients, the token grant, and the merchant behind a Bearer token.

A client's secret is shown once and kept as its SHA-256 (256 random bits need no slow hash), as
API keys are. Tokens are RFC 9068 JWTs (see `tokens`); revoking a client refuses its tokens at
once, because every Bearer request looks the client up.
"""

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from pinpay.audit import service as audit
from pinpay.errors import InvalidRequestParameter, InvalidToken, NotFound
from pinpay.kit import clock
from pinpay.kit.crypto import Keyring
from pinpay.kit.ids import random_alnum
from pinpay.merchants import admin, scopes, tokens
from pinpay.merchants.models import ApiClient, Merchant

CLIENT_ID_PREFIX = "ppc_"
CLIENT_SECRET_PREFIX = "ppcs_"  # noqa: S105 (a prefix, not a secret)
GRANT_TYPE = "client_credentials"
_CLIENT_ID = re.compile(CLIENT_ID_PREFIX + r"[A-Za-z0-9]{24}")


class ClientNotFound(NotFound):
    code = "client_not_found"
    default_message = "No API client with that client_id."


class OAuthError(Exception):
    """A refusal at the token endpoint, rendered as RFC 6749 section 5.2 says (not as the
    Paysafecard error object): `error` is one of the RFC's codes."""

    def __init__(self, error: str, description: str) -> None:
        self.error = error
        self.description = description
        super().__init__(description)


@dataclass(frozen=True)
class NewClient:
    mid: str
    client_id: str
    client_secret: str
    scopes: list[str]


@dataclass(frozen=True)
class TokenRequest:
    grant_type: str | None
    client_id: str
    client_secret: str
    scope: str | None


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    scope: str
    expires_in: int


@dataclass(frozen=True)
class BearerGrant:
    merchant: Merchant
    scopes: frozenset[str]


def loggable_client_id(value: str) -> str | None:
    """The client_id for the audit log, if it is one: a caller may send an API key or a secret
    in its place, and those must never be written down."""
    return value if _CLIENT_ID.fullmatch(value) else None


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


async def create_client(
    session: AsyncSession, mid: str, requested: list[str], *, actor: str = "operator"
) -> NewClient:
    try:
        granted = scopes.parse_scopes(requested)
    except ValueError as error:
        raise InvalidRequestParameter(str(error), param="scope") from None
    if not granted:
        raise InvalidRequestParameter("an API client needs at least one scope", param="scope")
    merchant = await admin.get(session, mid)
    client_id = CLIENT_ID_PREFIX + random_alnum(24)
    secret = CLIENT_SECRET_PREFIX + secrets.token_urlsafe(32)
    session.add(
        ApiClient(
            merchant_id=merchant.id,
            client_id=client_id,
            secret_hash=_hash(secret),
            scopes=granted,
            created_at=clock.now(),
        )
    )
    await session.flush()
    await audit.record(
        session,
        "merchant.api_client_created",
        actor=actor,
        merchant_mid=mid,
        subject=client_id,
        details={"scopes": granted},
    )
    return NewClient(mid, client_id, secret, granted)


async def revoke_client(session: AsyncSession, client_id: str, *, actor: str = "operator") -> str:
    """Revoke a client and so every token it holds; returns its merchant's mid."""
    row = (
        await session.execute(
            select(ApiClient, Merchant.mid)
            .join(Merchant, Merchant.id == ApiClient.merchant_id)
            .where(ApiClient.client_id == client_id)
            .with_for_update(of=ApiClient)
        )
    ).one_or_none()
    if row is None:
        raise ClientNotFound()
    client, mid = row
    if client.revoked_at is None:
        client.revoked_at = clock.now()
        await audit.record(
            session, "merchant.api_client_revoked", actor=actor, merchant_mid=mid, subject=client_id
        )
    return str(mid)


async def _client(session: AsyncSession, client_id: str) -> tuple[ApiClient, Merchant] | None:
    row = (
        await session.execute(
            select(ApiClient, Merchant)
            .join(Merchant, Merchant.id == ApiClient.merchant_id)
            .where(ApiClient.client_id == client_id, ApiClient.revoked_at.is_(None))
        )
    ).one_or_none()
    return None if row is None else (row[0], row[1])


async def issue_token(
    session: AsyncSession, keyring: Keyring, issuer: tokens.TokenIssuer, request: TokenRequest
) -> IssuedToken:
    if not request.grant_type:
        raise OAuthError("invalid_request", "grant_type is required")
    if request.grant_type != GRANT_TYPE:
        raise OAuthError("unsupported_grant_type", "only client_credentials is supported")
    found = await _client(session, request.client_id) if request.client_id else None
    # The hash is compared in constant time; an unknown client costs the same hash.
    expected = found[0].secret_hash if found else _hash(secrets.token_hex(16))
    if found is None or not hmac.compare_digest(expected, _hash(request.client_secret)):
        raise OAuthError("invalid_client", "client authentication failed")
    client, merchant = found
    if request.scope is None or not request.scope.strip():
        granted = list(client.scopes)
    else:
        try:
            granted = scopes.parse_scopes(request.scope.split())
        except ValueError as error:
            raise OAuthError("invalid_scope", str(error)) from None
        if not set(granted) <= set(client.scopes):
            raise OAuthError("invalid_scope", "a requested scope was not granted to this client")
    token, claims = tokens.sign(
        keyring, issuer, mid=merchant.mid, client_id=client.client_id, scopes=granted
    )
    await audit.record(
        session,
        "oauth.token_issued",
        actor=f"client:{client.client_id}",
        merchant_mid=merchant.mid,
        subject=claims.jti,
        details={"scope": granted},
    )
    return IssuedToken(token, " ".join(granted), int(tokens.LIFETIME.total_seconds()))


async def merchant_for_token(
    session: AsyncSession, keyring: Keyring, issuer: tokens.TokenIssuer, token: str
) -> BearerGrant:
    """The merchant a Bearer token speaks for, and the scopes its client may still use."""
    claims = tokens.verify(keyring, issuer, token)
    found = await _client(session, claims.client_id)
    if found is None or found[1].mid != claims.mid:
        raise InvalidToken("client revoked or unknown")
    client, merchant = found
    return BearerGrant(merchant, claims.scopes & frozenset(client.scopes))
