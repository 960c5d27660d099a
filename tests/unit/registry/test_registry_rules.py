"""Promotion rules, evaluation-record lookup and the content-addressed store."""

from __future__ import annotations

from pathlib import Path

import pytest

from quantgate.core.errors import ConfigurationError
from quantgate.ml.export.loader import ArtifactIntegrityError
from quantgate.ml.export.metadata import sha256_bytes
from quantgate.registry import ArtifactStore, PromotionRules
from quantgate.registry.evaluation import evaluation_pairs, find_evaluation


def test_default_rules_and_verdicts() -> None:
    rules = PromotionRules()
    assert (rules.min_net_sharpe, rules.max_drawdown) == (1.8, 0.2)
    assert (rules.min_deflated_sharpe, rules.max_pbo) == (0.95, 0.2)
    report = rules.check(
        {"net_sharpe": 1.8, "max_drawdown": -0.2, "deflated_sharpe": 0.94, "pbo": float("nan")}
    )
    assert [(c.rule, c.value, c.verdict) for c in report.checks] == [
        ("net_sharpe", 1.8, "pass"),
        ("max_drawdown", 0.2, "pass"),  # negative drawdowns are read as their size
        ("deflated_sharpe", 0.94, "fail"),
        ("pbo", None, "missing"),
    ]
    assert not report.passed and report.failed == ["deflated_sharpe", "pbo"]


def test_rules_from_toml(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text("[registry.promotion]\nmin_net_sharpe = 1.0\nmax_pbo = 0.5\n")
    rules = PromotionRules.from_toml(path)
    assert (rules.min_net_sharpe, rules.max_pbo, rules.max_drawdown) == (1.0, 0.5, 0.2)
    path.write_text("[registry.promotion]\nmax_pbo = 2\n")
    with pytest.raises(ConfigurationError, match="max_pbo"):
        PromotionRules.from_toml(path)


def test_nested_metric_values() -> None:
    report = PromotionRules().check(
        {
            "sharpe": {"oos": 2.0},
            "max_drawdown": 0.1,
            "deflated_sharpe": {"sharpe": 0.3, "dsr": 0.99},
            "pbo": {"pbo": 0.1, "n_combinations": 70},
        }
    )
    assert report.passed


def test_find_evaluation_shapes() -> None:
    record = {"net_sharpe": 2.0, "max_drawdown": 0.1}
    for metrics in (
        {"BTCUSDT": {"1h": record}},
        {"1h": {"BTCUSDT": record}},
        {"BTCUSDT/1h": record},
        {"oos": {"BTCUSDT:1h": record}},
        {"rows": [{"symbol": "BTCUSDT", "horizon": "1h", **record}]},
    ):
        found = find_evaluation(metrics, "BTCUSDT", "1h")
        assert found is not None and found["net_sharpe"] == 2.0, metrics
        assert evaluation_pairs(metrics) == [("BTCUSDT", "1h")], metrics
    assert find_evaluation({"BTCUSDT": {"4h": record}}, "BTCUSDT", "1h") is None
    assert find_evaluation({"ic": 0.1}, "BTCUSDT", "1h") is None
    flat = find_evaluation({"pbo": 0.1, "ic": 0.2}, "X", "1h")
    assert flat == {"pbo": 0.1, "ic": 0.2}


def test_training_run_metrics_are_aggregated_over_folds() -> None:
    metrics = {
        "per_fold": [
            {"symbol": "BTCUSDT", "horizon": "1h", "fold": 0,
             "backtest": {"net_sharpe": 1.0, "max_drawdown": 0.1}},
            {"symbol": "BTCUSDT", "horizon": "1h", "fold": 1,
             "backtest": {"net_sharpe": 3.0, "max_drawdown": 0.3}},
        ],
        "overfitting": {"horizon": "1h", "deflated_sharpe": {"dsr": 0.97}, "pbo": {"pbo": 0.1}},
    }  # fmt: skip
    record = find_evaluation(metrics, "BTCUSDT", "1h")
    assert record is not None
    assert (record["net_sharpe"], record["max_drawdown"], record["n_folds"]) == (2.0, 0.3, 2)
    verdicts = [c.verdict for c in PromotionRules().check(record).checks]
    assert verdicts == ["pass", "fail", "pass", "pass"]
    # The overfitting figures belong to their horizon only.
    other = find_evaluation({**metrics, "per_fold": []}, "BTCUSDT", "4h")
    assert other is None


def test_store_is_content_addressed_and_verified(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    digest = store.put_bytes(b"model bytes")
    assert digest == sha256_bytes(b"model bytes")
    assert store.put_bytes(b"model bytes") == digest
    assert store.read(digest, name="model.onnx") == b"model bytes"
    path = store.path(digest)
    path.chmod(0o644)
    path.write_bytes(b"evil bytes")
    with pytest.raises(ArtifactIntegrityError) as caught:
        store.read(digest, name="model.onnx")
    assert "model.onnx" in str(caught.value) and digest in str(caught.value)
    assert str(path) in str(caught.value)
    with pytest.raises(ArtifactIntegrityError, match="expected"):
        store.put_bytes(b"other", expected=digest)
    with pytest.raises(ArtifactIntegrityError, match="not a sha256"):
        store.path("../etc/passwd")
