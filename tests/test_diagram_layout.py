"""The ladder is read by people: no label may overlap another (measured on the rendered text)."""

from __future__ import annotations

import json
from itertools import combinations
from pathlib import Path

import matplotlib.pyplot as plt
import pytest
from conftest import CAPTURES as CAPTURES_DIR
from conftest import corpus_params, stored_captures
from matplotlib.lines import Line2D
from matplotlib.path import Path as MplPath
from matplotlib.text import Annotation
from matplotlib.transforms import Bbox
from segments import HANDSHAKE, conversation

from analyzer.analysis import analyze_file, analyze_segments
from analyzer.output.mermaid import connection_mermaid
from analyzer.output.selection import pick_connection
from analyzer.output.sequence_diagram import (
    BREAK,
    CLIENT_X,
    COLORS,
    DIAGNOSIS_MARK,
    LIFELINE,
    MARGIN_CHARS,
    PACKET_LABEL,
    SERVER_X,
    STATE_LABEL,
    figure,
)
from analyzer.sidecar import sidecar_path_for

CAPTURES = stored_captures()
# Boxes that merely touch are fine; a pixel of shared area is not.
TOLERANCE = 1.0


def overlapping_labels(fig: plt.Figure) -> list[tuple[str, str]]:
    fig.canvas.draw()  # places the text boxes' patches
    renderer = fig.canvas.get_renderer()
    boxes = []
    for text in fig.findobj(plt.Text):
        if text.get_visible() and text.get_text().strip():
            box = text.get_window_extent(renderer)
            patch = text.get_bbox_patch()  # a state's box reaches past its text
            if patch is not None and patch.get_edgecolor()[3] > 0:
                box = Bbox.union([box, patch.get_window_extent(renderer)])
            boxes.append((text.get_text(), box.x0, box.y0, box.x1, box.y1))
    overlaps = []
    for (a, ax0, ay0, ax1, ay1), (b, bx0, by0, bx1, by1) in combinations(boxes, 2):
        width = min(ax1, bx1) - max(ax0, bx0)
        height = min(ay1, by1) - max(ay0, by0)
        if width > TOLERANCE and height > TOLERANCE:
            overlaps.append((a, b))
    return overlaps


