"""The handshake: who opened, the ISNs, the seq/ack arithmetic, options, its round trip.

Variants (`variant`), told by what the server answered the client's SYN with:
- three-way: SYN, SYN/ACK, ACK.
- simultaneous-open: both ends sent a SYN (without ACK), and the server acknowledged the
  client's with a SYN/ACK (RFC 9293's simultaneous open; the client's acknowledgment of
  the server's SYN is its SYN/ACK, or an ACK).
- split: the server answered the SYN with a SYN of its own, the client that with a
  SYN/ACK, and the server the SYN/ACK with an ACK (4 segments; 5 when the server first
  sent an ACK as well: a "split handshake", which real stacks take as a simultaneous
  open).
None when the server answered with neither SYN nor SYN/ACK (refused, no answer, not seen).

Rules:
- complete, three-way: a SYN from the client, a SYN/ACK from the server whose ack is
  the client's ISN+1 (ISN+1+len when it acknowledges data the SYN carried: TCP Fast
  Open), then an ACK from the client whose ack is the server's ISN+1 (each checked,
  never assumed; a SYN/ACK that fails its check does not count). A server (or a
  middlebox) may answer resent SYNs with SYN/ACKs of different ISNs: every SYN/ACK is
  kept (`synacks`), and the handshake is judged on the ISN the client's ACK
  acknowledges (the first SYN/ACK's when it acknowledges none of them).
- complete, simultaneous-open or split: each end's SYN acknowledged by the other (ack
  ISN+1, checked): the server's by the client's first segment with ACK after it, the
  client's by the server's first segment with ACK after the server's own SYN (an ACK
  before it is not in the server's sequence space).
- refused: the server answered a SYN with a RST (RST/ACK acking ISN+1).
- unreachable: SYNs from the client, nothing from the server, and an ICMP destination
  unreachable error that quotes a SYN (findings/unreachable.py: a firewall's REJECT, a
  router without a route).
- no_answer: SYNs from the client and nothing at all from the server.
- incomplete: a handshake began but did not finish (no final ACK, a SYN/ACK
  whose ack is wrong, or a capture that starts at the SYN/ACK).
- not_seen: the capture holds neither SYN nor SYN/ACK.
A SYN with FIN or RST is no SYN (decode.segment.impossible_flags).
- answered_syn_to_ack (the report's "rtt"): from the SYN that was answered (the last
  before the SYN/ACK; in a split handshake before the server's SYN, in a simultaneous open
  before the server's acknowledgment of it) to the segment that completed the
  handshake (`final_ack`: the client's ACK; in the other variants the later of the two
  acknowledgments): the handshake's round trip without the time spent in SYN
  retransmissions (two round trips in a split handshake). For an ordinary handshake it
  equals Wireshark's iRTT (findings/retransmissions.py), which runs from the latest SYN
  to the first segment with ACK and without SYN from either end. syn_to_synack and
  synack_to_ack split it at the SYN/ACK; they are not given for the other variants. When
  the SYN/ACK was sent more than once, syn_to_synack runs to its first copy and
  synack_to_ack from the copy the ACK answers (told by the client's ACKs of ISN+1, one a
  copy: _copy_answered), and the RTT is their sum, not a lost copy's timer.
- SYN/ACK copies sent at once in answer to a repeated SYN (synack_answers), and each end's
  SYN/ACK of a simultaneous open (its SYN again, answering the peer's): answer_copies, no
  retransmissions, left out of the SYN/ACK backoff.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise
from typing import Final, Literal

from analyzer.connections import Connection
from analyzer.decode.icmp_codes import describe, errno_of
from analyzer.decode.segment import (
    ACK,
    FIN,
    MERGED_TWICE,
    MOD,
    RST,
    SYN,
    TIME_EXCEEDED,
    Segment,
    TcpOptions,
    Unreachable,
    after_a_gap,
    exact_stamp,
    packet_marks,
    same_packet,
    scan_probe,
    seq_diff,
)
from analyzer.findings import ecn_negotiation
from analyzer.findings.scans import ack_probe
from analyzer.findings.unreachable import answered_syn, last_answered_syn
from analyzer.timefmt import between, format_duration

# How long after a RST/ACK Windows sends its refused SYN again (0.5 s, a timer's slack).
WINDOWS_REFUSED_RETRY: Final = (0.4, 0.7)
# A SYN/ACK that came this many times later after the latest SYN than the server answered a
# repeated SYN, and this long at least (Linux's least retransmission timeout: no jitter of a
# path or a scheduler comes near), did not answer that SYN: the server's timer sent it.
TIMER_COPY_RATIO: Final = 10
TIMER_COPY_LEAST: Final = 0.200
# A listener's SYN/ACK timer first fires this long after its first SYN/ACK, itself after the
# first SYN, at the soonest (Linux's TCP_TIMEOUT_INIT; a kernel timer fires late, never early;
# Windows' 3 s).
SYNACK_TIMER_LEAST: Final = 1.0

HandshakeStatus = Literal["complete", "refused", "unreachable", "no_answer", "incomplete", "not_seen"]
HandshakeVariant = Literal["three-way", "simultaneous-open", "split"]

_KIND = SYN | ACK | RST | FIN  # the flags that tell a segment's part in the handshake


@dataclass
class Check:
    what: str
    expected: int
    seen: int

    def __init__(self, what: str, expected: int, seen: int) -> None:
        self.what = what
        self.expected = expected
        self.seen = seen

    @property
    def ok(self) -> bool:
        return self.expected == self.seen


@dataclass
class Handshake:
    status: HandshakeStatus = "not_seen"
    variant: HandshakeVariant | None = None
    syns: list[Segment] = field(default_factory=list)
    synacks: list[Segment] = field(default_factory=list)  # every SYN/ACK of the server, whatever its ISN
    server_syns: list[Segment] = field(default_factory=list)  # the server's SYNs without ACK (its ISN's)
    # A simultaneous open whose client's SYNs never reached the server (syns_before_peer_syn):
    # those SYNs; the server connected on its own.
    syns_lost: list[Segment] = field(default_factory=list)
    final_ack: Segment | None = None
    refusal: Segment | None = None
    unreachable: Unreachable | None = None  # the ICMP error that answered a SYN
    # The last error that quotes a SYN: the one that ended the attempt (unreachable.py).
    last_unreachable: Unreachable | None = None
    client_isn: int | None = None
    server_isn: int | None = None
    other_server_isns: list[int] = field(default_factory=list)  # of SYN/ACKs not judged on
    # The server's first answer to the SYN when it is an ACK that does not acknowledge it:
    # a challenge ACK (RFC 5961), from a stale connection on the same ports.
    challenge_ack: Segment | None = None
    went_on_at: int = -1  # Connection.went_on_at: the frame the challenge ACK's connection went on at
    crafted_syns: list[Segment] = field(default_factory=list)  # SYNs with FIN or RST (impossible_flags)
    # No SYN, and the first segment a scan's probe (decode.segment.scan_probe): no handshake to miss.
    probe: Segment | None = None
    # The connection is lone ACKs, answered by a RST for no connection (scans.ack_probe).
    ack_probe: bool = False
    answered_syn_to_ack: float | None = None
    syn_to_synack: float | None = None
    synack_to_ack: float | None = None
    checks: list[Check] = field(default_factory=list)
    client_options: dict | None = None
    server_options: dict | None = None
    # TCP Fast Open (RFC 7413): the data the first SYN carried and whether the SYN/ACK
    # acknowledged it, the cookie option on each; None where no SYN used it.
    fast_open: dict | None = None
    # The SYN/ACK was captured before the SYN it acknowledges (the capture's order, not the
    # wire's: zeek_handshake-reorder): no SYN-to-SYN/ACK time is given.
    reordered: bool = False
    # No answer in the capture, but a later ACK of the client's that acknowledges one: the
    # server's side is not in the capture (one direction captured).
    unseen_answer: Segment | None = None
    # The mirror: a SYN/ACK and no packet of the client's at all (only the server's direction
    # passed the capture point, or backscatter of spoofed SYNs); and the server's first later
    # segment that shows the client completed the handshake: one that acknowledges more than
    # the SYN/ACK did, which the client sends only once it has the SYN/ACK. (Data from the
    # server is no proof: with Fast Open a server sends it in SYN_RCVD.)
    client_unseen: bool = False
    completed_by: Segment | None = None
    # The capture begins at the SYN/ACK (its SYN before the start): the client's first later
    # segment that acknowledges it, which shows the handshake completed before the capture
    # saw it all. Still "incomplete" (no SYN to check), but an opened connection: the
    # summary and the overview count it mid-stream.
    synack_acked_by: Segment | None = None
    # One socket connected to itself: its port is both ends (client and server are it).
    self_connected: bool = False
    # The connection this one continues (connections.Continued): its first frame, and the
    # silence between its last segment and this one's first; -1 and 0.0 for none.
    continues_frame: int = -1
    quiet_for: float = 0.0
    # What of the server's the ACK that completed it acknowledges beyond the SYN/ACK, in words
    # ("" for nothing): Fast Open's first answer (_server_sent_before).
    acked_beyond: str = ""
    # The client's ACK of the SYN/ACK was not captured: `final_ack` is the client's first
    # later segment, which acknowledges the SYN/ACK and what the server sent after it, none
    # of which the capture holds (it lost packets: Wireshark's "ACKed unseen segment").
    final_unseen: bool = False
    # The three segments are on the wire, but the server never took the ACK (nor any copy):
    # its listener dropped them and the state machine kept it out of ESTABLISHED (set by the
    # analysis from loss inference, analysis.py).
    ack_not_taken: bool = False
    # No answer, and the capture went on this long after the last SYN, past when a Linux-like
    # client's timer would have sent it again: it gave the attempt up (set by the analysis).
    silent_after: float | None = None
    # The ACK not taken, but a later segment of the client's was (its listener's accept queue
    # had room again): where the server's handshake completed (set by the analysis).
    taken_late: Segment | None = None
    # Copies of the client's SYN captured after its ACK of the SYN/ACK: made on the path (a
    # client in ESTABLISHED sends no SYN), or a retransmission reordered behind the ACK, its
    # sending time unknown: left out of `syns` and the backoff.
    late_syns: list[Segment] = field(default_factory=list)
    # Of a refused connection, every RST/ACK that refused its SYN: more than one where the
    # client sent its SYN again after a refusal (connections._Open.refused_again).
    refusals: list[Segment] = field(default_factory=list)
    # Of the judged SYN/ACK's copies, those sent at once in answer to a repeated SYN (Linux's
    # tcp_check_req -> inet_rtx_syn_ack), not by the SYN/ACK's timer: kept out of its backoff.
    synack_answers: list[Segment] = field(default_factory=list)
    # Every copy of an end's SYN sent at once in answer to the peer's SYN, not by a timer
    # (those answers, and in a simultaneous open each end's SYN/ACK): its frame -> the
    # frame of the SYN it answers. No retransmission (ConnectionAnalysis.resends).
    answer_copies: dict[int, int] = field(default_factory=dict)
    # The SYN whose timestamp (TSval) the SYN/ACK echoes (RFC 7323), where it is an earlier
    # one than the SYN/ACK came after: the server had that SYN, and its answer came only after
    # the client had sent its SYN again (lost before the capture point, or slow).
    echoed_syn: Segment | None = None
    # With `echoed_syn`: the next SYN/ACK, soon after the first, that answers the SYN sent
    # again, where the first is the timer's copy of the answer to `echoed_syn` (lost before
    # the capture point); the RTT is from it. None otherwise.
    answer_behind: Segment | None = None
    # Where the first SYN/ACK came far later after the latest SYN than the server answered a
    # repeated SYN (TIMER_COPY_RATIO times, TIMER_COPY_LEAST at least): its wait, the SYN/ACK
    # being its timer's copy, the server's answers to the SYNs before lost before the capture
    # point; syn_to_synack and the RTT are then that prompt answer's. None otherwise.
    first_synack_late: float | None = None
    # With `unseen_answer`: the server's packets are in the capture, its SYN/ACK alone is not
    # (the capture lost it), where without it none of the server's are (one direction).
    synack_uncaptured: bool = False
    # The final ACK carries the client's first data and, by its IPv4 identification, comes
    # one packet after the client's packets before it: its bare ACK of the SYN/ACK is not in
    # the capture, and the RTT runs to the data, its wait for its write included (at most).
    bare_ack_uncaptured: bool = False
    # How long the server's SYN/ACK went unanswered and unsent again, where that says its
    # listener kept no request for the SYN (findings/syn_cookies.py: a SYN cookie); None
    # elsewhere. Set by the analysis, which knows how long the capture went on after it.
    unrequested_for: float | None = None

    def __init__(self) -> None:
        self.status = "not_seen"
        self.variant = None
        self.syns = []
        self.synacks = []
        self.server_syns = []
        self.syns_lost = []
        self.final_ack = self.refusal = None
        self.unreachable = None
        self.last_unreachable = None
        self.client_isn = self.server_isn = None
        self.other_server_isns = []
        self.challenge_ack = None
        self.went_on_at = -1
        self.crafted_syns = []
        self.probe = None
        self.ack_probe = False
        self.answered_syn_to_ack = self.syn_to_synack = self.synack_to_ack = None
        self.checks = []
        self.client_options = self.server_options = None
        self.fast_open = None
        self.reordered = False
        self.late_syns = []
        self.refusals = []
        self.synack_answers = []
        self.answer_copies = {}
        self.echoed_syn = None
        self.answer_behind = None
        self.first_synack_late = None
        self.synack_uncaptured = False
        self.bare_ack_uncaptured = False
        self.unseen_answer = None
        self.client_unseen = False
        self.completed_by = None
        self.synack_acked_by = None
        self.self_connected = False
        self.continues_frame = -1
        self.quiet_for = 0.0
        self.acked_beyond = ""
        self.final_unseen = False
        self.ack_not_taken = False
        self.taken_late = None
        self.silent_after = None
        self.unrequested_for = None

    @property
    def judged_synacks(self) -> list[Segment]:
        """The SYN/ACKs of the ISN the handshake is judged on: one sender's resends. Those
        that acknowledge the client's SYN where some do: one that does not answered another
        SYN (an old duplicate's, RFC 9293 Figure 8)."""
        return self.synacks_of(self.server_isn)

    def synacks_of(self, isn: int | None) -> list[Segment]:
        """The SYN/ACKs of server ISN `isn` (judged_synacks's rule for any of them)."""
        same = [s for s in self.synacks if s.seq == isn]
        if self.syns:
            answering = [s for s in same if _acknowledges(s.ack, self.syns[0])]
            if answering:
                return answering
        return same

    def other_timer_synacks(self) -> list[tuple[int, list[Segment], int]]:
        """For each ISN of other_server_isns (another request the server answered: a SYN it
        took again as new, tfo10), the SYN/ACKs its timer sent, and how many it sent at once
        in answer to a repeated SYN (timer_synacks's rule, of that request)."""
        found = []
        for isn in self.other_server_isns:
            sent = self.synacks_of(isn)
            if not sent:
                continue
            first = sent[0]
            syn = _answered_syn([s for s in self.syns if s.stamp <= first.stamp], first)
            copies = [s for s in sent if s.ack == first.ack]
            answers = {copy.frame for copy, _syn in _repeated_syn_answers(copies, self.syns, syn)}
            found.append((isn, [s for s in sent if s.frame not in answers], len(answers)))
        return found

    @property
    def opened_unseen(self) -> bool:
        """Begun before the capture, at the SYN/ACK, and acknowledged: a connection that
        opened, though its SYN cannot be checked (mid-stream in the summary and overview)."""
        return self.status == "incomplete" and (
            (not self.syns and self.synack_acked_by is not None) or self.unseen_answer is not None
        )

    @property
    def timer_synacks(self) -> list[Segment]:
        """The judged SYN/ACKs the server's timer sent: its backoff (not its answers to SYNs)."""
        answers = {s.frame for s in self.synack_answers}
        return [s for s in self.judged_synacks if s.frame not in answers]

    def explain(self) -> str:
        if self.status == "complete":
            rtt = (
                format_duration(self.answered_syn_to_ack)
                if self.answered_syn_to_ack is not None
                else "unknown"
            )
            if self.answered_syn_to_ack == 0:
                # A coarse clock (pcapng's if_tsresol of milliseconds, a writer's one time for
                # all) stamps a LAN's round trip as none (helper-145).
                rtt += " (the file's clock did not move between them: less than its resolution)"
            if self.variant == "split":
                return (
                    f"split handshake complete: SYN (ISN {self.client_isn}), the server's own SYN (ISN "
                    f"{self.server_isn}) instead of a SYN/ACK, the client's SYN/ACK (ack ISN+1), the server's "
                    f"ACK (ack ISN+1); RTT {rtt} (two round trips)"
                )
            if self.self_connected:
                return (
                    f"a socket connected to itself (its address and port are both ends): its SYN (ISN "
                    f"{self.client_isn}) came back to it, then its SYN/ACK (ack ISN+1): a simultaneous open "
                    f"with one socket (a connect() to a local port that socket held itself, nothing listening "
                    f"on it); RTT {rtt}"
                )
            if self.variant == "simultaneous-open" and self.syns_lost:
                lost = self.syns_lost
                frames = ", ".join(str(syn.frame) for syn in lost)
                late = format_duration(between(lost[-1].stamp, self.server_syns[0].stamp))
                return (
                    f"simultaneous open complete: the client's SYN{'s' if len(lost) > 1 else ''} (ISN "
                    f"{self.client_isn}, frame{'s' if len(lost) > 1 else ''} {frames}) never reached the server, "
                    f"whose own SYN (ISN {self.server_isn}) came {late} later, longer than it could take to answer "
                    f"one (a connect() of its own, to the client's port); the client, in SYN_SENT, answered it "
                    f"with a SYN/ACK (ack ISN+1), the server with an ACK (ack ISN+1); RTT {rtt} (the server's SYN "
                    "to its ACK)"
                )
            if self.variant == "simultaneous-open":
                return (
                    f"simultaneous open complete: SYNs from both ends (ISN {self.client_isn}, ISN "
                    f"{self.server_isn}), each acknowledged by the other (ack ISN+1); RTT {rtt}"
                )
            tfo = self.fast_open
            taken = f"+{tfo['syn_data']}" if tfo is not None and tfo["accepted"] else ""
            final = self.final_ack
            if self.final_unseen and final is not None:
                return (
                    (
                        f"three-way handshake complete: SYN (ISN {self.client_isn}), SYN/ACK (ISN "
                        f"{self.server_isn}, ack ISN+1{taken}), its ACK not captured: the client's frame "
                        f"{final.frame} acknowledges the SYN/ACK and server data the capture does not hold "
                        "(packets missing from the capture); RTT unknown"
                    )
                    + self._other_isns()
                    + self._fast_open()
                )
            ack, measured = "ACK (ack ISN+1)", f"RTT {rtt}"
            if self.acked_beyond:
                # What the server sent before the ACK came (Fast Open's answer in its first
                # flight), acknowledged with it.
                ack = f"ACK acknowledging ISN+1 and {self.acked_beyond}"
            if self.bare_ack_uncaptured and self.synack_to_ack is not None and final is not None:
                ack = (
                    f"its ACK not captured: the client's first data (frame {final.frame}, "
                    f"{format_duration(self.synack_to_ack)} after the SYN/ACK) acknowledges it, its IPv4 "
                    "identification one past what the client's packets before it account for (its bare ACK is "
                    "missing)"
                )
                measured = f"RTT at most {rtt} (to that data: the client's wait for its write counts in it)"
            text = (
                f"three-way handshake complete: SYN (ISN {self.client_isn}), SYN/ACK (ISN "
                f"{self.server_isn}, ack ISN+1{taken}), {ack}; {measured}"
            )
            if self.reordered:
                text += (
                    " (the SYN/ACK was captured before the SYN: out of order in the capture, not on the wire)"
                )
            return (
                text
                + self._not_taken()
                + self._echoed()
                + self._timer_copy()
                + self._refused_first()
                + self._ecn()
                + self._other_isns()
                + self._fast_open()
                + self._late_syns()
            )
        if self.status == "refused" and self.refusal is not None and not self.syns:
            times = f", {len(self.refusals)} times" if len(self.refusals) > 1 else ""
            return (
                f"refused{times}, its SYN not in the capture: RST/ACK at sequence number 0 from the server "
                f"(frame {self.refusal.frame}) acknowledging a client ISN {self.client_isn}+1, a closed port's "
                "answer to a SYN (only the server's direction captured, or a forged source's SYN: a flood's "
                "backscatter)"
            )
        if self.status == "refused" and self.refusal is not None and self.syns:
            refusal = self.refusal
            sent = [s for s in self.syns if s.frame < refusal.frame] or self.syns
            delay = between(sent[-1].stamp, refusal.stamp)
            if len(self.refusals) < 2:
                return f"refused: RST/ACK from the server {format_duration(delay)} after the SYN"
            # How long after each refusal the client sent its SYN again.
            nexts = [next((s for s in self.syns if s.frame > r.frame), None) for r in self.refusals[:-1]]
            again = [
                between(r.stamp, s.stamp)
                for r, s in zip(self.refusals[:-1], nexts, strict=True)
                if s is not None
            ]
            if len(again) < len(nexts):
                # A RST/ACK with no SYN after it but the last: one SYN answered twice over (the
                # same RST captured at two points whose clocks disagree, helper-138's merges).
                return (
                    f"refused: RST/ACK from the server {format_duration(delay)} after the SYN; "
                    f"{len(self.refusals)} RST/ACKs for {len(self.syns)} SYN{'s' if len(self.syns) != 1 else ''}, "
                    "some with no SYN sent again after them (the same RST/ACK seen twice)"
                )
            if all(same_packet(syn, self.syns[0]) for syn in self.syns[1:]):
                return (
                    f"refused: RST/ACK from the server {format_duration(delay)} after the SYN; the file holds "
                    f"the SYN {len(self.syns)} times, the same packet (its {packet_marks(self.syns[0])}) "
                    f"{', '.join(format_duration(g) for g in again)} after each RST: this exchange captured "
                    f"again, no SYN sent again ({MERGED_TWICE})"
                )
            windows = all(WINDOWS_REFUSED_RETRY[0] <= gap <= WINDOWS_REFUSED_RETRY[1] for gap in again)
            return (
                f"refused {len(self.refusals)} times: RST/ACK from the server {format_duration(delay)} after the "
                f"SYN, and the client sent the same SYN again {', '.join(format_duration(g) for g in again)} "
                "after each RST but the last"
                + (
                    " (as Windows retries a refused connect(), 0.5 s apart, before it fails)"
                    if windows
                    else ""
                )
            )
        if self.status == "unreachable" and self.unreachable is not None and self.syns:
            return self._unreachable(self.unreachable)
        if self.status == "no_answer":
            syns = f"{len(self.syns)} SYN{'s' if len(self.syns) != 1 else ''}"
            text = f"no answer: {syns}, nothing from the server"
            if self.silent_after is not None:
                text += (
                    f"; not sent again in the {format_duration(self.silent_after)} the capture went on after the last, "
                    "where a Linux-like client (TTL 64) sends it again within its timeout (1 s, then doubling): the "
                    "client gave the attempt up (its application closed the socket: another address tried, as Happy "
                    "Eyeballs does, or its own connect timeout), or its SYN retries were set fewer"
                )
            return text
        if self.status == "incomplete" and self.unseen_answer is not None and self.synack_uncaptured:
            return (
                f"handshake answered, its SYN/ACK not in the capture: the client's ACK (frame "
                f"{self.unseen_answer.frame}) acknowledges a server ISN {self.server_isn}+1, and the server's "
                "segments follow as an established end's: the capture lost the SYN/ACK"
            )
        if self.status == "incomplete" and self.unseen_answer is not None:
            return (
                f"handshake answered but not in the capture: no SYN/ACK was captured, yet the client's ACK "
                f"(frame {self.unseen_answer.frame}) acknowledges a server ISN {self.server_isn}+1: "
                "the server's packets did not pass the capture point"
            )
        if self.status == "incomplete" and self.client_unseen and self.synacks:
            synack = self.synacks[0]
            text = (
                f"handshake seen only in its SYN/ACK: no packet of the client's was captured, yet the "
                f"SYN/ACK (frame {synack.frame}) acknowledges a client ISN {self.client_isn}+1"
            )
            if self.completed_by is not None:
                text += (
                    f" and the server's frame {self.completed_by.frame} acknowledges more from the client, "
                    "which only a completed handshake allows"
                )
            return text + ": the client's packets did not pass the capture point"
        if self.opened_unseen and self.synack_acked_by is not None:
            return (
                f"handshake begun before the capture: its SYN not captured; the SYN/ACK (ISN {self.server_isn}) "
                f"and the client's ACK of it (frame {self.synack_acked_by.frame}) were: the connection opened"
                f"{self._other_isns()}"
            )
        if self.status == "incomplete":
            return f"handshake incomplete: {self._missing()}{self._other_isns()}"
        if self.crafted_syns:
            return (
                f"no handshake: {len(self.crafted_syns)} SYN{'s' if len(self.crafted_syns) != 1 else ''} "
                "with FIN or RST, flags no TCP sends "
                "(a scan or crafted packets)"
            )
        if self.probe is not None:
            return (
                f"no handshake: the connection begins with {scan_probe(self.probe.flags)}, frame "
                f"{self.probe.frame}, and holds no SYN: a scan, not a connection"
            )
        if self.ack_probe:
            return (
                "no handshake in the capture: a lone ACK answered by RST for no connection: an ACK scan's probe "
                "(nmap -sA, -sW), or a segment of a connection its receiver no longer had (restarted, failed "
                "over)"
            )
        if self.continues_frame >= 0:
            return (
                f"handshake not in this connection: it continues the connection of frame {self.continues_frame}, "
                f"given up as idle ({format_duration(self.quiet_for)} without a segment, past the idle timeout)"
            )
        return "handshake not captured (the capture starts after it)"

    def _unreachable(self, error: Unreachable) -> str:
        at = exact_stamp(error)
        before = [s for s in self.syns if s.stamp <= at] or self.syns[:1]
        after = len(self.syns) - len(before)
        if error.src == self.syns[0].dst:
            by = "the server's host"
        elif error.kind == TIME_EXCEEDED:
            by = f"{error.src} (a router on the way)"
        else:
            by = f"{error.src} (a router or a firewall on the way)"
        text = (
            f"unreachable: {describe(error)} from {by} (frame {error.frame}) "
            f"{format_duration(between(before[-1].stamp, at))} after the SYN"
        )
        errno = errno_of(error)
        fails = f": connect() fails with {errno}" if errno else ""
        last = self.last_unreachable
        if after and last is not None and last is not error and exact_stamp(last) >= self.syns[-1].stamp:
            return text + (
                f"; the client sent {after} SYN{'s' if after != 1 else ''} after it, and the error came again "
                f"(frame {last.frame}), with no SYN after that: the first did not end the attempt (Linux drops "
                "an error that comes while connect() still holds the socket, as a firewall on the client's own "
                f"host answers at once; Windows retries on any), the last did{fails}"
            )
        if after:
            return text + (
                f"; the client sent {after} SYN{'s' if after != 1 else ''} after it: its stack did not give up on "
                f"the error (Linux ends the attempt{fails})"
            )
        return text + f"; Linux ends the attempt at once{fails}"

    def _fast_open(self) -> str:
        tfo = self.fast_open
        if tfo is None:
            return ""
        data, cookie = tfo["syn_data"], tfo["syn_cookie_bytes"]
        gave = "; the SYN/ACK gave one" if tfo["synack_cookie"] else ""
        if not data:
            if cookie:  # Linux sends a cookie only with data: a SYN made by another stack, or by hand
                return f"; Fast Open: the SYN presented a cookie ({cookie} bytes) but carried no data" + (
                    gave.replace("one", "a new one")
                )
            return "; Fast Open: the SYN asked for a cookie" + gave
        said = (
            f"; Fast Open: the SYN carried a cookie ({cookie} bytes) and {data} bytes"
            if cookie
            # A server takes data only with a valid cookie (RFC 7413 4.2.2): this data waits.
            else f"; Fast Open: the SYN asked for a cookie and carried {data} bytes"
        )
        if not tfo["syn_cookie_option"]:
            # Data in a SYN without the option: Fast Open without a cookie (Linux's
            # tcp_fastopen 0x4 client, 0x200 server), or a SYN made by hand.
            said = f"; the SYN carried {data} bytes without a Fast Open option (Fast Open without a cookie, or crafted)"
        if tfo["accepted"] is None:
            return said + " (no SYN/ACK seen)"
        if tfo["accepted"]:
            return (
                said + ", acknowledged by the SYN/ACK (the server took them with the SYN, a round trip early)"
            )
        return (
            said + ", not acknowledged by the SYN/ACK (the server took the SYN alone: the data is sent again)"
        )

    def _other_isns(self) -> str:
        if not self.other_server_isns:
            return ""
        isns = ", ".join(str(isn) for isn in [self.server_isn, *self.other_server_isns])
        return (
            f"; the server's {len(self.synacks)} SYN/ACKs carried {len(self.other_server_isns) + 1} ISNs "
            f"({isns}): judged on {self.server_isn}"
        )

    def _ecn_syns(self) -> tuple[Segment | None, Segment | None, Segment | None]:
        """The first SYN, the judged SYN/ACK, and the SYN it answers: the latest sent before it
        that asked for ECN if it agrees to that (findings/ecn_negotiation.py), else the latest
        sent before it."""
        first = self.syns[0] if self.syns else None
        synack = next((s for s in self.synacks if s.seq == self.server_isn), None)
        if synack is None:
            return first, None, None
        before = [s for s in self.syns if s.stamp <= synack.stamp] or self.syns[:1]
        asking = [s for s in before if _ecn_answer(synack, s)]
        return first, synack, (asking[-1] if asking else before[-1] if before else None)

    @property
    def ecn_agreed(self) -> bool:
        """Whether the ends agreed on classic ECN (RFC 3168 6.1.1): the SYN asked with ECE and
        CWR (or AE too), the SYN/ACK answered with ECE alone. Then ECE and CWR on later
        segments are the congestion signals of findings/ecn.py."""
        return self.ecn_negotiated[1] == ecn_negotiation.CLASSIC

    @property
    def ecn_negotiated(self) -> tuple[str, str]:
        """What the first SYN asked for and what the judged SYN/ACK agreed to, each CLASSIC,
        ACCURATE or NONE of findings/ecn_negotiation.py."""
        first, synack, answered = self._ecn_syns()
        if first is None:
            return ecn_negotiation.NONE, ecn_negotiation.NONE
        return ecn_negotiation.asked(first.flags), _ecn_answer(synack, answered)

    def _ecn(self) -> str:
        first, synack, answered = self._ecn_syns()
        if first is None or ecn_negotiation.asked(first.flags) == ecn_negotiation.NONE:
            return ""
        asking = answered if answered is not None else first
        if synack is not None and _ecn_answer(synack, answered):
            return "; " + ecn_negotiation.explain(asking.flags, synack.flags)
        dropped = next((s for s in self.syns if ecn_negotiation.asked(s.flags) == ecn_negotiation.NONE), None)
        if dropped is not None and (
            answered is None or ecn_negotiation.asked(answered.flags) == ecn_negotiation.NONE
        ):
            # Linux clears ECN from a SYN it sends again (tcp_ecn_clear_syn, tcp_ecn_fallback),
            # AccECN's after one more try (RFC 9768 3.1.4.1): a path that drops ECN-setup SYNs
            # still lets the connection through.
            answer = "; the SYN/ACK answered that one: no ECN" if synack is not None else ""
            request = ecn_negotiation.explain(first.flags, None)
            return (
                f"; the first {request.removeprefix('the ')}, the one sent again (frame {dropped.frame}) did "
                f"not: its sender fell back after no answer, as for a path that drops ECN-setup SYNs "
                f"(RFC 3168 6.1.1.1; Linux's tcp_ecn_fallback){answer}"
            )
        return "; " + ecn_negotiation.explain(asking.flags, synack.flags if synack is not None else 0)

    def segment_allowed(self, from_client: bool) -> int | None:
        """The most data a segment from that end may carry: the MSS its peer's SYN offered
        (None: not offered, or no SYN of the peer's read)."""
        options = self.server_options if from_client else self.client_options
        mss = options.get("mss") if options is not None else None
        return mss if isinstance(mss, int) else None

    def _refused_first(self) -> str:
        if not self.refusals:
            return ""
        frames = ", ".join(str(r.frame) for r in self.refusals)
        times = "s" if len(self.refusals) > 1 else ""
        return (
            f"; the server refused the SYN first (RST/ACK{times}, frame{times} {frames}) and accepted it sent "
            "again: nothing listened on the port until then"
        )

    def _not_taken(self) -> str:
        late = self.taken_late
        if late is not None and self.syns:
            return (
                f"; but the ACK did not reach the server (lost on the way, or dropped by a listener whose accept "
                f"queue was full): its handshake completed only at frame {late.frame}, "
                f"{format_duration(between(self.syns[0].stamp, late.stamp))} after the first SYN"
            )
        if not self.ack_not_taken:
            return ""
        return (
            "; but the server never took the ACK, nor a copy of it: it stayed in SYN_RCVD, its listener not "
            "taking the connection (see the states and notes)"
        )

    def _echoed(self) -> str:
        syn = self.echoed_syn
        if syn is None:
            return ""
        behind = self.answer_behind
        if behind is not None and self.synacks:
            return (
                f"; the SYN/ACK echoes the timestamp of the SYN of frame {syn.frame} (RFC 7323), as does frame "
                f"{behind.frame}'s: the server had that SYN and its first answer was lost before the capture "
                f"point; frame {self.synacks[0].frame} is its timer's copy, frame {behind.frame} its answer to "
                "the SYN sent again, the RTT from that"
            )
        return (
            f"; the SYN/ACK echoes the timestamp of the SYN of frame {syn.frame} (RFC 7323): the server had that "
            "SYN, and its answer reached the capture point only after the client had sent its SYN again (lost "
            "on the way, or slower than the client's timer)"
        )

    def _timer_copy(self) -> str:
        if self.first_synack_late is None or self.syn_to_synack is None:
            return ""
        return (
            f"; the first SYN/ACK came {format_duration(self.first_synack_late)} after the latest SYN, where the "
            f"server answered a repeated SYN in {format_duration(self.syn_to_synack)}: its timer's copy (its "
            "answers to the SYNs before were lost before the capture point), so the RTT is from that answer"
        )

    def _late_syns(self) -> str:
        if not self.late_syns or self.final_ack is None:
            return ""
        first = self.late_syns[0]
        more = f" and {len(self.late_syns) - 1} more" if len(self.late_syns) > 1 else ""
        return (
            f"; a copy of the SYN came after the handshake's ACK (frame {first.frame}{more}, "
            f"{format_duration(between(self.final_ack.stamp, first.stamp))} after it), left out of the backoff: the "
            "client had acknowledged the SYN/ACK by then, so it was copied on the path, or a retransmission "
            "held back there behind the ACK"
        )

    def _missing(self) -> str:
        failed = [f"{c.what} failed (expected {c.expected}, saw {c.seen})" for c in self.checks if not c.ok]
        if failed:
            return "; ".join(failed)
        if not self.syns:
            return "the SYN was not captured"
        if self.variant in ("split", "simultaneous-open"):
            checked = " ".join(c.what for c in self.checks)
            if "the client's" not in checked:
                return (
                    "the server answered the SYN with a SYN of its own, which the client never acknowledged"
                )
            return "the server answered the SYN with a SYN of its own and never acknowledged the client's"
        if not self.synacks and self.challenge_ack is not None and self.went_on_at >= 0:
            return (
                f"the server answered the SYN with an ACK that does not acknowledge it (frame "
                f"{self.challenge_ack.frame}): a challenge ACK (RFC 5961) from the connection still open on these "
                f"ports, which went on after it (frame {self.went_on_at}): the SYN was not its client's (injected, "
                "or a stray copy of an old one)"
            )
        if not self.synacks and self.challenge_ack is not None:
            return (
                f"the server answered the SYN with an ACK that does not acknowledge it (frame "
                f"{self.challenge_ack.frame}): a challenge ACK (RFC 5961) from a stale connection on these ports"
            )
        if not self.synacks:
            return "the server answered the SYN with something other than SYN/ACK or RST/ACK"
        if self.unrequested_for is not None:
            return (
                "the client never acknowledged the SYN/ACK, which was never sent again: the server kept no request "
                "for the SYN (a SYN cookie, most likely), unless the capture missed the client's ACK"
            )
        return "the client never acknowledged the SYN/ACK"


def find_handshake(connection: Connection) -> Handshake:
    result = Handshake()
    continued = connection.continues
    if continued is not None:
        result.continues_frame = continued.first_frame
        result.quiet_for = connection.first_time - continued.last_time
    if connection.to_itself:
        return _self_connected(connection, result)
    client_syns: list[Segment] = []
    server_syns: list[Segment] = []
    server_synacks: list[Segment] = []
    for segment in connection.segments:
        kind = segment.flags & _KIND
        if kind == SYN:
            (client_syns if connection.from_client(segment) else server_syns).append(segment)
        elif kind == SYN | ACK and not connection.from_client(segment):
            server_synacks.append(segment)
        elif segment.flags & SYN and kind & (RST | FIN):
            result.crafted_syns.append(segment)
    result.synacks = server_synacks
    # Only the SYNs of the connection's own ISN belong to this handshake.
    client_isn = None
    if client_syns:
        client_isn = result.client_isn = client_syns[0].seq
        result.syns = [s for s in client_syns if s.seq == client_isn]
        result.client_options = _options(result.syns[0])
    # The server's SYN (without ACK) before any SYN/ACK of its own: both ends opened.
    if (
        client_isn is not None
        and server_syns
        and (not server_synacks or server_syns[0].frame < server_synacks[0].frame)
    ):
        return _after_server_syn(connection, result, client_isn, server_syns)
    if server_synacks:
        result.variant = "three-way"
        if client_isn is None:
            first = server_synacks[0]
            result.server_isn = first.seq
            result.server_options = _options(first)
            result.client_isn = (first.ack - 1) % MOD
            result.status = "incomplete"
            result.synack_acked_by = _acknowledged_by(connection, first)
            if not any(connection.from_client(s) for s in connection.segments):
                result.client_unseen = True
                result.completed_by = next(
                    (
                        s for s in connection.segments
                        if s.time >= first.time and not s.flags & (SYN | RST) and s.flags & ACK
                        and seq_diff(s.ack, first.ack) > 0
                    ),
                    None,
                )  # fmt: skip
            return result
        return _after_synack(connection, result, client_isn, server_synacks)
    if client_isn is not None:
        return _after_syn_only(connection, result, client_isn)
    if connection.segments and continued is None and scan_probe(connection.segments[0].flags):
        result.probe = connection.segments[0]
    result.ack_probe = ack_probe(connection)
    refusals = _refusals_of_unseen_syn(connection) if continued is None else []
    if refusals:
        result.status, result.refusal, result.refusals = "refused", refusals[0], refusals
        result.client_isn = (refusals[0].ack - 1) % MOD
    return result


def _ecn_answer(synack: Segment | None, syn: Segment | None) -> str:
    """What the SYN/ACK agreed to, answering `syn` (findings/ecn_negotiation.py; NONE without
    either)."""
    if synack is None or syn is None:
        return ecn_negotiation.NONE
    return ecn_negotiation.agreed(ecn_negotiation.asked(syn.flags), synack.flags)


def _refusals_of_unseen_syn(connection: Connection) -> list[Segment]:
    """A connection of RST/ACKs at sequence number 0 from the server alone: a closed port's
    answers to a SYN the capture does not hold (only the server's direction captured; or a
    forged source's SYN, a flood's backscatter). Any other segment, and it is not that."""
    segments = connection.segments
    if not all(
        not connection.from_client(s) and s.flags & (SYN | ACK | RST | FIN) == RST | ACK and s.seq == 0
        for s in segments
    ):
        return []
    return list(segments)


def _acknowledged_by(connection: Connection, synack: Segment) -> Segment | None:
    """The client's first segment after a SYN/ACK whose SYN the capture lacks that shows the
    client took it: at the sequence number the SYN/ACK acknowledged, acknowledging its ISN+1
    and no more than the server had sent by then."""
    sent = (synack.seq + 1) % MOD  # the server's next sequence number so far
    for segment in connection.segments:
        if segment.frame <= synack.frame:
            continue
        if not connection.from_client(segment):
            if seq_diff(segment.seq_end, sent) > 0:
                sent = segment.seq_end
            continue
        if segment.flags & (SYN | RST | ACK) != ACK or segment.seq != synack.ack:
            return None  # the client's first word after it is no ACK of it
        gained = seq_diff(segment.ack, (synack.seq + 1) % MOD)
        return segment if 0 <= gained <= seq_diff(sent, (synack.seq + 1) % MOD) else None
    return None


def _client_ack_before(connection: Connection, first: Segment, client_isn: int) -> Segment | None:
    """The client's first ACK (no SYN, RST) past its SYN's number captured before the server's
    segment `first` (one at the SYN's own number shows no SYN/ACK came: helper-120)."""
    for segment in connection.segments:
        if segment.frame >= first.frame:
            return None
        if (
            connection.from_client(segment)
            and segment.flags & (SYN | ACK | RST) == ACK
            and seq_diff(segment.seq, client_isn) >= 1
        ):
            return segment
    return None


def _after_syn_only(connection: Connection, result: Handshake, client_isn: int) -> Handshake:
    result.fast_open = _fast_open_use(result.syns[0], None, False)
    answers = [s for s in connection.segments if not connection.from_client(s)]
    first = answers[0] if answers else None
    if first is not None and first.flags & _KIND == ACK:
        # A client in SYN_SENT sends nothing but its SYN: one that sent an ACK before the
        # server's first word had a SYN/ACK the capture lacks (lost by it), and the server's ACK
        # answers that, no stale connection's challenge ACK (helper-104: one SYN/ACK missing).
        client_ack = _client_ack_before(connection, first, client_isn)
        if client_ack is not None:
            result.unseen_answer, result.synack_uncaptured = client_ack, True
            result.server_isn = (client_ack.ack - 1) % MOD
        elif not _acknowledges(first.ack, result.syns[0]):
            result.challenge_ack = first
            result.went_on_at = connection.went_on_at
    for segment in answers:
        if segment.flags & RST and segment.flags & ACK:
            # A SYN's data counts in the RST's ACK (RFC 9293 3.10.7.1: SEG.SEQ+SEG.LEN; Linux's
            # tcp_v4_send_reset), and its sender, whose snd_nxt counts it, takes that RST.
            data, expected = _syn_acknowledged(result.syns[0], client_isn)
            if data and segment.ack != expected:
                # Any ACK from ISN+1 to all it sent its SYN_SENT takes (the state machine's rule).
                part = seq_diff(segment.ack, client_isn) - 1
                if 0 < part < result.syns[0].payload_len:
                    data, expected = (
                        f" and {part} of the SYN's {result.syns[0].payload_len} bytes",
                        segment.ack,
                    )
                else:
                    data, expected = "", (client_isn + 1) % MOD
            check = Check(f"RST/ACK acknowledges the client ISN+1{data}", expected, segment.ack)
            if result.refusal is None:
                result.checks.append(check)
            if check.ok:
                result.status = "refused"
                if result.refusal is None:
                    result.refusal = segment
                result.refusals.append(segment)
    if result.refusal is not None:
        return result
    result.status = "no_answer" if not answers else "incomplete"
    if not answers:
        error = answered_syn(connection, result.syns)
        if error is not None:
            result.status, result.unreachable = "unreachable", error
            result.last_unreachable = last_answered_syn(connection, result.syns)
        # A client in SYN_SENT sends no ACK before a SYN/ACK came (tcp_state: _unseen_answer).
        later = next(
            (
                s
                for s in connection.segments
                if s.time >= result.syns[0].time
                and s.flags & (SYN | ACK | RST) == ACK
                and seq_diff(s.seq, client_isn) >= 1  # past its SYN (_client_ack_before)
            ),
            None,
        )
        if later is not None:
            result.status, result.unseen_answer = "incomplete", later
            result.server_isn = (later.ack - 1) % MOD
    return result


def _self_connected(connection: Connection, result: Handshake) -> Handshake:
    """One socket connected to itself: its SYN comes back to it (SYN_SENT -> SYN_RCVD), it
    answers with a SYN/ACK of the same ISN, which comes back too (-> ESTABLISHED): RFC
    9293's simultaneous open, with one socket. The capture holds each packet once."""
    result.self_connected = True
    result.variant = "simultaneous-open"
    syns = [s for s in connection.segments if s.flags & _KIND == SYN]
    if not syns:
        return result
    isn = syns[0].seq
    result.syns = [s for s in syns if s.seq == isn]
    result.client_isn = result.server_isn = isn
    result.client_options = result.server_options = _options(syns[0])
    result.synacks = [s for s in connection.segments if s.flags & _KIND == SYN | ACK]
    synack = next((s for s in result.synacks if s.seq == isn), None)
    if synack is None:
        result.status = "incomplete"
        return result
    result.answer_copies = open_answers(connection)  # its SYN/ACK answers its SYN: no resend
    result.checks.append(
        Check("the SYN/ACK acknowledges the socket's own ISN+1", (isn + 1) % MOD, synack.ack)
    )
    result.status = "complete" if result.checks[-1].ok else "incomplete"
    result.answered_syn_to_ack = result.syn_to_synack = between(result.syns[-1].stamp, synack.stamp)
    return result


def _server_sent_before(connection: Connection, server_isn: int, final: Segment) -> str:
    """What of the server's, sent after its SYN/ACK and before `final`, the client's first
    ACK acknowledges beyond the SYN/ACK, in words ("" when nothing, or more than it sent):
    a Fast Open server's data, sent before the handshake completes, or what followed an
    earlier ACK the capture does not hold."""
    start = (server_isn + 1) % MOD
    beyond = seq_diff(final.ack, start)
    if beyond <= 0:
        return ""
    reach, fin_end, carried = start, None, 0
    for segment in connection.segments:
        if segment.frame >= final.frame:
            break
        if connection.from_client(segment) or segment.flags & RST:
            continue
        if segment.flags & SYN and segment.seq != server_isn:
            continue
        if seq_diff(segment.seq, reach) <= 0 < seq_diff(segment.seq_end, reach):
            reach = segment.seq_end
            if segment.flags & SYN:
                carried = max(carried, segment.payload_len)
            if segment.flags & FIN:
                fin_end = reach
    if beyond > seq_diff(reach, start):
        return ""
    fin = fin_end is not None and seq_diff(final.ack, fin_end) >= 0
    data = beyond - (1 if fin else 0)
    if carried and data == carried and not fin:
        return f"the {data} bytes the SYN/ACK carried (data on a SYN/ACK: RFC 9293 allows it, few stacks send it)"
    what = f"the {data} bytes{' and the FIN' if fin else ''}" if data else "the FIN"
    return (
        f"{what} the server sent after it (Fast Open data before the handshake completed, or an "
        "earlier ACK not captured)"
    )


def _missed_before(syn: Segment, server_isn: int, final: Segment) -> bool:
    """Whether the capture lost the client's ACK of the SYN/ACK (and more): `final`, the
    client's first later segment, starts past all the client was seen to send and
    acknowledges more than the SYN/ACK (decode.segment.after_a_gap, the state machine's
    rule too)."""
    return after_a_gap(final, syn.seq_end, (server_isn + 1) % MOD)


def _acknowledges(ack: int, syn: Segment) -> bool:
    """Whether `ack` acknowledges `syn`, and at most the data it carried: from ISN+1 to
    ISN+1+len (what a challenge ACK does not, and a refusal's RST/ACK does)."""
    return 0 < seq_diff(ack, syn.seq) <= 1 + syn.payload_len


def _syn_acknowledged(syn: Segment, client_isn: int) -> tuple[str, int]:
    """What acknowledges the client's SYN, when the data it carried is acknowledged too
    (TCP Fast Open): ISN+1+len, and the words the check adds for it."""
    data = syn.payload_len
    if not data:
        return "", (client_isn + 1) % MOD
    return f" and the SYN's {data} bytes (Fast Open)", (client_isn + 1 + data) % MOD


def _fast_open_use(syn: Segment, synack: Segment | None, accepted: bool) -> dict | None:
    """Whether and how the first SYN used Fast Open (see Handshake.fast_open)."""
    asked = syn.options is not None and syn.options.fast_open
    if not asked and not syn.payload_len:
        return None
    return {
        "syn_data": syn.payload_len,
        "syn_cookie_option": asked,
        # The bytes of the cookie the SYN presented (0: it asked for one; null: no option).
        "syn_cookie_bytes": syn.options.fast_open_cookie if asked and syn.options is not None else None,
        # Whether the SYN/ACK gave a cookie (an option with one: an empty one gives nothing).
        "synack_cookie": synack is not None
        and synack.options is not None
        and synack.options.fast_open
        and synack.options.fast_open_cookie > 0,
        # Whether the SYN/ACK acknowledged the SYN's data (null: no data, or no SYN/ACK).
        "accepted": accepted if synack is not None and syn.payload_len else None,
    }


def _after_synack(
    connection: Connection, result: Handshake, client_isn: int, synacks: list[Segment]
) -> Handshake:
    # The final ACK: the client's first segment with ACK (without SYN or RST) after the
    # first SYN/ACK. It names the ISN the handshake is judged on.
    first = synacks[0]
    for segment in connection.segments:
        if (
            connection.from_client(segment)
            and segment.time >= first.time
            and segment.flags & (SYN | ACK | RST) == ACK
        ):
            result.final_ack = segment
            break
    server_isn = first.seq
    final = result.final_ack
    if final is not None:
        acknowledged = (final.ack - 1) % MOD
        if any(s.seq == acknowledged and s.frame < final.frame for s in synacks):
            server_isn = acknowledged
    result.server_isn = server_isn
    result.other_server_isns = list(dict.fromkeys([s.seq for s in synacks if s.seq != server_isn]))
    # Of that ISN's SYN/ACKs, one that acknowledges the client's SYN (Handshake.judged_synacks).
    judged = result.judged_synacks
    synack = judged[0]
    result.server_options = _options(synack)
    # RST/ACKs that refused the SYN before it was sent again and answered (refused_again).
    result.refusals = [
        s
        for s in connection.segments
        if s.frame < first.frame
        and not connection.from_client(s)
        and s.flags & (RST | ACK) == RST | ACK
        and result.syns[0].frame < s.frame
        and _acknowledges(s.ack, result.syns[0])
        and any(s.frame < syn.frame < first.frame for syn in result.syns)
    ]
    fast_open, expected = _syn_acknowledged(result.syns[0], client_isn)
    if fast_open and synack.ack != expected:
        fast_open, expected = "", (client_isn + 1) % MOD
    result.checks.append(Check(f"SYN/ACK acknowledges the client ISN+1{fast_open}", expected, synack.ack))
    result.fast_open = _fast_open_use(result.syns[0], synack, bool(fast_open))
    if final is not None:
        beyond = _server_sent_before(connection, server_isn, final)
        result.acked_beyond = beyond
        if beyond:
            result.checks.append(
                Check(f"ACK acknowledges the server ISN+1 and {beyond}", final.ack, final.ack)
            )
        elif _missed_before(result.syns[0], server_isn, final):
            result.final_unseen = True
            result.checks.append(
                Check(
                    "a later ACK acknowledges the server ISN+1 and server data the capture does not hold "
                    "(the handshake's ACK not captured)",
                    final.ack,
                    final.ack,
                )
            )
        else:
            result.checks.append(
                Check("ACK acknowledges the server ISN+1", (server_isn + 1) % MOD, final.ack)
            )
    answered = [s for s in result.syns if s.stamp <= synack.stamp]
    syn = _answered_syn(answered, synack)
    result.echoed_syn = _echoed_syn(answered, synack, syn)
    if syn is not None:
        result.client_options = _options(syn)
    if syn is None and final is not None and all(c.ok for c in result.checks):
        # The SYN it acknowledges captured after it, before the final ACK: captured out of order.
        syn = next((s for s in result.syns if s.stamp <= final.stamp), None)
        result.reordered = syn is not None
    copies = [s for s in judged if s.ack == synack.ack]
    answering = _repeated_syn_answers(copies, result.syns, syn)
    if result.echoed_syn is not None and syn is not None and not answering:
        result.answer_behind = _answer_behind_timer_copy(copies, syn, result.echoed_syn)
        if result.answer_behind is not None:
            answering = [(result.answer_behind, syn)]
    result.synack_answers = [copy for copy, _syn in answering]
    result.answer_copies = {copy.frame: repeated.frame for copy, repeated in answering}
    if final is None or not all(c.ok for c in result.checks) or syn is None:
        result.status = "incomplete"
        return result
    result.status = "complete"
    if not result.final_unseen:
        result.late_syns = [s for s in result.syns if s.frame > final.frame]
        if result.late_syns:
            result.syns = [s for s in result.syns if s.frame < final.frame]
    if not result.reordered:
        result.syn_to_synack = between(syn.stamp, synack.stamp)
    if result.final_unseen:
        return result  # the ACK's time is not in the capture: no RTT
    copy = _copy_answered(connection, copies, final)
    result.synack_to_ack = between(copy.stamp, final.stamp)
    # Out of order, the SYN's time is not when it left before its answer: no RTT.
    if result.reordered:
        result.answered_syn_to_ack = None
    elif copy is synack:
        result.answered_syn_to_ack = between(syn.stamp, final.stamp)
    else:
        result.answered_syn_to_ack = between(syn.stamp, synack.stamp - copy.stamp + final.stamp)
    prompt = min((between(repeated.stamp, answer.stamp) for answer, repeated in answering), default=None)
    waited = result.syn_to_synack
    if (
        prompt is not None
        and waited is not None
        and waited > max(TIMER_COPY_LEAST, TIMER_COPY_RATIO * prompt)
        # A listener's timer fires a second at the soonest after its first answer, itself
        # after the first SYN: sooner, the copy is no timer's (a slow first answer).
        and between(result.syns[0].stamp, synack.stamp) >= SYNACK_TIMER_LEAST
    ):
        result.first_synack_late = waited
        result.syn_to_synack = prompt
        result.answered_syn_to_ack = prompt + result.synack_to_ack
    behind = result.answer_behind
    if behind is not None and result.answered_syn_to_ack is not None:
        acked = next(
            (s for s in connection.segments if s.frame > behind.frame and connection.from_client(s)), None
        )
        if acked is not None and acked.flags & ACK and acked.ack == (behind.seq + 1) % MOD:
            result.syn_to_synack = between(syn.stamp, behind.stamp)
            result.synack_to_ack = between(behind.stamp, acked.stamp)
            result.answered_syn_to_ack = result.syn_to_synack + result.synack_to_ack
    result.bare_ack_uncaptured = result.answered_syn_to_ack is not None and _bare_ack_missed(
        connection, syn, final
    )
    return result


def _bare_ack_missed(connection: Connection, syn: Segment, final: Segment) -> bool:
    """Whether the client's bare ACK of the SYN/ACK is missing before `final`, its first data,
    by their IPv4 identifications: Linux counts them per connection, one a packet (a SYN at
    0x5dc8, its ACK 0x5dc9, its first data 0x5dca). So: `final` is the first byte of data, two
    past the SYN and the client's packets between them, no packet of the client's anywhere in
    the capture holds the one between (a bare ACK captured after its data), and the client's
    next packet follows `final` by one (a counter of its own: one for the host, Windows', may
    have given the one between to another connection's packet)."""
    if syn.family != 4 or not syn.ip_id or not final.payload_len:
        return False
    if final.seq != (syn.seq + 1 + syn.payload_len) % MOD:
        return False  # not its first data: that was lost, and it carried the ACK
    client = [s for s in connection.segments if connection.from_client(s)]
    between_them = sum(1 for s in client if syn.frame < s.frame < final.frame)
    missing = (syn.ip_id + between_them + 1) % 65536
    if (final.ip_id - syn.ip_id) % 65536 != between_them + 2 or any(s.ip_id == missing for s in client):
        return False
    after = next((s for s in client if s.frame > final.frame), None)
    return after is not None and after.ip_id == (final.ip_id + 1) % 65536


def _copy_answered(connection: Connection, copies: list[Segment], final: Segment) -> Segment:
    """Of the SYN/ACK's copies, the one the handshake's final ACK answers. The client answers
    each copy it gets with an ACK of ISN+1 (the later ones duplicates, its data between them
    or not), until it closes or acknowledges the server's data: n such ACKs answer the last
    n copies sent before the last of them, the copies before those were lost. So a round
    trip longer than the SYN/ACK's timer is not read as the timer's short one (Karn's
    ambiguity), and a lost first copy's timer does not lengthen the RTT."""
    acks = [final]  # with data of its own or not, it answers one copy
    for segment in connection.segments:
        if segment.frame <= final.frame or not connection.from_client(segment):
            continue
        if segment.flags & (SYN | FIN | RST) or segment.ack != final.ack:
            break  # its close, or the server's data taken: its ACKs answer other things now
        if not segment.payload_len:
            acks.append(segment)  # a duplicate ACK: what a copy got after the first
    sent = [c for c in copies if c.frame < acks[-1].frame]
    return sent[max(0, len(sent) - len(acks))] if sent else copies[0]


def _repeated_syn_answers(
    copies: list[Segment], syns: list[Segment], syn: Segment | None
) -> list[tuple[Segment, Segment]]:
    """Of one ISN's SYN/ACK `copies` (those at the first one's acknowledgment number, the
    first answering `syn`, where known), those sent at once in answer to a repeated SYN, each
    with that SYN (_answers_to_repeated_syns)."""
    first = copies[0]
    return _answers_to_repeated_syns(copies, syns, between((syn or first).stamp, first.stamp))


def _answers_to_repeated_syns(
    copies: list[Segment], syns: list[Segment], first_answer: float
) -> list[tuple[Segment, Segment]]:
    """The SYN/ACK copies sent in answer to a repeated SYN, each with that SYN: each the first
    copy after a SYN that came after the copy before, within the time the first SYN/ACK took
    to answer its SYN (twice, and 10 ms of a scheduler's slack), wherever the capture point is."""
    within = 2 * max(0.0, first_answer) + 0.010
    answers = []
    for before, copy in pairwise(copies):
        repeated = [s for s in syns[1:] if before.frame < s.frame < copy.frame]
        if repeated and between(repeated[-1].stamp, copy.stamp) <= within:
            answers.append((copy, repeated[-1]))
    return answers


def _after_server_syn(
    connection: Connection, result: Handshake, client_isn: int, server_syns: list[Segment]
) -> Handshake:
    """Both ends sent a SYN: a simultaneous open, or a split handshake (see the module)."""
    server_syn = server_syns[0]
    server_isn = result.server_isn = server_syn.seq
    result.server_syns = [s for s in server_syns if s.seq == server_isn]
    result.server_options = _options(server_syn)
    result.other_server_isns = []
    client_answer = server_answer = None
    for segment in connection.segments:
        if segment.frame <= server_syn.frame or segment.flags & (ACK | RST) != ACK:
            continue
        if connection.from_client(segment):
            if client_answer is None:
                client_answer = segment
        elif server_answer is None:
            server_answer = segment
        if client_answer is not None and server_answer is not None:
            break
    server_synack = server_answer is not None and bool(server_answer.flags & SYN)
    result.variant = (
        "simultaneous-open" if server_synack or any(s.seq == server_isn for s in result.synacks) else "split"
    )
    if result.variant == "split":
        result.syns_lost = syns_before_peer_syn(connection.segments)
        if result.syns_lost:
            result.variant = "simultaneous-open"
    if client_answer is not None:
        what = "SYN/ACK" if client_answer.flags & SYN else "ACK"
        result.checks.append(
            Check(
                f"the client's {what} acknowledges the server ISN+1",
                (server_isn + 1) % MOD,
                client_answer.ack,
            )
        )
    if server_answer is not None:
        what = "SYN/ACK" if server_synack else "ACK"
        fast_open, expected = _syn_acknowledged(result.syns[0], client_isn)
        if fast_open and server_answer.ack != expected:
            fast_open, expected = "", (client_isn + 1) % MOD
        result.checks.append(
            Check(
                f"the server's {what} acknowledges the client ISN+1{fast_open}", expected, server_answer.ack
            )
        )
    # What answers the client's SYN: in a split handshake the server's SYN; in a simultaneous
    # open the server's acknowledgment (its SYN crossed the client's, answering nothing).
    answer = server_answer if result.variant == "simultaneous-open" else server_syn
    answered = [s for s in result.syns if answer is not None and s.frame < answer.frame]
    # Where the client's SYNs never arrived, the handshake that completed is the server's:
    # from its SYN.
    syn = answered[-1] if answered else None
    if result.syns_lost:
        # Its latest SYN before the client's SYN/ACK: the one that answered (the first may
        # have been lost too and sent again by its timer).
        sent = [s for s in result.server_syns if client_answer is None or s.frame < client_answer.frame]
        syn = sent[-1] if sent else server_syn
    result.answer_copies = open_answers(connection)
    if client_answer is None or server_answer is None or syn is None or not all(c.ok for c in result.checks):
        result.status = "incomplete"
        return result
    final = client_answer if client_answer.frame > server_answer.frame else server_answer
    result.final_ack = final
    result.status = "complete"
    result.answered_syn_to_ack = between(syn.stamp, final.stamp)
    return result


# A peer's SYN (without ACK) this many times later after an end's SYN than the round trip
# that followed it (the peer's SYN, the end's SYN/ACK, the peer's ACK), and this long at least,
# answers nothing: the end's SYN never reached it.
LATE_SYN_RATIO: Final = 20  # a split handshake's server slow to answer (15 ms on a 1 ms LAN) still is one
LATE_SYN_LEAST: Final = 0.010


def syns_before_peer_syn(segments: list[Segment]) -> list[Segment]:
    """The SYNs an end sent that never reached its peer, in a handshake of the split shape: a
    SYN, the peer's SYN (no ACK), the end's SYN/ACK of it, the peer's ACK of that. A split
    handshake's server answers the SYN with its own at once (within the round trip); a peer's
    SYN that came far later than the round trip its SYN then took (LATE_SYN_RATIO,
    LATE_SYN_LEAST) answered nothing: a connect() of its own, to the port of the end's, whose
    SYN had been lost (a simultaneous open: the end, in SYN_SENT, answers it with a SYN/ACK).
    Nothing else from the peer before its SYN; [] where the shape or the times say otherwise."""
    if not segments or segments[0].flags & _KIND != SYN:
        return []
    first = segments[0]
    end = (first.src, first.sport)
    syns: list[Segment] = []
    peer_syn = synack = answered = None
    for segment in segments:
        own = (segment.src, segment.sport) == end
        kind = segment.flags & _KIND
        if peer_syn is None:
            if own and kind == SYN:
                syns.append(segment)
                continue
            if own or kind != SYN:
                return []
            peer_syn = answered = segment
        elif synack is None:
            if own and kind == SYN | ACK and segment.ack == (peer_syn.seq + 1) % MOD:
                synack = segment
            elif not own and kind == SYN and segment.seq == peer_syn.seq:
                answered = segment  # the peer's SYN sent again by its timer (helper-144's simul)
            elif not own:
                return []
        elif not own and answered is not None:
            if kind != ACK or segment.ack != (synack.seq + 1) % MOD:
                return []
            late = between(syns[-1].stamp, peer_syn.stamp)
            round_trip = between(answered.stamp, segment.stamp)
            return syns if late > max(LATE_SYN_RATIO * round_trip, LATE_SYN_LEAST) else []
    return []


def open_answers(connection: Connection) -> dict[int, int]:
    """Of a simultaneous open, each end's first SYN/ACK after the peer's SYN: its own SYN
    again, with the ACK of the peer's (Linux's tcp_rcv_synsent_state_process), sent at once
    -> the frame of the SYN it answers."""
    answers: dict[int, int] = {}
    if connection.to_itself:
        # One socket connected to itself: its SYN comes back to it as the peer's, and its
        # first SYN/ACK after it answers it (tcp_send_synack, no timer's resend).
        syn = next((s for s in connection.segments if s.flags & (SYN | ACK | RST) == SYN), None)
        if syn is not None:
            for segment in connection.segments:
                if segment.frame > syn.frame and segment.flags & (SYN | ACK | RST) == SYN | ACK:
                    answers[segment.frame] = syn.frame
                    break
        return answers
    latest: dict[bool, int] = {}  # by end: the frame of its latest SYN without ACK
    answered: set[bool] = set()
    for segment in connection.segments:
        if not segment.flags & SYN or segment.flags & RST:
            continue
        here = connection.from_client(segment)
        if not segment.flags & ACK:
            latest[here] = segment.frame
        elif here not in answered and here in latest and (not here) in latest:
            answers[segment.frame] = latest[not here]
            answered.add(here)
    return answers


def _answer_behind_timer_copy(copies: list[Segment], syn: Segment, echoed: Segment) -> Segment | None:
    """Of one ISN's SYN/ACK `copies`, the first echoing a SYN before `syn` (the SYN sent again
    it came after), the next when it follows soon after, before the timer could fire again:
    the listener's timer sent the first (its first answer lost before the capture point), and
    its answer to `syn` came next, the same bytes but the TSval (helper-148: 10 ms apart on
    a 20 ms path, the RTT read as 10 ms). A listener's first timeout (Linux: 1 s) is no longer
    than the client's, so its copy leaves no later than that answer; and not before a second
    after `echoed`, the SYN it echoes (sooner, it is that SYN's late answer: a review's)."""
    after = [copy for copy in copies if copy.frame > syn.frame]
    if (
        len(after) < 2
        or after[0] is not copies[0]
        or between(echoed.stamp, copies[0].stamp) < SYNACK_TIMER_LEAST
    ):
        return None
    first, second = after[0], after[1]
    if second.ts_ecr != first.ts_ecr or between(first.stamp, second.stamp) >= SYNACK_TIMER_LEAST:
        return None
    return second


def _echoed_syn(syns: list[Segment], synack: Segment, answered: Segment | None) -> Segment | None:
    """The SYN before `answered` whose TSval `synack` echoes in its TSecr, if any."""
    echoed = synack.ts_ecr
    if answered is None or echoed <= 0:
        return None
    own = answered.ts_val
    for syn in syns:
        if syn is answered:
            return None
        if syn.ts_val == echoed != own:
            return syn
    return None


def _answered_syn(syns: list[Segment], synack: Segment) -> Segment | None:
    """Of the SYNs sent before the SYN/ACK, the one it answers: the latest whose options it
    can answer. A server offers window scaling, SACK and timestamps only to a SYN that
    offered them (RFC 7323 1.3, RFC 2018), and a client may drop them from its later
    retries (macOS after its third SYN), so a SYN/ACK with them answers a SYN with them."""
    offered = synack.options
    if offered is not None and not offered.cut:
        for syn in reversed(syns):
            asked = syn.options or TcpOptions()
            if asked.cut or (
                (offered.window_scale is None or asked.window_scale is not None)
                and (not offered.sack_permitted or asked.sack_permitted)
                and (not offered.timestamps or asked.timestamps)
            ):
                return syn
    return syns[-1] if syns else None


def _options(segment: Segment) -> dict | None:
    return segment.options.as_dict() if segment.options is not None else None


def note_clamped_mss(handshake: Handshake, connection: Connection) -> None:
    """Where a router the capture sees both sides of sent a SYN (or SYN/ACK) on with another
    MSS than it came in with (MSS clamping: nft's "maxseg size set", iptables' TCPMSS), the
    options say the MSS as sent on too: "mss_forwarded" (absent where none was rewritten)."""
    for copy, _original in connection.copies:
        if not copy.flags & SYN or copy.options is None:
            continue
        options = handshake.client_options if connection.from_client(copy) else handshake.server_options
        if options is not None and options.get("mss") != copy.options.mss:
            options["mss_forwarded"] = copy.options.mss
