"""Attempts held packed (analyzer/held_attempt.py) give the connections unpacked ones give."""

from __future__ import annotations

import random

import pytest

from analyzer.connections import ConnectionTracker, Timeouts
from analyzer.decode.ip_tcp import parse_options
from analyzer.decode.segment import ACK, FIN, PSH, RST, SYN, UNSEEN, Segment, TcpOptions
from analyzer.flow_key import attempt_key, flow_key, flow_key_of
from analyzer.held_attempt import RECORD_SIZE, SHORT_SIZE, HeldAttempt
from analyzer.timefmt import epoch_seconds, stamp_of

ENDS = [("10.0.0.1", 40000), ("10.0.0.1", 40001), ("192.0.2.9", 443), ("2001:db8::1", 40000)]
SERVER = ("10.0.0.2", 80)


def _segment(
    frame: int, time: float, src: tuple, dst: tuple, flags: int, seq: int, ack: int, **rest
) -> Segment:
    # On the nanosecond grid, as a decoder makes its times: a record holds the stamp alone.
    on_grid = epoch_seconds(stamp_of(time))
    return Segment(frame, on_grid, 4, src[0], src[1], dst[0], dst[1], flags, seq, ack, 29200, 0, None, **rest)


def test_a_syn_and_its_syn_ack_come_back_field_for_field() -> None:
    options = TcpOptions(1460, 7, True, True, False)
    syn = _segment(
        1,
        1700000000.123456,
        ENDS[0],
        SERVER,
        SYN,
        4294967295,
        0,
        ip_id=7,
        checksum=0xBEEF,
        ttl=64,
        interface=5,
    )
    syn.options = options
    synack = _segment(
        2,
        1700000000.1235,
        SERVER,
        ENDS[0],
        SYN | ACK | 0x40,
        5,
        0,
        ttl=UNSEEN,
        sack_start=9,
        sack_end=UNSEEN,
        interface=(3 << 32) | 7,
    )
    synack.payload_cut = True
    attempt = HeldAttempt(attempt_key(syn), 41, syn, syn.time)
    assert attempt.key == "10.0.0.1 40000 10.0.0.2 80"
    attempt.add_answer(synack, synack.time)
    assert attempt.segments() == [syn, synack] and not attempt.data  # as they came
    attempt.pack()
    assert attempt.plain is None and len(attempt.data) == 2 * RECORD_SIZE
    assert attempt.segments() == [syn, synack]
    assert attempt.segments()[0].options is options  # shared, as the decoder shares them
    assert attempt.sent_by_a(syn) and not attempt.sent_by_a(synack)
    # Sent by the higher end of its key too (the server's SYN in a simultaneous open).
    high = _segment(3, 1700000000.2, SERVER, ENDS[0], SYN, 77, 0)
    reverse = HeldAttempt(attempt_key(high), 0, high, high.time)
    assert reverse.key == attempt.key
    reverse.add_answer(_segment(4, 1700000000.3, ENDS[0], SERVER, SYN | ACK, 9, 78), 1700000000.3)
    assert [s.frame for s in reverse.segments() if reverse.sent_by_a(s)] == [3]
    assert reverse.segments()[0] == high
    attempt.release()
    assert not attempt.data


def test_records_are_short_while_every_field_fits_and_all_long_once_one_does_not() -> None:
    """A SYN, its SYN/ACK and a RST as a decoder makes them fit 62 bytes each; a segment with
    a field past the short form's (a scaled window, as another decoder may give) turns the
    attempt's records into the long form, and every field still comes back."""
    syn = _segment(
        1, 1700000000.5, ENDS[0], SERVER, SYN, 4294967295, 0, ip_id=UNSEEN, checksum=0xFFFF, ttl=UNSEEN
    )
    synack = _segment(2, 1700000000.6, SERVER, ENDS[0], SYN | ACK, 0, 0xFFFFFFFF, ttl=255, ip_id=65535)
    attempt = HeldAttempt(attempt_key(syn), 0, syn, syn.time)
    attempt.add_answer(synack, synack.time)
    attempt.pack()
    assert len(attempt.data) == 2 * SHORT_SIZE < 2 * RECORD_SIZE
    assert attempt.segments() == [syn, synack]
    again = _segment(3, 1700000001.6, SERVER, ENDS[0], SYN | ACK, 0, 0xFFFFFFFF, ip_id=-5)
    again.window = 70000
    attempt.add_answer(again, again.time)
    assert len(attempt.data) == 3 * RECORD_SIZE
    assert attempt.segments() == [syn, synack, again]
    assert attempt.records == 3 and attempt.answered_near(again.stamp, 0.001)
    assert not attempt.answered_near(syn.stamp, 0.001)  # the SYN's time is not an answer's


