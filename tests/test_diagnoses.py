"""Diagnoses from the packets alone (findings/diagnoses.py) and the RST causes they lean on:
each kind on a hand-made conversation that has it, and none on one that does not."""

from __future__ import annotations

import dataclasses
import json

import pytest
from conftest import CAPTURES, run, stored_captures
from segments import HANDSHAKE, conversation

from analyzer.analysis import analyze_file, analyze_segments
from analyzer.decode.segment import ACK, RST, Segment, TcpOptions
from analyzer.findings.diagnoses import STALLS_TOLD
from analyzer.findings.resets import record_fin_timeout
from analyzer.sidecar import load_sidecar
from analyzer.timefmt import NS, format_duration


def _kinds(segments: list[Segment]) -> dict[str, list]:
    [result] = analyze_segments(segments).connections
    found: dict[str, list] = {}
    for diagnosis in result.diagnoses:
        found.setdefault(diagnosis.kind, []).append(diagnosis)
    return found


def _one(segments: list[Segment], kind: str):
    found = _kinds(segments)
    assert list(found) == [kind], found
    [diagnosis] = found[kind]
    return diagnosis


def test_close_wait_held_until_the_application_closes() -> None:
    segments = conversation(
        *HANDSHAKE,
        ("c", "FA", 101, 501),  # frame 4: the client closes
        ("s", "A", 501, 102),  # frame 5: the server acknowledges: CLOSE_WAIT
        (45.0, "s", "FA", 501, 102),  # 45 s later the server's application closes
        ("c", "A", 102, 502),
    )
    diagnosis = _one(segments, "close_wait_held")
    assert diagnosis.frames == [4, 5, 6]
    assert (
        "the server's application was slow to close: in CLOSE_WAIT it sent no data and no FIN for 44.9"
        in diagnosis.sentence
    )
    assert diagnosis.display_filter == "frame.number in {4, 5, 6}"


@pytest.mark.parametrize("drained_at", [None, 5.8], ids=["never-seen-drained", "drained-then-closed"])
def test_a_slow_reader_s_close_wait_counts_from_its_buffer_drained(drained_at) -> None:
    """helper-119's s4b: the kernel acknowledges a FIN as it comes; a window below the widest
    then says data was unread, and the application reads the end of the stream after it. Its
    window back to the widest (an update) starts the silence; never seen drained, the
    diagnosis says it may have been reading."""
    steps: list[tuple] = [
        *HANDSHAKE, ("c", "PA", 101, 501, 3000), ("s", "A", 501, 3101), ("c", "FA", 3101, 501),
        ("s", "A", 501, 3102),  # frame 7: the FIN acknowledged, 3,000 bytes unread
    ]  # fmt: skip
    if drained_at is not None:
        steps.append((drained_at, "s", "A", 501, 3102))  # frame 8: its window open again: read
    steps += [(6.0, "s", "FA", 501, 3102), ("c", "A", 3102, 502)]
    segments = conversation(*steps)
    segments[4].window = 1000  # the ACK of the data: 3,000 bytes unread of 4,000
    segments[6].window = 1000
    for segment in segments[7:]:
        if segment.src == segments[1].src:
            segment.window = 4000
    for segment in segments[:3]:
        segment.window = 4000
    found = _kinds(segments).get("close_wait_held", [])
    if drained_at is not None:
        assert found == []  # closed 0.2 s after it read the end
        return
    [diagnosis] = found
    assert diagnosis.sentence.startswith("the server's application was slow to close, or to read: ")
    assert "its window then (1,000 of the 4,000 it offered) says data was still unread" in diagnosis.sentence


def test_close_wait_held_until_the_peers_rst_says_so() -> None:
    """The client closed, the server held CLOSE_WAIT; 45 s later the client's RST ended the
    connection: the silence ran to that RST, not to the capture's end."""
    segments = conversation(
        *HANDSHAKE,
        ("c", "FA", 101, 501),  # frame 4: the client closes
        ("s", "A", 501, 102),  # frame 5: the server acknowledges: CLOSE_WAIT
        (45.0, "c", "R", 102, 0),  # frame 6: the client resets
    )
    [held] = _kinds(segments)["close_wait_held"]
    assert held.frames == [4, 5, 6]
    assert "until the client's RST (frame 6) ended the connection" in held.sentence
    assert "capture ended" not in held.sentence and "at least" not in held.sentence
    assert held.marks[6] == "RST ends CLOSE_WAIT"


def test_close_wait_held_until_data_is_no_close() -> None:
    """sigkill of a review: the server killed, the kernel's FIN; the client's application
    wrote 2.4 s later (answered by RST, the socket gone): it did not close, it wrote."""
    segments = conversation(
        *HANDSHAKE,
        ("s", "FA", 501, 101),  # frame 4: the server's kernel closes for it
        ("c", "A", 101, 502),  # frame 5: CLOSE_WAIT
        (2.4, "c", "PA", 101, 502, 5),  # frame 6: the client writes
        ("s", "R", 502, 0),
    )
    [held] = _kinds(segments)["close_wait_held"]
    assert held.sentence.startswith("the client's application did not close:"), held.sentence
    assert "until its next data (frame 6)" in held.sentence
    assert held.marks[6] == "writes again, still not closed"


def test_a_prompt_close_and_a_half_close_in_use_are_no_close_wait() -> None:
    prompt = conversation(
        *HANDSHAKE, ("c", "FA", 101, 501), ("s", "A", 501, 102), ("s", "FA", 501, 102), ("c", "A", 102, 502)
    )
    assert "close_wait_held" not in _kinds(prompt)
    # The server goes on sending after the client's FIN (a half-close in use), then closes.
    sending = [("s", "PA", 501 + 1000 * i, 102, 1000) for i in range(30)]
    half = conversation(*HANDSHAKE, ("c", "FA", 101, 501), ("s", "A", 501, 102), *sending, gap=0.05)
    half += conversation(("s", "FA", 30501, 102), start=half[-1].time + 0.05)
    for number, segment in enumerate(half, start=1):
        segment.frame = number
    assert "close_wait_held" not in _kinds(half)
    # A stream with pauses (a log tailed to a client that shut down its side): each pause
    # falls between two of the server's writes, and it closes right after its last.
    pausing = conversation(*HANDSHAKE, ("c", "FA", 101, 501), ("s", "A", 501, 102))
    pausing += conversation(*sending[:5], start=pausing[-1].time + 0.05, gap=2.0)
    pausing += conversation(("s", "FA", 5501, 102), start=pausing[-1].time + 0.05)
    for number, segment in enumerate(pausing, start=1):
        segment.frame = number
    assert "close_wait_held" not in _kinds(pausing)
    # Nor when it closes at its pace (halfclose_long, from real sockets: a chunk a second,
    # the FIN a second after the last), or the capture ends so.
    pausing[-1].time += 1.95
    assert "close_wait_held" not in _kinds(pausing)
    # ... or the peer's RST ends it at that pace.
    reset = conversation(("c", "R", 102, 0), start=pausing[-1].time)
    reset[0].frame = pausing[-1].frame
    assert "close_wait_held" not in _kinds([*pausing[:-1], *reset])
    # ... but a close held after its last write is still one.
    pausing[-1].time += 10.0 - 1.95
    assert "for 10.05" in _one(pausing, "close_wait_held").sentence
    # And so is a pause that stands out before a last write: the answer at once, then 200 s
    # of silence until an idle timer's "421 timeout" and its FIN.
    idle = conversation(
        *HANDSHAKE, ("c", "FPA", 101, 501, 10), ("s", "A", 501, 112), ("s", "PA", 501, 112, 20)
    )
    idle += conversation(("s", "PA", 521, 112, 30), ("s", "FA", 551, 112), start=idle[-1].time + 200.0)
    for number, segment in enumerate(idle, start=1):
        segment.frame = number
    [held] = _kinds(idle)["close_wait_held"]
    assert "for 200.000 s after its data of frame 6, until its next data (frame 7)" in held.sentence


def test_fin_wait_2_ended_by_the_timer_then_rst_for_no_connection() -> None:
    """The seed's case: the client closed, the server held CLOSE_WAIT; 65 s later the
    server's data finds no socket and the client's kernel answers RST."""
    segments = conversation(
        *HANDSHAKE,
        ("c", "FA", 101, 501),  # 4
        ("s", "A", 501, 102),  # 5
        (65.0, "s", "PA", 501, 102, 10),  # 6
        ("c", "R", 102, 0),  # 7
    )
    found = _kinds(segments)
    assert set(found) == {"close_wait_held", "fin_wait_2_expired"}
    [expired] = found["fin_wait_2_expired"]
    assert expired.frames == [4, 5, 6, 7]
    [result] = analyze_segments(segments).connections
    [reset] = result.resets
    assert reset.cause == "fin_wait_2_expired"
    # Linux's default named as a default, not as every stack's (helper-116: Windows' ran 130 s).
    assert (
        "the FIN_WAIT_2 timer (Linux's tcp_fin_timeout, 60 s by default; other systems' may run longer)"
        in (reset.explanation)
    )


def test_fin_wait_2_expired_states_the_silence_and_no_timer_it_did_not_outlast() -> None:
    """45 s of silence ended the socket: the sender's timer was shorter than Linux's 60 s
    default, and the sentence must not name 60 s as the timer the silence outlasted. (Data
    then, not a FIN, is data_after_close: a closed socket answers it so, timer or not.)"""
    segments = conversation(
        *HANDSHAKE,
        ("c", "FA", 101, 501),  # 4
        ("s", "A", 501, 102),  # 5
        (45.0, "s", "FA", 501, 102),  # 6
        ("c", "R", 102, 0),  # 7
    )
    [result] = analyze_segments(segments).connections
    [reset] = result.resets
    assert reset.cause == "fin_wait_2_expired"
    assert "the server's FIN came 44.996 s later (frame 6)" in reset.explanation
    assert "the client's timer is shorter than 44.996 s" in reset.explanation
    assert "(Linux tcp_fin_timeout, 60 s by default)" not in reset.explanation


def test_fin_wait_2_expired_never_names_a_recorded_timer_longer_than_the_wait() -> None:
    segments = conversation(
        *HANDSHAKE,
        ("c", "FA", 101, 501),
        ("s", "A", 501, 102),
        (45.0, "s", "FA", 501, 102),
        ("c", "R", 102, 0),
    )
    [result] = analyze_segments(segments).connections
    [reset] = record_fin_timeout(result.connection, result.resets, 60)
    assert "after the socket had been ended by something other than the FIN_WAIT_2 timer" in reset.explanation
    assert "tcp_fin_timeout 60 s, longer than this wait" in reset.explanation
    [reset] = record_fin_timeout(result.connection, result.resets, 30)
    assert (
        "ended by the FIN_WAIT_2 timer (tcp_fin_timeout 30 s, recorded in the sidecar)" in reset.explanation
    )


@pytest.mark.parametrize("name", ["fin-wait-2-timeout", "fin-wait-2-timeout-ipv6"])
def test_fin_wait_2_expired_names_the_recorded_fin_timeout(name: str) -> None:
    """The scenario set tcp_fin_timeout to 2 s (its sidecar says so): the RST's cause and
    the diagnosis name that, not Linux's default."""
    pcap = CAPTURES / f"{name}.pcap"
    [result] = analyze_file(str(pcap), sidecar=load_sidecar(CAPTURES / f"{name}.sidecar.json")).connections
    [reset] = result.resets
    [diagnosis] = [d for d in result.diagnoses if d.kind == "fin_wait_2_expired"]
    by_frame = {s.frame: s for s in result.connection.segments}
    silence = by_frame[reset.evidence[2]].time - by_frame[reset.evidence[1]].time
    for text in (reset.explanation, diagnosis.sentence):
        assert "tcp_fin_timeout 2 s, recorded in the sidecar" in text
        assert "60 s" not in text
        assert f"came {format_duration(silence)} later" in text


