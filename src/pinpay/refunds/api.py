"""The merchant refunds API (API.md 5): create (validate or capture), capture, retrieve."""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from pinpay.idempotency.api import respond_once
from pinpay.merchants.auth import authenticate
from pinpay.payments.validation import correlation_id
from pinpay.refunds import service, validation
from pinpay.refunds.schemas import (
    CreateRefundRequest,
    RefundObject,
    refund_object,
    without_secrets,
)
from pinpay.runtime import Runtime

router = APIRouter(prefix="/v1", tags=["refunds"])
# Error responses are documented for every /v1 route by pinpay.openapi.
ERRORS: dict[int | str, dict[str, Any]] = {}


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def _render(
    session: AsyncSession, result: service.RefundResult, email: str | None = None
) -> dict[str, Any]:
    refund = result.refund
    return refund_object(
        refund,
        result.payment.public_id,
        psc_id=result.account.psc_id
        if result.account
        else await service.psc_id_of(session, refund),
        email=email,
        voucher=await service.voucher_of(session, refund),
        pin=result.issued.pin if result.issued else None,
    )


@router.post(
    "/payments/{payment_id}/refunds",
    status_code=201,
    response_model=RefundObject,
    response_model_exclude_none=True,
    responses=ERRORS,
    summary="Refund a payment (validate, or capture at once)",
)
async def create_refund(
    request: Request, payment_id: str, body: CreateRefundRequest
) -> JSONResponse:
    runtime = _runtime(request)
    async with runtime.unit_of_work() as session:
        merchant = await authenticate(session, request)

        async def produce() -> dict[str, Any]:
            new = validation.new_refund(body)
            correlation = correlation_id(request.headers.get("correlation-id"))
            result = await service.create(
                session, runtime.keyring, merchant, payment_id, new, correlation
            )
            return await _render(session, result, new.customer.email)

        # A replay never shows the voucher PIN or the e-mail again (see `without_secrets`).
        return await respond_once(
            session, request, merchant.id, 201, produce, stored=without_secrets
        )


@router.post(
    "/payments/{payment_id}/refunds/{refund_id}/capture",
    response_model=RefundObject,
    response_model_exclude_none=True,
    responses=ERRORS,
    summary="Capture a validated refund",
)
async def capture_refund(request: Request, payment_id: str, refund_id: str) -> JSONResponse:
    # A body is accepted and ignored, as on payment capture.
    runtime = _runtime(request)
    async with runtime.unit_of_work() as session:
        merchant = await authenticate(session, request)

        async def produce() -> dict[str, Any]:
            result = await service.capture(
                session, runtime.keyring, merchant, payment_id, refund_id
            )
            return await _render(session, result)

        return await respond_once(
            session, request, merchant.id, 200, produce, stored=without_secrets
        )


@router.get(
    "/payments/{payment_id}/refunds/{refund_id}",
    response_model=RefundObject,
    response_model_exclude_none=True,
    responses=ERRORS,
    summary="Retrieve a refund",
)
async def get_refund(request: Request, payment_id: str, refund_id: str) -> JSONResponse:
    runtime = _runtime(request)
    async with runtime.unit_of_work() as session:
        merchant = await authenticate(session, request)
        refund, payment = await service.get(session, merchant, payment_id, refund_id)
        result = service.RefundResult(refund, payment, None)
        return JSONResponse(await _render(session, result))
