"""Sequence analysis by Wireshark's published rules (Wireshark User's Guide, "TCP Analysis").

Each segment is judged against what its direction sent before (the next expected
sequence number, the last ACK and window) and what the other direction acknowledged:

- zero_window: the window is zero and none of SYN, FIN, RST is set.
- lost_segment ("previous segment not captured"): the sequence number is beyond the
  next expected one.
- zero_window_probe, first: exactly 1 byte at the next expected sequence number while the
  other direction's latest window is zero. Nothing else is asked of it (packet-tcp.c jumps
  past the other rules), and it does not move the next expected number: the probes that
  follow carry the same byte and are probes too, not retransmissions (a Windows or BSD
  stack's persist timer; Linux probes with a keep-alive's shape instead).
- zero_window_probe_ack: no data, a zero window again, at the next expected number with the
  same ACK, answering the other direction's probe (and so no duplicate ACK).
- keep_alive: 0 or 1 byte, no SYN/FIN/RST, sequence number one below the next expected.
- window_update: no data, no SYN/FIN/RST, at the next expected sequence number, with the
  same ACK as this direction's previous segment and another window, not zero (a receiver
  that made room says so; packet-tcp.c's rule, checked before the duplicate ACK's, which
  asks for the same window).
- window_full: data, no SYN/FIN/RST, that ends exactly at the right edge of the window the
  other direction offered last (its last acknowledgment field plus its last window, scaled
  by its window scale option unless that window was a SYN's). The scales are known once both
  SYNs were seen with the option, or nothing scales once either SYN was seen without it;
  otherwise (neither SYN, or only SYNs with the option, seen) no segment is flagged (tshark
  4.0.17 on crafted captures: a SYN/ACK's window of 200 filled by 200 bytes is full though
  both offered a scale of 7; a SYN/ACK alone with the option flags nothing).
- duplicate_ack: no data, no SYN/FIN/RST, at the next expected sequence number, with
  the same ACK and the same non-zero window as this direction's previous segment;
  keep_alive_ack instead when it answers the other side's keep-alive. The ACK flag is not
  asked for: packet-tcp.c compares and keeps every segment's acknowledgment field as it is
  on the wire (tshark 4.0.17 flags the second and third of three segments without any flag
  and with the same acknowledgment field as duplicate ACKs #1 and #2, as nmap's null-scan
  probes in ppa_activeosfingerprinting; with three different fields, none).
- ack_lost_segment ("ACKed segment that wasn't captured"): it acknowledges more than the
  other direction was seen sending without a hole: packet-tcp.c's "max seq to be acked", which
  moves to the next expected number only with a segment that starts right at it (not a
  window probe), and jumps there once an ACK beyond it was flagged: later ACKs of a hole
  already passed are not flagged again. An ACK beyond everything the other direction sent is
  flagged only while that direction's duplicate ACK count is 0, which it sets to -1 until that
  direction's own ACK moves (its next duplicate ACK counts 1): a one-way transfer's receiver
  is flagged once (packet-tcp.c's ACKED LOST PACKET). A segment missing from
  the capture gives "previous segment not captured" after it and this flag on the ACK that
  covers it (tshark 4.0.17 on crafted captures; a connection continued after an idle timer
  starts its mark at the next expected number, an earlier hole forgotten).
- a segment with data, SYN or FIN (no keep-alive) is judged in the order of tshark 4.0's
  packet-tcp.c (tcp_analyze_sequence_number), each checked on crafted captures with tshark
  4.0.17:
  - spurious_retransmission first: it carries data the other direction had already
    acknowledged, all of it (even within the out-of-order threshold);
  - otherwise only one that starts below the next expected sequence number was sent
    before, unless it has more than one byte and starts one below it (new data after a
    window probe's byte); it is then, in this order:
  - fast_retransmission: the other direction sent two or more duplicate ACKs for
    exactly this sequence number, its last ACK less than 20 ms ago;
  - out_of_order: within the out-of-order threshold of the segment that last advanced
    this direction's sequence numbers, and not ending (its SYN or FIN counted) where that
    one ended; the threshold is Wireshark's initial RTT (iRTT: the latest SYN to the first
    ACK without SYN, measured after that ACK is judged, again while it measured 0, never
    from a SYN stamped 0) once measured, 3 ms before. Whether the same data was seen before does
    not matter: packet-tcp.c compares times only, so a resend that comes right behind
    newer data is out-of-order (tshark 4.0.17 flags so the 10 bytes at 101 sent again 1 ms
    after those at 111, with an iRTT of 2 ms);
  - retransmission otherwise. Fast and spurious retransmissions are retransmissions
    too (Wireshark marks them with both flags), out-of-order segments are not.
  Both times since are unsigned in packet-tcp.c: a segment stamped before the one it is
  measured from (a file whose order is not its times', merged from several interfaces) is
  past both thresholds, a retransmission (tshark 4.0.17 on such a file).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Final

from analyzer.connections import Connection
from analyzer.decode.segment import ACK, FIN, MOD, RST, SYN, UNSEEN, Segment, seq_diff

# In nanoseconds, as packet-tcp.c compares them: times by stamps (integers), never floats of
# epoch seconds, which are good to about 240 ns (an iRTT of 9 µs and a gap of exactly 9 µs
# compared as floats said out-of-order where tshark says retransmission).
FAST_RETRANSMISSION_WINDOW: Final = 20_000_000
DEFAULT_OUT_OF_ORDER_THRESHOLD: Final = 3_000_000
KINDS = (
    "retransmission",
    "fast_retransmission",
    "spurious_retransmission",
    "out_of_order",
    "lost_segment",
    "ack_lost_segment",
    "duplicate_ack",
    "keep_alive",
    "keep_alive_ack",
    "zero_window",
    "zero_window_probe",
    "zero_window_probe_ack",
    "window_update",
    "window_full",
)
# A direction's window scale as its SYN said it: no SYN seen, a SYN without the option.
_SCALE_UNSEEN: Final = -1
_SCALE_NONE: Final = -2
MAX_WINDOW_SCALE: Final = 14  # RFC 7323 2.3: a larger shift is taken as 14


class _Direction:
    def __init__(self) -> None:
        self.next_seq = UNSEEN
        self.next_seq_stamp = 0  # when next_seq last moved forward
        self.last_ack = UNSEEN
        self.last_ack_stamp = 0
        self.window = UNSEEN
        self.dup_acks = 0
        self.last_was_keep_alive = False
        self.last_was_probe = False  # a zero window probe
        self.window_of_syn = False  # its last window was a SYN's (never scaled)
        self.scale = _SCALE_UNSEEN
        self.max_to_ack = UNSEEN  # what the peer may acknowledge: next_seq as far as no hole
        self.probe_end = UNSEEN  # past the byte of its latest zero window probe
        self.isn = UNSEEN  # its latest SYN's sequence number (the own reading's: its numbering's)
        # The own reading's: the numbering of each other ISN its SYNs carried, as (next_seq,
        # next_seq_stamp, max_to_ack, probe_end) (_numbering_of).
        self.numberings: dict[int, tuple[int, int, int, int]] | None = None

    def copy(self) -> _Direction:
        twin = _Direction()
        twin.next_seq, twin.next_seq_stamp = self.next_seq, self.next_seq_stamp
        twin.last_ack, twin.last_ack_stamp = self.last_ack, self.last_ack_stamp
        twin.window, twin.dup_acks = self.window, self.dup_acks
        twin.last_was_keep_alive, twin.last_was_probe = self.last_was_keep_alive, self.last_was_probe
        twin.window_of_syn, twin.scale = self.window_of_syn, self.scale
        twin.max_to_ack, twin.probe_end = self.max_to_ack, self.probe_end
        twin.isn = self.isn
        twin.numberings = dict(self.numberings) if self.numberings is not None else None
        return twin


@dataclass
class SequenceAnalysis:
    flags: dict[int, list[str]] = field(default_factory=dict)  # frame -> the kinds it is

    def __init__(self, flags: dict[int, list[str]] | None = None) -> None:
        self.flags = flags if flags is not None else {}

    def counts(self) -> Counter:
        return Counter([kind for kinds in self.flags.values() for kind in kinds])


def analyze_sequence(
    connection: Connection, leaving_out: set[int] | None = None, own: bool = False
) -> SequenceAnalysis:
    """`leaving_out`: frames not judged, as if not captured (a stale connection's, see
    analysis.stale_frames). `own`: SequenceJudge's own reading of window probes."""
    continued = connection.continues
    judge = SequenceJudge(continued.last if continued is not None else None, connection.client, own)
    from_client = connection.from_client
    for segment in connection.segments:
        if leaving_out is None or segment.frame not in leaving_out:
            judge.feed(segment, from_client(segment))
    return judge.result


