"""Per-environment overrides of the scheduling, env and runtime fields: ``defaults`` for every model,
``models.<name>`` for one; env variables and node selectors merge by key (the overlay's win), lists and
affinity are replaced; a custom container gets its env and args overrides itself."""

from __future__ import annotations

from pathlib import Path

from surface_cases import isvc, make_repo, overlay, render, schema_errors

SPEC = '''MODEL = Model(name="m", predictor=Predictor(
    model_format="sklearn", storage_uri="gs://b/m", runtime_version="1.3.0", args=["--workers=1"],
    env={"LOG": "info", "REGION": "eu"}, node_selector={"disk": "ssd"}, image_pull_secrets=["team"],
    tolerations=[Toleration(key="dedicated", operator="Equal", value="ml", effect="NoSchedule")]))
CUSTOM = Model(name="c", predictor=Predictor(container=Container(image="c:1", args=["--a"], env={"X": "1"}), storage_uri="gs://b/c"))
'''
DEFAULTS = """defaults:
  nodeSelector: {pool: inference, disk: hdd}
  tolerations: [{key: spot, operator: Exists}]
  priorityClassName: standard
  imagePullSecrets: [corp]
"""
MODELS = """models:
  m:
    env: {LOG: debug, API_KEY: {source: secret, name: keys, key: api}}
    args: [--workers=4]
    nodeSelector: {disk: nvme}
    tolerations: []
    affinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: {nodeSelectorTerms: [{matchExpressions: [{key: zone, operator: In, values: [a]}]}]}}}
    priorityClassName: critical
    runtime: kserve-sklearnserver
    runtimeVersion: 1.5.0
    serviceAccountName: reader
  c:
    env: {Y: "2"}
    args: [--b]
"""


def test_defaults_fill_what_the_spec_leaves_and_a_model_entry_wins(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, SPEC, {"dev": overlay("0.20", DEFAULTS), "prod": overlay("0.20", DEFAULTS + MODELS)})
    dev = isvc(render(repo, "dev"), "m")["spec"]["predictor"]
    assert dev["nodeSelector"] == {"disk": "ssd", "pool": "inference"}  # the spec's key beats the default
    assert dev["tolerations"] == [{"key": "dedicated", "operator": "Equal", "value": "ml", "effect": "NoSchedule"}]  # the spec has some
    assert dev["priorityClassName"] == "standard" and dev["imagePullSecrets"] == [{"name": "team"}, {"name": "corp"}]
    files = render(repo, "prod")
    prod = isvc(files, "m")["spec"]["predictor"]
    assert prod["model"]["env"] == [{"name": "API_KEY", "valueFrom": {"secretKeyRef": {"name": "keys", "key": "api"}}},
                                    {"name": "LOG", "value": "debug"}, {"name": "REGION", "value": "eu"}]
    assert prod["model"]["args"] == ["--workers=4"]
    assert (prod["model"]["runtime"], prod["model"]["runtimeVersion"]) == ("kserve-sklearnserver", "1.5.0")
    assert prod["nodeSelector"] == {"disk": "nvme", "pool": "inference"} and "tolerations" not in prod
    assert prod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0]["matchExpressions"] == [
        {"key": "zone", "operator": "In", "values": ["a"]}]
    assert prod["priorityClassName"] == "critical" and prod["serviceAccountName"] == "reader"
    custom = isvc(files, "c")["spec"]["predictor"]["containers"][0]
    assert custom["args"] == ["--b"] and custom["env"] == [{"name": "STORAGE_URI", "value": "gs://b/c"}, {"name": "X", "value": "1"},
                                                           {"name": "Y", "value": "2"}]
    assert schema_errors(repo, "prod", files) == []
