"""A listener that kept no request for a SYN (findings/syn_cookies.py): its SYN/ACK never
answered and never sent again for longer than its stack waits to send it again. Its end
stays in LISTEN, said in the handshake's line, a note and the JSON."""

from __future__ import annotations

from segments import conversation

from analyzer.analysis import ConnectionAnalysis, analyze_connection, analyze_segments
from analyzer.connections import Timeouts, stream_connections
from analyzer.decode.segment import ACK, SYN, Segment
from analyzer.findings.scans import ScanDetector
from analyzer.output.json_report import analysis_to_dict, connection_to_dict
from analyzer.output.text_report import analysis_text
from analyzer.tcp_state import State
from analyzer.timefmt import Clock


def _attempt(
    *steps: tuple, ttl: int = 64, then: float | None = None, timeout: float = 5.0
) -> ConnectionAnalysis:
    """The attempt's segments (the server's with `ttl`), then, `then` s after the first, a
    SYN of another connection: the capture goes on to it (the attempt still open then, or
    given up by the attempt timer of `timeout` s)."""
    segments = conversation(*steps)
    for segment in segments:
        if segment.sport == 80:
            segment.ttl = ttl
    if then is not None:
        segments.append(
            Segment(
                len(segments) + 1,
                segments[0].time + then,
                4,
                "192.0.2.9",
                1,
                "192.0.2.7",
                22,
                SYN,
                5,
                0,
                100,
                0,
                None,
            )
        )
    first, *_rest = stream_connections(iter(segments), Timeouts(attempt=timeout))
    return analyze_connection(first)


def _server_states(result: ConnectionAnalysis) -> list[State]:
    return [state for _time, state in result.states["server"]]


def test_a_synack_never_sent_again_for_long_was_sent_without_a_request() -> None:
    # Linux's (TTL 64) SYN/ACK, unanswered for 4 s to the capture's end: its timer would have
    # sent it again after 1 s (OpenBSD's, 3 s).
    result = _attempt(("c", "S", 100, 0), ("s", "SA", 500, 101), then=4.0)
    assert result.connection.capture_end is not None and result.connection.expired is None
    handshake = result.handshake
    assert handshake.unrequested_for is not None and abs(handshake.unrequested_for - 3.999) < 1e-6
    # LISTEN had a cookie answered it, ESTABLISHED had the client's ACK come unseen.
    assert _server_states(result) == [State.LISTEN, State.UNKNOWN]
    assert result.state_frames["server"] == [None, 2]  # from its SYN/ACK: the SYN reached it
    assert handshake.explain() == (
        "handshake incomplete: the client never acknowledged the SYN/ACK, which was never sent again: the "
        "server kept no request for the SYN (a SYN cookie, most likely), unless the capture missed the client's ACK"
    )
    assert any(
        note.startswith(
            "the server's SYN/ACK (frame 2) went unanswered in the capture for 3.999 s and was never sent"
        )
        for note in result.notes
    )
    assert connection_to_dict(result, Clock(0.0))["handshake"]["unrequested_for"] == handshake.unrequested_for
    # Given up by the attempt timer (5 s): nothing came for that long.
    given_up = _attempt(("c", "S", 100, 0), ("s", "SA", 500, 101), then=30.0)
    assert given_up.connection.expired == "attempt"
    assert given_up.handshake.unrequested_for == 5.0
    assert _server_states(given_up) == [State.LISTEN, State.UNKNOWN]


