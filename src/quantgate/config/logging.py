"""structlog set-up: JSON lines for services, a readable console for the CLI.

A run id (CLI) or request id (API) is bound through contextvars, so every line
logged inside that run or request carries it without threading it by hand.
"""

from __future__ import annotations

import logging
import sys
import uuid
from typing import Literal

import structlog


def new_run_id() -> str:
    return uuid.uuid4().hex[:16]


def configure_logging(
    log_format: Literal["console", "json"] = "console", level: str = "INFO"
) -> None:
    renderer: structlog.types.Processor
    if log_format == "json":
        renderer = structlog.processors.JSONRenderer()
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )


def bind_run_id(run_id: str | None = None, *, key: str = "run_id") -> str:
    run_id = run_id or new_run_id()
    structlog.contextvars.bind_contextvars(**{key: run_id})
    return run_id
