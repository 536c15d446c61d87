"""Sequence (ladder) diagram of one connection with matplotlib: SVG keeps text as text, or PNG.

Layout: the client's lifeline on the left, the server's on the right, time running down.
Within a burst time is to scale (ROWS_PER_SECOND), but two moments (a packet, a socket call,
a call's return when packets happened in between) are never closer than a row, so
microsecond exchanges stay readable; a silence (time_axis.silences) is cut, with its real
length written at the cut. A packet is an arrow from its sender to its receiver, slanted
within its row, its frame, time since frame 1 and time since the previous packet under it;
runs of plain data and ACKs are one band each with their counts (ladder_rows.py). Each
end's TCP state is written on its lifeline for the span it holds it; the socket calls from
the sidecar stand in the outer margins. Each arrow's (and band's) SVG element has the id
pkt-<frame> (a band's pkt-<first>-<last>), for a page to attach a packet's details to.
"""

from __future__ import annotations

import bisect
import math
import shlex
import textwrap
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.font_manager import FontProperties
from matplotlib.patches import FancyBboxPatch, Rectangle
from matplotlib.textpath import TextPath

from analyzer.analysis import ConnectionAnalysis, State, stale_frames
from analyzer.call_sockets import connection_calls, flow_calls
from analyzer.connections import SIDES, Connection, Side, peer_of
from analyzer.decode.segment import ACK, RST, SYN, Segment, exact_stamp
from analyzer.output.figures import save_figure
from analyzer.output.kernel_marks import KEY, KEY_DIFFERS, draw_ladder_marks, kernel_changes
from analyzer.output.labels import (
    NO_ANSWER,
    SEQUENCE_NUMBERS,
    SequenceBases,
    analysis_notes,
    flagged_resends,
    icmp_answers,
    picture_title,
    retransmission_note,
    segment_kinds,
    silent_end,
    unanswered_probes,
)
from analyzer.output.ladder_rows import (
    RANGE_ROWS,
    Band,
    Packet,
    Rows,
    drawn_until,
    kernel_losses,
    plan_rows,
    timer_changes,
)
from analyzer.output.summary import reset_words
from analyzer.output.text_report import format_endpoint
from analyzer.output.time_axis import BREAK_GAP, silences
from analyzer.sidecar import CallRecord, Sidecar, call_failed
from analyzer.tcp_state import CHALLENGED, RETRIES_REFUSED, repeats_acknowledgment
from analyzer.timefmt import Clock, between, format_duration, since_to_the_microsecond
from analyzer.udp_flows import UdpFlow

ROW_INCHES = 0.42
ROWS_PER_SECOND = 40.0  # within a burst: a 41 ms delayed ACK is drawn 1.6 rows after the data
HEIGHT_ROWS = 30.0  # where the rows start to be squeezed: the bursts' scale gives way first
BREAK_ROWS = 0.8  # a cut's least height; longer silences take more, to a bound (break_rows)
BREAK_PER_DOUBLING = 0.5  # rows a cut grows each time the silence doubles (a backoff shows)
# Silences up to this long keep the least height: the common cuts of a second or less take no
# room, the doublings of a backoff (1, 2, 4 ... s) each take half a row more.
BREAK_GROWS_FROM = 1.0  # seconds
BREAK_MOST = 4.0  # rows one cut may add beyond BREAK_ROWS
BREAK_BUDGET = 8.0  # rows all the cuts of a ladder may add together, beyond BREAK_ROWS each
TRANSIT = 0.45  # how far down (in rows) an arrow lands: room for the receiver's state label
HEAD_CLEAR = 0.1  # rows between an arrowhead and the state label below it
SPACE = {
    "pkt": 1.0,
    "band": 1.0,
    "call": 0.75,
    "state": 0.75,
}  # least rows from a moment of each kind to the next
BAND_LEAST, BAND_MOST = 1.9, 2.4  # a band's height in rows, whatever its length in time
CLIENT_X, SERVER_X = 0.33, 0.67
FIGURE_WIDTH = 11.0
FONT = 8
PACKET_LABEL = "packet-label"  # the gid of an arrow's label and time: for the layout tests
# The gids of what is drawn across on purpose: a lifeline through the state labels on it, a
# break's line through its length.
LIFELINE, STATE_LABEL, BREAK = "lifeline", "state-label", "break"
BAND_LABEL = "band-label"  # the gid of a band's counts
CHAR_WIDTH = 0.0055  # a character at FONT - 1, as a fraction of the figure's width (about)
BAND_CHARS = 66  # what fits between the lifelines at FONT - 1
LINE_ROWS = FONT * 1.25 / 72 / ROW_INCHES  # a line of text at FONT, in rows (matplotlib's spacing)
TEXT_GAP = 0.15  # rows left between two texts in one margin

COLORS = {
    "packet": "#1f4e79",
    "retransmission": "#b36b00",
    "rst": "#c00000",
    "lost": "#7f7f7f",
    "call": "#333333",
    "error": "#c00000",
    "state": "#e8eef7",
    "break": "#999999",
    "kernel": "#2ca02c",
    "unknown": "#888888",
    "keep_alive": "#6a3d9a",
    "diagnosis": "#8a4b00",
    "diagnosis_box": "#fff4e0",
    "band": "#f1f4f8",
    "band_edge": "#8da9c4",
}

plt.rcParams["svg.fonttype"] = "none"  # text stays text in the SVG
plt.rcParams["text.parse_math"] = False  # literal text: see output/figures.py
# The kernel's check mark as a path (a "$✓$" marker needs mathtext, which is off).
CHECK_MARK = TextPath((0, 0), "✓", prop=FontProperties(weight="bold"))


class EmptyRange(ValueError):
    """A range to draw (frames, times) that holds none of the connection's segments."""


def packet_gid(first: int, last: int | None = None) -> str:
    """The SVG id of a packet's arrow, or of a band's (pkt-<first>-<last>)."""
    return f"pkt-{first}" if last is None else f"pkt-{first}-{last}"


@dataclass
class Moment:
    start: float
    stop: float  # a band's last time; the start for the rest
    # ("pkt", frame), ("band", first, last), ("call", index, "start" | "end"), ("state", index): a
    # state change no packet caused (a timer's)
    key: tuple[object, ...]
    space: float | None = None  # the least rows to the next moment, if not its kind's SPACE
    # Text centred on the moment's row in a margin ("client", "server", or "middle" between
    # the lifelines): its half height in rows, which the next text there keeps clear of.
    half: float = 0.0
    margin: str = ""


@dataclass
class Layout:
    """Where each moment is drawn (a band from `at` down to `until`), and the cuts."""

    at: dict[Hashable, float]
    until: dict[Hashable, float]
    breaks: list[tuple[float, float, float]]  # (y, gap seconds, time before)
    _anchors: list[tuple[float, float]]  # (time, y) of every moment's start and stop, in order
    _cut: set[int]  # anchor i: a cut lies between anchors i and i + 1
    taller: float = 0.0  # rows the cuts take beyond BREAK_ROWS each (longer silences)

    @property
    def first_time(self) -> float:
        return self._anchors[0][0] if self._anchors else float("-inf")

    @property
    def last_time(self) -> float:
        return self._anchors[-1][0] if self._anchors else float("inf")

    def y_at(self, time: float, across_cuts: bool = False) -> float:
        """Where `time` falls: between two moments of a burst in proportion, in a cut (or at a
        moment) at the moment before (for what has a time but no row); with `across_cuts`, in a
        cut across its rows in proportion too (what was seen during a silence, the kernel's
        snapshots over a backoff, each at its own place in it)."""
        anchors = self._anchors
        index = bisect.bisect_right(anchors, (time, float("inf"))) - 1
        if index < 0:
            return 0.25
        t0, y0 = anchors[index]
        if index + 1 >= len(anchors) or (index in self._cut and not across_cuts):
            return y0
        t1, y1 = anchors[index + 1]
        return y0 + (y1 - y0) * (time - t0) / (t1 - t0) if t1 > t0 else y0

    def y_near(self, time: float) -> float:
        """As y_at, but a time in a cut at the nearer of the moments around it, and one before
        the first at its row: what happened 60 µs before the packet that ends a silence (or
        begins the picture) stands at that packet's row."""
        anchors = self._anchors
        index = bisect.bisect_right(anchors, (time, float("inf"))) - 1
        if index < 0 and anchors:  # just before the first moment: at its row
            return anchors[0][1]
        if index in self._cut and index + 1 < len(anchors):
            (t0, y0), (t1, y1) = anchors[index], anchors[index + 1]
            return y0 if time - t0 <= t1 - time else y1
        return self.y_at(time)


