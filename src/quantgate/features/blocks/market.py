"""The market block: per-symbol features of the hourly bars, plus freshness and listing age.

All prices enter as logs, so every feature is scale-free. Volatilities are per
hour (per bar of the view), not annualised. The 4h and 1d views are calendar
buckets (00:00, 04:00, … UTC; UTC days) built from the hourly grid; a row sees
only buckets that are complete at its bar, plus the return since the current
bucket opened.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from quantgate.features import ops
from quantgate.features.config import FeaturesConfig
from quantgate.features.ops import FloatArray, IntArray
from quantgate.features.series import DAY_US, HOUR_US, NONE_TIME, BarGrid, overdue_bars
from quantgate.features.units import AsofContext, AsofUnit, BarUnit

RETURN_LOOKBACKS = (1, 2, 3, 4, 6, 8, 12, 24, 48, 72, 120, 168, 336, 720)
VOL_WINDOWS = (6, 24, 72, 168, 720)
RANGE_VOL_WINDOWS = (24, 168, 720)
VOL_RATIOS = ((24, 168), (6, 72))
RANGE_MEAN_WINDOWS = (24, 168)
RANGE_POSITION_WINDOWS = (24, 168)
VOLUME_WINDOWS = (24, 168, 720)
EMA_SPANS = (12, 24, 72, 168, 720)
MACDS = (("macd", 12, 26, 9), ("macd_d", 288, 624, 216))
RSI_PERIODS = (6, 14, 24, 168)
ADX_PERIODS = (14, 168)
DRAWDOWN_WINDOWS = (24, 168, 720, 2160)
DRAWUP_WINDOWS = (168, 720)
MOMENT_WINDOWS = (24, 168, 720)
VIEW_4H = {
    "hours": 4,
    "returns": (1, 3, 6, 18, 42),
    "vols": (6, 42, 180),
    "rsi": 14,
    "parkinson": 42,
    "ema_spans": (42,),
    "volume_z": (),
}
VIEW_1D = {
    "hours": 24,
    "returns": (1, 3, 7, 14, 30, 60, 90),
    "vols": (7, 30, 90),
    "rsi": 14,
    "parkinson": 30,
    "ema_spans": (10, 20),
    "volume_z": (30,),
}
MISSING_WINDOWS = (24, 168)
LN2 = float(np.log(2.0))


def pipeline_params(config: FeaturesConfig) -> dict[str, Any]:
    """Settings of the point-in-time pipeline every block's values depend on."""
    return {
        "decision_delay_seconds": config.decision_delay_seconds,
        "max_fill_hours": config.max_fill_hours,
        "min_window_coverage": config.min_window_coverage,
        "bar_source": config.bar_source,
        "reference_symbol": config.reference_symbol,
    }


def _view_columns(prefix: str, view: dict[str, Any]) -> list[str]:
    names = [f"{prefix}_ret_{k}" for k in view["returns"]]
    names += [f"{prefix}_vol_{k}" for k in view["vols"]]
    names += [f"{prefix}_rsi_{view['rsi']}", f"{prefix}_vol_pk_{view['parkinson']}"]
    names += [f"{prefix}_range_1"]
    names += [f"{prefix}_ema_dist_{s}" for s in view["ema_spans"]]
    names += [f"{prefix}_volume_z_{w}" for w in view["volume_z"]]
    return names


def _view_reach(view: dict[str, Any]) -> int:
    hours = int(view["hours"])
    buckets = max(
        max(view["returns"]) + 1,
        max(view["vols"]) + 1,
        ops.ema_reach(ops.wilder_span(int(view["rsi"]))) + 1,
        int(view["parkinson"]),
        max((ops.ema_reach(s) for s in view["ema_spans"]), default=1),
        max(view["volume_z"], default=1),
    )
    return int((buckets + 2) * hours)


def _log(values: FloatArray) -> FloatArray:
    with np.errstate(divide="ignore", invalid="ignore"):
        result = np.log(values)
    result[~np.isfinite(result)] = np.nan
    return np.asarray(result, dtype=np.float64)


