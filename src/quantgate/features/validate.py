"""The leakage validators: `validate-asof` and `lookahead`.

validate-asof — for every stored row (or a stated random sample), recompute from
the lake, independently of the builder, the latest available_at among the input
rows it draws on, and compare:

- the rows' *recorded* `max_input_available_at` against the recomputation
  (`provenance_mismatch_count`);
- which inputs each feature actually reads is *measured*, not declared: a
  dependency probe recomputes each unit with the inputs after a probe point cut
  away, k = 0, 1, 2 … steps ahead, and finds how far ahead each feature reads
  (its lead). A feature with lead L at row t draws on the inputs known at the
  anchor + L bars (bar units) or at t + L hours (text and panel units);
- `future_leakage_count` = rows whose recomputed provenance (recorded, or of any
  feature holding a value) is later than the row's asof; the features that cause
  it are named in `leaking_features`;
- `snapshot_time_consistency` = share of the hourly decision times, as-of joined
  (backward) to the stored snapshots, whose snapshot asof equals the decision time.

lookahead — pick cut points (seeded), recompute every feature at each cut from
the lake truncated to rows with available_at <= cut (the warm-up window only),
and compare with the stored full-history values; any difference is lookahead
bias, counted per feature.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import polars as pl

from quantgate.features.build import FeatureBuilder, LoadedInputs
from quantgate.features.inputs import micros_to_datetime, text_series
from quantgate.features.ops import Float32Array, FloatArray
from quantgate.features.pipeline import SymbolInputs
from quantgate.features.series import HOUR_US, NONE_TIME, BarSeries, TextSeries, build_grid
from quantgate.features.store import KEY, PROVENANCE, read_dataset
from quantgate.features.units import (
    LATENT_DATASET,
    MAIN_DATASET,
    SOCIAL_DATASET,
    AsofContext,
    AsofUnit,
    BarUnit,
    PanelUnit,
)

ProgressFn = Callable[[str, int, int], None]
UTC_TIME = pl.Datetime("us", "UTC")
MIN_SAMPLE_ROWS = 10_000
PROBE_MAX_LEAD = 24  # steps ahead the probe looks for a dependency
RELATIVE_TOLERANCE = 1e-6
ABSOLUTE_TOLERANCE = 1e-9


def _same(a: FloatArray, b: FloatArray) -> np.ndarray[Any, np.dtype[np.bool_]]:
    both_nan = np.isnan(a) & np.isnan(b)
    close = (
        np.abs(a - b) <= RELATIVE_TOLERANCE * np.maximum(np.abs(a), np.abs(b)) + ABSOLUTE_TOLERANCE
    )
    return np.asarray(both_nan | (close & ~np.isnan(a) & ~np.isnan(b)), dtype=np.bool_)


def _as_float(frame: pl.DataFrame, columns: Sequence[str]) -> FloatArray:
    """The columns as one float64 matrix, nulls as NaN."""
    selected = frame.select(pl.col(c).cast(pl.Float64).fill_null(np.nan) for c in columns)
    return np.asarray(selected.to_numpy(), dtype=np.float64).reshape(frame.height, len(columns))


# --------------------------------------------------------------------------- the probe


class DependencyProbe:
    """Measures how far ahead (in bars / hours) each feature of each unit reads."""

    def __init__(
        self, builder: FeatureBuilder, loaded: LoadedInputs, seed: int, probes: int = 6
    ) -> None:
        self.builder = builder
        self.pipeline = builder.pipeline
        self.loaded = loaded
        self.rng = np.random.default_rng(seed)
        self.probes = probes
        self.counts = {"bar": 0, "text": 0, "panel": 0}

    def _symbols(self) -> list[str]:
        return [s for s, i in self.loaded.inputs.items() if i.meta.in_universe and len(i.bars)]

    def bar_leads(self) -> dict[str, int]:
        leads: dict[str, int] = {}
        units = self.pipeline.bar_units
        if not units:
            return leads
        warmup = self.pipeline.warmup_bars
        reference = self.loaded.inputs.get(self.loaded.reference or "")
        reference_bars = reference.bars if reference is not None else None
        for symbol in self._symbols():
            bars = self.loaded.inputs[symbol].bars
            n = len(bars)
            if n < 3:
                continue
            lo = min(n - 2, warmup // 4)
            positions = sorted(set(self.rng.integers(lo, n - 1, size=self.probes).tolist()))
            for p in positions:
                probe = _BarProbe(
                    bars, reference_bars, int(bars.ts[p]), warmup, self.pipeline.max_fill
                )
                for unit in units:
                    found = _leads(lambda k, u=unit, pr=probe: pr.values(u, k))  # type: ignore[misc]
                    self.counts["bar"] += probe.runs
                    probe.runs = 0
                    for column, lead in found.items():
                        leads[column] = max(leads.get(column, 0), lead)
        return leads

    def text_leads(self, texts: pl.DataFrame) -> dict[str, int]:
        """`texts`: the text rows of the universe (load_texts); only the texts around the
        probe times are embedded (from the cache), in one lookup."""
        leads: dict[str, int] = {}
        units = [u for u in self.pipeline.asof_units if u.reads_texts]
        if not units or texts.is_empty():
            return leads
        reach = self.pipeline.text_reach_us + HOUR_US
        ahead = (PROBE_MAX_LEAD + 1) * HOUR_US
        windows: list[tuple[str, int, pl.DataFrame]] = []
        for symbol in self._symbols():
            own = texts.filter(pl.col("symbol") == symbol)
            if own.is_empty():
                continue
            available = own["available_at"].dt.epoch("us").to_numpy()
            count = min(self.probes, available.shape[0])
            for moment in sorted(int(m) for m in self.rng.choice(available, count, replace=False)):
                near = (available > moment - reach) & (available <= moment + ahead)
                windows.append((symbol, moment, own.filter(pl.Series(near))))
        if not windows:
            return leads
        every = pl.concat([w for _, _, w in windows], how="vertical")
        matrix, rows, _ = self.builder.cache.vectors(
            every["content"].to_list(), hashes=every["content_hash"].to_list()
        )
        offset = 0
        for symbol, moment, window in windows:
            series = text_series(symbol, window, rows[offset : offset + window.height])
            offset += window.height
            probe = _TextProbe(self.loaded.inputs[symbol], series, moment, matrix)
            for unit in units:
                found = _leads(lambda k, u=unit, pr=probe: pr.values(u, k))  # type: ignore[misc]
                self.counts["text"] += probe.runs
                probe.runs = 0
                for column, lead in found.items():
                    leads[column] = max(leads.get(column, 0), lead)
        return leads

    def panel_leads(self, panel: pl.DataFrame) -> dict[str, int]:
        """`panel`: stored main rows (symbol, asof µs, bucket, flags, the panel inputs)."""
        leads: dict[str, int] = {}
        if panel.is_empty():
            return leads
        times = np.unique(panel["asof"].to_numpy())
        if times.shape[0] < 2:
            return leads
        chosen = self.rng.choice(
            times[:-1], size=min(self.probes, times.shape[0] - 1), replace=False
        )
        for moment in sorted(int(m) for m in chosen):
            near = panel.filter(
                (pl.col("asof") >= moment - 48 * HOUR_US)
                & (pl.col("asof") <= moment + (PROBE_MAX_LEAD + 1) * HOUR_US)
            )
            for unit in self.pipeline.panel_units:
                full = _panel_at(unit, near, moment)
                self.counts["panel"] += 1
                pending = set(unit.columns())
                for k in range(PROBE_MAX_LEAD + 1):
                    if not pending:
                        break
                    now = _panel_at(
                        unit, near.filter(pl.col("asof") <= moment + k * HOUR_US), moment
                    )
                    self.counts["panel"] += 1
                    for column in sorted(pending):
                        joined = full.join(now, on="symbol", how="left", suffix="__now")
                        a = joined[column].cast(pl.Float64).fill_null(np.nan).to_numpy()
                        b = joined[f"{column}__now"].cast(pl.Float64).fill_null(np.nan).to_numpy()
                        if bool(_same(a, b).all()):
                            pending.discard(column)
                            if k:
                                leads[column] = max(leads.get(column, 0), k)
                for column in pending:
                    leads[column] = PROBE_MAX_LEAD + 1
        return leads


def _leads(values_at: Callable[[int], dict[str, float]]) -> dict[str, int]:
    """Per column, the smallest k (steps of future input kept) giving the full-input value;
    PROBE_MAX_LEAD + 1 when even PROBE_MAX_LEAD steps do not. Only k > 0 is returned."""
    full = values_at(PROBE_MAX_LEAD + 1)
    pending = set(full)
    found: dict[str, int] = {}
    for k in range(PROBE_MAX_LEAD + 1):
        if not pending:
            break
        now = values_at(k)
        for column in sorted(pending):
            if _same(np.array([now[column]]), np.array([full[column]]))[0]:
                pending.discard(column)
                if k:
                    found[column] = k
    for column in pending:
        found[column] = PROBE_MAX_LEAD + 1
    return found


class _BarProbe:
    """A bar unit's value at one bar, with the bars after it cut k bars ahead."""

    def __init__(
        self,
        bars: BarSeries,
        reference: BarSeries | None,
        probe_ts: int,
        warmup: int,
        max_fill: int,
    ) -> None:
        self.bars, self.reference, self.probe_ts = bars, reference, probe_ts
        self.start = probe_ts - warmup * HOUR_US
        self.max_fill = max_fill
        self.runs = 0

    def values(self, unit: BarUnit, k: int) -> dict[str, float]:
        cut = self.probe_ts + k * HOUR_US
        own = _upto(self.bars, self.start, cut)
        ref = _upto(self.reference, self.start, cut) if self.reference is not None else None
        grid = build_grid(own, ref, self.max_fill)
        row = int(grid.row_of(np.array([self.probe_ts], dtype=np.int64))[0])
        self.runs += 1
        return {
            c: float(v[row]) if row >= 0 else float("nan") for c, v in unit.compute(grid).items()
        }


