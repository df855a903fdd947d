"""The customer account pages under /account: sign up, confirm the address, log in and out, see
the balance and transactions, load a voucher.

Server-rendered like the payment page and locked down the same way (no-store, strict CSP, no
framing, English and German, works without JavaScript). Every form carries an HMAC CSRF token
bound to a device cookie of these pages. Loading a voucher counts wrong PINs against the same
lockouts as the payment page: the account, the IP, the device and all wallets together.
"""

from datetime import date

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response

from pinpay.customers import logins, wallet
from pinpay.customers.mail import already_registered_mail, verification_mail
from pinpay.customers.service import PersonalData, normalize_email
from pinpay.errors import InvalidRequestParameter, PinNotAccepted
from pinpay.fraud.service import Subject
from pinpay.handlers import refusal_floor
from pinpay.kit.ids import normalize_pin
from pinpay.merchants.auth import client_ip
from pinpay.web.account_page import AccountPage
from pinpay.web.customer_session import (
    clear_session_cookie,
    current_account,
    safe_next,
    session_token,
    set_session_cookie,
)
from pinpay.web.pages import money

router = APIRouter(include_in_schema=False)
# Wallet loads are one "merchant" to the lockouts: all wallets' wrong PINs share that key.
WALLET_MERCHANT_KEY = "wallet"


@router.get("/account/register")
async def register_form(request: Request) -> Response:
    return AccountPage(request).render("account_register.html", form={})


@router.post("/account/register")
async def register(
    request: Request,
    email: str = Form(""),
    password: str = Form(""),
    first_name: str = Form(""),
    last_name: str = Form(""),
    birth_date: str = Form(""),
    csrf_token: str = Form("", alias="csrf"),
) -> Response:
    page = AccountPage(request)
    if not page.csrf_ok(csrf_token):
        return page.forbidden()
    form = {"email": email, "first_name": first_name, "last_name": last_name, "birth": birth_date}
    try:
        born = date.fromisoformat(birth_date)
    except ValueError:
        return page.render("account_register.html", 400, form=form, error=page.t["invalid_input"])
    person = PersonalData(email, first_name, last_name, born)
    try:
        async with page.runtime.unit_of_work() as session:
            registration = await logins.register(
                session, page.runtime.keyring, page.runtime.settings, person, password
            )
    except InvalidRequestParameter as invalid:
        error = f"{page.t['invalid_input']} ({invalid.param or 'form'})"
        return page.render("account_register.html", 400, form=form, error=error)
    # Sent once the account is committed; an address that has an account gets a different mail
    # but the very same page, so the page tells nobody who is a customer.
    address = normalize_email(email)
    if registration.verification_token is None:
        mail = already_registered_mail(address, page.link("/account/login"), page.lang)
    else:
        mail = verification_mail(
            address,
            page.link(f"/account/verify/{registration.verification_token}"),
            page.runtime.settings.email_verification_seconds,
            page.lang,
        )
    await page.send(mail)
    return page.notice("check_mail", link="/account/login", link_text="to_login")


@router.get("/account/verify/{token}")
async def verify(request: Request, token: str) -> Response:
    page = AccountPage(request)
    try:
        async with page.runtime.unit_of_work() as session:
            await logins.verify_email(session, token)
    except logins.VerificationLinkInvalid:
        return page.notice("link_invalid", link="/account/login", link_text="to_login", code=400)
    return page.notice("verified", link="/account/login", link_text="to_login")


@router.get("/account/login")
async def login_form(
    request: Request, next_page: str | None = Query(None, alias="next")
) -> Response:
    return AccountPage(request).render("account_login.html", next=safe_next(next_page), email="")


