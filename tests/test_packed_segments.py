"""Connections that are over held packed while they wait (analyzer/packed_segments.py) give
the connections unpacked ones give."""

from __future__ import annotations

import random

import pytest
from test_held_attempt import ENDS, SERVER, _connections, _random_capture, _segment

from analyzer.benchmark.synthetic import write_capture
from analyzer.connections import ConnectionTracker
from analyzer.decode import read_segments
from analyzer.decode.segment import ACK, FIN, RST, SYN, UNSEEN, TcpOptions
from analyzer.packed_segments import pack_segments


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
