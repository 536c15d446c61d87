"""Urgent data (findings/urgent.py): each end's segments with URG, in the text, the JSON and
the list of connections worth a look; counted the same in a long connection, which keeps
few of its segments."""

from __future__ import annotations

from segments import HANDSHAKE, conversation
from test_long_connection import SMALL_FOLD, bulk_flow

from analyzer.analysis import analyze_connection, analyze_segments
from analyzer.connections import stream_connections
from analyzer.decode.segment import URG
from analyzer.findings.urgent import URGENT_LISTED
from analyzer.output.json_report import connection_to_dict
from analyzer.output.text_report import analysis_text, interesting_reasons
from analyzer.timefmt import Clock


def test_each_ends_urgent_segments_are_counted_and_named() -> None:
    # The client's send(b"!", MSG_OOB) (frame 5), the server's twice (frames 7 and 8).
    segments = conversation(
        *HANDSHAKE,
        ("c", "PA", 101, 501, 3), ("c", "PAU", 104, 501, 1), ("s", "A", 501, 105),
        ("s", "PAU", 501, 105, 1), ("s", "PAU", 502, 105, 1), ("c", "A", 105, 503),
    )  # fmt: skip
    analysis = analyze_segments(segments)
    [result] = analysis.connections
    urgent = result.urgent
    assert urgent is not None
    assert connection_to_dict(result, Clock(0.0))["urgent"] == {
        "client": {"segments": 1, "frames": [5]},
        "server": {"segments": 2, "frames": [7, 8]},
    }
    assert urgent.explain().startswith(
        "the client sent 1 segment with URG (frame 5); the server sent 2 segments with URG (frames 7, 8): "
        "out-of-band data (send() with MSG_OOB"
    )
    assert "urgent data (URG)" in interesting_reasons(result)
    assert f"  urgent     {urgent.explain()}" in analysis_text(analysis, show_all=True).splitlines()


def test_a_scan_probe_with_urg_is_no_urgent_data() -> None:
    # An Xmas scan's probe (FIN, PSH, URG without ACK), and a SYN with URG: no stack sends
    # urgent data before it is connected.
    for flags in ("FPU", "SU", "AU"):
        [result] = analyze_segments(conversation(("c", flags, 100, 0), ("s", "RA", 0, 101))).connections
        assert result.urgent is None
        assert connection_to_dict(result, Clock(0.0))["urgent"] is None
        assert "urgent data (URG)" not in interesting_reasons(result)
    [plain] = analyze_segments(conversation(*HANDSHAKE, ("c", "PA", 101, 501, 3))).connections
    assert plain.urgent is None
    # A pure ACK with URG counts only after its sender's urgent byte (urgent mode's ACKs).
    [mode] = analyze_segments(
        conversation(*HANDSHAKE, ("c", "AU", 101, 501), ("c", "PAU", 101, 501, 1), ("c", "AU", 102, 501))
    ).connections
    assert mode.urgent is not None and mode.urgent.frames == {"client": [5, 6]}


def test_a_long_connection_counts_every_urgent_segment_it_does_not_keep() -> None:
    flow = bulk_flow(400)
    marked = [s for s in flow[10:-10] if s.payload_len][::3]  # past the fold, most not kept
    for segment in marked:
        segment.flags |= URG
    found = {}
    for fold, long_connection in ((None, 1 << 30), (SMALL_FOLD, 24)):
        [connection] = stream_connections(iter(flow), fold=fold, long_connection=long_connection)  # type: ignore[arg-type]
        result = analyze_connection(connection)
        found[fold is None] = connection_to_dict(result, Clock(0.0))["urgent"], len(connection.segments)
    (whole, whole_kept), (folded, folded_kept) = found[True], found[False]
    assert folded_kept < len(marked) < whole_kept  # the folded one kept too few to count them
    assert (
        folded
        == whole
        == {"server": {"segments": len(marked), "frames": [s.frame for s in marked][:URGENT_LISTED]}}
    )
    assert len(marked) > URGENT_LISTED  # the list stops, the count does not
