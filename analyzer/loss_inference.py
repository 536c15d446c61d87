"""Loss inference: the segments their receiver never took in, as the capture proves it.

The state machine (tcp_state.py) applies a lost segment to its sender only: it left,
but it never arrived. The capture point cannot see a loss; it sees what the ends did
about it, and these rules read that:

- a SYN or FIN sent again (findings/resends.py) with nothing from the peer in between
  acknowledging it: the earlier copy was lost (a retransmission timer fired), unless the
  peer had acknowledged it before that copy went out: a peer told again what it knows may
  keep silent (Linux in CLOSING takes the ACK of its FIN and enters TIME_WAIT without a
  word), so its silence proves nothing. Once only: in TIME_WAIT it answers every copy of
  the FIN, so of two copies met with silence running, one never arrived; the first is taken
  as lost (the move came with the second: a loss that lasts a while, as a blackout or a
  firewall's hold does, rather than a copy through and the next one lost; the capture cannot
  tell the two apart); and unless the copy came within the crossing
  window and acknowledges more of the peer than the first: a BSD stack's answer to the
  peer's FIN, which carries its own unacknowledged FIN again (`_answers_peer`), and unless
  the peer's first acknowledgment after the resend names the FIN's numbers in a duplicate
  SACK (RFC 2883: it got them twice, so the copy before had arrived);
- a segment acknowledging a SYN or FIN that the peer then sends again, the same kind of
  segment, or a pure ACK before any resend: that segment was lost (had it arrived, the
  peer would have had no reason to resend), unless the resend came within one round trip
  of it (`first_syn_to_handshake_ack`, CROSSING_FLOOR at least), when the two may have
  crossed in flight; a listener's SYN/ACK, within its own leg of the path (`_listener_leg`:
  a client's ACK held before the capture point makes the handshake's round trip long);
- the ACK that completes a handshake and the client's data after it, never answered while
  the client's timer sends that data again LISTENER_RESENDS times or more (once, where its
  SYN too was sent again: the listener was dropping SYNs just before), until the server
  acknowledges a copy: the listener took none of them until then (its accept queue full:
  Linux, tcp_abort_on_overflow=0, drops the ACK that would make the connection and what
  follows, its request socket kept, counted in ListenOverflows), or they were lost; the
  server is in SYN_RCVD until the copy it acknowledges; with no answer at all to the end of
  the capture, NEVER_ANSWERED_RESENDS resends or more (a SYN cookie's ACK that a full accept
  queue dropped: nothing kept, no SYN/ACK again). Not where the server stayed silent
  past a request socket's SYN/ACK timer (SYNACK_SILENCE_MOST), never sending its SYN/ACK
  again, and the copy it acknowledges at last is smaller than the first: the ACK had made the
  connection and the path lost the big segments alone (an MTU black hole);
- the client's handshake ACKs, where the server sent nothing but SYN/ACKs and then a RST as
  for no socket to the client's next segment: none made the connection, where one of the
  SYN/ACKs went again after such an ACK (the listener was not taking them; its request
  socket expired with its SYN/ACK timer, Linux's tcp_synack_retries) or the RST answers a
  later segment within SYNACK_SILENCE_LEAST of the latest SYN/ACK (the request still held:
  that segment met a full accept queue, tcp_abort_on_overflow=1); not where the server sends
  on after that RST (not its own: an injected one);
- the ACK that completes a handshake answered at once (within the crossing window: one
  round trip wherever the capture was taken) by the peer's RST as for no socket (no ACK
  flag, at the ACK's acknowledgment number: Linux's tcp_v4_send_reset), no data ever sent:
  the listener refused it (accept queue full, tcp_abort_on_overflow). A RST/ACK is the
  accepted socket's own abort: the ACK had arrived. A RST that comes later
  is the listener's own doing after the connection was made (closed with connections
  still in its accept queue: a RST to each);
- a pure ACK whose receiver's next segment, captured more than twice that receiver's leg of
  the path later, echoes an older TSval (RFC 7323 4.3; unechoed_acks): a keep-alive's answer,
  the ACK of a resend, dropped after the capture point (a firewall on the receiver's host);
- an end's first SYNs, where the peer's own SYN (no ACK) came far later than the round trip
  that followed it (the split handshake's shape, but no answer: findings/handshake.py's
  syns_before_peer_syn): they never reached the peer, which connected on its own (a
  simultaneous open; the state machine starts that peer CLOSED, not LISTEN).

What answers a SYN and what does not. A SYN (or SYN/ACK) with ISN X is acknowledged by an
ACK above X up to what its sender has sent on from X (the SYN's data, a Fast Open
server's data): an end that sends SYNs of several ISNs (a server, or a middlebox, that
answers each resent SYN with a SYN/ACK of a new ISN) has a sequence space for each, and
an acknowledgment in one says nothing of a SYN in another. Two things prove a SYN arrived
though the same end sends it again: the peer's first answer to a SYN (without ACK) is an
ACK that does not acknowledge it (a challenge ACK, RFC 5961: a stale connection took it),
or the copy is a SYN/ACK answering a SYN of the peer's that came between (simultaneous
open, a split handshake: not a timer's resend), or before it within the crossing window
(the two SYNs crossed in flight), or the peer refused it with a RST/ACK that acknowledges
it (a stack that retries a refused connect(): Windows), or the copy is a SYN/ACK the peer
answered with a RST at its acknowledgment number (RFC 9293 3.10.7.1 and 3.10.7.3: no
socket took it, or it did not acknowledge the peer's SYN: an old duplicate's answer), or
a segment of the peer's echoes its timestamp (TSecr, RFC 7323), not the copy's: the peer
took it in, and its answer was lost before a capture at the SYN's sender (a SYN/ACK
echoing the first SYN; a client's ACK of a SYN/ACK sent again, echoing the first SYN/ACK).

Where the capture was taken. A capture taken at an end (findings/vantage.py) holds what
reached that end: nothing sent to it is lost, whatever the rules above say (a SYN/ACK
resent to a scanner that never answered reached the scanner; it had no socket to take it);
but for what a receiver's own behaviour shows it did not take (a listener's SYN/ACK sent
again, its silence, its RST to what would have made the connection; an end's TSecr older
than the ACK's TSval): its host got those segments and dropped them (a full accept queue, a
firewall after the capture point).

Data segments are not examined: losing them does not change a state.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Final

from analyzer.decode.segment import (
    ACK,
    FIN,
    MOD,
    RST,
    SYN,
    UNSEEN,
    Segment,
    answers_for_no_socket,
    duplicate_sack,
    duplicate_sack_of,
    echoes_older,
    made_nearer,
    seq_diff,
)
from analyzer.findings.handshake import syns_before_peer_syn
from analyzer.findings.resends import earlier_copies

# Retransmission timers fire on timer ticks (milliseconds), so two ends' resends can cross
# in flight however short the path: on loopback two FINs 42 µs apart did. A timer's
# resend comes RTO_MIN (200 ms) or more after what armed it, far beyond this.
CROSSING_FLOOR: Final = 0.010
RTO_MIN: Final = 0.200  # Linux's least retransmission timeout (TCP_RTO_MIN)
# The client's first data unanswered this many times by its timer, the handshake's ACK before
# it unanswered too, before the listener is taken to have dropped them (a network that loses
# one segment is common; the same one again and again, right after a handshake, is a
# listener's doing).
LISTENER_RESENDS: Final = 2
# As many sent again with no answer at all to the end of the capture (a path that lost them
# all, or a listener that dropped them, alike: not taken either way), where the data is
# smaller than BLACK_HOLE_LEAST: bigger, the ACK may have made the connection and a path that
# drops big packets the data alone (a review's).
NEVER_ANSWERED_RESENDS: Final = 3
# Segments at least this big that a path drops while smaller ones pass: below any MTU a link
# has (IPv6's least is 1280), a segment this size is dropped for its size by few paths.
BLACK_HOLE_LEAST: Final = 1000
# A listener holding a request socket (SYN_RCVD) sends its SYN/ACK again when its timer
# fires, its accept queue full or not: Linux after 1 s (TCP_TIMEOUT_INIT), older stacks after
# 3 s. A server silent longer than this after its SYN/ACK held no request socket: either the
# handshake's ACK had made the connection and the data was lost on the way (an MTU black hole
# drops the big segments alone: the copy it acknowledges at last is smaller), or it answered
# with a SYN cookie and kept nothing until an ACK got through (the same copy, again).
SYNACK_SILENCE_MOST: Final = 3.0
# No stack sends its SYN/ACK again sooner (Linux's TCP_TIMEOUT_INIT), nor gives its request
# socket up before it has: within this of its latest SYN/ACK a listener still holds the
# request (request_still_held).
SYNACK_SILENCE_LEAST: Final = 1.0


def request_still_held(synack: Segment, later: Segment) -> bool:
    """Whether a listener that sent `synack` (its latest) still held the connection request
    when `later` came: no stack drops a request before its timer has sent the SYN/ACK again,
    at SYNACK_SILENCE_LEAST at the soonest (unless the listener itself closed, taking its
    requests with it). The one rule of loss inference, the state machine and the RST causes."""
    return later.time - synack.time < SYNACK_SILENCE_LEAST


def first_syn_to_handshake_ack(segments: list[Segment]) -> float:
    """From the first SYN to the ACK of the SYN/ACK that answers it: one round trip
    wherever the capture was taken, the time within which a segment and the peer's resend
    may have crossed (0 when the handshake is not in the capture). Not the handshake's
    reported RTT (Handshake.answered_syn_to_ack), which starts at the SYN that was
    answered; nor Wireshark's iRTT (findings/retransmissions.py)."""
    syn = next((s for s in segments if s.flags & (SYN | ACK | RST | FIN) == SYN), None)
    if syn is None:
        return 0.0
    synack = next(
        (s for s in segments if s.flags & (SYN | ACK) == SYN | ACK and s.ack == (syn.seq + 1) % MOD), None
    )
    if synack is None:
        return 0.0
    ack = next(
        (s for s in segments if s.time >= synack.time and s.flags & (SYN | ACK) == ACK
         and s.sport == syn.sport and s.ack == (synack.seq + 1) % MOD),
        None,
    )  # fmt: skip
    return ack.time - syn.time if ack is not None else 0.0


