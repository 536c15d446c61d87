"""Grouping segments into connections, as a stream: what splits a 4-tuple, and when a
connection is handed over (so that memory follows the connections in flight)."""

from __future__ import annotations

import dataclasses

from segments import CLIENT, HANDSHAKE, conversation

from analyzer.connections import CLOSE_DELAY, ConnectionTracker, group_connections

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
    assert second.reuses_ports_of == first.id


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
        most_held = max(most_held, len(tracker._current))
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
