"""Canonical Kubernetes quantities (what the API server prints back)."""

import pytest

from servespec.quantity import QuantityError, canonical


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("0.1", "100m"), ("1", "1"), (1, "1"), (0.5, "500m"), ("1.5", "1500m"), ("1500m", "1500m"),
        ("1000m", "1"), ("2000", "2k"), ("1Gi", "1Gi"), ("1024Mi", "1Gi"), ("1.5Gi", "1536Mi"),
        ("512Mi", "512Mi"), ("1.5Ki", "1536"), ("0.0001", "100u"), ("1e3", "1e3"), ("0", "0"),
    ],
)
def test_canonical(given: str | int | float, expected: str) -> None:
    assert canonical(given) == expected


@pytest.mark.parametrize("bad", ["1 Gi", "abc", "1GB", "", True, "-1"])
def test_rejects_non_quantities(bad: object) -> None:
    with pytest.raises(QuantityError, match="quantity"):
        canonical(bad)  # type: ignore[arg-type]
