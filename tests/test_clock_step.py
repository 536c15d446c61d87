"""A capture whose clock stepped back (an NTP step; files merged in the wrong order): the
connections after the step are stamped before the latest frame before it. Their timers run
on the tracker's clock (connections.STAMPED_BACK): from their own times, every attempt was
given up at its SYN/ACK and every segment after a pause began a connection of its own."""

from __future__ import annotations

import pytest
from segments import CLIENT, HANDSHAKE, conversation

from analyzer import connections
from analyzer.analysis import analyze_segments
from analyzer.connections import ConnectionTracker, stream_connections

# A handshake, a request and its answer, and a four-way close begun by the client.
EXCHANGE = (
    *HANDSHAKE,
    ("c", "PA", 101, 501, 100),
    ("s", "PA", 501, 201, 300),
    ("c", "A", 201, 801),
    ("c", "FA", 201, 801),
    ("s", "A", 801, 202),
    ("s", "FA", 801, 202),
    ("c", "A", 202, 802),
)


def _stepped_back(seconds: float, pause: float = 0.0) -> list:
    """EXCHANGE, then EXCHANGE again from another client port stamped `seconds` before the
    first began, its server's answer `pause` seconds after the request."""
    first = conversation(*EXCHANGE)
    later_steps = [*EXCHANGE]
    if pause:
        later_steps[4] = (0.003 + pause, *later_steps[4])
    second = conversation(*later_steps, start=100.0 - seconds)
    for number, segment in enumerate(second, start=len(first) + 1):
        segment.frame = number
        if segment.src == CLIENT[0]:
            segment.sport = CLIENT[1] + 1
        else:
            segment.dport = CLIENT[1] + 1
    return first + second


@pytest.mark.parametrize("seconds", [30.0, 3600.0])
def test_a_connection_after_the_clock_stepped_back_is_one_connection(seconds: float) -> None:
    results = analyze_segments(_stepped_back(seconds)).connections
    assert len(results) == 2
    for result in results:
        assert result.handshake.status == "complete"
        assert result.close.shape == "four-way"
        assert result.connection.expired is None
        assert result.connection.packets == len(EXCHANGE)


@pytest.mark.parametrize("sweep_every", [1, 4096])
def test_a_pause_after_the_step_no_longer_than_the_timers_is_no_end(sweep_every: int, monkeypatch) -> None:
    """The server answers 4 s after the request (within the 5 s attempt timer's reach of
    the handshake): one connection however often the tracker looks at its timers."""
    monkeypatch.setattr(connections, "SWEEP_EVERY", sweep_every)
    found = list(stream_connections(_stepped_back(30.0, pause=4.0)))
    assert sorted(len(c.segments) for c in found) == [len(EXCHANGE), len(EXCHANGE)]


def test_a_segment_stamped_back_by_less_than_the_slack_keeps_its_own_time() -> None:
    """Reordering by microseconds to milliseconds (several CPUs' capture buffers) is not a
    step: an attempt stamped 0.5 s back and unanswered is given up 5 s after its own SYN."""
    segments = conversation(*HANDSHAKE, ("c", "A", 101, 501))
    syn = conversation(("c", "S", 900, 0), start=100.0 - 0.5)[0]
    syn.frame, syn.sport = 5, CLIENT[1] + 1
    late = conversation(("c", "A", 101, 501), start=104.6)[0]
    late.frame = 6
    found = list(stream_connections([*segments, syn, late]))
    attempt = next(c for c in found if c.client[1] == CLIENT[1] + 1)
    assert attempt.expired == "attempt"


