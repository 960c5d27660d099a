"""`features build`: incremental, resumable computation of the feature store.

Incremental: per symbol, only decision times after the last one stored (for
the current contract) are computed, from a warm-up window of earlier inputs.
Before trusting stored rows, the inputs they were computed from (every row known
at the last stored asof, per year) are fingerprinted and compared with the
checkpoint; a changed year is recomputed from its start. A changed contract
hash, universe, reference or bars source means a full rebuild, and the report
says why. Resumable: the lake is the record of what is done (rows are written
per symbol and dataset, atomically per partition). A rerun computes from the
earliest decision time missing from `feature_snapshots_main` or
`social_text_latent`, then gives `market_latent` rows to every stored main row
that lacks one (an interruption during the latent phase recomputes nothing).
"""

from __future__ import annotations

import json
import resource
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from quantgate.core.errors import ConfigurationError, DataError
from quantgate.data.schema import BARS_1H
from quantgate.features.blocks import default_units
from quantgate.features.blocks.latent import MarketLatent
from quantgate.features.config import FeaturesConfig
from quantgate.features.contract import FeatureContract
from quantgate.features.embeddings import (
    EMBEDDING_DIMS,
    Embedder,
    EmbeddingCache,
    embedder_id_for,
    make_embedder,
)
from quantgate.features.inputs import (
    SymbolMeta,
    data_manifest_hash,
    datetime_to_micros,
    fingerprint_bars,
    fingerprint_texts,
    load_bars,
    load_texts,
    micros_to_datetime,
    select_sources,
    text_series,
)
from quantgate.features.ops import Float32Array, IntArray
from quantgate.features.pipeline import (
    FeaturePipeline,
    SymbolInputs,
    SymbolResult,
    fit_window_default,
)
from quantgate.features.series import HOUR_US, BarSeries, TextSeries
from quantgate.features.store import KEY, delete_feature_datasets, read_dataset, stored_state
from quantgate.features.units import LATENT_DATASET, MAIN_DATASET, SOCIAL_DATASET, Unit
from quantgate.storage.checkpoints import Checkpoints
from quantgate.storage.lake import Lake

ProgressFn = Callable[[str, int, int], None]
BUILD_JOB = "features.build"
GLOBAL_KEY = "_build"


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


@dataclass(frozen=True, eq=False)
class RawInputs:
    universe: list[str]
    bars: dict[str, BarSeries]
    texts: pl.DataFrame
    reference: str | None
    sources: dict[str, str]


@dataclass(eq=False)
class LoadedInputs:
    inputs: dict[str, SymbolInputs]
    embeddings: Float32Array
    reference: str | None
    sources: dict[str, str]
    texts: pl.DataFrame  # the text rows the inputs were read from


