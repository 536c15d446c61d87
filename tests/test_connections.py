"""Grouping segments into connections, as a stream: what splits a 4-tuple, and when a
connection is handed over (so that memory follows the connections in flight)."""

from __future__ import annotations

import dataclasses

import pytest
from segments import CLIENT, HANDSHAKE, conversation

from analyzer.connections import CLOSE_DELAY, ConnectionTracker, Timeouts, group_connections
from analyzer.decode.segment import ACK, SYN, Segment
from analyzer.held_attempt import HeldAttempt

CLOSED = (*HANDSHAKE, ("c", "FA", 101, 501), ("s", "FA", 501, 102), ("c", "A", 102, 502))


def on_port(segments: list, port: int, later: float = 0.0, frames: int = 0) -> list:
    """The same conversation from another client port, shifted in time and frame number."""
    return [
        dataclasses.replace(
            s,
            time=s.time + later,
            frame=s.frame + frames,
            **({"sport": port} if s.sport == CLIENT[1] else {"dport": port}),
        )
        for s in segments
    ]


def test_a_segment_long_after_the_close_starts_a_new_connection() -> None:
    """Zeek's tcp_close_delay: a stray ACK CLOSE_DELAY after both FINs were acknowledged."""
    segments = conversation(*CLOSED, (0.01 + CLOSE_DELAY + 1, "c", "A", 102, 502))
    first, second = group_connections(segments)
    assert [s.frame for s in first.segments] == [1, 2, 3, 4, 5, 6]
    assert [s.frame for s in second.segments] == [7]
    # Not linked: whether the first is still held then depends on when the tracker swept.
    assert second.reuses_ports_of is None


def test_port_reuse_is_linked_the_same_however_often_the_tracker_sweeps(monkeypatch) -> None:
    """A new SYN on a 4-tuple 2 s and 8 s after its connection closed, among other
    traffic: linked when it comes within CLOSE_DELAY, never after, in one process and in
    shares alike (which sweep at other moments)."""
    import analyzer.connections as connections

    segments = conversation(*CLOSED)
    segments += conversation(*CLOSED, start=102.0)  # within CLOSE_DELAY of the first's end
    segments += conversation(*CLOSED, start=110.0)  # past it
    for n in range(200):  # other connections, to make the tracker sweep in between
        segments += on_port(conversation(("c", "S", 1, 0)), 5000 + n, later=n * 0.05, frames=1000 + n)
    segments.sort(key=lambda s: (s.time, s.frame))

    def links(every: int) -> list:
        monkeypatch.setattr(connections, "SWEEP_EVERY", every)
        return [(c.id, c.reuses_ports_of) for c in group_connections(segments) if c.client[1] == CLIENT[1]]

    once = links(1 << 30)
    assert links(1) == once == links(5)
    assert [reused for _id, reused in once] == [None, once[0][0], None]


def test_a_fin_resent_for_minutes_belongs_to_its_connection() -> None:
    """The last FIN never acknowledged (as in Zeek's socks.pcap): its end is in LAST_ACK,
    resending it a minute apart; the connection is not over."""
    unacknowledged = (*HANDSHAKE, ("c", "FA", 101, 501), ("s", "A", 501, 102), ("s", "FA", 501, 102))
    segments = conversation(*unacknowledged, (60.0, "s", "FA", 501, 102), (180.0, "s", "FA", 501, 102))
    [connection] = group_connections(segments)
    assert len(connection.segments) == 8


def test_a_new_syn_after_the_close_starts_a_new_connection_at_once() -> None:
    segments = conversation(*CLOSED, (1.0, "c", "S", 900, 0))
    assert [len(c.segments) for c in group_connections(segments)] == [6, 1]


