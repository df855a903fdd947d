"""The hosted payment page at `auth_url` (API.md section 3).

Server-rendered, works without JavaScript, one PIN per submission (a voucher worth more than
needed keeps the rest; the page shows what each voucher gave and what is missing). PINs travel
only in POST bodies, never in a URL or a log line; forms carry an HMAC CSRF token bound to the
device cookie; every response is `no-store`, framed by nobody, under a strict CSP.
"""

from pathlib import Path
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy.ext.asyncio import AsyncSession

from pinpay.customers import service as customers
from pinpay.errors import PaymentInvalidState, PinNotAccepted
from pinpay.fraud.service import Subject
from pinpay.handlers import refusal_floor
from pinpay.kit.ids import normalize_pin
from pinpay.kit.money import to_major
from pinpay.merchants.auth import client_ip
from pinpay.merchants.models import Merchant
from pinpay.payments import assign, service, states
from pinpay.payments import wallet as wallet_payment
from pinpay.payments.models import CardAssignment, Payment
from pinpay.runtime import Runtime
from pinpay.web import csrf
from pinpay.web.customer_session import current_account
from pinpay.web.i18n import TEXT, choose_language

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
LANG_COOKIE = "pinpay_lang"


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def secure_headers(response: Response, payment: Payment | None) -> Response:
    # Chrome applies form-action to the redirect that follows a POST, so the merchant's
    # return addresses must be allowed or the customer could not get back to the shop.
    targets = (
        " ".join(sorted({_origin(payment.success_url), _origin(payment.failure_url)}))
        if payment
        else ""
    )
    response.headers.update(
        {
            "Cache-Control": "no-store",
            "Pragma": "no-cache",
            "Content-Security-Policy": (
                "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; "
                f"form-action 'self' {targets}".rstrip()
                + "; frame-ancestors 'none'"
            ),
            "X-Frame-Options": "DENY",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        }
    )
    return response


def money(minor: int, currency: str, lang: str) -> str:
    text = f"{to_major(minor, currency)}"
    return f"{text.replace('.', ',') if lang == 'de' else text} {currency}"


class Page:
    """What one request to the page knows: language, device, runtime."""

    def __init__(self, request: Request) -> None:
        self.request = request
        self.runtime: Runtime = request.app.state.runtime
        self.lang = choose_language(
            request.query_params.get("lang"),
            request.cookies.get(LANG_COOKIE),
            request.headers.get("accept-language"),
        )
        self.t = TEXT[self.lang]
        self.device = request.cookies.get(csrf.DEVICE_COOKIE) or csrf.new_device_id()

    def finish(self, response: Response, payment: Payment | None) -> Response:
        secure = self.request.url.scheme == "https"
        response.set_cookie(
            csrf.DEVICE_COOKIE,
            self.device,
            max_age=365 * 86400,
            httponly=True,
            samesite="lax",
            secure=secure,
            path="/pay",
        )
        if self.request.query_params.get("lang") == self.lang:
            response.set_cookie(
                LANG_COOKIE,
                self.lang,
                max_age=365 * 86400,
                httponly=True,
                samesite="lax",
                secure=secure,
                path="/pay",
            )
        return secure_headers(response, payment)

    def csrf_refused(self, page_token: str, given: str) -> Response | None:
        """The "session expired" page when a form's CSRF token does not match its device."""
        device = self.request.cookies.get(csrf.DEVICE_COOKIE)
        if csrf.valid(self.runtime.keyring, device, page_token, given):
            return None
        return self.status("session", link=None, ok=False, code=403)

    def status(
        self,
        message_key: str,
        *,
        link: str | None,
        ok: bool,
        code: int = 200,
        payment: Payment | None = None,
    ) -> Response:
        response = templates.TemplateResponse(
            self.request,
            "status.html",
            {
                "t": self.t,
                "lang": self.lang,
                "message": self.t[message_key],
                "link": link,
                "ok": ok,
            },
            status_code=code,
        )
        return self.finish(response, payment)

    def form(
        self,
        payment: Payment,
        merchant: Merchant,
        cards: list[CardAssignment],
        *,
        error: str | None = None,
        code: int = 200,
        wallet: dict[str, object] | None = None,
    ) -> Response:
        live = [c for c in cards if c.status != service.RELEASED]
        response = templates.TemplateResponse(
            self.request,
            "pay.html",
            {
                "t": self.t,
                "lang": self.lang,
                "merchant_name": merchant.name,
                "amount": money(payment.amount, payment.currency, self.lang),
                "cards": [
                    {"serial": c.serial, "amount": money(c.amount, c.currency, self.lang)}
                    for c in live
                ],
                "missing": money(payment.amount - payment.assigned, payment.currency, self.lang),
                "can_add": len(live) < assign.MAX_PINS,
                "error": error,
                "page_token": payment.page_token,
                "csrf": csrf.token(self.runtime.keyring, self.device, payment.page_token),
                "wallet": wallet or {},
            },
            status_code=code,
        )
        return self.finish(response, payment)

    def outcome(self, payment: Payment) -> Response:
        """The page for a payment that takes no more PINs."""
        if payment.status in (states.AUTHORIZED, states.SUCCESS):
            return self.status("done", link=payment.success_url, ok=True, payment=payment)
        key = "expired" if payment.status == states.EXPIRED else "canceled"
        return self.status(key, link=payment.failure_url, ok=False, payment=payment)


