"""Kubernetes resource quantities, parsed exactly and written in their canonical form, as the
API server prints them.

``canonical("0.1") == "100m"``, ``canonical("1024Mi") == "1Gi"``, ``canonical(1.5) == "1500m"``.
Emitting the canonical form means the live object reads back byte-equal, so Argo CD shows no
diff (argo-cd#12463: ``1500m`` vs ``1.5``).

The rules are those of kubernetes/apimachinery ``pkg/api/resource`` (``ParseQuantity`` and
``Quantity.CanonicalizeBytes``), computed with Python integers, never floats:

- grammar: ``[+-]`` number (``1``, ``1.5``, ``1.``, ``.5``) and one suffix: binary ``Ki Mi Gi Ti
  Pi Ei``, decimal ``n u m "" k M G T P E``, or an exponent ``e3``/``E-3``/``e+6``. No spaces. Where
  Go is looser than the OpenAPI ``pattern`` CRDs such as KServe's declare for quantities (Go
  takes ``.``, ``+`` and ``-`` alone as 0), the stricter rule wins: both must accept a value;
- a value keeps the family of its suffix (binary, decimal SI, exponent); non-zero values are
  rounded up (away from zero) to a multiple of 1n; binary values are capped at 2^63-1 and
  those below 1 become decimal SI;
- canonical: no precision lost, no fractional digits, the largest suffix (exponent a multiple of
  3); binary values below 1024 or not whole print as decimal SI. Decimal SI values beyond the
  ``E`` suffix (10^21 and up) print in exponent form (``1e21``), as kubernetes/kubernetes#140459
  fixed upstream (before it, Go printed ``1000E`` as ``1``).

Huge values never fail with an internal error: exponents are kept as integers (``1e999999999``
is fine; a canonical exponent beyond Go's int32 moves back into the mantissa, as proposed in
kubernetes/kubernetes#142156) and only more than 1,000 significant digits or a written exponent
outside int32 (Go would wrap it around) are refused, with a message.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import NamedTuple

__all__ = ["canonical", "parse", "parse_quantity", "format_quantity", "Quantity", "QuantityError"]

_BINARY = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_BINARY_SUFFIX = {v // 10: k for k, v in _BINARY.items()}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_DECIMAL_SUFFIX = {v: k for k, v in _DECIMAL.items()}
_RE = re.compile(r"([+-]?)([0-9]+)?(?:\.([0-9]*))?(Ki|Mi|Gi|Ti|Pi|Ei|[eE][+-]?[0-9]+|[numkMGTPE])?")
_MAX_BINARY = 2**63 - 1
_INT32 = 2**31 - 1
_MAX_DIGITS = 1000

BINARY, DECIMAL, EXPONENT = "binary", "decimal", "exponent"


class QuantityError(ValueError):
    """Not a Kubernetes quantity."""


class Quantity(NamedTuple):
    """An exact quantity: ``mantissa * 10**exponent`` (mantissa without trailing zeros, or 0)
    and the family it prints in: ``binary``, ``decimal`` or ``exponent``."""

    mantissa: int
    exponent: int
    format: str

    def as_decimal(self) -> Decimal:
        """The exact value (built from digits, so no context precision applies)."""
        digits = tuple(int(d) for d in str(abs(self.mantissa)))
        return Decimal((1 if self.mantissa < 0 else 0, digits, self.exponent))


def _expected(value: object) -> QuantityError:
    return QuantityError(f"expected a quantity such as '500m' or '1Gi', found {value!r}")


def parse_quantity(value: str | int | float) -> Quantity:
    """Parse like Go's ``resource.ParseQuantity``: rounded up to 1n, binary capped at 2^63-1."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise _expected(value)
    if isinstance(value, int) and value.bit_length() > 3 * _MAX_DIGITS:  # str() refuses over 4300 digits
        raise QuantityError(f"expected at most {_MAX_DIGITS} significant digits, found an integer of {value.bit_length()} bits")
    text = repr(value) if isinstance(value, float) else str(value)
    m = _RE.fullmatch(text)
    if not m or (m.group(2) is None and not m.group(3)):  # digits before or after the point
        raise _expected(value)
    sign, whole, fraction, suffix = m.group(1), m.group(2) or "", m.group(3) or "", m.group(4) or ""
    if suffix in _BINARY:
        fmt, exp10, shift = BINARY, 0, _BINARY[suffix]
    elif len(suffix) > 1 and suffix[0] in "eE":
        fmt, exp10, shift = EXPONENT, int(suffix[1:]) if len(suffix.lstrip("eE+-0")) <= 10 else 2**32, 0
        if abs(exp10) > _INT32:
            raise QuantityError(f"expected an exponent between -{_INT32} and {_INT32}, found {suffix[1:]!r} in {value!r}")
    else:
        fmt, exp10, shift = DECIMAL, _DECIMAL[suffix], 0
    digits = (whole + fraction).lstrip("0")
    exp10 -= len(fraction)
    stripped = digits.rstrip("0")
    exp10 += len(digits) - len(stripped)
    if len(stripped) > _MAX_DIGITS:
        raise QuantityError(f"expected at most {_MAX_DIGITS} significant digits, found {len(stripped)} in a quantity")
    mantissa = int(stripped or "0") << shift
    if mantissa == 0:
        return Quantity(0, 0, fmt)
    mantissa, exp10 = _round_up_to_nano(mantissa, exp10)
    if fmt == BINARY:
        if _exceeds(mantissa, exp10, _MAX_BINARY):
            mantissa, exp10 = _MAX_BINARY, 0
        if exp10 < 0 and _exceeds(_pow10(-exp10), 0, mantissa):  # below 1: printed as decimal SI
            fmt = DECIMAL
    return Quantity(-mantissa if sign == "-" else mantissa, exp10, fmt)