class SequenceJudge:
    """The rules applied as the segments come, one at a time, in capture order. `context`:
    the last segments of the connection this one continues (connections.Continued), read
    first and judged not: Wireshark gives up no connection, and reads a keep-alive two
    hours later as one; `client`, the end whose segments go one way (Connection.client).

    `own`: where this tool reads the capture itself (what it missed, what was resent), a
    window probe's byte that the peer acknowledges was sent: the next expected number moves
    past it. Wireshark's rules leave it behind (a probe moves nothing), and so flag the ACK
    that opens the window as acknowledging data not captured, and the data after it as after
    a gap (a Windows or BSD sender's probe of one new byte; helper-110's)."""

    def __init__(
        self, context: list[Segment] | None = None, client: tuple[str, int] = ("", 0), own: bool = False
    ) -> None:
        self.result = SequenceAnalysis()
        self._own = own
        # Wireshark's initial RTT (iRTT): from the latest SYN to the first ACK without SYN,
        # from either side; until it is measured, out-of-order uses the 3 ms default.
        self._last_syn_stamp = 0
        self._wireshark_irtt = 0  # nanoseconds
        self._client, self._server = _Direction(), _Direction()
        if context:
            for segment in context:
                self.feed(segment, segment.sport == client[1] and segment.src == client[0])
            self.result.flags.clear()  # the earlier connection's frames: its own analysis judged them

    def own_twin(self) -> SequenceJudge:
        """A judge of `own` reading that has read what this one read (a long connection's,
        forked at its first window probe: the two read alike until then)."""
        twin = SequenceJudge(own=True)
        twin.result = SequenceAnalysis(dict(self.result.flags))
        twin._last_syn_stamp, twin._wireshark_irtt = self._last_syn_stamp, self._wireshark_irtt
        twin._client, twin._server = self._client.copy(), self._server.copy()
        return twin

    def own_differs_at(self, segment: Segment, from_client: bool) -> bool:
        """Whether the own reading would take `segment` otherwise than Wireshark's: a resend
        that reaches past what is to be acknowledged (_remember), a SYN with a new ISN (_new_isn).
        Asked before it is fed."""
        here, there = (self._client, self._server) if from_client else (self._server, self._client)
        return _past_to_ack(segment, here, there) or _new_isn(segment, here)

    def feed(self, segment: Segment, from_client: bool) -> list[str]:
        """The segment's kinds (empty for none), as `result.flags` keeps them by frame."""
        here, there = (self._client, self._server) if from_client else (self._server, self._client)
        flags = segment.flags
        # The default until it is measured, or when it measured zero.
        threshold = self._wireshark_irtt if self._wireshark_irtt else DEFAULT_OUT_OF_ORDER_THRESHOLD
        if self._own:
            if _new_isn(segment, here):
                # Its numbers start again: nothing before the SYN is missing or resent
                # (Wireshark 4.0's rules flag the SYN after a gap, or a resend, by the old
                # ISN's numbers).
                _take_numbering(here, segment.seq)
            elif here.numberings and not flags & SYN:
                _take_numbering(here, _numbering_of(here, segment.seq))
            if there.numberings and flags & ACK:
                _take_numbering(there, _numbering_of(there, segment.ack))
        if (
            self._own
            and flags & ACK
            and there.probe_end != UNSEEN
            and there.next_seq != UNSEEN
            and 0 < seq_diff(segment.ack, there.next_seq) <= seq_diff(there.probe_end, there.next_seq)
        ):
            # It acknowledges the probe's byte: sent, as far as this ACK goes; the probe is
            # done with (2 GiB on, its number would read as ahead again).
            there.next_seq = there.max_to_ack = segment.ack
            there.next_seq_stamp = segment.stamp
            there.probe_end = UNSEEN
        kinds = _judge(segment, here, there, threshold)
        if kinds:
            self.result.flags[segment.frame] = kinds
        _remember(segment, here, kinds, self._own)
        # Wireshark's iRTT, measured after the segment is judged (packet-tcp.c dissects the
        # flags after the analysis): from the latest SYN, unless stamped 0 (nstime_is_zero:
        # a file whose clock starts at the epoch measures none), to the next ACK without
        # SYN, again while it measured 0 (helper-124: tshark 4.0.17 on crafted captures).
        if flags & (SYN | ACK) == SYN:
            self._last_syn_stamp = segment.stamp
        elif flags & (SYN | ACK) == ACK and self._last_syn_stamp and not self._wireshark_irtt:
            self._wireshark_irtt = segment.stamp - self._last_syn_stamp
        return kinds


