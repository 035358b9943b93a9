"""The field reference (docs/reference.md) and `servespec explain`: generated from the spec models,
current, complete, and an unknown path is a usage error naming what is known there."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import REPO, run_cli
from servespec.errors import UsageError
from servespec.reference import ROOTS, explain, field_docs, main, reachable_classes, reference_markdown

REGENERATE = "python -m servespec.reference docs/reference.md"


def test_committed_reference_is_current() -> None:
    committed = (REPO / "docs" / "reference.md").read_text(encoding="utf-8")
    assert committed == reference_markdown(), f"docs/reference.md is stale: run `{REGENERATE}` and commit it"


def test_main_writes_the_reference(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path / "reference.md")]) == 0
    assert (tmp_path / "reference.md").read_text(encoding="utf-8") == reference_markdown()
    assert main([]) == 0
    assert capsys.readouterr().out == reference_markdown()


def test_every_class_and_field_is_in_the_reference() -> None:
    text = reference_markdown()
    classes = reachable_classes(ROOTS.values())
    names = {c.__name__ for c in classes}
    # the four roots and what hangs off them, e.g. a Gate in a plan in an overlay, a state's LastGate
    assert {"Model", "S3Storage", "EnvOverlay", "RolloutStateFile", "Predictor", "Gate", "Step", "ModelState",
            "LastGate", "ExternalSecretCredentials", "RemoteRef", "SyncPolicy", "MessageDumper"} <= names
    for cls in classes:
        assert f"\n### {cls.__name__}\n" in text, cls.__name__
        for f in field_docs(cls):
            assert f"| `{f.name}` | `{f.alias}` |" in text, f"{cls.__name__}.{f.name}"
    assert text.count("\n### Predictor\n") == 1  # each class once, however many roots reach it


def test_a_row_has_python_and_yaml_name_type_default_and_docstring() -> None:
    text = reference_markdown()
    assert ("| `scale_metric` | `scaleMetric` | \"concurrency\" \\| \"rps\" \\| \"cpu\" \\| \"memory\" \\| null | `null` "
            "| Autoscaling metric. |") in text
    assert "| `min_replicas` | `minReplicas` | [NonNegativeInt](#nonnegativeint) | `1` |" in text
    assert "| `model_format` | `modelFormat` | str \\| null | `null` |" in text
    assert "| `steps` | `steps` | list[int \\| [Step](#step)] | `[10, 25, 50, 100]` |" in text
    assert "Used in: `Model.rollout`, `LLM.rollout`, `ModelOverride.rollout`, `EnvRollout.plan`." in text
    # a discriminator without a docstring of its own is described as one
    assert "| `source` | `source` | \"externalSecret\" | `\"externalSecret\"` | Selects this class among the Credentials classes. |" in text
    assert "### PromDuration\n\nstr: A Prometheus duration" in text  # one family of durations (spec/base.py)


def test_only_these_fields_lack_a_docstring() -> None:
    """A new field must come with its attribute docstring; these four predate the rule (rollout state)."""
    missing = [f"{c.__name__}.{f.name}" for c in reachable_classes(ROOTS.values()) for f in field_docs(c) if not f.doc]
    assert missing == ["ModelState.phase", "LastGate.result", "LastGate.at", "LastGate.summary"]


def test_explain_a_field_by_class_name() -> None:
    res = run_cli("explain", "Predictor.scale_metric")
    assert res.exit_code == 0, res.stderr
    assert res.stdout == (
        "Predictor.scale_metric  (YAML: scaleMetric)\n"
        'TYPE:     "concurrency" | "rps" | "cpu" | "memory" | null\n'
        "DEFAULT:  null\n\n"
        "  Autoscaling metric.\n"
    )
    assert run_cli("explain", "Predictor.scaleMetric").stdout == res.stdout  # the YAML name works too


def test_explain_an_overlay_path_lists_the_nested_class_by_yaml_name() -> None:
    out = run_cli("explain", "overlay.rollout.plan").stdout
    assert out.startswith("EnvRollout.plan  (YAML: plan)\nTYPE:     RolloutPlan | null\nDEFAULT:  null\n")
    assert "\nRolloutPlan: Ordered traffic steps a candidate moves through; the last step must be 100.\nFIELDS:\n" in out
    assert "\n  steps <list[int | Step]> = [10, 25, 50, 100]\n" in out
    assert "\n  bakeTime <PromDuration | null> = null\n" in out  # YAML names under overlay.
    spec = run_cli("explain", "model.rollout").stdout
    assert "\n  bake_time <PromDuration | null> = null\n" in spec  # Python names under model.


def test_explain_state_and_map_entries() -> None:
    out = run_cli("explain", "state.models").stdout
    assert out.startswith("RolloutStateFile.models  (YAML: models)\nTYPE:     dict[str, ModelState]\nDEFAULT:  {}\n")
    assert "\n  lastGate <LastGate | null> = null\n      The last gate evaluation.\n" in out
    assert "\n  phase <\"stable\" | \"canary\" | \"rolled-back\">  (required)\n      —\n" in out
    entry = run_cli("explain", "overlay.models.*.minReplicas").stdout
    assert entry.startswith("ModelOverride.min_replicas  (YAML: minReplicas)\nTYPE:     NonNegativeInt | null\n")


def test_explain_a_field_of_several_union_members() -> None:
    out = run_cli("explain", "storage.credentials.access_key_id").stdout
    owners = [line.split("  ")[0] for line in out.splitlines() if line.endswith("(YAML: accessKeyId)")]
    assert owners == ["ExternalSecretCredentials.access_key_id", "SealedSecretCredentials.access_key_id",
                      "PlaintextCredentials.access_key_id"]
    assert "\nRemoteRef: A value in the external secret manager.\n" in out


@pytest.mark.parametrize(("path", "message"), [
    ("Predictor.scale_metricx",
     "Predictor.scale_metricx: expected a field of Predictor (affinity, annotations, args, auto_scaling, autoscaler_class, "
     "batcher, command, container, container_concurrency, deployment_strategy, env, env_from, image, image_pull_secrets, labels, "
     "liveness_probe, max_replicas, min_replicas, model_format, model_format_version, node_selector, pod_security_context, "
     "ports, priority_class_name, protocol, readiness_probe, resources, runtime, runtime_class_name, runtime_version, "
     "scale_metric, scale_target, security_context, startup_probe, storage_spec, storage_uri, timeout, tolerations, "
     "volume_mounts, volumes, worker_spec), found 'scale_metricx'"),
    ("overlay.rollout.plann", "overlay.rollout.plann: expected a field of overlay.rollout (approval, freeze, plan, prometheusUrl, requires, windows), found 'plann'"),
    ("overlay.models.census-income",
     "overlay.models.census-income: expected a field of overlay.models (affinity, annotations, args, deploymentMode, enabled, "
     "env, imagePullSecrets, labels, maxReplicas, minReplicas, nodeSelector, priorityClassName, resources, rollout, runtime, "
     "runtimeVersion, serviceAccountName, storage, tolerations); `overlay.models.*.FIELD` for a field of any entry, "
     "found 'census-income'"),
    ("Predictor.scale_metric.x",
     "Predictor.scale_metric.x: expected nothing after Predictor.scale_metric "
     "(a \"concurrency\" | \"rps\" | \"cpu\" | \"memory\" | null value), found 'x'"),
], ids=["field", "overlay-field", "map-key", "after-a-scalar"])
def test_explain_unknown_path_exits_2_with_known_names(path: str, message: str) -> None:
    res = run_cli("explain", path)
    assert res.exit_code == 2
    assert res.stdout == ""
    assert res.stderr == f"servespec: error: {message}\n"


def test_explain_unknown_start_lists_roots_and_classes() -> None:
    with pytest.raises(UsageError) as exc:
        explain("predictr.timeout")
    (problem,) = exc.value.problems
    assert problem.field == "predictr.timeout"
    assert problem.message.startswith("expected model, storage, overlay, state, llm or a class name (Model, S3Storage, GCSStorage, "
                                      "AzureStorage, HuggingFaceStorage, HTTPStorage, LLM, InferenceGraph, EnvOverlay, ")
    assert problem.message.endswith(", AuthenticationRef), found 'predictr'")


def test_explain_without_a_path_and_as_markdown() -> None:
    out = run_cli("explain").stdout
    assert out.startswith("servespec explain PATH: one class or field")
    assert "\n  overlay  EnvOverlay (overlays/<env>.yaml)\n" in out
    assert "Examples: servespec explain Predictor.scale_metric | overlay.rollout.plan | state.models\n" in out
    assert run_cli("explain", "--markdown").stdout == reference_markdown()


def test_every_command_help_shows_an_example() -> None:
    from servespec.cli import cli

    names = sorted(cli.commands)
    assert {"explain", "schema", "init", "render", "validate", "promote"} <= set(names)
    for name in ["", *names]:
        res = run_cli(*([name] if name else []), "--help")
        assert res.exit_code == 0, name
        examples = [line.strip() for line in res.stdout.splitlines() if line.startswith("    servespec ")]
        assert any(e.startswith(f"servespec {name}".rstrip()) for e in examples), f"`servespec {name} --help` has no example"
