"""Sequence (ladder) diagram of one connection with matplotlib: SVG keeps text as text, or PNG.

Layout: the client's lifeline on the left, the server's on the right, time running
down. Every moment (a packet, a socket call, a call's return when packets happened
in between) gets a row of its own, so microsecond exchanges stay readable; a gap
longer than BREAK_GAP between two rows is drawn as a break with the real elapsed
time. A packet is an arrow from its sender to its receiver, slanted within its row;
each end's TCP state is written on its lifeline for the span it holds it; the
socket calls from the sidecar stand in the outer margins.
"""

from __future__ import annotations

import bisect
import textwrap
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.patches import FancyBboxPatch

from analyzer.analysis import ConnectionAnalysis, State
from analyzer.connections import SIDES, Side
from analyzer.decode.segment import RST, SYN
from analyzer.output.figures import save_figure
from analyzer.output.labels import packet_label, retransmission_note, sequence_bases
from analyzer.output.text_report import format_endpoint
from analyzer.sidecar import CallRecord, Sidecar, call_failed, calls_of
from analyzer.timefmt import format_duration
from analyzer.udp_flows import UdpFlow

BREAK_GAP = 0.25  # seconds of silence drawn as a break rather than as the next row
ROW_INCHES = 0.5
BREAK_ROWS = 0.8
TRANSIT = 0.5  # how far down (in rows) an arrow lands: room for the receiver's state label
CLIENT_X, SERVER_X = 0.33, 0.67
FIGURE_WIDTH = 11.0
FONT = 8
PACKET_LABEL = "packet-label"  # the gid of an arrow's label and time: for the layout tests
CHAR_WIDTH = 0.0055  # a character at FONT - 1, as a fraction of the figure's width (about)

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
}

plt.rcParams["svg.fonttype"] = "none"  # text stays text in the SVG


def packet_gid(first: int, last: int | None = None) -> str:
    """The SVG id of a packet's arrow, or of a band's (pkt-<first>-<last>)."""
    return f"pkt-{first}" if last is None else f"pkt-{first}-{last}"


@dataclass
class Layout:
    """A row for every moment (a packet, a call, a snapshot), keyed by what it shows, so that
    two packets captured at the same instant still get a row each."""

    at: dict[Hashable, float]
    breaks: list[tuple[float, float, float]]  # (y, gap seconds, time before)
    _by_time: list[tuple[float, float]]  # (time, y) in order

    def y_at(self, time: float) -> float:
        """The row of the last moment at or before `time` (for what has a time but no row)."""
        index = bisect.bisect_right(self._by_time, (time, float("inf"))) - 1
        return self._by_time[index][1] if index >= 0 else 0.25


def layout_moments(moments: Sequence[tuple[float, Hashable]]) -> Layout:
    at: dict[Hashable, float] = {}
    by_time: list[tuple[float, float]] = []
    breaks = []
    y = 1.0
    previous = None
    for time, key in sorted(moments, key=lambda moment: moment[0]):
        if previous is not None:
            gap = time - previous
            y += 1.0
            if gap > BREAK_GAP:
                # Midway between the last row's time label and the next row's packet label.
                breaks.append((y + 0.1, gap, previous))
                y += BREAK_ROWS
        at[key] = y
        by_time.append((time, y))
        previous = time
    return Layout(at, breaks, by_time)


@dataclass
class _Ladder:
    """A drawing surface: two lifelines, a row for every moment, the breaks between."""

    fig: plt.Figure
    ax: plt.Axes
    layout: Layout
    bottom: float


