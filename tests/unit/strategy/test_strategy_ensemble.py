from decimal import Decimal
from typing import Any

import pytest
from strategy_streams import (
    bar,
    bars_from_closes,
    cointegrated_closes,
    feed_bars,
    json_round_trip,
    market,
    random_walk,
    run,
)

from quantgate.core import Bar, ConfigurationError, Fill, Horizon, Prediction, Side, Signal
from quantgate.strategy import (
    BracketMomentumStrategy,
    EnsembleConfig,
    EnsembleMember,
    EnsembleStrategy,
    MomentumConfig,
    MomentumStrategy,
    build_strategy,
)
from quantgate.strategy.ensemble import _shared_metadata

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


# -- which members learn of a fill ------------------------------------------------------------

BRACKET = {
    "lookback": 2,
    "entry_threshold": 0.03,
    "stop_loss_pct": 0.02,
    "take_profit_pct": 0.04,
    "cooldown_bars": 1,
}
BRACKET_AND_MOMENTUM = {
    "members": [
        {"strategy": "bracket_momentum", "weight": 1, "params": BRACKET},
        {"strategy": "momentum", "weight": 1, "params": {"lookback": 3, "entry_threshold": 0.05}},
    ]
}


def climb() -> list[Bar]:
    """The bracket enters at bar 2 (close 104), momentum joins at bar 3, and bar 4's high of
    108.5 passes the bracket's take-profit of 104 × 1.04 = 108.16."""
    return [
        bar("BTCUSDT", 0, 100.0),
        bar("BTCUSDT", 1, 100.0),
        bar("BTCUSDT", 2, 104.0, open_=100.0),
        bar("BTCUSDT", 3, 106.0, open_=104.0),
        bar("BTCUSDT", 4, 108.0, open_=106.5, high=108.5, low=106.0),
    ]


def buy(index: int, price: str) -> Fill:
    at = climb()[index].ts
    return Fill(
        f"t{index}", f"c{index}", "BTCUSDT", Side.BUY, Decimal(1), Decimal(price), Decimal(0), at
    )


def test_a_fill_reaches_only_the_members_that_moved_the_latest_signal() -> None:
    ensemble = build_strategy("ensemble", BRACKET_AND_MOMENTUM)
    assert isinstance(ensemble, EnsembleStrategy)
    bracket = ensemble.members[0]
    assert isinstance(bracket, BracketMomentumStrategy)
    bars = climb()
    emitted = [ensemble.on_bar(item) for item in bars[:3]]
    assert [s.target_exposure for s in emitted[2]] == [0.5]  # the bracket's entry
    ensemble.on_fill(buy(3, "104"))  # its entry fills at bar 3's open
    assert [s.target_exposure for s in ensemble.on_bar(bars[3])] == [1.0]  # momentum joins
    levels = bracket.open_bracket("BTCUSDT")
    assert levels is not None
    assert (levels.entry_price, levels.stop, levels.target) == pytest.approx((104, 101.92, 108.16))
    # Momentum's top-up fills at 106.5: not the bracket's trade, so its levels stay put...
    ensemble.on_fill(buy(4, "106.5"))
    assert (levels.entry_price, levels.stop, levels.target) == pytest.approx((104, 101.92, 108.16))
    # ...and bar 4's high of 108.5 takes the profit at 108.16, as the bracket alone would.
    exit_signals = ensemble.on_bar(bars[4])
    assert bracket.open_bracket("BTCUSDT") is None
    assert [s.target_exposure for s in exit_signals] == [0.5]
    assert exit_signals[0].stop_price is None  # the position left is momentum's


def test_who_moved_the_latest_signal_survives_a_restore() -> None:
    ensemble = build_strategy("ensemble", BRACKET_AND_MOMENTUM)
    for item in climb()[:3]:
        ensemble.on_bar(item)
    restored = build_strategy("ensemble", BRACKET_AND_MOMENTUM)
    assert isinstance(restored, EnsembleStrategy)
    restored.restore(json_round_trip(ensemble.checkpoint()))
    assert restored.checkpoint() == ensemble.checkpoint()
    restored.on_fill(buy(3, "103"))  # the entry fills lower than the decision close
    levels = restored.members[0]
    assert isinstance(levels, BracketMomentumStrategy)
    opened = levels.open_bracket("BTCUSDT")
    assert opened is not None
    assert (opened.entry_price, opened.target) == pytest.approx((103.0, 103.0 * 1.04))
    # After momentum's vote (bar 3), a restored ensemble keeps its top-up from the bracket.
    restored.on_bar(climb()[3])
    again = build_strategy("ensemble", BRACKET_AND_MOMENTUM)
    assert isinstance(again, EnsembleStrategy)
    again.restore(json_round_trip(restored.checkpoint()))
    again.on_fill(buy(4, "106.5"))
    bracket = again.members[0]
    assert isinstance(bracket, BracketMomentumStrategy)
    kept = bracket.open_bracket("BTCUSDT")
    assert kept is not None
    assert (kept.entry_price, kept.target) == pytest.approx((103.0, 103.0 * 1.04))


# -- metadata carried through ------------------------------------------------------------------


def test_a_lone_bracket_member_keeps_its_stop_and_target() -> None:
    params = {"members": [{"strategy": "bracket_momentum", "weight": 1, "params": BRACKET}]}
    ensemble = build_strategy("ensemble", params)
    entry, exit_ = [s for item in climb() for s in ensemble.on_bar(item)]  # no fills
    assert (entry.stop_price, entry.target_price) == pytest.approx((101.92, 108.16))
    assert exit_.is_exit
    assert (exit_.stop_price, exit_.target_price) == pytest.approx((101.92, 108.16))


def test_members_disagreeing_on_a_stop_leave_it_out() -> None:
    wider = {**BRACKET, "stop_loss_pct": 0.05}
    params = {
        "members": [
            {"strategy": "bracket_momentum", "weight": 1, "params": BRACKET},
            {"strategy": "bracket_momentum", "weight": 1, "params": {**wider, "label": "wide"}},
        ]
    }
    ensemble = build_strategy("ensemble", params)
    (entry,) = [s for item in climb()[:3] for s in ensemble.on_bar(item)]
    assert entry.target_exposure == 1.0
    assert entry.stop_price is None  # 101.92 against 98.8: no single stop
    assert entry.target_price == pytest.approx(108.16)  # both agree on the target


def test_pair_legs_keep_their_group_through_the_ensemble() -> None:
    a, b = cointegrated_closes(400, 5)
    bars = [
        x
        for pair in zip(bars_from_closes("A", a), bars_from_closes("B", b), strict=True)
        for x in pair
    ]
    pairs_member = {"strategy": "pairs", "weight": 1.0, "params": {"pairs": [["A", "B"]]}}
    signals = feed_bars(build_strategy("ensemble", {"members": [pairs_member]}), bars)
    assert len(signals) >= 4
    assert {s.group for s in signals} == {"pair:A/B"}  # entries and exits alike


def test_a_leg_sharing_its_symbol_with_an_ungrouped_view_loses_the_group() -> None:
    shared = Signal(
        "A", climb()[0].available_at, "pairs", 0.5, 1.0, Horizon.H1, "leg", group="pair:A/B"
    )
    ungrouped = Signal("A", shared.asof, "momentum", 1.0, 1.0, Horizon.H1, "trend")
    assert _shared_metadata([shared]) == {"group": "pair:A/B"}
    assert _shared_metadata([shared, ungrouped]) == {}
    assert _shared_metadata([]) == {}