@router.post("/account/login")
async def login(
    request: Request,
    email: str = Form(""),
    password: str = Form(""),
    next_page: str = Form("", alias="next"),
    csrf_token: str = Form("", alias="csrf"),
) -> Response:
    page = AccountPage(request)
    if not page.csrf_ok(csrf_token):
        return page.forbidden()
    target = safe_next(next_page)
    guard = logins.LoginGuard(page.runtime.guard)
    try:
        async with page.runtime.unit_of_work() as session:
            result = await logins.log_in(session, guard, email, password, client_ip(request))
    except logins.LoginRefused as refused:
        key = "login_locked" if isinstance(refused, logins.LoginLocked) else "login_refused"
        return page.render("account_login.html", 400, next=target, email=email, error=page.t[key])
    if result.session_token is None:
        assert result.verification_token is not None
        link = page.link(f"/account/verify/{result.verification_token}")
        valid = page.runtime.settings.email_verification_seconds
        await page.send(verification_mail(normalize_email(email), link, valid, page.lang))
        return page.notice("resent", link="/account/login", link_text="to_login")
    response = page.redirect(target or "/account")
    set_session_cookie(response, request, result.session_token)
    return response


@router.post("/account/logout")
async def logout(request: Request, csrf_token: str = Form("", alias="csrf")) -> Response:
    page = AccountPage(request)
    if not page.csrf_ok(csrf_token):
        return page.forbidden()
    async with page.runtime.transaction() as session:
        await logins.log_out(session, session_token(request))
    response = page.redirect("/account/login")
    clear_session_cookie(response, request)
    return response


@router.get("/account/logout")
async def logout_form(request: Request) -> Response:
    # Logging out changes state, so it is a POST (the button on /account); a GET only leads there.
    return AccountPage(request).redirect("/account")


def _history_label(page: AccountPage, movement: wallet.Movement) -> str:
    label = page.t.get(f"kind_{movement.kind}", page.t["kind_other"])
    if movement.reference and movement.reference.startswith("serial:"):
        return f"{label} •••• {movement.reference[-4:]}"
    return f"{label} {movement.merchant_name}" if movement.merchant_name else label


@router.get("/account")
async def overview(request: Request, done: str | None = None) -> Response:
    page = AccountPage(request)
    async with page.runtime.transaction() as session:
        account = await current_account(session, request)
        if account is None:
            return page.redirect("/account/login?next=/account")
        balances = await wallet.journal_balances(session, account)
        movements = await wallet.history(session, account)
    return page.render(
        "account_home.html",
        notice=page.t["loaded"] if done == "loaded" else None,
        balances=[
            {
                "available": money(b.available, b.currency, page.lang),
                "held": money(b.held, b.currency, page.lang) if b.held else None,
            }
            for b in balances
        ],
        history=[
            {
                "at": m.at.strftime("%Y-%m-%d %H:%M"),
                "label": _history_label(page, m),
                "amount": ("+" if m.amount > 0 else "") + money(m.amount, m.currency, page.lang),
            }
            for m in movements
        ],
    )


@router.get("/account/load")
async def load_form(request: Request) -> Response:
    page = AccountPage(request)
    async with page.runtime.transaction() as session:
        if await current_account(session, request) is None:
            return page.redirect("/account/login?next=/account/load")
    return page.render("account_load.html")


@router.post("/account/load")
async def load(
    request: Request, pin: str = Form(""), csrf_token: str = Form("", alias="csrf")
) -> Response:
    page = AccountPage(request)
    if not page.csrf_ok(csrf_token):
        return page.forbidden()
    try:
        async with page.runtime.unit_of_work() as session:
            account = await current_account(session, request)
            if account is None:
                return page.redirect("/account/login?next=/account/load")
            subject = Subject(
                merchant=WALLET_MERCHANT_KEY,
                customer=account.psc_id,
                ip=client_ip(request),
                device=page.device,
            )
            async with page.runtime.guard.attempt(session, subject):
                normalized = normalize_pin(pin)
                if normalized is None:
                    raise PinNotAccepted()
                await wallet.load_voucher(session, page.runtime.keyring, account, normalized)
    except PinNotAccepted:
        await refusal_floor(request)
        return page.render("account_load.html", 400, error=page.t["refused"])
    return page.redirect("/account?done=loaded")
