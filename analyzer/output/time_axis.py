"""The pictures' one treatment of time: silences longer than BREAK_GAP are cut out (their real
length written at the cut), the bursts between them drawn to scale. The ladder (down the page)
and the state timeline (across) cut at the same silences, so that their pauses read the same.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

BREAK_GAP = 0.1  # seconds of silence cut out of a picture (a delayed ACK's 40 ms stays drawn)
# More cuts than this across a picture and their gaps and labels take the width from what
# they cut: runs of them with nothing to mark between fold into one (fold_unmarked).
MOST_CUTS = 8


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


def fold_unmarked(
    cuts: Sequence[tuple[float, float]], marks: Sequence[float], most: int = MOST_CUTS
) -> tuple[list[tuple[float, float]], dict[float, int]]:
    """The cuts of a picture that draws only `marks` (the state timeline: its state changes),
    with more than `most` of them: each run of cuts with no mark in the bursts between them
    becomes one cut, from the first's start to the last's end (a long connection's 37
    silences while ESTABLISHED made 37 gaps of slivers). Returns the cuts and, by its start,
    how many silences each folded one holds (1 or none: a cut as it was)."""
    if len(cuts) <= most:
        return list(cuts), {}
    ordered = sorted(cuts)
    moments = sorted(marks)
    folded: list[tuple[float, float]] = []
    held: dict[float, int] = {}
    for start, stop in ordered:
        if folded:
            # Nothing marked in the burst between the last cut and this one: they join.
            begin, end = folded[-1]
            at = bisect.bisect_left(moments, end)
            if at == len(moments) or moments[at] > start:
                folded[-1] = (begin, stop)
                held[begin] = held.get(begin, 1) + 1
                continue
        folded.append((start, stop))
    return folded, held


# A cut's gap grows with the log of its silence, as the ladder's cut heights do (a backoff's
# doubling shows as even steps): GAP_STEP more for each doubling past BREAK_GAP, up to
# GAP_MOST times the least; all of them together no more than GAPS_MOST of the width.
GAP_STEP, GAP_MOST, GAPS_MOST = 0.25, 3.0, 0.4


def cut_gaps(silences: Sequence[float], least: float, width: float) -> list[float]:
    """Each cut's gap across the axis, for silences of these lengths (seconds)."""
    gaps = [least * min(GAP_MOST, 1.0 + GAP_STEP * math.log2(max(1.0, s / BREAK_GAP))) for s in silences]
    total, most = sum(gaps), GAPS_MOST * width
    if total <= most:
        return gaps
    floor = least * len(gaps)
    if floor >= most:  # so many that even the least is too much: all alike, within the share
        return [most / len(gaps)] * len(gaps)
    # Shrunk toward the least first: the longer silences stay the wider.
    keep = (most - floor) / (total - floor)
    return [least + (g - least) * keep for g in gaps]


@dataclass
class Burst:
    start: float  # time of its first moment
    stop: float  # and its last
    left: float  # where it is drawn, in the axis's units
    right: float
    anchors: list[tuple[float, float]]  # (time, x) from start to stop, x in between in proportion


