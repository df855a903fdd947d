"""The payment page speaks English and German, chosen by Accept-Language or the switch."""

LANGUAGES = ("en", "de")

TEXT: dict[str, dict[str, str]] = {
    "en": {
        "title": "Pay with PinPay",
        "pay_to": "Payment to",
        "amount": "Amount",
        "enter_pin": "Enter the 16-digit PIN of your voucher",
        "pin_label": "Voucher PIN",
        "pin_hint": "As printed: 4 groups of 4 digits. Spaces and dashes are fine.",
        "add_voucher": "Use voucher",
        "cancel": "Cancel payment",
        "vouchers_used": "Vouchers used",
        "contributes": "contributes",
        "still_missing": "Still missing",
        "next_voucher": "Enter another voucher to cover the rest.",
        "refused": "This PIN cannot be used. Please check it and try again.",
        "max_vouchers": "You have used the maximum of 10 vouchers for this payment.",
        "paid": "Your payment is authorized. You are being returned to the shop.",
        "back_to_shop": "Back to the shop",
        "canceled": "This payment was canceled.",
        "expired": "This payment has expired.",
        "done": "This payment is complete.",
        "not_found": "This payment link is not valid.",
        "session": "Your session expired. Please try again.",
        "language": "Deutsch",
        "secure": "Your PIN is sent encrypted and never shown to the shop.",
        "wallet_title": "Or pay with your PinPay account",
        "wallet_login": "Log in to your account",
        "wallet_balance": "Your balance",
        "wallet_pay": "Pay from my account:",
        "wallet_short": "Your balance does not cover this payment.",
        "wallet_refused": "Your account cannot pay this payment.",
    },
    "de": {
        "title": "Bezahlen mit PinPay",
        "pay_to": "Zahlung an",
        "amount": "Betrag",
        "enter_pin": "Geben Sie den 16-stelligen PIN Ihres Gutscheins ein",
        "pin_label": "Gutschein-PIN",
        "pin_hint": (
            "Wie aufgedruckt: 4 Gruppen zu 4 Ziffern. Leerzeichen und Bindestriche sind erlaubt."
        ),
        "add_voucher": "Gutschein einlösen",
        "cancel": "Zahlung abbrechen",
        "vouchers_used": "Verwendete Gutscheine",
        "contributes": "trägt bei",
        "still_missing": "Noch offen",
        "next_voucher": "Geben Sie einen weiteren Gutschein für den Rest ein.",
        "refused": (
            "Dieser PIN kann nicht verwendet werden. "
            "Bitte prüfen Sie ihn und versuchen Sie es erneut."
        ),
        "max_vouchers": "Sie haben die höchstens 10 Gutscheine für diese Zahlung verwendet.",
        "paid": "Ihre Zahlung ist autorisiert. Sie werden zum Shop zurückgeleitet.",
        "back_to_shop": "Zurück zum Shop",
        "canceled": "Diese Zahlung wurde abgebrochen.",
        "expired": "Diese Zahlung ist abgelaufen.",
        "done": "Diese Zahlung ist abgeschlossen.",
        "not_found": "Dieser Zahlungslink ist ungültig.",
        "session": "Ihre Sitzung ist abgelaufen. Bitte versuchen Sie es erneut.",
        "language": "English",
        "secure": "Ihr PIN wird verschlüsselt übertragen und dem Shop nie gezeigt.",
        "wallet_title": "Oder mit Ihrem PinPay-Konto bezahlen",
        "wallet_login": "Bei Ihrem Konto anmelden",
        "wallet_balance": "Ihr Guthaben",
        "wallet_pay": "Vom Konto bezahlen:",
        "wallet_short": "Ihr Guthaben reicht für diese Zahlung nicht aus.",
        "wallet_refused": "Ihr Konto kann diese Zahlung nicht bezahlen.",
    },
}


def choose_language(query: str | None, cookie: str | None, accept_language: str | None) -> str:
    for explicit in (query, cookie):
        if explicit in LANGUAGES:
            return str(explicit)
    weighted = []
    for part in (accept_language or "").split(","):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        weighted.append((quality, tag.strip().lower()[:2]))
    for _, tag in sorted(weighted, key=lambda item: -item[0]):
        if tag in LANGUAGES:
            return tag
    return "en"