def _buckets(grid: BarGrid, hours: int) -> tuple[dict[str, FloatArray], IntArray, IntArray]:
    """Calendar buckets of `hours` hours: OHLCV per bucket (NaN unless complete), the index of
    the latest bucket complete at each grid row (-1 if none), and each row's bucket index."""
    size = hours * HOUR_US
    bucket_id = grid.ts // size
    first_id = int(bucket_id[0])
    relative = (bucket_id - first_id).astype(np.int64)
    n_buckets = int(relative[-1]) + 1
    starts = np.searchsorted(relative, np.arange(n_buckets), side="left")
    counts = np.bincount(relative, minlength=n_buckets)
    ends = starts + counts - 1
    closes_ok = np.bincount(relative, weights=np.isfinite(grid.close), minlength=n_buckets)
    complete = (counts == hours) & (closes_ok == hours)
    # The first bucket is complete only if the grid starts on its boundary.
    first_row_ts = grid.ts[starts]
    complete &= first_row_ts == (first_id + np.arange(n_buckets)) * size
    safe_starts = np.minimum(starts, len(grid) - 1)
    high = np.fmax.reduceat(grid.high, safe_starts)
    low = np.fmin.reduceat(grid.low, safe_starts)
    volume_present = np.bincount(relative, weights=np.isfinite(grid.volume), minlength=n_buckets)
    volume = np.bincount(relative, weights=np.nan_to_num(grid.volume), minlength=n_buckets)
    volume = np.where(volume_present > 0, volume, np.nan)
    values = {
        "open": grid.open[starts],
        "high": high,
        "low": low,
        "close": grid.close[ends],
        "volume": volume,
    }
    for key in values:
        values[key] = np.where(complete, values[key], np.nan).astype(np.float64)
    completed_at_row = ((grid.ts + HOUR_US) // size - first_id - 1).astype(np.int64)
    return values, completed_at_row, relative


def _view_features(
    prefix: str, grid: BarGrid, view: dict[str, Any], coverage: float
) -> dict[str, FloatArray]:
    hours = int(view["hours"])
    bucket, completed, _ = _buckets(grid, hours)
    lc = _log(bucket["close"])
    lh, ll = _log(bucket["high"]), _log(bucket["low"])
    r = ops.diff(lc)
    out: dict[str, FloatArray] = {}
    for k in view["returns"]:
        out[f"{prefix}_ret_{k}"] = lc - ops.shift(lc, k)
    for k in view["vols"]:
        out[f"{prefix}_vol_{k}"] = ops.roll_std(r, k, coverage)
    out[f"{prefix}_rsi_{view['rsi']}"] = ops.rsi(lc, int(view["rsi"]))
    pk = int(view["parkinson"])
    out[f"{prefix}_vol_pk_{pk}"] = np.sqrt(ops.roll_mean((lh - ll) ** 2, pk, coverage) / (4 * LN2))
    out[f"{prefix}_range_1"] = lh - ll
    for span in view["ema_spans"]:
        out[f"{prefix}_ema_dist_{span}"] = lc - ops.fir_ema(lc, span)
    for w in view["volume_z"]:
        out[f"{prefix}_volume_z_{w}"] = ops.zscore(np.log1p(bucket["volume"]), w, coverage)
    valid = completed >= 0
    safe = np.where(valid, completed, 0)
    return {name: np.where(valid, values[safe], np.nan) for name, values in out.items()}


def _since_open(grid: BarGrid, hours: int, log_close: FloatArray) -> FloatArray:
    """Log return from the open of the calendar bucket holding each bar to the bar's close."""
    size = hours * HOUR_US
    bucket_start = (grid.ts // size) * size
    rows = grid.row_of(bucket_start)
    opens = np.where(rows >= 0, grid.open[np.maximum(rows, 0)], np.nan)
    return log_close - _log(opens)


class MarketUnit(BarUnit):
    name = "market"
    block = "market"
    version = 1

    def __init__(self, config: FeaturesConfig) -> None:
        self.config = config
        self.coverage = config.min_window_coverage
        self.reach = (
            max(
                max(RETURN_LOOKBACKS) + 1,
                max(DRAWDOWN_WINDOWS),
                max(ops.ema_reach(s) for s in EMA_SPANS),
                max(ops.ema_reach(slow) + ops.ema_reach(signal) for _, _, slow, signal in MACDS),
                max(2 * ops.ema_reach(ops.wilder_span(p)) + 1 for p in ADX_PERIODS),
                _view_reach(VIEW_4H),
                _view_reach(VIEW_1D),
            )
            + 48
        )

    def params(self) -> dict[str, Any]:
        return {
            "pipeline": pipeline_params(self.config),
            "returns": RETURN_LOOKBACKS,
            "vol": VOL_WINDOWS,
            "range_vol": RANGE_VOL_WINDOWS,
            "vol_ratios": VOL_RATIOS,
            "range_mean": RANGE_MEAN_WINDOWS,
            "range_position": RANGE_POSITION_WINDOWS,
            "volume": VOLUME_WINDOWS,
            "ema": EMA_SPANS,
            "ema_truncation": ops.EMA_TRUNCATION,
            "macd": MACDS,
            "rsi": RSI_PERIODS,
            "adx": ADX_PERIODS,
            "drawdown": DRAWDOWN_WINDOWS,
            "drawup": DRAWUP_WINDOWS,
            "moments": MOMENT_WINDOWS,
            "view_4h": VIEW_4H,
            "view_1d": VIEW_1D,
            "missing": MISSING_WINDOWS,
        }

    def columns(self) -> tuple[str, ...]:
        names = [f"mkt_ret_{k}h" for k in RETURN_LOOKBACKS]
        names += [f"mkt_vol_cc_{w}h" for w in VOL_WINDOWS]
        names += [f"mkt_vol_pk_{w}h" for w in RANGE_VOL_WINDOWS]
        names += [f"mkt_vol_gk_{w}h" for w in RANGE_VOL_WINDOWS]
        names += [f"mkt_vol_ratio_{a}_{b}" for a, b in VOL_RATIOS]
        names += ["mkt_range_1h"]
        names += [f"mkt_range_mean_{w}h" for w in RANGE_MEAN_WINDOWS]
        names += [f"mkt_range_pos_{w}h" for w in RANGE_POSITION_WINDOWS]
        names += [f"mkt_volume_z_{w}h" for w in VOLUME_WINDOWS]
        names += [f"mkt_dvol_z_{w}h" for w in VOLUME_WINDOWS]
        names += ["mkt_dvol_log_24h", "mkt_volume_ratio_24_168"]
        names += [f"mkt_ema_dist_{s}h" for s in EMA_SPANS]
        for label, _, _, _ in MACDS:
            names += [f"mkt_{label}", f"mkt_{label}_signal", f"mkt_{label}_hist"]
        names += [f"mkt_rsi_{p}h" for p in RSI_PERIODS]
        for p in ADX_PERIODS:
            names += [f"mkt_pdi_{p}h", f"mkt_mdi_{p}h", f"mkt_adx_{p}h"]
        names += [f"mkt_dd_{w}h" for w in DRAWDOWN_WINDOWS]
        names += [f"mkt_du_{w}h" for w in DRAWUP_WINDOWS]
        for w in MOMENT_WINDOWS:
            names += [f"mkt_skew_{w}h", f"mkt_kurt_{w}h"]
        names += _view_columns("mkt_4h", VIEW_4H)
        names += _view_columns("mkt_1d", VIEW_1D)
        names += ["mkt_ret_since_4h_open", "mkt_ret_since_1d_open"]
        names += [f"mkt_missing_{w}h" for w in MISSING_WINDOWS]
        names += ["mkt_filled"]
        return tuple(names)

    def compute(self, grid: BarGrid) -> dict[str, FloatArray]:
        cov = self.coverage
        lo, lh, ll, lc = (_log(grid.open), _log(grid.high), _log(grid.low), _log(grid.close))
        r1 = ops.diff(lc)
        out: dict[str, FloatArray] = {}
        for k in RETURN_LOOKBACKS:
            out[f"mkt_ret_{k}h"] = lc - ops.shift(lc, k)
        for w in VOL_WINDOWS:
            out[f"mkt_vol_cc_{w}h"] = ops.roll_std(r1, w, cov)
        hl2 = (lh - ll) ** 2
        co2 = (lc - lo) ** 2
        for w in RANGE_VOL_WINDOWS:
            out[f"mkt_vol_pk_{w}h"] = np.sqrt(ops.roll_mean(hl2, w, cov) / (4 * LN2))
        gk_terms = 0.5 * hl2 - (2 * LN2 - 1) * co2
        for w in RANGE_VOL_WINDOWS:
            out[f"mkt_vol_gk_{w}h"] = np.sqrt(np.maximum(ops.roll_mean(gk_terms, w, cov), 0.0))
        for a, b in VOL_RATIOS:
            out[f"mkt_vol_ratio_{a}_{b}"] = ops.safe_divide(
                out[f"mkt_vol_cc_{a}h"], out[f"mkt_vol_cc_{b}h"]
            )
        bar_range = lh - ll
        out["mkt_range_1h"] = bar_range
        for w in RANGE_MEAN_WINDOWS:
            out[f"mkt_range_mean_{w}h"] = ops.roll_mean(bar_range, w, cov)
        for w in RANGE_POSITION_WINDOWS:
            top = ops.roll_max(lh, w, cov)
            bottom = ops.roll_min(ll, w, cov)
            out[f"mkt_range_pos_{w}h"] = ops.safe_divide(lc - bottom, top - bottom)
        log_volume = np.log1p(grid.volume)
        dollar = grid.close * grid.volume
        log_dollar = np.log1p(dollar)
        for w in VOLUME_WINDOWS:
            out[f"mkt_volume_z_{w}h"] = ops.zscore(log_volume, w, cov)
        for w in VOLUME_WINDOWS:
            out[f"mkt_dvol_z_{w}h"] = ops.zscore(log_dollar, w, cov)
        out["mkt_dvol_log_24h"] = np.log1p(ops.roll_sum(dollar, 24, cov))
        out["mkt_volume_ratio_24_168"] = ops.safe_divide(
            ops.roll_mean(grid.volume, 24, cov), ops.roll_mean(grid.volume, 168, cov)
        )
        for s in EMA_SPANS:
            out[f"mkt_ema_dist_{s}h"] = lc - ops.fir_ema(lc, s)
        for label, fast, slow, signal in MACDS:
            macd = ops.fir_ema(lc, fast) - ops.fir_ema(lc, slow)
            smooth = ops.fir_ema(macd, signal)
            out[f"mkt_{label}"] = macd
            out[f"mkt_{label}_signal"] = smooth
            out[f"mkt_{label}_hist"] = macd - smooth
        for p in RSI_PERIODS:
            out[f"mkt_rsi_{p}h"] = ops.rsi(lc, p)
        for p in ADX_PERIODS:
            plus_di, minus_di, adx = ops.directional(lh, ll, lc, p)
            out[f"mkt_pdi_{p}h"], out[f"mkt_mdi_{p}h"], out[f"mkt_adx_{p}h"] = (
                plus_di,
                minus_di,
                adx,
            )
        for w in DRAWDOWN_WINDOWS:
            out[f"mkt_dd_{w}h"] = lc - ops.roll_max(lc, w, cov)
        for w in DRAWUP_WINDOWS:
            out[f"mkt_du_{w}h"] = lc - ops.roll_min(lc, w, cov)
        for w in MOMENT_WINDOWS:
            out[f"mkt_skew_{w}h"], out[f"mkt_kurt_{w}h"] = ops.roll_moments(r1, w, cov)
        out.update(_view_features("mkt_4h", grid, VIEW_4H, cov))
        out.update(_view_features("mkt_1d", grid, VIEW_1D, cov))
        out["mkt_ret_since_4h_open"] = _since_open(grid, 4, lc)
        out["mkt_ret_since_1d_open"] = _since_open(grid, 24, lc)
        missing = grid.missing.astype(np.float64)
        for w in MISSING_WINDOWS:
            out[f"mkt_missing_{w}h"] = ops.roll_mean(missing, w, 1.0 / w)
        out["mkt_filled"] = grid.filled.astype(np.float64)
        return out


class FreshnessUnit(AsofUnit):
    """How old the anchor bar is at the decision time, whether it is too old (more than
    max_fill_hours bars overdue: market values are then missing), and the listing age."""

    name = "market_freshness"
    block = "market"
    version = 1

    def __init__(self, config: FeaturesConfig) -> None:
        self.config = config

    def params(self) -> dict[str, Any]:
        return {"pipeline": pipeline_params(self.config)}

    def columns(self) -> tuple[str, ...]:
        return ("mkt_bar_age_h", "mkt_stale", "mkt_listing_days", "mkt_listing_log_days")

    def compute(self, context: AsofContext) -> dict[str, FloatArray]:
        known = context.anchor != NONE_TIME
        age = np.where(known, (context.asofs - (context.anchor + HOUR_US)) / HOUR_US, np.nan)
        delay_us = self.config.decision_delay_seconds * 1_000_000
        overdue = overdue_bars(context.asofs, context.anchor, delay_us)
        stale = overdue > self.config.max_fill_hours
        has_listing = context.listing != NONE_TIME
        days = np.where(has_listing, (context.asofs - context.listing) / DAY_US, np.nan)
        return {
            "mkt_bar_age_h": age.astype(np.float64),
            "mkt_stale": stale.astype(np.float64),
            "mkt_listing_days": days.astype(np.float64),
            "mkt_listing_log_days": np.log1p(np.maximum(days, 0.0)),
        }