def _listener_leg(segments: list[Segment], synack: Segment, crossing: float) -> float:
    """Within how long the listener's SYN/ACK sent again may have crossed the client's ACK of
    it: the round trip from the capture point to the listener and back, the first SYN/ACK of
    its ISN after the SYN it answers (the SYN whose timestamp it echoes; without timestamps the
    first SYN, as several sent before an answer may be its: helper-132, a round trip of 1.2 s
    at the client) and CROSSING_FLOOR at least; `crossing` where no SYN is captured. A
    listener that took the ACK has no request socket left to send it again; one that sends
    it again later never took that ACK (lost, or dropped by a full
    accept queue: helper-131's listen(1), tcp_abort_on_overflow=0, the client's ACK and data
    held 605 ms, which made the handshake's round trip as long: the SYN/ACK resent 420 ms
    after them was taken to have crossed them, the server ESTABLISHED where the kernel held
    SYN_RECV)."""
    first = next(
        (s for s in segments if s.flags & (SYN | ACK | RST) == SYN | ACK and s.src == synack.src
         and s.sport == synack.sport and s.seq == synack.seq),
        synack,
    )  # fmt: skip
    echoed = first.ts_ecr
    syn = None
    for segment in segments:
        if segment is first:
            break
        if (
            segment.flags & (SYN | ACK | RST) == SYN
            and segment.src == synack.dst
            and segment.sport == synack.dport
        ):
            if echoed >= 0 and segment.ts_val == echoed:
                syn = segment
                break
            if syn is None:
                syn = segment
    if syn is None:
        return crossing
    return min(max(first.time - syn.time, CROSSING_FLOOR), crossing)


