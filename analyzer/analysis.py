"""The analyzer core: segments in, per-connection findings out. No I/O but reading the file.

`analyze_segments` is pure (a list of records in, an Analysis out) so that tests
drive it with hand-made segments; `analyze_file` only adds the reader.

A ConnectionAnalysis holds every finding about its connection, those in other tools'
terms and the sidecar's comparisons included: the outputs only render it (none of
them imports analyzer.findings), so text, JSON, diagrams and pages cannot disagree.
The result types are importable from here for them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Final

from analyzer.arrivals import prove_states, unarrived_resets
from analyzer.attempt_shapes import ShapeMemo, attempt_shape, view
from analyzer.call_sockets import calls_on, connection_calls
from analyzer.connections import (
    SIDES,
    Connection,
    Side,
    Timeouts,
    group_connections,
    peer_of,
    stream_connections,
)
from analyzer.decode import Datagram, DecodeStats, Segment, Unreachable, read_packets
from analyzer.decode.headers import PROTO_TCP
from analyzer.decode.reader import Progress
from analyzer.decode.segment import (
    ACK,
    FIN,
    MERGED_TWICE,
    MOD,
    RST,
    SYN,
    impossible_flags,
    packet_marks,
    same_packet,
)
from analyzer.errors import CaptureFileError
from analyzer.files import STDIN
from analyzer.findings import ecn_negotiation
from analyzer.findings.application import application_findings
from analyzer.findings.backoff import (
    RECORDED_KERNEL,
    Backoff,
    apply_schedules,
    candidate_schedules,
    classify_backoff,
    deferred_first,
)
from analyzer.findings.close import Close, find_close
from analyzer.findings.compatibility import Compatibility, compatibility
from analyzer.findings.diagnoses import Diagnosis, diagnose, fin_wait_2_expired_diagnoses
from analyzer.findings.ecn import EcnSignals, find_ecn_signals
from analyzer.findings.gaps import GapFills, gap_fills
from analyzer.findings.handshake import Handshake, find_handshake, note_clamped_mss
from analyzer.findings.kernel_agreement import KernelAgreement, compare_with_kernel
from analyzer.findings.kernel_events import EventAgreement, compare_events, refine_with_kernel_reasons
from analyzer.findings.links import LinkDetector, Links
from analyzer.findings.path_duplicates import on_the_wire_twice
from analyzer.findings.resends import earlier_copies, numbered_resends, without_answers
from analyzer.findings.resets import Reset, find_resets, record_fin_timeout, refine_with_calls
from analyzer.findings.retransmissions import SequenceAnalysis, analyze_sequence, nearest_numbering
from analyzer.findings.scans import ANY_PORT, BACKSCATTER, FLOOD_WINDOW, ScanDetector, ScanFinding, fold_key
from analyzer.findings.syn_cookies import unrequested_for, unrequested_note
from analyzer.findings.unreachable import HeldErrors, refused_on_the_way
from analyzer.findings.urgent import UrgentData, find_urgent
from analyzer.findings.vantage import Vantage, captured_at, find_vantage
from analyzer.findings.zeek_conn import ZeekConn
from analyzer.listing import shortened
from analyzer.long_connection import RESEND_CONTEXTS, FoldedConnection, KeptBudget, KeptRange
from analyzer.loss_inference import lost_segments
from analyzer.parallel.partition import Share
from analyzer.sidecar import CallRecord, Sidecar, calls_of, recording_end
from analyzer.tcp_state import (
    NEVER_SENT,
    SYNCHRONIZED,
    ConnectionMachine,
    Endpoint,
    State,
    Step,
    time_out,
)
from analyzer.timefmt import Clock, format_duration
from analyzer.udp_flows import UdpFlow, UdpFlows

# The result types, for the outputs that render them.
__all__ = [
    "ANY_PORT",
    "BACKSCATTER",
    "FLOOD_WINDOW",
    "RECORDED_KERNEL",
    "Analysis",
    "Backoff",
    "Close",
    "Compatibility",
    "ConnectionAnalysis",
    "EventAgreement",
    "FileStream",
    "Handshake",
    "KernelAgreement",
    "Reset",
    "ScanDetector",
    "ScanFinding",
    "SequenceAnalysis",
    "State",
    "Step",
    "UdpFlow",
    "ZeekConn",
    "analyze_connection",
    "analyze_file",
    "analyze_segments",
    "ecn_negotiation",
    "fold_key",
    "nearest_numbering",
    "stream_file",
]


@dataclass
class ChartedBackoff:
    """A series of SYNs or SYN/ACKs its sender's timer sent again (ConnectionAnalysis.charted_backoffs)."""

    sent: str  # "SYN" or "SYN/ACK"
    isn: int | None  # of SYN/ACKs not of the ISN the handshake is judged on (OtherSynacks)
    backoff: Backoff
    schedules: dict[str, list[float]]
    segments: list[Segment]

    @property
    def label(self) -> str:
        return self.sent if self.isn is None else f"{self.sent} {other_isn_words(self.isn)}"


def other_isn_words(isn: int) -> str:
    """How the text, the summary and the chart name the SYN/ACKs of an ISN the handshake is
    not judged on (OtherSynacks)."""
    return f"of ISN {isn} (another request's)"


@dataclass
class OtherSynacks:
    """The SYN/ACKs of a server ISN the handshake is not judged on (Handshake.other_server_isns:
    another request the server answered), as its timer sent them: their backoff, beside the
    judged ISN's."""

    isn: int
    sent: list[Segment]  # by its timer, not in answer to a repeated SYN
    backoff: Backoff
    schedules: dict[str, list[float]]


