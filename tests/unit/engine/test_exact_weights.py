"""The loop sizes targets from each weight as the Decimal of its shortest repr; the cached
conversion must give that Decimal digit for digit, sign of a zero included (the target's
sign and exponent reach the client order id)."""

from __future__ import annotations

import random
from decimal import Decimal

from quantgate.engine.loop import _exact_weight


def test_a_cached_weight_is_the_decimal_of_its_repr_digit_for_digit() -> None:
    rng = random.Random(11)
    weights = [0.125, -0.125, 1 / 3, -1 / 3, 1 / 7, 1.0, -1.0, 5e-324, 1e-17]
    weights += [rng.uniform(-1, 1) for _ in range(2000)]
    weights += [1 / n for n in range(1, 9)] * 3  # asked again: answered from the cache
    for weight in weights:
        exact = _exact_weight(weight)
        assert str(exact) == str(Decimal(repr(weight)))


def test_positive_and_negative_zero_keep_their_own_sign() -> None:
    for _ in range(2):
        assert str(_exact_weight(0.0)) == "0.0"
        assert str(_exact_weight(-0.0)) == "-0.0"
