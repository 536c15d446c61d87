"""How a command is stopped: Ctrl-C, or SIGTERM taken as one (`kill` ends a command as
Ctrl-C does, with one line and its cleanup done); the exit status it ends with."""

from __future__ import annotations

import importlib
import signal
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

EXIT_INTERRUPTED = 130  # 128 + SIGINT: what a shell reports for a command ended by Ctrl-C

STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}


def raise_interrupt(signum: int, frame: object) -> None:
    """A signal handler: the signal interrupts the program as Ctrl-C does."""
    raise KeyboardInterrupt


@contextmanager
def stop_signals_held() -> Iterator[None]:
    """Ctrl-C and SIGTERM held back while the block runs; one that came meanwhile is taken
    as the block ends (its KeyboardInterrupt is raised there)."""
    mask = current_mask()
    try:
        signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)


def current_mask() -> set[int | signal.Signals]:
    """The signals this thread holds, changing nothing. Read before holding more: a signal
    that came just before is taken by the pthread_sigmask call itself (its handler runs as the
    call returns), and one that blocks would then raise before the old mask was kept."""
    return signal.pthread_sigmask(signal.SIG_BLOCK, ())


def import_uninterrupted(modules: Iterable[str]) -> None:
    """Import `modules` with Ctrl-C and SIGTERM held until they are in.

    A KeyboardInterrupt raised inside the init of a C extension can be lost there: msgspec's
    init swallows one raised by an import of its own, and the command then runs to its end
    as if never stopped; another such loss makes Python end, after our clean exit, killed by
    its own SIGINT. Imported with the signals held, the interrupt lands after the import,
    in code that takes it."""
    with stop_signals_held():
        for name in modules:
            try:
                importlib.import_module(name)
            except ImportError:
                # Not here (pyshark not installed, a system without working POSIX semaphores
                # for multiprocessing.synchronize): the command meets it itself, if it needs it,
                # and says so its own way.
                continue
