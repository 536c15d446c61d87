"""Durations written the way people read them: µs on loopback, ms on a LAN, s for timeouts."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Final

NS: Final = 1_000_000_000  # a stamp's units in a second
# The stamps a machine integer holds with room to spare (a packed record's, an array's): any
# date to 2096, well inside 64 bits and a compiled int's short range (a constant past it
# would be a Python object at every comparison). A pcapng's offset or resolution can stamp
# a capture beyond it (the year 2300): what holds stamps so must hold those otherwise.
STAMP_BOUND: Final = 4_000_000_000_000_000_000


# Stamps below this are exact as floats, and a division of two of them is exactly rounded.
_EXACT_BELOW: Final = 1 << 53


def epoch_seconds(stamp: int) -> float:
    """A stamp (integer nanoseconds since 1970) as float seconds: the float nearest it, or,
    past 2^53 ns (104 days: any real date), the float nearest the fraction added to the
    whole seconds (one rounding more, far below the float's 240 ns; the same for every
    reader, and stamp_of gives the stamp back)."""
    if -_EXACT_BELOW < stamp < _EXACT_BELOW:
        return stamp / NS
    return (stamp // NS) + (stamp % NS) / 1e9


def seconds_stamp(seconds: int) -> int:
    """Whole seconds as a stamp, multiplied in two halves: compiled, a product with an
    operand past 2^30 goes through CPython's long arithmetic, which a signal can interrupt,
    and mypyc takes that for running out of memory (docs/mypyc.md)."""
    if 0 <= seconds < 1 << 30:
        return seconds * NS
    return ((seconds >> 15) * NS << 15) + (seconds & 0x7FFF) * NS


def stamp_of(seconds: float) -> int:
    """Float seconds as a stamp, for times no capture file gave as integers (tests, crafted
    records): the nanosecond nearest the float, so that epoch_seconds gives the float back
    (floats of epoch seconds are 240 ns apart; the fraction alone is exact)."""
    if not math.isfinite(seconds):
        return 0
    whole = math.floor(seconds)
    return seconds_stamp(int(whole)) + round((seconds - whole) * 1e9)


class Clock:
    """Frame 1's time, which every time shown counts from (Wireshark's default), as float
    epoch seconds and as its exact stamp. A time to the microsecond is a difference of
    stamps: a float of epoch seconds is good to about 240 ns, and one microsecond digit in
    ten of a nanosecond capture would differ from tshark's."""

    def __init__(self, time: float = 0.0, stamp: int | None = None) -> None:
        self.time = time
        self.stamp = stamp if stamp is not None else stamp_of(time)

    def since(self, time: float) -> float:
        """Seconds from frame 1 to `time`, as floats give them (to the millisecond and coarser)."""
        return time - self.time

    def since_stamp(self, stamp: int) -> float:
        """Seconds from frame 1 to `stamp`, exactly (to the nanosecond)."""
        return between(self.stamp, stamp)

    def since_moment(self, time: float, frame: int | None, stamps: dict[int, int]) -> float:
        """Seconds from frame 1 to `time`: exactly where frame `frame` (its stamp in `stamps`,
        Connection.stamps_by_frame) is at that time (the packet that moved an end into a
        state), or another packet is (an end's state before the first packet, at its time),
        else as floats give it (a timer's move)."""
        stamp = stamps.get(frame) if frame is not None else None
        if stamp is not None and epoch_seconds(stamp) == time:
            return self.since_stamp(stamp)
        for stamp in stamps.values():
            if epoch_seconds(stamp) == time:
                return self.since_stamp(stamp)
        # To the microsecond: a float of seconds since 1970 holds no finer (a quarter of one),
        # and the difference of two showed its noise (4.0531158447265625e-06).
        return round(self.since(time), 6)


def between(earlier: int, later: int) -> float:
    """Seconds from stamp `earlier` to stamp `later`, exactly."""
    return (later - earlier) / 1e9


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
        return sign + str(micros) + " µs"
    # Written with str() and padded by hand: a format spec (":03d", ":.3f") costs a report a
    # few microseconds a state change, and it writes several for every connection.
    if micros < 1_000_000:
        return sign + str(micros // 1000) + "." + _padded(micros % 1000, 3) + " ms"
    if micros < 100_000 * 1_000_000:
        millis, rest = divmod(micros, 1000)
        if rest == 500:
            # Exactly between two: the float micros / 1e6 is a little above or below, and
            # its rounding is what these figures have always said.
            return f"{sign}{micros / 1e6:.3f} s"
        millis += rest > 500
        return sign + str(millis // 1000) + "." + _padded(millis % 1000, 3) + " s"
    # A clock stepped by days or years (a capture stamped 0, a host without its time): the
    # milliseconds of such a figure mean nothing, its size does.
    whole = micros / 1e6
    years = whole / (365.25 * 86_400)
    size = f"{years:,.1f} years" if years >= 1 else f"{whole / 86_400:,.1f} days"
    return f"{sign}{whole:,.0f} s (about {size})"


def _padded(n: int, width: int) -> str:
    """0 <= n with leading zeros to `width` digits: (7, 3) -> "007"."""
    digits = str(n)
    return "0" * (width - len(digits)) + digits


def since(seconds: float) -> str:
    """A time after a reference, signed: +1.234 ms; -9.993 s where the capture's clock went back.
    Past a day, to the microsecond (+227602.625227 s): a moment a reader looks up in Wireshark,
    where a duration that long is said by its size."""
    if abs(seconds) >= 100_000:
        return since_to_the_microsecond(seconds)
    return ("-" if seconds < 0 else "+") + format_duration(abs(seconds))


def to_the_microsecond(seconds: float, signed: bool = False) -> str:
    """Seconds written with six decimals ("+1.000004"), rounded as format_duration rounds
    (the microseconds of a value exactly between two are the same in every output)."""
    micros = round(seconds * 1e6)
    sign = "-" if micros < 0 else "+" if signed else ""
    micros = abs(micros)
    return sign + str(micros // 1_000_000) + "." + _padded(micros % 1_000_000, 6)


def since_to_the_microsecond(seconds: float) -> str:
    """Seconds to the microsecond, signed (+0.026841 s, +227602.625227 s): a frame's time on a
    picture, written as Wireshark's Time column writes it, where a reader looks it up (in
    milliseconds, +26.841 ms, it had to be converted; past a day, rounded to the second, it
    could not be found)."""
    return f"{to_the_microsecond(seconds, True)} s"


def wall_clock(epoch: float) -> str:
    """An epoch time as a UTC date and time; one no calendar date holds (a writer's wrong time
    resolution puts frames past the year 9999) as its seconds."""
    try:
        return f"{datetime.fromtimestamp(epoch, UTC):%Y-%m-%d %H:%M:%S.%f} UTC"
    except (ValueError, OverflowError, OSError):
        return f"{epoch:,.6f} s since 1970 (past any calendar date)"
