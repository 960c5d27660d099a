"""Hourly bars from a factor model with planted, documented predictability.

Hourly log return of symbol i over bar t:

    r[i,t] = beta_b m[t] + g_b f_b[t] + u[i,t] + J[i,t]
             + drift * vol_i * S[i,t-1]          (planted: sentiment drift)
             - reversal * u[i,t-1]               (planted: 1h reversal)

- m: the market factor, GARCH(1,1) volatility, compound-Poisson jumps, and a
  two-state Markov regime (calm / stress) that changes its drift and volatility.
- f_b: one factor per bucket (majors, L1, payments, meme, other), GARCH(1,1).
- u: the idiosyncratic diffusive shock, GARCH(1,1) (volatility clustering).
- J: idiosyncratic compound-Poisson jumps.
- S: a latent sentiment per symbol, AR(1) in hours with unit variance and a
  half-life of `sentiment_half_life_hours`. S[t] is known at the close of bar t
  and shifts the drift of every later bar, decaying geometrically, so the
  expected return over the next h hours is drift * vol_i * S[t] * (1 - phi^h) / (1 - phi).
  The social text (social.py) is written in a tone that follows S.

Everything is generated forward from the configured start (per symbol from its
listing) in fixed chunks of CHUNK_HOURS hours. Each chunk draws from its own
generator seeded by (seed, stream, chunk), and the processes carry their state
from chunk to chunk, so a bar's value never depends on the requested range or on
the configured end.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import numpy as np
from numpy.typing import NDArray

from quantgate.adapters.sim.config import SyntheticMarketConfig
from quantgate.adapters.sim.processes import (
    ar1,
    compound_poisson,
    garch_unit_variance,
    markov_regimes,
)
from quantgate.adapters.sim.profiles import SymbolProfile, profile_for
from quantgate.adapters.sim.randomness import chunk_rng
from quantgate.adapters.sim.timegrid import MICROS_PER_HOUR, ceil_div
from quantgate.core.enums import Bucket
from quantgate.core.errors import DataError

FloatArray = NDArray[np.float64]

# 30 days; a multiple of 16 so every full-chunk array has no SIMD remainder, which keeps
# element-wise results bit-identical however many chunks were generated.
CHUNK_HOURS = 720

MARKET_VOL = 0.005  # hourly standard deviation of the market factor in the calm regime
BUCKET_VOL = 0.004
MARKET_GARCH = (0.06, 0.92)  # (alpha, beta)
BUCKET_GARCH = (0.05, 0.93)
IDIO_GARCH = (0.08, 0.90)
# Regimes: 0 = calm, 1 = stress. Drift per hour, volatility multiplier, chance per hour
# of leaving the regime (calm lasts ~90 days on average, stress ~3 weeks).
REGIME_DRIFT = (3.0e-5, -1.0e-4)
REGIME_VOL = (0.85, 1.7)
REGIME_LEAVE = (1.0 / (24 * 90), 1.0 / (24 * 21))
MARKET_JUMPS = (1.0 / 1000, -0.5 * MARKET_VOL, 4.0 * MARKET_VOL)  # (rate/h, mean, sd)
IDIO_JUMP_RATE = 1.0 / 400  # per hour; sizes ~ N(0, (IDIO_JUMP_SD * vol_i)^2)
IDIO_JUMP_SD = 4.0
# The idiosyncratic shock keeps at least this share of a symbol's volatility, so every
# symbol has a reversal to plant even when its factor loadings are large.
MIN_IDIO_SHARE = 0.3

# (market beta, bucket-factor loading) per bucket.
LOADINGS: dict[Bucket, tuple[float, float]] = {
    Bucket.MAJORS: (1.0, 0.5),
    Bucket.L1: (1.2, 0.8),
    Bucket.PAYMENTS: (1.0, 0.6),
    Bucket.MEME: (1.1, 1.0),
    Bucket.OTHER: (1.0, 0.6),
}


@dataclass(frozen=True, slots=True)
class FactorPath:
    """One factor from the global start, in whole chunks."""

    returns: FloatArray
    variance: FloatArray  # conditional variance of the diffusive part


@dataclass(frozen=True, slots=True)
class SymbolPath:
    """A symbol's hourly history from its listing to the configured end.

    Element j is the bar opening at global hour `first_hour + j`.
    """

    symbol: str
    first_hour: int
    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    volume: FloatArray
    sigma: FloatArray  # conditional hourly volatility of the bar (all components)
    sentiment: FloatArray  # S at the bar's close
    idio_shock: FloatArray  # u, the idiosyncratic diffusive shock of the bar

    def __len__(self) -> int:
        return len(self.close)

    def window(self, first_hour: int, end_hour: int) -> slice:
        """Positions of the bars with global hour in [first_hour, end_hour)."""
        lo = min(max(first_hour - self.first_hour, 0), len(self))
        hi = min(max(end_hour - self.first_hour, lo), len(self))
        return slice(lo, hi)


class SyntheticMarket:
    """The hourly market of one resolved config; paths are generated once and cached."""

    def __init__(self, config: SyntheticMarketConfig) -> None:
        self.config = config
        self.total_hours = config.total_hours
        self._chunks = -(-self.total_hours // CHUNK_HOURS)
        self._phi = float(0.5 ** (1.0 / config.sentiment_half_life_hours))
        self.path = cache(self._generate_symbol)
        self._factor = cache(self._generate_factor)

    @property
    def sentiment_phi(self) -> float:
        """Hourly AR(1) coefficient of the latent sentiment."""
        return self._phi

    def profile(self, symbol: str) -> SymbolProfile:
        return profile_for(symbol, self.config.start)

    def first_hour(self, symbol: str) -> int:
        """Global hour index of the symbol's first bar (listing clipped to the start)."""
        listing = ceil_div(self.profile(symbol).listing, self.config.start, MICROS_PER_HOUR)
        return min(max(listing, 0), self.total_hours)

    def require_symbol(self, symbol: str) -> None:
        if symbol not in self.config.symbols:
            raise DataError(
                f"the synthetic market has no symbol {symbol!r}",
                source="synthetic",
                field="symbol",
                fix=f"use one of {list(self.config.symbols)} or add it to the config's symbols",
            )

    def _generate_factor(self, name: str) -> FactorPath:
        """The market factor ("market") or a bucket factor (a Bucket value)."""
        seed = self.config.seed
        is_market = name == "market"
        alpha, beta = MARKET_GARCH if is_market else BUCKET_GARCH
        returns, variances = [], []
        state, regime = 1.0, 0
        for chunk in range(self._chunks):
            rng = chunk_rng(seed, f"factor/{name}", chunk)
            shocks = rng.standard_normal(CHUNK_HOURS)
            unit_var, state = garch_unit_variance(shocks, state, alpha, beta)
            if is_market:
                jumps = compound_poisson(rng, CHUNK_HOURS, *MARKET_JUMPS)
                # Regime runs have a random number of draws, so they get their own stream.
                regime_rng = chunk_rng(seed, "factor/market/regime", chunk)
                states, regime = markov_regimes(regime_rng, CHUNK_HOURS, regime, REGIME_LEAVE)
                scale = MARKET_VOL * np.asarray(REGIME_VOL)[states]
                drift = np.asarray(REGIME_DRIFT)[states]
            else:
                jumps = np.zeros(CHUNK_HOURS)
                scale = np.full(CHUNK_HOURS, BUCKET_VOL)
                drift = np.zeros(CHUNK_HOURS)
            returns.append(drift + scale * np.sqrt(unit_var) * shocks + jumps)
            variances.append(scale**2 * unit_var)
        if not returns:
            return FactorPath(np.zeros(0), np.zeros(0))
        return FactorPath(np.concatenate(returns), np.concatenate(variances))

    def _generate_symbol(self, symbol: str) -> SymbolPath:
        self.require_symbol(symbol)
        profile = self.profile(symbol)
        first = self.first_hour(symbol)
        if first >= self.total_hours:
            empty = np.zeros(0)
            return SymbolPath(symbol, first, *([empty] * 8))
        vol = profile.hourly_vol
        beta, loading = LOADINGS[profile.bucket]
        idio_vol = math.sqrt(
            max(
                vol**2 - (beta * MARKET_VOL) ** 2 - (loading * BUCKET_VOL) ** 2,
                (MIN_IDIO_SHARE * vol) ** 2,
            )
        )
        seed = self.config.seed
        first_chunk = first // CHUNK_HOURS
        aligned = slice(first_chunk * CHUNK_HOURS, self._chunks * CHUNK_HOURS)

        draws = _SymbolDraws.generate(
            seed, symbol, range(first_chunk, self._chunks), self._phi, idio_vol, vol
        )
        market = self._factor("market")
        bucket = self._factor(str(profile.bucket))
        lagged_sentiment = np.concatenate(([draws.initial_sentiment], draws.sentiment[:-1]))
        lagged_shock = np.concatenate(([0.0], draws.idio_shock[:-1]))
        returns = (
            beta * market.returns[aligned]
            + loading * bucket.returns[aligned]
            + draws.idio_shock
            + draws.jumps
            + self.config.sentiment_drift * vol * lagged_sentiment
            - self.config.reversal * lagged_shock
        )
        sigma = np.sqrt(
            beta**2 * market.variance[aligned]
            + loading**2 * bucket.variance[aligned]
            + idio_vol**2 * draws.idio_variance
        )
        # Work on whole chunks from the listing chunk; hours before the listing have no
        # return, so the first listed bar opens at the profile's start price.
        offset = first - first_chunk * CHUNK_HOURS
        returns[:offset] = 0.0
        close = profile.start_price * np.exp(np.cumsum(returns))
        open_ = np.concatenate(([profile.start_price], close[:-1]))
        high = np.maximum(open_, close) * np.exp(0.5 * sigma * np.abs(draws.range_noise[0]))
        low = np.minimum(open_, close) * np.exp(-0.5 * sigma * np.abs(draws.range_noise[1]))
        # Volume rises with the size of the move and with the prevailing volatility.
        activity = (
            0.35 * np.abs(draws.shock_z)
            + 0.6 * np.log(sigma / vol)
            + 0.15 * np.abs(draws.jumps) / vol
            + 0.3 * draws.volume_noise
        )
        volume = profile.hourly_notional / close * np.exp(activity - 0.4)
        keep = slice(offset, offset + self.total_hours - first)
        return SymbolPath(
            symbol=symbol,
            first_hour=first,
            open=open_[keep],
            high=high[keep],
            low=low[keep],
            close=close[keep],
            volume=volume[keep],
            sigma=sigma[keep],
            sentiment=draws.sentiment[keep],
            idio_shock=draws.idio_shock[keep],
        )


