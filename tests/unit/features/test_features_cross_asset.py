"""Cross-sectional features on a hand-made panel."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from quantgate.features import FeaturesConfig
from quantgate.features.blocks.cross_asset import CrossSectionUnit


def panel() -> pl.DataFrame:
    unit = CrossSectionUnit(FeaturesConfig())
    rows = {
        "BTCUSDT": ("majors", True, [0.01, 0.02]),
        "ETHUSDT": ("majors", False, [0.03, None]),
        "SOLUSDT": ("l1", False, [-0.02, 0.05]),
        "ADAUSDT": ("l1", False, [0.00, 0.01]),
    }
    data: dict[str, list[object]] = {
        "symbol": [],
        "asof": [],
        "bucket": [],
        "in_universe": [],
        "is_reference": [],
    }
    for column in unit.inputs():
        data[column] = []
    for symbol, (bucket, is_ref, values) in rows.items():
        for t, value in enumerate(values):
            data["symbol"].append(symbol)
            data["asof"].append(t)
            data["bucket"].append(bucket)
            data["in_universe"].append(True)
            data["is_reference"].append(is_ref)
            for column in unit.inputs():
                data[column].append(value)
    return pl.DataFrame(data, schema_overrides={c: pl.Float64 for c in unit.inputs()})


def test_cross_section() -> None:
    unit = CrossSectionUnit(FeaturesConfig())
    out = unit.compute(panel()).sort(["asof", "symbol"])
    assert set(unit.columns()) <= set(out.columns)
    first = out.filter(pl.col("asof") == 0)
    by_symbol = {r["symbol"]: r for r in first.iter_rows(named=True)}
    # ranks of ret_24h at t=0 among 0.01, 0.03, -0.02, 0.00: SOL < ADA < BTC < ETH
    assert by_symbol["SOLUSDT"]["xa_rank_ret_24h"] == 0.0
    assert by_symbol["ADAUSDT"]["xa_rank_ret_24h"] == pytest.approx(1 / 3)
    assert by_symbol["ETHUSDT"]["xa_rank_ret_24h"] == 1.0
    assert by_symbol["ETHUSDT"]["xa_rel_btc_ret_24h"] == pytest.approx(0.02)
    assert by_symbol["SOLUSDT"]["xa_rel_bucket_ret_24h"] == pytest.approx(-0.02 - 0.0)
    assert by_symbol["ETHUSDT"]["xa_rel_bucket_ret_24h"] == pytest.approx(0.03 - 0.01)
    assert by_symbol["SOLUSDT"]["xa_cs_demeaned_ret_24h"] == pytest.approx(-0.02 - 0.005)
    assert by_symbol["ADAUSDT"]["xa_n_symbols"] == 4
    assert by_symbol["ADAUSDT"]["xa_btc_ret_24h"] == pytest.approx(0.01)
    second = {r["symbol"]: r for r in out.filter(pl.col("asof") == 1).iter_rows(named=True)}
    # ETH has no value at t=1: no rank, and BTC has no bucket peer left
    assert second["ETHUSDT"]["xa_rank_ret_24h"] is None
    assert second["BTCUSDT"]["xa_rel_bucket_ret_24h"] is None
    assert second["SOLUSDT"]["xa_rank_ret_24h"] == 1.0
    assert second["ADAUSDT"]["xa_n_symbols"] == 3
    assert np.isclose(second["ADAUSDT"]["xa_rel_bucket_ret_1h"], 0.01 - 0.05)
