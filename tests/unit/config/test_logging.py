import json

import pytest
import structlog

from quantgate.config.logging import bind_run_id, configure_logging


def test_json_lines_carry_the_run_id(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("json", "INFO")
    structlog.contextvars.clear_contextvars()
    run_id = bind_run_id()
    log = structlog.get_logger("test")
    log.info("first", rows=3)
    log.warning("second")
    log.debug("hidden below level")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [line["event"] for line in lines] == ["first", "second"]
    assert {line["run_id"] for line in lines} == {run_id}
    assert lines[0]["rows"] == 3 and lines[0]["level"] == "info"
    assert lines[0]["timestamp"].endswith("Z")
    structlog.contextvars.clear_contextvars()


def test_console_renderer_is_readable(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("console", "INFO")
    structlog.contextvars.clear_contextvars()
    bind_run_id("abc123", key="request_id")
    structlog.get_logger().info("hello", symbol="BTCUSDT")
    line = capsys.readouterr().err
    assert "hello" in line and "symbol=BTCUSDT" in line and "request_id=abc123" in line
    structlog.contextvars.clear_contextvars()
