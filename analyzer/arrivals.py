"""Which of a receiver's state changes the capture proves: a segment in the file reached the
capture point, not necessarily its receiver.

The state machine (tcp_state.py) moves a receiver on every segment it would accept, as if
the capture had been taken at it. This module keeps such a move only where the capture
shows it happened:
- the capture was taken at the receiver, or on the host both ends run on (the vantage,
  findings/vantage.py): what the file holds reached it. Likewise where nothing places the
  capture away from either end (vantage "unknown": both handshake legs at once, both ends'
  TTLs untouched, or nothing to read them from): one host or one LAN, read as if at both;
- or the receiver's later segments show it arrived: one of them acknowledges it (an
  acknowledgment at or past the segment's end; acknowledgments are cumulative). A pure ACK
  occupies no numbers, so that shows nothing: its receiver's next segment must go on rather
  than send again what the ACK acknowledged (a resend crossing it); after such a resend, the
  move is at the first later ACK of as much that the receiver's next segment goes on after;
  or its bare RST (no socket) RESEND_SILENCE or more after the ACK, with nothing the ACK
  acknowledged sent again in between: a socket the ACK never reached resends before it is
  gone (a FIN_WAIT_2 whose timer ran out, in place of UNKNOWN beside that diagnosis);
  or its bare RST at the acknowledgment number of the peer's new data (Linux's answer to data
  its closed socket took): that data arrived, and all it acknowledged with it (a keep-alive's
  old byte draws an ACK from a socket: a RST for it shows none was there).
  A receiver that is not at the capture point moves at the latest capture of what moved it:
  a router's copy of it as it left (after its queue), not the segment as it came in.
A SYN/ACK to an end in SYN_SENT is the exception both ways: a socket that takes one
acknowledges it at once, so the move to ESTABLISHED it brings is kept only when the receiver acknowledges it, wherever
the capture was taken (a SYN scan's scanner, which has no socket, never does). A RST is
never acknowledged: its move is kept only where the capture was taken at its receiver, or
where it put a listener's SYN_RCVD back to LISTEN and the listener's next segment is a
SYN/ACK to another SYN (RFC 9293's recovery from an old duplicate SYN); and never where the
same RST (its sender's, of the same numbers, flags, window and TTL: rst_twin_key) came before and did not reach the receiver
(tcp_state.never_arrived: the receiver went on sending): what dropped those on the way (a
firewall's rule) may have dropped it too, wherever the capture was taken.

From the first move the capture does not prove, the end's state is State.UNKNOWN, with a
sentence that says which segment and what the end would be in had it arrived; only the
end's own RST, which closes it whatever it was in, tells its state again.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field

from analyzer.connections import Connection, Side, one_hop_on, peer_of
from analyzer.decode.segment import (
    ACK,
    FIN,
    RST,
    SYN,
    UNSEEN,
    Segment,
    frame_of,
    made_nearer,
    nearer_than,
    sender_marks,
    seq_diff,
)
from analyzer.findings.vantage import POINT_TEXT
from analyzer.listing import shortened
from analyzer.loss_inference import CROSSING_FLOOR
from analyzer.tcp_state import State, Step, never_arrived

# How far after a pure ACK its receiver's segments are read for one that shows it arrived.
CARRIER_WALK = 4_096
# How far below an acknowledgment data sent again may start: beyond, it is another ISN's.
RESEND_REACH = 1 << 30
# Seconds after a pure ACK past which a receiver that never took it would have sent again what
# it acknowledges: its retransmission timer's first timeout (RFC 6298's initial RTO is 1 s,
# Linux's floor 200 ms) is shorter, and only a socket that took it goes without resending.
RESEND_SILENCE = 3.0


@dataclass
class ProvenStates:
    """Each end's history with the moves the capture does not prove made UNKNOWN."""

    states: dict[Side, list[tuple[float, State]]]
    frames: dict[Side, list[int | None]]
    notes: dict[Side, str] = field(default_factory=dict)  # why an end's state is unknown from a move on


