"""The socket-call log: what the application did and saw, step by step.

Each step is (start, end, side, call, result). An OSError becomes its errno name
(ECONNREFUSED, ETIMEDOUT) and ends the step without ending the scenario, because
the error is usually the point of the scenario. After each step the `after_step`
hook runs; the capture layer uses it to snapshot the kernel's socket states.
"""

from __future__ import annotations

import errno
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import cast

from analyzer.sidecar import CallRecord, CallSide


@dataclass
class Call:
    time: float  # epoch seconds when the call was made
    end_time: float  # when it returned or raised
    side: CallSide
    call: str  # e.g. "connect(127.0.0.1:5000)"
    result: str  # "ok", "ECONNREFUSED", "b'hello' (5 bytes)", ...
    errno: str | None = None

    def as_dict(self) -> CallRecord:
        return cast(CallRecord, asdict(self))


class Outcome:
    """Filled in by the body of a `CallLog.step`; the log reads it when the step ends."""

    def __init__(self) -> None:
        self.result = "ok"

    def returned(self, value: object) -> None:
        self.result = describe(value)


def describe(value: object) -> str:
    if isinstance(value, bytes):
        shown = value if len(value) <= 24 else value[:24] + b"..."
        return f"{shown!r} ({len(value)} bytes)"
    if value is None:
        return "ok"
    return str(value)


class CallLog:
    def __init__(self, after_step: Callable[[Call], None] | None = None, settle: float = 0.02) -> None:
        self.calls: list[Call] = []
        self.in_progress: tuple[str, str, float] | None = None  # (side, call, start) of a running step
        self.after_step = after_step
        # Loopback delivers within the syscall, but ACKs may still be in a softirq: give
        # the kernel a moment so that a snapshot shows the state the step led to.
        self.settle = settle

    @contextmanager
    def step(self, side: CallSide, call: str, settle: bool = True) -> Iterator[Outcome]:
        """settle=False: no pause and no kernel snapshot after it, for calls that must follow
        each other within microseconds (small sends that Nagle's algorithm is to glue)."""
        outcome = Outcome()
        start = time.time()
        error = None
        self.in_progress = (side, call, start)
        try:
            yield outcome
        except OSError as exc:
            error = errno.errorcode.get(exc.errno, str(exc)) if exc.errno else type(exc).__name__
            outcome.result = error
        finally:
            self.in_progress = None
        record = Call(start, time.time(), side, call, outcome.result, error)
        self.calls.append(record)
        if not settle:
            return
        if self.settle:
            time.sleep(self.settle)
        if self.after_step is not None:
            self.after_step(record)

    def merge(self, calls: list[CallRecord]) -> None:
        """Steps another process logged (a forked client). They are appended, not sorted in:
        snapshots refer to calls by index, and every call carries its own times."""
        self.calls.extend(Call(**call) for call in calls)

    def idle(self, side: CallSide, seconds: float, why: str) -> None:
        """A logged pause: the application does nothing while the kernel acts (a timer fires)."""
        with self.step(side, f"sleep({seconds:g}): {why}"):
            time.sleep(seconds)
