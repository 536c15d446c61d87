"""A mirror port's two streams of copies, interleaved: one stream's copy of a packet may be
stamped before the other's copy of the packet that came first. The copy kept is the one that
keeps the connection's causes before their effects (connections._Open.later_copy_first)."""

from __future__ import annotations

from segments import conversation

from analyzer.analysis import analyze_segments

# (stream, who, flags, seq, ack, length, IPv4 id), 10 us apart: stream 2's copies (TTL one
# lower) of the client's ACK and of its second data segment come before stream 1's copy of
# what came first (the SYN/ACK; the first data segment).
INTERLEAVED = (
    (1, "c", "S", 100, 0, 0, 1),
    (2, "c", "S", 100, 0, 0, 1),
    (2, "c", "A", 101, 501, 0, 2),
    (1, "s", "SA", 500, 101, 0, 9),
    (2, "s", "SA", 500, 101, 0, 9),
    (1, "c", "A", 101, 501, 0, 2),
    (2, "c", "PA", 201, 501, 100, 4),
    (1, "c", "PA", 101, 501, 100, 3),
    (2, "c", "PA", 101, 501, 100, 3),
    (1, "c", "PA", 201, 501, 100, 4),
    (1, "s", "A", 501, 301, 0, 10),
    (2, "s", "A", 501, 301, 0, 10),
)


def _mirrored(steps: tuple[tuple, ...]) -> list:
    segments = conversation(*((s[1], s[2], s[3], s[4], s[5]) for s in steps), gap=0.00001)
    for segment, (stream, *_rest, ip_id) in zip(segments, steps, strict=True):
        segment.ip_id = ip_id
        segment.checksum = 1000 + ip_id  # the same packet: the same bytes
        segment.ttl = 64 if stream == 1 else 63
    return segments


def test_the_copy_kept_is_the_one_after_what_came_first() -> None:
    [result] = analyze_segments(_mirrored(INTERLEAVED)).connections
    connection = result.connection
    assert [s.frame for s in connection.segments] == [1, 4, 6, 8, 10, 11]
    assert sorted(connection.copies and [(copy.frame, of) for copy, of in connection.copies]) == [
        (2, 1), (3, 6), (5, 4), (7, 10), (9, 8), (12, 11),
    ]  # fmt: skip
    handshake = result.handshake
    assert handshake.status == "complete" and handshake.final_ack is not None
    assert handshake.final_ack.frame == 6
    assert round(handshake.synack_to_ack or 0, 6) == 0.00002
    assert result.sequence.flags == {}  # nothing lost, nothing out of order
    assert connection.packets == len(INTERLEAVED)


def test_a_copy_after_a_resend_of_what_came_first_keeps_the_first() -> None:
    """The data before it seen already before the first copy (the later one a resend): the
    first copy was in order, and stays."""
    steps = (
        *INTERLEAVED[:6],
        (1, "c", "PA", 101, 501, 100, 3),
        (1, "c", "PA", 201, 501, 100, 4),
        (1, "c", "PA", 101, 501, 100, 5),  # the first segment sent again
        (2, "c", "PA", 201, 501, 100, 4),
    )
    [result] = analyze_segments(_mirrored(steps)).connections
    assert [s.frame for s in result.connection.segments] == [1, 4, 6, 7, 8, 9]


def test_an_ack_after_what_it_acknowledges_keeps_its_first_copy() -> None:
    """The SYN/ACK before the ACK's first copy and sent again before its second: the first
    copy answered the first SYN/ACK, and stays."""
    steps = (
        (1, "c", "S", 100, 0, 0, 1),
        (1, "s", "SA", 500, 101, 0, 9),
        (2, "s", "SA", 500, 101, 0, 9),
        (1, "c", "A", 101, 501, 0, 2),
        (1, "s", "SA", 500, 101, 0, 10),  # sent again
        (2, "c", "A", 101, 501, 0, 2),
    )
    [result] = analyze_segments(_mirrored(steps)).connections
    assert [s.frame for s in result.connection.segments] == [1, 2, 4, 5]
    assert result.handshake.final_ack is not None and result.handshake.final_ack.frame == 4


def test_a_resend_between_the_copies_leaves_the_first_in_place() -> None:
    """The data before it came again between the two copies, sent after it (its identification
    later): a resend, not a reordered stream; the first copy stays. What it resends was sent
    more than COPY_LOOK_BACK segments before."""
    steps = [
        *INTERLEAVED[:6],
        *((1, "c", "PA", 101 + 100 * n, 501, 100, 3 + n) for n in range(10)),
        (2, "c", "PA", 1101, 501, 100, 13),
        (1, "c", "PA", 101, 501, 100, 14),  # the first data sent again
        (1, "c", "PA", 1101, 501, 100, 13),
    ]
    [result] = analyze_segments(_mirrored(tuple(steps))).connections
    frames = [s.frame for s in result.connection.segments]
    assert frames[-2:] == [17, 18] and 19 not in frames


