"""Run `quantgate` inside the test process, as the installed command does (its error
handler included), and return its exit code and its output on one line."""

from __future__ import annotations

import sys

import pytest

from quantgate.cli.app import main


def quantgate(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int | str | None, str]:
    """Run the command as `quantgate` does (its error handler included), in this process."""
    argv = sys.argv
    sys.argv = ["quantgate", *args]
    try:
        with pytest.raises(SystemExit) as exited:
            main()
    finally:
        sys.argv = argv
    captured = capsys.readouterr()
    return exited.value.code, " ".join((captured.out + captured.err).split())