def test_a_new_synack_after_its_senders_fin_starts_a_new_connection() -> None:
    """A capture of the server's direction only holds no SYN to split on: a SYN/ACK with
    another ISN after the server's own FIN (or a RST) opens the next connection on the
    port. Before its FIN, another ISN is one attempt's SYN/ACKs (the handshake judges them)."""
    served = (("s", "SA", 500, 101), ("s", "A", 501, 111), ("s", "FA", 501, 112))
    again = conversation(*served, (1.0, "s", "SA", 900, 201), ("s", "A", 901, 211), ("s", "FA", 901, 212))
    assert [[s.frame for s in c.segments] for c in group_connections(again)] == [[1, 2, 3], [4, 5, 6]]
    reset = conversation(("s", "SA", 500, 101), ("s", "R", 501, 0), (1.0, "s", "SA", 900, 201))
    assert [len(c.segments) for c in group_connections(reset)] == [2, 1]
    # The same ISN after the FIN (a SYN/ACK resent late), or another before it: one connection.
    for steps in ((*served, ("s", "SA", 500, 101)), (("s", "SA", 500, 101), ("s", "SA", 700, 101))):
        assert len(group_connections(conversation(*steps))) == 1
    both = conversation(*HANDSHAKE, ("s", "SA", 700, 101), ("c", "A", 101, 701))
    assert len(group_connections(both)) == 1


def test_connections_are_handed_over_while_the_file_is_still_being_read() -> None:
    """A thousand closed connections on a thousand ports, a second apart: the tracker hands
    each over once it is over and quiet, long before the end, and keeps only a few."""
    tracker = ConnectionTracker()
    handed = []
    most_held = 0
    for n in range(1000):
        for segment in conversation(*CLOSED, start=100.0 + n):
            segment = (
                dataclasses.replace(segment, sport=segment.sport + n)
                if segment.sport != 80
                else dataclasses.replace(segment, dport=segment.dport + n)
            )
            handed.extend(tracker.add(segment))
        most_held = max(most_held, tracker.held())
    handed.extend(tracker.finish())
    assert sorted(c.id for c in handed) == list(range(1000))
    assert most_held <= CLOSE_DELAY + 2 + 4096 / len(CLOSED)  # the quiet ones, and a sweep's worth


def test_ids_follow_the_first_segments_whatever_order_connections_end_in() -> None:
    long_lived = conversation(*HANDSHAKE)
    short = on_port(conversation(*CLOSED), 40001, later=0.0005, frames=10)
    segments = sorted([*long_lived, *short], key=lambda s: s.time)
    connections = group_connections(segments)
    assert [(c.id, c.client[1]) for c in connections] == [(0, 40000), (1, 40001)]


def test_a_connection_that_trickles_on_after_its_close_holds_back_no_other(monkeypatch) -> None:
    """The first connection to close keeps getting a stray ACK every 4 s; the hundreds
    that close after it, and go quiet, are handed over all the same."""
    import analyzer.connections as connections

    monkeypatch.setattr(connections, "SWEEP_EVERY", 12)
    tracker = ConnectionTracker()
    segments = conversation(*CLOSED)
    for n in range(1, 200):
        segments += on_port(conversation(*CLOSED), 1000 + n, later=n * 0.1, frames=10 * n)
        if n % 40 == 0:
            segments += conversation((n * 0.1, "c", "A", 102, 502))  # the first one, again
    segments.sort(key=lambda s: s.time)
    handed = []
    for segment in segments:
        handed.extend(tracker.add(segment))
    assert len(handed) >= 100
    assert 0 not in {c.id for c in handed}  # the trickling one is still open


# Expiry: connections given up by their timers (connections.Timeouts, Zeek's).


def test_an_unanswered_syn_resent_after_the_attempt_timeout_is_a_new_connection() -> None:
    """BSD's first SYN resend comes 6 s later: past the 5 s attempt timer, as in Zeek."""
    segments = conversation(("c", "S", 100, 0), (6.0, "c", "S", 100, 0))
    first, second = group_connections(segments)
    assert (first.expired, second.expired) == ("attempt", None)
    assert second.reuses_ports_of is None  # no link: see ConnectionTracker._expire
    [one] = group_connections(segments, Timeouts(attempt=10.0))
    assert len(one.segments) == 2 and one.expired is None


def test_a_backing_off_syn_stays_one_connection() -> None:
    """Linux resends at 1, 3, 7, 15, 31, 63 s: each gap twice the last, within the timer's
    patience; the capture ends 200 s after the first SYN, so the attempt is marked given up."""
    times = [0.0, 1.0, 3.0, 7.0, 15.0, 31.0, 63.0]
    segments = conversation(*[(t, "c", "S", 100, 0) for t in times])
    tracker = ConnectionTracker()
    held = [c for s in segments for c in tracker.add(s)]
    assert held == []
    [connection] = tracker.finish(end_time=100.0 + 63.0 + 3 * 32.0 + 1)
    assert len(connection.segments) == len(times) and connection.expired == "attempt"
    [still] = group_connections(segments)
    assert still.expired is None  # the capture ended with its last SYN: nothing was given up