def crossing_window(segments: list[Segment]) -> float:
    """Within how long a segment and the peer's resend may have crossed in flight."""
    return max(first_syn_to_handshake_ack(segments), CROSSING_FLOOR)


def lost_segments(
    segments: list[Segment],
    earlier: dict[int, int] | None = None,
    crossing: float | None = None,
    captured_at: tuple[str, int] | None = None,
) -> set[int]:
    """Frames their receiver never took in (see the module's rules). `earlier`: the
    connection's copies (findings.resends.earlier_copies), found here when not given.
    `crossing`: the window within which a segment and a resend may cross, when `segments`
    is a stretch of a connection that does not hold its handshake. `captured_at`: the end
    (address, port) the capture was taken at, if it was taken at one."""
    by_listener: set[int] = set()
    lost = _lost(segments, earlier, crossing, by_listener)
    if captured_at is not None and lost:
        lost = {
            s.frame
            for s in segments
            if s.frame in lost and ((s.dst, s.dport) != captured_at or s.frame in by_listener)
        }
    return lost


def _lost(
    segments: list[Segment], earlier: dict[int, int] | None, crossing: float | None, by_listener: set[int]
) -> set[int]:
    """The frames lost (the module's rules); those the listener's own behaviour shows it did
    not take (its SYN/ACK sent again, its silence or its RST to what would have made the
    connection) also into `by_listener`: a capture at the server holds them though its stack
    dropped them (a full accept queue, a firewall after the capture point)."""
    if earlier is None:
        earlier = earlier_copies(segments)
    # A simultaneous open whose first SYNs never reached the peer (the peer's SYN came too late
    # to answer them): the Handshake reads it from the same function.
    lost: set[int] = {syn.frame for syn in syns_before_peer_syn(segments)}
    first_data = next((i for i, s in enumerate(segments) if s.payload_len), len(segments))
    synack_ends = {(s.seq + 1) % MOD for s in segments[:first_data] if s.flags & (SYN | ACK) == SYN | ACK}
    for ack, answer in pairwise(segments[:first_data]):
        if (
            ack.flags & (SYN | FIN | RST | ACK) == ACK
            and ack.ack in synack_ends
            and answers_for_no_socket(answer, ack)
            and (answer.src, answer.sport) == (ack.dst, ack.dport)
        ):
            if crossing is None:
                crossing = crossing_window(segments)
            if answer.time - ack.time <= crossing:
                lost.add(ack.frame)
                by_listener.add(ack.frame)
    if earlier and synack_ends:
        if crossing is None:
            crossing = crossing_window(segments)
        not_taken = _not_taken_by_listener(segments, earlier, synack_ends, crossing)
        lost |= not_taken
        by_listener |= not_taken
    if synack_ends:
        never = _request_never_completed(segments, synack_ends)
        lost |= never
        by_listener |= never
    unechoed = unechoed_acks(segments)
    lost |= unechoed
    by_listener |= unechoed
    if not earlier:
        return lost
    if crossing is None:
        crossing = crossing_window(segments)
    control = SYN | FIN
    later = {previous: index for index, previous in earlier.items()}
    peer_echoes: dict[tuple[str, int], set[int]] = {}  # by a SYN's sender: what its peer echoed
    # Acknowledgments of a FIN its next copy came too soon after to prove lost (it may have
    # crossed them), with that copy's index: a later copy judges them (_resent_long_after).
    spared: list[tuple[int, int]] = []
    listener_legs: dict[tuple[str, int, int], float] = {}  # by SYN/ACK sender and ISN (_listener_leg)
    for index, previous in earlier.items():
        segment = segments[index]
        if not segment.flags & control or segment.flags & RST:
            continue
        while previous >= 0 and segments[previous].flags & RST:
            previous = earlier.get(previous, -1)  # a RST is nothing's resend: the copy before it
        if previous < 0:
            continue
        sender = (segment.src, segment.sport)
        covered = segment.seq_end
        syn = bool(segment.flags & SYN)
        if not syn and _answers_peer(segments, previous, index, crossing):
            spared.extend(
                (position, index) for position in _acknowledgments(segments, previous, index, covered)
            )
            continue
        if syn and not segment.flags & ACK and _took_synack_before(segments, previous, index):
            continue  # not its sender's resend: a copy made on the path after the handshake

        # A SYN/ACK after the same end's SYN answers a SYN of the peer (simultaneous open):
        # not a timer's resend, so it says nothing of what the peer sent meanwhile.
        resent = segment.flags & (control | ACK) == segments[previous].flags & (control | ACK)
        acked = answered = False
        reach = _Reach(segments, sender, segment.seq) if syn else None
        for position in range(previous + 1, index):
            between = segments[position]
            if (between.src, between.sport) == sender:
                continue
            if between.flags & RST:
                if reach is not None and between.flags & ACK and reach.acknowledges(between.ack, position):
                    answered = True  # refused: it arrived (a stack that retries after a RST)
                elif reach is not None and answers_for_no_socket(between, segments[previous]):
                    answered = True  # a SYN/ACK answered at its acknowledgment number: it arrived
                continue
            if reach is not None:
                if not answered and not resent and between.flags & (SYN | ACK) == SYN:
                    answered = True  # the copy is the SYN/ACK that answers this SYN
                if not between.flags & ACK:
                    continue
                if not reach.acknowledges(between.ack, position):
                    if not acked and not answered and not between.flags & SYN and not segment.flags & ACK:
                        answered = _first_answer(segments, previous, position)  # a challenge ACK
                    continue
            elif not (between.flags & ACK and seq_diff(between.ack, covered) >= 0):
                continue
            pure = not (between.flags & control or between.payload_len)
            window = crossing
            listener = bool(syn and resent and segment.flags & ACK)  # its SYN/ACK sent again
            if listener:
                key = (segment.src, segment.sport, segment.seq)
                if key not in listener_legs:
                    listener_legs[key] = _listener_leg(segments, segment, crossing)
                window = listener_legs[key]
            if (pure or resent) and segment.time - between.time > window:
                lost.add(between.frame)  # the sender evidently never got this acknowledgment
                if listener:
                    by_listener.add(between.frame)
            elif (pure or resent) and not syn:
                spared.append((position, index))
            acked = True
        if not answered and syn and not resent and segment.flags & ACK:
            answered = _crossed_peer_syn(segments, previous, crossing)
        if not answered and syn:
            if sender not in peer_echoes:
                peer_echoes[sender] = _peer_echoes(segments, sender)
            answered = _echoed_by_peer(segments, previous, index, peer_echoes[sender])
        if acked or answered:
            continue
        if not syn and _sacked_twice(segments, index, segments[previous]):
            continue  # the peer got it twice: the copy before had arrived
        fresh = _Reach(segments, sender, segment.seq) if syn else None
        if not _acknowledged_before(segments, previous, covered, fresh) or (
            not syn and index in later and _silent_between(segments, index, later[index])
        ):
            lost.add(segments[previous].frame)
    for position, copy in spared:
        if _resent_long_after(segments, later, copy, segments[position].time + crossing):
            lost.add(segments[position].frame)
    return lost


