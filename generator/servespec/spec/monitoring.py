"""Monitoring of a model: scraping, service-level objectives and dashboards."""

from __future__ import annotations

from .base import SpecModel

__all__ = ["Monitoring", "EnvMonitoring"]


class Monitoring(SpecModel):
    """Per-model monitoring settings."""

    enabled: bool = True
    """Scrape, alert on and chart this model."""


class EnvMonitoring(SpecModel):
    """Per-environment monitoring settings (overlay key ``monitoring``)."""

    enabled: bool = True
    """Render monitoring objects in this environment."""
