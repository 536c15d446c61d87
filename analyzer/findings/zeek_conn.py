"""Zeek's conn_state and history for a connection, by Zeek's own rules.

Zeek keeps, per endpoint, a state driven only by what that endpoint sends (Zeek's
TCPSessionAdapter::UpdateStateMachine): INACTIVE, SYN_SENT, SYN_ACK_SENT, PARTIAL (data
without a SYN), ESTABLISHED, CLOSED (a FIN), RESET (a RST), and derives conn_state from
the pair (conn/main.zeek). The originator is the sender of the first packet, with Zeek's
three role flips, each of which marks the history with '^' (src/Conn.cc FlipRoles):
- a first packet that is not a lone SYN, sent from one of Zeek's likely server ports
  (LIKELY_SERVER_PORTS) to a port that is not one, or to a higher likely server port
  if it is no SYN/ACK (packet_analysis/protocol/tcp/TCP.cc, WantConnection);
- a connection that opened with the originator's SYN/ACK ('H') flips when its next
  letter is an ACK or data, from either side: a stealth scan would have drawn a RST, so
  the SYN/ACK's sender was the responder after all; the history becomes '^h' and that
  letter follows (analyzer/protocol/tcp/TCP_Endpoint.cc, CheckHistory);
- a responder's first packet a SYN without ACK after the originator's SYN/ACK: the SYN
  and SYN/ACK seen in reverse order, roles flip after that SYN's letter and both ends are
  established (TCPSessionAdapter::UpdateInactiveState, "SYN/SYN-ACK reversal"). The state update of that packet still uses the
  role it came in with, as Zeek's Process() does with its is_orig.

History letters, uppercase for the originator, lowercase for the responder, each once
per endpoint unless noted: S SYN, H SYN/ACK, A pure ACK, D data, F FIN, R RST (S, H, F
and R again for a new sequence number), I FIN+RST together, Q other multi-flag packets,
T retransmitted data, W zero window and G content gap at the 1st, 10th, 100th, ...
occurrence. Not reproduced: C (bad checksum: checksums are not verified).

G is Zeek's reassembler's word (analyzer/protocol/tcp/TCP_Reassembler.cc), kept here as
_Reassembly: each side's data is held as blocks in sequence space relative to its start;
an acknowledgment from the peer (taken after that packet has moved the states, and never
past the side's FIN) that lies beyond what was delivered in order reports each hole
below it, one Gap each, unless the ACK is the first one of a partial connection (up to
relative 2). A Gap counts for the letter only while both ends are ESTABLISHED or CLOSED
straight from ESTABLISHED (is_clean). A hole filled before it is acknowledged is no gap;
a payload the capture cut short (a snapshot length below the frame's) is never held, so its
acknowledgment is one (TCP_Endpoint::DataSent, "truncated_tcp_payload");
data the side sent after Zeek saw more than tcp_max_above_hole_without_any_acks bytes above
a hole with nothing acknowledged is not reassembled at all any more, so reports no gap.

conn.log's orig_bytes and resp_bytes are Zeek's TCP_Endpoint::Size(): not a sum of payload
lengths but the span of sequence space each side used, from its initial sequence number to
the highest sequence number it sent or the peer acknowledged, less the SYN and the FIN. So
retransmitted bytes count once and bytes the capture missed (a gap) count too. Zeek sets the
start where it first sees the side (its SYN, else one before its first segment's sequence
number, else one before the peer's first acknowledgment of it), trusts no acknowledgment in
a RST, and ignores a SYN or RST that jumps more than TOO_LARGE_SEQ_DELTA; these rules are
kept as TCPSessionAdapter.cc and TCP_Endpoint.cc write them (init_endpoint, init_peer,
update_ack_seq, update_last_seq, Size), sequence wraps counted as Zeek counts them.
orig_pkts and resp_pkts count each side's segments. The duration runs from the first
segment to the last one Zeek takes the time of: it stops the clock once both sides have
closed (sent a FIN or a RST), so the ACK of the last FIN does not count.

For UDP (zeek_udp_conn) Zeek's rules are short: the originator is the first sender, unless
that datagram came from a likely server port to one that is not (UDPAnalyzer::WantConnection;
the history then opens with '^'), history D and d at each side's first datagram, bytes the sum
of the payloads, conn_state SF when both sides sent, S0 when only the originator did.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from analyzer.connections import Connection
from analyzer.decode.segment import ACK, FIN, MOD, RST, SYN, UNSEEN, Segment, seq_diff

INACTIVE: Final = "INACTIVE"
SYN_SENT: Final = "SYN_SENT"
SYN_ACK_SENT: Final = "SYN_ACK_SENT"
PARTIAL: Final = "PARTIAL"
ESTABLISHED: Final = "ESTABLISHED"
CLOSED: Final = "CLOSED"
RESET: Final = "RESET"
# conn/main.zeek's conn_state: /\^?S[^HAFGIQ]*R.*/ == c$history
RSTOS0_HISTORY: Final = re.compile(r"\^?S[^HAFGIQ]*R")
# Zeek's TOO_LARGE_SEQ_DELTA: a SYN or RST further than this from what was seen moves nothing.
TOO_LARGE_SEQ_DELTA: Final = 1048576
_SEQ_SPACE_64: Final = 1 << 64  # Zeek's sizes are unsigned 64-bit numbers
# Zeek's tcp_max_above_hole_without_any_acks (init-bare.zeek).
MAX_ABOVE_HOLE_WITHOUT_ANY_ACKS: Final = 16384
# Zeek's likely_server_ports for TCP with its default scripts: every TCP port that a script
# of scripts/base/protocols registers with Analyzer::register_for_ports (zeek/zeek at
# a13de64f). A user's site may add more; these are the ones Zeek's own tests run with.
LIKELY_SERVER_PORTS: Final = frozenset({
    21, 22, 25, 53, 79, 80, 81, 88, 135, 139, 143, 389, 443, 445, 465, 502, 514, 563, 585,
    587, 614, 631, 636, 989, 990, 992, 993, 995, 1080, 1434, 1883, 2811, 3128, 3268, 3306,
    3389, 5222, 5223, 5269, 5432, 6379, 6666, 6667, 6668, 6669, 8000, 8080, 8888, 20000,
})  # fmt: skip
# The same for UDP: the analyzers' server ports (DHCP's 68 and DNS-over-QUIC's 784 and 853
# are registered as client ports, so not likely servers) and the UDP tunnels' ports that
# scripts/base/packet-protocols registers.
LIKELY_UDP_SERVER_PORTS: Final = frozenset({
    53, 67, 88, 123, 137, 161, 162, 389, 443, 514, 1812, 2123, 2152, 3389, 3544, 4011, 4754,
    4789, 5060, 5072, 5353, 5355, 6081, 20000,
})  # fmt: skip


class _End:
    def __init__(self, is_orig: bool) -> None:
        self.is_orig = is_orig
        self.state = INACTIVE
        self.prev_state = INACTIVE
        self.seen: set[str] = set()
        self.last_syn: int | None = None
        self.last_fin: int | None = None
        self.last_rst: int | None = None
        self.last_seq = UNSEEN  # one past the highest sequence number sent
        self.size = 0  # payload bytes
        self.retransmissions = 0
        self.zero_windows = 0
        self.gaps = 0
        self.reassembly = _Reassembly()
        self.packets = 0
        # Zeek's sequence bookkeeping for Size() (module docstring): 32-bit numbers and how
        # many times each has wrapped, as TCP_Endpoint keeps them.
        self.start_seq = 0
        self.seq_last = 0
        self.seq_ack = 0
        self.seq_wraps = 0
        self.ack_wraps = 0
        self.fins = 0
        self.fin_seq = 0  # Zeek's FIN_seq: one past the latest FIN, relative to the start
        self.first_seen = False  # Zeek's first_packet_seen for this side
        self.closed = False  # sent a FIN or a RST: Zeek's did_close

    def set(self, state: str) -> None:
        self.prev_state, self.state = self.state, state

    def init_seqs(self, start: int, last: int) -> None:
        """Zeek's InitStartSeq, InitAckSeq (both `start`) and InitLastSeq: the wraps stay."""
        self.start_seq = self.seq_ack = start
        self.seq_last = last

    def update_last(self, seq: int) -> None:
        if seq < self.seq_last:
            self.seq_wraps += 1
        self.seq_last = seq

    def update_ack(self, seq: int) -> None:
        if seq < self.seq_ack:
            self.ack_wraps += 1
        self.seq_ack = seq

    def relative(self, seq: int, last: int, wraps: int) -> tuple[int, bool]:
        """Zeek's get_relative_seq: `seq` from this side's start, judged against `last`
        and its `wraps`; True with it if it lies before the start (an underflow)."""
        delta = seq_diff(seq, last)
        if delta < 0 and wraps and seq > last:
            wraps -= 1
        elif delta > 0 and seq < last:
            wraps += 1
        if wraps == 0:
            delta = seq_diff(seq, self.start_seq)
            return delta, delta < 0
        return ((wraps << 32) + seq - self.start_seq) % _SEQ_SPACE_64, False

    def acked(self) -> int:
        """Zeek's ToRelativeSeqSpace(AckSeq, AckWraps): what the peer acknowledged so far."""
        return ((self.ack_wraps << 32) + self.seq_ack - self.start_seq) % _SEQ_SPACE_64

    def no_data_acked(self) -> bool:
        """Zeek's TCP_Endpoint::NoDataAcked."""
        return self.ack_wraps == 0 and self.seq_ack in (self.start_seq, (self.start_seq + 1) % MOD)

    def clean(self) -> bool:
        """Zeek's is_clean (TCP_Reassembler.cc): established, or closed from there."""
        return self.state == ESTABLISHED or (self.state == CLOSED and self.prev_state == ESTABLISHED)

    def sequence_bytes(self, peer: _End) -> int:
        """Zeek's TCP_Endpoint::Size(): the payload bytes sent, from sequence numbers."""
        ack = (self.ack_wraps << 32) + self.seq_ack
        start = self.start_seq
        if (
            self.prev_state == SYN_SENT
            and self.state == RESET
            and peer.state == INACTIVE
            and ack != start
            and ack != start + 1
        ):
            return 0  # a half-open connection found and aborted: its numbers mean nothing
        last = (self.seq_wraps << 32) + self.seq_last
        size = ((last if last > ack else ack) - start) % _SEQ_SPACE_64
        if size:
            size -= 1  # the SYN's octet
        if self.fins and size:
            size -= 1  # the FIN's octet
        return size


