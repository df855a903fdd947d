"""Money is integer minor units plus an ISO 4217 code; decimals exist only at the API edge."""

import re
from decimal import ROUND_DOWN, Decimal, InvalidOperation

from pinpay.errors import InvalidRequestParameter

# Minor-unit exponents that differ from 2; every other ISO 4217 code has two decimals.
_EXPONENTS = {"JPY": 0, "KRW": 0, "ISK": 0, "CLP": 0, "HUF": 2, "BHD": 3, "KWD": 3, "JOD": 3}
# The currencies PinPay will hold value in. Kept explicit: a typo must not open a new float.
SUPPORTED_CURRENCIES = frozenset(
    {
        "EUR",
        "USD",
        "GBP",
        "CHF",
        "PLN",
        "CZK",
        "SEK",
        "NOK",
        "DKK",
        "RON",
        "HUF",
        "BGN",
        "CAD",
        "AUD",
        "NZD",
        "MXN",
        "BRL",
        "JPY",
        "TRY",
        "AED",
    }
)


_DECIMAL_TEXT = re.compile(r"^-?[0-9]+(?:\.([0-9]+))?$", re.ASCII)


def exponent(currency: str) -> int:
    return _EXPONENTS.get(currency, 2)


def parse_currency(value: object, param: str = "currency") -> str:
    if not isinstance(value, str) or len(value) != 3 or not value.isalpha() or not value.isupper():
        raise InvalidRequestParameter(
            "currency must be an ISO 4217 code in upper case", param=param
        )
    if value not in SUPPORTED_CURRENCIES:
        raise InvalidRequestParameter(f"currency {value} is not supported", param=param)
    return value


def to_minor(value: object, currency: str, param: str = "amount") -> int:
    """Parse an amount given as JSON number or string ("10.00", "10") into minor units.

    Strict on meaning (more decimals than the currency has is an error, never rounded away),
    lenient on form (numbers and numeric strings alike), as real Paysafecard clients send both.
    """
    if isinstance(value, bool) or value is None:
        raise InvalidRequestParameter("amount must be a number", param=param)
    places = exponent(currency)
    if isinstance(value, str):
        # Plain ASCII decimals only: no exponents, underscores or other scripts' digits, and
        # the decimals are counted as written ("10.000" has three, whatever their value).
        text = value.strip()
        match = _DECIMAL_TEXT.match(text)
        if match is None:
            raise InvalidRequestParameter("amount must be a number", param=param)
        if len(match.group(1) or "") > places:
            raise InvalidRequestParameter(
                f"amount has more than {places} decimal places", param=param
            )
    elif isinstance(value, (int, float, Decimal)):
        text = str(value)
    else:
        raise InvalidRequestParameter("amount must be a number", param=param)
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise InvalidRequestParameter("amount must be a number", param=param) from None
    if not amount.is_finite():
        raise InvalidRequestParameter("amount must be a finite number", param=param)
    scaled = amount.scaleb(places)
    if scaled != scaled.to_integral_value(rounding=ROUND_DOWN):
        raise InvalidRequestParameter(f"amount has more than {places} decimal places", param=param)
    if abs(scaled) > Decimal(10) ** 15:
        raise InvalidRequestParameter("amount is too large", param=param)
    return int(scaled)


def to_major(minor: int, currency: str) -> Decimal:
    places = exponent(currency)
    return Decimal(minor).scaleb(-places).quantize(Decimal(1).scaleb(-places))


def to_json_number(minor: int, currency: str) -> float:
    """The Paysafecard wire format: a JSON number such as 10.0 or 0.01."""
    return float(to_major(minor, currency))


def format_money(minor: int, currency: str) -> str:
    return f"{to_major(minor, currency)} {currency}"