class TimeAxis:
    """Time across a width: a gap at each cut (wider the longer its silence: cut_gaps), and
    within a burst time to scale, the way
    the ladder runs down: one scale for all, but two of `marks` (the moments a picture must
    tell apart, such as state changes) never closer than `spacing`, and every burst at least
    `least` wide (a 50 µs handshake must show). Positions only grow with time."""

    def __init__(self, start: float, stop: float, cuts: Sequence[tuple[float, float]], width: float = 1.0,
                 gap: float = 0.03, least: float = 0.05, marks: Sequence[float] = (),
                 spacing: float = 0.04, offset: float = 0.0,
                 folded: dict[float, int] | None = None) -> None:  # fmt: skip
        """offset: where the first burst begins (room before it, for what held before);
        folded: the silences each cut holds, by its start, where fold_unmarked joined some."""
        bounds = [start, *(t for cut in cuts for t in cut), stop]
        spans = [(bounds[i], bounds[i + 1]) for i in range(0, len(bounds), 2)]
        times = [sorted({a, b, *(t for t in marks if a < t < b)}) for a, b in spans]
        gaps = cut_gaps([b - a for a, b in cuts], gap, width)
        room = width - sum(gaps)
        # The least each burst takes: its floor, or the spacing its marks need, if more.
        floor = sum(max(least, spacing * (len(ts) - 1)) for ts in times)
        if floor > room:  # too many to keep apart: closer
            shrink = room / floor
            least, spacing = least * shrink, spacing * shrink
        low, high = 0.0, 1.0
        while self._width(times, high, least, spacing) < room and high < 1e15:
            high *= 2
        for _ in range(60):  # the one scale that fills the width
            middle = (low + high) / 2
            low, high = (middle, high) if self._width(times, middle, least, spacing) < room else (low, middle)
        shapes = [self._anchors(ts, low, least, spacing, 0.0) for ts in times]
        # Bursts that are all instants (a scan's probes, a handshake and a lone packet apart)
        # have no time to scale and left most of the width empty: they take it, the gaps
        # stay as they are.
        drawn = sum(anchors[-1][1] for anchors in shapes)
        stretch = (width - sum(gaps)) / drawn if drawn > 0 and drawn + sum(gaps) < width * 0.98 else 1.0
        self.bursts: list[Burst] = []
        # Where marks were kept apart, wider than their time at the scale: (left, right).
        self.stretched: list[tuple[float, float]] = []
        left = offset
        for index, (ts, shape) in enumerate(zip(times, shapes, strict=True)):
            anchors = [(t, left + x * stretch) for t, x in shape]
            self.bursts.append(Burst(ts[0], ts[-1], left, anchors[-1][1], anchors))
            if len(ts) > 1:  # an instant's floor is no stretch between marks
                for (t0, x0), (t1, x1) in itertools.pairwise(anchors):
                    if x1 - x0 > 1.5 * (t1 - t0) * low * stretch + 1e-9:
                        if self.stretched and self.stretched[-1][1] >= x0 - 1e-9:
                            self.stretched[-1] = (self.stretched[-1][0], x1)
                        else:
                            self.stretched.append((x0, x1))
            left = anchors[-1][1] + (gaps[index] if index < len(gaps) else 0.0)
        self.cuts = list(cuts)
        self.folded = dict(folded or {})

    @staticmethod
    def _anchors(times: list[float], scale: float, least: float, spacing: float,
                 left: float) -> list[tuple[float, float]]:  # fmt: skip
        x, anchors = left, [(times[0], left)]
        for t0, t1 in itertools.pairwise(times):
            x += max(spacing, (t1 - t0) * scale)
            anchors.append((t1, x))
        if x - left < least:  # stretched to its floor
            share = least / (x - left) if x > left else 0.0
            anchors = [(t, left + (ax - left) * share) for t, ax in anchors]
            if len(anchors) == 1:
                anchors.append((times[0], left + least))
        return anchors

    def _width(self, times: list[list[float]], scale: float, least: float, spacing: float) -> float:
        return sum(self._anchors(ts, scale, least, spacing, 0.0)[-1][1] for ts in times)

    def x(self, time: float) -> float:
        """Where `time` is drawn: in its burst between its anchors in proportion; in a cut,
        across the cut's gap in proportion (the kernel's snapshots over a 15 s backoff were all
        drawn at its start, one on another)."""
        previous = self.bursts[0]
        if time < previous.start:
            return previous.left
        for burst in self.bursts:
            if time < burst.start:
                share = (time - previous.stop) / (burst.start - previous.stop)
                return previous.right + (burst.left - previous.right) * share
            if time <= burst.stop:
                if burst.stop == burst.start:  # an instant: in the middle of its floor
                    return (burst.left + burst.right) / 2
                anchors = burst.anchors
                index = max(0, bisect.bisect_right([t for t, _x in anchors], time) - 1)
                if index + 1 >= len(anchors):
                    return anchors[-1][1] if time >= anchors[-1][0] else anchors[index][1]
                (t0, x0), (t1, x1) = anchors[index], anchors[index + 1]
                return x0 + (x1 - x0) * (time - t0) / (t1 - t0) if t1 > t0 else x0
            previous = burst
        return previous.right

    def x_near(self, time: float) -> float:
        """As x, but a time in a cut at the edge of the nearer burst: what happened 70 µs
        before the packet that ends a silence stands at that packet's burst."""
        for before, after in zip(self.bursts, self.bursts[1:], strict=False):
            if before.stop < time < after.start:
                return before.right if time - before.stop <= after.start - time else after.left
        return self.x(time)

    def cut_spans(self) -> list[tuple[float, float]]:
        """(left, right) of each cut's gap: where a silence is drawn."""
        return [(a.right, b.left) for a, b in itertools.pairwise(self.bursts)]

    def cut_positions(self) -> list[tuple[float, float, float]]:
        """(middle of the cut, its length in seconds, where it starts), for each cut."""
        gaps = itertools.pairwise(self.bursts)
        return [((a.right + b.left) / 2, b.start - a.stop, a.stop) for a, b in gaps]

    def ticks(self, origin: float, per_burst: int = 4) -> list[tuple[float, str]]:
        """(x, label): a few round values of seconds since `origin` in each burst, as wide as it
        allows; each burst's first before all the others (what to keep when labels meet)."""
        first: list[tuple[float, str]] = []
        others: list[tuple[float, str]] = []
        for burst in self.bursts:
            low, high = burst.start - origin, burst.stop - origin
            count = max(1, min(per_burst, int((burst.right - burst.left) / 0.08)))
            values = _round_values(low, high, count)
            span = high - low if len(values) > 1 else 0.0  # a lone tick: in ms, as the ladder's times
            for index, value in enumerate(values):
                (others if index else first).append((self.x(origin + value), _seconds(value, span)))
        return first + others


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
    decimals = 0 if span >= 5 else 1 if span >= 0.5 else 3 if span >= 5e-3 or span == 0 else 6
    if span == 0 and value == round(value):  # a lone round tick: "95798860 s", not ".000"
        decimals = 0
    text = f"{value:.{decimals}f} s"
    return text[1:] if text.startswith("-") and float(text[:-2]) == 0 else text  # no "-0.000 s"
