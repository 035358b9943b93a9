"""The base of every spec and overlay model, and the constrained types they share."""

from __future__ import annotations

import re
import typing
from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict
from pydantic.alias_generators import to_camel

from ..quantity import QuantityError, canonical

__all__ = ["SpecModel", "build_all", "Name", "EnvName", "Quantity", "LabelMap", "PositiveInt", "NonNegativeInt", "SubdomainName",
           "PromDuration", "GoDuration", "parse_duration"]

_DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_KEY = re.compile(r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")


class SpecModel(BaseModel):
    """Strict, immutable, documented: unknown keys are errors and nothing is coerced.

    Python specs use snake_case keyword arguments; YAML overlays use the camelCase alias
    (``minReplicas``), as Kubernetes users expect. Overlays are validated by alias only.

    Field docstrings are read only when documentation is generated (``spec/docstrings.py``) and a
    class's validator is built when it is first used (``defer_build``): every command imports
    the spec model, few need its documentation or all of its classes.
    """

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        strict=True,
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        defer_build=True,
        validate_default=False,
    )


def build_all() -> None:
    """Build the validator and serializer of every spec class now, not on first use: before
    forking children, so that each does not build them again (``loader.py``, ``render_workers.py``).
    A class is built after the spec classes its fields hold, which it then reuses: built the
    other way round, every outer class builds its inner ones again (0.24 s instead of 0.05 s)."""
    done: set[type[BaseModel]] = set()

    def build(cls: type[BaseModel], path: frozenset[type[BaseModel]]) -> None:
        if cls in done or cls in path:
            return
        if cls.__pydantic_complete__:  # built already: nothing to order (a second build_all is cheap)
            done.add(cls)
            return
        for inner in _held(cls):
            build(inner, path | {cls})
        done.add(cls)
        if not cls.__pydantic_complete__:  # an inner class's build may have completed it
            cls.model_rebuild()

    todo: list[type[BaseModel]] = [SpecModel]
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        build(cls, frozenset())


def _held(cls: type[BaseModel]) -> list[type[BaseModel]]:
    """The spec classes a class's fields may hold (inside unions, lists, dicts, ...)."""
    out: list[type[BaseModel]] = []
    stack = [f.annotation for f in cls.model_fields.values()]
    while stack:
        annotation = stack.pop()
        if isinstance(annotation, type) and issubclass(annotation, SpecModel):
            out.append(annotation)
        stack.extend(typing.get_args(annotation))
    return out


def _dns_label(value: str) -> str:
    if len(value) > 63 or not _DNS_LABEL.match(value):
        raise ValueError(
            "expected a DNS-1035 label (lower-case letters, digits and '-', starting with a "
            f"letter, at most 63 characters), found {value!r}"
        )
    return value


def _dns_subdomain(value: str) -> str:
    if len(value) > 253 or not _DNS_SUBDOMAIN.match(value):
        raise ValueError(f"expected a DNS-1123 subdomain name, found {value!r}")
    return value


def _quantity(value: object) -> str:
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise ValueError(f"expected a quantity such as '500m' or '1Gi', found {value!r}")
    try:
        return canonical(value)
    except QuantityError as exc:
        raise ValueError(str(exc)) from None


def _label_map(value: dict[str, str]) -> dict[str, str]:
    for key in value:
        if len(key) > 316 or not _LABEL_KEY.match(key):
            raise ValueError(f"expected a Kubernetes label/annotation key, found {key!r}")
    return value


Name = Annotated[str, AfterValidator(_dns_label)]
"""A Kubernetes object name that is also a valid DNS-1035 label (InferenceService names)."""

SubdomainName = Annotated[str, AfterValidator(_dns_subdomain)]
"""A Kubernetes object name (DNS-1123 subdomain): Secrets, ServiceAccounts, stores."""

EnvName = Name
"""An environment name: also a file name under ``overlays/`` and ``rendered/``."""

Quantity = Annotated[str, BeforeValidator(_quantity)]
"""A resource quantity (``"100m"``, ``0.1``, ``"1Gi"``), stored in canonical form."""

LabelMap = Annotated[dict[str, str], AfterValidator(_label_map)]
"""Labels or annotations: keys checked, values must be strings (quote ``"true"`` in YAML)."""

PositiveInt = Annotated[int, AfterValidator(lambda v: _min(v, 1))]
NonNegativeInt = Annotated[int, AfterValidator(lambda v: _min(v, 0))]


def _min(value: int, low: int) -> int:
    if value < low:
        raise ValueError(f"expected an integer >= {low}, found {value}")
    return value


# -- durations: one family ---------------------------------------------------------------------
_PROM_DURATION = re.compile(r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+)s)?(?:(\d+)ms)?$")
_PROM_UNITS = (365 * 86400, 7 * 86400, 86400, 3600, 60, 1, 0.001)
_GO_DURATION = re.compile(r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$")


def parse_duration(value: str) -> float:
    """A Prometheus duration (``"30s"``, ``"5m"``, ``"1h30m"``, ``"1d"``) in seconds; zero and
    anything else raise ``ValueError`` with the message users see."""
    m = _PROM_DURATION.match(value)
    seconds = sum(int(g) * u for g, u in zip(m.groups(), _PROM_UNITS, strict=True) if g) if value and m else 0
    if not seconds:
        raise ValueError(f"expected a Prometheus duration such as \"5m\" or \"1h30m\", found {value!r}")
    return seconds


def _prom_duration(value: str) -> str:
    parse_duration(value)
    return value


def _go_duration(value: str) -> str:
    if not _GO_DURATION.match(value):
        raise ValueError(f"expected a Go duration such as \"5m\" or \"1h30m\", found {value!r}")
    return value


PromDuration = Annotated[str, AfterValidator(_prom_duration)]
"""A Prometheus duration (``30s``, ``5m``, ``1h30m``, ``1d``): windows, ``for``, bake times."""

GoDuration = Annotated[str, AfterValidator(_go_duration)]
"""A Go duration string (``30s``, ``5m``, ``1h``), as Flux and Argo CD expect."""
