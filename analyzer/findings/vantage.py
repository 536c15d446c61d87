"""Where a connection was captured: at the client, at the server, between them, on one host,
or where only one direction passed; from what the packets themselves show.

Two witnesses, each read on its own and both reported:
- the handshake's timing. At the client the SYN/ACK comes a round trip after the SYN and
  the client's ACK (or a scanner's RST, its kernel's answer for no socket) follows at once; at the server the SYN/ACK follows the SYN at once and
  the ACK comes a round trip later; between them both take part of the round trip. "At
  once" is within NEAR of each other and less than a FAR_RATIO-th of the other leg.
- the IP TTLs (hop limits). A packet sent by the capturing host carries its initial TTL
  (64, 128, 255, or 32 and 60 of older stacks); one that crossed routers carries less. The
  end whose packets keep an initial TTL while the other's do not is the one captured at.
When they disagree (a capture on the first router, or a NAT rewriting TTLs), the timing
decides and both are said. Loopback and equal addresses are one host.
A third, when present, decides: capture copies a router further on (connections.py's
forwarded copies: each packet seen as it came in and again, its TTL one lower, as it left).
The capture was taken on a router between the ends, on both its sides; its own TTLs are
those of the packets as they came in. It is between the ends, however near one of them the
handshake's timing puts it: the router's queues, and what they drop, lie between it and
either end, so what it saw did not reach an end by being seen (htb on a router's port: a
server's FIN sent again after the capture had the client's last ACK, still in the queue).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, Literal

from analyzer.connections import Connection, one_hop_on
from analyzer.decode.segment import ACK, RST, SYN, Segment
from analyzer.findings.handshake import Handshake
from analyzer.timefmt import format_duration

VantagePoint = Literal["client", "server", "between", "one_host", "one_direction", "unknown"]

INITIAL_TTLS: Final = frozenset((32, 60, 64, 128, 255))
NEAR: Final = 0.001  # 1 ms: a kernel's answer, or a LAN hop
FAR_RATIO: Final = 4.0
# One leg under a twentieth of the other: the capture is next to that end, though its leg is
# over NEAR (a slow host's answer, a Wi-Fi hop: zeek_fin_retransmission's 2 ms against 305 ms).
DOMINANT_RATIO: Final = 20.0
TTL_SAMPLE: Final = 64

POINT_TEXT: Final[dict[str, str]] = {
    "client": "at the client (or next to it)",
    "server": "at the server (or next to it)",
    "between": "between the ends",
    "one_host": "on the host both ends run on",
    "one_direction": "where only one direction passed",
    "unknown": "at an unknown point",
}


@dataclass
class Vantage:
    point: VantagePoint
    evidence: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"point": self.point, "evidence": self.evidence}

    def explain(self) -> str:
        said = "; ".join(self.evidence)
        return f"{POINT_TEXT[self.point]}: {said}" if said else POINT_TEXT[self.point]


def captured_at(connection: Connection, vantage: Vantage) -> tuple[str, int] | None:
    """The end (address, port) the capture was taken at, if it was taken at one: what was
    sent to it reached it (loss_inference.py)."""
    if vantage.point == "client":
        return connection.client
    if vantage.point == "server":
        return connection.server
    return None


def _loopback(address: str) -> bool:
    """127.0.0.0/8, ::1, and IPv4's loopback mapped into IPv6 (the text the decoders write)."""
    return address.startswith(("127.", "::ffff:127.")) or address == "::1"


def find_vantage(connection: Connection, handshake: Handshake) -> Vantage:
    vantage = _found(connection, handshake)
    if vantage.point != "one_host":
        offloaded = _offloaded(connection, handshake)
        if offloaded:
            vantage.evidence.append(offloaded)
    return vantage


def _offloaded(connection: Connection, handshake: Handshake) -> str:
    """A segment larger than its receiver's SYN allowed: no such packet crossed a wire, so the
    capture was taken on a host, before its NIC cut the segments (TSO, on the sender) or after
    it joined them (GRO, on the receiver); "" if none."""
    for segment in connection.segments:
        from_client = connection.from_client(segment)
        mss = handshake.segment_allowed(from_client)
        if mss and segment.payload_len > mss:
            sender, receiver = ("client", "server") if from_client else ("server", "client")
            return (
                f"frame {segment.frame} carries {segment.payload_len:,} bytes of data, more than the "
                f"{mss:,} the {receiver}'s SYN allows a segment: taken on a host, the {sender}'s before its NIC "
                f"cut it (TSO) or the {receiver}'s after its NIC joined segments (GRO)"
            )
    return ""


def _found(connection: Connection, handshake: Handshake) -> Vantage:
    client_ip, server_ip = connection.client[0], connection.server[0]
    if client_ip == server_ip or (_loopback(client_ip) and _loopback(server_ip)):
        # One host, but a capture filtered to one direction there is still one direction's
        # (helper-104: `tcpdump -i lo 'dst port 9000'` read as one host, its hedges left out).
        # There only what the speaking end answered shows the other spoke: an unfiltered
        # capture that begins or ends within a connection leaves one end's last packets alone.
        if not connection.to_itself and not _both_spoke(connection) and _answered_unseen(connection):
            alone = _found_apart(connection, handshake)
            if alone.point == "one_direction":
                alone.evidence.append("both ends have the same or loopback addresses")
                return alone
        return Vantage("one_host", ["both ends have the same or loopback addresses"])
    return _found_apart(connection, handshake)


