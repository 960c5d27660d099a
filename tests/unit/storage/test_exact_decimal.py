"""ExactDecimal's SQLite bind processor takes shortcuts; its text must stay the reference's:
rounded to 18 places (half even), normalised, written without an exponent, for every
value PostgreSQL's NUMERIC(38, 18) can hold (under 10**20), and a refusal beyond."""

from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation, localcontext

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.dialects import sqlite

from quantgate.core.errors import ProgrammerError
from quantgate.storage.models import ExactDecimal

_SCALE = Decimal(1).scaleb(-18)


def reference(value: Decimal) -> str:
    """The text ExactDecimal stores, worked out with digits to spare."""
    if value.copy_abs() >= Decimal(10) ** 20:  # abs() would round to 28 digits
        raise ProgrammerError(f"{value} is out of range")
    with localcontext(prec=100):
        return format(value.quantize(_SCALE, rounding=ROUND_HALF_EVEN).normalize(), "f")


def processor():  # type: ignore[no-untyped-def]
    dialect = sqlite.dialect()
    process = ExactDecimal().dialect_impl(dialect).bind_processor(dialect)
    assert process is not None
    return process


def outcome(function, value: Decimal) -> str:  # type: ignore[no-untyped-def]
    try:
        return str(function(value))
    except InvalidOperation:
        return "InvalidOperation"
    except ProgrammerError:
        return "refused"


decimals = st.builds(
    lambda sign, digits, exponent: Decimal((sign, tuple(int(d) for d in digits), exponent)),
    st.integers(0, 1),
    st.text("0123456789", min_size=1, max_size=30),
    st.integers(-30, 12),
)


@settings(max_examples=3000)
@given(decimals)
def test_the_stored_text_is_the_reference(value: Decimal) -> None:
    assert outcome(processor(), value) == outcome(reference, value)


@pytest.mark.parametrize(
    "text",
    [
        "0",
        "-0",
        "0E-30",
        "-0E+5",
        "0.000",
        "-1E-20",
        "1E-7",
        "0.000001",
        "1E+3",
        "100",
        "-100",
        "1.50",
        "10.0",
        "-0.00",
        "100.000000000000000000",
        "4322.020190000000000000",
        "0.000001000000000000",
        "0.000000100000000000",
        "3.23922595665425",
        "13999.99998463173334930750000",
        "0.1234567890123456789",
        "1234567890",
        "-1234567890",
        "1234567890.5",
        "-1234567890.5",
        "12345678901",
        "12345678901.5",
        "-12345678901.5",
        "15000000000",
        "12345678901234567890.123456789012345678",
        "99999999999999999999.999999999999999999",
        "-99999999999999999999.9999999999999999994",
        "100000000000000000000",
        "1E+26",
    ],
)
def test_edge_cases(text: str) -> None:
    value = Decimal(text)
    assert outcome(processor(), value) == outcome(reference, value)


@pytest.mark.parametrize("value", [Decimal("NaN"), Decimal("Infinity"), 1.5, 2, "1.5"])
def test_refuses_what_is_not_a_finite_decimal(value: object) -> None:
    with pytest.raises(ProgrammerError):
        processor()(value)


def test_values_beyond_numeric_38_18_are_refused_by_name() -> None:
    with pytest.raises(ProgrammerError, match="20 digits before the point"):
        processor()(Decimal("-1E+20"))


def test_none_stays_null() -> None:
    assert processor()(None) is None


def test_a_lower_case_exponent_is_no_shortcut() -> None:
    with localcontext() as context:
        context.capitals = 0  # str() then writes 1e-7
        for text in ("1E-7", "1E+3", "-2.5E-9"):
            assert processor()(Decimal(text)) == reference(Decimal(text))
