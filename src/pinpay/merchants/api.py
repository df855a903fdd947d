"""The OAuth token endpoint (RFC 6749 section 4.4, client credentials) and the public keys that
verify its tokens (RFC 7517 JWKS). Errors here follow RFC 6749 section 5.2, not Paysafecard's."""

import base64
import binascii
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from pinpay.audit import service as audit
from pinpay.kit.log import log
from pinpay.merchants import oauth, tokens
from pinpay.merchants.oauth import OAuthError
from pinpay.merchants.schemas import TOKEN_REQUEST_BODY, Jwks, OAuthErrorBody, TokenResponse
from pinpay.runtime import Runtime

router = APIRouter(tags=["oauth"])

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
MAX_BODY_BYTES = 4096
_ERROR = {"model": OAuthErrorBody}
TOKEN_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {**_ERROR, "description": "invalid_request, unsupported_grant_type or invalid_scope"},
    401: {**_ERROR, "description": "invalid_client (with WWW-Authenticate: Basic)"},
    500: {**_ERROR, "description": "server_error: no token signing key is configured"},
}


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def _form(request: Request) -> dict[str, str]:
    content_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise OAuthError("invalid_request", "the body must be application/x-www-form-urlencoded")
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise OAuthError("invalid_request", "the body is too large")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=10)
    except (UnicodeDecodeError, ValueError):
        raise OAuthError("invalid_request", "the body is not a valid form") from None
    form: dict[str, str] = {}
    for name, value in pairs:
        if name in form:  # RFC 6749 section 3.2: no parameter more than once
            raise OAuthError("invalid_request", f"{name} is given more than once")
        form[name] = value
    return form


def _basic_credentials(authorization: str | None) -> tuple[str, str] | None:
    """HTTP Basic as RFC 6749 section 2.3.1 says: both parts form-urlencoded, then base64."""
    scheme, _, encoded = (authorization or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise OAuthError("invalid_client", "malformed Basic credentials") from None
    client_id, colon, secret = decoded.partition(":")
    if not colon:
        raise OAuthError("invalid_client", "malformed Basic credentials")
    return unquote_plus(client_id), unquote_plus(secret)


def _client_credentials(authorization: str | None, form: dict[str, str]) -> tuple[str, str]:
    """Basic (client_secret_basic) or the form fields (client_secret_post), never both."""
    basic = _basic_credentials(authorization)
    if basic is None:
        return form.get("client_id", ""), form.get("client_secret", "")
    if "client_secret" in form or form.get("client_id", basic[0]) != basic[0]:
        raise OAuthError("invalid_request", "use one client authentication method, not two")
    return basic


def _refusal(refused: OAuthError) -> JSONResponse:
    headers = dict(NO_STORE)
    status = 400
    if refused.error == "invalid_client":
        status = 401
        headers["WWW-Authenticate"] = 'Basic realm="pinpay", charset="UTF-8"'
    body = {"error": refused.error, "error_description": refused.description}
    return JSONResponse(body, status_code=status, headers=headers)


async def _refuse(runtime: Runtime, refused: OAuthError, client_id: str) -> JSONResponse:
    try:
        async with runtime.transaction() as session:
            await audit.record(
                session,
                "oauth.token",
                outcome=audit.REJECTED,
                actor="client",
                reason=refused.error,
                subject=oauth.loggable_client_id(client_id),
            )
    except Exception as failure:  # the answer must not depend on the audit write
        log.error("audit.rejection_not_recorded", error=type(failure).__name__)
    return _refusal(refused)


@router.post(
    "/oauth/token",
    response_model=TokenResponse,
    responses=TOKEN_RESPONSES,
    openapi_extra={"requestBody": TOKEN_REQUEST_BODY},
    summary="Get an access token with client credentials (ext, RFC 6749 4.4)",
)
async def token(request: Request) -> JSONResponse:
    runtime = _runtime(request)
    client_id = ""
    try:
        form = await _form(request)
        client_id, client_secret = _client_credentials(request.headers.get("authorization"), form)
        grant = oauth.TokenRequest(
            form.get("grant_type"), client_id, client_secret, form.get("scope")
        )
        issuer = tokens.TokenIssuer.from_settings(runtime.settings)
        async with runtime.transaction() as session:
            issued = await oauth.issue_token(session, runtime.keyring, issuer, grant)
    except OAuthError as refused:
        return await _refuse(runtime, refused, client_id)
    except tokens.TokenKeyMissing as missing:
        log.error("oauth.token_key_missing", hint=missing.message)
        failure = {"error": "server_error", "error_description": missing.message}
        return JSONResponse(failure, status_code=500, headers=NO_STORE)
    body = {
        "access_token": issued.access_token,
        "token_type": "Bearer",
        "expires_in": issued.expires_in,
        "scope": issued.scope,
    }
    return JSONResponse(body, headers=NO_STORE)


@router.get(
    "/.well-known/jwks.json",
    response_model=Jwks,
    summary="Public keys that verify PinPay's access tokens (RFC 7517)",
)
async def jwks(request: Request) -> JSONResponse:
    # Every token key id stays published: tokens signed before a rotation verify until expiry.
    body = tokens.jwks(_runtime(request).keyring)
    return JSONResponse(body, headers={"Cache-Control": "public, max-age=300"})
