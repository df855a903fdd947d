"""What every account page shares: language, the device cookie its CSRF tokens are bound to,
the payment page's security headers, and mail sent after the commit."""

import smtplib
from pathlib import Path

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from pinpay.kit.log import log
from pinpay.kit.mail import MailMessage
from pinpay.runtime import Runtime
from pinpay.web import csrf
from pinpay.web.account_text import ACCOUNT_TEXT
from pinpay.web.customer_session import secure_cookies
from pinpay.web.i18n import TEXT, choose_language
from pinpay.web.pages import secure_headers

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
# Scoped to /account (the payment page has its own device cookie on /pay).
DEVICE_COOKIE = "pinpay_account_device"
LANG_COOKIE = "pinpay_lang"
CSRF_SCOPE = "account"


class AccountPage:
    """What one request to the account pages knows: language, device, runtime."""

    def __init__(self, request: Request) -> None:
        self.request = request
        self.runtime: Runtime = request.app.state.runtime
        self.lang = choose_language(
            request.query_params.get("lang"),
            request.cookies.get(LANG_COOKIE),
            request.headers.get("accept-language"),
        )
        self.t = {**TEXT[self.lang], **ACCOUNT_TEXT[self.lang]}
        self.device = request.cookies.get(DEVICE_COOKIE) or csrf.new_device_id()

    def csrf_ok(self, given: str) -> bool:
        return csrf.valid(
            self.runtime.keyring, self.request.cookies.get(DEVICE_COOKIE), CSRF_SCOPE, given
        )

    def finish(self, response: Response) -> Response:
        cookies = [(DEVICE_COOKIE, self.device)]
        if self.request.query_params.get("lang") == self.lang:
            cookies.append((LANG_COOKIE, self.lang))
        for name, value in cookies:
            response.set_cookie(
                name,
                value,
                max_age=365 * 86400,
                httponly=True,
                samesite="lax",
                secure=secure_cookies(self.request),
                path="/account",
            )
        return secure_headers(response, None)

    def render(self, template: str, code: int = 200, **context: object) -> Response:
        response = templates.TemplateResponse(
            self.request,
            template,
            {
                "t": self.t,
                "lang": self.lang,
                "csrf": csrf.token(self.runtime.keyring, self.device, CSRF_SCOPE),
                **context,
            },
            status_code=code,
        )
        return self.finish(response)

    def notice(self, key: str, *, link: str | None, link_text: str, code: int = 200) -> Response:
        return self.render(
            "account_notice.html",
            code,
            message=self.t[key],
            ok=code < 400,
            link=link,
            link_text=self.t[link_text],
        )

    def redirect(self, target: str) -> Response:
        # Post/redirect/get: a reload never submits a form again.
        return self.finish(RedirectResponse(target, status_code=303))

    def forbidden(self) -> Response:
        return self.notice("session", link="/account", link_text="back_to_account", code=403)

    def link(self, path: str) -> str:
        return f"{self.runtime.settings.public_base_url.rstrip('/')}{path}"

    async def send(self, mail: MailMessage) -> None:
        """Mail goes out after the commit. A mail server that fails is logged, not shown: the
        customer gets a new link by logging in, which tells an unconfirmed address to confirm."""
        try:
            await self.runtime.mail.send(mail)
        except (OSError, smtplib.SMTPException) as failure:
            log.error("mail.failed", error=type(failure).__name__)