def _answered_unseen(connection: Connection) -> bool:
    """Whether the one end in the capture answered the other: a client that acknowledged
    after its SYN (it had a SYN/ACK), a server that sent a SYN/ACK (it had a SYN), or an end
    whose acknowledgments moved on (the other sent it data or a FIN)."""
    segments = connection.segments
    if connection.from_client(segments[0]):
        if segments[0].flags & SYN and any(s.flags & ACK and not s.flags & SYN for s in segments):
            return True
    elif any(s.flags & SYN and s.flags & ACK for s in segments):
        return True
    acks = {s.ack for s in segments if s.flags & ACK and not s.flags & SYN}
    return len(acks) > 1


def _both_spoke(connection: Connection) -> bool:
    client_spoke = server_spoke = False
    for segment in connection.segments:  # both, in the first few segments of nearly every connection
        if connection.from_client(segment):
            client_spoke = True
        else:
            server_spoke = True
        if client_spoke and server_spoke:
            return True
    return False


def _found_apart(connection: Connection, handshake: Handshake) -> Vantage:
    """As _found, the two ends on hosts of their own."""
    segments = connection.segments
    if not _both_spoke(connection):
        client_spoke = any(connection.from_client(s) for s in segments)
        who = "client" if client_spoke else "server"
        silent = "server" if client_spoke else "client"
        continued = connection.continues
        earlier = next(
            (s for s in continued.last if connection.from_client(s) == (silent == "client")), None
        ) if continued is not None else None  # fmt: skip
        if earlier is not None:
            # The connection it continues had the other direction: it passed the capture point.
            return Vantage(
                "unknown",
                [
                    f"only the {who}'s packets since the {silent}'s frame {earlier.frame}, of the connection this one continues"
                ],
            )
        address = (connection.client if who == "client" else connection.server)[0]
        error = next((e for e in connection.unreachables if e.dst == address), None)
        if error is not None:
            # The way back passed the capture point: the error about its packets did.
            return Vantage(
                "unknown",
                [
                    f"only the {who}'s TCP packets, and an ICMP error about them from {error.src} "
                    f"(frame {error.frame}), which came back through the capture point"
                ],
            )
        if who == "client" and all(s.flags & (SYN | ACK) == SYN for s in segments):
            # Nothing the client sent shows the server spoke: a server (or a filter) that never
            # answered looks the same, and is what a connect() that timed out leaves.
            return Vantage(
                "unknown",
                [
                    "only the client's SYNs, unanswered: a capture that saw one direction and a server "
                    "that never answered look alike"
                ],
            )
        if all(s.flags & RST for s in segments):
            return Vantage(
                "unknown", [f"only the {who}'s RSTs: nothing answers a RST, wherever it is captured"]
            )
        if who == "client" and all(not s.flags & (SYN | ACK) and not s.payload_len for s in segments):
            # nmap's FIN, NULL and Xmas probes: a listening port drops them without a word
            # (RFC 9293 3.10.7.2), which is how a scanner tells "open|filtered" (helper-113).
            return Vantage(
                "unknown",
                [
                    "only the client's segments without SYN or ACK (a FIN, NULL or Xmas probe), unanswered: "
                    "an open port drops them in silence, as a capture of one direction looks"
                ],
            )
        return Vantage("one_direction", [f"only the {who}'s packets are in the capture"])
    forwarded = _forwarded(connection)
    by_timing, timing = _by_timing(handshake, connection)
    by_ttl, ttls = _by_ttl(connection, forwarded is not None)
    evidence = [said for said in (timing, ttls) if said]
    if forwarded is not None:
        copy, packet = forwarded
        name = "TTL" if connection.family == 4 else "hop limit"
        evidence.append(
            f"a router's both sides: frame {copy.frame} is frame {packet.frame} as it left, its {name} "
            f"one lower ({packet.ttl}, then {copy.ttl})"
        )
    if forwarded is not None:
        near = by_timing or by_ttl
        if near is not None and near != "between":
            evidence.append(f"the router is next to the {near}, its queues between")
        return Vantage("between", evidence)
    if by_timing is not None:
        if by_ttl is not None and by_ttl != by_timing:
            evidence.append(f"the timing is taken over the TTLs, which point {POINT_TEXT[by_ttl]}")
        return Vantage(by_timing, evidence)
    return Vantage(by_ttl if by_ttl is not None else "unknown", evidence)


def _forwarded(connection: Connection) -> tuple[Segment, Segment] | None:
    """The first capture copy taken a router further on, with the packet it copies."""
    if not connection.copies:
        return None
    by_frame = {segment.frame: segment for segment in connection.segments}
    for copy, original in connection.copies:
        packet = by_frame.get(original)
        if packet is not None and one_hop_on(copy, packet):
            return copy, packet
    return None


