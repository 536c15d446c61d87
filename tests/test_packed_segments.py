"""Connections that are over held packed while they wait (analyzer/packed_segments.py) give
the connections unpacked ones give."""

from __future__ import annotations

import random

import pytest
from test_held_attempt import ENDS, SERVER, _connections, _random_capture, _segment

from analyzer.benchmark.synthetic import write_capture
from analyzer.connections import ConnectionTracker
from analyzer.decode import read_segments
from analyzer.decode.segment import ACK, FIN, RST, SYN, UNSEEN, Segment, TcpOptions
from analyzer.packed_segments import pack_segments
from analyzer.timefmt import epoch_seconds, stamp_of


def test_a_connection_s_segments_come_back_field_for_field() -> None:
    options = TcpOptions(1460, 7, True, True, False)
    client = ENDS[0]
    segments = [
        _segment(1, 1700000000.123456, client, SERVER, SYN, 4294967295, 0, ip_id=7, checksum=0xBEEF, ttl=64),
        _segment(2, 1700000000.1235, SERVER, client, SYN | ACK, 5, 0, ttl=UNSEEN, sack_start=9),
        _segment(3, 1700000000.2, client, SERVER, ACK | FIN, 0, 6, payload_cut=True, sack_end=4),
        _segment(4, 1700000000.3, SERVER, client, RST, 6, 0),
    ]
    segments[0].options = options
    packed = pack_segments(segments, *client)
    assert packed is not None and len(packed) == 4
    assert packed.segments() == segments
    assert packed.segments()[0].options is options  # shared, as the decoder shares them
    # One address at both ends (loopback): told apart by port.
    loop = [_segment(1, 1.0, ("127.0.0.1", 5000), ("127.0.0.1", 80), SYN, 1, 0)]
    loop.append(_segment(2, 2.0, ("127.0.0.1", 80), ("127.0.0.1", 5000), SYN | ACK, 9, 2))
    loop[0].options = loop[1].options = None
    assert pack_segments(loop, "127.0.0.1", 5000).segments() == loop  # type: ignore[union-attr]
    # What a record cannot hold is not packed.
    tunnelled = _segment(5, 1.0, client, SERVER, ACK, 0, 6, tunnel="VXLAN")
    worded = _segment(6, 1.0, client, SERVER, RST, 0, 6, payload=b"reset")
    for other in (tunnelled, worded):
        assert pack_segments([*segments, other], *client) is None


@pytest.mark.parametrize("seed", range(30))
def test_over_connections_packed_or_not_are_the_same(seed: int, monkeypatch) -> None:
    import analyzer.connections as connections

    monkeypatch.setattr(connections, "SWEEP_EVERY", 7)  # sweeps between every few segments
    segments = _random_capture(random.Random(seed), 600)
    assert _connections(segments, pack=True, pack_over_from=0) == _connections(segments, pack=True)


def test_a_server_s_connections_packed_while_they_wait_are_the_same(tmp_path) -> None:
    """The synthetic mix (closes of every shape, resets, resends, port reuse), every over
    connection packed as it is queued: the same connections, segment for segment."""
    path = tmp_path / "mix.pcap"
    write_capture(path, 40_000)
    segments = list(read_segments(str(path)))
    packed_count = []

    def connections(pack_over_from: int) -> list[tuple]:
        tracker = ConnectionTracker(pack_over_from=pack_over_from)
        done: list = []
        out = []
        packed = 0
        for segment in segments:
            tracker.take(segment, done)
            packed += sum(open_.packed is not None for open_ in tracker._current.values())
            out.extend(done)
            done.clear()
        out.extend(tracker.finish())
        packed_count.append(packed)
        return [(c.id, c.segments, c.expired, c.reuses_ports_of, c.copies, c.succeeded_at) for c in out]

    assert connections(0) == connections(10**9)
    assert packed_count[0] > 100_000 and packed_count[1] == 0  # held packed, segment after segment


def test_an_over_connection_that_grows_long_is_folded_whole() -> None:
    """Segments that keep coming after it is over (within CLOSE_DELAY) unpack it: folded,
    it is folded from its first segment."""
    from analyzer.long_connection import FoldedConnection

    client = ENDS[0]
    segments = [
        _segment(1, 1.0, client, SERVER, SYN, 100, 0),
        _segment(2, 1.001, SERVER, client, SYN | ACK, 500, 101),
        *(_segment(frame, 1.002, client, SERVER, ACK, 101, 501) for frame in range(3, 14)),
        _segment(14, 1.003, client, SERVER, RST | ACK, 101, 501),  # over, and packed
    ]
    for frame in range(15, 60):  # late, each a little later: it grows long
        src, dst = (client, SERVER) if frame % 2 else (SERVER, client)
        segments.append(_segment(frame, 1.003 + frame / 1000, src, dst, ACK, 101 + frame, 501))

    def folded(pack_over_from: int) -> list[tuple]:
        fold = lambda held, copies=None, context=None: FoldedConnection(held, copies, context, 5, 4)  # noqa: E731
        tracker = ConnectionTracker(fold=fold, long_connection=24, pack_over_from=pack_over_from)
        done: list = []
        for segment in segments:
            tracker.take(segment, done)
            if pack_over_from == 0 and segment.frame == 14:
                assert next(iter(tracker._current.values())).packed is not None
        done.extend(tracker.finish())
        return [(c.id, c.count, [s.frame for s in c.segments]) for c in done]

    with_packing = folded(0)
    assert with_packing == folded(10**9)
    assert [count for _id, count, _frames in with_packing] == [59]


