"""The feature store in the lake: what is stored, and the feature matrix the model layer reads.

Three datasets keyed by (symbol, asof), partitioned by symbol and asof year:
`feature_snapshots_main` (market, cross-asset, calendar), `social_text_latent`
and `market_latent`. Every row carries `max_input_available_at`,
`contract_hash` and `data_manifest_hash`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import polars as pl

from quantgate.core.errors import DataError
from quantgate.features.blocks.latent import MarketLatent
from quantgate.features.contract import CONTRACT, FeatureContract
from quantgate.features.units import FEATURE_DATASETS, LATENT_DATASET, MAIN_DATASET, SOCIAL_DATASET
from quantgate.storage.lake import Lake

KEY = ("symbol", "asof")
PROVENANCE = "max_input_available_at"


def stored_state(lake: Lake, dataset: str) -> pl.DataFrame:
    """Per symbol: last stored asof, row count and the contract hashes present."""
    lazy = lake.scan(dataset, time_column="asof")
    if lazy is None:
        return pl.DataFrame(
            schema={
                "symbol": pl.String,
                "last_asof": pl.Datetime("us", "UTC"),
                "rows": pl.UInt32,
                "contract_hashes": pl.List(pl.String),
            }
        )
    return (
        lazy.group_by("symbol")
        .agg(
            pl.col("asof").max().alias("last_asof"),
            pl.len().alias("rows"),
            pl.col("contract_hash").unique().sort().alias("contract_hashes"),
        )
        .sort("symbol")
        .collect()
    )


def read_dataset(
    lake: Lake,
    dataset: str,
    symbols: Sequence[str] | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    columns: Sequence[str] | None = None,
) -> pl.DataFrame:
    lazy = lake.scan(dataset, symbols, start, end, time_column="asof")
    if lazy is None:
        return pl.DataFrame()
    lazy = lazy.sort(list(KEY))
    if columns is not None:
        lazy = lazy.select(list(columns))
    return lazy.collect()


def read_feature_matrix(
    lake: Lake,
    symbols: Sequence[str] | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    *,
    contract: FeatureContract = CONTRACT,
    latent: MarketLatent | None = None,
) -> pl.DataFrame:
    """symbol, asof, max_input_available_at, then every contract column in contract order.

    `start` inclusive, `end` exclusive on asof. With `latent` (a fit the model
    layer made on its own training window), the market_latent columns are
    computed from the stored market block with it instead of read from the lake.
    Raises DataError when the store was built with another contract.
    """
    parts: dict[str, pl.DataFrame] = {}
    wanted = [MAIN_DATASET, SOCIAL_DATASET] + ([] if latent is not None else [LATENT_DATASET])
    for dataset in wanted:
        columns = contract.dataset_columns(dataset)
        if not columns:
            continue
        frame = read_dataset(
            lake, dataset, symbols, start, end, [*KEY, PROVENANCE, "contract_hash", *columns]
        )
        if frame.is_empty():
            raise DataError(
                f"{dataset} holds no rows for the request",
                source=dataset,
                fix="run `quantgate features build`",
            )
        hashes = set(frame["contract_hash"].unique().to_list())
        if hashes != {contract.contract_hash}:
            raise DataError(
                f"{dataset} was built with contract {sorted(hashes)}, not {contract.contract_hash}",
                source=dataset,
                field="contract_hash",
                fix="rebuild the features (`quantgate features build --full`)",
            )
        parts[dataset] = frame.drop("contract_hash").rename(
            {PROVENANCE: f"{PROVENANCE}__{dataset}"}
        )
    main = parts.pop(MAIN_DATASET)
    merged = main
    for frame in parts.values():
        merged = merged.join(frame, on=list(KEY), how="left")
    if latent is not None:
        latent_columns = contract.dataset_columns(LATENT_DATASET)
        transformed = latent.transform(merged)
        if tuple(transformed.columns) != latent_columns:
            raise DataError(
                f"the latent fit gives {len(transformed.columns)} columns; the contract wants "
                f"{len(latent_columns)}",
                fix="fit the latent with the contract's n_components",
            )
        merged = pl.concat(
            [merged, transformed.with_columns(pl.all().cast(pl.Float32).fill_nan(None))],
            how="horizontal",
        )
    provenance_columns = [c for c in merged.columns if c.startswith(f"{PROVENANCE}__")]
    merged = merged.with_columns(pl.max_horizontal(provenance_columns).alias(PROVENANCE))
    return merged.select(*KEY, PROVENANCE, *contract.names).sort(list(KEY))


def fit_market_latent(
    frame: pl.DataFrame,
    fit_start: datetime,
    fit_end: datetime,
    *,
    contract: FeatureContract = CONTRACT,
) -> MarketLatent:
    """Fit the market latent on the rows of a feature matrix with fit_start <= asof < fit_end
    (a model's training window); store `to_dict()` with the model, and pass the fit to
    `read_feature_matrix(..., latent=fit)` to get matching market_latent columns."""
    inputs = contract.block_columns("market")
    n_components = len(contract.dataset_columns(LATENT_DATASET)) - 1
    return MarketLatent.fit(frame, inputs, n_components, fit_start, fit_end, contract.contract_hash)


def delete_feature_datasets(lake: Lake) -> None:
    for dataset in FEATURE_DATASETS:
        lake.delete_dataset(dataset)