def prove_states(
    connection: Connection,
    states: dict[Side, list[tuple[float, State]]],
    frames: dict[Side, list[int | None]],
    point: str,
    latest: dict[Side, Segment | None] | None = None,
    silent: frozenset[Side] = frozenset(),
    unarrived: dict[tuple[Side, int, int, int, int, int], list[int]] | None = None,
) -> ProvenStates:
    """`states` and `frames` as the machine made them (not changed); `point`: the vantage;
    `latest`: each end's latest segment that acknowledges the most (Endpoint.most_acked), for
    a long connection that kept only some of its segments; `silent`: the ends none of whose
    segments are in the capture; `unarrived`: by receiver and rst_twin_key, the
    frames of the RSTs that never reached their receiver (tcp_state.never_arrived)."""
    proven = ProvenStates({}, {})
    for side in ("client", "server"):
        history, causes = states[side], frames[side]
        later = _Later(connection, side, (latest or {}).get(side))
        shifts: dict[int, tuple[float, int]] = {}
        cut = _first_unproven(
            side, history, causes, later, point, connection, silent, shifts, unarrived or {}
        )
        if shifts:
            history, causes = list(history), list(causes)
            for index, (moved_at, moved_by) in shifts.items():
                history[index] = (moved_at, history[index][1])
                causes[index] = moved_by
        if cut is None:
            proven.states[side], proven.frames[side] = history, causes
            continue
        index, why, moment = cut
        kept, kept_frames = history[:index], causes[:index]
        time, frame = moment if moment is not None else (history[index][0], causes[index])
        kept.append((time, State.UNKNOWN))
        kept_frames.append(frame)
        # Its own RST closes it whatever it was in: from there its state is known again.
        rest = index if moment is not None else index + 1  # the moves after the one made unknown
        for (time, state), frame in zip(history[rest:], causes[rest:], strict=True):
            segment = later.segment(frame)
            if segment is not None and segment.flags & RST and connection.sender(segment) == side:
                kept.append((time, state))
                kept_frames.append(frame)
        if kept[-1][1] == State.UNKNOWN:
            marks: tuple[int, tuple[int, ...]] | None = None  # the side's, read once needed
            # A RST sent from where the machine had it closed already (a timer's CLOSED, no
            # move of its own): it tells the end is CLOSED all the same; not one made nearer
            # the capture point in its name (a firewall's).
            reset = next(
                (
                    s
                    for s in connection.segments
                    if s.flags & RST
                    and connection.sender(s) == side
                    and s.time >= kept[-1][0]
                    and s.frame not in kept_frames
                    and not nearer_than(s, marks := marks or sender_marks(connection.segments, s))
                ),
                None,
            )
            if reset is not None:
                kept.append((reset.time, State.CLOSED))
                kept_frames.append(reset.frame)
        proven.states[side], proven.frames[side] = kept, kept_frames
        proven.notes[side] = why
    return proven


def unarrived_resets(
    connection: Connection, steps: list[Step]
) -> dict[tuple[Side, int, int, int, int, int], list[int]]:
    """prove_states' `unarrived`: the frames of the RSTs that never reached their receiver
    (tcp_state.never_arrived), by receiver and rst_twin_key."""
    unarrived: dict[tuple[Side, int, int, int, int, int], list[int]] = {}
    for step in steps:
        rst = step.segment
        if rst.flags & RST and never_arrived(step):
            unarrived.setdefault((peer_of(connection.sender(rst)), *rst_twin_key(rst)), []).append(rst.frame)
    return unarrived


def rst_twin_key(rst: Segment) -> tuple[int, int, int, int, int]:
    """What makes RSTs the same for the rule above: numbers, flags, window and TTL (a RST
    injected in an end's name differs in its TTL or window from the end's own: helper-137)."""
    return rst.seq, rst.ack, rst.flags, rst.window, rst.ttl


