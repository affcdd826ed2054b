"""A load-test driver ended by SIGTERM or SIGINT still stops the stack it started."""

from __future__ import annotations

import os
import signal
import threading

import pytest

from loadtest.stack import interrupted_by_signals


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_inside_raises_keyboard_interrupt_and_the_old_handlers_come_back(signum: int) -> None:
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    cleaned = []
    with pytest.raises(KeyboardInterrupt, match=signal.Signals(signum).name), interrupted_by_signals():
        try:
            os.kill(os.getpid(), signum)
            threading.Event().wait(5)  # the handler interrupts this wait
        finally:
            cleaned.append(True)
    assert cleaned == [True]
    assert {s: signal.getsignal(s) for s in before} == before


def test_outside_the_main_thread_it_changes_nothing() -> None:
    seen: list[object] = []

    def run() -> None:
        with interrupted_by_signals():
            seen.append(signal.getsignal(signal.SIGTERM))

    before = signal.getsignal(signal.SIGTERM)
    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    assert seen == [before]


def test_after_the_first_signal_both_are_ignored_until_the_outermost_block_is_left() -> None:
    original = signal.getsignal(signal.SIGTERM)
    during_cleanup: list[object] = []
    with pytest.raises(KeyboardInterrupt), interrupted_by_signals():
        try:
            with interrupted_by_signals():
                try:
                    os.kill(os.getpid(), signal.SIGTERM)
                    threading.Event().wait(5)
                finally:
                    os.kill(os.getpid(), signal.SIGTERM)  # a second one during the inner cleanup
                    during_cleanup.append(signal.getsignal(signal.SIGINT))
        finally:
            os.kill(os.getpid(), signal.SIGINT)  # and one during the enclosing block's cleanup
            during_cleanup.append(signal.getsignal(signal.SIGTERM))
    assert during_cleanup == [signal.SIG_IGN, signal.SIG_IGN]
    assert signal.getsignal(signal.SIGTERM) == original