class _Reassembly:
    """One side's data as Zeek's TCP_Reassembler holds it, for its content gaps (module
    docstring). Sequence numbers are relative to the side's start, as Zeek's."""

    def __init__(self) -> None:
        self.delivered = 1  # last_reassem_seq: everything below came in order or was given up
        self.trimmed = 1  # trim_seq: everything below was acknowledged
        self.blocks: list[tuple[int, int]] = []  # [seq, upper) held, sorted, disjoint
        self.skipping = False  # skip_deliveries

    def data_sent(self, end: _End, seq: int, length: int) -> None:
        """TCP_Reassembler::DataSent and Reassembler::NewBlock."""
        if self.skipping:
            return
        upper = seq + length
        seq = max(seq, end.acked(), self.trimmed)  # what was acknowledged is not held again
        if upper <= seq:
            return
        self._insert(seq, upper)
        self._deliver()
        if end.no_data_acked() and self.blocks[-1][1] - self.delivered > MAX_ABOVE_HOLE_WITHOUT_ANY_ACKS:
            self.blocks.clear()  # Zeek's above_hole_data_without_any_acks: it stops reassembling
            self.skipping = True

    def ack_received(self, end: _End, peer: _End, ack: int, partial: bool, history: list[str]) -> None:
        """TCP_Reassembler::AckReceived and DataBlockList::Trim: `ack` from the peer."""
        if end.fins and ack >= end.fin_seq:
            ack = end.fin_seq - 1  # the FIN's octet is no data
        if ack <= self.trimmed:
            return
        if ack > self.delivered and not (ack <= 2 and partial):
            # TCP_Reassembler::Undelivered; the exception is the first ACK of a partial
            # connection, whose start Zeek made up (and which then moves nothing).
            if not self.skipping:
                for seq, upper in self.blocks:
                    if seq >= ack:
                        break
                    if seq > self.delivered:
                        self._gap(end, peer, history)
                        self.delivered = upper
                    elif upper > self.delivered:
                        self.delivered = upper
                if ack > self.delivered:
                    self._gap(end, peer, history)
            self.delivered = max(self.delivered, ack)
        self.blocks = [block for block in self.blocks if block[1] > ack]
        self._deliver()
        self.trimmed = ack

    def _insert(self, seq: int, upper: int) -> None:
        blocks = self.blocks
        if blocks and blocks[-1][0] <= seq <= blocks[-1][1]:
            # In-order data, the common case: it extends the last block.
            blocks[-1] = (blocks[-1][0], max(upper, blocks[-1][1]))
            return
        kept: list[tuple[int, int]] = []
        for start, end in self.blocks:
            if end < seq or start > upper:
                kept.append((start, end))
            else:
                seq, upper = min(seq, start), max(upper, end)
        kept.append((seq, upper))
        kept.sort()
        self.blocks = kept

    def _deliver(self) -> None:
        for seq, upper in self.blocks:
            if seq > self.delivered:
                break
            self.delivered = max(self.delivered, upper)

    @staticmethod
    def _gap(end: _End, peer: _End, history: list[str]) -> None:
        """TCP_Reassembler::Gap: counted only between cleanly established ends."""
        if end.clean() and peer.clean():
            end.gaps += 1
            if _scaled(end.gaps):
                history.append(_letter(end, "G"))


