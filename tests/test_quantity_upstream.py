"""Quantities parsed and printed exactly as Kubernetes does: the upstream test tables, ported.

Source of every table row: kubernetes/apimachinery@kubernetes-1.36.3:pkg/api/resource/quantity_test.go
at the line given first in the row (TestQuantityParse from line 267, its invalid inputs from
line 533, TestQuantityString from line 696, TestQuantityParseEmit from line 789). The Go tests
compare values numerically (``Cmp``) and formats; so do these.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from servespec.quantity import Quantity, QuantityError, canonical, format_quantity, parse, parse_quantity

# ParseQuantity table: (line, input, mantissa, exponent, format)
PARSE = [
    (276, '0', 0, 0, 'decimal'),
    (277, '0n', 0, 0, 'decimal'),
    (278, '0u', 0, 0, 'decimal'),
    (279, '0m', 0, 0, 'decimal'),
    (280, '0Ki', 0, 0, 'binary'),
    (281, '0k', 0, 0, 'decimal'),
    (282, '0Mi', 0, 0, 'binary'),
    (283, '0M', 0, 0, 'decimal'),
    (284, '0Gi', 0, 0, 'binary'),
    (285, '0G', 0, 0, 'decimal'),
    (286, '0Ti', 0, 0, 'binary'),
    (287, '0T', 0, 0, 'decimal'),
    (290, '1', 1, 0, 'decimal'),
    (293, '1Ki', 1024, 0, 'binary'),
    (294, '8Ki', 8192, 0, 'binary'),
    (295, '7Mi', 7340032, 0, 'binary'),
    (296, '6Gi', 6442450944, 0, 'binary'),
    (297, '5Ti', 5497558138880, 0, 'binary'),
    (298, '4Pi', 4503599627370496, 0, 'binary'),
    (299, '3Ei', 3458764513820540928, 0, 'binary'),
    (301, '10Ti', 10995116277760, 0, 'binary'),
    (302, '100Ti', 109951162777600, 0, 'binary'),
    (305, '5n', 5, -9, 'decimal'),
    (306, '4u', 4, -6, 'decimal'),
    (307, '3m', 3, -3, 'decimal'),
    (308, '9', 9, 0, 'decimal'),
    (309, '8k', 8, 3, 'decimal'),
    (310, '50k', 5, 4, 'decimal'),
    (311, '7M', 7, 6, 'decimal'),
    (312, '6G', 6, 9, 'decimal'),
    (313, '5T', 5, 12, 'decimal'),
    (314, '40T', 4, 13, 'decimal'),
    (315, '300T', 3, 14, 'decimal'),
    (316, '2P', 2, 15, 'decimal'),
    (317, '1E', 1, 18, 'decimal'),
    (320, '1E-3', 1, -3, 'exponent'),
    (321, '1e3', 1, 3, 'exponent'),
    (322, '1E6', 1, 6, 'exponent'),
    (323, '1e9', 1, 9, 'exponent'),
    (324, '1E12', 1, 12, 'exponent'),
    (325, '1e15', 1, 15, 'exponent'),
    (326, '1E18', 1, 18, 'exponent'),
    (329, '1e14', 1, 14, 'exponent'),
    (330, '1e13', 1, 13, 'exponent'),
    (331, '1e3', 1, 3, 'exponent'),
    (332, '100.035k', 100035, 0, 'decimal'),
    (335, '0.001', 1, -3, 'decimal'),
    (336, '0.0005k', 5, -1, 'decimal'),
    (337, '0.005', 5, -3, 'decimal'),
    (338, '0.05', 5, -2, 'decimal'),
    (339, '0.5', 5, -1, 'decimal'),
    (340, '0.00050k', 5, -1, 'decimal'),
    (341, '0.00500', 5, -3, 'decimal'),
    (342, '0.05000', 5, -2, 'decimal'),
    (343, '0.50000', 5, -1, 'decimal'),
    (344, '0.5e0', 5, -1, 'exponent'),
    (345, '0.5e-1', 5, -2, 'exponent'),
    (346, '0.5e-2', 5, -3, 'exponent'),
    (347, '0.5e0', 5, -1, 'exponent'),
    (348, '10.035M', 10035, 3, 'decimal'),
    (350, '1.2e3', 12, 2, 'exponent'),
    (351, '1.3E+6', 13, 5, 'exponent'),
    (352, '1.40e9', 14, 8, 'exponent'),
    (353, '1.53E12', 153, 10, 'exponent'),
    (354, '1.6e15', 16, 14, 'exponent'),
    (355, '1.7E18', 17, 17, 'exponent'),
    (357, '9.01', 901, -2, 'decimal'),
    (358, '8.1k', 81, 2, 'decimal'),
    (359, '7.123456M', 7123456, 0, 'decimal'),
    (360, '6.987654321G', 6987654321, 0, 'decimal'),
    (361, '5.444T', 5444, 9, 'decimal'),
    (362, '40.1T', 401, 11, 'decimal'),
    (363, '300.2T', 3002, 11, 'decimal'),
    (364, '2.5P', 25, 14, 'decimal'),
    (365, '1.01E', 101, 16, 'decimal'),
    (368, '3.001n', 4, -9, 'decimal'),
    (369, '1.1E-9', 2, -9, 'exponent'),
    (370, '0.0000000001', 1, -9, 'decimal'),
    (371, '0.0000000005', 1, -9, 'decimal'),
    (372, '0.00000000050', 1, -9, 'decimal'),
    (373, '0.5e-9', 1, -9, 'exponent'),
    (374, '0.9n', 1, -9, 'decimal'),
    (375, '0.00000012345', 124, -9, 'decimal'),
    (376, '0.00000012354', 124, -9, 'decimal'),
    (377, '9Ei', 2**63 - 1, 0, 'binary'),
    (378, '9223372036854775807Ki', 2**63 - 1, 0, 'binary'),
    (379, '12E', 12, 18, 'decimal'),
    (382, '100.035Ki', 10243584, -2, 'binary'),
    (383, '0.5Mi', 524288, 0, 'binary'),
    (384, '0.05Gi', 536870912, -1, 'binary'),
    (385, '0.025Ti', 274877906944, -1, 'binary'),
    (388, '0.000000000001Ki', 2, -9, 'decimal'),
    (389, '.001', 1, -3, 'decimal'),
    (390, '.0001k', 100, -3, 'decimal'),
    (391, '1.', 1, 0, 'decimal'),
    (392, '1.G', 1, 9, 'decimal'),
]
# invalid
INVALID = [
    (534, '1.1.M'),
    (535, '1+1.0M'),
    (536, '0.1mi'),
    (537, '0.1am'),
    (538, 'aoeu'),
    (539, '.5i'),
    (540, '1i'),
    (541, '-3.01i'),
    (542, '-3.01e-'),
    (545, ' 1'),
    (546, '1 '),
]
# String table: (line, mantissa, exponent, format, expect, alternate)
STRING = [
    (702, 1073741824, 0, 'binary', '1Gi', '1024Mi'),
    (703, 314572800, 0, 'binary', '300Mi', '307200Ki'),
    (704, 6144, 0, 'binary', '6Ki', ''),
    (705, 1074815565824, 0, 'binary', '1001Gi', '1025024Mi'),
    (706, 1099511627776, 0, 'binary', '1Ti', '1024Gi'),
    (707, 5, 0, 'binary', '5', '5000m'),
    (708, 500, -3, 'binary', '500m', '0.5'),
    (709, 1, 9, 'decimal', '1G', '1000M'),
    (710, 1000, 6, 'decimal', '1G', '0.001T'),
    (711, 1000000, 3, 'decimal', '1G', ''),
    (712, 1000000000, 0, 'decimal', '1G', ''),
    (713, 1, -3, 'decimal', '1m', '1000u'),
    (714, 80, -3, 'decimal', '80m', ''),
    (715, 1080, -3, 'decimal', '1080m', '1.08'),
    (716, 108, -2, 'decimal', '1080m', '1080000000n'),
    (717, 10800, -4, 'decimal', '1080m', ''),
    (718, 300, 6, 'decimal', '300M', ''),
    (719, 1, 12, 'decimal', '1T', ''),
    (720, 1234567, 6, 'decimal', '1234567M', ''),
    (721, 1234567, -3, 'binary', '1234567m', ''),
    (722, 3, 3, 'decimal', '3k', ''),
    (723, 1025, 0, 'binary', '1025', ''),
    (724, 0, 0, 'decimal', '0', ''),
    (725, 0, 0, 'binary', '0', ''),
    (726, 1, 9, 'exponent', '1e9', '.001e12'),
    (727, 1, -3, 'exponent', '1e-3', '0.001e0'),
    (728, 1, -9, 'exponent', '1e-9', '1000e-12'),
    (729, 80, -3, 'exponent', '80e-3', ''),
    (730, 300, 6, 'exponent', '300e6', ''),
    (731, 1, 12, 'exponent', '1e12', ''),
    (732, 1, 3, 'exponent', '1e3', ''),
    (733, 3, 3, 'exponent', '3e3', ''),
    (734, 3, 3, 'decimal', '3k', ''),
    (735, 0, 0, 'exponent', '0', '00'),
    (736, 1, -9, 'decimal', '1n', ''),
    (737, 80, -9, 'decimal', '80n', ''),
    (738, 1080, -9, 'decimal', '1080n', ''),
    (739, 108, -8, 'decimal', '1080n', ''),
    (740, 10800, -10, 'decimal', '1080n', ''),
    (741, 1, -6, 'decimal', '1u', ''),
    (742, 80, -6, 'decimal', '80u', ''),
    (743, 1080, -6, 'decimal', '1080u', ''),
]
# ParseEmit table: (line, input, expect)
EMIT = [
    (794, '1Ki', '1Ki'),
    (795, '1Mi', '1Mi'),
    (796, '1Gi', '1Gi'),
    (797, '1024Mi', '1Gi'),
    (798, '1000M', '1G'),
    (799, '.001Ki', '1024m'),
    (800, '.000001Ki', '1024u'),
    (801, '.000000001Ki', '1024n'),
    (802, '.000000000001Ki', '2n'),
]


def _value(mantissa: int, exponent: int) -> Decimal:
    return Quantity(mantissa, exponent, "decimal").as_decimal()


@pytest.mark.parametrize(("line", "text", "mantissa", "exponent", "fmt"), PARSE, ids=[f"L{r[0]}-{r[1]}" for r in PARSE])
def test_parse_table(line: int, text: str, mantissa: int, exponent: int, fmt: str) -> None:
    # kubernetes/apimachinery@kubernetes-1.36.3:pkg/api/resource/quantity_test.go:{line}, and as the
    # Go test does, the same input with "-" (value negated, same format) and "+" in front
    expected = _value(mantissa, exponent)
    for sign, factor in (("", 1), ("+", 1), ("-", -1)):
        got = parse_quantity(sign + text)
        assert (got.as_decimal(), got.format) == (expected * factor, fmt), sign + text
        assert parse(sign + text) == (expected * factor, fmt)


@pytest.mark.parametrize(("line", "text"), INVALID, ids=[f"L{r[0]}-{r[1]!r}" for r in INVALID])
def test_invalid_table(line: int, text: str) -> None:
    # kubernetes/apimachinery@kubernetes-1.36.3:pkg/api/resource/quantity_test.go:{line}
    with pytest.raises(QuantityError, match=r"^expected a quantity such as '500m' or '1Gi', found "):
        parse_quantity(text)


@pytest.mark.parametrize(("line", "mantissa", "exponent", "fmt", "expect", "alternate"), STRING,
                         ids=[f"L{r[0]}-{r[4]}" for r in STRING])
def test_string_table(line: int, mantissa: int, exponent: int, fmt: str, expect: str, alternate: str) -> None:
    # kubernetes/apimachinery@kubernetes-1.36.3:pkg/api/resource/quantity_test.go:{line}: String(),
    # the canonical string parses back to itself, an alternate spelling prints canonically, and
    # the negated value prints with a "-"
    assert format_quantity(Quantity(mantissa, exponent, fmt)) == expect
    assert format_quantity(parse_quantity(expect)) == expect
    if alternate:
        assert format_quantity(parse_quantity(alternate)) == expect
    if mantissa:
        assert format_quantity(Quantity(-mantissa, exponent, fmt)) == "-" + expect


@pytest.mark.parametrize(("line", "text", "expect"), EMIT, ids=[f"L{r[0]}-{r[1]}" for r in EMIT])
def test_parse_emit_table(line: int, text: str, expect: str) -> None:
    # kubernetes/apimachinery@kubernetes-1.36.3:pkg/api/resource/quantity_test.go:{line}
    assert format_quantity(parse_quantity(text)) == expect
    assert format_quantity(parse_quantity("-" + text)) == "-" + expect
    assert canonical(text) == expect


@pytest.mark.parametrize(
    ("text", "expect"),
    [
        ("100Ei", "9223372036854775807"),  # capped at 2^63-1 (maxAllowed, pkg/api/resource/math.go:44)
        ("8Ei", "9223372036854775807"), ("7Ei", "7Ei"), ("1E", "1E"), ("1Ei", "1Ei"), ("999E", "999E"),
        # beyond the E suffix: exponent form, as kubernetes/kubernetes#140459 fixed (Go printed "1")
        ("1000E", "1e21"), ("5000E", "5e21"), ("1000000E", "1e24"), ("1" + "0" * 5000, "100e4998"),
        ("1e999999999", "1e999999999"), ("1e2147483647", "10e2147483646"),
        # an exponent past int32 moves back into the mantissa (kubernetes/kubernetes#142156)
        ("1000e2147483647", "10000e2147483646"),
        ("1e-2147483647", "1e-9"), ("0.5e-9", "1e-9"), ("-0.5e-9", "-1e-9"), ("1e-12", "1e-9"),
        ("0." + "0" * 100000 + "1Ki", "1n"), ("1" * 1000 + "m", "1" * 1000 + "m"),
        ("-1.5Gi", "-1536Mi"), ("+2k", "2k"), ("1.", "1"), ("1.G", "1G"), (".5", "500m"), ("-0", "0"), ("0Ki", "0"),
    ],
)
def test_huge_tiny_and_signed_values_never_fail_inside(text: str, expect: str) -> None:
    assert format_quantity(parse_quantity(text)) == expect


@pytest.mark.parametrize(
    ("value", "message"),
    [
        # Go takes these as 0 (parseQuantityString, quantity_test.go:251-252), but the OpenAPI
        # pattern of quantities in CRDs (KServe's, prometheus-operator's) refuses them
        (".", "expected a quantity such as '500m' or '1Gi', found '.'"),
        ("+", "expected a quantity such as '500m' or '1Gi', found '+'"),
        ("-", "expected a quantity such as '500m' or '1Gi', found '-'"),
        ("1e1.5", "expected a quantity such as '500m' or '1Gi', found '1e1.5'"),
        ("1e", "expected a quantity such as '500m' or '1Gi', found '1e'"),
        (float("inf"), "expected a quantity such as '500m' or '1Gi', found inf"),
        (None, "expected a quantity such as '500m' or '1Gi', found None"),
        ("1e99999999999", "expected an exponent between -2147483647 and 2147483647, found '99999999999' in '1e99999999999'"),
        ("1e" + "9" * 5000, "expected an exponent between -2147483647 and 2147483647, found '" + "9" * 5000 + "' in '1e" + "9" * 5000 + "'"),
        ("1" * 1001, "expected at most 1000 significant digits, found 1001 in a quantity"),
        (10**5000, "expected at most 1000 significant digits, found an integer of 16610 bits"),  # str() would raise ValueError
    ],
    ids=[".", "+", "-", "fractional-exponent", "bare-e", "inf", "none", "exponent-past-int32", "exponent-5000-digits", "1001-digits",
         "int-5000-digits"],
)
def test_refused_with_a_message(value: object, message: str) -> None:
    with pytest.raises(QuantityError) as err:
        parse_quantity(value)  # type: ignore[arg-type]
    assert str(err.value) == message


def test_canonical_refuses_negatives_and_parse_is_exact_beyond_float_and_decimal_precision() -> None:
    with pytest.raises(QuantityError, match=r"^expected a non-negative quantity, found '-1Gi'$"):
        canonical("-1Gi")
    # 0.123456789123456789 * 1024 = 126.419752062419751936, rounded up to 1n; a float has 17 digits
    assert parse("0.123456789123456789Ki") == (Decimal("126.419752063"), "binary")
    assert canonical("0.123456789123456789Ki") == "126419752063n"
    amount, fmt = parse("123456789012345678901234567890.123456789")
    assert (amount, fmt) == (Decimal("123456789012345678901234567890.123456789"), "decimal")
    assert canonical(0.1) == "100m" and canonical(1e-05) == "10e-6" and canonical(10**30) == "1e30"