def _normalized(mantissa: int, exp10: int) -> tuple[int, int]:
    """Trailing zeros of ``mantissa`` moved into the exponent (mantissa > 0)."""
    text = str(mantissa)
    stripped = text.rstrip("0")
    return int(stripped), exp10 + len(text) - len(stripped)


def _round_up_to_nano(mantissa: int, exp10: int) -> tuple[int, int]:
    """``mantissa * 10**exp10`` (mantissa > 0) rounded up to a multiple of 10**-9."""
    mantissa, exp10 = _normalized(mantissa, exp10)
    if exp10 >= -9:
        return mantissa, exp10
    drop = -9 - exp10
    if drop > len(str(mantissa)):  # less than 1n: rounds up to 1n
        return 1, -9
    kept, rest = divmod(mantissa, _pow10(drop))
    return _normalized(kept + (1 if rest else 0), -9)


def _exceeds(mantissa: int, exp10: int, limit: int) -> bool:
    """``mantissa * 10**exp10 > limit`` for positive mantissa and limit, without huge powers."""
    if exp10 >= 0:
        return len(str(mantissa)) + exp10 > len(str(limit)) or mantissa * _pow10(exp10) > limit
    return mantissa > limit * _pow10(-exp10)


def _pow10(n: int) -> int:
    return int(10**n)


def format_quantity(q: Quantity) -> str:
    """Go's ``Quantity.String()``: the canonical spelling of a parsed quantity."""
    if q.mantissa == 0:
        return "0"
    sign = "-" if q.mantissa < 0 else ""
    mantissa, exp10 = _normalized(abs(q.mantissa), q.exponent)
    fmt = q.format
    if fmt == BINARY and (exp10 < 0 or not _exceeds(mantissa, exp10, 1023) or _exceeds(mantissa, exp10, _MAX_BINARY)):
        fmt = DECIMAL  # below 1024 or not whole: no precision lost, as decimal SI (above 2^63-1: not from parse)
    if fmt == BINARY:
        whole, power = mantissa * _pow10(exp10), 0  # at most 2^63-1 (capped at parse)
        while whole >= 1024 and whole % 1024 == 0:
            whole, power = whole // 1024, power + 1
        return f"{sign}{whole}{_BINARY_SUFFIX[power] if power else ''}"
    while exp10 % 3:
        mantissa, exp10 = mantissa * 10, exp10 - 1
    if fmt == DECIMAL and exp10 in _DECIMAL_SUFFIX:
        return f"{sign}{mantissa}{_DECIMAL_SUFFIX[exp10]}"
    if exp10 > _INT32:  # Go keeps the exponent in an int32: move the excess back into the mantissa
        mantissa, exp10 = mantissa * _pow10(exp10 - (_INT32 - _INT32 % 3)), _INT32 - _INT32 % 3
    return f"{sign}{mantissa}" + (f"e{exp10}" if exp10 else "")


def parse(value: str | int | float) -> tuple[Decimal, str]:
    """Return ``(amount, format)`` with format one of ``binary``, ``decimal``, ``exponent``."""
    q = parse_quantity(value)
    return q.as_decimal(), q.format


def canonical(value: str | int | float) -> str:
    """The API server's canonical spelling of a non-negative quantity (k8s ``Quantity.String()``)."""
    q = parse_quantity(value)
    if q.mantissa < 0:
        raise QuantityError(f"expected a non-negative quantity, found {value!r}")
    return format_quantity(q)
