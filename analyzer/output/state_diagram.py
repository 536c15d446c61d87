"""The TCP state diagram drawn from tcp_state.TABLE, so that picture and code cannot drift:
Mermaid stateDiagram-v2 text (GitHub renders it) and a figure with matplotlib, the states
where RFC 9293's figure 5 puts them. `python -m analyzer.output.state_diagram docs` (make
docs) writes docs/tcp-states.mmd, .svg and .png; a test fails when the README's copy of
the Mermaid text differs.

What is drawn, all of it read from TABLE:
- an arrow for every entry that leads to another state; entries between the same two
  states share one ("receive SYN or send SYN/ACK");
- an event that leaves a state as it is (a SYN resent in SYN_SENT) is written in that
  state's box: the table takes it, nothing moves;
- an event that takes SHARED_FROM states or more to one state (RST, to CLOSED from nine)
  is written once, in a note, instead of an arrow from each.
CLOSED is drawn twice, as in the RFC's figure: where connections start (top) and where
they end (bottom right); an arrow into it goes to the nearer of the two.

graphviz would lay the figure out by itself, but it is a system package the project does
not otherwise need, and its layout moves when the table does; the RFC's arrangement is
the one readers know.
"""

from __future__ import annotations

import math
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
from matplotlib.path import Path as CurvePath

from analyzer.files import write_atomically
from analyzer.output.figures import save_figure
from analyzer.tcp_state import TABLE, Event, State

SHARED_FROM = 4
END = "CLOSED (end)"  # CLOSED's second place
MERMAID_END = "CLOSED_end"  # its name in Mermaid

# Where each state stands (x right, y down), after RFC 9293's figure 5; CLOSED twice.
PLACES: dict[str, tuple[float, float]] = {
    "CLOSED": (5.5, 0.6),
    "LISTEN": (5.5, 2.7),
    "SYN_RCVD": (1.5, 5.1),
    "SYN_SENT": (9.5, 5.1),
    "ESTABLISHED": (5.5, 7.6),
    "FIN_WAIT_1": (1.5, 10.0),
    "CLOSE_WAIT": (9.5, 10.0),
    "FIN_WAIT_2": (1.5, 12.4),
    "CLOSING": (5.5, 12.4),
    "LAST_ACK": (9.5, 12.4),
    "TIME_WAIT": (5.5, 14.6),
    END: (9.5, 14.6),
}
# Arrows that bend (how far their middle stands off the straight line, as a fraction of
# its length; positive: to the left of the direction of travel) and the side of the line
# their label goes (+1 left, -1 right of the direction of travel; default: right).
BENDS: dict[tuple[str, str], float] = {
    ("SYN_SENT", "CLOSED"): -0.2,
    ("FIN_WAIT_2", END): -0.3,
}
LABEL_SIDES: dict[tuple[str, str], int] = {
    ("CLOSED", "SYN_SENT"): 1,
    ("LISTEN", "SYN_RCVD"): 1,
    ("SYN_SENT", "SYN_RCVD"): 1,
    ("SYN_SENT", "ESTABLISHED"): 1,
    ("SYN_RCVD", "ESTABLISHED"): 1,
    ("ESTABLISHED", "FIN_WAIT_1"): 1,
    ("FIN_WAIT_1", "CLOSING"): 1,
    ("SYN_RCVD", "FIN_WAIT_1"): 1,
    ("CLOSING", "TIME_WAIT"): 1,
    ("FIN_WAIT_2", "TIME_WAIT"): 1,
    ("TIME_WAIT", END): 1,
    ("LAST_ACK", END): 1,
}
BOX_WIDTH, BOX_HEIGHT, STAYING_LINE = 2.3, 0.62, 0.26
STAYING_CHARS = 20  # what fits in a box, a line of the events that leave a state as it is
FONT = 10
COLORS = {"box": "#e8eef7", "edge": "#1f4e79", "text": "#1a1a1a", "staying": "#555555", "note": "#fff8e1"}


@dataclass
class DiagramParts:
    """TABLE as a diagram shows it."""

    arrows: list[tuple[State, State, str]]  # (from, to, the events, joined)
    staying: dict[State, list[str]]  # the events that leave each state as it is
    shared: list[tuple[str, State, list[State]]]  # (events, to, from every one of these)


