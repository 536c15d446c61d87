"""ICMP destination-unreachable errors about a TCP connection's segments, and what they mean.

A host or a router that cannot deliver a segment may say so in an ICMP (ICMPv6) error
that quotes the segment's IP header and its first 8 TCP bytes: the 4-tuple and the
sequence number. A firewall's REJECT answers a SYN with port unreachable (its default)
or administratively prohibited; a router with net or host unreachable.

What a stack does with one: Linux (tcp_v4_err, tcp_v6_err) ends a connection in SYN_SENT
on any destination-unreachable error that quotes its SYN (the quoted number must be the
ISN: between snd_una and snd_nxt), path MTU's errors (IPv4's fragmentation needed, ICMPv6
Packet Too Big) apart, and connect() fails with the error's errno (icmp_err_convert,
icmpv6_err_convert). Once
established, such errors are soft: the connection goes on and retransmits. Windows keeps
sending SYNs after one; so a SYN sent after the error says its stack did not give up.
"""

from __future__ import annotations

from typing import Final

from analyzer.connections import CAPTURE_COPY_WINDOW, Connection, quoted_segment
from analyzer.decode.segment import ACK, FIN, SYN, UNSEEN, Segment, Unreachable, seq_diff


def ends_a_connect(error: Unreachable) -> bool:
    """Whether Linux ends a connection in SYN_SENT on it (path MTU's errors do not)."""
    return not error.too_big


def answered_syn(connection: Connection, syns: list[Segment]) -> Unreachable | None:
    """The first of `connection`'s errors that quotes one of the client's `syns` (its
    4-tuple, and its ISN when the error quotes a number) and ends a connect."""
    errors = _syn_errors(connection, syns)
    return errors[0] if errors else None


def last_answered_syn(connection: Connection, syns: list[Segment]) -> Unreachable | None:
    """The last such error: the one that ended the attempt where an earlier one did not
    (Linux drops an error that comes while connect() still holds the socket: its own host's
    firewall answers that soon)."""
    errors = _syn_errors(connection, syns)
    return errors[-1] if errors else None


def _syn_errors(connection: Connection, syns: list[Segment]) -> list[Unreachable]:
    """`connection`'s errors that quote one of `syns` and end a connect, in capture order."""
    found = []
    for error in connection.unreachables:
        quoted = quoted_segment(connection, error)
        if quoted is not None and any(quoted is syn for syn in syns) and ends_a_connect(error):
            found.append(error)
    return found


def refused_on_the_way(connection: Connection) -> set[int]:
    """The frames of data or FIN segments an ICMP error quotes (quoted_segment): dropped
    where the error came from (a router's fragmentation needed or Packet Too Big, a host or
    network unreachable, a firewall's prohibited), so they never reached their receiver,
    which the state machine then does not move (helper-136's pmtu4: refused segments drawn
    as delivered). Not where the receiver had acknowledged the segment's data before the
    error came (another copy arrived: the error is about an old one). SYNs are the
    handshake's (answered_syn)."""
    refused: set[int] = set()
    for error in connection.unreachables:
        quoted = quoted_segment(connection, error)
        if quoted is None or quoted.flags & SYN or not (quoted.payload_len or quoted.flags & FIN):
            continue
        end = quoted.seq_end
        if any(
            s.frame < error.frame
            and s.flags & ACK
            and (s.src, s.sport) == (quoted.dst, quoted.dport)
            and seq_diff(s.ack, end) >= 0
            for s in connection.segments
        ):
            continue
        refused.add(quoted.frame)
    return refused


# ICMP errors held until the connection they are about is handed over: a scan answered by
# ICMP brings one for each probe, so only the latest are held.
HELD_LIMIT: Final = 1 << 16
# An error comes within a round trip of the segment it quotes: one this long after a
# connection's last segment is not about it.
LATE_LIMIT: Final = 5.0
_COPY_LOOK_BACK: Final = 64  # the latest errors about one 4-tuple a copy is looked for among (a flight)


def _same_error(one: Unreachable, other: Unreachable) -> bool:
    return (
        one.src == other.src
        and one.dst == other.dst
        and one.kind == other.kind
        and one.code == other.code
        and one.quoted_seq == other.quoted_seq
        and one.path_mtu == other.path_mtu
        and one.checksum == other.checksum != UNSEEN
    )


class HeldErrors:
    """ICMP errors quoting TCP, by the 4-tuple of the segment they quote, until `take` gives
    a connection those about it. An error the same as one held (from the same host, of the
    same kind, about the same segment) within CAPTURE_COPY_WINDOW of it is a capture copy of
    it (two captures merged, a router's `-i any`: helper-136's pmtu4 listed each of 10
    errors twice), held once and counted in `copies`, where their ICMP checksums are the same
    too (errors about pure ACKs, one sequence number for all, differ in what else they quote:
    helper-137)."""

    def __init__(self) -> None:
        self._by_tuple: dict[tuple[str, int, str, int], list[Unreachable]] = {}
        self.copies = 0

    def __bool__(self) -> bool:
        return bool(self._by_tuple)

    def add(self, error: Unreachable) -> None:
        held = self._by_tuple
        errors = held.get(error.quoted)
        if errors is None:
            if len(held) >= HELD_LIMIT:
                del held[next(iter(held))]
            errors = held[error.quoted] = []
        for earlier in reversed(errors[-_COPY_LOOK_BACK:]):
            if abs(error.time - earlier.time) <= CAPTURE_COPY_WINDOW and _same_error(error, earlier):
                self.copies += 1
                return
        errors.append(error)

    def take(
        self, client: tuple[str, int], server: tuple[str, int], first: float, last: float
    ) -> list[Unreachable]:
        """The errors quoting a segment between `client` and `server` (either way) that came
        from `first` (its first segment's time) to LATE_LIMIT after `last`."""
        found: list[Unreachable] = []
        held = self._by_tuple
        for key in ((*client, *server), (*server, *client)):
            errors = held.get(key)
            if errors is None:
                continue
            mine = [e for e in errors if first <= e.time <= last + LATE_LIMIT]
            if mine:
                rest = [e for e in errors if not first <= e.time <= last + LATE_LIMIT]
                if rest:
                    held[key] = rest
                else:
                    del held[key]
                found.extend(mine)
        return sorted(found, key=lambda e: e.frame)