@dataclass
class ConnectionAnalysis:
    connection: Connection
    handshake: Handshake
    syn_backoff: Backoff
    synack_backoff: Backoff
    close: Close
    resets: list[Reset]
    states: dict[Side, list[tuple[float, State]]]
    steps: list[Step]
    sequence: SequenceAnalysis  # Wireshark-style retransmission/dup-ACK flags
    compatibility: Compatibility  # Wireshark's, tcptrace's and Zeek's verdicts
    state_frames: dict[Side, list[int | None]] = field(default_factory=dict)  # what caused each state
    notes: list[str] = field(default_factory=list)
    kernel: KernelAgreement | None = None  # set when a sidecar with kernel snapshots is given
    # The retransmission schedules the SYN backoff is compared with, as many intervals as
    # measured (empty without SYNs sent again), and the listener's for the SYN/ACK backoff.
    backoff_schedules: dict[str, list[float]] = field(default_factory=dict)
    synack_schedules: dict[str, list[float]] = field(default_factory=dict)
    # frame -> (n, the copy before's time) for the n-th resend (findings/resends.py)
    resends: dict[int, tuple[int, int]] = field(default_factory=dict)
    diagnoses: list[Diagnosis] = field(default_factory=list)  # findings/diagnoses.py
    vantage: Vantage | None = None  # where it was captured (findings/vantage.py)
    # A probe (findings/scans.py): what the target answered ("synack", "rst", "none"), or
    # BACKSCATTER for an answer to nothing captured; None for a connection that was more
    # than an attempt. Set when the file's scans are counted.
    probe: str | None = None
    # ECE and CWR after an ECN handshake, by sender (findings/ecn.py); None without ECN agreed.
    ecn: EcnSignals | None = None
    # The segments each end sent with URG (findings/urgent.py); None without any.
    urgent: UrgentData | None = None
    # What filled the gaps in a sender's numbers (findings/gaps.py); None without any.
    gaps: GapFills | None = None
    # Capture copies its receiver got twice (findings/path_duplicates.py): (copy, its D-SACK).
    on_the_wire_twice: list[tuple[int, int]] = field(default_factory=list)
    # Wireshark's rules read without the segments of a stale connection on the same ports that
    # answered within this one (stale_frames), and with a window probe's byte sent once
    # acknowledged (retransmissions.SequenceJudge's `own`): what the report says of the capture
    # and of resends reads these. The sequence itself where neither is.
    own_sequence: SequenceAnalysis = field(default_factory=SequenceAnalysis)
    # The SYN/ACK backoff of each other ISN the server answered with (OtherSynacks).
    other_synacks: list[OtherSynacks] = field(default_factory=list)

    def __init__(
        self,
        connection: Connection,
        handshake: Handshake,
        syn_backoff: Backoff,
        synack_backoff: Backoff,
        close: Close,
        resets: list[Reset],
        states: dict[Side, list[tuple[float, State]]],
        steps: list[Step],
        sequence: SequenceAnalysis,
        compatibility: Compatibility,
        state_frames: dict[Side, list[int | None]] | None = None,
        notes: list[str] | None = None,
        kernel: KernelAgreement | None = None,
        backoff_schedules: dict[str, list[float]] | None = None,
        synack_schedules: dict[str, list[float]] | None = None,
        resends: dict[int, tuple[int, int]] | None = None,
        diagnoses: list[Diagnosis] | None = None,
        vantage: Vantage | None = None,
        ecn: EcnSignals | None = None,
        urgent: UrgentData | None = None,
        gaps: GapFills | None = None,
        on_the_wire_twice: list[tuple[int, int]] | None = None,
        own_sequence: SequenceAnalysis | None = None,
        other_synacks: list[OtherSynacks] | None = None,
    ) -> None:
        self.connection = connection
        self.handshake = handshake
        self.syn_backoff = syn_backoff
        self.synack_backoff = synack_backoff
        self.close = close
        self.resets = resets
        self.states = states
        self.steps = steps
        self.state_frames = state_frames if state_frames is not None else {}
        self.notes = notes if notes is not None else []
        self.kernel = kernel
        self.sequence = sequence
        self.compatibility = compatibility
        self.backoff_schedules = backoff_schedules if backoff_schedules is not None else {}
        self.synack_schedules = synack_schedules if synack_schedules is not None else {}
        self.resends = resends if resends is not None else {}
        self.diagnoses = diagnoses if diagnoses is not None else []
        self.vantage = vantage
        self.probe = None
        self.ecn = ecn
        self.urgent = urgent
        self.gaps = gaps
        self.on_the_wire_twice = on_the_wire_twice if on_the_wire_twice is not None else []
        self.own_sequence = own_sequence if own_sequence is not None else sequence
        self.other_synacks = other_synacks if other_synacks is not None else []

    def acked_uncaptured(self) -> int:
        """The segments that acknowledge data the capture never held, which reached its
        receiver: the capture missed it (Wireshark's "ACKed segment that wasn't captured",
        by the report's own reading), but for data the file holds after its ACK, stamped
        before it, and the ACKs of probes the capture began during (findings/gaps.py)."""
        if not self.own_sequence.flags:
            return 0
        count = self.own_sequence.counts().get("ack_lost_segment", 0)
        gaps = self.gaps
        if gaps is not None:
            count -= len(gaps.filed_late) + len(gaps.probe_acks)
        return count

    @property
    def interesting(self) -> bool:
        """Worth drawing first, as the text report lists it (output/text_report.py,
        interesting_reasons): a RST, a retransmission (a SYN's, a SYN/ACK's or data's), a
        handshake that did not finish, or a timer that gave it up."""
        return bool(
            self.resets
            or self.resends
            or self.syn_backoff.intervals
            or self.synack_backoff.sent_again
            or any(other.backoff.sent_again for other in self.other_synacks)
            or (self.handshake.status not in ("complete", "not_seen") and not self.handshake.opened_unseen)
            or self.connection.expired is not None
        )

    def charted_backoffs(self) -> list[ChartedBackoff]:
        """Each series of SYNs or SYN/ACKs sent again by its sender's timer, measured: what
        sent them, the backoff, its schedules, the segments. The SYNs; the SYN/ACKs of the ISN
        the handshake is judged on; each other ISN's (another request's)."""
        handshake = self.handshake
        series = [
            ChartedBackoff("SYN", None, self.syn_backoff, self.backoff_schedules, handshake.syns),
            ChartedBackoff(
                "SYN/ACK", None, self.synack_backoff, self.synack_schedules, handshake.timer_synacks
            ),
            *[ChartedBackoff("SYN/ACK", o.isn, o.backoff, o.schedules, o.sent) for o in self.other_synacks],
        ]
        # A clock that stepped back leaves no times to chart (pattern "unmeasured").
        return [one for one in series if one.backoff.intervals and one.backoff.pattern != "unmeasured"]

    def summary(self) -> str:
        """One line a person reads first."""
        parts = [self.handshake.explain()]
        if self.syn_backoff.intervals:
            parts.append("SYN backoff: " + self.syn_backoff.describe())
        if self.synack_backoff.sent_again:
            parts.append("SYN/ACK backoff: " + self.synack_backoff.describe())
        for other in self.other_synacks:
            if other.backoff.sent_again:
                parts.append(f"SYN/ACK backoff {other_isn_words(other.isn)}: {other.backoff.describe()}")
        if self.close.shape != "none":
            parts.append(self.close.explain())
        parts.extend(f"RST {r.sent_by}: {r.cause}" for r in self.resets if r.cause != "refused")
        return "; ".join(parts)


@dataclass
class Analysis:
    file: str
    stats: DecodeStats
    connections: list[ConnectionAnalysis]
    sidecar: Sidecar | None = None
    application: list[str] = field(default_factory=list)  # what the call log shows, beside the packets
    udp: list[UdpFlow] = field(default_factory=list)
    scans: list[ScanFinding] = field(default_factory=list)  # the file's scans and floods
    links: Links = field(default_factory=Links)  # connections that are one (findings/links.py)


def stale_frames(connection: Connection, resets: list[Reset]) -> set[int]:
    """The segments within a connection of another on its ports: the ACK a stale one (a
    TIME_WAIT) answered its SYN with, or an old SYN/ACK, and the RST its client reset it with.
    Wireshark's rules read them as this connection's: numbers far from its own, so a gap, data
    acknowledged unseen, resends (helper-108's reused ports: every reused connection said the
    capture missed packets)."""
    stale: set[int] = set()
    for reset in resets:
        if reset.cause == "challenge_ack_answer":
            stale.add(reset.segment.frame)
            evidence = set(reset.evidence)  # the SYN, what answered it, the RST
            stale.update(
                s.frame
                for s in connection.segments
                if s.frame in evidence and connection.sender(s) != reset.sender
            )
    return stale


