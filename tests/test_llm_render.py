"""LLMs: rendered per supported KServe version (0.16 … 0.20) in the stored API version, on pinned
copies of that release's presets, validated with no flags against that release's CRDs; refused
(exit 2, naming the version needed) where the env's KServe cannot serve what the spec asks for;
weighted canaries, cache-then-switch and rollbacks rendered from the rollout state."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import run_cli
from llm_repo import LLM_SPEC, canary_state, make_repo
from servespec.kserve.llm_presets import pinned_name, preset, presets
from servespec.kserve.versions import MINORS, features
from test_secretscan import SEALED

SUPPORTED = ["0.16", "0.17", "0.18", "0.19", "0.20"]
UNIT = "rendered/prod/models/chat"


def _render(repo: Path) -> tuple[int, str]:
    res = run_cli("render", "--root", repo)
    return res.exit_code, res.stderr


def _objects(repo: Path, folder: str = UNIT) -> dict[str, dict[str, Any]]:
    """``kind/name -> object`` of every rendered file in ``folder``."""
    out = {}
    for path in sorted((repo / folder).glob("*.yaml")):
        obj = yaml.safe_load(path.read_text())
        if obj["kind"] != "Kustomization":
            out[f"{obj['kind']}/{obj['metadata']['name']}"] = obj
    return out


@pytest.mark.parametrize("version", SUPPORTED)
def test_renders_in_the_stored_api_version_on_pinned_presets_and_validates(tmp_path: Path, version: str) -> None:
    # no scaling/cache: the shape every supported release can serve
    repo = make_repo(tmp_path / "repo", version)
    assert _render(repo) == (0, "")
    known = features(version)
    objs = _objects(repo)
    svc = objs["LLMInferenceService/chat"]
    # stored version: kserve/kserve@v0.16.0 config/crd/full/llmisvc (v1alpha1 only); @v0.17.1 adds v1alpha2 as storage
    assert svc["apiVersion"] == known.llm_storage_api_version
    assert svc["spec"]["model"] == {"uri": "hf://Qwen/Qwen2.5-0.5B-Instruct", "name": "qwen-small"}
    release = known.release
    assert svc["spec"]["baseRefs"] == [{"name": pinned_name("kserve-config-llm-scheduler", release)},
                                       {"name": pinned_name("kserve-config-llm-template", release)}]
    # no plan set: the default [10, 25, 50, 100] where KServe splits traffic between LLM services (a route group
    # from the start, at weight 100), [100] before 0.20 (no route group)
    route = {"group": "chat", "weight": 100} if known.llm_router_route_weight else {}
    assert svc["spec"]["router"] == {"gateway": {}, "route": route, "scheduler": {}}
    assert svc["spec"]["template"]["serviceAccountName"] == "chat-hf"
    main = svc["spec"]["template"]["containers"][0]
    assert main["name"] == "main" and main["resources"]["limits"]["nvidia.com/gpu"] == "1"
    configs = _objects(repo, "rendered/prod/common/llm-presets")
    assert sorted(configs) == [f"LLMInferenceServiceConfig/{pinned_name(p, release)}"
                               for p in ("kserve-config-llm-scheduler", "kserve-config-llm-template")]
    for name, cfg in configs.items():
        upstream = preset(cfg["metadata"]["labels"]["serving.servespec.io/preset"], version)
        assert cfg["apiVersion"] == upstream.api_version == known.llm_storage_api_version
        assert cfg["spec"] == upstream.spec, name  # a byte-for-byte copy of what the release ships
        assert cfg["metadata"]["annotations"]["serving.servespec.io/source"] == f"{upstream.source} ({upstream.commit})"
    res = run_cli("validate", "--root", repo)
    assert (res.exit_code, res.stderr) == (0, ""), res.stderr


def test_the_presets_change_between_releases_so_the_pin_matters() -> None:
    images = {v: preset("kserve-config-llm-template", v).spec["template"]["containers"][0]["image"] for v in SUPPORTED}
    # kserve/kserve@v0.16.0 … @v0.20.0:config/llmisvcconfig/config-llm-template.yaml
    assert images == {"0.16": "ghcr.io/llm-d/llm-d-dev:v0.2.2", "0.17": "ghcr.io/llm-d/llm-d-cuda:v0.4.0",
                      "0.18": "ghcr.io/llm-d/llm-d-cuda:v0.6.0", "0.19": "ghcr.io/llm-d/llm-d-cuda:v0.6.0",
                      "0.20": "ghcr.io/llm-d/llm-d-cuda:v0.8.0"}
    assert presets("0.15") == {}
    assert "kserve-config-llm-tracing" in presets("0.20") and "kserve-config-llm-tracing" not in presets("0.19")


@pytest.mark.parametrize("version", ["0.14", "0.15"])
def test_refused_before_0_16_naming_the_version(tmp_path: Path, version: str) -> None:
    repo = make_repo(tmp_path / "repo", version)
    code, err = _render(repo)
    assert code == 2
    assert err == ("servespec: error: overlays/prod.yaml:2: kserveVersion: LLM chat needs KServe 0.16 or newer (LLMInferenceService), "
                   f"found {version}: upgrade, leave this environment out of its spec's environments, or disable it here with "
                   "llms: {chat: {enabled: false}}\n")
    assert not (repo / "rendered").exists()


def test_an_env_the_spec_leaves_out_or_the_overlay_disables_renders_no_llm(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", "0.15", extra='environments=["staging"],')
    assert _render(repo) == (0, "")
    assert not (repo / UNIT).exists()
    repo = make_repo(tmp_path / "repo2", "0.15", overlay="llms:\n  chat: {enabled: false}\n")
    assert _render(repo) == (0, "")
    assert not (repo / UNIT).exists() and not (repo / "rendered/prod/common/llm-presets").exists()


@pytest.mark.parametrize("version, extra, overlay, message", [
    ("0.16", "scaling=LLMScaling(min_replicas=1, max_replicas=4),", "",
     "specs/chat.py: chat.scaling: expected replicas in env 'prod': LLMInferenceService scaling needs KServe 0.17 or newer, "
     "found scaling on KServe 0.16"),
    ("0.18", 'cache=LLMCache(node_groups=["gpu"], model_size="2Gi"),', "",
     "specs/chat.py: chat.cache: expected no cache in env 'prod': LLMs are served from a LocalModelCache from KServe 0.19 "
     "or newer, found a cache on KServe 0.18"),
    ("0.19", "", "rollout:\n  plan: {steps: [10, 100]}\n",
     "overlays/prod.yaml:4: rollout.plan.steps: LLM chat in env 'prod': a weighted canary needs KServe 0.20 or newer "
     "(router.route group and weight), found KServe 0.19: expected steps [100], found [10, 100]"),
    ("0.19", "rollout=RolloutPlan(steps=[50, 100]),", "",
     "specs/chat.py: chat.rollout.steps: LLM chat in env 'prod': a weighted canary needs KServe 0.20 or newer "
     "(router.route group and weight), found KServe 0.19: expected steps [100], found [50, 100]"),
    ("0.20", "router=LLMRouter(route=False), rollout=RolloutPlan(steps=[50, 100]),", "",
     "specs/chat.py: chat.router.route: expected a managed route with the canary plan [50, 100] (traffic is split by its "
     "backend weights), found route: False"),
    ("0.20", "", "requireResourceLimits: true\nllms:\n  chat: {replicas: 3}\n", None),
    ("0.20", 'resources=Resources(requests={"cpu": "1"}),', "requireResourceLimits: true\n",
     "specs/chat.py: chat.resources.limits: env 'prod' requires resource limits: expected cpu and memory, missing cpu, memory"),
    ("0.20", "", "llms:\n  chatt: {replicas: 2}\n", "overlays/prod.yaml:4: llms.chatt: unknown LLM (declared: chat)"),
    ("0.20", "", "llms:\n  chat: {replicas: 0}\n", "overlays/prod.yaml:4: llms.chat.replicas: expected an integer >= 1, found 0"),
], ids=["scaling-0.16", "cache-0.18", "env-plan-0.19", "spec-plan-0.19", "canary-without-route", "override-ok",
        "limits-required", "unknown-llm-in-overlay", "bad-override"])
def test_what_the_env_cannot_serve_is_refused(tmp_path: Path, version: str, extra: str, overlay: str, message: str | None) -> None:
    spec = LLM_SPEC
    if "resources=" in extra:  # the case's resources replace the default ones
        spec = spec.replace('    resources=Resources(requests={"cpu": "1", "memory": "8Gi"}, limits={"cpu": "2", "memory": "8Gi"}),\n', "")
    spec = "from servespec.spec import LLMScaling, LLMRouter, RolloutPlan\n" + spec % {"extra": extra}
    repo = make_repo(tmp_path / "repo", version, overlay=overlay, spec=spec)
    code, err = _render(repo)
    if message is None:
        assert (code, err) == (0, "")
        assert _objects(repo)["LLMInferenceService/chat"]["spec"]["replicas"] == 3
        return
    assert (code, err) == (2, f"servespec: error: {message}\n")


@pytest.mark.parametrize("code, message", [
    ('model_uri="gs://bucket/model"', "expected a model URI starting with one of hf://, s3://, pvc://, oci://, found 'gs://bucket/model'"),
    ('model_uri="hf://Qwen"', "expected hf://OWNER/MODEL[:REVISION], found 'hf://Qwen'"),
    ('model_uri="hf://Qwen/Qwen2.5-0.5B-Instruct", replicas=1, scaling=LLMScaling(max_replicas=2)',
     "expected replicas or scaling, found both (KServe rejects both together)"),
    ('model_uri="s3://m/llm", multi_node=True', "expected parallelism.data or dataLocal with multi_node: KServe ships no "
                                                "pipeline-parallel worker preset"),
    ('model_uri="s3://m/llm", hf_token={"source": "plaintext", "token": "hf_abc"}',
     "LLM.hf_token: expected 'source' to be one of 'externalSecret', 'sealedSecret', 'existingSecret', found 'plaintext'"),
])
def test_spec_mistakes_are_reported_at_the_spec(tmp_path: Path, code: str, message: str) -> None:
    spec = f"from servespec.spec import LLM, LLMScaling\n\nX = LLM(name=\"chat\", {code})\n"
    repo = make_repo(tmp_path / "repo", spec=spec)
    rc, err = _render(repo)
    assert rc == 2 and err.startswith("servespec: error: specs/chat.py:3: LLM") and message in err, err


@pytest.mark.parametrize("extra, message", [
    ('env={"HF_TOKEN": "hf_abcdefghijklmnopqrstuvwxyzABCDEFGH"},',
     "specs/chat.py: chat.env.HF_TOKEN: looks like a secret ("),
    ('env={"HF_TOKEN": "hf_abcdefghijklmnopqrstuvwxyzABCDEFGH"}, not_secret=["HF_TOKEN"],', None),
])
def test_a_plaintext_token_in_env_is_refused_unless_reviewed(tmp_path: Path, extra: str, message: str | None) -> None:
    repo = make_repo(tmp_path / "repo", extra=extra)
    code, err = _render(repo)
    if message is None:
        assert (code, err) == (0, "")
        svc = _objects(repo)["LLMInferenceService/chat"]
        assert svc["metadata"]["annotations"] == {"serving.servespec.io/not-secret": "HF_TOKEN"}
        return
    assert code == 2 and err.startswith(f"servespec: error: {message}") and err.endswith(
        "plaintext secrets are refused in env 'prod': use hf_token, or add 'HF_TOKEN' to not_secret after review\n"), err


def test_credentials_in_the_model_uri_are_refused(tmp_path: Path) -> None:
    spec = LLM_SPEC.replace("hf://Qwen/Qwen2.5-0.5B-Instruct", "s3://AKIAEXAMPLE:secretkey@bucket/llm") % {"extra": ""}
    repo = make_repo(tmp_path / "repo", spec=spec)
    assert _render(repo) == (2, "servespec: error: specs/chat.py: chat.model_uri: credentials in a URL are refused (found the URI "
                                "carries credentials before '@' (userinfo) in 's3://***@bucket/llm'): use hf_token or a storage Secret\n")


def test_weighted_canary_is_a_second_service_in_the_route_group(tmp_path: Path) -> None:
    extra = 'rollout=RolloutPlan(steps=[10, 50, 100]), cache=LLMCache(node_groups=["gpu"], model_size="2Gi"),'
    spec = "from servespec.spec import RolloutPlan\n" + LLM_SPEC % {"extra": extra}
    repo = make_repo(tmp_path / "repo", spec=spec, state=canary_state(1, 10))
    assert _render(repo) == (0, "")
    objs = _objects(repo)
    stable, canary = objs["LLMInferenceService/chat"], objs["LLMInferenceService/chat-canary"]
    # kserve/kserve@v0.20.0:pkg/apis/serving/v1alpha2/llm_inference_service_types.go:388-402 (group, weight);
    # members serving other model names are left out of the split: pkg/controller/v1alpha2/llmisvc/router_group.go:90-96
    assert stable["spec"]["router"]["route"] == {"group": "chat", "weight": 90}
    assert canary["spec"]["router"]["route"] == {"group": "chat", "weight": 10}
    assert stable["spec"]["model"]["name"] == canary["spec"]["model"]["name"] == "qwen-small"
    assert stable["spec"]["model"]["uri"] == "hf://Qwen/Qwen2.5-0.5B-Instruct"
    assert canary["spec"]["model"]["uri"] == "hf://Qwen/Qwen2.5-1.5B-Instruct"
    assert {k: v for k, v in stable["spec"].items() if k not in ("model", "router")} == \
           {k: v for k, v in canary["spec"].items() if k not in ("model", "router")}
    caches = sorted(o["spec"]["sourceModelUri"] for k, o in objs.items() if k.startswith("LocalModelNamespaceCache/"))
    assert caches == ["hf://Qwen/Qwen2.5-0.5B-Instruct", "hf://Qwen/Qwen2.5-1.5B-Instruct"]
    res = run_cli("validate", "--root", repo)
    assert (res.exit_code, res.stderr) == (0, "")


def test_cache_then_switch_and_rollback(tmp_path: Path) -> None:
    extra = 'rollout=RolloutPlan(steps=[10, 100]), cache=LLMCache(node_groups=["gpu"], model_size="2Gi", scope="cluster"),'
    spec = "from servespec.spec import RolloutPlan\n" + LLM_SPEC % {"extra": extra}
    repo = make_repo(tmp_path / "repo", spec=spec, state=canary_state(0, 0))
    assert _render(repo) == (0, "")
    objs = _objects(repo)
    # step 0: the candidate's cache object only, no traffic and no candidate service yet
    assert sorted(k for k in objs if k.startswith("LLMInferenceService/")) == ["LLMInferenceService/chat"]
    assert objs["LLMInferenceService/chat"]["spec"]["router"]["route"] == {"group": "chat", "weight": 100}
    caches = {o["spec"]["sourceModelUri"]: o for k, o in objs.items() if k.startswith("LocalModelCache/")}
    assert sorted(caches) == ["hf://Qwen/Qwen2.5-0.5B-Instruct", "hf://Qwen/Qwen2.5-1.5B-Instruct"]
    assert all("namespace" not in c["metadata"] and c["metadata"]["name"].startswith("ml-prod-chat-v") for c in caches.values())
    assert run_cli("validate", "--root", repo).exit_code == 0  # a cluster-scoped kind in the LLM's unit
    (repo / "overlays/prod.rollout.yaml").write_text(canary_state(0, 0, phase="rolled-back"))
    assert _render(repo) == (0, "")
    objs = _objects(repo)
    assert sorted(k for k in objs if k.startswith("LLMInferenceService/")) == ["LLMInferenceService/chat"]
    assert [o["spec"]["sourceModelUri"] for k, o in objs.items() if k.startswith("LocalModelCache/")] == ["hf://Qwen/Qwen2.5-0.5B-Instruct"]


@pytest.mark.parametrize("state, message", [
    (canary_state(0, 0), "overlays/prod.rollout.yaml:2: models.chat.step: expected step 1 or more: step 0 (the candidate's "
                         "cache only) needs a cache on the LLM, found none"),
    (canary_state(1, 20), "overlays/prod.rollout.yaml:2: models.chat.traffic: step 1 of the plan [10, 100] is 10%, found traffic 20"),
    (canary_state(1, 10).replace("hf://Qwen/Qwen2.5-1.5B-Instruct", "gs://b/m"),
     "overlays/prod.rollout.yaml:2: models.chat.candidate: expected a model URI (hf://, s3://, pvc://, oci://), found 'gs://b/m'"),
], ids=["step-0-without-cache", "traffic-off-plan", "bad-uri"])
def test_state_that_disagrees_with_the_plan_is_refused(tmp_path: Path, state: str, message: str) -> None:
    spec = "from servespec.spec import RolloutPlan\n" + LLM_SPEC % {"extra": "rollout=RolloutPlan(steps=[10, 100]),"}
    repo = make_repo(tmp_path / "repo", spec=spec, state=state)
    assert _render(repo) == (2, f"servespec: error: {message}\n")


def test_closed_schema_catches_a_typo_in_a_rendered_llm_field(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    assert _render(repo) == (0, "")
    path = repo / UNIT / "llminferenceservice.yaml"
    path.write_text(path.read_text().replace("  replicas: 1\n", "  replica: 1\n").replace("nodeSelector:", "nodeSelecter:"))
    res = run_cli("validate", "--root", repo)
    assert res.exit_code == 1
    assert res.stderr.splitlines() == [
        "servespec: error: rendered/prod/models/chat/llminferenceservice.yaml: env prod: LLMInferenceService chat: spec: "
        "Additional properties are not allowed ('replica' was unexpected)",
        "servespec: error: rendered/prod/models/chat/llminferenceservice.yaml: env prod: LLMInferenceService chat: spec.template: "
        "Additional properties are not allowed ('nodeSelecter' was unexpected)",
    ]


@pytest.mark.parametrize("token, kinds", [
    (f'{{"source": "sealedSecret", "token": "{SEALED}", "scope": "namespace-wide"}}', ["SealedSecret", "ServiceAccount"]),
    ('{"source": "existingSecret", "name": "hf-org-token"}', ["ServiceAccount"]),
])
def test_hf_token_from_a_sealed_or_existing_secret(tmp_path: Path, token: str, kinds: list[str]) -> None:
    spec = LLM_SPEC.replace(
        'hf_token=HFTokenExternalSecret(store="vault", token=RemoteRef(key="ml/hf", property="token")),', f"hf_token={token},")
    repo = make_repo(tmp_path / "repo", spec=spec % {"extra": ""})
    assert _render(repo) == (0, "")
    objs = _objects(repo)
    assert sorted(k.split("/")[0] for k in objs if not k.startswith(("LLMInferenceService", "PodMonitor", "PrometheusRule", "ConfigMap"))) == kinds
    sa = objs["ServiceAccount/chat-hf"]
    if "SealedSecret" in kinds:
        sealed = objs["SealedSecret/chat-hf-token"]
        assert sealed["spec"]["encryptedData"] == {"HF_TOKEN": SEALED}
        assert sealed["metadata"]["annotations"] == {"sealedsecrets.bitnami.com/namespace-wide": "true"}
        assert sa["secrets"] == [{"name": "chat-hf-token"}]
    else:
        assert sa["secrets"] == [{"name": "hf-org-token"}]
    assert run_cli("validate", "--root", repo).exit_code == 0


def test_multi_node_and_prefill_pin_the_presets_kserve_would_apply(tmp_path: Path) -> None:
    extra = ('parallelism=Parallelism(tensor=2, data=2, data_local=1), multi_node=True, '
             'prefill=Prefill(replicas=2, parallelism=Parallelism(tensor=1)), router=LLMRouter(scheduler=False, gateway=[{"name": "inference-gw", "namespace": "gateways"}]),')
    spec = "from servespec.spec import Parallelism, Prefill, LLMRouter\n" + LLM_SPEC % {"extra": extra}
    repo = make_repo(tmp_path / "repo", spec=spec)
    assert _render(repo) == (0, "")
    svc = _objects(repo)["LLMInferenceService/chat"]
    # kserve/kserve@v0.20.0:pkg/controller/v1alpha2/llmisvc/config_merge.go:228-252 (P/D: prefill, then decode presets)
    assert svc["spec"]["baseRefs"] == [{"name": "servespec-v0-20-0-config-llm-prefill-template"},
                                       {"name": "servespec-v0-20-0-config-llm-decode-worker-data-parallel"}]
    assert svc["spec"]["parallelism"] == {"data": 2, "dataLocal": 1, "tensor": 2}
    assert svc["spec"]["worker"]["containers"][0]["name"] == "main" and svc["spec"]["prefill"]["replicas"] == 2
    assert svc["spec"]["router"] == {"gateway": {"refs": [{"name": "inference-gw", "namespace": "gateways"}]},
                                     "route": {"group": "chat", "weight": 100}}
    assert run_cli("validate", "--root", repo).exit_code == 0


def test_llm_and_model_names_must_differ(tmp_path: Path) -> None:
    spec = (LLM_SPEC % {"extra": ""}).replace('name="chat"', 'name="census"')
    spec += ('\nfrom servespec.spec import Model, Predictor\nM = Model(name="census", predictor=Predictor(model_format="sklearn", '
             'storage_uri="gs://b/m"))\n')
    repo = make_repo(tmp_path / "repo", spec=spec)
    assert _render(repo) == (2, "servespec: error: specs/chat.py: census: expected a name no Model uses, found 'census' also "
                                "declared in specs/chat.py (both render models/census/)\n")


@pytest.mark.parametrize("minor", sorted(MINORS))
def test_llm_features_agree_with_the_shipped_crds(minor: str) -> None:
    """``Features.llm_*`` are CRD facts: checked against the schemas servespec ships per release."""
    from servespec.kserve.schemas import crd_schemas, storage_api_version

    known = MINORS[minor]
    schemas = crd_schemas(minor)
    kinds = {k for _, k in schemas}
    assert ("LLMInferenceService" in kinds) == known.llm_inference_service
    assert ("LocalModelNamespaceCache" in kinds) == known.local_model_namespace_cache
    assert tuple(sorted(a for a, k in schemas if k == "LLMInferenceService")) == known.llm_api_versions
    assert storage_api_version("LLMInferenceService", minor) == known.llm_storage_api_version
    if not known.llm_inference_service:
        return
    spec = schemas[(known.llm_storage_api_version or "", "LLMInferenceService")]["properties"]["spec"]["properties"]  # type: ignore[index]
    assert ("scaling" in spec) == known.llm_scaling
    assert ({"group", "weight"} <= set(spec["router"]["properties"]["route"]["properties"])) == known.llm_router_route_weight
