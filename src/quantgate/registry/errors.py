"""Registry errors, by what the operator does next (see cli.app's exit codes)."""

from __future__ import annotations

from quantgate.core.errors import ConfigurationError, DataError


class RegistryUsageError(ConfigurationError):
    """The transition cannot be done as asked (no candidate, no reason for --force, …)."""


class MissingEvaluationError(DataError):
    """No out-of-sample evaluation record exists for the (symbol, horizon)."""


class UnknownVersionError(RegistryUsageError):
    """No model version has this id."""