class _TextProbe:
    """A text-reading unit's value at one decision time, with texts known k hours later."""

    def __init__(
        self, inputs: SymbolInputs, texts: TextSeries, moment: int, embeddings: Float32Array
    ) -> None:
        self.inputs, self.texts, self.moment, self.embeddings = inputs, texts, moment, embeddings
        self.asof = np.array([moment], dtype=np.int64)
        self.anchor, _, _ = inputs.bars.anchors(self.asof)
        self.listing = inputs.listing.at(self.asof)
        self.runs = 0

    def values(self, unit: AsofUnit, k: int) -> dict[str, float]:
        texts = self.texts.known_at(self.moment + k * HOUR_US)
        context = AsofContext(
            self.inputs.meta.symbol, self.asof, self.anchor, self.listing, texts, self.embeddings
        )
        self.runs += 1
        return {c: float(v[0]) for c, v in unit.compute(context).items()}


def _upto(bars: BarSeries, start: int, cut: int) -> BarSeries:
    window = bars.window(start)
    keep = window.ts <= cut
    return BarSeries(
        window.symbol,
        window.source,
        window.ts[keep],
        window.available_at[keep],
        window.open[keep],
        window.high[keep],
        window.low[keep],
        window.close[keep],
        window.volume[keep],
    )