def test_a_backing_off_syn_answered_each_time_stays_one_connection() -> None:
    """helper-119: a SYN/ACK black hole after the capture point: the listener answers each
    SYN again at once. The backoff is each end's own; read between the last SYN and its
    answer (20 us), the attempt was given up 5 s on, and one connect() was four connections."""
    times = [0.0, 1.0, 3.0, 7.0, 15.0, 31.0]
    steps = [step for t in times for step in ((t, "c", "S", 100, 0), (t + 2e-5, "s", "SA", 500, 101))]
    [connection] = group_connections(conversation(*steps))
    assert len(connection.segments) == 2 * len(times) and connection.expired is None


@pytest.mark.parametrize("mirrored", [False, True], ids=["two-sends", "a-mirror-s-copy"])
def test_two_syn_ack_alike_after_a_syn_again_are_two_unless_the_capture_copies(mirrored) -> None:
    """helper-119: the listener's timer (1 s) and its answer to the client's SYN again (1 s)
    send two SYN/ACKs alike to the byte within microseconds; the second was left out as a
    capture copy (and it was the one that got through). Where the capture copies the
    connection's packets (its SYN twice), the second is still the copy."""
    syn = [("c", "S", 100, 0)] + [(2e-6, "c", "S", 100, 0)] * mirrored
    steps = (*syn, (2e-5, "s", "SA", 500, 101), (1.0, "c", "S", 100, 0), (1.000015, "s", "SA", 500, 101),
             (1.00004, "s", "SA", 500, 101), (1.00006, "c", "A", 101, 501))  # fmt: skip
    segments = conversation(*steps)
    for segment in segments:  # alike to the byte, the IPv4 identification 0
        segment.checksum = (segment.flags * 7 + segment.seq + segment.ack) & 0xFFFF
    [connection] = group_connections(segments)
    assert [frame for _copy, frame in connection.copies] == ([1, 5] if mirrored else [])


@pytest.mark.parametrize("where", ["one-interface", "any-interface", "mirror"])
def test_two_syn_ack_alike_as_the_first_captured_after_a_syn_again_are_two(where) -> None:
    """helper-149: the server's first SYN/ACK dropped before the capture point; a second
    later its timer and its answer to the client's SYN again send two alike within 31 us,
    the first the capture sees. tcpdump -i any over VXLAN saw each packet on the underlay
    and again on the overlay (another interface: copies that do not make the capture one
    that copies in place); a mirror that copies on its one interface makes the second a copy."""
    steps = [("c", "S", 100, 0), (1.011, "c", "S", 100, 0), (1.01101, "s", "SA", 500, 101),
             (1.01104, "s", "SA", 500, 101), (1.01106, "c", "A", 101, 501)]  # fmt: skip
    if where == "mirror":
        steps.insert(1, (2e-6, "c", "S", 100, 0))
    segments = conversation(*steps)
    for segment in segments:  # alike to the byte, the IPv4 identification 0
        segment.checksum = (segment.flags * 7 + segment.seq + segment.ack) & 0xFFFF
        if where == "any-interface":
            segment.interface = 2
    if where == "any-interface":
        overlay = [dataclasses.replace(s, frame=0, interface=5, time=s.time + 1e-6, stamp=s.stamp + 1000)
                   for s in segments]  # fmt: skip
        segments = sorted(segments + overlay, key=lambda s: s.stamp)
        for frame, segment in enumerate(segments, 1):
            segment.frame = frame
    [connection] = group_connections(segments)
    synacks = [s.frame for s in connection.segments if s.flags & (SYN | ACK) == SYN | ACK]
    assert len(synacks) == (1 if where == "mirror" else 2)
    assert connection.copy_count == (2 if where == "mirror" else 5 if where == "any-interface" else 0)