def _long_connections(rng: random.Random, rounds: int) -> list[Segment]:
    """Three downloads at once, `rounds` data segments each with an ACK every second, among
    them capture copies (next, or a few segments on), copies a router further on, resends, a
    stretch in a tunnel (what does not pack) and a RST with its text; then each closes."""
    segments: list[Segment] = []
    clock = [100.0]

    def add(src: tuple, dst: tuple, flags: int, seq: int, ack: int, length: int = 0, **rest) -> Segment:
        clock[0] += rng.choice([0.00001, 0.0001, 0.001])
        stamp = stamp_of(clock[0])
        segment = Segment(
            len(segments) + 1, epoch_seconds(stamp), 4, src[0], src[1], dst[0], dst[1], flags, seq, ack,
            29200, length, None, stamp=stamp, ttl=rest.pop("ttl", 64), **rest,
        )  # fmt: skip
        segments.append(segment)
        return segment

    def again(segment: Segment, ttl: int) -> None:
        add((segment.src, segment.sport), (segment.dst, segment.dport), segment.flags, segment.seq,
            segment.ack, segment.payload_len, ip_id=segment.ip_id, ttl=ttl)  # fmt: skip

    clients = ENDS[:3]
    for client in clients:
        add(client, SERVER, SYN, 100, 0).options = TcpOptions(1460, 7, True, True, False)
        add(SERVER, client, SYN | ACK, 500, 101).options = TcpOptions(1460, 7, True, True, False)
        add(client, SERVER, ACK, 101, 501)
    for round_ in range(rounds):
        for number, client in enumerate(clients):
            seq = 501 + round_ * 100
            tunnel = "VXLAN" if number == 2 and 1_000 <= round_ < 4_000 else ""
            data = add(SERVER, client, ACK, seq, 101, 100, ip_id=round_ & 0xFFFF, tunnel=tunnel)
            chance = rng.random()
            if chance < 0.01:
                again(data, 64)  # a capture copy
            elif chance < 0.015:
                again(data, 63)  # a router further on
            elif chance < 0.02:
                add(SERVER, client, ACK, seq, 101, 100, ip_id=(round_ + 7) & 0xFFFF)  # a resend
            if round_ % 2:
                add(client, SERVER, ACK, 101, seq + 100, ip_id=round_ & 0xFFFF)
    for number, client in enumerate(clients):
        end = 501 + rounds * 100
        if number == 1:
            add(SERVER, client, RST, end, 0, payload=b"bye")
            continue
        add(client, SERVER, FIN | ACK, 101, end)
        add(SERVER, client, FIN | ACK, end, 102)
        add(client, SERVER, ACK, 102, end + 1)
    return segments


def _answers(compatibility) -> tuple:
    return compatibility.wireshark_completeness, compatibility.tcptrace, compatibility.zeek


@pytest.mark.parametrize("fold", [False, True])
def test_open_connections_with_older_segments_packed_are_the_same(fold: bool) -> None:
    """Long open connections hold their older segments packed (connections.OPEN_UNPACKED):
    the same connections, copies and resends, folded or not, as held whole (and packed whole
    once over); and they hold
    no more than OPEN_UNPACKED + OPEN_CHUNK unpacked."""
    from analyzer.connections import OPEN_CHUNK, OPEN_UNPACKED
    from analyzer.long_connection import FoldedConnection

    segments = _long_connections(random.Random(5), 6_000)
    most: list[int] = []

    def tracked(pack_open: bool) -> list[tuple]:
        folder = (
            (lambda held, copies=None, context=None: FoldedConnection(held, copies, context))
            if fold
            else None
        )
        # Packed both ways, or neither: each over connection packed too, older chunks and all.
        pack_over_from = 0 if pack_open else 10**9
        tracker = ConnectionTracker(
            fold=folder, long_connection=7_000, pack_over_from=pack_over_from, pack_open=pack_open
        )
        done: list = []
        held = packed = 0
        for segment in segments:
            tracker.take(segment, done)
            for open_ in tracker._current.values():
                held = max(held, len(open_.segments))
                packed = max(packed, open_.older_count)
        done.extend(tracker.finish())
        most.extend((held, packed))
        return [
            (c.id, c.count, c.segments, c.copies, c.copy_count, c.expired, c.folded is not None,
             c.folded and (c.folded.resends, c.folded.sequence.flags, _answers(c.folded.compatibility)))
            for c in done
        ]  # fmt: skip

    assert tracked(True) == tracked(False)
    held, packed, held_whole, packed_whole = most
    assert held < OPEN_UNPACKED + OPEN_CHUNK and packed > 5_000
    assert held_whole > 6_000 and packed_whole == 0
