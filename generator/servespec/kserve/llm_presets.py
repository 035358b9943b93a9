"""KServe's LLMInferenceServiceConfig presets per release, and which of them the controller applies.

KServe installs well-known presets (``kserve-config-llm-template``, ``-scheduler``, ...) into its
own namespace and merges, for every LLMInferenceService, the ones its shape calls for, then the
service's ``baseRefs``, then the service itself (``kserve/kserve@v0.20.0:pkg/controller/v1alpha2/
llmisvc/config_merge.go:212-291``; the same order from ``@v0.16.0:pkg/controller/v1alpha1/llmisvc/
config_merge.go:113-161``). A platform upgrade replaces those presets, and with them the vLLM image
and its command line. servespec pins them: it renders a copy of each preset the service needs, as
shipped by the env's KServe release, under a versioned name (:func:`pinned_name`) in the env's
namespace, and lists the copies first in ``baseRefs``, so they override whatever the cluster's
presets say. The route preset is not pinned: KServe itself does not version it, since it follows the
Gateway API provider, not the KServe release (``config_merge.go:218-222`` at v0.20.0).

The presets are packaged by ``tools/pack_llm_presets.py`` (``presets/llm-presets.json.gz``), read on
first use and kept for the life of the process: treat them as read-only.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from .schemas import resolve_version

__all__ = ["Preset", "presets", "preset", "wellknown_presets", "pinned_name", "ROUTE_PRESET", "SCHEDULER_PRESET"]

ROUTE_PRESET = "kserve-config-llm-router-route"
"""The managed HTTPRoute preset: applied by KServe, never pinned."""
SCHEDULER_PRESET = "kserve-config-llm-scheduler"
"""The endpoint picker (llm-d inference scheduler) and its InferencePool."""


@dataclass(frozen=True)
class Preset:
    """One preset as a KServe release ships it."""

    name: str
    release: str
    """``"0.20.0"``."""
    tag: str
    commit: str
    path: str
    """Its file in the kserve/kserve repository."""
    api_version: str
    spec: dict[str, Any]

    @property
    def source(self) -> str:
        """``kserve/kserve@v0.20.0 config/llmisvcconfig/config-llm-template.yaml``."""
        return f"kserve/kserve@{self.tag} {self.path}"


@cache
def _data() -> dict[str, Any]:
    raw = resources.files(__package__ or "servespec.kserve").joinpath("presets", "llm-presets.json.gz").read_bytes()
    data = json.loads(gzip.decompress(raw))
    if not isinstance(data, dict) or data.get("format") != 1:
        raise TypeError("servespec's packaged LLM presets are damaged: expected format 1")
    return data


def presets(kserve_version: str) -> dict[str, Preset]:
    """Every preset the KServe release an env names ships, by name (empty before 0.16).

    Raises:
        ValueError: the version is not supported (see ``schemas.resolve_version``).
    """
    release = resolve_version(kserve_version)
    entry = _data()["releases"].get(release)
    if entry is None:
        return {}
    return {name: Preset(name, release, entry["tag"], entry["commit"], p["path"], p["apiVersion"], p["spec"])
            for name, p in sorted(entry["presets"].items())}


def preset(name: str, kserve_version: str) -> Preset:
    """One preset of a release.

    Raises:
        KeyError: that release ships no preset of that name.
    """
    found = presets(kserve_version).get(name)
    if found is None:
        raise KeyError(f"KServe {resolve_version(kserve_version)} ships no LLMInferenceServiceConfig {name!r}")
    return found


def wellknown_presets(*, scheduler: bool, prefill: bool, prefill_multi_node: bool, multi_node: bool) -> list[str]:
    """The well-known presets KServe applies to a service of this shape, in its order, without the
    route preset (never pinned). Multi-node means data parallelism here: KServe ships no
    pipeline-parallel worker preset (``config_merge.go:90-95`` at v0.20.0), and ``resolve`` refuses
    that shape."""
    names = [SCHEDULER_PRESET] if scheduler else []
    if prefill:
        names.append("kserve-config-llm-prefill-worker-data-parallel" if prefill_multi_node else "kserve-config-llm-prefill-template")
        names.append("kserve-config-llm-decode-worker-data-parallel" if multi_node else "kserve-config-llm-decode-template")
    else:
        names.append("kserve-config-llm-worker-data-parallel" if multi_node else "kserve-config-llm-template")
    return names


def pinned_name(preset_name: str, release: str) -> str:
    """The name of servespec's copy of a preset for one release: ``kserve-config-llm-template`` of
    0.20.0 is ``servespec-v0-20-0-config-llm-template`` (KServe's own naming with another prefix,
    the form its ``LLM_INFERENCE_SERVICE_CONFIG_PREFIX`` setting expects)."""
    suffix = preset_name.removeprefix("kserve-")
    return f"servespec-v{release.replace('.', '-')}-{suffix}"