def _panel_at(unit: PanelUnit, panel: pl.DataFrame, moment: int) -> pl.DataFrame:
    return unit.compute(panel).filter(pl.col("asof") == moment).drop("asof").sort("symbol")


# --------------------------------------------------------------------------- validate-asof


def _foreign_contracts(stored: dict[str, pl.DataFrame], contract_hash: str) -> str | None:
    for dataset, frame in stored.items():
        if frame.is_empty():
            continue
        hashes = set(frame["contract_hash"].unique().to_list())
        if hashes != {contract_hash}:
            return (
                f"{dataset} was built with contract {sorted(hashes)}, the configuration gives "
                f"{contract_hash}: check the embedder / settings, or rebuild"
            )
    return None


def _bars_frame(bars: BarSeries) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "ts": pl.Series("ts", bars.ts, dtype=pl.Int64),
            "available_at": pl.Series("available_at", bars.available_at, dtype=pl.Int64),
        }
    )


def _latest_known(rows: pl.DataFrame, at: str, events: pl.DataFrame, name: str) -> pl.DataFrame:
    """rows + `name`: the largest events.available_at <= rows[at] (independent of the builder)."""
    known = (
        events.select(pl.col("available_at").alias(name))
        .sort(name)
        .with_columns(pl.col(name).alias("__key"))
    )
    return (
        rows.sort(at)
        .join_asof(known, left_on=at, right_on="__key", strategy="backward")
        .drop("__key")
    )