def _acknowledgments(segments: list[Segment], previous: int, index: int, covered: int) -> list[int]:
    """The places of the peer's bare ACKs of all up to `covered` between segments[previous]
    and its copy segments[index]."""
    sender = (segments[index].src, segments[index].sport)
    return [
        position
        for position in range(previous + 1, index)
        if (segments[position].src, segments[position].sport) != sender
        and segments[position].flags & (SYN | FIN | RST | ACK) == ACK
        and not segments[position].payload_len
        and seq_diff(segments[position].ack, covered) >= 0
    ]


def _resent_long_after(segments: list[Segment], later: dict[int, int], copy: int, after: float) -> bool:
    """Whether the sender of segments[copy] sent it again once more after `after`: an end
    sends its FIN again only while unacknowledged, so an acknowledgment it had got that long
    before never reached it (a simultaneous close under load: the sandbox delivered a held
    copy within milliseconds of the dropped ACK, which spared it; the timer's copies came
    later: helper-129, 13 of 28 runs)."""
    following = later.get(copy)
    while following is not None:
        if not segments[following].flags & RST and segments[following].time > after:
            return True
        following = later.get(following)
    return False


def _took_synack_before(segments: list[Segment], previous: int, index: int) -> bool:
    """Whether the sender of segments[index], a SYN copy of segments[previous], had
    acknowledged the peer's SYN/ACK between the two: it had left SYN_SENT, so the copy is no
    resend of its (a SYN proxy's SYN to the server, a copy on the path), and says nothing of
    what it had received (the Handshake says the same of it: left out of the backoff)."""
    copy = segments[index]
    sender = (copy.src, copy.sport)
    synack_ends: set[int] = set()
    for segment in segments[previous + 1 : index]:
        if (segment.src, segment.sport) != sender:
            if segment.flags & (SYN | ACK | RST) == SYN | ACK:
                synack_ends.add((segment.seq + 1) % MOD)
        elif segment.flags & (SYN | ACK | RST) == ACK and segment.ack in synack_ends:
            return True
    return False


