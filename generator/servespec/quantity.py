"""Kubernetes resource quantities in their canonical form, as the API server prints them.

``canonical("0.1") == "100m"``, ``canonical("1024Mi") == "1Gi"``, ``canonical(1.5) == "1500m"``.
Emitting the canonical form means the live object reads back byte-equal, so Argo CD shows no
diff (argo-cd#12463: ``1500m`` vs ``1.5``).
"""

from __future__ import annotations

import re
from decimal import ROUND_CEILING, Decimal, InvalidOperation

__all__ = ["canonical", "parse", "QuantityError"]

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_DECIMAL_SUFFIX = {v: k for k, v in _DECIMAL.items()}
_RE = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+))(Ki|Mi|Gi|Ti|Pi|Ei|[eE][+-]?\d+|[numkMGTPE])?$")


class QuantityError(ValueError):
    """Not a Kubernetes quantity."""


def parse(value: str | int | float) -> tuple[Decimal, str]:
    """Return ``(amount, format)`` with format one of ``binary``, ``decimal``, ``exponent``."""
    if isinstance(value, bool):
        raise QuantityError(f"expected a quantity such as '500m' or '1Gi', found {value!r}")
    text = repr(value) if isinstance(value, float) else str(value)
    m = _RE.match(text.strip())
    if not m:
        raise QuantityError(f"expected a quantity such as '500m' or '1Gi', found {value!r}")
    try:
        number = Decimal(m.group(1))
    except InvalidOperation as exc:  # pragma: no cover - the regex admits only numbers
        raise QuantityError(f"not a number: {value!r}") from exc
    suffix = m.group(2) or ""
    if suffix in _BINARY:
        return number * _BINARY[suffix], "binary"
    if suffix[:1] in ("e", "E"):
        return number.scaleb(int(suffix[1:])), "exponent"
    return number.scaleb(_DECIMAL[suffix]), "decimal"


def canonical(value: str | int | float) -> str:
    """The API server's canonical spelling of a quantity (k8s ``Quantity.String()``)."""
    amount, fmt = parse(value)
    if amount < 0:
        raise QuantityError(f"expected a non-negative quantity, found {value!r}")
    # The API server keeps nano precision, rounding up.
    amount = amount.quantize(Decimal("1e-9"), rounding=ROUND_CEILING)
    if amount == 0:
        return "0"
    if fmt == "binary" and amount == amount.to_integral_value() and amount >= 1024:
        n = int(amount)
        for suffix, size in sorted(_BINARY.items(), key=lambda kv: -kv[1]):
            if n % size == 0:
                return f"{n // size}{suffix}"
    # decimal SI (binary amounts below 1Ki or fractional fall back to it, as in Go)
    exp = 18
    while exp > -9:
        scaled = amount.scaleb(-exp)
        if scaled == scaled.to_integral_value() and scaled >= 1:
            break
        exp -= 3
    mantissa = int(amount.scaleb(-exp).to_integral_value())
    if fmt == "exponent":
        return f"{mantissa}e{exp}" if exp else str(mantissa)
    return f"{mantissa}{_DECIMAL_SUFFIX[exp]}"
