"""A connection given up as idle and the later one on its 4-tuple that continues it
(connections.Continued): named as such, and read as Wireshark reads the whole."""

from __future__ import annotations

import functools

import pytest
from segments import HANDSHAKE, conversation

from analyzer import connections
from analyzer.analysis import analyze_connection, analyze_segments
from analyzer.connections import ConnectionTracker, Timeouts, stream_connections
from analyzer.long_connection import FoldedConnection
from analyzer.timefmt import Clock

# A session: the handshake and an exchange, then 2 h of silence (Linux's keep-alive time),
# then the client's keep-alive (one below its next number) and the server's answer, then
# silence again, and keep-alives no one answers, 75 s apart, and the client's RST.
SESSION = (
    *HANDSHAKE,
    ("c", "PA", 101, 501, 3), ("s", "PA", 501, 104, 2), ("c", "A", 104, 503),
    (7200.0, "c", "A", 103, 503), (7200.001, "s", "A", 503, 104),
    (14400.0, "c", "A", 103, 503), (14475.0, "c", "A", 103, 503), (14550.0, "c", "A", 103, 503),
    (14625.0, "c", "RA", 104, 503),
)  # fmt: skip


def test_a_session_given_up_as_idle_is_continued_not_begun_mid_connection() -> None:
    first, again, last = analyze_segments(conversation(*SESSION)).connections
    assert first.connection.continues is None and first.connection.expired == "idle"
    assert again.connection.continues is not None and again.connection.continues.first_frame == 1
    assert last.connection.continues is not None and last.connection.continues.first_frame == 7
    assert "continues the connection of frame 1" in again.handshake.explain()
    assert "7199.995 s without a segment" in again.handshake.explain()
    assert not any("capture starts mid-connection" in note for note in again.notes + last.notes)
    # Keep-alives as Wireshark flags them, reading the whole: not data, not dup ACKs.
    assert again.sequence.flags == {7: ["keep_alive"], 8: ["keep_alive_ack"]}
    assert last.sequence.flags == {9: ["keep_alive"], 10: ["keep_alive"], 11: ["keep_alive"]}
    # The server's ACK of 104 acknowledges what the client sent before the silence.
    assert not any("never sent" in note for note in again.notes)
    # The server spoke before the silence: the capture did not miss its direction.
    assert last.vantage.point != "one_direction"
    assert last.resets[0].cause == "keep_alive_timeout"


def test_a_syn_after_the_silence_starts_a_connection_that_continues_nothing() -> None:
    segments = conversation(
        *HANDSHAKE, ("c", "A", 101, 501), (700.0, "c", "S", 9000, 0), ("c", "A", 101, 501)
    )
    found = list(stream_connections(segments))
    assert [c.continues for c in found] == [None, None]


@pytest.mark.parametrize("sweep_every", [1, 3, 4096])
def test_the_continuation_is_found_however_often_the_tracker_looks(sweep_every: int, monkeypatch) -> None:
    """Given up by a look at the timers or by the later segment itself: the same link."""
    monkeypatch.setattr(connections, "SWEEP_EVERY", sweep_every)
    segments = conversation(*SESSION)
    found = sorted(stream_connections(segments), key=lambda c: c.id)
    assert [c.continues.first_frame if c.continues else None for c in found] == [None, 1, 7]


def test_the_oldest_idle_connections_are_forgotten_past_the_bound(monkeypatch) -> None:
    monkeypatch.setattr(connections, "IDLE_REMEMBERED", 1)
    monkeypatch.setattr(connections, "SWEEP_EVERY", 1)  # both given up before either speaks again
    tracker = ConnectionTracker(Timeouts(idle=10.0))
    a = conversation(*HANDSHAKE, ("c", "A", 101, 501))
    b = conversation(*HANDSHAKE, ("c", "A", 101, 501), start=100.5)
    for segment in b:
        segment.sport = segment.sport if segment.sport == 80 else 40001
        segment.dport = segment.dport if segment.dport == 80 else 40001
        segment.frame += 10
    done = []
    for segment in sorted(a + b, key=lambda s: s.time):
        done += tracker.add(segment)
    other = conversation(("c", "S", 7, 0), start=150.0)  # a segment elsewhere: the tracker looks
    other[0].sport, other[0].frame = 50000, 19
    done += tracker.add(other[0])
    late = conversation(("c", "A", 101, 501), start=200.0)
    late_b = conversation(("c", "A", 101, 501), start=200.1)
    late_b[0].sport, late_b[0].frame = 40001, 30
    late[0].frame = 20
    for segment in late + late_b:
        done += tracker.add(segment)
    done += tracker.finish()
    continued = {c.segments[0].frame: c.continues for c in done}
    # Both were given up, the one on port 40001 last: only it is remembered.
    assert continued[20] is None
    assert continued[30] is not None and continued[30].first_frame == 11


def test_a_long_continuation_folded_reads_the_same_flags_as_kept_whole() -> None:
    data = [("c", "PA", 104 + 10 * i, 503, 10) for i in range(40)]
    acks = [("s", "A", 503, 114 + 10 * i) for i in range(40)]
    steps = [step for pair in zip(data, acks, strict=True) for step in pair]
    session = (*HANDSHAKE, ("c", "PA", 101, 501, 3), ("s", "A", 501, 104), (400.0, "c", "A", 103, 501),
               ("s", "A", 501, 104), *steps)  # fmt: skip
    whole = list(stream_connections(conversation(*session)))
    fold = functools.partial(FoldedConnection, head_steps=0, look_ahead=32)
    folded = list(stream_connections(conversation(*session), fold=fold, long_connection=20))
    assert whole[1].continues is not None and folded[1].folded is not None
    kept, long = analyze_connection(whole[1]), analyze_connection(folded[1])
    assert kept.sequence.flags == long.sequence.flags
    assert kept.sequence.flags[6] == ["keep_alive"]


