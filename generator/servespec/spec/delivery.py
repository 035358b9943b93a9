"""How an environment is delivered to its cluster: Argo CD or Flux."""

from __future__ import annotations

from .base import SpecModel

__all__ = ["EnvDelivery"]


class EnvDelivery(SpecModel):
    """Per-environment delivery settings (overlay key ``delivery``)."""