def _peer_sent_after_fin(connection: Connection, close: Close) -> bool:
    """Whether the end that did not send the one FIN sent data after it."""
    if close.shape != "one-fin" or not close.fins or close.first_fin is None:
        return False
    fin = close.fins[close.first_fin]
    return any(
        s.payload_len and s.frame > fin.frame and connection.sender(s) != close.first_fin
        for s in connection.segments
    )


def _unknown_after_synack(
    history: list[tuple[float, State]], frames: list[int | None], synack: Segment
) -> None:
    """A server end whose `synack` the rule of findings/syn_cookies.py reads: UNKNOWN from
    that SYN/ACK on (LISTEN had its listener answered with a cookie, ESTABLISHED had the
    client's ACK come unseen), never the SYN_RCVD a request kept would have resent from; the
    SYN reached it (it answered), so the unknown is not pinned on the SYN's arrow."""
    while len(history) > 1 and history[-1][1] in (State.SYN_RCVD, State.UNKNOWN):
        history.pop()
        frames.pop()
    history.append((synack.time, State.UNKNOWN))
    frames.append(synack.frame)


def analyze_connection(
    connection: Connection, recording_end: float | None = None, origin: float | None = None
) -> ConnectionAnalysis:
    """recording_end: when the recording stopped, if known beyond the file's last frame (a
    sidecar's calls and snapshots were made while it ran): for a connection still open at
    the end, what was still going on (a CLOSE_WAIT held) lasted at least to it. origin:
    frame 1's time, which the notes' times count from as the report's do (None: the
    connection's first packet's)."""
    folded = connection.folded
    # Where it was captured decides what reached whom: loss inference and the states read it.
    handshake = find_handshake(connection)
    handshake.silent_after = _syn_given_up(connection, handshake)
    if connection.copies:
        note_clamped_mss(handshake, connection)
    vantage = find_vantage(connection, handshake)
    if isinstance(folded, FoldedConnection):  # a long one: analyzed as its segments came
        machine = folded.machine
        sequence, compatible, resends = folded.sequence, folded.compatibility, folded.resends
    else:
        first = connection.segments[0]
        first_reply = next(
            (s for s in connection.segments if s.src != first.src or s.sport != first.sport), None
        )
        machine = ConnectionMachine(first, first_reply)
        if connection.continues is not None:
            machine.continue_from(connection.continues.last)
        earlier = earlier_copies(connection.segments)
        # A SYN/ACK sent at once in answer to a repeated SYN says nothing of the one before it
        # (helper-149: the client acknowledged both, the first read as lost).
        answered = handshake.answer_copies
        resent = (
            {at: before for at, before in earlier.items() if connection.segments[at].frame not in answered}
            if answered
            else earlier
        )
        # A socket connected to itself loses nothing to a path: its SYN/ACK is no SYN resent.
        lost = (
            set()
            if connection.to_itself
            else lost_segments(connection.segments, resent, captured_at=captured_at(connection, vantage))
        )
        if connection.unreachables:
            lost |= refused_on_the_way(connection)
        for segment in connection.segments:
            machine.feed(segment, segment.frame in lost)
        machine.settle()
        final_ack = handshake.final_ack
        if handshake.status == "complete" and final_ack is not None and _not_taken(final_ack, lost, machine):
            server_end = machine.ends[connection.server]
            handshake.ack_not_taken = State.ESTABLISHED not in [state for _t, state in server_end.history]
        sequence = analyze_sequence(connection)
        compatible = compatibility(connection)
        resends = numbered_resends(connection.segments, earlier)
    resends = without_answers(resends, connection.segments, set(handshake.answer_copies))
    client, server = machine.ends[connection.client], machine.ends[connection.server]
    handshake.taken_late = _taken_late(connection, handshake, server)
    notes = [machine.start_note] if handshake.status != "complete" else []
    error = handshake.last_unreachable
    if error is not None and client.state == State.SYN_SENT and connection.last_time <= error.time:
        # Linux ends a connect() on the error (findings/unreachable.py); the client's later
        # SYNs, if it sent any, say its stack did not.
        client.closed_unseen(error.time)
        notes.append(
            f"the client is CLOSED from the ICMP error of frame {error.frame} on, as Linux ends a connect() on it"
        )
    continued = connection.continues
    if continued is not None and notes and notes[0].startswith("capture starts mid-connection"):
        notes[0] = (
            f"continues the connection of frame {continued.first_frame}, given up as idle: both ends taken "
            "as ESTABLISHED; Wireshark's flags read its last segments first (Wireshark gives up no connection)"
        )
    notes.extend(machine.notes)
    if folded is not None:
        alone = folded.resends_alone if isinstance(folded, FoldedConnection) else 0
        notes.append(
            f"a long connection: its {connection.packets:,} segments were analyzed as they came and "
            f"{len(connection.segments):,} kept for the pictures (the first, state changes, SYN, FIN, RST, "
            "lost and dropped ones, each end's latest data)"
            + (
                f"; the tail loss probe's rule read what came before its first {RESEND_CONTEXTS} resends of data "
                f"and each later resend of the tail of its sender's data, not before the {alone:,} others (a probe "
                "resends the tail)"
                if alone
                else ""
            )
        )
    silent = _silent_sides(connection)
    histories, causes = _opened_before_filed(
        connection,
        handshake,
        {"client": client.history, "server": server.history},
        {"client": client.frames, "server": server.frames},
    )
    proven = prove_states(
        connection,
        histories,
        causes,
        vantage.point,
        {"client": client.most_acked, "server": server.most_acked},
        silent,
        unarrived_resets(connection, machine.steps),
    )
    states, state_frames = proven.states, proven.frames
    notes.extend(note for side, note in proven.notes.items() if not (side == "server" and side in silent))
    handshake.unrequested_for = unrequested_for(connection, handshake)
    if handshake.unrequested_for is not None:
        _unknown_after_synack(states["server"], state_frames["server"], handshake.synacks[-1])
        notes.append(unrequested_note(handshake.unrequested_for, handshake.synacks[-1].frame))
    if "server" in silent:
        # A server none of whose segments were captured shows nothing of its state.
        states["server"] = []
        state_frames["server"] = []
        notes.append(
            "none of the server's packets are in the capture (only the client's direction passed the "
            "capture point): its state is unknown"
            if vantage.point == "one_direction"
            else "the server sent nothing: its state is unknown"
        )
    by_reason: dict[str, list[str]] = {}
    crafted: dict[str, list[str]] = {}  # segments of flags no TCP sends, by what is wrong with them
    for step in machine.steps:
        if step.dropped:
            what = impossible_flags(step.segment.flags)
            reason = step.dropped
            if reason == NEVER_SENT and peer_of(connection.sender(step.segment)) in silent:
                reason = "acknowledges what the receiver sent, none of which is in the capture"
            if what:
                crafted.setdefault(what, []).append(str(step.segment.frame))
            else:
                by_reason.setdefault(reason, []).append(str(step.segment.frame))
    notes.extend(
        f"frame{'s' if len(frames) > 1 else ''} {shortened(frames)}: {what}, an impossible flag combination "
        "(a scan or a crafted packet); applied to neither end"
        for what, frames in crafted.items()
    )
    notes.extend(
        f"frame{'s' if len(frames) > 1 else ''} {shortened(frames)} not applied to the receiver: {reason}"
        for reason, frames in by_reason.items()
    )
    syn_backoff = classify_backoff([s.time for s in handshake.syns])  # matched once its causes are known
    syn_backoff.lead = _lead(connection, handshake.syns, origin)
    # The SYNs sent again after a refusal of the one before (a RST/ACK between the two).
    syn_backoff.after_refusals = sum(
        any(earlier.frame < r.frame < later.frame for r in handshake.refusals)
        for earlier, later in pairwise(handshake.syns)
    )
    # One sender's resends by its timer: the SYN/ACKs of the ISN the handshake is judged on,
    # but for those that answered a repeated SYN at once.
    synack_backoff = classify_backoff([s.time for s in handshake.timer_synacks])
    synack_backoff.lead = _lead(connection, handshake.timer_synacks, origin)
    synack_backoff.after_bare_ack = _bare_ack_before_resend(connection, handshake.timer_synacks)
    _with_matches(synack_backoff, synack=True)
    synack_backoff.answers = len(handshake.synack_answers)
    synack_backoff.first_uncaptured = handshake.answer_behind is not None
    other_synacks = []
    for isn, sent, answers in handshake.other_timer_synacks():
        backoff = classify_backoff([s.time for s in sent])
        backoff.after_bare_ack = _bare_ack_before_resend(connection, sent)
        _with_matches(backoff, synack=True)
        backoff.answers = answers
        other_synacks.append(OtherSynacks(isn, sent, backoff, _schedules(backoff, None, synack=True)))
    # The states as shown: an end whose state the packets do not prove holds no TIME_WAIT.
    final: dict[Side, State | None] = {side: states[side][-1][1] if states[side] else None for side in SIDES}
    close = find_close(connection, machine.steps, final, {"client": client, "server": server}, silent)
    # Begun mid-connection, the one FIN's peer may have closed before the capture began: not
    # if it sent data after that FIN (helper-120's mqtt: an end sends none after its own FIN).
    close.began_mid = handshake.status == "not_seen" and not _peer_sent_after_fin(connection, close)
    notes.extend(apply_successor(connection, states, state_frames, close, origin))
    stale_reset = apply_stale_reset(connection, states, state_frames, close)
    resets = find_resets(connection, machine.steps, handshake)
    # The SYN sent again after the client reset a stale connection's challenge ACK to its
    # first: Linux re-arms its timer to the least (tcp_rcv_synsent_state_process), only while
    # it has sent no retransmission yet (icsk_retransmits 0); later ones keep the backoff.
    syns = handshake.syns
    syn_backoff.after_challenges = int(
        len(syns) > 1
        and any(
            r.cause == "challenge_ack_answer" and syns[0].frame < r.segment.frame < syns[1].frame
            for r in resets
        )
    )
    # Matched after its refusals and challenges are counted: resends they prompted follow no
    # timer, and no schedule is named with some of them missing (apply_schedules).
    _with_matches(syn_backoff)
    ending = next((r for r in resets if r.segment is close.reset), None)
    if (
        ending is not None
        and ending.cause == "no_connection"
        and close.fins
        and ending.sender not in close.fins
    ):
        close.ended_unseen_before = True
    diagnoses: list[Diagnosis] = []
    # Every diagnosis reads a FIN, a RST, a flagged segment, a resend or a path MTU error: a
    # flood's attempts have none.
    if resets or close.fins or sequence.flags or resends or any(e.too_big for e in connection.unreachables):
        capture_end = connection.capture_end
        if capture_end is not None and recording_end is not None:
            capture_end = max(capture_end, recording_end)
        diagnoses = diagnose(
            connection, sequence, handshake.answered_syn_to_ack, resends, resets, capture_end
        )
    rtt = handshake.answered_syn_to_ack
    own_sequence = sequence
    if isinstance(folded, FoldedConnection):
        own_sequence = folded.own_sequence
        gaps = folded.gaps.result(rtt)
    else:
        stale = stale_frames(connection, resets) if sequence.flags else set()
        # Where the own reading may differ (stale frames, window probes, data Wireshark takes
        # for unseen, see retransmissions._reaches_past, a SYN with a new ISN), it is made apart.
        new_isn = bool(handshake.other_server_isns) or any(
            s.seq != handshake.syns[0].seq for s in handshake.syns
        )
        differs = new_isn or any(
            "zero_window_probe" in kinds or "ack_lost_segment" in kinds for kinds in sequence.flags.values()
        )
        if stale or differs:
            own_sequence = analyze_sequence(connection, stale, own=True)
        gaps = gap_fills(connection, own_sequence.flags, rtt) if own_sequence.flags else None
    if stale_reset is not None:
        # Listed last, after what reads this connection's own frames (diagnoses, stale frames).
        resets = [*resets, stale_reset]
    return ConnectionAnalysis(
        sequence=sequence,
        compatibility=compatible,
        backoff_schedules=_schedules(syn_backoff, None),
        synack_schedules=_schedules(synack_backoff, None, synack=True),
        resends=resends,
        connection=connection,
        handshake=handshake,
        syn_backoff=syn_backoff,
        synack_backoff=synack_backoff,
        close=close,
        resets=resets,
        states=states,
        state_frames=state_frames,
        steps=machine.steps,
        notes=notes,
        diagnoses=diagnoses,
        vantage=vantage,
        ecn=find_ecn_signals(connection, handshake),
        urgent=find_urgent(connection, folded.urgent if isinstance(folded, FoldedConnection) else None),
        gaps=gaps,
        on_the_wire_twice=on_the_wire_twice(connection) if connection.copies else None,
        own_sequence=own_sequence,
        other_synacks=other_synacks,
    )