def test_an_abort_after_the_own_fin_is_no_unknown_rst() -> None:
    """python's http.server answering a POST: FIN after shutdown(SHUT_WR), then RST on
    close() with the request body unread (the kernel's TCP_ABORT_ON_CLOSE)."""
    segments = conversation(
        *HANDSHAKE,
        ("c", "PA", 101, 501, 500),  # the request and its body
        ("s", "PA", 501, 601, 200),  # the answer
        ("s", "FA", 701, 601),  # shutdown(SHUT_WR)
        ("c", "A", 601, 702),
        ("s", "RA", 702, 601),  # close() with unread data
    )
    [result] = analyze_segments(segments).connections
    [reset] = result.resets
    assert reset.cause == "abort"
    assert "TCP_ABORT_ON_CLOSE" in reset.explanation and "500 bytes" in reset.explanation


def test_keep_alive_probes_answered_then_unanswered_and_reset() -> None:
    probes = []
    for i in range(3):  # answered
        probes += [(10.0 + 5 * i, "c", "A", 100, 501), (10.0 + 5 * i + 0.001, "s", "A", 501, 101)]
    for i in range(3):  # unanswered
        probes.append((25.0 + 5 * i, "c", "A", 100, 501))
    probes.append((40.0, "c", "RA", 101, 501))
    found = _kinds(conversation(*HANDSHAKE, *probes))
    [diagnosis] = found["keep_alive"]
    assert "the client probed 6 times" in diagnosis.sentence
    assert "every 5.000 s" in diagnosis.sentence and "3 answered" in diagnosis.sentence
    assert "the last 3 got no answer" in diagnosis.sentence and "keep-alive timeout" in diagnosis.sentence
    [result] = analyze_segments(conversation(*HANDSHAKE, *probes)).connections
    [reset] = result.resets
    assert reset.cause == "keep_alive_timeout" and reset.evidence == [10, 11, 12, 13]  # the probes, the RST
    assert "or sooner at TCP_USER_TIMEOUT" in reset.explanation
    # The server's own FIN after the client's RST answers no probe (helper-100's kauto).
    [after] = _kinds(conversation(*HANDSHAKE, *probes, (40.025, "s", "FA", 501, 101)))["keep_alive"]
    assert "3 answered" in after.sentence and "the last 3 got no answer" in after.sentence


@pytest.mark.parametrize(
    ("gaps", "cause"), [((0.4, 0.8, 1.6, 3.2, 6.4), "abort"), ((5.0,) * 5, "keep_alive_timeout")]
)
def test_probes_of_a_zero_window_unanswered_then_a_rst(gaps: tuple, cause: str) -> None:
    """The same shape while the peer's window is zero: probes ever further apart are the
    persist timer's (Linux sends them one below its next byte, as a keep-alive; it backs off
    as the retransmission timer does), which reset nothing when they run out: the RST is the
    application's abort. Probes one interval apart are keep-alives all the same (nothing
    waited to be sent), and the RST their timer's."""
    steps = [("c", "PA", 101, 501, 1000), (0.2, "s", "A", 501, 1101)]
    probes = []
    time = 0.2
    for i, gap in enumerate(gaps):
        time += gap
        probes.append((time, "c", "A", 1100, 501))
        if i < 2:  # the first two answered, the window still zero
            probes.append((time + 0.001, "s", "A", 501, 1101))
    probes.append((time + 2 * gaps[-1], "c", "RA", 1101, 501))
    segments = conversation(*HANDSHAKE, *steps, *probes)
    for segment in segments[4:]:
        if segment.src == segments[1].src:
            segment.window = 0
    [result] = analyze_segments(segments).connections
    [reset] = result.resets
    assert reset.cause == cause
    if cause == "abort":
        assert (
            "last 3 window probes went unanswered while the server's window was zero (frame 9)"
            in reset.explanation
        )
        assert reset.evidence == [9, 10, 11, 12, 13]


def test_a_persist_timer_that_gave_up_silently_is_named_in_the_rst_for_no_socket() -> None:
    """helper-100's uto (TCP_USER_TIMEOUT 2 s, the server not reading): the client probes the
    zero window, the probes answered, and the timer gives the connection up without a packet
    (Linux counts TCP_USER_TIMEOUT from the first probe); the server's window update 3.4 s
    after the last probe finds no socket, and the client's kernel answers it with a RST."""
    steps = [("c", "PA", 101, 501, 1000), (0.05, "s", "A", 501, 1101)]
    probes = [
        (0.25, "c", "A", 1100, 501), (0.2501, "s", "A", 501, 1101),
        (0.70, "c", "A", 1100, 501),
        (1.56, "c", "A", 1100, 501), (1.5601, "s", "A", 501, 1101),
        (5.0, "s", "A", 501, 1101), (5.0001, "c", "R", 1101, 0),
    ]  # fmt: skip
    segments = conversation(*HANDSHAKE, *steps, *probes)
    for segment in segments[4:-2]:
        if segment.src == segments[1].src:
            segment.window = 0  # the update, frame 11, opens it
    [result] = analyze_segments(segments).connections
    [reset] = result.resets
    assert reset.cause == "no_connection"
    assert "the server's window was zero (frame 5), the client probed it 3 times (frames 6, 8, 9" in (
        reset.explanation
    )
    assert "its persist timer gave up silently (Linux: TCP_USER_TIMEOUT" in reset.explanation
    # Data sent again and again, not probes, is no persist timer's.
    for segment in segments[4:-2]:
        segment.window = 4096
    [result] = analyze_segments(segments).connections
    assert "persist timer" not in result.resets[0].explanation


def test_data_to_an_end_still_probing_a_zero_window_is_answered_by_its_closed_socket() -> None:
    """helper-102's x17 (a server that exited with its writes blocked by the client's zero
    window: its FIN held behind the data, FIN_WAIT_1 unseen): the server probes the window,
    then the client's data 0.1 s after the last probe, before the next was due, is answered
    by a RST without ACK. The socket was there (it was probing): a closed one answers data
    so (TCP_ABORT_ON_DATA), not one gone (the text hedges: TCP_USER_TIMEOUT may end a socket
    between probes, helper-103's review). Past the next probe's time, it may have been gone."""
    steps = [("s", "PA", 501, 101, 1000), (0.04, "c", "A", 101, 1501)]
    probes = [
        (0.25, "s", "A", 1500, 101), (0.2501, "c", "A", 101, 1501),
        (0.47, "s", "A", 1500, 101), (0.4701, "c", "A", 101, 1501),
        (0.90, "s", "A", 1500, 101), (0.9001, "c", "A", 101, 1501),
    ]  # fmt: skip

    def analyzed(*data_then_reset: tuple):
        """The conversation with `data_then_reset` after the probes, the client's window shut."""
        segments = conversation(*HANDSHAKE, *steps, *probes, *data_then_reset)
        for segment in segments[4:]:
            if segment.src == segments[0].src:
                segment.window = 0
        [result] = analyze_segments(segments).connections
        return result

    result = analyzed((1.0, "c", "PA", 101, 1501, 12), (1.0001, "s", "R", 1501, 0))
    [reset] = result.resets
    assert reset.cause == "data_after_close" and reset.evidence == [5, 6, 8, 10, 12, 13]
    assert "still probing the client's zero window (frame 5; its last probe, frame 10" in reset.explanation
    assert "unless a TCP_USER_TIMEOUT ended it just then" in reset.explanation
    assert result.states["server"][-1][1] == "CLOSED" and result.steps[-1].sender_before == "ESTABLISHED"
    [note] = [n for n in result.notes if n.startswith("frame 12 not applied")]
    assert "still probing the zero window, had been closed" in note
    # The data 2 s after the last probe (0.86 s was due next): the timer may have ended it.
    result = analyzed((2.9, "c", "PA", 101, 1501, 12), (2.9001, "s", "R", 1501, 0))
    assert (
        result.resets[0].cause == "no_connection" and "persist timer gave up" in result.resets[0].explanation
    )


def test_a_keep_alive_the_peer_answers_with_a_rst_is_answered() -> None:
    """The server's socket gone (ppa_http_espn_fail #7): its RST is the answer to the probe."""
    probes = [(10.0, "c", "A", 100, 501), (10.001, "s", "A", 501, 101), (15.0, "c", "A", 100, 501)]
    diagnosis = _one(conversation(*HANDSHAKE, *probes, (15.001, "s", "R", 501, 0)), "keep_alive")
    assert "2 times" in diagnosis.sentence and "1 answered by an ACK" in diagnosis.sentence
    assert "the server answered the last with a RST (frame 7)" in diagnosis.sentence
    assert "none answered" not in diagnosis.sentence and 7 in diagnosis.frames


def test_a_window_probe_s_byte_acknowledged_is_no_packet_the_capture_missed() -> None:
    """A Windows or BSD sender probes a zero window with its next byte; the ACK that opens
    the window acknowledges it, and the data goes on after it. Wireshark's rules (tshark
    4.0.17, helper-110's zwp_1byte) leave the byte unsent: that ACK and the next acknowledge
    data not captured, the data after it follows a gap. Nothing was missed: the report's own
    reading says nothing of the capture, the ladder nothing of gaps."""
    from analyzer.output.labels import analysis_notes
    from analyzer.output.text_report import analysis_text

    segments = conversation(
        *HANDSHAKE,
        ("c", "PA", 101, 501, 1000),
        ("s", "A", 501, 1101),
        (0.3, "c", "A", 1101, 501, 1),
        (0.9, "c", "A", 1101, 501, 1),
        (0.901, "s", "A", 501, 1102),
        ("c", "PA", 1102, 501, 1000),
        ("s", "A", 501, 2102),
    )
    segments[4].window = 0
    [result] = analyze_segments(segments).connections
    wireshark = result.sequence.counts()
    assert (wireshark["zero_window_probe"], wireshark["ack_lost_segment"], wireshark["lost_segment"]) == (
        2,
        2,
        1,
    )
    own = result.own_sequence.counts()
    assert own["ack_lost_segment"] == own["lost_segment"] == 0 and own["zero_window_probe"] == 2
    assert result.gaps is None
    notes = analysis_notes(result)
    assert not any("gap" in note or "not captured" in note for note in notes.values())
    text = analysis_text(analyze_segments(segments))
    assert "packets not in the capture" not in text and "ack lost segment 2" in text


