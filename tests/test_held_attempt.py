"""Attempts held packed (analyzer/held_attempt.py) give the connections unpacked ones give."""

from __future__ import annotations

import random

import pytest

from analyzer.connections import ConnectionTracker, Timeouts
from analyzer.decode.segment import ACK, FIN, PSH, RST, SYN, UNSEEN, Segment, TcpOptions
from analyzer.held_attempt import HeldAttempt

ENDS = [("10.0.0.1", 40000), ("10.0.0.1", 40001), ("192.0.2.9", 443), ("2001:db8::1", 40000)]
SERVER = ("10.0.0.2", 80)


def _segment(
    frame: int, time: float, src: tuple, dst: tuple, flags: int, seq: int, ack: int, **rest
) -> Segment:
    return Segment(frame, time, 4, src[0], src[1], dst[0], dst[1], flags, seq, ack, 29200, 0, None, **rest)


def test_a_syn_and_its_syn_ack_come_back_field_for_field() -> None:
    key = ("10.0.0.1", 40000, "10.0.0.2", 80)
    options = TcpOptions(1460, 7, True, True, False)
    syn = _segment(
        1, 1700000000.123456, ENDS[0], SERVER, SYN, 4294967295, 0, ip_id=7, checksum=0xBEEF, ttl=64
    )
    syn.options = options
    synack = _segment(
        2, 1700000000.1235, SERVER, ENDS[0], SYN | ACK | 0x40, 5, 0, ttl=UNSEEN, sack_start=9, sack_end=UNSEEN
    )
    synack.payload_cut = True
    attempt = HeldAttempt(key, 41, syn)
    attempt.add_answer(synack)
    assert attempt.segments() == [syn, synack]
    assert attempt.segments()[0].options is options  # shared, as the decoder shares them
    # Held from the higher end of its key too.
    reverse = HeldAttempt(("10.0.0.2", 80, "10.0.0.1", 40000), 0, syn)
    assert reverse.segments() == [syn]
    attempt.release()
    assert not attempt.data


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
        if rng.random() < 0.03:
            segment.tunnel = "VXLAN"
        if flags & RST and rng.random() < 0.3:
            segment.payload = b"reset"
        segments.append(segment)
    return segments


def _connections(segments: list[Segment], pack: bool) -> list[tuple]:
    tracker = ConnectionTracker(Timeouts(), pack_attempts=pack)
    done: list = []
    out = []
    for segment in segments:
        tracker.take(segment, done)
        out.extend(done)
        done.clear()
    out.extend(tracker.finish(segments[-1].time + 20.0))
    return [
        (c.id, c.segments, c.expired, c.capture_end, c.reuses_ports_of, c.succeeded_at, c.client, c.tunnels)
        for c in out
    ]


@pytest.mark.parametrize("seed", range(40))
def test_packed_or_not_the_connections_and_their_order_are_the_same(seed: int, monkeypatch) -> None:
    import analyzer.connections as connections

    monkeypatch.setattr(connections, "SWEEP_EVERY", 7)  # sweeps between every few segments
    segments = _random_capture(random.Random(seed), 400)
    unpacked = _connections(segments, pack=False)
    assert _connections(segments, pack=True) == unpacked
    assert len(unpacked) > 20


def test_a_flood_s_attempts_are_held_packed() -> None:
    tracker = ConnectionTracker()
    for n in range(1000):
        client = (f"10.1.{n // 250}.{n % 250}", 1024 + n)
        tracker.add(_segment(2 * n + 1, 100 + n * 0.001, client, SERVER, SYN, n, 0))
        tracker.add(_segment(2 * n + 2, 100 + n * 0.001 + 0.0002, SERVER, client, SYN | ACK, 7, n + 1))
    assert tracker.held() == 1000 and not tracker._current
    assert all(attempt.answered for attempt in tracker._attempts.values())