def _opened_before_filed(
    connection: Connection,
    handshake: Handshake,
    histories: dict[Side, list[tuple[float, State]]],
    causes: dict[Side, list[int | None]],
) -> tuple[dict[Side, list[tuple[float, State]]], dict[Side, list[int | None]]]:
    """A SYN filed after the SYN/ACK that answers it, though stamped before it (a file merged
    from several interfaces), which the machine, in file order, took as the capture's start
    at the SYN/ACK: the client CLOSED, then SYN_SENT at the SYN, the server LISTEN, then
    SYN_RCVD at it, as on the wire (copies; the given ones are not changed)."""
    first = connection.segments[0]
    if first.flags & (SYN | ACK) != SYN | ACK or handshake.status != "complete":
        return histories, causes
    syn = next((s for s in handshake.syns if s.frame > first.frame and s.stamp < first.stamp), None)
    starts: dict[Side, tuple[State, State]] = {
        "client": (State.CLOSED, State.SYN_SENT),
        "server": (State.LISTEN, State.SYN_RCVD),
    }
    if syn is None or any(
        histories[side][0][1] != after or causes[side][0] is not None for side, (_, after) in starts.items()
    ):
        return histories, causes
    opened: dict[Side, list[tuple[float, State]]] = {}
    opened_by: dict[Side, list[int | None]] = {}
    for side, (before, after) in starts.items():
        opened[side] = [(syn.time, before), (syn.time, after), *histories[side][1:]]
        opened_by[side] = [None, syn.frame, *causes[side][1:]]
    return opened, opened_by


