"""The social text latent block: what people wrote about a symbol, as known at the decision time.

At decision time t a text counts only if available_at <= t. Windows are on
publication time: "the last 24 h" means published after t - 24 h.

- the exponentially decayed mean of the texts' embeddings (384 dims) over the
  last `social_embedding_window_hours`, each text weighted 2^(-age / half-life)
  with age = t - published_at; NaN with `soc_emb_empty` = 1 when there is none;
- post and comment counts over several windows, the comment ratio, distinct
  authors, and how recent the last post / text is (NaN beyond the recency cap,
  with `soc_silent_30d` set).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import sparse

from quantgate.features.blocks.market import pipeline_params
from quantgate.features.config import FeaturesConfig
from quantgate.features.embeddings import EMBEDDING_DIMS, embedder_id_for
from quantgate.features.ops import Float32Array, FloatArray, IntArray
from quantgate.features.series import HOUR_US, TextSeries
from quantgate.features.units import SOCIAL_DATASET, AsofContext, AsofUnit

COUNT_WINDOWS = (1, 6, 24, 72)
RATIO_WINDOWS = (24, 72)
AUTHOR_WINDOW = 24
_PAIRS_PER_CHUNK = 1_000_000


def window_counts(ts: IntArray, available: IntArray, asofs: IntArray, window_us: int) -> FloatArray:
    """Exactly #{i : available_i <= t and ts_i > t - window} for every t in sorted `asofs`."""
    known = np.searchsorted(np.sort(available), asofs, side="right")
    old = np.searchsorted(np.sort(ts), asofs - window_us, side="right")
    # Texts published before t - window but not yet available at t are in `old` only.
    late = (available - ts) > window_us
    correction = np.zeros(asofs.shape[0] + 1, dtype=np.int64)
    if late.any():
        lo = np.searchsorted(asofs, ts[late] + window_us, side="left")
        hi = np.searchsorted(asofs, available[late], side="left")
        np.add.at(correction, lo, 1)
        np.add.at(correction, hi, -1)
    counts = known - old + np.cumsum(correction)[:-1]
    return np.asarray(counts, dtype=np.float64)


def _hours_since_last(
    ts: IntArray, available: IntArray, asofs: IntArray, cap_hours: int
) -> FloatArray:
    """Hours since the latest publication known at t (NaN if none or beyond the cap)."""
    if ts.shape[0] == 0:
        return np.full(asofs.shape, np.nan)
    order = np.argsort(available, kind="stable")
    latest = np.maximum.accumulate(ts[order])
    position = np.searchsorted(available[order], asofs, side="right") - 1
    hours = np.where(position >= 0, (asofs - latest[np.maximum(position, 0)]) / HOUR_US, np.nan)
    return np.where(hours <= cap_hours, hours, np.nan).astype(np.float64)