def break_rows(silences: Sequence[float]) -> list[float]:
    """Each cut's height in rows: BREAK_ROWS, and more the longer its silence (a log scale,
    so a backoff's doubling shows as even steps), each bounded and all of them together."""
    extra = [
        min(BREAK_MOST, BREAK_PER_DOUBLING * math.log2(max(s, BREAK_GROWS_FROM) / BREAK_GROWS_FROM))
        for s in silences
    ]
    share = min(1.0, BREAK_BUDGET / sum(extra)) if sum(extra) > 0 else 1.0
    return [BREAK_ROWS + e * share for e in extra]


def layout_moments(moments: Sequence[Moment], cuts: Sequence[tuple[float, float]],
                   rows_per_second: float = ROWS_PER_SECOND) -> Layout:  # fmt: skip
    """Rows down the page: each moment at least SPACE after the one before, further in
    proportion to the time between them; a break at each cut, as high as break_rows says."""
    cuts = sorted(cuts)
    heights = dict(zip(cuts, break_rows([after - before for before, after in cuts]), strict=True))
    befores = [before for before, _after in cuts]
    at: dict[Hashable, float] = {}
    until: dict[Hashable, float] = {}
    anchors: list[tuple[float, float]] = []
    cut: set[int] = set()
    breaks = []
    taller = 0.0
    y = 1.0
    previous: Moment | None = None
    texts: dict[str, tuple[float, float]] = {}  # margin -> (row, half height) of its last text
    for moment in sorted(moments, key=lambda m: m.start):
        if previous is not None:
            space = previous.space if previous.space is not None else SPACE[str(previous.key[0])]
            # The silences between the two (a call's return not drawn may stand between two).
            index = bisect.bisect_left(befores, previous.stop)
            within = [c for c in cuts[index:] if c[0] < moment.start and c[1] <= moment.start]
            if within:
                # Below the last row's time label with room above the line for the label of a
                # state begun just before it (a state is named where it begins).
                silent = sum(after - before for before, after in within)
                height = max(heights[c] for c in within)
                # The line in the middle of what a longer silence adds.
                breaks.append((y + space + 0.3 + (height - BREAK_ROWS) / 2, silent, within[0][0]))
                cut.add(len(anchors) - 1)
                y += space + 0.2 + height
                taller += height - BREAK_ROWS
            else:
                gap = min(moment.start - previous.stop, BREAK_GAP)
                y += max(space, gap * rows_per_second)
        if moment.half and moment.margin in texts:
            # A wrapped call must not run into the one above it in the same margin.
            above, half = texts[moment.margin]
            y = max(y, above + half + moment.half + TEXT_GAP)
        if moment.half:
            texts[moment.margin] = (y, moment.half)
        at[moment.key] = y
        anchors.append((moment.start, y))
        if moment.key[0] == "band":
            y += min(BAND_MOST, max(BAND_LEAST, (moment.stop - moment.start) * rows_per_second))
            until[moment.key] = y
            anchors.append((moment.stop, y))
        previous = moment
    return Layout(at, until, breaks, anchors, cut, taller)


def _fitted(moments: Sequence[Moment], cuts: Sequence[tuple[float, float]]) -> Layout:
    """The layout to scale, or with the bursts' scale cut down until it fits HEIGHT_ROWS (the
    least spacing stays: what does not fit then is too many rows, which ladder_rows bounds)."""
    layout = layout_moments(moments, cuts)
    # What longer cuts add does not squeeze the bursts (their rows stay as readable).
    height = max(layout._anchors[-1][1] - layout.taller, 1.0) if layout._anchors else 1.0
    if height <= HEIGHT_ROWS:
        return layout
    least = layout_moments(moments, cuts, 0.0)
    floor = least._anchors[-1][1] - least.taller if least._anchors else 1.0
    if floor >= HEIGHT_ROWS:
        return least
    return layout_moments(moments, cuts, ROWS_PER_SECOND * (HEIGHT_ROWS - floor) / (height - floor))


@dataclass
class _Ladder:
    """A drawing surface: two lifelines, a row for every moment, the breaks between."""

    fig: plt.Figure
    ax: plt.Axes
    layout: Layout
    bottom: float


def call_times(calls: Sequence[CallRecord]) -> list[float]:
    """The moments of the socket calls a picture cuts time around: each call's start and return."""
    return [t for call in calls for t in (call["time"], call["end_time"])]


def _ladder(title: str, summary: str, client: str, server: str, moments: list[Moment],
            calls: list[CallRecord], clock: str, timers: Sequence[float] = ()) -> _Ladder:  # fmt: skip
    """moments: the packets' and bands'; clock: what the times count from; timers: the times of
    state changes no packet caused, each a row of its own."""
    cuts = silences([(m.start, m.stop) for m in moments] + [(t, t) for t in [*call_times(calls), *timers]])
    moments = list(moments) + [Moment(t, t, ("state", index)) for index, t in enumerate(timers)]
    packet_times = [m.start for m in moments] + [m.stop for m in moments]
    for index, call in enumerate(calls):
        # Its return gets a row of its own when packets came meanwhile, or when it took long
        # enough to be cut (a sleep, a wait): the cut then stands where the time passed.
        long = call["end_time"] - call["time"] > BREAK_GAP
        ends = long or any(call["time"] < t < call["end_time"] for t in packet_times)
        first, last = _call_texts(call, ends)
        margin = call["side"] if call["side"] in SIDES else "middle"
        moments.append(Moment(call["time"], call["time"], ("call", index, "start"),
                              half=_half_rows(first), margin=margin))  # fmt: skip
        if ends:
            moments.append(Moment(call["end_time"], call["end_time"], ("call", index, "end"),
                                  half=_half_rows(last), margin=margin))  # fmt: skip
    layout = _fitted(moments, cuts)
    summary_lines = _wrap(summary, 150)
    title = _title_lines(title)
    more_title = TITLE_ROWS * title.count("\n")  # rows the title's lines after its first take
    header = (
        2.2 + more_title + 0.3 * summary_lines.count("\n") + 0.3 * clock.count("\n")
    )  # rows above the lifelines' heads
    bottom = max(layout.until.values() or [0.0]) + 0.5
    # Below the last arrow: its landing, its time label's lines after the first, and the
    # receiver's state label clear of its head.
    lowest = max(moments, key=lambda m: layout.at[m.key], default=None)
    wrapped = (lowest.space - SPACE["pkt"]) if lowest is not None and lowest.space is not None else 0.0
    bottom = max(bottom, max(layout.at.values() or [1.0]) + 1.5 + max(0.0, wrapped) + HEAD_CLEAR)
    fig = plt.figure(figsize=(FIGURE_WIDTH, (bottom + header) * ROW_INCHES + 0.6))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, 1)
    ax.set_ylim(bottom, -header - 0.3)
    ax.axis("off")
    ax.text(0.5, -header, title, ha="center", va="top", fontsize=FONT + 3, weight="bold")
    ax.text(0.5, -header + 0.5 + more_title, summary_lines, ha="center", va="top", fontsize=FONT)
    ax.text(0.5, -header + 0.9 + more_title + 0.3 * summary_lines.count("\n"), clock, ha="center", va="top",
            fontsize=FONT - 1, color="#555555")  # fmt: skip
    for x, role, where in ((CLIENT_X, "client", client), (SERVER_X, "server", server)):
        ax.text(
            x, -0.3, f"{role}\n{where}", ha="center", va="center", fontsize=FONT + 1, weight="bold",
            bbox={"boxstyle": "round,pad=0.4", "facecolor": "white", "edgecolor": "black"},
        )  # fmt: skip
        ax.plot([x, x], [0.2, bottom - 0.5], color="black", linewidth=1, zorder=1, gid=LIFELINE)
    for y, gap, _before in layout.breaks:
        ax.plot([0.02, 0.98], [y, y], color=COLORS["break"], linestyle=(0, (2, 3)), linewidth=0.8, gid=BREAK)
        ax.text(
            0.5, y, f"≈ {format_duration(gap)} later", ha="center", va="center", fontsize=FONT,
            color="#555555", bbox={"facecolor": "white", "edgecolor": "none", "pad": 1}, gid=BREAK,
        )  # fmt: skip
    _draw_calls(ax, calls, layout)
    return _Ladder(fig, ax, layout, bottom)