def diagram_parts(table: dict[State, dict[Event, State]] = TABLE) -> DiagramParts:
    sources: dict[tuple[Event, State], list[State]] = {}
    for state, row in table.items():
        for event, following in row.items():
            if following != state:
                sources.setdefault((event, following), []).append(state)
    shared: dict[tuple[State, tuple[State, ...]], list[str]] = {}
    for (event, following), states in sources.items():
        if len(states) >= SHARED_FROM:
            shared.setdefault((following, tuple(states)), []).append(event.value)
    between: dict[tuple[State, State], list[str]] = {}
    staying: dict[State, list[str]] = {}
    for state, row in table.items():
        for event, following in row.items():
            if following == state:
                staying.setdefault(state, []).append(event.value)
            elif len(sources[(event, following)]) < SHARED_FROM:
                between.setdefault((state, following), []).append(event.value)
    return DiagramParts(
        arrows=[(source, following, " or ".join(events)) for (source, following), events in between.items()],
        staying=staying,
        shared=[
            (" or ".join(events), following, list(states)) for (following, states), events in shared.items()
        ],
    )


def state_mermaid(table: dict[State, dict[Event, State]] = TABLE) -> str:
    parts = diagram_parts(table)
    # The place each arrow leads to, CLOSED's two told apart as in the figure.
    targets = [_place(following, PLACES[_place(source)]) for source, following, _events in parts.arrows]
    lines = ["stateDiagram-v2"]
    if END in targets:
        lines.append(f'    state "CLOSED" as {MERMAID_END}')
    for state in table:
        if state in parts.staying:
            lines.append(f"    {state.value} : {state.value} (stays on {', '.join(parts.staying[state])})")
    for (source, _following, events), target in zip(parts.arrows, targets, strict=True):
        lines.append(f"    {source.value} --> {MERMAID_END if target == END else target} : {events}")
    for events, following, sources in parts.shared:
        lines.append(
            f"    note right of {following.value} : {events} from {', '.join(s.value for s in sources)}"
        )
    return "\n".join(lines) + "\n"


def _place(state: State, near: tuple[float, float] | None = None) -> str:
    """The place of a state; of CLOSED's two, the one nearer `near`."""
    if state != State.CLOSED or near is None:
        return state.value
    return min(("CLOSED", END), key=lambda name: math.dist(PLACES[name], near))


def _staying_text(place: str, parts: DiagramParts) -> str:
    events = parts.staying.get(State(place), []) if place != END else []
    return "\n".join(textwrap.wrap("stays on " + ", ".join(events), STAYING_CHARS)) if events else ""


def _inside(point: tuple[float, float], center: tuple[float, float], height: float, margin: float) -> bool:
    return (
        abs(point[0] - center[0]) < BOX_WIDTH / 2 + margin and abs(point[1] - center[1]) < height / 2 + margin
    )


def _curve(start: tuple[float, float], end: tuple[float, float], bend: float) -> list[tuple[float, float]]:
    """Points along a quadratic curve from start to end whose middle stands `bend` (of its
    length) to the left of the straight line (y runs down)."""
    (x0, y0), (x1, y1) = start, end
    dx, dy = x1 - x0, y1 - y0
    cx, cy = (x0 + x1) / 2 + 2 * bend * dy, (y0 + y1) / 2 - 2 * bend * dx
    steps = 200
    return [
        (
            (1 - t) ** 2 * x0 + 2 * (1 - t) * t * cx + t**2 * x1,
            (1 - t) ** 2 * y0 + 2 * (1 - t) * t * cy + t**2 * y1,
        )
        for t in (i / steps for i in range(steps + 1))
    ]


