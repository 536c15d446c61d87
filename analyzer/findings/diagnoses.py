"""Diagnoses from the packets alone: what went wrong (or on) in a connection, each with a
stable `kind`, the frames that show it, one plain sentence, and a Wireshark display filter
that shows those frames.

Kinds, and the rule each follows:
- close_wait_held: an end acknowledged its peer's FIN, then sent neither FIN nor data for
  longer than a round trip plus CLOSE_WAIT_PATIENCE (the delayed ACK's 200 ms and a
  scheduler's slack): its application had read the end of the stream and did not close.
  Measured to its FIN or RST, to the peer's RST (which ends the connection, the CLOSE_WAIT
  with it), or to the capture's end ("at least"). An end that had closed first holds no
  CLOSE_WAIT; a server whose client's FIN came after a request it had not answered yet
  (sent with shutdown(SHUT_WR)), or a client whose server's FIN came with data (within a
  round trip and CLOSE_WAIT_PATIENCE of it), was working on its answer until its next data:
  that wait is not counted.
- fin_wait_2_expired: a RST whose cause is the FIN_WAIT_2 timer (findings/resets.py has the
  rule): its sender's orphaned socket had been ended and the 4-tuple belonged to nobody.
- keep_alive: keep-alive probes (one byte, or none, one below the next sequence number:
  Wireshark's rule, findings/retransmissions.py), their answers, the interval between
  them; a keep-alive timeout when the last probes went unanswered and the prober reset.
  Each end's own, where both probe; a probe comes a second at least after what its sender
  last took in and after its own last data or FIN (a byte sent again sooner is a resend).
- zero_window: an end advertised a zero window: how long until it opened it again (or
  the capture ended), and the window probes the peer sent meanwhile.
- tail_loss_probe: the first resend of the last data its sender had sent (or one new
  segment), after a silence from the peer (no duplicate ACK, no SACK, nothing acknowledged
  since), about one probe timeout after the last send: Linux's loss probe (RFC 8985 7).
  The kernel's timer (net/ipv4/tcp_output.c, tcp_schedule_loss_probe) is 2 x SRTT, plus
  tcp_rto_min (200 ms: the peer's delayed ACK) with one segment in flight or TCP_TIMEOUT_MIN
  (two jiffies: 2 ms at HZ=1000 to 20 ms at HZ=100) with more, 1 s without an RTT sample,
  and never later than the RTO; SRTT as the sender would have it, from its data's ACKs (the
  handshake's RTT until one); it is armed
  only on a connection that negotiated SACK. The probe resends the tail (the RTO resends
  the head). What the next ACK says is its outcome: it covers the probe without a DSACK
  (the original was lost: the probe repaired it without waiting for the RTO), a DSACK
  for it (RFC 2883: the original had arrived, the probe was spurious), a SACK of the probe
  with a hole before it (earlier data lost), or no answer (the RTO follows).
- retransmission_timeout: one segment of data sent three times or more, its resends
  spaced by a backoff (findings/backoff.py, as for SYNs): intervals, pattern, initial RTO
  and factor. A segment resent once is a retransmission, not yet a backoff; but one resent by
  loss recovery (SACK, duplicate ACKs) and then again RTO_MIN or more later had its recovery
  resend lost too, and the timer sent it (one timeout, no backoff to read). A tail loss
  probe that opened the chain is no RTO: the backoff is measured from it (Linux arms the
  RTO when the probe leaves), also from one that sent new data instead (sent alone after a
  timer's silence, between the first send and the first resend). Not where the copies' IPv4 identifications show they came in
  another order than sent: the capture is behind a path that reorders, and their intervals
  are the path's delays, not the sender's timer.
- rst_with_data: a RST that carries data (RFC 9293 3.5.3 allows a diagnostic text): the
  text is shown.
- injected_rst: a RST whose IP TTL (hop limit) is resets.INJECTED_TTL_GAP or more away from every
  other packet of its claimed sender: another box on the path likely sent it. Also one the
  state machine found made nearer the capture point (tcp_state.py, "RSTs made nearer": a TTL
  above all its sender's others, or captured on an interface none of them came in on).
- path_mtu: an ICMP fragmentation needed or ICMPv6 Packet Too Big error quoting a segment of
  the connection (path MTU discovery, RFC 1191 and 8201), one for each side and MTU (a
  router answers each segment of a flight): the MTU it names and how the segments' sender
  resent the refused data, in segments that fit it (its stack lowered its MSS), still too
  big for it (the error did not reach its stack, or the capture was taken before
  segmentation offload cut them), or not at all (a black hole, if it never did).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import Counter
from dataclasses import dataclass
from itertools import pairwise
from typing import Final

from analyzer.connections import Connection, quoted_segment
from analyzer.decode.headers import IPV4_MIN_HEADER, IPV6_HEADER, TCP_MIN_HEADER
from analyzer.decode.icmp_codes import describe
from analyzer.decode.segment import (
    ACK,
    FIN,
    MOD,
    RST,
    RST_DATA_KEPT,
    SYN,
    UNSEEN,
    Segment,
    Unreachable,
    duplicate_sack_of,
    frame_of,
    seq_diff,
)
from analyzer.findings.backoff import TOLERANCE, classify_backoff
from analyzer.findings.gaps import ID_ADJACENT, ID_REACH, id_order, ids_count_on
from analyzer.findings.resets import Reset, foreign_ttl, own_ttls
from analyzer.findings.retransmissions import SequenceAnalysis
from analyzer.loss_inference import BLACK_HOLE_LEAST, RTO_MIN, unechoed_acks
from analyzer.timefmt import between, epoch_seconds, format_duration, stamp_of

# A FIN that follows the peer's within a round trip and this much more is a prompt close.
CLOSE_WAIT_PATIENCE: Final = 0.5
# The sequence flags whose segments these rules read: a folded connection keeps them
# (long_connection.py), with the resends of data.
READ_FLAGS: Final = frozenset(("keep_alive", "keep_alive_ack", "zero_window", "zero_window_probe"))
# A segment sent this many times (two resends) shows a backoff, each resend a timer's
# (Linux's shortest, the tail loss probe, waits 10 ms; copies come sooner).
BACKOFF_MIN_SENDS: Final = 3
MIN_TIMEOUT: Final = 0.010
# Keep-alive probes whose intervals differ more than this ratio are listed, not "every".
KEEP_ALIVE_UNEVEN: Final = 1.5
KEEP_ALIVE_LISTED: Final = 6  # intervals listed, then how many more
# A lone resend after loss recovery's is a timer's from this share of RTO_MIN on (the capture's
# clock and the sender's timer wheel differ by a few milliseconds).
SINGLE_RTO_SHARE: Final = 0.95
_DOUBLING: Final = frozenset(("exponential", "linear-then-exponential"))
# A keep-alive is sent after the connection was idle (Linux's tcp_keepalive_time is at
# least a second): a segment Wireshark's rule flags sooner is something else.
KEEP_ALIVE_MIN_IDLE: Final = 1.0
# The loss probe timeout's terms (tcp_schedule_loss_probe): the peer's delayed ACK allowed
# for with one segment in flight (tcp_rto_min), the timer's least otherwise
# (TCP_TIMEOUT_MIN_US), and the timeout without an RTT sample (TCP_TIMEOUT_INIT).
PROBE_DELAYED_ACK: Final = 0.200
PROBE_TIMER_MIN: Final = 0.002
# TCP_TIMEOUT_MIN is two jiffies: 2 ms at HZ=1000, 8 ms at 250 (Debian's), 20 ms at 100. A
# capture does not say the sender's HZ: a probe is taken up to the longest.
PROBE_TIMER_MAX: Final = 0.020
PROBE_WITHOUT_RTT: Final = 1.0
# A probe may leave this much later than the timeout computed from the handshake's RTT:
# timers tick in jiffies (4 ms at HZ=250), and the kernel's SRTT is its own average.
PROBE_SLACK: Final = 0.25
PROBE_SLACK_LEAST: Final = 0.010
# A path_mtu diagnosis's errors in its frames (and display filter), at most.
ERRORS_FILTERED: Final = 20
# How much of a RST's data is shown.
RST_TEXT_SHOWN: Final = 200
RST_TEXT_MARKED: Final = 24  # in a picture's mark


@dataclass
class Diagnosis:
    kind: str
    frames: list[int]
    sentence: str
    # A few words for the pictures at each evidence frame ("keep-alive", "RTO backoff ×2"): what
    # that frame shows of it. The first frame's is the diagnosis's label.
    marks: dict[int, str]

    def __init__(
        self, kind: str, frames: list[int], sentence: str, marks: dict[int, str] | None = None
    ) -> None:
        self.kind = kind
        self.frames = frames
        self.sentence = sentence
        self.marks = marks if marks else {min(frames): kind.replace("_", " ")}

    @property
    def label(self) -> str:
        # The first frame named is what it is about (a probe, say, before the ACK that explains
        # it, which may come earlier).
        return self.marks.get(self.frames[0]) or next(iter(self.marks.values()))

    @property
    def display_filter(self) -> str:
        # Commas: Wireshark 4.0 refuses a set separated by spaces alone (deprecated since 3.6).
        return "frame.number in {" + ", ".join(str(frame) for frame in sorted(set(self.frames))) + "}"

    def as_dict(self) -> dict:
        return {
            "kind": self.kind,
            "frames": sorted(set(self.frames)),
            "sentence": self.sentence,
            "display_filter": self.display_filter,
        }


def diagnose(connection: Connection, sequence: SequenceAnalysis, rtt: float | None,
             resends: dict[int, tuple[int, int]], resets: list[Reset],
             capture_end: float | None = None) -> list[Diagnosis]:  # fmt: skip
    """Every diagnosis of the connection, in the order of their first frame. `capture_end`:
    when the capture ended; the connection's last segment if not given (what is still going
    on then is measured to it, "at least")."""
    segments = connection.segments
    if not segments:
        return []
    # Each kind reads a FIN, a RST, a flagged segment or a resend: only those are looked for,
    # and the closes only from the first FIN on (every connection that ends well has one).
    first_fin = first_rst = -1
    for index, segment in enumerate(segments):
        flags = segment.flags
        if flags & FIN and first_fin < 0:
            first_fin = index
        if flags & RST and first_rst < 0:
            first_rst = index
    found: list[Diagnosis] = []
    if first_fin >= 0:
        tail = segments[first_fin:]
        for side in ("client", "server"):
            found += _close_wait(connection, tail, side, rtt or 0.0, capture_end)
    kinds: set[str] = set()
    for flagged in sequence.flags.values():
        kinds.update(flagged)
    early = _probes_at_start(connection) if segments and not segments[0].flags & SYN else set()
    if "zero_window" in kinds or "keep_alive" in kinds or early:
        taken = {reset.segment.frame for reset in resets if reset.accepted}
        stalls = _zero_window(connection, sequence, capture_end, taken) if "zero_window" in kinds else []
        window_probes = {frame for stall in stalls for frame in stall.frames}
        if "keep_alive" in kinds or early:
            found += _keep_alive(connection, sequence, window_probes, early)
        found += stalls
    if resends:
        probes = _tail_loss_probes(connection, resends, rtt)
        found += probes
        found += _retransmission_timeouts(connection, resends, {d.frames[0] for d in probes}, rtt)
    if any(error.too_big for error in connection.unreachables):
        found += _path_mtu(connection)
    if first_rst >= 0:
        found += fin_wait_2_expired_diagnoses(resets)
        found += _rst_with_data(connection)
        found += _injected_rst(connection, resets)
    return sorted(found, key=lambda d: min(d.frames))


def _peer(side: str) -> str:
    return "server" if side == "client" else "client"


def _from(connection: Connection, segment: Segment, side: str) -> bool:
    return connection.from_client(segment) == (side == "client")


def _owes_an_answer(connection: Connection, side: str, peer_fin: Segment, rtt: float) -> bool:
    """Whether the peer's last data up to its FIN (on it included) came after `side`'s last:
    a server owes an answer to a request (a client's shutdown(SHUT_WR) after it, however
    late); a client only to what came with the FIN (within a round trip and
    CLOSE_WAIT_PATIENCE of it). A server's data long before its FIN, which the client had
    not answered by then, was not waiting on the FIN: the client's silence after the FIN is
    a close not made (a server's push, then its process killed)."""
    mine = theirs = -1
    theirs_time = 0.0
    for segment in connection.segments:
        if segment.frame > peer_fin.frame:
            break
        if segment.payload_len > 1 or (
            segment.payload_len and segment is peer_fin
        ):  # not a keep-alive's byte
            if _from(connection, segment, side):
                mine = segment.frame
            else:
                theirs, theirs_time = segment.frame, segment.time
    return theirs > mine and (side == "server" or peer_fin.time - theirs_time <= rtt + CLOSE_WAIT_PATIENCE)


# How many times its longest earlier pause the one before an end's last write in CLOSE_WAIT
# must be to be told from a stream's pacing (see _held_before_last).
PACED_PAUSES: Final = 4.0


def _held_before_last(
    writing: list[tuple[float, Segment, Segment | None]], last_write: Segment
) -> tuple[float, Segment, Segment | None] | None:
    """The pause before an end's last write in CLOSE_WAIT, when it stands out from the pauses
    before it (PACED_PAUSES times the longest, or the only one): the application noticed the
    peer's close only then (an idle timer's "421 timeout" and its FIN, 600 s later), where a
    stream's last chunk comes at its pace."""
    if not writing or writing[-1][2] is not last_write:
        return None
    last = writing[-1]
    earlier = max((pause for pause, _start, _stop in writing[:-1]), default=0.0)
    return last if last[0] > PACED_PAUSES * earlier else None


def _ending_words(stop: Segment) -> str:
    """What an end's segment that ends its CLOSE_WAIT's silence does, beside its arrow: its
    data is no close (the peer's RST answers it, from a socket gone)."""
    if stop.flags & FIN:
        return "closes at last"
    if stop.flags & RST:
        return "resets at last"
    return "writes again, still not closed"


def _widest_window(connection: Connection, side: str) -> int:
    """The widest window `side` offered outside its SYNs and RSTs (as sent, unscaled)."""
    return max(
        (s.window for s in connection.segments if _from(connection, s, side) and not s.flags & (SYN | RST)),
        default=0,
    )


def _at_its_pace(writing: list[tuple[float, Segment, Segment | None]], after: Segment, gap: float) -> bool:
    """A silence of `gap` after an end's data (`after`), to its FIN, the peer's RST or the
    capture's end, no longer than the pauses between its writes allow (PACED_PAUSES times the
    longest): a stream paced a chunk a second closes a second after its last chunk; not a
    close held."""
    longest = max((pause for pause, _start, _stop in writing), default=0.0)
    return bool(after.payload_len) and longest > 0 and gap <= PACED_PAUSES * longest


def _close_wait(connection: Connection, segments: list[Segment], side: str, rtt: float,
                capture_end: float | None) -> list[Diagnosis]:  # fmt: skip
    """`side` acknowledged the peer's FIN, then neither closed nor sent for too long: the
    longer of the silence to its first data and the one after its last data, to its FIN or
    RST, or the capture's end.
    `segments`: the connection's from its first FIN on."""
    peer_fin: Segment | None = None
    quiet_from: Segment | None = None  # the ACK of the peer's FIN, then each later data segment
    longest: tuple[float, Segment, Segment | None] | None = None  # (length, from, to)
    writing: list[tuple[float, Segment, Segment | None]] = []  # the pauses between its writes
    ended = False
    owed = False  # the peer's FIN came before an answer to its data: the next data is that answer
    # Its receive window was a quarter or more below the widest it offered when it acknowledged
    # the FIN: data still unread then, the FIN (end of stream) read after it. The silence counts from
    # its window's update back to the widest (the buffer drained), not from that ACK: the
    # kernel acknowledges a FIN as it comes, and a slow reader behind it was reading
    # (helper-119's s4b: "slow to close", though it closed as it read the end). Read once it
    # acknowledged the FIN: most ends never do so in this tail (they closed first).
    widest = 0
    draining = False
    for segment in segments:
        mine = _from(connection, segment, side)
        if not mine:
            if segment.flags & FIN and peer_fin is None:
                peer_fin = segment
                owed = _owes_an_answer(connection, side, segment, rtt)
            elif quiet_from is not None and segment.flags & (RST | SYN | FIN) == RST:
                # The peer's RST ends the CLOSE_WAIT: the silence is measured to it.
                gap = segment.time - quiet_from.time
                if not _at_its_pace(writing, quiet_from, gap) and (longest is None or gap > longest[0]):
                    longest = (gap, quiet_from, segment)
                ended = True
                break
            continue
        if peer_fin is None:
            if segment.flags & FIN:
                return []  # it closed first: FIN_WAIT, not CLOSE_WAIT
            continue
        if quiet_from is None:
            if segment.flags & (FIN | RST):
                return []  # closed before (or without) acknowledging: no CLOSE_WAIT to hold
            if segment.flags & ACK and seq_diff(segment.ack, peer_fin.seq_end) >= 0:
                quiet_from = segment
                widest = _widest_window(connection, side)
                draining = segment.window * 4 <= widest * 3  # a quarter of it unread, or more
            continue
        if draining and not segment.flags & (FIN | RST) and not segment.payload_len:
            if segment.window >= widest:
                quiet_from, draining = segment, False  # read to the end of the stream
            continue
        if owed and segment.payload_len and not segment.flags & (FIN | RST):
            owed = False  # its answer: the time it took was the application's work, not a close held
            quiet_from = segment
            continue
        # Between two of its data segments it was writing, not holding a close: a server
        # streaming to a client that shut down its sending side pauses as it likes. Only
        # the pause before its last write may be a close held (see _held_before_last).
        if segment.flags & (FIN | RST) or (segment.payload_len and not quiet_from.payload_len):
            gap = segment.time - quiet_from.time
            if not _at_its_pace(writing, quiet_from, gap) and (longest is None or gap > longest[0]):
                longest = (gap, quiet_from, segment)
        elif segment.payload_len:
            writing.append((segment.time - quiet_from.time, quiet_from, segment))
        if segment.payload_len or segment.flags & (FIN | RST):
            if segment.flags & (FIN | RST):
                ended = True
                break
            quiet_from = segment
    if peer_fin is None or quiet_from is None:
        return []
    last_pause = _held_before_last(writing, quiet_from)
    if last_pause is not None and (longest is None or last_pause[0] > longest[0]):
        longest = last_pause
    if not ended:
        end = capture_end if capture_end is not None else segments[-1].time
        gap = end - quiet_from.time
        if not _at_its_pace(writing, quiet_from, gap) and (longest is None or gap > longest[0]):
            longest = (gap, quiet_from, None)
    if longest is None or longest[0] <= rtt + CLOSE_WAIT_PATIENCE:
        return []
    held, start, stop = longest
    peer = _peer(side)
    by_peer = stop is not None and not _from(connection, stop, side)
    if stop is None:
        until = "until the capture ended"
    elif by_peer:
        until = f"until the {peer}'s RST (frame {stop.frame}) ended the connection"
    else:
        what = "its FIN" if stop.flags & FIN else "its RST" if stop.flags & RST else "its next data"
        until = f"until {what} (frame {stop.frame})"
    since = (
        f"it acknowledged the {peer}'s FIN (frame {start.frame})"
        if not start.payload_len
        else f"its data of frame {start.frame}"
    )
    frames = [peer_fin.frame, start.frame] + ([stop.frame] if stop is not None else [])
    at_least = "at least " if stop is None else ""
    verdict = "was slow to close" if stop is not None and stop.flags & FIN else "did not close"
    reading = ""
    if draining and not start.payload_len:
        # Never seen drained: how long it read and how long it held the close, the packets do not part.
        verdict = (
            "was slow to close, or to read"
            if stop is not None and stop.flags & FIN
            else "did not close, or did not read to the end"
        )
        reading = (
            f"; its window then ({start.window:,} of the {widest:,} it offered) says data was still unread, and "
            "an application reads the end of the stream only after it"
        )
    return [
        Diagnosis(
            "close_wait_held",
            frames,
            f"the {side}'s application {verdict}: in CLOSE_WAIT it sent no data and no FIN for {at_least}"
            f"{format_duration(held)} after {since}, {until}; the {peer} had closed first (FIN, frame "
            f"{peer_fin.frame}){reading}",
            {
                peer_fin.frame: f"the {peer} closes",
                start.frame: f"CLOSE_WAIT held {at_least}{format_duration(held)}",
                **(
                    {stop.frame: "RST ends CLOSE_WAIT" if by_peer else _ending_words(stop)}
                    if stop is not None
                    else {}
                ),
            },
        )
    ]


def fin_wait_2_expired_sentence(reset: Reset) -> str:
    return f"the {reset.sender}'s RST: {reset.explanation}"


def fin_wait_2_expired_diagnoses(resets: list[Reset]) -> list[Diagnosis]:
    """One for each of `resets` whose cause is fin_wait_2_expired."""
    return [
        Diagnosis(
            "fin_wait_2_expired",
            reset.evidence,
            fin_wait_2_expired_sentence(reset),
            # FIN_WAIT_1 -> FIN_WAIT_2 when the closer receives the ACK of its FIN: the evidence's
            # second frame (the FIN, its ACK, the late segment, the RST, in frame order).
            {
                sorted(reset.evidence)[
                    1 if len(reset.evidence) > 1 else 0
                ]: f"the {reset.sender}'s FIN_WAIT_2 begins",
                reset.segment.frame: "FIN_WAIT_2 expired: RST",
            },
        )
        for reset in resets
        if reset.cause == "fin_wait_2_expired"
    ]


def _keep_alive(
    connection: Connection, sequence: SequenceAnalysis, window_probes: set[int], early: set[int] | None = None
) -> list[Diagnosis]:
    """Wireshark's keep-alives, but for those sent into a zero window: window probes, and
    those sent too soon after what their sender last took in to be a keep-alive timer's.
    Both ends may probe at once (helper-131's kafw2, kaboth): each end's probes, its peer's
    answers to them, and its idle time apart from the other's probes and answers."""
    flagged = [
        s for s in connection.segments
        if ("keep_alive" in sequence.flags.get(s.frame, ()) or (early is not None and s.frame in early))
        and s.frame not in window_probes
    ]  # fmt: skip
    if not flagged:
        return []
    flagged_frames = {s.frame for s in flagged}
    chatter = set(flagged_frames)  # the probes and their answers: no activity a timer counts
    for side in ("client", "server"):
        chatter.update(
            a.frame for a in _keep_alive_answers(connection, [p for p in flagged if _from(connection, p, side)],
                                                 side, flagged_frames)
        )  # fmt: skip
    probes = []
    took_in: dict[bool, Segment] = {}  # by receiver (by_client): the latest it took in, but chatter
    sent: dict[bool, Segment] = {}
    sent_data: dict[bool, float] = {}  # by sender: when it last sent data or a FIN
    idle_since: dict[int, Segment | None] = {}
    for segment in connection.segments:
        by_client = connection.from_client(segment)
        if segment.frame in flagged_frames:
            # Linux's keep-alive timer counts from what the end last took in
            # (keepalive_time_elapsed); with nothing of the peer's captured, its own last send.
            # No stack probes with data of its own out (Linux: packets_out): one byte sent
            # again soon after is its timer's resend (helper-132).
            since = took_in.get(by_client, sent.get(by_client))
            if (
                since is None or segment.time - since.time >= KEEP_ALIVE_MIN_IDLE
            ) and segment.time - sent_data.get(by_client, float("-inf")) >= KEEP_ALIVE_MIN_IDLE:
                probes.append(segment)
                idle_since[segment.frame] = since
        if segment.frame not in chatter:
            took_in[not by_client] = segment
            sent[by_client] = segment
            if segment.payload_len or segment.flags & FIN:
                sent_data[by_client] = segment.time
    if not probes:
        return []
    probe_frames = {p.frame for p in probes}
    unechoed = unechoed_acks(connection.segments)  # both ends' probes' answers
    found = []
    for side in ("client", "server"):
        mine = [p for p in probes if _from(connection, p, side)]
        if not mine:
            continue
        theirs = _keep_alive_answers(connection, mine, side, probe_frames)
        never = {a.frame for a in theirs} & unechoed
        reached = [a for a in theirs if a.frame not in never]
        intervals = [round(b.time - a.time, 3) for a, b in pairwise(mine)]
        spacing = f", every {format_duration(_median(intervals))}" if intervals else ""
        mark_spacing = spacing
        if intervals and max(intervals) > KEEP_ALIVE_UNEVEN * min(intervals):
            mark_spacing = ""
            listed = [format_duration(i) for i in intervals[:KEEP_ALIVE_LISTED]]
            if len(intervals) > KEEP_ALIVE_LISTED:
                listed.append(f"{len(intervals) - KEEP_ALIVE_LISTED} more")
            spacing = f", at intervals {', '.join(listed)}"
            # An answered probe starts the idle time again (Linux: TCP_KEEPIDLE after an
            # answer, TCP_KEEPINTVL after none; helper-144's 2.016 s then 1.024 s): said only
            # where every interval after an answered probe is longer than every one after none.
            after_answer: list[float] = []
            after_none: list[float] = []
            for probe, following, interval in zip(mine[:-1], mine[1:], intervals, strict=True):
                answered_then = any(probe.time < answer.time <= following.time for answer in reached)
                (after_answer if answered_then else after_none).append(interval)
            if after_answer and after_none and min(after_answer) > KEEP_ALIVE_UNEVEN * max(after_none):
                spacing += (
                    " (an answered probe starts the idle time again: the keep-alive time after an answer, the "
                    "probe interval after none)"
                )
        since = idle_since.get(mine[0].frame)
        idle = (
            f" after {format_duration(between(since.stamp, mine[0].stamp))} idle" if since is not None else ""
        )
        last_answer = reached[-1].time if reached else float("-inf")
        unanswered = [p for p in mine if p.time > last_answer]
        reset = next((s for s in connection.segments if s.flags & RST and s.time >= mine[-1].time), None)
        answered = f"{len(theirs)} answered" if theirs else "none answered"
        if never:
            tail = all(a.frame in never for a in theirs[-len(never) :])
            count = f"{'the last ' if tail else ''}{len(never)} answer{'s' if len(never) > 1 else ''}"
            which = "none of them" if not reached else f"{count} never"
            answered += (
                f", but {which} reached the {side} (its timestamps never echo theirs: lost after the capture "
                "point, or dropped by its host)"
            )
        frames = [p.frame for p in mine] + [a.frame for a in theirs]
        if unanswered and reset is not None and not _from(connection, reset, side):
            # The peer's RST is its answer: it had no socket for the connection any more.
            peer = _peer(side)
            answered = (
                f"{len(theirs) or 'none'} answered by an ACK; the {peer} answered "
                f"{'the last' if len(mine) > 1 else 'it'} with a RST (frame {reset.frame})"
            )
            frames.append(reset.frame)
        sentence = f"keep-alive: the {side} probed {len(mine)} time{'s' if len(mine) > 1 else ''}{idle}{spacing}; {answered}"
        # Whether each got an answer the ladder writes on its arrow, as for SYNs and window probes.
        marks = {p.frame: "keep-alive" for p in mine}
        marks.update(
            {
                a.frame: "keep-alive answered" if a.frame not in never else "answer never arrived"
                for a in theirs
            }
        )
        marks[mine[0].frame] = f"keep-alive{mark_spacing}"
        if unanswered and reset is not None and _from(connection, reset, side):
            sentence += (
                f"; the last {len(unanswered)} got no answer and the {side} reset the connection (frame "
                f"{reset.frame}): a keep-alive timeout, the peer unreachable or gone"
            )
            frames.append(reset.frame)
            marks[reset.frame] = "keep-alive timeout"
        found.append(Diagnosis("keep_alive", frames, sentence, marks))
    return found


def _probes_at_start(connection: Connection) -> set[int]:
    """An end's keep-alives at the capture's start, which Wireshark cannot flag (it has no
    next number of the end's yet: helper-131's mid2): bare segments (no data, SYN, FIN or
    RST) at one number, twice or more before any segment with numbers of that end, a keep-alive
    timer's interval apart (a second at least), each answered (one at least) by the peer's
    next segment one past it with a window open (into a zero window they are window probes;
    an OS fingerprinting scan's bare probes come 175 ms apart, unanswered; findings/gaps.py
    files the flags they cause)."""
    bare: dict[bool, list[Segment]] = {True: [], False: []}
    numbered: set[bool] = set()
    waiting: dict[bool, Segment] = {}  # by end: its latest bare segment, not yet answered
    answered: dict[bool, int] = {True: 0, False: 0}  # by end: its answers as a keep-alive's (-1: one not)
    for segment in connection.segments:
        by_client = connection.from_client(segment)
        probe = waiting.pop(not by_client, None)
        if probe is not None and answered[not by_client] >= 0:
            keep_alive = segment.flags & ACK and segment.window and segment.ack == (probe.seq + 1) % MOD
            answered[not by_client] = answered[not by_client] + 1 if keep_alive else -1
        if by_client in numbered:
            continue
        if segment.seq_space or segment.flags & RST:
            numbered.add(by_client)
            waiting.pop(by_client, None)
        else:
            bare[by_client].append(segment)
            waiting[by_client] = segment
    probes: set[int] = set()
    for end, segments in bare.items():
        if (
            len(segments) >= 2
            and len({s.seq for s in segments}) == 1
            and answered[end] > 0
            and all(b.time - a.time >= KEEP_ALIVE_MIN_IDLE for a, b in pairwise(segments))
        ):
            probes.update(s.frame for s in segments)
    return probes


def _keep_alive_answers(
    connection: Connection, probes: list[Segment], side: str, peer_probes: set[int] | None = None
) -> list[Segment]:
    """The peer's answer to each probe: its first segment after the probe and before the
    next, but a RST and a probe of its own (`peer_probes`, frames: both ends probing); nothing
    after the prober's own RST (what the peer sends then, a FIN of its own, answers no probe:
    helper-100's kauto). Wireshark flags fewer (its keep-alive ACK is no window update: the
    first ACK after a handshake that carried an unscaled window answers a probe all the same)."""
    answers: list[Segment] = []
    if not probes:
        return answers
    segments = connection.segments
    for probe, following in zip(probes, [*probes[1:], None], strict=True):
        start = bisect_right(segments, probe.frame, key=frame_of)
        for segment in segments[start:]:
            if following is not None and segment.time >= following.time:
                break
            mine = _from(connection, segment, side)
            if mine and segment.flags & RST:
                break
            if (
                not mine
                and not segment.flags & RST
                and (peer_probes is None or segment.frame not in peer_probes)
            ):
                answers.append(segment)
                break
    return answers


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


# A zero window opened again sooner than this, before any probe, is the reader catching up
# at once (15 µs on loopback), not an application that stopped reading.
MOMENTARY_STALL: Final = 0.001
# More stalls of one end than this, each opened again by its window update, are told as one:
# a slow reader behind a bottleneck stalled 258 times, 258 lines alike but for their numbers
# (helper-119's s4).
STALLS_TOLD: Final = 3
_MOMENTARY_WORDS: Final = "its buffer full for a moment and read at once, too short to hold"


def _zero_window(
    connection: Connection, sequence: SequenceAnalysis, capture_end: float | None, taken_rsts: set[int]
) -> list[Diagnosis]:
    """Each end's stalls: from its zero window to the segment that opens it, the RST its
    receiver took (`taken_rsts`, frames), or the capture's end. An end's momentary stalls
    (MOMENTARY_STALL), where it had several, are one diagnosis in the place of its first: a
    receive buffer filled and read at once 40 times over a bulk transfer said so in 40 lines,
    around the one stall that held the sender back."""
    found = []
    segments = connection.segments
    for side in ("client", "server"):
        stall_start: Segment | None = None
        probes: list[Segment] = []
        momentary: list[Diagnosis] = []
        opened: list[tuple[Diagnosis, int, int]] = []  # (the stall, its nanoseconds, its probes)
        for segment in segments:
            mine = _from(connection, segment, side)
            if mine and "zero_window" in sequence.flags.get(segment.frame, ()):
                if stall_start is None:
                    stall_start, probes = segment, []
                continue
            if stall_start is None:
                continue
            if segment.flags & RST and segment.frame in taken_rsts:
                found.append(_stall(side, stall_start, probes, None, segment.stamp, segment))
                stall_start = None
            elif mine and segment.window > 0 and not segment.flags & (SYN | RST):
                stall = _stall(side, stall_start, probes, segment, segment.stamp)
                if _momentary(stall_start, probes, segment, segment.stamp):
                    if not momentary:
                        found.append(stall)  # the place of the end's momentary stalls
                    momentary.append(stall)
                else:
                    found.append(stall)
                    opened.append((stall, segment.stamp - stall_start.stamp, len(probes)))
                stall_start = None
            elif (
                not mine
                and segment.payload_len <= 1
                and not segment.flags & (SYN | FIN | RST)
                and (segment.payload_len or "keep_alive" in sequence.flags.get(segment.frame, ()))
            ):
                probes.append(segment)
        if stall_start is not None:
            end = stamp_of(capture_end) if capture_end is not None else segments[-1].stamp
            found.append(_stall(side, stall_start, probes, None, end))
        if len(momentary) > 1:
            found[found.index(momentary[0])] = Diagnosis(
                "zero_window",
                sorted(frame for stall in momentary for frame in stall.frames),
                f"the {side}'s receive window was zero {len(momentary)} times for a moment, each opened again "
                f"within {format_duration(MOMENTARY_STALL)} and before any window probe (from frame "
                f"{min(momentary[0].frames)} on): {_MOMENTARY_WORDS} the {_peer(side)} back",
                {frame: words for stall in momentary for frame, words in stall.marks.items()},
            )
        if len(opened) > STALLS_TOLD:
            found[found.index(opened[0][0])] = _stalls(side, opened)
            found = [d for d in found if not any(d is stall for stall, _, _ in opened[1:])]
    return found


def _stalls(side: str, opened: list[tuple[Diagnosis, int, int]]) -> Diagnosis:
    """An end's many stalls, each opened by its window update, as one diagnosis: how many,
    their time in all, the longest, the probes."""
    longest, took, _ = max(opened, key=lambda item: item[1])
    probes = sum(count for _, _, count in opened)
    probed = f"; the {_peer(side)} sent {probes} window probe{'s' if probes != 1 else ''}" if probes else ""
    return Diagnosis(
        "zero_window",
        sorted(frame for stall, _, _ in opened for frame in stall.frames),
        f"the {side}'s receive window was zero {len(opened)} times from frame {min(opened[0][0].frames)} on, "
        f"{format_duration(sum(ns for _, ns, _ in opened) / 1e9)} in all, the longest "
        f"{format_duration(took / 1e9)} (frame {min(longest.frames)}), each until its window update{probed}: "
        f"its application was not reading as fast as the {_peer(side)} sent",
        {
            **{frame: words for stall, _, _ in opened for frame, words in stall.marks.items()},
            # Its label: all of them, not the first stall's (helper-122).
            min(
                opened[0][0].frames
            ): f"zero window x{len(opened)}, {format_duration(sum(ns for _, ns, _ in opened) / 1e9)}",
        },
    )


def _momentary(start: Segment, probes: list[Segment], update: Segment | None, end: int) -> bool:
    """Whether a stall from `start` to `end` was momentary: opened by a window update
    within MOMENTARY_STALL, before any probe."""
    return update is not None and not probes and between(start.stamp, end) < MOMENTARY_STALL


def _stall(
    side: str,
    start: Segment,
    probes: list[Segment],
    update: Segment | None,
    end: int,
    rst: Segment | None = None,
) -> Diagnosis:
    """`end`: the stamp the stall ended at; `update`: the segment that opened the window
    again; `rst`: the RST that ended the connection first; neither: the capture ended first."""
    took = format_duration(between(start.stamp, end))
    if update is not None:
        how = f"until its window update (frame {update.frame})"
    elif rst is not None:
        how = f"until the RST of frame {rst.frame} ended the connection"
    else:
        how = "until the capture ended"
    probed = (
        f"; the {_peer(side)} sent {len(probes)} window probe{'s' if len(probes) != 1 else ''}"
        if probes
        else ""
    )
    frames = [start.frame] + [p.frame for p in probes] + [s.frame for s in (update, rst) if s is not None]
    if _momentary(start, probes, update, end):
        why = f"{_MOMENTARY_WORDS} the {_peer(side)} back"
    else:
        why = f"its application was not reading as fast as the {_peer(side)} sent"
    return Diagnosis(
        "zero_window",
        frames,
        f"the {side}'s receive window was zero for {took} from frame {start.frame}, {how}{probed}: {why}",
        {
            **{p.frame: "window probe" for p in probes},
            start.frame: f"zero window {took}",
            **({update.frame: "window opens"} if update is not None else {}),
        },
    )


def _retransmission_timeouts(
    connection: Connection, resends: dict[int, tuple[int, int]], probes: set[int], rtt: float | None
) -> list[Diagnosis]:
    """Chains of resends of one data segment: each resend names the time of the copy before.
    `probes`: the frames of tail loss probes, measured apart (the RTO starts from them).
    `rtt`: the handshake's round trip. No RTO is shorter than the smoothed round trip
    (RFC 6298 2.3: SRTT + max(G, 4 RTTVAR)): resends closer than that are loss recovery's
    (duplicate ACKs, SACK, reordering), not a timer's."""
    by_frame = {s.frame: s for s in connection.segments}
    chains: dict[tuple[bool, int], list[Segment]] = {}
    for frame in sorted(resends):
        segment = by_frame.get(frame)
        if segment is None or not segment.payload_len or segment.flags & (SYN | FIN | RST):
            continue
        chains.setdefault((connection.from_client(segment), segment.seq), []).append(segment)
    found = []
    originals: dict[tuple[int, int], Segment] = {}  # data by (stamp, seq)
    counters: dict[bool, bool] = {}  # by sender: whether its identifications count on
    positions: dict[int, int] = {}  # each frame's place among the segments (_lone_timeout)
    for (from_client, seq), chain in chains.items():
        sends = len(chain) + 1
        first_stamp = resends[chain[0].frame][1]
        if sends >= BACKOFF_MIN_SENDS and chain[0].ip_id > 0:
            if not originals:
                originals = {(s.stamp, s.seq): s for s in connection.segments if s.payload_len}
            if from_client not in counters:
                counters[from_client] = ids_count_on(
                    [s for s in connection.segments if connection.from_client(s) == from_client]
                )
            if _sent_in_another_order(originals.get((first_stamp, seq)), chain, counters[from_client]):
                continue
        first_sent = epoch_seconds(first_stamp)
        probe = chain[0] if chain[0].frame in probes else None
        if probe is not None:
            chain = chain[1:]
        else:
            probe = _new_data_probe(connection, from_client, first_sent, chain[0], resends)
        times = ([probe.time] if probe is not None else [first_sent]) + [s.time for s in chain]
        # Resends sooner than any timer at the start are loss recovery's (SACK, duplicate
        # ACKs, RACK), and the RTO counts from the last of them, as from a probe (a path that
        # drops big packets: one resent at once with the rest of its window, then by the timer).
        lead = 0
        while lead + 1 < len(times) and times[lead + 1] - times[lead] < MIN_TIMEOUT:
            lead += 1
        recovery = chain[lead - 1] if lead else None
        if lead:
            chain, times = chain[lead:], times[lead:]
        # One timeout after loss recovery's resend, which was lost too: RTO_MIN at least (no
        # backoff to read, but no recovery waits so long: helper-139's 206 ms stall).
        single = bool(lead) and len(times) == 2 and times[1] - times[0] >= RTO_MIN * SINGLE_RTO_SHARE
        # One timeout, the original's, where its sender had sent nothing for RTO_MIN before
        # it and no tail loss probe came (helper-147: two 200 ms stalls in a 5 GB transfer, the
        # peer's SACKs above the hole; the kernel's TCPTimeouts 2, no diagnosis).
        single = single or (
            not lead
            and probe is None
            # A long connection keeps only what its findings need: no silence read from that.
            and connection.folded is None
            and len(times) == 2
            and times[1] - times[0] >= RTO_MIN * SINGLE_RTO_SHARE
            # Linux's RTO is SRTT + 200 ms at the least (a long path's fast retransmit comes a
            # round trip on: a review's).
            and (rtt is None or times[1] - times[0] >= rtt + RTO_MIN * SINGLE_RTO_SHARE)
            and _lone_timeout(connection, from_client, chain[0], times[0], positions)
        )
        if len(times) < BACKOFF_MIN_SENDS and not single:
            continue
        if any(later - earlier < MIN_TIMEOUT for earlier, later in pairwise(times)):
            continue
        if _recovered_by_acks(connection, from_client, seq, times):
            continue
        backoff = classify_backoff(times)
        # The handshake's round trip can be long where the data's is not (a SYN/ACK resent, a
        # slow listener): a doubling schedule is a timer's whatever it says.
        if (
            rtt is not None
            and backoff.pattern not in _DOUBLING
            and any(later - earlier < rtt for earlier, later in pairwise(times))
        ):
            continue
        side = "client" if from_client else "server"
        frames = [s.frame for s in chain]  # the RTO's resends (the first send is at times[0])
        # The resend the RTO counts from, where it is not the first send.
        start, why = (
            (recovery, "loss recovery's: SACK or duplicate ACKs")
            if recovery
            else (probe, "a tail loss probe?")
        )
        what = "new data" if start is not None and start.seq != seq else "the resend"
        after = (
            f"{what} in frame {start.frame} ({why}) {format_duration(between(first_stamp, start.stamp))} "
            "after the first, then the RTO: "
            if start is not None
            else ""
        )
        factor = f" ×{round(backoff.factor, 1):g}" if backoff.factor and backoff.factor != 1.0 else ""
        # Copies cut smaller after timeouts: the sender took the path for one that drops big
        # packets (Linux's tcp_mtu_probing lowers the MSS after repeated timeouts).
        smaller = [s.payload_len for s in chain if s.payload_len < chain[0].payload_len]
        cut = (
            f"; its last copies smaller ({', '.join(str(size) for size in dict.fromkeys(smaller))} bytes): its "
            "stack lowered the segment size after the timeouts, as for a path that drops big packets (an MTU "
            "black hole: Linux's tcp_mtu_probing)"
            if smaller
            else ""
        )
        unheard = _never_taken(connection, chain[-1]) if from_client else ""
        if not smaller:
            unheard += _black_hole(connection, from_client, chain[0].payload_len, chain[0].time)
        unechoed = _acks_never_taken(connection, from_client, chain, first_sent)
        came = (
            f"the {_peer(side)} acknowledged it (frame{'s' if len(unechoed) > 1 else ''} "
            f"{', '.join(str(a.frame) for a in unechoed)}), but {'those ACKs' if len(unechoed) > 1 else 'that ACK'} "
            f"never reached the {side}: its timestamps never echo theirs (lost after the capture point, or dropped by its host)"
            if unechoed
            else "no acknowledgment came for it in time"
        )
        found.append(
            Diagnosis(
                "retransmission_timeout",
                frames + [a.frame for a in unechoed],
                f"the {side}'s data segment (seq {seq}, {chain[0].payload_len} bytes) was sent {sends} times, "
                f"{after}{backoff.describe()}: {came}{cut}{unheard}",
                {s.frame: "RTO" for s in chain}
                | ({} if single else {chain[0].frame: f"RTO backoff{factor}, {len(chain)} resends"}),
            )
        )
    return found


def _lone_timeout(
    connection: Connection, from_client: bool, resend: Segment, since: float, positions: dict[int, int]
) -> bool:
    """Whether `resend`, the one resend of data first sent at `since`, is what an RTO sends and
    nothing else would: its sender silent RTO_MIN before it; the first data the peer had not
    acknowledged (the peer's latest ACK at its number, none since `since` past it), not the
    sender's tail (its latest segment before went further: a tail loss probe resends the
    last, and times alike with one segment in flight: helper-151's n5_curlmax, TCPLossProbes
    23, no TCPTimeouts); the peer's latest MIN_TIMEOUT before it at least (no ACK a fast
    retransmit answers at once) with its window open (no zero window the persist timer
    probes). `positions`: each frame's place among the segments, filled on first use."""
    segments = connection.segments
    if not positions:
        positions.update((s.frame, at) for at, s in enumerate(segments))
    at = positions.get(resend.frame, 0)
    own = peer = None
    acknowledged = False  # by the peer, since the first send
    since_first = True  # read back to the first segment stamped before the first send, not past it
    for earlier in reversed(segments[:at]):
        since_first = since_first and earlier.time >= since
        mine = connection.from_client(earlier) == from_client
        if mine and own is None:
            own = earlier
        elif not mine:
            if peer is None:
                peer = earlier
            if since_first and earlier.flags & ACK and seq_diff(earlier.ack, resend.seq_end) >= 0:
                acknowledged = True
        if own is not None and peer is not None and (acknowledged or not since_first):
            break
    return (
        own is not None
        and peer is not None
        and not acknowledged
        and resend.time - own.time >= RTO_MIN * SINGLE_RTO_SHARE
        and resend.time - peer.time >= MIN_TIMEOUT
        and peer.window > 0
        and bool(peer.flags & ACK)
        and peer.ack == resend.seq
        and seq_diff(own.seq_end, resend.seq_end) > 0
    )


def _new_data_probe(
    connection: Connection,
    from_client: bool,
    first_sent: float,
    resend: Segment,
    resends: dict[int, tuple[int, int]],
) -> Segment | None:
    """New data its sender sent alone between a segment's first send and its first resend,
    after a silence a timer's (MIN_TIMEOUT), nothing of the peer's between: a tail loss
    probe that sent new data (RFC 8985 7.3; Linux sends new data where it has some), which
    re-arms the RTO (helper-131's utoout: the RTO's 208 ms counted from the original read
    415 ms, 'linear-then-exponential' for a doubling)."""
    segments = connection.segments
    index = bisect_right(segments, resend.frame, key=frame_of) - 1  # the resend's place
    latest = None
    # Back from the resend to the first send: what came between (a timer's interval's worth).
    while index > 0:
        index -= 1
        segment = segments[index]
        if segment.time <= first_sent:
            break
        if connection.from_client(segment) != from_client:
            return None  # the peer said something: no silence a probe timer ended
        if latest is None:
            latest = segment
    if (
        latest is None
        or not latest.payload_len
        or latest.frame in resends
        or latest.flags & (SYN | FIN | RST)
    ):
        return None
    for position in range(bisect_right(segments, latest.frame, key=frame_of) - 2, -1, -1):
        earlier = segments[position]
        if connection.from_client(earlier) == from_client:
            return latest if latest.time - earlier.time >= MIN_TIMEOUT else None
    return None


def _sent_in_another_order(original: Segment | None, chain: list[Segment], counter: bool) -> bool:
    """Whether a copy came after one its sender sent later, by their IPv4 identifications
    (ID_REACH apart at most where the sender's count on, else ID_ADJACENT), within RTO_MIN
    of it: a path holds a packet back milliseconds, and over a timer's interval a host's one
    counter may have come round its 16 bits."""
    reach = ID_REACH if counter else ID_ADJACENT
    copies = [original, *chain] if original is not None else chain
    return any(
        0 < id_order(later, earlier) < reach and later.time - earlier.time < RTO_MIN
        for earlier, later in pairwise(copies)
    )


def _acks_never_taken(
    connection: Connection, from_client: bool, chain: list[Segment], since: float
) -> list[Segment]:
    """The peer's pure ACKs of the chain's data (past its first byte, or naming it in a
    duplicate SACK) from its first send to its last copy that the sender never took in
    (loss_inference.unechoed_acks: helper-131's utoin, each copy acknowledged at once on the
    wire)."""
    first = chain[0]
    acks = [
        s for s in connection.segments
        if connection.from_client(s) != from_client and since <= s.time <= chain[-1].time
        and s.flags & ACK and not s.payload_len
        and (seq_diff(s.ack, first.seq) > 0 or duplicate_sack_of(s, first))
    ]  # fmt: skip
    if not acks:
        return []
    never = unechoed_acks(connection.segments)
    return [a for a in acks if a.frame in never]


def _black_hole(connection: Connection, from_client: bool, size: int, resent: float) -> str:
    """Where a segment of `size` bytes was resent by the timer (first at `resent`) and never
    acknowledged: the clause that names a path MTU black hole when the sender's smaller
    segments were acknowledged, none of its segments as big ever was, its peer was heard from
    after that resend (alive, the way back too: not only its ACK of what came before, a round
    trip after the first send) and no ICMP error came about the connection (one that did is
    the explanation: path_mtu, unreachable): a link of a smaller MTU whose "fragmentation
    needed" is filtered (helper-143: 12 segments of 1448 bytes resent for 15 s, the 204-byte
    one taken)."""
    if size < BLACK_HOLE_LEAST or connection.unreachables:
        return ""
    highest = UNSEEN
    later = None
    for segment in connection.segments:
        if connection.from_client(segment) == from_client or not segment.flags & ACK:
            continue
        if highest == UNSEEN or seq_diff(segment.ack, highest) > 0:
            highest = segment.ack
        if later is None and segment.time > resent:
            later = segment
    if highest == UNSEEN or later is None:
        return ""
    taken = [
        s
        for s in connection.segments
        if connection.from_client(s) == from_client and s.payload_len and seq_diff(highest, s.seq_end) >= 0
    ]
    if not taken or max(s.payload_len for s in taken) >= size:
        return ""
    largest = max(taken, key=lambda s: s.payload_len)
    side = "client" if from_client else "server"
    return (
        f"; its smaller segments got through (frame {largest.frame}, {largest.payload_len:,} bytes, acknowledged) "
        f"and the {_peer(side)} was heard from after (frame {later.frame}), but no segment of {size:,} bytes "
        "ever was acknowledged and no ICMP error came: a path MTU black hole? (a link of a smaller MTU whose "
        '"fragmentation needed" is filtered on the way; Linux with net.ipv4.tcp_mtu_probing=1 tries smaller '
        "segments after such timeouts)"
    )


def _never_taken(connection: Connection, last: Segment) -> str:
    """What it says that the server sent nothing after its SYN/ACK (but the SYN/ACK again)
    up to the client's last resend: the handshake's ACK and the data made no connection, then
    or ever; "" if the server sent anything else before."""
    synack = None
    for segment in connection.segments:
        if connection.from_client(segment):
            if synack is not None and segment.flags & (SYN | ACK) == SYN:
                return ""  # the client sent its SYN again: the SYN/ACK had not reached it
            continue
        if segment.flags & (SYN | ACK) == SYN | ACK:
            synack = synack or segment
            continue
        if segment.frame < last.frame or synack is None or segment.flags & RST:
            return ""  # it answered before (it had the connection), or refused it
        return (
            f"; the server sent nothing after its SYN/ACK (frame {synack.frame}) until frame {segment.frame}: its "
            "listener took the connection only then (one whose accept queue is full drops the handshake's ACK and "
            "the data after it: Linux with tcp_abort_on_overflow 0, counted in ListenOverflows), or the path "
            "lost them"
        )
    if synack is None:
        return ""
    return (
        f"; the server sent nothing after its SYN/ACK (frame {synack.frame}): its host never took the connection "
        "(a listener whose accept queue is full drops the handshake's ACK and the data after it: Linux with "
        "tcp_abort_on_overflow 0, counted in ListenOverflows), or the path to it lost all of them"
    )


def _recovered_by_acks(connection: Connection, from_client: bool, seq: int, times: list[float]) -> bool:
    """Whether each resend of the data at `seq` came sooner than Linux's least RTO after the
    copy before it, the peer's duplicate ACKs of a hole at or before it (at that very number,
    or with a SACK block) coming between: loss recovery sending again a resend that was lost
    too (SACK recovery, RACK: TCPLostRetransmit), not a timer (a review's 5 % loss: 32 chains
    21 to 25 ms apart, TCPTimeouts 0)."""
    if any(later - earlier >= RTO_MIN for earlier, later in pairwise(times)):
        return False
    segments = connection.segments
    moments = [s.time for s in segments]  # in file order, near enough time's for a stretch
    for earlier, later in pairwise(times):
        between = segments[bisect_right(moments, earlier) : bisect_left(moments, later)]
        if not any(
            connection.from_client(s) != from_client
            and s.flags & (ACK | SYN | FIN | RST) == ACK
            and not s.payload_len
            and seq_diff(s.ack, seq) <= 0  # a hole at or before it
            and (s.ack == seq or s.sack_start != UNSEEN)
            for s in between
        ):
            return False
    return True


def _sack_negotiated(connection: Connection) -> bool | None:
    """Both SYNs offered SACK (a loss probe needs it); None when a SYN was not captured."""
    offered: dict[bool, bool] = {}
    for segment in connection.segments:
        if segment.flags & SYN and segment.options is not None:
            if segment.options.cut and not segment.options.sack_permitted:
                return None  # the capture cut its option list: not known
            offered.setdefault(connection.from_client(segment), segment.options.sack_permitted)
        if len(offered) == 2:
            return offered[True] and offered[False]
    return None


def _tail_loss_probes(
    connection: Connection, resends: dict[int, tuple[int, int]], rtt: float | None
) -> list[Diagnosis]:
    """Loss probes: the first resend of the tail (or one new segment) after a quiet probe
    timeout; see the module's rule. `rtt`: the handshake's round trip, the kernel's SRTT's
    stand-in."""
    if _sack_negotiated(connection) is False:
        return []
    found = []
    segments = connection.segments
    # Per sender: the highest sequence number sent, the last data segment, when the timer was
    # last armed (a send or an ACK that acknowledged new data), and whether the peer sent a
    # duplicate ACK or SACK since (fast recovery's business, not a timer's).
    highest: dict[bool, int] = {}
    last_data: dict[bool, Segment] = {}
    armed: dict[bool, float] = {}
    acked: dict[bool, int] = {}  # the peer's latest acknowledgment of this sender's data
    disturbed: dict[bool, bool] = {}
    covered: dict[bool, int] = {}  # the frame of the peer's ACK of all the sender had sent, 0 for none
    acked_at_send: dict[bool, int] = {}  # what was acknowledged when the last data left
    # The kernel's SRTT, as it would have it: a segment timed from its send to the ACK that
    # covers it (one at a time, never a resent one: Karn), averaged as RFC 6298 does. On a
    # busy transfer it grows far past the handshake's RTT (queues fill); until a sample, that.
    timed: dict[bool, tuple[int, float]] = {}
    srtt: dict[bool, float] = {}
    # Per sender: its peer's MSS option. A segment larger at the capture point is the
    # sender's TSO/GSO unit: several packets in flight, as the kernel counts them (packets_out,
    # helper-119: a 2,896-byte unit read as one, its probe timed as one packet's, 200 ms on).
    mss: dict[bool, int] = {}
    for index, segment in enumerate(segments):
        mine = connection.from_client(segment)
        peer = not mine
        if segment.flags & SYN and segment.options is not None and segment.options.mss:
            mss[peer] = segment.options.mss
        if segment.flags & ACK and peer in timed and seq_diff(segment.ack, timed[peer][0]) >= 0:
            sample = segment.time - timed.pop(peer)[1]
            srtt[peer] = sample if peer not in srtt else 0.875 * srtt[peer] + 0.125 * sample
        if segment.flags & ACK and peer in highest:
            before = acked.get(peer, UNSEEN)
            if before == UNSEEN or seq_diff(segment.ack, before) > 0:
                acked[peer] = segment.ack
                if seq_diff(segment.ack, highest[peer]) >= 0:
                    # All acknowledged: the timer stops, if this ACK reached the sender; a resend
                    # of the tail after it shows it did not (lost or late past the capture point).
                    covered[peer] = segment.frame
                else:
                    armed[peer] = segment.time
            elif segment.ack == before and not segment.payload_len and not segment.flags & (SYN | FIN | RST):
                disturbed[peer] = True
            if segment.sack_start != UNSEEN:
                disturbed[peer] = True
        if not segment.payload_len or segment.flags & (SYN | RST):
            continue
        previous = last_data.get(mine)
        resend = resends.get(segment.frame)
        if resend is not None:
            timed.pop(mine, None)  # Karn: an ACK after a resend times neither copy
        elif mine not in timed:
            timed[mine] = (segment.seq_end, segment.time)
        rtt_now = srtt.get(mine, rtt)
        tail = mine in highest and segment.seq_end == highest[mine]
        new = mine in highest and seq_diff(segment.seq, highest[mine]) == 0 and not covered.get(mine, 0)
        if (
            previous is not None
            and not disturbed.get(mine, False)
            and ((resend is not None and resend[0] == 1 and tail) or (resend is None and new))
        ):
            in_flight_one = seq_diff(
                previous.seq, acked_at_send[mine]
            ) <= 0 and previous.payload_len <= mss.get(mine, previous.payload_len)
            delay = segment.time - armed[mine]
            timeout = (
                PROBE_WITHOUT_RTT
                if not rtt_now
                else 2 * rtt_now + (PROBE_DELAYED_ACK if in_flight_one else PROBE_TIMER_MIN)
            )
            longest = timeout if in_flight_one or not rtt_now else 2 * rtt_now + PROBE_TIMER_MAX
            latest = longest + max(PROBE_SLACK * longest, PROBE_SLACK_LEAST)
            # With one segment in flight the RTO caps the timeout, and Linux's RTO is at least
            # tcp_rto_min: no probe comes sooner than that. A new segment sent sooner than the
            # timer's least is the application's next write.
            # With more in flight, 2 x SRTT and at least two jiffies; with no RTT known here
            # (the sender may have had one), two jiffies: no probe timer is shorter.
            least = (
                PROBE_DELAYED_ACK
                if in_flight_one
                else PROBE_TIMER_MIN
                if not rtt_now
                else 2 * rtt_now + PROBE_TIMER_MIN
            )
            earliest = max(least * (1 - PROBE_SLACK), PROBE_SLACK_LEAST if resend is None else 0.0)
            if (
                earliest <= delay <= latest
                and (resend is not None or _alone(connection, segments, index))
                and not (resend is not None and _doubled_after(connection, segments, index, delay))
            ):
                found.append(
                    _probe(
                        connection,
                        segments,
                        index,
                        delay,
                        timeout,
                        rtt_now,
                        covered.get(mine, 0),
                        resend is None,
                    )
                )
        if mine not in highest or seq_diff(segment.seq_end, highest[mine]) > 0:
            highest[mine] = segment.seq_end
            covered[mine] = 0
        last_data[mine] = segment
        acked_at_send[mine] = acked.setdefault(
            mine, segment.seq
        )  # the first data: all before it acknowledged
        armed[mine] = segment.time
        disturbed[mine] = False
    return found


def _doubled_after(connection: Connection, segments: list[Segment], index: int, delay: float) -> bool:
    """The segment's next resend came twice `delay` later: the RTO backing off, so this resend
    was the RTO's too (after a probe the RTO starts from the probe, not yet doubled)."""
    resent = segments[index]
    mine = connection.from_client(resent)
    for later in segments[index + 1 :]:
        if connection.from_client(later) == mine and later.seq == resent.seq and later.payload_len:
            interval = later.time - resent.time
            return abs(interval - 2 * delay) <= TOLERANCE * max(interval, 2 * delay)
    return False


def _unheard(frame: int, side: str) -> str:
    if not frame:
        return ""
    return f" (the {_peer(side)}'s ACK in frame {frame} was captured but did not reach the {side} in time)"


def _alone(connection: Connection, segments: list[Segment], index: int) -> bool:
    """A new segment sent as a probe is sent alone: its sender's next data waits for an ACK."""
    mine = connection.from_client(segments[index])
    for later in segments[index + 1 :]:
        if connection.from_client(later) != mine:
            return later.flags & ACK != 0
        if later.payload_len:
            return False
    return True


def _probe(connection: Connection, segments: list[Segment], index: int, delay: float, timeout: float,
           rtt: float | None, unheard: int, new: bool) -> Diagnosis:  # fmt: skip
    """`unheard`: the frame of an ACK of all of it captured before the probe, which the probe
    shows its sender never had (0 for none)."""
    probe = segments[index]
    mine = connection.from_client(probe)
    side = "client" if mine else "server"
    frames = [probe.frame]  # then the answer, if any
    confirmed = False  # a D-SACK of the probe: the original had arrived, the resend was early
    outcome = "no answer in the capture"
    answer = ""  # the mark at the answer's frame
    for at, later in enumerate(segments[index + 1 :], start=index + 1):
        if connection.from_client(later) == mine:
            if not new and later.seq == probe.seq and later.payload_len:
                outcome = f"no answer: the RTO resent it (frame {later.frame})"
                answer = "RTO: no answer to the resend"
                frames.append(later.frame)
                break
            continue
        if later.flags & RST:
            # The peer ended the connection: what its ACK number says is all there is (a RST
            # from close() with unread data carries RCV.NXT; one that answers nothing, none).
            frames.append(later.frame)
            covered = bool(later.flags & ACK) and seq_diff(later.ack, probe.seq_end) >= 0
            outcome = f"the {_peer(side)} reset the connection (frame {later.frame}) " + (
                "with an ACK that covers it: it had arrived" if covered else "without acknowledging it"
            )
            answer = "RST"
            break
        if not later.flags & ACK:
            continue
        frames.append(later.frame)
        if duplicate_sack_of(later, probe):
            confirmed = True
            answer = "D-SACK: the probe was spurious"
            outcome = (
                f"spurious: the {_peer(side)}'s D-SACK (frame {later.frame}) shows the data had arrived before "
                "(its ACK was late or lost)"
            )
        elif (
            seq_diff(later.ack, probe.seq_end) >= 0
            and not new
            and (dsack := _later_dsack(connection, segments, index, at))
        ):
            # The ACK of the original came first, then the probe arrived: its D-SACK follows
            # (helper-122's s4, frames 25 and 27).
            frames.append(dsack.frame)
            confirmed = True
            answer = "D-SACK: the probe was spurious"
            outcome = (
                f"spurious: the {_peer(side)}'s ACK (frame {later.frame}) acknowledged the original, then its "
                f"D-SACK (frame {dsack.frame}) shows the probe arrived after it"
            )
        elif seq_diff(later.ack, probe.seq_end) >= 0 and unheard and not new:
            # The capture holds an ACK of the original before the probe: it had arrived.
            answer = "ACK: the original had arrived"
            outcome = (
                f"the {_peer(side)}'s ACK (frame {later.frame}) covers it with no D-SACK, but frame "
                f"{unheard} had acknowledged the original before the probe: it had arrived, and the "
                "probe was spurious"
            )
        elif seq_diff(later.ack, probe.seq_end) >= 0 and later.payload_cut and not new:
            # No D-SACK found where the snapshot length cut the options says nothing (helper-136's
            # snap60: the D-SACK was there, and the original had arrived).
            answer = "ACK, its options cut: D-SACK not known"
            outcome = (
                f"the {_peer(side)}'s ACK (frame {later.frame}) covers it, but the capture cut its options "
                "(the snapshot length): whether a D-SACK said the original had arrived is not known"
            )
        elif seq_diff(later.ack, probe.seq_end) >= 0:
            answer = (
                "ACK: data before it had arrived" if new else "ACK, no D-SACK: the resend repaired a loss"
            )
            outcome = f"the {_peer(side)}'s ACK (frame {later.frame}) covers it with no D-SACK: " + (
                "the data before it had arrived, its ACK late or lost"
                if new
                else "the original was lost, and the probe repaired it before the RTO"
            )
        elif later.sack_start != UNSEEN and seq_diff(later.sack_start, probe.seq) <= 0:
            answer = "SACK: data before it lost"
            outcome = (
                f"it arrived, and the {_peer(side)}'s SACK (frame {later.frame}) shows the data from seq "
                f"{later.ack} missing: lost before it"
            )
        else:
            outcome = f"the {_peer(side)}'s ACK (frame {later.frame}) does not cover it"
            answer = "ACK below the probe"
        break
    what = (
        "sent a new segment alone"
        if new
        else f"resent its last data (seq {probe.seq}, {probe.payload_len} bytes)"
    )
    jiffies = rtt and abs(timeout - 2 * rtt - PROBE_TIMER_MIN) < 1e-9
    expected = (
        f"2 x RTT {format_duration(rtt)} + two jiffies: 2 ms at HZ=1000, 8 ms at HZ=250, 20 ms at HZ=100"
        if jiffies
        else f"2 x RTT {format_duration(rtt)} + {format_duration(timeout - 2 * rtt)}"
        if rtt
        else "no RTT measured in the capture: at least two jiffies, 1 s where the sender had none"
    )
    # The headline says it once (the delay, and how sure); the rest gives the evidence.
    headline = probe_headline(delay, new, confirmed)
    about = (
        f"{format_duration(timeout)} to {format_duration(timeout - PROBE_TIMER_MIN + PROBE_TIMER_MAX)}"
        if jiffies
        else f"about {format_duration(timeout)}"
        if rtt
        else f"{format_duration(PROBE_TIMER_MIN)} to {format_duration(timeout)}"
    )
    upper = timeout - PROBE_TIMER_MIN + PROBE_TIMER_MAX if jiffies else timeout
    # Well within the slack past the range (a timer's own lateness is a few ms): the sender's
    # smoothed RTT is its own, longer where the peer delays its ACKs or the capture was taken
    # away from the sender (helper-139's slow reader, captured at it: 27.9 ms after 2 x 11 us).
    later_than = (
        f"; {format_duration(delay - upper)} later than that: the {side}'s smoothed RTT was longer than the "
        "round trip the capture measures (delayed ACKs, or a capture away from it)"
        if rtt and delay > upper * PROBE_LATE_SHARE
        else ""
    )
    timer = f"its probe timeout (expected {about}: {expected}{later_than}), not the RTO's"
    evidence = f"at {timer}" if confirmed else f"the time fits {timer}, but no D-SACK confirms it"
    return Diagnosis(
        "tail_loss_probe",
        frames + ([unheard] if unheard else []),
        f"{headline}{':' if confirmed else ''} {'the' if confirmed else 'The'} {side} {what}, nothing "
        f"acknowledged since{_unheard(unheard, side)}; {evidence}; {outcome}",
        {probe.frame: headline}
        | ({frames[-1]: answer} if answer else {})
        | ({unheard: "this ACK never reached the sender"} if unheard else {}),
    )


# A probe this many times its expected range's end or later is said to be later than it.
PROBE_LATE_SHARE: Final = 1.25
# The peer's segments after the ACK that covers a probe that are read for the probe's D-SACK.
DSACK_LOOK_ON: Final = 4


def _later_dsack(
    connection: Connection, segments: list[Segment], index: int, covering: int
) -> Segment | None:
    """The peer's D-SACK of the probe at `index` among its DSACK_LOOK_ON segments after the
    one at `covering` (its first ACK that covers the probe)."""
    probe = segments[index]
    mine = connection.from_client(probe)
    read = 0
    for later in segments[covering + 1 :]:
        if connection.from_client(later) == mine:
            continue
        if duplicate_sack_of(later, probe):
            return later
        read += 1
        if read >= DSACK_LOOK_ON:
            return None
    return None


def probe_headline(delay: float, new: bool, confirmed: bool) -> str:
    """What a loss probe's diagnosis is called, in its sentence and on the ladder: the timing
    alone makes it a question (an early RTO or an application's write look alike); a D-SACK
    of the resend confirms it (the original had arrived: the sender's timer, not a loss,
    sent it again)."""
    if confirmed:
        return f"tail loss probe after {format_duration(delay)} (the D-SACK shows the original arrived)"
    what = "new data" if new else "resent"
    return f"{what} after {format_duration(delay)} of silence: a tail loss probe?"


# The least path MTU a stack lowers to, whatever an ICMP error names: IPv6's minimum link
# MTU (RFC 8200 5, RFC 8201 4: a Packet Too Big below it is not followed), and Linux's
# net.ipv4.route.min_pmtu for IPv4 (552 by default; the segments then go without DF).
LEAST_PATH_MTU: Final = {4: 552, 6: 1280}
LEAST_PATH_MTU_SOURCE: Final = {4: "Linux's net.ipv4.route.min_pmtu", 6: "IPv6's minimum link MTU"}


def _path_mtu(connection: Connection) -> list[Diagnosis]:
    """One diagnosis for each side and MTU: the errors about that side's segments (a router
    answers each segment of a flight), and what the side resent of the refused data."""
    groups: dict[tuple[str, int], list[tuple[Unreachable, Segment]]] = {}
    for error in connection.unreachables:
        quoted = quoted_segment(connection, error) if error.too_big else None
        if quoted is not None:
            groups.setdefault((connection.sender(quoted), error.path_mtu), []).append((error, quoted))
    found = []
    for (side, mtu), errors in groups.items():
        first_error, first_quoted = errors[0]
        refused = {quoted.frame: quoted for _error, quoted in errors}
        largest = max(quoted.payload_len for quoted in refused.values())
        # The resends of the refused data: what the side's stack did once the error reached it.
        resent = [
            s.payload_len for s in connection.segments
            if s.time > first_error.time and s.payload_len and _from(connection, s, side) and s.frame not in refused
            and any(_covers(s, quoted) for quoted in refused.values())
        ]  # fmt: skip
        # A stack lowers its path MTU no further than a least (see LEAST_PATH_MTU).
        least = LEAST_PATH_MTU[first_quoted.family]
        used = max(mtu, least) if mtu else mtu
        room = used - (IPV4_MIN_HEADER if first_quoted.family == 4 else IPV6_HEADER) - TCP_MIN_HEADER
        room -= _options_length(connection)
        floor = (
            f" (below the least MTU a stack takes, {least:,}: {LEAST_PATH_MTU_SOURCE[first_quoted.family]}, "
            f"so {used:,})"
            if mtu and used > mtu
            else ""
        )
        if not resent:
            then = f"the {side} resent none of that data in the capture (a black hole, if it never did)"
        elif not mtu:
            older = " (a router older than RFC 1191)" if first_quoted.family == 4 else ""
            then = f"it names no MTU{older}; the {side} resent that data in segments of up to {max(resent):,} bytes"
        elif max(resent) <= room:
            then = (
                f"the {side} resent that data in segments of at most {max(resent):,} bytes: its stack lowered "
                f"its segment size to the path{floor}"
            )
        else:
            then = (
                f"the {side} resent that data still in segments of up to {max(resent):,} bytes, more than "
                f"{room:,} fit in {used:,}{floor}: the error did not reach its stack, or the capture was taken "
                "before segmentation offload cut them"
            )
        errors_text = (
            f"{describe(first_error)} from {first_error.src} (frame {first_error.frame})"
            if len(errors) == 1
            else f"{len(errors)} errors {describe(first_error)} from {first_error.src} (frames "
            + ", ".join(str(error.frame) for error, _quoted in errors[:5])
            + (", ..." if len(errors) > 5 else "")
            + ")"
        )
        segments = (
            f"{largest:,}-byte segment (frame {first_quoted.frame})"
            if len(refused) == 1
            else f"segments of up to {largest:,} bytes ({len(refused)} of them)"
        )
        found.append(
            Diagnosis(
                "path_mtu",
                # The first errors' frames: a filter of thousands (one a segment) helps no one.
                [first_quoted.frame, *(error.frame for error, _quoted in errors[:ERRORS_FILTERED])],
                f"{errors_text} about the {side}'s {segments}: {then}",
                {quoted.frame: f"too big: MTU {mtu}" if mtu else "too big" for quoted in refused.values()},
            )
        )
    return found


def _covers(segment: Segment, refused: Segment) -> bool:
    """Whether `segment` carries data of `refused` (its sequence range overlaps)."""
    return (
        seq_diff(segment.seq, refused.seq + refused.payload_len)
        < 0
        < seq_diff(segment.seq + segment.payload_len, refused.seq)
    )


def _options_length(connection: Connection) -> int:
    """The bytes of TCP options on every data segment: timestamps (10, padded to 12) when
    both SYNs offered them (RFC 7323)."""
    offered = [s.options for s in connection.segments[:8] if s.flags & SYN and s.options is not None]
    both = len(offered) >= 2 and all(options.timestamps for options in offered)
    return 12 if both else 0


def _rst_with_data(connection: Connection) -> list[Diagnosis]:
    found = []
    for segment in connection.segments:
        if segment.flags & RST and segment.payload_len:
            text = _rst_text(segment)
            shown = f': "{text}"' if text is not None else " (not text, or not all of it captured: not shown)"
            found.append(
                Diagnosis(
                    "rst_with_data",
                    [segment.frame],
                    f"the {connection.sender(segment)}'s RST carries {segment.payload_len} bytes of data{shown}",
                    {
                        segment.frame: f"RST text: '{_shorten(text, RST_TEXT_MARKED)}'"
                        if text is not None
                        else "RST with data"
                    },
                )
            )
    return found


def _rst_text(segment: Segment) -> str | None:
    """The RST's data as text, if all of it was captured and it is printable text: what a
    stack's diagnostic is (and all that tshark's decoder gives of it)."""
    data = segment.payload
    if len(data) != min(segment.payload_len, RST_DATA_KEPT):
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    # Line ends and tabs are text too (a diagnostic often ends with "\n"): shown as spaces.
    flat = "".join(" " if c in "\r\n\t" else c for c in text).rstrip()
    if not flat or not flat.isprintable():
        return None
    return flat[:RST_TEXT_SHOWN]


def _injected_rst(connection: Connection, resets: list[Reset]) -> list[Diagnosis]:
    found = []
    for side in ("client", "server"):
        mine = [s for s in connection.segments if _from(connection, s, side) and s.ttl >= 0]
        others = own_ttls(mine)
        if not others:
            continue
        usual = others.most_common(1)[0][0]
        for segment in mine:
            if segment.flags & RST and foreign_ttl(segment, others):
                example = next(s for s in mine if s.ttl == usual)
                found.append(
                    Diagnosis(
                        "injected_rst",
                        [segment.frame, example.frame],
                        f"the RST in frame {segment.frame} claims to come from the {side} but arrived with "
                        f"TTL {segment.ttl}, where the {side}'s {_others_text(sum(others.values()))} "
                        f"{_ttl_text(others)}: likely sent by another box on the path (a firewall or an "
                        f"injector), not by the {side}",
                        {
                            segment.frame: f"injected RST? TTL {segment.ttl} vs {usual}",
                            example.frame: f"TTL {usual}",
                        },
                    )
                )
    told = {diagnosis.frames[0] for diagnosis in found}
    for reset in resets:
        frame = reset.segment.frame
        if reset.made_nearer and frame not in told:
            found.append(
                Diagnosis(
                    "injected_rst",
                    [frame],
                    f"the RST in frame {frame} claims to come from the {reset.sender} but {reset.made_nearer}: "
                    f"made between the {reset.sender} and the capture point (a firewall's reject with tcp "
                    f"reset, a middlebox) or on the capturing host, not by the {reset.sender}",
                    {frame: "injected RST? made nearer"},
                )
            )
    return found


def _shorten(text: str, most: int) -> str:
    return text if len(text) <= most else text[: most - 1] + "…"


def _others_text(count: int) -> str:
    return "other packet has" if count == 1 else f"other {count} packets have"


def _ttl_text(ttls: Counter) -> str:
    values = sorted(ttls)
    return f"TTL {values[0]}" if len(values) == 1 else "TTL " + ", ".join(str(v) for v in values)
