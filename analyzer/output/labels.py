"""What the ladder and the Mermaid text write beside each packet: flags with relative
sequence numbers, what kind of segment it is when its flags do not say (a keep-alive, a
window update, a zero-window probe, a dup ACK, Fast Open data), and how far after the copy
before it a resend went out (the core numbers the resends: ConnectionAnalysis.resends)."""

from __future__ import annotations

from typing import Final

from analyzer.analysis import ConnectionAnalysis, ecn_negotiation, nearest_numbering
from analyzer.connections import Side, peer_of, quoted_segment, sequence_bases_of
from analyzer.decode.icmp_codes import describe
from analyzer.decode.segment import (
    ACK,
    FIN,
    MOD,
    RST,
    SYN,
    UNSEEN,
    Segment,
    exact_stamp,
    flag_names,
    seq_diff,
)
from analyzer.long_connection import HEAD_STEPS
from analyzer.sidecar import Sidecar
from analyzer.timefmt import Clock, between, format_duration, since


def picture_title(text: str, sidecar: Sidecar | None, name: str | None) -> str:
    """A picture's title: `text` after the scenario its sidecar names or, without one, the
    capture file's `name`, so that a picture saved apart still says what it was drawn from."""
    source = (sidecar.get("scenario") if sidecar else None) or name
    return f"{source}: {text}" if source else text


def retransmission_note(segment: Segment, resent: tuple[int, int]) -> str:
    """How far after the copy before it a resend went out: the backoff a reader checks by eye."""
    number, previous = resent
    before = f"#{number - 1}" if number > 1 else "the first"
    return f"{format_duration(between(previous, segment.stamp))} after {before}"


# Wireshark's flags for data sent again. The core numbers the resends of a segment's own
# start (findings/resends.py); data sent again in other bounds (a sender that segments anew)
# has only these flags, and is drawn as a resend all the same.
RESENT_FLAGS = frozenset({"retransmission", "fast_retransmission", "spurious_retransmission"})


def delayed_originals(result: ConnectionAnalysis) -> set[int]:
    """The frames that filled a gap in their sender's numbers as the packet first sent,
    delayed on the way (findings/gaps.py: the text's "reordered" line), whatever Wireshark's
    rules call them by their time (a fast retransmission, after dup ACKs)."""
    gaps = result.gaps
    return {filler for _gap, filler in gaps.reordered} if gaps is not None else set()


def flagged_resends(result: ConnectionAnalysis) -> set[int]:
    """The frames of data Wireshark's rules call retransmissions that the core did not number
    (a SYN or FIN it flags is another's answer or copy, which the ladder names as such), but
    the delayed originals (delayed_originals): sent once, as the report says."""
    resends = result.resends
    flagged = {
        frame
        for frame, kinds in result.sequence.flags.items()
        if frame not in resends and any(kind in RESENT_FLAGS for kind in kinds)
    }
    if flagged:
        flagged -= delayed_originals(result)
    if not flagged:
        return flagged
    return {s.frame for s in result.connection.segments if s.frame in flagged and s.payload_len}


def resent_frames(result: ConnectionAnalysis) -> set[int]:
    """Every frame drawn as a resend: the numbered ones and flagged_resends."""
    return set(result.resends) | flagged_resends(result)


SEQUENCE_NUMBERS = (
    "seq and ack relative: each end's ISN counts as 0 (without its SYN, its first seq as 1), as in Wireshark"
)


