"""Write the built-in synthetic market and its social text into the lake (resumably)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from quantgate.adapters.sim import SyntheticMarketConfig, SyntheticMarketSource, SyntheticTextSource
from quantgate.data.catalog import BARS_FAMILY, SOCIAL_FAMILY, Catalog, Coverage
from quantgate.data.ingest import ingest_bars, ingest_books, ingest_comments, ingest_posts
from quantgate.storage.checkpoints import Checkpoints
from quantgate.storage.lake import Lake

ProgressCallback = Callable[[str, int, int], None]


@dataclass
class GenerateResult:
    config_hash: str
    manifest_path: Path
    resumed_symbols: list[str] = field(default_factory=list)
    rows: dict[str, dict[str, int]] = field(default_factory=dict)
    oracle_ic: dict[str, float | None] = field(default_factory=dict)
    planted_bar_gaps: int = 0
    planted_social_gaps: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "config_hash": self.config_hash,
            "manifest": str(self.manifest_path),
            "resumed_symbols": self.resumed_symbols,
            "rows": self.rows,
            "oracle_ic": self.oracle_ic,
            "planted_bar_gaps": self.planted_bar_gaps,
            "planted_social_gaps": self.planted_social_gaps,
        }


def _write_manifest(path: Path, manifest: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".tmp-{path.name}")
    temporary.write_text(json.dumps(manifest, indent=2, default=str, allow_nan=False))
    temporary.replace(path)


def generate_synthetic(
    lake: Lake,
    engine: Engine,
    config: SyntheticMarketConfig,
    *,
    with_books: bool = False,
    book_hours: float = 1.0,
    progress: ProgressCallback | None = None,
) -> GenerateResult:
    """Write bars (planted gaps removed), posts and comments for every symbol.

    Symbols already written for this exact config are skipped, so an interrupted
    run resumes where it stopped; the writes themselves are idempotent upserts.
    """
    market = SyntheticMarketSource(config)
    # The text source shares the market's resolved config, so both see one world and one end.
    text = SyntheticTextSource(market.config)
    catalog = Catalog(engine)
    catalog.register_source(market.spec)
    resolved_hash = market.config.config_hash
    checkpoints = Checkpoints(engine, f"data.generate:{resolved_hash}")
    done = checkpoints.done()
    symbols = market.symbols()
    catalog.set_coverage(
        [
            Coverage(market.name, BARS_FAMILY, s, market.coverage(s).start, market.coverage(s).end)
            for s in symbols
        ]
        + [
            Coverage(text.name, SOCIAL_FAMILY, s, text.coverage(s).start, text.coverage(s).end)
            for s in symbols
        ]
    )
    manifest = market.manifest()
    result = GenerateResult(
        config_hash=resolved_hash,
        manifest_path=lake.root / "synthetic" / "manifest.json",
        oracle_ic={k: (None if v != v else v) for k, v in market.oracle_ic().items()},
        planted_bar_gaps=len(market.planted_bar_gaps()),
        planted_social_gaps=len(market.planted_social_gaps()),
    )
    for index, symbol in enumerate(symbols):
        if progress is not None:
            progress(symbol, index, len(symbols))
        if symbol in done:
            result.resumed_symbols.append(symbol)
            continue
        origin = f"synthetic generate {symbol}"
        counts = {
            "bars": ingest_bars(lake, market.initial_bars(symbol), origin=origin).written,
            "posts": ingest_posts(lake, text.initial_posts(symbol), origin=origin).written,
            "comments": ingest_comments(lake, text.initial_comments(symbol), origin=origin).written,
        }
        if with_books:
            end = market.coverage(symbol).end
            assert end is not None
            books = market.fetch_books(symbol, end - timedelta(hours=book_hours), end)
            counts["books"] = ingest_books(lake, books, origin=origin).written
        result.rows[symbol] = counts
        checkpoints.put(symbol, {"done": True, **counts})
    if progress is not None:
        progress("", len(symbols), len(symbols))
    _write_manifest(result.manifest_path, manifest)
    return result
