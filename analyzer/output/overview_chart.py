"""The overview of a capture with many connections: a row per connection on one time axis,
coloured by outcome, with a mark where a RST or a resend was sent; like Wireshark's
conversation timeline, with the outcomes this tool finds.

Time is Wireshark's: seconds since the capture's first frame. A row is a bar from the
connection's first packet to its last, never narrower than MIN_BAR of the axis, so that an
attempt of a few microseconds still shows. The connections are read as a stream and each is
kept as a few numbers (Row), so a file of a million connections draws in bounded memory:
beyond MAX_ROWS only the MAX_ROWS most telling rows are drawn, and above them a histogram
counts, over time, the connections begun of every outcome, so that a flood or a scan shows
as what it is. The most telling: the rarest outcomes first (the few complete connections
of a SYN flood tell more than its thousandth attempt), taken in turns, and within an
outcome those with resends and RSTs, then the longest.
"""

from __future__ import annotations

import heapq
import textwrap
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.patheffects import withStroke
from matplotlib.ticker import FuncFormatter

from analyzer.analysis import ConnectionAnalysis
from analyzer.errors import UserError
from analyzer.output.figures import save_figure  # sets the Agg backend before pyplot is used
from analyzer.output.labels import resent_frames
from analyzer.output.only import retransmitted
from analyzer.output.summary import CLOSES, reset_words
from analyzer.output.text_report import format_endpoint
from analyzer.output.time_axis import TimeAxis, silences
from analyzer.timefmt import format_duration

MAX_ROWS: Final = 60
MIN_BAR: Final = 0.004  # of the time axis
MARKS_PER_ROW: Final = 20  # RSTs and resends kept per connection; more add nothing visible
HISTOGRAM_BINS: Final = 60

# Outcome: (legend text, colour); the order is the legend's and the histogram's stacking.
OUTCOMES: Final[dict[str, tuple[str, str]]] = {
    # Connected: the handshake completed, or came before the capture (the row says "mid-stream").
    "closed": ("connected, closed by FINs", "#2e7d32"),
    "open": ("connected, not closed in the capture", "#64b5f6"),
    "reset": ("reset (cause written on the row)", "#c62828"),
    "refused": ("refused (SYN answered by RST)", "#6a1b9a"),
    "unreachable": ("SYN answered by ICMP unreachable", "#8d6e63"),
    "incomplete": ("handshake begun, not finished", "#ef6c00"),
    "no_answer": ("SYN never answered", "#9e9e9e"),
}


def outcome(result: ConnectionAnalysis) -> str:
    """One word for how the connection went (a key of OUTCOMES)."""
    status = result.handshake.status
    if status in ("refused", "unreachable", "no_answer", "incomplete") and not result.handshake.opened_unseen:
        return status
    if result.resets:
        return "reset"
    return "closed" if result.close.shape in CLOSES else "open"


@dataclass
class Row:
    """A connection as the overview draws it."""

    id: int
    label: str  # the endpoints
    start: float
    end: float
    outcome: str
    note: str  # written after the bar: the RST cause, "mid-stream"
    resets: list[float]
    resends: list[float]
    resent: bool

    @property
    def rank(self) -> tuple[bool, int, float, int]:
        """Within its outcome, the higher the more telling."""
        return (self.resent, len(self.resets), self.end - self.start, -self.id)


def row_of(result: ConnectionAnalysis) -> Row:
    connection = result.connection
    kind = outcome(result)
    notes = []
    if kind == "reset":
        notes.append(f"RST: {reset_words(result.resets[0].cause)}")
    if result.handshake.unseen_answer is not None:
        notes.append("SYN/ACK not captured")
    elif result.handshake.status == "not_seen" or result.handshake.opened_unseen:
        notes.append("mid-stream")
    by_frame = {s.frame: s.time for s in connection.segments}  # a long one's: those kept
    resends = _spread(sorted(by_frame[f] for f in resent_frames(result) if f in by_frame))
    times = [s.time for s in connection.segments]
    return Row(
        id=connection.id,
        label=f"#{connection.id} {format_endpoint(connection.client, connection.family)} → "
        f"{format_endpoint(connection.server, connection.family)}",
        start=connection.first_time,
        end=max(times) if times else connection.first_time,
        outcome=kind,
        note=", ".join(notes),
        resets=_spread([reset.segment.time for reset in result.resets]),
        resends=resends,
        resent=bool(resends) or retransmitted(result),
    )


def _spread(times: list[float]) -> list[float]:
    """At most MARKS_PER_ROW of the times, spread over all of them."""
    if len(times) <= MARKS_PER_ROW:
        return times
    last = len(times) - 1
    return [times[round(i * last / (MARKS_PER_ROW - 1))] for i in range(MARKS_PER_ROW)]


