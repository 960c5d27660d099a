"""The market latent: fitted on its window only, serialisable, reproducible."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from quantgate.core.errors import DataError
from quantgate.features import MarketLatent

START = datetime(2022, 1, 1, tzinfo=UTC)
COLUMNS = tuple(f"f{i}" for i in range(12))


def frame(seed: int = 1, rows: int = 600) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    factors = rng.normal(0, 1, (rows, 3))
    loadings = rng.normal(0, 1, (3, len(COLUMNS)))
    values = factors @ loadings + rng.normal(0, 0.1, (rows, len(COLUMNS)))
    values[5, 2] = np.nan
    data: dict[str, object] = {
        "symbol": ["X"] * rows,
        "asof": [START + timedelta(hours=i) for i in range(rows)],
    }
    data.update({c: values[:, i] for i, c in enumerate(COLUMNS)})
    return pl.DataFrame(data)


def fit(data: pl.DataFrame, k: int = 4) -> MarketLatent:
    return MarketLatent.fit(data, COLUMNS, k, START, START + timedelta(hours=400), "c" * 64)


def test_fit_reads_only_its_window() -> None:
    data = frame()
    latent = fit(data)
    assert latent.fit_rows == 400
    changed = data.with_columns(
        pl.when(pl.col("asof") >= START + timedelta(hours=400))
        .then(pl.col(c) * 100)
        .otherwise(pl.col(c))
        .alias(c)
        for c in COLUMNS
    )
    assert fit(changed).fit_hash == latent.fit_hash
    inside = data.with_columns((pl.col("f0") * 2).alias("f0"))
    assert fit(inside).fit_hash != latent.fit_hash


def test_components_and_transform() -> None:
    data = frame()
    latent = fit(data)
    np.testing.assert_allclose(latent.components @ latent.components.T, np.eye(4), atol=1e-9)
    assert latent.explained_variance_ratio[:3].sum() > 0.9  # three planted factors
    out = latent.transform(data)
    assert out.columns == [*(f"mlat_{i:02d}" for i in range(4)), "mlat_recon_err"]
    row = data.select(COLUMNS).row(10)
    values = np.asarray(row, dtype=np.float32).astype(np.float64)
    standard = (values - latent.mean) / latent.scale
    assert out["mlat_00"][10] == pytest.approx(float(standard @ latent.components[0]), rel=1e-9)
    assert out["mlat_recon_err"][5] >= 0  # a missing input is imputed, not propagated


def test_serialisation_round_trip() -> None:
    latent = fit(frame())
    payload = json.loads(json.dumps(latent.to_dict()))
    again = MarketLatent.from_dict(payload)
    assert again.fit_hash == latent.fit_hash
    assert again.fit_start == START and again.fit_end == START + timedelta(hours=400)
    data = frame(seed=9)
    assert again.transform(data).equals(latent.transform(data))


def test_too_few_rows_is_a_data_error() -> None:
    with pytest.raises(DataError):
        MarketLatent.fit(frame(rows=30), COLUMNS, 4, START, START + timedelta(hours=30), "c")
