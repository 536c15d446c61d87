"""The kernel's own state changes on the pictures (issue 19, item 3): where the sidecar has
the kernel's events (tracepoints, findings/kernel_events.py), each change the kernel made is
marked on its end's lifeline (the ladder) or bar (the state timeline) at the kernel's time,
not the packet's: a filled green triangle where the analysis made the same change there, a
hollow red one where it did not (the kernel's change unpaired, or paired too far away).

On the ladder a mark stands just outside the lifeline, pointing at it, where no arrow
leaves or lands (arrows run between the lifelines); the new state is written beside it,
smaller than the state labels, where it meets no other text, line or mark (measured on the
figure as it will be drawn), else the mark stands alone and the legend says what it is.
The `ss` snapshots keep their green ticks on the lifeline itself.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg
from matplotlib.path import Path as MplPath
from matplotlib.text import Annotation
from matplotlib.transforms import Bbox

from analyzer.analysis import ConnectionAnalysis
from analyzer.connections import Side

AGREES, DIFFERS = "#1a7f1a", "#c00000"
KERNEL_MARK = "kernel-change"  # the gid of a mark and of its label: in the SVG, for the tests
OFFSET = 0.013  # a mark's centre from its lifeline, in the figure's width (the state bar is 0.008 wide)
MARK_SIZE = 5.5  # points
MARK_NUDGES = (0.0, -0.1, 0.1, -0.2, 0.2, -0.3, 0.3)  # rows
LABEL_FONT = 6
GAP = 0.007  # from a mark's centre to its label's near end
INSIDE = 0.008  # from the lifeline to a label on its inner side
# Where a label may go, in rows from its mark, nearest first: beside it, else a little above
# or below (the mark stays at the kernel's time).
LABEL_SHIFTS = (0.0, -0.22, 0.22)
KEY = (
    "▶ ◀ beside a lifeline: the kernel's own change of state, at its time (tracepoints), the new state "
    "beside it"
)
KEY_DIFFERS = "hollow red ▷ ◁: the kernel made that change where the analysis has none (or far from it)"


@dataclass
class KernelChange:
    """One change of an end's state as the kernel made it."""

    side: Side
    time: float  # the kernel's
    state: str  # RFC 9293's name
    agrees: bool  # the analysis made the same change within the comparison's window


def kernel_changes(result: ConnectionAnalysis) -> list[KernelChange]:
    """The kernel's state changes of the connection, each with whether the analysis has it
    too; none without the kernel's events."""
    events = result.kernel.events if result.kernel is not None else None
    if events is None:
        return []
    return [
        KernelChange(match.side, match.kernel_time, match.state, match.agrees)
        for match in events.states
        if match.kernel_time is not None
    ]