def test_an_attempt_answers_alike_held_as_it_came_and_packed() -> None:
    """What the tracker asks of an attempt without rebuilding its segments (an answer near a
    time; one a hop before a segment: a TTL one above, or another interface) is the same
    before and after `pack`."""
    syn = _segment(1, 100.0, ENDS[0], SERVER, SYN, 7, 0, ttl=64, interface=1)
    first = _segment(2, 100.001, SERVER, ENDS[0], SYN | ACK, 9, 8, ttl=64, interface=1)
    again = _segment(3, 101.001, SERVER, ENDS[0], SYN | ACK, 9, 8, ttl=0, interface=UNSEEN)
    probes = [
        _segment(4, at, SERVER, ENDS[0], SYN | ACK, 9, 8, ttl=ttl, interface=where)
        for at in (100.0, 100.0015, 101.0012, 103.0)
        for ttl, where in ((63, 1), (62, 1), (UNSEEN, 1), (UNSEEN, 2), (UNSEEN, UNSEEN), (63, UNSEEN))
    ]
    plain = HeldAttempt(attempt_key(syn), 0, syn, syn.time)
    for answer in (first, again):
        plain.add_answer(answer, answer.time)
    packed = HeldAttempt(attempt_key(syn), 0, syn, syn.time)
    for answer in (first, again):
        packed.add_answer(answer, answer.time)
    packed.pack()
    asked = []
    for attempt in (plain, packed):
        asked.append(
            [
                (attempt.answered_near(probe.stamp, window), attempt.answered_a_hop_before(probe, window))
                for probe in probes
                for window in (0.0001, 0.001, 2.0)
            ]
        )
    assert asked[0] == asked[1]
    assert {near for near, _hop in asked[0]} == {True, False}
    assert {hop for _near, hop in asked[0]} == {True, False}


@pytest.mark.parametrize(
    "src, dst",
    [
        (("10.0.0.1", 40000), ("10.0.0.2", 80)),
        (("10.0.0.2", 80), ("10.0.0.1", 40000)),
        (("2001:db8::1", 443), ("2001:db8::1:0:0:2", 443)),
        (("127.0.0.1", 5000), ("127.0.0.1", 5000)),  # a socket connected to itself
        (("127.0.0.1", 5001), ("127.0.0.1", 5000)),
    ],
)
def test_an_attempts_key_is_its_flow_key_as_one_text_both_ways(src: tuple, dst: tuple) -> None:
    there = _segment(1, 1.0, src, dst, SYN, 1, 0)
    back = _segment(2, 1.1, dst, src, SYN | ACK, 5, 2)
    assert attempt_key(there) == attempt_key(back)
    assert flow_key_of(attempt_key(there)) == flow_key(there) == flow_key(back)
    # The port objects are the shared ones, as flow_key makes them.
    assert flow_key_of(attempt_key(there))[1] is flow_key(there)[1]