@dataclass(frozen=True, slots=True)
class _SymbolDraws:
    """A symbol's own random processes over whole chunks."""

    initial_sentiment: float  # S just before the first generated hour
    sentiment: FloatArray
    shock_z: FloatArray
    idio_shock: FloatArray
    idio_variance: FloatArray  # unit-mean GARCH variance of the idiosyncratic shock
    jumps: FloatArray
    range_noise: FloatArray  # (2, n): how far high and low reach beyond open/close
    volume_noise: FloatArray

    @classmethod
    def generate(
        cls,
        seed: int,
        symbol: str,
        chunks: range,
        phi: float,
        idio_vol: float,
        vol: float,
    ) -> _SymbolDraws:
        alpha, beta = IDIO_GARCH
        initial = float(chunk_rng(seed, f"symbol/{symbol}/initial", 0).standard_normal())
        sentiment_state, variance_state = initial, 1.0
        parts: dict[str, list[FloatArray]] = {
            k: [] for k in ("sentiment", "z", "variance", "jumps", "range", "volume")
        }
        for chunk in chunks:
            rng = chunk_rng(seed, f"symbol/{symbol}", chunk)
            shocks = rng.standard_normal(CHUNK_HOURS)
            innovations = rng.standard_normal(CHUNK_HOURS)
            parts["jumps"].append(
                compound_poisson(rng, CHUNK_HOURS, IDIO_JUMP_RATE, 0.0, IDIO_JUMP_SD * vol)
            )
            parts["range"].append(rng.standard_normal((2, CHUNK_HOURS)))
            parts["volume"].append(rng.standard_normal(CHUNK_HOURS))
            unit_var, variance_state = garch_unit_variance(shocks, variance_state, alpha, beta)
            sentiment = ar1(innovations, phi, sentiment_state)
            sentiment_state = float(sentiment[-1])
            parts["sentiment"].append(sentiment)
            parts["z"].append(shocks)
            parts["variance"].append(unit_var)
        variance = np.concatenate(parts["variance"])
        shock_z = np.concatenate(parts["z"])
        return cls(
            initial_sentiment=initial,
            sentiment=np.concatenate(parts["sentiment"]),
            shock_z=shock_z,
            idio_shock=idio_vol * np.sqrt(variance) * shock_z,
            idio_variance=variance,
            jumps=np.concatenate(parts["jumps"]),
            range_noise=np.concatenate(parts["range"], axis=1),
            volume_noise=np.concatenate(parts["volume"]),
        )