async def _open(
    session: AsyncSession, page: Page, page_token: str
) -> tuple[Payment, Merchant] | Response:
    """The page's payment (locked) if it still takes value, else the page to show instead."""
    found = await service.by_page_token(session, page_token, lock=True)
    if found is None:
        return page.status("not_found", link=None, ok=False, code=404)
    payment, merchant = found
    await service.customer_opened(session, payment, merchant)
    if payment.status not in states.OPEN:
        return page.outcome(payment)
    return payment, merchant


async def _show(page: Page, page_token: str, error: str | None = None, code: int = 200) -> Response:
    async with page.runtime.transaction() as session:
        opened = await _open(session, page, page_token)
        if isinstance(opened, Response):
            return opened
        payment, merchant = opened
        cards = (await service.cards_of(session, [payment]))[payment.id]
        wallet = await _wallet_offer(session, page, payment)
        return page.form(payment, merchant, cards, error=error, code=code, wallet=wallet)


async def _wallet_offer(session: AsyncSession, page: Page, payment: Payment) -> dict[str, object]:
    """The "pay with your PinPay account" box: a login link, or the balance and a pay button."""
    account = await current_account(session, page.request)
    if account is None:
        return {"login_url": f"/account/login?next=/pay/{payment.page_token}&lang={page.lang}"}
    balance = (await customers.balances(session, account)).get(payment.currency, 0)
    return {
        "balance": money(balance, payment.currency, page.lang),
        "enough": balance >= payment.amount - payment.assigned,
    }


@router.get("/pay/{page_token}")
async def payment_page(request: Request, page_token: str) -> Response:
    return await _show(Page(request), page_token)


@router.post("/pay/{page_token}")
async def submit_pin(
    request: Request, page_token: str, pin: str = Form(""), csrf_token: str = Form("", alias="csrf")
) -> Response:
    page = Page(request)
    if refused := page.csrf_refused(page_token, csrf_token):
        return refused
    try:
        async with page.runtime.unit_of_work() as session:
            opened = await _open(session, page, page_token)
            if isinstance(opened, Response):
                return opened
            payment, merchant = opened
            subject = Subject(
                merchant=merchant.mid,
                payment=payment.public_id,
                customer=payment.customer_id,
                ip=client_ip(request),
                device=request.cookies.get(csrf.DEVICE_COOKIE),
            )
            async with page.runtime.guard.attempt(session, subject):
                normalized = normalize_pin(pin)
                if normalized is None:
                    raise PinNotAccepted()
                result = await assign.assign_pins(
                    session, page.runtime.keyring, payment, merchant, [normalized], actor="customer"
                )
    except PinNotAccepted:
        await refusal_floor(request)
        return await _show(page, page_token, error=page.t["refused"], code=400)
    except PaymentInvalidState:
        return await _show(page, page_token)
    if result.payment.status == states.AUTHORIZED:
        return page.finish(
            RedirectResponse(result.payment.success_url, status_code=303), result.payment
        )
    # Post/redirect/get: a reload must never submit the PIN again.
    return page.finish(RedirectResponse(f"/pay/{page_token}", status_code=303), result.payment)


@router.post("/pay/{page_token}/wallet")
async def pay_from_wallet(
    request: Request, page_token: str, csrf_token: str = Form("", alias="csrf")
) -> Response:
    page = Page(request)
    if refused := page.csrf_refused(page_token, csrf_token):
        return refused
    try:
        async with page.runtime.unit_of_work() as session:
            opened = await _open(session, page, page_token)
            if isinstance(opened, Response):
                return opened
            payment, merchant = opened
            account = await current_account(session, request)
            if account is None:
                return page.finish(
                    RedirectResponse(f"/account/login?next=/pay/{page_token}", status_code=303),
                    payment,
                )
            await wallet_payment.pay_with_wallet(
                session, page.runtime.keyring, payment, merchant, account
            )
    except customers.InsufficientWalletBalance:
        return await _show(page, page_token, error=page.t["wallet_short"], code=400)
    except (wallet_payment.MinimumAgeNotMet, customers.AccountNotActive):
        return await _show(page, page_token, error=page.t["wallet_refused"], code=400)
    except PaymentInvalidState:
        return await _show(page, page_token)
    return page.finish(RedirectResponse(payment.success_url, status_code=303), payment)


@router.post("/pay/{page_token}/cancel")
async def cancel(
    request: Request, page_token: str, csrf_token: str = Form("", alias="csrf")
) -> Response:
    page = Page(request)
    if refused := page.csrf_refused(page_token, csrf_token):
        return refused
    try:
        async with page.runtime.unit_of_work() as session:
            found = await service.by_page_token(session, page_token, lock=True)
            if found is None:
                return page.status("not_found", link=None, ok=False, code=404)
            payment, merchant = found
            await service.cancel(session, payment, merchant.mid, by_customer=True)
    except PaymentInvalidState:
        return await _show(page, page_token)
    return page.finish(RedirectResponse(payment.failure_url, status_code=303), payment)
