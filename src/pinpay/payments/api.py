"""The merchant payments API, wire-compatible with Paysafecard REST v1 (API.md sections 1-4)."""

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPBasic

from pinpay.errors import DirectPinsDisabled, InvalidRequestParameter
from pinpay.fraud.service import Subject
from pinpay.idempotency.api import respond_once
from pinpay.kit.clock import as_utc
from pinpay.kit.money import to_json_number
from pinpay.merchants.auth import authenticate
from pinpay.merchants.models import Merchant
from pinpay.payments import assign, service, validation
from pinpay.payments.models import Payment
from pinpay.payments.schemas import (
    AssignCardsRequest,
    CheckVoucherRequest,
    CreatePaymentRequest,
    PaymentList,
    PaymentObject,
    VoucherCheck,
    payment_object,
)
from pinpay.runtime import Runtime

# Declared for the OpenAPI document; the check itself is `authenticate` inside the transaction.
basic = HTTPBasic(auto_error=False, description="API key as user name, empty password")
router = APIRouter(prefix="/v1", tags=["payments"])
# Error responses are documented for every /v1 route by pinpay.openapi.
ERRORS: dict[int | str, dict[str, Any]] = {}


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def _render(
    runtime: Runtime, session: Any, payment: Payment, with_missing: bool = False
) -> dict[str, Any]:
    cards = (await service.cards_of(session, [payment]))[payment.id]
    return payment_object(
        payment, cards, runtime.settings.public_base_url, with_missing=with_missing
    )


def _render_settled(runtime: Runtime, settled: service.Settled) -> dict[str, Any]:
    # The cards were just settled in this transaction: no need to read them back.
    return payment_object(settled.payment, settled.cards, runtime.settings.public_base_url)


@router.post(
    "/payments",
    status_code=201,
    response_model=PaymentObject,
    response_model_exclude_none=True,
    responses=ERRORS,
    dependencies=[],
    summary="Create a payment",
)
async def create_payment(request: Request, body: CreatePaymentRequest) -> JSONResponse:
    runtime = _runtime(request)
    async with runtime.unit_of_work() as session:
        merchant = await authenticate(session, request)

        async def produce() -> dict[str, Any]:
            new = validation.new_payment(body, merchant)
            correlation = validation.correlation_id(request.headers.get("correlation-id"))
            window = timedelta(seconds=runtime.settings.authorization_window_seconds)
            payment = await service.create(
                session, merchant, new, correlation, authorization_window=window
            )
            # A new payment has no cards yet: nothing to read back.
            base_url = runtime.settings.public_base_url
            return _without_none(payment_object(payment, [], base_url))

        return await respond_once(session, request, merchant.id, 201, produce)


@router.get(
    "/payments/{payment_id}",
    response_model=PaymentObject,
    response_model_exclude_none=True,
    responses=ERRORS,
    summary="Retrieve a payment",
)
async def get_payment(request: Request, payment_id: str) -> JSONResponse:
    runtime = _runtime(request)
    async with runtime.unit_of_work() as session:
        merchant = await authenticate(session, request)
        payment = await service.get(session, merchant, payment_id)
        return JSONResponse(_without_none(await _render(runtime, session, payment)))


def _from_ms(value: int | None, param: str, *, through: bool = False) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromtimestamp(value / 1000, UTC)
        # An inclusive upper bound covers its whole millisecond: `created` is truncated to ms.
        return moment + timedelta(microseconds=999) if through else moment
    except (OverflowError, OSError, ValueError):
        raise InvalidRequestParameter(f"{param} must be Unix milliseconds", param=param) from None


@router.get(
    "/payments",
    response_model=PaymentList,
    response_model_exclude_none=True,
    responses=ERRORS,
    summary="List payments (ext)",
)
async def list_payments(
    request: Request,
    status: str | None = Query(None),
    created_from: int | None = Query(None, description="Unix ms, inclusive"),
    created_to: int | None = Query(None, description="Unix ms, inclusive"),
    limit: int = Query(20),
    starting_after: str | None = Query(None, description="id of the last payment seen"),
) -> JSONResponse:
    runtime = _runtime(request)
    async with runtime.unit_of_work() as session:
        merchant = await authenticate(session, request)
        filters = service.ListFilter(
            status or None,
            _from_ms(created_from, "created_from"),
            _from_ms(created_to, "created_to", through=True),
            limit,
            starting_after or None,
        )
        payments, has_more = await service.list_payments(session, merchant, filters)
        cards = await service.cards_of(session, payments)
        base = runtime.settings.public_base_url
        data = [_without_none(payment_object(p, cards[p.id], base)) for p in payments]
        return JSONResponse({"object": "list", "data": data, "has_more": has_more})


