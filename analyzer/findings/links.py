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
an ISN (one source, one target host), share their TTL too. The attempts of a scan or a flood
(ScanDetector.hot) are not held at all.

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
from typing import TYPE_CHECKING

from analyzer.decode.segment import mptcp_token

if TYPE_CHECKING:
    from analyzer.analysis import ConnectionAnalysis

# How far apart the first SYNs of the two sides of a translation may be: the box may queue a
# packet before it goes out (the rule on forwarded copies in connections.py allows 2 s too).
TRANSLATED_WITHIN = 2.0


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


def _join(joined: dict[int, list[int]], earlier: int, later: int) -> None:
    """Put `later` in the translation of `earlier` (a list shared by its ids), in SYN order."""
    group = joined.get(earlier)
    if group is None:
        group = joined[earlier] = [earlier]
    if later not in joined:
        group.append(later)
        joined[later] = group


@dataclass
class Links:
    """The file's links, as the reports tell them."""

    translations: list[Translation] = field(default_factory=list)
    multipath: list[Multipath] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.translations or self.multipath)


class _Sides:
    """Connections that may be sides of one, by a key that the sides share: in arrays, 29
    bytes each."""

    def __init__(self) -> None:
        self.keys = array("Q")
        self.times = array("d")  # the first SYN's
        self.ids = array("q")
        self.tuples = array("I")  # a CRC-32 of the 4-tuple: two sides differ in it
        self.ttls = array("B")  # the first SYN's TTL (hop limit); 0 where not read

    def add(self, key: int, time: float, ident: int, tuple_crc: int, ttl: int) -> None:
        self.keys.append(key)
        self.times.append(time)
        self.ids.append(ident)
        self.tuples.append(tuple_crc)
        self.ttls.append(ttl)

    def renumber(self, file_ids: Sequence[int]) -> None:
        self.ids = array("q", (file_ids[ident] for ident in self.ids))

    def extend(self, other: _Sides) -> None:
        self.keys.extend(other.keys)
        self.times.extend(other.times)
        self.ids.extend(other.ids)
        self.tuples.extend(other.tuples)
        self.ttls.extend(other.ttls)

    def runs(self) -> list[list[int]]:
        """The indexes of each run of entries of one key whose SYNs follow each other within
        TRANSLATED_WITHIN, in time order; runs of one left out."""
        keys, times, ids = self.keys, self.times, self.ids
        order = sorted(range(len(keys)), key=lambda i: (keys[i], times[i], ids[i]))
        runs: list[list[int]] = []
        run: list[int] = []
        for index in order:
            if run and (keys[index] != keys[run[-1]] or times[index] - times[run[-1]] > TRANSLATED_WITHIN):
                if len(run) > 1:
                    runs.append(run)
                run = []
            run.append(index)
        if len(run) > 1:
            runs.append(run)
        return runs


class LinkDetector:
    """Fed every connection of a file (add), in any order; findings() once they are all in.

    Each connection with a completed handshake costs 29 bytes here (its ISNs, the time and
    TTL of its SYN, its id and a checksum of its 4-tuple, in arrays): a busy server's million
    connections, 29 MB; an attempt that did not complete twice that (one entry by each of
    its endpoints)."""

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
        ident = connection.id
        if handshake.client_options is not None or handshake.server_options is not None:
            self._add_multipath(result, ident)
        isn = handshake.client_isn
        if isn is None:
            return
        syn = handshake.syns[0]
        ttl = syn.ttl if 0 < syn.ttl < 256 else 0
        sides = zlib.crc32(f"{connection.client}{connection.server}".encode())
        if handshake.status == "complete":
            if handshake.server_isn is not None and result.probe is None:
                self.handshakes.add(isn << 32 | handshake.server_isn, syn.time, ident, sides, ttl)
        elif ttl:
            for end in (connection.client, connection.server):
                self.attempts.add(isn << 32 | zlib.crc32(f"{end}".encode()), syn.time, ident, sides, ttl)

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
                self.tokens.setdefault(mptcp_token(options.mptcp_key, options.mptcp_version), ident)

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

    def findings(self) -> Links:
        return Links(self._translations(), self._multipath())

    def _translations(self) -> list[Translation]:
        found: list[Translation] = []
        handshakes = self.handshakes
        for run in handshakes.runs():
            # One 4-tuple twice is not a translation: a capture that cannot tell copies apart.
            if len({handshakes.tuples[index] for index in run}) > 1:
                found.append(Translation([handshakes.ids[index] for index in run]))
        # Attempts: each SYN routed from the one before it (its TTL one lower), a side each.
        attempts = self.attempts
        joined: dict[int, list[int]] = {}  # id -> the translation it is in, as a list of ids
        for run in attempts.runs():
            for earlier, later in pairwise(run):
                if (
                    attempts.tuples[earlier] != attempts.tuples[later]
                    and attempts.ttls[later] == attempts.ttls[earlier] - 1
                ):
                    _join(joined, attempts.ids[earlier], attempts.ids[later])
        seen: set[int] = set()
        for group in joined.values():
            if id(group) not in seen:
                seen.add(id(group))
                found.append(Translation(group))
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
