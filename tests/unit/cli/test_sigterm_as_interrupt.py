"""A long command turns SIGTERM into KeyboardInterrupt, so it can record where it stopped."""

from __future__ import annotations

import os
import signal

import pytest

from quantgate.cli.context import sigterm_as_interrupt


def test_sigterm_inside_raises_keyboard_interrupt_and_the_old_handler_comes_back() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt), sigterm_as_interrupt():
        os.kill(os.getpid(), signal.SIGTERM)
        for _ in range(1000):  # the handler runs between bytecodes, soon after delivery
            pass
        pytest.fail("SIGTERM did not interrupt")
    assert signal.getsignal(signal.SIGTERM) == before