def _first_unproven(
    side: Side,
    history: list[tuple[float, State]],
    causes: list[int | None],
    later: _Later,
    point: str,
    connection: Connection,
    silent: frozenset[Side],
    shifts: dict[int, tuple[float, int]],
    unarrived: dict[tuple[Side, int, int, int, int, int], list[int]],
) -> tuple[int, str, tuple[float, int] | None] | None:
    """The index of `side`'s first move the capture does not prove, why, and when the state
    became unknown if not at that move (time, frame); None if all are. `shifts` takes the
    proven moves that happened later than their segment was captured: when (time, frame)."""
    at_receiver = point in ("one_host", "unknown", side)
    for index in range(1, len(history)):
        frame = causes[index]
        segment = later.segment(frame)
        if segment is None:
            continue  # a timeout from the call log
        if connection.sender(segment) == side:
            if segment.flags & FIN and history[index][1] == State.FIN_WAIT_1 and peer_of(side) in silent:
                # None of the peer's packets are in the capture: whether its FIN had come
                # (LAST_ACK) or not (FIN_WAIT_1), an acknowledgment cannot tell (a FIN and a
                # byte of data advance it alike), unless the end later acknowledges more: the
                # peer's numbers went on past what the FIN acknowledged, so no FIN of the
                # peer's was among them (nothing follows a FIN).
                more = later.acknowledging_more(segment)
                if more is None:
                    return index, (
                        f"the {side}'s state from frame {frame} on is unknown: none of the {peer_of(side)}'s "
                        f"packets are in the capture, so whether its FIN had come before the {side}'s own "
                        "(LAST_ACK) or not (FIN_WAIT_1) cannot be told"
                    ), None  # fmt: skip
                return index + 1, (
                    f"the {side}'s state from frame {more.frame} on is unknown: none of the {peer_of(side)}'s "
                    f"packets are in the capture; its FIN (frame {frame}) left in FIN_WAIT_1 (frame {more.frame} "
                    f"acknowledges more of the {peer_of(side)}'s numbers than the FIN did, so no FIN of the "
                    f"{peer_of(side)}'s had come before it), and what it took since, the ACK of its FIN or "
                    f"the {peer_of(side)}'s FIN, does not show"
                ), (more.time, more.frame)  # fmt: skip
            continue  # its own send
        state = history[index][1]
        if segment.flags & RST:
            twins = [
                twin for twin in unarrived.get((side, *rst_twin_key(segment)), ()) if twin < segment.frame
            ]
            if twins:
                many = len(twins) > 1
                return index, (
                    f"the {side}'s state from frame {frame} on is unknown: that RST is the same as "
                    f"frame{'s' if many else ''} {shortened([str(twin) for twin in twins])} (the {peer_of(side)}'s, "
                    f"of the same numbers, flags, window and TTL), {'none of which' if many else 'which never'} reached the {side} (it went "
                    f"on sending after {'each' if many else 'it'}: dropped on the way, as by a firewall's rule); "
                    f"whether frame {frame} did the capture does not tell; had it, the {side} would be in "
                    f"{state.value}"
                ), None  # fmt: skip
        synack = segment.flags & (SYN | ACK) == SYN | ACK
        if synack and state == State.ESTABLISHED and history[index - 1][1] == State.SYN_SENT:
            if later.acknowledges(segment):
                if not at_receiver:
                    _move_later(history, causes, index, later.sighting(segment), shifts)
                continue
            if side in silent:
                beyond = later.acknowledging_more(segment, by_peer=True)
                if beyond is not None:
                    return index + 1, (
                        f"the {side}'s state from frame {beyond.frame} on is unknown: none of its packets are "
                        f"in the capture; the {peer_of(side)} acknowledging more than its ISN+1 (frame "
                        f"{beyond.frame}) shows it took the SYN/ACK (frame {frame}) and sent on: its data, or "
                        "its FIN, which does not show"
                    ), (beyond.time, beyond.frame)  # fmt: skip
                return index, (
                    f"the {side}'s state from frame {frame} on is unknown: none of its packets are in the "
                    f"capture, so whether it took the SYN/ACK (frame {frame}) cannot be told; a socket that "
                    "took it would be ESTABLISHED"
                ), None  # fmt: skip
            where = "reached it" if at_receiver else "reached the capture point"
            return index, (
                f"the {side}'s state from frame {frame} on is unknown: it never "
                f"acknowledged the SYN/ACK (frame {frame}) that {where}, so no socket took it (a SYN scan's "
                "raw probe, or a connect() given up) or it never arrived; a socket that took it would be "
                "ESTABLISHED"
            ), None  # fmt: skip
        if at_receiver:
            continue
        if not segment.flags & RST:
            if segment.seq_space:
                if later.acknowledges(segment) or later.reset_for(segment):
                    _move_later(history, causes, index, later.sighting(segment), shifts)
                    continue
            else:
                carrier, resend = later.carrier(segment, state == State.CLOSED)
                if carrier is not None:
                    _move_later(history, causes, index, carrier, shifts)
                    continue
                if resend is not None:
                    what = (
                        "its FIN" if resend.flags & FIN else "its SYN/ACK" if resend.flags & SYN else "data"
                    )
                    return index, (
                        f"the {side}'s state from frame {resend.frame} on is unknown: it sent {what} again "
                        f"(frame {resend.frame}) after frame {frame} had acknowledged it, so frame {frame} had not "
                        f"reached it then, and nothing it sent later shows that frame {frame} or a later "
                        f"acknowledgment did; had one, the {side} would be in {state.value}"
                    ), (resend.time, resend.frame)  # fmt: skip
        if segment.flags & RST and state == State.LISTEN and later.listened_again(segment):
            continue
        shown = (
            "a RST is never acknowledged"
            if segment.flags & RST
            else f"nothing the {side} sent after acknowledges it"
        )
        return index, (
            f"the {side}'s state from frame {frame} on is unknown: the capture was "
            f"taken {POINT_TEXT.get(point, point)}, frame {frame} may not have reached the {side} ({shown}); "
            f"had it, the {side} would be in {state.value}"
        ), None  # fmt: skip
    return None


