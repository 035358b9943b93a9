"""`servespec schema overlay|state|spec`: JSON Schema (draft 2020-12) from the same pydantic models,
closed, deterministic; it accepts every example overlay and a state file as the rollout commands
write it, and rejects unknown keys."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any
from collections.abc import Iterable, Iterator

import pytest
from jsonschema import Draft202012Validator, ValidationError

from conftest import REPO, run_cli
from servespec.errors import UsageError
from servespec.jsonschema_export import DIALECT, SCHEMA_KINDS, json_schema, schema_text
from servespec.loader import load_specs
from servespec.spec.overlay import EnvOverlay
from servespec.rollout.state import write_state
from servespec.spec.rollout import LastGate, ModelState
from servespec.yamlio import load_with_lines

OVERLAYS = sorted(p for p in (REPO / "overlays").glob("*.yaml") if "." not in p.stem)


def _validator(kind: str) -> Draft202012Validator:
    return Draft202012Validator(json_schema(kind))


def _leaves(errors: Iterable[ValidationError]) -> Iterator[ValidationError]:
    """The errors inside an ``anyOf`` (``X | null``), less the branch that only wanted null."""
    for e in errors:
        inner = [c for c in e.context or [] if not (c.validator == "type" and c.validator_value == "null")]
        yield from (_leaves(inner) if inner else [e])


def _messages(validator: Draft202012Validator, data: object) -> list[str]:
    return sorted(f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in _leaves(validator.iter_errors(data)))


def _errors(kind: str, data: object) -> list[str]:
    return _messages(_validator(kind), data)


@pytest.mark.parametrize("kind", SCHEMA_KINDS)
def test_schema_is_valid_2020_12_closed_and_deterministic(kind: str) -> None:
    schema = json_schema(kind)
    # yaml-language-server reads 2020-12 since 1.20.0
    # (redhat-developer/yaml-language-server@1.23.0:CHANGELOG.md:53)
    assert schema["$schema"] == DIALECT == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)
    objects = [d for d in schema["$defs"].values() if "properties" in d]  # type: ignore[union-attr]
    if "properties" in schema:
        objects.append(schema)
    assert objects and all(d["additionalProperties"] is False for d in objects)
    assert all("title" not in p for d in objects for p in d["properties"].values())  # no "Repourl" titles
    res = run_cli("schema", kind)
    assert res.exit_code == 0, res.stderr
    assert res.stdout == schema_text(kind) == schema_text(kind)
    assert json.loads(res.stdout) == schema


@pytest.mark.parametrize("path", OVERLAYS, ids=[p.stem for p in OVERLAYS])
def test_overlay_schema_accepts_every_example_overlay(path: Path) -> None:
    data, _ = load_with_lines(path)
    EnvOverlay.model_validate(data, by_alias=True, by_name=False)  # servespec accepts it, so must the schema
    assert _errors("overlay", data) == []


def test_example_overlays_are_there() -> None:
    assert [p.stem for p in OVERLAYS] == ["dev", "prod", "staging"]


def _prod() -> dict[str, Any]:
    data, _ = load_with_lines(REPO / "overlays" / "prod.yaml")
    assert isinstance(data, dict)
    return copy.deepcopy(data)


def test_overlay_schema_rejects_unknown_keys_at_every_level() -> None:
    data = _prod()
    data["namespce"] = "x"
    data["defaults"]["minReplica"] = 1
    data["models"]["census-income"]["resources"]["limit"] = {}
    data["delivery"]["intervall"] = "5m"
    assert _errors("overlay", data) == [
        ": Additional properties are not allowed ('namespce' was unexpected)",
        "defaults: Additional properties are not allowed ('minReplica' was unexpected)",
        "delivery: Additional properties are not allowed ('intervall' was unexpected)",
        "models/census-income/resources: Additional properties are not allowed ('limit' was unexpected)",
    ]


def test_overlay_schema_types_follow_the_validators() -> None:
    data = _prod()
    data["models"]["census-income"]["resources"]["requests"] = {"cpu": 2, "memory": "2Gi"}  # a quantity may be a number
    EnvOverlay.model_validate(data, by_alias=True, by_name=False)
    assert _errors("overlay", data) == []
    data["models"]["fraud-detector"]["minReplicas"] = -1
    data["kubernetesVersion"] = 1.31
    data["delivery"]["controller"] = "helm"
    assert _errors("overlay", data) == [
        "delivery/controller: 'helm' is not one of ['argocd', 'flux', 'none']",
        "kubernetesVersion: 1.31 is not of type 'string'",
        "models/fraud-detector/minReplicas: -1 is less than the minimum of 0",
    ]


def test_state_schema_accepts_the_file_the_rollout_commands_write(tmp_path: Path) -> None:
    (tmp_path / "overlays").mkdir()
    write_state(tmp_path, "prod", "census-income", ModelState(
        phase="canary", stable="s3://census-income/v1", candidate="s3://census-income/v2", step=1, traffic=10,
        since="2026-11-24T18:00:00Z", last_gate=LastGate(result="passed", at="2026-11-24T18:10:00Z", summary="error-rate=0")))
    write_state(tmp_path, "prod", "fraud-detector", ModelState(phase="stable", stable="s3://fraud-detector/v3",
                                                               since="2026-11-20T09:00:00Z"))
    data, _ = load_with_lines(tmp_path / "overlays" / "prod.rollout.yaml")
    assert sorted(data["models"]) == ["census-income", "fraud-detector"]
    assert _errors("state", data) == []
    data["models"]["census-income"]["lastGate"]["reslt"] = "passed"
    data["models"]["fraud-detector"]["phase"] = "done"
    data["model"] = {}
    assert _errors("state", data) == [
        ": Additional properties are not allowed ('model' was unexpected)",
        "models/census-income/lastGate: Additional properties are not allowed ('reslt' was unexpected)",
        "models/fraud-detector/phase: 'done' is not one of ['stable', 'canary', 'rolled-back']",
    ]


def test_spec_schema_accepts_the_example_specs_by_yaml_name() -> None:
    specs = load_specs(REPO)
    objects = [*specs.models.values(), *specs.storage.values(), *specs.graphs.values()]
    assert len(objects) == 8
    for obj in objects:
        assert _errors("spec", obj.model_dump(mode="json", by_alias=True, exclude_unset=True)) == [], obj
    bad = specs.models["census-income"].model_dump(mode="json", by_alias=True, exclude_unset=True)
    bad["predictor"]["argz"] = ["--verbose"]  # a typo of args
    assert _errors("spec", bad) != []
    as_model = Draft202012Validator({**json_schema("spec"), "anyOf": [{"$ref": "#/$defs/Model"}]})
    assert _messages(as_model, bad) == [
        "predictor: Additional properties are not allowed ('argz' was unexpected)"]


def test_unknown_kind_is_a_usage_error() -> None:
    res = run_cli("schema", "overlays")
    assert res.exit_code == 2
    assert "Invalid value for '{overlay|state|spec}': 'overlays' is not one of 'overlay', 'state', 'spec'." in res.stderr
    with pytest.raises(UsageError) as exc:
        json_schema("overlays")
    assert str(exc.value) == "schema: expected one of overlay, state, spec, found 'overlays'"


def test_init_repo_points_editors_at_its_schemas(tmp_path: Path) -> None:
    new = tmp_path / "new"
    res = run_cli("init", new, "--servespec-source", "servespec==0.2.0")
    assert res.exit_code == 0, res.stderr
    assert (new / ".servespec/overlay.schema.json").read_text() == schema_text("overlay")
    assert (new / ".servespec/state.schema.json").read_text() == schema_text("state")
    assert json.loads((new / ".vscode/settings.json").read_text()) == {
        "yaml.schemas": {".servespec/state.schema.json": ["overlays/*.rollout.yaml"]}}
    overlays = sorted((new / "overlays").glob("*.yaml"))
    assert [p.stem for p in overlays] == ["dev", "prod", "staging"]
    written = Draft202012Validator(json.loads((new / ".servespec/overlay.schema.json").read_text()))
    for path in overlays:
        # the modeline, which beats any settings glob (redhat-developer/yaml-language-server@1.23.0:README.md:276,300)
        first = path.read_text().splitlines()[0]
        assert first == "# yaml-language-server: $schema=../.servespec/overlay.schema.json", path.name
        assert (path.parent / first.split("=", 1)[1]).resolve() == (new / ".servespec/overlay.schema.json").resolve()
        data, _ = load_with_lines(path)
        assert _messages(written, data) == [], path.name