def test_a_window_probe_done_with_does_not_hide_a_gap_2_gib_later() -> None:
    """Once the probe's byte is acknowledged the own reading forgets it: 2 GiB later (its
    number ahead again, modulo 2**32) an ACK of data the capture missed is flagged
    (helper-112). Wireshark's reading took the ACK of the probe's byte for one of data not
    captured, set the client's duplicate ACK count to -1, and the client's ACK never moves:
    it flags no later ACK beyond all the client sent (tshark 4.0.17 on the same shape,
    small: probe, its ACK, then a segment missed and the ACK past it, unflagged)."""
    from analyzer.decode.segment import PSH, SYN
    from analyzer.findings.retransmissions import SequenceJudge

    def kinds_after_the_gap(own: bool) -> tuple[list[str], list[str]]:
        judge = SequenceJudge(own=own)
        frame = 0

        def feed(from_client: bool, flags: int, seq: int, ack: int, window: int, length: int) -> list[str]:
            nonlocal frame
            frame += 1
            src, dst = (("192.0.2.1", 40000), ("192.0.2.2", 80))[:: 1 if from_client else -1]
            segment = Segment(frame, 100.0 + frame * 1e-4, 4, *src, *dst, flags, seq % 2**32, ack % 2**32,
                              window, length, None)  # fmt: skip
            return judge.feed(segment, from_client)

        feed(True, SYN, 0, 0, 65535, 0)
        feed(False, SYN | ACK, 0, 1, 65535, 0)
        feed(True, ACK | PSH, 1, 1, 65535, 1000)
        feed(False, ACK, 1, 1001, 0, 0)  # no room
        assert "zero_window_probe" in feed(True, ACK | PSH, 1001, 1, 65535, 1)
        feed(False, ACK, 1, 1002, 65535, 0)  # the probe's byte taken, room again
        sent, size = 1002, 10_000_000
        while sent < 2**31 + 20_000_000:
            feed(True, ACK | PSH, sent, 1, 65535, size)
            sent += size
            feed(False, ACK, 1, sent, 65535, 0)
        sent += size  # a segment the capture missed
        return feed(False, ACK, 1, sent, 65535, 0), feed(True, ACK | PSH, sent, 1, 65535, size)

    assert kinds_after_the_gap(own=True) == (["ack_lost_segment"], ["lost_segment"])
    assert kinds_after_the_gap(own=False) == ([], ["lost_segment"])


def test_a_rst_after_one_unanswered_keep_alive_is_an_abort() -> None:
    probes = [(10.0, "c", "A", 100, 501), (10.001, "s", "A", 501, 101), (15.0, "c", "A", 100, 501)]
    [result] = analyze_segments(conversation(*HANDSHAKE, *probes, (15.5, "c", "RA", 101, 501))).connections
    assert [r.cause for r in result.resets] == ["abort"]


def test_zero_window_stall_with_probes_until_the_update() -> None:
    segments = conversation(*HANDSHAKE, ("c", "PA", 101, 501, 1000), ("s", "A", 501, 1101))
    segments[-1].window = 0  # frame 5: the server's window is full
    probes = conversation((1.0, "c", "A", 1100, 501), (2.0, "c", "A", 1100, 501), (3.0, "s", "A", 501, 1101),
                          start=segments[-1].time)  # fmt: skip
    for number, segment in enumerate(probes, start=6):
        segment.frame = number
    probes[0].payload_len = probes[1].payload_len = 1
    probes[0].seq = probes[1].seq = 1101
    diagnosis = _one(segments + probes, "zero_window")
    assert "the server's receive window was zero for 3.000 s from frame 5" in diagnosis.sentence
    assert "window update (frame 8)" in diagnosis.sentence and "2 window probes" in diagnosis.sentence
    # The client gives up and resets instead: the stall ends there, not at the capture's end.
    probes[2] = dataclasses.replace(
        probes[1],
        frame=8,
        time=probes[1].time + 1.0,
        stamp=probes[1].stamp + NS,
        flags=RST | ACK,
        payload_len=0,
    )
    diagnosis = _one(segments + probes, "zero_window")
    assert (
        "zero for 3.000 s from frame 5, until the RST of frame 8 ended the connection" in diagnosis.sentence
    )


def test_an_ends_momentary_zero_windows_are_one_diagnosis_beside_its_real_stall() -> None:
    """A bulk transfer to a slow reader (helper-115's k_linger): the server's window full for
    microseconds, then opened, three times, and once for 2 s: the three are one diagnosis (it
    printed one each, 42 in that capture), the stall its own. One momentary stall alone
    keeps its own words."""
    steps: list[tuple] = [*HANDSHAKE]
    seq = 101
    for at in (1.0, 1.1, 1.2):
        steps += [(at, "c", "PA", seq, 501, 1000), (at + 0.00001, "s", "A", 501, seq + 1000)]
        steps += [(at + 0.00003, "s", "A", 501, seq + 1000)]  # the window opens 20 µs later
        seq += 1000
    steps += [
        (2.0, "c", "PA", seq, 501, 1000),
        (2.00001, "s", "A", 501, seq + 1000),
        (4.0, "s", "A", 501, seq + 1000),
    ]
    segments = conversation(*steps)
    for zero in (5, 8, 11, 14):
        segments[zero - 1].window = 0
    found = _kinds(segments)["zero_window"]
    assert [d.sentence.split(":")[0] for d in found] == [
        "the server's receive window was zero 3 times for a moment, each opened again within 1.000 ms and "
        "before any window probe (from frame 5 on)",
        "the server's receive window was zero for 2.000 s from frame 14, until its window update (frame 15)",
    ]
    assert found[0].frames == [5, 6, 8, 9, 11, 12]
    alone = _kinds(segments[:7])["zero_window"]
    assert [d.sentence.split(",")[0] for d in alone] == [
        "the server's receive window was zero for 20 µs from frame 5"
    ]


@pytest.mark.parametrize("stalls", [STALLS_TOLD, STALLS_TOLD + 2])
def test_an_ends_many_stalls_are_one_diagnosis(stalls) -> None:
    """helper-119's slow reader behind a bottleneck: 258 stalls, each opened by its window
    update, 258 lines alike but for their numbers. More than STALLS_TOLD are one: how many,
    their time in all, the longest."""
    steps: list[tuple] = [*HANDSHAKE]
    seq = 101
    for n in range(stalls):
        at = 1.0 + n
        steps += [(at, "c", "PA", seq, 501, 1000), (at + 0.001, "s", "A", 501, seq + 1000)]
        steps += [(at + 0.05 * (n + 1), "s", "A", 501, seq + 1000)]  # opened 50 ms, 100 ms ... later
        seq += 1000
    segments = conversation(*steps)
    for n in range(stalls):
        segments[4 + 3 * n].window = 0
    found = _kinds(segments)["zero_window"]
    if stalls <= STALLS_TOLD:
        assert len(found) == stalls
        return
    [one] = found
    longest = 0.05 * stalls - 0.001
    assert one.sentence.startswith(
        f"the server's receive window was zero {stalls} times from frame 5 on, "
        f"{format_duration(sum(0.05 * (n + 1) - 0.001 for n in range(stalls)))} in all, the longest "
        f"{format_duration(longest)} (frame {5 + 3 * (stalls - 1)}), each until its window update: its application"
    )
    assert len(one.frames) == 2 * stalls


def test_a_data_segment_backing_off_shows_its_schedule() -> None:
    sends = [(0.2 * (2**i - 1) + 1.0, "c", "PA", 101, 501, 100) for i in range(5)]  # 0, .2, .6, 1.4, 3.0
    diagnosis = _one(conversation(*HANDSHAKE, *sends), "retransmission_timeout")
    assert "sent 5 times" in diagnosis.sentence
    assert "exponential (initial RTO 0.200 s, factor 2.00)" in diagnosis.sentence
    assert diagnosis.frames == [5, 6, 7, 8]  # the resends of frame 4


def test_copies_that_came_in_another_order_than_sent_are_no_timers_backoff() -> None:
    """A capture behind a path that reorders (helper-99's e1, at the receiver: a segment's
    third send came first, then its first 37 ms later, then its second): the intervals
    between arrivals are the path's delays, not an RTO's, whatever their pattern. The
    identifications of a sender that counts them on tell the order sent; in order, the
    backoff stands, and so where the pair out of order came a timer's interval apart (a
    host's one counter may have come round its 16 bits meanwhile: review-56's finding 3)."""

    def diagnosed(at: list[float], ids: list[int], first: int = 1) -> list[int] | None:
        sends = [(1.0 + when, "c", "PA", 101, 501, 100) for when in at]
        segments = conversation(*HANDSHAKE, *sends)
        for segment, ip_id in zip(segments, [first, first + 1, first + 2, *ids], strict=True):
            segment.ip_id = ip_id
        found = [
            d
            for d in analyze_segments(segments).connections[0].diagnoses
            if d.kind == "retransmission_timeout"
        ]
        return found[0].frames if found else None

    quick = [0.0, 0.037, 0.050, 0.100]
    assert diagnosed(quick, [30, 10, 20, 40]) is None  # frame 4 (id 30) sent after 5 and 6
    assert diagnosed(quick, [10, 20, 30, 40]) == [5, 6, 7]
    backoff = [0.0, 0.2, 0.6, 1.4]
    # A counter that came round: 3000, then 1000 (63,536 on), 0.2 s apart: no path's delay.
    assert diagnosed(backoff, [3000, 1000, 60000, 50000], first=2990) == [5, 6, 7]


def test_a_timers_backoff_after_a_quick_recovery_resend_counts_from_that_resend() -> None:
    """A path that drops big packets (helper-99's e8, a PMTU black hole): the segment resent
    9.5 ms after its first send with the rest of its window (SACK recovery), then by the timer
    at 0.208, 0.412 and 0.832 s: an RTO backoff from the quick resend, not "no timer" for a
    chain whose first interval is shorter than any RTO."""
    at = [0.0, 0.0095, 0.2175, 0.6295, 1.4615]
    sends = [(1.0 + when, "c", "A", 101, 501, 1448) for when in at]
    diagnosis = _one(conversation(*HANDSHAKE, *sends), "retransmission_timeout")
    assert diagnosis.frames == [6, 7, 8]
    assert (
        "was sent 5 times, the resend in frame 5 (loss recovery's: SACK or duplicate ACKs) 9.500 ms after"
        in (diagnosis.sentence)
    )
    assert "intervals 0.208, 0.412, 0.832 s: exponential" in diagnosis.sentence


def test_one_timeout_after_a_lost_recovery_resend_is_told() -> None:
    """helper-139's iperf3 with 1% dropped: a segment resent 354 us after its first send (SACK
    recovery), that resend dropped too, then the RTO 206 ms later: TCPTimeouts 1, no diagnosis
    (a segment resent once by a timer shows no backoff). Two quick resends are recovery's alone."""
    at = [0.0, 0.000354, 0.206275]
    sends = [(1.0 + when, "c", "A", 101, 501, 1428) for when in at]
    diagnosis = _one(conversation(*HANDSHAKE, *sends), "retransmission_timeout")
    assert diagnosis.frames == [6]
    assert (
        "was sent 3 times, the resend in frame 5 (loss recovery's: SACK or duplicate ACKs) 354 µs after"
        in (diagnosis.sentence)
    )
    assert "1 retransmission at intervals 0.206 s" in diagnosis.sentence
    quick = [(1.0 + when, "c", "A", 101, 501, 1428) for when in (0.0, 0.000354, 0.050)]
    [result] = analyze_segments(conversation(*HANDSHAKE, *quick)).connections
    assert "retransmission_timeout" not in {d.kind for d in result.diagnoses}