def test_a_listener_that_may_still_send_it_again_kept_a_request() -> None:
    handshake = (("c", "S", 100, 0), ("s", "SA", 500, 101))
    # Too soon after it for OpenBSD's first resend (3 s) and its margin.
    assert _attempt(*handshake, then=3.4).handshake.unrequested_for is None
    # A TTL of 128 (Windows, an older one resends after 3 s), or one not read: 5 s.
    assert _attempt(*handshake, ttl=128, then=3.0).handshake.unrequested_for is None
    assert _attempt(*handshake, ttl=-1, then=4.0).handshake.unrequested_for is None
    windows = _attempt(*handshake, ttl=120, then=30.0)
    assert windows.handshake.unrequested_for == 5.0
    # Given up by a timer shorter than Linux's margin: not known to have waited long enough.
    assert _attempt(*handshake, then=30.0, timeout=3.0).handshake.unrequested_for is None
    # The capture's end unknown past the attempt's last segment: nothing said.
    assert _attempt(*handshake).handshake.unrequested_for is None


def test_a_synack_sent_again_or_answered_was_a_requests() -> None:
    resent = _attempt(("c", "S", 100, 0), ("s", "SA", 500, 101), (1.0, "s", "SA", 500, 101), then=6.0)
    assert resent.handshake.unrequested_for is None
    assert State.SYN_RCVD in _server_states(resent)
    # A half-open scan's RST answered it: the listener dropped its request on that.
    reset = _attempt(("c", "S", 100, 0), ("s", "SA", 500, 101), ("c", "R", 101, 0), then=6.0)
    assert reset.handshake.unrequested_for is None
    # The client's SYN again after it, unanswered: what the listener did with it is not seen.
    again = _attempt(("c", "S", 100, 0), ("s", "SA", 500, 101), (1.0, "c", "S", 100, 0), then=6.0)
    assert again.handshake.status == "incomplete" and again.handshake.unrequested_for is None
    completed = _attempt(("c", "S", 100, 0), ("s", "SA", 500, 101), ("c", "A", 101, 501), then=6.0)
    assert completed.handshake.unrequested_for is None
    assert "kept no request" not in " ".join(completed.notes)


def test_a_flood_counts_the_synacks_sent_without_a_request() -> None:
    # 1,200 SYNs from distinct sources in 1.2 s, each answered by one SYN/ACK; the listener
    # kept requests for the first 10, which it sends again 1 s later; the capture goes on
    # 4 s past the last.
    segments: list[Segment] = []

    def add(time: float, src: tuple[str, int], dst: tuple[str, int], flags: int, seq: int, ack: int) -> None:
        segments.append(
            Segment(len(segments) + 1, time, 4, *src, *dst, flags, seq, ack, 1000, 0, None, ttl=64)
        )

    server = ("192.0.2.2", 80)
    for n in range(1200):
        client, time = (f"10.1.{n >> 8}.{n & 255}", 1000 + n), 100.0 + n / 1000
        add(time, client, server, SYN, 7 * n, 0)
        add(time + 0.0001, server, client, SYN | ACK, 9 * n, 7 * n + 1)
        if n < 10:
            add(time + 1.0, server, client, SYN | ACK, 9 * n, 7 * n + 1)
    segments.sort(key=lambda s: s.time)
    for number, segment in enumerate(segments, start=1):
        segment.frame = number
    add(105.5, ("192.0.2.9", 1), ("192.0.2.7", 22), SYN, 5, 0)
    analysis = analyze_segments(segments)
    [flood] = [scan for scan in analysis.scans if scan.kind == "flood"]
    assert flood.answers["synack"] == 1200
    assert flood.unrequested == 1190
    assert analysis_to_dict(analysis)["scans"][0]["synack_unrequested"] == 1190
    text = analysis_text(analysis)
    assert (
        "answers: 1,200 SYN/ACK, 0 RST, 0 none; of the SYN/ACKs, 1,190 never sent again though unanswered in the capture"
        in text
    )
    # Counted in two shares of the file and merged, as --jobs does: the same.
    halves = ScanDetector(), ScanDetector()
    for result in analysis.connections:
        halves[result.connection.id % 2].add(result)
    halves[0].merge(halves[1])
    [merged] = [scan for scan in halves[0].findings() if scan.kind == "flood"]
    assert (merged.answers["synack"], merged.unrequested) == (1200, 1190)