@dataclass
class ZeekConn:
    conn_state: str
    history: str
    orig: tuple[str, int]
    resp: tuple[str, int]
    # conn.log's orig_bytes/resp_bytes, orig_pkts/resp_pkts and duration (module docstring)
    orig_bytes: int
    resp_bytes: int
    orig_pkts: int
    resp_pkts: int
    duration: float

    # Every argument has a default: compiled (mypyc), the class is unpickled (a UDP flow's,
    # sent from a share to the parent in a text report's head) by calling it with none.
    def __init__(
        self,
        conn_state: str = "",
        history: str = "",
        orig: tuple[str, int] = ("", 0),
        resp: tuple[str, int] = ("", 0),
        orig_bytes: int = 0,
        resp_bytes: int = 0,
        orig_pkts: int = 0,
        resp_pkts: int = 0,
        duration: float = 0.0,
    ) -> None:
        self.conn_state = conn_state
        self.history = history
        self.orig = orig
        self.resp = resp
        self.orig_bytes = orig_bytes
        self.resp_bytes = resp_bytes
        self.orig_pkts = orig_pkts
        self.resp_pkts = resp_pkts
        self.duration = duration


def zeek_conn(connection: Connection) -> ZeekConn:
    zeek = ZeekHistory(connection.segments[0])
    for segment in connection.segments:
        zeek.feed(segment)
    return zeek.result()


