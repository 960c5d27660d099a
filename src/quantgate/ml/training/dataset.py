"""Training data: the feature matrix joined with forward-return labels on (symbol, asof).

- Features come from the feature store (`read_feature_matrix`) under the given
  contract; missing values are NaN in a float32 matrix (both estimators accept
  NaN inputs: LightGBM routes them, the network imputes its training mean).
- Labels come from `bars_1h` in the lake: the close known at decision time
  ``asof`` is the close of the bar that closed at ``asof - decision delay``
  (bar open ``ts = asof - delay - 1h``) and only when ``available_at <= asof``.
  Only bars inside ``[start, end)`` are used, so a label whose window reaches
  past ``end`` is NaN: the model never learns from prices after its window.
- ``market_latent`` columns are refitted by the pipeline on each training
  window (`with_latent`), never taken from a fit that saw the test period.
- ``data_manifest_hash`` is `manifest_hash` over every input partition (bars and
  the three feature datasets) of the requested symbols.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import polars as pl
from numpy.typing import NDArray

from quantgate.core.enums import Horizon
from quantgate.core.errors import DataError
from quantgate.data.schema import BARS_1H
from quantgate.features import FEATURE_DATASETS, FeatureContract, read_feature_matrix
from quantgate.features.blocks.latent import MarketLatent
from quantgate.features.store import PROVENANCE, fit_market_latent
from quantgate.features.units import LATENT_DATASET
from quantgate.ml.estimators import HorizonTargets
from quantgate.ml.labels import compute_labels, label_columns
from quantgate.storage.lake import Lake, manifest_hash

Float32Array = NDArray[np.float32]
IntArray = NDArray[np.int64]
HOUR = timedelta(hours=1)


@dataclass(eq=False)
class Dataset:
    """Rows sorted by (asof, symbol); ``features`` aligned with ``frame``."""

    frame: pl.DataFrame  # symbol, asof, label columns of every horizon
    features: Float32Array
    contract: FeatureContract
    horizons: tuple[Horizon, ...]
    symbols: tuple[str, ...]
    start: datetime
    end: datetime
    data_manifest_hash: str
    _latent_cache: dict[tuple[int, int], Float32Array] = field(default_factory=dict)

    @property
    def n_rows(self) -> int:
        return self.frame.height

    @property
    def times(self) -> IntArray:
        return self.frame["asof"].dt.epoch("us").to_numpy().astype(np.int64)

    def label_end(self, horizon: Horizon) -> IntArray:
        return self.times + horizon.hours * 3_600_000_000

    def blocks(self) -> dict[str, tuple[int, ...]]:
        index = self.contract.index
        return {
            block: tuple(index[c] for c in self.contract.block_columns(block))
            for block in self.contract.blocks
        }

    def labels(self, horizon: Horizon) -> dict[str, NDArray[np.float64]]:
        names = label_columns(horizon)
        return {
            "ret": self.frame[names.ret].to_numpy().astype(np.float64),
            "rv": self.frame[names.rv].to_numpy().astype(np.float64),
            "dir": self.frame[names.direction].to_numpy().astype(np.float64),
        }

    def targets(self, horizon: Horizon, rows: IntArray) -> HorizonTargets:
        y = self.labels(horizon)
        return HorizonTargets.from_realised_vol(y["ret"][rows], y["rv"][rows], y["dir"][rows])

    def latent_columns(self) -> IntArray:
        index = self.contract.index
        return np.array(
            [index[c] for c in self.contract.dataset_columns(LATENT_DATASET)], dtype=np.int64
        )

    def fit_latent(self, train_rows: IntArray) -> MarketLatent:
        """The market latent fitted on the decision times of ``train_rows`` only."""
        times = self.frame["asof"].gather(train_rows)
        start, end = times.min(), times.max()
        assert isinstance(start, datetime) and isinstance(end, datetime)
        matrix = self.market_frame()
        return fit_market_latent(
            matrix, start, end + timedelta(microseconds=1), contract=self.contract
        )

    def market_frame(self) -> pl.DataFrame:
        columns = self.contract.block_columns("market")
        index = self.contract.index
        data = {c: self.features[:, index[c]] for c in columns}
        return pl.DataFrame(
            {"symbol": self.frame["symbol"], "asof": self.frame["asof"], **data}
        ).with_columns(pl.col(columns).fill_nan(None))

    def latent_values(self, train_rows: IntArray) -> tuple[Float32Array, dict[str, Any]]:
        """market_latent columns for every row, from a fit on ``train_rows`` only."""
        latent = self.fit_latent(train_rows)
        values = latent.transform(self.market_frame()).to_numpy().astype(np.float32)
        return values, latent.to_dict()

    def with_latent(self, latent_values: Float32Array) -> Float32Array:
        X = self.features.copy()  # noqa: N806
        X[:, self.latent_columns()] = latent_values
        return X


def close_known_at(bars: pl.DataFrame, delay: timedelta) -> pl.DataFrame:
    """symbol, asof, close: the close of the bar that closed at ``asof - delay``."""
    if bars.is_empty():
        return pl.DataFrame(
            schema={"symbol": pl.String, "asof": pl.Datetime("us", "UTC"), "close": pl.Float64}
        )
    sort_cols = ["symbol", "ts"] + (["fetched_at"] if "fetched_at" in bars.columns else [])
    frame = (
        bars.sort(sort_cols)
        .with_columns((pl.col("ts") + HOUR + delay).alias("asof"))
        .filter(pl.col("available_at") <= pl.col("asof"))
        .unique(["symbol", "asof"], keep="last", maintain_order=True)
    )
    return frame.select("symbol", "asof", pl.col("close").cast(pl.Float64))


def input_manifest_hash(lake: Lake, symbols: Sequence[str]) -> str:
    manifest: dict[str, str] = {}
    for dataset in (BARS_1H.name, *FEATURE_DATASETS):
        manifest.update(lake.manifest(dataset, symbols))
    return manifest_hash(manifest)


def load_dataset(
    lake: Lake,
    symbols: Sequence[str] | None,
    start: datetime | None,
    end: datetime | None,
    horizons: Sequence[Horizon],
    contract: FeatureContract,
    *,
    decision_delay: timedelta = timedelta(seconds=60),
) -> Dataset:
    matrix = read_feature_matrix(lake, symbols, start, end, contract=contract)
    if matrix.is_empty():
        raise DataError("no feature rows for the request", fix="run `quantgate features build`")
    chosen = tuple(sorted(matrix["symbol"].unique().to_list()))
    first = matrix["asof"].min()
    last = matrix["asof"].max()
    assert isinstance(first, datetime) and isinstance(last, datetime)
    window_start = start or first
    window_end = end or (last + timedelta(microseconds=1))
    bars = lake.read(BARS_1H.name, chosen, window_start - 2 * HOUR, window_end)
    closes = close_known_at(bars, decision_delay).filter(
        (pl.col("asof") >= window_start) & (pl.col("asof") < window_end + HOUR)
    )
    # Labels on the closes' own hourly grid (bars inside the window only); the
    # close known at asof is itself available at asof, so the window end bounds
    # every price a label uses.
    closes = closes.filter(pl.col("asof") < window_end)
    labelled = compute_labels(closes, horizons).drop("close")
    # The feature rows' provenance rides along to the out-of-sample predictions, so a
    # backtest of them can check no input arrived after its decision time.
    keyed = matrix.select("symbol", "asof", PROVENANCE).join(
        labelled, on=["symbol", "asof"], how="left"
    )
    order = keyed.with_row_index("_row").sort("asof", "symbol")
    rows = order["_row"].to_numpy()
    features = (
        matrix.select(contract.names)
        .with_columns(pl.all().cast(pl.Float32).fill_null(float("nan")))
        .to_numpy()
        .astype(np.float32)[rows]
    )
    frame = order.drop("_row")
    # label_end columns are derived (asof + h); keep the frame small.
    frame = frame.drop([c for c in frame.columns if c.startswith("label_end_")])
    return Dataset(
        frame=frame,
        features=np.ascontiguousarray(features),
        contract=contract,
        horizons=tuple(horizons),
        symbols=chosen,
        start=window_start,
        end=window_end,
        data_manifest_hash=input_manifest_hash(lake, chosen),
    )
