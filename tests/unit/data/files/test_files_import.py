"""import_path: validate everything, then write through data.ingest; counts per dataset+symbol."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from quantgate.core import ConfigurationError
from quantgate.data.files import import_path
from quantgate.storage import Lake

FETCHED = datetime(2026, 1, 2, tzinfo=UTC)


def write_folder(folder: Path) -> Path:
    folder.mkdir()
    for symbol, hours in (("BTCUSDT", 3), ("ETHUSDT", 2)):
        lines = ["timestamp,open,high,low,close,volume"]
        # 2019-12-31 23:00 onwards: the bars straddle a year, so two lake partitions.
        lines += [f"{1577833200 + h * 3600},10,11,9,10.5,{h}" for h in range(hours)]
        (folder / f"{symbol}_1h.csv").write_text("\n".join(lines) + "\n")
    return folder


def test_bars_import_counts_and_idempotent_reimport(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "bars")
    lake = Lake(tmp_path / "lake")
    steps: list[tuple[str, int, int]] = []
    result = import_path(lake, folder, fetched_at=FETCHED, progress=lambda *s: steps.append(s))
    assert result.kind == "market"
    assert result.source_spec == {
        "kind": "files",
        "name": "files:bars",
        "path": str(folder.resolve()),
        "format": None,
    }
    assert [(c.dataset, c.symbol, c.read, c.inserted) for c in result.counts] == [
        ("bars_1h", "BTCUSDT", 3, 3),
        ("bars_1h", "ETHUSDT", 2, 2),
    ]
    assert result.totals()["bars_1h"].inserted == 5
    assert steps[-1] == ("done", 2, 2)
    stored = lake.read("bars_1h", ["BTCUSDT"])
    assert stored["ts"].dt.year().to_list() == [2019, 2020, 2020]
    assert stored["source"].unique().to_list() == ["files:bars"]
    assert json.loads(json.dumps(result.to_dict()))["totals"]["bars_1h"]["read"] == 5

    again = import_path(lake, folder, fetched_at=FETCHED)
    assert [(c.inserted, c.updated, c.unchanged) for c in again.counts] == [(0, 0, 3), (0, 0, 2)]


def test_a_changed_bar_is_counted_as_updated(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "bars")
    lake = Lake(tmp_path / "lake")
    import_path(lake, folder, fetched_at=FETCHED)
    path = folder / "ETHUSDT_1h.csv"
    path.write_text(path.read_text().replace("10.5,1", "10.75,1"))
    result = import_path(lake, folder, fetched_at=FETCHED)
    eth = next(c for c in result.counts if c.symbol == "ETHUSDT")
    assert (eth.inserted, eth.updated, eth.unchanged) == (0, 1, 1)


def test_texts_import_counts_per_dataset_and_symbol(tmp_path: Path) -> None:
    path = tmp_path / "texts.jsonl"
    rows = [
        {"id": "p1", "published_at": "2022-05-09T12:00:00Z", "symbols": ["BTC", "ETH"]},
        {"id": "p2", "published_at": "2022-05-09T13:00:00Z", "symbols": ["LUNA"]},
        {"id": "c1", "published_at": "2022-05-09T14:00:00Z", "symbols": [], "kind": "comment",
         "parent_id": "p1"},
    ]  # fmt: skip
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    lake = Lake(tmp_path / "lake")
    result = import_path(lake, path, source_name="forum")
    assert result.kind == "text" and result.texts_read == 3
    assert [(c.dataset, c.symbol, c.read, c.inserted) for c in result.counts] == [
        ("posts", "BTCUSDT", 1, 1),
        ("posts", "ETHUSDT", 1, 1),
        ("comments", "BTCUSDT", 1, 1),
        ("comments", "ETHUSDT", 1, 1),
    ]
    assert result.unmapped.count == 1 and result.unmapped.names == {"LUNA": 1}
    assert result.to_dict()["unmapped_texts"] == {
        "count": 1,
        "posts": 1,
        "comments": 0,
        "names": {"LUNA": 1},
    }
    assert lake.read("comments", ["ETHUSDT"])["post_id"].to_list() == ["p1"]
    assert lake.read("posts")["source"].unique().to_list() == ["forum"]


def test_options_that_do_not_fit_the_data_are_refused(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "bars")
    lake = Lake(tmp_path / "lake")
    with pytest.raises(ConfigurationError, match="symbol map"):
        import_path(lake, folder, symbol_map={"BTC": "BTCUSDT"})
    texts = tmp_path / "texts.csv"
    texts.write_text("id,published_at,symbols\np1,2022-05-09T12:00:00Z,BTC\n")
    with pytest.raises(ConfigurationError, match="apply to bar files"):
        import_path(lake, texts, symbol="BTCUSDT")
    assert lake.datasets() == []
