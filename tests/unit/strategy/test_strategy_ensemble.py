from typing import Any

import pytest
from strategy_streams import (
    bars_from_closes,
    cointegrated_closes,
    feed_bars,
    market,
    random_walk,
    run,
)

from quantgate.core import Bar, ConfigurationError, Horizon, Prediction
from quantgate.strategy import (
    EnsembleConfig,
    EnsembleMember,
    EnsembleStrategy,
    MomentumConfig,
    MomentumStrategy,
    build_strategy,
)

MEMBERS = (
    EnsembleMember(
        strategy="momentum", weight=3.0, params={"lookback": 6, "entry_threshold": 0.02}
    ),
    EnsembleMember(strategy="mean_reversion", weight=1.0, params={"window": 12, "entry_z": 1.5}),
)


def expected_ensemble(bars: list[Bar]) -> list[tuple[Any, float]]:
    """The weighted average of the members' latest targets, recomputed independently."""
    momentum = build_strategy("momentum", MEMBERS[0].params)
    reversion = build_strategy("mean_reversion", MEMBERS[1].params)
    latest = {"momentum": 0.0, "mean_reversion": 0.0}
    emitted = 0.0
    out = []
    for item in bars:
        changed = False
        for name, member in (("momentum", momentum), ("mean_reversion", reversion)):
            for signal in member.on_bar(item):
                latest[name] = signal.target_exposure
                changed = True
        if not changed:
            continue
        combined = (3.0 * latest["momentum"] + 1.0 * latest["mean_reversion"]) / 4.0
        if combined != emitted:
            emitted = combined
            out.append((item.available_at, combined))
    return out


def test_target_is_the_weighted_average_of_member_targets() -> None:
    bars = bars_from_closes("BTCUSDT", random_walk(600, 11, vol=0.012))
    ensemble = build_strategy("ensemble", {"members": [m.model_dump() for m in MEMBERS]})
    signals = feed_bars(ensemble, bars)
    expected = expected_ensemble(bars)
    assert len(expected) >= 10
    assert {value for _, value in expected} & {0.5, -0.5, 0.25, -0.25, 1.0, -1.0}
    assert [(s.asof, s.target_exposure) for s in signals] == expected
    assert all(s.strategy == "ensemble" for s in signals)
    assert all("momentum" in s.reason and "mean_reversion" in s.reason for s in signals)


def test_min_change_suppresses_small_moves_but_never_a_close() -> None:
    bars = bars_from_closes("BTCUSDT", random_walk(600, 11, vol=0.012))
    params = {"members": [m.model_dump() for m in MEMBERS], "min_change": 0.3}
    signals = feed_bars(build_strategy("ensemble", params), bars)
    previous = 0.0
    for signal in signals:
        moved = abs(signal.target_exposure - previous)
        assert moved > 0.3 or (signal.is_exit and previous != 0.0)
        previous = signal.target_exposure


def test_a_pairs_member_emits_both_legs_through_the_ensemble() -> None:
    a, b = cointegrated_closes(400, 5)
    bars = [
        x
        for pair in zip(bars_from_closes("A", a), bars_from_closes("B", b), strict=True)
        for x in pair
    ]
    params = {
        "members": [
            {"strategy": "pairs", "weight": 1.0, "params": {"pairs": [["A", "B"]], "window": 120}}
        ]
    }
    signals = feed_bars(build_strategy("ensemble", params), bars)
    assert signals
    assert {s.symbol for s in signals} == {"A", "B"}
    by_time: dict[Any, set[str]] = {}
    for signal in signals:
        by_time.setdefault(signal.asof, set()).add(signal.symbol)
    assert all(symbols == {"A", "B"} for symbols in by_time.values())


def test_forecasts_are_blended_when_members_share_a_horizon() -> None:
    params = {
        "members": [
            {"strategy": "ml_signal", "weight": 1.0, "params": {"horizons": ["4h"]}},
            {"strategy": "ml_signal", "weight": 1.0, "params": {"horizons": ["4h"], "cost_bps": 0}},
        ]
    }
    ensemble = build_strategy("ensemble", params)
    events = [e for e in market(50, 4) if isinstance(e, Prediction)]
    signals = run(ensemble, events)
    entries = [s for s in signals if not s.is_exit]
    assert entries
    assert all(s.horizon is Horizon.H4 and s.expected_return is not None for s in entries)


def test_members_must_match_the_configuration() -> None:
    config = EnsembleConfig(members=MEMBERS)
    with pytest.raises(ConfigurationError, match="members"):
        EnsembleStrategy(config, [MomentumStrategy(MomentumConfig())])


def test_checkpoint_contains_every_member() -> None:
    ensemble = build_strategy("ensemble", {"members": [m.model_dump() for m in MEMBERS]})
    feed_bars(ensemble, bars_from_closes("BTCUSDT", random_walk(100, 1)))
    members = ensemble.checkpoint()["state"]["members"]
    assert [m["kind"] for m in members] == ["momentum", "mean_reversion"]
    assert all(m["state"]["BTCUSDT"]["closes"] for m in members)
