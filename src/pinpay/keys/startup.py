"""Refusing to start on keys that must not protect real value.

The rule: `pinpay serve` and `pinpay worker` need a keyring (none: refuse, naming `pinpay keys
init`), and a keyring made by `pinpay demo` (marked `"demo": true` in its JSON) only in demo mode
(`PINPAY_DEMO_MODE=true`). The demo writes its keyring beside a throw-away database without
asking; nobody chose where it lives or who can read it, so it must not end up protecting real
vouchers. A production keyring comes from `pinpay keys init` and never carries the mark.
"""

from pinpay.config import Settings
from pinpay.errors import PinPayError
from pinpay.kit.crypto import Keyring, load_keyring


class DemoKeysRefused(PinPayError):
    code = "demo_keys_refused"
    number = None
    default_message = (
        "The keyring was made by `pinpay demo` and PINPAY_DEMO_MODE is not true: refusing to "
        "start. Create a production keyring with `pinpay keys init` (and PINPAY_KEYS_FILE), or "
        "set PINPAY_DEMO_MODE=true for a demo."
    )


def production_keyring(settings: Settings) -> Keyring:
    """The keyring a long-running process may start with; KeysMissing or DemoKeysRefused."""
    keyring = load_keyring(settings.keys_file, settings.keys_json)
    if keyring.demo and not settings.demo_mode:
        raise DemoKeysRefused()
    return keyring
