"""The shortcuts of a cold ``validate`` give the answers of the long way: the secrets policy's
path-free walk (``validate/secrets._clean``) and the reading of kustomization files without
PyYAML (``validate/tree._kustomization``)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from servespec.overlay import Env
from servespec.spec.overlay import EnvOverlay
from servespec.validate.secrets import NOT_SECRET, _clean, _problems, secret_problems

TOKEN = "hf_" + "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY"  # the shape of a Hugging Face token, not a real one


def _env(plaintext: bool) -> Env:
    overlay = EnvOverlay.model_validate({"namespace": "ml-prod", "kubernetesVersion": "1.30", "kserveVersion": "0.15",
                                         "allowPlaintextSecrets": plaintext})
    return Env("prod", overlay, ("overlays/prod.yaml",), {})


_TEXT = st.one_of(
    st.text(alphabet=st.characters(max_codepoint=0x2100) | st.sampled_from("\n\t\x7f\x85\u2028\u202e"), max_size=8),
    st.sampled_from(["s3://bucket/m", "s3://AKIAIOSFODNN7EXAMPLE:wJalrXUtnFEMI@b/m", "https://u:p@h/x", "https://h/x?token=abc",
                     "a\nb\nc", "line\n", "a\nb", "x\ty", TOKEN, "ghp_" + "a" * 36, "plain", "data", "env"]),
)
_KEYS = st.sampled_from(["data", "data.x", "env", "name", "value", "spec", "metadata", "annotations", "", "kind", "encryptedData"])
_NODES: st.SearchStrategy[Any] = st.recursive(
    _TEXT | st.integers(-2, 2) | st.none() | st.booleans(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_KEYS, inner, max_size=4)
    | st.lists(st.fixed_dictionaries({"name": st.sampled_from(["HF_TOKEN", "DB_PASSWORD", "MODE"]), "value": _TEXT}), max_size=3)
    .map(lambda items: {"env": items}),
    max_leaves=16,
)


@settings(max_examples=400, deadline=None)
@given(kind=st.sampled_from(["ConfigMap", "InferenceService", "Secret", "SealedSecret"]), body=st.dictionaries(_KEYS, _NODES, max_size=5),
       reviewed=st.sampled_from(["", "HF_TOKEN", "HF_TOKEN, DB_PASSWORD"]), plaintext=st.booleans())
def test_the_path_free_walk_is_clean_only_where_the_policy_finds_nothing(kind: str, body: dict[str, Any], reviewed: str,
                                                                          plaintext: bool) -> None:
    obj: dict[str, Any] = {**body, "kind": kind}
    if reviewed:
        obj["metadata"] = {"name": "m", "annotations": {NOT_SECRET: reviewed}}
    env = _env(plaintext)
    slow = _problems(obj, env)
    assert secret_problems(obj, env) == slow
    if _clean(obj, env):
        assert slow == []


def test_each_check_still_finds_its_problem_through_the_walk() -> None:
    env = _env(False)
    container = {"name": "c", "env": [{"name": "HF_TOKEN", "value": TOKEN}, {"name": "MODE", "value": "fast"}]}
    isvc = {"kind": "InferenceService", "metadata": {"name": "m"},
            "spec": {"predictor": {"model": {"storageUri": "s3://AKIAIOSFODNN7EXAMPLE:wJalrXUtnFEMI@b/m"}, "containers": [container]}}}
    found = secret_problems(isvc, env)
    assert found == [
        "spec.predictor.model.storageUri: credentials in a URL are refused (found the URI carries credentials before '@' (userinfo) "
        "in 's3://***@b/m'): use a Secret the consumer reads",
        "spec.predictor.containers[0].env[0].value: HF_TOKEN looks like a secret (looks like a Hugging Face token (hf_…)); "
        "plaintext secrets are refused in env 'prod': use valueFrom.secretKeyRef, or list 'HF_TOKEN' in the model's not_secret after review",
    ]
    assert secret_problems(isvc, _env(True)) == found[:1]  # plaintext allowed: the URL is still refused
    dashboard = {"kind": "ConfigMap", "metadata": {"name": "d"}, "data": {"d.json": "{\n\t\"a\": 1\n}\n"}}
    assert secret_problems(dashboard, env) == []  # multi-line documents under data are exempt
    tab = {"kind": "ConfigMap", "metadata": {"name": "d"}, "data": {"k": "a\tb"}}
    assert secret_problems(tab, env) == ["data.k: expected no control characters, found U+0009 (tab) at position 1"]


_NAMES = st.one_of(st.sampled_from(["common", "models/model-00001", "inferenceservice.yaml", "../x", "yes", "null", "1", "1.5", "~", "",
                                    "-", "- x", "#x", "a #b", "a: b", " lead", "trail ", "'q'", '"q"', "a\nb", "[x]", "{x}", "*x", "&x",
                                    "!x", "%x", "@x", "`x", "?", ":x", "0o7", "0x1f", "2024-01-01", "é", "on", "Off", "NO"]),
                   st.text(max_size=6))


@settings(max_examples=300, deadline=None)
@given(api=st.sampled_from(["kustomize.config.k8s.io/v1beta1", "kustomize.config.k8s.io/v1", "v1", "yes", "1.0"]),
       resources=st.lists(_NAMES, min_size=1, max_size=5), cut=st.integers(0, 200), insert=st.sampled_from(["", " ", "\n", "- x\n", "#", "'"]))
def test_the_kustomization_reader_reads_what_pyyaml_reads(api: str, resources: list[str], cut: int, insert: str) -> None:
    from servespec.validate.tree import _kustomization
    from servespec.yamlio import load_all
    from servespec.yamlwriter import dump

    data = dump({"apiVersion": api, "kind": "Kustomization", "resources": resources}).encode()
    for variant in (data, data[:cut] + insert.encode() + data[cut:]):
        fast = _kustomization(variant)
        if fast is not None:
            assert [fast] == load_all(variant)


def test_kustomizations_as_servespec_writes_them_are_read_without_pyyaml() -> None:
    from servespec.validate.tree import _kustomization

    data = b"apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- common\n- models/model-00001\n"
    assert _kustomization(data) == {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
                                    "resources": ["common", "models/model-00001"]}
    assert _kustomization(data.replace(b"- common", b"- 'yes'")) is None  # spelled otherwise than dump would: PyYAML reads it
    assert _kustomization(data + b"namePrefix: x-\n") is None
