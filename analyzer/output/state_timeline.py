"""State timeline: each endpoint's TCP states as bars on a real time axis.

Time runs across in seconds since frame 1 of the capture (Wireshark's clock), cut where the
ladder cuts it (the same silences, time_axis.py; their real length written at the cut;
where they are many, each run of them with no change of state between is one cut that says
so: a long connection's 37 silences while ESTABLISHED were 37 gaps between slivers),
each burst between to scale, but two state changes never closer than a few letters (as the
ladder's rows); what held before the first moment and after the last has room of its own. A
state's name is written in its bar when it fits there, else outside it on the row's outer
side, joined to it by a line, so no two labels meet; the legend names every colour. Where the sidecar has kernel snapshots, a tick marks
each moment the kernel reported the same state the bar shows; where it has the kernel's
events, a tick under the bar each change of state the kernel made, at its time.
"""

from __future__ import annotations

import functools
import math
import textwrap
from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib.patches import Patch, Rectangle
from matplotlib.textpath import TextPath

from analyzer.analysis import ConnectionAnalysis
from analyzer.call_sockets import connection_calls
from analyzer.connections import SIDES, Side
from analyzer.output.figures import save_figure
from analyzer.output.kernel_marks import draw_timeline_marks, kernel_changes
from analyzer.output.labels import picture_title, silent_end
from analyzer.output.ladder_rows import drawn_until, ladder_silences, timer_changes
from analyzer.output.sequence_diagram import call_times
from analyzer.output.text_report import format_endpoint
from analyzer.output.time_axis import BREAK_GAP, GAPS_MOST, TimeAxis, fold_unmarked
from analyzer.sidecar import Sidecar
from analyzer.timefmt import Clock, format_duration

# As wide as the ladder (1,650 px at 150 dpi): a page shows both at one scale, its labels as
# large as the ladder's (13 inches made them a fifth smaller than the ladder's on a page).
WIDTH, HEIGHT = 11.0, 3.3  # inches
AXIS_WIDTH = 0.74  # of the figure's width: the rest holds the end's names and the legend
CHAR = 0.64 * 8 / 72 / (AXIS_WIDTH * WIDTH)  # a digit at font size 8 (0.64 em), of the axis's width
LEAST_BAR = 0.004  # a state held for no visible time is still a sliver (5 px at 1,650 px)
CUT_HALF = 0.008  # half the width of a cut's white gap, at the least
STRETCH_MARK = 0.07  # the height of the hatch along the axis where it is not to scale (rows: bars are 0.6)
SMALL_LABEL = 6.5  # points: a state's name in a bar too short for it at 8 (still read at natural size)
# Room before the first moment and after the last, for the states held then (an end's
# LISTEN, its TIME_WAIT): they hold for no time between the moments drawn.
BEFORE, AFTER = 0.04, 0.07
# A short state's name, outside its bar: above the client's row (over the kernel's ▼ at 0.38,
# level with the cuts' lengths), below the server's (under the kernel's ▲ at 0.4).
OUTSIDE_ABOVE, OUTSIDE_BELOW = 0.5, 0.5
LEGEND_COLUMNS, LEGEND_ROW = 6, 0.2  # the legend's entries a row, and a row's height (inches)
END_FONT, END_CHAR = 9, 0.075  # the ends' names: font size, and a character's width (inches, about)


def _widest_piece(left: float, right: float, cuts: list[tuple[float, float]]) -> tuple[float, float]:
    """The widest stretch of [left, right] that no cut's gap covers: where a bar's name goes."""
    pieces, start = [], left
    for low, high in sorted(cuts):
        if low < right and high > start:
            pieces.append((start, max(start, low)))
            start = max(start, high)
    pieces.append((start, max(start, right)))
    return max(pieces, key=lambda piece: piece[1] - piece[0])


def _widest_in_bands(left: float, right: float, cuts: list[tuple[float, float]]) -> tuple[float, float]:
    """The widest stretch of [left, right] that one cut's band covers ((left, left): none)."""
    pieces = [(max(left, low), min(right, high)) for low, high in cuts if low < right and high > left]
    return max(pieces, key=lambda piece: piece[1] - piece[0], default=(left, left))


def _fitting_size(state: str, room: float) -> float:
    """The size a state's name is written at in `room` (of the axis's width): 8 points, or
    smaller where it is a little short; 0.0 where it does not fit."""
    return next((size for size in (8.0, SMALL_LABEL) if _label_width(state, size) + 0.006 <= room), 0.0)


