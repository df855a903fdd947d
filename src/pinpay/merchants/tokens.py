"""OAuth access tokens as RFC 9068 JWTs: signed with the keyring's newest `token` key (EdDSA over
Ed25519), verified under any token key id the keyring still holds, so that a rotation leaves the
tokens signed before it valid until they expire. Pure functions: no database, no request.
"""

import base64
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from pinpay.config import Settings
from pinpay.errors import InvalidToken, PinPayError
from pinpay.kit import clock
from pinpay.kit.crypto import Keyring

ALGORITHM = "EdDSA"
TOKEN_TYPE = "at+jwt"  # noqa: S105 (the RFC 9068 `typ`, not a secret)
LIFETIME = timedelta(minutes=10)
# How far in the future an `iat` may lie: the clocks of several servers differ a little.
CLOCK_SKEW = timedelta(seconds=60)
REQUIRED_CLAIMS = ["iss", "aud", "sub", "client_id", "iat", "exp", "jti", "scope"]


class TokenKeyMissing(PinPayError):
    """The keyring predates token keys: the operator has to add one."""

    code = "token_key_missing"
    number = None
    default_message = (
        "No token signing key in the keyring: run `pinpay keys rotate --purpose token` "
        "and restart PinPay."
    )


@dataclass(frozen=True)
class TokenIssuer:
    """Who issues the tokens (`iss`) and for whom they are meant (`aud`)."""

    issuer: str
    audience: str

    @classmethod
    def from_settings(cls, settings: Settings) -> "TokenIssuer":
        issuer = settings.public_base_url.rstrip("/")
        return cls(issuer, settings.token_audience or issuer + "/v1")


@dataclass(frozen=True)
class Claims:
    mid: str
    client_id: str
    scopes: frozenset[str]
    jti: str
    expires_at: datetime


def sign(
    keyring: Keyring, issuer: TokenIssuer, *, mid: str, client_id: str, scopes: list[str]
) -> tuple[str, Claims]:
    signer = keyring.token_signer()
    if signer is None:
        raise TokenKeyMissing()
    kid, private_key = signer
    now = clock.now()
    claims = Claims(mid, client_id, frozenset(scopes), secrets.token_urlsafe(16), now + LIFETIME)
    payload = {
        "iss": issuer.issuer,
        "aud": issuer.audience,
        "sub": mid,
        "client_id": client_id,
        "iat": int(now.timestamp()),
        "exp": int(claims.expires_at.timestamp()),
        "jti": claims.jti,
        "scope": " ".join(scopes),
    }
    token = jwt.encode(
        payload, private_key, algorithm=ALGORITHM, headers={"typ": TOKEN_TYPE, "kid": kid}
    )
    return token, claims


def _header(token: str) -> dict[str, Any]:
    try:
        return jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise InvalidToken("malformed token") from None


def verify(keyring: Keyring, issuer: TokenIssuer, token: str) -> Claims:
    """The claims of a token PinPay signed, or InvalidToken saying (safely) what is wrong."""
    header = _header(token)
    # Only EdDSA is ever accepted: `none`, and HS256 made with the public key as the HMAC
    # secret (key confusion), are refused here and again by the `algorithms` list below.
    if header.get("alg") != ALGORITHM:
        raise InvalidToken("algorithm not accepted")
    if str(header.get("typ", "")).lower() not in (TOKEN_TYPE, "application/" + TOKEN_TYPE):
        raise InvalidToken("not an access token")
    public_key = keyring.token_public_keys().get(str(header.get("kid")))
    if public_key is None:
        raise InvalidToken("unknown key id")
    try:
        # Time is checked below against PinPay's clock, not the library's.
        payload = jwt.decode(
            token,
            public_key,
            algorithms=[ALGORITHM],
            audience=issuer.audience,
            issuer=issuer.issuer,
            options={
                "require": REQUIRED_CLAIMS,
                "strict_aud": True,
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
            },
        )
    except jwt.InvalidAudienceError:
        raise InvalidToken("wrong audience") from None
    except jwt.InvalidIssuerError:
        raise InvalidToken("wrong issuer") from None
    except jwt.InvalidSignatureError:
        raise InvalidToken("bad signature") from None
    except jwt.PyJWTError:
        raise InvalidToken("malformed token") from None
    return _checked_claims(payload)


def _checked_claims(payload: dict[str, Any]) -> Claims:
    exp, iat = payload["exp"], payload["iat"]
    fields = (payload["sub"], payload["client_id"], payload["jti"], payload["scope"])
    if not all(isinstance(n, int) for n in (exp, iat)) or not all(
        isinstance(f, str) for f in fields
    ):
        raise InvalidToken("malformed claims")
    now = clock.now()
    if now.timestamp() >= exp:
        raise InvalidToken("token expired")
    if iat > (now + CLOCK_SKEW).timestamp():
        raise InvalidToken("token issued in the future")
    return Claims(
        mid=payload["sub"],
        client_id=payload["client_id"],
        scopes=frozenset(payload["scope"].split()),
        jti=payload["jti"],
        expires_at=datetime.fromtimestamp(exp, now.tzinfo),
    )


def jwks(keyring: Keyring) -> dict[str, list[dict[str, str]]]:
    """The public key of every token key id (RFC 7517, OKP keys per RFC 8037)."""
    return {
        "keys": [
            {
                "kty": "OKP",
                "crv": "Ed25519",
                "x": base64.urlsafe_b64encode(key.public_bytes(Encoding.Raw, PublicFormat.Raw))
                .decode()
                .rstrip("="),
                "kid": kid,
                "alg": ALGORITHM,
                "use": "sig",
            }
            for kid, key in keyring.token_public_keys().items()
        ]
    }
