"""A run records the code that ran it, read once before it runs: HEAD moving during a run
(a commit, a checkout) must not relabel it. A validation gets a folder of its own even when
another started in the same microsecond (a failed one removes its folder, and must never
remove another's)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from engine_builders import bars, config, frame

import quantgate.engine.backtest as backtest_module
import quantgate.engine.validation as validation_module
from quantgate.engine.backtest import RUN_FILE, run_backtest
from quantgate.engine.feeds import FrameBarFeed

CLOSES = [100, 101, 103, 106, 104, 99, 97, 100, 104, 108, 107, 103] * 3


def test_a_run_records_the_code_it_started_with(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    heads = iter(["a" * 40] + ["b" * 40] * 10)  # HEAD moves after the run has started
    monkeypatch.setattr(backtest_module, "git_sha", lambda: next(heads))
    monkeypatch.setattr(backtest_module, "git_dirty", lambda: False)

    result = run_backtest(config(["AAA"]), tmp_path, feed=FrameBarFeed(frame(bars("AAA", CLOSES))))

    record = json.loads((result.run_dir / RUN_FILE).read_text())
    assert record["status"] == "complete"
    assert record["git_sha"] == "a" * 40


def test_validations_started_in_the_same_microsecond_get_folders_of_their_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    frozen = datetime(2026, 11, 22, 10, 0, 0, 123456, tzinfo=UTC)

    class FrozenClock(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> FrozenClock:
            return cls.fromtimestamp(frozen.timestamp(), tz)

    monkeypatch.setattr(validation_module, "datetime", FrozenClock)
    first = validation_module._new_folder(tmp_path / "validation")
    second = validation_module._new_folder(tmp_path / "validation")
    assert first.name == "20261122T100000123456Z"
    assert second.name == "20261122T100000123456Z-1"
    assert first.is_dir() and second.is_dir()
