"""Shadow versus active: how the shadow version would have done on the requests it saw.

For every (symbol, horizon, shadow version, active version) in `shadow_predictions`
within a window, each decision time counts once (the last scoring of it). Against
the realised forward log return (the same label definition training uses):
information coefficient and rank IC, hit rate and the expected calibration error
of `signal_confidence`, for both sides; and how much the two agree (direction
agreement, correlation of expected returns). Rows whose horizon has not elapsed
yet count as scored but not realised.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import polars as pl
from sqlalchemy import Engine, select

from quantgate.core.enums import Horizon
from quantgate.data.schema import BARS_1H
from quantgate.ml.calibration import expected_calibration_error
from quantgate.ml.labels import compute_labels, label_columns
from quantgate.ml.metrics import hit_rate, information_coefficient, rank_information_coefficient
from quantgate.ml.training.dataset import close_known_at
from quantgate.storage.lake import Lake
from quantgate.storage.models.registry import ShadowPredictionRow

GROUP = ("symbol", "horizon", "shadow_version_id", "active_version_id")
_SIDES = ("active", "shadow")


def shadow_report(
    engine: Engine,
    lake: Lake,
    *,
    symbol: str | None = None,
    horizon: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    decision_delay: timedelta = timedelta(seconds=60),
) -> dict[str, Any]:
    scored = _scored(engine, symbol, horizon, start, end)
    pairs = []
    if not scored.is_empty():
        realised = _realised(lake, scored, decision_delay)
        for key, group in scored.group_by(list(GROUP), maintain_order=True):
            pairs.append(_compare(dict(zip(GROUP, key, strict=True)), group, realised))
    return {
        "window": {
            "start": None if start is None else start.isoformat(),
            "end": None if end is None else end.isoformat(),
        },
        "pairs": sorted(pairs, key=lambda p: (p["symbol"], Horizon(p["horizon"]).hours)),
    }


def _scored(
    engine: Engine,
    symbol: str | None,
    horizon: str | None,
    start: datetime | None,
    end: datetime | None,
) -> pl.DataFrame:
    table = ShadowPredictionRow
    query = select(table.__table__)
    if symbol is not None:
        query = query.where(table.symbol == symbol)
    if horizon is not None:
        query = query.where(table.horizon == horizon)
    if start is not None:
        query = query.where(table.asof >= start)
    if end is not None:
        query = query.where(table.asof < end)
    with engine.connect() as connection:
        rows = [dict(row) for row in connection.execute(query.order_by(table.id)).mappings()]
    if not rows:
        return pl.DataFrame()
    # UTCDateTime hands back aware UTC datetimes, so asof joins the labels' UTC column.
    frame = pl.DataFrame(rows, infer_schema_length=None).with_columns(
        pl.col("asof").cast(pl.Datetime("us", "UTC")),
        pl.col("active_version_id").fill_null(""),
    )
    return frame.unique([*GROUP, "asof"], keep="last", maintain_order=True)


def _realised(lake: Lake, scored: pl.DataFrame, delay: timedelta) -> pl.DataFrame:
    symbols = sorted(scored["symbol"].unique().to_list())
    horizons = sorted(
        {Horizon(h) for h in scored["horizon"].unique().to_list()}, key=lambda h: h.hours
    )
    first = scored["asof"].min()
    last = scored["asof"].max()
    assert isinstance(first, datetime) and isinstance(last, datetime)
    reach = timedelta(hours=horizons[-1].hours + 2)
    bars = lake.read(BARS_1H.name, symbols, first - timedelta(hours=2), last + reach)
    closes = close_known_at(bars, delay)
    if closes.is_empty():
        return pl.DataFrame(schema={"symbol": pl.String, "asof": pl.Datetime("us", "UTC")})
    labels = compute_labels(closes, horizons)
    return labels.select(
        "symbol",
        "asof",
        *(pl.col(label_columns(h).ret).alias(f"ret__{h.value}") for h in horizons),
    )


def _compare(key: dict[str, Any], group: pl.DataFrame, realised: pl.DataFrame) -> dict[str, Any]:
    column = f"ret__{key['horizon']}"
    joined = group.join(
        realised.select("symbol", "asof", column), on=["symbol", "asof"], how="left"
    )
    outcome = joined[column].cast(pl.Float64).fill_null(float("nan")).to_numpy()
    known = np.isfinite(outcome)
    out: dict[str, Any] = {
        **key,
        "active_version_id": key["active_version_id"] or None,
        "n_scored": joined.height,
        "n_realised": int(known.sum()),
        "first_asof": joined["asof"].min().isoformat(),  # type: ignore[union-attr]
        "last_asof": joined["asof"].max().isoformat(),  # type: ignore[union-attr]
    }
    shadow_er = _values(joined, "shadow_expected_return")
    active_er = _values(joined, "active_expected_return")
    both = np.isfinite(shadow_er) & np.isfinite(active_er)
    out["agreement"] = {
        "direction": _finite(np.mean(np.sign(shadow_er[both]) == np.sign(active_er[both])))
        if both.any()
        else None,
        "expected_return_correlation": _finite(information_coefficient(shadow_er, active_er)),
    }
    for side in _SIDES:
        er = _values(joined, f"{side}_expected_return")[known]
        confidence = _values(joined, f"{side}_signal_confidence")[known]
        actual = outcome[known]
        right = (np.sign(er) == np.sign(actual)).astype(np.float64)
        out[side] = {
            "ic": _finite(information_coefficient(er, actual)),
            "rank_ic": _finite(rank_information_coefficient(er, actual)),
            "hit_rate": _finite(hit_rate(er, actual)),
            "ece": _finite(expected_calibration_error(confidence, right)) if len(er) else None,
        }
    shadow_ic, active_ic = out["shadow"]["ic"], out["active"]["ic"]
    out["ic_difference"] = None if shadow_ic is None or active_ic is None else shadow_ic - active_ic
    return out


def _values(frame: pl.DataFrame, column: str) -> np.ndarray[Any, np.dtype[np.float64]]:
    return frame[column].cast(pl.Float64).fill_null(float("nan")).to_numpy()


def _finite(value: float | np.floating[Any]) -> float | None:
    number = float(value)
    return number if math.isfinite(number) else None