def _silent_sides(connection: Connection) -> frozenset[Side]:
    """The ends none of whose segments are in the capture (only the other direction passed
    the capture point): what they sent shows only in the other's acknowledgments."""
    if connection.to_itself:
        return frozenset()  # one socket connected to itself: it sent all
    sent = {connection.sender(s) for s in connection.segments}
    continued = connection.continues
    if continued is not None:  # an end that spoke before the idle timer gave the connection up
        sent.update(connection.sender(s) for s in continued.last)
    return frozenset(side for side in SIDES if side not in sent)


def _lead(connection: Connection, sent: list[Segment], origin: float | None) -> float | None:
    """Backoff.lead: from the capture's start (`origin`, frame 1's time) to the first of
    `sent`, where it is the connection's first segment and not frame 1 (a capture whose first
    frame it is, filtered or cut from a longer one, tells nothing of when it began); None else."""
    if origin is None or not sent or connection.segments[0] is not sent[0] or sent[0].frame == 1:
        return None
    return sent[0].time - origin


def _with_matches(backoff: Backoff, synack: bool = False) -> Backoff:
    apply_schedules(backoff, None, synack=synack)
    return backoff


def _schedules(backoff: Backoff, sysctls: dict | None, synack: bool = False) -> dict[str, list[float]]:
    """What the backoff chart draws a measurement against: the SYN's schedules, or for the
    SYN/ACKs the listener's (which no tcp_syn_linear_timeouts sets); none without resends."""
    if not backoff.intervals:
        return {}
    # A schedule matched with transmissions not captured is drawn as far as its own last one
    # (the capture's last transmission's number in it).
    last = backoff.if_missed.positions[-1] if backoff.if_missed is not None else len(backoff.intervals)
    return candidate_schedules(last, sysctls, synack, deferred_first(backoff))


# A Linux-like client's (TTL 64 or less) first SYN timeout, its SYNs at most (tcp_syn_retries
# 6), and the share of the next timeout past which a SYN not sent again was given up.
SYN_FIRST_TIMEOUT: Final = 1.0
SYNS_MOST: Final = 7
SYN_DUE_SHARE: Final = 1.5
SYN_TIMER_LEAST: Final = 0.9  # of SYN_FIRST_TIMEOUT: a kernel's SYNs are no closer


def _syn_given_up(connection: Connection, handshake: Handshake) -> float | None:
    """How long the capture went on after an unanswered attempt's last SYN, where a Linux-like
    client's timer would have sent it again by then (the first timeout 1 s, then doubling at
    most): its socket was closed before (an application's own timeout, Happy Eyeballs' other
    address) or its retries set fewer. None where it may still have been waiting."""
    syns, end = handshake.syns, connection.capture_end
    if handshake.status != "no_answer" or not syns or end is None or len(syns) >= SYNS_MOST:
        return None
    if not 0 < syns[-1].ttl <= 64:
        return None  # Windows waits 3 s, then gives up after its third
    if any(
        later.time - earlier.time < SYN_FIRST_TIMEOUT * SYN_TIMER_LEAST for earlier, later in pairwise(syns)
    ):
        return None  # sooner than any kernel's timer: a scanner's or a tool's probes, its own schedule
    due = SYN_FIRST_TIMEOUT if len(syns) == 1 else 2 * (syns[-1].time - syns[-2].time)
    silence = end - syns[-1].time
    return silence if silence > due * SYN_DUE_SHARE else None


def _taken_late(connection: Connection, handshake: Handshake, server: Endpoint) -> Segment | None:
    """The segment at which the server moved to ESTABLISHED, where that came after the
    handshake's ACK: the ACK never reached it (lost, or dropped by a listener whose accept
    queue was full), and a later one of the client's completed its handshake. A long
    connection's first segments are kept: the move is among them."""
    final_ack = handshake.final_ack
    if handshake.status != "complete" or final_ack is None or handshake.ack_not_taken:
        return None
    for (_time, state), frame in zip(server.history, server.frames, strict=True):
        if state == State.ESTABLISHED and frame is not None:
            if frame <= final_ack.frame:
                return None
            return next((s for s in connection.segments if s.frame == frame), None)
    return None


def _not_taken(final_ack: Segment, lost: set[int], machine: ConnectionMachine) -> bool:
    """Whether the handshake's final ACK never reached the server (loss inference) or the
    server refused it (the state machine: a listener's RST to it, _request_refused)."""
    if final_ack.frame in lost:
        return True
    for step in machine.steps:
        if step.segment.frame >= final_ack.frame:
            return step.segment is final_ack and step.dropped is not None
    return False


def _bare_ack_before_resend(connection: Connection, synacks: list[Segment]) -> bool:
    """Whether the client acknowledged the first SYN/ACK with a bare ACK before the server's
    timer sent it again (findings/backoff.py, candidate_schedules)."""
    if len(synacks) < 2:
        return False
    first, resend = synacks[0], synacks[1]
    end = (first.seq + 1) % MOD
    for segment in connection.segments:
        if segment.frame >= resend.frame:
            return False
        if (
            segment.frame > first.frame
            and connection.from_client(segment)
            and segment.flags & (SYN | FIN | RST | ACK) == ACK
            and not segment.payload_len
            and segment.ack == end
        ):
            return True
    return False


def analyze_segments(segments: Iterable[Segment], name: str = "<segments>") -> Analysis:
    segments = list(segments)
    stats = DecodeStats(format="records", frames=len(segments), tcp_segments=len(segments))
    results = [analyze_connection(c) for c in group_connections(segments)]
    scans, links = ScanDetector(), LinkDetector()
    for result in results:
        result.probe = scans.add(result)
        links.add(result, result.probe is not None and scans.hot(result))
    found = scans.findings()
    return Analysis(name, stats, results, scans=found, links=links.findings(found))


# The longest a caller is taken to wake after the kernel ended its call (a timer gave up):
# a snapshot this long before the call's return may find the move made (helper-129: 24 ms
# at most on a loaded 2-core machine).
CALLER_WAKE: Final = 0.25


def since(time: float, origin: float | None, connection: Connection) -> str:
    """A note's time as the report writes its times: +seconds since frame 1 (`origin`), or
    since the connection's first packet where frame 1's time is not known."""
    return f"{time - (origin if origin is not None else connection.first_time):+.3f} s"