def _echoed_by_peer(segments: list[Segment], previous: int, index: int, echoes: set[int]) -> bool:
    """Whether a segment of the peer's echoes the timestamp of segments[previous] (a SYN or
    SYN/ACK its sender sent again as segments[index]) and not the copy's (RFC 7323 4.3: an end
    echoes the TSval of what it took in; a SYN/ACK's TSecr is the TSval of the SYN it answers,
    and Linux answers a repeated SYN with the TSecr it took first, where FreeBSD's syncache and
    SYN cookies echo each SYN's own, which this rule then does not read; a client ESTABLISHED
    by the first SYN/ACK answers the copy with an ACK that still echoes the first: helper-131's
    bl0b): the peer got it; its answer was lost, or came late. `echoes`: the TSecr of every
    segment with ACK from the peer (_peer_echoes). A TSval of 0 (a clock that starts at 0)
    tells nothing."""
    first, copy = segments[previous], segments[index]
    if first.ts_val <= 0 or copy.ts_val == first.ts_val:
        return False
    return first.ts_val in echoes


def _peer_echoes(segments: list[Segment], sender: tuple[str, int]) -> set[int]:
    """The TSecr of every segment with ACK not from `sender`."""
    return {s.ts_ecr for s in segments if s.flags & ACK and s.ts_val != UNSEEN and (s.src, s.sport) != sender}


def _sacked_twice(segments: list[Segment], index: int, before: Segment) -> bool:
    """Whether the peer's first acknowledgment after segments[index], a resend, names numbers
    `before` carried in a duplicate SACK (RFC 2883: a first block at or below its
    acknowledgment): it got them twice, so `before` had arrived (a tail loss probe's resend of
    a FIN whose ACK the peer delayed)."""
    resend = segments[index]
    sender = (resend.src, resend.sport)
    for answer in segments[index + 1 :]:
        if (answer.src, answer.sport) == sender or not answer.flags & ACK or answer.flags & RST:
            continue
        return duplicate_sack_of(answer, before)
    return False


