"""Turn pydantic validation errors into configuration errors that name field and fix."""

from __future__ import annotations

from pydantic import ValidationError

from quantgate.core.errors import ConfigurationError


def _fix_for(error_type: str, message: str) -> str:
    if error_type == "extra_forbidden":
        return "remove this key; it is not a known setting (check its spelling)"
    if error_type == "missing":
        return "set this value"
    if message.startswith("Input should be "):
        return "make it " + message.removeprefix("Input should be ")
    return message


def configuration_error_from(error: ValidationError, *, prefix: str) -> ConfigurationError:
    """One error listing every invalid field as `prefix.field: problem (got X). Fix: …`."""
    lines = []
    fields = []
    for item in error.errors():
        location = ".".join(str(part) for part in item["loc"])
        field = f"{prefix}.{location}" if location else prefix
        fields.append(field)
        message = item["msg"].removeprefix("Value error, ")
        # A whole-config check (no location) would echo the whole config back.
        got = f" (got {item.get('input')!r})" if location else ""
        fix = _fix_for(item["type"], message)
        lines.append(f"{field}: {message}{got}. Fix: {fix}")
    result = ConfigurationError("invalid configuration:\n  " + "\n  ".join(lines))
    result.field = fields[0] if fields else None
    return result