def draw_ladder_marks(
    ax: plt.Axes,
    changes: Sequence[KernelChange],
    y_at: Callable[[float], float],
    span: tuple[float, float],
    lifelines: dict[Side, float],
) -> list[KernelChange]:
    """Each change within `span` (the times the ladder draws) at y_at(its time), beside its
    lifeline (x in lifelines), on the outer side; its label where free. Call after everything
    else is drawn: the labels keep clear of it. Returns the changes drawn."""
    canvas = ax.figure.canvas
    assert isinstance(canvas, FigureCanvasAgg)  # the pictures' backend (figures.py)
    renderer = canvas.get_renderer()
    obstacles = _Obstacles(ax, renderer)
    drawn: list[KernelChange] = []
    last = {side: float("-inf") for side in lifelines}
    for change in sorted(changes, key=lambda c: c.time):
        if not span[0] - 1e-3 <= change.time <= span[1] + 1e-3:
            continue  # before or after the range drawn
        client = change.side == "client"
        x = lifelines[change.side] + (-OFFSET if client else OFFSET)
        y = y_at(change.time)
        color = AGREES if change.agrees else DIFFERS
        (mark,) = ax.plot(
            [x], [y], marker=">" if client else "<", markersize=MARK_SIZE, color=color, linestyle="none",
            markerfacecolor=color if change.agrees else "white", markeredgewidth=1.0, zorder=7, gid=KERNEL_MARK,
        )  # fmt: skip
        # At the kernel's time, or as near as clears a state label or a tick (within a row),
        # never above the change before it on the same lifeline.
        for nudge in MARK_NUDGES:
            mark.set_ydata([y + nudge])
            if y + nudge > last[change.side] and obstacles.free(mark.get_window_extent(renderer)):
                y += nudge
                break
        else:
            y = max(y, last[change.side])
            mark.set_ydata([y])
        last[change.side] = y
        obstacles.add_box(mark.get_window_extent(renderer))
        drawn.append(change)
        # Beside the mark, outside; else inside, the lifeline between (arrows leave and land
        # there only at their own rows).
        for inside, shift in [(False, s) for s in LABEL_SHIFTS] + [(True, s) for s in LABEL_SHIFTS]:
            left = client == inside  # the label runs right from its anchor
            at = (
                lifelines[change.side] + (INSIDE if left else -INSIDE)
                if inside
                else x + (GAP if left else -GAP)
            )
            label = ax.text(
                at, y + shift, change.state, ha="left" if left else "right", va="center",
                fontsize=LABEL_FONT, color=color, zorder=7, gid=KERNEL_MARK,
            )  # fmt: skip
            box = label.get_window_extent(renderer).padded(1.0)
            if obstacles.free(box):
                obstacles.add_box(box)
                break
            label.remove()
    return drawn


class _Obstacles:
    """What a label must not meet, in display units: every text's box, every mark's, every
    line and arrow as drawn."""

    def __init__(self, ax: plt.Axes, renderer: RendererAgg) -> None:
        self.boxes: list[Bbox] = []
        self.lines: list[MplPath] = []
        for text in ax.texts:
            if text.get_visible() and text.get_text().strip():
                # With about the padding of its frame, if it has one (a quarter of its size).
                pad = 0.3 * float(text.get_fontsize()) * ax.figure.dpi / 72 if text.get_bbox_patch() else 0.0
                self.boxes.append(text.get_window_extent(renderer).padded(pad + 1))
        for line in ax.lines:
            if not line.get_visible():
                continue
            if np.asarray(line.get_xydata()).shape[0] == 1:
                self.boxes.append(line.get_window_extent(renderer))
            else:
                self.lines.append(line.get_transform().transform_path(line.get_path()))
        for child in ax.get_children():
            if isinstance(child, Annotation) and child.arrow_patch is not None:
                # The arrow from its text's point to its tip: straight (annotations here are arrows).
                start, end = ax.transData.transform([child.xyann, child.xy])
                self.lines.append(MplPath([start, end]))
        for patch in ax.patches:
            box = patch.get_window_extent(renderer)
            if box.width > 0.02 * ax.figure.bbox.width:  # a band between the lifelines, not a state bar
                self.boxes.append(box)

    def free(self, box: Bbox) -> bool:
        if any(box.overlaps(other) for other in self.boxes):
            return False
        return not any(
            MplPath(poly).intersects_bbox(box, filled=False)
            for path in self.lines
            for poly in path.to_polygons(closed_only=False)
        )

    def add_box(self, box: Bbox) -> None:
        self.boxes.append(box)


def draw_timeline_marks(ax: plt.Axes, changes: Sequence[KernelChange], x_at: Callable[[float], float],
                        rows: dict[Side, float]) -> None:  # fmt: skip
    """Each change as a small triangle under its end's bar, pointing up at the kernel's time."""
    for change in changes:
        color = AGREES if change.agrees else DIFFERS
        ax.plot(
            [x_at(change.time)], [rows[change.side] - 0.4], marker="^", markersize=5, linestyle="none", color=color,
            markerfacecolor=color if change.agrees else "white", markeredgewidth=1.0, gid=KERNEL_MARK,
            zorder=6,  # over a cut's faded band, as the kernel's reports (half hidden under it)
        )  # fmt: skip