class SequenceBases:
    """Each side's base of relative numbers (connections.sequence_bases_of, tshark's), or of the
    connection this one continues, as Wireshark reads the two as one conversation. A side whose
    SYNs carried several ISNs (a listener's new half-open connection after the first timed
    out, or two taking turns) numbers each segment from the ISN whose numbering it continues,
    as the own reading follows them (retransmissions.nearest_numbering): a SYN starts its own,
    its ACK numbers the peer's it is nearest to. seq and ack are drawn relative to these, both
    of them; a side nothing tells stays absolute."""

    def __init__(self, result: ConnectionAnalysis) -> None:
        connection = result.connection
        continued = connection.continues
        found = sequence_bases_of(connection.segments, continued.bases if continued is not None else None)
        self.first: dict[Side, int | None] = {
            "client": found.get(connection.client),
            "server": found.get(connection.server),
        }
        isns: dict[Side, set[int]] = {"client": set(), "server": set()}
        for segment in connection.segments:
            if segment.flags & SYN:
                isns[connection.sender(segment)].add(segment.seq)
        # By frame, where its side had several ISNs: the base of its seq, of its ack.
        self._seq: dict[int, int] = {}
        self._ack: dict[int, int] = {}
        self._named: set[int] = set()  # the SYNs of a side with several ISNs: each names its own
        several = {side for side, found_isns in isns.items() if len(found_isns) > 1}
        if not several:
            return
        # Each side's numberings, by ISN, the next number each expects; the current first.
        numberings: dict[Side, dict[int, int]] = {"client": {}, "server": {}}
        for segment in connection.segments:
            side = connection.sender(segment)
            mine = numberings[side]
            if side in several:
                if segment.flags & SYN:
                    isn = segment.seq
                    self._named.add(segment.frame)
                elif mine:
                    isn = nearest_numbering(segment.seq, mine)
                else:
                    isn = -1
                if isn >= 0:
                    expected = mine.pop(isn, (isn + 1) % MOD)
                    if seq_diff(segment.seq_end, expected) > 0:
                        expected = segment.seq_end
                    numberings[side] = mine = {isn: expected} | mine
                    self._seq[segment.frame] = isn
            peer = peer_of(side)
            if peer in several and segment.flags & ACK and numberings[peer]:
                self._ack[segment.frame] = nearest_numbering(segment.ack, numberings[peer])

    def seq_base(self, side: Side, segment: Segment) -> int | None:
        """The base of `segment`'s seq, `side`'s."""
        return self._seq.get(segment.frame, self.first[side])

    def ack_base(self, side: Side, segment: Segment) -> int | None:
        """The base of `segment`'s ack, in `side`'s numbers (the receiver's)."""
        return self._ack.get(segment.frame, self.first[side])

    def label(self, segment: Segment, sender: Side, stale: bool = False) -> str:
        """`segment`'s packet_label, `sender`'s, in these bases."""
        return packet_label(
            segment,
            self.seq_base(sender, segment),
            self.ack_base(peer_of(sender), segment),
            stale,
            self.names_isn(segment),
        )

    def names_isn(self, segment: Segment) -> bool:
        """Whether `segment` is a SYN of a side with several ISNs (its label names its own:
        helper-126, tfo10's SYN/ACKs of two ISNs taking turns, one of them unnamed)."""
        return segment.frame in self._named


def _relative(value: int, base: int | None) -> int:
    return (value - base) % MOD if base is not None else value


def dsack(segment: Segment) -> tuple[int, int] | None:
    """A D-SACK (RFC 2883): the first SACK block at or below the ACK number, data the receiver
    got twice; its (start, end), absolute. The rule findings/diagnoses.py applies to probes."""
    if segment.sack_start == UNSEEN or not segment.flags & ACK or seq_diff(segment.sack_end, segment.ack) > 0:
        return None
    return segment.sack_start, segment.sack_end


def packet_label(
    segment: Segment, seq_base: int | None, ack_base: int | None, stale: bool = False, names_isn: bool = False
) -> str:
    """Flags, seq and ack (relative both, or absolute both when a base is not known), length,
    and a D-SACK's block (in the ack's numbers). `stale`: a stale connection's segment within
    this one (analysis.stale_frames), in another connection's numbers: absolute, and said so
    (a TIME_WAIT's challenge ACK and the RST at its acknowledgment number read alike).
    `names_isn`: a SYN of a side with several ISNs (SequenceBases): its ISN said."""
    # A RST or a bare ACK before its sender's base (a RST/ACK refusing a SYN the same end
    # answers later with a SYN/ACK; a split handshake's ACK before the same end's SYN):
    # absolute, not just short of 2**32 (Wireshark bases each on itself and again on the SYN),
    # and said so, where the picture says its numbers are relative. Data from before a base
    # (a capture begun mid-stream) wraps, as in Wireshark.
    before_isn = stale or bool(
        (segment.flags & RST or not (segment.payload_len or segment.flags & (SYN | FIN)))
        and seq_base is not None
        and seq_diff(segment.seq, seq_base) < 0
    )
    if (segment.flags & ACK and (seq_base is None or ack_base is None)) or before_isn:
        seq_base = ack_base = None  # one convention on a label, never relative beside absolute
    parts = [flag_names(segment.flags), f"seq={_relative(segment.seq, seq_base)}"]
    if segment.flags & ACK:
        parts.append(f"ack={_relative(segment.ack, ack_base)}")
    if segment.payload_len:
        parts.append(f"len={segment.payload_len}")
    block = dsack(segment)
    if block is not None:
        parts.append(f"D-SACK {_relative(block[0], ack_base)}–{_relative(block[1], ack_base)}")
    if before_isn:
        parts.append("(absolute)")
    elif names_isn:
        parts.append(f"(ISN {segment.seq})")
    return " ".join(parts)