def unechoed_acks(segments: list[Segment]) -> set[int]:
    """The pure ACKs their receiver never took in, as its timestamps prove it: its next
    segment, captured more than twice its leg of the path after them (_echo_legs, ECHO_MARGIN
    at least: they would have arrived before it left; a data sender's burst answers ACKs a
    round trip on, each as it comes: zeek_missing-syn), echoes an older TSval (echoes_older),
    and no later one of its segments echoes theirs or a newer one (a queue on the path that
    held its segments, a spurious resend: helper-133's laterecho, spurious); only where it
    had acknowledged their number already when they came (RFC 7323 4.3 moves the echo only
    for a segment at or below Last.ACK.sent: an ACK that came while its delayed ACK of data
    waited leaves the echo where it was: helper-133's delack). helper-131's ka2in and utoin:
    keep-alive answers and ACKs of resent data dropped by a firewall after the capture point."""
    never: list[Segment] = []
    legs: dict[tuple[str, int], float] | None = None
    waiting: dict[tuple[str, int], list[Segment]] = {}  # by receiver: pure ACKs for its next segment
    acked: dict[tuple[str, int], int] = {}  # by end: what its latest segment acknowledged
    newest: dict[tuple[str, int], int] = {}  # by end: its newest TSval so far
    for segment in segments:
        sender = (segment.src, segment.sport)
        answers = waiting.pop(sender, None)
        # A segment whose TSval goes back was sent before one captured ahead of it (held on the
        # path: helper-134's l3reorder): it shows nothing of what came after that one.
        sent_late = sender not in newest or seq_diff(segment.ts_val, newest[sender]) >= 0
        if segment.ts_val != UNSEEN and sent_late:
            newest[sender] = segment.ts_val
        if answers is not None and sent_late:
            for answer in answers:
                if not echoes_older(segment, answer):
                    continue
                if legs is None:
                    legs = _echo_legs(segments)
                leg = legs.get(sender)
                if leg is not None and segment.time - answer.time > 2 * leg + ECHO_MARGIN:
                    never.append(answer)
        if (
            segment.ts_val > 0
            and segment.flags & (SYN | FIN | RST | ACK) == ACK
            and not segment.payload_len
            and seq_diff(acked.get((segment.dst, segment.dport), segment.seq - 1), segment.seq) >= 0
        ):
            waiting.setdefault((segment.dst, segment.dport), []).append(segment)
        if segment.flags & ACK:
            acked[sender] = segment.ack
    if not never:
        return set()
    # Not where any later segment of the receiver echoes the ACK's TSval or a newer one.
    pending: dict[tuple[str, int], list[Segment]] = {}  # by receiver, in file order
    for answer in never:
        pending.setdefault((answer.dst, answer.dport), []).append(answer)
    echoed: set[int] = set()
    for segment in segments:
        waiting_for = pending.get((segment.src, segment.sport))
        if waiting_for and segment.ts_val != UNSEEN and segment.flags & ACK:
            for answer in waiting_for:
                if answer.frame < segment.frame and seq_diff(segment.ts_ecr, answer.ts_val) >= 0:
                    echoed.add(answer.frame)
    return {a.frame for a in never if a.frame not in echoed}


# Added to twice an end's leg of the path before its TSecr proves a segment never reached it:
# a timer's slack, a scheduler's delay.
ECHO_MARGIN: Final = 0.010


def _echo_legs(segments: list[Segment]) -> dict[tuple[str, int], float]:
    """Each end's leg of the path, from the capture point to it and back, as its timestamps
    measure it: the least time from the first capture of a TSval of its peer's to its first
    segment echoing it (never less than the leg: it echoes a TSval once a segment with it has
    arrived, and the first with it arrived first). Ends that echo nothing have none."""
    first_seen: dict[tuple[str, int], dict[int, float]] = {}  # by sender: each TSval's first capture
    legs: dict[tuple[str, int], float] = {}
    for segment in segments:
        if segment.ts_val == UNSEEN:
            continue
        me = (segment.src, segment.sport)
        peer = first_seen.get((segment.dst, segment.dport))
        if peer is not None and segment.flags & ACK:
            sent = peer.get(segment.ts_ecr)
            if sent is not None:
                sample = segment.time - sent
                if sample < legs.get(me, sample + 1):
                    legs[me] = sample
        first_seen.setdefault(me, {}).setdefault(segment.ts_val, segment.time)
    return legs


def _silent_between(segments: list[Segment], first: int, last: int) -> bool:
    """Whether the peer of segments[first]'s sender sent nothing between it and segments[last]."""
    sender = (segments[first].src, segments[first].sport)
    return all((s.src, s.sport) == sender for s in segments[first + 1 : last])