def test_the_summary_counts_continuations_apart_from_captures_begun_mid_stream() -> None:
    from analyzer.output.summary import Summary

    summary = Summary()
    for result in analyze_segments(conversation(*SESSION)).connections:
        summary.add(result)
    assert (
        summary.handshakes["complete"],
        summary.handshakes["continued"],
        summary.handshakes["not_seen"],
    ) == (
        1,
        2,
        0,
    )
    assert summary.outcomes["continued, reset: keep-alive probes unanswered"] == 1


def test_a_handshake_after_a_continuation_does_not_break_the_analysis() -> None:
    """Given up as idle, then the client's ACK (a continuation), then a new SYN joins it
    (its ISN not seen before): the analysis of a continuation with a complete handshake."""
    segments = conversation(
        *HANDSHAKE, ("c", "A", 101, 501), (700.0, "c", "A", 101, 501), ("c", "S", 9000, 0),
        ("s", "SA", 7000, 9001), ("c", "A", 9001, 7001),
    )  # fmt: skip
    _first, later = analyze_segments(segments).connections
    assert later.connection.continues is not None
    assert later.handshake.status == "complete"


def test_an_unrelated_session_on_the_same_ports_continues_nothing() -> None:
    """After the silence, segments whose numbers are nowhere near where the ends left off:
    another session that came to use the 4-tuple, begun before the capture saw it."""
    segments = conversation(
        *HANDSHAKE, ("c", "PA", 101, 501, 3), ("s", "A", 501, 104),
        (700.0, "c", "PA", 3_000_000_000, 2_000_000_000, 10), ("s", "A", 2_000_000_000, 3_000_000_010),
    )  # fmt: skip
    _first, later = analyze_segments(segments).connections
    assert later.connection.continues is None
    assert later.sequence.flags == {}
    assert any("capture starts mid-connection" in note for note in later.notes)


def test_the_json_names_the_continued_connection_by_its_first_frame() -> None:
    from analyzer.output.json_report import connection_to_dict

    first, again, _last = analyze_segments(conversation(*SESSION)).connections
    assert connection_to_dict(first, Clock(0.0))["continues"] is None
    continues = connection_to_dict(again, Clock(0.0))["continues"]
    assert continues["first_frame"] == 1 and continues["quiet_for"] == pytest.approx(7199.995)


def test_a_continuation_numbers_seq_and_ack_from_the_connection_it_continues() -> None:
    """Wireshark reads one conversation: after the silence the client's keep-alive is seq=3
    ack=1 (one below its next, 104, from its ISN 100), not 1 from the continuation's own
    first segment; a continuation of a continuation keeps the first's bases too."""
    from analyzer.output.labels import SequenceBases, packet_label

    _first, again, last = analyze_segments(conversation(*SESSION)).connections
    bases = SequenceBases(again).first
    assert bases == {"client": 100, "server": 500}
    assert SequenceBases(last).first == bases
    keep_alive, answer = again.connection.segments
    assert packet_label(keep_alive, bases["client"], bases["server"]).startswith("ACK seq=3 ack=3")
    assert packet_label(answer, bases["server"], bases["client"]).startswith("ACK seq=3 ack=4")


def test_a_folded_connection_hands_its_bases_to_the_one_that_continues_it() -> None:
    data = [("c", "PA", 104 + 10 * i, 503, 10) for i in range(40)]
    acks = [("s", "A", 503, 114 + 10 * i) for i in range(40)]
    steps = [step for pair in zip(data, acks, strict=True) for step in pair]
    session = (*HANDSHAKE, ("c", "PA", 101, 501, 3), ("s", "A", 501, 104), *steps,
               (700.0, "c", "A", 503, 503), ("s", "A", 503, 504))  # fmt: skip
    fold = functools.partial(FoldedConnection, head_steps=0, look_ahead=32)
    first, later = stream_connections(conversation(*session), fold=fold, long_connection=20)
    assert first.folded is not None
    assert later.continues is not None and later.continues.bases == {
        (later.client[0], later.client[1]): 100,
        (later.server[0], later.server[1]): 500,
    }


def test_a_syn_in_a_continuation_sets_its_senders_base_anew() -> None:
    from analyzer.output.labels import SequenceBases

    segments = conversation(
        *HANDSHAKE, ("c", "A", 101, 501), (700.0, "c", "A", 101, 501), ("c", "S", 9000, 0),
        ("s", "SA", 7000, 9001), ("c", "A", 9001, 7001),
    )  # fmt: skip
    _first, later = analyze_segments(segments).connections
    assert SequenceBases(later).first == {"client": 9000, "server": 7000}


def test_the_busiest_sources_count_the_connection_a_source_opened_once() -> None:
    """Split by the idle timer into three, the session is one its client opened (--summary's
    busiest sources said 3), its packets all the client's."""
    from analyzer.output.summary import Summary

    summary = Summary()
    for result in analyze_segments(conversation(*SESSION)).connections:
        summary.add(result)
    assert summary.sources.top(2) == [("192.0.2.1", 1, len(SESSION))]
