"""Instruments the engine trades: tick, lot, bucket per symbol, with crypto-spot defaults.

There is no instrument catalogue yet, so a run states its instruments in its
config: per-symbol overrides on top of defaults (tick 1e-8, lot 1e-5 — Binance's
BTCUSDT step — and a bucket from a small built-in map).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal

from pydantic import Field

from quantgate.config.base import ComponentConfig
from quantgate.core.buckets import bucket_of
from quantgate.core.enums import AssetClass, Bucket
from quantgate.core.types import Instrument


class InstrumentSpec(ComponentConfig):
    tick_size: Decimal | None = Field(None, gt=0)
    lot_size: Decimal | None = Field(None, gt=0)
    bucket: Bucket | None = None


class InstrumentsConfig(ComponentConfig):
    asset_class: AssetClass = AssetClass.CRYPTO_SPOT
    default_tick_size: Decimal = Field(Decimal("0.00000001"), gt=0)
    default_lot_size: Decimal = Field(Decimal("0.00001"), gt=0)
    overrides: dict[str, InstrumentSpec] = Field(default_factory=dict)

    def build(self, symbols: Iterable[str], venue: str) -> dict[str, Instrument]:
        built = {}
        for symbol in symbols:
            spec = self.overrides.get(symbol, InstrumentSpec())
            built[symbol] = Instrument(
                symbol=symbol,
                venue=venue,
                asset_class=self.asset_class,
                bucket=spec.bucket or bucket_of(symbol),
                tick_size=spec.tick_size or self.default_tick_size,
                lot_size=spec.lot_size or self.default_lot_size,
                listing_date=date(2000, 1, 1),
            )
        return built


def buckets_of(instruments: Mapping[str, Instrument]) -> dict[str, Bucket]:
    return {symbol: instrument.bucket for symbol, instrument in instruments.items()}
