"""Canary rollout plans: traffic steps, bake time and metric gates."""

from __future__ import annotations

from pydantic import field_validator

from .base import SpecModel

__all__ = ["RolloutPlan", "EnvRollout"]


class RolloutPlan(SpecModel):
    """Ordered traffic steps a candidate moves through; the last step must be 100."""

    steps: list[int] = [10, 25, 50, 100]
    """Canary traffic percentages, strictly increasing, ending at 100."""

    @field_validator("steps")
    @classmethod
    def _steps(cls, value: list[int]) -> list[int]:
        if not value or value[-1] != 100:
            raise ValueError(f"expected steps ending at 100, found {value}")
        if any(not 0 < s <= 100 for s in value) or any(a >= b for a, b in zip(value, value[1:])):
            raise ValueError(f"expected strictly increasing percentages in 1..100, found {value}")
        return value


class EnvRollout(SpecModel):
    """Per-environment rollout settings (overlay key ``rollout``)."""

    plan: RolloutPlan | None = None
    """Plan for every model of this environment that does not set its own (dev: ``steps: [100]``)."""
    prometheus_url: str | None = None
    """Prometheus the gates query, e.g. ``http://prometheus.monitoring:9090``."""
