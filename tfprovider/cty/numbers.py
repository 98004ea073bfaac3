"""Exact cty numbers as `decimal.Decimal`: validation, parsing and the decimal text go-cty writes.

cty numbers are arbitrary-precision. Terraform compares planned and applied values exactly, so a
number must survive a round trip digit for digit: 0.8 in config must come back as 0.8, not as the
float 0.8000000000000000444. Nothing here goes through `float` except where the wire format itself
is a float64, and then only when the conversion is exact.
"""

from __future__ import annotations

import re
from decimal import Decimal

from tfprovider.cty.errors import CtyError
from tfprovider.cty.limits import MAX_DECIMAL_EXPONENT

# Plain decimal notation with an optional exponent. Python's Decimal() also accepts "NaN", "Infinity",
# underscores, surrounding whitespace and non-ASCII digits; none of those are cty number text.
_NUMBER_TEXT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\Z")
# Decimal happily parses exponents of any size; look at the exponent digits before it does.
_EXPONENT_DIGITS = re.compile(r"[eE][+-]?0*([0-9]+)\Z")

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


def _check_magnitude(number: Decimal) -> Decimal:
    if number.is_finite() and number and abs(number.adjusted()) > MAX_DECIMAL_EXPONENT:
        raise CtyError(f"number {number} is out of range (decimal exponent beyond ±{MAX_DECIMAL_EXPONENT})")
    return number


def coerce_number(value: object) -> Decimal:
    """The Decimal for a Python number handed to an encoder: a Decimal or an int (not a bool).

    Floats are refused because they would silently carry binary rounding error into state; NaN is
    refused because cty has no such number. Infinities are allowed, as in cty.
    """
    if isinstance(value, Decimal):
        if value.is_nan():
            raise CtyError("expected a number, got Decimal NaN (cty numbers cannot be NaN)")
        return _check_magnitude(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return _check_magnitude(Decimal(value))
    if isinstance(value, float):
        raise CtyError(
            "expected a number as Decimal or int, got float (floats lose precision; "
            "use decimal.Decimal(str(x)) or an int)"
        )
    raise CtyError(f"expected a number (Decimal or int), got {type(value).__name__}")


def parse_number_text(text: str) -> Decimal:
    """Parse decimal text such as "0.8", "-12", "1.5e300" exactly; raise CtyError otherwise."""
    if _NUMBER_TEXT.match(text) is None:
        shown = text if len(text) <= 40 else text[:40] + "..."
        raise CtyError(f"expected a number, got the string {shown!r}")
    exponent = _EXPONENT_DIGITS.search(text)
    if exponent is not None and len(exponent.group(1)) > 9:
        raise CtyError(f"number {text[:40]!r} is out of range (exponent too large)")
    return _check_magnitude(Decimal(text))


def number_text(number: Decimal) -> str:
    """Plain decimal text without exponent and without trailing fractional zeros (go-cty's 'f' form)."""
    if not number.is_finite():
        raise CtyError(f"{number} has no decimal text form")
    if not number:
        return "0"
    text = format(number, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def as_int64(number: Decimal) -> int | None:
    """The int for an integral number that fits int64, else None."""
    if not number.is_finite() or not INT64_MIN <= number <= INT64_MAX:
        return None
    integer = int(number)
    return integer if integer == number else None


def as_exact_float(number: Decimal) -> float | None:
    """The float64 equal to `number` (infinities included), or None if no float64 is exactly equal."""
    candidate = float(number)
    return candidate if Decimal(candidate) == number else None
