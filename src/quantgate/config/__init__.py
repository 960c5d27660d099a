"""Frozen component configs and process settings (read at the boundary only)."""

from quantgate.config.base import ComponentConfig
from quantgate.config.settings import Environment, Settings, load_settings

__all__ = ["ComponentConfig", "Environment", "Settings", "load_settings"]
