"""Signed merchant requests: HTTP Message Signatures (RFC 9421) over `@method`, `@target-uri` and
`content-digest` (RFC 9530), with the parameters `created`, `keyid` and `nonce`.

A merchant registers public keys (Ed25519 or ECDSA P-256) under key ids of its choosing. Once it
requires signatures, every API call must carry one; a call that carries one is checked whether
required or not. A signature is accepted for WINDOW seconds around its `created` time, and its
nonce only once in that time: nonces are stored with their expiry (in the request's transaction,
so a request that rolls back leaves none, exactly as it leaves no other effect) and purged by the
worker.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from pinpay.audit import service as audit
from pinpay.db import dialect_name
from pinpay.errors import InvalidRequestParameter, PinPayError
from pinpay.kit import clock, httpsig
from pinpay.merchants.admin import get as get_merchant
from pinpay.merchants.models import Merchant, SignatureNonce, SigningKey

WINDOW = timedelta(seconds=300)
MAX_NONCE = 128
# Derived components we can compute; any other covered name must be a header of the request.
DERIVED = ("@method", "@target-uri", "@authority", "@path")


class SignatureRefused(PinPayError):
    code = "invalid_signature"
    number = None
    http_status = 401
    default_message = "The request signature is invalid."


class SignatureRequired(SignatureRefused):
    code = "signature_required"
    default_message = "This merchant requires signed requests (Signature and Signature-Input)."


class UnknownSigningKey(SignatureRefused):
    code = "unknown_key_id"
    default_message = "The signature's keyid is not a registered signing key of this merchant."


class ComponentNotCovered(SignatureRefused):
    code = "signature_component_missing"
    default_message = "The signature must cover @method, @target-uri and content-digest."


class DigestMismatch(SignatureRefused):
    code = "content_digest_mismatch"
    default_message = "Content-Digest is missing, unsupported or does not match the body."


class SignatureExpired(SignatureRefused):
    code = "signature_expired"
    default_message = "The signature's created time is outside the 300 second window."


class SignatureReplayed(SignatureRefused):
    code = "signature_replayed"
    default_message = "This signature nonce was used already."


@dataclass(frozen=True)
class SignedRequest:
    """What the verifier needs of an HTTP request, independent of the web framework."""

    method: str
    # The URIs the client may have signed: as this server saw it, and under the public base URL
    # (the two differ behind a proxy that terminates TLS).
    target_uris: tuple[str, ...]
    authority: str
    path: str
    headers: Mapping[str, str]  # lower-case names
    body: bytes


def load_public_key(pem: bytes) -> tuple[str, str]:
    """The RFC 9421 algorithm name and the normalized PEM of an Ed25519 or P-256 public key."""
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError):
        raise InvalidRequestParameter("not a PEM public key", param="public_key") from None
    if not isinstance(key, Ed25519PublicKey | ec.EllipticCurvePublicKey) or (
        isinstance(key, ec.EllipticCurvePublicKey) and not isinstance(key.curve, ec.SECP256R1)
    ):
        raise InvalidRequestParameter(
            "only Ed25519 and ECDSA P-256 keys are supported", param="public_key"
        )
    normalized = key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    return httpsig.algorithm_of(key), normalized


async def add_signing_key(
    session: AsyncSession, mid: str, key_id: str, pem: bytes, *, actor: str = "operator"
) -> SigningKey:
    if not key_id or len(key_id) > 100 or not key_id.isprintable():
        raise InvalidRequestParameter(
            "key id must be 1 to 100 printable characters", param="key_id"
        )
    algorithm, normalized = load_public_key(pem)
    merchant = await get_merchant(session, mid, lock=True)
    taken = await session.scalar(
        select(SigningKey.id).where(
            SigningKey.merchant_id == merchant.id, SigningKey.key_id == key_id
        )
    )
    if taken is not None:
        raise InvalidRequestParameter("this merchant has a key with that id", param="key_id")
    key = SigningKey(
        merchant_id=merchant.id,
        key_id=key_id,
        algorithm=algorithm,
        public_key_pem=normalized,
        created_at=clock.now(),
    )
    session.add(key)
    await session.flush()
    await audit.record(
        session,
        "merchant.signing_key_added",
        actor=actor,
        merchant_mid=mid,
        details={"key_id": key_id, "algorithm": algorithm},
    )
    return key


async def has_signing_key(session: AsyncSession, merchant: Merchant) -> bool:
    count = await session.scalar(
        select(func.count(SigningKey.id)).where(
            SigningKey.merchant_id == merchant.id, SigningKey.revoked_at.is_(None)
        )
    )
    return bool(count)


def _component(request: SignedRequest, name: str, target_uri: str) -> str:
    if name == "@method":
        return request.method.upper()
    if name == "@target-uri":
        return target_uri
    if name == "@authority":
        return request.authority.lower()
    if name == "@path":
        return request.path
    value = request.headers.get(name)
    if name.startswith("@") or value is None:
        raise SignatureRefused(f"The covered component {name} is not available.")
    return value.strip()


async def verify_request(session: AsyncSession, merchant: Merchant, request: SignedRequest) -> None:
    """Raise a SignatureRefused unless the request is signed as this module's docstring says."""
    signature_input = request.headers.get("signature-input")
    signature_header = request.headers.get("signature")
    if not signature_input or not signature_header:
        if merchant.require_signatures:
            raise SignatureRequired()
        return
    try:
        inputs = httpsig.parse_dictionary(signature_input)
        signatures = httpsig.parse_dictionary(signature_header)
    except httpsig.Malformed:
        raise SignatureRefused("Signature or Signature-Input is malformed.") from None
    labels = {
        str(member.params["keyid"]): label
        for label, member in inputs.items()
        if member.items is not None and isinstance(member.params.get("keyid"), str)
    }
    key = await session.scalar(
        select(SigningKey)
        .where(
            SigningKey.merchant_id == merchant.id,
            SigningKey.key_id.in_(list(labels)),
            SigningKey.revoked_at.is_(None),
        )
        .limit(1)
    )
    if key is None:
        raise UnknownSigningKey()
    label = labels[key.key_id]
    member, signed = inputs[label], signatures.get(label)
    components, params = member.items or [], member.params
    if signed is None or signed.value is None:
        raise SignatureRefused(f"No signature labelled {label}.")
    if not set(httpsig.COVERED) <= set(components):
        raise ComponentNotCovered()
    _check_params(params, key.algorithm)
    if not httpsig.digest_matches(request.headers.get("content-digest", ""), request.body):
        raise DigestMismatch()
    public_key = serialization.load_pem_public_key(key.public_key_pem.encode())
    assert isinstance(public_key, Ed25519PublicKey | ec.EllipticCurvePublicKey)
    for target_uri in request.target_uris:
        values = {name: _component(request, name, target_uri) for name in components}
        if httpsig.verify(
            public_key, httpsig.signature_base(values, components, params), signed.value
        ):
            break
    else:
        raise SignatureRefused("The signature does not verify with the registered key.")
    created = datetime.fromtimestamp(int(params["created"]), UTC)
    if not await _first_use(session, merchant, str(params["nonce"]), created + WINDOW):
        raise SignatureReplayed()