def apply_sidecar(result: ConnectionAnalysis, sidecar: Sidecar, origin: float | None = None) -> None:
    """What the sidecar adds to a connection's findings: the call log's timeouts and RST
    causes, the backoff against the recorded kernel settings, the kernel's socket states.
    origin: as analyze_connection's."""
    connection = result.connection
    unsure = apply_call_timeouts(result, sidecar, origin)
    for side, window in apply_orphan_timer(result, sidecar.get("sysctls") or {}, origin).items():
        unsure.setdefault(side, []).append(window)
    for side, window in apply_time_wait_timer(result, recording_end(sidecar), origin).items():
        unsure.setdefault(side, []).append(window)
    # A sidecar that recorded no kernel settings predicts no schedule of its own.
    sysctls = sidecar.get("sysctls") or None
    apply_schedules(result.syn_backoff, sysctls)
    apply_schedules(result.synack_backoff, sysctls, synack=True)
    result.backoff_schedules = _schedules(result.syn_backoff, sysctls)
    result.synack_schedules = _schedules(result.synack_backoff, sysctls, synack=True)
    for other in result.other_synacks:
        apply_schedules(other.backoff, sysctls, synack=True)
        other.schedules = _schedules(other.backoff, sysctls, synack=True)
    refine_with_calls(connection, result.resets, connection_calls(sidecar, connection))
    result.kernel = compare_with_kernel(connection, result.states, sidecar, unsure)
    if sidecar.get("kernel_recorder", {}).get("attached"):
        result.kernel.events = compare_events(
            connection, result.states, result.state_frames, result.steps, result.resets, result.resends,
            result.sequence.flags, sidecar.get("kernel_events", []), sidecar["calls"],
            sidecar.get("recorder", {}).get("dropped_by_kernel") or 0,
            sidecar["kernel_recorder"].get("lost") or 0,
        )  # fmt: skip
        refine_with_kernel_reasons(
            connection, result.resets, result.kernel.events.resets, sidecar.get("kernel_events", [])
        )


def apply_call_timeouts(
    result: ConnectionAnalysis, sidecar: Sidecar, origin: float | None = None
) -> dict[Side, list[tuple[float, float]]]:
    """A client that gave up connecting closed without a packet: the call log is the only
    witness, so the client's timeline takes the move to CLOSED from it. Either connect()
    failed with ETIMEDOUT (the kernel's SYN retries ran out), or the program closed the
    socket still in SYN_SENT (its own timeout: curl's --connect-timeout, a socket timeout,
    an async client's), a close() on the connection's own socket (strace names it).

    Returns, by side, where a move placed at a call's return was made by the kernel: up to
    as long before as it took to wake the caller (a loaded machine's CI run: a snapshot
    between the timer and connect()'s return found the socket gone), as (earliest, placed
    at): see compare_with_kernel's `unsure`."""
    connection = result.connection
    told_late: dict[Side, list[tuple[float, float]]] = {}
    port = f":{connection.server[1]})"
    for call in sidecar["calls"]:
        if (
            call["side"] == "client"
            and call["errno"] == "ETIMEDOUT"
            and call["call"].startswith("connect(")
            and call["call"].endswith(port)
            and connection.first_time <= call["end_time"]
            and time_out(result.states["client"], call["end_time"], result.state_frames.get("client"))
        ):
            result.notes.append(
                f"the client gave up at connect() ETIMEDOUT (call log), {since(call['end_time'], origin, connection)}"
            )
            told_late["client"] = [(_earliest_give_up(connection, call["end_time"]), call["end_time"])]
    history = result.states["client"]
    if not history or history[-1][1] != State.SYN_SENT:
        return told_late
    # Its calls to any time after: the close() comes after the last SYN, and strace may name
    # the socket anew there (by its addresses, where it named it by inode while connecting).
    ends = (connection.client, connection.server)
    for call in calls_on(calls_of(sidecar), ends, connection.first_time, math.inf):
        if call["call"].startswith("connect(") and call["time"] > connection.last_time:
            break  # the 4-tuple's next connection: its close() is not this one's
        if (
            call["side"] == "client"
            and call.get("socket") is not None
            and call["call"].startswith("close()")
            and call["time"] >= history[-1][0]
            and time_out(history, call["time"], result.state_frames.get("client"))
        ):
            result.notes.append(
                f"the client closed its socket in SYN_SENT (close(), call log), {since(call['time'], origin, connection)}: "
                "it gave up connecting before an answer came, and the kernel let the attempt go"
            )
            break
    return told_late


def _earliest_give_up(connection: Connection, returned: float) -> float:
    """The earliest a SYN_SENT end's timer can have given up, by connect()'s return at
    `returned`: CALLER_WAKE before it at most (the kernel wakes the caller as it gives up;
    measured under load, 24 ms at most), never before its last SYN."""
    syns = [
        s.time
        for s in connection.segments
        if s.flags & SYN and connection.from_client(s) and s.time <= returned
    ]
    return max(syns[-1] if syns else returned, returned - CALLER_WAKE)


def apply_successor(
    connection: Connection,
    states: dict[Side, list[tuple[float, State]]],
    frames: dict[Side, list[int | None]],
    close: Close,
    origin: float | None = None,
) -> list[str]:
    """An end still in TIME_WAIT when the next connection on the 4-tuple began with a SYN is
    CLOSED from that SYN on: the 4-tuple is that connection's. Sent by the end itself, its
    stack had let the timewait socket go (Linux's tcp_tw_reuse); sent to it, the timewait
    socket takes a SYN beyond what it took (RFC 6191) and is gone, or answers any other with
    an ACK, which the SYN's sender resets (RFC 9293 3.10.7.3). No frame of this connection
    marks the move. The notes it adds."""
    syn = connection.succeeded_by
    if syn is None:
        return []
    own = next(
        (
            s
            for s in connection.segments
            if s.flags & (SYN | ACK) == SYN and s.src == syn.src and s.sport == syn.sport
        ),
        None,
    )
    if own is not None and same_packet(syn, own):
        return [
            f"the next connection on these ports begins with frame {syn.frame}, this one's SYN (frame {own.frame}) "
            f"again, {format_duration(syn.time - own.time)} later: the same ISN, {packet_marks(syn)} together, "
            f"which no stack's resend repeats: the file holds this traffic twice ({MERGED_TWICE})"
        ]
    if not close.time_wait:
        return []
    notes = []
    for side in SIDES:
        history = states[side]
        if not history or history[-1][1] != State.TIME_WAIT or syn.time < history[-1][0]:
            continue
        history.append((syn.time, State.CLOSED))
        if len(frames[side]) == len(history) - 1:
            frames[side].append(None)
        close.time_wait_ended = syn
        if connection.sender(syn) == side:
            how = (
                "its own SYN opened the next connection on these ports, as its stack does once it "
                "lets the timewait socket go (Linux: tcp_tw_reuse)"
            )
        else:
            how = (
                "the next connection's SYN reached it on these ports: a timewait socket hands a SYN "
                "beyond what it took (a higher sequence number or timestamp, RFC 6191) to the listener "
                "and is gone; any other it answers with an ACK, which the SYN's sender resets (RFC 9293 "
                "3.10.7.3), ending it too (Linux's default, tcp_rfc1337=0)"
            )
        notes.append(
            f"the {side}'s TIME_WAIT ended at frame {syn.frame} "
            f"({since(syn.time, origin, connection)}): {how}"
        )
    return notes


