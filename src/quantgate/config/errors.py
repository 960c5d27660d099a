"""Turn pydantic validation errors into configuration errors that name field and fix."""

from __future__ import annotations

from pydantic import ValidationError

from quantgate.core.errors import ConfigurationError


def _fix_for(error_type: str, message: str) -> str:
    if error_type == "extra_forbidden":
        return "remove this key; it is not a known setting (check its spelling)"
    if error_type == "missing":
        return "set this value"
    return message


def configuration_error_from(error: ValidationError, *, prefix: str) -> ConfigurationError:
    """One error listing every invalid field as `prefix.field: problem (got X). Fix: …`."""
    lines = []
    fields = []
    for item in error.errors():
        location = ".".join(str(part) for part in item["loc"]) or "(root)"
        fields.append(f"{prefix}.{location}")
        fix = _fix_for(item["type"], item["msg"])
        lines.append(f"{prefix}.{location}: {item['msg']} (got {item.get('input')!r}). Fix: {fix}")
    result = ConfigurationError("invalid configuration:\n  " + "\n  ".join(lines))
    result.field = fields[0] if fields else None
    return result