def test_resends_closer_than_the_round_trip_are_no_timeout() -> None:
    """A 40 ms round trip, the data sent again 18 and then 12 ms later (nginx under wrk on a
    reordering link: recovery's resends, acknowledged at once): no RTO is that short. The same
    schedule on a 2 ms round trip, and a backoff of 200 and 400 ms on the 40 ms one, are."""
    slow = (("c", "S", 100, 0), (0.020, "s", "SA", 500, 101), (0.040, "c", "A", 101, 501))
    quick = [(1.0 + at, "c", "PA", 101, 501, 100) for at in (0.0, 0.018, 0.030)]
    backoff = [(1.0 + at, "c", "PA", 101, 501, 100) for at in (0.0, 0.2, 0.6)]
    [result] = analyze_segments(conversation(*slow, *quick)).connections
    assert "retransmission_timeout" not in {d.kind for d in result.diagnoses}
    assert _one(conversation(*HANDSHAKE, *quick), "retransmission_timeout").frames == [5, 6]
    assert _one(conversation(*slow, *backoff), "retransmission_timeout").frames == [5, 6]
    # A handshake of 1 s (its SYN/ACK resent): a doubling schedule of 200 ms is still a timer's.
    resent = (
        ("c", "S", 100, 0),
        (0.001, "s", "SA", 500, 101),
        (1.0, "s", "SA", 500, 101),
        (1.001, "c", "A", 101, 501),
    )
    sends = [(2.0 + at, "c", "PA", 101, 501, 100) for at in (0.0, 0.2, 0.6, 1.4)]
    assert _one(conversation(*resent, *sends), "retransmission_timeout").frames == [6, 7, 8]


def test_a_lost_resend_sent_again_by_sack_recovery_is_no_timeout() -> None:
    """A review's 5 % loss at 20 ms (the server's counters: TCPTimeouts 0, TCPLostRetransmit
    36): a segment resent twice 25 and 22 ms apart, the peer's duplicate ACKs of its hole
    with SACK blocks coming between: SACK recovery sent again a resend that was lost too. The
    same times with no such ACKs between are still read as the timer's."""
    slow = (("c", "S", 100, 0), (0.010, "s", "SA", 500, 101), (0.020, "c", "A", 101, 501))
    sends = [
        (1.0, "c", "PA", 101, 501, 100),
        (1.025, "c", "PA", 101, 501, 100),
        (1.047, "c", "PA", 101, 501, 100),
    ]
    dup_acks = [(1.01, "s", "A", 501, 101), (1.03, "s", "A", 501, 101), (1.04, "s", "A", 501, 101)]
    segments = conversation(*slow, *sorted([*sends, *dup_acks]))
    for segment in segments:
        if segment.sport == 80 and segment.frame > 3:
            segment.sack_start, segment.sack_end = 201, 301
    assert "retransmission_timeout" not in _kinds(segments)
    assert _one(conversation(*slow, *sends), "retransmission_timeout").frames == [5, 6]


def test_a_rst_with_text_and_an_injected_rst() -> None:
    segments = conversation(*HANDSHAKE, ("c", "PA", 101, 501, 10), ("s", "RA", 501, 111, 13))
    for segment in segments:
        segment.ttl = 64 if segment.sport == 40000 else 52
    segments[-1].payload = b"Access denied"
    segments[-1].ttl = 49  # another box, 3 hops further from the capture
    found = _kinds(segments)
    [text] = found["rst_with_data"]
    assert text.sentence == 'the server\'s RST carries 13 bytes of data: "Access denied"'
    [injected] = found["injected_rst"]
    assert "TTL 49, where the server's other packet has TTL 52" in injected.sentence
    # Below its sender's TTLs its cause (an abort, by the state it came from) does not say
    # flatly that the server did it (helper-116's firewall_injected_rst_low_ttl said both at
    # once); above them it was made nearer (tcp_state.py), injected, whatever the state.
    [result] = analyze_segments(segments).connections
    [reset] = result.resets
    assert reset.cause == "abort"
    assert reset.explanation.endswith(
        "; unless it is not the server's own: its TTL 49 is 3 or more from every one of the server's other "
        "packets (52), as a firewall's or an injector's RST in its name would be (the injected_rst diagnosis)"
    )
    segments[-1].ttl = 61
    [result] = analyze_segments(segments).connections
    assert result.resets[0].cause == "injected"
    segments[-1].ttl = 51  # a hop more: the server's own, on another route
    [result] = analyze_segments(segments).connections
    assert "unless it is not" not in result.resets[0].explanation


def test_a_rst_for_no_connection_at_another_ttl_is_the_path_s_not_the_sender_s() -> None:
    """A RST 'from the server' answering the client's SYN at TTL 46, where the server's own
    packets (its SYN/ACK, its data) come at 49: no closed port's answer (the server listens,
    it accepts the SYN after) but a box on the path's (zeek_rst-inject-rae). Its cause says
    so, as the TTL diagnosis does; at the server's own TTL it stays a closed port's."""
    steps = (
        ("c", "S", 100, 0),
        (0.2, "s", "RA", 0, 100),  # acknowledging the ISN, not the SYN
        (1.2, "s", "SA", 500, 101),
        ("c", "A", 101, 501),
        ("c", "PA", 101, 501, 10),
        ("s", "A", 501, 111),
    )
    for rst_ttl, cause in ((46, "injected"), (49, "no_connection")):
        segments = conversation(*steps)
        for segment in segments:
            segment.ttl = 64 if segment.sport == 40000 else 49
        segments[1].ttl = rst_ttl
        [result] = analyze_segments(segments).connections
        assert [r.cause for r in result.resets] == [cause]
        if cause == "injected":
            assert "its TTL 46 is 3 or more from every one of the server's other packets (49)" in (
                result.resets[0].explanation
            )
            assert "injected_rst" in {d.kind for d in result.diagnoses}


def test_a_rst_s_text_ending_in_a_line_end_is_shown() -> None:
    """A diagnostic ends in "\r\n" as often as not: line ends and tabs are shown as spaces;
    a NUL or other control byte is no text."""
    for data, shown in ((b"connection rejected:\toverload\r\n", '"connection rejected: overload"'),
                        (b"rejected\x00\x01", "not shown")):  # fmt: skip
        segments = conversation(*HANDSHAKE, ("c", "PA", 101, 501, 10), ("s", "RA", 501, 111, len(data)))
        segments[-1].payload = data
        [text] = _kinds(segments)["rst_with_data"]
        assert shown in text.sentence, text.sentence


def test_a_syn_scanners_kernel_rst_is_not_injected() -> None:
    """nmap -sS: the raw SYN at a TTL nmap chose (random, 37 to 59), the SYN/ACK, the
    scanner's kernel's RST at its own 64: the SYN is no measure of the client's TTL. A
    client that sent more than SYNs still is."""
    segments = conversation(("c", "S", 100, 0), ("s", "SA", 500, 101), ("c", "R", 101, 0))
    for segment, ttl in zip(segments, (41, 64, 64), strict=True):
        segment.ttl = ttl
    assert "injected_rst" not in _kinds(segments)
    segments = conversation(*HANDSHAKE, ("c", "PA", 101, 501, 10), ("c", "R", 111, 0))
    for segment in segments:
        segment.ttl = 41 if segment.sport == 40000 else 64
    segments[-1].ttl = 64
    assert "injected_rst" in _kinds(segments)


def test_a_rst_at_the_usual_ttl_is_not_injected() -> None:
    segments = conversation(*HANDSHAKE, ("c", "PA", 101, 501, 10), ("s", "RA", 501, 111))
    for segment in segments:
        segment.ttl = 64 if segment.sport == 40000 else 52
    segments[-1].ttl = 51
    assert "injected_rst" not in _kinds(segments)


@pytest.mark.parametrize("path", stored_captures(), ids=lambda p: p.stem)
def test_diagnoses_in_json_and_text_of_every_stored_capture(path) -> None:
    """Every stored capture says what its scenario did: the one that holds CLOSE_WAIT and the
    ones that abort have their diagnosis; and the JSON and the text agree."""
    document = json.loads(run("analyze", "--json", str(path)).stdout)
    text = run("analyze", str(path)).stdout
    for connection in document["connections"]:
        for diagnosis in connection["diagnoses"]:
            assert set(diagnosis) == {"kind", "frames", "sentence", "display_filter"}
            assert f"diagnosis  {diagnosis['kind']}: {diagnosis['sentence']}" in text
    assert not [r for c in document["connections"] for r in c["resets"] if r["cause"] == "unknown"]


def _with_sack(segments: list[Segment], client: bool = True, server: bool = True) -> list[Segment]:
    for segment in segments:
        if segment.flags & 0x02:  # SYN
            offers = client if segment.sport == 40000 else server
            segment.options = TcpOptions(mss=1460, sack_permitted=offers)
    return segments


def _tail(resend_at: float, *after: tuple, requests: int = 1) -> list[Segment]:
    """The client sends `requests` segments of 100 bytes at 1.0 s; the last is resent at
    1.0 + `resend_at` (the handshake's RTT is 2 ms)."""
    sent = [(1.0 + 0.0001 * i, "c", "PA", 101 + 100 * i, 501, 100) for i in range(requests)]
    resend = (1.0 + resend_at, "c", "PA", 101 + 100 * (requests - 1), 501, 100)
    return _with_sack(conversation(*HANDSHAKE, *sent, resend, *after))


def test_a_tail_resent_after_the_probe_timeout_is_a_loss_probe_that_repaired_a_loss() -> None:
    # One segment in flight: 2 x 2 ms + 200 ms (the delayed ACK allowance); then the ACK covers it.
    segments = _tail(0.205, (1.21, "s", "A", 501, 201))
    diagnosis = _one(segments, "tail_loss_probe")
    assert diagnosis.frames == [5, 6]
    # Only the timing says it was a probe (no D-SACK): a question, in the text and on the ladder.
    headline = "resent after 205.000 ms of silence: a tail loss probe?"
    assert diagnosis.sentence.startswith(headline + " The client resent its last data")
    assert diagnosis.marks[5] == headline
    assert "the time fits its probe timeout (expected about 204.000 ms: 2 x RTT 2.000 ms + 200.000 ms)" in (
        diagnosis.sentence
    )
    assert "but no D-SACK confirms it" in diagnosis.sentence
    assert "covers it with no D-SACK: the original was lost, and the probe repaired it" in diagnosis.sentence
    assert diagnosis.display_filter == "frame.number in {5, 6}"


def test_a_probe_after_a_captured_ack_of_the_original_was_spurious() -> None:
    """The server's ACK of the data is in the capture before the resend (it did not reach the
    client in time): the original had arrived, whatever the ACK after the probe says
    (helper-110's tlp_spurious; tshark flags the resend a spurious retransmission)."""
    segments = _with_sack(
        conversation(
            *HANDSHAKE,
            (1.0, "c", "PA", 101, 501, 100),
            (1.002, "s", "A", 501, 201),
            (1.205, "c", "PA", 101, 501, 100),
            (1.207, "s", "A", 501, 201),
        )
    )
    diagnosis = _one(segments, "tail_loss_probe")
    assert (
        "the server's ACK in frame 5 was captured but did not reach the client in time" in diagnosis.sentence
    )
    assert diagnosis.sentence.endswith(
        "the server's ACK (frame 7) covers it with no D-SACK, but frame 5 had acknowledged the original "
        "before the probe: it had arrived, and the probe was spurious"
    )
    assert "repaired" not in diagnosis.sentence and diagnosis.marks[7] == "ACK: the original had arrived"


@pytest.mark.parametrize(("ack", "said"), [(201, "with an ACK that covers it: it had arrived"),
                                            (101, "without acknowledging it")])  # fmt: skip
