"""The socket-call log: what the application did and saw, step by step.

Each step is (start, end, side, call, result), tagged with the socket it was made on (its
fd and addresses, which tell the pictures whose call it is when several connections run at
once). An OSError becomes its errno name (ECONNREFUSED, ETIMEDOUT) and ends the step without
ending the scenario, because the error is usually the point of the scenario. After each
step the `after_step` hook runs; the capture layer uses it to snapshot the kernel's socket
states.
"""

from __future__ import annotations

import errno
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import cast

from analyzer.sidecar import CallRecord, CallSide, CallSocket


@dataclass
class Call:
    time: float  # epoch seconds when the call was made
    end_time: float  # when it returned or raised
    side: CallSide
    call: str  # e.g. "connect(127.0.0.1:5000)"
    result: str  # "ok", "ECONNREFUSED", "b'hello' (5 bytes)", ...
    errno: str | None = None
    socket: CallSocket | None = None  # the socket it was made on; None: none (a sleep, a wait)
    accepted: CallSocket | None = None  # accept(): the socket it returned
    tagged: bool = True  # False: which socket is not known (strace's calls, old logs)

    def as_dict(self) -> CallRecord:
        record = asdict(self)
        del record["tagged"]
        if not self.tagged:
            del record["socket"]  # absent, not None: unknown is not "on no socket"
        if self.accepted is None:
            del record["accepted"]
        return cast(CallRecord, record)


class Outcome:
    """Filled in by the body of a `CallLog.step`; the log reads it when the step ends."""

    def __init__(self, on: socket.socket | None) -> None:
        self.result = "ok"
        self.on = on  # the socket the call is made on (the body sets it when it makes one)
        self.accepted: socket.socket | None = None

    def returned(self, value: object) -> None:
        self.result = describe(value)


def _address(name: Callable[[], object]) -> str | None:
    """getsockname's or getpeername's answer as ss writes it; None before it has one (port 0,
    not connected) or once the socket is closed."""
    try:
        address = name()
    except OSError:
        return None
    if not isinstance(address, tuple) or len(address) < 2 or not address[1]:
        return None
    host, port = address[0], address[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


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
        # Each socket's number, by the object's id; the object is kept so its id is not reused.
        self._numbers: dict[int, tuple[int, socket.socket]] = {}
        self._next_number = 1
        self.in_progress: tuple[str, str, float] | None = None  # (side, call, start) of a running step
        self.after_step = after_step
        # Loopback delivers within the syscall, but ACKs may still be in a softirq: give
        # the kernel a moment so that a snapshot shows the state the step led to.
        self.settle = settle

    def tag(self, sock: socket.socket, before: CallSocket | None = None) -> CallSocket:
        """The socket as it stands: its number in the run, fd, local and peer address. A
        closed socket has none of them left: it keeps what it had before the call."""
        if id(sock) not in self._numbers:
            self._numbers[id(sock)] = (self._next_number, sock)
            self._next_number += 1
        number = self._numbers[id(sock)][0]
        if sock.fileno() == -1 and before is not None:
            return before
        return {
            "id": number,
            "fd": sock.fileno(),
            "local": _address(sock.getsockname),
            "peer": _address(sock.getpeername),
        }

    @contextmanager
    def step(
        self, side: CallSide, call: str, settle: bool = True, on: socket.socket | None = None
    ) -> Iterator[Outcome]:
        """on: the socket the call is made on (the body may set outcome.on when it creates one,
        outcome.accepted to what accept() returned). settle=False: no pause and no kernel
        snapshot after it, for calls that must follow each other within microseconds (small
        sends that Nagle's algorithm is to glue)."""
        outcome = Outcome(on)
        before = self.tag(on) if on is not None else None
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
        end = time.time()
        record = Call(
            start,
            end,
            side,
            call,
            outcome.result,
            error,
            self.tag(outcome.on, before) if outcome.on is not None else None,
            self.tag(outcome.accepted) if outcome.accepted is not None else None,
        )
        self.calls.append(record)
        if not settle:
            return
        if self.settle:
            time.sleep(self.settle)
        if self.after_step is not None:
            self.after_step(record)

    def merge(self, calls: list[CallRecord]) -> None:
        """Steps another process logged (a forked client, strace). They are appended, not
        sorted in: snapshots refer to calls by index, and every call carries its own times.
        Its sockets are numbered after this log's."""
        offset = self._next_number - 1
        for call in calls:
            tags = [call.get("socket"), call.get("accepted")]
            for tag in tags:
                if tag is not None:
                    tag["id"] += offset
                    self._next_number = max(self._next_number, tag["id"] + 1)
            known = Call(
                call["time"], call["end_time"], call["side"], call["call"], call["result"], call["errno"]
            )
            known.socket, known.accepted, known.tagged = tags[0], tags[1], "socket" in call
            self.calls.append(known)

    def idle(self, side: CallSide, seconds: float, why: str) -> None:
        """A logged pause: the application does nothing while the kernel acts (a timer fires)."""
        with self.step(side, f"sleep({seconds:g}): {why}"):
            time.sleep(seconds)
