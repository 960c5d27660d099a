"""Point-in-time features: the contract, the blocks, the builder and the leakage validators.

Entry points for the layers above:

- `CONTRACT` / `feature_contract(config)`: the ordered FeatureSpec list and its hash;
- `FeatureBuilder(lake, state_dir, config).build(...)`: compute the feature store;
- `read_feature_matrix(lake, symbols, start, end, contract=..., latent=...)`: the matrix
  (symbol, asof, max_input_available_at, contract columns in order) for training;
- `FeatureBuilder.feature_rows_at(asof, symbols)`: the same row computed live from what the
  lake knew at `asof` (inference);
- `fit_market_latent(matrix, start, end)` → `MarketLatent` (`transform`, `to_dict`,
  `from_dict`, `fit_hash`): the market latent a model fits on its training window and stores;
- `validate_asof(builder)` and `lookahead(builder)`: the two leakage gates.
"""

from quantgate.core.buckets import base_asset
from quantgate.features.blocks.latent import MarketLatent
from quantgate.features.build import FeatureBuilder
from quantgate.features.config import FeaturesConfig
from quantgate.features.contract import CONTRACT, FeatureContract, FeatureSpec, feature_contract
from quantgate.features.store import fit_market_latent, read_feature_matrix
from quantgate.features.units import (
    FEATURE_DATASETS,
    LATENT_DATASET,
    MAIN_DATASET,
    SOCIAL_DATASET,
    AsofUnit,
    BarUnit,
    PanelUnit,
    Unit,
)
from quantgate.features.validate import lookahead, validate_asof

__all__ = [
    "CONTRACT",
    "FEATURE_DATASETS",
    "LATENT_DATASET",
    "MAIN_DATASET",
    "SOCIAL_DATASET",
    "AsofUnit",
    "BarUnit",
    "FeatureBuilder",
    "FeatureContract",
    "FeatureSpec",
    "FeaturesConfig",
    "MarketLatent",
    "PanelUnit",
    "Unit",
    "base_asset",
    "feature_contract",
    "fit_market_latent",
    "lookahead",
    "read_feature_matrix",
    "validate_asof",
]
