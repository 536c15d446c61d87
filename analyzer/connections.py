"""Segments -> connections: group by 4-tuple, split where a new connection starts, assign roles.

A SYN (without ACK) on a 4-tuple already in use starts a new connection when its
ISN differs from the one that side opened with, or when the connection on that
4-tuple has already ended (a RST, or FINs from both sides). The second rule is
how Zeek and tcptrace count a refused connect() that is retried from the same
port with the same ISN: each attempt is a connection of its own. Any segment more
than CLOSE_DELAY after the last one of a connection that is over (a RST, or both
FINs acknowledged) starts a new one too: Zeek's tcp_close_delay, and what lets a
stream forget a connection for good.

Grouping streams: `ConnectionTracker` hands each connection over as soon as nothing
can join it any more, so memory follows the connections in flight, not the file.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Final, Literal

from analyzer.decode.segment import ACK, FIN, RST, SYN, Segment, seq_diff

Endpoint = tuple[str, int]

# Ports below this are services by convention (IANA system ports).
WELL_KNOWN_PORT_LIMIT: Final = 1024


# The two ends of a connection, by role (see the module's rule for which is the client).
Side = Literal["client", "server"]
SIDES: Final[tuple[Side, Side]] = ("client", "server")


@dataclass
class Connection:
    """One TCP connection: its segments in capture order and who is client and server."""

    id: int
    family: int
    client: Endpoint
    server: Endpoint
    segments: list[Segment] = field(default_factory=list)
    client_basis: str = "first_syn_sender"
    reuses_ports_of: int | None = None  # the earlier connection on the same 4-tuple

    def __init__(
        self,
        id: int,
        family: int,
        client: Endpoint,
        server: Endpoint,
        segments: list[Segment] | None = None,
        client_basis: str = "first_syn_sender",
        reuses_ports_of: int | None = None,
    ) -> None:
        self.id = id
        self.family = family
        self.client = client
        self.server = server
        self.segments = segments if segments is not None else []
        self.client_basis = client_basis
        self.reuses_ports_of = reuses_ports_of

    @property
    def first_time(self) -> float:
        return self.segments[0].time

    @property
    def last_time(self) -> float:
        return self.segments[-1].time

    def from_client(self, segment: Segment) -> bool:
        client = self.client  # compared field by field: no tuple made for every segment
        return segment.sport == client[1] and segment.src == client[0]

    def sender(self, segment: Segment) -> Side:
        return "client" if self.from_client(segment) else "server"


class _Open:
    """Bookkeeping for the connection currently using a 4-tuple (one made for every
    connection)."""

    def __init__(self, segments: list[Segment], first_index: int) -> None:
        self.segments = segments
        self.first_index = first_index
        self.isn: dict[Endpoint, int] = {}
        self.fin_from: set[Endpoint] = set()
        self.reset = False
        self.reuses: int | None = None  # first_index of the connection this one follows on its 4-tuple
        self.fin_end: dict[Endpoint, int] = {}  # sender -> seq just past its FIN
        self.fin_acked: set[Endpoint] = set()  # senders whose FIN the peer acknowledged
        self.queued_at = 0.0  # its last segment's time when it joined the tracker's queue of the over

    @property
    def ended(self) -> bool:
        """Closed for good: reset, or both FINs sent. A new SYN may start over."""
        return self.reset or len(self.fin_from) == 2

    @property
    def over(self) -> bool:
        """Nothing more to come: reset, or both FINs acknowledged (an end still resending
        its FIN is in LAST_ACK or CLOSING, however long it waits)."""
        return self.reset or len(self.fin_acked) == 2


# Zeek's tcp_close_delay: how long an ended connection still takes stray segments.
CLOSE_DELAY: Final = 5.0
SWEEP_EVERY = 4096  # segments between looks for connections that ended long enough ago


class ConnectionTracker:
    """Feed segments in capture order with `add`; connections come back, each once, as
    soon as they are final (and all the rest from `finish`). Ids number connections in
    the order of their first segment, whatever order they come back in."""

    def __init__(self) -> None:
        self._current: dict[tuple[str, int, str, int], _Open] = {}
        self._ended: deque[tuple[tuple, _Open]] = deque()  # over, in the order they became so
        self._count = 0
        self._since_sweep = 0

    def add(self, segment: Segment) -> list[Connection]:
        """Take the next segment; the connections it makes final, if any."""
        done: list[Connection] = []
        self.take(segment, done)
        return done

    def take(self, segment: Segment, done: list[Connection]) -> None:
        """`add`, appending to `done`: no list is made for each segment."""
        key = _key(segment)
        open_ = self._current.get(key)
        previous = None
        flags = segment.flags
        if open_ is not None and (
            (open_.over and segment.time - open_.segments[-1].time > CLOSE_DELAY)
            or (flags & (SYN | ACK) == SYN and _starts_new(open_, (segment.src, segment.sport), segment.seq))
        ):
            self._hand_over(key, open_, done)
            previous, open_ = open_, None
        if open_ is None:
            open_ = self._current[key] = _Open([], self._count)
            if previous is not None:
                open_.reuses = previous.first_index
            self._count += 1
        was_over = open_.over
        open_.segments.append(segment)
        if flags & (SYN | FIN):
            sender = (segment.src, segment.sport)
            if flags & SYN:
                open_.isn.setdefault(sender, segment.seq)
            if flags & FIN:
                open_.fin_from.add(sender)
                open_.fin_end[sender] = segment.seq_end
        if flags & RST:
            open_.reset = True
        if open_.fin_end and flags & ACK:
            peer_fin = open_.fin_end.get((segment.dst, segment.dport))
            if peer_fin is not None and seq_diff(segment.ack, peer_fin) >= 0:
                open_.fin_acked.add((segment.dst, segment.dport))
        if open_.over and not was_over:
            open_.queued_at = segment.time
            self._ended.append((key, open_))
        self._since_sweep += 1
        if self._since_sweep >= SWEEP_EVERY:
            self._since_sweep = 0
            self._sweep(segment.time, done)

    def _sweep(self, now: float, done: list[Connection]) -> None:
        """Hand over connections over and quiet for CLOSE_DELAY: no segment can join them now."""
        while self._ended:
            key, open_ = self._ended[0]
            if self._current.get(key) is not open_:
                self._ended.popleft()  # already handed over (replaced by a new SYN)
                continue
            last = open_.segments[-1].time
            if now - last > CLOSE_DELAY:
                self._ended.popleft()
                self._hand_over(key, open_, done)
            elif last > open_.queued_at:
                # Segments came after it was queued: to the back, by its latest, so that
                # one that trickles on never holds back the quiet ones behind it.
                self._ended.popleft()
                open_.queued_at = last
                self._ended.append((key, open_))
            else:
                break  # the oldest in the queue is not quiet yet, nor are those behind it

    def _hand_over(self, key: tuple, open_: _Open, done: list[Connection]) -> None:
        del self._current[key]
        connection = _connection(open_.first_index, open_.segments)
        connection.reuses_ports_of = open_.reuses
        done.append(connection)

    def finish(self) -> list[Connection]:
        done: list[Connection] = []
        for key, open_ in list(self._current.items()):
            self._hand_over(key, open_, done)
        self._ended.clear()
        return done


def stream_connections(segments: Iterable[Segment]) -> Iterator[Connection]:
    """Connections as they become final (not in id order)."""
    tracker = ConnectionTracker()
    done: list[Connection] = []
    for segment in segments:
        tracker.take(segment, done)
        if done:
            yield from done
            done.clear()
    yield from tracker.finish()


def group_connections(segments: Iterable[Segment]) -> list[Connection]:
    """All connections in `segments`, in id order (the order of their first segment)."""
    return sorted(stream_connections(segments), key=lambda c: c.id)


def _starts_new(open_: _Open, sender: Endpoint, seq: int) -> bool:
    if open_.ended:
        return True
    isn = open_.isn.get(sender)
    return isn is not None and isn != seq


def _key(segment: Segment) -> tuple[str, int, str, int]:
    """The same for both directions: the lower endpoint first."""
    src, dst = segment.src, segment.dst
    if src < dst or (src == dst and segment.sport <= segment.dport):
        return (src, segment.sport, dst, segment.dport)
    return (dst, segment.dport, src, segment.sport)


def _connection(number: int, segments: list[Segment]) -> Connection:
    client, server, basis = assign_roles(segments)
    return Connection(number, segments[0].family, client, server, segments, basis)


def assign_roles(segments: list[Segment]) -> tuple[Endpoint, Endpoint, str]:
    """(client, server, basis): the first SYN's sender; else the first SYN/ACK's receiver;
    else the side that sent to the well-known (or else the lower) port."""
    for segment in segments:
        if segment.flags & (SYN | ACK) == SYN:
            return (segment.src, segment.sport), (segment.dst, segment.dport), "first_syn_sender"
    for segment in segments:
        if segment.flags & (SYN | ACK) == SYN | ACK:
            return (
                (segment.dst, segment.dport),
                (segment.src, segment.sport),
                "first_synack_receiver",
            )
    first = segments[0]
    a, b = (first.src, first.sport), (first.dst, first.dport)
    if _service_rank(b[1]) < _service_rank(a[1]):
        return a, b, "port_heuristic"
    if _service_rank(a[1]) < _service_rank(b[1]):
        return b, a, "port_heuristic"
    return a, b, "first_sender"


def _service_rank(port: int) -> tuple[int, int]:
    return (0 if port < WELL_KNOWN_PORT_LIMIT else 1, port)
