"""A SYN/ACK with a new ISN within one attempt: the listener's half-open connection timed out
(or its queue dropped it) and the client's next SYN got a new one (helper-119's congested
path, s7). Its numbers start again: nothing is missing before it, and the pictures number
from it as Wireshark does."""

from __future__ import annotations

import functools

import pytest
from segments import conversation

from analyzer.analysis import analyze_connection, analyze_segments
from analyzer.connections import stream_connections
from analyzer.long_connection import FoldedConnection
from analyzer.output.json_report import connection_to_dict
from analyzer.output.labels import SequenceBases, packet_label
from analyzer.output.text_report import connection_text
from analyzer.timefmt import Clock

OLD_ISN = 500


def _session(new_isn: int) -> list:
    """The first SYN/ACK and its resend go unacknowledged; the client's SYN 3 s later gets a
    SYN/ACK from a new ISN, which it acknowledges; 30 segments of data each way follow."""
    steps: list[tuple] = [
        (0.0, "c", "S", 100, 0),
        (0.0001, "s", "SA", OLD_ISN, 101),
        (1.0, "s", "SA", OLD_ISN, 101),
        (3.0, "c", "S", 100, 0),
        (3.0001, "s", "SA", new_isn, 101),
        (3.0002, "c", "A", 101, new_isn + 1),
    ]
    for i in range(15):
        steps.append(("c", "PA", 101 + 10 * i, new_isn + 1 + 10 * i, 10))
        steps.append(("s", "PA", new_isn + 1 + 10 * i, 111 + 10 * i, 10))
    return conversation(*steps)


@pytest.mark.parametrize("new_isn", [900_000_000, 100, 450], ids=["above", "below", "just-below"])
def test_a_synack_with_a_new_isn_leaves_no_gap_and_numbers_from_it(new_isn: int) -> None:
    [result] = analyze_segments(_session(new_isn)).connections
    text = "\n".join(connection_text(result, Clock(0.0)))
    assert "packets not in the capture" not in text
    assert result.gaps is None or not (result.gaps.unfilled or result.gaps.resent)
    # Its own reading flags nothing about the new ISN's SYN/ACK (frame 5) nor what follows.
    assert not any(
        kind in ("lost_segment", "ack_lost_segment", "retransmission")
        for frame, kinds in result.own_sequence.flags.items()
        if frame >= 5
        for kind in kinds
    )
    bases = SequenceBases(result)
    labels = {
        segment.frame: packet_label(
            segment,
            bases.seq_base(sender, segment),
            bases.ack_base("client" if sender == "server" else "server", segment),
            names_isn=bases.names_isn(segment),
        )
        for segment in result.connection.segments
        for sender in [result.connection.sender(segment)]
    }
    assert labels[2] == f"SYN/ACK seq=0 ack=1 (ISN {OLD_ISN})"
    assert labels[5] == f"SYN/ACK seq=0 ack=1 (ISN {new_isn})"
    assert labels[6] == "ACK seq=1 ack=1"
    assert labels[8] == "PSH/ACK seq=1 ack=11 len=10"
    # The server's data runs on from the new ISN, past the old one's numbers too (450 + 50:
    # helper-125's labels fell back to seq=1 there).
    server_data = [labels[frame] for frame in range(8, len(labels) + 1, 2)]
    assert server_data == [f"PSH/ACK seq={1 + 10 * i} ack={11 + 10 * i} len=10" for i in range(15)]


def test_wiresharks_own_rules_flag_the_new_isn_after_a_gap_as_tshark_does() -> None:
    """tshark 4.0.17 on helper-119's s7: "A new tcp session is started with the same ports ...,
    Previous segment(s) not captured" on the new ISN's SYN/ACK: its flags stay Wireshark's."""
    [result] = analyze_segments(_session(900_000_000)).connections
    assert "lost_segment" in result.sequence.flags[5]


def test_a_folded_connection_reads_the_new_isn_as_a_whole_one() -> None:
    segments = _session(900_000_000)
    whole = [
        connection_to_dict(analyze_connection(c), Clock(0.0)) for c in stream_connections(iter(segments))
    ]
    fold = functools.partial(FoldedConnection, head_steps=0, look_ahead=8)
    folded = [
        connection_to_dict(analyze_connection(c), Clock(0.0))
        for c in stream_connections(iter(_session(900_000_000)), fold=fold, long_connection=8)  # type: ignore[arg-type]
    ]
    for report in folded:
        report["notes"] = [note for note in report["notes"] if not note.startswith("a long connection: ")]
    assert folded == whole
    # The pictures' reading too (labels.reported_kinds): no gap before the new ISN.
    [connection] = stream_connections(iter(_session(900_000_000)), fold=fold, long_connection=8)  # type: ignore[arg-type]
    assert "lost_segment" not in analyze_connection(connection).own_sequence.flags.get(5, [])


def test_a_gap_in_the_new_isns_numbers_is_one() -> None:
    """The new ISN below the old one's numbers: a segment the capture missed after it is
    still a gap (the numbers so far are the new ISN's)."""
    segments = [s for s in _session(100) if s.frame != 10]  # the server's second data segment
    [result] = analyze_segments(segments).connections
    assert result.gaps is not None and result.gaps.unfilled == [12]


def test_synacks_of_two_isns_taking_turns_each_keep_their_numbers() -> None:
    """As sv_tcp-fastopen-10's server (corpus): SYN/ACKs of two ISNs alternate, the client
    acknowledges the second, and the data continues it; no gap, nothing acknowledged unseen."""
    other = 3_000_000_000
    steps: list[tuple] = [
        ("c", "S", 100, 0),
        ("s", "SA", other, 101),
        ("s", "SA", 700, 101),
        ("s", "SA", other, 101),
        ("c", "A", 101, 701),
        ("s", "SA", other, 101),
        ("s", "PA", 701, 101, 10),
        ("c", "A", 101, 711),
    ]
    [result] = analyze_segments(conversation(*steps)).connections
    assert {"lost_segment", "ack_lost_segment"} <= {
        k for kinds in result.sequence.flags.values() for k in kinds
    }
    assert not [
        (frame, kind)
        for frame, kinds in result.own_sequence.flags.items()
        for kind in kinds
        if kind in ("lost_segment", "ack_lost_segment")
    ]
    assert "packets not in the capture" not in "\n".join(connection_text(result, Clock(0.0)))
