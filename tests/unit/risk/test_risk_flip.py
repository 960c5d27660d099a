"""An order on an over-limit book goes through only when it reduces the book: a sell that
turns an over-limit long into a short as large leaves the worst case where it was, but it
is no reduction, and the gate denies it (before, it passed: "exposure did not go up")."""

from __future__ import annotations

from decimal import Decimal

import pytest
from test_risk_exposure import EMPTY, NOW, market_order

from quantgate.core import Bucket, DenyReason, Side
from quantgate.risk import Holding, Quote, RiskContext, RiskLimits
from quantgate.risk.checks import CheckInput
from quantgate.risk.checks.exposure import bucket_position, gross_exposure, symbol_position

D = Decimal
WIDE = D(10**9)


def judged(side: Side, quantity: str, held: str, limits: RiskLimits) -> DenyReason | None:
    """The first exposure denial of a market order on BTC (mid 40,000) holding `held`."""
    context = RiskContext(
        quotes={"BTC": Quote(D(39_999), D(40_001), NOW)},
        holdings={"BTC": Holding("BTC", Bucket.MAJORS, D(held), D(40_000))},
    )
    inputs = CheckInput(market_order("BTC", side, D(quantity)), context, EMPTY, limits)
    for check in (symbol_position, bucket_position, gross_exposure):
        denial = check(inputs)
        if denial is not None:
            return denial.reason
    return None


SYMBOL_LIMIT = RiskLimits(
    max_symbol_notional=D(20_000), default_max_bucket_notional=WIDE, max_gross_notional=WIDE
)
GROSS_LIMIT = RiskLimits(
    max_symbol_notional=WIDE, default_max_bucket_notional=WIDE, max_gross_notional=D(20_000)
)


@pytest.mark.parametrize(
    ("side", "quantity", "held", "expected"),
    [
        # Long 0.6 (24,000) over a 20,000 limit, after the price rose.
        (Side.SELL, "1.2", "0.6", DenyReason.MAX_POSITION_SYMBOL),  # short 0.6: a flip
        (Side.SELL, "1.15", "0.6", DenyReason.MAX_POSITION_SYMBOL),  # short 0.55: over again
        (Side.SELL, "0.6", "0.6", None),  # flat
        (Side.SELL, "0.5", "0.6", None),  # reduced, still long
        (Side.SELL, "1.05", "0.6", None),  # short 0.45 (18,000): under the limit
        (Side.BUY, "0.1", "0.6", DenyReason.MAX_POSITION_SYMBOL),  # more of it
        # The same on the short side.
        (Side.BUY, "1.2", "-0.6", DenyReason.MAX_POSITION_SYMBOL),
        (Side.BUY, "0.5", "-0.6", None),
    ],
)
def test_only_a_reduction_passes_an_over_limit_symbol(
    side: Side, quantity: str, held: str, expected: DenyReason | None
) -> None:
    assert judged(side, quantity, held, SYMBOL_LIMIT) is expected


def test_the_gross_limit_denies_the_flip_as_well() -> None:
    assert judged(Side.SELL, "1.2", "0.6", GROSS_LIMIT) is DenyReason.GROSS_EXPOSURE
    assert judged(Side.SELL, "0.6", "0.6", GROSS_LIMIT) is None


def test_a_flip_within_the_limit_passes() -> None:
    assert judged(Side.SELL, "0.8", "0.4", SYMBOL_LIMIT) is None  # 16,000 long to 16,000 short