def _clock(origin: Clock | None, numbers: str = "") -> str:
    """numbers: how the arrows' numbers count (TCP's seq and ack), if they have any."""
    since = (
        "frame 1 of the capture, as Wireshark's" if origin is not None else "the connection's first packet"
    )
    return (
        f"under each arrow its frame, +seconds since {since}, Δ since the connection's previous packet\n"
        f"time runs down to scale within a burst (a row at least); silences over {BREAK_GAP:g} s are cut"
        + (f"; {numbers}" if numbers else "")
    )


COPIES_SHOWN = 6  # copies named by frame in a picture's header; the rest counted


def copies_note(connection: Connection, drawn: Sequence[Packet | Band] | None = None) -> str:
    """A header line for the frames the ladder skips: capture copies (the same packet seen twice,
    on a mirror port or inside and outside a tunnel), by frame and count; drawn: a range's
    items (only the copies among their frames), None: all of them. Empty if none."""
    copies, count = connection.copies, connection.copy_count
    if drawn is not None:
        low, high = _frame_of(drawn[0], True), _frame_of(drawn[-1], False)
        copies = [(copy, original) for copy, original in copies if low <= copy.frame <= high]
        count = len(copies)
    if not count:
        return ""
    shown = ", ".join(f"{copy.frame} (of {original})" for copy, original in copies[:COPIES_SHOWN])
    more = f" and {count - COPIES_SHOWN:,} more" if count > COPIES_SHOWN else ""
    plural = "s" if count > 1 else ""
    return f"\nnot drawn: {count:,} frame{plural} captured again (copies of the frame named): {shown}{more}"


def _frame_of(item: Packet | Band, first: bool) -> int:
    if isinstance(item, Packet):
        return item.segment.frame
    return item.first if first else item.last


def _range_note(rows: Rows, frames: tuple[int, int] | None, times: tuple[float, float] | None,
                origin: Clock) -> str:  # fmt: skip
    if frames is not None:
        return f"  (frames {frames[0]}–{frames[1]}: {rows.total:,} segments)"
    if times is not None:
        return (
            f"  ({origin.since(times[0]):+.6g} s to {origin.since(times[1]):+.6g} s: {rows.total:,} segments)"
        )
    return ""


def sequence_figure(
    result: ConnectionAnalysis,
    sidecar: Sidecar | None = None,
    origin: Clock | None = None,
    frames: tuple[int, int] | None = None,
    times: tuple[float, float] | None = None,
    commands: bool = True,
    name: str | None = None,
    path: str | None = None,
) -> plt.Figure:
    """origin: frame 1's time, which the arrows' times count from (None: the connection's start);
    frames, times (epoch seconds): draw only the segments in that range (both ends in);
    commands: a band whose notable packets did not fit says which command draws them (not
    on a page, where no command is typed); name: the capture file's, for the title
    (labels.picture_title); path: the file as the user typed it, which that command names
    (to be run where the user ran this one; `name` where not given)."""
    connection = result.connection
    client = format_endpoint(connection.client, connection.family)
    server = format_endpoint(connection.server, connection.family)
    start = origin if origin is not None else connection.start_clock
    calls = connection_calls(sidecar, connection)  # those on its sockets
    # An ICMP error is no row of its own, but what it did (the client CLOSED) is drawn.
    segment_times = [s.time for s in connection.segments] + [e.time for e in connection.unreachables]
    timers = timer_changes(
        result, drawn_until(result, max([*segment_times, *(c["end_time"] for c in calls)], default=0.0))
    )
    rows = plan_rows(result, frames, times, call_times(calls) + timers)
    unanswered = result.handshake.status == "no_answer"
    lost = {
        step.segment.frame for step in result.steps if step.lost or (unanswered and step.segment.flags & SYN)
    }
    drawn = [item for item in rows.items]
    ignored = ignored_resets(result)
    whens = _time_labels(result, start, [i for i in drawn if isinstance(i, Packet)], ignored)
    lines = {frame: text.count("\n") + 1 for frame, text in whens.items()}
    landing = _landing(result, drawn)
    if frames is not None or times is not None:
        if not drawn:
            raise EmptyRange(f"no segment of connection #{connection.id} in that range")
        first, last = _time_of(drawn[0], True), _time_of(drawn[-1], False)
        calls = [c for c in calls if first <= c["time"] <= last]
        timers = [t for t in timers if first <= t <= last]
    ladder = _ladder(
        picture_title(f"#{connection.id} IPv{connection.family}  {client} → {server}", sidecar, name)
        + _range_note(rows, frames, times, start),
        result.summary(),
        client,
        server,
        _in_file_order([_moment(item, lost, lines, landing) for item in drawn]),
        calls,
        _clock(origin, SEQUENCE_NUMBERS) + copies_note(connection, drawn if frames or times else None),
        timers,
    )
    crossed, unheard = _draw_packets(
        ladder.ax, result, ladder.layout, whens, [i for i in drawn if isinstance(i, Packet)], ignored
    )
    for item in drawn:
        if isinstance(item, Band):
            _draw_band(ladder.ax, item, ladder.layout, connection.id if commands else None, path or name)
    _draw_diagnosis_marks(ladder.ax, result, ladder.layout)
    blocked = _crossed(result, [i for i in drawn if isinstance(i, Packet)], ladder.layout)
    confirmed = _kernel_rows(result, ladder.layout, blocked)
    silent_listener = result.kernel is not None and result.kernel.server_listened
    labels = _draw_states(
        ladder.ax, result, ladder.layout, ladder.bottom, confirmed, silent_listener, blocked
    )
    _draw_kernel_marks(ladder.ax, confirmed, labels)
    # The kernel's own changes last: their labels keep clear of all the rest.
    changes = kernel_changes(result)
    span = (ladder.layout.first_time, ladder.layout.last_time)
    lifelines: dict[Side, float] = {"client": CLIENT_X, "server": SERVER_X}
    marked = draw_ladder_marks(ladder.ax, changes, ladder.layout.y_near, span, lifelines)
    keys = []
    if crossed:
        keys.append((KEY_LOST, COLORS["lost"]))
    if unheard:
        keys.append((KEY_NO_ANSWER, COLORS["lost"]))
    if marked:
        keys.append((KEY, COLORS["kernel"]))
        if not all(c.agrees for c in marked):
            keys.append((KEY_DIFFERS, COLORS["rst"]))
    if any(confirmed.values()):
        keys.append(
            (
                "✓ on a lifeline, green frame: the kernel reported that state (sidecar snapshot)",
                COLORS["kernel"],
            )
        )
    if any(state == State.UNKNOWN for history in result.states.values() for _t, state in history):
        if result.vantage is not None and result.vantage.point == "one_direction":
            why = "one direction's packets alone are in the capture, what the other end sent is not"
        elif unarrived_frames(result):
            why = "a segment may not have reached that end (said under its arrow)"
        else:
            why = "the packets that would tell it are not in the capture"
        keys.append(
            (f"hatched lifeline, UNKNOWN ?: {why}, so that end's state cannot be told", COLORS["unknown"])
        )
    if len(keys) > 1:  # the figure grows down by a key's row for each key after the first
        extra = 0.3 * (len(keys) - 1)
        width, height = ladder.fig.get_size_inches()
        ladder.fig.set_size_inches(width, height + extra * ROW_INCHES)
        top = ladder.ax.get_ylim()[1]
        ladder.ax.set_ylim(ladder.bottom + extra, top)
    for row, (key, color) in enumerate(keys):
        ladder.ax.text(0.5, ladder.bottom - 0.15 + 0.3 * row, key, ha="center", va="bottom", fontsize=FONT - 1,
                       color=color)  # fmt: skip
    return ladder.fig


