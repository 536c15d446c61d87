"""Diagnoses from the packets alone (findings/diagnoses.py) and the RST causes they lean on:
each kind on a hand-made conversation that has it, and none on one that does not."""

from __future__ import annotations

import json

import pytest
from conftest import run, stored_captures
from segments import HANDSHAKE, conversation

from analyzer.analysis import analyze_segments
from analyzer.decode.segment import Segment


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
        "the server's application did not close: in CLOSE_WAIT it sent nothing for 44.9" in diagnosis.sentence
    )
    assert diagnosis.display_filter == "frame.number in {4 5 6}"


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
    assert "FIN_WAIT_2" in reset.explanation and "tcp_fin_timeout" in reset.explanation


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


def test_a_data_segment_backing_off_shows_its_schedule() -> None:
    sends = [(0.2 * (2**i - 1) + 1.0, "c", "PA", 101, 501, 100) for i in range(5)]  # 0, .2, .6, 1.4, 3.0
    diagnosis = _one(conversation(*HANDSHAKE, *sends), "retransmission_timeout")
    assert "sent 5 times" in diagnosis.sentence
    assert "exponential (initial RTO 0.200 s, factor 2.00)" in diagnosis.sentence
    assert diagnosis.frames == [5, 6, 7, 8]  # the resends of frame 4


def test_a_rst_with_text_and_an_injected_rst() -> None:
    segments = conversation(*HANDSHAKE, ("c", "PA", 101, 501, 10), ("s", "RA", 501, 111, 13))
    for segment in segments:
        segment.ttl = 64 if segment.sport == 40000 else 52
    segments[-1].payload = b"Access denied"
    segments[-1].ttl = 61  # another box, 3 hops from the capture
    found = _kinds(segments)
    [text] = found["rst_with_data"]
    assert text.sentence == 'the server\'s RST carries 13 bytes of data: "Access denied"'
    [injected] = found["injected_rst"]
    assert "TTL 61, where the server's other packet has TTL 52" in injected.sentence


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
