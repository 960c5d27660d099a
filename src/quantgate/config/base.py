"""Frozen, typed component configs with a stable content hash.

A config's `config_hash` is the sha256 of its canonical JSON (sorted keys, no
whitespace, the class name included), so the same values give the same hash in
every process and on every machine, and changing any field changes it.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from quantgate.config.errors import configuration_error_from


def canonical_json(payload: Any) -> str:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


class ComponentConfig(BaseModel):
    # NaN and infinity are refused: NaN fails every comparison, so a NaN threshold or stop
    # would silently never trigger, an infinite weight turns sums into NaN mid-run, and
    # neither can be written to the run's JSON. "No limit" is spelt None where it is allowed.
    model_config = ConfigDict(
        frozen=True, extra="forbid", validate_default=True, allow_inf_nan=False
    )

    # Bump when a config's meaning changes without its fields changing.
    schema_version: ClassVar[int] = 1

    @property
    def config_hash(self) -> str:
        payload = {
            "kind": type(self).__name__,
            "schema_version": self.schema_version,
            "values": self.model_dump(mode="json"),
        }
        return hashlib.sha256(canonical_json(payload).encode()).hexdigest()

    @classmethod
    def parse(cls, values: dict[str, Any], *, where: str = "") -> ComponentConfig:
        """Validate `values`, turning pydantic errors into one that names field and fix."""
        from pydantic import ValidationError

        try:
            return cls.model_validate(values)
        except ValidationError as error:
            raise configuration_error_from(error, prefix=where or cls.__name__) from None
