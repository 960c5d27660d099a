"""The social block against brute-force computations, including late texts."""

from __future__ import annotations

import numpy as np
import pytest

from quantgate.features import FeaturesConfig
from quantgate.features.blocks.social import SocialUnit, window_counts
from quantgate.features.series import HOUR_US, NONE_TIME, TextSeries
from quantgate.features.units import AsofContext

MINUTE = 60_000_000


def texts(n: int = 400, seed: int = 4) -> tuple[TextSeries, np.ndarray]:
    rng = np.random.default_rng(seed)
    ts = np.sort(rng.integers(0, 400 * HOUR_US, n)).astype(np.int64)
    lag = np.full(n, MINUTE, dtype=np.int64)
    late = rng.random(n) < 0.1
    lag[late] = rng.integers(2 * HOUR_US, 100 * HOUR_US, int(late.sum()))  # some arrive late
    available = ts + lag
    order = np.lexsort((ts, available))
    embeddings = rng.normal(0, 1, (n, 384)).astype(np.float32)
    series = TextSeries(
        "X",
        ts[order],
        available[order],
        (rng.random(n) < 0.7)[order],
        rng.integers(0, 15, n)[order].astype(np.int64),
        tuple(str(i) for i in order),
        order.astype(np.int64),
    )
    return series, embeddings


def test_window_counts_match_brute_force() -> None:
    series, _ = texts()
    asofs = np.arange(0, 420 * HOUR_US, HOUR_US, dtype=np.int64) + MINUTE
    for window in (1, 24, 72):
        counts = window_counts(series.ts, series.available_at, asofs, window * HOUR_US)
        brute = [
            np.sum((series.available_at <= t) & (series.ts > t - window * HOUR_US)) for t in asofs
        ]
        np.testing.assert_array_equal(counts, brute)


@pytest.fixture(scope="module")
def social() -> tuple[SocialUnit, TextSeries, np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    unit = SocialUnit(FeaturesConfig(embedder="hashing"))
    series, embeddings = texts()
    asofs = np.arange(0, 420 * HOUR_US, HOUR_US, dtype=np.int64) + MINUTE
    none = np.full(asofs.shape, NONE_TIME)
    values = unit.compute(AsofContext("X", asofs, none, none, series, embeddings))
    return unit, series, embeddings, asofs, values


def test_columns(
    social: tuple[SocialUnit, TextSeries, np.ndarray, np.ndarray, dict[str, np.ndarray]],
) -> None:
    unit, _, _, _, values = social
    assert set(values) == set(unit.columns())
    assert len(unit.columns()) >= 384 + 10


def test_decayed_mean_embedding_matches_brute_force(
    social: tuple[SocialUnit, TextSeries, np.ndarray, np.ndarray, dict[str, np.ndarray]],
) -> None:
    _, series, embeddings, asofs, values = social
    half_life = 12 * HOUR_US
    window = 72 * HOUR_US
    for i in (50, 200, 333):
        t = asofs[i]
        used = (series.available_at <= t) & (series.ts > t - window)
        weight = np.exp2(-(t - series.ts[used]) / half_life)
        expected = (weight[:, None] * embeddings[series.embedding_rows[used]]).sum(0) / weight.sum()
        got = np.array([values[f"soc_emb_{d:03d}"][i] for d in range(384)])
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)
        assert values["soc_emb_weight"][i] == pytest.approx(weight.sum(), rel=1e-12)
        assert values["soc_emb_norm"][i] == pytest.approx(np.linalg.norm(expected), rel=1e-9)
        recent = (series.available_at <= t) & (series.ts > t - 24 * HOUR_US)
        assert values["soc_authors_24h"][i] == pytest.approx(
            np.log1p(len(set(series.author[recent].tolist())))
        )
        posts = used & ~series.is_comment
        last_post = series.ts[(series.available_at <= t) & ~series.is_comment].max()
        assert values["soc_hours_since_post"][i] == pytest.approx((t - last_post) / HOUR_US)
        comments_72 = np.sum(used & series.is_comment)
        assert values["soc_comment_ratio_72h"][i] == pytest.approx(
            comments_72 / (comments_72 + np.sum(posts))
        )


def test_no_text_means_missing_with_a_flag(
    social: tuple[SocialUnit, TextSeries, np.ndarray, np.ndarray, dict[str, np.ndarray]],
) -> None:
    _, series, _, asofs, values = social
    before_first = asofs < series.available_at.min()
    assert before_first.any()
    assert np.all(values["soc_emb_empty"][before_first] == 1)
    assert np.all(np.isnan(values["soc_emb_000"][before_first]))
    assert np.all(values["soc_silent"][before_first] == 1)
    assert np.all(np.isnan(values["soc_hours_since_text"][before_first]))


def test_a_text_is_unseen_before_its_available_at() -> None:
    unit = SocialUnit(FeaturesConfig(embedder="hashing"))
    ts = np.array([10 * HOUR_US], dtype=np.int64)
    available = np.array([30 * HOUR_US], dtype=np.int64)  # 20 hours late
    series = TextSeries("X", ts, available, np.array([False]), np.array([0]), ("a",), np.array([0]))
    asofs = np.array([20 * HOUR_US, 30 * HOUR_US, 31 * HOUR_US], dtype=np.int64)
    none = np.full(3, NONE_TIME)
    values = unit.compute(
        AsofContext("X", asofs, none, none, series, np.ones((1, 384), dtype=np.float32))
    )
    assert values["soc_posts_24h"].tolist() == [
        0.0,
        pytest.approx(np.log(2)),
        pytest.approx(np.log(2)),
    ]
    assert values["soc_emb_empty"].tolist() == [1.0, 0.0, 0.0]
    assert values["soc_hours_since_post"][1] == pytest.approx(20.0)