def _ladder(title: str, summary: str, client: str, server: str, packets: list[tuple[float, int]],
            calls: list[CallRecord], clock: str) -> _Ladder:  # fmt: skip
    """packets: (time, frame) of every arrow to draw; clock: what its times count from."""
    moments: list[tuple[float, Hashable]] = [(time, ("pkt", frame)) for time, frame in packets]
    packet_times = [time for time, _frame in packets]
    for index, call in enumerate(calls):
        moments.append((call["time"], ("call", index, "start")))
        if any(call["time"] < t < call["end_time"] for t in packet_times):
            moments.append((call["end_time"], ("call", index, "end")))
    layout = layout_moments(moments)
    summary_lines = _wrap(summary, 150)
    header = 2.2 + 0.3 * summary_lines.count("\n")  # rows above the lifelines' heads
    bottom = max(layout.at.values()) + 1.5
    fig = plt.figure(figsize=(FIGURE_WIDTH, (bottom + header) * ROW_INCHES + 0.6))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, 1)
    ax.set_ylim(bottom, -header - 0.3)
    ax.axis("off")
    ax.text(0.5, -header, title, ha="center", va="top", fontsize=FONT + 3, weight="bold")
    ax.text(0.5, -header + 0.45, summary_lines, ha="center", va="top", fontsize=FONT)
    ax.text(0.5, -header + 0.8 + 0.3 * summary_lines.count("\n"), clock, ha="center", va="top",
            fontsize=FONT - 1, color="#555555")  # fmt: skip
    for x, role, where in ((CLIENT_X, "client", client), (SERVER_X, "server", server)):
        ax.text(
            x, -0.3, f"{role}\n{where}", ha="center", va="center", fontsize=FONT + 1, weight="bold",
            bbox={"boxstyle": "round,pad=0.4", "facecolor": "white", "edgecolor": "black"},
        )  # fmt: skip
        ax.plot([x, x], [0.2, bottom - 0.5], color="black", linewidth=1, zorder=1)
    for y, gap, _before in layout.breaks:
        ax.plot([0.02, 0.98], [y, y], color=COLORS["break"], linestyle=(0, (2, 3)), linewidth=0.8)
        ax.text(
            0.5, y, f"≈ {format_duration(gap)} later", ha="center", va="center", fontsize=FONT,
            color="#555555", bbox={"facecolor": "white", "edgecolor": "none", "pad": 1},
        )  # fmt: skip
    _draw_calls(ax, calls, layout)
    return _Ladder(fig, ax, layout, bottom)


def _title(sidecar: Sidecar | None, text: str) -> str:
    return f"{sidecar.get('scenario', '')}: {text}" if sidecar else text


def _clock(origin: float | None) -> str:
    if origin is None:
        return "frame numbers and times (+seconds since the connection's first packet) under each arrow"
    return "frame numbers and times (+seconds since frame 1 of the capture, as Wireshark's) under each arrow"


def sequence_figure(
    result: ConnectionAnalysis, sidecar: Sidecar | None = None, origin: float | None = None
) -> plt.Figure:
    """origin: frame 1's time, which the arrows' times count from (None: the connection's start)."""
    connection = result.connection
    client = format_endpoint(connection.client, connection.family)
    server = format_endpoint(connection.server, connection.family)
    ladder = _ladder(
        _title(sidecar, f"#{connection.id} IPv{connection.family}  {client} → {server}"),
        result.summary(),
        client,
        server,
        [(s.time, s.frame) for s in connection.segments],
        calls_of(sidecar),
        _clock(origin),
    )
    _draw_packets(ladder.ax, result, ladder.layout, connection.first_time if origin is None else origin)
    _draw_diagnosis_marks(ladder.ax, result, ladder.layout)
    confirmed = _draw_kernel_marks(ladder.ax, result, ladder.layout)
    silent_listener = result.kernel is not None and result.kernel.server_listened
    _draw_states(ladder.ax, result, ladder.layout, ladder.bottom, confirmed, silent_listener)
    keys = []
    if any(confirmed.values()):
        keys.append(
            (
                "✓ on a lifeline, green frame: the kernel reported that state (sidecar snapshot)",
                COLORS["kernel"],
            )
        )
    if any(state == State.UNKNOWN for history in result.states.values() for _t, state in history):
        keys.append(("hatched lifeline, UNKNOWN ?: a segment may not have reached that end, so the capture "
                     "cannot tell its state (the text report says which)", COLORS["unknown"]))  # fmt: skip
    for row, (key, color) in enumerate(keys):
        ladder.ax.text(0.5, ladder.bottom - 0.15 + 0.3 * row, key, ha="center", va="bottom", fontsize=FONT - 1,
                       color=color)  # fmt: skip
    return ladder.fig


