"""A planted-signal training set for the estimators' tests and benchmarks.

Rows are in time order. Forward returns at every horizon are a linear mix of
a few market columns and a few social_text_latent columns plus noise (scaled
by sqrt(hours), as real returns are); log-vol depends on one market column.
Some rows have no social data at all (the whole text block NaN, as when
nobody posted), a small fraction of other values are NaN, and the last rows
of each horizon have NaN targets, as real labels do at the end of the data.
Deterministic in the seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from quantgate.core.enums import Horizon
from quantgate.ml.estimators.inputs import TEXT_BLOCK, Float32Array, FloatArray, HorizonTargets

_DAILY_VOL = 0.03  # per-hour vol ≈ 0.006, the order of a liquid crypto pair
_N_SIGNAL = 4  # signal columns per side


@dataclass(frozen=True, slots=True)
class SyntheticSet:
    features: Float32Array
    targets: dict[Horizon, HorizonTargets]
    feature_names: tuple[str, ...]
    blocks: dict[str, tuple[int, ...]]
    market_signal: FloatArray  # the planted market-side part of the return signal
    text_signal: FloatArray  # the planted social-text part

    @property
    def n_rows(self) -> int:
        return int(self.features.shape[0])

    def rows(self, part: slice) -> SyntheticSet:
        return SyntheticSet(
            features=self.features[part],
            targets={
                h: HorizonTargets(t.forward_return[part], t.log_vol[part], t.direction[part])
                for h, t in self.targets.items()
            },
            feature_names=self.feature_names,
            blocks=self.blocks,
            market_signal=self.market_signal[part],
            text_signal=self.text_signal[part],
        )


def planted_signal(
    n_rows: int = 5_000,
    *,
    n_market: int = 24,
    n_text: int = 16,
    seed: int = 0,
    signal_strength: float = 0.4,
    nan_fraction: float = 0.02,
    no_text_fraction: float = 0.2,
) -> SyntheticSet:
    rng = np.random.default_rng(seed)
    n_features = n_market + n_text
    features = rng.standard_normal((n_rows, n_features))
    market = features[:, :n_market]
    text = features[:, n_market:]
    market_signal = market[:, :_N_SIGNAL] @ np.linspace(1.0, 0.4, _N_SIGNAL)
    text_signal = text[:, :_N_SIGNAL] @ np.linspace(1.0, 0.4, _N_SIGNAL)
    no_text = rng.random(n_rows) < no_text_fraction
    text_signal[no_text] = 0.0
    signal = (market_signal + text_signal) / np.std(market_signal + text_signal)
    vol_driver = market[:, _N_SIGNAL]

    targets: dict[Horizon, HorizonTargets] = {}
    for horizon in Horizon:
        hourly = _DAILY_VOL / np.sqrt(24.0)
        scale = hourly * np.sqrt(horizon.hours)
        forward_return = scale * (signal_strength * signal + rng.standard_normal(n_rows))
        log_vol = np.log(scale) + 0.3 * vol_driver + 0.1 * rng.standard_normal(n_rows)
        direction = (forward_return > 0).astype(np.float64)
        unknown = slice(n_rows - min(horizon.hours, n_rows // 10), n_rows)
        for values in (forward_return, log_vol, direction):
            values[unknown] = np.nan
        targets[horizon] = HorizonTargets(forward_return, log_vol, direction)

    features[rng.random(features.shape) < nan_fraction] = np.nan
    features[no_text, n_market:] = np.nan
    split = n_market - 4
    blocks = {
        "market": tuple(range(split)),
        "cross_asset": tuple(range(split, n_market)),
        TEXT_BLOCK: tuple(range(n_market, n_features)),
    }
    names = tuple(
        [f"mkt_{i:03d}" for i in range(split)]
        + [f"xa_{i:03d}" for i in range(split, n_market)]
        + [f"txt_{i:03d}" for i in range(n_text)]
    )
    return SyntheticSet(
        features=features.astype(np.float32),
        targets=targets,
        feature_names=names,
        blocks=blocks,
        market_signal=market_signal,
        text_signal=text_signal,
    )
