"""Money at the API edge: amounts in, integer minor units out, nothing rounded away."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pinpay.errors import InvalidRequestParameter
from pinpay.kit.money import (
    SUPPORTED_CURRENCIES,
    exponent,
    format_money,
    parse_currency,
    to_json_number,
    to_major,
    to_minor,
)

MAX_MINOR = 10**15


@pytest.mark.parametrize(
    ("value", "minor"),
    [
        ("10.00", 1000),
        (10, 1000),
        (10.5, 1050),
        ("10", 1000),
        ("10.5", 1050),
        (" 10.00 ", 1000),
        (0.01, 1),
        ("0", 0),
        (Decimal("10.10"), 1010),
    ],
)
def test_amounts_in_every_form_clients_send(value: object, minor: int) -> None:
    assert to_minor(value, "EUR") == minor


@pytest.mark.parametrize(
    "value",
    [
        "10.001",
        0.001,
        "abc",
        "",
        "10,00",
        True,
        False,
        None,
        float("nan"),
        float("inf"),
        float("-inf"),
        "NaN",
        "Infinity",
        Decimal("NaN"),
        [10],
        {"amount": 10},
        0.1 + 0.2,  # 0.30000000000000004: never rounded to 0.30
        "1e16",
        10**14,
    ],
)
def test_refused_amounts_name_the_amount_parameter(value: object) -> None:
    with pytest.raises(InvalidRequestParameter) as refused:
        to_minor(value, "EUR")
    assert refused.value.param == "amount"
    assert refused.value.to_body()["code"] == "invalid_request_parameter"
    assert refused.value.to_body()["number"] == 10028


def test_the_parameter_name_is_the_callers() -> None:
    with pytest.raises(InvalidRequestParameter) as refused:
        to_minor("abc", "EUR", param="value")
    assert refused.value.param == "value"


def test_yen_has_no_decimals_and_dinar_three() -> None:
    assert exponent("JPY") == 0
    assert to_minor("1000", "JPY") == 1000
    assert to_minor(1000, "JPY") == 1000
    with pytest.raises(InvalidRequestParameter):
        to_minor("1000.5", "JPY")
    assert to_major(1000, "JPY") == Decimal("1000")
    assert format_money(1000, "JPY") == "1000 JPY"
    assert to_json_number(1000, "JPY") == 1000.0
    assert exponent("BHD") == 3 and to_minor("1.234", "BHD") == 1234
    assert exponent("EUR") == 2 and to_major(1050, "EUR") == Decimal("10.50")
    assert format_money(1050, "EUR") == "10.50 EUR"


@pytest.mark.parametrize("currency", ["EUR", "USD", "JPY", "CHF"])
def test_supported_currencies_parse(currency: str) -> None:
    assert parse_currency(currency) == currency


@pytest.mark.parametrize("value", ["eur", "EURO", "EU", "XXX", "E1R", 978, None])
def test_unsupported_or_malformed_currencies_are_refused(value: object) -> None:
    with pytest.raises(InvalidRequestParameter) as refused:
        parse_currency(value)
    assert refused.value.param == "currency"


currencies = st.sampled_from(sorted(SUPPORTED_CURRENCIES | {"BHD"}))
amounts = st.integers(min_value=0, max_value=MAX_MINOR)


@given(minor=amounts, currency=currencies)
def test_minor_to_major_and_back_is_exact(minor: int, currency: str) -> None:
    major = to_major(minor, currency)
    assert to_minor(major, currency) == minor
    assert to_minor(str(major), currency) == minor
    assert major.as_tuple().exponent == -exponent(currency)


@given(minor=amounts, currency=currencies)
def test_the_wire_number_round_trips(minor: int, currency: str) -> None:
    """Paysafecard's JSON numbers (10.0, 0.01) come back to the same minor units."""
    assert to_minor(to_json_number(minor, currency), currency) == minor


@given(minor=st.integers(min_value=0, max_value=MAX_MINOR), currency=currencies)
def test_one_decimal_more_than_the_currency_has_is_refused(minor: int, currency: str) -> None:
    text = f"{to_major(minor, currency)}{'.' if exponent(currency) == 0 else ''}1"
    with pytest.raises(InvalidRequestParameter):
        to_minor(text, currency)