def udp_figure(flow: UdpFlow, sidecar: Sidecar | None = None, origin: float | None = None) -> plt.Figure:
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
    ladder = _ladder(
        _title(sidecar, f"UDP #{flow.id} IPv{flow.family}  {client} → {server}"),
        flow.summary(),
        client,
        server,
        [(time, frame) for time, frame, *_rest in arrows],
        calls_of(sidecar),
        _clock(origin),
    )
    start = min(time for time, *_rest in arrows) if origin is None else origin
    for time, frame, from_client, label, color in arrows:
        x0, x1 = (CLIENT_X, SERVER_X) if from_client else (SERVER_X, CLIENT_X)
        y = ladder.layout.at[("pkt", frame)]
        when = f"frame {frame}  +{format_duration(time - start)}"
        _arrow(ladder.ax, x0, x1, y, label, when, color, "-", gid=packet_gid(frame))
    return ladder.fig


def figure(
    item: ConnectionAnalysis | UdpFlow, sidecar: Sidecar | None = None, origin: float | None = None
) -> plt.Figure:
    """The ladder of a TCP connection or a UDP flow, not yet saved (tests measure its labels).
    origin: frame 1's time, which the times count from (None: the connection's start)."""
    if isinstance(item, UdpFlow):
        return udp_figure(item, sidecar, origin)
    return sequence_figure(item, sidecar, origin)


def draw(
    item: ConnectionAnalysis | UdpFlow,
    output: Path,
    sidecar: Sidecar | None = None,
    origin: float | None = None,
) -> Path:
    return save_figure(figure(item, sidecar, origin), output)


def _wrap(text: str, width: int) -> str:
    words, lines, line = text.split(" "), [], ""
    for word in words:
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    lines.append(line)
    return "\n".join(lines[:3])


def _draw_packets(ax: plt.Axes, result: ConnectionAnalysis, layout: Layout, origin: float) -> None:
    connection, handshake = result.connection, result.handshake
    bases = sequence_bases(result)
    retransmission = result.resends
    lost_frames = {step.segment.frame for step in result.steps if step.lost}
    resets = {r.segment.frame: r for r in result.resets}
    unanswered = handshake.status == "no_answer"
    keep_alives = {
        frame
        for diagnosis in result.diagnoses
        if diagnosis.kind == "keep_alive"
        for frame, mark in diagnosis.marks.items()
        if mark.startswith("keep-alive") and "answered" not in mark and "timeout" not in mark
    }
    for segment in connection.segments:
        from_client = connection.from_client(segment)
        ends: tuple[Side, Side] = ("client", "server") if from_client else ("server", "client")
        sender, receiver = ends
        x0, x1 = (CLIENT_X, SERVER_X) if from_client else (SERVER_X, CLIENT_X)
        y0 = layout.at[("pkt", segment.frame)]
        label = packet_label(segment, bases[sender], bases[receiver])
        color, style = COLORS["packet"], "-"
        when = f"frame {segment.frame}  +{format_duration(segment.time - origin)}"
        if segment.frame in retransmission:
            color, style = COLORS["retransmission"], "--"
            label += f"  (retransmission #{retransmission[segment.frame][0]})"
            when += ", " + retransmission_note(segment, retransmission[segment.frame])
        if "zero_window" in result.sequence.flags.get(segment.frame, ()):
            label += " win=0"  # what the zero-window mark beside it is about
        if segment.frame in keep_alives:
            # A keep-alive is one byte below what the peer expects, to draw an ACK: not a bare ACK.
            label, color, style = f"keep-alive {label}", COLORS["keep_alive"], ":"
        if segment.flags & RST:
            color = COLORS["rst"]
        lost = segment.frame in lost_frames or bool(unanswered and segment.flags & SYN)
        if segment.frame in resets:
            when += f"  {resets[segment.frame].cause.replace('_', ' ')}"
        _arrow(ax, x0, x1, y0, label, when, color, style, lost, packet_gid(segment.frame))


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
    below = max(0.12, 0.03 + slope * len(when) * CHAR_WIDTH / 2)
    ax.text(
        mid_x, mid_y - above, label, ha="center", va="bottom", fontsize=FONT, color=color, gid=PACKET_LABEL,
        bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.5, "alpha": 0.85}, zorder=5,
    )  # fmt: skip
    ax.text(
        mid_x, mid_y + below, when, ha="center", va="top", fontsize=FONT - 1, color="#555555", gid=PACKET_LABEL,
        bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.5, "alpha": 0.85}, zorder=5,
    )  # fmt: skip


