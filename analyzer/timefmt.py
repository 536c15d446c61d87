"""Durations written the way people read them: µs on loopback, ms on a LAN, s for timeouts."""

from __future__ import annotations

import math
from datetime import UTC, datetime


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    if not math.isfinite(seconds):
        return f"{seconds} s"
    # The unit is chosen by the figure rounded to the microsecond, and the figure written from
    # it: 999.9 µs (a float's 1 ms, as timestamps' differences often are) is "1.000 ms".
    micros = round(seconds * 1e6)
    sign = "-" if micros < 0 else ""
    micros = abs(micros)
    if micros < 1000:
        return f"{sign}{micros} µs"
    if micros < 1_000_000:
        return f"{sign}{micros // 1000}.{micros % 1000:03d} ms"
    if micros < 100_000 * 1_000_000:
        return f"{sign}{round(micros / 1e6, 3):.3f} s"
    # A clock stepped by days or years (a capture stamped 0, a host without its time): the
    # milliseconds of such a figure mean nothing, its size does.
    whole = micros / 1e6
    years = whole / (365.25 * 86_400)
    size = f"{years:,.1f} years" if years >= 1 else f"{whole / 86_400:,.1f} days"
    return f"{sign}{whole:,.0f} s (about {size})"


def since(seconds: float) -> str:
    """A time after a reference, signed: +1.234 ms; -9.993 s where the capture's clock went back."""
    return ("-" if seconds < 0 else "+") + format_duration(abs(seconds))


def since_to_the_microsecond(seconds: float) -> str:
    """`since`, with a second or more written to the microsecond (+1.000004 s, where since
    writes +1.000 s): a frame's time on a picture, which a reader looks up in Wireshark."""
    if abs(seconds) < 1 or abs(seconds) >= 100_000:
        return since(seconds)
    return f"{seconds:+.6f} s"


def wall_clock(epoch: float) -> str:
    """An epoch time as a UTC date and time; one no calendar date holds (a writer's wrong time
    resolution puts frames past the year 9999) as its seconds."""
    try:
        return f"{datetime.fromtimestamp(epoch, UTC):%Y-%m-%d %H:%M:%S.%f} UTC"
    except (ValueError, OverflowError, OSError):
        return f"{epoch:,.6f} s since 1970 (past any calendar date)"