def _check_params(params: Mapping[str, httpsig.Param], algorithm: str) -> None:
    created, nonce, alg = params.get("created"), params.get("nonce"), params.get("alg")
    if not isinstance(created, int) or isinstance(created, bool):
        raise SignatureRefused("The signature has no created time.")
    if not isinstance(nonce, str) or not 1 <= len(nonce) <= MAX_NONCE:
        raise SignatureRefused(f"The signature needs a nonce of 1 to {MAX_NONCE} characters.")
    if alg is not None and alg != algorithm:
        raise SignatureRefused(f"The key is {algorithm}, the signature says another algorithm.")
    now = clock.now().timestamp()
    if abs(now - created) > WINDOW.total_seconds():
        raise SignatureExpired()
    expires = params.get("expires")
    if isinstance(expires, int) and not isinstance(expires, bool) and expires < now:
        raise SignatureExpired("The signature's expires time has passed.")


async def _first_use(
    session: AsyncSession, merchant: Merchant, nonce: str, expires_at: datetime
) -> bool:
    """Record the nonce; False when it is held already. One statement, race-free on both
    backends: a concurrent twin waits on the unique index and then finds the row."""
    insert = pg_insert if dialect_name(session) == "postgresql" else sqlite_insert
    statement = (
        insert(SignatureNonce)
        .values(merchant_id=merchant.id, nonce=nonce, expires_at=expires_at)
        .on_conflict_do_update(
            index_elements=["merchant_id", "nonce"],
            set_={"expires_at": expires_at},
            # A nonce whose window has passed (not purged yet) may be used again.
            where=SignatureNonce.expires_at <= clock.now(),
        )
        .returning(SignatureNonce.id)
    )
    return (await session.execute(statement)).first() is not None


async def purge_expired_nonces(session: AsyncSession, batch: int = 5000) -> int:
    """Delete nonces whose window has passed (a bounded batch per call)."""
    expired = (
        select(SignatureNonce.id)
        .where(SignatureNonce.expires_at <= clock.now())
        .order_by(SignatureNonce.id)
        .limit(batch)
    )
    ids = list((await session.scalars(expired)).all())
    if ids:
        await session.execute(delete(SignatureNonce).where(SignatureNonce.id.in_(ids)))
    return len(ids)


async def check_request(session: AsyncSession, merchant: Merchant, request: Request) -> None:
    """`verify_request` for an incoming Starlette request (the body is read once and cached)."""
    if not merchant.require_signatures and "signature-input" not in request.headers:
        return
    raw_path = request.scope.get("raw_path") or request.url.path.encode()
    path = raw_path.decode("latin-1")
    query = request.url.query
    path_and_query = path + (f"?{query}" if query else "")
    authority = request.headers.get("host", request.url.netloc)
    public_base = request.app.state.runtime.settings.public_base_url.rstrip("/")
    seen = f"{request.url.scheme}://{authority}{path_and_query}"
    await verify_request(
        session,
        merchant,
        SignedRequest(
            method=request.method,
            target_uris=tuple(dict.fromkeys([seen, public_base + path_and_query])),
            authority=authority,
            path=path,
            headers={name.lower(): value for name, value in request.headers.items()},
            body=await request.body(),
        ),
    )