def _draw_states(ax: plt.Axes, result: ConnectionAnalysis, layout: Layout, bottom: float,
                 confirmed: dict[str, list[float]], silent_listener: bool) -> None:  # fmt: skip
    """confirmed: per side, the rows where the kernel reported the state drawn there."""
    connection = result.connection
    segments_by_frame = {s.frame: s for s in connection.segments}
    for side, x in zip(SIDES, (CLIENT_X, SERVER_X), strict=True):
        history = result.states[side]
        if not history:
            known = side == "server" and silent_listener
            text = "LISTEN (the kernel's;\nsent nothing)" if known else "state unknown\n(sent nothing)"
            ax.text(x, 0.6, text, ha="center", va="top", fontsize=FONT - 1, color="#555555" if known else "#777777",
                    style="italic", zorder=6, bbox={"facecolor": "white", "edgecolor": "none", "pad": 1})  # fmt: skip
            continue
        # A state starts where the packet that caused it leaves (sender) or lands (receiver).
        starts = []
        for index, (time, state) in enumerate(history):
            if index == 0:
                starts.append((0.25, state))
                continue
            frames = result.state_frames.get(side, [])
            frame = frames[index] if index < len(frames) else None
            if frame is None:
                # A change no packet caused (a timeout from the call log): at its time.
                y = layout.y_at(time) + TRANSIT
            else:
                y = layout.at[("pkt", frame)]
                if connection.from_client(segments_by_frame[frame]) != (side == "client"):
                    y += TRANSIT  # the receiver changes when the arrow lands
            starts.append((y, state))
        for index, (y, state) in enumerate(starts):
            end = starts[index + 1][0] if index + 1 < len(starts) else bottom - 0.5
            if end - y < 0.2:
                continue  # held for no visible span (e.g. LISTEN -> SYN_RCVD at the first SYN)
            unknown = state == State.UNKNOWN  # the capture cannot tell: dashed, grey, with a question
            ax.add_patch(
                FancyBboxPatch((x - 0.004, y), 0.008, end - y, boxstyle="square,pad=0",
                               facecolor="white" if unknown else COLORS["state"],
                               edgecolor=COLORS["unknown"] if unknown else "none", hatch="////" if unknown else None,
                               linewidth=0.6, zorder=2)
            )  # fmt: skip
            seen = any(y <= mark <= end for mark in confirmed.get(side, []))
            ax.text(
                x, (y + end) / 2 if end - y < 3 else y + 0.25, "UNKNOWN ?" if unknown else state.value,
                ha="center", va="center", fontsize=FONT - 1, color="#555555" if unknown else "#1a1a1a",
                style="italic" if unknown else "normal", zorder=6,
                bbox={"boxstyle": "round,pad=0.25", "facecolor": "white" if unknown else COLORS["state"],
                      "edgecolor": COLORS["kernel"] if seen else (COLORS["unknown"] if unknown else "#8da9c4"),
                      "linewidth": 1.4 if seen else 1.0, "linestyle": "--" if unknown else "-"},
            )  # fmt: skip


MARGIN_CHARS = 38  # what fits between the figure's edge and a lifeline at FONT size
MARK_OFFSET = 0.07  # a diagnosis's mark from the lifeline
DIAGNOSIS_MARK = "diagnosis-mark"  # the marks' gid: in the SVG, and for the layout tests


