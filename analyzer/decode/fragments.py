"""IP datagrams sent in fragments, put back together before their TCP is read.

A fragmented datagram's TCP header is in its first fragment (or, split by a scanner's
`nmap -f`, across the first few) and its length is the whole datagram's: read from the
first fragment alone, a segment of 2,918 bytes was one of 1,460 and the peer's ACK of the
rest acknowledged "data never sent". So each fragment is held until its datagram is
whole, which is then read as if it had come unfragmented, in the frame of its last
fragment and at its time: where Wireshark shows the reassembled segment (its IPv4 and IPv6
reassembly is on by default). A datagram a fragment of which the capture lacks is left out,
as Wireshark leaves it, and counted in a warning.

Held: at most MAX_DATAGRAMS datagrams and MAX_BYTES bytes of them, each for TIMEOUT seconds
of capture time (Linux's ipfrag_time); past that the oldest is given up, counted as
incomplete. Pieces that overlap are written in the order they came (a later one's bytes
over an earlier one's).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

MAX_DATAGRAMS: Final = 4096
MAX_BYTES: Final = 64 * 1024 * 1024
TIMEOUT: Final = 30.0
MAX_DATAGRAM: Final = 65535
_IPV4_HEADER_LENGTH_UNITS: Final = 4


@dataclass(eq=False)
class Fragment:
    """One fragment: its datagram's key (IP version, addresses, identification, protocol),
    where its bytes go, whether more follow; the first one brings the header to rebuild
    the datagram with (IPv4's own; IPv6's fixed header, its next header the fragment
    header's). `tunnel`: the tunnels the datagram travels in."""

    key: tuple
    offset: int
    more: bool
    header: bytes
    payload: bytes
    tunnel: str


@dataclass(eq=False)
class _Datagram:
    started: float
    pieces: list[tuple[int, bytes]] = field(default_factory=list)
    header: bytes = b""
    total: int = -1  # its payload's length, once the last fragment has come
    size: int = 0


class Reassembler:
    """Fragments in, whole datagrams out (`add`); `incomplete` counts those given up."""

    def __init__(self) -> None:
        self._held: dict[tuple, _Datagram] = {}
        self._bytes = 0
        self.incomplete = 0
        self.reassembled = 0

    def add(self, fragment: Fragment, time: float) -> bytes | None:
        """The whole datagram, as an unfragmented IP packet, once `fragment` completes it."""
        self._expire(time)
        held = self._held.get(fragment.key)
        if held is None:
            held = self._held[fragment.key] = _Datagram(time)
        held.pieces.append((fragment.offset, fragment.payload))
        held.size += len(fragment.payload)
        self._bytes += len(fragment.payload)
        if fragment.header:
            held.header = fragment.header
        if not fragment.more:
            held.total = fragment.offset + len(fragment.payload)
        whole = _whole(held)
        if whole is None:
            return None
        self._drop(fragment.key)
        if len(held.header) + len(whole) > MAX_DATAGRAM:
            self.incomplete += 1  # longer than any IP datagram can be: a crafted one
            return None
        self.reassembled += 1
        return _rebuilt(held.header, whole)

    def finish(self) -> int:
        """Give up what is still held; the count of datagrams never completed."""
        self.incomplete += len(self._held)
        self._held.clear()
        self._bytes = 0
        return self.incomplete

    def _expire(self, time: float) -> None:
        held = self._held
        while held and (
            len(held) > MAX_DATAGRAMS
            or self._bytes > MAX_BYTES
            or time - next(iter(held.values())).started > TIMEOUT
        ):
            self._drop(next(iter(held)))
            self.incomplete += 1

    def _drop(self, key: tuple) -> None:
        self._bytes -= self._held.pop(key).size


def _whole(held: _Datagram) -> bytearray | None:
    """The payload, if every byte of it has come and so has the first fragment's header."""
    if held.total < 0 or not held.header:
        return None
    covered = 0
    for offset, piece in sorted(held.pieces, key=lambda item: item[0]):
        if offset > covered:
            return None  # a hole
        covered = max(covered, offset + len(piece))
    if covered < held.total:
        return None
    whole = bytearray(held.total)
    for offset, piece in held.pieces:
        whole[offset : offset + len(piece)] = piece[: max(0, held.total - offset)]
    return whole


def _rebuilt(header: bytes, payload: bytearray) -> bytes:
    """The datagram as one unfragmented packet: its length set, no fragment field left."""
    rebuilt = bytearray(header)
    if header[0] >> 4 == 4:
        length = len(header) + len(payload)
        rebuilt[2:4] = length.to_bytes(2, "big")
        rebuilt[6:8] = b"\0\0"  # no more fragments, offset 0
    else:
        rebuilt[4:6] = len(payload).to_bytes(2, "big")
    return bytes(rebuilt) + bytes(payload)
