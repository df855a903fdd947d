"""For merchants: sign PinPay API requests (RFC 9421 HTTP Message Signatures, RFC 9530 digests).

    headers = sign_request("POST", "https://pay.example/v1/payments", {}, body, "key-1", key)

or, with httpx: `httpx.Client(auth=PinPaySignatureAuth("key-1", key))` next to the API key
(`headers={"Authorization": ...}`). The private key is an Ed25519 or ECDSA P-256 key from
`cryptography`; PinPay holds only its public half (`pinpay merchants add-signing-key`).
"""

import secrets
import time
from collections.abc import Generator, Mapping

import httpx

from pinpay.kit import httpsig
from pinpay.kit.httpsig import PrivateKey

LABEL = "pinpay"


def sign_request(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    key_id: str,
    private_key: PrivateKey,
    *,
    created: int | None = None,
    nonce: str | None = None,
    digests: tuple[str, ...] = ("sha-256",),
) -> dict[str, str]:
    """The headers to add: `Content-Digest`, `Signature-Input` and `Signature`.

    `headers` is what the request carries already (unused today; taken so that covering more
    fields later keeps the same call)."""
    del headers
    digest = httpsig.content_digest(body, digests)
    components = list(httpsig.COVERED)
    params: dict[str, httpsig.Param] = {
        "created": int(time.time()) if created is None else created,
        "keyid": key_id,
        "nonce": nonce or secrets.token_urlsafe(24),
        "alg": httpsig.algorithm_of(private_key),
    }
    values = {"@method": method.upper(), "@target-uri": url, "content-digest": digest}
    signature = httpsig.sign(private_key, httpsig.signature_base(values, components, params))
    return {
        "Content-Digest": digest,
        "Signature-Input": f"{LABEL}=" + httpsig.serialize_signature_params(components, params),
        "Signature": f"{LABEL}=:" + httpsig.b64(signature) + ":",
    }


class PinPaySignatureAuth(httpx.Auth):
    """httpx authentication flow that signs every request it sends (the body is read first)."""

    requires_request_body = True

    def __init__(self, key_id: str, private_key: PrivateKey) -> None:
        self.key_id, self.private_key = key_id, private_key

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers.update(
            sign_request(
                request.method,
                str(request.url),
                request.headers,
                request.content,
                self.key_id,
                self.private_key,
            )
        )
        yield request
