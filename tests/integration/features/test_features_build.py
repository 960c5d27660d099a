"""Building the feature store: point in time, values, gaps, late bars, incremental, cache."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from features_lake import HOURS, START, SYMBOLS
from sqlalchemy import create_engine

from quantgate.data.schema import BARS_1H, COMMENTS, POSTS
from quantgate.features import (
    LATENT_DATASET,
    MAIN_DATASET,
    SOCIAL_DATASET,
    FeatureBuilder,
    FeaturesConfig,
    MarketLatent,
    fit_market_latent,
    read_feature_matrix,
)
from quantgate.features.embeddings import HashingEmbedder
from quantgate.features.fixtures import write_synthetic_lake
from quantgate.features.store import read_dataset
from quantgate.storage import upgrade
from quantgate.storage.checkpoints import Checkpoints
from quantgate.storage.lake import Lake

HOUR = timedelta(hours=1)
DELAY = timedelta(minutes=1)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[FeatureBuilder, dict[str, object]]:
    """One built store shared by the tests that only read it."""
    root = tmp_path_factory.mktemp("built")
    lake = Lake(root / "lake")
    write_synthetic_lake(lake, SYMBOLS, START, HOURS)
    builder = FeatureBuilder(lake, root / "state", FeaturesConfig(embedder="hashing"))
    return builder, builder.build()


def checkpoints(tmp_path: Path, name: str = "cp") -> Checkpoints:
    engine = create_engine(f"sqlite:///{tmp_path / (name + '.db')}")
    upgrade(engine)
    return Checkpoints(engine, "features.build")


def raw_bars(lake: Lake, symbol: str) -> pl.DataFrame:
    return lake.read(BARS_1H.name, [symbol]).sort("ts")


def test_full_build_writes_three_datasets_point_in_time(
    built: tuple[FeatureBuilder, dict[str, object]],
) -> None:
    builder, report = built
    assert report["mode"] == "full" and report["width"] >= 528
    assert report["embedder"] == {"kind": "hashing", "id": HashingEmbedder().id}
    for dataset in (MAIN_DATASET, SOCIAL_DATASET, LATENT_DATASET):
        frame = read_dataset(builder.lake, dataset)
        assert frame.height == len(SYMBOLS) * HOURS
        assert frame["contract_hash"].unique().to_list() == [builder.contract.contract_hash]
        assert frame["data_manifest_hash"].n_unique() == 1
        late = frame.filter(pl.col("max_input_available_at") > pl.col("asof"))
        assert late.is_empty(), f"{dataset}: rows use inputs from after their asof"
        assert (frame["asof"].dt.minute() == 1).all()
    matrix = read_feature_matrix(builder.lake, contract=builder.contract)
    assert matrix.columns[3:] == list(builder.contract.names)
    assert matrix.height == len(SYMBOLS) * HOURS
    assert matrix.schema["mkt_ret_1h"] == pl.Float32


def test_values_against_independent_computations(
    built: tuple[FeatureBuilder, dict[str, object]],
) -> None:
    builder, _ = built
    matrix = read_feature_matrix(builder.lake, contract=builder.contract)
    bars = raw_bars(builder.lake, "ETHUSDT")
    closes = dict(zip(bars["ts"].to_list(), bars["close"].to_list(), strict=True))
    row = matrix.filter(pl.col("symbol") == "ETHUSDT").row(500, named=True)
    anchor = row["asof"] - DELAY - HOUR  # the bar that closed just before the asof
    assert row["mkt_ret_1h"] == pytest.approx(
        math.log(closes[anchor] / closes[anchor - HOUR]), rel=1e-5
    )
    assert row["mkt_ret_24h"] == pytest.approx(
        math.log(closes[anchor] / closes[anchor - 24 * HOUR]), rel=1e-5
    )
    # cross-sectional rank of the 24h return at that asof
    at = matrix.filter(pl.col("asof") == row["asof"]).select("symbol", "mkt_ret_24h")
    ordered = at.sort("mkt_ret_24h")["symbol"].to_list()
    assert row["xa_rank_ret_24h"] == pytest.approx(ordered.index("ETHUSDT") / 2)
    assert row["xa_rel_btc_ret_24h"] == pytest.approx(
        row["mkt_ret_24h"] - at.filter(pl.col("symbol") == "BTCUSDT")["mkt_ret_24h"][0], abs=1e-6
    )
    # the decayed mean embedding, from the raw texts and the embedder
    t = row["asof"]
    posts = builder.lake.read(POSTS.name, ["ETHUSDT"]).select(
        "ts", "available_at", pl.concat_str(["title", "body"], separator="\n").alias("text")
    )
    comments = builder.lake.read(COMMENTS.name, ["ETHUSDT"]).select(
        "ts", "available_at", pl.col("body").alias("text")
    )
    texts = pl.concat([posts, comments]).filter(
        (pl.col("available_at") <= t) & (pl.col("ts") > t - 72 * HOUR)
    )
    assert texts.height > 0
    vectors = (
        HashingEmbedder().embed([s.strip() for s in texts["text"].to_list()]).astype(np.float64)
    )
    age_hours = np.array([(t - ts).total_seconds() / 3600 for ts in texts["ts"].to_list()])
    weights = 2.0 ** (-age_hours / 12.0)
    expected = (weights[:, None] * vectors).sum(0) / weights.sum()
    got = np.array([row[f"soc_emb_{i:03d}"] for i in range(384)], dtype=np.float64)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    assert row["soc_emb_empty"] == 0.0


def test_a_late_bar_is_not_used_before_it_is_available(
    make_lake: Callable[..., Lake], tmp_path: Path, config: FeaturesConfig
) -> None:
    lake = make_lake()
    bars = raw_bars(lake, "SOLUSDT")
    late_ts = bars["ts"][800]
    delayed = bars.with_columns(
        pl.when(pl.col("ts") == late_ts)
        .then(pl.col("available_at") + timedelta(hours=5))
        .otherwise(pl.col("available_at"))
        .alias("available_at")
    )
    lake.upsert(BARS_1H.name, delayed, key=list(BARS_1H.key))
    builder = FeatureBuilder(lake, tmp_path / "state", config)
    report = builder.build()
    assert report["late_bar_recomputations"] > 0
    main = read_dataset(lake, MAIN_DATASET, ["SOLUSDT"])
    assert main.filter(pl.col("max_input_available_at") > pl.col("asof")).is_empty()
    closes = dict(zip(bars["ts"].to_list(), bars["close"].to_list(), strict=True))
    arrival = late_ts + HOUR + timedelta(seconds=5) + timedelta(hours=5)
    for hours_after in (1, 2, 3):  # asofs after the next bars closed, before the late one arrived
        asof = late_ts + HOUR + DELAY + hours_after * HOUR
        assert asof < arrival
        row = main.filter(pl.col("asof") == asof).row(0, named=True)
        anchor = late_ts + hours_after * HOUR
        assert row["anchor_ts"] == anchor
        assert row["max_input_available_at"] <= asof
        # the late bar's hour is a gap then: its close is the previous one carried forward
        with_late_bar = math.log(closes[anchor] / closes[late_ts])
        without = math.log(closes[anchor] / closes[late_ts - HOUR])
        ret = row[f"mkt_ret_{hours_after}h"]
        assert ret == pytest.approx(without, rel=1e-5)
        assert ret != pytest.approx(with_late_bar, rel=1e-5)
    after = main.filter(pl.col("asof") == late_ts + HOUR + DELAY + 6 * HOUR).row(0, named=True)
    anchor = late_ts + 6 * HOUR
    assert after["mkt_ret_24h"] == pytest.approx(
        math.log(closes[anchor] / closes[anchor - 24 * HOUR]), rel=1e-5
    )


def test_gaps_are_explicit(
    make_lake: Callable[..., Lake], tmp_path: Path, config: FeaturesConfig
) -> None:
    lake = make_lake()
    bars = raw_bars(lake, "ETHUSDT")
    drop_short = bars["ts"][300:302].to_list()
    drop_long = bars["ts"][600:608].to_list()
    kept = bars.filter(~pl.col("ts").is_in([*drop_short, *drop_long]))
    for ref in lake.partitions(BARS_1H.name, ["ETHUSDT"]):
        ref.path.unlink()
    lake.upsert(BARS_1H.name, kept, key=list(BARS_1H.key))
    builder = FeatureBuilder(lake, tmp_path / "state", config)
    builder.build()
    main = read_dataset(lake, MAIN_DATASET, ["ETHUSDT"]).sort("asof")
    first_long = drop_long[0]
    rows = {r["asof"]: r for r in main.iter_rows(named=True)}
    # inside the long gap: the last bar is reused up to max_fill_hours, then nothing
    for k in range(1, 9):  # k bars of the gap have closed by this asof
        row = rows[first_long + DELAY + k * HOUR]
        assert row["mkt_bar_age_h"] == pytest.approx(k + 1 / 60, abs=1e-4)
        if k <= 3:
            assert row["mkt_stale"] == 0.0 and row["mkt_ret_1h"] is not None
        else:
            assert row["mkt_stale"] == 1.0
            assert row["mkt_ret_1h"] is None and row["mkt_vol_cc_24h"] is None
    after = rows[drop_long[-1] + HOUR + HOUR + DELAY]
    assert after["mkt_ret_1h"] is None  # the previous close was never carried across 8 hours
    assert after["mkt_missing_24h"] == pytest.approx(8 / 24)
    short = rows[drop_short[-1] + HOUR + HOUR + DELAY]
    assert short["mkt_ret_1h"] is not None and short["mkt_missing_24h"] == pytest.approx(2 / 24)
    assert len(rows) == HOURS  # one row per decision time, gaps included


def test_incremental_build_computes_only_new_rows_and_equals_a_full_build(
    make_lake: Callable[..., Lake], tmp_path: Path, config: FeaturesConfig
) -> None:
    complete = make_lake("complete")
    partial = Lake(tmp_path / "partial")
    cut = START + timedelta(days=45)
    for dataset, column in (
        (BARS_1H.name, "available_at"),
        (POSTS.name, "available_at"),
        (COMMENTS.name, "available_at"),
    ):
        frame = complete.read(dataset)
        key = {BARS_1H.name: BARS_1H.key, POSTS.name: POSTS.key, COMMENTS.name: COMMENTS.key}[
            dataset
        ]
        partial.upsert(dataset, frame.filter(pl.col(column) <= cut), key=list(key))
    config = config.model_copy(
        update={"latent_fit_start": START, "latent_fit_end": START + timedelta(days=30)}
    )
    incremental = FeatureBuilder(partial, tmp_path / "state_inc", config)
    marks = checkpoints(tmp_path, "inc")
    first = incremental.build(checkpoints=marks)
    assert first["mode"] == "full"
    for dataset in (BARS_1H.name, POSTS.name, COMMENTS.name):
        key = {BARS_1H.name: BARS_1H.key, POSTS.name: POSTS.key, COMMENTS.name: COMMENTS.key}[
            dataset
        ]
        partial.upsert(dataset, complete.read(dataset), key=list(key))
    second = incremental.build(checkpoints=marks)
    assert second["mode"] == "incremental"
    assert second["changed_input_years"] == {}
    new_rows = HOURS - first["rows_computed_by_symbol"]["BTCUSDT"]
    assert second["rows_computed_by_symbol"] == {s: new_rows for s in SYMBOLS}
    assert not second["market_latent"]["refit"]
    third = incremental.build(checkpoints=marks)
    assert third["mode"] == "up_to_date" and third["rows_computed"] == 0

    full = FeatureBuilder(complete, tmp_path / "state_full", config)
    full.build()
    a = read_feature_matrix(partial, contract=incremental.contract)
    b = read_feature_matrix(complete, contract=full.contract)
    assert a.shape == b.shape
    assert (a["max_input_available_at"] == b["max_input_available_at"]).all()
    for column in full.contract.names:
        x = a[column].cast(pl.Float64).fill_null(np.nan).to_numpy()
        y = b[column].cast(pl.Float64).fill_null(np.nan).to_numpy()
        np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6, equal_nan=True, err_msg=column)


def test_changed_old_input_is_recomputed_from_its_year(
    builder: FeatureBuilder, tmp_path: Path
) -> None:
    marks = checkpoints(tmp_path)
    builder.build(checkpoints=marks)
    bars = raw_bars(builder.lake, "ETHUSDT")
    edited = bars.with_columns(
        pl.when(pl.col("ts") == bars["ts"][100])
        .then(pl.col("close") * 1.01)
        .otherwise(pl.col("close"))
        .alias("close")
    )
    builder.lake.upsert(BARS_1H.name, edited, key=list(BARS_1H.key))
    report = builder.build(checkpoints=marks)
    assert report["changed_input_years"] == {"ETHUSDT": ["2021"]}
    assert report["rows_computed"] == len(SYMBOLS) * HOURS


def test_second_build_embeds_nothing(builder: FeatureBuilder) -> None:
    first = builder.build()
    assert first["embedding_cache"]["embedded"] > 0
    again = FeatureBuilder(builder.lake, builder.state_dir, builder.config)
    second = again.build(full=True)
    assert second["rebuild_reason"] == "requested (--full)"
    assert second["embedding_cache"]["embedded"] == 0
    assert second["embedding_cache"]["hits"] == first["embedding_cache"]["unique"]


def test_contract_change_rebuilds_everything(builder: FeatureBuilder) -> None:
    builder.build()
    changed = FeatureBuilder(
        builder.lake,
        builder.state_dir,
        builder.config.model_copy(update={"social_half_life_hours": 6.0}),
    )
    report = changed.build()
    assert report["mode"] == "full" and "contract hash changed" in report["rebuild_reason"]
    stored = read_dataset(builder.lake, MAIN_DATASET)
    assert stored["contract_hash"].unique().to_list() == [changed.contract.contract_hash]


def test_live_rows_equal_stored_rows(built: tuple[FeatureBuilder, dict[str, object]]) -> None:
    builder, _ = built
    stored = read_feature_matrix(builder.lake, contract=builder.contract)
    asof = stored["asof"][1000]
    live = builder.feature_rows_at(asof)
    assert live.columns == stored.columns
    expected = stored.filter(pl.col("asof") == asof)
    assert live.height == expected.height == len(SYMBOLS)
    x = live.drop("symbol", "asof", "max_input_available_at").to_numpy().astype(np.float64)
    y = expected.drop("symbol", "asof", "max_input_available_at").to_numpy().astype(np.float64)
    np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6, equal_nan=True)


def test_a_model_fits_its_own_latent_on_its_training_window(
    built: tuple[FeatureBuilder, dict[str, object]],
) -> None:
    builder, _ = built
    matrix = read_feature_matrix(builder.lake, contract=builder.contract)
    train_end = START + timedelta(days=20)
    fit = fit_market_latent(matrix, START, train_end, contract=builder.contract)
    assert fit.fit_rows == matrix.filter(pl.col("asof") < train_end).height
    with_fit = read_feature_matrix(builder.lake, contract=builder.contract, latent=fit)
    assert with_fit.columns == matrix.columns
    restored = MarketLatent.from_dict(fit.to_dict())
    again = read_feature_matrix(builder.lake, contract=builder.contract, latent=restored)
    assert again.equals(with_fit)
    assert not with_fit["mlat_00"].equals(matrix["mlat_00"])  # not the store's default fit


@pytest.mark.parametrize("failing", [MAIN_DATASET, LATENT_DATASET])
def test_an_interrupted_build_resumes(
    builder: FeatureBuilder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    marks = checkpoints(tmp_path)
    calls = {"n": 0}
    real = Lake.upsert

    def flaky(self: Lake, dataset: str, *args: object, **kwargs: object) -> object:
        if dataset == failing:
            calls["n"] += 1
            if calls["n"] > 1:
                raise OSError("disk went away")
        return real(self, dataset, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Lake, "upsert", flaky)
    with pytest.raises(OSError):
        builder.build(checkpoints=marks)
    monkeypatch.setattr(Lake, "upsert", real)
    resumed = builder.build(checkpoints=marks)
    if failing == LATENT_DATASET:  # features were all stored: only the latent is finished
        assert resumed["rows_computed"] == 0
        assert resumed["rows_written"][LATENT_DATASET] == (len(SYMBOLS) - 1) * HOURS
    for dataset in (MAIN_DATASET, SOCIAL_DATASET, LATENT_DATASET):
        assert read_dataset(builder.lake, dataset).height == len(SYMBOLS) * HOURS
    assert builder.build(checkpoints=marks)["mode"] == "up_to_date"
    stored = read_feature_matrix(builder.lake, contract=builder.contract)
    clean = FeatureBuilder(builder.lake, tmp_path / "other_state", builder.config)
    clean.build(full=True)
    again = read_feature_matrix(builder.lake, contract=builder.contract)
    assert stored.equals(again)