# Neighbours on a row, and the two rows' closing states, in hues apart: FIN_WAIT_1 and
# FIN_WAIT_2 were two pinks a reader could not tell apart when too narrow for their names.
STATE_COLORS = {
    "CLOSED": "#eeeeee",
    "LISTEN": "#dfe9f5",
    "SYN_SENT": "#fde0b6",
    "SYN_RCVD": "#f3b37a",
    "ESTABLISHED": "#b9e3b9",
    "FIN_WAIT_1": "#f7c6c6",
    "FIN_WAIT_2": "#e07b7b",
    "CLOSE_WAIT": "#f5eaa0",
    "CLOSING": "#e9a3e9",
    "LAST_ACK": "#dcb9f0",
    "TIME_WAIT": "#c9c9f5",
    "UNKNOWN": "#ffffff",  # hatched: the capture cannot tell (analyzer/arrivals.py)
}
HATCH = {"UNKNOWN": "///"}


def draw_state_timeline(
    result: ConnectionAnalysis,
    output: Path,
    sidecar: Sidecar | None = None,
    origin: Clock | None = None,
    name: str | None = None,
    warnings: Sequence[str] = (),
) -> Path:
    return save_figure(timeline_figure(result, sidecar, origin, name), output, warnings=warnings)


# A cut silence's least share of the width (wider the longer, time_axis.cut_gaps): a silence
# of seconds beside a burst of microseconds was a sliver (helper-122, mqtt: 4 % for 228 ms).
# With many cuts, less (never below the ladder's), so that the longer still take more.
CUT_LEAST, CUT_LEAST_OF_MANY = 0.1, 0.03


def timeline_axis(result: ConnectionAnalysis, sidecar: Sidecar | None = None) -> TimeAxis:
    """The time axis, cut where the ladder of the same connection is cut."""
    connection = result.connection
    calls = connection_calls(sidecar, connection)
    moments = call_times(calls)
    times = [connection.segments[0].time, connection.segments[-1].time, *moments]
    first, last = min(times), drawn_until(result, max(times))
    times.append(last)
    changes = [time for history in result.states.values() for time, _state in history[1:]]
    # The kernel's changes and reports: a snapshot taken after the last packet (refused's,
    # 46 ms on) was drawn at the axis's end, beside the close() 20 ms before it. Those the
    # ladder's span leaves out widen the axis, and a silence before them is cut there only:
    # within the span the cuts stay the ladder's.
    kernel = [change.time for change in kernel_changes(result)]
    confirmed = result.kernel.confirmed if result.kernel is not None else []
    reports = [time for time, _side in confirmed]
    # Of the reports outside the span, each end's nearest on either side: a long recording's
    # every later snapshot (the socket gone, CLOSED agreed) each added a cut and the width.
    nearest = []
    for side in SIDES:
        own = [time for time, end in confirmed if end == side]
        nearest += [max(t for t in own if t < first)] if any(t < first for t in own) else []
        nearest += [min(t for t in own if t > last)] if any(t > last for t in own) else []
    outside = [time for time in kernel if not first <= time <= last] + nearest
    # Still open when the capture ended: the states held to its end (helper-122: mqtt's
    # CLOSE_WAIT held 21 s past the last packet was a sliver at the axis's end).
    if connection.capture_end is not None and connection.capture_end > last:
        outside.append(connection.capture_end)
    times += outside
    # A timer's state change cuts the silence around it, as on the ladder.
    cuts = ladder_silences(result, moments + timer_changes(result, last) + outside)
    # What the timeline draws: the states' changes, the kernel's, its reports within the span.
    cuts, folded = fold_unmarked(
        cuts, changes + kernel + [t for t in reports if first <= t <= last] + outside
    )
    gap = max(CUT_LEAST_OF_MANY, min(CUT_LEAST, GAPS_MOST / 2 / max(1, len(cuts))))
    return TimeAxis(min(times), max(times), cuts, width=1.0 - BEFORE - AFTER, gap=gap, marks=changes,
                    offset=BEFORE, folded=folded)  # fmt: skip