def _judge(segment: Segment, here: _Direction, there: _Direction, threshold: int) -> list[str]:
    kinds = []
    flags, seq, length = segment.flags, segment.seq, segment.payload_len
    control = flags & (SYN | FIN | RST)
    if length == 1 and seq == here.next_seq and there.window == 0:
        kinds.append("zero_window_probe")
        if _acks_unseen(segment, here, there):
            kinds.append("ack_lost_segment")
        return kinds + _resent(segment, here, there, threshold)
    if segment.window == 0 and not control:
        kinds.append("zero_window")
    if here.next_seq != UNSEEN and not flags & RST and seq_diff(seq, here.next_seq) > 0:
        kinds.append("lost_segment")
    keep_alive = here.next_seq != UNSEEN and length <= 1 and not control and seq == (here.next_seq - 1) % MOD
    if keep_alive:
        kinds.append("keep_alive")
    if (
        not length
        and not control
        and here.window != UNSEEN
        and seq == here.next_seq
        and segment.ack == here.last_ack
        and segment.window not in (0, here.window)
    ):
        kinds.append("window_update")
    elif (
        not length
        and not control
        and here.last_ack != UNSEEN
        and seq == here.next_seq
        and segment.ack == here.last_ack
        and segment.window == here.window
        and segment.window
    ):
        # The answer to the other side's keep-alive repeats the last ACK by design.
        kinds.append("keep_alive_ack" if there.last_was_keep_alive else "duplicate_ack")
    elif (
        not length
        and not control
        and segment.window == 0
        and here.window == 0
        and seq == here.next_seq
        and segment.ack == here.last_ack
        and there.last_was_probe
    ):
        kinds.append("zero_window_probe_ack")
    if length and not control and _fills_window(segment, here, there):
        kinds.append("window_full")
    if _acks_unseen(segment, here, there):
        kinds.append("ack_lost_segment")
    if (length or flags & (SYN | FIN)) and not keep_alive:
        kinds.extend(_resent(segment, here, there, threshold))
    return kinds