def state_figure(table: dict[State, dict[Event, State]] = TABLE) -> plt.Figure:
    parts = diagram_parts(table)
    fig = plt.figure(figsize=(9.0, 11.4))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(-1.0, 12.0)
    ax.set_ylim(16.2, -0.4)
    ax.set_aspect("equal")
    ax.axis("off")
    staying = {place: _staying_text(place, parts) for place in PLACES}
    heights = {place: BOX_HEIGHT + (text.count("\n") + 1.4) * STAYING_LINE if text else BOX_HEIGHT
               for place, text in staying.items()}  # fmt: skip
    for place, (x, y) in PLACES.items():
        height = heights[place]
        ax.add_patch(
            FancyBboxPatch((x - BOX_WIDTH / 2, y - height / 2), BOX_WIDTH, height, boxstyle="round,pad=0,rounding_size=0.12",
                           facecolor=COLORS["box"], edgecolor="#8da9c4", linewidth=1.2, zorder=2)
        )  # fmt: skip
        state = State.CLOSED if place == END else State(place)
        top = y - height / 2
        ax.text(x, top + BOX_HEIGHT / 2, state.value, ha="center", va="center", fontsize=FONT + 1, weight="bold",
                color=COLORS["text"], zorder=3)  # fmt: skip
        if staying[place]:
            ax.text(x, top + BOX_HEIGHT - 0.06, staying[place], ha="center", va="top", fontsize=FONT - 1,
                    style="italic", color=COLORS["staying"], zorder=3, linespacing=1.2)  # fmt: skip
    for source, following, events in parts.arrows:
        start = _place(source)
        end = _place(following, PLACES[start])
        _arrow(ax, start, end, events, heights)
    notes = [
        f"{events} → {following.value}\n" + "\n".join(textwrap.wrap("from " + ", ".join(s.value for s in sources), 34))
        for events, following, sources in parts.shared
    ]  # fmt: skip
    if notes:
        ax.text(-0.8, -0.2, "\n\n".join(notes), ha="left", va="top", fontsize=FONT - 1, color=COLORS["text"],
                linespacing=1.3, bbox={"boxstyle": "round,pad=0.4", "facecolor": COLORS["note"],
                                       "edgecolor": "#d9c27a"})  # fmt: skip
    return fig


def _arrow(ax: plt.Axes, start: str, end: str, label: str, heights: dict[str, float]) -> None:
    points = [
        p for p in _curve(PLACES[start], PLACES[end], BENDS.get((start, end), 0.0))
        if not _inside(p, PLACES[start], heights[start], 0.04) and not _inside(p, PLACES[end], heights[end], 0.06)
    ]  # fmt: skip
    path = CurvePath(points, [CurvePath.MOVETO] + [CurvePath.LINETO] * (len(points) - 1))
    ax.add_patch(
        FancyArrowPatch(path=path, arrowstyle="-|>,head_length=6,head_width=3", color=COLORS["edge"], linewidth=1.3,
                        zorder=1)
    )  # fmt: skip
    # The label beside the middle of the line, on its side, clear of it.
    (xa, ya), (xm, ym), (xb, yb) = (
        points[len(points) // 2 - 3],
        points[len(points) // 2],
        points[len(points) // 2 + 3],
    )
    length = math.hypot(xb - xa, yb - ya) or 1.0
    side = LABEL_SIDES.get((start, end), -1)
    nx, ny = side * (yb - ya) / length, -side * (xb - xa) / length  # left of travel when side is +1 (y down)
    gap = 0.12
    ha = "center" if abs(nx) < 0.3 else ("left" if nx > 0 else "right")
    va = "center" if abs(ny) < 0.3 else ("top" if ny > 0 else "bottom")
    ax.text(xm + nx * gap, ym + ny * gap, label.replace(" or ", "\nor "), ha=ha, va=va, fontsize=FONT,
            color=COLORS["edge"], zorder=4, multialignment=ha if ha != "center" else "center")  # fmt: skip


def write_docs(folder: Path) -> list[Path]:
    """docs/tcp-states.mmd, .svg and .png, from TABLE; drawn again from the same table, the
    same bytes (no date in the SVG, its ids salted by name rather than at random)."""
    folder.mkdir(parents=True, exist_ok=True)
    mermaid = folder / "tcp-states.mmd"
    text = state_mermaid()
    write_atomically(mermaid, lambda partial: partial.write_text(text))
    written = [mermaid]
    with plt.rc_context({"svg.hashsalt": "tcp-states"}):
        for kind in ("svg", "png"):
            metadata = {"Date": None} if kind == "svg" else None
            written.append(save_figure(state_figure(), folder / f"tcp-states.{kind}", metadata))
    return written


if __name__ == "__main__":
    for written in write_docs(Path(sys.argv[1] if len(sys.argv) > 1 else "docs")):
        print(f"state diagram: {written}")
