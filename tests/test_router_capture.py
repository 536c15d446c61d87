"""A real capture on a router of both its sides (tests/data/router/make_router_capture.sh:
`tcpdump -i any` on a Linux router whose port towards the server queues up to 40 ms): each
packet is in it twice, as it came in (TTL 64) and, its TTL one lower, as it left, the
client's up to 40 ms later and what GRO coalesced on the way in in GSO pieces. The copies
are left out of the analysis; what remains is what the ends sent, the client's resends of
what the queue dropped among it."""

from __future__ import annotations

from pathlib import Path

from analyzer.analysis import analyze_file
from analyzer.decode import DecodeStats, read_segments

CAPTURE = Path(__file__).parent / "data" / "router" / "router-uplink-queue.pcap"
# tshark's retransmissions among the frames as they came in, measured when it was made (see
# the script): what the client's timer and fast retransmit sent again.
TSHARK_RETRANSMISSIONS_IN = 33


def test_every_frame_that_left_the_router_is_a_copy_and_no_other() -> None:
    ttls = {segment.frame: segment.ttl for segment in read_segments(str(CAPTURE), DecodeStats())}
    analysis = analyze_file(str(CAPTURE))
    copies = {
        copy.frame: original for result in analysis.connections for copy, original in result.connection.copies
    }
    assert set(copies) == {frame for frame, ttl in ttls.items() if ttl == 63}
    assert all(ttls[original] == 64 for original in copies.values())
    # Some left in pieces of what came in as one packet: the rule for pieces is exercised.
    assert len(set(copies.values())) < len(copies)


def test_what_remains_is_what_the_ends_sent() -> None:
    complete, bulk, refused = analyze_file(str(CAPTURE)).connections
    assert complete.handshake.status == "complete" and bulk.handshake.status == "complete"
    assert refused.handshake.status == "refused"
    assert len(bulk.handshake.syns) == 1 and len(bulk.handshake.synacks) == 1
    assert len(bulk.resends) == TSHARK_RETRANSMISSIONS_IN
    for result in (complete, bulk, refused):
        assert result.vantage is not None
        assert any("a router's both sides" in said for said in result.vantage.evidence)


def test_an_end_moves_when_what_moved_it_left_the_router() -> None:
    """The capture is between the ends, so a segment reaches its receiver after it left the
    router: the receiver's move is at the copy as it left (TTL 63, the client's after the
    queue), not at the segment as it came in."""
    ttls = {segment.frame: segment.ttl for segment in read_segments(str(CAPTURE), DecodeStats())}
    complete, bulk, _refused = analyze_file(str(CAPTURE)).connections
    for result in (complete, bulk):
        connection = result.connection
        left = {original: copy for copy, original in connection.copies}
        by_frame = {segment.frame: segment for segment in connection.segments}
        for side in ("client", "server"):
            for (_time, state), frame in zip(result.states[side], result.state_frames[side], strict=True):
                if frame is None or state.value == "UNKNOWN":
                    continue
                if frame in by_frame:  # a move of its own send, or one no copy of it came after
                    segment = by_frame[frame]
                    assert connection.sender(segment) == side or segment.frame not in left, (side, frame)
                else:
                    assert ttls[frame] == 63, (side, frame)  # as it left
        synack = next(s for s in connection.segments if s.flags & 0x12 == 0x12)
        established = next(t for t, state in result.states["client"] if state.value == "ESTABLISHED")
        assert established > synack.time  # what the router sent on, later


def test_a_move_at_a_copy_left_off_the_ladder_is_a_moment_of_its_own() -> None:
    """The pictures cut time around such a move and draw it after the silence before it, as a
    timer's (ladder_rows.timer_changes): not at the last drawn arrow before the queue's wait."""
    from analyzer.output.ladder_rows import timer_changes

    _complete, bulk, _refused = analyze_file(str(CAPTURE)).connections
    drawn = {segment.frame for segment in bulk.connection.segments}
    at_copies = sorted(
        time
        for side in ("client", "server")
        for (time, _state), frame in zip(bulk.states[side], bulk.state_frames[side], strict=True)
        if frame is not None and frame not in drawn
    )
    assert at_copies  # the receivers' moves at the copies as they left
    assert set(at_copies) <= set(timer_changes(bulk, bulk.connection.last_time))