def _request_never_completed(segments: list[Segment], synack_ends: set[int]) -> set[int]:
    """The client's handshake ACKs where the server sent nothing but SYN/ACKs and then a RST
    as for no socket to the client's next segment, and nothing after that RST: none of them
    made the connection (a listener that took one answers with that socket: its abort carries
    ACK; a server that sends on after the RST was not reset by it: an injected one). Either
    the SYN/ACK went again after such an ACK and the request socket expired with its timer
    (Linux: tcp_synack_retries, its accept queue full or the ACKs dropped before it;
    helper-100's ackdrop2, where the kernel kept SYN_RCVD, then nothing), or the RST answers a
    later segment of the client's while the listener still held the request
    (request_still_held): that segment would have made the connection and met a full accept
    queue (tcp_abort_on_overflow=1; helper-100's abortov, the ACK dropped after the capture
    point). A RST to the ACK itself, later than at once, may be a socket's gone since; a RST
    past the SYN/ACK timer without a resend, a connection made and gone."""
    acks: list[Segment] = []
    synack: Segment | None = None
    resent_after_ack = False
    for index in range(1, len(segments)):
        previous, segment = segments[index - 1], segments[index]
        if segment.flags & (SYN | ACK) == SYN | ACK:
            synack = segment
        if acks and (segment.src, segment.sport) != (acks[0].src, acks[0].sport):
            if segment.flags & (SYN | ACK) == SYN | ACK:
                resent_after_ack = True
                continue
            if not (segment.flags & RST and answers_for_no_socket(segment, previous)):
                return set()
            if made_nearer(segment, segments[:index]):
                return set()  # not the server's own RST: a firewall's reject says nothing of its ACK
            went_on = any(
                (s.src, s.sport) == (segment.src, segment.sport) and not s.flags & RST
                for s in segments[index + 1 :]
            )
            held = previous is not acks[-1] and synack is not None and request_still_held(synack, segment)
            return {ack.frame for ack in acks} if (resent_after_ack or held) and not went_on else set()
        if (
            segment.flags & (SYN | FIN | RST | ACK) == ACK
            and segment.ack in synack_ends
            and not segment.payload_len
        ):
            acks.append(segment)
        elif not acks and (segment.flags & (FIN | RST) or segment.payload_len):
            return set()  # not a handshake's ACK first: the rule does not apply
    return set()


def _not_taken_by_listener(
    segments: list[Segment], earlier: dict[int, int], synack_ends: set[int], crossing: float
) -> set[int]:
    """The handshake's last ACK and the client's segments after it that the server never
    answered while the client's timer sent its first data again and again (see the module's
    rules): all but the copy the server's first word acknowledges."""
    index = next(
        (
            i for i, s in enumerate(segments)
            if s.flags & (SYN | FIN | RST | ACK) == ACK and s.ack in synack_ends and not s.payload_len
        ),
        -1,
    )  # fmt: skip
    if index < 0:
        return set()
    client = (segments[index].src, segments[index].sport)
    # The server's first word after the ACK: not its SYN/ACK sent again (its request socket's
    # timer: it still had no connection, the ACK and data not taken; helper-100's synq, a
    # firewall dropping all but SYNs for 1.5 s, the client's ACK to that copy dropped too).
    answer = next(
        (
            i for i in range(index + 1, len(segments))
            if (segments[i].src, segments[i].sport) != client and segments[i].flags & (SYN | ACK) != SYN | ACK
        ),
        -1,
    )  # fmt: skip
    end = answer if answer >= 0 else len(segments)
    first = next((i for i in range(index + 1, end) if segments[i].payload_len), -1)
    copies = [first] if first >= 0 else []
    for i in range(first + 1, end) if first >= 0 else ():
        if earlier.get(i) == copies[-1]:
            copies.append(i)
    if answer < 0:
        # Never a word after the SYN/ACK, the first data sent again by a backing-off timer
        # NEVER_ANSWERED_RESENDS times: the listener took none of it (a SYN cookie's ACK the
        # full accept queue dropped keeps nothing, and no SYN/ACK goes again; helper-150: 171
        # connections shown ESTABLISHED and complete), or the path lost it all.
        if (
            len(copies) <= NEVER_ANSWERED_RESENDS
            or segments[first].payload_len >= BLACK_HOLE_LEAST
            or any((s.src, s.sport) != client and not s.flags & SYN for s in segments[index:])
            or segments[copies[1]].time - segments[first].time <= min(crossing, RTO_MIN)
        ):
            return set()
        return {s.frame for s in segments[index:] if (s.src, s.sport) == client}
    reply = segments[answer]
    synack = next(
        (
            s for s in reversed(segments[:answer])
            if s.flags & (SYN | ACK) == SYN | ACK and (s.src, s.sport) != client
        ),
        None,
    )  # fmt: skip
    # The client's SYN sent again before: the listener was dropping SYNs just then (a full
    # queue drops them too), and one unanswered resend of the data is enough.
    syn_again = any(
        segments[i].flags & (SYN | ACK) == SYN and (segments[i].src, segments[i].sport) == client
        for i in earlier
        if i < index
    )
    if (
        len(copies) < 1 + (1 if syn_again else LISTENER_RESENDS)
        or reply.flags & (SYN | RST)
        or not reply.flags & ACK
        or seq_diff(reply.ack, segments[copies[-1]].seq_end) < 0
        # A D-SACK in it: a copy before arrived twice over (its ACK was lost), no listener's drop.
        or duplicate_sack(reply)
        # A timer's resend, not one that crossed an answer (the SYN's own resends make the
        # crossing window long: a timer fires by RTO_MIN).
        or segments[copies[1]].time - segments[first].time <= min(crossing, RTO_MIN)
        # Silent past a request socket's SYN/ACK timer, and what got through at last smaller:
        # the ACK had made the connection (SYNACK_SILENCE_MOST).
        or (
            synack is not None
            and reply.time - synack.time > SYNACK_SILENCE_MOST + crossing
            and segments[copies[-1]].payload_len < segments[first].payload_len
        )
    ):
        return set()
    return {s.frame for s in segments[index : copies[-1]] if (s.src, s.sport) == client}


