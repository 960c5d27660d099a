"""The point-in-time pipeline: feature rows for given decision times from in-memory inputs.

For each symbol and decision time t:

1. bar units run on the hourly grid of the symbol's bars; the row used at t is
   the anchor (latest bar with available_at <= t). When a bar up to the anchor
   is not yet known at t (it arrived late), the row is recomputed from the bars
   known at t alone, so a late bar is never used before its available_at;
2. when more than `max_fill_hours` hourly bars after the anchor are overdue at t,
   bar values are missing (NaN) — nothing is carried forward across a longer gap;
3. asof units (freshness, calendar, social) read what is known at t directly;
4. panel units combine every symbol's values at the same t;
5. the market latent transforms the stored (float32) market block.

Every output row records `max_input_available_at`: the largest available_at among
the input rows known at t that it draws on — the symbol's bars, the reference's
bars, every panel member's bars (for the main dataset), and texts within the
social block's reach (for the social dataset).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import polars as pl

from quantgate.core.errors import ProgrammerError
from quantgate.features.blocks.latent import MarketLatent
from quantgate.features.config import FeaturesConfig
from quantgate.features.contract import FeatureContract
from quantgate.features.inputs import SymbolMeta
from quantgate.features.ops import Float32Array, FloatArray, IntArray
from quantgate.features.series import (
    HOUR_US,
    NONE_TIME,
    BarGrid,
    BarSeries,
    ListingIndex,
    TextSeries,
    build_grid,
    hourly_asofs,
    micros_to_series,
    overdue_bars,
)
from quantgate.features.units import (
    LATENT_DATASET,
    MAIN_DATASET,
    SOCIAL_DATASET,
    AsofContext,
    AsofUnit,
    BarUnit,
    LatentUnit,
    PanelUnit,
    Unit,
)

UTC_TIME = pl.Datetime("us", "UTC")
WARMUP_MARGIN_BARS = 24


@dataclass(frozen=True, eq=False)
class SymbolInputs:
    meta: SymbolMeta
    bars: BarSeries
    texts: TextSeries
    listing: ListingIndex  # of the whole series, even when `bars` is a window

    @classmethod
    def of(cls, meta: SymbolMeta, bars: BarSeries, texts: TextSeries) -> SymbolInputs:
        return cls(meta, bars, texts, ListingIndex.of(bars))

    def known_at(
        self, moment: int, bars_from: int | None = None, texts_from: int | None = None
    ) -> SymbolInputs:
        """The inputs known at `moment` (optionally only bars opening at or after `bars_from`
        and texts available after `texts_from`); the listing index is kept whole."""
        bars = self.bars.known_at(moment)
        texts = self.texts.known_at(moment)
        if bars_from is not None:
            bars = bars.window(bars_from)
        if texts_from is not None:
            texts = texts.window(texts_from)
        return SymbolInputs(self.meta, bars, texts, self.listing)


@dataclass(eq=False)
class SymbolResult:
    symbol: str
    asofs: IntArray
    values: dict[str, FloatArray]
    anchor: IntArray
    bars_provenance: IntArray
    reference_provenance: IntArray
    texts_provenance: IntArray
    revised_rows: int = 0
    notes: dict[str, int] = field(default_factory=dict)


def _max_time(*arrays: IntArray) -> IntArray:
    stacked = np.vstack(arrays)
    return np.asarray(stacked.max(axis=0), dtype=np.int64)


def _float32_frame(values: Mapping[str, FloatArray], columns: Sequence[str]) -> pl.DataFrame:
    """Float32 columns (as stored), missing values as nulls."""
    return pl.DataFrame(
        [
            pl.Series(name, values[name].astype(np.float32), dtype=pl.Float32, nan_to_null=True)
            for name in columns
        ]
    )


class FeaturePipeline:
    def __init__(self, config: FeaturesConfig, units: Sequence[Unit]) -> None:
        self.config = config
        self.units = list(units)
        self.contract = FeatureContract.from_units(self.units)
        self.bar_units = [u for u in self.units if isinstance(u, BarUnit)]
        self.asof_units = [u for u in self.units if isinstance(u, AsofUnit)]
        self.panel_units = [u for u in self.units if isinstance(u, PanelUnit)]
        latent = [u for u in self.units if isinstance(u, LatentUnit)]
        if len(latent) > 1:
            raise ProgrammerError("at most one latent unit")
        self.latent_unit: LatentUnit | None = latent[0] if latent else None
        self.delay_us = config.decision_delay_seconds * 1_000_000
        self.max_fill = config.max_fill_hours
        self.warmup_bars = max((u.reach for u in self.bar_units), default=1) + WARMUP_MARGIN_BARS
        self.text_reach_us = max(
            (int(getattr(u, "text_reach_us", 0)) for u in self.asof_units if u.reads_texts),
            default=0,
        )
        self.main_columns = self.contract.dataset_columns(MAIN_DATASET)
        self.social_columns = self.contract.dataset_columns(SOCIAL_DATASET)
        self.latent_columns = self.contract.dataset_columns(LATENT_DATASET)
        self.panel_inputs = sorted({c for u in self.panel_units for c in u.inputs()})
        if self.latent_unit is not None:
            self.latent_inputs = self.contract.block_columns(self.latent_unit.input_block())
        else:
            self.latent_inputs = ()

    # ----------------------------------------------------------------- per symbol

    def asof_grid(self, bars: BarSeries) -> IntArray:
        """Every decision time of a symbol: from its first bar's close to its last bar's close."""
        if not len(bars):
            return np.empty(0, dtype=np.int64)
        return hourly_asofs(int(bars.ts[0]), int(bars.ts[-1]), self.delay_us)

    def _bar_values(
        self, bars: BarSeries, reference: BarSeries | None
    ) -> tuple[dict[str, FloatArray], BarGrid]:
        grid = build_grid(bars, reference, self.max_fill)
        values: dict[str, FloatArray] = {}
        for unit in self.bar_units:
            computed = unit.compute(grid)
            expected = unit.columns()
            if set(computed) != set(expected):
                raise ProgrammerError(
                    f"unit {unit.name} returned {sorted(set(computed) ^ set(expected))[:5]} "
                    "beyond or short of its declared columns"
                )
            values.update(computed)
        return values, grid

    def symbol_result(
        self,
        inputs: SymbolInputs,
        reference: BarSeries | None,
        embeddings: Float32Array,
        asofs: IntArray,
    ) -> SymbolResult:
        """Bar-unit and asof-unit values of one symbol at `asofs` (sorted), point in time."""
        bars = inputs.bars
        n = asofs.shape[0]
        anchor, bars_prov, prefix = bars.anchors(asofs)
        listing = inputs.listing.at(asofs)
        if reference is not None:
            _, reference_prov, _ = reference.anchors(asofs)
            prefix = prefix & reference.prefix_known(anchor, asofs)
        else:
            reference_prov = np.full(n, NONE_TIME, dtype=np.int64)
        usable = overdue_bars(asofs, anchor, self.delay_us) <= self.max_fill
        bar_columns = [c for u in self.bar_units for c in u.columns()]
        values: dict[str, FloatArray] = {c: np.full(n, np.nan) for c in bar_columns}
        revised = 0
        if usable.any() and self.bar_units:
            earliest = int(anchor[usable].min()) - self.warmup_bars * HOUR_US
            window = bars.window(earliest)
            ref_window = reference.window(earliest) if reference is not None else None
            computed, grid = self._bar_values(window, ref_window)
            rows = grid.row_of(anchor)
            take = usable & (rows >= 0)
            for column in bar_columns:
                values[column][take] = computed[column][rows[take]]
            for i in np.flatnonzero(usable & ~prefix):
                self._revise(int(i), asofs, anchor, bars, reference, values)
                revised += 1
        context = AsofContext(inputs.meta.symbol, asofs, anchor, listing, inputs.texts, embeddings)
        for unit in self.asof_units:
            computed_asof = unit.compute(context)
            if set(computed_asof) != set(unit.columns()):
                raise ProgrammerError(f"unit {unit.name} returned unexpected columns")
            values.update(computed_asof)
        return SymbolResult(
            inputs.meta.symbol,
            asofs,
            values,
            anchor,
            bars_prov,
            reference_prov,
            self._texts_provenance(inputs.texts, asofs),
            revised,
        )

    def _revise(
        self,
        i: int,
        asofs: IntArray,
        anchor: IntArray,
        bars: BarSeries,
        reference: BarSeries | None,
        values: dict[str, FloatArray],
    ) -> None:
        """Recompute row i from the bars known at its decision time only."""
        moment = int(asofs[i])
        start = int(anchor[i]) - self.warmup_bars * HOUR_US
        known = bars.known_at(moment).window(start)
        known_ref = reference.known_at(moment).window(start) if reference is not None else None
        computed, grid = self._bar_values(known, known_ref)
        row = int(grid.row_of(anchor[i : i + 1])[0])
        for column, array in computed.items():
            values[column][i] = array[row] if row >= 0 else np.nan

    def _texts_provenance(self, texts: TextSeries, asofs: IntArray) -> IntArray:
        if not self.text_reach_us or not len(texts):
            return np.full(asofs.shape, NONE_TIME, dtype=np.int64)
        available = texts.available_at
        position = np.searchsorted(available, asofs, side="right") - 1
        latest = np.where(position >= 0, available[np.maximum(position, 0)], NONE_TIME)
        inside = (position >= 0) & (latest > asofs - self.text_reach_us)
        return np.where(inside, latest, NONE_TIME).astype(np.int64)

    # ----------------------------------------------------------------- frames

    def social_frame(
        self, result: SymbolResult, contract_hash: str, manifest: str, embedder: str
    ) -> pl.DataFrame:
        frame = _float32_frame(result.values, self.social_columns)
        return pl.concat(
            [
                pl.DataFrame(
                    {
                        "symbol": [result.symbol] * result.asofs.shape[0],
                        "asof": micros_to_series(result.asofs, "asof"),
                    }
                ),
                frame,
                pl.DataFrame(
                    {
                        "max_input_available_at": micros_to_series(
                            result.texts_provenance, "max_input_available_at"
                        ),
                    }
                ),
            ],
            how="horizontal",
        ).with_columns(
            pl.lit(contract_hash).alias("contract_hash"),
            pl.lit(manifest).alias("data_manifest_hash"),
            pl.lit(embedder).alias("embedder"),
        )

    def panel_frame(
        self,
        results: Mapping[str, SymbolResult],
        metas: Mapping[str, SymbolMeta],
        reference: str | None,
    ) -> pl.DataFrame:
        """Panel unit columns for every (symbol, asof) of `results`, and the panel provenance."""
        frames = []
        for symbol, result in results.items():
            meta = metas[symbol]
            data: dict[str, object] = {
                "symbol": [symbol] * result.asofs.shape[0],
                "asof": result.asofs,
                "bucket": [meta.bucket.value] * result.asofs.shape[0],
                "in_universe": np.full(result.asofs.shape, meta.in_universe),
                "is_reference": np.full(result.asofs.shape, symbol == reference),
                "__provenance": result.bars_provenance,
            }
            for column in self.panel_inputs:
                data[column] = pl.Series(column, result.values[column], nan_to_null=True)
            frames.append(pl.DataFrame(data))
        if not frames:
            return pl.DataFrame()
        panel = pl.concat(frames, how="vertical").sort(["asof", "symbol"])
        out = panel.select("symbol", "asof")
        for unit in self.panel_units:
            computed = unit.compute(panel)
            out = out.join(computed, on=["symbol", "asof"], how="left")
        provenance = (
            panel.with_columns(
                pl.when(pl.col("__provenance") == NONE_TIME)
                .then(None)
                .otherwise(pl.col("__provenance"))
                .alias("__p")
            )
            .group_by("asof")
            .agg(pl.col("__p").max().alias("__panel_provenance"))
        )
        return out.join(provenance, on="asof", how="left")

    def main_frame(
        self,
        result: SymbolResult,
        panel: pl.DataFrame | None,
        source: str,
        contract_hash: str,
        manifest: str,
    ) -> pl.DataFrame:
        values = dict(result.values)
        provenance = _max_time(result.bars_provenance, result.reference_provenance)
        panel_columns = [c for u in self.panel_units for c in u.columns()]
        if panel_columns:
            rows = pl.DataFrame({"asof": result.asofs})
            if panel is not None and not panel.is_empty():
                rows = rows.join(
                    panel.filter(pl.col("symbol") == result.symbol).drop("symbol"),
                    on="asof",
                    how="left",
                )
            for column in panel_columns:
                values[column] = (
                    rows[column].cast(pl.Float64).fill_null(np.nan).to_numpy()
                    if column in rows.columns
                    else np.full(result.asofs.shape, np.nan)
                )
            if "__panel_provenance" in rows.columns:
                panel_prov = (
                    rows["__panel_provenance"].fill_null(NONE_TIME).to_numpy().astype(np.int64)
                )
                provenance = _max_time(provenance, panel_prov)
        frame = _float32_frame(values, self.main_columns)
        n = result.asofs.shape[0]
        head = pl.DataFrame(
            {
                "symbol": [result.symbol] * n,
                "asof": micros_to_series(result.asofs, "asof"),
                "anchor_ts": micros_to_series(result.anchor, "anchor_ts"),
                "bar_source": [source] * n,
            }
        )
        tail = pl.DataFrame(
            {"max_input_available_at": micros_to_series(provenance, "max_input_available_at")}
        ).with_columns(
            pl.lit(contract_hash).alias("contract_hash"),
            pl.lit(manifest).alias("data_manifest_hash"),
        )
        return pl.concat([head, frame, tail], how="horizontal")

    def latent_frame(self, main: pl.DataFrame, latent: MarketLatent, manifest: str) -> pl.DataFrame:
        """market_latent rows for the rows of a main frame (inputs: its stored float32 values)."""
        transformed = latent.transform(main.select(self.latent_inputs))
        if tuple(transformed.columns) != self.latent_columns:
            raise ProgrammerError(
                f"latent gives {len(transformed.columns)} columns, "
                f"the contract {len(self.latent_columns)}"
            )
        transformed = transformed.with_columns(
            pl.col(c).cast(pl.Float32).fill_nan(None) for c in transformed.columns
        )
        return pl.concat(
            [
                main.select("symbol", "asof"),
                transformed,
                main.select("max_input_available_at").with_columns(
                    pl.lit(main["contract_hash"][0] if main.height else "").alias("contract_hash"),
                    pl.lit(manifest).alias("data_manifest_hash"),
                    pl.lit(latent.fit_hash).alias("fit_hash"),
                    pl.lit(latent.fit_start).cast(UTC_TIME).alias("fit_start"),
                    pl.lit(latent.fit_end).cast(UTC_TIME).alias("fit_end"),
                ),
            ],
            how="horizontal",
        )

    # ----------------------------------------------------------------- all at once

    def compute(
        self,
        inputs: Mapping[str, SymbolInputs],
        embeddings: Float32Array,
        asofs: Mapping[str, IntArray],
        reference: str | None,
        latent: MarketLatent | None,
        *,
        contract_hash: str,
        manifest: str = "",
        embedder: str = "",
    ) -> dict[str, pl.DataFrame]:
        """All three datasets' rows at `asofs` per symbol (a symbol without asofs is left out)."""
        reference_bars = (
            inputs[reference].bars if reference is not None and reference in inputs else None
        )
        results: dict[str, SymbolResult] = {}
        for symbol, symbol_inputs in inputs.items():
            times = asofs.get(symbol)
            if times is None or times.shape[0] == 0:
                continue
            results[symbol] = self.symbol_result(symbol_inputs, reference_bars, embeddings, times)
        metas = {s: i.meta for s, i in inputs.items()}
        panel = self.panel_frame(results, metas, reference) if self.panel_units else None
        out: dict[str, list[pl.DataFrame]] = {
            MAIN_DATASET: [],
            SOCIAL_DATASET: [],
            LATENT_DATASET: [],
        }
        for symbol, result in results.items():
            if not inputs[symbol].meta.in_universe:
                continue
            main = self.main_frame(
                result, panel, inputs[symbol].meta.source, contract_hash, manifest
            )
            out[MAIN_DATASET].append(main)
            if self.social_columns:
                out[SOCIAL_DATASET].append(
                    self.social_frame(result, contract_hash, manifest, embedder)
                )
            if latent is not None and self.latent_columns:
                out[LATENT_DATASET].append(self.latent_frame(main, latent, manifest))
        return {
            name: pl.concat(frames, how="vertical") if frames else pl.DataFrame()
            for name, frames in out.items()
        }


def fit_window_default(
    first: datetime, last: datetime, fraction: float
) -> tuple[datetime, datetime]:
    """[first, first + fraction * (last - first)), floored to the hour."""
    end = first + (last - first) * fraction
    return first, end.replace(minute=0, second=0, microsecond=0)