def test_a_half_open_attempt_expires_and_the_late_ack_starts_mid_stream() -> None:
    segments = conversation(("c", "S", 100, 0), ("s", "SA", 500, 101), (9.0, "c", "A", 101, 501))
    first, second = group_connections(segments)
    assert first.expired == "attempt" and len(first.segments) == 2
    assert [s.frame for s in second.segments] == [3]


def test_an_answered_connection_idle_for_minutes_expires_by_the_idle_timer() -> None:
    segments = conversation(*HANDSHAKE, (299.0, "c", "PA", 101, 501, 10), (700.0, "c", "PA", 111, 501, 10))
    first, second = group_connections(segments)
    assert [s.frame for s in first.segments] == [1, 2, 3, 4] and first.expired == "idle"
    assert [s.frame for s in second.segments] == [5]


def test_a_one_sided_connection_whose_client_acknowledged_the_syn_ack_is_no_attempt() -> None:
    """Only the client's direction captured (asymmetric routing; Zeek's ssh half-duplex
    trace): its ACK after the SYN shows the SYN/ACK came, so a 6 s pause while typing is no
    attempt's end; the idle timer applies. A SYN alone, then silence, still is one."""
    segments = conversation(
        ("c", "S", 100, 0), ("c", "A", 101, 501), ("c", "PA", 101, 501, 20), (6.0, "c", "PA", 121, 541, 20)
    )
    [one] = group_connections(segments)
    assert [s.frame for s in one.segments] == [1, 2, 3, 4] and one.expired is None
    # With only SYNs before the pause, the attempt timer gives it up.
    first, _second = group_connections(conversation(("c", "S", 100, 0), (6.0, "c", "PA", 101, 501, 20)))
    assert first.expired == "attempt"


def test_a_one_sided_close_expires_by_the_partial_close_timer() -> None:
    """Only the client's direction captured: a FIN after data, then 4 s of silence."""
    segments = conversation(("c", "A", 101, 501), ("c", "FA", 101, 501), (4.1, "c", "A", 102, 501))
    first, _second = group_connections(segments)
    assert first.expired == "partial_close" and len(first.segments) == 2
    [one] = group_connections(segments, Timeouts(partial_close=5.0))
    assert one.expired is None


def test_expiry_is_the_same_whenever_the_tracker_sweeps(monkeypatch) -> None:
    """Share processes sweep at other moments than one process: the connections and their
    marks must not depend on it."""
    import analyzer.connections as connections

    segments = []
    for n in range(300):  # attempts on 300 ports, one every 0.1 s, some resent late
        attempt = [("c", "S", 100, 0)] + ([(7.0, "c", "S", 100, 0)] if n % 3 == 0 else [])
        segments += on_port(conversation(*attempt), 2000 + n, later=n * 0.1, frames=2 * n)
    segments.sort(key=lambda s: (s.time, s.frame))

    def grouped(every: int) -> list:
        monkeypatch.setattr(connections, "SWEEP_EVERY", every)
        return [
            (c.id, c.client, [s.frame for s in c.segments], c.expired) for c in group_connections(segments)
        ]

    once = grouped(1 << 30)
    assert grouped(1) == once and grouped(7) == once
    # Every first attempt is given up (the capture goes on 5 s past it, or its resend is
    # late), and the resends that the capture outlasts by 5 s.
    end = 29.9 + 7.0
    late_resends = sum(1 for n in range(0, 300, 3) if end - (n * 0.1 + 7.0) > 5.0)
    assert sum(1 for *_, expired in once if expired == "attempt") == 300 + late_resends