def _landing(result: ConnectionAnalysis, drawn: Sequence[Packet | Band]) -> set[int]:
    """The frames drawn one by one that move their receiver to a new state."""
    senders = {i.segment.frame: result.connection.sender(i.segment) for i in drawn if isinstance(i, Packet)}
    return {
        frame
        for side, frames in result.state_frames.items()
        for frame in frames
        if frame is not None and frame in senders and senders[frame] != side
    }


def _time_of(item: Packet | Band, first: bool) -> float:
    if isinstance(item, Packet):
        return item.segment.time
    return item.start if first else item.stop


LOST_SPACE = 1.3  # a lost packet's time stands lower, below its cross


def _in_file_order(moments: list[Moment]) -> list[Moment]:
    """A packet stamped before one drawn above it (the capture's clock went back) stands at
    that one's time: the rows keep the file's order, as Wireshark's flow graph does; its label
    keeps its own time."""
    latest = float("-inf")
    kept = []
    for moment in moments:
        if moment.start < latest:
            moment = Moment(latest, max(latest, moment.stop), moment.key, moment.space)
        latest = max(latest, moment.stop)
        kept.append(moment)
    return kept


def _moment(item: Packet | Band, lost: set[int], lines: dict[int, int], landing: set[int]) -> Moment:
    """lines: the lines of each packet's time label (a wrapped one takes room below); landing:
    the frames that move their receiver to a new state (its label stands below the arrowhead,
    before the next arrow: helper-122's TIME_WAIT drawn at the ACK after the FIN that caused it)."""
    if isinstance(item, Packet):
        frame = item.segment.frame
        extra = LINE_ROWS * (lines.get(frame, 1) - 1)
        least = LOST_SPACE if frame in lost else LANDING_SPACE if frame in landing else SPACE["pkt"]
        return Moment(item.segment.time, item.segment.time, ("pkt", frame),
                      least + extra if least != SPACE["pkt"] or extra else None)  # fmt: skip
    return Moment(item.start, item.stop, ("band", item.first, item.last))


# A UDP flow's arrows drawn at most: a datagram has no state to show, and a QUIC download's
# thousands would make a picture no one reads (the JSON lists the first 1,000).
UDP_DRAWN = 120


def udp_figure(
    flow: UdpFlow, sidecar: Sidecar | None = None, origin: Clock | None = None, name: str | None = None
) -> plt.Figure:
    """Datagrams as arrows (no states: UDP has none); an ICMP port unreachable in red."""
    client = format_endpoint(flow.client, flow.family)
    server = format_endpoint(flow.server, flow.family)
    arrows = [
        (d.time, d.frame, flow.from_client(d), f"UDP len={d.length}", COLORS["packet"])
        for d in flow.datagrams
    ]
    arrows += [
        (m.time, m.frame, False, "ICMP port unreachable", COLORS["rst"]) for m, _answered in flow.unreachables
    ]
    arrows.sort(key=lambda arrow: arrow[0])
    summary = flow.summary()
    if len(arrows) > UDP_DRAWN:
        total = flow.datagram_count + flow.unreachable_count
        summary += f"; the first {UDP_DRAWN} of {total:,} drawn"
        arrows = arrows[:UDP_DRAWN]
    calls = flow_calls(sidecar, flow)
    moments = [Moment(time, time, ("pkt", frame)) for time, frame, *_rest in arrows]
    ladder = _ladder(
        picture_title(f"UDP #{flow.id} IPv{flow.family}  {client} → {server}", sidecar, name),
        summary,
        client,
        server,
        moments,
        calls,
        _clock(origin),
    )
    stamps = {d.frame: exact_stamp(d) for d in flow.datagrams}
    stamps.update((m.frame, exact_stamp(m)) for m, _answered in flow.unreachables)
    start = origin if origin is not None else Clock(arrows[0][0], stamps[arrows[0][1]])
    previous: int | None = None
    for _time, frame, from_client, label, color in arrows:
        x0, x1 = (CLIENT_X, SERVER_X) if from_client else (SERVER_X, CLIENT_X)
        y = ladder.layout.at[("pkt", frame)]
        stamp = stamps[frame]
        when = f"frame {frame}  {since_to_the_microsecond(start.since_stamp(stamp))}" + _delta(
            None if previous is None else between(previous, stamp)
        )
        _arrow(ladder.ax, x0, x1, y, label, when, color, "-", gid=packet_gid(frame))
        previous = stamp
    return ladder.fig


def figure(
    item: ConnectionAnalysis | UdpFlow,
    sidecar: Sidecar | None = None,
    origin: Clock | None = None,
    frames: tuple[int, int] | None = None,
    times: tuple[float, float] | None = None,
    commands: bool = True,
    name: str | None = None,
    path: str | None = None,
) -> plt.Figure:
    """The ladder of a TCP connection or a UDP flow, not yet saved (tests measure its labels).
    origin: frame 1's time, which the times count from (None: the connection's start);
    frames, times (epoch seconds): only that range of a TCP connection (EmptyRange if empty);
    commands, name, path: see sequence_figure."""
    if isinstance(item, UdpFlow):
        return udp_figure(item, sidecar, origin, name)
    return sequence_figure(item, sidecar, origin, frames, times, commands, name, path)


def draw(
    item: ConnectionAnalysis | UdpFlow,
    output: Path,
    sidecar: Sidecar | None = None,
    origin: Clock | None = None,
    frames: tuple[int, int] | None = None,
    times: tuple[float, float] | None = None,
    name: str | None = None,
    path: str | None = None,
    warnings: Sequence[str] = (),
) -> Path:
    """warnings: the reader's, drawn above the picture (figures.add_warning_strip)."""
    return save_figure(
        figure(item, sidecar, origin, frames, times, name=name, path=path), output, warnings=warnings
    )


# The title's characters on a line: more ran past both edges (a long file name and two IPv6
# addresses), and a rows' height for each line after the first.
TITLE_CHARS = 100
SUMMARY_LINES = 4  # of the title's rest and of the summary under it: more is cut, with "…"
TITLE_ROWS = 0.45


def _title_lines(title: str) -> str:
    """A title too long for one line: what it was drawn from on a line of its own (broken
    where it passes TITLE_CHARS), the connection on the next ones."""
    if len(title) <= TITLE_CHARS:
        return title
    source, colon, rest = title.partition(": ")
    if not colon:
        source, rest = "", title
    lines = textwrap.wrap(source + colon.rstrip(), TITLE_CHARS) if source else []
    return "\n".join([*lines, _wrap(rest, TITLE_CHARS)])


