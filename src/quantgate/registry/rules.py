"""Promotion rules (config) and their per-rule verdicts on an OOS evaluation record.

Defaults: OOS net Sharpe >= 1.8, max drawdown <= 20 %, deflated Sharpe >= 0.95,
probability of backtest overfitting <= 0.2. A rule whose metric is missing (or
not a finite number) fails: no evidence is not a pass.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError

from quantgate.config.base import ComponentConfig
from quantgate.config.errors import configuration_error_from
from quantgate.core.errors import ConfigurationError

# Accepted spellings of each metric in an evaluation record, first match wins.
METRIC_KEYS: dict[str, tuple[str, ...]] = {
    "net_sharpe": (
        "net_sharpe",
        "oos_net_sharpe",
        "sharpe_net",
        "oos_sharpe",
        "sharpe",
        "mean_fold_net_sharpe",
    ),
    "max_drawdown": ("max_drawdown", "oos_max_drawdown", "maxdd", "max_dd"),
    "deflated_sharpe": (
        "deflated_sharpe",
        "deflated_sharpe_ratio",
        "dsr",
        "deflated_sharpe_probability",
    ),
    "pbo": ("pbo", "probability_of_backtest_overfitting"),
}


class PromotionRules(ComponentConfig):
    min_net_sharpe: float = 1.8
    max_drawdown: float = Field(default=0.20, ge=0.0)
    min_deflated_sharpe: float = Field(default=0.95, ge=0.0, le=1.0)
    max_pbo: float = Field(default=0.2, ge=0.0, le=1.0)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None) -> PromotionRules:
        try:
            return cls(**dict(values or {}))
        except ValidationError as error:
            raise configuration_error_from(error, prefix="registry.promotion") from None

    @classmethod
    def from_toml(cls, path: Path) -> PromotionRules:
        """Read `[registry.promotion]` (or a bare `[promotion]` table) from a TOML file."""
        if not path.is_file():
            raise ConfigurationError(f"rules file {path} does not exist", field="--rules")
        data = tomllib.loads(path.read_text())
        table = data.get("registry", {}).get("promotion", data.get("promotion", {}))
        return cls.from_mapping(table)

    def check(self, evaluation: Mapping[str, Any]) -> PromotionReport:
        found = {name: _metric(evaluation, name) for name in METRIC_KEYS}
        drawdown = found["max_drawdown"]
        if drawdown is not None:
            drawdown = abs(drawdown)  # some writers report drawdowns as negative returns
        checks = (
            _rule("net_sharpe", found["net_sharpe"], ">=", self.min_net_sharpe),
            _rule("max_drawdown", drawdown, "<=", self.max_drawdown),
            _rule("deflated_sharpe", found["deflated_sharpe"], ">=", self.min_deflated_sharpe),
            _rule("pbo", found["pbo"], "<=", self.max_pbo),
        )
        return PromotionReport(checks)


@dataclass(frozen=True, slots=True)
class RuleCheck:
    rule: str
    value: float | None
    op: Literal[">=", "<="]
    threshold: float
    passed: bool

    @property
    def verdict(self) -> str:
        if self.value is None:
            return "missing"
        return "pass" if self.passed else "fail"

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "value": self.value,
            "op": self.op,
            "threshold": self.threshold,
            "verdict": self.verdict,
            "passed": self.passed,
        }


@dataclass(frozen=True, slots=True)
class PromotionReport:
    checks: tuple[RuleCheck, ...]

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)

    @property
    def failed(self) -> list[str]:
        return [check.rule for check in self.checks if not check.passed]

    def to_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "checks": [check.to_dict() for check in self.checks]}


def _metric(evaluation: Mapping[str, Any], name: str) -> float | None:
    for key in METRIC_KEYS[name]:
        if key in evaluation:
            value = evaluation[key]
            if isinstance(value, Mapping):  # e.g. {"deflated_sharpe": {"value": 0.97, ...}}
                inner = ("value", "probability", *METRIC_KEYS[name], "oos")
                value = next((value[k] for k in inner if k in value), None)
            if isinstance(value, bool) or not isinstance(value, int | float):
                return None
            number = float(value)
            return number if math.isfinite(number) else None
    return None


def _rule(rule: str, value: float | None, op: Literal[">=", "<="], threshold: float) -> RuleCheck:
    if value is None:
        passed = False
    elif op == ">=":
        passed = value >= threshold
    else:
        passed = value <= threshold
    return RuleCheck(rule, value, op, threshold, passed)