def apply_stale_reset(
    connection: Connection,
    states: dict[Side, list[tuple[float, State]]],
    frames: dict[Side, list[int | None]],
    close: Close,
) -> Reset | None:
    """The RST of the next connection on the 4-tuple that reset this one (Connection.
    reset_by_next): its receiver, still synchronized, is CLOSED from it on, and the close is
    that reset. The RST is that connection's frame: no step of this one marks the move. The
    Reset to list among this connection's (None without such a RST)."""
    rst = connection.reset_by_next
    syn = connection.succeeded_by
    if rst is None or syn is None:
        return None
    sender = connection.sender(rst)
    receiver = peer_of(sender)
    history = states[receiver]
    if history and history[-1][1] in SYNCHRONIZED and rst.time >= history[-1][0]:
        history.append((rst.time, State.CLOSED))
        if len(frames[receiver]) == len(history) - 1:
            frames[receiver].append(None)
    if close.reset is None:
        close.reset, close.reset_by, close.reset_by_next = rst, sender, True
        if not close.fins:
            close.shape = "reset"
    explanation = (
        f"a packet of the next connection on these ports: its SYN (frame {syn.frame}) found this one still "
        f"open at the {receiver}, which answered with a challenge ACK (RFC 5961 4.2: an ACK of what it had "
        f"taken, not of the SYN); the SYN's sender answered that with this RST at its acknowledgment number "
        f"(RFC 9293 3.10.7.3), which reset the {receiver}'s end; the {sender}'s end had let this connection "
        "go without a packet (a restart, or a NAT that gave its address and port to another host)"
    )
    return Reset(
        rst, sender, State.SYN_SENT.value, "challenge_ack_answer", explanation, True, [syn.frame, rst.frame]
    )


# Linux holds TIME_WAIT this long (TCP_TIMEWAIT_LEN, a constant: no sysctl sets it).
TIME_WAIT_SECONDS: Final = 60.0
# The kernel's TIME_WAIT timer fires on a timer wheel whose granule at 60 s is 2 to 5 s
# (HZ 250 to 100): a snapshot this long after the 60 s may still find the socket.
TIME_WAIT_SLACK: Final = 6.0


def apply_time_wait_timer(
    result: ConnectionAnalysis, recorded_until: float | None, origin: float | None = None
) -> dict[Side, tuple[float, float]]:
    """A sidecar's run is Linux's: an end in TIME_WAIT is CLOSED TIME_WAIT_SECONDS after it
    entered it, if the recording went on that long (the kernel's snapshots then find no
    socket; without the timer every later one disagreed). A capture of unknown hosts keeps
    TIME_WAIT: BSD stacks hold it 30 s, Windows up to 240 s. Returns, by side, when the
    kernel made the move so placed: from then to as late as its timer wheel fires it. A
    TIME_WAIT a RST ended has none (the packet's move, which a Linux socket makes at once or,
    with net.ipv4.tcp_rfc1337=1, not at all: helper-100's twrst1)."""
    fired_at: dict[Side, tuple[float, float]] = {}
    if recorded_until is None:
        return fired_at
    for side in SIDES:
        history = result.states[side]
        if not history or history[-1][1] != State.TIME_WAIT:
            continue
        # Linux starts the 60 s again for each FIN the peer resends into TIME_WAIT.
        entered = history[-1][0]
        fins = [s.time for s in result.connection.segments
                if s.time >= entered and s.flags & FIN and result.connection.sender(s) != side]  # fmt: skip
        ends = max([entered, *fins]) + TIME_WAIT_SECONDS
        if ends < recorded_until:
            history.append((ends, State.CLOSED))
            fired_at[side] = (ends, ends + TIME_WAIT_SLACK)
            frames = result.state_frames.get(side)
            if frames is not None and len(frames) == len(history) - 1:
                frames.append(None)  # the timer's, no packet's
            result.notes.append(
                f"the {side}'s TIME_WAIT ended at {since(ends, origin, result.connection)}: Linux "
                f"holds it {TIME_WAIT_SECONDS:.0f} s (TCP_TIMEWAIT_LEN)"
            )
    return fired_at


FIN_TIMEOUT_SYSCTL: Final = "net.ipv4.tcp_fin_timeout"


# How late a kernel timer fires beyond its wheel's granule (a timer is not a caller's
# wake-up: its own figure, the same size).
TIMER_LATE: Final = 0.25


def apply_orphan_timer(
    result: ConnectionAnalysis, sysctls: dict, origin: float | None = None
) -> dict[Side, tuple[float, float]]:
    """The packets put the FIN_WAIT_2 timer's move at the late segment that found no socket,
    the latest it can have fired (tcp_state.py, "Orphans"); the recorded tcp_fin_timeout
    says when it did: that long after the end entered FIN_WAIT_2 (the kernel arms it then).
    Returns, by side, when the kernel made a move so placed: from then to as late as its
    timer wheel fires it (a 2 s timer's granule is 32 ms at HZ 250, and an eighth of the
    timeout's length at most; helper-129: snapshots 2.5 and 8 ms past it)."""
    fired_at: dict[Side, tuple[float, float]] = {}
    setting = sysctls.get(FIN_TIMEOUT_SYSCTL)
    if setting is None or not str(setting).isdigit():
        return fired_at
    told = record_fin_timeout(result.connection, result.resets, int(setting))
    for reset in told:
        # Told again, or its cause changed with the timer's length: its diagnosis anew.
        result.diagnoses = [
            d for d in result.diagnoses
            if not (d.kind == "fin_wait_2_expired" and reset.segment.frame in d.frames)
        ]  # fmt: skip
        result.diagnoses += fin_wait_2_expired_diagnoses([reset])
    if told:
        result.diagnoses.sort(key=lambda d: min(d.frames))
    for side in SIDES:
        history, frames = result.states[side], result.state_frames.get(side, [])
        for index in range(1, min(len(history), len(frames))):
            (entered, before), (time, state) = history[index - 1], history[index]
            if before == State.FIN_WAIT_2 and state == State.CLOSED and frames[index] is None:
                fired = entered + int(setting)
                if entered <= fired < time:
                    history[index] = (fired, state)
                    fired_at[side] = (fired, fired + TIMER_LATE + int(setting) / 8)
                    result.notes.append(
                        f"the {side}'s FIN_WAIT_2 timer fired at {since(fired, origin, result.connection)} "
                        f"(tcp_fin_timeout {setting} s, recorded in the sidecar)"
                    )
    return fired_at


