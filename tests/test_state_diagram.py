"""The state diagram is drawn from the table: the README's and docs/ copies must be what the
table gives today, every entry must be on it, and a reader must be able to read it."""

from __future__ import annotations

import re
from itertools import combinations
from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from analyzer.output.state_diagram import diagram_parts, state_figure, state_mermaid, write_docs
from analyzer.tcp_state import TABLE, Event, State

ROOT = Path(__file__).resolve().parent.parent
TOLERANCE = 1.0  # pixels two things may share: touching is fine


def readme_mermaid() -> list[str]:
    blocks = re.findall(r"```mermaid\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    return [block for block in blocks if block.startswith("stateDiagram-v2")]


def test_the_readme_and_docs_show_the_diagram_of_the_table() -> None:
    """Fails when TABLE changed and `make docs` was not run (or the README not updated)."""
    assert (ROOT / "docs" / "tcp-states.mmd").read_text() == state_mermaid()
    assert readme_mermaid() == [state_mermaid()]


def test_a_change_to_the_table_changes_the_diagram() -> None:
    crossing = {**TABLE, State.CLOSE_WAIT: {**TABLE[State.CLOSE_WAIT], Event.RECV_FIN: State.CLOSING}}
    assert "CLOSE_WAIT --> CLOSING : receive FIN" in state_mermaid(crossing)
    assert state_mermaid(crossing) != state_mermaid()


def test_every_entry_of_the_table_is_on_the_diagram() -> None:
    parts = diagram_parts()
    for state, row in TABLE.items():
        for event, following in row.items():
            drawn = (
                event.value in parts.staying.get(state, [])
                if following == state
                else any(
                    (source, target) == (state, following) and event.value in events.split(" or ")
                    for source, target, events in parts.arrows
                )
                or any(
                    target == following and state in sources and event.value in events.split(" or ")
                    for events, target, sources in parts.shared
                )
            )
            assert drawn, (state, event, following)
    assert [(events, target) for events, target, _sources in parts.shared] == [
        ("send RST or receive RST", State.CLOSED)
    ]


def test_the_svg_in_docs_has_the_labels_of_the_table(tmp_path) -> None:
    """Compared by its text (text stays text), not its bytes, which a new matplotlib moves."""
    write_docs(tmp_path)

    def labels(svg: Path) -> list[str]:
        return re.findall(r"<text[^>]*>([^<]*)", svg.read_text())

    assert labels(ROOT / "docs" / "tcp-states.svg") == labels(tmp_path / "tcp-states.svg")
    assert "receive ACK of FIN" in labels(tmp_path / "tcp-states.svg")


def collisions(fig: plt.Figure) -> list[tuple[str, str]]:
    """Labels that overlap another label, a box they are not written in, or a line."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    labels = [
        (t.get_text(), t.get_window_extent(renderer)) for t in fig.findobj(plt.Text) if t.get_text().strip()
    ]
    boxes = [p.get_window_extent(renderer) for p in fig.findobj(FancyBboxPatch)]
    lines = [p.get_path().transformed(p.get_transform()).vertices for p in fig.findobj(FancyArrowPatch)]

    def overlap(a, b) -> bool:
        return min(a.x1, b.x1) - max(a.x0, b.x0) > TOLERANCE and min(a.y1, b.y1) - max(a.y0, b.y0) > TOLERANCE

    found = [(a, b) for (a, box_a), (b, box_b) in combinations(labels, 2) if overlap(box_a, box_b)]
    for text, box in labels:
        for state_box in boxes:
            written_in = (
                state_box.x0 <= box.x0
                and box.x1 <= state_box.x1
                and state_box.y0 <= box.y0 <= box.y1 <= state_box.y1
            )
            if overlap(box, state_box) and not written_in:
                found.append((text, "a state's box"))
        for points in lines:
            if any(box.x0 + TOLERANCE < x < box.x1 - TOLERANCE and box.y0 + TOLERANCE < y < box.y1 - TOLERANCE
                   for x, y in points):  # fmt: skip
                found.append((text, "a line"))
    return found


def test_no_label_overlaps_a_label_a_box_or_a_line() -> None:
    fig = state_figure()
    try:
        assert collisions(fig) == []
    finally:
        plt.close(fig)


def test_the_check_finds_a_label_on_a_line() -> None:
    fig = state_figure()
    try:
        fig.axes[0].text(5.5, 4.0, "across the arrow from LISTEN to SYN_SENT", ha="center")
        assert ("across the arrow from LISTEN to SYN_SENT", "a line") in collisions(fig)
    finally:
        plt.close(fig)
