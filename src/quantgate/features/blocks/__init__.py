"""The feature blocks: market, cross-asset, calendar, social text latent, market latent."""

from __future__ import annotations

from quantgate.features.blocks.calendar import CalendarUnit
from quantgate.features.blocks.cross_asset import BetaUnit, CrossSectionUnit
from quantgate.features.blocks.latent import MarketLatentUnit
from quantgate.features.blocks.market import FreshnessUnit, MarketUnit
from quantgate.features.blocks.social import SocialUnit
from quantgate.features.config import FeaturesConfig
from quantgate.features.units import Unit


def default_units(config: FeaturesConfig) -> list[Unit]:
    """The production blocks, in contract order."""
    return [
        MarketUnit(config),
        FreshnessUnit(config),
        BetaUnit(config),
        CrossSectionUnit(config),
        CalendarUnit(config),
        SocialUnit(config),
        MarketLatentUnit(config),
    ]


__all__ = [
    "BetaUnit",
    "CalendarUnit",
    "CrossSectionUnit",
    "FreshnessUnit",
    "MarketLatentUnit",
    "MarketUnit",
    "SocialUnit",
    "default_units",
]