# Wireshark's names for what the sequence analysis flagged (findings/retransmissions.py).
FLAG_NAMES = {"keep_alive": "keep-alive", "keep_alive_ack": "keep-alive ACK", "duplicate_ack": "dup ACK",
              "zero_window_probe": "zero-window probe", "zero_window_probe_ack": "zero-window probe ACK",
              "window_update": "window update"}  # fmt: skip
# What else it flagged, said under the arrow beside the frame (not what the segment is, but
# where it falls in the sequence), in the words of the ladder's bands (Wireshark's "previous
# segment not captured" is "after a gap").
ANALYSIS_NAMES = {
    "fast_retransmission": "fast retransmission",
    "out_of_order": "out of order",
    "lost_segment": "after a gap",
    "ack_lost_segment": "ACKs data not captured",
    "window_full": "fills the window",
}


# Wireshark's flags that say the capture missed a segment: the report reads them as its own
# reading has them (reported_kinds).
_GAP_KINDS: Final = ("lost_segment", "ack_lost_segment")


def reported_kinds(result: ConnectionAnalysis, frame: int) -> list[str]:
    """Wireshark's flags on `frame`, its gaps and data not captured as the report reads them
    (ConnectionAnalysis.own_sequence): none after a window probe's byte, acknowledged
    (retransmissions.SequenceJudge's `own`), none on a stale connection's segments within
    this one (analysis.stale_frames)."""
    kinds = result.sequence.flags.get(frame, [])
    own = result.own_sequence.flags
    if own is result.sequence.flags:
        return kinds
    return [kind for kind in kinds if kind not in _GAP_KINDS or kind in own.get(frame, ())]


def analysis_notes(result: ConnectionAnalysis) -> dict[int, str]:
    """frame -> where the segment falls in the sequence, as Wireshark's analysis flags it
    (findings/retransmissions.py): a fast retransmission, out of order, after a gap, an ACK
    of data the capture did not see."""
    notes = {}
    # Captured before the segment it acknowledges: not an ACK of data the capture lacks.
    later = {step.segment.frame: step.answers_later for step in result.steps if step.answers_later >= 0}
    # The first ACK of a FIN the capture missed (tcp_state.py): what it acknowledges was a FIN.
    fins = {step.segment.frame for step in result.steps if step.missed_fin is not None}
    delayed = delayed_originals(result)
    for frame in result.sequence.flags:
        kinds = reported_kinds(result, frame)
        named = [
            f"ACKs frame {later[frame]}, captured later"
            if kind == "ack_lost_segment" and frame in later
            else "ACKs a FIN not captured"
            if kind == "ack_lost_segment" and frame in fins
            else "after a FIN not captured"
            if kind == "lost_segment" and frame in fins
            else f"the first copy, delayed (Wireshark: {ANALYSIS_NAMES[kind]})"
            if kind == "fast_retransmission" and frame in delayed
            else ANALYSIS_NAMES[kind]
            for kind in kinds
            if kind in ANALYSIS_NAMES
        ]
        if named:
            notes[frame] = ", ".join(named)
    return notes


def segment_kinds(result: ConnectionAnalysis) -> dict[int, str]:
    """frame -> what a segment is, where its flags and numbers do not say it: the sequence
    analysis's keep-alives, dup ACKs and window updates, a zero-window probe (one byte at the
    next seq, or a keep-alive's shape, while the peer advertised no room), Fast Open data (a
    SYN's)."""
    kinds: dict[int, str] = {}
    flags = result.sequence.flags
    connection = result.connection
    answers = result.handshake.answer_copies
    # Congestion signals, as the core found them (findings/ecn.py).
    signals = result.ecn
    echoes = {s.frame for found in signals.echoes.values() for s in found} if signals is not None else set()
    reductions = (
        {s.frame for found in signals.reductions.values() for s in found} if signals is not None else set()
    )
    # Each end's first ACK after its SYN/ACK in a simultaneous open: its window, unscaled
    # in the SYN/ACK, reads scaled here, and Wireshark calls the ACK a window update.
    opened: set[bool] = set()
    last: dict[bool, Segment] = {}
    asked: dict[bool, str] = {}  # by end: what its SYN asked for (findings/ecn_negotiation.py)
    for segment in connection.segments:
        here = connection.from_client(segment)
        # A resend of one byte (a tail loss probe) looks like a keep-alive to Wireshark's rule.
        named = [FLAG_NAMES[kind] for kind in flags.get(segment.frame, ())
                 if kind in FLAG_NAMES and not (kind == "keep_alive" and segment.frame in result.resends)]  # fmt: skip
        peer = last.get(not here)
        if "keep-alive" in named and peer is not None and peer.window == 0:
            # Shaped as a keep-alive (one below the next seq), sent while the peer has no room:
            # Linux probes a zero window so (tcp_write_wakeup).
            named[named.index("keep-alive")] = "zero-window probe"
        if segment.frame in answers:
            named.append(f"answers frame {answers[segment.frame]}'s SYN")
        if result.handshake.variant == "simultaneous-open" and segment.flags & (SYN | ACK | RST) == ACK:
            if here not in opened and "window update" in named:
                named[named.index("window update")] = "window update, ends the open"
            opened.add(here)
        if segment.frame in echoes:
            named.append("congestion echo")
        if segment.frame in reductions:
            named.append("window reduced")
        if segment.flags & SYN and segment.payload_len:
            named.append("Fast Open data")
        if segment.flags & SYN and not segment.flags & ACK:
            mode = ecn_negotiation.asked(segment.flags)
            if mode:
                asked[here] = mode
                named.append(f"{mode} asked")
        elif segment.flags & SYN:
            mode = ecn_negotiation.agreed(asked.get(not here, ecn_negotiation.NONE), segment.flags)
            if mode:
                named.append(f"{mode} agreed")
        if named:
            kinds[segment.frame] = ", ".join(named)
        last[here] = segment
    return kinds


