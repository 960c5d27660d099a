"""The planted signal and its oracle information coefficient (IC).

The oracle knows the planted state at the close of bar t — the latent sentiment
S[t] and the idiosyncratic shock u[t] — and predicts the forward log return
close(t) -> close(t+h) by its planted expectation

    E[r(t, t+h)] = drift * vol_i * S[t] * (1 - phi^h) / (1 - phi) - reversal * u[t]

(factor drifts, jumps and regimes are not part of the planted signal). The oracle
IC is the Spearman rank correlation between that expectation and the realised
forward return, pooled over all symbols and all hourly decision times that
have a realised return. Spearman, because jumps and volatility clustering give
the returns fat tails that would let a few hours dominate a Pearson correlation.
It is the ceiling a model of these features could reach on this data.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy import stats

from quantgate.adapters.sim.market import SymbolPath, SyntheticMarket
from quantgate.core.enums import Horizon

FloatArray = NDArray[np.float64]

IC_METHOD = "spearman, pooled over symbols and hourly decision times"


def planted_expected_return(market: SyntheticMarket, path: SymbolPath, hours: int) -> FloatArray:
    """The planted expectation of log(close[t+hours] / close[t]) for every bar t of `path`."""
    config = market.config
    phi = market.sentiment_phi
    carry = (1.0 - phi**hours) / (1.0 - phi)
    vol = market.profile(path.symbol).hourly_vol
    expected: FloatArray = (
        config.sentiment_drift * vol * carry * path.sentiment - config.reversal * path.idio_shock
    )
    return expected


def forward_log_returns(close: FloatArray, hours: int) -> FloatArray:
    """log(close[t+hours] / close[t]) for the bars that have a close `hours` later."""
    if len(close) <= hours:
        return np.zeros(0)
    realised: FloatArray = np.log(close[hours:] / close[:-hours])
    return realised


def spearman(x: FloatArray, y: FloatArray) -> float:
    if len(x) < 3:
        return float("nan")
    return float(np.corrcoef(stats.rankdata(x), stats.rankdata(y))[0, 1])


def oracle_ic(market: SyntheticMarket) -> dict[str, float]:
    """Oracle IC per horizon (keys are Horizon values: 1h, 4h, 1d, 7d); NaN without data."""
    result = {}
    for horizon in Horizon:
        signals, realised = [], []
        for symbol in market.config.symbols:
            path = market.path(symbol)
            forward = forward_log_returns(path.close, horizon.hours)
            signals.append(planted_expected_return(market, path, horizon.hours)[: len(forward)])
            realised.append(forward)
        result[str(horizon)] = spearman(np.concatenate(signals), np.concatenate(realised))
    return result