def _move_later(
    history: list[tuple[float, State]],
    causes: list[int | None],
    index: int,
    seen: Segment,
    shifts: dict[int, tuple[float, int]],
) -> None:
    """Moves the receiver's move at `index` to `seen`, the latest capture of what moved it (a
    router's capture of the segment as it left, after its queue), unless a later move of the
    end's came before that."""
    if seen.frame == causes[index]:
        return
    if index + 1 < len(history) and history[index + 1][0] < seen.time:
        return
    shifts[index] = (seen.time, seen.frame)


class _Later:
    """What `side` sent after a segment, read from the segment on (a SYN/ACK's answer is the
    next segment or so: nothing is read twice over for the connections that hold one)."""

    def __init__(self, connection: Connection, side: Side, latest: Segment | None) -> None:
        self.segments, self.side, self.connection = connection.segments, side, connection
        self.latest = latest  # what acknowledges the most, which a long connection may not have kept
        self._sightings: dict[int, Segment] | None = None

    def sighting(self, segment: Segment) -> Segment:
        """The latest capture of `segment`: its latest copy that a router or a bridge sent on
        (connections.py: captured coming in and, after its queue, going out), or itself."""
        if self._sightings is None:
            self._sightings = {}
            for copy, original in self.connection.copies:
                first = self.segment(original)
                if first is None or not _sent_on(copy, first):
                    continue  # the same packet captured twice at one place: no later news of it
                known = self._sightings.get(original)
                if known is None or copy.time > known.time:
                    self._sightings[original] = copy
        seen = self._sightings.get(segment.frame)
        return (
            seen if seen is not None and seen.frame > segment.frame and seen.time >= segment.time else segment
        )

    def carrier(self, ack: Segment, closes: bool) -> tuple[Segment | None, Segment | None]:
        """For a segment to `side` with no numbers of its own (a pure ACK: every later segment
        "acknowledges" it, so none shows it arrived): the latest capture of it, or of a later
        segment of its sender's that acknowledges as much, after which `side` sent on without
        sending again what it acknowledges (None if `side` never did), and the last such
        resend of `side`'s before that (the acknowledgment had not reached it then). `closes`:
        the acknowledgment moved `side` to CLOSED."""
        segments, side, sender = self.segments, self.side, self.connection.sender
        start = self.index(ack.frame)
        if start is None:
            return self.sighting(ack), None  # not kept (a long connection): read as before
        resend = None
        for position in range(start + 1, min(len(segments), start + 1 + CARRIER_WALK)):
            sent = segments[position]
            if sender(sent) != side:
                continue
            behind = seq_diff(sent.seq_end, ack.ack)
            keep_alive = sent.payload_len == 1 and seq_diff(sent.seq, ack.ack) == -1
            if (sent.flags & (SYN | FIN) and behind == 0) or (
                sent.payload_len and not keep_alive and -RESEND_REACH < behind <= 0
            ):
                # Its SYN or FIN, the last number the acknowledgment covers, or data it covers (not
                # a keep-alive's byte, one below it), sent again.
                resend = sent
                continue
            if not sent.flags & ACK and not (sent.flags & RST and closes):
                if sent.flags & RST and resend is None and sent.time - ack.time >= RESEND_SILENCE:
                    # A bare RST says its socket is gone, which only a move to CLOSED foretold;
                    # but a socket the acknowledgment never reached would have sent again
                    # before it was gone (FIN_WAIT_1's orphan resends its FIN for minutes), and
                    # the path carried its RST: the socket took the acknowledgment, then a timer
                    # ended it (FIN_WAIT_2's, after tcp_fin_timeout).
                    return self.sighting(ack), None
                if sent.flags & RST and resend is None:
                    # The peer's data after `ack` that this RST answers (reset_for), acknowledging
                    # as much: it arrived, and carried the acknowledgment.
                    answered = next(
                        (
                            s for s in reversed(segments[start + 1 : position])
                            if sender(s) != side and seq_diff(s.ack, ack.ack) >= 0 and self.reset_for(s)
                        ),
                        None,
                    )  # fmt: skip
                    if answered is not None:
                        return self.sighting(answered), None
                continue
            if resend is None:
                return self.sighting(ack), None
            # The first capture after the resend of one that carries the acknowledgment.
            seen = [self.sighting(ack)] + [
                self.sighting(s) for s in segments[start + 1 : position]
                if sender(s) != side and s.flags & ACK and not s.flags & RST and seq_diff(s.ack, ack.ack) >= 0
            ]  # fmt: skip
            after = [s for s in seen if s.frame > resend.frame]
            return (min(after, key=frame_of) if after else None), resend
        latest = self.latest
        if resend is None and latest is not None and latest.frame > ack.frame:
            return self.sighting(ack), None
        return None, resend

    def index(self, frame: int) -> int | None:
        """Where frame `frame` is among the segments (in frame order), if it was kept."""
        segments = self.segments
        index = bisect_left(segments, frame, key=frame_of)
        return index if index < len(segments) and segments[index].frame == frame else None

    def segment(self, frame: int | None) -> Segment | None:
        index = self.index(frame) if frame is not None else None
        return self.segments[index] if index is not None else None

    def acknowledges(self, segment: Segment) -> bool:
        """Whether a segment of `side` after `segment` acknowledges all of it."""
        end, side, sender = segment.seq_end, self.side, self.connection.sender
        segments = self.segments
        start = self.index(segment.frame)
        for position in range(len(segments) if start is None else start + 1, len(segments)):
            later = segments[position]
            if later.flags & ACK and sender(later) == side and seq_diff(later.ack, end) >= 0:
                return True
        # One captured just before it that acknowledges all its numbers (data, a FIN) was sent
        # after it arrived: the capture saw the two out of order (tcp_state.py, "Captured
        # before what it answers").
        position = start if start is not None and segment.seq_space else 0
        while position > 0 and segments[position - 1].time >= segment.time - CROSSING_FLOOR:
            position -= 1
            earlier = segments[position]
            if earlier.flags & ACK and sender(earlier) == side and seq_diff(earlier.ack, end) >= 0:
                return True
        latest = self.latest
        return (
            latest is not None
            and latest.frame > segment.frame
            and bool(latest.flags & ACK)
            and seq_diff(latest.ack, end) >= 0
        )

    def reset_for(self, data: Segment) -> bool:
        """Whether `side`'s next segment after `data` (its peer's, with data past all `side`
        had acknowledged) is a bare RST at `data`'s acknowledgment number: Linux's answer to
        new data its closed socket took (tcp_v4_send_reset echoes the segment's ack), so `data`
        arrived. Old data (a keep-alive's byte) a socket answers with an ACK: a RST for it says
        no socket was there."""
        start = self.index(data.frame)
        if start is None or not data.payload_len or not data.flags & ACK:
            return False
        sender, side, segments = self.connection.sender, self.side, self.segments
        answer = next((s for s in segments[start + 1 :] if sender(s) == side), None)
        if answer is None or answer.flags & (RST | ACK) != RST or answer.seq != data.ack:
            return False
        if made_nearer(answer, segments[:start]):
            return False  # a firewall's reject in `side`'s name: nothing of what `side` took
        acked = next(
            (
                s
                for s in reversed(segments[max(0, start - CARRIER_WALK) : start])
                if sender(s) == side and s.flags & ACK
            ),
            None,
        )
        return acked is not None and seq_diff(data.data_end, acked.ack) > 0

    def acknowledging_more(self, segment: Segment, by_peer: bool = False) -> Segment | None:
        """The first segment after `segment` that acknowledges more than it did: `side`'s own,
        or with `by_peer` its peer's."""
        start = self.index(segment.frame)
        if start is None or not segment.flags & ACK:
            return None
        sender, side = self.connection.sender, self.side
        return next(
            (
                s for s in self.segments[start + 1 :]
                if (sender(s) != side) is by_peer and s.flags & ACK and not s.flags & RST
                and seq_diff(s.ack, segment.ack) > 0
            ),
            None,
        )  # fmt: skip

    def listened_again(self, rst: Segment) -> bool:
        """Whether the first segment `side` sends after `rst` is a SYN/ACK acknowledging
        another SYN than its SYN/ACK before it did: it was listening again, so the RST that
        reset its SYN_RCVD arrived (an end still in SYN_RCVD answers a SYN with its old one)."""
        segments, side, sender = self.segments, self.side, self.connection.sender
        start = self.index(rst.frame)
        if start is None:
            return False
        before = next(
            (
                s
                for s in reversed(segments[:start])
                if sender(s) == side and s.flags & (SYN | ACK) == SYN | ACK
            ),
            None,
        )
        after = next((s for s in segments[start + 1 :] if sender(s) == side), None)
        return (
            before is not None
            and after is not None
            and after.flags & (SYN | ACK | RST) == SYN | ACK
            and after.ack != before.ack
        )


def _sent_on(copy: Segment, first: Segment) -> bool:
    """`copy` is `first` as a router (TTL one lower) or a bridge (another interface) sent it on."""
    return one_hop_on(copy, first) or (
        UNSEEN not in (copy.interface, first.interface) and copy.interface != first.interface
    )
