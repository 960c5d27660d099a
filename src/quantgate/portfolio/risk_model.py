"""Per-symbol volatilities and their correlations over one horizon.

The risk model is an input, not something the allocator estimates: the engine
(or the API caller) owns the return history. Construction only checks shapes;
whether the numbers are usable (finite, symmetric, positive definite) is checked
when a covariance is requested, so that allocator_v2 can report the problem and
fall back instead of crashing on a bad estimate.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from quantgate.core.enums import Horizon
from quantgate.core.errors import ProgrammerError
from quantgate.portfolio.errors import AllocationError

Array = NDArray[np.float64]

_SYMMETRY_TOLERANCE = 1e-8


@dataclass(frozen=True, eq=False)
class RiskModel:
    symbols: tuple[str, ...]
    vols: Array  # return standard deviation of each symbol over `horizon`
    correlation: Array
    horizon: Horizon = Horizon.D1

    def __post_init__(self) -> None:
        n = len(self.symbols)
        if len(set(self.symbols)) != n:
            raise ProgrammerError("RiskModel.symbols must be unique")
        vols = np.asarray(self.vols, dtype=np.float64)
        correlation = np.asarray(self.correlation, dtype=np.float64)
        if vols.shape != (n,) or correlation.shape != (n, n):
            raise ProgrammerError(
                f"RiskModel needs {n} vols and an {n}×{n} correlation matrix, got "
                f"{vols.shape} and {correlation.shape}"
            )
        object.__setattr__(self, "vols", vols)
        object.__setattr__(self, "correlation", correlation)

    @classmethod
    def from_vols(
        cls,
        vols: Mapping[str, float],
        correlation: Sequence[Sequence[float]] | Array,
        horizon: Horizon = Horizon.D1,
    ) -> RiskModel:
        """Vols by symbol; the correlation rows and columns follow the mapping's order."""
        return cls(
            tuple(vols),
            np.asarray(list(vols.values()), dtype=np.float64),
            np.asarray(correlation, dtype=np.float64),
            horizon,
        )

    @classmethod
    def from_returns(
        cls, returns: Mapping[str, Sequence[float]], horizon: Horizon = Horizon.D1
    ) -> RiskModel:
        """Sample vols and correlations of aligned per-period returns (one period = horizon)."""
        symbols = tuple(returns)
        matrix = np.asarray([list(returns[s]) for s in symbols], dtype=np.float64)
        if matrix.ndim != 2 or matrix.shape[1] < 3:
            raise ProgrammerError("from_returns needs at least 3 aligned returns per symbol")
        vols = np.std(matrix, axis=1, ddof=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            correlation = np.atleast_2d(np.corrcoef(matrix))
        return cls(symbols, vols, correlation, horizon)

    @classmethod
    def from_json(cls, payload: Mapping[str, Any]) -> RiskModel:
        return cls(
            tuple(payload["symbols"]),
            np.asarray(payload["vols"], dtype=np.float64),
            np.asarray(payload["correlation"], dtype=np.float64),
            Horizon(payload.get("horizon", Horizon.D1.value)),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "symbols": list(self.symbols),
            "vols": [float(v) for v in self.vols],
            "correlation": [[float(v) for v in row] for row in self.correlation],
            "horizon": self.horizon.value,
        }

    def with_vols(self, vols: Mapping[str, float]) -> RiskModel:
        """The same correlations, with the vols of the given symbols it knows replaced."""
        replaced = self.vols.copy()
        for symbol, vol in vols.items():
            if symbol in self.symbols:
                replaced[self.symbols.index(symbol)] = vol
        return RiskModel(self.symbols, replaced, self.correlation, self.horizon)

    def _position(self, symbol: str) -> int:
        try:
            return self.symbols.index(symbol)
        except ValueError:
            raise AllocationError(
                f"risk model has no volatility or correlation for {symbol}"
            ) from None

    def vol(self, symbol: str) -> float:
        value = float(self.vols[self._position(symbol)])
        if not (math.isfinite(value) and value > 0.0):
            raise AllocationError(f"volatility of {symbol} is {value}; it must be finite and > 0")
        return value

    def correlation_of(self, first: str, second: str) -> float:
        if first == second:
            return 1.0
        value = float(self.correlation[self._position(first), self._position(second)])
        if not math.isfinite(value):
            raise AllocationError(f"correlation of {first} and {second} is NaN or infinite")
        return value

    def covariance(self, symbols: Sequence[str]) -> Array:
        """The covariance of `symbols`, refused unless finite, symmetric and positive definite."""
        positions = [self._position(symbol) for symbol in symbols]
        vols = np.asarray([self.vol(symbol) for symbol in symbols], dtype=np.float64)
        correlation = self.correlation[np.ix_(positions, positions)]
        if not np.all(np.isfinite(correlation)):
            bad = sorted(
                {symbols[i] for i, j in zip(*np.nonzero(~np.isfinite(correlation)), strict=True)}
            )
            raise AllocationError(f"correlation matrix has NaN or infinite entries for {bad}")
        if not np.allclose(correlation, correlation.T, atol=_SYMMETRY_TOLERANCE, rtol=0.0):
            raise AllocationError("correlation matrix is not symmetric")
        if not np.allclose(np.diag(correlation), 1.0, atol=_SYMMETRY_TOLERANCE, rtol=0.0):
            raise AllocationError("correlation matrix does not have ones on its diagonal")
        covariance = correlation * np.outer(vols, vols)
        try:
            np.linalg.cholesky(covariance)
        except np.linalg.LinAlgError:
            eigenvalues = np.linalg.eigvalsh((covariance + covariance.T) / 2.0)
            raise AllocationError(
                f"covariance of {list(symbols)} is singular or not positive definite "
                f"(smallest eigenvalue {float(eigenvalues[0]):.3g})"
            ) from None
        return np.asarray(covariance, dtype=np.float64)
