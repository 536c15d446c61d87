"""Connections that are one: the two sides of an address translation, and the subflows of a
Multipath TCP connection. File-level findings, like scans: neither shows in one connection.

Address translation
-------------------
A capture on a box that translates addresses (`tcpdump -i any` on a container host, a home
router, a Kubernetes node) sees each connection twice: on the inside with one 4-tuple, on the
outside with another. NAT rewrites addresses and ports, not sequence numbers (Linux's
conntrack, as most; a firewall that randomizes ISNs, like OpenBSD's pf with `modulate state`,
makes two connections that are not found here). Two connections whose handshakes completed
with the same client ISN and the same server ISN, on different 4-tuples, with their first SYNs
at most TRANSLATED_WITHIN apart, are one connection seen twice: 64 random bits that agree
are not chance (two of a million connections would share them once in about 36 million such
files). Their order is that of their SYNs: the first one's is the side the SYN came in on.

An attempt that did not complete (refused, unanswered, given up) has one ISN only: 32 bits,
which two of a SYN flood's million attempts share by chance. Two attempts are one only with
more: the same client ISN, one endpoint the same (a source NAT keeps the server's, a port
forward the client's), their first SYNs at most TRANSLATED_WITHIN apart, and the later SYN's
TTL (hop limit) one below the earlier's: the box routed it. A scan's probes, which may share
an ISN (one source, one target host), share their TTL too. The attempts of the file's scans
and floods (their sources, their targets) are left out at the end; those sure to be a scan's
or flood's as they are handed over (ScanDetector.hot) are not held at all, which saves memory
only: but for a probe that looked like a flood's while the file was read and is in none after
all, the same as the end leaves out.

Multipath TCP
-------------
RFC 8684: a Multipath TCP connection is opened by one TCP connection whose SYN and SYN/ACK
carry MP_CAPABLE, each end's key in it (the SYN/ACK's; version 0's SYN too). Further
subflows are TCP connections whose SYN carries MP_JOIN with the token of the receiver's key
(the first 32 bits of its SHA-256; SHA-1 in version 0). A subflow is linked to the
connection whose key gives its token; one whose MP_CAPABLE handshake the capture missed is
listed under its token alone. Wireshark does the same (tcp.options.mptcp, mptcp.stream, with
its MPTCP analysis on).

Ids are the connections' ids in their file. A share of a big file (analyzer.parallel) numbers
its own connections: the parent renumbers each share's detector with the file's ids before
adding them up (merge).
"""

from __future__ import annotations

import zlib
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import TYPE_CHECKING, NamedTuple

from analyzer.decode.segment import ACK, SYN, Segment, mptcp_token
from analyzer.findings.scans import BACKSCATTER, ScanFinding

if TYPE_CHECKING:
    from analyzer.analysis import ConnectionAnalysis
    from analyzer.connections import Connection

# How far apart the first SYNs of the two sides of a translation may be: the box may queue a
# packet before it goes out (the rule on forwarded copies in connections.py allows 2 s too).
TRANSLATED_WITHIN = 2.0

# The most sides of one connection a capture sees: a pod's, a node's after kube-proxy's DNAT,
# its uplink's after SNAT, one more NAT. More connections that share ISNs within
# TRANSLATED_WITHIN of each other are not one: their ISNs are not random (a stack or a
# traffic generator that fixes them; 1,000 such connections were read as one, "#0 = #1 = ...").
MAX_SIDES = 4


@dataclass
class Translation:
    """Connections that are one connection seen on several sides of address translations,
    in the order of their first SYNs."""

    connections: list[int]


@dataclass
class Multipath:
    """A Multipath TCP connection: the connection that opened it (None: not captured) and
    the subflows that joined it, by the token they name."""

    token: int
    connection: int | None
    subflows: list[int] = field(default_factory=list)


def _root(parent: dict[int, int], index: int) -> int:
    """The entry that stands for `index`'s translation (union-find, paths halved)."""
    while parent.get(index, index) != index:
        parent[index] = parent.get(parent[index], parent[index])
        index = parent[index]
    return index


@dataclass
class Links:
    """The file's links, as the reports tell them."""

    translations: list[Translation] = field(default_factory=list)
    multipath: list[Multipath] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.translations or self.multipath)


