"""`handshake run`'s program and the signal that ends it after Ctrl-C's grace (capture/program.py):
END_PROGRAM stops the program while it runs, and does nothing once it has ended, so a sandbox
still finishing its record (tcpdump, the kernel recorder) is not cut short by it."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from analyzer.capture import program


def _signal_self_after(seconds: float) -> threading.Timer:
    timer = threading.Timer(seconds, os.kill, (os.getpid(), program.END_PROGRAM))
    timer.start()
    return timer


@pytest.fixture
def handler():
    previous = signal.signal(program.END_PROGRAM, program.end_program)
    try:
        yield
    finally:
        signal.signal(program.END_PROGRAM, previous)


def test_it_stops_a_running_program(handler) -> None:
    start = time.monotonic()
    _signal_self_after(0.3)
    code, stopped = program._run(["sleep", "30"])
    assert stopped and code == -signal.SIGINT
    assert time.monotonic() - start < 10
    assert not program.running


def test_once_the_program_has_ended_it_does_nothing(handler) -> None:
    code, stopped = program._run(["true"])
    assert (code, stopped) == (0, False) and not program.running
    try:
        _signal_self_after(0.0).join()
        time.sleep(0.2)  # the handler has run by now
    except KeyboardInterrupt:
        pytest.fail("END_PROGRAM interrupted the sandbox after its program had ended")
    assert not program.running
