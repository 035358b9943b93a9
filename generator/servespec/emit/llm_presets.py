"""servespec's pinned copies of KServe's LLMInferenceServiceConfig presets, one per preset the
environment's LLMs build on (``common/llm-presets/``, delivered before the LLMs' own units).

Each copy is the preset exactly as the env's KServe release ships it (``kserve/llm_presets.py``),
under a versioned name, with its source repository, tag, commit and path in an annotation: an
upgrade of the cluster's KServe then changes nothing an LLM runs until the env's ``kserveVersion``
changes in git, and the diff of that commit shows every line of the new presets.
"""

from __future__ import annotations

from typing import Any

from ..kserve.llm_presets import Preset, pinned_name, preset
from ..resolve_llm import presets_of
from .context import EnvContext, Output, base_labels

__all__ = ["emit", "needed", "pinned_config", "SOURCE_ANNOTATION", "PRESET_LABEL"]

SOURCE_ANNOTATION = "serving.servespec.io/source"
"""Where the copy came from: ``kserve/kserve@v0.20.0 config/llmisvcconfig/... (commit)``."""
PRESET_LABEL = "serving.servespec.io/preset"
"""The well-known preset a copy pins."""


def needed(ctx: EnvContext) -> list[str]:
    """Well-known presets the env's LLMs build on (those that pin presets), sorted."""
    return sorted({p for llm in ctx.llms.values() if llm.pin_presets for p in presets_of(llm)})


def pinned_config(ctx: EnvContext, p: Preset) -> dict[str, Any]:
    """The versioned copy of one preset in the env's namespace."""
    return {
        "apiVersion": p.api_version,
        "kind": "LLMInferenceServiceConfig",
        "metadata": {
            "name": pinned_name(p.name, p.release),
            "namespace": ctx.namespace,
            "labels": {**base_labels(), PRESET_LABEL: p.name},
            "annotations": {SOURCE_ANNOTATION: f"{p.source} ({p.commit})"},
        },
        "spec": p.spec,
    }


def emit(ctx: EnvContext) -> list[Output]:
    """The pinned presets of the environment (none without LLMs)."""
    out = []
    for name in needed(ctx):
        p = preset(name, ctx.kserve.release)
        out.append(Output(f"llm-presets/{pinned_name(p.name, p.release)}.yaml", pinned_config(ctx, p)))
    return out
