"""Where every random number of the synthetic market comes from.

Two kinds of draws keep the data prefix stable (a value never depends on how
much was requested):

- Sequential processes (the hourly market) draw from one generator per fixed
  chunk, seeded by (seed, stream, chunk index), and carry their state across
  chunks.
- Everything served on request (minute paths, books, social text) uses
  counter-based draws: each number is a hash of (stream key, coordinates), so
  any element can be computed alone, in any order, vectorised.
"""

from __future__ import annotations

import hashlib

import numpy as np
from numpy.typing import NDArray
from scipy import special, stats

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX_1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX_2 = np.uint64(0x94D049BB133111EB)
_TWO_POW_53 = float(2**53)


def stream_key(*parts: str | int) -> int:
    """A stable 63-bit key for a named stream, identical in every process and platform."""
    text = "\x1f".join(str(part) for part in parts)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") >> 1


def chunk_rng(seed: int, stream: str, chunk: int) -> np.random.Generator:
    """The generator for one chunk of a sequential process."""
    return np.random.default_rng(np.random.SeedSequence([seed, stream_key(stream), chunk]))


def _mix(values: NDArray[np.uint64]) -> NDArray[np.uint64]:
    # splitmix64's finaliser: a bijection with full avalanche, cheap in numpy.
    values = (values ^ (values >> np.uint64(30))) * _MIX_1
    values = (values ^ (values >> np.uint64(27))) * _MIX_2
    return values ^ (values >> np.uint64(31))


def hashed_uniforms(key: int, *coords: NDArray[np.int64] | int) -> NDArray[np.float64]:
    """Uniforms in (0, 1), one per broadcast element of `coords`, a pure function of them."""
    arrays = np.broadcast_arrays(*(np.asarray(c, dtype=np.int64) for c in coords))
    state = np.full(arrays[0].shape, np.uint64(key), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for coordinate in arrays:
            state = _mix(state + _GOLDEN + coordinate.astype(np.int64).view(np.uint64))
    # Top 53 bits, centred in their cell so 0 and 1 are never returned.
    return ((state >> np.uint64(11)).astype(np.float64) + 0.5) / _TWO_POW_53


def hashed_normals(key: int, *coords: NDArray[np.int64] | int) -> NDArray[np.float64]:
    normals: NDArray[np.float64] = special.ndtri(hashed_uniforms(key, *coords))
    return normals


def hashed_poisson(
    key: int, mean: NDArray[np.float64] | float, *coords: NDArray[np.int64] | int
) -> NDArray[np.int64]:
    uniforms = hashed_uniforms(key, *coords)
    counts: NDArray[np.float64] = stats.poisson.ppf(uniforms, mean)
    return counts.astype(np.int64)