def _random_capture(rng: random.Random, count: int) -> list[Segment]:
    """Segments on a few 4-tuples whose connections start, answer, resend, reset, close,
    reuse ports and go quiet past their timers, in every order."""
    segments = []
    time = 100.0
    choices = [SYN] * 6 + [SYN | ACK] * 5 + [ACK] * 3 + [RST, RST | ACK, FIN | ACK, PSH | ACK, SYN | FIN]
    for frame in range(1, count + 1):
        time += rng.choice([0.0, 0.0001, 0.01, 0.5, 1.0, 3.5, 6.0, 40.0]) if rng.random() < 0.3 else 0.001
        client = rng.choice(ENDS)
        flags = rng.choice(choices)
        to_server = rng.random() < 0.55
        src, dst = (client, SERVER) if to_server else (SERVER, client)
        seq = rng.choice([100, 100, 101, 500, 501, 7000])
        ack = rng.choice([0, 101, 501, 502, 9])
        segment = _segment(frame, time, src, dst, flags, seq, ack, ip_id=rng.randrange(3))
        if flags & SYN:
            segment.options = TcpOptions(rng.choice([1460, None]), None, rng.random() < 0.5)
        if rng.random() < 0.5:
            segment.ts_val, segment.ts_ecr = rng.choice([(0, 0), (7, 0), (7, 1 << 31), ((1 << 32) - 1, 9)])
        if rng.random() < 0.03:
            segment.tunnel = "VXLAN"
        if flags & RST and rng.random() < 0.3:
            segment.payload = b"reset"
        segments.append(segment)
    return segments


def _connections(
    segments: list[Segment],
    pack: bool,
    timeouts: Timeouts | None = None,
    pack_over_from: int = 10**9,
    plain_attempts: int = 0,
) -> list[tuple]:
    tracker = ConnectionTracker(
        timeouts or Timeouts(),
        pack_attempts=pack,
        pack_over_from=pack_over_from,
        plain_attempts=plain_attempts,
    )
    done: list = []
    out = []
    for segment in segments:
        tracker.take(segment, done)
        out.extend(done)
        done.clear()
    out.extend(tracker.finish(segments[-1].time + 20.0))
    return [
        (
            c.id,
            c.segments,
            c.expired,
            c.capture_end,
            c.reuses_ports_of,
            c.succeeded_at,
            c.client,
            c.server,
            c.family,
            c.tunnels,
            c.untunnelled_too,
            c.copies,
            c.copy_count,
        )
        for c in out
    ]


@pytest.mark.parametrize("seed", range(40))
def test_packed_or_not_the_connections_and_their_order_are_the_same(seed: int, monkeypatch) -> None:
    import analyzer.connections as connections

    monkeypatch.setattr(connections, "SWEEP_EVERY", 7)  # sweeps between every few segments
    segments = _random_capture(random.Random(seed), 400)
    unpacked = _connections(segments, pack=False)
    # Packed at once, the latest one or two held as they came, or all (PLAIN_ATTEMPTS's).
    assert _connections(segments, pack=True, plain_attempts=(0, 1, 2, 10**9)[seed % 4]) == unpacked
    assert len(unpacked) > 20