def _reach_of(rows: pl.DataFrame, ts_at: str, bars: BarSeries, name: str) -> pl.DataFrame:
    """rows + `name`: the largest available_at among bars opening at or before rows[ts_at]."""
    frame = _bars_frame(bars).sort("ts").with_columns(pl.col("available_at").cum_max().alias(name))
    return (
        rows.sort(ts_at)
        .join_asof(frame.select("ts", name), left_on=ts_at, right_on="ts", strategy="backward")
        .drop("ts", strict=False)
    )


def snapshot_consistency(frame: pl.DataFrame, delay_us: int) -> tuple[int, int]:
    """(decision times whose as-of joined snapshot has asof == the time, decision times)."""
    equal = total = 0
    for _, part in frame.group_by("symbol"):
        stored = np.sort(part["asof"].to_numpy())
        if stored.shape[0] == 0:
            continue
        first = stored[0] - ((stored[0] - delay_us) % HOUR_US)
        grid = np.arange(first, stored[-1] + 1, HOUR_US, dtype=np.int64)
        position = np.searchsorted(stored, grid, side="right") - 1
        joined = np.where(position >= 0, stored[np.maximum(position, 0)], NONE_TIME)
        equal += int((joined == grid).sum())
        total += int(grid.shape[0])
    return equal, total