def _wrap(text: str, width: int) -> str:
    words, lines, line = text.split(" "), [], ""
    for word in words:
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    lines.append(line)
    if len(lines) > SUMMARY_LINES:
        # Cut, and said to be: the text report and the JSON hold the whole.
        last = lines[SUMMARY_LINES - 1]
        while len(last) + 2 > width and " " in last:
            last = last.rsplit(" ", 1)[0]  # whole words only
        last = last[: width - 2]  # but a word longer than the line (a path, an address)
        lines[SUMMARY_LINES - 1] = last + " …"
    return "\n".join(lines[:SUMMARY_LINES])


def _delta(seconds: float | None) -> str:
    return f"  Δ{format_duration(seconds)}" if seconds is not None else ""


# The two ways a packet's fate is drawn, one meaning each (the legend says them).
KEY_LOST = (
    "× ending an arrow: never taken in by the receiver, as the analysis infers: lost or dropped on its "
    "way, or dropped by the receiver's host (a firewall; a listener's full accept queue)"
)
KEY_NO_ANSWER = (
    f"“— {NO_ANSWER}” after a SYN, keep-alive or zero-window probe: nothing came back before its "
    "sender's next packet or the capture's end"
)


# What fits between the lifelines at FONT - 1 with room to spare: a longer time label
# (a retransmission's, with its cause and notes) runs on in lines below, not over them.
WHEN_CHARS = 60
# Where the packet moves an end to a new state: that state's box stands at the arrow's end,
# beside these lines (helper-111's keepalive2: a 60-character line ran under "UNKNOWN ?").
WHEN_CHARS_BESIDE_STATE = 52


def _time_labels(
    result: ConnectionAnalysis, origin: Clock, packets: list[Packet], ignored: dict[int, str]
) -> dict[int, str]:
    """Under each arrow, by frame: its frame, time since `origin` and since the packet before,
    what it resends, a RST's cause, the analysis's notes, an ICMP error's answer; in lines of
    at most WHEN_CHARS, broken between those pieces."""
    retransmission = result.resends
    resets = {r.segment.frame: r for r in result.resets}
    notes = analysis_notes(result)
    icmp = icmp_answers(result, origin)
    unarrived = unarrived_frames(result)
    # Refusals their receiver did not take: it sent its SYN again (Windows retries connect()).
    retried = {
        step.segment.frame: peer_of(result.connection.sender(step.segment))
        for step in result.steps
        if step.dropped is not None and step.dropped.endswith(RETRIES_REFUSED)
    }
    moved = {frame for frames in result.state_frames.values() for frame in frames if frame is not None}
    found = {}
    for packet in packets:
        segment = packet.segment
        pieces = [f"frame {segment.frame}", since_to_the_microsecond(origin.since_stamp(segment.stamp))]
        if packet.since_previous is not None:
            pieces.append(_delta(packet.since_previous).strip())
        if segment.frame in retransmission:
            resent = retransmission[segment.frame]
            note = retransmission_note(segment, resent)
            if packet.since_previous is not None and format_duration(
                packet.since_previous
            ) == format_duration(between(resent[1], segment.stamp)):
                pieces[-1] = (
                    f"Δ{note}"  # the packet before is the copy: "Δ1.010 s, 1.010 s after the first" once
                )
            else:
                pieces[-1] += ", " + note
        if segment.frame in resets:
            pieces.append(reset_words(resets[segment.frame].cause))
        if segment.frame in ignored:
            pieces.append(ignored[segment.frame])
        if segment.frame in unarrived:
            pieces.append(f"may not have reached the {unarrived[segment.frame]}")
        if segment.frame in retried:
            pieces.append(f"the {retried[segment.frame]} stays in SYN_SENT: it retries the connect()")
        if segment.frame in notes:
            pieces.append(notes[segment.frame])
        if segment.frame in icmp:
            pieces.append(icmp[segment.frame])
        width = WHEN_CHARS_BESIDE_STATE if segment.frame in moved else WHEN_CHARS
        found[segment.frame] = _in_lines(_apart(pieces, 2 if packet.since_previous is None else 3), width)
    return found


def _apart(pieces: list[str], head: int) -> list[str]:
    """The notes after the frame, time and delta (`head` pieces) ended with ";" where another
    follows, as is the delta's retransmission note: two spaces or a line end alone ran them
    together ("1.056 ms after the first" over "fast retransmission")."""
    marked = list(pieces)
    for index in range(head - 1, len(marked) - 1):
        if index >= head or ", " in marked[index]:
            marked[index] += ";"
    return marked


def ignored_resets(result: ConnectionAnalysis) -> dict[int, str]:
    """The RSTs their receiver would not take (tcp_state's `dropped`: outside its window, or
    no connection left), by frame: what is said under each, drawn dotted (helper-122's s6b: one
    outside the window looked like the RST that ended the connection)."""
    connection = result.connection
    found = {}
    for step in result.steps:
        segment = step.segment
        if not segment.flags & RST or step.lost:
            continue
        receiver = peer_of(connection.sender(segment))
        if step.receiver_before == State.CLOSED:
            found[segment.frame] = f"not taken by the {receiver}: nothing left to reset"
        elif step.dropped is not None and CHALLENGED in step.dropped:
            answer = _challenge_answer(connection, segment)
            found[segment.frame] = f"not taken by the {receiver}: in its window, not at its next number; " + (
                f"its challenge ACK: frame {answer.frame}"
                if answer is not None
                else "it answers with a challenge ACK (RFC 5961 3.2), none captured"
            )
        elif step.dropped is not None:
            why = "outside its window" if "outside its window" in step.dropped else step.dropped
            found[segment.frame] = f"not taken by the {receiver}: {why}"
    return found


def _challenge_answer(connection: Connection, rst: Segment) -> Segment | None:
    """The receiver's next segment after `rst`, if a bare ACK at the number it acknowledged
    before: its challenge ACK (helper-126: the caption named one the capture did not hold;
    helper-130: nor is the ACK of later data one)."""
    before = None
    for segment in connection.segments:
        if segment.src != rst.dst or segment.sport != rst.dport or not segment.flags & ACK:
            continue
        if segment.frame < rst.frame:
            before = segment.ack
        elif segment.frame > rst.frame:
            return segment if before is not None and repeats_acknowledgment(segment, before, rst) else None
    return None


def unarrived_frames(result: ConnectionAnalysis) -> dict[int, Side]:
    """The segments after which their receiver's state is unknown, by frame: they may not
    have arrived (the capture shows nothing of the receiver's that answers them)."""
    by_frame = {s.frame: s for s in result.connection.segments}
    return {
        frame: side
        for side, frames in result.state_frames.items()
        for (_t, state), frame in zip(result.states.get(side, []), frames, strict=False)
        if state == State.UNKNOWN
        and frame in by_frame
        and result.connection.sender(by_frame[frame]) == peer_of(side)
    }


def _in_lines(pieces: list[str], width: int = WHEN_CHARS) -> str:
    """The pieces two spaces apart, a new line where the next would pass `width` characters."""
    lines: list[str] = []
    for piece in pieces:
        for part in textwrap.wrap(piece, width) or [""]:
            if lines and len(lines[-1]) + 2 + len(part) <= width:
                lines[-1] += "  " + part
            else:
                lines.append(part)
    return "\n".join(lines)