def _acks_unseen(segment: Segment, here: _Direction, there: _Direction) -> bool:
    """Whether `segment` acknowledges beyond what `there` was seen sending without a hole
    (module docstring); once it does, all `there` sent counts as seen. An ACK beyond all
    `there` sent is flagged only while `there`'s duplicate ACK count is 0, which it then sets
    to -1 until `there`'s own ACK moves (packet-tcp.c's "ACKED LOST PACKET": a one-way
    transfer's receiver flagged once, not at every ACK; helper-124, 26 frames of 6 public
    captures)."""
    if not segment.flags & ACK or there.max_to_ack == UNSEEN or seq_diff(segment.ack, there.max_to_ack) <= 0:
        return False
    if seq_diff(there.max_to_ack, there.next_seq) < 0:
        there.max_to_ack = there.next_seq
        return True
    flagged = there.dup_acks == 0
    there.dup_acks = -1
    return flagged


def _fills_window(segment: Segment, here: _Direction, there: _Direction) -> bool:
    """Whether `segment` ends at the right edge of the window `there` offered last."""
    if there.last_ack == UNSEEN or there.window == UNSEEN:
        return False
    if _SCALE_NONE in (here.scale, there.scale) or there.window_of_syn:
        shift = 0
    elif here.scale == _SCALE_UNSEEN or there.scale == _SCALE_UNSEEN:
        return False  # the window's scale is not known
    else:
        shift = min(there.scale, MAX_WINDOW_SCALE)
    return segment.data_end == (there.last_ack + (there.window << shift)) % MOD


