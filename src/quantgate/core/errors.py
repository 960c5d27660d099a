"""The error hierarchy, split by what the operator should do about it.

- ConfigurationError: fix the configuration and restart.
- TemporaryError: retry with backoff; the cause is expected to pass.
- DataError: quarantine the input; never repair it silently.
- ProgrammerError: a bug; crash loudly.
"""

from __future__ import annotations


class QuantgateError(Exception):
    """Base of every error quantgate raises on purpose."""

    operator_action: str = "investigate"

    def __init__(self, message: str, *, field: str | None = None, fix: str | None = None) -> None:
        self.field = field
        self.fix = fix
        parts = [message]
        if field:
            parts.insert(0, f"{field}:")
        if fix:
            parts.append(f"Fix: {fix}")
        super().__init__(" ".join(parts))
        self.message = message


class ConfigurationError(QuantgateError):
    operator_action = "fix the configuration and restart"


class TemporaryError(QuantgateError):
    operator_action = "retry with backoff"


class DataError(QuantgateError):
    """Bad input data. Carries where it was found so the operator can quarantine it."""

    operator_action = "quarantine the input; do not repair it silently"

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        row: int | None = None,
        field: str | None = None,
        fix: str | None = None,
    ) -> None:
        self.source = source
        self.row = row
        location = []
        if source:
            location.append(f"file {source}")
        if row is not None:
            location.append(f"row {row}")
        if field:
            location.append(f"field {field!r}")
        where = (", ".join(location) + ": ") if location else ""
        super().__init__(where + message, fix=fix)
        self.field = field


class ProgrammerError(QuantgateError):
    operator_action = "report a bug; the process stops"
