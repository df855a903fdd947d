"""Identifiers: random where guessing one must be hopeless, from `secrets` always."""

import secrets
import string

_ALNUM = string.ascii_letters + string.digits


def random_alnum(length: int) -> str:
    # One draw below 62**length, written in base 62: uniform over every string, as one
    # `secrets.choice` per character would be, at a tenth of the cost (payment ids are hot).
    number = secrets.randbelow(len(_ALNUM) ** length)
    chars = []
    for _ in range(length):
        number, digit = divmod(number, len(_ALNUM))
        chars.append(_ALNUM[digit])
    return "".join(chars)


def random_digits(length: int) -> str:
    return "".join(secrets.choice(string.digits) for _ in range(length))


def _sixteen_digits() -> str:
    # The first digit is never 0, so that the number prints as 16 digits everywhere.
    return str(secrets.randbelow(9 * 10**15) + 10**15)


def new_pin() -> str:
    """A 16-digit voucher PIN: 53 bits of `secrets` randomness."""
    return _sixteen_digits()


def new_serial() -> str:
    """A 16-digit voucher serial: public, printed on the receipt, random so it reveals no volume."""
    return _sixteen_digits()


def normalize_pin(raw: str) -> str | None:
    """Accept PINs as printed (4-4-4-4 with spaces or dashes); None when it is not 16 digits."""
    digits = "".join(ch for ch in raw if ch not in " -\t")
    if len(digits) != 16 or not digits.isascii() or not digits.isdigit():
        return None
    return digits


def group_pin(pin: str) -> str:
    return " ".join(pin[i : i + 4] for i in range(0, 16, 4))
