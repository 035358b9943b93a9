"""JSON Schema (draft 2020-12) of what users write, generated from the same pydantic models as
the field reference: ``overlay`` (``overlays/<env>.yaml``), ``state``
(``overlays/<env>.rollout.yaml``) and ``spec`` (one ``Model``, storage endpoint or ``InferenceGraph``,
by YAML name).

Keys are the YAML (camelCase) names, every object is closed (``additionalProperties: false``)
and the output is deterministic. Editors use it for completion and to flag unknown keys
(yaml-language-server reads draft 2020-12 since its 1.20.0); servespec itself still validates
with pydantic, so checks a schema cannot say (a DNS name's shape, a duration's syntax, steps
ending at 100) are only made when servespec loads the file.
"""

from __future__ import annotations

import json
import typing
from typing import Literal

from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode, JsonSchemaValue, models_json_schema
from pydantic_core import CoreSchema, core_schema

from .errors import Problem, UsageError
from .spec.overlay import EnvOverlay
from .spec.rollout import RolloutStateFile
from .spec import AzureStorage, GCSStorage, HTTPStorage, HuggingFaceStorage, InferenceGraph, Model, Quantity, S3Storage
from .spec.base import NonNegativeInt, PositiveInt
from .spec.docstrings import attribute_docs

__all__ = ["SchemaKind", "SCHEMA_KINDS", "DIALECT", "json_schema", "schema_text"]

SchemaKind = Literal["overlay", "state", "spec"]
SCHEMA_KINDS: tuple[SchemaKind, ...] = ("overlay", "state", "spec")
DIALECT = "https://json-schema.org/draft/2020-12/schema"

_TITLES: dict[SchemaKind, str] = {
    "overlay": "servespec overlay (overlays/<env>.yaml)",
    "state": "servespec rollout state (overlays/<env>.rollout.yaml)",
    "spec": "servespec spec object (a Model, a storage endpoint or an InferenceGraph, by YAML name)",
}


def _validator(alias: object) -> object:
    """The function of the validator an ``Annotated`` alias carries."""
    return typing.get_args(alias)[1].func


_QUANTITY = _validator(Quantity)
_MINIMUM = {_validator(PositiveInt): 1, _validator(NonNegativeInt): 0}


class _Generator(GenerateJsonSchema):
    """pydantic's generator, plus what servespec's validators accept and without per-field titles
    (pydantic's ``"Repourl"`` helps nobody; the description is the docstring)."""

    def field_title_should_be_set(self, schema: CoreSchema | core_schema.ModelField | core_schema.DataclassField
                                  | core_schema.TypedDictField | core_schema.ComputedField) -> bool:
        return False

    def function_before_schema(self, schema: core_schema.BeforeValidatorFunctionSchema) -> JsonSchemaValue:
        if schema["function"]["function"] is _QUANTITY:  # "500m", "1Gi", but also 2 or 0.5
            return {"type": ["string", "number"]}
        return super().function_before_schema(schema)

    def function_after_schema(self, schema: core_schema.AfterValidatorFunctionSchema) -> JsonSchemaValue:
        out = super().function_after_schema(schema)
        minimum = _MINIMUM.get(schema["function"]["function"])
        if minimum is not None and out.get("type") == "integer":
            out = {**out, "minimum": minimum}
        return out

    def model_schema(self, schema: core_schema.ModelSchema) -> JsonSchemaValue:
        out = super().model_schema(schema)
        docs, props = attribute_docs(schema["cls"]), out.get("properties", {})
        for name, info in schema["cls"].model_fields.items():
            key = info.alias or name
            if key in props and name in docs and "description" not in props[key]:
                props[key] = {**props[key], "description": docs[name]}
        return out

    def generate(self, schema: CoreSchema, mode: JsonSchemaMode = "validation") -> JsonSchemaValue:
        return {"$schema": DIALECT, **super().generate(schema, mode)}


def json_schema(kind: str) -> dict[str, object]:
    """The JSON Schema of ``kind`` (``overlay``, ``state`` or ``spec``); anything else is a
    ``UsageError``."""
    if kind == "overlay" or kind == "state":
        model, title = (EnvOverlay, _TITLES["overlay"]) if kind == "overlay" else (RolloutStateFile, _TITLES["state"])
        schema = model.model_json_schema(by_alias=True, schema_generator=_Generator, mode="validation")
        return {"$schema": schema.pop("$schema"), "title": title, **{k: v for k, v in schema.items() if k != "title"}}
    if kind == "spec":
        kinds = (Model, S3Storage, GCSStorage, AzureStorage, HuggingFaceStorage, HTTPStorage, InferenceGraph)
        _, top = models_json_schema([(k, "validation") for k in kinds], by_alias=True, schema_generator=_Generator)
        return {"$schema": DIALECT, "title": _TITLES["spec"], "$defs": top["$defs"],
                "anyOf": [{"$ref": f"#/$defs/{k.__name__}"} for k in kinds]}
    raise UsageError(Problem("", None, "schema", f"expected one of {', '.join(SCHEMA_KINDS)}, found {kind!r}"))


def schema_text(kind: str) -> str:
    """:func:`json_schema` as the text ``servespec schema KIND`` prints and ``init`` writes."""
    return json.dumps(json_schema(kind), indent=2, ensure_ascii=False) + "\n"