def test_a_probe_answered_by_a_reset_is_not_repaired_by_it(ack: int, said: str) -> None:
    """A RST/ACK after the probe (the server's close() with unread data) is no ACK that
    repaired a loss: the peer reset the connection, its ACK number telling what had arrived."""
    segments = _tail(0.205, (1.21, "s", "RA", 501, ack))
    diagnosis = _one(segments, "tail_loss_probe")
    assert diagnosis.frames == [5, 6] and diagnosis.marks[6] == "RST"
    assert diagnosis.sentence.endswith(f"; the server reset the connection (frame 6) {said}")
    assert "repaired" not in diagnosis.sentence


def test_an_ack_whose_options_the_snapshot_length_cut_says_nothing_of_a_d_sack() -> None:
    """(helper-136's snap60) tcpdump -s 60 cut the ACK's SACK option: its D-SACK was there,
    the original had arrived; "no D-SACK: the original was lost" said the opposite."""
    segments = _tail(0.205, (1.21, "s", "A", 501, 201))
    segments[-1].payload_cut = True  # a pure ACK: its options cut
    diagnosis = _one(segments, "tail_loss_probe")
    assert diagnosis.sentence.endswith(
        "the server's ACK (frame 6) covers it, but the capture cut its options (the snapshot length): "
        "whether a D-SACK said the original had arrived is not known"
    )
    assert "lost" not in diagnosis.sentence.split("; ")[-1] and "?" in diagnosis.sentence
    assert diagnosis.marks[6] == "ACK, its options cut: D-SACK not known"


def test_a_probe_answered_by_a_dsack_was_spurious() -> None:
    segments = _tail(0.205, (1.21, "s", "A", 501, 201))
    segments[-1].sack_start, segments[-1].sack_end = 101, 201  # below the ACK: a duplicate SACK
    diagnosis = _one(segments, "tail_loss_probe")
    # The D-SACK confirms it: said without a question, the same words in the text and on the ladder.
    headline = "tail loss probe after 205.000 ms (the D-SACK shows the original arrived)"
    assert diagnosis.sentence.startswith(headline + ": the client resent its last data")
    assert diagnosis.marks == {5: headline, 6: "D-SACK: the probe was spurious"}
    assert "?" not in diagnosis.sentence
    assert "spurious: the server's D-SACK (frame 6)" in diagnosis.sentence


def test_a_resend_at_once_is_no_loss_probe_even_without_a_round_trip_known() -> None:
    """sv_syn_retransmit_with_ts: the tail resent in the very microsecond of the send before
    it (a capture begun without its handshake: no RTT known here). No probe timer is shorter
    than two jiffies: that is no tail loss probe, whatever the sender's SRTT was; 206 ms
    later it may be one."""
    sent = [(1.0 + 0.0001 * i, "c", "PA", 1 + 100 * i, 501, 100) for i in range(3)]
    at_once = _with_sack(conversation(*sent, (1.0002, "c", "PA", 201, 501, 100)))
    assert "tail_loss_probe" not in _kinds(at_once)
    later = _with_sack(conversation(*sent, (1.2062, "c", "PA", 201, 501, 100)))
    assert "tail_loss_probe" in _kinds(later)
    # Just past two jiffies (less the slack) it may be one; just short of them, not.
    assert "tail_loss_probe" in _kinds(
        _with_sack(conversation(*sent, (1.0002 + 0.0016, "c", "PA", 201, 501, 100)))
    )
    assert "tail_loss_probe" not in _kinds(
        _with_sack(conversation(*sent, (1.0002 + 0.0014, "c", "PA", 201, 501, 100)))
    )
    # Said as a range where no RTT was measured: 7 ms "fits" no timeout of "about 1 s".
    early = _with_sack(conversation(*sent, (1.0002 + 0.007, "c", "PA", 201, 501, 100)))
    [diagnosis] = _kinds(early)["tail_loss_probe"]
    sentence = diagnosis.sentence
    assert "(expected 2.000 ms to 1.000 s: no RTT measured in the capture" in sentence, sentence
    # One segment in flight: Linux's RTO floor (200 ms) bounds the probe, RTT known or not.
    one = [(1.0, "c", "A", 1, 501), (1.0001, "c", "PA", 1, 501, 100)]
    assert "tail_loss_probe" not in _kinds(_with_sack(conversation(*one, (1.0201, "c", "PA", 1, 501, 100))))
    assert "tail_loss_probe" in _kinds(_with_sack(conversation(*one, (1.2061, "c", "PA", 1, 501, 100))))


def test_with_several_segments_in_flight_the_probe_comes_after_2_rtt() -> None:
    # Three in flight: 2 x 2 ms + 2 ms; the probe resends the last of them, the SACK then
    # shows the two before it missing.
    segments = _tail(0.0062, (0.012, "s", "A", 501, 101), requests=3)
    segments[-1].sack_start, segments[-1].sack_end = 301, 401
    diagnosis = _one(segments, "tail_loss_probe")
    # Two jiffies: the sender's HZ is not in the capture, so the range it spans.
    assert (
        "expected 6.000 ms to 24.000 ms: 2 x RTT 2.000 ms + two jiffies: 2 ms at HZ=1000"
        in diagnosis.sentence
    )
    assert "the server's SACK (frame 8) shows the data from seq 101 missing" in diagnosis.sentence


def test_a_probe_later_than_its_expected_range_says_so() -> None:
    """helper-139's slow reader, captured at it: a probe 27.9 ms after 2 x RTT 11 us and two
    jiffies (up to 20.022 ms) was said to come "at its probe timeout" with nothing of the
    difference. Within the slack past the range it is still a probe, and the text says by how
    much it is later and why it may be."""
    segments = _tail(0.033, (0.035, "s", "A", 501, 401), requests=3)
    segments[-1].sack_start, segments[-1].sack_end = 301, 401
    sentence = _one(segments, "tail_loss_probe").sentence
    assert "expected 6.000 ms to 24.000 ms: 2 x RTT 2.000 ms + two jiffies" in sentence
    assert "; 8.800 ms later than that: the client's smoothed RTT was longer than the round trip" in sentence
    on_time = _tail(0.0062, (0.012, "s", "A", 501, 401), requests=3)
    assert "later than that" not in _one(on_time, "tail_loss_probe").sentence


def _timed_transfer(first_resent: bool) -> list[Segment]:
    """A first segment acknowledged 50 ms later (the handshake's RTT is 2 ms), then three in
    flight and the last resent 102 ms after them: 2 x 50 ms + 2 ms."""
    first = [(1.0, "c", "PA", 101, 501, 100)] + ([(1.03, "c", "PA", 101, 501, 100)] if first_resent else [])
    return _with_sack(
        conversation(
            *HANDSHAKE,
            *first,
            (1.05, "s", "A", 501, 201),
            (1.1, "c", "PA", 201, 501, 100),
            (1.1001, "c", "PA", 301, 501, 100),
            (1.1002, "c", "PA", 401, 501, 100),
            (1.2022, "c", "PA", 401, 501, 100),
            (1.25, "s", "A", 501, 501),
        )
    )


def test_the_probe_timeout_follows_the_round_trip_the_sender_measured() -> None:
    """A busy transfer's queues make the kernel's SRTT far longer than the handshake's RTT:
    the probe is timed against the data's own round trip."""
    diagnosis = _one(_timed_transfer(first_resent=False), "tail_loss_probe")
    assert diagnosis.frames == [9, 10]
    assert "expected 102.000 ms to 120.000 ms: 2 x RTT 50.000 ms + two jiffies" in diagnosis.sentence
    # Karn: the ACK of a resent segment times neither copy, so the 50 ms is no sample; with the
    # handshake's 2 ms the same resend is far past any probe timeout.
    assert "tail_loss_probe" not in _kinds(_timed_transfer(first_resent=True))


@pytest.mark.parametrize(
    ("case", "segments"),
    [
        # The RTO's resend of the head, not the tail, with several in flight.
        (
            "head",
            _with_sack(
                conversation(
                    *HANDSHAKE,
                    (1.0, "c", "PA", 101, 501, 100),
                    (1.0001, "c", "PA", 201, 501, 100),
                    (1.0063, "c", "PA", 101, 501, 100),
                )
            ),
        ),
        # A resend a whole second later: the RTO, far past the probe timeout.
        ("late", _tail(1.0)),
        # The peer had sent a duplicate ACK: fast recovery's, not a timer's.
        (
            "dupack",
            _with_sack(
                conversation(
                    *HANDSHAKE,
                    (1.0, "c", "PA", 101, 501, 100),
                    (1.0001, "c", "PA", 201, 501, 100),
                    (1.003, "s", "A", 501, 101),
                    (1.004, "s", "A", 501, 101),
                    (1.0062, "c", "PA", 201, 501, 100),
                )
            ),
        ),
    ],
)
def test_resends_that_are_no_loss_probe(case: str, segments: list[Segment]) -> None:
    assert "tail_loss_probe" not in _kinds(segments), case


def test_no_loss_probe_without_sack() -> None:
    segments = _tail(0.205, (1.21, "s", "A", 501, 201))
    assert "tail_loss_probe" in _kinds(segments)
    assert "tail_loss_probe" not in _kinds(_with_sack(segments, server=False))


def test_a_new_segment_sent_alone_after_the_probe_timeout_is_a_probe() -> None:
    """The first segment is lost; the probe is the next one, new; the SACK shows the hole and
    the lost one is resent."""
    segments = _with_sack(
        conversation(
            *HANDSHAKE,
            (1.0, "c", "PA", 101, 501, 100),
            (1.2045, "c", "PA", 201, 501, 100),
            (1.21, "s", "A", 501, 101),
            (1.211, "c", "PA", 101, 501, 100),
            (1.22, "s", "A", 501, 301),
        )
    )
    segments[5].sack_start, segments[5].sack_end = 201, 301
    diagnosis = _one(segments, "tail_loss_probe")
    assert diagnosis.frames == [5, 6]
    assert diagnosis.sentence.startswith(
        "new data after 204.500 ms of silence: a tail loss probe? The client sent a new segment alone"
    )
    assert "the server's SACK (frame 6) shows the data from seq 101 missing" in diagnosis.sentence
    # The same write 100 ms later is the application's, not the timer's.
    for segment in segments[4:]:
        segment.time += 0.1
    assert "tail_loss_probe" not in _kinds(segments)


def test_an_rto_backoff_that_a_loss_probe_opened_is_measured_from_the_probe() -> None:
    """Linux on loopback: the probe 0.2 s after the send, then the RTO from the probe: 0.2, 0.4, 0.8 s."""
    sends = [(1.0, "c", "PA", 101, 501, 100)] + [
        (1.0 + t, "c", "PA", 101, 501, 100) for t in (0.205, 0.41, 0.82, 1.64)
    ]
    found = _kinds(_with_sack(conversation(*HANDSHAKE, *sends)))
    assert set(found) == {"tail_loss_probe", "retransmission_timeout"}
    [probe], [rto] = found["tail_loss_probe"], found["retransmission_timeout"]
    assert probe.frames == [5, 6] and "no answer: the RTO resent it (frame 6)" in probe.sentence
    assert rto.frames == [6, 7, 8]
    assert (
        "the resend in frame 5 (a tail loss probe?) 205.000 ms after the first, then the RTO" in rto.sentence
    )
    assert "exponential (initial RTO 0.205 s, factor 2.00)" in rto.sentence
    assert rto.label == "RTO backoff ×2, 3 resends"
    assert probe.marks == {
        5: "resent after 205.000 ms of silence: a tail loss probe?",
        6: "RTO: no answer to the resend",
    }


