"""Fixtures: a fake Binance on 127.0.0.1 and ccxt sources pointed at it with fast backoff."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fake_binance import FakeBinance, SourceFactory

from quantgate.adapters.ccxt import CcxtMarketSource
from quantgate.storage.lake import Lake


@pytest.fixture
def fake_binance() -> Iterator[FakeBinance]:
    with FakeBinance() as server:
        yield server


@pytest.fixture
def make_source(fake_binance: FakeBinance) -> Iterator[SourceFactory]:
    made: list[CcxtMarketSource] = []

    def make(**overrides: Any) -> CcxtMarketSource:
        clock = overrides.pop("clock", None)
        source = CcxtMarketSource(fake_binance.source_config(**overrides), clock=clock)
        made.append(source)
        return source

    yield make
    for source in made:
        source.close()


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    return Lake(tmp_path / "lake")