def _resent(segment: Segment, here: _Direction, there: _Direction, threshold: int) -> list[str]:
    """The kinds of a segment with data, SYN or FIN, in packet-tcp.c's order (module docstring)."""
    seq, length = segment.seq, segment.payload_len
    data_end = (seq + length) % MOD
    # A resent SYN starts below the next expected number too: ISN < ISN+1.
    not_advanced = here.next_seq != UNSEEN and seq_diff(seq, here.next_seq) < 0
    if length > 1 and here.next_seq != UNSEEN and seq == (here.next_seq - 1) % MOD:
        not_advanced = False  # new data after a window probe's byte: it adds data
    # Only data can be spuriously resent: all of it was acknowledged already. packet-tcp.c
    # takes a last ACK of 0 as none (a RST without ACK carries 0 in the field).
    if length and there.last_ack not in (UNSEEN, 0) and seq_diff(data_end, there.last_ack) <= 0:
        return ["spurious_retransmission", "retransmission"]
    if not not_advanced:
        return []
    if (
        there.dup_acks >= 2
        and there.last_ack == seq
        and there.last_ack != UNSEEN
        # packet-tcp.c's times since are unsigned (guint64): one before, where the file's order
        # is not the times', is past every threshold.
        and 0 <= segment.stamp - there.last_ack_stamp < FAST_RETRANSMISSION_WINDOW
    ):
        return ["fast_retransmission", "retransmission"]
    if (
        0 <= segment.stamp - here.next_seq_stamp < threshold
        # packet-tcp.c counts one for SYN or FIN here (both together count one too).
        and here.next_seq != (data_end + (1 if segment.flags & (SYN | FIN) else 0)) % MOD
    ):
        return ["out_of_order"]
    return ["retransmission"]


def _reaches_past(segment: Segment, here: _Direction) -> bool:
    """Own reading: a resend that starts before what is to be acknowledged and reaches past it
    carried new data too (sent again in smaller pieces after an ICMP fragmentation needed):
    Wireshark keeps the mark where it was, and flags the ACK of that data as of data not
    captured (helper-120's smtp.pcap: every byte was)."""
    return (
        not segment.flags & RST
        and here.max_to_ack != UNSEEN
        and seq_diff(segment.seq, here.max_to_ack) < 0 < seq_diff(segment.seq_end, here.max_to_ack)
    )


def _past_to_ack(segment: Segment, here: _Direction, there: _Direction) -> bool:
    """_reaches_past, for a segment that is no zero window probe (which _remember sets apart)."""
    probe = segment.payload_len == 1 and segment.seq == here.next_seq and there.window == 0
    return not probe and _reaches_past(segment, here)