class FeatureBuilder:
    """Computes and stores features; the same object serves lookahead and validation."""

    def __init__(
        self,
        lake: Lake,
        state_dir: Path,
        config: FeaturesConfig | None = None,
        units: Sequence[Unit] | None = None,
        embedder: Embedder | None = None,
    ) -> None:
        self.lake = lake
        self.state_dir = Path(state_dir)
        self.config = config or FeaturesConfig()
        self.units = list(units) if units is not None else default_units(self.config)
        self.pipeline = FeaturePipeline(self.config, self.units)
        self.contract: FeatureContract = self.pipeline.contract
        if embedder is not None and embedder.id != embedder_id_for(self.config):
            raise ConfigurationError(
                f"embedder {embedder.id} is not the one the configuration names "
                f"({embedder_id_for(self.config)}); the contract hash records the embedder",
                field="features.embedder",
                fix="set features.embedder to match, or pass no embedder",
            )
        self._embedder = embedder
        self._cache: EmbeddingCache | None = None

    # ------------------------------------------------------------------ inputs

    @property
    def embedder_id(self) -> str:
        return self._embedder.id if self._embedder is not None else embedder_id_for(self.config)

    @property
    def embedder_kind(self) -> str:
        return self._embedder.kind if self._embedder is not None else self.config.embedder

    @property
    def cache(self) -> EmbeddingCache:
        if self._cache is None:
            if self._embedder is None:
                self._embedder = make_embedder(self.config, self.state_dir / "embedders")
            self._cache = EmbeddingCache(self.state_dir / "embeddings", self._embedder)
        return self._cache

    def resolve_symbols(self, symbols: Sequence[str] | None) -> list[str]:
        available = self.lake.symbols(BARS_1H.name)
        if symbols is None:
            return available
        missing = sorted(set(symbols) - set(available))
        if missing:
            raise DataError(
                f"no bars_1h in the lake for {missing}",
                source=BARS_1H.name,
                fix="ingest them first (`quantgate data ...`) or leave them out of --symbols",
            )
        return sorted(set(symbols))

    def load_raw(self, symbols: Sequence[str], texts_for: datetime | None = None) -> RawInputs:
        """Every bar of the universe and the reference, and the universe's texts (only those a
        decision at or after `texts_for` can read, when given)."""
        reference = self.config.resolve_reference(self.lake.symbols(BARS_1H.name))
        everyone = sorted(set(symbols) | ({reference} if reference else set()))
        sources = select_sources(self.lake, everyone, self.config.bar_source)
        bars = {s: load_bars(self.lake, s, sources[s]) for s in everyone if s in sources}
        after = None
        if texts_for is not None:
            reach = self.pipeline.text_reach_us + HOUR_US
            after = micros_to_datetime(datetime_to_micros(texts_for) - reach)
        texts = load_texts(self.lake, list(symbols), available_after=after)
        return RawInputs(list(symbols), bars, texts, reference, sources)

    def prepare(
        self,
        raw: RawInputs,
        *,
        texts_after: datetime | None = None,
        embed: bool = True,
        progress: ProgressFn | None = None,
    ) -> LoadedInputs:
        """Pipeline inputs; only texts a decision after `texts_after` reads are embedded."""
        reach = self.pipeline.text_reach_us
        needed = raw.texts
        if texts_after is not None and reach:
            window_start = micros_to_datetime(datetime_to_micros(texts_after) - reach - HOUR_US)
            needed = needed.filter(pl.col("available_at") > window_start)
        if embed and self.pipeline.social_columns and needed.height:

            def report(done: int, total: int) -> None:
                if progress is not None:
                    progress("embedding texts", done, total)

            embeddings, rows, _ = self.cache.vectors(
                needed["content"].to_list(), report, needed["content_hash"].to_list()
            )
        else:
            rows = np.zeros(needed.height, dtype=np.int64)
            embeddings = np.zeros((1, EMBEDDING_DIMS), dtype=np.float32)
        symbol_column = needed["symbol"].to_numpy() if needed.height else np.array([], dtype=object)
        inputs: dict[str, SymbolInputs] = {}
        for symbol, bars in raw.bars.items():
            mask = symbol_column == symbol
            own_texts = (
                text_series(symbol, needed.filter(pl.Series(mask)), rows[mask])
                if mask.any()
                else TextSeries.empty(symbol)
            )
            meta = SymbolMeta(
                symbol, raw.sources[symbol], self.config.bucket_of(symbol), symbol in raw.universe
            )
            inputs[symbol] = SymbolInputs.of(meta, bars, own_texts)
        return LoadedInputs(inputs, embeddings, raw.reference, raw.sources, raw.texts)

    def load(
        self,
        symbols: Sequence[str],
        *,
        texts_after: datetime | None = None,
        embed: bool = True,
        progress: ProgressFn | None = None,
    ) -> LoadedInputs:
        return self.prepare(
            self.load_raw(symbols), texts_after=texts_after, embed=embed, progress=progress
        )

    def compute_at(
        self,
        loaded: LoadedInputs,
        moments: Sequence[int],
        symbols_at: Mapping[int, Sequence[str]] | None = None,
        latent: MarketLatent | None = None,
    ) -> dict[str, pl.DataFrame]:
        """Feature rows at each decision time in `moments` (µs) from the inputs known then only.

        Each moment is computed from scratch on the warm-up window before it, as live
        inference would; `symbols_at` limits which symbols get a row at each moment.
        """
        pipeline = self.pipeline
        reach = pipeline.text_reach_us
        margin = (pipeline.warmup_bars + pipeline.max_fill + 2) * HOUR_US
        parts: dict[str, list[pl.DataFrame]] = {
            d: [] for d in (MAIN_DATASET, SOCIAL_DATASET, LATENT_DATASET)
        }
        for moment in moments:
            inputs: dict[str, SymbolInputs] = {}
            for symbol, full in loaded.inputs.items():
                known = full.known_at(moment, moment - margin, moment - reach - HOUR_US)
                if len(known.bars):
                    inputs[symbol] = known
            wanted = set(symbols_at[moment]) if symbols_at is not None else set(inputs)
            if loaded.reference is not None:
                wanted.add(loaded.reference)
            asofs = {s: np.array([moment], dtype=np.int64) for s in inputs if s in wanted}
            out = pipeline.compute(
                inputs,
                loaded.embeddings,
                asofs,
                loaded.reference,
                latent,
                contract_hash=self.contract.contract_hash,
                embedder=self.embedder_id,
            )
            for dataset, frame in out.items():
                if not frame.is_empty():
                    parts[dataset].append(frame)
        return {d: pl.concat(f, how="vertical") if f else pl.DataFrame() for d, f in parts.items()}

    def feature_rows_at(
        self,
        moment: datetime,
        symbols: Sequence[str] | None = None,
        latent: MarketLatent | None = None,
    ) -> pl.DataFrame:
        """The feature matrix (contract order) at one decision time, computed from the lake
        as known at that time — what live inference sees. `latent` defaults to the stored fit."""
        universe = self.resolve_symbols(symbols)
        micros = datetime_to_micros(moment)
        loaded = self.prepare(self.load_raw(universe, texts_for=moment), texts_after=moment)
        fit = latent or self.current_latent()
        out = self.compute_at(loaded, [micros], {micros: universe}, fit)
        merged = out[MAIN_DATASET]
        if merged.is_empty():
            return merged
        for dataset in (SOCIAL_DATASET, LATENT_DATASET):
            frame = out[dataset]
            columns = self.contract.dataset_columns(dataset)
            if frame.is_empty() or not columns:
                continue
            merged = merged.join(
                frame.select(
                    *KEY, pl.col("max_input_available_at").alias(f"__p_{dataset}"), *columns
                ),
                on=list(KEY),
                how="left",
            )
        extra = [c for c in merged.columns if c.startswith("__p_")]
        merged = merged.with_columns(
            pl.max_horizontal(["max_input_available_at", *extra]).alias("max_input_available_at")
        )
        names = [n for n in self.contract.names if n in merged.columns]
        return merged.select(*KEY, "max_input_available_at", *names)

    # ------------------------------------------------------------------ state

    def _latent_path(self, fit_hash: str) -> Path:
        return self.state_dir / "market_latent" / f"{fit_hash}.json"

    def save_latent(self, latent: MarketLatent) -> Path:
        path = self._latent_path(latent.fit_hash)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(latent.to_dict()))
        temporary.replace(path)
        return path

    def load_latent(self, fit_hash: str) -> MarketLatent | None:
        path = self._latent_path(fit_hash)
        if not path.is_file():
            return None
        latent = MarketLatent.from_dict(json.loads(path.read_text()))
        return latent if latent.fit_hash == fit_hash else None

    def current_latent(self) -> MarketLatent | None:
        """The fit the stored market_latent rows were made with."""
        stored = read_dataset(self.lake, LATENT_DATASET, columns=["fit_hash"])
        if stored.is_empty():
            return None
        hashes = stored["fit_hash"].unique().to_list()
        if len(hashes) != 1:
            return None
        return self.load_latent(str(hashes[0]))

    def _text_fingerprints(self, texts: pl.DataFrame, symbol: str, upto: int) -> dict[str, str]:
        own = texts.filter(pl.col("symbol") == symbol)
        series = text_series(symbol, own, np.zeros(own.height, dtype=np.int64))
        return fingerprint_texts(series, upto)

    # ------------------------------------------------------------------ build

    def build(
        self,
        symbols: Sequence[str] | None = None,
        *,
        checkpoints: Checkpoints | None = None,
        full: bool = False,
        progress: ProgressFn | None = None,
    ) -> dict[str, Any]:
        began = time.perf_counter()
        universe = self.resolve_symbols(symbols)
        contract_hash = self.contract.contract_hash
        report: dict[str, Any] = {
            "contract_hash": contract_hash,
            "width": self.contract.width,
            "blocks": self.contract.blocks,
            "symbols": universe,
            "embedder": {"kind": self.embedder_kind, "id": self.embedder_id},
        }
        if not universe:
            report.update(mode="nothing_to_do", reason="no bars_1h in the lake")
            return report
        reference = self.config.resolve_reference(self.lake.symbols(BARS_1H.name))
        sources_now = select_sources(
            self.lake,
            sorted(set(universe) | ({reference} if reference else set())),
            self.config.bar_source,
        )
        previous = checkpoints.get(GLOBAL_KEY) if checkpoints is not None else None
        reason = self._rebuild_reason(
            full, contract_hash, universe, reference, sources_now, previous
        )
        if reason is not None:
            delete_feature_datasets(self.lake)
            if checkpoints is not None:
                checkpoints.clear()
        # main and social rows are computed together; the latent follows the stored main rows
        computed_sets = [MAIN_DATASET, SOCIAL_DATASET]
        last_stored = self._last_stored(universe, computed_sets)
        raw = self.load_raw(universe)
        starts: dict[str, int] = {}
        changed_years: dict[str, list[str]] = {}
        for symbol in universe:
            if symbol not in raw.bars:
                continue
            grid = self.pipeline.asof_grid(raw.bars[symbol])
            if grid.shape[0] == 0:
                continue
            start = int(grid[0])
            last = last_stored.get(symbol)
            if last is not None:
                start = max(start, last + HOUR_US)
                state = checkpoints.get(symbol) if checkpoints is not None else None
                if state is not None and "upto" in state:
                    first_changed = self._first_changed(raw, symbol, state)
                    if first_changed is not None:
                        changed_years[symbol] = [str(first_changed.year)]
                        start = min(start, int(grid[grid >= datetime_to_micros(first_changed)][0]))
            starts[symbol] = start
        overall = min(starts.values()) if starts else None
        asofs: dict[str, IntArray] = {}
        for symbol in universe:
            if symbol in starts and overall is not None:
                grid = self.pipeline.asof_grid(raw.bars[symbol])
                asofs[symbol] = grid[grid >= overall]
        # the reference is part of the panel even when it is not in the universe
        if (
            overall is not None
            and reference is not None
            and reference not in asofs
            and reference in raw.bars
        ):
            grid = self.pipeline.asof_grid(raw.bars[reference])
            asofs[reference] = grid[grid >= overall]
        todo = sum(int(asofs[s].shape[0]) for s in universe if s in asofs)
        report.update(
            mode="full" if reason is not None or not last_stored else "incremental",
            rebuild_reason=reason,
            reference_symbol=reference,
            sources=sources_now,
            changed_input_years=changed_years,
            fingerprints_checked=checkpoints is not None,
            rows_computed=0,
            rows_computed_by_symbol={},
        )
        manifest = data_manifest_hash(self.lake, sorted(raw.bars))
        written = {MAIN_DATASET: 0, SOCIAL_DATASET: 0, LATENT_DATASET: 0}
        if todo and overall is not None:
            report["start"] = micros_to_datetime(overall).isoformat()
            report["end"] = max(
                micros_to_datetime(int(a[-1])) for a in asofs.values() if a.shape[0]
            ).isoformat()
            loaded = self.prepare(raw, texts_after=micros_to_datetime(overall), progress=progress)
            written.update(self._compute_and_write(loaded, asofs, manifest, progress, report))
            del loaded
        latent_info = self._latent(raw, universe, manifest, reason is not None, progress, written)
        report["market_latent"] = latent_info
        report["rows_written"] = written
        if not todo and not written[LATENT_DATASET]:
            report["mode"] = "up_to_date"
        if checkpoints is not None and (todo or written[LATENT_DATASET]):
            self._checkpoint(checkpoints, raw, universe, reference, contract_hash, latent_info)
        seconds = time.perf_counter() - began
        rows = int(report["rows_computed"])
        report.update(
            data_manifest_hash=manifest,
            seconds=round(seconds, 3),
            rows_per_second=round(rows / seconds, 1) if seconds > 0 and rows else None,
            peak_rss_mib=round(peak_rss_mib(), 1),
            embedding_cache=self._cache.stats.as_dict() if self._cache is not None else None,
        )
        return report

    def _rebuild_reason(
        self,
        full: bool,
        contract_hash: str,
        universe: list[str],
        reference: str | None,
        sources: dict[str, str],
        previous: dict[str, Any] | None,
    ) -> str | None:
        if full:
            return "requested (--full)"
        stored_hashes: set[str] = set()
        for dataset in (MAIN_DATASET, SOCIAL_DATASET, LATENT_DATASET):
            for hashes in stored_state(self.lake, dataset)["contract_hashes"].to_list():
                stored_hashes.update(hashes)
        if stored_hashes - {contract_hash}:
            return (
                f"contract hash changed (stored {sorted(stored_hashes)[:3]}, now {contract_hash}): "
                "full rebuild"
            )
        if previous is not None:
            if previous.get("contract_hash") not in (None, contract_hash):
                return "contract hash changed since the last build: full rebuild"
            if previous.get("symbols") not in (None, universe):
                return (
                    f"universe changed ({previous.get('symbols')} → {universe}); cross-sectional "
                    "features depend on it: full rebuild"
                )
            if previous.get("reference") != reference:
                before = previous.get("reference")
                return f"reference symbol changed ({before} → {reference}): full rebuild"
            if previous.get("sources") not in (None, sources):
                return f"bars sources changed ({previous.get('sources')} → {sources}): full rebuild"
        return None

    def _last_stored(self, universe: list[str], datasets: Sequence[str]) -> dict[str, int]:
        """Per symbol, the last asof present in every one of `datasets` the contract writes."""
        wanted = [d for d in datasets if self.contract.dataset_columns(d)]
        last: dict[str, int] = {}
        missing: set[str] = set()
        for dataset in wanted:
            state = stored_state(self.lake, dataset)
            found = {
                row["symbol"]: datetime_to_micros(row["last_asof"])
                for row in state.iter_rows(named=True)
            }
            for symbol in universe:
                if symbol not in found:
                    missing.add(symbol)
                else:
                    last[symbol] = min(last.get(symbol, found[symbol]), found[symbol])
        return {s: v for s, v in last.items() if s not in missing}

    def _first_changed(self, raw: RawInputs, symbol: str, state: dict[str, Any]) -> datetime | None:
        upto = int(state["upto"])
        now_bars = fingerprint_bars(raw.bars[symbol], upto)
        now_texts = self._text_fingerprints(raw.texts, symbol, upto)
        changed: list[int] = []
        for now, before in ((now_bars, state.get("bars", {})), (now_texts, state.get("texts", {}))):
            for year in set(now) | set(before):
                if now.get(year) != before.get(year):
                    changed.append(int(year))
        if not changed:
            return None
        return datetime(min(changed), 1, 1, tzinfo=UTC)

    def _compute_and_write(
        self,
        loaded: LoadedInputs,
        asofs: Mapping[str, IntArray],
        manifest: str,
        progress: ProgressFn | None,
        report: dict[str, Any],
    ) -> dict[str, int]:
        pipeline = self.pipeline
        contract_hash = self.contract.contract_hash
        reference = loaded.reference
        reference_bars = loaded.inputs[reference].bars if reference in loaded.inputs else None
        results: dict[str, SymbolResult] = {}
        written = {MAIN_DATASET: 0, SOCIAL_DATASET: 0, LATENT_DATASET: 0}
        order = [s for s in loaded.inputs if s in asofs]
        computed_rows: dict[str, int] = {}
        revised = 0
        for done, symbol in enumerate(order):
            inputs = loaded.inputs[symbol]
            result = pipeline.symbol_result(
                inputs, reference_bars, loaded.embeddings, asofs[symbol]
            )
            revised += result.revised_rows
            if inputs.meta.in_universe:
                computed_rows[symbol] = int(result.asofs.shape[0])
                if pipeline.social_columns:
                    social = pipeline.social_frame(
                        result, contract_hash, manifest, self.embedder_id
                    )
                    outcome = self.lake.upsert(
                        SOCIAL_DATASET, social, key=list(KEY), time_column="asof"
                    )
                    written[SOCIAL_DATASET] += outcome.written
                    del social
            for column in pipeline.social_columns:
                result.values.pop(column, None)
            results[symbol] = result
            if progress is not None:
                progress("computing features", done + 1, len(order))
        loaded.embeddings = np.zeros((1, EMBEDDING_DIMS), dtype=np.float32)  # no longer needed
        metas = {s: i.meta for s, i in loaded.inputs.items()}
        panel = pipeline.panel_frame(results, metas, reference) if pipeline.panel_units else None
        universe = [s for s in order if loaded.inputs[s].meta.in_universe]
        for done, symbol in enumerate(universe):
            main = pipeline.main_frame(
                results[symbol], panel, loaded.inputs[symbol].meta.source, contract_hash, manifest
            )
            outcome = self.lake.upsert(MAIN_DATASET, main, key=list(KEY), time_column="asof")
            written[MAIN_DATASET] += outcome.written
            del main
            results.pop(symbol)
            if progress is not None:
                progress("writing snapshots", done + 1, len(universe))
        report["rows_computed"] = sum(computed_rows.values())
        report["rows_computed_by_symbol"] = computed_rows
        report["late_bar_recomputations"] = revised
        return written

    def _latent(
        self,
        raw: RawInputs,
        universe: list[str],
        manifest: str,
        rebuilt: bool,
        progress: ProgressFn | None,
        written: dict[str, int],
    ) -> dict[str, Any] | None:
        """market_latent rows for every stored main row that has none yet (all rows on a refit)."""
        if self.pipeline.latent_unit is None:
            return None
        stored_main = stored_state(self.lake, MAIN_DATASET)
        if stored_main.is_empty():
            return None
        latent = None if rebuilt else self.current_latent()
        configured = (self.config.latent_fit_start, self.config.latent_fit_end)
        refit = (
            latent is None
            or latent.contract_hash != self.contract.contract_hash
            or (None not in configured and (latent.fit_start, latent.fit_end) != configured)
        )
        if refit:
            latent = self.fit_latent(raw)
            self.save_latent(latent)
            self.lake.delete_dataset(LATENT_DATASET)
        assert latent is not None
        done_until = {
            row["symbol"]: row["last_asof"]
            for row in stored_state(self.lake, LATENT_DATASET).iter_rows(named=True)
        }
        columns = [*KEY, "max_input_available_at", "contract_hash", *self.pipeline.latent_inputs]
        symbols = [s for s in universe if s in set(stored_main["symbol"].to_list())]
        for done, symbol in enumerate(symbols):
            after = done_until.get(symbol)
            start = after + timedelta(microseconds=1) if after is not None else None
            main = read_dataset(self.lake, MAIN_DATASET, [symbol], start=start, columns=columns)
            if main.height:
                rows = self.pipeline.latent_frame(main, latent, manifest)
                outcome = self.lake.upsert(LATENT_DATASET, rows, key=list(KEY), time_column="asof")
                written[LATENT_DATASET] += outcome.written
            if progress is not None:
                progress("market latent", done + 1, len(symbols))
        return {
            "fit_hash": latent.fit_hash,
            "fit_start": latent.fit_start.isoformat(),
            "fit_end": latent.fit_end.isoformat(),
            "fit_rows": latent.fit_rows,
            "n_components": latent.n_components,
            "explained_variance": round(float(latent.explained_variance_ratio.sum()), 4),
            "refit": refit,
            "path": str(self._latent_path(latent.fit_hash)),
        }

    def fit_window(self, raw: RawInputs) -> tuple[datetime, datetime]:
        """The configured window, else the first `latent_fit_fraction` of the decision times."""
        if self.config.latent_fit_start is not None and self.config.latent_fit_end is not None:
            return self.config.latent_fit_start, self.config.latent_fit_end
        grids = [self.pipeline.asof_grid(raw.bars[s]) for s in raw.universe if s in raw.bars]
        grids = [g for g in grids if g.shape[0]]
        first = micros_to_datetime(min(int(g[0]) for g in grids))
        last = micros_to_datetime(max(int(g[-1]) for g in grids))
        start, end = fit_window_default(first, last, self.config.latent_fit_fraction)
        return self.config.latent_fit_start or start, self.config.latent_fit_end or end

    def fit_latent(self, raw: RawInputs) -> MarketLatent:
        """Fit the market latent on the stored market block inside the declared window only."""
        start, end = self.fit_window(raw)
        frame = read_dataset(
            self.lake,
            MAIN_DATASET,
            raw.universe,
            start,
            end,
            columns=[*KEY, *self.pipeline.latent_inputs],
        )
        assert self.pipeline.latent_unit is not None
        n_components = len(self.pipeline.latent_columns) - 1
        return MarketLatent.fit(
            frame,
            self.pipeline.latent_inputs,
            n_components,
            start,
            end,
            self.contract.contract_hash,
        )

    def _checkpoint(
        self,
        checkpoints: Checkpoints,
        raw: RawInputs,
        universe: list[str],
        reference: str | None,
        contract_hash: str,
        latent_info: dict[str, Any] | None,
    ) -> None:
        last_stored = self._last_stored(universe, [MAIN_DATASET, SOCIAL_DATASET, LATENT_DATASET])
        for symbol in universe:
            upto = last_stored.get(symbol)
            if upto is None:
                continue
            checkpoints.put(
                symbol,
                {
                    "done": True,
                    "contract_hash": contract_hash,
                    "upto": upto,
                    "last_asof": micros_to_datetime(upto).isoformat(),
                    "source": raw.sources.get(symbol),
                    "bars": fingerprint_bars(raw.bars[symbol], upto),
                    "texts": self._text_fingerprints(raw.texts, symbol, upto),
                },
            )
        checkpoints.put(
            GLOBAL_KEY,
            {
                "contract_hash": contract_hash,
                "symbols": universe,
                "reference": reference,
                "sources": raw.sources,
                "fit_hash": latent_info["fit_hash"] if latent_info else None,
                "embedder": self.embedder_id,
            },
        )
