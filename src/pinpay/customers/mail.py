"""The mails a customer gets about the account, in the language the page was used in."""

from pinpay.kit.mail import MailMessage

_TEXT: dict[str, dict[str, str]] = {
    "en": {
        "verify_subject": "Confirm your PinPay account",
        "verify_body": (
            "Hello,\n\nplease confirm your e-mail address for your PinPay account by opening "
            "this link:\n\n{link}\n\nThe link is valid for {hours} hours. If you did not sign "
            "up for PinPay, ignore this mail.\n"
        ),
        "taken_subject": "Your PinPay account",
        "taken_body": (
            "Hello,\n\nsomeone tried to sign up for PinPay with this e-mail address, which "
            "has an account already. To log in, open:\n\n{link}\n\nIf it was not you, ignore "
            "this mail.\n"
        ),
    },
    "de": {
        "verify_subject": "Bestätigen Sie Ihr PinPay-Konto",
        "verify_body": (
            "Hallo,\n\nbitte bestätigen Sie Ihre E-Mail-Adresse für Ihr PinPay-Konto über "
            "diesen Link:\n\n{link}\n\nDer Link ist {hours} Stunden gültig. Wenn Sie sich "
            "nicht bei PinPay registriert haben, ignorieren Sie diese E-Mail.\n"
        ),
        "taken_subject": "Ihr PinPay-Konto",
        "taken_body": (
            "Hallo,\n\njemand wollte sich mit dieser E-Mail-Adresse bei PinPay registrieren; "
            "zu ihr gibt es schon ein Konto. Zum Anmelden öffnen Sie:\n\n{link}\n\nWenn Sie "
            "das nicht waren, ignorieren Sie diese E-Mail.\n"
        ),
    },
}


def verification_mail(to: str, link: str, valid_seconds: int, lang: str) -> MailMessage:
    text = _TEXT.get(lang, _TEXT["en"])
    body = text["verify_body"].format(link=link, hours=max(1, valid_seconds // 3600))
    return MailMessage(to, text["verify_subject"], body)


def already_registered_mail(to: str, login_link: str, lang: str) -> MailMessage:
    text = _TEXT.get(lang, _TEXT["en"])
    return MailMessage(to, text["taken_subject"], text["taken_body"].format(link=login_link))