def test_after_a_step_back_the_timers_go_on_with_the_stamps() -> None:
    """An hour's step back, then 10 minutes of unanswered SYNs: each is given up 5 s after
    it, as without the step (helper-112: the timers waited for the stamps to catch up with
    the clock, and held every attempt to the end)."""

    def handed_over(start: float) -> tuple[int, int]:
        tracker = ConnectionTracker()
        done = 0
        for segment in conversation(*EXCHANGE, start=5000.0) if start < 5000.0 else []:
            done += len(tracker.add(segment))
        for n in range(20_000):
            [syn] = conversation(("c", "S", 100 + n, 0), start=start + n * 0.03)
            syn.sport, syn.frame = 20_000 + n, 100 + n
            done += len(tracker.add(syn))
        return done, tracker.held()

    stepped, held = handed_over(1400.0)
    unstepped, held_unstepped = handed_over(6400.0)
    assert stepped - 1 == unstepped > 16_000  # the connection before the step, and as many
    assert held == held_unstepped < 4_000


def test_an_attempt_across_the_step_keeps_its_timers_at_the_clock() -> None:
    """The SYN before the step back, its SYN/ACK after: replayed from the packed attempt, the
    SYN's timers are the SYN/ACK's at most, not a whole step ahead (helper-112: data 305 s
    after the SYN was one connection with it where the idle timer had given it up)."""
    for step in (30.0, 3600.0):
        syn = conversation(("c", "S", 100, 0), start=100.0)
        rest = conversation(
            ("s", "SA", 500, 101), ("c", "A", 101, 501), ("c", "PA", 101, 501, 10), start=100.0005 - step
        )
        late = conversation(("c", "PA", 111, 501, 10), start=405.0 - step)
        segments = syn + rest + late
        for number, segment in enumerate(segments, start=1):
            segment.frame = number
        found = list(stream_connections(segments))
        assert [(len(c.segments), c.expired) for c in found] == [(4, "idle"), (1, None)], step


def test_the_capture_s_end_after_a_step_back_is_its_latest_stamp(tmp_path) -> None:
    """A connection still open when the file ends, its segments before the step: what the
    findings measure to the capture's end (a stall, a close not seen) ends at the latest
    stamp, after its own, not at the timers' end, nor at the last frame's earlier stamp."""
    from pcap_builder import tcp_packet, write_capture

    from analyzer.analysis import analyze_file

    c, s = "10.0.0.1", "10.0.0.2"
    packets = [
        tcp_packet(4, c, 40000, s, 80, "S", 100),
        tcp_packet(4, s, 80, c, 40000, "SA", 500, 101),
        tcp_packet(4, c, 40000, s, 80, "A", 101, 501),
        tcp_packet(4, c, 40000, s, 80, "PA", 101, 501, payload=b"x" * 10),
        tcp_packet(4, c, 40001, s, 80, "S", 900),
        tcp_packet(4, s, 80, c, 40001, "SA", 700, 901),
        tcp_packet(4, c, 40001, s, 80, "A", 901, 701),
    ]
    times = [0.0, 0.001, 0.002, 0.003, -30.0, -29.999, -29.998]
    analysis = analyze_file(str(write_capture(tmp_path / "step.pcap", packets, times=times)))
    first = next(r.connection for r in analysis.connections if r.connection.client[1] == 40000)
    assert first.capture_end == first.last_time  # frame 4: the latest stamp in the file


def test_one_frame_stamped_far_back_is_its_own_stamps_error_not_the_clocks(tmp_path) -> None:
    """suricata-verify bug-1450 (helper-124): the SYN/ACK stamped 21 years before the SYN, the
    frames after it on the SYN's clock again. The timers go on as before (as past one frame
    stamped far ahead): one connection, its handshake complete, as tshark's one stream; the
    step is still told. Two frames back in a row are a clock's step (the test above)."""
    from pcap_builder import handshake_packets, write_capture

    from analyzer.analysis import analyze_file

    packets = handshake_packets()
    times = [0.0, -668_322_442.0] + [0.0001 * i for i in range(2, len(packets))]
    path = write_capture(tmp_path / "stamped-back.pcap", packets, times=times)
    analysis = analyze_file(str(path))
    [result] = analysis.connections
    assert result.connection.expired is None and result.handshake.status == "complete"
    assert any("time goes backwards at 1 frame" in warning for warning in analysis.stats.warnings)