def _draw_packets(ax: plt.Axes, result: ConnectionAnalysis, layout: Layout, whens: dict[int, str],
                  packets: list[Packet], ignored: dict[int, str]) -> tuple[set[int], set[int]]:  # fmt: skip
    """whens: the time labels (_time_labels); ignored: the RSTs drawn dotted (ignored_resets). Returns the frames drawn ending in a cross, and
    those written NO_ANSWER."""
    connection, handshake = result.connection, result.handshake
    bases = SequenceBases(result)
    retransmission = result.resends
    flagged = flagged_resends(result)
    # Inferred lost, or dropped by the receiving kernel before TCP (its recorder): not arrived.
    lost_frames = {step.segment.frame for step in result.steps if step.lost} | kernel_losses(result)
    unanswered = handshake.status == "no_answer"
    kinds = segment_kinds(result)
    no_answer = unanswered_probes(result, kinds) - set(icmp_answers(result, Clock()))  # answered
    crossed: set[int] = set()
    unheard: set[int] = set()
    stale = stale_frames(connection, result.resets)
    for packet in packets:
        segment = packet.segment
        from_client = connection.from_client(segment)
        sender: Side = "client" if from_client else "server"
        x0, x1 = (CLIENT_X, SERVER_X) if from_client else (SERVER_X, CLIENT_X)
        y0 = layout.at[("pkt", segment.frame)]
        label = bases.label(segment, sender, segment.frame in stale)
        color, style = COLORS["packet"], "-"
        when = whens[segment.frame]
        if segment.frame in retransmission or segment.frame in flagged:
            # A spurious one (data the receiver had acknowledged already) in its own dashes.
            spurious = "spurious_retransmission" in result.sequence.flags.get(segment.frame, ())
            color, style = COLORS["retransmission"], "-." if spurious else "--"
            what = "spurious resend" if spurious else "retransmission"
            numbered = retransmission.get(segment.frame)
            label += f"  ({what} #{numbered[0]})" if numbered is not None else f"  ({what})"
        if "zero_window" in result.sequence.flags.get(segment.frame, ()):
            label += " win=0"  # what the zero-window mark beside it is about
        kind = kinds.get(segment.frame)
        if kind is not None:
            # What the flags do not say: a keep-alive is one byte below what the peer
            # expects, to draw an ACK, not a bare ACK.
            label = f"{kind}: {label}"
            if kind.startswith("keep-alive"):
                color, style = COLORS["keep_alive"], ":"
        if segment.flags & RST:
            color = COLORS["rst"]
            if segment.frame in ignored:
                style = ":"
        lost = segment.frame in lost_frames or bool(unanswered and segment.flags & SYN)
        if segment.frame in no_answer:
            label += f" — {NO_ANSWER}"
            unheard.add(segment.frame)
        if lost:
            crossed.add(segment.frame)
        _arrow(ax, x0, x1, y0, label, when, color, style, lost, packet_gid(segment.frame))
    return crossed, unheard


def _draw_band(ax: plt.Axes, band: Band, layout: Layout, connection: int | None, name: str | None) -> None:
    """A run of plain segments: a shaded box between the lifelines with what it stands for."""
    key = ("band", band.first, band.last)
    y0, y1 = layout.at[key], layout.until[key]
    box = Rectangle((CLIENT_X, y0), SERVER_X - CLIENT_X, y1 - y0, facecolor=COLORS["band"],
                    edgecolor=COLORS["band_edge"], linewidth=0.8, zorder=2)  # fmt: skip
    box.set_gid(packet_gid(band.first, band.last))
    ax.add_patch(box)
    ax.text((CLIENT_X + SERVER_X) / 2, (y0 + y1) / 2, band_text(band, connection, name), ha="center", va="center",
            fontsize=FONT - 1, color="#1a1a1a", gid=BAND_LABEL, zorder=5)  # fmt: skip


def band_text(band: Band, connection: int | None = None, name: str | None = None) -> str:
    """frames, segments (by direction), bytes, duration, and what is inside worth a count;
    given the `connection`'s id, the command that draws notable packets it holds one by one
    (of the capture file `name`, FILE where it is not known)."""
    capture = shlex.quote(name) if name else "FILE"
    lines = [f"frames {band.first}–{band.last}: {band.segments:,} segments"]
    if band.let_go:  # counted as they came, not kept: no direction to tell
        lines.append(f"({band.let_go:,} of them counted, not kept: a long connection)")
    else:
        lines[0] += f" ({band.to_server:,} to the server, {band.to_client:,} to the client)"
    paused = f", {_count(band.silences, 'silence')} over {BREAK_GAP:g} s within" if band.silences else ""
    lines.append(f"{band.bytes:,} bytes of data in {format_duration(band.stop - band.start)}{paused}")
    inside = [_count(band.resends, "retransmission")] if band.resends else []
    inside += [_count(count, kind) for kind, count in band.flagged.items() if count > 0]
    inside += [_count(count, kind) for kind, count in band.others.items()]
    lines.append(", ".join(inside) + " inside" if inside else "no retransmissions")
    if band.held and connection is None:
        lines.append("(holds notable packets that did not fit one by one)")
    elif (band.held or band.silences) and connection is not None and band.segments <= RANGE_ROWS:
        lines.append(
            f"(handshake diagram {capture} --connection {connection} --frames {band.first}-{band.last} "
            f"-o frames.png draws each)"
        )
    elif band.held:
        lines.append(
            f"(handshake diagram {capture} --connection {connection} --frames A-B -o frames.png draws up to "
            f"{RANGE_ROWS} one by one)"
        )
    # Broken at spaces only: a file name broken at its hyphens did not paste as a command.
    return "\n".join(
        textwrap.fill(line, BAND_CHARS, break_long_words=False, break_on_hyphens=False) for line in lines
    )


def _count(count: int, name: str) -> str:
    """'1 dup ACK', '3 dup ACKs'; a name that is not a noun ('out of order') stays as it is."""
    plural = count != 1 and name not in ("out of order", "after a gap")
    if plural and name.endswith("echo"):
        return f"{count:,} {name}es"
    return f"{count:,} {name}{'s' if plural else ''}"


def _arrow(ax: plt.Axes, x0: float, x1: float, y0: float, label: str, when: str, color: str, style: str,
           lost: bool = False, gid: str | None = None) -> None:  # fmt: skip
    """One packet: slanted down by TRANSIT, its label above, its time below; a lost one
    stops short of the receiver in a cross. gid: the arrow's SVG id."""
    y1 = y0 + TRANSIT
    reach = 0.85 if lost else 1.0
    end_x, end_y = x0 + (x1 - x0) * reach, y0 + (y1 - y0) * reach
    arrow = ax.annotate(
        "", xy=(end_x, end_y), xytext=(x0, y0),
        arrowprops={"arrowstyle": "-|>" if not lost else "-", "color": color, "linestyle": style,
                    "linewidth": 1.3, "shrinkA": 0, "shrinkB": 0},
        zorder=3,
    )  # fmt: skip
    if gid is not None and arrow.arrow_patch is not None:
        arrow.arrow_patch.set_gid(gid)
    if lost:
        ax.plot([end_x], [end_y], marker="x", color=COLORS["lost"], markersize=9, mew=2, zorder=4)
    mid_x, mid_y = (x0 + x1) / 2, (y0 + y1) / 2
    slope = abs(y1 - y0) / abs(x1 - x0) if x1 != x0 else 0.0
    # Above the arrow and below it, far enough that the slanted line clears each text's ends.
    above = max(0.2, 0.03 + slope * len(label) * CHAR_WIDTH * FONT / (FONT - 1) / 2)
    below = max(0.12, 0.03 + slope * max(len(line) for line in when.split("\n")) * CHAR_WIDTH / 2)
    widest = max(len(line) for line in when.split("\n")) * CHAR_WIDTH / 2
    if lost and abs(end_x - mid_x) < widest + 0.02:
        # Below the cross that ends it, whose arm reaches down about 0.15 row, where the time
        # would reach the cross (otherwise it stays where every arrow's is: a row below takes
        # the next arrow's label).
        below = max(below, end_y + 0.17 - mid_y)
    ax.text(
        mid_x, mid_y - above, label, ha="center", va="bottom", fontsize=FONT, color=color, gid=PACKET_LABEL,
        bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.5, "alpha": 0.85}, zorder=5,
    )  # fmt: skip
    ax.text(
        mid_x, mid_y + below, when, ha="center", va="top", fontsize=FONT - 1, color="#555555", gid=PACKET_LABEL,
        bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.5, "alpha": 0.85}, zorder=5,
    )  # fmt: skip