@dataclass
class Overview:
    """Fed every connection of a file (add), in any order; kept: MAX_ROWS rows and each
    connection's start. `origin` and `end`, the capture's first and last frame times, are
    set once the file is read."""

    origin: float = 0.0
    end: float = 0.0
    connections: int = 0
    # Each outcome's MAX_ROWS most telling rows, a min-heap of (rank, row).
    best: dict[str, list[tuple[tuple[bool, int, float, int], Row]]] = field(
        default_factory=lambda: {key: [] for key in OUTCOMES}
    )
    starts: dict[str, array] = field(default_factory=lambda: {key: array("d") for key in OUTCOMES})

    def add(self, result: ConnectionAnalysis) -> None:
        row = row_of(result)
        self.connections += 1
        self.starts[row.outcome].append(row.start)
        keep_greatest(self.best[row.outcome], (row.rank, row), MAX_ROWS)

    def drawn(self) -> list[Row]:
        """The rows to draw, in the order they began."""
        queues = [
            sorted(heap, key=lambda entry: entry[0], reverse=True)
            for key, heap in sorted(self.best.items(), key=lambda item: len(self.starts[item[0]]))
            if heap
        ]
        chosen: list[Row] = []
        turn = 0
        while len(chosen) < MAX_ROWS and any(turn < len(queue) for queue in queues):
            chosen.extend(queue[turn][1] for queue in queues if turn < len(queue))
            turn += 1
        return sorted(chosen[:MAX_ROWS], key=lambda row: (row.start, row.id))


def keep_greatest(heap: list, entry: tuple, size: int) -> None:
    """Push `entry` (key, item) on a min-heap of at most `size` entries that keeps the greatest
    keys (a caller negates its keys to keep the least)."""
    if len(heap) < size:
        heapq.heappush(heap, entry)
    elif entry[0] > heap[0][0]:
        heapq.heapreplace(heap, entry)


# The layout, in inches: the labels' columns are as wide as their text.
_LABEL_POINTS: Final = 7.5
_CHAR_INCHES: Final = _LABEL_POINTS * 0.62 / 72  # DejaVu Sans Mono's advance; proportional text is narrower
_ROW_INCHES: Final = 0.22
_PLOT_INCHES: Final = 7.0
_SUBTITLE_LINE_INCHES: Final = 8 * 1.3 / 72
_HEADLINE_INCHES: Final = 10.5 * 1.2 / 72  # a wrapped headline's further lines


def overview_figure(overview: Overview, title: str) -> plt.Figure:
    rows = overview.drawn()
    if not rows:
        raise UserError(f"{title}: no TCP connection to draw")
    span = max(overview.end - overview.origin, max(row.end for row in rows) - overview.origin, 1e-6)
    folded = overview.connections > len(rows)
    left = 0.3 + _CHAR_INCHES * max(len(row.label) for row in rows)
    right = 0.3 + 0.85 * _CHAR_INCHES * max((len(row.note) for row in rows), default=0)
    # The histogram bins time evenly: an axis cut at long silences only without it.
    axis = None if folded else cut_axis(rows, overview.origin, overview.origin + span)
    if axis is not None:
        right = max(right, 0.7)  # the last tick's label ("150,000,020 s") centred on the axis's end
    width = left + _PLOT_INCHES + right
    headline, explained = overview_title(overview, len(rows), title)
    # The explanation wrapped to the plot and the notes beside it (proportional text at 8 points).
    lines = textwrap.wrap(explained, width=max(40, int((_PLOT_INCHES + right - 0.3) * 72 / (8 * 0.53))))
    # The headline (a long file name's) wrapped likewise, at 10.5 points bold.
    heads = textwrap.wrap(headline, width=max(30, int((_PLOT_INCHES + right - 0.3) * 72 / (10.5 * 0.62))))
    head_in = _HEADLINE_INCHES * (len(heads) - 1)
    title_in = 0.3 + head_in + _SUBTITLE_LINE_INCHES * len(lines) + 0.25
    histogram_in, gap_in = (1.4 if folded else 0.0), (0.2 if folded else 0.0)
    rows_in = max(0.8, _ROW_INCHES * len(rows))
    axis_in, legend_in = 0.55, 0.6
    height = title_in + histogram_in + gap_in + rows_in + axis_in + legend_in
    fig = plt.figure(figsize=(width, height))

    def place(bottom: float, tall: float, sharex: plt.Axes | None = None) -> plt.Axes:
        return fig.add_axes(
            (left / width, bottom / height, _PLOT_INCHES / width, tall / height), sharex=sharex
        )

    ax = place(axis_in + legend_in, rows_in)
    top = ax
    if folded:
        top = place(axis_in + legend_in + rows_in + gap_in, histogram_in, sharex=ax)
        _draw_histogram(top, overview, span)
    origin = overview.origin
    extent = 1.0 if axis is not None else span
    _draw_rows(ax, rows, axis.x if axis is not None else lambda t: t - origin, extent)
    fig.text(left / width, 1 - 0.22 / height, "\n".join(heads), fontsize=10.5, fontweight="bold", va="top" if len(heads) > 1 else "baseline",
             linespacing=1.2)  # fmt: skip
    fig.text(left / width, 1 - (0.42 + head_in) / height, "\n".join(lines), fontsize=8, color="#444444", va="top",
             linespacing=1.3)  # fmt: skip
    ax.set_xlim(-0.01 * extent, extent * 1.01)
    if axis is None:
        ax.set_xlabel("seconds since frame 1 (the capture's first frame: Wireshark's clock)", fontsize=9)
        # Plain seconds, grouped past a thousand: matplotlib wrote a capture of years as 0 to 8
        # with "1e7" in a corner.
        ax.xaxis.set_major_formatter(FuncFormatter(_tick_seconds))
    else:
        _draw_cut_axis(ax, axis, origin)
    _legend(fig, overview, legend_in / height, rows)
    return fig