def _scan_capture(rng: random.Random, count: int, clients: list[tuple[str, int]] = ENDS) -> list[Segment]:
    """Attempts on a few 4-tuples as a scan or a flood makes them: a SYN answered by a RST,
    or by a SYN/ACK (perhaps resent, within the capture-copy window or later) the client may
    answer with a RST (its sequence number right or not, after a SYN/ACK that acknowledged
    its SYN or not), or by nothing; now and then a segment more (a SYN again, a RST again,
    an ACK), soon or after the timers."""
    segments: list[Segment] = []
    time = 100.0
    gaps = [0.0, 0.0001, 0.001, 1.0, 4.9, 5.1, 6.0, 40.0]

    def add(src: tuple, dst: tuple, flags: int, seq: int, ack: int) -> None:
        segments.append(_segment(len(segments) + 1, time, src, dst, flags, seq, ack, checksum=7, ip_id=9))
        if rng.random() < 0.1:  # captured twice (connections.py's capture copies)
            segments.append(
                _segment(len(segments) + 1, time + 0.0001, src, dst, flags, seq, ack, checksum=7, ip_id=9)
            )

    while len(segments) < count:
        time += rng.choice(gaps)
        client = rng.choice(clients)
        isn = rng.choice([100, 100, 7000, 2**32 - 1])
        add(client, SERVER, SYN, isn, 0)
        answer = rng.random()
        time += rng.choice(gaps)
        if answer < 0.35:
            add(SERVER, client, rng.choice([RST | ACK, RST]), 0, (isn + 1) % 2**32)
        elif answer < 0.8:
            synack_ack = rng.choice([(isn + 1) % 2**32, (isn + 1) % 2**32, isn, 9])
            add(SERVER, client, SYN | ACK, 500, synack_ack)
            for _resend in range(rng.choice([0, 0, 1, 2, 6, 8])):  # a listener resending it
                time += rng.choice([0.0001, 0.004, 1.0, 2.0, 4.0])
                add(SERVER, client, SYN | ACK, rng.choice([500, 500, 600]), synack_ack)
            if rng.random() < 0.7:
                time += rng.choice(gaps)
                seq = rng.choice([(isn + 1) % 2**32, (isn + 1) % 2**32, 9])
                add(client, SERVER, rng.choice([RST, RST, RST | ACK]), seq, rng.choice([0, 501]))
        if rng.random() < 0.25:
            time += rng.choice(gaps)
            flags = rng.choice([SYN, RST, RST | ACK, ACK, SYN | ACK])
            src, dst = (client, SERVER) if rng.random() < 0.5 else (SERVER, client)
            add(
                src, dst, flags, rng.choice([isn, (isn + 1) % 2**32, 500]), rng.choice([0, (isn + 1) % 2**32])
            )
    return segments


@pytest.mark.parametrize("seed", range(40))
def test_attempts_ended_by_a_rst_packed_or_not_are_the_same(seed: int, monkeypatch) -> None:
    import analyzer.connections as connections

    monkeypatch.setattr(connections, "SWEEP_EVERY", 3)
    segments = _scan_capture(random.Random(seed), 300)
    # The attempt timer shorter than CLOSE_DELAY too: an attempt a RST ended is the
    # queue's to hand over, not its timer's.
    timeouts = Timeouts() if seed % 2 else Timeouts(attempt=1.0)
    unpacked = _connections(segments, False, timeouts)
    assert _connections(segments, True, timeouts) == unpacked
    assert len(unpacked) > 60


@pytest.mark.parametrize("seed", range(10))
def test_attempts_between_two_ports_of_one_address_packed_or_not_are_the_same(seed: int, monkeypatch) -> None:
    """On loopback both ends share an address: only the ports tell the SYN's sender."""
    import analyzer.connections as connections

    monkeypatch.setattr(connections, "SWEEP_EVERY", 3)
    clients = [(SERVER[0], 40000), (SERVER[0], 40001), (SERVER[0], 79)]
    segments = _scan_capture(random.Random(seed), 300, clients)
    unpacked = _connections(segments, False)
    assert _connections(segments, True) == unpacked
    assert len(unpacked) > 60
    # And an attempt on loopback is held packed all the same: its SYN/ACK and the client's RST.
    tracker = ConnectionTracker()
    client = clients[seed % len(clients)]
    tracker.add(_segment(1, 100.0, client, SERVER, SYN, 7, 0))
    tracker.add(_segment(2, 100.001, SERVER, client, SYN | ACK, 900, 8))
    tracker.add(_segment(3, 100.002, client, SERVER, RST, 8, 0))
    [attempt] = tracker._attempts.all()
    assert not tracker._current and attempt.answered and attempt.over


