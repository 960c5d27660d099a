"""Names of the exported graphs' input and outputs: one place, shared by writer and loader."""

from __future__ import annotations

from quantgate.core.enums import Horizon
from quantgate.ml.estimators.prediction import Head

INPUT_NAME = "features"
BATCH_DIM = "batch"
MODEL_FILE = "model.onnx"
METADATA_FILE = "metadata.json"

HEAD_MEANING: dict[Head, str] = {
    Head.EXPECTED_RETURN: "expected forward log return over the horizon",
    Head.LOG_VOL: (
        "log of the forecast realised volatility over the horizon; "
        "vol_forecast = exp(clip(value, -20, 5))"
    ),
    Head.DIRECTION_PROB: (
        "raw (uncalibrated) probability that the forward return is positive; "
        "signal_confidence = interp(max(p, 1 - p), calibration knots) or max(p, 1 - p) "
        "when the horizon has no calibration"
    ),
}


def output_name(horizon: Horizon, head: Head) -> str:
    """E.g. `expected_return_1h`, `log_vol_7d`, `direction_prob_4h`."""
    return f"{head.value}_{horizon.value}"


def output_names(horizons: tuple[Horizon, ...]) -> list[str]:
    """Every output, horizon-major then in Head order (the torch graph's output order)."""
    return [output_name(horizon, head) for horizon in horizons for head in Head]