def _draw_diagnosis_marks(ax: plt.Axes, result: ConnectionAnalysis, layout: Layout) -> None:
    """Each diagnosis's marks at its evidence frames, in the outer margin on the sender's side,
    level with the arrow's middle: the margins hold the socket calls only on rows of their own,
    and the lifeline's state labels stay clear of them (the calls' own offset)."""
    marks: dict[int, list[str]] = {}
    for diagnosis in result.diagnoses:
        for frame, mark in diagnosis.marks.items():
            if mark not in marks.setdefault(frame, []):
                marks[frame].append(mark)
    by_frame = {s.frame: s for s in result.connection.segments}
    for frame, texts in marks.items():
        segment = by_frame.get(frame)
        if segment is None or ("pkt", frame) not in layout.at:
            continue  # a folded connection's frame not kept for the pictures
        client = result.connection.from_client(segment)
        # Outside the bar a call that spans packets draws at the calls' offset.
        x = CLIENT_X - MARK_OFFSET if client else SERVER_X + MARK_OFFSET
        ax.text(
            x, layout.at[("pkt", frame)] + TRANSIT / 2, "\n".join(_margin(t) for t in texts), ha="right" if client else "left",
            va="center", fontsize=FONT - 1, color=COLORS["diagnosis"], zorder=6, gid=DIAGNOSIS_MARK,
            bbox={"boxstyle": "round,pad=0.25", "facecolor": COLORS["diagnosis_box"], "edgecolor": "#d9a35b",
                  "linewidth": 0.8},
        )  # fmt: skip


def _draw_kernel_marks(ax: plt.Axes, result: ConnectionAnalysis, layout: Layout) -> dict[str, list[float]]:
    """A green tick on a lifeline wherever a kernel snapshot reported the state it shows; the
    rows, per side. On the lifeline, under the state labels, a tick never hides a label."""
    rows: dict[str, list[float]] = {"client": [], "server": []}
    for time, side in result.kernel.confirmed if result.kernel else []:
        y = layout.y_at(time) + 0.35
        rows[side].append(y)
        x = CLIENT_X if side == "client" else SERVER_X
        ax.plot([x], [y], marker="$✓$", color=COLORS["kernel"], markersize=7, zorder=4)
    return rows


def _margin(text: str) -> str:
    return "\n".join(textwrap.wrap(text, MARGIN_CHARS, subsequent_indent="  ")) or text


def _draw_calls(ax: plt.Axes, calls: list[CallRecord], layout: Layout) -> None:
    for index, call in enumerate(calls):
        if call["side"] not in ("client", "server"):
            # What the sandbox did (to the packets, or the program it ran): between the
            # lifelines, on a row of its own.
            ax.text(0.5, layout.at[("call", index, "start")], call["call"], ha="center", va="center", fontsize=FONT - 1,
                    color="#6a3d9a", style="italic")  # fmt: skip
            continue
        client = call["side"] == "client"
        x = CLIENT_X - 0.055 if client else SERVER_X + 0.055
        align = "right" if client else "left"
        y0 = layout.at[("call", index, "start")]
        y1 = layout.at.get(("call", index, "end"), y0)
        result = call["result"]
        failed = call_failed(call)
        color = COLORS["error"] if failed else COLORS["call"]
        if y1 > y0:
            bar_x = x + (0.012 if client else -0.012)
            ax.plot([bar_x, bar_x], [y0, y1], color=color, linewidth=1)
            ax.text(x, y0, _margin(call["call"]), ha=align, va="center", fontsize=FONT, color=COLORS["call"],
                    family="monospace")  # fmt: skip
            ax.text(x, y1, _margin(f"→ {result}"), ha=align, va="center", fontsize=FONT, color=color,
                    family="monospace", weight="bold" if failed else "normal")  # fmt: skip
        else:
            text = call["call"] if result == "ok" else f"{call['call']} → {result}"
            ax.text(x, y0, _margin(text), ha=align, va="center", fontsize=FONT, color=color, family="monospace",
                    weight="bold" if failed else "normal")  # fmt: skip