def overview_title(overview: Overview, drawn: int, name: str) -> tuple[str, str]:
    """The picture's headline (what it shows) and the sentence under it (how to read it)."""
    count = overview.connections
    headline = f"{name}: {count:,} TCP connection{'s' if count != 1 else ''} over time, coloured by outcome"
    rows = (
        f"{drawn} of them drawn, a row each: the rarest outcomes first, then those with resends and RSTs, "
        "then the longest; "
        "the histogram above counts every connection by when it began. "
        if drawn < count
        else "A row per connection. "
    )
    return headline, (
        f"{rows}Each bar runs from the connection's first packet to its last; time in seconds since frame 1."
    )


LEADER: Final = "note-leader"  # the gid of the dotted line from a bar to its note


# A silence of the whole capture (no connection between its last packet and the next's first)
# this long, and at least this share of the capture's span, is cut out of the axis, its
# length written at the cut: a capture of years with a few bursts drew every bar a sliver.
CUT_LEAST: Final = 60.0
CUT_SHARE: Final = 0.25
CUT_LABEL_SPACING: Final = 0.11  # of the axis: tick labels closer than this would meet
MOST_OVERVIEW_CUTS: Final = 4  # more and their lengths' labels above the axis would meet
# The least a burst between cuts takes of the axis: room for its first and last ticks' labels.
BURST_LEAST: Final = 2 * CUT_LABEL_SPACING


def cut_axis(rows: list[Row], origin: float, end: float) -> TimeAxis | None:
    """The rows' time axis with the capture's long silences cut out, the longest
    MOST_OVERVIEW_CUTS; None if it has none. Long is measured against what is left to draw,
    again after cuts that left a tenth of it or less: once a silence of three years is out,
    one of eight days among the rest of sixteen is long too (a burst of 6 s and one of 16 days
    side by side drew the 6 s as wide as a day)."""
    spans = silences([(row.start, row.end) for row in rows])
    start = min(row.start for row in rows)
    stop = max(row.end for row in rows)
    cuts: list[tuple[float, float]] = []
    drawn = max(end, stop) - min(origin, start)
    while True:
        least = max(CUT_LEAST, CUT_SHARE * drawn)
        more = [(a, b) for a, b in spans if b - a >= least and (a, b) not in cuts]
        cuts = sorted(cuts + more, key=lambda cut: cut[0] - cut[1])[:MOST_OVERVIEW_CUTS]
        left = (stop - start) - sum(b - a for a, b in cuts)
        if not more or left > drawn / 10:
            break
        drawn = left
    if not cuts:
        return None
    return TimeAxis(start, stop, sorted(cuts), width=1.0, gap=0.04, least=BURST_LEAST)


def _draw_cut_axis(ax: plt.Axes, axis: TimeAxis, origin: float) -> None:
    """Ticks in seconds since frame 1 within each burst, each cut a faded band with its length
    above it."""
    kept: list[tuple[float, str]] = []
    for x, label in axis.ticks(origin):  # each burst's first before the others
        if all(abs(x - other) >= CUT_LABEL_SPACING for other, _label in kept):
            kept.append((x, label))
    kept.sort()
    ax.set_xticks([x for x, _label in kept], [_grouped(label) for _x, label in kept], fontsize=8)
    for (low, high), (middle, gap, _before) in zip(axis.cut_spans(), axis.cut_positions(), strict=True):
        ax.axvspan(low, high, color="#f2f2f2", zorder=0.5)
        for x in (low, high):
            ax.axvline(x, color="#999999", linestyle=(0, (2, 2)), linewidth=0.8, zorder=0.6)
        ax.text(middle, 1.0, f"≈{_grouped(format_duration(gap))}", transform=ax.get_xaxis_transform(), ha="center",
                va="bottom", fontsize=7, color="#555555")  # fmt: skip
    ax.set_xlabel(
        "seconds since frame 1 (the capture's first frame: Wireshark's clock);\n"
        "the longest silences of every TCP connection cut out, their length above; each stretch has its own scale",
        fontsize=9,
    )


