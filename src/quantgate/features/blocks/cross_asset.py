"""The cross-asset block: beta and correlation to the reference (BTC), returns relative to it
and to the bucket, and cross-sectional ranks of the main market features.

Beta and correlation are computed per bar from the symbol's and the reference's
hourly log returns on the same grid (rows where both exist). Everything else is
computed per decision time from the market block's values of every symbol at
that same decision time, so it is point-in-time whenever they are.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from quantgate.features import ops
from quantgate.features.blocks.market import pipeline_params
from quantgate.features.config import FeaturesConfig
from quantgate.features.ops import FloatArray
from quantgate.features.series import BarGrid
from quantgate.features.units import BarUnit, PanelUnit

BETA_WINDOWS = (24, 168, 720)
RELATIVE_REFERENCE = (1, 4, 24, 168, 720)
RELATIVE_BUCKET = (1, 24, 168)
RANKED = (
    "mkt_ret_1h",
    "mkt_ret_24h",
    "mkt_ret_168h",
    "mkt_vol_cc_24h",
    "mkt_vol_cc_168h",
    "mkt_volume_z_24h",
    "mkt_rsi_14h",
    "mkt_ema_dist_24h",
    "mkt_dd_720h",
    "mkt_dvol_log_24h",
)
DEMEANED = (24, 168)
REFERENCE_CONTEXT = ("mkt_ret_1h", "mkt_ret_24h", "mkt_vol_cc_24h")


class BetaUnit(BarUnit):
    name = "cross_asset_beta"
    block = "cross_asset"
    version = 1

    def __init__(self, config: FeaturesConfig) -> None:
        self.config = config
        self.reach = max(BETA_WINDOWS) + 2

    def params(self) -> dict[str, Any]:
        return {"pipeline": pipeline_params(self.config), "windows": BETA_WINDOWS}

    def columns(self) -> tuple[str, ...]:
        names: list[str] = []
        for w in BETA_WINDOWS:
            names += [f"xa_beta_btc_{w}h", f"xa_corr_btc_{w}h"]
        return tuple(names)

    def compute(self, grid: BarGrid) -> dict[str, FloatArray]:
        with np.errstate(divide="ignore", invalid="ignore"):
            own = ops.diff(np.log(grid.close))
            reference = ops.diff(np.log(grid.reference_close))
        out: dict[str, FloatArray] = {}
        for w in BETA_WINDOWS:
            beta, corr = ops.roll_beta_corr(own, reference, w, self.config.min_window_coverage)
            out[f"xa_beta_btc_{w}h"], out[f"xa_corr_btc_{w}h"] = beta, corr
        return out


def _name(column: str) -> str:
    return column.removeprefix("mkt_")


class CrossSectionUnit(PanelUnit):
    name = "cross_asset_panel"
    block = "cross_asset"
    version = 1

    def __init__(self, config: FeaturesConfig) -> None:
        self.config = config

    def params(self) -> dict[str, Any]:
        return {
            "pipeline": pipeline_params(self.config),
            "buckets": {k: v.value for k, v in sorted(self.config.buckets.items())},
            "relative_reference": RELATIVE_REFERENCE,
            "relative_bucket": RELATIVE_BUCKET,
            "ranked": RANKED,
            "demeaned": DEMEANED,
            "reference_context": REFERENCE_CONTEXT,
        }

    def inputs(self) -> tuple[str, ...]:
        needed = {f"mkt_ret_{k}h" for k in (*RELATIVE_REFERENCE, *RELATIVE_BUCKET, *DEMEANED)}
        needed |= set(RANKED) | set(REFERENCE_CONTEXT)
        return tuple(sorted(needed))

    def columns(self) -> tuple[str, ...]:
        names = [f"xa_rel_btc_ret_{k}h" for k in RELATIVE_REFERENCE]
        names += [f"xa_rel_bucket_ret_{k}h" for k in RELATIVE_BUCKET]
        names += [f"xa_rank_{_name(c)}" for c in RANKED]
        names += [f"xa_cs_demeaned_ret_{k}h" for k in DEMEANED]
        names += ["xa_n_symbols"]
        names += [f"xa_btc_{_name(c)}" for c in REFERENCE_CONTEXT]
        return tuple(names)

    def compute(self, panel: pl.DataFrame) -> pl.DataFrame:
        universe = pl.col("in_universe")
        reference_cols = {f"mkt_ret_{k}h" for k in RELATIVE_REFERENCE} | set(REFERENCE_CONTEXT)
        reference = (
            panel.filter(pl.col("is_reference"))
            .select("asof", *[pl.col(c).alias(f"__ref_{c}") for c in sorted(reference_cols)])
            .unique("asof", keep="first")
        )
        frame = panel.join(reference, on="asof", how="left")
        expressions: list[pl.Expr] = []
        for k in RELATIVE_REFERENCE:
            column = f"mkt_ret_{k}h"
            expressions.append(
                (pl.col(column) - pl.col(f"__ref_{column}")).alias(f"xa_rel_btc_ret_{k}h")
            )
        for k in RELATIVE_BUCKET:
            column = f"mkt_ret_{k}h"
            member = pl.when(universe).then(pl.col(column))
            total = member.sum().over(["asof", "bucket"])
            count = member.count().over(["asof", "bucket"])
            own = (
                pl.when(universe & pl.col(column).is_not_null()).then(pl.col(column)).otherwise(0.0)
            )
            own_count = (universe & pl.col(column).is_not_null()).cast(pl.Int64)
            others = count - own_count
            expressions.append(
                pl.when(others > 0)
                .then(pl.col(column) - (total - own) / others)
                .otherwise(None)
                .alias(f"xa_rel_bucket_ret_{k}h")
            )
        for column in RANKED:
            member = pl.when(universe).then(pl.col(column))
            n = member.count().over("asof")
            rank = member.rank("average").over("asof")
            expressions.append(
                pl.when(universe & (n >= 2) & pl.col(column).is_not_null())
                .then((rank - 1) / (n - 1))
                .otherwise(None)
                .alias(f"xa_rank_{_name(column)}")
            )
        for k in DEMEANED:
            column = f"mkt_ret_{k}h"
            member = pl.when(universe).then(pl.col(column))
            expressions.append(
                (pl.col(column) - member.mean().over("asof")).alias(f"xa_cs_demeaned_ret_{k}h")
            )
        expressions.append(
            pl.when(universe)
            .then(pl.col("mkt_ret_1h"))
            .count()
            .over("asof")
            .cast(pl.Float64)
            .alias("xa_n_symbols")
        )
        for column in REFERENCE_CONTEXT:
            expressions.append(pl.col(f"__ref_{column}").alias(f"xa_btc_{_name(column)}"))
        result = frame.select("symbol", "asof", *expressions)
        return result.with_columns(pl.col(c).cast(pl.Float64) for c in self.columns())
