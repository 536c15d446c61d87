"""The kernel's own word on the ladder (issue 19, pictures): where the recorder ran, each
RST is marked with the reason the kernel gave for it and each packet the kernel freed
undelivered with why, and each change of state the kernel made has its mark on its end's
lifeline at the kernel's time; the marks keep clear of every other label and line."""

from __future__ import annotations

import bisect
import re

import matplotlib.pyplot as plt
import numpy as np
import pytest
from conftest import CAPTURES, ROOT
from matplotlib.lines import Line2D
from matplotlib.path import Path as MplPath
from matplotlib.text import Annotation
from test_diagram_layout import TOLERANCE, _box, _paths, lines_through_texts, overlapping_labels

from analyzer.analysis import ConnectionAnalysis, analyze_file
from analyzer.output.kernel_marks import KERNEL_MARK, kernel_changes
from analyzer.output.sequence_diagram import CLIENT_X, SERVER_X, TRANSIT, figure
from analyzer.output.state_timeline import timeline_axis, timeline_figure
from analyzer.output.time_axis import BREAK_GAP
from analyzer.sidecar import load_sidecar, sidecar_path_for

RECORDED = sorted(
    p
    for p in [*(ROOT / "tests" / "data" / "kernel_account").glob("*.pcap"), *CAPTURES.glob("*.pcap")]
    if sidecar_path_for(p).exists() and load_sidecar(sidecar_path_for(p)).get("kernel_events")
)


def _texts(fig: plt.Figure) -> list[str]:
    return [t.get_text() for t in fig.findobj(plt.Text)]