def test_a_scan_s_refused_and_half_open_attempts_stay_packed(monkeypatch) -> None:
    import analyzer.connections as connections

    tracker = ConnectionTracker()
    for n in range(300):
        client = (f"10.1.{n // 250}.{n % 250}", 1024 + n)
        at = 100 + n * 0.001
        tracker.add(_segment(3 * n + 1, at, client, SERVER, SYN, n, 0))
        if n % 2:  # a closed port
            tracker.add(_segment(3 * n + 2, at + 0.0002, SERVER, client, RST | ACK, 0, n + 1))
        else:  # an open one, and the scanner's RST
            tracker.add(_segment(3 * n + 2, at + 0.0002, SERVER, client, SYN | ACK, 7, n + 1))
            tracker.add(_segment(3 * n + 3, at + 0.0003, client, SERVER, RST, n + 1, 0))
    assert tracker.held() == 300 and not tracker._current
    assert all(attempt.over for attempt in tracker._attempts.all())
    monkeypatch.setattr(connections, "SWEEP_EVERY", 1)
    done = tracker.add(_segment(1000, 106.0, ENDS[0], SERVER, SYN, 5, 0))  # all quiet for 5 s
    assert len(done) == 300 and [c.id for c in done] == list(range(300))
    assert all(c.expired is None and c.capture_end is None for c in done)
    assert [len(c.segments) for c in done[:2]] == [3, 2]


def _linux_options(ts_val: int, ts_ecr: int) -> TcpOptions:
    """A Linux SYN's options as the decoder reads them: MSS, SACK-permitted, timestamps, NOP,
    window scale."""
    raw = bytes([2, 4, 5, 0xB4, 4, 2, 8, 10]) + ts_val.to_bytes(4, "big") + ts_ecr.to_bytes(4, "big")
    return parse_options(raw + bytes([1, 3, 3, 7]))


def test_timestamps_are_kept_in_the_records_and_the_options_shared() -> None:
    """Each SYN and SYN/ACK carries its own timestamps (Linux's), which tell which SYN a
    SYN/ACK answered: the records keep them, each attempt holds options shared with every
    other of the same list, and a SYN/ACK sent again with other timestamps stays packed."""
    tracker = ConnectionTracker(plain_attempts=0)
    for n in range(3):
        client = (f"10.1.0.{n + 1}", 40000)
        syn = _segment(3 * n + 1, 100 + n, client, SERVER, SYN, n, 0)
        syn.options = _linux_options(1000 + n, 0)
        syn.ts_val, syn.ts_ecr = 1000 + n, 0
        tracker.add(syn)
        for again in range(2):
            synack = _segment(
                3 * n + 2 + again, 100.0002 + n + again * 0.5, SERVER, client, SYN | ACK, 7, n + 1
            )
            synack.options = _linux_options(5000 + again, 1000 + n)
            synack.ts_val, synack.ts_ecr = 5000 + again, 1000 + n
            tracker.add(synack)
    attempts = tracker._attempts.all()
    assert tracker.held() == 3 and len(attempts) == 3
    assert len({id(attempt.options_a) for attempt in attempts}) == 1
    assert len({id(attempt.options_b) for attempt in attempts}) == 1
    for attempt in attempts:
        syn, *synacks = attempt.segments()
        assert syn.options is not None and syn.ts_val == 1000 + syn.seq
        assert [(s.ts_val, s.ts_ecr) for s in synacks if s.options] == [
            (5000, syn.ts_val),
            (5001, syn.ts_val),
        ]


def test_a_flood_s_attempts_are_held_packed() -> None:
    """All but the latest PLAIN_ATTEMPTS (here 100), which are held as they came: a server's
    attempts are acknowledged long before so many others come."""
    tracker = ConnectionTracker(plain_attempts=100)
    for n in range(1000):
        client = (f"10.1.{n // 250}.{n % 250}", 1024 + n)
        tracker.add(_segment(2 * n + 1, 100 + n * 0.001, client, SERVER, SYN, n, 0))
        tracker.add(_segment(2 * n + 2, 100 + n * 0.001 + 0.0002, SERVER, client, SYN | ACK, 7, n + 1))
    assert tracker.held() == 1000 and not tracker._current
    attempts = sorted(tracker._attempts.all(), key=lambda attempt: attempt.first_index)
    assert all(attempt.answered for attempt in attempts)
    assert [attempt.plain is None for attempt in attempts] == [True] * 900 + [False] * 100
    assert all(len(attempt.data) == 2 * SHORT_SIZE for attempt in attempts[:900])
