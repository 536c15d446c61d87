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