@pytest.mark.parametrize("pcap", RECORDED, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_each_rst_drop_and_state_change_of_the_kernel_is_drawn(pcap) -> None:
    """One drawing of each ladder for both checks: rendering is what takes the time."""
    sidecar = load_sidecar(sidecar_path_for(pcap))
    analysis = analyze_file(str(pcap), sidecar=sidecar)
    for result in analysis.connections:
        events = result.kernel.events if result.kernel is not None else None
        assert events is not None
        fig = figure(result, sidecar, analysis.stats.origin)
        fig.canvas.draw()
        texts = "\n".join(_texts(fig)).replace("\n  ", " ")
        flat = " ".join(texts.split())
        for reset in events.resets:
            if reset.kernel_reason:
                assert f"the kernel's reason for this RST: {reset.kernel_reason}" in flat, (
                    reset.frame,
                    reset.kernel_reason,
                )
        # A drop drawn as its arrow says the kernel's reason beside it; one a long ladder put in
        # a band is counted there.
        # A keep-alive probe TCP answered and freed (TCP_OLD_SEQUENCE) is said as that, no drop.
        drawn = texts.count("kernel dropped it: ") + texts.count("and freed it: TCP_OLD_SEQUENCE")
        drawn += texts.count("answered it (TCP_OLD_SEQUENCE), then")
        banded = sum(int(count) for count in re.findall(r"(\d+) kernel drops?\b", texts))
        reasons = {drop.reason for drop in events.drops if drop.frame is not None}
        assert drawn + banded == sum(1 for drop in events.drops if drop.frame is not None)
        for reason in reasons:
            assert (
                f"kernel dropped it: {reason}" in texts
                or f"and freed it: {reason}" in texts
                or f"answered it ({reason})" in texts
                or banded
            ), reason
        # One never captured (its sender's own output dropped it) beside what it answered.
        for drop in events.drops:
            if drop.frame is None and any(
                0 <= drop.time - s.time <= 0.01 and result.connection.sender(s) != drop.sender
                for s in result.connection.segments
            ):
                assert (
                    f"then the {drop.sender}'s kernel dropped a {drop.flags} it sent, unseen: {drop.reason}"
                    in (texts)
                    or (f"then dropped its {drop.flags} unseen: {drop.reason}" in texts)
                )
        # In the margin of the end whose kernel dropped it, not of the sender.
        for text in fig.findobj(plt.Text):
            said = text.get_text().replace("\n  ", " ")
            if (
                "kernel dropped it: " in said
                or "and freed it: " in said
                or "(TCP_OLD_SEQUENCE), then" in said
            ):
                x = text.get_position()[0]
                assert x > SERVER_X if said.startswith("the server's") else x < CLIENT_X, said
        # The marks keep clear (a long wrapped call of a program's log may still meet the
        # next call: a known limit of the margins, not these marks').
        mine = [
            pair for pair in overlapping_labels(fig) + lines_through_texts(fig) if "kernel" in " ".join(pair)
        ]
        assert mine == []
        assert_state_changes_marked(fig, result)
        plt.close(fig)


def _arrow_rows(fig: plt.Figure, result: ConnectionAnalysis) -> list[tuple[float, float, float]]:
    """(time, row it leaves, row it lands) of each packet drawn as an arrow, by time: where the
    ladder put the packets' times, read from the figure."""
    times = {s.frame: s.time for s in result.connection.segments}
    rows = []
    for annotation in fig.findobj(Annotation):
        gid = annotation.arrow_patch.get_gid() if annotation.arrow_patch is not None else None
        if gid and gid.startswith("pkt-") and gid.count("-") == 1:
            y = annotation.xyann[1]
            rows.append((times[int(gid[4:])], y, y + TRANSIT))
    return sorted(rows)


def assert_state_changes_marked(fig: plt.Figure, result: ConnectionAnalysis) -> None:
    """Each change of state the kernel made has its mark beside its end's lifeline, in the
    style of whether the analysis agrees, within a row of the kernel's time on the ladder's
    axis (between the packets drawn around it); no mark or its label meets another text, a
    line or an arrow."""
    changes = kernel_changes(result)
    marks = [
        m
        for m in fig.findobj(Line2D)
        if m.get_gid() == KERNEL_MARK and np.asarray(m.get_xydata()).shape[0] == 1
    ]
    assert len(marks) == len(changes)
    rows = _arrow_rows(fig, result)
    times = [t for t, _leave, _land in rows]
    drawn = _drawn_marks(marks)
    for change in sorted(changes, key=lambda c: c.time):
        index = bisect.bisect_right(times, change.time)
        low = rows[index - 1][1] if index > 0 else 0.0
        high = rows[index][2] if index < len(rows) else float("inf")
        if 0 < index < len(rows) and times[index] - times[index - 1] > BREAK_GAP:
            # In a silence the ladder cuts: beside the packet nearer in time, not across the cut.
            if change.time - times[index - 1] <= times[index] - change.time:
                high = rows[index - 1][2]
            else:
                low = rows[index][1]
        found = [
            d
            for d in drawn
            if d[0] == change.side and d[2] == change.agrees and low - 1.0 <= d[1] <= high + 1.0
        ]
        assert found, (change, low, high, drawn)
        drawn.remove(found[0])
    # In the kernel's order down each lifeline.
    for side in ("client", "server"):
        ys = [y for s, y, _filled in _drawn_marks(marks) if s == side]
        assert ys == sorted(ys)
    assert _kernel_marks_crossed(fig) == []


def _drawn_marks(marks: list[Line2D]) -> list[tuple[str, float, bool]]:
    """(side, row, filled) of each mark, in the order drawn (the kernel's)."""
    found = []
    for mark in marks:
        x, y = mark.get_xydata()[0]
        side = "client" if abs(x - CLIENT_X) < abs(x - SERVER_X) else "server"
        found.append((side, y, mark.get_markerfacecolor() != "white"))
    return found


def _kernel_marks_crossed(fig: plt.Figure) -> list[tuple[str, str]]:
    """Each kernel mark (its box) and label against every other text (state labels too) and
    every line and arrow; a label against its own mark is no meeting."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    mine = [a for a in fig.findobj() if a.get_gid() == KERNEL_MARK]
    texts = [t for t in fig.findobj(plt.Text) if t.get_visible() and t.get_text().strip()]
    others = [t for t in texts if t.get_gid() != KERNEL_MARK]
    ticks = [
        m
        for m in fig.findobj(Line2D)
        if m.get_gid() != KERNEL_MARK and np.asarray(m.get_xydata()).shape[0] == 1
    ]
    found = []
    for artist in mine:
        box = artist.get_window_extent(renderer) if isinstance(artist, Line2D) else _box(artist, renderer)
        what = artist.get_text() if isinstance(artist, plt.Text) else f"mark at {artist.get_xydata()[0]}"
        for other in [*others, *ticks]:
            theirs = other.get_window_extent(renderer) if isinstance(other, Line2D) else _box(other, renderer)
            if (
                min(box.x1, theirs.x1) - max(box.x0, theirs.x0) > TOLERANCE
                and min(box.y1, theirs.y1) - max(box.y0, theirs.y0) > TOLERANCE
            ):
                found.append((what, other.get_text() if isinstance(other, plt.Text) else "a tick"))
        for name, _gid, polygons in _paths(fig):
            if any(MplPath(poly).intersects_bbox(box, filled=False) for poly in polygons):
                found.append((what, name))
    return found


def test_the_marks_are_there_to_be_seen() -> None:
    """Not every recording has a RST or a drop: these do (the test above would pass on none)."""
    reasons = set()
    for name in ("fin-wait-2-timeout", "keepalive"):
        pcap = CAPTURES / f"{name}.pcap"
        for result in analyze_file(str(pcap), sidecar=load_sidecar(sidecar_path_for(pcap))).connections:
            assert result.kernel is not None and result.kernel.events is not None
            reasons |= {r.kernel_reason for r in result.kernel.events.resets}
    assert {"NO_SOCKET", "TCP_KEEPALIVE_TIMEOUT"} <= reasons


def test_the_crossing_check_finds_a_mark_under_a_label_and_a_line_through_its_state() -> None:
    fig, ax = plt.subplots()
    ax.axis("off")
    ax.text(0.5, 0.5, "ESTABLISHED", gid="state-label")
    ax.plot([0.52], [0.5], marker=">", gid=KERNEL_MARK)
    ax.text(0.2, 0.2, "FIN_WAIT_1", va="center", gid=KERNEL_MARK)
    ax.plot([0.0, 1.0], [0.2, 0.2])
    try:
        found = _kernel_marks_crossed(fig)
        assert ("mark at [0.52 0.5 ]", "ESTABLISHED") in found
        assert any(what == "FIN_WAIT_1" and on.startswith("line") for what, on in found)
    finally:
        plt.close(fig)


@pytest.mark.parametrize("name", ["http-post-crossed", "backlog-abort"])
def test_the_timeline_ticks_each_kernel_change_at_its_time(name: str) -> None:
    """Under each end's bar, at the kernel's time on the timeline's axis (a time just before
    a cut's end at that burst), hollow where the analysis has no such change."""
    pcap = ROOT / "tests" / "data" / "kernel_account" / f"{name}.pcap"
    sidecar = load_sidecar(sidecar_path_for(pcap))
    for result in analyze_file(str(pcap), sidecar=sidecar).connections:
        fig = timeline_figure(result, sidecar)
        try:
            axis = timeline_axis(result, sidecar)
            ticks = sorted(
                (round(float(y), 6), round(float(x), 6), m.get_markerfacecolor() != "white")
                for m in fig.findobj(Line2D)
                if m.get_gid() == KERNEL_MARK
                for x, y in [m.get_xydata()[0]]
            )
            rows = {"client": 1.0, "server": 0.0}
            wanted = sorted(
                (round(rows[c.side] - 0.4, 6), round(axis.x_near(c.time), 6), c.agrees)
                for c in kernel_changes(result)
            )
            assert ticks == wanted and wanted
        finally:
            plt.close(fig)
