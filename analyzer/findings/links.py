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

Attempts that did not complete are left out: a refused or unanswered attempt has one ISN
only, 32 bits, which a SYN flood's million attempts would share by chance; and the attempts of
a flood would all be held until the end of the file.

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


@dataclass
class Links:
    """The file's links, as the reports tell them."""

    translations: list[Translation] = field(default_factory=list)
    multipath: list[Multipath] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.translations or self.multipath)


class LinkDetector:
    """Fed every connection of a file (add), in any order; findings() once they are all in.

    Each connection with a completed handshake costs 28 bytes here (its ISNs, the time of its
    SYN, its id and a checksum of its 4-tuple, in arrays): a busy server's million
    connections, 28 MB."""

    def __init__(self) -> None:
        self.isns = array("Q")  # client ISN << 32 | server ISN
        self.times = array("d")  # the first SYN's
        self.ids = array("q")
        self.tuples = array("I")  # a CRC-32 of the 4-tuple: two sides differ in it
        self.tokens: dict[int, int] = {}  # MP_CAPABLE token -> the id of the connection it names
        self.joins: list[tuple[int, int]] = []  # (token named by MP_JOIN, id)

    def add(self, result: ConnectionAnalysis) -> None:
        handshake = result.handshake
        if not handshake.syns:
            return
        connection = result.connection
        ident = connection.id
        if handshake.client_options is not None or handshake.server_options is not None:
            self._add_multipath(result, ident)
        if (
            handshake.status != "complete"
            or handshake.client_isn is None
            or handshake.server_isn is None
            or result.probe is not None
        ):
            return
        self.isns.append(handshake.client_isn << 32 | handshake.server_isn)
        self.times.append(handshake.syns[0].time)
        self.ids.append(ident)
        self.tuples.append(zlib.crc32(f"{connection.client}{connection.server}".encode()))

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
        self.ids = array("q", (file_ids[ident] for ident in self.ids))
        self.tokens = {token: file_ids[ident] for token, ident in self.tokens.items()}
        self.joins = [(token, file_ids[ident]) for token, ident in self.joins]

    def merge(self, other: LinkDetector) -> None:
        self.isns.extend(other.isns)
        self.times.extend(other.times)
        self.ids.extend(other.ids)
        self.tuples.extend(other.tuples)
        for token, ident in other.tokens.items():
            self.tokens[token] = min(ident, self.tokens.get(token, ident))
        self.joins.extend(other.joins)

    def findings(self) -> Links:
        return Links(self._translations(), self._multipath())

    def _translations(self) -> list[Translation]:
        isns, times, ids = self.isns, self.times, self.ids
        order = sorted(range(len(isns)), key=lambda i: (isns[i], times[i], ids[i]))
        found: list[Translation] = []
        start = 0
        while start < len(order):
            end = start + 1
            while end < len(order) and isns[order[end]] == isns[order[start]]:
                end += 1
            group = [order[start]]
            for index in order[start + 1 : end]:
                if times[index] - times[group[-1]] > TRANSLATED_WITHIN:
                    found.extend(self._translation(group))
                    group = []
                group.append(index)
            found.extend(self._translation(group))
            start = end
        return sorted(found, key=lambda t: t.connections[0])

    def _translation(self, group: list[int]) -> list[Translation]:
        """The group's translation when it holds more than one 4-tuple (one 4-tuple twice is
        not a translation: a capture that cannot tell copies apart)."""
        if len({self.tuples[index] for index in group}) < 2:
            return []
        return [Translation([self.ids[index] for index in group])]

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
