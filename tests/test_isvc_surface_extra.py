"""Extra manifests: any Kubernetes object an environment needs besides its models, typed in the overlay,
rendered under ``common/extra/``, checked against its schema like everything else, refused when no schema
is known."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import run_cli
from surface_cases import make_repo, obj, overlay, problems, render, schema_errors

SPEC = 'MODEL = Model(name="m", predictor=Predictor(model_format="sklearn", storage_uri="gs://b/m"))\n'
EXTRAS = """extraManifests:
  - apiVersion: networking.k8s.io/v1
    kind: NetworkPolicy
    metadata: {name: only-gateway, labels: {team: ml}}
    body:
      spec:
        podSelector: {matchLabels: {component: predictor}}
        policyTypes: [Ingress]
        ingress: [{from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: istio-system}}}]}]
  - apiVersion: external-secrets.io/v1
    kind: ExternalSecret
    metadata: {name: registry}
    body:
      spec:
        secretStoreRef: {kind: ClusterSecretStore, name: vault}
        target: {name: registry, template: {type: kubernetes.io/dockerconfigjson}}
        data: [{secretKey: .dockerconfigjson, remoteRef: {key: ml/registry}}]
  - apiVersion: rbac.authorization.k8s.io/v1
    kind: ClusterRole
    cluster_scoped_placeholder
    metadata: {name: inference-reader}
    body:
      rules: [{apiGroups: [serving.kserve.io], resources: [inferenceservices], verbs: [get, list, watch]}]
"""


def _repo(tmp_path: Path, extras: str, env_extra: str = "") -> Path:
    return make_repo(tmp_path, SPEC, {"dev": overlay("0.20", env_extra + extras.replace("cluster_scoped_placeholder", "clusterScoped: true"))})


def test_built_in_and_shipped_kinds_render_and_validate(tmp_path: Path) -> None:
    repo = _repo(tmp_path, EXTRAS)
    files = render(repo)
    assert sorted(p for p in files if p.startswith("common/extra/")) == [
        "common/extra/clusterrole-inference-reader.yaml", "common/extra/externalsecret-registry.yaml",
        "common/extra/networkpolicy-only-gateway.yaml"]
    policy = obj(files, "common/extra/networkpolicy-only-gateway.yaml")
    assert policy["metadata"] == {"name": "only-gateway", "namespace": "ml", "labels": {"app.kubernetes.io/managed-by": "servespec", "team": "ml"}}
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    assert "namespace" not in obj(files, "common/extra/clusterrole-inference-reader.yaml")["metadata"]
    assert "extra/externalsecret-registry.yaml" in obj(files, "common/kustomization.yaml")["resources"]
    assert schema_errors(repo, "dev", files) == []


def test_a_typo_in_an_extra_manifest_is_caught_by_validate(tmp_path: Path) -> None:
    repo = _repo(tmp_path, EXTRAS.replace("policyTypes:", "policyTypez:"))
    assert run_cli("render", "--root", repo).exit_code == 0
    res = run_cli("validate", "--root", repo)
    assert res.exit_code == 1
    assert res.stderr == ("servespec: error: rendered/dev/common/extra/networkpolicy-only-gateway.yaml: env dev: NetworkPolicy "
                          "only-gateway: spec: Additional properties are not allowed ('policyTypez' was unexpected)\n")


MISUSE = {
    "no-schema": ("extraManifests:\n  - {apiVersion: keda.sh/v1alpha1, kind: ScaledObject, metadata: {name: s}}\n", "",
                  ["overlays/dev.yaml:6: extraManifests[0].kind: expected a kind with a schema servespec knows (Kubernetes 1.31 "
                   "built-in kinds, the CRDs shipped for KServe 0.20, Argo CD, Flux, prometheus-operator, External Secrets, Sealed "
                   "Secrets), found keda.sh/v1alpha1 ScaledObject"]),
    "plaintext-secret": ("extraManifests:\n  - {apiVersion: v1, kind: Secret, metadata: {name: s}, body: {stringData: {token: x}}}\n", "",
                         ["overlays/dev.yaml:6: extraManifests[0].body: plaintext secret data in git is refused in env 'dev': use an "
                          "ExternalSecret or SealedSecret (allowPlaintextSecrets: true is for a local demo only)"]),
    "twice": ("extraManifests:\n  - {apiVersion: v1, kind: ConfigMap, metadata: {name: c}}\n"
              "  - {apiVersion: v1, kind: ConfigMap, metadata: {name: c}}\n", "",
              ["overlays/dev.yaml:7: extraManifests[1].metadata.name: expected one ConfigMap named 'c', found it twice (also "
               "extraManifests[0])"]),
    "metadata-in-body": ("extraManifests:\n  - {apiVersion: v1, kind: ConfigMap, metadata: {name: c}, body: {metadata: {}}}\n", "",
                         ["overlays/dev.yaml:6: extraManifests[0].body: expected metadata as fields of their own, found them in body"]),
}


@pytest.mark.parametrize("case", list(MISUSE))
def test_extra_manifest_misuse(tmp_path: Path, case: str) -> None:
    extras, env_extra, expected = MISUSE[case]
    assert problems(_repo(tmp_path, extras, env_extra)) == expected


def test_a_plaintext_secret_is_allowed_where_the_env_allows_it(tmp_path: Path) -> None:
    repo = _repo(tmp_path, MISUSE["plaintext-secret"][0], "allowPlaintextSecrets: true\n")
    assert obj(render(repo), "common/extra/secret-s.yaml")["stringData"] == {"token": "x"}