def timeline_figure(
    result: ConnectionAnalysis,
    sidecar: Sidecar | None = None,
    origin: Clock | None = None,
    name: str | None = None,
) -> plt.Figure:
    """origin: frame 1's time, which the ticks count from (None: the connection's first packet);
    name: the capture file's, for the title (labels.picture_title)."""
    connection = result.connection
    axis = timeline_axis(result, sidecar)
    start = connection.first_time if origin is None else origin.time
    shown = [
        name for name in dict.fromkeys(state.value for side in SIDES for _t, state in result.states[side])
    ]
    # The legend in rows below the axis, as wide as the picture: beside it, a long name (and
    # ten states) ran off the picture's edge.
    legend_rows = math.ceil(len(shown) / LEGEND_COLUMNS)
    below = max(0.0, LEGEND_ROW * legend_rows - 0.1)  # inches (the axis's label leaves some room)
    height = HEIGHT + below
    ends = {
        "client": f"client\n{format_endpoint(connection.client, connection.family)}",
        "server": f"server\n{format_endpoint(connection.server, connection.family)}",
    }
    # Room on the left for the longer end's name (an IPv6 address is long): the axis moved
    # right, and the picture made wider where it would not fit (the axis keeps its inches,
    # which the labels' sizes are reckoned in).
    widest = max(len(line) for name in ends.values() for line in name.split("\n"))
    left_inches = max(0.13 * WIDTH, widest * END_CHAR + 0.25)
    axis_inches = AXIS_WIDTH * WIDTH
    width = max(WIDTH, left_inches + axis_inches + 0.01 * WIDTH)
    fig = plt.figure(figsize=(width, height))
    ax = fig.add_axes(
        (left_inches / width, (0.24 * HEIGHT + below) / height, axis_inches / width, 0.6 * HEIGHT / height)
    )
    rows: dict[Side, float] = {"client": 1.0, "server": 0.0}
    cuts = _cut_bands(axis)
    # Bars too short for their name, by end: (the bar's middle, the state), named outside.
    outside: dict[Side, list[tuple[float, str]]] = {"client": [], "server": []}
    for side, y in rows.items():
        history = result.states[side]
        # Changes at one instant (one segment's several moves, or frames stamped alike) each
        # keep a sliver: a later one starts no sooner than LEAST_BAR after the one before.
        lefts: list[float] = []
        for index, (time, _state) in enumerate(history):
            lefts.append(max(axis.x(time), lefts[-1] + LEAST_BAR) if index else 0.0)
        for index, (_time, state) in enumerate(history):
            left = lefts[index]
            right = lefts[index + 1] if index + 1 < len(history) else 1.0
            width = max(right - left, LEAST_BAR)
            ax.add_patch(Rectangle((left, y - 0.3), width, 0.6, facecolor=STATE_COLORS.get(state.value, "#ffffff"),
                                   edgecolor="#555555", linewidth=0.6, hatch=HATCH.get(state.value)))  # fmt: skip
            piece_left, piece_right = _widest_piece(left, left + width, cuts)
            size = _fitting_size(state.value, piece_right - piece_left)
            # A state held through a silence may show only in its cut's faded band (FIN_WAIT_2
            # for 4 s, named outside on a sliver, read as FIN_WAIT_1 beside it): named there,
            # over the fade.
            in_band = False
            if not size:
                band_left, band_right = _widest_in_bands(left, left + width, cuts)
                size = _fitting_size(state.value, band_right - band_left)
                if size:  # else named outside, its line to the bar's widest solid piece
                    in_band, piece_left, piece_right = True, band_left, band_right
            if size:
                ax.text((piece_left + piece_right) / 2, y, state.value, ha="center", va="center", fontsize=size,
                        zorder=5 if in_band else 3,
                        bbox={"facecolor": "white", "edgecolor": "none", "pad": 1} if state.value in HATCH else None)  # fmt: skip
            else:
                outside[side].append(((piece_left + piece_right) / 2, state.value))
        if not history:
            # Over the cuts' white gaps, which would take letters out of it.
            ax.text(0.5, y, silent_end(result, side), ha="center", va="center", fontsize=8, style="italic",
                    zorder=6, bbox={"facecolor": "white", "edgecolor": "none", "pad": 1})  # fmt: skip
    confirmed = result.kernel.confirmed if result.kernel is not None else []
    start_at, stop_at = axis.bursts[0].start, axis.bursts[-1].stop
    for time, side in confirmed:
        if not start_at <= time <= stop_at:
            continue  # a later report of the same (a long recording's snapshots): the axis ends before
        # Over a cut's white gap: one taken in a silence is drawn across it.
        ax.plot([axis.x(time)], [rows[side] + 0.38], marker="v", color="#2ca02c", markersize=6, zorder=6)
    changes = kernel_changes(result)
    draw_timeline_marks(ax, changes, axis.x_near, rows)
    taken = _name_outside(ax, outside["client"], rows["client"] + OUTSIDE_ABOVE, "bottom")
    _name_outside(ax, outside["server"], rows["server"] - OUTSIDE_BELOW, "top")
    levels = _draw_cuts(ax, axis, cuts, taken)
    # Short states get no label inside their bar: the legend names every colour shown.
    handles = [
        Patch(
            facecolor=STATE_COLORS.get(name, "#ffffff"),
            edgecolor="#555555",
            hatch=HATCH.get(name),
            label=name + (" (a segment may not have arrived)" if name in HATCH else ""),
        )
        for name in shown
    ]
    if handles:
        fig.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 0.05 / height),
                   ncol=min(LEGEND_COLUMNS, len(handles)), fontsize=7, frameon=False)  # fmt: skip
    ax.set_yticks([1.0, 0.0])
    ax.set_yticklabels([ends["client"], ends["server"]], fontsize=END_FONT)
    # Room above for every level of the cuts' lengths (a third ran into the axis's top).
    bottom = -0.75 if outside["server"] else -0.6
    ax.set_ylim(bottom, max(1.9, 1.5 + 0.17 * levels + 0.08))
    # Where state changes were kept apart the axis is not to scale: hatched along its foot,
    # so that a 1 ms SYN_RCVD drawn as wide as a second is not read as one.
    for low, high in axis.stretched:
        ax.add_patch(Rectangle((low, bottom), high - low, STRETCH_MARK, facecolor="white", edgecolor="#888888",
                               hatch="////", linewidth=0.0, zorder=2))  # fmt: skip
    ax.set_xlim(0, 1)
    ticks = _spaced(axis.ticks(start))
    ax.set_xticks([x for x, _label in ticks])
    ax.set_xticklabels([label for _x, label in ticks], fontsize=7)
    since = (
        "frame 1 of the capture (Wireshark's clock)"
        if origin is not None
        else "the connection's first packet"
    )
    caption = (
        f"seconds since {since}; to scale within a burst, state changes kept apart"
        + (" (hatched along the axis: not to scale there)" if axis.stretched else "")
        + f"; silences over "
        f"{BREAK_GAP:g} s cut to a hatched band, wider the longer (≈ their real length above, as in the ladder"
        + ("; many in a row with no change of state as one)" if axis.folded else ")")
    )
    # Wrapped to the axis, which a long end's name (IPv6) moves right: never past the edge.
    ax.set_xlabel("\n".join(textwrap.wrap(caption, int(AXIS_WIDTH * WIDTH * 72 / (8 * 0.55)))), fontsize=8)
    title = picture_title(f"#{connection.id} TCP states", sidecar, name)
    if confirmed:
        title += "   ▼ the kernel reported the same state"
    if changes:
        title += "   ▲ the kernel's own change of state" + (
            " (hollow red: not the analysis's)" if any(not c.agrees for c in changes) else ""
        )
    ax.set_title(title, fontsize=10, pad=14)
    return fig


