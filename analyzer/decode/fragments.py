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

A fragment whose datagram was made whole already starts a new one, as in Wireshark: an
identification used again (a retransmitted SYN sent in fragments, or a scanner's fixed
one), or the copy of a whole datagram (captured on two interfaces), which the connections
then tell as a copy. One that stays unfinished and holds nothing but pieces of the datagram
made whole (a fragment duplicated on the way, or captured twice) is counted as a copy
(`copies`, in fragments), not as a datagram with a fragment missing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

MAX_DATAGRAMS: Final = 4096
MAX_BYTES: Final = 64 * 1024 * 1024
TIMEOUT: Final = 30.0
MAX_DATAGRAM: Final = 65535


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
    payload: bytes  # as captured: a snapshot length may have kept less than `length`
    tunnel: str
    length: int = -1  # its share of the datagram, as its IP header gives it (-1: all captured)

    def __post_init__(self) -> None:
        if self.length < 0:
            self.length = len(self.payload)


# A fragment as a datagram made whole remembers it: offset, length and a hash of its bytes.
Piece = tuple[int, int, int]


@dataclass(eq=False)
class _Datagram:
    started: float
    # The pieces of the datagram of the same key made whole before it, if any.
    echo: frozenset[Piece] = frozenset()
    pieces: list[tuple[int, bytes, int]] = field(default_factory=list)  # offset, captured, length
    header: bytes = b""
    total: int = -1  # its payload's length, once the last fragment has come
    size: int = 0

    def marks(self) -> frozenset[Piece]:
        return frozenset((offset, length, hash(captured)) for offset, captured, length in self.pieces)


class Reassembler:
    """Fragments in, whole datagrams out (`add`); `incomplete` counts those given up."""

    def __init__(self) -> None:
        self._held: dict[tuple, _Datagram] = {}
        # Datagrams made whole lately: when, and their pieces.
        self._done: dict[tuple, tuple[float, frozenset[Piece]]] = {}
        self._bytes = 0
        self.incomplete = 0
        self.copies = 0  # fragments again of a datagram made whole, that made nothing new

    def add(self, fragment: Fragment, time: float) -> bytes | None:
        """The whole datagram, as an unfragmented IP packet, once `fragment` completes it:
        its IP header's length the whole datagram's, its bytes those captured (up to the
        first a snapshot length left out, as an unfragmented packet cut so would be)."""
        self._expire(time)
        held = self._held.get(fragment.key)
        if held is None:
            done = self._done.pop(fragment.key, None)
            held = self._held[fragment.key] = _Datagram(time, done[1] if done is not None else frozenset())
        held.pieces.append((fragment.offset, fragment.payload, fragment.length))
        held.size += len(fragment.payload) + 1
        self._bytes += len(fragment.payload) + 1
        if fragment.header:
            held.header = fragment.header
        if not fragment.more:
            held.total = fragment.offset + fragment.length
        whole = _whole(held)
        if whole is None:
            return None
        self._drop(fragment.key)
        self._done[fragment.key] = (time, held.marks())
        if len(held.header) + held.total > MAX_DATAGRAM:
            self.incomplete += 1  # longer than any IP datagram can be: a crafted one
            return None
        return _rebuilt(held.header, whole, held.total)

    def finish(self) -> int:
        """Give up what is still held; the count of datagrams never completed."""
        for key in list(self._held):
            self._give_up(key)
        return self.incomplete

    def _expire(self, time: float) -> None:
        done = self._done
        while done and (len(done) > MAX_DATAGRAMS or time - next(iter(done.values()))[0] > TIMEOUT):
            del done[next(iter(done))]
        held = self._held
        while held and (
            len(held) > MAX_DATAGRAMS
            or self._bytes > MAX_BYTES
            or time - next(iter(held.values())).started > TIMEOUT
        ):
            self._give_up(next(iter(held)))

    def _give_up(self, key: tuple) -> None:
        """An unfinished datagram let go: copies of pieces of the one made whole before it,
        or a datagram a fragment of which never came."""
        held = self._held[key]
        if held.echo and held.marks() <= held.echo:
            self.copies += len(held.pieces)
        else:
            self.incomplete += 1
        self._drop(key)

    def _drop(self, key: tuple) -> None:
        self._bytes -= self._held.pop(key).size


def _whole(held: _Datagram) -> bytes | None:
    """The payload's captured bytes (from its start up to the first one not captured), if
    every fragment of it has come and so has the first one's header."""
    if held.total < 0 or not held.header:
        return None
    pieces = sorted(held.pieces, key=lambda item: item[0])
    covered = 0
    for offset, _captured, length in pieces:
        if offset > covered:
            return None  # a hole: a fragment missing
        covered = max(covered, offset + length)
    if covered < held.total:
        return None
    whole = bytearray()
    for offset, captured, _length in pieces:
        if offset > len(whole):
            break  # the bytes before it were not captured: the rest is cut
        whole[offset : offset + len(captured)] = captured
    return bytes(whole[: held.total])


def _rebuilt(header: bytes, payload: bytes, total: int) -> bytes:
    """The datagram as one unfragmented packet: its length the whole payload's `total`, no
    fragment field left; `payload` as much of it as was captured."""
    rebuilt = bytearray(header)
    if header[0] >> 4 == 4:
        rebuilt[2:4] = (len(header) + total).to_bytes(2, "big")
        rebuilt[6:8] = b"\0\0"  # no more fragments, offset 0
    else:
        rebuilt[4:6] = total.to_bytes(2, "big")
    return bytes(rebuilt) + payload