class _Sides:
    """Connections that may be sides of one, by a key that the sides share: in arrays, 37
    bytes each."""

    def __init__(self) -> None:
        self.keys = array("Q")
        self.times = array("d")  # the first SYN's
        self.ids = array("q")
        self.tuples = array("I")  # a CRC-32 of the 4-tuple: two sides differ in it
        self.ttls = array("B")  # the first SYN's TTL (hop limit); 0 where not read
        self.sources = array("I")  # a CRC-32 of the client's address (a scan's source?)
        self.targets = array("I")  # and of the server's endpoint (a flood's target?)

    def add(self, key: int, time: float, ident: int, ends: _Ends, ttl: int) -> None:
        self.keys.append(key)
        self.times.append(time)
        self.ids.append(ident)
        self.tuples.append(ends.four_tuple)
        self.ttls.append(ttl)
        self.sources.append(ends.source)
        self.targets.append(ends.target)

    def renumber(self, file_ids: Sequence[int]) -> None:
        self.ids = array("q", (file_ids[ident] for ident in self.ids))

    def extend(self, other: _Sides) -> None:
        for mine, theirs in zip(self._columns(), other._columns(), strict=True):
            mine.extend(theirs)  # type: ignore[attr-defined]

    def _columns(self) -> tuple[array, ...]:
        return self.keys, self.times, self.ids, self.tuples, self.ttls, self.sources, self.targets

    def runs(self, scans: Sequence[ScanFinding] = ()) -> list[list[int]]:
        """The indexes of each run of entries of one key whose SYNs follow each other within
        TRANSLATED_WITHIN, in SYN order (then id); runs of one or on more than MAX_SIDES 4-tuples left out, and the entries of
        `scans`' sources and floods' targets. The keys that repeat are found first, in one
        sorted list of the keys (about 40 bytes an entry while it lives): only their entries
        are sorted with a tuple each (200 bytes)."""
        keys, times, ids = self.keys, self.times, self.ids
        if len(keys) < 2:
            return []
        ordered = sorted(keys)
        repeated = {key for key, following in pairwise(ordered) if key == following}
        del ordered
        if not repeated:
            return []
        sources = {
            _crc(scan.source) for scan in scans if scan.source is not None and scan.kind != BACKSCATTER
        }
        targets = {_endpoint_crc(scan.target) for scan in scans if scan.target is not None}
        chosen = [
            index
            for index, key in enumerate(keys)
            if key in repeated and self.sources[index] not in sources and self.targets[index] not in targets
        ]
        chosen.sort(key=lambda index: (keys[index], times[index], ids[index]))
        runs: list[list[int]] = []
        run: list[int] = []
        for index in chosen:
            if run and (keys[index] != keys[run[-1]] or times[index] - times[run[-1]] > TRANSLATED_WITHIN):
                if self._sides_of(run):
                    runs.append(run)
                run = []
            run.append(index)
        if self._sides_of(run):
            runs.append(run)
        return runs

    def _sides_of(self, run: list[int]) -> bool:
        """Whether `run` may be sides of one connection: more than one entry, on MAX_SIDES
        4-tuples at most (a 4-tuple twice is one side seen by two taps: helper-121)."""
        return len(run) > 1 and len({self.tuples[index] for index in run}) <= MAX_SIDES


def _crc(text: str) -> int:
    return zlib.crc32(text.encode())


def _endpoint_crc(endpoint: tuple[str, int], start: int = 0) -> int:
    """An address and port's checksum, after `start`: chained, not of a tuple's text (a
    repr of each tuple cost a connection microseconds). A "|" after the address, which no
    address holds: run together, two 4-tuples' texts could be one (helper-130)."""
    return zlib.crc32(
        endpoint[1].to_bytes(2, "big"), zlib.crc32(b"|", zlib.crc32(endpoint[0].encode(), start))
    )


class _Ends(NamedTuple):
    """A connection's checksums, as its entries hold them: its 4-tuple's, its client's
    address's, and its client's and server's endpoints'."""

    four_tuple: int
    source: int
    client: int
    target: int

    @classmethod
    def of(cls, connection: Connection) -> _Ends:
        client, server = connection.client, connection.server
        at_client = _endpoint_crc(client)
        return cls(_endpoint_crc(server, at_client), _crc(client[0]), at_client, _endpoint_crc(server))