def test_a_fin_ack_before_the_fin_it_acknowledges_takes_its_later_copy() -> None:
    """A three-segment close: stream 1's copy of the server's FIN/ACK comes before stream 2's
    of the client's FIN. The FIN/ACK's later copy, after the FIN, is the one analyzed: the
    close is in order, nothing acknowledged unseen, the server in LAST_ACK after CLOSE_WAIT."""
    steps = (
        *INTERLEAVED,
        (1, "s", "FA", 501, 302, 0, 11),
        (2, "c", "FA", 301, 501, 0, 5),
        (1, "c", "FA", 301, 501, 0, 5),
        (2, "s", "FA", 501, 302, 0, 11),
        (1, "c", "A", 302, 502, 0, 6),
        (2, "c", "A", 302, 502, 0, 6),
    )
    [result] = analyze_segments(_mirrored(steps)).connections
    frames = [s.frame for s in result.connection.segments]
    assert frames[-3:] == [14, 16, 17]
    assert result.sequence.flags == {}
    assert result.close.shape == "three-segment"
    server = [state for _time, state in result.states["server"]]
    assert server[-3:-1] == ["CLOSE_WAIT", "LAST_ACK"]


def test_the_ladder_draws_a_state_change_made_at_a_copy_it_leaves_out() -> None:
    """The server's FIN/ACK reaches the client as its later copy (one hop lower, the file's
    last frame, after the client's ACK's copies: a mirror port's streams): the client's
    TIME_WAIT is that copy's. The ladder draws no copy: it draws the change on the FIN/ACK's
    arrow, where it had dropped it, past the last segment drawn (helper-111: span3's ladder
    ended with the client in FIN_WAIT_2 where the text said TIME_WAIT)."""
    import matplotlib.pyplot as plt

    from analyzer.output.sequence_diagram import STATE_LABEL, figure

    steps = (
        *INTERLEAVED,
        (1, "c", "FA", 301, 501, 0, 5),
        (2, "c", "FA", 301, 501, 0, 5),
        (1, "s", "FA", 501, 302, 0, 11),
        (2, "c", "A", 302, 502, 0, 6),
        (1, "c", "A", 302, 502, 0, 6),
        (2, "s", "FA", 501, 302, 0, 11),
    )
    [result] = analyze_segments(_mirrored(steps)).connections
    assert result.state_frames["client"][-1] == len(steps)  # the copy's
    assert len(steps) not in {s.frame for s in result.connection.segments}
    fig = figure(result)
    try:
        labels = [t.get_text() for t in fig.axes[0].texts if t.get_gid() == STATE_LABEL]
    finally:
        plt.close(fig)
    assert any("TIME_WAIT" in label for label in labels), labels


def _twice(*steps: tuple, offset: float = 0.5) -> list:
    """`steps` as two captures of one traffic merged onto one interface, the second's clock
    `offset` ahead: each packet twice, its IPv4 identification and TSval the same."""
    first = conversation(*steps)
    for number, segment in enumerate(first, start=1):
        segment.ip_id, segment.ts_val = 1000 + number, 7000 + number
    again = conversation(*steps, start=100.0 + offset)
    for number, segment in enumerate(again, start=1):
        segment.ip_id, segment.ts_val = 1000 + number, 7000 + number
        segment.frame += len(first)
    return first + again


def test_traffic_captured_twice_onto_one_interface_is_not_a_reused_port_nor_a_retried_connect() -> None:
    """helper-145: a client's and a server's captures merged by mergecap (one interface, the
    clocks 500 ms apart): the second copy of each SYN read as tcp_tw_reuse opening the next
    connection (the TIME_WAIT ended there) and as Windows retrying a refused connect(). The
    same packet (ISN, identification, TSval) is no SYN sent again: the notes say the file
    holds the traffic twice and how to merge it; a SYN sent again with a new identification
    and TSval stays a retry."""
    closed = _twice(
        ("c", "S", 100, 0), ("s", "SA", 500, 101), ("c", "A", 101, 501),
        ("c", "FA", 101, 501), ("s", "FA", 501, 102), ("c", "A", 102, 502),
    )  # fmt: skip
    first = analyze_segments(closed).connections[0]
    assert first.close.time_wait_ended is None
    assert any(
        "the file holds this traffic twice (two captures merged onto one interface?" in n for n in first.notes
    )
    assert any(
        "the same ISN, IPv4 identification and timestamp together, which no stack's resend" in n
        for n in first.notes
    )
    refused = _twice(("c", "S", 100, 0), ("s", "RA", 0, 101))
    [result] = analyze_segments(refused).connections
    said = result.handshake.explain()
    assert "the file holds the SYN 2 times, the same packet (its IPv4 identification and timestamp)" in said
    assert "Windows" not in said
    refused[2].ip_id, refused[2].ts_val = 5000, 9000  # a SYN sent again by its stack
    [retried] = analyze_segments(refused).connections
    assert "as Windows retries a refused connect()" in retried.handshake.explain()
