"""Zeek's conn_state and history for a connection, by Zeek's own rules.

Zeek keeps, per endpoint, a state driven only by what that endpoint sends (Zeek's
TCPSessionAdapter::UpdateStateMachine): INACTIVE, SYN_SENT, SYN_ACK_SENT, PARTIAL (data
without a SYN), ESTABLISHED, CLOSED (a FIN), RESET (a RST), and derives conn_state from
the pair (conn/main.zeek). The originator is the sender of the first packet; when that
packet is a SYN/ACK, Zeek flips the roles and the history starts with '^'.

History letters, uppercase for the originator, lowercase for the responder, each once
per endpoint unless noted: S SYN, H SYN/ACK, A pure ACK, D data, F FIN, R RST (S, H, F
and R again for a new sequence number), I FIN+RST together, Q other multi-flag packets,
T retransmitted data and W zero window (at the 1st, 10th, 100th, ... occurrence), G a
content gap (an ACK covering bytes of the other side that were never seen). Not
reproduced: C (bad checksum: checksums are not verified).
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
RSTOS0_HISTORY: Final = re.compile(r"\^?S[^HAFGIQTRW]*R")


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
        self.holes: list[int] = []  # starts of sequence ranges never seen

    def set(self, state: str) -> None:
        self.prev_state, self.state = self.state, state


@dataclass
class ZeekConn:
    conn_state: str
    history: str
    orig: tuple[str, int]
    resp: tuple[str, int]

    def __init__(self, conn_state: str, history: str, orig: tuple[str, int], resp: tuple[str, int]) -> None:
        self.conn_state = conn_state
        self.history = history
        self.orig = orig
        self.resp = resp


def zeek_conn(connection: Connection) -> ZeekConn:
    zeek = ZeekHistory(connection.segments[0])
    for segment in connection.segments:
        zeek.feed(segment)
    return zeek.result()


class ZeekHistory:
    """zeek_conn as the segments come, one at a time (a connection too long to keep)."""

    def __init__(self, first: Segment) -> None:
        flipped = first.flags & (SYN | ACK) == SYN | ACK
        self.orig_addr = (first.dst, first.dport) if flipped else (first.src, first.sport)
        self.resp_addr = (first.src, first.sport) if flipped else (first.dst, first.dport)
        self.orig, self.resp = _End(True), _End(False)
        self.history: list[str] = ["^"] if flipped else []
        self._orig_ip, self._orig_port = self.orig_addr

    def feed(self, segment: Segment) -> None:
        if segment.sport == self._orig_port and segment.src == self._orig_ip:
            endpoint, peer = self.orig, self.resp
        else:
            endpoint, peer = self.resp, self.orig
        _history(segment, endpoint, peer, self.history)
        _update_state(segment, endpoint, peer, self.orig)

    def result(self) -> ZeekConn:
        history = "".join(self.history)
        return ZeekConn(_conn_state(self.orig, self.resp, history), history, self.orig_addr, self.resp_addr)


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
        end = (seq + segment.payload_len) % MOD
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
    if (
        flags & ACK
        and not flags & RST
        and peer.last_seq != UNSEEN
        and peer.state not in (INACTIVE, RESET)
        and (
            seq_diff(segment.ack, peer.last_seq) > 0 or any(seq_diff(segment.ack, h) > 0 for h in peer.holes)
        )
    ):
        # This ACK covers bytes of the peer's that were never seen: a content gap.
        peer.holes.clear()
        _once(peer, "G", history)
    end = segment.seq_end
    if endpoint.last_seq != UNSEEN and segment.payload_len and seq_diff(seq, endpoint.last_seq) > 0:
        endpoint.holes.append(endpoint.last_seq)  # data starts beyond what was seen: a hole
    if endpoint.last_seq == UNSEEN or seq_diff(end, endpoint.last_seq) > 0:
        endpoint.last_seq = end
    elif segment.payload_len and not flags & (SYN | RST):
        endpoint.retransmissions += 1
        if _scaled(endpoint.retransmissions):
            history.append(_letter(endpoint, "T"))
    endpoint.size += segment.payload_len


def _update_state(segment: Segment, endpoint: _End, peer: _End, orig: _End) -> None:
    flags = segment.flags
    state = endpoint.state
    if state == INACTIVE:
        if flags & SYN:
            if endpoint.is_orig:
                endpoint.set(SYN_ACK_SENT if flags & ACK else SYN_SENT)
            else:
                if peer.state == SYN_SENT:
                    peer.set(ESTABLISHED)
                endpoint.set(ESTABLISHED)
        if flags & FIN:
            endpoint.set(CLOSED)
        if flags & RST:
            endpoint.set(RESET)
        if endpoint.state == INACTIVE:
            if not endpoint.is_orig and not segment.payload_len and orig.state == SYN_SENT:
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
