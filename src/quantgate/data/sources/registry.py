"""Rebuild a source from its stored spec, so remediation asks the source that owns a gap."""

from __future__ import annotations

import importlib
from typing import Any

from quantgate.core.errors import ConfigurationError
from quantgate.data.sources.base import MarketSource, TextSource

# kind -> "module:Class"; each class has a `from_spec(spec)` classmethod.
_MARKET_SOURCES = {
    "synthetic": "quantgate.adapters.sim.source:SyntheticMarketSource",
    "files": "quantgate.data.files.source:FileMarketSource",
    "ccxt": "quantgate.adapters.ccxt.source:CcxtMarketSource",
}
_TEXT_SOURCES = {
    "synthetic": "quantgate.adapters.sim.source:SyntheticTextSource",
    "files": "quantgate.data.files.source:FileTextSource",
}


def _load(table: dict[str, str], spec: dict[str, Any], what: str) -> Any:
    kind = spec.get("kind")
    if kind not in table:
        raise ConfigurationError(
            f"unknown {what} source kind {kind!r}",
            field="spec.kind",
            fix=f"use one of {sorted(table)}",
        )
    module_name, class_name = table[kind].split(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    return cls.from_spec(spec)


def market_source_from_spec(spec: dict[str, Any]) -> MarketSource:
    source = _load(_MARKET_SOURCES, spec, "market")
    assert isinstance(source, MarketSource)
    return source


def text_source_from_spec(spec: dict[str, Any]) -> TextSource:
    source = _load(_TEXT_SOURCES, spec, "text")
    assert isinstance(source, TextSource)
    return source