def validate_asof(
    builder: FeatureBuilder,
    symbols: Sequence[str] | None = None,
    *,
    sample_rows: int = 0,
    seed: int = 7,
    progress: ProgressFn | None = None,
) -> dict[str, Any]:
    universe = builder.resolve_symbols(symbols)
    pipeline = builder.pipeline
    raw = builder.load_raw(universe)
    loaded = builder.prepare(raw, embed=False)
    delay = pipeline.delay_us
    reach = pipeline.text_reach_us
    contract = builder.contract
    report: dict[str, Any] = {"contract_hash": contract.contract_hash, "symbols": universe}
    narrow = ["symbol", "asof", PROVENANCE, "contract_hash"]

    main = read_dataset(
        builder.lake, MAIN_DATASET, universe, columns=[*narrow, *pipeline.panel_inputs]
    )
    if main.is_empty():
        report.update(passed=False, reason="no feature snapshots stored; run `features build`")
        report.update(future_leakage_count=None, snapshot_time_consistency=None)
        return report
    stored: dict[str, pl.DataFrame] = {MAIN_DATASET: main}
    for dataset in (SOCIAL_DATASET, LATENT_DATASET):
        if contract.dataset_columns(dataset):
            stored[dataset] = read_dataset(builder.lake, dataset, universe, columns=narrow)
    foreign = _foreign_contracts(stored, contract.contract_hash)
    if foreign:
        report.update(passed=False, reason=foreign, future_leakage_count=None)
        report.update(snapshot_time_consistency=None)
        return report

    # 1. snapshot time consistency, on every row
    consistency: dict[str, Any] = {}
    equal_all = total_all = 0
    for dataset, frame in stored.items():
        ints = frame.select("symbol", pl.col("asof").dt.epoch("us"))
        equal, total = snapshot_consistency(ints, delay)
        equal_all += equal
        total_all += total
        consistency[dataset] = round(equal / total, 6) if total else None

    # 2. which rows
    total_rows = main.height
    rng = np.random.default_rng(seed)
    sampled = 0 < sample_rows < total_rows
    if sampled:
        chosen = np.sort(rng.choice(total_rows, size=sample_rows, replace=False))
        keys = main.select(*KEY)[chosen]
    else:
        keys = main.select(*KEY)

    # 3. measured dependency of every feature
    if progress is not None:
        progress("probing dependencies", 0, 3)
    probe = DependencyProbe(builder, loaded, seed)
    leads = probe.bar_leads()
    if progress is not None:
        progress("probing dependencies", 1, 3)
    leads.update(probe.text_leads(raw.texts))
    if progress is not None:
        progress("probing dependencies", 2, 3)
    panel = main.select(
        "symbol", pl.col("asof").dt.epoch("us").alias("asof"), *pipeline.panel_inputs
    ).with_columns(
        pl.col("symbol")
        .replace_strict({s: builder.config.bucket_of(s).value for s in universe}, default="other")
        .alias("bucket"),
        pl.lit(True).alias("in_universe"),
        (pl.col("symbol") == (loaded.reference or "")).alias("is_reference"),
    )
    leads.update(probe.panel_leads(panel))
    if progress is not None:
        progress("probing dependencies", 3, 3)
    leaky = [c for c, lead in leads.items() if lead > 0]
    for dataset in list(stored):
        wanted = [c for c in leaky if c in contract.dataset_columns(dataset)]
        if wanted:  # the stored values of features that read ahead: which rows hold one
            values = read_dataset(builder.lake, dataset, universe, columns=[*KEY, *wanted])
            stored[dataset] = stored[dataset].join(values, on=list(KEY), how="left")
    bar_features = {c for u in pipeline.bar_units for c in u.columns()}
    text_features = {c for u in pipeline.asof_units if u.reads_texts for c in u.columns()}
    panel_features = {c for u in pipeline.panel_units for c in u.columns()}

    # 4. recompute provenance per symbol, independently of the builder
    datasets_report: dict[str, dict[str, Any]] = {}
    leaking: dict[str, int] = {}
    leak_rows_total = 0
    mismatch_total = 0
    rows_checked = 0
    reference_bars = (
        loaded.inputs[loaded.reference].bars if loaded.reference in loaded.inputs else None
    )
    # the panel's provenance: every member's bars known at the asof
    member_rows = []
    members = set(universe) | ({loaded.reference} if loaded.reference else set())
    all_times = main.select(pl.col("asof").dt.epoch("us").alias("t")).unique()
    for member in sorted(members):
        if member not in loaded.inputs:
            continue
        member_main = main.filter(pl.col("symbol") == member).select(
            pl.col("asof").dt.epoch("us").alias("t")
        )
        times = member_main if member != loaded.reference else all_times
        member_rows.append(_latest_known(times, "t", _bars_frame(loaded.inputs[member].bars), "p"))
    panel_prov = (
        pl.concat(member_rows).group_by("t").agg(pl.col("p").max().alias("panel_p"))
        if member_rows
        else pl.DataFrame({"t": [], "panel_p": []}, schema={"t": pl.Int64, "panel_p": pl.Int64})
    )

    for done, symbol in enumerate(universe):
        if symbol not in loaded.inputs:
            continue
        own_bars = loaded.inputs[symbol].bars
        mine = keys.filter(pl.col("symbol") == symbol).select(
            pl.col("asof").dt.epoch("us").alias("t")
        )
        if mine.is_empty():
            continue
        rows_checked += mine.height
        base = _latest_known(mine, "t", _bars_frame(own_bars), "own_p")
        if reference_bars is not None:
            base = _latest_known(base, "t", _bars_frame(reference_bars), "ref_p")
        else:
            base = base.with_columns(pl.lit(None, dtype=pl.Int64).alias("ref_p"))
        base = base.join(panel_prov, on="t", how="left")
        # the anchor: latest opening time among the bars known at t
        known = (
            _bars_frame(own_bars)
            .sort("available_at")
            .with_columns(pl.col("ts").cum_max().alias("anchor"))
        )
        base = (
            base.sort("t")
            .join_asof(
                known.select(pl.col("available_at").alias("__a"), "anchor"),
                left_on="t",
                right_on="__a",
                strategy="backward",
            )
            .drop("__a")
        )
        texts = loaded.inputs[symbol].texts
        text_events = pl.DataFrame({"available_at": pl.Series(texts.available_at, dtype=pl.Int64)})
        base = _latest_known(base, "t", text_events, "text_p").with_columns(
            pl.when(pl.col("text_p") > pl.col("t") - reach)
            .then(pl.col("text_p"))
            .otherwise(None)
            .alias("text_p")
        )
        recomputed = {
            MAIN_DATASET: pl.max_horizontal("own_p", "ref_p", "panel_p"),
            SOCIAL_DATASET: pl.col("text_p"),
            LATENT_DATASET: pl.col("own_p"),
        }
        base = base.with_columns(
            *(expr.alias(f"re_{dataset}") for dataset, expr in recomputed.items())
        )
        # features that read ahead: their own provenance
        feature_prov: dict[str, pl.Expr] = {}
        extra = base
        for column, lead in leads.items():
            if lead <= 0:
                continue
            name = f"lead_{column}"
            if column in bar_features:
                shifted = extra.with_columns((pl.col("anchor") + lead * HOUR_US).alias("__reach"))
                shifted = _reach_of(shifted, "__reach", own_bars, "__own_reach")
                if reference_bars is not None:
                    shifted = _reach_of(shifted, "__reach", reference_bars, "__ref_reach")
                else:
                    shifted = shifted.with_columns(
                        pl.lit(None, dtype=pl.Int64).alias("__ref_reach")
                    )
                extra = shifted.with_columns(
                    pl.max_horizontal("__own_reach", "__ref_reach").alias(name)
                ).drop("__reach", "__own_reach", "__ref_reach")
            elif column in text_features:
                shifted = extra.with_columns((pl.col("t") + lead * HOUR_US).alias("__later"))
                extra = _latest_known(shifted, "__later", text_events, name).drop("__later")
            elif column in panel_features:
                later = panel_prov.select(
                    (pl.col("t") - lead * HOUR_US).alias("t"), pl.col("panel_p").alias(name)
                )
                extra = extra.join(later, on="t", how="left")
            else:
                continue
            feature_prov[column] = pl.col(name)
        base = extra
        for dataset, frame in stored.items():
            columns = [c for c in builder.contract.dataset_columns(dataset)]
            leaky_here = [c for c in feature_prov if c in columns]
            part = frame.filter(pl.col("symbol") == symbol).select(
                pl.col("asof").dt.epoch("us").alias("t"),
                pl.col(PROVENANCE).dt.epoch("us").alias("recorded"),
                *leaky_here,
            )
            joined = base.join(part, on="t", how="inner")
            re = f"re_{dataset}"
            mismatch = joined.filter(
                (pl.col("recorded").is_null() != pl.col(re).is_null())
                | (pl.col("recorded") != pl.col(re)).fill_null(False)
            ).height
            row_leak = (pl.col("recorded") > pl.col("t")).fill_null(False) | (
                pl.col(re) > pl.col("t")
            ).fill_null(False)
            feature_leak = {
                c: (pl.col(f"lead_{c}") > pl.col("t")).fill_null(False) & pl.col(c).is_not_null()
                for c in leaky_here
            }
            any_leak = row_leak
            for expression in feature_leak.values():
                any_leak = any_leak | expression
            counts = joined.select(
                any_leak.sum().alias("__rows"),
                *(e.sum().alias(c) for c, e in feature_leak.items()),
            ).row(0, named=True)
            for column in leaky_here:
                if counts[column]:
                    leaking[column] = leaking.get(column, 0) + int(counts[column])
            entry = datasets_report.setdefault(
                dataset, {"rows": 0, "future_leakage_count": 0, "provenance_mismatches": 0}
            )
            entry["rows"] += joined.height
            entry["future_leakage_count"] += int(counts["__rows"])
            entry["provenance_mismatches"] += mismatch
            leak_rows_total += int(counts["__rows"])
            mismatch_total += mismatch
        if progress is not None:
            progress("recomputing provenance", done + 1, len(universe))
    for dataset, value in consistency.items():
        datasets_report.setdefault(dataset, {})["snapshot_time_consistency"] = value
    overall_consistency = round(equal_all / total_all, 6) if total_all else 0.0
    report.update(
        passed=leak_rows_total == 0 and mismatch_total == 0 and overall_consistency == 1.0,
        future_leakage_count=leak_rows_total,
        snapshot_time_consistency=overall_consistency,
        provenance_mismatch_count=mismatch_total,
        leaking_features=dict(sorted(leaking.items())),
        feature_leads={k: v for k, v in sorted(leads.items()) if v},
        rows_total=total_rows,
        rows_checked=rows_checked,
        sampled=sampled,
        sample_rows=sample_rows if sampled else rows_checked,
        seed=seed,
        probes=probe.counts,
        datasets=datasets_report,
    )
    return report


