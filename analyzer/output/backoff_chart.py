"""Backoff chart: when each SYN and SYN/ACK was sent, against the schedules it is compared with.

x is the transmission number (0 the original), y the time since the original. The measured
points carry their interval; each known schedule, and the one the recorded kernel settings
predict, is a thin line through its own points drawn over the measured one, so a reader sees
at once which one it follows; schedules that give the same times share one line. SYNs and
SYN/ACKs both sent again are two panels side by side, each with its own sender's schedules.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from itertools import accumulate
from pathlib import Path

import matplotlib.pyplot as plt

from analyzer.analysis import RECORDED_KERNEL, Backoff, ConnectionAnalysis
from analyzer.errors import UserError
from analyzer.output.figures import save_figure  # sets the Agg backend before pyplot is used
from analyzer.output.labels import picture_title
from analyzer.output.text_report import format_endpoint
from analyzer.sidecar import Sidecar
from analyzer.timefmt import Clock, since_to_the_microsecond

SCHEDULE_STYLES = ("--", ":", "-.")


def _cumulative(intervals: list[float]) -> list[float]:
    return [0.0, *accumulate(intervals)]


def draw_backoff_chart(
    result: ConnectionAnalysis,
    output: Path,
    sidecar: Sidecar | None = None,
    name: str | None = None,
    origin: Clock | None = None,
    warnings: Sequence[str] = (),
) -> Path:
    return save_figure(backoff_figure(result, sidecar, name, origin), output, warnings=warnings)


def backoff_figure(
    result: ConnectionAnalysis,
    sidecar: Sidecar | None = None,
    name: str | None = None,
    origin: Clock | None = None,
) -> plt.Figure:
    """One panel for the SYNs, one for the SYN/ACKs where both were sent again: each against
    its own schedules (a listener's timer is not a connecting socket's). name: the capture
    file's, for the title (labels.picture_title); origin: frame 1's clock, where the original
    stands on it (the chart counts from the original)."""
    series = result.charted_backoffs()
    if not series:
        raise UserError(f"connection #{result.connection.id} has no SYN or SYN/ACK retransmission to chart")
    # Two panels a row: a third (another request's SYN/ACKs) goes below, not 27 inches wide.
    columns = min(2, len(series))
    rows = -(-len(series) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(9 * columns, 5.5 * rows), squeeze=False)
    for unused in axes.flat[len(series) :]:
        unused.set_visible(False)
    connection = result.connection
    title = picture_title(
        f"#{connection.id} IPv{connection.family} {format_endpoint(connection.client, connection.family)} → "
        f"{format_endpoint(connection.server, connection.family)}",
        sidecar,
        name,
    )
    if len(series) > 1:
        fig.suptitle(title, fontsize=10)
    colors = ("#1f4e79", "#b36b00", "#6a3d9a", "#2f7d5b")
    for index, (ax, one) in enumerate(zip(axes.flat, series, strict=False)):
        backoff, sent = one.backoff, one.segments
        _panel(
            ax,
            one.sent,
            backoff,
            one.schedules,
            [segment.frame for segment in sent],
            colors[index % len(colors)],
        )
        joined = backoff.if_missed is not None and not backoff.if_missed.missed
        if sent and origin is not None and origin.stamp != sent[0].stamp and not joined:
            since_frame_1 = since_to_the_microsecond(origin.since_stamp(sent[0].stamp))
            ax.set_ylabel(
                f"seconds since the original (frame {sent[0].frame}, {since_frame_1} since frame 1)"
            )
        description = f"{one.label}: {backoff.describe()}"
        if len(series) == 1:  # the one panel carries the title too
            ax.set_title(f"{title}\n{textwrap.fill(description, 110)}", fontsize=9)
        else:
            ax.set_title(textwrap.fill(description, 100), fontsize=9)
    fig.tight_layout()
    return fig


def _panel(
    ax: plt.Axes,
    name: str,
    backoff: Backoff,
    schedules: dict[str, list[float]],
    frames: list[int],
    color: str,
) -> None:
    # Schedules that give the same times are one line, named for all of them: drawn apart,
    # one lay hidden under the other (the recorded settings under Linux 6.5's default).
    alike: dict[tuple[float, ...], list[str]] = {}
    for schedule, intervals in schedules.items():
        alike.setdefault(tuple(round(t, 6) for t in _cumulative(intervals)), []).append(schedule)
    for index, (predicted, names) in enumerate(alike.items()):
        recorded = RECORDED_KERNEL in names
        style = "-" if recorded else SCHEDULE_STYLES[index % len(SCHEDULE_STYLES)]
        # Thin, over the measured line: a schedule it follows shows through it, not under it.
        ax.plot(
            range(len(predicted)),
            predicted,
            style,
            color="#2ca02c" if recorded else "#999999",
            linewidth=1.2,
            label=" = ".join(names),
            zorder=3,
        )
    times = _cumulative(backoff.intervals)
    # Matched with transmissions the capture lacks: each measured one at its number in that
    # schedule, and where a missing one was due on it, a hollow mark. Joined mid-schedule (the
    # capture began after its first ones): the measured line from the schedule's time for its
    # first, the ones before the capture hollow on the schedule's line.
    missed = backoff.if_missed
    positions = missed.positions if missed is not None else list(range(len(times)))
    joined = missed is not None and not missed.missed and missed.schedule in schedules
    before = sum(schedules[missed.schedule][: positions[0]]) if missed is not None and joined else 0.0
    times = [t + before for t in times]
    ax.plot(positions, times, "o-", color=color, linewidth=2.2, markersize=7, label=f"measured {name}s",
            zorder=2)  # fmt: skip
    if missed is not None and missed.schedule in schedules:
        expected = schedules[missed.schedule]
        absent = [
            (number, times[index] + sum(expected[at:number]))
            for index, at in enumerate(positions[:-1])
            for number in range(at + 1, positions[index + 1])
        ]
        what = "not captured"
        if joined:
            absent = [(number, sum(expected[:number])) for number in range(positions[0])]
            what = "before the capture began"
        ax.plot([n for n, _t in absent], [t for _n, t in absent], "o", markerfacecolor="white", color=color,
                markersize=7, zorder=2, label=f"{what}, due on {missed.schedule.split(' (')[0]}'s schedule")  # fmt: skip
    # The last point's height: how long the sender kept trying. The others' heights are the
    # axis's, and each wait (the backoff's step) is written under its transmission: written
    # beside the points they ran into each other and into the schedules' lines where the
    # steps are short (1 s steps under a 32 s one).
    last = f"{times[-1] - before:.3f} s" + (" after the first captured" if joined else "")
    ax.annotate(last, (positions[-1], times[-1]), textcoords="offset points", xytext=(-8, 8),
                ha="right", fontsize=8, color=color, zorder=4,
                bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.5, "alpha": 0.9})  # fmt: skip
    # Schedules that part from the measurement leave the chart: the measured range decides.
    highest = sum(backoff.intervals) + before
    ax.set_ylim(-0.05 * highest, max(1.0, highest * 1.35))
    ax.set_xlabel(f"transmission (0 = the original {name}), its frame, and the wait since the one before")
    ax.set_ylabel(
        f"seconds since the original (frame {frames[0]})"
        if frames and not joined
        else "seconds since the original (before the capture: the schedule's)"
        if joined
        else "seconds since the original"
    )
    labels = tick_labels(frames, backoff.intervals, positions)
    if missed is not None:
        ticks = dict(zip(positions, labels, strict=True))
        gone = "before\nthe\ncapture" if joined else "not\ncaptured"
        labels = [ticks.get(number, f"{number}\n{gone}") for number in range(positions[-1] + 1)]
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels(labels, fontsize=8 if len(labels) <= 16 else 6)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)


def tick_labels(frames: list[int], intervals: list[float], numbers: list[int] | None = None) -> list[str]:
    """Under each transmission: its number (`numbers`: in a schedule some of whose are not
    captured), its frame (what finds it in Wireshark) and the wait since the one before (a
    wait that spans a transmission not captured, since the one captured before it)."""
    numbers = numbers or list(range(len(intervals) + 1))
    waits = [""]
    for index, interval in enumerate(intervals, start=1):
        spans = numbers[index] - numbers[index - 1] > 1
        waits.append(f"Δ{interval:.3f} s" + (f" from {numbers[index - 1]}" if spans else ""))
    if len(frames) != len(waits):
        frames = []
    return [
        f"{numbers[index]}\n{frames[index] if frames else ''}\n{wait}".rstrip("\n")
        for index, wait in enumerate(waits)
    ]