def test_a_flood_of_attempts_is_held_a_few_seconds_at_a_time(monkeypatch) -> None:
    """100,000 SYNs from distinct ports over 100 s, each answered by a SYN/ACK: the tracker
    holds about the last attempt timer's worth (5 s: 5,000), a second's more (timers are
    looked at by the second) and a sweep's, never all."""
    import analyzer.connections as connections

    monkeypatch.setattr(connections, "SWEEP_EVERY", 1024)
    tracker = ConnectionTracker()
    handed = most_held = 0
    for n in range(100_000):
        time = 100.0 + n * 0.001
        syn = Segment(
            2 * n + 1,
            time,
            4,
            "10.0.0.1",
            1024 + n % 60000,
            "10.0.0.2",
            80 + n // 60000,
            SYN,
            n,
            0,
            64240,
            0,
            None,
        )
        synack = Segment(
            2 * n + 2,
            time + 0.0001,
            4,
            "10.0.0.2",
            80 + n // 60000,
            "10.0.0.1",
            1024 + n % 60000,
            SYN | ACK,
            7,
            n + 1,
            65535,
            0,
            None,
        )
        handed += len(tracker.add(syn)) + len(tracker.add(synack))
        most_held = max(most_held, tracker.held())
    assert most_held < 5_000 + 1_000 + 1_024 + 100
    rest = tracker.finish()
    assert handed + len(rest) == 100_000
    # Those still held are marked given up where the capture went on past their timer.
    end = 100.0 + 99_999 * 0.001 + 0.0001
    assert all((c.expired == "attempt") == (end - c.last_time > 5.0) for c in rest)


def test_a_capture_that_starts_at_time_zero_backs_off_as_any_other() -> None:
    """text2pcap and editcap -t rebase captures to 0.0: the first SYN's time is no 'unset'."""
    times = [0.0, 1.0, 3.0, 7.0]
    for start in (0.0, 100.0):
        [connection] = group_connections(conversation(*[(t, "c", "S", 100, 0) for t in times], start=start))
        assert len(connection.segments) == 4


def test_a_timer_left_behind_holds_no_segments(monkeypatch) -> None:
    """Connections handed over before their timer fires: the wheel still names them, and
    must not keep their segments alive until then."""
    import analyzer.connections as connections

    monkeypatch.setattr(connections, "SWEEP_EVERY", 12)
    tracker = ConnectionTracker()
    for n in range(300):
        for segment in on_port(conversation(*CLOSED), 3000 + n, later=n * 0.05, frames=10 * n):
            tracker.add(segment)
    waiting = [entry for due in tracker._timers.values() for entry in due]
    held = {id(entry) for entry in [*tracker._current.values(), *tracker._attempts.all()]}
    handed = [entry for entry in waiting if id(entry) not in held]
    # An attempt held packed (held_attempt.py) lets its record go as a connection lets its segments go.
    assert handed and all(
        not (entry.data if isinstance(entry, HeldAttempt) else entry.segments) for entry in handed
    )


def test_a_first_segment_that_is_a_fin_gives_the_connection_up_3_s_later_whatever_follows() -> None:
    """Zeek's PartialCloseTimer: a capture that began mid-connection, whose server is first
    seen sending its FIN while the client is open. Zeek removes the connection 3 s after
    that FIN even though the client keeps sending (its timer is not moved by traffic); the
    client's segment at 3.5 s starts a new connection. A server seen before its FIN sets
    no such timer: one connection, given up by nothing."""
    mid = (("c", "PA", 101, 501, 5), (0.1, "s", "FA", 501, 106))
    later = ((1.5, "c", "PA", 106, 502, 5), (2.9, "c", "PA", 111, 502, 5), (3.5, "c", "PA", 116, 502, 5))
    first, second = group_connections(conversation(*mid, *later))
    assert [s.frame for s in first.segments] == [1, 2, 3, 4] and first.expired == "partial_close"
    assert [s.frame for s in second.segments] == [5]
    spoke_before = (("c", "PA", 101, 501, 5), ("s", "A", 501, 106), (0.1, "s", "FA", 501, 106))
    [one] = group_connections(conversation(*spoke_before, *later))
    assert one.expired is None and len(one.segments) == 6
    # The client's FIN before the timer fires: both closed, nothing to give up.
    closed = (*mid, (1.0, "c", "FA", 106, 502), (3.5, "c", "A", 107, 502))
    [both] = group_connections(conversation(*closed))
    assert both.expired is None