class SocialUnit(AsofUnit):
    name = "social"
    block = "social_text_latent"
    version = 1
    dataset = SOCIAL_DATASET
    reads_texts = True

    def __init__(self, config: FeaturesConfig) -> None:
        self.config = config
        self.embedder_id = embedder_id_for(config)
        self.half_life_us = config.social_half_life_hours * HOUR_US
        self.window_us = config.social_embedding_window_hours * HOUR_US
        self.cap_hours = config.social_recency_cap_hours
        self.text_reach_us = self.cap_hours * HOUR_US

    def params(self) -> dict[str, Any]:
        return {
            "pipeline": pipeline_params(self.config),
            "embedder": self.embedder_id,
            "dims": EMBEDDING_DIMS,
            "half_life_hours": self.config.social_half_life_hours,
            "embedding_window_hours": self.config.social_embedding_window_hours,
            "recency_cap_hours": self.cap_hours,
            "count_windows": COUNT_WINDOWS,
            "ratio_windows": RATIO_WINDOWS,
            "author_window": AUTHOR_WINDOW,
        }

    def columns(self) -> tuple[str, ...]:
        names = [f"soc_posts_{w}h" for w in COUNT_WINDOWS]
        names += [f"soc_comments_{w}h" for w in COUNT_WINDOWS]
        names += [
            f"soc_texts_{self.cap_hours}h",
            "soc_count_24h_vs_cap",
            *[f"soc_comment_ratio_{w}h" for w in RATIO_WINDOWS],
            f"soc_authors_{AUTHOR_WINDOW}h",
            "soc_hours_since_post",
            "soc_hours_since_text",
            "soc_silent",
            "soc_emb_weight",
            "soc_emb_norm",
            "soc_emb_empty",
        ]
        names += [f"soc_emb_{i:03d}" for i in range(EMBEDDING_DIMS)]
        return tuple(names)

    def compute(self, context: AsofContext) -> dict[str, FloatArray]:
        texts, asofs = context.texts, context.asofs
        out: dict[str, FloatArray] = {}
        posts = ~texts.is_comment
        counts: dict[tuple[str, int], FloatArray] = {}
        for kind, mask in (("posts", posts), ("comments", texts.is_comment)):
            for w in sorted({*COUNT_WINDOWS, *RATIO_WINDOWS}):
                counts[(kind, w)] = window_counts(
                    texts.ts[mask], texts.available_at[mask], asofs, w * HOUR_US
                )
        for kind in ("posts", "comments"):
            for w in COUNT_WINDOWS:
                out[f"soc_{kind}_{w}h"] = np.log1p(counts[(kind, w)])
        total_cap = window_counts(texts.ts, texts.available_at, asofs, self.text_reach_us)
        total_24 = counts[("posts", 24)] + counts[("comments", 24)]
        out[f"soc_texts_{self.cap_hours}h"] = np.log1p(total_cap)
        per_day = total_cap / (self.cap_hours / 24.0)
        out["soc_count_24h_vs_cap"] = np.log((total_24 + 1.0) / (per_day + 1.0))
        for w in RATIO_WINDOWS:
            comments = counts[("comments", w)]
            both = comments + counts[("posts", w)]
            out[f"soc_comment_ratio_{w}h"] = np.where(
                both > 0, comments / np.maximum(both, 1), np.nan
            )
        out["soc_hours_since_post"] = _hours_since_last(
            texts.ts[posts], texts.available_at[posts], asofs, self.cap_hours
        )
        out["soc_hours_since_text"] = _hours_since_last(
            texts.ts, texts.available_at, asofs, self.cap_hours
        )
        out["soc_silent"] = (total_cap == 0).astype(np.float64)
        authors, weight, mean = self._windowed(texts, asofs, context.embeddings)
        out[f"soc_authors_{AUTHOR_WINDOW}h"] = np.log1p(authors)
        empty = weight <= 0
        out["soc_emb_weight"] = weight
        norm = np.full(weight.shape, np.nan)
        present = np.flatnonzero(~empty)
        if present.shape[0]:
            rows = mean[present]
            norm[present] = np.sqrt(np.einsum("ij,ij->i", rows, rows))
        out["soc_emb_norm"] = norm
        out["soc_emb_empty"] = empty.astype(np.float64)
        for i in range(EMBEDDING_DIMS):
            out[f"soc_emb_{i:03d}"] = mean[:, i]
        return out

    def _windowed(
        self, texts: TextSeries, asofs: IntArray, embeddings: Float32Array
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Distinct authors in AUTHOR_WINDOW, decay-weight sum and decayed mean embedding."""
        n = asofs.shape[0]
        authors = np.zeros(n, dtype=np.float64)
        weight = np.zeros(n, dtype=np.float64)
        mean = np.full((n, EMBEDDING_DIMS), np.nan, dtype=np.float64)
        if len(texts) == 0 or n == 0:
            return authors, weight, np.asfortranarray(mean)
        available = texts.available_at
        lo_all = np.searchsorted(available, asofs - self.window_us, side="right")
        hi_all = np.searchsorted(available, asofs, side="right")
        sizes = hi_all - lo_all
        start = 0
        while start < n:
            cumulative = np.cumsum(sizes[start:])
            stop = start + max(1, int(np.searchsorted(cumulative, _PAIRS_PER_CHUNK, side="right")))
            self._chunk(
                texts, asofs, embeddings, lo_all, hi_all, start, stop, authors, weight, mean
            )
            start = stop
        # column-major, so each embedding dimension is a contiguous column
        return authors, weight, np.asfortranarray(mean)

    def _chunk(
        self,
        texts: TextSeries,
        asofs: IntArray,
        embeddings: Float32Array,
        lo_all: IntArray,
        hi_all: IntArray,
        start: int,
        stop: int,
        authors: FloatArray,
        weight: FloatArray,
        mean: FloatArray,
    ) -> None:
        lo, hi = lo_all[start:stop], hi_all[start:stop]
        sizes = hi - lo
        total = int(sizes.sum())
        if total == 0:
            return
        m = stop - start
        # Pairs (decision time, candidate text) in CSR layout: row r holds the texts
        # available in (t - window, t], in available_at order.
        indptr = np.zeros(m + 1, dtype=np.int64)
        np.cumsum(sizes, out=indptr[1:])
        columns = np.arange(total, dtype=np.int64) - np.repeat(indptr[:-1] - lo, sizes)
        age = np.repeat(asofs[start:stop], sizes) - texts.ts[columns]
        decay = np.exp2(-age / self.half_life_us)
        decay[age >= self.window_us] = 0.0  # published before the window (arrived late)
        recent = np.flatnonzero(age < AUTHOR_WINDOW * HOUR_US)
        if recent.shape[0]:
            span = int(texts.author.max()) + 1
            rows = np.searchsorted(indptr, recent, side="right") - 1
            keys = np.sort(rows * span + texts.author[columns[recent]], kind="stable")
            distinct = keys[np.concatenate([[True], keys[1:] != keys[:-1]])]
            authors[start:stop] = np.bincount(distinct // span, minlength=m)
        first, last = int(lo[0]), int(hi[-1])
        matrix = sparse.csr_matrix((decay, columns - first, indptr), shape=(m, last - first))
        # the embeddings plus a column of ones: one product gives sums and weights, each
        # row summed in the same order whatever the chunk, so results are reproducible
        block = np.empty((last - first, EMBEDDING_DIMS + 1), dtype=np.float64)
        block[:, :EMBEDDING_DIMS] = embeddings[texts.embedding_rows[first:last]]
        block[:, EMBEDDING_DIMS] = 1.0
        sums = np.asarray(matrix @ block, dtype=np.float64)
        total_weight = sums[:, EMBEDDING_DIMS]
        weight[start:stop] = total_weight
        with np.errstate(divide="ignore", invalid="ignore"):
            chunk_mean = sums[:, :EMBEDDING_DIMS] / total_weight[:, None]
        chunk_mean[total_weight <= 0] = np.nan
        mean[start:stop] = chunk_mean