class ZeekHistory:
    """zeek_conn as the segments come, one at a time (so that a connection too long to
    keep is counted all the same)."""

    def __init__(self, first: Segment) -> None:
        self.orig_addr = (first.src, first.sport)
        self.resp_addr = (first.dst, first.dport)
        self.orig, self.resp = _End(True), _End(False)
        self.history: list[str] = []
        self._orig_ip, self._orig_port = self.orig_addr
        self._first_time = self._last_time = first.time
        self._partial = False  # Zeek's is_partial: the connection did not open with a SYN
        if _likely_server_flip(first):
            self._flip()

    def _flip(self) -> None:
        """Connection::FlipRoles: the ends trade roles, their states and counts with them."""
        self.orig_addr, self.resp_addr = self.resp_addr, self.orig_addr
        self._orig_ip, self._orig_port = self.orig_addr
        self.orig, self.resp = self.resp, self.orig
        self.orig.is_orig, self.resp.is_orig = True, False
        self._partial = False
        self.history.append("^")

    def feed(self, segment: Segment) -> None:
        orig, resp = self.orig, self.resp
        if segment.sport == self._orig_port and segment.src == self._orig_ip:
            endpoint, peer = orig, resp
        else:
            endpoint, peer = resp, orig
        is_orig = endpoint.is_orig  # the role the packet came in with, kept through a flip
        flags = segment.flags
        if not endpoint.first_seen:  # Zeek's SetPartialStatus
            if is_orig:
                self._partial = not flags & SYN or bool(flags & ACK)
            elif not self._partial:
                self._partial = not flags & SYN
        endpoint.packets += 1
        if not (orig.closed and resp.closed):
            self._last_time = segment.time
        history = self.history
        if (
            len(history) == 1  # not `== ["H"]`: a list made for every segment
            and history[0] == "H"
            and not flags & (SYN | FIN | RST)
            and (segment.payload_len or flags & ACK)
        ):
            # The SYN/ACK's sender was the responder (module docstring): '^h', then this letter.
            self._flip()
            self.history[:] = ["^", "h"]
            self.orig.first_seen = True  # Zeek "pretends to have seen that missing first packet"
        _history(segment, endpoint, peer, self.history)
        rel_seq, underflow, rel_ack = _sequence_space(segment, endpoint, peer)
        if (
            flags & (SYN | ACK | RST | FIN) == SYN
            and endpoint is orig
            and endpoint.state == SYN_SENT
            and peer.state == RESET
        ):
            # The refused SYN sent again (connections._Open.refused_again), where Zeek starts a
            # connection of its own: the responder as new, the last attempt's state is logged.
            peer.set(INACTIVE)
            peer.closed = False
        was_inactive = endpoint.state == INACTIVE
        if _update_state(segment, endpoint, peer, self.orig, is_orig):
            self._flip()
        elif was_inactive and endpoint.state == ESTABLISHED and not flags & SYN:
            self._partial = False  # the SYN was missed, the handshake's ACK seen: not partial
        if flags & ACK:
            # After the states moved: a gap revealed by a FIN or RST is not a clean one.
            peer.reassembly.ack_received(peer, endpoint, rel_ack, self._partial, self.history)
        if segment.payload_len and not flags & RST and not underflow and not segment.payload_cut:
            # TCP_Endpoint::DataSent: a payload the capture cut short is not reassembled.
            data_seq = rel_seq + 1 if flags & SYN else rel_seq
            endpoint.reassembly.data_sent(endpoint, data_seq, segment.payload_len)
        if flags & (FIN | RST):
            endpoint.closed = True
        endpoint.first_seen = True

    def result(self) -> ZeekConn:
        orig, resp = self.orig, self.resp
        text = "".join(self.history)
        return ZeekConn(
            _conn_state(orig, resp, text),
            text,
            self.orig_addr,
            self.resp_addr,
            orig.sequence_bytes(resp),
            resp.sequence_bytes(orig),
            orig.packets,
            resp.packets,
            self._last_time - self._first_time,
        )