class LinkDetector:
    """Fed every connection of a file (add), in any order; findings() once they are all in.

    Each connection with a completed handshake costs 37 bytes here (its ISNs, the time and
    TTL of its SYN, its id and checksums of its 4-tuple, its client's address and its
    server's endpoint, in arrays): a busy server's million connections, 37 MB; an attempt
    that did not complete twice that (an entry by each of its endpoints)."""

    def __init__(self) -> None:
        self.handshakes = _Sides()  # by client ISN << 32 | server ISN
        self.attempts = _Sides()  # by client ISN << 32 | a CRC-32 of one endpoint
        self.tokens: dict[int, int] = {}  # MP_CAPABLE token -> the id of the connection it names
        self.joins: list[tuple[int, int]] = []  # (token named by MP_JOIN, id)

    def add(self, result: ConnectionAnalysis, hot: bool = False) -> None:
        """`hot`: the connection is a probe sure to be a scan's or a flood's: not held."""
        handshake = result.handshake
        if not handshake.syns or hot:
            return
        connection = result.connection
        if handshake.client_options is not None or handshake.server_options is not None:
            self._add_multipath(result, connection.id)
        if handshake.client_isn is not None:
            self._add(connection, handshake.status, handshake.client_isn, handshake.server_isn, handshake.syns[0],
                      result.probe)  # fmt: skip

    def add_view(self, view: ConnectionAnalysis, hot: bool = False) -> None:
        """An attempt counted by its shape (attempt_shapes.view): its handshake is its
        template's, its own SYN and answer are read from its segments."""
        if hot:
            return
        connection = view.connection
        syn = answer = None
        for segment in connection.segments:
            if segment.flags & (SYN | ACK) == SYN and syn is None and connection.from_client(segment):
                syn = segment
            elif segment.flags & (SYN | ACK) == SYN | ACK and answer is None:
                answer = segment
        if syn is not None:
            self._add(connection, view.handshake.status, syn.seq, answer.seq if answer is not None else None, syn,
                      view.probe)  # fmt: skip

    def _add(
        self,
        connection: Connection,
        status: str,
        isn: int,
        server_isn: int | None,
        syn: Segment,
        probe: str | None,
    ) -> None:
        ttl = syn.ttl if 0 < syn.ttl < 256 else 0
        if status == "complete":
            if server_isn is not None and probe is None:
                ends = _Ends.of(connection)
                self.handshakes.add(isn << 32 | server_isn, syn.time, connection.id, ends, ttl)
        elif ttl:
            ends = _Ends.of(connection)
            for end in (ends.client, ends.target):  # by each endpoint: a NAT keeps one of them
                self.attempts.add(isn << 32 | end, syn.time, connection.id, ends, ttl)

    def _add_multipath(self, result: ConnectionAnalysis, ident: int) -> None:
        handshake = result.handshake
        syn = handshake.syns[0].options
        if syn is not None and syn.mptcp_join_token >= 0:
            self.joins.append((syn.mptcp_join_token, ident))
            return
        # The token each end's key gives: the peer's MP_JOINs name it.
        for segment in (handshake.syns[0], *handshake.synacks[:1]):
            options = segment.options
            if options is not None and options.mptcp_version >= 0 and options.mptcp_key >= 0:
                token = mptcp_token(options.mptcp_key, options.mptcp_version)
                # The first connection by id, as in shares (merge), whatever the order handed over.
                self.tokens[token] = min(ident, self.tokens.get(token, ident))

    def renumber(self, file_ids: Sequence[int]) -> None:
        """A share's detector with the file's ids (file_ids[share's id]) in place of its own."""
        self.handshakes.renumber(file_ids)
        self.attempts.renumber(file_ids)
        self.tokens = {token: file_ids[ident] for token, ident in self.tokens.items()}
        self.joins = [(token, file_ids[ident]) for token, ident in self.joins]

    def merge(self, other: LinkDetector) -> None:
        self.handshakes.extend(other.handshakes)
        self.attempts.extend(other.attempts)
        for token, ident in other.tokens.items():
            self.tokens[token] = min(ident, self.tokens.get(token, ident))
        self.joins.extend(other.joins)

    def findings(self, scans: Sequence[ScanFinding] = ()) -> Links:
        """The links, once every connection is in; `scans`: the file's scans and floods,
        whose attempts are left out."""
        return Links(self._translations(scans), self._multipath())

    def _translations(self, scans: Sequence[ScanFinding]) -> list[Translation]:
        found: list[Translation] = []
        handshakes = self.handshakes
        for run in handshakes.runs():
            # One 4-tuple twice is not a translation: a capture that cannot tell copies apart.
            if len({handshakes.tuples[index] for index in run}) > 1:
                found.append(Translation([handshakes.ids[index] for index in run]))
        # Attempts: each SYN routed from the one before it (its TTL one lower), a side each;
        # sides of sides are one connection (a union of the pairs, by id: an attempt is in
        # the table by each of its endpoints), in SYN order.
        attempts = self.attempts
        ids, times = attempts.ids, attempts.times
        parent: dict[int, int] = {}  # id -> an id of its translation
        first: dict[int, float] = {}  # id -> its first SYN's time
        for run in attempts.runs(scans):
            for earlier, later in pairwise(run):
                if (
                    attempts.tuples[earlier] != attempts.tuples[later]
                    and attempts.ttls[later] == attempts.ttls[earlier] - 1
                ):
                    parent[_root(parent, ids[later])] = _root(parent, ids[earlier])
                    first[ids[earlier]], first[ids[later]] = times[earlier], times[later]
        groups: dict[int, list[int]] = {}
        for ident in first:
            groups.setdefault(_root(parent, ident), []).append(ident)
        found.extend(
            Translation(sorted(group, key=lambda ident: (first[ident], ident)))
            for group in groups.values()
            if len(group) > 1
        )
        return sorted(found, key=lambda t: t.connections[0])

    def _multipath(self) -> list[Multipath]:
        by_token: dict[int, Multipath] = {}
        for token, ident in sorted(self.joins, key=lambda join: join[1]):
            found = by_token.get(token)
            if found is None:
                found = by_token[token] = Multipath(token, self.tokens.get(token))
            found.subflows.append(ident)
        # In the order of the connections that opened them; one not captured, of its first subflow.
        return sorted(
            by_token.values(), key=lambda m: m.connection if m.connection is not None else m.subflows[0]
        )