@functools.cache
def _label_width(text: str, size: float) -> float:
    """The width of `text` at `size` points, as a fraction of the axis's width (measured on
    the glyphs' outlines, not estimated: a short bar takes its name only when it fits)."""
    points = TextPath((0, 0), text, size=size).get_extents().width
    return points / 72 / (AXIS_WIDTH * WIDTH)


def _name_outside(
    ax: plt.Axes, bars: list[tuple[float, str]], y: float, va: str
) -> list[tuple[float, float]]:
    """The names of `bars` (middle, state) too short to hold them, on the row's outer side at
    `y`, each joined to its bar by a thin line: side by side in their bars' order, pushed
    apart where they would meet, never past the axis's ends (SYN_SENT's 15 µs, FIN_WAIT_1's
    few ms had only the legend's colour). Returns the spans (left, right) they take."""
    pad = 0.012  # a space's width and more: at 0.006 two names read as one ("FIN_WAIT_1FIN_WAIT_2")
    widths = [_label_width(state, SMALL_LABEL) + pad for _middle, state in bars]
    lefts: list[float] = []
    for (middle, _state), width in zip(bars, widths, strict=True):
        lefts.append(max(middle - width / 2, lefts[-1] + widths[len(lefts) - 1] if lefts else 0.0))
    right = 1.0
    for index in reversed(range(len(lefts))):  # then back from the right end, where pushed past it
        lefts[index] = min(lefts[index], right - widths[index])
        right = lefts[index]
    if lefts and lefts[0] < 0:  # more than the row holds: from its left end, the last may run over
        lefts = [left - lefts[0] for left in lefts]
    edge = y - (OUTSIDE_ABOVE - 0.3) if va == "bottom" else y + (OUTSIDE_BELOW - 0.3)
    for (middle, state), left, width in zip(bars, lefts, widths, strict=True):
        x = left + width / 2
        ax.plot([middle, x], [edge, y], color="#777777", linewidth=0.6, zorder=2)
        ax.text(x, y, state, ha="center", va=va, fontsize=SMALL_LABEL)
    return [(left, left + width) for left, width in zip(lefts, widths, strict=True)]


