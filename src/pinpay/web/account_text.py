"""The account pages' words in English and German; merged over the payment page's (web.i18n),
so that the shared layout (title, language switch, footer) reads right on both."""

ACCOUNT_TEXT: dict[str, dict[str, str]] = {
    "en": {
        "title": "Your PinPay account",
        "secure": "PinPay never shows your personal data or PINs to shops.",
        "email": "E-mail address",
        "password": "Password",
        "password_hint": "At least 10 characters.",
        "first_name": "First name",
        "last_name": "Last name",
        "birth_date": "Date of birth",
        "register": "Create account",
        "register_title": "Create your PinPay account",
        "have_account": "Already have an account? Log in",
        "no_account": "No account yet? Create one",
        "login": "Log in",
        "login_title": "Log in to your PinPay account",
        "logout": "Log out",
        "check_mail": (
            "Thank you. We have sent you an e-mail: open the link in it to confirm your "
            "address, then log in."
        ),
        "resent": (
            "Please confirm your e-mail address first. We have sent you a new link; open it, "
            "then log in."
        ),
        "verified": "Your e-mail address is confirmed. You can log in now.",
        "link_invalid": "This confirmation link is not valid (any more).",
        "login_refused": "Wrong e-mail address or password.",
        "login_locked": "Too many attempts. Please wait a while and try again.",
        "balance": "Balance",
        "available": "Available",
        "held": "Reserved for open payments",
        "no_balance": "Your account holds no value yet. Load a voucher to start.",
        "history": "Transactions",
        "no_history": "No transactions yet.",
        "kind_voucher_take": "Voucher loaded",
        "kind_wallet_hold": "Payment",
        "kind_wallet_release": "Payment returned",
        "kind_other": "Booking",
        "load_title": "Load a voucher into your account",
        "load_link": "Load a voucher",
        "load": "Load voucher",
        "loaded": "The voucher's value is now in your account.",
        "back_to_account": "Back to your account",
        "to_login": "Log in",
        "invalid_input": "Please check your entries.",
    },
    "de": {
        "title": "Ihr PinPay-Konto",
        "secure": "PinPay zeigt Shops nie Ihre persönlichen Daten oder PINs.",
        "email": "E-Mail-Adresse",
        "password": "Passwort",
        "password_hint": "Mindestens 10 Zeichen.",
        "first_name": "Vorname",
        "last_name": "Nachname",
        "birth_date": "Geburtsdatum",
        "register": "Konto anlegen",
        "register_title": "Ihr PinPay-Konto anlegen",
        "have_account": "Schon ein Konto? Anmelden",
        "no_account": "Noch kein Konto? Jetzt anlegen",
        "login": "Anmelden",
        "login_title": "Bei Ihrem PinPay-Konto anmelden",
        "logout": "Abmelden",
        "check_mail": (
            "Danke. Wir haben Ihnen eine E-Mail geschickt: Öffnen Sie den Link darin, um Ihre "
            "Adresse zu bestätigen, und melden Sie sich dann an."
        ),
        "resent": (
            "Bitte bestätigen Sie zuerst Ihre E-Mail-Adresse. Wir haben Ihnen einen neuen "
            "Link geschickt; öffnen Sie ihn und melden Sie sich dann an."
        ),
        "verified": "Ihre E-Mail-Adresse ist bestätigt. Sie können sich jetzt anmelden.",
        "link_invalid": "Dieser Bestätigungslink ist (nicht mehr) gültig.",
        "login_refused": "E-Mail-Adresse oder Passwort falsch.",
        "login_locked": (
            "Zu viele Versuche. Bitte warten Sie eine Weile und versuchen Sie es erneut."
        ),
        "balance": "Guthaben",
        "available": "Verfügbar",
        "held": "Für offene Zahlungen reserviert",
        "no_balance": "Ihr Konto hat noch kein Guthaben. Laden Sie einen Gutschein auf.",
        "history": "Umsätze",
        "no_history": "Noch keine Umsätze.",
        "kind_voucher_take": "Gutschein aufgeladen",
        "kind_wallet_hold": "Zahlung",
        "kind_wallet_release": "Zahlung zurückerstattet",
        "kind_other": "Buchung",
        "load_title": "Gutschein auf Ihr Konto laden",
        "load_link": "Gutschein aufladen",
        "load": "Gutschein aufladen",
        "loaded": "Der Wert des Gutscheins ist jetzt auf Ihrem Konto.",
        "back_to_account": "Zurück zu Ihrem Konto",
        "to_login": "Anmelden",
        "invalid_input": "Bitte prüfen Sie Ihre Eingaben.",
    },
}