def _grouped(label: str) -> str:
    """A tick's seconds grouped past a thousand ("150,000,010 s"), as the plain axis writes them."""
    number, _, unit = label.partition(" ")
    whole, dot, decimals = number.partition(".")
    if not whole.lstrip("-").isdigit() or abs(int(whole)) < 1000:
        return label
    return f"{int(whole):,}{dot}{decimals} {unit}".rstrip()


def _draw_rows(ax: plt.Axes, rows: list[Row], at: Callable[[float], float], extent: float) -> None:
    """at: where a time is drawn on the axis; extent: the axis's length in its units."""
    minimum = MIN_BAR * extent
    span = extent
    for y, row in enumerate(rows):
        start = at(row.start)
        width = max(at(row.end) - start, minimum)
        color = OUTCOMES[row.outcome][1]
        ax.broken_barh([(start, width)], (y - 0.32, 0.64), facecolors=color, edgecolors="none")
        if row.note:  # a dotted leader to the note in the right margin: a short bar's is far off
            ax.plot([start + width, span * 1.01], [y, y], color="#b0b0b0", linestyle=(0, (1, 2.5)),
                    linewidth=0.8, zorder=1, gid=LEADER)  # fmt: skip
        if row.resends:
            # A white halo: amber alone was lost on the orange of an unfinished handshake.
            ax.plot([at(t) for t in row.resends], [y] * len(row.resends), linestyle="none",
                    marker="|", markersize=9, markeredgewidth=1.6, color="#ffb300", zorder=3,
                    path_effects=[withStroke(linewidth=3.4, foreground="white")])  # fmt: skip
        if row.resets:
            ax.plot([at(t) for t in row.resets], [y] * len(row.resets), linestyle="none",
                    marker="x", markersize=6, markeredgewidth=1.8, color="black", zorder=4)  # fmt: skip
    ax.set_yticks(range(len(rows)), [row.label for row in rows], fontsize=7.5, family="monospace")
    ax.set_ylim(len(rows) - 0.5, -0.5)  # the first at the top, as in a list
    right = ax.secondary_yaxis("right")
    right.set_yticks(range(len(rows)), [row.note for row in rows], fontsize=7.5)
    right.tick_params(length=0)
    ax.tick_params(axis="y", length=0)
    ax.grid(axis="x", color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _draw_histogram(ax: plt.Axes, overview: Overview, span: float) -> None:
    edges = [span * i / HISTOGRAM_BINS for i in range(HISTOGRAM_BINS + 1)]
    present = [(key, starts) for key, starts in overview.starts.items() if starts]
    origin = overview.origin
    ax.hist([np.frombuffer(starts) - origin for _key, starts in present], bins=edges, stacked=True,
            color=[OUTCOMES[key][1] for key, _starts in present])  # fmt: skip
    ax.set_ylabel(f"connections begun\n(per {_bin_text(span / HISTOGRAM_BINS)})", fontsize=8)
    ax.tick_params(axis="x", labelbottom=False)
    ax.grid(axis="y", color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _tick_seconds(value: float, _position: int | None = None) -> str:
    """An axis tick: seconds since frame 1, as Wireshark's Time column counts them."""
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:g}"


def _bin_text(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.3g} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds * 1e6:.3g} µs"


def _legend(fig: plt.Figure, overview: Overview, tall: float, rows: list[Row]) -> None:
    """The outcomes shown, with their counts, and the marks that some row carries."""
    handles: list[Patch | Line2D] = [
        Patch(color=color, label=f"{text}: {len(overview.starts[key]):,}")
        for key, (text, color) in OUTCOMES.items()
        if overview.starts[key]
    ]
    if any(row.resets for row in rows):
        handles.append(Line2D([], [], linestyle="none", marker="x", color="black", label="RST sent"))
    if any(row.resends for row in rows):
        handles.append(Line2D([], [], linestyle="none", marker="|", markersize=9, markeredgewidth=1.6,
                              color="#ffb300", label="segment resent"))  # fmt: skip
    fig.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 0.0, 0.0, tall), ncol=4,
               fontsize=8, frameon=False)  # fmt: skip


def draw_overview(overview: Overview, output: Path, title: str, warnings: Sequence[str] = ()) -> Path:
    return save_figure(
        overview_figure(overview, title),
        output,
        metadata={"Date": None} if output.suffix == ".svg" else None,
        warnings=warnings,
    )