def zeek_udp_conn(
    client: tuple[str, int], server: tuple[str, int], packets: list[int], sizes: list[int], duration: float
) -> ZeekConn:
    """conn.log's view of a UDP flow whose first datagram `client` sent (module docstring):
    `packets` and `sizes` by sender (client, server), its first datagram to its last."""
    history: list[str] = []
    client_packets, server_packets = packets
    client_bytes, server_bytes = sizes
    if client[1] in LIKELY_UDP_SERVER_PORTS and server[1] not in LIKELY_UDP_SERVER_PORTS:
        client, server = server, client
        client_packets, server_packets = server_packets, client_packets
        client_bytes, server_bytes = server_bytes, client_bytes
        history.append("^")
    # Each side's letter when it first sends: the first sender's first.
    first, second = ("d", "D") if history else ("D", "d")
    if packets[0]:
        history.append(first)
    if packets[1]:
        history.append(second)
    state = ("SF" if server_packets else "S0") if client_packets else ("SHR" if server_packets else "OTH")
    return ZeekConn(
        state, "".join(history), client, server, client_bytes, server_bytes, client_packets, server_packets,
        duration,
    )  # fmt: skip


def _likely_server_flip(first: Segment) -> bool:
    """Zeek's TCPAnalyzer::WantConnection: does a connection's first packet come from its
    responder, by the likely server ports? Never for a lone SYN; for a SYN/ACK only when the
    other port is no likely server port (a stealth scan's SYN/ACK is its originator's)."""
    flags = first.flags
    if (flags & SYN and not flags & ACK) or first.sport not in LIKELY_SERVER_PORTS:
        return False
    if first.dport in LIKELY_SERVER_PORTS:
        return not flags & SYN and first.sport < first.dport
    return True


