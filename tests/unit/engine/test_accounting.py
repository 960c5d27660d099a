"""Cash, positions and the equity curve against hand computation."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from engine_builders import HOUR, PUBLICATION, START, bars, config, frame, run

from quantgate.core import Fill, Side
from quantgate.engine.portfolio_state import PortfolioState

D = Decimal
CLOSES = [100, 100, 100, 110, 112, 113, 105, 100, 100]
OPENS = [100, 100, 100, 101, 111, 112.5, 113.5, 104, 100.5]


def test_one_round_trip_by_hand(tmp_path: Path) -> None:
    result = run(tmp_path, frame(bars("AAA", CLOSES, opens=OPENS)), config(["AAA"]))
    # Bar 3 decides on equity 10 000: 10 000 × weight 1 × capital fraction 0.5 / 110 =
    # 45.4545… → 45.454 (lot 0.001). Bought at 111, fee 5 bps; sold at 104.
    quantity = D("45.454")
    buy_fee = quantity * D(111) * D(5) / D(10_000)
    cash_after_buy = D(10_000) - quantity * D(111) - buy_fee
    sell_fee = quantity * D(104) * D(5) / D(10_000)
    final_cash = cash_after_buy + quantity * D(104) - sell_fee
    assert buy_fee == D("2.522697")
    assert cash_after_buy == D("4952.083303")
    assert final_cash == D("9676.935695")

    trades = result.trades.sort("filled_at")
    assert trades["quantity"].to_list() == [quantity, quantity]
    assert trades["fee"].to_list() == [buy_fee, sell_fee]
    assert trades["cash_after"].to_list() == [cash_after_buy, final_cash]
    assert trades["position_after"].to_list() == [quantity, D(0)]
    realized = quantity * (D(104) - D(111)) - buy_fee - sell_fee
    assert trades["realized_pnl"].to_list()[-1] == realized

    metrics = result.metrics
    assert D(metrics["final_equity"]) == final_cash
    assert D(metrics["net_pnl"]) == final_cash - D(10_000)
    assert D(metrics["fees"]) == buy_fee + sell_fee
    assert D(metrics["realized_pnl"]) == realized
    assert metrics["round_trips"] == 1 and metrics["hit_rate"] == 0.0
    assert metrics["positions"] == {}

    # The curve: one point per bar, marked to its close, after that bar's fills.
    curve = {row["ts"]: row["equity"] for row in result.curve.iter_rows(named=True)}
    expected = {
        2: D(10_000),
        3: D(10_000),  # signal bar: nothing filled yet
        4: cash_after_buy + quantity * 112,
        5: cash_after_buy + quantity * 113,
        6: cash_after_buy + quantity * 105,
        7: final_cash,
        8: final_cash,
    }
    for index, equity in expected.items():
        at = START + index * HOUR + HOUR + PUBLICATION
        assert curve[at] == pytest.approx(float(equity), abs=1e-9), index
    assert result.curve.height == len(CLOSES)


def test_two_symbols_share_the_equity(tmp_path: Path) -> None:
    """Two concurrent signals: the legacy allocator gives each half; the first buy was
    sized on the whole equity and is trimmed when the second signal arrives."""
    a = bars("AAA", [100, 100, 100, 110, 110, 110, 110])
    b = bars("BBB", [50, 50, 50, 50, 60, 60, 60])
    result = run(tmp_path, frame(a, b), config(["AAA", "BBB"]))
    trades = result.trades.sort(["filled_at", "symbol"])
    rows = [
        (r["symbol"], r["side"], r["quantity"], r["price"]) for r in trades.iter_rows(named=True)
    ]
    # Bar 3: AAA signals; 10 000 × 0.5 / 110 = 45.454 AAA bought at bar 4's open (110).
    # Bar 4: BBB signals; equity 10 000 - fee; each symbol gets weight 1/2.
    equity_at_4 = D(10_000) - D("45.454") * 110 * D(5) / 10_000
    aaa_target = (equity_at_4 * D("0.5") * D("0.5") / 110).quantize(
        D("0.001"), rounding="ROUND_DOWN"
    )
    bbb_target = (equity_at_4 * D("0.5") * D("0.5") / 60).quantize(
        D("0.001"), rounding="ROUND_DOWN"
    )
    assert rows == [
        ("AAA", "buy", D("45.454"), D(110)),
        ("AAA", "sell", D("45.454") - aaa_target, D(110)),
        ("BBB", "buy", bbb_target, D(60)),
    ]
    book = PortfolioState(D(10_000))
    for row in trades.iter_rows(named=True):
        book.apply(
            Fill(
                row["trade_id"],
                row["client_order_id"],
                row["symbol"],
                Side(row["side"]),
                row["quantity"],
                row["price"],
                row["fee"],
                row["filled_at"],
            )
        )
    marks = {"AAA": D(110), "BBB": D(60)}
    assert D(result.metrics["final_equity"]) == book.equity(marks)


def test_portfolio_state_short_and_flip() -> None:
    at = datetime(2024, 1, 1, tzinfo=UTC)
    book = PortfolioState(D(1_000))
    book.apply(Fill("t1", "c1", "X", Side.SELL, D(2), D(100), D(1), at))  # short 2 @ 100
    assert book.cash == D(1_000) + D(200) - D(1)
    assert book.equity({"X": D(90)}) == book.cash - 2 * D(90) == D(1_019)
    flipped = book.apply(Fill("t2", "c2", "X", Side.BUY, D(3), D(90), D(1), at))  # cover, long 1
    assert flipped.quantity == D(1) and flipped.average_price == D(90)
    assert flipped.realized_pnl == D(2) * D(10) - D(2)  # +20 on the short, two fees
    assert book.cash == D(1_199) - D(270) - D(1)
    assert book.equity({"X": D(95)}) == D(928) + D(95)
    assert book.equity_float({"X": 95.0}) == pytest.approx(1_023.0)
    restored = PortfolioState.restore(book.checkpoint())
    assert restored.checkpoint() == book.checkpoint()
    assert restored.equity({"X": D(95)}) == book.equity({"X": D(95)})