def packet_labels_over_the_lifelines(fig: plt.Figure) -> list[str]:
    """An arrow's label or time whose box reaches a lifeline's state bar (0.004 either side
    of it): one too long for the space between the ends (a retransmission's notes)."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    ax = fig.axes[0]
    left = ax.transData.transform((CLIENT_X + 0.004, 0))[0]
    right = ax.transData.transform((SERVER_X - 0.004, 0))[0]
    found = []
    for text in fig.findobj(plt.Text):
        if text.get_gid() == PACKET_LABEL and text.get_text().strip():
            box = _box(text, renderer)
            if box.x0 < left or box.x1 > right:
                found.append(text.get_text())
    return found


@pytest.mark.slow
@pytest.mark.parametrize("pcap", CAPTURES, ids=[p.stem for p in CAPTURES])
def test_no_label_overlaps_another(pcap) -> None:
    sidecar = json.loads(sidecar_path_for(pcap).read_text())
    analysis = analyze_file(str(pcap), sidecar=sidecar)
    chosen, _note = pick_connection(analysis, None)
    fig = figure(chosen, sidecar, analysis.stats.origin)
    try:
        assert overlapping_labels(fig) == []
        assert packet_labels_over_the_lifelines(fig) == []
        assert lines_through_texts(fig) == []
        assert marks_on_lines_or_texts(fig) == []
    finally:
        plt.close(fig)


def test_the_check_finds_an_overlap() -> None:
    fig = plt.figure()
    fig.text(0.5, 0.5, "one label")
    fig.text(0.51, 0.5, "another label")
    try:
        assert overlapping_labels(fig) == [("one label", "another label")]
    finally:
        plt.close(fig)


CORPUS_FILES = corpus_params(lambda p: p.stat().st_size < 400_000 and "bug-5437" not in p.name)


@pytest.mark.slow
@pytest.mark.parametrize("pcap", CORPUS_FILES)
def test_no_overlap_on_captures_nobody_here_made(pcap) -> None:
    """Duplicated packets with one timestamp, long summaries, many retransmissions."""
    analysis = analyze_file(str(pcap))
    chosen, _note = pick_connection(analysis, None)
    fig = figure(chosen, None, analysis.stats.origin)
    try:
        assert overlapping_labels(fig) == []
        assert lines_through_texts(fig) == []
        assert marks_on_lines_or_texts(fig) == []
        assert packet_labels_over_the_lifelines(fig) == []
    finally:
        plt.close(fig)


def lines_through_marks(fig: plt.Figure, gid: str = DIAGNOSIS_MARK) -> list[tuple[str, str]]:
    """Texts of `gid` (diagnosis marks, or packet labels) that a line crosses (a lifeline, a
    break, a call's bar, an arrow): each text's box against every line's path, as rendered."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    marks = [t for t in fig.findobj(plt.Text) if t.get_gid() == gid]
    paths = []
    for line in fig.findobj(Line2D):
        if line.get_visible() and len(line.get_xydata()) > 1:
            paths.append(
                (f"line {line.get_xydata()[0]}", line.get_transform().transform_path(line.get_path()))
            )
    for annotation in fig.findobj(Annotation):
        if annotation.arrow_patch is not None:
            paths.append((f"arrow to {annotation.xy}", annotation.arrow_patch.get_path()))
    crossed = []
    for mark in marks:
        box = (
            mark.get_bbox_patch().get_window_extent(renderer)
            if mark.get_bbox_patch()
            else mark.get_window_extent(renderer)
        )
        for name, path in paths:
            # As polylines: a closed path's last vertex is a placeholder at the origin.
            if any(
                MplPath(poly).intersects_bbox(box, filled=False)
                for poly in path.to_polygons(closed_only=False)
            ):
                crossed.append((mark.get_text(), name))
    return crossed


def _paths(fig: plt.Figure) -> list[tuple[str, str | None, list]]:
    """Every line and arrow as rendered: (name, gid, polylines in display coordinates)."""
    found = []
    for line in fig.findobj(Line2D):
        if line.get_visible() and len(line.get_xydata()) > 1:
            path = line.get_transform().transform_path(line.get_path())
            found.append(
                (f"line {line.get_xydata()[0]}", line.get_gid(), path.to_polygons(closed_only=False))
            )
    for annotation in fig.findobj(Annotation):
        if annotation.arrow_patch is not None:
            path = annotation.arrow_patch.get_path()
            found.append((f"arrow to {annotation.xy}", "arrow", path.to_polygons(closed_only=False)))
    return found


# Drawn across on purpose: a state label on its lifeline, a break's length on its line.
ON_PURPOSE = {(STATE_LABEL, LIFELINE), (BREAK, BREAK)}


def _box(text: plt.Text, renderer) -> object:
    patch = text.get_bbox_patch()
    return patch.get_window_extent(renderer) if patch else text.get_window_extent(renderer)


def lines_through_texts(fig: plt.Figure) -> list[tuple[str, str]]:
    """Every text (label, time, call, note, mark, band) that a line or an arrow crosses, but
    for what is drawn across on purpose (ON_PURPOSE)."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    paths = _paths(fig)
    crossed = []
    for text in fig.findobj(plt.Text):
        if not text.get_visible() or not text.get_text().strip():
            continue
        box = _box(text, renderer)
        for name, gid, polygons in paths:
            if (text.get_gid(), gid) in ON_PURPOSE:
                continue
            if any(MplPath(poly).intersects_bbox(box, filled=False) for poly in polygons):
                crossed.append((text.get_text(), name))
    return crossed


def marks_on_lines_or_texts(fig: plt.Figure) -> list[tuple[str, str]]:
    """Marks (a kernel check, a lost packet's cross) on an arrow or under a text other than
    the state label they sit beside."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    marks = [
        line
        for line in fig.findobj(Line2D)
        if len(line.get_xydata()) == 1 and line.get_marker() not in (None, "None", "")
    ]
    arrows = [(name, polygons) for name, gid, polygons in _paths(fig) if gid == "arrow"]
    texts = [
        t
        for t in fig.findobj(plt.Text)
        if t.get_visible() and t.get_text().strip() and t.get_gid() != STATE_LABEL
    ]
    found = []
    for mark in marks:
        box = mark.get_window_extent(renderer)
        where = f"mark {mark.get_marker()} at {mark.get_xydata()[0]}"
        for name, polygons in arrows:
            # A lost packet's cross ends its own arrow.
            if mark.get_marker() != "x" and any(
                MplPath(poly).intersects_bbox(box, filled=True) for poly in polygons
            ):
                found.append((where, name))
        for text in texts:
            other = _box(text, renderer)
            if (
                min(box.x1, other.x1) - max(box.x0, other.x0) > TOLERANCE
                and min(box.y1, other.y1) - max(box.y0, other.y0) > TOLERANCE
            ):
                found.append((where, text.get_text()))
    return found


def test_the_crossing_checks_find_a_lifeline_through_a_note_and_a_mark_on_an_arrow() -> None:
    fig, ax = plt.subplots()
    ax.axis("off")
    ax.text(0.5, 0.5, "drop SYNs to port 5000", ha="center")
    ax.plot([0.55, 0.55], [0.0, 1.0], gid=LIFELINE)
    ax.annotate("", xy=(0.9, 0.2), xytext=(0.1, 0.2), arrowprops={"arrowstyle": "-|>"})
    ax.plot([0.9], [0.2], marker="$✓$", markersize=7)
    try:
        assert [text for text, _line in lines_through_texts(fig)] == ["drop SYNs to port 5000"]
        assert [what for what, _on in marks_on_lines_or_texts(fig)] == ["mark $✓$ at [0.9 0.2]"]
    finally:
        plt.close(fig)


def test_the_line_check_finds_a_line_through_a_mark() -> None:
    fig, ax = plt.subplots()
    ax.text(0.5, 0.5, "a mark", gid=DIAGNOSIS_MARK, bbox={"facecolor": "white"})
    ax.plot([0.0, 1.0], [0.5, 0.5])
    try:
        assert [mark for mark, _line in lines_through_marks(fig)] == ["a mark"]
    finally:
        plt.close(fig)


MARKED = sorted((Path(__file__).parent / "data" / "real_sockets").glob("*.pcap"))


@pytest.mark.parametrize("pcap", [*MARKED, CAPTURES_DIR / "half-open-states.pcap", CAPTURES_DIR / "data-after-close.pcap"],
                         ids=lambda p: p.stem)  # fmt: skip
def test_diagnosis_marks_stand_clear(pcap: Path) -> None:
    """Every diagnosis is marked at its evidence frames, and no mark is under another label
    or a line: the real-socket captures (keep-alives, zero window, loss probes, backoff) and
    stored ones whose calls fill the margins."""
    sidecar_file = sidecar_path_for(pcap)
    sidecar = json.loads(sidecar_file.read_text()) if sidecar_file.exists() else None
    analysis = analyze_file(str(pcap), sidecar=sidecar)
    for connection in analysis.connections:
        fig = figure(connection, sidecar)
        try:
            drawn = [t.get_text() for t in fig.findobj(plt.Text) if t.get_gid() == DIAGNOSIS_MARK]
            wanted = {mark for d in connection.diagnoses for mark in d.marks.values()}
            assert wanted <= {line.strip() for text in drawn for line in text.split("\n")} | {
                m for m in wanted if len(m) > MARGIN_CHARS
            }
            assert len(drawn) == len({f for d in connection.diagnoses for f in d.marks})
            assert overlapping_labels(fig) == []
            assert lines_through_marks(fig) == []
            assert lines_through_texts(fig) == []
            assert marks_on_lines_or_texts(fig) == []
        finally:
            plt.close(fig)


def test_a_keep_alive_is_drawn_as_one() -> None:
    pcap = Path(__file__).parent / "data" / "real_sockets" / "keepalive.pcap"
    [connection] = analyze_file(str(pcap)).connections
    fig = figure(connection, None)
    try:
        labels = [t.get_text() for t in fig.findobj(plt.Text)]
        assert sum(1 for label in labels if label.startswith("keep-alive: ACK seq=4")) == 6
    finally:
        plt.close(fig)


def test_a_state_label_stands_where_the_state_began() -> None:
    """Two FINs crossed (a BSD stack's simultaneous close, tests/test_loss_inference.py): the
    client's FIN_WAIT_1 lasted no visible span and is named with the CLOSING it led to, and
    each label stands below the arrow that began its state, above the next arrow (in the
    middle of a long span it read as begun after the next packet)."""
    from segments import conversation
    from test_loss_inference import BSD_FIN_ON_EVERY_SEGMENT

    from analyzer.analysis import analyze_segments
    from analyzer.output.sequence_diagram import CLIENT_X, HEAD_CLEAR, LABEL_HALF, TRANSIT

    [result] = analyze_segments(conversation(*BSD_FIN_ON_EVERY_SEGMENT)).connections
    fig = figure(result, None)
    try:
        ax = fig.axes[0]
        client = {
            t.get_text(): t.get_position()[1]
            for t in ax.texts
            if t.get_gid() == STATE_LABEL and abs(t.get_position()[0] - CLIENT_X) < 1e-9
        }
        # Where each frame's arrow leaves its sender, in frame order.
        row = dict(enumerate(sorted(a.xyann[1] for a in ax.texts if isinstance(a, Annotation)), start=1))
        assert list(client)[-2:] == ["FIN_WAIT_1 → CLOSING", "TIME_WAIT"]
        # CLOSING began as the client sent frame 5, TIME_WAIT as frame 7 reached it.
        assert row[5] < client["FIN_WAIT_1 → CLOSING"] < row[6]
        # Below frame 7's head, above frame 8's start, though frame 8 followed 1 ms on (room
        # is made: helper-122's TIME_WAIT drawn at the ACK after the FIN that began it).
        assert (
            row[7] + TRANSIT < client["TIME_WAIT"] < client["TIME_WAIT"] + LABEL_HALF + HEAD_CLEAR <= row[8]
        )
    finally:
        plt.close(fig)


def test_dollar_signs_in_traced_bytes_are_drawn_as_they_are(tmp_path) -> None:
    """A TLS record's bytes in a traced send() hold "$" twice: matplotlib read them as
    mathtext and the ladder failed. Every text is literal; the kernel's check marks still draw."""
    from analyzer.output.figures import save_figure
    from analyzer.sidecar import load_sidecar

    pcap = CAPTURES_DIR / "handshake.pcap"
    sidecar = load_sidecar(sidecar_path_for(pcap))
    sent = next(call for call in sidecar["calls"] if call["call"].startswith("sendall"))
    sent["call"] = 'send("\\26\\3\\1\\1$\\1\\0\\1 \\3\\3^\\10%$p")'
    [connection] = analyze_file(str(pcap), sidecar=sidecar).connections
    fig = figure(connection, sidecar)
    texts = [t.get_text() for t in fig.findobj(plt.Text)]
    assert any("$\\1\\0" in text for text in texts)
    save_figure(fig, tmp_path / "tls.png")  # lays every text out: raised ValueError before
    assert (tmp_path / "tls.png").stat().st_size > 0


def test_a_long_time_label_runs_on_in_lines_between_its_pieces() -> None:
    """A fast retransmission's time, its copy's delay and its cause ran over both lifelines on
    one line (a 254-packet HTTP download's frame 127)."""
    from analyzer.output.sequence_diagram import WHEN_CHARS, _in_lines

    pieces = ["frame 127", "+1.000207 s", "Δ199 µs, 203 µs after the first", "fast retransmission"]
    text = _in_lines(pieces)
    assert text == "frame 127  +1.000207 s  Δ199 µs, 203 µs after the first\nfast retransmission"
    assert _in_lines(pieces[:3]) == "  ".join(pieces[:3])  # short enough: one line
    long_note = "answered by ICMP host unreachable from 192.0.2.1, frame 4, +0.000300 s; " * 2
    assert all(len(line) <= WHEN_CHARS for line in _in_lines([*pieces, long_note]).split("\n"))


def test_data_sent_again_in_other_bounds_is_drawn_as_a_retransmission() -> None:
    """The server resends 1000 bytes from the middle of two segments (a sender that segments
    anew, as after its path's MTU was lowered): the core numbers it, a copy of the latest of
    the two that held it together (frame 5), Wireshark flags a retransmission, and the ladder
    and Mermaid draw it as one, dashed and numbered."""
    segments = conversation(*HANDSHAKE, ("s", "PA", 501, 101, 1000), ("s", "PA", 1501, 101, 1000),
                            ("c", "A", 101, 501), ("c", "A", 101, 501), ("s", "PA", 1001, 101, 1000))  # fmt: skip
    [result] = analyze_segments(segments).connections
    assert result.resends[8] == (1, segments[4].stamp) and "retransmission" in result.sequence.flags[8]
    fig = figure(result, None)
    try:
        [arrow] = [t for t in fig.findobj(plt.Text) if t.get_gid() == PACKET_LABEL and "len=1000" in t.get_text()
                   and "seq=501 " in t.get_text()]  # fmt: skip
        assert arrow.get_text().endswith("(retransmission #1)"), arrow.get_text()
        assert arrow.get_color() == COLORS["retransmission"]
    finally:
        plt.close(fig)
    assert "(retransmission 1, 3.000 ms after the first)" in connection_mermaid(result)
    # Part of it never seen before (the capture lacks the segment that held it): no copy the
    # core numbers, yet Wireshark's retransmission, drawn dashed and named without a number.
    missed = conversation(*HANDSHAKE, ("s", "PA", 1501, 101, 1000), ("c", "A", 101, 501), ("c", "A", 101, 501),
                          (0.5, "s", "PA", 1001, 101, 1000))  # fmt: skip
    [partly] = analyze_segments(missed).connections
    assert 7 not in partly.resends and "retransmission" in partly.sequence.flags[7]
    assert "seq=501 ack=1 len=1000 (retransmission) frame 7" in connection_mermaid(partly)


def test_a_summary_cut_under_the_title_says_so() -> None:
    """Three lines at most, the last ending in "…" where the text went on (helper-111: five
    reports' titles stopped mid-sentence, one on "cannot" without "be told")."""
    from analyzer.output.sequence_diagram import SUMMARY_LINES, _wrap

    text = " ".join(f"word{n}" for n in range(100))
    lines = _wrap(text, 40).split("\n")
    assert len(lines) == SUMMARY_LINES and lines[-1].endswith(" …")
    assert all(len(line) <= 40 for line in lines)
    assert _wrap("a close that cannot be told", 40) == "a close that cannot be told"


def test_the_key_says_why_a_one_direction_capture_leaves_an_end_unknown() -> None:
    """Only the server's packets: its state after its own FIN cannot be told (FIN_WAIT_1 or
    LAST_ACK), and no segment of it failed to arrive: the key says the capture holds one
    direction (helper-111: it said a segment may not have reached that end)."""
    import matplotlib.pyplot as plt
    from segments import conversation

    from analyzer.analysis import analyze_segments
    from analyzer.output.sequence_diagram import figure

    segments = conversation(
        ("s", "SA", 500, 101), (0.04, "s", "PA", 501, 120, 10), (10.0, "s", "FA", 511, 130)
    )
    [result] = analyze_segments(segments).connections
    assert result.vantage is not None and result.vantage.point == "one_direction"
    assert any(state.value == "UNKNOWN" for _t, state in result.states["server"])
    fig = figure(result)
    try:
        texts = " ".join(t.get_text() for t in fig.findobj(plt.Text))
    finally:
        plt.close(fig)
    assert "UNKNOWN ?: one direction's packets alone are in the capture" in texts
    assert "may not have reached that end" not in texts


def test_notes_under_an_arrow_are_told_apart() -> None:
    """A resend's note and the flag after it, or two notes, are ended by ';' (helper-111:
    "1.056 ms after the first" over "fast retransmission" read as one phrase); the frame,
    time and delta stay two spaces apart, as before."""
    from analyzer.output.sequence_diagram import _apart

    resent = ["frame 32", "+0.567577 s", "Δ51 µs, 365.726 ms after the first", "fast retransmission"]
    assert _apart(resent, 3) == [*resent[:2], "Δ51 µs, 365.726 ms after the first;", "fast retransmission"]
    plain = [
        "frame 7",
        "+2.853291 s",
        "Δ1.374 ms",
        "aborted by the application",
        "may not have reached the server",
    ]
    assert _apart(plain, 3) == [*plain[:3], "aborted by the application;", "may not have reached the server"]
    assert _apart(["frame 1", "+0.000000 s"], 2) == ["frame 1", "+0.000000 s"]


def test_an_arrows_notes_keep_clear_of_the_state_labels_at_its_head() -> None:
    """A RST's cause and "may not have reached the server" under its arrow, the server's
    UNKNOWN ? box where it lands (helper-111's keepalive2: one 60-character line ran under
    the box): the notes break into lines narrow enough to pass beside it."""
    from segments import HANDSHAKE, conversation

    from analyzer.analysis import analyze_segments

    segments = conversation(
        *HANDSHAKE,
        ("c", "PA", 101, 501, 100),
        ("s", "PA", 501, 201, 500),
        ("c", "A", 201, 1001),
        ("c", "RA", 201, 1001),
        gap=0.005,
    )  # fmt: skip  (10 ms a leg: captured between the ends, where a RST may not arrive)
    [result] = analyze_segments(segments).connections
    assert [r.cause for r in result.resets] == ["abort"] and result.states["server"][-1][1] == "UNKNOWN"
    fig = figure(result)
    try:
        assert overlapping_labels(fig) == [] and packet_labels_over_the_lifelines(fig) == []
        renderer = fig.canvas.get_renderer()
        [notes] = [t for t in fig.findobj(plt.Text) if "may not have reached the server" in t.get_text()]
        [unknown] = [t for t in fig.findobj(plt.Text) if t.get_text() == "UNKNOWN ?"]
        assert "aborted by the application" in notes.get_text()
        text, box = notes.get_window_extent(renderer), unknown.get_bbox_patch().get_window_extent(renderer)
        # Clear of it by a few pixels, not touching (a 1-pixel overlap is what the check allows).
        assert text.y1 < box.y0 or text.y0 > box.y1 or text.x1 < box.x0 - 4
    finally:
        plt.close(fig)


def test_a_reset_its_receiver_did_not_take_is_drawn_dotted_and_said() -> None:
    """helper-122's s6b: a RST its receiver would not take (below what it had acknowledged,
    or after an earlier RST had ended its side) drawn as the one that ended the connection
    read as taken. Dotted, and said why under it."""
    from segments import HANDSHAKE, conversation

    from analyzer.analysis import analyze_segments
    from analyzer.output.sequence_diagram import ignored_resets

    data = (*HANDSHAKE, ("c", "PA", 101, 501, 100), ("s", "A", 501, 201))
    [below] = analyze_segments(conversation(*data, ("c", "R", 101, 0))).connections
    assert ignored_resets(below) == {6: "not taken by the server: outside its window"}
    [after] = analyze_segments(conversation(*data, ("c", "RA", 201, 501), ("c", "R", 101, 0))).connections
    assert ignored_resets(after) == {7: "not taken by the server: nothing left to reset"}
    # In the window past the next number: the challenge ACK named where captured, not otherwise.
    [ahead] = analyze_segments(conversation(*data, ("c", "R", 301, 0), ("s", "A", 501, 201))).connections
    assert ignored_resets(ahead) == {
        6: "not taken by the server: in its window, not at its next number; its challenge ACK: frame 7"
    }
    # None: nothing from the server, its data, or the ACK of the client's later data.
    for later in ((), (("s", "PA", 501, 201, 10),), (("c", "PA", 201, 501, 10), ("s", "A", 501, 211))):
        [ahead] = analyze_segments(conversation(*data, ("c", "R", 301, 0), *later)).connections
        assert ignored_resets(ahead) == {
            6: "not taken by the server: in its window, not at its next number; it answers with a challenge "
            "ACK (RFC 5961 3.2), none captured"
        }
    fig = figure(after, None)
    try:
        ax = fig.axes[0]
        styles = {
            a.arrow_patch.get_gid(): a.arrow_patch.get_linestyle()
            for a in ax.texts
            if isinstance(a, Annotation) and a.arrow_patch is not None
        }
        assert [gid for gid, style in styles.items() if style in (":", "dotted")] == ["pkt-7"], styles
        assert any("not taken by the server: nothing left to reset" in t.get_text() for t in ax.texts)
    finally:
        plt.close(fig)


def test_without_a_connection_named_the_first_a_diagnosis_explains_is_drawn() -> None:
    """helper-122's mqtt: nothing reset, resent or left unfinished, but the second connection
    held CLOSE_WAIT 45 s (a diagnosis): it is drawn, and the line says why, not the first
    (a plain exchange begun before the capture)."""
    from segments import HANDSHAKE, conversation
    from test_connections import on_port

    plain = conversation(("c", "PA", 101, 501, 10), ("s", "A", 501, 111))
    held = conversation(
        *HANDSHAKE,
        ("c", "FA", 101, 501),
        ("s", "A", 501, 102),
        (45.0, "s", "FA", 501, 102),
        ("c", "A", 102, 502),
    )
    analysis = analyze_segments(plain + on_port(held, 40001, later=1.0, frames=2))
    chosen, note = pick_connection(analysis, None)
    assert chosen.connection.id == 1
    assert note is not None and "drawing #1 (the first with a diagnosis: close wait held)" in note