def _sequence_space(segment: Segment, endpoint: _End, peer: _End) -> tuple[int, bool, int]:
    """What a segment does to Zeek's sequence bookkeeping, before the states move (TCPSessionAdapter::
    Process: init_endpoint, the ACK's init_peer or update_ack_seq, update_last_seq). Returns
    the segment's relative sequence number, whether it lies before the side's start, and its
    relative acknowledgment number (0 when that lies before the peer's start)."""
    flags, seq, length = segment.flags, segment.seq, segment.payload_len
    space = length + (1 if flags & SYN else 0) + (1 if flags & FIN else 0) - (length if flags & RST else 0)
    one_past = (seq + space) % MOD
    _init_endpoint(endpoint, flags, seq, one_past)
    rel_seq, underflow = endpoint.relative(seq, endpoint.seq_last, endpoint.seq_wraps)
    if flags & FIN:
        endpoint.fins += 1
        endpoint.fin_seq = rel_seq + length + 1 + (1 if flags & SYN else 0)
    rel_ack = 0
    if flags & ACK:
        ack = segment.ack
        if peer.state == INACTIVE:
            # Numbered as though the peer's SYN had been seen just before what this acknowledges.
            start = (ack - 1) % MOD
            peer.init_seqs(start, start)
            rel_ack = 1
        else:
            rel_ack, ack_underflow = peer.relative(ack, peer.seq_ack, peer.ack_wraps)
            if ack_underflow:
                rel_ack = 0
            elif not flags & RST:  # a RST's ACK is not trusted
                delta = seq_diff(ack, peer.seq_ack)
                if delta > 0 and not (ack == 0 and delta > TOO_LARGE_SEQ_DELTA):
                    peer.update_ack(ack)
    delta = seq_diff(one_past, endpoint.seq_last)
    if flags & (SYN | RST) and abs(delta) > TOO_LARGE_SEQ_DELTA:
        pass
    elif flags & FIN and endpoint.seq_last == (endpoint.start_seq + 1) % MOD:
        endpoint.update_last(one_past)  # SYN and FIN alone: trust the FIN, even backwards
    elif endpoint.state != RESET and delta > 0:
        endpoint.update_last(one_past)
    return rel_seq, underflow, rel_ack


def _init_endpoint(endpoint: _End, flags: int, seq: int, one_past: int) -> None:
    """Zeek's init_endpoint: where a side's sequence space starts, and starts again."""
    state = endpoint.state
    if state == INACTIVE:
        if flags & SYN:
            endpoint.init_seqs(seq, one_past)
        else:
            # As though a SYN had come just before; this segment's data is not a repeat.
            endpoint.init_seqs((seq - 1) % MOD, seq)
    elif flags & SYN and (
        (state in (SYN_SENT, SYN_ACK_SENT) and seq != endpoint.start_seq)
        or state in (ESTABLISHED, PARTIAL)
        or (state == RESET and endpoint.prev_state == INACTIVE)
    ):
        endpoint.init_seqs(seq, one_past)


def _letter(endpoint: _End, code: str) -> str:
    return code if endpoint.is_orig else code.lower()


def _once(endpoint: _End, code: str, history: list[str]) -> bool:
    """Zeek's CheckHistory: add the letter the first time; True if it was there already."""
    if code in endpoint.seen:
        return True
    endpoint.seen.add(code)
    history.append(_letter(endpoint, code))
    return False


def _scaled(count: int) -> bool:
    """Zeek's ScaledHistoryEntry: a letter at the 1st, 10th, 100th, ... occurrence."""
    while count >= 10 and count % 10 == 0:
        count //= 10
    return count == 1