class _Reach:
    """Which acknowledgments acknowledge a SYN of ISN `isn` from `sender`: those above the
    ISN up to what the sender had sent on from it (contiguously) before them."""

    def __init__(self, segments: list[Segment], sender: tuple[str, int], isn: int) -> None:
        self.segments = segments
        self.sender = sender
        self.isn = isn
        self.end = (isn + 1) % MOD
        self.read = 0  # segments[:read] looked at

    def acknowledges(self, ack: int, before: int) -> bool:
        segments, isn = self.segments, self.isn
        while self.read < before:
            segment = segments[self.read]
            self.read += 1
            if (segment.src, segment.sport) != self.sender or segment.flags & RST:
                continue
            offset = seq_diff(segment.seq, isn)
            if 0 <= offset <= seq_diff(self.end, isn) and seq_diff(segment.seq_end, self.end) > 0:
                self.end = segment.seq_end
        return 0 < seq_diff(ack, isn) <= seq_diff(self.end, isn)


def _answers_peer(segments: list[Segment], previous: int, index: int, crossing: float) -> bool:
    """A FIN sent again at once to acknowledge the peer's FIN, which its first copy did not:
    the end's answer to that FIN (a BSD stack sets FIN on every segment while its own is
    unacknowledged, so the ACK of the peer's FIN in a simultaneous close carries it again),
    not a timer's resend. It proves nothing of the first copy."""
    earlier, copy = segments[previous], segments[index]
    if not copy.flags & earlier.flags & ACK or seq_diff(copy.ack, earlier.ack) <= 0:
        return False
    # Sooner than any retransmission timer (a handshake's lost SYN makes `crossing` long).
    if copy.time - earlier.time > min(crossing, RTO_MIN):
        return False
    sender = (copy.src, copy.sport)
    for position in range(index - 1, -1, -1):
        peer = segments[position]
        if (peer.src, peer.sport) == sender or peer.flags & RST or not peer.flags & FIN:
            continue
        return peer.seq_end == copy.ack  # the peer's latest FIN, which the copy acknowledges
    return False


def _crossed_peer_syn(segments: list[Segment], syn: int, crossing: float) -> bool:
    """Whether the peer's SYN (without ACK) came within the crossing window before
    segments[syn]: the two SYNs crossed in flight (a simultaneous open), and the SYN/ACK
    the end sends next answers the peer's, as when it comes between them."""
    own = segments[syn]
    for position in range(syn - 1, -1, -1):
        before = segments[position]
        if own.time - before.time > crossing:
            return False
        if (before.src, before.sport) != (own.src, own.sport) and before.flags & (SYN | ACK | RST) == SYN:
            return True
    return False


def _first_answer(segments: list[Segment], syn: int, position: int) -> bool:
    """Whether segments[position] is the first the SYN's peer sent after segments[syn]."""
    peer = (segments[position].src, segments[position].sport)
    return not any((s.src, s.sport) == peer for s in segments[syn + 1 : position])


def _acknowledged_before(segments: list[Segment], index: int, covered: int, reach: _Reach | None) -> bool:
    """Whether the peer's last acknowledgment before segments[index] covered `covered`
    (`reach`: for a SYN, which acknowledgments acknowledge it)."""
    sender = (segments[index].src, segments[index].sport)
    for position in range(index - 1, -1, -1):
        before = segments[position]
        if (before.src, before.sport) != sender and before.flags & ACK and not before.flags & RST:
            if reach is not None:
                return reach.acknowledges(before.ack, position)
            return seq_diff(before.ack, covered) >= 0
    return False