@router.post(
    "/payments/{payment_id}/capture",
    response_model=PaymentObject,
    response_model_exclude_none=True,
    responses=ERRORS,
    summary="Capture a payment",
)
async def capture_payment(request: Request, payment_id: str) -> JSONResponse:
    # A body ({"id": ...} or anything else) is accepted and ignored, as real clients send one.
    runtime = _runtime(request)
    async with runtime.unit_of_work() as session:
        merchant = await authenticate(session, request)

        async def produce() -> dict[str, Any]:
            settled = await service.capture(session, merchant, payment_id)
            return _without_none(_render_settled(runtime, settled))

        return await respond_once(session, request, merchant.id, 200, produce)


@router.post(
    "/payments/{payment_id}/cancel",
    response_model=PaymentObject,
    response_model_exclude_none=True,
    responses=ERRORS,
    summary="Cancel a payment (ext)",
)
async def cancel_payment(request: Request, payment_id: str) -> JSONResponse:
    runtime = _runtime(request)
    async with runtime.unit_of_work() as session:
        merchant = await authenticate(session, request)

        async def produce() -> dict[str, Any]:
            service.require_active(merchant)
            payment = await service.get(session, merchant, payment_id, lock=True)
            settled = await service.cancel(session, payment, merchant.mid, by_customer=False)
            return _without_none(_render_settled(runtime, settled))

        return await respond_once(session, request, merchant.id, 200, produce)


def _require_direct_pins(merchant: Merchant) -> None:
    service.require_active(merchant)
    if not merchant.direct_pins:
        raise DirectPinsDisabled()


@router.post(
    "/payments/{payment_id}/cards",
    response_model=PaymentObject,
    response_model_exclude_none=True,
    responses=ERRORS,
    summary="Assign PINs server to server (ext)",
)
async def assign_cards(
    request: Request,
    payment_id: str,
    body: AssignCardsRequest,
) -> JSONResponse:
    runtime = _runtime(request)
    async with runtime.unit_of_work() as session:
        merchant = await authenticate(session, request)

        async def produce() -> dict[str, Any]:
            _require_direct_pins(merchant)
            payment = await service.get(session, merchant, payment_id, lock=True)
            # The same lockouts as the hosted page (API.md 4): refused at once while one holds,
            # and every refused PIN (malformed ones too) counts against each key.
            subject = Subject(
                merchant=merchant.mid,
                payment=payment.public_id,
                customer=payment.customer_id,
                ip=payment.customer_ip,
            )
            async with runtime.guard.attempt(session, subject):
                pins = assign.parse_pins(body.pins)
                result = await assign.assign_pins(
                    session,
                    runtime.keyring,
                    payment,
                    merchant,
                    pins,
                    actor=f"merchant:{merchant.mid}",
                )
            return _without_none(
                payment_object(
                    result.payment,
                    result.cards,
                    runtime.settings.public_base_url,
                    with_missing=True,
                )
            )

        return await respond_once(session, request, merchant.id, 200, produce)


@router.post(
    "/vouchers/check",
    response_model=VoucherCheck,
    responses=ERRORS,
    tags=["vouchers"],
    summary="Check a voucher's value without spending (ext)",
)
async def check_voucher(request: Request, body: CheckVoucherRequest) -> JSONResponse:
    runtime = _runtime(request)
    async with runtime.unit_of_work() as session:
        merchant = await authenticate(session, request)
        _require_direct_pins(merchant)
        async with runtime.guard.attempt(session, Subject(merchant=merchant.mid)):
            voucher = await assign.check_voucher(
                session, runtime.keyring, body.pin, merchant_mid=merchant.mid
            )
        return JSONResponse(
            {
                "serial": voucher.serial,
                "currency": voucher.currency,
                "remaining": to_json_number(voucher.remaining, voucher.currency),
                "status": voucher.status,
                "expires": int(as_utc(voucher.expires_at).timestamp() * 1000),
            }
        )


def _without_none(body: dict[str, Any]) -> dict[str, Any]:
    """Paysafecard leaves absent fields out rather than sending null."""
    cleaned = {k: v for k, v in body.items() if v is not None}
    if isinstance(cleaned.get("customer"), dict):
        cleaned["customer"] = {k: v for k, v in cleaned["customer"].items() if v is not None}
    if isinstance(cleaned.get("card_details"), list):
        cleaned["card_details"] = [
            {k: v for k, v in c.items() if v is not None} for c in cleaned["card_details"]
        ]
    return cleaned
