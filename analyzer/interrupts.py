"""How a command is stopped: Ctrl-C, or SIGTERM taken as one (`kill` ends a command as
Ctrl-C does, with one line and its cleanup done); the exit status it ends with."""

from __future__ import annotations

EXIT_INTERRUPTED = 130  # 128 + SIGINT: what a shell reports for a command ended by Ctrl-C


def raise_interrupt(signum: int, frame: object) -> None:
    """A signal handler: the signal interrupts the program as Ctrl-C does."""
    raise KeyboardInterrupt