def test_one_byte_window_probes_are_probes_not_keep_alives_or_resends() -> None:
    """A Windows or BSD stack probes a zero window with one byte at the next sequence number,
    the same byte each time (helper-made zerowin1b.pcap, checked against tshark 4.0.17):
    Wireshark flags each a zero window probe and each zero-window answer its ACK; none is a
    keep-alive, a retransmission or a backoff, and the stall names three probes."""
    steps = [*HANDSHAKE, ("c", "PA", 101, 501, 1000), ("s", "A", 501, 1101)]
    for at in (0.2, 0.4, 0.6):
        steps += [(at, "c", "A", 1101, 501, 1), (at + 0.001, "s", "A", 501, 1101)]
    steps += [(0.7, "s", "A", 501, 1101), (0.701, "c", "PA", 1101, 501, 100), (0.702, "s", "A", 501, 1201)]
    segments = conversation(*steps)
    for segment in segments[4:11]:
        if segment.src == segments[1].src:
            segment.window = 0  # the server's window stays shut until frame 12
    [result] = analyze_segments(segments).connections
    flags = result.sequence.flags
    assert [frame for frame, kinds in flags.items() if "zero_window_probe" in kinds] == [6, 8, 10]
    assert [frame for frame, kinds in flags.items() if "zero_window_probe_ack" in kinds] == [7, 9, 11]
    assert not any({"keep_alive", "retransmission"} & set(kinds) for kinds in flags.values())
    assert result.resends == {}
    diagnosis = _one(segments, "zero_window")
    assert "3 window probes" in diagnosis.sentence and "window update (frame 12)" in diagnosis.sentence


def test_one_byte_keep_alives_are_keep_alives_not_resends() -> None:
    """Windows probes an idle connection with one byte one below its next number, a byte the
    peer acknowledged long ago (Linux sends none): Wireshark flags each a keep-alive and none a
    retransmission. A byte not yet acknowledged, sent again the same way, is a resend."""
    steps = [*HANDSHAKE, ("c", "PA", 101, 501, 10), ("s", "A", 501, 111)]
    for at in (120.0, 150.0, 180.0, 210.0):
        steps += [(at, "c", "A", 110, 501, 1), (at + 0.01, "s", "A", 501, 111)]
    steps += [(211.0, "c", "RA", 111, 501)]
    [result] = analyze_segments(conversation(*steps)).connections
    flags = result.sequence.flags
    assert [frame for frame, kinds in flags.items() if "keep_alive" in kinds] == [6, 8, 10, 12]
    assert result.resends == {}
    assert "retransmission_timeout" not in {d.kind for d in result.diagnoses}
    unacked = [
        *HANDSHAKE,
        ("c", "PA", 101, 501, 1),
        *[(0.2 * 2**i, "c", "PA", 101, 501, 1) for i in range(4)],
    ]
    [lost] = analyze_segments(conversation(*unacked)).connections
    assert sorted(lost.resends) == [5, 6, 7, 8]


def test_a_rst_below_what_its_receiver_acknowledged_is_not_its_senders() -> None:
    """An idle-timeout firewall's RST in the server's name at seq 0, no ACK: no TCP resets
    below what its peer acknowledged. The server stays ESTABLISHED; the client drops it."""
    segments = conversation(
        *HANDSHAKE, ("c", "PA", 101, 501, 10), ("s", "A", 501, 111), (30.0, "s", "R", 0, 0)
    )
    [result] = analyze_segments(segments).connections
    [reset] = result.resets
    assert reset.cause == "injected" and not reset.accepted
    assert "501 bytes below what the client had acknowledged" in reset.explanation
    assert result.states["server"][-1][1].value == "ESTABLISHED"
    assert result.states["client"][-1][1].value == "ESTABLISHED"
    # The server's ISN above 2^31: 0 is then "ahead" of what the client acknowledged, by more
    # than any window reaches.
    high = conversation(
        ("c", "S", 100, 0), ("s", "SA", 3_000_000_000, 101), ("c", "A", 101, 3_000_000_001),
        ("c", "PA", 101, 3_000_000_001, 10), ("s", "A", 3_000_000_001, 111), (30.0, "s", "R", 0, 0),
    )  # fmt: skip
    [result] = analyze_segments(high).connections
    [reset] = result.resets
    assert (
        reset.cause == "injected"
        and "1294967295 bytes past what the client had acknowledged" in reset.explanation
    )
    assert result.states["server"][-1][1].value == "ESTABLISHED"


def test_a_rst_answering_a_segment_taken_after_the_abort_is_no_forgery() -> None:
    """helper-119: the client aborts (SO_LINGER 0) while the server's ACKs are on their way;
    one still in the socket's backlog is taken after the socket is gone and answered for no
    socket, at its acknowledgment number, below the server's latest: the kernel's own RST,
    not "injected ... a reset attack". At another number below, it still is not its own."""
    for seq, own in ((121, True), (105, False)):
        segments = conversation(
            *HANDSHAKE, ("c", "PA", 101, 501, 20), ("s", "A", 501, 121), ("c", "PA", 121, 501, 20),
            ("s", "A", 501, 141), ("c", "RA", 141, 501), ("c", "R", seq, 0),
        )  # fmt: skip
        [result] = analyze_segments(segments).connections
        assert [r.cause for r in result.resets] == ["abort", "after_reset" if own else "injected"]


def test_a_rst_one_below_after_its_senders_fin_is_no_forgery() -> None:
    """Some stacks reset at their FIN's own number once it was acknowledged."""
    segments = conversation(
        *HANDSHAKE, ("s", "FA", 501, 101), ("c", "A", 101, 502), ("c", "FA", 101, 502), ("s", "A", 502, 102),
        ("s", "RA", 501, 102),
    )  # fmt: skip
    [result] = analyze_segments(segments).connections
    assert [r.cause for r in result.resets] == ["after_close"]


def _resent(rst_at: float) -> list[Segment]:
    """The client's segment sent at 5 s and again after 0.2, 0.4, 0.8, 1.6 s, never
    answered, then the client's RST."""
    copies = [(5.0 + t, "c", "PA", 101, 501, 60) for t in (0.0, 0.2, 0.6, 1.4, 3.0)]
    return conversation(*HANDSHAKE, *copies, (rst_at, "c", "RA", 161, 501))


def test_a_rst_when_the_next_retransmission_was_due_is_the_stack_giving_up() -> None:
    """Windows resets once TcpMaxDataRetransmissions ran out, when the next copy was due."""
    [result] = analyze_segments(_resent(11.2)).connections
    [reset] = result.resets
    assert reset.cause == "retransmission_give_up"
    assert reset.evidence == [4, 5, 6, 7, 8, 9]  # the copies, then the RST
    assert (
        "sent 5 times over 3.000 s" in reset.explanation
        and "3.200 s after the last copy" in reset.explanation
    )


def test_a_rst_well_before_or_long_after_the_next_retransmission_was_due_is_an_abort() -> None:
    # The last interval 1.6 s: the next copy due 1.6 to 3.2 s after the last (8.0 s).
    [result] = analyze_segments(_resent(9.5)).connections
    assert [r.cause for r in result.resets] == ["retransmission_give_up"]
    [result] = analyze_segments(_resent(9.3)).connections
    assert [r.cause for r in result.resets] == ["abort"]
    [result] = analyze_segments(_resent(12.5)).connections
    assert [r.cause for r in result.resets] == ["abort"]


def test_windows_keep_alives_before_a_rst_are_no_data_resent() -> None:
    """Windows probes with one byte one below its next number: a keep-alive timeout."""
    probes = [(10.0 + i, "c", "A", 100, 501, 1) for i in range(6)]
    [result] = analyze_segments(conversation(*HANDSHAKE, *probes, (16.0, "c", "RA", 101, 501))).connections
    assert [r.cause for r in result.resets] == ["keep_alive_timeout"]


def test_no_close_wait_for_an_end_that_closed_first_nor_for_an_answer_being_made() -> None:
    # The client closed first, then the server; 5 s later the server's old duplicate is
    # acknowledged by the client's TIME_WAIT and the server, CLOSED, resets.
    closed_first = conversation(
        *HANDSHAKE, ("c", "FA", 101, 501), ("s", "A", 501, 102), ("s", "FA", 501, 102), ("c", "A", 102, 502),
        (5.0, "s", "A", 501, 102), ("c", "A", 102, 502), ("s", "R", 502, 0),
    )  # fmt: skip
    assert "close_wait_held" not in _kinds(closed_first)
    [result] = analyze_segments(closed_first).connections
    assert [r.cause for r in result.resets] == ["after_close"]  # its FIN came second: no FIN_WAIT_2
    # A request sent with its FIN (shutdown(SHUT_WR)); the server takes 2 s to answer, then
    # sends its answer and its FIN at once: working, not holding CLOSE_WAIT.
    answering = conversation(
        *HANDSHAKE, ("c", "FPA", 101, 501, 20), ("s", "A", 501, 122),
        (2.0, "s", "PA", 501, 122, 300), ("s", "FA", 801, 122), ("c", "A", 122, 802),
    )  # fmt: skip
    assert "close_wait_held" not in _kinds(answering)
    # The same request, its FIN 1 s after it: the server still works on its answer. But a
    # client's silence after a server's push it never answered, the server's FIN (its
    # process killed) a second later, is a close not made (sigkill).
    late_fin = conversation(
        *HANDSHAKE, ("c", "PA", 101, 501, 20), ("s", "A", 501, 121), (1.0, "c", "FA", 121, 501),
        ("s", "A", 501, 122), (3.0, "s", "PA", 501, 122, 300), ("s", "FA", 801, 122), ("c", "A", 122, 802),
    )  # fmt: skip
    assert "close_wait_held" not in _kinds(late_fin)
    pushed = conversation(
        *HANDSHAKE, (0.2, "s", "PA", 501, 101, 5000), ("c", "A", 101, 5501), (1.2, "s", "FA", 5501, 101),
        ("c", "A", 101, 5502), (3.6, "c", "PA", 101, 5502, 5), ("s", "R", 5502, 0),
    )  # fmt: skip
    assert "close_wait_held" in _kinds(pushed)


def test_a_lone_rst_ack_at_zero_is_a_closed_ports_answer_not_an_abort() -> None:
    """A SYN flood's backscatter, or one direction captured: the RST/ACK a closed port sends
    for a SYN, with no SYN in the capture: a refusal of that SYN."""
    [result] = analyze_segments(conversation(("s", "RA", 0, 101))).connections
    [reset] = result.resets
    assert (reset.cause, reset.state) == ("refused", "CLOSED")
    assert "a RST/ACK at sequence number 0 answers a SYN, here one not in the capture" in reset.explanation
    # Mid-stream, a RST at another number may be an abort of a connection begun earlier.
    [result] = analyze_segments(conversation(("s", "RA", 5555, 101))).connections
    assert [r.cause for r in result.resets] == ["abort"]
    # Without ACK it is no abort (a stack's carries ACK): hping3 -R --rand-source's.
    [result] = analyze_segments(conversation(("c", "R", 5555, 0))).connections
    [reset] = result.resets
    assert reset.cause == "unknown" and "a RST without ACK is the first segment" in reset.explanation