def _burst_then_traffic(tracker: ConnectionTracker, traffic: int) -> tuple[list[tuple], int, int]:
    """1,000 unanswered SYNs within a millisecond (their timers fall due in one second), then
    `traffic` segments of a conversation, 1 ms apart from 0.5 s later: every connection as
    its content, the most one segment returned, and how many came from finish."""
    every, most = [], 0
    for n in range(1_000):
        syn = Segment(
            n + 1, 100.0 + n * 1e-6, 4, "10.0.0.1", 1024 + n, "10.0.0.2", 80, SYN, n, 0, 64240, 0, None
        )
        done = tracker.add(syn)
        every += done
        most = max(most, len(done))
    for n in range(traffic):
        flags = SYN if n == 0 else ACK
        data = Segment(
            2_000 + n, 100.5 + n * 0.001, 4, "10.0.0.3", 5555, "10.0.0.4", 443, flags, n, 0, 64240, 0, None
        )
        done = tracker.add(data)
        every += done
        most = max(most, len(done))
    rest = tracker.finish()
    content = sorted(
        (c.id, c.expired, len(c.segments), c.last_time, c.capture_end, c.succeeded_at, c.reuses_ports_of)
        for c in every + rest
    )
    return content, most, len(rest)


def test_a_second_of_timers_is_handed_over_a_bounded_number_at_a_time(monkeypatch) -> None:
    """A flood's timers fall due a second at a time: each look hands over at most
    HAND_OVER_AT_ONCE of them (each a connection made with its segments), the rest at the
    next looks; the connections are those handed over all at once, also when the capture
    ends before the looks have handed over all that fell due (none held to the end)."""
    import analyzer.connections as connections

    monkeypatch.setattr(connections, "SWEEP_EVERY", 64)
    # 10,000: the looks hand over all 1,000 before the end; 5,550: the capture ends after
    # one look past their second (106.0 s).
    for traffic, put_off in ((10_000, False), (5_550, True)):
        monkeypatch.setattr(connections, "HAND_OVER_AT_ONCE", 1_000_000)
        at_once, most_at_once, from_finish = _burst_then_traffic(ConnectionTracker(), traffic)
        monkeypatch.setattr(connections, "HAND_OVER_AT_ONCE", 100)
        bounded, most_bounded, bounded_finish = _burst_then_traffic(ConnectionTracker(), traffic)
        assert (most_at_once, from_finish) == (1_000, 1)  # the whole second at one look
        assert most_bounded <= 100
        if put_off:
            assert 1 + 100 < bounded_finish <= 1 + 1_000 - 100  # some from finish, one look's before
        else:
            assert bounded_finish == 1
        assert bounded == at_once
        assert len(bounded) == 1_001
        assert sum(1 for _id, expired, *_ in bounded if expired == "attempt") == 1_000
        assert all(capture_end is None for _id, expired, *_, capture_end, _s, _r in bounded if expired)


@pytest.mark.parametrize("every", [1, 4096], ids=["a-look-before-the-end", "no-look"])
def test_a_connection_whose_timer_fired_before_the_end_has_no_capture_end(every, monkeypatch) -> None:
    """helper-121: given up as idle by a look before the file's end it had no capture_end (and
    no close_wait_held measured to the end); handed over by the end it had one: the result
    told when the tracker had looked (a share looks at other moments than one process)."""
    from analyzer import connections

    monkeypatch.setattr(connections, "SWEEP_EVERY", every)
    segments = conversation(
        (1.0, "s", "PA", 701, 101, 10), (8.0, "c", "PA", 101, 701, 10), (12.0, "c", "FA", 101, 701),
        (13.0, "s", "A", 711, 102),
    )  # fmt: skip
    later = Segment(5, 100.0 + 413.0, 4, "198.51.100.9", 5555, "192.0.2.2", 80, 2, 5, 0, 65535, 0, None)
    first, _other = group_connections([*segments, later])
    assert (first.expired, first.capture_end) == ("idle", None)


def test_a_lone_refusal_makes_its_receiver_the_client() -> None:
    """helper-147: only the server's direction captured, a refused connect to port 8009 from
    34176 (neither below 1024) is one RST/ACK at sequence number 0: the end that sent it was
    taken for the client (a flood's lone probe), its receiver in SYN_SENT the server."""
    [refusal] = conversation(("s", "RA", 0, 101))
    refusal = dataclasses.replace(refusal, sport=8009)
    [connection] = group_connections([refusal])
    assert (connection.client, connection.server) == (CLIENT, ("192.0.2.2", 8009))
    assert connection.client_basis == "refusal_receiver"
    probe = dataclasses.replace(refusal, seq=7)  # a RST/ACK elsewhere: a flood's probe
    [connection] = group_connections([probe])
    assert connection.client_basis != "refusal_receiver"