@dataclass
class FileStream:
    """One file's analysis as a stream: `results` yields each connection's findings as
    soon as the connection is over (not in id order), so that a caller can write it out
    and forget it. The decode statistics, the UDP flows and the application findings are
    complete once `results` is exhausted."""

    file: str
    stats: DecodeStats
    sidecar: Sidecar | None
    _records: Iterator[Segment | Datagram | Unreachable]
    _udp: UdpFlows
    _seen: list[Segment] | None  # every TCP segment, kept only with a sidecar (small captures)
    origin: Clock | None = None  # frame 1's time, once the first TCP segment has been read
    timeouts: Timeouts | None = None  # when open connections are given up (connections.Timeouts)
    # For an output that only counts a flood's attempts (attempt_shapes.py): "hot", a view for
    # each attempt sure to be folded into a scan or flood (ScanDetector.hot); "all", for every
    # attempt; None, every connection analyzed in full.
    attempt_views: str | None = None
    # A range a diagram draws (its times in seconds since frame 1): a connection folded for
    # its length keeps every step in it (long_connection.KeptRange).
    kept: KeptRange | None = None

    def __post_init__(self) -> None:
        self._tcp_errors = HeldErrors()  # ICMP errors about TCP segments, until their connection is over
        self._kept_budget = KeptBudget()  # of the range kept (KeptRange), shared by every connection
        self.results: Iterator[ConnectionAnalysis] = self._analyze()
        self.scans = ScanDetector()  # every connection counted as it is handed over
        self.links = LinkDetector()  # and looked at for another side of it (findings/links.py)

    def _fold_keeping(
        self,
        segments: list[Segment],
        copies: list[Segment] | None = None,
        context: list[Segment] | None = None,
    ) -> FoldedConnection:
        """A FoldedConnection that keeps the range asked for, its times made epoch times
        (frame 1's time is known by the time a connection is long enough to fold)."""
        kept = self.kept
        if kept is not None and kept.times is not None:
            origin = self.origin.time if self.origin is not None else segments[0].time
            kept = kept._replace(times=(origin + kept.times[0], origin + kept.times[1]))
        return FoldedConnection(segments, copies, context, kept=kept, budget=self._kept_budget)

    def _segments(self) -> Iterator[Segment]:
        """The TCP segments on down the stream, the first one's time noted; UDP datagrams and
        ICMP errors set aside (grouped into flows, held for their connections)."""
        udp, tcp_errors = self._udp, self._tcp_errors
        for record in self._records:
            if isinstance(record, Segment):
                if self.origin is None:  # frame 1's time: Wireshark's clock, if it was read
                    start = self.stats.origin
                    self.origin = start if start is not None else Clock(record.time, record.stamp)
                yield record
            elif isinstance(record, Unreachable) and record.protocol == PROTO_TCP:
                tcp_errors.add(record)
            else:
                udp.add(record)

    def _analyze(self) -> Iterator[ConnectionAnalysis]:
        sidecar, seen = self.sidecar, self._seen
        stats, scans, links = self.stats, self.scans, self.links
        segments = self._segments()
        recorded_until = recording_end(sidecar) if sidecar is not None else None
        views = self.attempt_views if sidecar is None else None
        memo = ShapeMemo()
        tcp_errors = self._tcp_errors
        fold = FoldedConnection if self.kept is None else self._fold_keeping
        origin: float | None = None  # self.origin's time, once it is known
        for connection in stream_connections(
            segments, self.timeouts, lambda: stats.clock, fold, frames=stats
        ):
            if tcp_errors:
                connection.unreachables = tcp_errors.take(
                    connection.client, connection.server, connection.first_time, connection.last_time
                )
            if origin is None and self.origin is not None:
                origin = self.origin.time
            shape = attempt_shape(connection) if views is not None and not connection.unreachables else None
            if shape is not None:
                template = memo.get(shape)
                if template is not None:
                    seen_as = view(template, connection)
                    answer = scans.add(seen_as)
                    if views == "all" or (answer is not None and scans.hot(seen_as)):
                        seen_as.probe = answer
                        links.add_view(seen_as, answer is not None and scans.hot(seen_as))
                        yield seen_as
                        continue
                    result = analyze_connection(connection, recorded_until, origin)
                    result.probe = answer  # counted already, as the view's: the same
                    links.add(result, answer is not None and scans.hot(result))
                    yield result
                    continue
            result = analyze_connection(connection, recorded_until, origin)
            if sidecar is not None and seen is not None:
                seen.extend(connection.segments)
                apply_sidecar(result, sidecar, origin)
            result.probe = scans.add(result)
            links.add(result, result.probe is not None and scans.hot(result))
            if shape is not None:
                memo.put(shape, result)
            yield result

    def udp(self) -> list[UdpFlow]:
        return self._udp.flows(self._calls)

    def application(self, udp: list[UdpFlow]) -> list[str]:
        if self._seen is None:
            return []
        refusals = [message for flow in udp for message, _answered in flow.unreachables]
        return application_findings(self._calls, sorted(self._seen, key=lambda s: s.frame), refusals)

    @property
    def _calls(self) -> list[CallRecord]:
        return calls_of(self.sidecar)


def stream_file(
    path: str,
    decoder: str = "fast",
    sidecar: Sidecar | None = None,
    progress: Progress | None = None,
    share: Share | None = None,
    timeouts: Timeouts | None = None,
    kept: KeptRange | None = None,
) -> FileStream:
    """Analyze a pcap/pcapng file as a stream (see FileStream); reading it raises
    CaptureFileError if it cannot be read at all.

    decoder: "fast" (the streaming reader of header bytes) or "tshark" (Wireshark's dissectors
    through pyshark, for tunnels and link types the fast reader does not decode).
    sidecar: the capture's sidecar; its kernel snapshots are compared with the inferred states.
    progress: called now and then with (frames read, bytes read) (fast decoder only).
    share: only this share of the connections (see analyzer.parallel; fast decoder only): the decoder
    passes over the rest, connection ids number the share's own, and the decode
    statistics count all.
    timeouts: when open connections are given up (connections.Timeouts; Zeek's by default).
    kept: a range a diagram draws, kept whole in a connection folded for its length."""
    stats = DecodeStats()
    seen: list[Segment] | None = [] if sidecar is not None else None
    records: Iterable[Segment | Datagram | Unreachable]
    if decoder == "tshark":
        from analyzer.decode.tshark_reader import read_packets_tshark

        if path == STDIN:  # pyshark hands tshark a file name
            raise CaptureFileError(
                path, "--decoder tshark reads files only: save the capture to a file first"
            )

        records = read_packets_tshark(path, stats)
    else:
        records = read_packets(path, stats, progress, share)
    return FileStream(path, stats, sidecar, iter(records), UdpFlows(), seen, timeouts=timeouts, kept=kept)


def analyze_file(
    path: str,
    decoder: str = "fast",
    sidecar: Sidecar | None = None,
    timeouts: Timeouts | None = None,
    kept: KeptRange | None = None,
) -> Analysis:
    """The whole analysis of a file at once, connections in id order (see stream_file)."""
    stream = stream_file(path, decoder, sidecar, timeouts=timeouts, kept=kept)
    return finished(stream, sorted(stream.results, key=lambda r: r.connection.id))


def finished(stream: FileStream, results: list[ConnectionAnalysis]) -> Analysis:
    """The file's Analysis once every result of `stream` has been read: `results`, those of
    them kept (every one, or what a report shows of them), in id order."""
    udp = stream.udp()
    scans = stream.scans.findings()
    return Analysis(
        stream.file,
        stream.stats,
        results,
        stream.sidecar,
        application=stream.application(udp),
        udp=udp,
        scans=scans,
        links=stream.links.findings(scans),
    )