def test_data_a_second_after_the_close_is_answered_by_a_closed_socket_not_a_timer() -> None:
    """curl --max-time 1 closes; the server's answer comes 1 s later: the orphan, in
    FIN_WAIT_2 (the kernel's timewait socket in that substate), answers data with RST,
    its 60 s timer far from run out. A late FIN would have been taken: only its RST says
    the timer ended the socket."""
    segments = conversation(
        *HANDSHAKE, ("c", "PA", 101, 501, 80), ("s", "A", 501, 181), ("c", "FA", 181, 501), ("s", "A", 501, 182),
        (1.01, "s", "PA", 501, 182, 300), ("c", "R", 182, 0),
    )  # fmt: skip
    [result] = analyze_segments(segments).connections
    [reset] = result.resets
    assert reset.cause == "data_after_close" and "in FIN_WAIT_2 too" in reset.explanation
    late_fin = conversation(
        *HANDSHAKE, ("c", "FA", 101, 501), ("s", "A", 501, 102), (2.0, "s", "FA", 501, 102), ("c", "R", 102, 0)
    )  # fmt: skip
    [result] = analyze_segments(late_fin).connections
    assert [r.cause for r in result.resets] == ["fin_wait_2_expired"]
    # Data 65 s later, past Linux's default: the timer's doing, unless the sidecar says longer.
    segments = conversation(
        *HANDSHAKE, ("c", "FA", 101, 501), ("s", "A", 501, 102), (65.0, "s", "PA", 501, 102, 10), ("c", "R", 102, 0)
    )  # fmt: skip
    [result] = analyze_segments(segments).connections
    assert [r.cause for r in result.resets] == ["fin_wait_2_expired"]
    [reset] = record_fin_timeout(result.connection, result.resets, 120)
    assert reset.cause == "data_after_close" and "tcp_fin_timeout 120 s" in reset.explanation


def test_a_rst_its_receiver_dropped_neither_opens_nor_ends_a_zero_window() -> None:
    """The stalled server's RST, at a number the client does not take (challenged), carries
    a window: it is no window update, and the connection goes on."""
    segments = conversation(
        *HANDSHAKE, ("c", "PA", 101, 501, 1000), ("s", "A", 501, 1101), (3.0, "s", "RA", 9_000_000, 1101)
    )
    segments[4].window = 0  # frame 5: the server's window is full
    [result] = analyze_segments(segments).connections
    assert [r.accepted for r in result.resets] == [False]
    diagnosis = _one(segments, "zero_window")
    assert "until the capture ended" in diagnosis.sentence and "window update" not in diagnosis.sentence


def test_a_zero_window_opened_at_once_is_no_application_that_stopped_reading() -> None:
    """A helper's curl run: a zero window reopened 15 µs later, no probe between, was blamed on
    an application "not reading as fast as the server sent". Opened 122 ms later, it is."""
    for gap, slow in ((0.000015, False), (0.122, True)):
        segments = conversation(*HANDSHAKE, ("c", "PA", 101, 501, 1000), ("s", "A", 501, 1101))
        segments[-1].window = 0  # frame 5: the server's window is full
        [update] = conversation((gap, "s", "A", 501, 1101), start=segments[-1].time)
        update.frame = 6
        diagnosis = _one([*segments, update], "zero_window")
        assert ("its application was not reading as fast" in diagnosis.sentence) == slow, diagnosis.sentence
        assert ("its buffer full for a moment and read at once" in diagnosis.sentence) == (not slow)


def test_a_rst_made_nearer_the_capture_point_is_diagnosed_injected() -> None:
    """A RST one hop above every other packet of its claimed sender (a router's reject with
    tcp reset, one hop before the server): under INJECTED_TTL_GAP, yet the state machine
    takes it as made nearer (tcp_state.py), and the diagnosis says so too."""
    segments = conversation(
        *HANDSHAKE, ("c", "PA", 101, 501, 10), ("s", "A", 501, 111), ("s", "RA", 501, 111)
    )
    for segment in segments:
        segment.ttl = 64 if segment.sport == 40000 else 62
    segments[-1].ttl = 63
    [injected] = _kinds(segments)["injected_rst"]
    assert injected.frames == [6]
    assert "claims to come from the server but its TTL 63 is above every other packet's" in injected.sentence


def test_a_keep_alive_answered_by_a_window_update_is_answered() -> None:
    """The first ACK after a handshake can carry another window (unscaled in the SYN/ACK):
    Wireshark calls it a window update, not a keep-alive ACK; it answers the probe all the
    same (a real keep-alive run: 4 probes, 4 answers, the kernel agreeing)."""
    probes = []
    for i in range(4):
        probes += [(10.0 + i, "c", "A", 100, 501), (10.0 + i + 0.001, "s", "A", 501, 101)]
    segments = conversation(*HANDSHAKE, *probes)
    segments[4].window += 1000  # the first answer's window differs from the SYN/ACK's
    [diagnosis] = _kinds(segments)["keep_alive"]
    assert "the client probed 4 times" in diagnosis.sentence and "4 answered" in diagnosis.sentence
    assert diagnosis.frames == [4, 6, 8, 10, 5, 7, 9, 11]


@pytest.mark.parametrize("answered", [False, True])
def test_data_the_server_never_answered_after_its_synack_names_a_full_accept_queue(answered: bool) -> None:
    """The handshake complete on the wire, then the client's request resent on its timer and
    nothing from the server: a listener whose accept queue was full drops the ACK and all
    after it (or the path lost them). Answered at last: the listener took it only then."""
    sends = [(1.0, "c", "PA", 101, 501, 3)] + [
        (1.0 + t, "c", "PA", 101, 501, 3) for t in (0.2, 0.6, 1.4, 3.0)
    ]
    late = [(5.0, "s", "A", 501, 104)] if answered else []
    [rto] = _kinds(conversation(*HANDSHAKE, *sends, *late))["retransmission_timeout"]
    if answered:
        assert (
            "the server sent nothing after its SYN/ACK (frame 2) until frame 9: its listener took the connection "
            "only then (one whose accept queue is full drops the handshake's ACK"
        ) in rto.sentence
    else:
        assert (
            "the server sent nothing after its SYN/ACK (frame 2): its host never took the connection (a listener "
            "whose accept queue is full drops the handshake's ACK and the data after it"
        ) in rto.sentence
    # The client sent its SYN again after the SYN/ACK (a Fast Open SYN a middlebox meddled
    # with, in the corpus): the SYN/ACK had not reached it; no such words.
    resent = [(0.3, "c", "S", 100, 0)]
    [rto] = _kinds(conversation(*HANDSHAKE, *resent, *sends, *late))["retransmission_timeout"]
    assert "sent nothing after its SYN/ACK" not in rto.sentence
    # The server had answered before (its data): the connection was made; no such words.
    spoken = [(0.5, "s", "PA", 501, 101, 10)]
    sends = [(1.0, "c", "PA", 101, 511, 3)] + [
        (1.0 + t, "c", "PA", 101, 511, 3) for t in (0.2, 0.6, 1.4, 3.0)
    ]
    [rto] = _kinds(conversation(*HANDSHAKE, *spoken, *sends))["retransmission_timeout"]
    assert "sent nothing after its SYN/ACK" not in rto.sentence


def test_a_server_s_abort_names_the_listener_closed_over_a_connection_never_accepted() -> None:
    """helper-115's k_backlog_0: a connection left in the accept queue, reset when the
    listener closed at its process's exit, read 'close() with unread data ... SO_LINGER ...'
    alone. A server's abort names that too; a client has no listener."""
    for sender, named in (("s", True), ("c", False)):
        rst = ("s", "RA", 501, 111) if sender == "s" else ("c", "RA", 111, 501)
        [result] = analyze_segments(conversation(*HANDSHAKE, ("c", "PA", 101, 501, 10), rst)).connections
        [reset] = result.resets
        assert reset.cause == "abort"
        assert ("still in the accept queue, never accepted" in reset.explanation) == named
    # A server that sent data had been accepted (helper-117).
    answered = conversation(
        *HANDSHAKE, ("c", "PA", 101, 501, 10), ("s", "PA", 501, 111, 5), ("s", "RA", 506, 111)
    )
    [reset] = analyze_segments(answered).connections[0].resets
    assert reset.cause == "abort" and "never accepted" not in reset.explanation


def test_an_abort_on_the_cadence_of_answered_keep_alives_may_be_the_keep_alive_timer_s() -> None:
    """helper-115's k_keepalive_srv: the server's keep-alives each answered in the capture, but
    the answers dropped on its host after the capture point; its timer gave up and reset the
    connection one interval after the last probe (the kernel's reason: TCP_KEEPALIVE_TIMEOUT).
    An application's idle timeout of whole intervals looks the same (helper-117): an abort
    that names both, the kernel's reason telling them apart where recorded. Off the cadence,
    an abort alone."""
    steps: list[tuple] = [*HANDSHAKE, ("c", "PA", 101, 501, 2), ("s", "A", 501, 103)]
    for n in range(4):
        at = 1.0 + 1.024 * n
        steps += [(at, "s", "A", 500, 103), (at + 0.00002, "c", "A", 103, 501)]
    for after, named in ((1.024, True), (0.3, False)):
        [result] = analyze_segments(
            conversation(*steps, (1.0 + 1.024 * 3 + after, "s", "RA", 501, 103))
        ).connections
        [reset] = result.resets
        assert reset.cause == "abort"
        assert (
            "; or, one keep-alive interval (1.024 s) after the last of its 4 keep-alive probes, its keep-alive "
            "timer's give-up, had the client's answers, captured, not reached it" in reset.explanation
        ) == named


def test_a_tso_unit_in_flight_is_several_packets_for_the_probe_timeout() -> None:
    """helper-119's s4, captured at the sender: one 2,896-byte unit (two segments of the
    peer's MSS, 1,460) in flight, its last 1,448 bytes resent 6.2 ms on (2 x RTT 2 ms + two
    jiffies). The kernel counts two packets out: the timer's least is two jiffies, not the
    200 ms it waits for one packet's delayed ACK."""
    unit = (1.0, "c", "PA", 101, 501, 2896)
    segments = _with_sack(conversation(*HANDSHAKE, unit, (1.0062, "c", "PA", 1549, 501, 1448)))
    [diagnosis] = _kinds(segments)["tail_loss_probe"]
    assert diagnosis.frames == [5]
    # One segment of the MSS in flight, resent as soon: the application's, or nothing a timer sent.
    one = _with_sack(
        conversation(*HANDSHAKE, (1.0, "c", "PA", 101, 501, 1448), (1.0062, "c", "PA", 101, 501, 1448))
    )
    assert "tail_loss_probe" not in _kinds(one)


def test_a_probes_d_sack_after_the_ack_of_the_original_confirms_it() -> None:
    """helper-122's s4 (frames 24, 25, 27): the ACK of the original comes first, the sender
    sends on, then the receiver's D-SACK names the probe's bytes: the probe was spurious."""
    segments = _tail(
        0.0062,
        (1.0063, "s", "A", 501, 401),
        (1.0064, "c", "PA", 401, 501, 100),
        (1.0065, "s", "A", 501, 401),
        requests=3,
    )
    segments[-1].sack_start, segments[-1].sack_end = 301, 401
    [diagnosis] = _kinds(segments)["tail_loss_probe"]
    assert diagnosis.frames == [7, 8, 10]
    assert diagnosis.marks[10] == "D-SACK: the probe was spurious"
    assert "then its D-SACK (frame 10) shows the probe arrived after it" in diagnosis.sentence


