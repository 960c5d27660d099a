"""Validation errors name each field and its fix, and never echo a whole config back."""

from __future__ import annotations

import pytest
from pydantic import Field, model_validator

from quantgate.config import ComponentConfig
from quantgate.core import ConfigurationError


class WindowConfig(ComponentConfig):
    start: int
    end: int
    step: int = Field(1, gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> WindowConfig:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


def error_of(values: dict[str, object]) -> ConfigurationError:
    with pytest.raises(ConfigurationError) as raised:
        WindowConfig.parse(values, where="window")
    return raised.value


def test_a_field_error_names_the_field_and_what_was_given() -> None:
    error = error_of({"start": 0, "end": 5, "step": -2})
    assert error.field == "window.step"
    assert str(error).endswith(
        "window.step: Input should be greater than 0 (got -2). Fix: make it greater than 0"
    )


def test_a_whole_config_check_names_the_config_without_echoing_it() -> None:
    error = error_of({"start": 5, "end": 1, "step": 1})
    assert error.field == "window"
    assert str(error).endswith("window: end must be after start. Fix: end must be after start")
    assert "got" not in str(error) and "Value error" not in str(error)


def test_an_unknown_key_gets_its_fix() -> None:
    error = error_of({"start": 0, "end": 5, "stpe": 2})
    assert "window.stpe: Extra inputs are not permitted (got 2). Fix: remove this key" in str(error)
