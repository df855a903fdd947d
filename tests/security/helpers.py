"""Plain helpers for the security tests: a merchant with a signing key, signed calls."""

import json
from dataclasses import dataclass

import httpx
from cryptography.hazmat.primitives import serialization
from sqlalchemy import select

from pinpay.audit import service as audit
from pinpay.audit.models import AuditRecord
from pinpay.kit.httpsig import PrivateKey
from pinpay.merchants import admin, signatures
from pinpay.runtime import Runtime
from pinpay.signing_client import sign_request
from tests.api_client import Shop, payment_body

BASE = "http://pinpay.test"


def public_pem(private_key: PrivateKey) -> bytes:
    return private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


async def register_key(
    runtime: Runtime, shop: Shop, key_id: str, private_key: PrivateKey, *, require: bool = True
) -> None:
    async with runtime.transaction() as session:
        await signatures.add_signing_key(session, shop.mid, key_id, public_pem(private_key))
        if require:
            await admin.update_merchant(
                session, shop.mid, admin.MerchantChanges(require_signatures=True)
            )


@dataclass
class Call:
    method: str
    path: str
    body: bytes = b""

    def signed(self, key_id: str, private_key: PrivateKey, **options: object) -> dict[str, str]:
        return sign_request(
            self.method, BASE + self.path, {}, self.body, key_id, private_key, **options
        )  # type: ignore[arg-type]

    async def send(self, client: httpx.AsyncClient, headers: dict[str, str]) -> httpx.Response:
        extra = {"Content-Type": "application/json"} if self.body else {}
        return await client.request(
            self.method, self.path, content=self.body, headers={**extra, **headers}
        )


def create_payment_call() -> Call:
    return Call("POST", "/v1/payments", json.dumps(payment_body()).encode())


async def rejection_reasons(runtime: Runtime, mid: str) -> list[str]:
    async with runtime.sessions() as session:
        rows = await session.scalars(
            select(AuditRecord.reason)
            .where(AuditRecord.merchant_mid == mid, AuditRecord.outcome == audit.REJECTED)
            .order_by(AuditRecord.id)
        )
        return [str(reason) for reason in rows]