NO_ANSWER = "no answer"
# Segments sent to draw an answer: what "no answer" is said of.
PROBE_KINDS = ("keep-alive", "zero-window probe")


def unanswered_probes(result: ConnectionAnalysis, kinds: dict[int, str]) -> set[int]:
    """The frames of segments sent to draw an answer (a SYN, a keep-alive, a zero-window
    probe) after which nothing came from the peer before their sender's next segment or the
    capture's end: what the ladder writes NO_ANSWER beside. `kinds`: segment_kinds(result)."""
    connection = result.connection
    if connection.to_itself:
        return set()  # a socket connected to itself answers itself: every packet is its own
    segments = connection.segments
    if connection.folded is not None:
        # A long connection keeps its first HEAD_STEPS segments whole, later ones only if
        # notable: there an answer may have been let go, so nothing is said of them.
        segments = segments[:HEAD_STEPS]
    found: set[int] = set()
    waiting: dict[bool, int] = {}  # per sender, the probe no answer has come for yet
    for segment in segments:
        here = connection.from_client(segment)
        waiting.pop(not here, None)  # the peer sent something: an answer to the other's probe
        if here in waiting:
            found.add(waiting.pop(here))
        named = kinds.get(segment.frame, "").split(", ")
        probe = (segment.flags & (SYN | ACK)) == SYN or any(kind in named for kind in PROBE_KINDS)
        if probe and not segment.flags & RST:
            waiting[here] = segment.frame
    found = found if connection.folded is not None else found | set(waiting.values())
    found -= set(result.handshake.answer_copies.values())  # answered after the next
    handshake = result.handshake
    final = handshake.final_ack
    if handshake.reordered and final is not None:
        # Its SYN/ACK was captured before it (zeek_handshake-reorder): the last SYN before
        # the final ACK was answered.
        answered = [s.frame for s in handshake.syns if s.frame < final.frame]
        if answered:
            found.discard(answered[-1])
    unseen = handshake.unseen_answer
    before = [s.frame for s in handshake.syns if unseen is not None and s.frame < unseen.frame]
    if before:
        # The client's ACK proves an answer the capture lacks, to its last SYN before it (the
        # earlier ones were sent again for want of one).
        found.discard(before[-1])
    return found


def icmp_answers(result: ConnectionAnalysis, origin: Clock) -> dict[int, str]:
    """frame of a segment -> the ICMP errors that quote it ("answered by ICMP port unreachable
    from 10.0.0.2, frame 2, +0.000300 s"): the latest segment of the quoted sender at the
    quoted number sent before the error, or, when the error quotes no number, its latest."""
    answers: dict[int, list[str]] = {}
    for error in result.connection.unreachables:
        quoted = quoted_segment(result.connection, error)
        if quoted is not None:
            said = f"answered by {describe(error)} from {error.src}, frame {error.frame}, {since(origin.since_stamp(exact_stamp(error)))}"
            answers.setdefault(quoted.frame, []).append(said)
    return {frame: "; ".join(said) for frame, said in answers.items()}


def silent_end(result: ConnectionAnalysis, side: Side) -> str:
    """One wording, in every output, for an end none of whose packets are in the capture:
    its state is not in the packets; the kernel's snapshots may have seen the server listening
    all along. Where only one direction passed the capture point, the end did send (the
    other's acknowledgments show it), none of it captured."""
    if result.vantage is not None and result.vantage.point == "one_direction":
        return "unknown (none of its packets captured)"
    if side == "server" and result.kernel is not None and result.kernel.server_listened:
        return "unknown (sent nothing); the kernel's: LISTEN"
    return "unknown (sent nothing)"
