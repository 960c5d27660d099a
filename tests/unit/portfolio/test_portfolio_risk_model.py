import numpy as np
import pytest
from portfolio_inputs import risk_model

from quantgate.core import Horizon, ProgrammerError
from quantgate.portfolio import AllocationError, RiskModel


def test_from_returns_matches_numpy() -> None:
    rng = np.random.default_rng(0)
    returns = rng.normal(0.0, 0.02, size=(3, 250))
    returns[1] += 0.5 * returns[0]
    model = RiskModel.from_returns(dict(zip("ABC", returns, strict=True)), Horizon.H4)
    assert model.horizon is Horizon.H4
    np.testing.assert_allclose(model.vols, returns.std(axis=1, ddof=1))
    np.testing.assert_allclose(model.correlation, np.corrcoef(returns))
    expected = np.cov(returns[[2, 0]])
    np.testing.assert_allclose(model.covariance(["C", "A"]), expected)


def test_json_round_trip() -> None:
    model = risk_model({"A": 0.02, "B": 0.03}, [[1.0, 0.3], [0.3, 1.0]])
    again = RiskModel.from_json(model.to_json())
    assert again.to_json() == model.to_json()


def test_shapes_are_checked_at_construction() -> None:
    with pytest.raises(ProgrammerError):
        RiskModel(("A", "B"), np.array([0.1, 0.2]), np.eye(3))
    with pytest.raises(ProgrammerError):
        RiskModel(("A", "A"), np.array([0.1, 0.2]), np.eye(2))


@pytest.mark.parametrize(
    ("vols", "correlation", "message"),
    [
        ({"A": 0.02, "B": 0.03}, [[1.0, np.nan], [np.nan, 1.0]], "NaN"),
        ({"A": 0.02, "B": float("nan")}, None, "volatility of B"),
        ({"A": 0.02, "B": 0.0}, None, "volatility of B"),
        ({"A": 0.02, "B": 0.03}, [[1.0, 0.2], [0.3, 1.0]], "not symmetric"),
        ({"A": 0.02, "B": 0.03}, [[1.0, 1.0], [1.0, 1.0]], "singular"),
        (
            {"A": 0.02, "B": 0.03, "C": 0.01},
            [[1.0, 0.9, -0.9], [0.9, 1.0, 0.9], [-0.9, 0.9, 1.0]],
            "not positive definite",
        ),
    ],
)
def test_unusable_covariances_are_refused_with_a_reason(
    vols: dict[str, float], correlation: list[list[float]] | None, message: str
) -> None:
    model = risk_model(vols, correlation)
    with pytest.raises(AllocationError, match=message):
        model.covariance(list(vols))


def test_a_missing_symbol_is_an_allocation_error() -> None:
    with pytest.raises(AllocationError, match="no volatility or correlation for C"):
        risk_model({"A": 0.02}).covariance(["A", "C"])