def test_a_probes_d_sack_after_an_ack_that_crossed_it_confirms_it_where_an_earlier_ack_was_unheard() -> None:
    """helper-119's s3late.B #2: the ACK of the original captured before the probe (it never
    reached the sender), then the peer's segment that crossed the probe, covering it without
    a D-SACK, then the D-SACK. Read from the other end (s3late.A) the D-SACK came first and
    the probe was confirmed: the verdict no longer depends on that order."""
    segments = _tail(
        0.205, (1.0005, "s", "A", 501, 201), (1.2051, "s", "FA", 501, 201), (1.2052, "s", "A", 502, 201)
    )
    segments = [segments[i] for i in (0, 1, 2, 3, 5, 4, 6, 7)]  # the ACK of the original before the probe
    for number, segment in enumerate(segments, start=1):
        segment.frame = number
    segments[-1].sack_start, segments[-1].sack_end = 101, 201
    [diagnosis] = _kinds(segments)["tail_loss_probe"]
    assert diagnosis.sentence.startswith("tail loss probe after")
    assert "then its D-SACK (frame 8) shows the probe arrived after it" in diagnosis.sentence


def test_keep_alives_of_both_ends_are_told_apart() -> None:
    """helper-131's kafw2: the client half closed, both ends probing every 1.024 s, two probes
    crossing at once. Each end's probes, its peer's answers (not the peer's own probes), and
    its idle time since what it last took in: the counts were 2 and 2, one end 'after 11 µs
    idle', each end's frames holding the other's probes."""
    steps = (
        ("c", "S", 100, 0), ("s", "SA", 500, 101), ("c", "A", 101, 501), ("c", "PA", 101, 501, 3),
        ("s", "A", 501, 104), ("c", "FA", 104, 501), (0.0404, "s", "A", 501, 105),
        (1.0244, "s", "A", 500, 105), (1.02441, "c", "A", 105, 501),
        (1.0444, "c", "A", 104, 501), (1.04441, "s", "A", 501, 105),
        (2.0484, "c", "A", 104, 501), (2.04841, "s", "A", 500, 105), (2.04842, "s", "A", 501, 105),
        (2.04843, "c", "A", 105, 501),
        (3.0724, "s", "A", 500, 105), (3.07241, "c", "A", 104, 501), (3.07242, "c", "A", 105, 501),
        (3.07243, "s", "A", 501, 105),
    )  # fmt: skip
    [result] = analyze_segments(conversation(*steps, gap=0.000005)).connections
    told = {d.sentence.split(" probed")[0]: d for d in result.diagnoses if d.kind == "keep_alive"}
    server, client = told["keep-alive: the server"], told["keep-alive: the client"]
    assert "probed 3 times after 1.024 s idle" in server.sentence and "3 answered" in server.sentence
    assert "probed 3 times after 1.004 s idle" in client.sentence and "3 answered" in client.sentence
    assert sorted(server.frames) == [8, 9, 13, 15, 16, 18]
    assert sorted(client.frames) == [10, 11, 12, 14, 17, 19]
    # One byte sent after ten quiet seconds and sent again by its timer 0.3 s later (Wireshark
    # flags the copy a keep-alive): no stack probes with data of its own out (helper-132).
    resent = (
        *HANDSHAKE,
        (10.0, "c", "PA", 101, 501, 1),
        (10.3, "c", "PA", 101, 501, 1),
        (10.30001, "s", "A", 501, 102),
    )
    assert "keep_alive" not in _kinds(conversation(*resent))


def test_an_rto_after_a_tail_loss_probe_of_new_data_counts_from_the_probe() -> None:
    """helper-131's utoout: the data at 1.0 s, a tail loss probe 207 ms later that sent new
    data (Linux sends new data where it has some, and re-arms the RTO), then the RTO's resends
    of the first at 0.208, 0.436, 0.832 s: doubling, where counted from the first send it read
    0.415 s, 'linear-then-exponential'."""
    steps = (
        *HANDSHAKE, (1.0, "c", "PA", 101, 501, 100), (1.207, "c", "PA", 201, 501, 100),
        (1.415, "c", "PA", 101, 501, 100), (1.851, "c", "PA", 101, 501, 100), (2.683, "c", "PA", 101, 501, 100),
    )  # fmt: skip
    [timeout] = _kinds(conversation(*steps))["retransmission_timeout"]
    assert "new data in frame 5 (a tail loss probe?)" in timeout.sentence
    assert "intervals 0.208, 0.436, 0.832 s: exponential" in timeout.sentence
    # New data in a flight (sent on the heels of the segment before it) is no probe.
    flight = (*steps[:4], (1.001, "c", "PA", 201, 501, 100), *steps[5:])
    [timeout] = _kinds(conversation(*flight))["retransmission_timeout"]
    assert "new data" not in timeout.sentence


@pytest.mark.parametrize("shape", ["black hole", "big one taken", "peer silent"])
def test_full_size_segments_that_vanish_while_small_ones_pass_name_a_path_mtu_black_hole(shape: str) -> None:
    """helper-143: a link of MTU 1280 on the way, its ICMP "fragmentation needed" dropped:
    the server's 204-byte answer taken, its 1448-byte segments resent by the timer for 15 s and
    never acknowledged, the client heard from after (its FIN, acknowledging only the 204
    bytes). The RTO diagnosis names the black hole; not where a segment as big was taken
    before, nor where the client was never heard from again (a dead peer looks alike)."""
    big = 1448
    first = 501 + (big if shape == "big one taken" else 0)
    steps = [
        *HANDSHAKE,
        (0.006, "c", "PA", 101, 501, 81),
        (0.0061, "s", "A", 501, 182),
    ]
    if shape == "big one taken":
        steps += [(0.008, "s", "A", 501, 182, big), (0.0081, "c", "A", 182, first)]
    # The client's ACK of the 204 bytes comes after the big ones left (a round trip after its
    # data): no sign of life after the timer's first resend, the peer silent since.
    steps += [
        (0.010, "s", "PA", first, 182, 204),
        (0.0101, "s", "A", first + 204, 182, big),
        (0.0102, "s", "A", first + 204 + big, 182, big),
        (0.0103, "c", "A", 182, first + 204),
    ]
    steps += [(0.0102 + rto, "s", "A", first + 204, 182, big) for rto in (0.2, 0.6, 1.4, 3.0)]
    if shape != "peer silent":
        steps.append((15.0, "c", "FA", 182, first + 204))
    found = _kinds(conversation(*steps))
    [timeout] = found["retransmission_timeout"]
    said = "no segment of 1,448 bytes ever was acknowledged and no ICMP error came: a path MTU black hole?"
    assert (said in timeout.sentence) == (shape == "black hole"), timeout.sentence
    if shape == "black hole":
        assert "its smaller segments got through (frame 6, 204 bytes, acknowledged)" in timeout.sentence
        assert "the client was heard from after (frame 14)" in timeout.sentence


def test_keep_alive_probes_after_an_answer_and_after_none_are_listed_not_averaged() -> None:
    """helper-144: TCP_KEEPIDLE 2 s, TCP_KEEPINTVL 1 s, the peer gone after the first probe:
    probes 2.016 s, then 1.024 s apart, read "every 1.024 s". Listed, with why they differ;
    even intervals stay "every"."""
    probes = [(2.0, "c", "A", 100, 501), (2.0001, "s", "A", 501, 101)]
    probes += [(t, "c", "A", 100, 501) for t in (4.016, 5.040, 6.064)]
    probes.append((7.088, "c", "R", 101, 0))
    [diagnosis] = _kinds(conversation(*HANDSHAKE, *probes))["keep_alive"]
    assert (
        "at intervals 2.016 s, 1.024 s, 1.024 s (an answered probe starts the idle time again"
        in diagnosis.sentence
    )
    assert diagnosis.marks[4] == "keep-alive"  # no "every" on the ladder either
    even = [(2.0 + i, "c", "A", 100, 501) for i in range(3)] + [(5.0, "c", "R", 101, 0)]
    [steady] = _kinds(conversation(*HANDSHAKE, *even))["keep_alive"]
    assert "every 1.000 s" in steady.sentence and "at intervals" not in steady.sentence
    assert steady.marks[4] == "keep-alive, every 1.000 s"
    # All answered, data between two idle spells: uneven, but no timer's reason to give.
    spells = []
    for start in (2.0, 4.0):
        spells += [(start, "c", "A", 100, 501), (start + 0.0001, "s", "A", 501, 101)]
    spells += [(4.5, "c", "PA", 101, 501, 10), (4.5001, "s", "A", 501, 111)]
    for start in (12.5, 14.5):
        spells += [(start, "c", "A", 110, 501), (start + 0.0001, "s", "A", 501, 111)]
    [answered] = _kinds(conversation(*HANDSHAKE, *spells))["keep_alive"]
    assert "at intervals" in answered.sentence and "starts the idle time again" not in answered.sentence


@pytest.mark.parametrize("peer_acked", [False, True], ids=["a-timeout", "spurious"])
def test_one_resend_after_a_silence_of_the_least_rto_is_a_timeout(peer_acked) -> None:
    """helper-147: a 5 GB transfer's two 200 ms stalls, each segment sent twice (the original
    dropped, then the timer's resend after 195 ms of silence, the peer's SACKs above the
    hole): the kernel counted TCPTimeouts 2, the report said nothing. A resend of data the
    peer had acknowledged (Zeek's retransmit-timeout trace, 300 s later) is no timer's."""
    acked = 1101 if peer_acked else 101
    steps = (*HANDSHAKE, ("c", "PA", 101, 501, 100), ("c", "PA", 201, 501, 100), (0.01, "s", "A", 501, acked),
             (0.011, "s", "A", 501, acked), (0.22, "c", "PA", 101, 501, 100))  # fmt: skip
    kinds = _kinds(conversation(*steps))
    assert ("retransmission_timeout" in kinds) == (not peer_acked)


@pytest.mark.parametrize("rtt", [0.001, 0.3, -1.0], ids=["lan", "long-path", "sender-busy"])
def test_a_fast_retransmit_on_a_long_path_is_no_lone_timeout(rtt) -> None:
    """A review's: on a 300 ms path a window-limited sender is silent a round trip, then the
    duplicate ACKs come and the resend follows the third at once: loss recovery's, not a
    timer's (Linux's RTO is SRTT + 200 ms at the least). On a LAN the same resend 306 ms on
    after silence from both ends is the timer's; not where its sender sent new data just
    before it (no stall to tell a timer by)."""
    busy, rtt = rtt < 0, abs(rtt) if rtt > 0 else 0.001
    half = rtt / 2
    handshake = (("c", "S", 100, 0), (half, "s", "SA", 500, 101), (rtt, "c", "A", 101, 501))
    data = [(rtt + 0.002 * i, "c", "PA", 101 + 100 * i, 501, 100) for i in range(10)]
    if rtt > 0.1:
        acks = [(2 * rtt + 0.001 * i, "s", "A", 501, 101) for i in range(3)]
        resend = [(2 * rtt + 0.0021, "c", "PA", 101, 501, 100)]
    else:
        acks = [(rtt + 0.030 + 0.001 * i, "s", "A", 501, 101) for i in range(3)]
        resend = [(rtt + 0.306, "c", "PA", 101, 501, 100)]
        if busy:
            resend.insert(0, (rtt + 0.300, "c", "PA", 1101, 501, 100))
    kinds = _kinds(conversation(*handshake, *data, *acks, *resend))
    assert ("retransmission_timeout" in kinds) == (rtt < 0.1 and not busy)
