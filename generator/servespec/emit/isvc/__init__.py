"""The InferenceService of each model, in the API version its environment targets: current KServe
(``v1beta1``) or legacy KFServing (``v1alpha2``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...spec import Model
from ..context import EnvContext, Output
from . import v1alpha2, v1beta1

__all__ = ["emit_model", "BUILDERS"]

BUILDERS: dict[str, Callable[[EnvContext, Model], dict[str, Any]]] = {
    v1beta1.API_VERSION: v1beta1.isvc_object,
    v1alpha2.API_VERSION: v1alpha2.isvc_object,
}
"""InferenceService builder by the overlay's ``kserveApi``."""


def emit_model(ctx: EnvContext, model: Model) -> list[Output]:
    """The model's InferenceService."""
    obj = BUILDERS[ctx.env.overlay.kserve_api](ctx, model)
    return [Output(f"models/{model.name}/inferenceservice.yaml", obj, model.name)]
