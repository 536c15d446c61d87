"""A file whose order is not its times' (merged from several interfaces, several CPUs'
buffers): Wireshark's flags as tshark gives them, and the states as on the wire."""

from __future__ import annotations

from segments import conversation

from analyzer.analysis import analyze_segments

# The SYN/ACK filed first, the SYN 5 ms before it in time (s13a of a review's shapes), then
# the handshake's ACK, a request, and two of the server's data segments filed swapped.
SYNACK_FILED_FIRST = (
    (0.005, "s", "SA", 5000, 1001),  # 1
    (0.000, "c", "S", 1000, 0),  # 2
    (0.010, "c", "A", 1001, 5001),  # 3
    (0.011, "c", "PA", 1001, 5001, 3),  # 4
    (0.0114, "s", "A", 6001, 1004, 1000),  # 5: filed before 6, stamped after it
    (0.0112, "s", "A", 5001, 1004, 1000),  # 6
    (0.0168, "c", "A", 1004, 7001),  # 7
)


def test_a_segment_stamped_before_the_one_that_advanced_is_a_retransmission() -> None:
    """packet-tcp.c's time since the segment that advanced the numbers is unsigned: one 0.2
    ms before it is past the out-of-order threshold, a retransmission (tshark 4.0.17 on this
    shape); 0.2 ms after it, out of order."""
    [result] = analyze_segments(conversation(*SYNACK_FILED_FIRST)).connections
    assert result.sequence.flags[6] == ["retransmission"]
    later = list(SYNACK_FILED_FIRST)
    later[5] = (0.0116, "s", "A", 5001, 1004, 1000)
    [result] = analyze_segments(conversation(*later)).connections
    assert result.sequence.flags[6] == ["out_of_order"]


def test_a_syn_filed_after_its_synack_opens_both_ends_at_its_time() -> None:
    [result] = analyze_segments(conversation(*SYNACK_FILED_FIRST)).connections
    assert result.handshake.status == "complete"
    client = [
        (s.value, f)
        for (_t, s), f in zip(result.states["client"], result.state_frames["client"], strict=True)
    ]
    server = [
        (s.value, f)
        for (_t, s), f in zip(result.states["server"], result.state_frames["server"], strict=True)
    ]
    assert client[:3] == [("CLOSED", None), ("SYN_SENT", 2), ("ESTABLISHED", 1)]
    assert server[:3] == [("LISTEN", None), ("SYN_RCVD", 2), ("ESTABLISHED", 3)]
    assert result.states["client"][1][0] == 100.0  # the SYN's time, before the SYN/ACK's


def test_out_of_order_is_judged_on_stamps_not_floats_of_epoch_seconds() -> None:
    """bulk1500 (a review's iperf3 capture): iRTT 9 µs, a resend exactly 9 µs after the
    segment that advanced the numbers. packet-tcp.c compares nanoseconds, `t < iRTT`: false,
    a retransmission. Floats of epoch seconds near 1.8e9 differ by about 240 ns, and read the
    gap as shorter than the iRTT."""
    steps = (
        (0.0, "c", "S", 100, 0),
        (0.000004, "s", "SA", 500, 101),
        (0.000009, "c", "A", 101, 501),  # iRTT: 9 µs
        (0.000500, "c", "PA", 101, 501, 10),
        (0.001002, "c", "PA", 111, 501, 10),  # advances the numbers
        (0.001011, "c", "PA", 101, 501, 10),  # 9 µs after it: not within the iRTT
    )
    segments = conversation(*steps, start=1_800_000_000.0)
    for segment, (offset, *_rest) in zip(segments, steps, strict=True):
        segment.stamp = 1_800_000_000 * 10**9 + round(offset * 1e9)  # as a pcap gives them: exact
    assert segments[5].stamp - segments[4].stamp == segments[2].stamp - segments[0].stamp == 9_000
    assert segments[5].time - segments[4].time < segments[2].time - segments[0].time  # floats: not alike
    [result] = analyze_segments(segments).connections
    assert result.sequence.flags[6] == ["retransmission"]