def _by_timing(handshake: Handshake, connection: Connection) -> tuple[VantagePoint | None, str]:
    to_synack, to_ack = handshake.syn_to_synack, handshake.synack_to_ack
    answer = "ACK"
    if handshake.status != "complete" or to_synack is None or to_ack is None:
        legs = _reset_answer(connection)  # a SYN scan's: the scanner's kernel resets the SYN/ACK
        if legs is None:
            return None, ""
        (to_synack, to_ack), answer = legs, "RST"
    # With the client's bare ACK not captured its first data ends the second leg: a bound, which
    # can place the capture at the client (the data came at once) and nowhere else.
    bounded = answer == "ACK" and handshake.bare_ack_uncaptured
    if bounded:
        answer = "the client's first data (its bare ACK not captured)"
    said = f"SYN to SYN/ACK {format_duration(to_synack)}, SYN/ACK to {answer} {format_duration(to_ack)}"
    # Both within NEAR first: a leg of 0 µs is "FAR_RATIO times shorter" than one of 1 µs.
    if to_synack == 0 and to_ack == 0:
        # Stamped alike: a writer's one time for all, or a coarse clock (helper-120).
        return None, said + ": the clock did not move between them, no timing to read"
    if to_synack <= NEAR and to_ack <= NEAR:
        return None, said + ": both at once (one host or one LAN)"
    if to_ack <= NEAR and to_synack > FAR_RATIO * to_ack:
        return "client", said + f": the {answer} followed at once"
    if bounded and to_synack <= DOMINANT_RATIO * to_ack:
        return None, said + ": the second leg is at most that, so the timing places nothing"
    if to_synack <= NEAR and to_ack > FAR_RATIO * to_synack:
        return "server", said + ": the SYN/ACK followed at once"
    if to_synack > DOMINANT_RATIO * to_ack:
        return (
            "client",
            said + f": the {answer} followed soon, the rest of the round trip is the server's side",
        )
    if to_ack > DOMINANT_RATIO * to_synack:
        return "server", said + ": the SYN/ACK followed soon, the rest of the round trip is the client's side"
    return "between", said + ": both legs take part of the round trip"


def _reset_answer(connection: Connection) -> tuple[float, float] | None:
    """(SYN to SYN/ACK, SYN/ACK to the client's RST) when the client's first segment after
    the first SYN/ACK is a RST answering it: the same two legs as an ACK's. The first leg
    from the latest SYN before the SYN/ACK, the one it answers (helper-144: a SYN a TIME_WAIT
    took, sent again 1 s later and answered in 46 µs, read as a 1 s leg)."""
    syn: Segment | None = None
    synack: Segment | None = None
    for segment in connection.segments:
        from_client = connection.from_client(segment)
        flags = segment.flags & (SYN | ACK | RST)
        if synack is None or syn is None:
            if from_client and flags == SYN:
                syn = segment
            elif syn is not None and not from_client and flags == SYN | ACK:
                synack = segment
        elif from_client:
            if flags & RST and segment.seq == synack.ack:
                return synack.time - syn.time, segment.time - synack.time
            return None
    return None


def _by_ttl(connection: Connection, forwarded: bool = False) -> tuple[VantagePoint | None, str]:
    # The first TTL_SAMPLE segments say it: a route, and so the TTLs, hold for seconds. An
    # end's RSTs only where it sent nothing else: a RST injected on the way (an IPS, a
    # censor) carries the injecting box's TTL, not the end's (diagnoses: injected_rst).
    sample = connection.segments[:TTL_SAMPLE]
    client = _ttls_of([s for s in sample if connection.from_client(s)])
    server = _ttls_of([s for s in sample if not connection.from_client(s)])
    if not client or not server:
        return None, ""
    # IPv6 calls it the hop limit; it counts down the same way.
    name = "TTL" if connection.family == 4 else "hop limit"
    said = f"{name} {_values(client)} from the client, {_values(server)} from the server"
    client_initial, server_initial = client <= INITIAL_TTLS, server <= INITIAL_TTLS
    if client_initial and not server_initial:
        return "client", said + ": the client's as sent, the server's lowered by routers"
    if server_initial and not client_initial:
        return "server", said + ": the server's as sent, the client's lowered by routers"
    if not client_initial and not server_initial:
        return "between", said + ": both lowered by routers"
    if forwarded:
        return None, said + ": both as sent (the capturing router is the first hop each way)"
    return None, said + ": both as sent (no router between)"


def _ttls_of(sent: list[Segment]) -> set[int]:
    """The TTLs of one end's segments, its RSTs left out unless it sent nothing else."""
    ttls = {s.ttl for s in sent if s.ttl >= 0 and not s.flags & RST}
    return ttls or {s.ttl for s in sent if s.ttl >= 0}


def _values(ttls: set[int]) -> str:
    return "/".join(str(ttl) for ttl in sorted(ttls))
