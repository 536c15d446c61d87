"""The pictures' one treatment of time: silences longer than BREAK_GAP are cut out (their real
length written at the cut), the bursts between them drawn to scale. The ladder (down the page)
and the state timeline (across) cut at the same silences, so that their pauses read the same.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

BREAK_GAP = 0.1  # seconds of silence cut out of a picture (a delayed ACK's 40 ms stays drawn)


def silences(spans: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """(last moment before, first moment after) of every gap longer than BREAK_GAP between
    spans of activity: a packet is a span of no length, the stretch of a long connection whose
    segments were let go (long_connection.py) a span from the kept segment before to the one after."""
    found = []
    end: float | None = None
    for start, stop in sorted(spans):
        if end is not None and start - end > BREAK_GAP:
            found.append((end, start))
        end = stop if end is None else max(end, stop)
    return found


@dataclass
class Burst:
    start: float  # time of its first moment
    stop: float  # and its last
    left: float  # where it is drawn, in the axis's units
    right: float


class TimeAxis:
    """Time across a width: each burst to scale on its share, a fixed gap at each cut.
    Every burst gets at least `least` of the width (a 50 µs handshake must show); the rest
    is shared in proportion to the bursts' lengths."""

    def __init__(self, start: float, stop: float, cuts: Sequence[tuple[float, float]], width: float = 1.0,
                 gap: float = 0.03, least: float = 0.06) -> None:  # fmt: skip
        bounds = [start, *(t for cut in cuts for t in cut), stop]
        spans = [(bounds[i], bounds[i + 1]) for i in range(0, len(bounds), 2)]
        room = width - gap * len(cuts) - least * len(spans)
        total = sum(b - a for a, b in spans)
        scale = max(room, 0.0) / total if total > 0 else 0.0
        if total <= 0:  # every burst an instant: share the room
            least = (width - gap * len(cuts)) / len(spans)
        self.bursts: list[Burst] = []
        left = 0.0
        for a, b in spans:
            right = left + least + (b - a) * scale
            self.bursts.append(Burst(a, b, left, right))
            left = right + gap
        self.cuts = list(cuts)

    def x(self, time: float) -> float:
        """Where `time` is drawn: in its burst to scale; in a cut, at the cut's start."""
        previous = self.bursts[0]
        for burst in self.bursts:
            if time < burst.start:
                return previous.right
            if time <= burst.stop:
                length = burst.stop - burst.start
                share = (time - burst.start) / length if length > 0 else 0.0
                return burst.left + share * (burst.right - burst.left)
            previous = burst
        return previous.right

    def cut_positions(self) -> list[tuple[float, float, float]]:
        """(middle of the cut, its length in seconds, where it starts), for each cut."""
        gaps = zip(self.bursts, self.bursts[1:], strict=False)
        return [((a.right + b.left) / 2, b.start - a.stop, a.stop) for a, b in gaps]

    def ticks(self, origin: float, per_burst: int = 4) -> list[tuple[float, str]]:
        """(x, label): a few round values of seconds since `origin` in each burst, as wide as it allows."""
        found = []
        for burst in self.bursts:
            low, high = burst.start - origin, burst.stop - origin
            count = max(1, min(per_burst, int((burst.right - burst.left) / 0.08)))
            for value in _round_values(low, high, count):
                found.append((self.x(origin + value), _seconds(value, high - low)))
        return found


def _round_values(low: float, high: float, count: int) -> list[float]:
    if high - low <= 0 or count <= 1:
        return [low]
    raw = (high - low) / count
    step = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if step * factor >= raw:
            step *= factor
            break
    first = math.ceil(low / step - 1e-9) * step
    values = []
    value = first
    while value <= high + 1e-12:
        values.append(value)
        value += step
    return values or [low]


def _seconds(value: float, span: float) -> str:
    """Seconds with as many decimals as the burst's length needs to tell its ticks apart."""
    decimals = 0 if span >= 5 else 1 if span >= 0.5 else 3 if span >= 5e-3 else 6
    return f"{value:.{decimals}f} s"