def _history(segment: Segment, endpoint: _End, peer: _End, history: list[str]) -> None:
    flags, seq = segment.flags, segment.seq
    bits = bool(flags & SYN) + bool(flags & FIN) + bool(flags & RST)
    if bits > 1:
        _once(endpoint, "I" if flags & FIN and flags & RST else "Q", history)
    elif flags & SYN:
        # S and H share one mark per endpoint; a SYN with a new sequence number marks again.
        code = "H" if flags & ACK else "S"
        if "SYN" not in endpoint.seen:
            endpoint.seen.add("SYN")
            history.append(_letter(endpoint, code))
        elif seq != endpoint.last_syn:
            history.append(_letter(endpoint, code))
        endpoint.last_syn = seq
    elif flags & FIN:
        end = segment.data_end
        if _once(endpoint, "F", history) and end != endpoint.last_fin:
            history.append(_letter(endpoint, "F"))
        endpoint.last_fin = end
    elif flags & RST:
        if _once(endpoint, "R", history) and seq != endpoint.last_rst:
            history.append(_letter(endpoint, "R"))
        endpoint.last_rst = seq
    elif segment.payload_len:
        _once(endpoint, "D", history)
    elif flags & ACK:
        _once(endpoint, "A", history)
    if segment.window == 0 and not flags & RST and peer.state != CLOSED and endpoint.state != RESET:
        endpoint.zero_windows += 1
        if _scaled(endpoint.zero_windows):
            history.append(_letter(endpoint, "W"))
    end = segment.seq_end
    if endpoint.last_seq == UNSEEN or seq_diff(end, endpoint.last_seq) > 0:
        endpoint.last_seq = end
    elif segment.payload_len and not flags & (SYN | RST):
        endpoint.retransmissions += 1
        if _scaled(endpoint.retransmissions):
            history.append(_letter(endpoint, "T"))
    endpoint.size += segment.payload_len


def _update_state(segment: Segment, endpoint: _End, peer: _End, orig: _End, is_orig: bool) -> bool:
    """Zeek's UpdateStateMachine, `is_orig` the role the packet came in with. True when the
    roles are to flip: the SYN and SYN/ACK seen in reverse order (module docstring)."""
    flags = segment.flags
    state = endpoint.state
    reversed_open = False
    if state == INACTIVE:
        if flags & SYN:
            if is_orig:
                endpoint.set(SYN_ACK_SENT if flags & ACK else SYN_SENT)
            else:
                if not flags & ACK and peer.state == SYN_ACK_SENT and segment.seq == endpoint.start_seq:
                    reversed_open = True
                    peer.set(ESTABLISHED)
                if peer.state == SYN_SENT:
                    peer.set(ESTABLISHED)
                endpoint.set(ESTABLISHED)
        if flags & FIN:
            endpoint.set(CLOSED)
        if flags & RST:
            endpoint.set(RESET)
        if endpoint.state == INACTIVE:
            if not is_orig and not segment.payload_len and orig.state == SYN_SENT:
                pass  # an ACK of the SYN before the SYN/ACK: not yet a partial connection
            elif flags & ACK and peer.state == ESTABLISHED:
                endpoint.set(ESTABLISHED)  # the SYN was missed: the handshake's ACK
            else:
                endpoint.set(PARTIAL)
    elif state in (SYN_SENT, SYN_ACK_SENT):
        if flags & FIN:
            endpoint.set(CLOSED)
        if flags & RST:
            endpoint.set(RESET)
    elif state in (ESTABLISHED, PARTIAL):
        if flags & SYN and state == PARTIAL and peer.state == INACTIVE and not flags & ACK:
            endpoint.set(SYN_SENT)
        if flags & FIN and not flags & RST:
            endpoint.set(CLOSED)
            if peer.state == RESET and peer.prev_state == CLOSED:
                peer.set(CLOSED)  # the peer's FIN then RST was a normal close after all
        if flags & RST:
            endpoint.set(RESET)
    elif state == CLOSED and flags & RST and peer.state != CLOSED:
        endpoint.set(RESET)
    return reversed_open


def _conn_state(orig: _End, resp: _End, history: str) -> str:
    os, rs = orig.state, resp.state
    o_inactive = os in (INACTIVE, PARTIAL)
    r_inactive = rs in (INACTIVE, PARTIAL)
    if rs == RESET:
        if os in (SYN_SENT, SYN_ACK_SENT) or (os == RESET and orig.size == 0 and resp.size == 0):
            return "REJ"
        return "RSTRH" if o_inactive else "RSTR"
    if os == RESET:
        if r_inactive:
            return "RSTOS0" if RSTOS0_HISTORY.match(history) else "OTH"
        return "RSTO"
    if rs == CLOSED and os == CLOSED:
        return "SF"
    if os == CLOSED:
        return "SH" if r_inactive else "S2"
    if rs == CLOSED:
        return "SHR" if o_inactive else "S3"
    if os == SYN_SENT and rs == INACTIVE:
        return "S0"
    if os == ESTABLISHED and rs == ESTABLISHED:
        return "S1"
    return "OTH"