CUT_BAND = "cut-band"  # a cut's band's gid: in the SVG, and for the tests


def _cut_bands(axis: TimeAxis) -> list[tuple[float, float]]:
    """Each cut's white band: its whole gap (wider the longer the silence), what was seen
    during the silence (the kernel's snapshots) drawn across it; never narrower than
    2 CUT_HALF."""
    bands = []
    for low, high in axis.cut_spans():
        middle, half = (low + high) / 2, max(CUT_HALF, (high - low) / 2)
        bands.append((middle - half, middle + half))
    return bands


def _draw_cuts(
    ax: plt.Axes, axis: TimeAxis, bands: list[tuple[float, float]], taken: list[tuple[float, float]]
) -> int:
    """Each cut as a faded band across both rows (`bands`: _cut_bands), its real length above;
    a label that would meet the one before, or a short state's name above the client's row
    (`taken`: their spans), goes a level up (labels never pile up). Returns how many levels
    it used."""
    levels: list[float] = []  # each level's right end so far
    for (middle, gap, before), (low, high) in zip(axis.cut_positions(), bands, strict=True):
        # Hatched white over a light fade, not faded to near white: the state held through
        # the silence shows in its own colour (helper-126: FIN_WAIT_2 at 60 % white read as
        # FIN_WAIT_1's pink).
        ax.add_patch(
            Rectangle(
                (low, -0.45),
                high - low,
                1.9,
                facecolor=(1.0, 1.0, 1.0, 0.25),
                edgecolor="white",
                hatch="///",
                linewidth=0.0,
                zorder=3,
                gid=CUT_BAND,
            )
        )
        for x in (low, high):
            ax.plot([x, x], [-0.45, 1.45], color="#999999", linestyle=(0, (2, 2)), linewidth=0.8, zorder=4)
        text = f"≈{format_duration(gap)}"
        if axis.folded.get(before, 1) > 1:
            text += f": {axis.folded[before]} silences, no change of state"
        half = len(text) * CHAR * 7 / 8 / 2
        # Over its cut, but inside the axis: a folded cut's long text near an end ran past it.
        middle = min(max(middle, half), 1.0 - half)
        meets = any(left < middle + half and middle - half < right for left, right in taken)
        lowest = 1 if meets else 0
        level = next(
            (i for i in range(lowest, len(levels)) if levels[i] < middle - half), max(lowest, len(levels))
        )
        while len(levels) <= level:
            levels.append(0.0)
        levels[level] = middle + half + 0.005
        # Above the kernel's marks (at 1.38) and the cut lines' tops (1.45).
        ax.text(
            middle, 1.5 + 0.17 * level, text, ha="center", va="bottom", fontsize=7, color="#555555", zorder=5
        )
    return len(levels)


def _spaced(ticks: list[tuple[float, str]]) -> list[tuple[float, str]]:
    """The ticks whose labels (font 7) meet none kept before them, in the order given: a
    character's width at least between two ("26.658200 s" and "26.768 s" nearly touched)."""
    kept: list[tuple[float, str, float]] = []
    for x, label in ticks:
        half = (len(label) + 1) * CHAR * 7 / 8 / 2
        if all(abs(x - other) >= half + other_half for other, _label, other_half in kept):
            kept.append((x, label, half))
    return sorted((x, label) for x, label, _half in kept)