def _new_isn(segment: Segment, here: _Direction) -> bool:
    """Whether `segment` is a SYN of its sender with another ISN than its SYN before: a
    listener whose half-open connection timed out (or was dropped) answers the next SYN from a
    new one (helper-119's congested path), a client retries with a new socket."""
    return bool(segment.flags & SYN) and here.isn != UNSEEN and segment.seq != here.isn


def nearest_numbering(number: int, numberings: dict[int, int]) -> int:
    """Of an end's numberings, by ISN with the next number each expects (UNSEEN: none yet),
    the ISN of the one `number` falls nearest to, the first on a tie: a listener's SYN/ACKs of
    two half-open connections can take turns (a server whose SYN/ACKs of two ISNs alternate,
    sv_tcp-fastopen-10), and its data continues the one acknowledged. The own reading's rule
    and the pictures' relative numbers (output/labels.SequenceBases)."""
    best, nearest = -1, MOD + 1
    for isn, expected in numberings.items():
        distance = abs(seq_diff(number, expected)) if expected != UNSEEN else MOD
        if distance < nearest:
            best, nearest = isn, distance
    return best


def _numbering_of(here: _Direction, number: int) -> int:
    """The ISN of `here`'s numbering `number` falls nearest to (nearest_numbering), its current
    one first."""
    others = here.numberings or {}
    return nearest_numbering(number, {here.isn: here.next_seq} | {isn: n[0] for isn, n in others.items()})


def _take_numbering(here: _Direction, isn: int) -> None:
    """Makes the numbering of `isn` `here`'s (a new one if none), keeping the one it had."""
    if isn == here.isn:
        return
    numberings = here.numberings
    if numberings is None:
        numberings = here.numberings = {}
    numberings[here.isn] = (here.next_seq, here.next_seq_stamp, here.max_to_ack, here.probe_end)
    here.next_seq, here.next_seq_stamp, here.max_to_ack, here.probe_end = numberings.pop(
        isn, (UNSEEN, 0, UNSEEN, UNSEEN)
    )
    here.isn = isn


def _remember(segment: Segment, here: _Direction, kinds: list[str], own: bool = False) -> None:
    probe = "zero_window_probe" in kinds
    if segment.flags & SYN:
        here.isn = segment.seq
    end = segment.seq_end
    # A RST's too (packet-tcp.c: only its lost-segment check leaves RSTs out), but one at 0
    # (a refusal's RST/ACK): packet-tcp.c's next expected 0 is none seen, as before it.
    if (
        not probe
        and not (segment.flags & RST and end == 0)
        and (here.next_seq == UNSEEN or seq_diff(end, here.next_seq) > 0)
    ):
        here.next_seq = end
        here.next_seq_stamp = segment.stamp
    if not probe and (
        here.max_to_ack == UNSEEN or segment.seq == here.max_to_ack or (own and _reaches_past(segment, here))
    ):
        here.max_to_ack = here.next_seq
    if probe:
        here.probe_end = segment.seq_end
    elif here.probe_end != UNSEEN and seq_diff(here.next_seq, here.probe_end) >= 0:
        here.probe_end = UNSEEN  # its byte sent on past: nothing left for an ACK to take
    # Every segment's acknowledgment field, with the ACK flag or without (see duplicate_ack).
    if "duplicate_ack" in kinds:
        here.dup_acks = 1 if here.dup_acks == -1 else here.dup_acks + 1
    elif segment.ack != here.last_ack:
        here.dup_acks = 0
    here.last_ack = segment.ack
    here.last_ack_stamp = segment.stamp
    here.window = segment.window
    here.window_of_syn = bool(segment.flags & SYN)
    if segment.flags & SYN and here.scale == _SCALE_UNSEEN:  # the first SYN's, as packet-tcp.c keeps it
        options = segment.options
        scale = options.window_scale if options is not None else None
        if scale is not None:
            here.scale = scale
        elif options is None or not options.cut:  # a cut option list may have held one
            here.scale = _SCALE_NONE
    here.last_was_keep_alive = "keep_alive" in kinds
    here.last_was_probe = probe