def _draw_states(ax: plt.Axes, result: ConnectionAnalysis, layout: Layout, bottom: float,
                 confirmed: dict[str, list[float]], silent_listener: bool,
                 crossed: dict[str, list[float]]) -> dict[str, list[float]]:  # fmt: skip
    """confirmed: per side, the rows where the kernel reported the state drawn there; crossed:
    per side, where arrows and breaks cross the lifeline (each label keeps clear of them).
    Returns the labels' rows, per side."""
    labels: dict[str, list[float]] = {"client": [], "server": []}
    connection = result.connection
    segments_by_frame = {s.frame: s for s in connection.segments}
    copy_of = {copy.frame: original for copy, original in connection.copies or ()}
    for side, x in zip(SIDES, (CLIENT_X, SERVER_X), strict=True):
        history = result.states[side]
        if not history:
            known = side == "server" and silent_listener
            text = silent_end(result, side).replace(" (", "\n(").replace("; ", ";\n")
            labels[side] += [0.7, 0.9]
            ax.text(x, 0.6, text, ha="center", va="top", fontsize=FONT - 1, color="#555555" if known else "#777777",
                    style="italic", zorder=6, gid=STATE_LABEL, bbox={"facecolor": "white", "edgecolor": "none", "pad": 1})  # fmt: skip
            continue
        # A state starts where the packet that caused it leaves (sender) or lands (receiver).
        starts = []
        for index, (time, state) in enumerate(history):
            if index == 0:
                starts.append((0.25, state))
                continue
            frames = result.state_frames.get(side, [])
            frame = frames[index] if index < len(frames) else None
            if frame is not None and ("pkt", frame) not in layout.at and frame in copy_of:
                # A capture copy's (a router's copy of a segment as it left, which reached
                # the receiver): the copy is not drawn, the segment it copies is.
                frame = copy_of[frame]
            drawn = frame is not None and ("pkt", frame) in layout.at
            if time > layout.last_time and not drawn:
                break  # after the range drawn
            if frame is None or not drawn:
                # A change no packet drawn caused (a timer's, on a row of its own, or a
                # segment's in a band or before the range drawn): at its time.
                y = max(0.25, layout.y_at(time))
            else:
                y = layout.at[("pkt", frame)]
                if connection.from_client(segments_by_frame[frame]) != (side == "client"):
                    y += TRANSIT  # the receiver changes when the arrow lands
            # Never above the change before it: a segment captured before the one it answers
            # moves its ends when that one comes (tcp_state.py), below its own row.
            starts.append((max(y, starts[-1][0]), state))
        passed: list[str] = []
        for index, (y, state) in enumerate(starts):
            end = starts[index + 1][0] if index + 1 < len(starts) else bottom - 0.5
            if end - y < 0.2:
                # Held for no visible span (FIN_WAIT_1 -> CLOSING where two FINs crossed):
                # named in the next label, so that no state the text lists goes missing.
                passed.append(state.value)
                continue
            unknown = state == State.UNKNOWN  # the capture cannot tell: dashed, grey, with a question
            ax.add_patch(
                FancyBboxPatch((x - 0.004, y), 0.008, end - y, boxstyle="square,pad=0",
                               facecolor="white" if unknown else COLORS["state"],
                               edgecolor=COLORS["unknown"] if unknown else "none", hatch="////" if unknown else None,
                               linewidth=0.6, zorder=2)
            )  # fmt: skip
            seen = any(y <= mark <= end for mark in confirmed.get(side, []))
            until = min([end, *(b for b, _gap, _before in layout.breaks if b > y)])  # its first break
            # As near its start as the arrows allow: where a label stands is read as when
            # the state began (in the middle of a long span it said "after the next packet").
            low = y + LABEL_HALF + HEAD_CLEAR  # below the arrowhead that landed at y
            at = free_spot(crossed[side], low, low, max(low, until - LABEL_HALF), LABEL_HALF)
            labels[side].append(at)
            name = " → ".join([*passed, "UNKNOWN ?" if unknown else state.value])
            passed = []
            ax.text(
                x, at, name,
                ha="center", va="center", fontsize=FONT - 1, color="#555555" if unknown else "#1a1a1a",
                style="italic" if unknown else "normal", zorder=6, gid=STATE_LABEL,
                bbox={"boxstyle": "round,pad=0.25", "facecolor": "white" if unknown else COLORS["state"],
                      "edgecolor": COLORS["kernel"] if seen else (COLORS["unknown"] if unknown else "#8da9c4"),
                      "linewidth": 1.4 if seen else 1.0, "linestyle": "--" if unknown else "-"},
            )  # fmt: skip
    return labels


MARGIN_CHARS = 38  # what fits between the figure's edge and a lifeline at FONT size
MARK_OFFSET = 0.07  # a diagnosis's mark from the lifeline
MARK_PAD = 0.3 * LINE_ROWS  # its box's padding (round, pad 0.25 of its font), and a little air
DIAGNOSIS_MARK = "diagnosis-mark"  # the marks' gid: in the SVG, and for the layout tests


def _draw_diagnosis_marks(ax: plt.Axes, result: ConnectionAnalysis, layout: Layout) -> None:
    """Each diagnosis's marks at its evidence frames and the kernel's reasons for its RSTs in
    the outer margin on the sender's side, level with the arrow's middle; the kernel's reasons
    for a packet it freed undelivered on the receiver's, level with the arrowhead (where it was
    dropped: curl's refused SYN, NO_SOCKET, stood beside curl). The margins hold the socket
    calls only on rows of their own, and the lifeline's state labels stay clear of them (the
    calls' own offset)."""
    # (frame, at the receiver?) -> the texts there.
    marks: dict[tuple[int, bool], list[str]] = {}
    for diagnosis in result.diagnoses:
        for frame, mark in diagnosis.marks.items():
            if mark not in marks.setdefault((frame, False), []):
                marks[frame, False].append(mark)
    # The kernel's own word where its recorder ran: each RST's reason, each packet it freed
    # undelivered and why (analyzer/findings/kernel_events.py).
    events = result.kernel.events if result.kernel is not None else None
    if events is not None:
        for reset in events.resets:
            if reset.kernel_reason:
                marks.setdefault((reset.frame, False), []).append(
                    f"the kernel's reason for this RST: {reset.kernel_reason}"
                )
        connection = result.connection
        flags = result.sequence.flags
        for drop in events.drops:
            receiver = peer_of(drop.sender)
            if drop.frame is not None:
                probe = "keep_alive" in flags.get(drop.frame, ())
                marks.setdefault((drop.frame, True), []).append(_drop_words(receiver, drop.reason, probe))
                continue
            # Never captured: dropped by its sender's own kernel on the way out (a firewall's
            # output rule). Said beside what it answered, the peer's latest packet before it.
            answered = next(
                (
                    s for s in reversed(connection.segments)
                    if s.time <= drop.time and connection.sender(s) == receiver and drop.time - s.time <= ANSWER_WITHIN
                ),
                None,
            )  # fmt: skip
            if answered is None:
                continue
            said = marks.setdefault((answered.frame, True), [])
            answered_probe = _drop_words(drop.sender, "TCP_OLD_SEQUENCE", True)
            if answered_probe in said:  # one sentence for the probe and its lost answer: the box stays small
                said[said.index(answered_probe)] = (
                    f"the {drop.sender}'s kernel answered it (TCP_OLD_SEQUENCE), then dropped its "
                    f"{drop.flags} unseen: {drop.reason}"
                )
            else:  # what it was, the capture cannot tell: only that it came then
                said.append(
                    f"then the {drop.sender}'s kernel dropped a {drop.flags} it sent, unseen: {drop.reason}"
                )
    by_frame = {s.frame: s for s in result.connection.segments}
    placed: list[tuple[float, bool, list[str]]] = []
    for (frame, at_receiver), texts in marks.items():
        segment = by_frame.get(frame)
        if segment is None or ("pkt", frame) not in layout.at:
            continue  # a folded connection's frame not kept for the pictures
        client = result.connection.from_client(segment) != at_receiver  # the margin's side
        placed.append((layout.at[("pkt", frame)] + (TRANSIT if at_receiver else TRANSIT / 2), client, texts))
    # Down each margin in turn, a box below the one above it where the two would touch (a
    # packet's mark and its answer's, a row apart: helper's fin-wait-2-timeout).
    bottom = {True: float("-inf"), False: float("-inf")}
    for y, client, texts in sorted(placed, key=lambda mark: mark[0]):
        text = "\n".join(_margin(t) for t in texts)
        half = _half_rows(text) + MARK_PAD
        y = max(y, bottom[client] + half)
        bottom[client] = y + half
        # Outside the bar a call that spans packets draws at the calls' offset.
        x = CLIENT_X - MARK_OFFSET if client else SERVER_X + MARK_OFFSET
        ax.text(
            x, y, text, ha="right" if client else "left",
            va="center", fontsize=FONT - 1, color=COLORS["diagnosis"], zorder=6, gid=DIAGNOSIS_MARK,
            bbox={"boxstyle": "round,pad=0.25", "facecolor": COLORS["diagnosis_box"], "edgecolor": "#d9a35b",
                  "linewidth": 0.8},
        )  # fmt: skip


