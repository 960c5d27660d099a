"""Start every test from structlog's defaults.

Tests elsewhere run the CLI in-process, which configures structlog to print to the
stderr pytest was capturing then; once pytest closes that stream, any later log
line fails with "I/O operation on closed file".
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import structlog


@pytest.fixture(autouse=True)
def _default_structlog() -> Iterator[None]:
    structlog.reset_defaults()
    yield
