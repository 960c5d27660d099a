"""Find the out-of-sample evaluation record of one (symbol, horizon) in a metrics document.

Training runs and artifact metadata nest their figures in a few shapes; all of
these are understood (more specific entries win over general ones):

- ``{"BTCUSDT": {"1h": {...}}}`` or ``{"1h": {"BTCUSDT": {...}}}``
- ``{"BTCUSDT/1h": {...}}`` (also ``:`` or ``_`` or ``@`` as separator)
- a list of dicts with ``symbol`` and ``horizon`` keys
- any of the above under a wrapper key (``oos``, ``evaluation``, ``per_symbol_horizon`` …)
- per-horizon figures (``{"1h": {"pbo": …}}``, ``per_horizon``) and top-level scalars
  (``{"pbo": 0.1}``), which apply to every symbol.

A record counts only when it holds at least one promotion metric.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from quantgate.core.enums import Horizon
from quantgate.registry.rules import METRIC_KEYS

WRAPPERS = (
    "oos",
    "evaluation",
    "evaluations",
    "per_symbol_horizon",
    "by_symbol_horizon",
    "symbol_horizon",
    "per_symbol",
    "by_symbol",
    "symbols",
    "results",
    "rows",
    "per_fold",
)
HORIZON_WRAPPERS = ("per_horizon", "by_horizon", "horizons")
_SEPARATORS = ("/", ":", "@", "_", "|")
_ALL_KEYS = {key for keys in METRIC_KEYS.values() for key in keys}
_HORIZONS = {h.value for h in Horizon}


def has_rule_metric(record: Mapping[str, Any]) -> bool:
    return any(key in record for key in _ALL_KEYS)


def _scalars(document: Mapping[str, Any]) -> dict[str, Any]:
    return {
        key: value
        for key, value in document.items()
        if not isinstance(value, list) and (not isinstance(value, Mapping) or key in _ALL_KEYS)
    }


def _documents(metrics: Mapping[str, Any]) -> Iterator[Any]:
    yield metrics
    for key in WRAPPERS:
        if key in metrics:
            yield metrics[key]


_NESTED = ("backtest", "oos", "metrics")


def _flat(entry: Mapping[str, Any]) -> dict[str, Any]:
    """An entry's scalars, with those of a nested `backtest` / `oos` / `metrics` dict."""
    out = _scalars(entry)
    for key in _NESTED:
        if isinstance(entry.get(key), Mapping):
            out.update(_scalars(entry[key]))
    return out


def _aggregate(entries: list[dict[str, Any]]) -> dict[str, Any]:
    """Several entries (walk-forward folds) of one (symbol, horizon) → one record:
    drawdown is the worst fold's, every other number the mean over folds."""
    if len(entries) == 1:
        return entries[0]
    out: dict[str, Any] = {"n_folds": len(entries)}
    keys = {key for entry in entries for key in entry}
    for key in sorted(keys):
        values = [
            float(entry[key])
            for entry in entries
            if isinstance(entry.get(key), int | float) and not isinstance(entry.get(key), bool)
        ]
        values = [v for v in values if v == v]  # drop NaN
        if key in ("fold", "n_folds") or not values:
            continue
        if key in METRIC_KEYS["max_drawdown"]:
            out[key] = max(abs(v) for v in values)
        else:
            out[key] = sum(values) / len(values)
    out["aggregation"] = "mean over folds; max_drawdown: worst fold"
    return out


def _specific(document: Any, symbol: str, horizon: str) -> Mapping[str, Any] | None:
    if isinstance(document, list):
        entries = [
            _flat(entry)
            for entry in document
            if isinstance(entry, Mapping)
            and entry.get("symbol") == symbol
            and str(entry.get("horizon")) == horizon
        ]
        return _aggregate(entries) if entries else None
    if not isinstance(document, Mapping):
        return None
    for first, second in ((symbol, horizon), (horizon, symbol)):
        inner = document.get(first)
        if isinstance(inner, Mapping) and isinstance(inner.get(second), Mapping):
            return dict(inner[second])
    for separator in _SEPARATORS:
        for key in (f"{symbol}{separator}{horizon}", f"{horizon}{separator}{symbol}"):
            if isinstance(document.get(key), Mapping):
                return dict(document[key])
    return None


def find_evaluation(metrics: Mapping[str, Any], symbol: str, horizon: str) -> dict[str, Any] | None:
    """The merged evaluation record of (symbol, horizon), or None when there is none."""
    record: dict[str, Any] = {}
    for document in _documents(metrics):
        if isinstance(document, Mapping):
            record.update(_scalars(document))
    for document in _documents(metrics):
        if not isinstance(document, Mapping):
            continue
        by_horizon = document.get(horizon)
        if isinstance(by_horizon, Mapping) and symbol not in by_horizon:
            record.update(_scalars(by_horizon))
        for key in HORIZON_WRAPPERS:
            table = document.get(key)
            if isinstance(table, Mapping) and isinstance(table.get(horizon), Mapping):
                record.update(_scalars(table[horizon]))
        for value in document.values():  # e.g. "overfitting": {"horizon": "1h", "pbo": {...}}
            if (
                isinstance(value, Mapping)
                and str(value.get("horizon")) == horizon
                and "symbol" not in value
            ):
                record.update(_flat(value))
    for document in _documents(metrics):
        specific = _specific(document, symbol, horizon)
        if specific is not None:
            record.update(_flat(specific))
    record.pop("symbol", None)
    record.pop("horizon", None)
    return record if has_rule_metric(record) else None


def evaluation_pairs(metrics: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Every (symbol, horizon) that has its own entry in `metrics`, sorted."""
    pairs: set[tuple[str, str]] = set()
    for document in _documents(metrics):
        if isinstance(document, list):
            for entry in document:
                if isinstance(entry, Mapping) and "symbol" in entry and "horizon" in entry:
                    pairs.add((str(entry["symbol"]), str(entry["horizon"])))
            continue
        if not isinstance(document, Mapping):
            continue
        for key, value in document.items():
            if not isinstance(value, Mapping) or key in WRAPPERS or key in HORIZON_WRAPPERS:
                continue
            if key in _HORIZONS:
                pairs |= {(s, key) for s, v in value.items() if isinstance(v, Mapping)}
            elif any(h in value and isinstance(value[h], Mapping) for h in _HORIZONS):
                pairs |= {(key, h) for h in _HORIZONS if isinstance(value.get(h), Mapping)}
            else:
                for separator in _SEPARATORS:
                    left, _, right = key.rpartition(separator)
                    if left and right in _HORIZONS:
                        pairs.add((left, right))
                        break
    return sorted(pairs)