# An uncaptured packet the kernel dropped this soon after its sender's peer's packet is taken
# as the answer to it (a keep-alive's ACK, 40 µs on loopback).
ANSWER_WITHIN = 0.01


def _drop_words(receiver: str, reason: str, probe: bool) -> str:
    """A captured packet the receiving kernel freed undelivered, and why. TCP_OLD_SEQUENCE is
    no loss: a segment wholly below what it expects (a keep-alive probe, `probe`; or an old
    duplicate) is answered with an ACK, then freed (tcp_sequence)."""
    if reason == "TCP_OLD_SEQUENCE":
        what = "a keep-alive probe" if probe else "an old duplicate, with a duplicate ACK"
        return f"the {receiver}'s kernel answered it ({what}) and freed it: TCP_OLD_SEQUENCE"
    return f"the {receiver}'s kernel dropped it: {reason}"


LABEL_HALF = 0.22  # half a state label's height on a lifeline, in rows, and a slanted arrow's reach
# Down to the next arrow from one whose receiver changes state: the arrowhead (TRANSIT), the
# label below it (free_spot's reach on both sides), and the next arrow's start.
LANDING_SPACE = TRANSIT + HEAD_CLEAR + 2 * LABEL_HALF + 0.15
TICK_HALF = 0.14  # half a kernel tick's


def _crossed(result: ConnectionAnalysis, packets: list[Packet], layout: Layout) -> dict[str, list[float]]:
    """Per side, the rows where something crosses its lifeline: an arrow leaving or landing, a
    break's line. A label or a tick on the lifeline keeps clear of them."""
    connection = result.connection
    lost = {step.segment.frame for step in result.steps if step.lost}
    rows: dict[str, list[float]] = {"client": [], "server": []}
    for packet in packets:
        y = layout.at[("pkt", packet.segment.frame)]
        sender, receiver = (
            ("client", "server") if connection.from_client(packet.segment) else ("server", "client")
        )
        rows[sender].append(y)
        if packet.segment.frame not in lost:
            rows[receiver].append(y + TRANSIT)
    for y, _gap, _before in layout.breaks:
        rows["client"].append(y)
        rows["server"].append(y)
    return {side: sorted(ys) for side, ys in rows.items()}


def free_spot(crossed: Sequence[float], wanted: float, low: float, high: float, half: float) -> float:
    """The row nearest `wanted` within [low, high] where a thing `half` rows tall stays clear
    of every crossing, by a little more than that (a slanted arrow's reach beside the
    lifeline); `wanted` if there is none."""
    reach = half + 0.12
    edges = sorted({low, high, *(y - reach for y in crossed), *(y + reach for y in crossed)})
    best, distance = wanted, float("inf")
    for candidate in [wanted, *edges]:
        if not low <= candidate <= high or any(abs(candidate - y) < reach - 1e-9 for y in crossed):
            continue
        if abs(candidate - wanted) < distance:
            best, distance = candidate, abs(candidate - wanted)
    return best


def _kernel_rows(
    result: ConnectionAnalysis, layout: Layout, crossed: dict[str, list[float]]
) -> dict[str, list[float]]:
    """Per side, the rows of a green tick wherever a kernel snapshot reported the state the
    lifeline shows, clear of the arrows."""
    rows: dict[str, list[float]] = {"client": [], "server": []}
    for time, side in result.kernel.confirmed if result.kernel else []:
        at = layout.y_at(time, across_cuts=True)
        y = free_spot(crossed[side], at + TRANSIT + 0.2, at, at + 1.6, TICK_HALF)
        if any(abs(y - other) < 2 * TICK_HALF for other in rows[side]):
            continue  # one tick says it for snapshots this close
        rows[side].append(y)
    return rows


def _draw_kernel_marks(ax: plt.Axes, rows: dict[str, list[float]], labels: dict[str, list[float]]) -> None:
    """The ticks, but where a state label stands: its green frame says it there."""
    for side, ys in rows.items():
        x = CLIENT_X if side == "client" else SERVER_X
        for y in ys:
            if all(abs(y - label) >= LABEL_HALF + TICK_HALF for label in labels[side]):
                ax.plot([x], [y], marker=CHECK_MARK, color=COLORS["kernel"], markersize=9, zorder=4)


def _margin(text: str) -> str:
    return "\n".join(textwrap.wrap(text, MARGIN_CHARS, subsequent_indent="  ")) or text


def _call_texts(call: CallRecord, ends: bool) -> tuple[str, str]:
    """The text drawn at a call's row and at its return's (empty without a row of its own),
    wrapped as drawn: in a margin, or between the lifelines for what the sandbox did."""
    if call["side"] not in SIDES:
        # Wrapped to stay between the lifelines: no lifeline runs through it.
        return textwrap.fill(call["call"], BAND_CHARS - 6), ""
    if ends:
        return _margin(call["call"]), _margin(f"→ {call['result']}")
    text = call["call"] if call["result"] == "ok" else f"{call['call']} → {call['result']}"
    return _margin(text), ""


def _half_rows(text: str) -> float:
    """Half the height of `text` in rows: what its row must keep clear above and below."""
    return (text.count("\n") + 1) * LINE_ROWS / 2 if text else 0.0


def _draw_calls(ax: plt.Axes, calls: list[CallRecord], layout: Layout) -> None:
    for index, call in enumerate(calls):
        y0 = layout.at[("call", index, "start")]
        y1 = layout.at.get(("call", index, "end"), y0)
        first, last = _call_texts(call, y1 > y0)
        if call["side"] not in SIDES:
            # What the sandbox did (to the packets, or the program it ran): between the
            # lifelines, on a row of its own.
            ax.text(
                0.5, y0, first, ha="center", va="center", fontsize=FONT - 1, color="#6a3d9a", style="italic"
            )
            continue
        client = call["side"] == "client"
        x = CLIENT_X - 0.055 if client else SERVER_X + 0.055
        align = "right" if client else "left"
        failed = call_failed(call)
        color = COLORS["error"] if failed else COLORS["call"]
        if y1 > y0:
            bar_x = x + (0.012 if client else -0.012)
            ax.plot([bar_x, bar_x], [y0, y1], color=color, linewidth=1)
            ax.text(
                x, y0, first, ha=align, va="center", fontsize=FONT, color=COLORS["call"], family="monospace"
            )
            ax.text(x, y1, last, ha=align, va="center", fontsize=FONT, color=color,
                    family="monospace", weight="bold" if failed else "normal")  # fmt: skip
        else:
            ax.text(x, y0, first, ha=align, va="center", fontsize=FONT, color=color, family="monospace",
                    weight="bold" if failed else "normal")  # fmt: skip
