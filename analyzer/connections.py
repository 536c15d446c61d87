"""Segments -> connections: group by 4-tuple, split where a new connection starts, assign roles.

A SYN (without ACK) on a 4-tuple already in use starts a new connection when its
ISN differs from the one that side opened with, or when the connection on that
4-tuple has already ended (a RST, or FINs from both sides). The second rule is
how Zeek and tcptrace count a refused connect() that is retried from the same
port with the same ISN: each attempt is a connection of its own.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from analyzer.decode.segment import ACK, FIN, RST, SYN, Segment

Endpoint = tuple[str, int]

# Ports below this are services by convention (IANA system ports).
WELL_KNOWN_PORT_LIMIT = 1024


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

    @property
    def first_time(self) -> float:
        return self.segments[0].time

    @property
    def last_time(self) -> float:
        return self.segments[-1].time

    def from_client(self, segment: Segment) -> bool:
        return (segment.src, segment.sport) == self.client


@dataclass
class _Open:
    """Bookkeeping for the connection currently using a 4-tuple."""

    segments: list[Segment]
    first_index: int
    isn: dict[Endpoint, int] = field(default_factory=dict)
    fin_from: set[Endpoint] = field(default_factory=set)
    reset: bool = False

    @property
    def ended(self) -> bool:
        return self.reset or len(self.fin_from) == 2


def group_connections(segments: Iterable[Segment]) -> list[Connection]:
    """All connections in `segments`, numbered from 0 in order of their first segment."""
    current: dict[tuple, _Open] = {}
    finished: list[_Open] = []
    count = 0
    reused: dict[int, int] = {}  # first_index of a connection -> first_index of the one before
    for segment in segments:
        sender = (segment.src, segment.sport)
        key = _key(segment)
        open_ = current.get(key)
        is_syn = segment.flags & (SYN | ACK) == SYN
        previous = None
        if open_ is not None and is_syn and _starts_new(open_, sender, segment.seq):
            finished.append(open_)
            previous, open_ = open_, None
        if open_ is None:
            open_ = current[key] = _Open([], count)
            if previous is not None:
                reused[count] = previous.first_index
            count += 1
        open_.segments.append(segment)
        if segment.flags & SYN:
            open_.isn.setdefault(sender, segment.seq)
        if segment.flags & FIN:
            open_.fin_from.add(sender)
        if segment.flags & RST:
            open_.reset = True
    finished.extend(current.values())
    finished.sort(key=lambda o: o.first_index)
    # first_index is the order of first segments, which is also the final numbering.
    connections = [_connection(number, o.segments) for number, o in enumerate(finished)]
    for connection in connections:
        connection.reuses_ports_of = reused.get(connection.id)
    return connections


def _starts_new(open_: _Open, sender: Endpoint, seq: int) -> bool:
    if open_.ended:
        return True
    isn = open_.isn.get(sender)
    return isn is not None and isn != seq


def _key(segment: Segment) -> tuple:
    a, b = (segment.src, segment.sport), (segment.dst, segment.dport)
    return (a, b) if a <= b else (b, a)


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