# --------------------------------------------------------------------------- lookahead


def lookahead(
    builder: FeatureBuilder,
    symbols: Sequence[str] | None = None,
    *,
    cut_points: int = 24,
    seed: int = 7,
    progress: ProgressFn | None = None,
) -> dict[str, Any]:
    universe = builder.resolve_symbols(symbols)
    contract = builder.contract
    report: dict[str, Any] = {"contract_hash": contract.contract_hash, "symbols": universe}
    main = read_dataset(builder.lake, MAIN_DATASET, universe, columns=["symbol", "asof"])
    if main.is_empty():
        report.update(passed=False, reason="no feature snapshots stored; run `features build`")
        return report
    times = np.unique(main["asof"].dt.epoch("us").to_numpy())
    rng = np.random.default_rng(seed)
    cuts = np.sort(rng.choice(times, size=min(cut_points, times.shape[0]), replace=False))
    cut_times = pl.Series("asof", cuts, dtype=pl.Int64).cast(UTC_TIME)
    stored: dict[str, pl.DataFrame] = {}
    for dataset in (MAIN_DATASET, SOCIAL_DATASET, LATENT_DATASET):
        if contract.dataset_columns(dataset):
            lazy = builder.lake.scan(dataset, universe, time_column="asof")
            if lazy is not None:
                stored[dataset] = lazy.filter(pl.col("asof").is_in(cut_times.implode())).collect()
    foreign = _foreign_contracts(stored, contract.contract_hash)
    if foreign:
        report.update(passed=False, reason=foreign)
        return report
    symbols_at: dict[int, list[str]] = {}
    present = main.select("symbol", pl.col("asof").dt.epoch("us").alias("t")).filter(
        pl.col("t").is_in(cuts.tolist())
    )
    for (moment,), part in present.group_by("t"):
        symbols_at[int(moment)] = part["symbol"].to_list()
    earliest = micros_to_datetime(int(cuts[0]))
    raw = builder.load_raw(universe, texts_for=earliest)
    # embed only the texts some cut point can read
    available = raw.texts["available_at"].dt.epoch("us").to_numpy()
    next_cut = np.searchsorted(cuts, available, side="left")
    has_cut = next_cut < cuts.shape[0]
    reach = builder.pipeline.text_reach_us + HOUR_US
    gap = np.where(has_cut, cuts[np.minimum(next_cut, cuts.shape[0] - 1)] - available, reach)
    raw = replace(raw, texts=raw.texts.filter(pl.Series(has_cut & (gap < reach))))
    loaded = builder.prepare(raw, texts_after=earliest, embed=True)
    latent = builder.current_latent() if LATENT_DATASET in stored else None
    parts: dict[str, list[pl.DataFrame]] = {d: [] for d in stored}
    for done, moment in enumerate(int(c) for c in cuts):
        recomputed = builder.compute_at(
            loaded, [moment], {moment: symbols_at.get(moment, [])}, latent
        )
        for dataset, frame in recomputed.items():
            if dataset in stored and not frame.is_empty():
                parts[dataset].append(frame)
        if progress is not None:
            progress("recomputing at cut points", done + 1, int(cuts.shape[0]))
    mismatches: dict[str, int] = {}
    examples: list[dict[str, Any]] = []
    compared_rows = compared_values = 0
    for dataset, frames in parts.items():
        if not frames:
            continue
        frame = pl.concat(frames, how="vertical")
        columns = [c for c in contract.dataset_columns(dataset) if c in frame.columns]
        joined = (
            stored[dataset]
            .select(*KEY, *columns)
            .join(frame.select(*KEY, *columns), on=list(KEY), how="inner", suffix="__re")
        )
        if joined.is_empty():
            continue
        if dataset == MAIN_DATASET:
            compared_rows += joined.height
        a = _as_float(joined, columns)
        b = _as_float(joined, [f"{c}__re" for c in columns])
        same = _same(a, b)
        compared_values += int(same.size)
        bad_per_column = (~same).sum(axis=0)
        for j in np.flatnonzero(bad_per_column):
            column = columns[int(j)]
            mismatches[column] = mismatches.get(column, 0) + int(bad_per_column[j])
            if len(examples) < 10:
                i = int(np.flatnonzero(~same[:, j])[0])
                examples.append(
                    {
                        "feature": column,
                        "symbol": joined["symbol"][i],
                        "asof": joined["asof"][i].isoformat(),
                        "stored": None if np.isnan(a[i, j]) else float(a[i, j]),
                        "recomputed": None if np.isnan(b[i, j]) else float(b[i, j]),
                    }
                )
    report.update(
        passed=not mismatches and compared_rows > 0,
        biased_feature_count=len(mismatches),
        biased_features=dict(sorted(mismatches.items())),
        cut_points=[micros_to_datetime(int(c)).isoformat() for c in cuts],
        seed=seed,
        rows_compared=compared_rows,
        values_compared=compared_values,
        tolerance={"relative": RELATIVE_TOLERANCE, "absolute": ABSOLUTE_TOLERANCE},
        examples=examples,
    )
    return report


__all__ = ["DependencyProbe", "lookahead", "snapshot_consistency", "validate_asof"]
