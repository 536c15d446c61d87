"""Every RST: who sent it, the state its sender was in, and its cause in one sentence.

Causes, tried in this order (the first that fits):
- impossible_flags: the RST comes with SYN or FIN, flags no TCP sends: a scan's or a
  crafted packet (decode.segment.impossible_flags), applied to neither end.
- challenge_ack_answer: the sender, in SYN_SENT, answers the peer's ACK that does not
  acknowledge its SYN with a RST at that ACK's acknowledgment number (RFC 9293
  3.10.7.3) and stays in SYN_SENT. The ACK is a challenge ACK (RFC 5961 4.2): a stale
  connection on the same ports (ESTABLISHED, or TIME_WAIT, after the other end lost
  it: a reboot, a connection forgotten by a middlebox) took the SYN; the RST, exactly at
  its RCV.NXT, resets it, and the SYN sent again reaches the listener. (An old SYN/ACK
  that does not acknowledge the SYN is answered the same way: RFC 9293's recovery from
  an old duplicate SYN.)
- refused: the RST acknowledges the client's SYN and the server never sent a SYN/ACK:
  nothing listens on the port.
- accept_queue_overflow: the server's RST follows at once the client's ACK of the
  SYN/ACK, before any data: the ACK found the accept queue full
  (tcp_abort_on_overflow=1). Also a RST as for no socket from SYN_RCVD to a later segment
  of the client's within SYNACK_SILENCE_LEAST of the SYN/ACK (the handshake's ACK lost
  after the capture point): the listener still held the request, as no stack drops one
  before sending its SYN/ACK again, and that segment met the full queue.
- fin_wait_2_expired: the sender's FIN was acknowledged, the peer did not close in time,
  and the RST answers (the sender's first segment since) a segment of the peer, its data or
  its FIN at last, that came more than FIN_WAIT_2_SILENCE after that acknowledgment: the
  orphaned socket had been ended by the FIN_WAIT_2 timer (Linux tcp_fin_timeout) and the
  4-tuple belonged to nobody; a socket still in FIN_WAIT_2 would have acknowledged the FIN.
  Before after_close and data_after_close: late data or a late FIN is what such a RST
  answers, and the timer is why. Late data only when it came LINUX_FIN_TIMEOUT or more
  after: a socket its application closed answers data with RST in FIN_WAIT_2 as well
  (data_after_close); a FIN it would have taken.
- after_close: both sides had already sent their FIN.
- data_after_close: the sender had closed (sent its FIN) and the peer then sent
  data: a closed socket answers data with RST. Not where the sender had read on after its
  FIN and its RST acknowledges all that came (abort, below).
- no_connection: the sender's first segment in the capture is this RST, answering a
  segment of the peer: the sender has no connection for this 4-tuple (a RST without ACK to
  a segment without ACK, a SYN, is injected: a TCP's answer to one carries ACK). Also (after
  after_reset and connect_abandoned) a RST without ACK at the acknowledgment number of the
  peer's segment it follows: the form of a kernel's answer for no connection (RFC 9293
  3.10.7.1; an application's abort carries an ACK), the sender's connection having ended
  without a packet (a retransmission timeout gives up silently).
- after_reset: a RST before this one had already ended the connection (the sender's, or
  one the peer accepted): the sender has nothing left for the 4-tuple.
- connect_abandoned: the client, still in SYN_SENT, resets its own attempt: a connect()
  given up (Windows and scanners do this; Linux closes a SYN_SENT socket silently). When
  the RST answers the SYN/ACK at its acknowledgment number, the SYN/ACK found no socket
  (tcp_state.py, "No socket"): a SYN scan's raw probe, a connect() given up before it, or
  the real owner of a SYN flood's forged source address (backscatter to it: nothing in one
  connection tells the three apart, TTLs included: nmap's raw SYNs carry a random one).
- keep_alive_timeout: the sender's last segments before the RST were keep-alive probes (no
  data or one byte, one below its next sequence number, KEEP_ALIVE_TIMEOUT_PROBES or more)
  that the peer never answered: the keep-alive timer gave up on a peer gone or unreachable
  and reset the connection (Linux's tcp_keepalive_timer after tcp_keepalive_probes). Where
  the capture holds the peer's answers but the RST (with ACK) came one probe interval after
  the last (KEEP_ALIVE_CADENCE), the abort says it may be the timer's, the answers dropped
  after the capture point (an application's idle timeout of a whole number of intervals
  looks the same; the kernel's reason, where recorded, settles it).
- retransmission_give_up: the sender's last segments before the RST were one data segment
  sent again and again (more than GIVE_UP_RETRANSMISSIONS copies after the first) with
  nothing from the peer, and the RST came when the next copy was due (within GIVE_UP_WAIT
  of the last interval): its stack gave up retransmitting and reset the connection, as
  Windows does after TcpMaxDataRetransmissions (Linux gives up without a packet).
- unknown, first: a RST without ACK that is its 4-tuple's first captured segment: no
  connection it could end is in the capture, and a stack's abort carries ACK (an answer to
  a segment the capture missed, or a forged RST: a RST flood's).
- abort: the sender was in a synchronized state: the application aborted (close() with
  unread data, SO_LINGER with a zero timeout, or a process that exited with unread data).
  Also after the sender's own FIN (shutdown(SHUT_WR) first): a later close() with the
  peer's data unread is aborted with RST all the same (Linux's TCP_ABORT_ON_CLOSE). The
  peer's data after the FIN is no data_after_close then: the sender acknowledged some of it
  (it was reading: half closed), and the RST acknowledges all of it (it answers none).
- injected (tried before all the others but impossible_flags): the sender went on sending
  after its RST (tcp_state.py, "RSTs an end outlived"): its socket did not send it; or the
  RST's number is below what its receiver had acknowledged, or past any window (tcp_state.py,
  "RSTs far from the acknowledged"), a number no TCP puts on its RST; or its TTL, or the
  interface it was captured on, shows it was made nearer the capture point than its sender
  (tcp_state.py, "RSTs made nearer").
- unknown otherwise: nothing above fits; the explanation says what was checked.
With the capture's call log, `refine_with_calls` tells the aborts apart
(linger_abort, unread_data).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise
from typing import Final, Literal

from analyzer.connections import Connection, Side, peer_of, quoted_segment
from analyzer.decode.icmp_codes import describe, errno_of
from analyzer.decode.segment import (
    ACK,
    FIN,
    MOD,
    RST,
    SYN,
    Segment,
    answers_for_no_socket,
    impossible_flags,
    seq_diff,
)
from analyzer.findings.handshake import Handshake
from analyzer.loss_inference import crossing_window, request_still_held, unechoed_acks
from analyzer.sidecar import CallRecord, call_bytes
from analyzer.tcp_state import (
    FIN_WAIT_2_SILENCE,
    LINUX_FIN_TIMEOUT,
    SYN_SENT_AGAIN,
    SYNCHRONIZED,
    State,
    Step,
    orphan_timer_shown,
    probe_shaped,
    still_probing,
    window_closed_before,
    window_probes,
)
from analyzer.timefmt import format_duration

ResetCause = Literal[
    "impossible_flags", "challenge_ack_answer", "refused", "accept_queue_overflow", "after_close",
    "fin_wait_2_expired", "data_after_close", "no_connection", "after_reset", "connect_abandoned", "keep_alive_timeout", "retransmission_give_up", "abort",
    "injected",
    "linger_abort", "unread_data", "listener_closed", "mptcp_subflow_reset", "mptcp_fastclose", "unknown",
]  # fmt: skip

# RFC 8684 3.6's MP_TCPRST reason codes.
MPTCP_REASONS: Final = {
    0: "unspecified error",
    1: "an MPTCP-specific error",
    2: "lack of resources",
    3: "administratively prohibited",
    4: "too much outstanding data",
    5: "unacceptable performance",
    6: "middlebox interference",
}

# Unanswered keep-alives before a RST that show the keep-alive timer gave up (Linux sends
# tcp_keepalive_probes, 9 by default; an application may ask for fewer, not for one).
KEEP_ALIVE_TIMEOUT_PROBES: Final = 2

# How much longer than the one before a gap between probes of a zero window shows the
# persist timer backing off (it doubles; keep-alives keep one interval).
PERSIST_BACKOFF: Final = 1.5

# Retransmissions of one unanswered segment before a RST that show the sender's stack gave up
# on it (Windows: TcpMaxDataRetransmissions, 5 by default); the RST then comes when the next
# copy was due: between these shares of the last interval after the last copy (the same
# interval, or doubled, and a timer's slack). An application's abort comes at any time: one
# that falls there is told the same, the packets cannot tell them apart.
GIVE_UP_RETRANSMISSIONS: Final = 2
GIVE_UP_WAIT: Final = (0.9, 2.5)


@dataclass
class Reset:
    segment: Segment
    sender: Side
    state: str
    cause: ResetCause
    explanation: str
    accepted: bool
    evidence: list[int]  # frame numbers that prove the cause
    # What shows it was made nearer the capture point than its sender (tcp_state.py, "RSTs
    # made nearer"); "" if nothing does.
    made_nearer: str = ""

    @property
    def sent_by(self) -> str:
        """Who sent it, in words: its sender and the state it was in, or, for one made on
        the path, in whose name (the sender's state says nothing of it)."""
        if self.cause == "injected":
            return f"in the {self.sender}'s name"
        if self.cause == "connect_abandoned" and self.explanation.startswith(ABANDONED_NO_SOCKET):
            # Its kernel answered for no socket: the SYN_SENT the packets left it in had ended
            # unseen (helper-131's latesa: "in SYN_SENT" for a connect() given up 2.5 s before).
            return f"from the {self.sender} with no socket for it (last seen in {self.state})"
        return f"from the {self.sender} in {self.state}"


# How connect_abandoned begins where the client's kernel answered a SYN/ACK for no socket (not
# where the client's own socket gave its attempt up with a RST).
ABANDONED_NO_SOCKET: Final = "the client's kernel had no socket for"

# Paths change by a hop or two; a RST from another box on the path is usually further off.
INJECTED_TTL_GAP: Final = 3


def own_ttls(segments: list[Segment]) -> Counter[int]:
    """The TTLs (hop limits) of one end's segments but its RSTs, as they measure the end; none
    where they are a SYN scanner's (its raw SYNs carry a TTL of its choosing, nmap's random
    37 to 59; its kernel's RST to the SYN/ACK the system's own)."""
    plain = [s for s in segments if not s.flags & RST and s.ttl >= 0]
    if all(s.flags & (SYN | ACK) == SYN for s in plain):
        return Counter()
    return Counter(s.ttl for s in plain)


def foreign_ttl(rst: Segment, ttls: Counter[int]) -> bool:
    """Whether the RST's TTL is INJECTED_TTL_GAP or more from every one of `ttls` (own_ttls
    of its sender): made by another box on the path."""
    return bool(ttls) and rst.ttl >= 0 and min(abs(rst.ttl - ttl) for ttl in ttls) >= INJECTED_TTL_GAP


def _foreign_text(sender: Side, rst: Segment, ttls: Counter[int]) -> str:
    values = ", ".join(str(ttl) for ttl in sorted(ttls))
    return (
        f"not the {sender}'s own: its TTL {rst.ttl} is {INJECTED_TTL_GAP} or more from every one of the "
        f"{sender}'s other packets ({values}): made on the path in the {sender}'s name (a firewall, an "
        "injector)"
    )


def find_resets(connection: Connection, steps: list[Step], handshake: Handshake) -> list[Reset]:
    resets = []
    ttls_of: dict[Side, Counter[int]] = {}
    # The latest RST whose cause _cause found: its step's index and what it found.
    found: tuple[int, tuple[ResetCause, str, list[int]]] | None = None
    for index, step in enumerate(steps):
        segment = step.segment
        if not segment.flags & RST:
            continue
        sender = connection.sender(segment)
        peer = peer_of(sender)
        if step.went_on_at >= 0:
            cause, explanation, evidence = _injected(sender, step.went_on_at)
        elif step.off_acked:
            cause, explanation, evidence = _off_acknowledged(sender, peer, step.off_acked)
        elif step.made_nearer:
            cause, explanation, evidence = _made_nearer(sender, peer, step.made_nearer)
        elif found is not None and _alike_since(steps, found[0], index, connection.sender):
            # The same RST again from the same state, the peer's segments alone between: the
            # same answer to each of them (a host without a socket answering a burst: helper-
            # 148's 4,945, each read against all the segments before it).
            cause, explanation, evidence = found[1]
            found = index, found[1]  # the next is read against this one: a run costs its length
        else:
            cause, explanation, evidence = _cause(connection, steps[:index], step, sender, peer, handshake)
            found = index, (cause, explanation, evidence)
        if cause != "injected" and segment.ttl >= 0:
            ttls = ttls_of.get(sender)
            if ttls is None:
                ttls = ttls_of[sender] = own_ttls(
                    [s for s in connection.segments if connection.sender(s) == sender]
                )
            foreign = foreign_ttl(segment, ttls)
            if foreign and cause == "no_connection":
                # No connection where its sender has one (its other packets' TTL tell another
                # box made it): not the sender's TCP answering.
                cause, explanation = "injected", _foreign_text(sender, segment, ttls)
            elif foreign:
                # Below its sender's TTLs it proves nothing (a route may lengthen: tcp_state's
                # "RSTs made nearer"), yet the cause must not say flatly that its sender did it.
                values = ", ".join(str(ttl) for ttl in sorted(ttls))
                explanation += (
                    f"; unless it is not the {sender}'s own: its TTL {segment.ttl} is {INJECTED_TTL_GAP} or more "
                    f"from every one of the {sender}'s other packets ({values}), as a firewall's or an injector's "
                    "RST in its name would be (the injected_rst diagnosis)"
                )
        if step.dropped and step.dropped.startswith(SYN_SENT_AGAIN):
            explanation += f"; the {peer} did not give up on it: {step.dropped}"
        elif step.dropped and cause != "impossible_flags" and not step.off_acked:
            explanation += f"; the {peer} would drop it: {step.dropped}"
        elif step.receiver_before == State.TIME_WAIT:
            explanation += (
                f"; it ends the {peer}'s TIME_WAIT early, if it reaches it: Linux drops a TIME_WAIT socket on a "
                "RST (net.ipv4.tcp_rfc1337=0, the default: RFC 1337's TIME_WAIT assassination), where stacks "
                "that follow RFC 1337, FreeBSD's among them, ignore the RST"
            )
        resets.append(
            Reset(
                segment,
                sender,
                step.sender_before.value,
                cause,
                explanation,
                step.dropped is None,
                [*evidence, segment.frame],
                step.made_nearer,
            )
        )
    return resets


def _unacknowledged_after(
    before: list[Step], fin: Segment, sender: Side, peer: Side, side: Callable[[Segment], Side]
) -> Segment | None:
    """The first of the `peer`'s data segments after `sender`'s `fin` that no later segment of
    the sender's (not a RST) acknowledges, if any: read backwards once, with the most the
    sender acknowledged after each point."""
    acknowledged = None  # the furthest the sender's ACKs after this point reach
    first = None
    for step in reversed(before):
        segment = step.segment
        if segment.frame <= fin.frame:
            break
        if side(segment) == sender:
            if (
                segment.flags & ACK
                and not segment.flags & RST
                and (acknowledged is None or seq_diff(segment.ack, acknowledged) > 0)
            ):
                acknowledged = segment.ack
        elif (
            side(segment) == peer
            and segment.payload_len
            and (acknowledged is None or seq_diff(acknowledged, segment.seq_end) < 0)
        ):
            first = segment
    return first


def _alike_since(steps: list[Step], earlier: int, at: int, sender: Callable[[Segment], Side]) -> bool:
    """Whether the RST of `steps[at]` is that of `steps[earlier]` again (its sender, flags,
    numbers and state), with nothing of its sender's but such RSTs between them and nothing
    of the peer's but data and ACKs (a SYN or a FIN again is another story: a connect()
    retried after its refusal)."""
    first, rst = steps[earlier], steps[at]
    one, other = first.segment, rst.segment
    side = sender(other)
    if (
        sender(one) != side
        or (one.flags, one.seq, one.ack) != (other.flags, other.seq, other.ack)
        or first.sender_before != rst.sender_before
        or (first.dropped is None) != (rst.dropped is None)
    ):
        return False
    alike = (one.flags, one.seq, one.ack)
    for step in steps[earlier + 1 : at]:
        between = step.segment
        if sender(between) == side:
            if (between.flags, between.seq, between.ack) != alike:
                return False
        elif between.flags & (SYN | FIN | RST):
            return False
    return True


def _answered_unacceptable_ack(
    before: list[Step], step: Step, sender: Side, side: Callable[[Segment], Side]
) -> Segment | None:
    """The peer's segment a RST from SYN_SENT answers while its sender stays in SYN_SENT
    (tcp_state: an ACK that does not acknowledge the SYN, answered at its acknowledgment
    number), if it is one."""
    if step.sender_before != State.SYN_SENT or step.sender_after != State.SYN_SENT:
        return None
    for earlier in reversed(before):
        if side(earlier.segment) != sender:
            answered = earlier.segment
            return answered if answered.flags & ACK and answered.ack == step.segment.seq else None
    return None


def _answers_handshake_ack(
    before: list[Step], connection: Connection, handshake: Handshake, rst: Segment
) -> bool:
    """The RST follows at once (loss_inference's crossing window, as the rule that calls
    that ACK lost reads it) the client's pure ACK of the SYN/ACK, and no data ever flowed;
    it answers that ACK as a segment for no socket does (no ACK flag, at the ACK's number:
    Linux's tcp_v4_send_reset). A RST/ACK is the accepted socket's own abort."""
    if not before or handshake.server_isn is None:
        return False
    last = before[-1].segment
    return (
        answers_for_no_socket(rst, last)
        and connection.from_client(last)
        and last.flags & (SYN | FIN | RST | ACK) == ACK
        and last.ack == (handshake.server_isn + 1) % (1 << 32)
        and not any(s.segment.payload_len for s in before)
        and rst.time - last.time <= crossing_window(connection.segments)
    )


def _request_held(
    before: list[Step], rst: Segment, step: Step, sender: Side
) -> tuple[Segment, Segment] | None:
    """The server's SYN/ACK and the client's segment its RST answers, where the server was in
    SYN_RCVD, the RST answers that segment as for no socket, and it came within
    SYNACK_SILENCE_LEAST of the SYN/ACK: the listener still held the request (tcp_state.py,
    "Connections that ended unseen")."""
    if step.sender_before != State.SYN_RCVD or len(before) < 2:
        return None
    answered = before[-1].segment
    synack = next((s.segment for s in reversed(before) if s.segment.flags & (SYN | ACK) == SYN | ACK), None)
    if (
        synack is None
        or answered.flags & (SYN | RST | ACK) != ACK
        or (answered.src, answered.sport) == (synack.src, synack.sport)
        or not answers_for_no_socket(rst, answered)
        or not request_still_held(synack, rst)
    ):
        return None
    return synack, answered


def _never_taken(
    before: list[Step], answered: Segment, sender: Side, side: Callable[[Segment], Side]
) -> bool:
    """Whether the RST's sender sent nothing but SYN/ACKs before it, and its peer's handshake
    ACK came on its own before the segment the RST answers: a listener that dropped that ACK
    (a full accept queue) never had the connection."""
    own = [s.segment for s in before if side(s.segment) == sender]
    if not own or not all(s.flags & SYN for s in own):
        return False
    last_synack = own[-1]
    return any(
        side(s.segment) != sender
        and last_synack.frame < s.segment.frame < answered.frame
        and s.segment.flags & (SYN | ACK | RST | FIN) == ACK
        for s in before
    )


def _unanswered_copies(
    before: list[Step], reset: Segment, sender: Side, side: Callable[[Segment], Side]
) -> list[Segment]:
    """The copies of the sender's last data segment before its RST, sent since the peer's last
    segment: one segment sent again and again (a retransmission timer's), unanswered, with
    its first send, which other data of the sender may follow before the timer's copies. A
    keep-alive's shape (one byte, one below the RST's number: Windows') is no data resent."""
    copies: list[Segment] = []
    for step in reversed(before):
        segment = step.segment
        if side(segment) != sender or segment.flags & (SYN | RST):
            break
        if copies and (segment.seq, segment.payload_len) != (copies[-1].seq, copies[-1].payload_len):
            continue  # other data it sent after the first send, before the timer's copies
        if not copies and (
            not segment.payload_len or (segment.payload_len == 1 and seq_diff(reset.seq, segment.seq) == 1)
        ):
            break
        copies.append(segment)
    return copies[::-1]


def _unanswered_keep_alives(
    before: list[Step],
    reset: Segment,
    sender: Side,
    side: Callable[[Segment], Side],
    unechoed: set[int],
    not_taken: list[Segment],
) -> list[Segment]:
    """The sender's keep-alive probes just before its RST with nothing from the peer since the
    first of them that reached the sender: no data or one byte, one below the RST's sequence
    number (its next). The peer's pure ACKs its next segment proves never arrived (`unechoed`,
    loss_inference.unechoed_acks: helper-131's ka2in, answers dropped after the capture point)
    are no answer: `not_taken` gets them, in their order."""
    probes: list[Segment] = []
    for step in reversed(before):
        segment = step.segment
        if side(segment) != sender:
            if segment.frame not in unechoed:
                break
            not_taken.append(segment)
            continue
        if not probe_shaped(segment, reset):
            break
        probes.append(segment)
    not_taken.reverse()
    return probes[::-1]


# How near the keep-alive interval the gaps between answered probes, and from the last to the
# RST, must be (a kernel timer's slack) for the RST to look like the keep-alive timer's.
KEEP_ALIVE_CADENCE: Final = 0.1


def _answered_keep_alives_on_cadence(
    before: list[Step], reset: Segment, sender: Side, side: Callable[[Segment], Side]
) -> list[Segment]:
    """The sender's keep-alive probes before its RST, each answered by the peer's bare ACK,
    KEEP_ALIVE_TIMEOUT_PROBES or more, one interval apart, the RST that interval after the
    last and nothing else from either end since the first: the keep-alive timer's give-up had
    the answers, captured, not reached it (dropped after the capture point: a firewall on its
    host; helper-115's k_keepalive_srv, the kernel's reason TCP_KEEPALIVE_TIMEOUT), or an
    application's idle timeout of whole intervals (helper-117): the packets do not tell which.
    [] where the shape or the times differ."""
    probes: list[Segment] = []
    for step in reversed(before):
        segment = step.segment
        if side(segment) == sender:
            if not probe_shaped(segment, reset):
                break
            probes.append(segment)
        elif segment.flags & (SYN | FIN | RST) or segment.payload_len or segment.ack != reset.seq:
            break
    probes.reverse()
    if len(probes) < KEEP_ALIVE_TIMEOUT_PROBES:
        return []
    gaps = [later.time - earlier.time for earlier, later in pairwise([*probes, reset])]
    interval = gaps[0]
    if interval <= 0 or any(abs(gap - interval) > KEEP_ALIVE_CADENCE * interval for gap in gaps):
        return []
    return probes


def _answers_before(before: list[Step], rst: Segment, peer: Side, side: Callable[[Segment], Side]) -> bool:
    """Whether `rst`, without ACK, is at the acknowledgment number of the peer's latest
    segment that is no RST: an answer to that segment for no connection (RFC 9293
    3.10.7.1), which may come after the peer's RST that followed it."""
    if rst.flags & ACK:
        return False
    prior = next(
        (s.segment for s in reversed(before) if side(s.segment) == peer and not s.segment.flags & RST), None
    )
    return prior is not None and bool(prior.flags & ACK) and prior.ack == rst.seq


def _backing_off(before: list[Step], reset: Segment, sender: Side, side: Callable[[Segment], Side]) -> bool:
    """Whether the sender's probes before its RST, shaped as keep-alives (one below its
    next number), came ever further apart: the persist timer's, which backs off as the
    retransmission timer does (to TCP_RTO_MAX), where keep-alives keep one interval
    (tcp_keepalive_intvl)."""
    times = [s.segment.time for s in before if side(s.segment) == sender and probe_shaped(s.segment, reset)]
    gaps = [later - earlier for earlier, later in pairwise(times)]
    return any(later >= PERSIST_BACKOFF * earlier for earlier, later in pairwise(gaps))


def _injected(sender: Side, went_on_at: int) -> tuple[ResetCause, str, list[int]]:
    """A RST its sender's socket did not send: that end went on sending (Step.went_on_at)."""
    return (
        "injected",
        f"not the {sender}'s own: the {sender} went on sending after it (frame {went_on_at}), which an end "
        "that sent a RST cannot; made in its name: by a firewall's reject with tcp reset (on either host, or on "
        "the path), a middlebox, an attacker, or another host",
        [went_on_at],
    )


def _made_nearer(sender: Side, peer: Side, why: str) -> tuple[ResetCause, str, list[int]]:
    """A RST made between its claimed sender and the capture point (tcp_state.py, "RSTs made nearer")."""
    return (
        "injected",
        f"not the {sender}'s own: {why}; made between the {sender} and the capture point, or on the capturing "
        f"host: a firewall's reject with tcp reset, a middlebox, a load balancer ending an idle connection; the "
        f"{sender} stays as it was, the {peer} takes it as any RST",
        [],
    )


def _off_acknowledged(sender: Side, peer: Side, off: int) -> tuple[ResetCause, str, list[int]]:
    """A RST at a number no TCP puts on one (tcp_state.py, "RSTs far from the acknowledged")."""
    where = (
        f"{-off} bytes below what the {peer} had acknowledged"
        if off < 0
        else f"{off} bytes past what the {peer} had acknowledged, beyond any window it offered"
    )
    return (
        "injected",
        f"not the {sender}'s own: its sequence number is {where}, where a TCP's RST carries its next "
        f"sequence number, within its peer's window; made on the path in the {sender}'s name (a firewall "
        f"ending an idle connection, a reset attack) or by another host; the {peer} drops it (RFC 5961 3.2) "
        f"and the {sender} stays as it was",
        [],
    )


def _mptcp(segment: Segment, sender: Side) -> tuple[ResetCause, str, list[int]] | None:
    """A RST that names its Multipath TCP cause in its options: MP_FASTCLOSE (RFC 8684 3.5:
    the whole MPTCP connection aborted, every subflow reset; Linux sends it on close() with
    unread data, SO_LINGER 0 or a process's exit of an MPTCP socket) or MP_TCPRST (3.6: this
    subflow reset by the MPTCP layer, which may go on over its other subflows)."""
    options = segment.options
    if options is None or not options.mptcp:
        return None
    if options.mptcp_fastclose:
        return (
            "mptcp_fastclose",
            f"the {sender} closed its whole Multipath TCP connection at once (MP_FASTCLOSE, RFC 8684 3.5): "
            "every subflow is reset, as close() with unread data, SO_LINGER 0 or a process's exit abort "
            "an MPTCP socket",
            [],
        )
    reason = MPTCP_REASONS.get(options.mptcp_reset, "a reason code RFC 8684 does not define")
    return (
        "mptcp_subflow_reset",
        f"the {sender}'s Multipath TCP layer reset this subflow (MP_TCPRST, reason {options.mptcp_reset}: "
        f"{reason}); the MPTCP connection may go on over its other subflows (RFC 8684 3.6)",
        [],
    )


def _subflow_reset(handshake: Handshake) -> str:
    """Words for an abort of a Multipath TCP subflow: its MPTCP layer resets subflows itself
    (helper-120: an iperf run's subflows, reset together at its end, read as applications'
    aborts); "" for a plain connection."""
    syn = handshake.syns[0] if handshake.syns else None
    option = syn.options.multipath() if syn is not None and syn.options is not None else None
    if option is None:
        return ""
    answer = handshake.server_options  # the SYN/ACK's, as the JSON holds them
    if option["option"] == "MP_CAPABLE" and (answer is None or answer.get("mptcp") is None):
        return ""  # its SYN/ACK without MP_CAPABLE: fallen back to plain TCP (helper-121)
    return (
        "; or, this being a Multipath TCP subflow (its SYN's "
        f"{option['option']}), its MPTCP layer's reset: the MPTCP connection's end, its "
        "subflows reset with it, or this subflow given up (RFC 8684)"
    )


def _cause(
    connection: Connection,
    before: list[Step],
    step: Step,
    sender: Side,
    peer: Side,
    handshake: Handshake,
) -> tuple[ResetCause, str, list[int]]:
    segment = step.segment
    port = connection.server[1]

    side = connection.sender
    crafted = impossible_flags(segment.flags)
    if crafted:
        return (
            "impossible_flags",
            f"{crafted}, an impossible flag combination (a scan or a crafted packet): no TCP sends it",
            [],
        )
    mptcp = _mptcp(segment, sender)
    if mptcp is not None:
        return mptcp
    answered = _answered_unacceptable_ack(before, step, sender, side)
    if answered is not None:
        syn = next(
            (s.segment for s in reversed(before) if side(s.segment) == sender and s.segment.flags & SYN), None
        )
        if answered.flags & SYN:
            what = (
                f"an old SYN/ACK from the {peer} (frame {answered.frame}) that does not acknowledge its SYN "
                "(RFC 9293's recovery from an old duplicate SYN)"
            )
        else:
            what = (
                f"the {peer}'s challenge ACK (frame {answered.frame}, RFC 5961): a stale connection on the same "
                f"ports took the SYN and answered with an ACK that does not acknowledge it"
            )
            stale = connection.after_idle
            if stale is not None and stale.fits(answered):
                # Given up by its timer before this SYN (helper-113: a NAT gives a port to another
                # host after its idle timeout, 350 s on AWS's): its own lines end before this RST.
                quiet = answered.time - stale.last_time
                closed = next(
                    (e for e in stale.last if e.flags & FIN and (e.src, e.sport) == connection.client), None
                )
                why = (
                    f"its client had closed (its FIN, frame {closed.frame}) and let it go at its FIN_WAIT_2 "
                    "timeout without a packet"
                    if closed is not None
                    else "its client had let it go without a packet: a restart, or a NAT that gave its address "
                    "and port to another host"
                )
                what += (
                    f" (the connection of frame {stale.first_frame}, given up here as idle: "
                    f"{format_duration(quiet)} without a segment before this ACK; {why})"
                )
        return (
            "challenge_ack_answer",
            f"RST answering {what}; from SYN_SENT the {sender} answers such an ACK with a RST at its "
            "acknowledgment number (RFC 9293 3.10.7.3), which resets the stale connection, and stays in "
            "SYN_SENT to send its SYN again",
            [*([syn.frame] if syn is not None else []), answered.frame],
        )

    refusals = handshake.refusals
    index = next((i for i, refusal in enumerate(refusals) if refusal is segment), -1)
    if (
        sender == "server"
        and index >= 0
        and not any(side(s.segment) == "server" and s.segment.flags & SYN for s in before)
    ):
        # The SYNs it answers: those since the refusal before it (the client's again: see
        # connections._Open.refused_again).
        since = refusals[index - 1].frame if index else 0
        sent = [syn for syn in handshake.syns if since < syn.frame < segment.frame]
        if index and sent:
            return (
                "refused",
                f"nothing listens on port {port}; the client sent its SYN again (frame {sent[-1].frame}) after "
                f"the RST/ACK of frame {since}, and it was answered with RST/ACK again",
                [sent[-1].frame],
            )
        unanswered = sent[:-1]
        if unanswered:
            # A listener whose queue is full drops SYNs and never resets them: the earlier
            # SYNs met a listener (or a firewall that drops) that was gone by the last one.
            count = len(unanswered)
            return (
                "refused",
                f"nothing listened on port {port} by the last SYN (frame {sent[-1].frame}), answered "
                f"with RST/ACK; the {count} SYN{'s' if count > 1 else ''} before it got no answer the capture "
                "saw: lost on the way (or their answers were), or dropped by a listener whose queue was full "
                "and that has closed since",
                [*(syn.frame for syn in unanswered), sent[-1].frame],
            )
        if not handshake.syns:
            return (
                "refused",
                f"nothing listens on port {port}: a RST/ACK at sequence number 0 answers a SYN, here one not "
                f"in the capture (the {peer}'s direction not captured, or a forged source's SYN: a flood's "
                "backscatter)",
                [],
            )
        return (
            "refused",
            f"nothing listens on port {port}; the SYN was answered with RST/ACK (or a firewall's reject "
            "with tcp reset answered it in the port's name: on the wire the two look alike)",
            [sent[-1].frame] if sent else [],
        )
    if sender == "server" and _answers_handshake_ack(before, connection, handshake, segment):
        return (
            "accept_queue_overflow",
            "the server's accept queue was full when the handshake's last ACK arrived "
            "(net.ipv4.tcp_abort_on_overflow=1): it answered with RST instead of a connection",
            [before[-1].segment.frame],
        )
    held = _request_held(before, segment, step, sender) if sender == "server" else None
    if held is not None:
        request_synack, refused = held
        acks = [
            s.segment.frame
            for s in before
            if side(s.segment) == peer and s.segment.flags & (SYN | FIN | RST | ACK) == ACK
            and not s.segment.payload_len and s.segment.frame < refused.frame
        ]  # fmt: skip
        unheard = (
            f"; the handshake's ACK (frame {acks[-1]}) had not reached it, or the queue would have refused that "
            "at once (lost after the capture point, or dropped on the way)"
            if acks
            else ""
        )
        return (
            "accept_queue_overflow",
            f"the server still held the connection request (its SYN/ACK, frame {request_synack.frame}, went "
            f"{format_duration(segment.time - request_synack.time)} before, and no stack drops a request before sending "
            f"that again) and the "
            f"{peer}'s segment (frame {refused.frame}) would have made the connection: the accept queue was "
            f"full and the listener answered with RST instead (net.ipv4.tcp_abort_on_overflow=1){unheard}; or "
            "the listener had closed (its process gone or restarted), its pending requests with it, and the "
            "segment found no socket",
            [*acks[-1:], refused.frame],
        )
    fins: dict[Side, Segment] = {}
    for s in before:
        if s.missed_fin is not None:  # one the capture missed, at the frame that shows it
            fins[side(s.missed_fin)] = s.missed_fin
        if s.segment.flags & FIN:
            fins[side(s.segment)] = s.segment
    expired = _fin_wait_2_expired(before, fins[sender], side, peer) if sender in fins else None
    if expired is not None:
        acked, late = expired
        return (
            "fin_wait_2_expired",
            fin_wait_2_expired_text(sender, acked, late, None),
            [fins[sender].frame, acked.frame, late.frame],
        )
    if len(fins) == 2 and step.sender_before in (State.FIN_WAIT_1, State.FIN_WAIT_2):
        # The peer's FIN not taken (the machine holds it beyond a hole): data before it that
        # never arrived. Linux resets a socket closed for reading on numbers past what it took,
        # a FIN's among them (tcp_rcv_state_process, TCPAbortOnData; helper-143's firewall).
        fin = fins[peer]
        earlier = [s for s in before if side(s.segment) == peer and s.segment.frame < fin.frame]
        missing = next(
            (
                s.segment
                for index, s in enumerate(earlier)
                if s.lost and s.segment.payload_len and not _resent_since(s.segment, earlier[index + 1 :])
            ),
            None,
        )
        sent_end = None
        for s in earlier:
            if sent_end is None or seq_diff(s.segment.seq_end, sent_end) > 0:
                sent_end = s.segment.seq_end
        what = ""
        if missing is not None:
            what = f"frame {missing.frame}, {missing.payload_len:,} bytes at seq {missing.seq}, never arrived"
        elif sent_end is not None and seq_diff(fin.seq, sent_end) > 0:
            what = f"{seq_diff(fin.seq, sent_end):,} bytes before it, which the capture did not see either"
        if what:
            return (
                "data_after_close",
                f"the {peer}'s FIN (frame {fin.frame}) came past data the {sender} never took ({what}), after "
                f"the {sender} had closed ({step.sender_before.value}): a socket closed for reading answers "
                "numbers past what it took with RST (Linux: TCPAbortOnData), and the data is lost to the "
                f"{sender}'s application",
                [fins[sender].frame, fin.frame],
            )
    if len(fins) == 2 and fins[peer].frame > fins[sender].frame and not segment.flags & ACK:
        # The peer's data after the sender's FIN, never acknowledged, and a RST without ACK:
        # it came to a socket closed, which answered with RST (helper-148: an ssh server
        # killed, its orphan in FIN_WAIT_2 reset the client's last 60 bytes; Linux's
        # TCPAbortOnData). A RST/ACK that acknowledges it is another's (one that took it).
        unacknowledged = _unacknowledged_after(before, fins[sender], sender, peer, side)
        if unacknowledged is not None and not any(s.segment.flags & RST for s in before):
            return (
                "data_after_close",
                _data_after_close_text(
                    sender,
                    f"its data of frame {unacknowledged.frame} came after the {sender}'s FIN, never acknowledged",
                ),
                [fins[sender].frame, unacknowledged.frame],
            )
    if len(fins) == 2:
        return (
            "after_close",
            f"RST from the {sender} after both sides had sent FIN",
            [fins["client"].frame, fins["server"].frame],
        )
    if sender in fins:
        late_data = [
            s.segment
            for s in before
            if side(s.segment) == peer and s.segment.payload_len and s.segment.frame > fins[sender].frame
        ]
        fin = fins[sender]
        # Took in the peer's data after its FIN (acknowledged past what its FIN did): half
        # closed, still reading (shutdown(SHUT_WR)). A RST that acknowledges all that came then
        # answers none of it: its close() with data unread (abort, below).
        read_on = any(
            side(s.segment) == sender and not s.segment.flags & RST and s.segment.flags & ACK
            and s.segment.frame > fin.frame and seq_diff(s.segment.ack, fin.ack) > 0
            for s in before
        )  # fmt: skip
        if late_data and not (
            read_on
            and segment.flags & ACK
            and all(seq_diff(segment.ack, data.seq_end) >= 0 for data in late_data)
        ):
            return (
                "data_after_close",
                _data_after_close_text(
                    sender,
                    "in FIN_WAIT_2 too: it reads no more" if step.sender_before == State.FIN_WAIT_2 else "",
                ),
                [fins[sender].frame, late_data[-1].frame],
            )
        # The peer's data captured before the FIN, which the FIN does not acknowledge, answered
        # by a RST without ACK at its acknowledgment number: it crossed the FIN and came after
        # the close (helper-148: an HTTP keep-alive request as nginx's timer closed; Linux's
        # TCPAbortOnData, where an abort on close sends RST/ACK at the number past the FIN).
        crossed = (
            None
            # Once a RST of its own had ended it, its RSTs answer what came since (after_reset).
            if segment.flags & ACK or any(s.segment.flags & RST and side(s.segment) == sender for s in before)
            else next(
                (
                    s.segment
                    for s in reversed(before)
                    if side(s.segment) == peer
                    and s.segment.payload_len
                    and s.segment.frame < fin.frame
                    and seq_diff(s.segment.seq_end, fin.ack) > 0
                    and s.segment.ack == segment.seq
                ),
                None,
            )
        )
        if crossed is not None and any(
            # Acknowledged after all: the sender took it (the RST is another's, a middlebox's).
            side(s.segment) == sender
            and s.segment.flags & ACK
            and not s.segment.flags & RST
            and seq_diff(s.segment.ack, crossed.seq_end) >= 0
            for s in before
            if s.segment.frame > crossed.frame
        ):
            crossed = None
        if crossed is not None:
            return (
                "data_after_close",
                _data_after_close_text(
                    sender,
                    f"its data of frame {crossed.frame} crossed the {sender}'s FIN: the RST answers it, without "
                    "ACK at its acknowledgment number",
                ),
                [fin.frame, crossed.frame],
            )
    sent_before = [s for s in before if side(s.segment) == sender]
    if not sent_before and before and not segment.flags & ACK and not before[-1].segment.flags & ACK:
        answered = before[-1].segment
        return (
            "injected",
            f"not the {sender}'s own: a RST without ACK answering the {peer}'s segment without ACK "
            f"(frame {answered.frame}), where a TCP with no connection answers one with RST/ACK (RFC 9293 "
            f"3.10.7.1) and a listener a SYN with SYN/ACK: made on the path in the {sender}'s name (a "
            "firewall, an injector) or by another host",
            [answered.frame],
        )
    # A RST/ACK answering a segment with ACK is no kernel's answer for no socket (that is a RST
    # without ACK at the segment's acknowledgment number): a socket's own abort, whose earlier
    # segments the capture (begun late) does not hold (helper-104's backlog.late2).
    socket_abort = bool(segment.flags & ACK) and bool(before) and bool(before[-1].segment.flags & ACK)
    if not sent_before and before and not socket_abort:
        answered = before[-1].segment
        # Begun after the handshake, the capture may have missed the sender's FIN: Linux answers
        # data that comes after close() with the same RST (tcp_rcv_state_process, TCPAbortOnData;
        # helper-131's mid: the server's socket in FIN_WAIT_2, orphaned).
        or_closed = (
            "; or it had one that its application closed before the capture began (its FIN not captured), "
            "which answers data the same way (Linux: data after close())"
            if answered.payload_len and not any(s.segment.flags & SYN for s in before)
            else ""
        )
        return (
            "no_connection",
            f"the {sender} has no connection for this 4-tuple and answered the {peer}'s segment with RST{or_closed}",
            [answered.frame],
        )
    # A RST its receiver dropped (out of window: an injected one) reset nothing; one the
    # sender sent itself closed it, whether the peer took it or not.
    earlier_reset = next(
        (s.segment for s in reversed(before) if s.segment.flags & RST and _ended(s, sender, side)), None
    )
    if (
        earlier_reset is not None
        and before[-1].segment is earlier_reset
        and side(earlier_reset) == peer
        and not _answers_before(before, segment, peer, side)
    ):
        # No TCP answers a RST (RFC 9293 3.10.7): this one was on its way before that came.
        waited = segment.time - earlier_reset.time
        if waited <= crossing_window(connection.segments):
            return (
                "abort",
                f"the {sender}'s RST came {format_duration(waited)} after the {peer}'s (frame "
                f"{earlier_reset.frame}), which no TCP answers (RFC 9293 3.10.7): the {sender} aborted as that "
                "RST was in flight, the two crossing, or an injector on the path reset both ends",
                [earlier_reset.frame],
            )
        return (
            "injected",
            f"not the {sender}'s own: it came {format_duration(waited)} after the {peer}'s RST (frame "
            f"{earlier_reset.frame}), longer than the two could cross in flight, and no TCP answers a RST "
            "(RFC 9293 3.10.7); made in its name (an injector resetting both ends, a firewall's reject with tcp "
            "reset) or by another host",
            [earlier_reset.frame],
        )
    if earlier_reset is not None:
        answering = f" and answered the {peer}'s segment" if side(before[-1].segment) == peer else ""
        # Named by the first RST of the latest run, not the latest RST: a run of them reads
        # alike (helper-148). The run: since the sender's latest segment other than a RST.
        ended_by = earlier_reset
        for s in reversed(before):
            if s.segment.flags & RST:
                if _ended(s, sender, side):
                    ended_by = s.segment
            elif side(s.segment) == sender:
                break
        return (
            "after_reset",
            f"the connection was already reset (frame {ended_by.frame}): the {sender} has nothing left "
            f"for this 4-tuple{answering}",
            [ended_by.frame],
        )
    if sender == "client" and step.sender_before == State.SYN_SENT:
        synack = _synack_found_no_socket(before, step, side, peer)
        if synack is not None:
            return (
                "connect_abandoned",
                f"{ABANDONED_NO_SOCKET} the {peer}'s SYN/ACK (frame {synack.frame}) and "
                "answered it with RST at its acknowledgment number: a SYN scan's raw probe (a half-open scan), "
                "a connect() given up before the SYN/ACK came, or, where the SYN's source address was forged "
                "(a SYN flood's), the address's real owner, which sent no SYN",
                [synack.frame],
            )
        return (
            "connect_abandoned",
            "the client gave up its connection attempt with RST while in SYN_SENT: a connect() cancelled "
            "(Windows stacks and scanners reset it; Linux closes a SYN_SENT socket without a packet)",
            [s.segment.frame for s in before if s.segment.flags & SYN][-1:],
        )
    if not before and segment.flags & ACK and segment.seq == 0:
        return (
            "no_connection",
            f"a RST/ACK at sequence number 0 is a closed port's answer to a segment without ACK, a SYN or a "
            f"scan's probe: the {peer}'s is not in the capture (one direction captured), or was never sent (the "
            "backscatter of a flood with forged sources)",
            [],
        )
    answered = before[-1].segment if before else None
    if answered is not None and side(answered) == peer and answers_for_no_socket(segment, answered):
        probing = window_probes(before, segment, answered) if answered.payload_len else None
        if probing is not None and still_probing(*probing, answered):
            zero_window, persist = probing
            return (
                "data_after_close",
                f"the {sender} was still probing the {peer}'s zero window (frame {zero_window.frame}; its last probe, "
                f"frame {persist[-1].frame}, {format_duration(answered.time - persist[-1].time)} before the "
                f"{peer}'s data) and answered that data (frame {answered.frame}) with RST without ACK: its "
                "application had closed it (or shut it down both ways), and a closed socket answers new data "
                "with RST (Linux: TCP_ABORT_ON_DATA). Its FIN never left, held behind the data the zero "
                f"window kept: the {sender} was in FIN_WAIT_1 with nothing on the wire to show it (unless a "
                "TCP_USER_TIMEOUT ended it just then, between probes, and the data found no socket)",
                [zero_window.frame, *(p.frame for p in persist), answered.frame],
            )
        # Its own data sent again and again, unanswered, before that: its stack gave up on it.
        resent = _unanswered_copies(before[:-1], segment, sender, side)
        if len(resent) <= GIVE_UP_RETRANSMISSIONS or seq_diff(answered.ack, resent[-1].seq_end) >= 0:
            resent = []  # too few to show a timer giving up, or acknowledged after all (a reboot)
        # ICMP errors that quote the copies: soft errors, the last of which the application
        # gets when the timer gives up (Linux's tcp_write_err takes sk_err_soft, not ETIMEDOUT).
        errors = [
            e for e in connection.unreachables if not e.too_big and quoted_segment(connection, e) in resent
        ]
        errno = errno_of(errors[-1]) if errors else None
        if resent and errors and errno:
            ended = (
                f"its connection had ended without a packet: its {resent[0].payload_len}-byte segment (frame "
                f"{resent[0].frame}) was sent {len(resent)} times, and {len(errors)} of the copies drew an "
                f"ICMP error ({describe(errors[-1])}, the first frame {errors[0].frame}) and nothing from the "
                f"{peer}; its retransmission timer gave up silently, and the application gets {errno}, the "
                "error's, not ETIMEDOUT (Linux: tcp_retries2 or TCP_USER_TIMEOUT, then tcp_write_err)"
            )
        elif resent:
            ended = (
                f"its connection had ended without a packet: its {resent[0].payload_len}-byte segment (frame "
                f"{resent[0].frame}) was sent {len(resent)} times with nothing from the {peer}, and its "
                "retransmission timer gave up silently (Linux: tcp_retries2, or TCP_USER_TIMEOUT; the "
                "application gets ETIMEDOUT)"
            )
        elif persisted := window_probes(before, segment, answered):
            window_closed, persist_probes = persisted
            ended = (
                f"its connection had ended without a packet: the {peer}'s window was zero (frame "
                f"{window_closed.frame}), the {sender} probed it {len(persist_probes)} time"
                f"{'s' if len(persist_probes) > 1 else ''} (frames {', '.join(str(p.frame) for p in persist_probes)}, the last "
                f"{format_duration(answered.time - persist_probes[-1].time)} before), and its persist timer gave up "
                "silently (Linux: TCP_USER_TIMEOUT, counted from the first probe whether the probes are "
                f"answered or not, or tcp_retries2 probes unanswered; the application gets ETIMEDOUT), so the "
                f"{peer}'s later segment found no socket"
            )
        elif _never_taken(before, answered, sender, side):
            ended = (
                "it had sent nothing after its SYN/ACK: its listener never took the connection. The "
                "handshake's ACK was dropped, as Linux drops it while the accept queue is full "
                "(ListenOverflows; with SYN cookies nothing of the connection is kept), or the path lost "
                f"it, and the {peer}'s later segment found no socket"
            )
        else:
            ended = (
                "its connection had ended without a packet (a retransmission or keep-alive timeout, or a "
                "socket closed while connecting) or on a path the capture does not see"
            )
        return (
            "no_connection",
            f"the {sender} had no connection left for this 4-tuple and answered the {peer}'s segment (frame "
            f"{answered.frame}) as a kernel answers one for none: RST without ACK at its acknowledgment number "
            f"(RFC 9293 3.10.7.1); {ended}",
            [*(c.frame for c in resent), answered.frame],
        )
    copies = _unanswered_copies(before, segment, sender, side)
    if step.sender_before in SYNCHRONIZED and len(copies) > GIVE_UP_RETRANSMISSIONS:
        last_interval = copies[-1].time - copies[-2].time
        waited = segment.time - copies[-1].time
        if GIVE_UP_WAIT[0] * last_interval <= waited <= GIVE_UP_WAIT[1] * last_interval:
            return (
                "retransmission_give_up",
                f"the {sender}'s {copies[0].payload_len}-byte segment (frame {copies[0].frame}) was sent "
                f"{len(copies)} times over {format_duration(copies[-1].time - copies[0].time)} with nothing "
                f"from the {peer}; the RST came {format_duration(waited)} after the last copy, when the next "
                f"was due: its stack gave up retransmitting and reset the connection (Windows sends a RST "
                "when TcpMaxDataRetransmissions, 5 by default, runs out; Linux gives up without one after "
                "tcp_retries2 and the application gets ETIMEDOUT)",
                [c.frame for c in copies],
            )
    answers_lost: list[Segment] = []
    unechoed = unechoed_acks(connection.segments) if segment.ts_val > 0 else set()
    probes = _unanswered_keep_alives(before, segment, sender, side, unechoed, answers_lost)
    if answers_lost and (not probes or probes[0].frame > answers_lost[0].frame):
        # Answers to what came before the probes: not what the keep-alive timer counts.
        probes = _unanswered_keep_alives(before, segment, sender, side, set(), [])
        answers_lost = []
    if step.sender_before in SYNCHRONIZED and len(probes) >= KEEP_ALIVE_TIMEOUT_PROBES:
        closed = window_closed_before(before, probes[0])
        if closed is not None and _backing_off(before, segment, sender, side):
            return (
                "abort",
                f"the {sender}'s last {len(probes)} window probes went unanswered while the {peer}'s window "
                f"was zero (frame {closed.frame}): the persist timer's probes, not keep-alives (a keep-alive "
                "is not sent while data waits to go), and a persist timer that runs out resets nothing "
                "(Linux gives up silently after tcp_retries2): the application aborted (SO_LINGER 0, exit) "
                "with its data still unsent",
                [closed.frame, *(p.frame for p in probes)],
            )
        lost_words = ""
        if answers_lost:
            echoed = next(
                (s.segment.frame for s in reversed(before)
                 if side(s.segment) == peer and s.segment.ts_val == segment.ts_ecr),
                None,
            )  # fmt: skip
            whose = f"frame {echoed}'s" if echoed is not None else "an older"
            lost_words = (
                f" (the {peer}'s answers, frame{'s' if len(answers_lost) > 1 else ''} "
                f"{', '.join(str(a.frame) for a in answers_lost)}, were captured but never reached it: its RST "
                f"echoes {whose} timestamp (TSecr {segment.ts_ecr}), not theirs; dropped after the capture "
                "point, as by a firewall on its host)"
            )
        return (
            "keep_alive_timeout",
            f"the {sender}'s last {len(probes)} keep-alive probes went unanswered{lost_words}: its keep-alive "
            f"timer gave up on a {peer} gone or unreachable and reset the connection (Linux: after "
            "tcp_keepalive_probes, or TCP_KEEPCNT, probes, or sooner at TCP_USER_TIMEOUT)",
            [p.frame for p in probes] + [a.frame for a in answers_lost],
        )
    if not before and not segment.flags & ACK:
        # The capture's first segment of the 4-tuple, and no abort: a stack's abort carries
        # ACK (Linux's tcp_send_active_reset), one without answers a segment for no socket.
        return (
            "unknown",
            "a RST without ACK is the first segment of the 4-tuple in the capture: nothing shows a "
            "connection it could end, nor the segment it would answer (an abort carries ACK): an answer "
            "to a segment the capture missed, or a forged RST (a RST flood sends such, each from a source "
            "of its own)",
            [],
        )
    if step.sender_before in SYNCHRONIZED and sender not in fins:
        # A server's kernel resets every connection still in the accept queue when the listener
        # closes (helper-115: a listener closed at its process's exit; refine_with_calls tells it
        # where the calls were recorded); one never accepted sent no data and no FIN.
        queued = (
            "; its listening socket closed with this connection still in the accept queue, never accepted"
            if sender == "server"
            and not any(
                side(s.segment) == sender and (s.segment.payload_len or s.segment.flags & FIN) for s in before
            )
            else ""
        )
        on_cadence = (
            _answered_keep_alives_on_cadence(before, segment, sender, side) if segment.flags & ACK else []
        )
        keep_alive = ""
        if on_cadence:
            interval = format_duration(segment.time - on_cadence[-1].time)
            keep_alive = (
                f"; or, one keep-alive interval ({interval}) after the last of its {len(on_cadence)} keep-alive "
                f"probes, its keep-alive timer's give-up, had the {peer}'s answers, captured, not reached it "
                "(dropped after the capture point): the packets do not tell the two apart, the kernel's reason "
                "does"
            )
        return (
            "abort",
            f"the {sender} aborted the connection without FIN (close() with unread data, as at its "
            f"process's exit; SO_LINGER with zero timeout{queued}; or the kernel's abort: ss -K, too many "
            f"orphans){keep_alive}{_subflow_reset(handshake)}",
            [p.frame for p in on_cadence],
        )
    received = [s.segment for s in before if side(s.segment) == peer and s.segment.payload_len]
    if sender in fins and step.sender_before in _AFTER_OWN_FIN:
        # Bytes, not payloads summed: a resend counts once.
        spans = [(seq_diff(s.seq, received[0].seq), seq_diff(s.seq_end, received[0].seq)) for s in received]
        came = max(end for _, end in spans) - min(start for start, _ in spans) if received else 0
        unread = f" (the {peer} had sent {came:,} bytes)" if received else ""
        return (
            "abort",
            f"the {sender} had sent its FIN (shutdown) and then aborted: close() with the {peer}'s data "
            f"still unread{unread} is answered by RST (RFC 2525 2.17, every stack; Linux's reason "
            "TCP_ABORT_ON_CLOSE), as is its process's exit then; or SO_LINGER with zero timeout",
            [fins[sender].frame],
        )
    return (
        "unknown",
        f"RST from the {sender} in {step.sender_before.value}; no known cause fits: not a refusal, not "
        "after the handshake's last ACK, not after both FINs or a RST, not answering data after its own FIN, "
        "not its first segment, not a client's cancelled connect, and its sender was not in a synchronized "
        "state",
        [],
    )


def _ended(step: Step, sender: Side, side: Callable[[Segment], Side]) -> bool:
    """Whether the RST of `step` ended the connection for `sender`'s next RST: its receiver
    took it (one dropped, out of window, reset nothing), or `sender` sent it and closed."""
    return step.dropped is None or (
        side(step.segment) == sender and step.sender_before != step.sender_after == State.CLOSED
    )


def _synack_found_no_socket(before: list[Step], step: Step, side: Callable[[Segment], Side],
                            peer: Side) -> Segment | None:  # fmt: skip
    """The peer's SYN/ACK that the RST of `step` answers at its acknowledgment number, if the
    state machine found it met no socket (its receiver left in SYN_SENT)."""
    if not before:
        return None
    last = before[-1]
    synack = last.segment
    if (
        synack.flags & (SYN | ACK) != SYN | ACK
        or side(synack) != peer
        or last.receiver_after != State.SYN_SENT
    ):
        return None
    return synack if synack.ack == step.segment.seq else None


# The sender's states after its own FIN, before the peer's: an abort there follows shutdown().
_AFTER_OWN_FIN: Final = frozenset((State.FIN_WAIT_1, State.FIN_WAIT_2))


def _fin_wait_2_expired(before: list[Step], fin: Segment, side: Callable[[Segment], Side],
                        peer: Side) -> tuple[Segment, Segment] | None:  # fmt: skip
    """The peer's acknowledgment of `fin` and the peer's segment that came after the orphan
    timer could have run out (its data, or its own FIN at last), if the sender answered
    nothing since: a socket still in FIN_WAIT_2 would have taken a FIN and acknowledged it."""
    acked: Segment | None = None
    late: Segment | None = None
    for step in before:
        segment = step.segment
        if segment.frame < fin.frame:
            if side(segment) == peer and segment.flags & FIN:
                return None  # the peer closed first: the sender went to LAST_ACK, not FIN_WAIT_2
            continue
        if side(segment) != peer:
            if late is not None:
                return None  # the sender answered after the late segment: it was alive
            continue
        if acked is None:
            if segment.flags & FIN:
                return None  # the peer closed before it acknowledged: no FIN_WAIT_2 at all
            if segment.flags & ACK and seq_diff(segment.ack, fin.seq_end) >= 0:
                acked = segment
        elif segment.time - acked.time >= FIN_WAIT_2_SILENCE:
            if not orphan_timer_shown(segment, segment.time - acked.time):
                return None  # the orphan's own RST to data: the timer need not have run out
            late = segment
        elif segment.flags & FIN:
            return None  # the peer closed in time: TIME_WAIT, not the timer
    return (acked, late) if acked is not None and late is not None else None


def fin_wait_2_expired_text(sender: Side, acked: Segment, late: Segment, fin_timeout: int | None) -> str:
    """The fin_wait_2_expired sentence: the silence the capture shows, and the timer that
    ended the socket within it, with its setting when the sidecar recorded it
    (`fin_timeout`, seconds). Without it Linux's default is only a bound when the silence
    outlasted it: a shorter silence says the sender's timer was set shorter (or the sender
    is another system)."""
    peer = peer_of(sender)
    what = "FIN" if late.flags & FIN else "segment"
    silence = late.time - acked.time
    if fin_timeout is not None and fin_timeout <= silence:
        timer = f"the FIN_WAIT_2 timer (tcp_fin_timeout {fin_timeout} s, recorded in the sidecar)"
    elif fin_timeout is not None:
        # Not the recorded timer: it had not run out. The packets still show no socket.
        timer = (
            f"something other than the FIN_WAIT_2 timer (the sidecar records tcp_fin_timeout {fin_timeout} s, "
            f"longer than this wait)"
        )
    elif silence >= LINUX_FIN_TIMEOUT:
        # Other stacks' timers may run longer (helper-116: a Windows client's expiry after 130 s
        # read as Linux's alone).
        timer = (
            f"the FIN_WAIT_2 timer (Linux's tcp_fin_timeout, {LINUX_FIN_TIMEOUT} s by default; other "
            "systems' may run longer)"
        )
    else:
        timer = (
            f"the FIN_WAIT_2 timer, so the {sender}'s timer is shorter than {format_duration(silence)} "
            f"(Linux's tcp_fin_timeout is {LINUX_FIN_TIMEOUT} s by default)"
        )
    return (
        f"the {sender}'s socket had waited in FIN_WAIT_2 since its FIN was acknowledged (frame {acked.frame}); "
        f"the {peer}'s {what} came {format_duration(silence)} later (frame {late.frame}), after the socket "
        f"had been ended by {timer}, and the kernel answered for no connection"
    )


def _resent_since(lost: Segment, later: list[Step]) -> bool:
    """Whether a segment of `later` that arrived carries `lost`'s first number again."""
    return any(
        not step.lost
        and step.segment.payload_len
        and seq_diff(step.segment.seq, lost.seq) <= 0 < seq_diff(step.segment.data_end, lost.seq)
        for step in later
    )


def _data_after_close_text(sender: Side, aside: str) -> str:
    """The data_after_close sentence, with `aside` in brackets when there is one."""
    text = (
        f"the {peer_of(sender)} sent data after the {sender} had closed; a socket closed, or shut down for "
        "reading (shutdown(SHUT_RD or SHUT_RDWR)), answers data with RST"
    )
    return f"{text} ({aside})" if aside else text


def _expired_by_timer(
    connection: Connection, reset: Reset, by_frame: dict[int, Segment], fin_timeout: int
) -> tuple[Segment, Segment] | None:
    """For a data_after_close RST (evidence: the sender's FIN, the late data, the RST): the
    peer's ACK of that FIN and the late data, when the data came the recorded tcp_fin_timeout
    or more after that ACK: the timer had ended the socket (the packets alone do not say it
    before Linux's default, LINUX_FIN_TIMEOUT)."""
    fin, late = by_frame.get(reset.evidence[0]), by_frame.get(reset.evidence[1])
    if fin is None or late is None:
        return None
    peer = peer_of(reset.sender)
    acked = next(
        (
            s for s in connection.segments
            if fin.frame < s.frame < late.frame and connection.sender(s) == peer and s.flags & ACK
            and seq_diff(s.ack, fin.seq_end) >= 0
        ),
        None,
    )  # fmt: skip
    if acked is None or late.time - acked.time < max(fin_timeout, FIN_WAIT_2_SILENCE):
        return None
    return acked, late


def record_fin_timeout(connection: Connection, resets: list[Reset], fin_timeout: int) -> list[Reset]:
    """The fin_wait_2_expired resets told again with the recorded tcp_fin_timeout; those
    rewritten are returned."""
    told = []
    by_frame = {segment.frame: segment for segment in connection.segments}
    for reset in resets:
        if reset.cause == "data_after_close" and len(reset.evidence) == 3:
            expired = _expired_by_timer(connection, reset, by_frame, fin_timeout)
            if expired is not None:
                reset.cause = "fin_wait_2_expired"
                reset.explanation = fin_wait_2_expired_text(reset.sender, *expired, fin_timeout)
                reset.evidence = [reset.evidence[0], *(s.frame for s in expired), reset.segment.frame]
                told.append(reset)
            continue
        if reset.cause != "fin_wait_2_expired" or len(reset.evidence) < 3:
            continue
        acked, late = by_frame.get(reset.evidence[1]), by_frame.get(reset.evidence[2])
        if acked is None or late is None:
            continue
        unrecorded = fin_wait_2_expired_text(reset.sender, acked, late, None)
        rest = reset.explanation[len(unrecorded) :] if reset.explanation.startswith(unrecorded) else ""
        if late.payload_len and late.time - acked.time < fin_timeout:
            # The timer had not run out: the socket, closed, answered the data.
            reset.cause = "data_after_close"
            reset.evidence = [reset.evidence[0], late.frame, reset.segment.frame]
            reset.explanation = (
                _data_after_close_text(
                    reset.sender,
                    f"in FIN_WAIT_2 too: its timer, tcp_fin_timeout {fin_timeout} s as the sidecar records it, "
                    "had not run out",
                )
                + rest
            )
        else:
            reset.explanation = fin_wait_2_expired_text(reset.sender, acked, late, fin_timeout) + rest
        told.append(reset)
    return told


# SO_LINGER {on, 0 s} as the call log writes it: the scenarios' own words, or strace's struct
# (`handshake run --trace-calls`, examples/abort_pair.py).
_LINGER_ZERO: Final = re.compile(r"setsockopt\(SO_LINGER, (on, 0 s|\{l_onoff=[1-9]\d*, l_linger=0\})")


def _bytes_received(connection: Connection, reset: Reset) -> int:
    """The distinct bytes the RST's sender was sent before it: the span of the peer's data
    (a resend, or a copy, counted once; a hole the capture missed counted as sent)."""
    start = end = None
    for segment in connection.segments:
        if segment is reset.segment:
            break  # in the file's order: its times may run backwards
        if not segment.payload_len or connection.sender(segment) == reset.sender:
            continue
        first = (segment.seq + (1 if segment.flags & SYN else 0)) % MOD
        last = (first + segment.payload_len) % MOD
        if start is None or seq_diff(first, start) < 0:
            start = first
        if end is None or seq_diff(last, end) > 0:
            end = last
    return seq_diff(end, start) if start is not None and end is not None else 0


def refine_with_calls(connection: Connection, resets: list[Reset], calls: list[CallRecord]) -> None:
    """On the wire an abort is an abort; the application's calls say which one:
    - unread_data: the sender had read fewer bytes than its peer sent it (checked first, as
      the kernel's tcp_close does);
    - linger_abort: the sender set SO_LINGER {on, 0} before closing;
    - listener_closed: the server's last call before it was the close of its listening
      socket, and no accept() had returned this connection: it waited in the accept queue,
      and the kernel resets every connection still queued when the listener closes."""
    for reset in resets:
        if reset.cause != "abort":
            continue
        own = [c for c in calls if c["side"] == reset.sender and c["time"] <= reset.segment.time]
        if not own:
            continue  # no call of the sender's logged (`handshake run` without --trace-calls): no read counted
        if reset.sender == "server" and own[-1]["call"].startswith("close() listener"):
            client_port = f"from port {connection.client[1]}"
            accepted = any(c["call"].startswith("accept(") and c["result"].endswith(client_port) for c in own)
            if not accepted:
                reset.cause = "listener_closed"
                reset.explanation = (
                    "the server closed its listening socket while this connection waited in the accept "
                    "queue, never accepted: the kernel resets every connection still queued"
                )
                continue
        # The kernel's order (tcp_close): data unread resets first, then SO_LINGER {on, 0}.
        received = _bytes_received(connection, reset)
        read = sum(length for c in own if c["call"].startswith("recv(") and (length := call_bytes(c)))
        closed = any(c["call"].startswith("close()") and "listener" not in c["call"] for c in own)
        if received > read:
            reset.cause = "unread_data"
            reset.explanation = (
                f"the {reset.sender} closed with {received - read} bytes it had not read: "
                "the kernel answers close() with RST"
                if closed
                else f"the {reset.sender}'s process ended (it exited or was killed: no close() logged) with "
                f"{received - read} bytes it had not read: the kernel closes its socket with RST"
            )
            continue
        if any(_LINGER_ZERO.match(c["call"]) for c in own):
            reset.cause = "linger_abort"
            reset.explanation = (
                f"the {reset.sender} closed with SO_LINGER {{on, 0 s}}: close() sends RST instead of FIN"
            )
