"""The planted signal's oracle IC and the manifest written next to the data."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np
import polars as pl
import pytest
from scipy import stats

from quantgate.adapters.sim import SyntheticMarketConfig, SyntheticMarketSource
from quantgate.core import Horizon

START = datetime(2018, 1, 1, tzinfo=UTC)
SHORT = SyntheticMarketConfig(end=datetime(2018, 7, 1, tzinfo=UTC), gap_fraction=0.02)


def test_oracle_ic_is_positive_at_every_horizon() -> None:
    ic = SyntheticMarketSource(SHORT).oracle_ic()
    assert set(ic) == {"1h", "4h", "1d", "7d"}
    assert ic["1h"] > 0.03 and ic["4h"] > 0.05 and ic["1d"] > 0.08
    assert ic["7d"] > 0


def test_oracle_ic_matches_the_signal_measured_against_fetched_bars() -> None:
    source = SyntheticMarketSource(SHORT)
    for horizon in Horizon:
        signals, realised = [], []
        for symbol in source.symbols():
            bars = source.fetch_bars(symbol, START, SHORT.resolved_end)
            if bars.is_empty():
                continue
            signal = source.planted_signal(symbol, horizon)
            # The signal is known at each bar's close; the label is the forward log return
            # from that close to the close `horizon` later.
            closes = bars.select(pl.col("ts") + pl.duration(hours=1), "close")
            assert signal["decision_at"].equals(closes["ts"], check_names=False)
            close = closes["close"].to_numpy()
            h = horizon.hours
            realised.append(np.log(close[h:] / close[:-h]))
            signals.append(signal["expected_return"].to_numpy()[:-h])
        measured = stats.spearmanr(np.concatenate(signals), np.concatenate(realised)).statistic
        assert source.oracle_ic()[str(horizon)] == pytest.approx(measured, abs=1e-9)


def test_full_history_oracle_ic_lands_in_the_documented_bands() -> None:
    # The default market 2018 -> 2026: the figures quoted in the module docs.
    source = SyntheticMarketSource(SyntheticMarketConfig(end=datetime(2026, 1, 1, tzinfo=UTC)))
    ic = source.oracle_ic()
    assert 0.05 <= ic["1h"] <= 0.12
    assert 0.08 <= ic["4h"] <= 0.25
    assert 0.10 <= ic["1d"] <= 0.25
    assert 0.05 <= ic["7d"] <= 0.25


def test_manifest_is_json_and_names_config_ic_and_gaps() -> None:
    source = SyntheticMarketSource(SHORT)
    manifest = json.loads(json.dumps(source.manifest()))
    assert manifest["config_hash"] == SHORT.config_hash
    assert manifest["config"]["seed"] == 7
    assert manifest["spec"] == source.spec
    assert manifest["oracle_ic"] == {k: round(v, 4) for k, v in source.oracle_ic().items()}
    assert "spearman" in manifest["oracle_ic_method"]
    gaps = source.planted_bar_gaps()
    assert len(manifest["planted_bar_gaps"]) == len(gaps) > 0
    first = manifest["planted_bar_gaps"][0]
    assert datetime.fromisoformat(first["start"]) == gaps[0].start
    assert len(manifest["planted_social_gaps"]) == len(source.planted_social_gaps()) > 0
    assert any("reversal" in line for line in manifest["effects"])
    assert manifest["symbols"]["XRPUSDT"]["first_bar"].startswith("2018-05-04")
