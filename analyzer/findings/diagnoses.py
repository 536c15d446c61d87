"""Diagnoses from the packets alone: what went wrong (or on) in a connection, each with a
stable `kind`, the frames that show it, one plain sentence, and a Wireshark display filter
that shows those frames.

Kinds, and the rule each follows:
- close_wait_held: an end acknowledged its peer's FIN, then sent neither FIN nor data for
  longer than a round trip plus CLOSE_WAIT_PATIENCE (the delayed ACK's 200 ms and a
  scheduler's slack): its application had read the end of the stream and did not close.
  Measured to its FIN or RST, or to the capture's end ("at least").
- fin_wait_2_expired: a RST whose cause is the FIN_WAIT_2 timer (findings/resets.py has the
  rule): its sender's orphaned socket had been ended and the 4-tuple belonged to nobody.
- keep_alive: keep-alive probes (one byte, or none, one below the next sequence number:
  Wireshark's rule, findings/retransmissions.py), their answers, the interval between
  them; a keep-alive timeout when the last probes went unanswered and the prober reset.
- zero_window: an end advertised a zero window: how long until it opened it again (or
  the capture ended), and the window probes the peer sent meanwhile.
- retransmission_timeout: one segment of data sent three times or more, its resends
  spaced by a backoff (findings/backoff.py, as for SYNs): intervals, pattern, initial RTO
  and factor. A segment resent once is a retransmission, not yet a backoff.
- rst_with_data: a RST that carries data (RFC 9293 3.5.3 allows a diagnostic text): the
  text is shown.
- injected_rst: a RST whose IP TTL (hop limit) is INJECTED_TTL_GAP or more away from every
  other packet of its claimed sender: another box on the path likely sent it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from itertools import pairwise
from typing import Final

from analyzer.connections import Connection
from analyzer.decode.segment import ACK, FIN, RST, RST_DATA_KEPT, SYN, Segment, seq_diff
from analyzer.findings.backoff import classify_backoff
from analyzer.findings.resets import Reset
from analyzer.findings.retransmissions import SequenceAnalysis
from analyzer.timefmt import format_duration

# A FIN that follows the peer's within a round trip and this much more is a prompt close.
CLOSE_WAIT_PATIENCE: Final = 0.5
# The sequence flags whose segments these rules read: a folded connection keeps them
# (long_connection.py), with the resends of data.
READ_FLAGS: Final = frozenset(("keep_alive", "keep_alive_ack", "zero_window"))
# Paths change by a hop or two; a RST from another box on the path is usually further off.
INJECTED_TTL_GAP: Final = 3
# A segment sent this many times (two resends) shows a backoff, each resend a timer's
# (Linux's shortest, the tail loss probe, waits 10 ms; copies come sooner).
BACKOFF_MIN_SENDS: Final = 3
MIN_TIMEOUT: Final = 0.010
# A keep-alive is sent after the connection was idle (Linux's tcp_keepalive_time is at
# least a second): a segment Wireshark's rule flags sooner is something else.
KEEP_ALIVE_MIN_IDLE: Final = 1.0
# How much of a RST's data is shown.
RST_TEXT_SHOWN: Final = 200


@dataclass
class Diagnosis:
    kind: str
    frames: list[int]
    sentence: str

    @property
    def display_filter(self) -> str:
        return "frame.number in {" + " ".join(str(frame) for frame in sorted(set(self.frames))) + "}"

    def as_dict(self) -> dict:
        return {
            "kind": self.kind,
            "frames": sorted(set(self.frames)),
            "sentence": self.sentence,
            "display_filter": self.display_filter,
        }


def diagnose(connection: Connection, sequence: SequenceAnalysis, rtt: float | None,
             resends: dict[int, tuple[int, float]], resets: list[Reset],
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
    if "zero_window" in kinds or "keep_alive" in kinds:
        stalls = _zero_window(connection, sequence, capture_end) if "zero_window" in kinds else []
        window_probes = {frame for stall in stalls for frame in stall.frames}
        if "keep_alive" in kinds:
            found += _keep_alive(connection, sequence, window_probes)
        found += stalls
    if len(resends) > 1:
        found += _retransmission_timeouts(connection, resends)
    if first_rst >= 0:
        found += _fin_wait_2_expired(resets)
        found += _rst_with_data(connection)
        found += _injected_rst(connection)
    return sorted(found, key=lambda d: min(d.frames))


def _peer(side: str) -> str:
    return "server" if side == "client" else "client"


def _from(connection: Connection, segment: Segment, side: str) -> bool:
    return connection.from_client(segment) == (side == "client")


def _close_wait(connection: Connection, segments: list[Segment], side: str, rtt: float,
                capture_end: float | None) -> list[Diagnosis]:  # fmt: skip
    """`side` acknowledged the peer's FIN, then neither closed nor sent for too long: the
    longest such silence, to its next data, its FIN or RST, or the capture's end.
    `segments`: the connection's from its first FIN on."""
    peer_fin: Segment | None = None
    quiet_from: Segment | None = None  # the ACK of the peer's FIN, then each later data segment
    longest: tuple[float, Segment, Segment | None] | None = None  # (length, from, to)
    ended = False
    for segment in segments:
        mine = _from(connection, segment, side)
        if not mine:
            if segment.flags & FIN and peer_fin is None:
                peer_fin = segment
            continue
        if peer_fin is None:
            continue
        if quiet_from is None:
            if segment.flags & (FIN | RST):
                return []  # closed before (or without) acknowledging: no CLOSE_WAIT to hold
            if segment.flags & ACK and seq_diff(segment.ack, peer_fin.seq_end) >= 0:
                quiet_from = segment
            continue
        if segment.payload_len or segment.flags & (FIN | RST):
            gap = segment.time - quiet_from.time
            if longest is None or gap > longest[0]:
                longest = (gap, quiet_from, segment)
            if segment.flags & (FIN | RST):
                ended = True
                break
            quiet_from = segment
    if peer_fin is None or quiet_from is None:
        return []
    if not ended:
        end = capture_end if capture_end is not None else segments[-1].time
        if longest is None or end - quiet_from.time > longest[0]:
            longest = (end - quiet_from.time, quiet_from, None)
    if longest is None or longest[0] <= rtt + CLOSE_WAIT_PATIENCE:
        return []
    held, start, stop = longest
    peer = _peer(side)
    if stop is None:
        until = "until the capture ended"
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
    return [
        Diagnosis(
            "close_wait_held",
            frames,
            f"the {side}'s application did not close: in CLOSE_WAIT it sent nothing for {at_least}"
            f"{format_duration(held)} after {since}, {until}; the {peer} had closed first (FIN, frame "
            f"{peer_fin.frame})",
        )
    ]


def _fin_wait_2_expired(resets: list[Reset]) -> list[Diagnosis]:
    return [
        Diagnosis("fin_wait_2_expired", reset.evidence, f"the {reset.sender}'s RST: {reset.explanation}")
        for reset in resets
        if reset.cause == "fin_wait_2_expired"
    ]


def _keep_alive(
    connection: Connection, sequence: SequenceAnalysis, window_probes: set[int]
) -> list[Diagnosis]:
    """Wireshark's keep-alives, but for those sent into a zero window: window probes."""
    probes = []
    last_sent: dict[bool, float] = {}
    for segment in connection.segments:
        by_client = connection.from_client(segment)
        if (
            "keep_alive" in sequence.flags.get(segment.frame, ())
            and segment.frame not in window_probes
            and segment.time - last_sent.get(by_client, float("-inf")) >= KEEP_ALIVE_MIN_IDLE
        ):
            probes.append(segment)
        last_sent[by_client] = segment.time
    if not probes:
        return []
    answers = [s for s in connection.segments if "keep_alive_ack" in sequence.flags.get(s.frame, ())]
    found = []
    for side in ("client", "server"):
        mine = [p for p in probes if _from(connection, p, side)]
        if not mine:
            continue
        theirs = [a for a in answers if not _from(connection, a, side) and a.time >= mine[0].time]
        intervals = [round(b.time - a.time, 3) for a, b in pairwise(mine)]
        spacing = f", every {format_duration(_median(intervals))}" if intervals else ""
        before = [s for s in connection.segments if s.time < mine[0].time]
        idle = f" after {format_duration(mine[0].time - before[-1].time)} idle" if before else ""
        answered = f"{len(theirs)} answered" if theirs else "none answered"
        sentence = f"keep-alive: the {side} probed {len(mine)} time{'s' if len(mine) > 1 else ''}{idle}{spacing}; {answered}"
        last_answer = theirs[-1].time if theirs else float("-inf")
        unanswered = [p for p in mine if p.time > last_answer]
        reset = next((s for s in connection.segments if s.flags & RST and s.time >= mine[-1].time), None)
        frames = [p.frame for p in mine] + [a.frame for a in theirs]
        if unanswered and reset is not None and _from(connection, reset, side):
            sentence += (
                f"; the last {len(unanswered)} got no answer and the {side} reset the connection (frame "
                f"{reset.frame}): a keep-alive timeout, the peer unreachable or gone"
            )
            frames.append(reset.frame)
        found.append(Diagnosis("keep_alive", frames, sentence))
    return found


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def _zero_window(
    connection: Connection, sequence: SequenceAnalysis, capture_end: float | None
) -> list[Diagnosis]:
    found = []
    segments = connection.segments
    for side in ("client", "server"):
        stall_start: Segment | None = None
        probes: list[Segment] = []
        for segment in segments:
            mine = _from(connection, segment, side)
            if mine and "zero_window" in sequence.flags.get(segment.frame, ()):
                if stall_start is None:
                    stall_start, probes = segment, []
                continue
            if stall_start is None:
                continue
            if mine and segment.window > 0 and not segment.flags & (SYN | RST):
                found.append(_stall(side, stall_start, probes, segment, segment.time))
                stall_start = None
            elif (
                not mine
                and segment.payload_len <= 1
                and not segment.flags & (SYN | FIN | RST)
                and (segment.payload_len or "keep_alive" in sequence.flags.get(segment.frame, ()))
            ):
                probes.append(segment)
        if stall_start is not None:
            end = capture_end if capture_end is not None else segments[-1].time
            found.append(_stall(side, stall_start, probes, None, end))
    return found


def _stall(side: str, start: Segment, probes: list[Segment], update: Segment | None, end: float) -> Diagnosis:
    took = format_duration(end - start.time)
    how = (
        f"until its window update (frame {update.frame})" if update is not None else "until the capture ended"
    )
    probed = (
        f"; the {_peer(side)} sent {len(probes)} window probe{'s' if len(probes) != 1 else ''}"
        if probes
        else ""
    )
    frames = [start.frame] + [p.frame for p in probes] + ([update.frame] if update is not None else [])
    return Diagnosis(
        "zero_window",
        frames,
        f"the {side}'s receive window was zero for {took} from frame {start.frame}, {how}{probed}: "
        f"its application was not reading as fast as the {_peer(side)} sent",
    )


def _retransmission_timeouts(
    connection: Connection, resends: dict[int, tuple[int, float]]
) -> list[Diagnosis]:
    """Chains of resends of one data segment: each resend names the time of the copy before."""
    by_frame = {s.frame: s for s in connection.segments}
    chains: dict[tuple[bool, int], list[Segment]] = {}
    for frame in sorted(resends):
        segment = by_frame.get(frame)
        if segment is None or not segment.payload_len or segment.flags & (SYN | FIN | RST):
            continue
        chains.setdefault((connection.from_client(segment), segment.seq), []).append(segment)
    found = []
    for (from_client, seq), chain in chains.items():
        if len(chain) + 1 < BACKOFF_MIN_SENDS:
            continue
        times = [resends[chain[0].frame][1]] + [s.time for s in chain]
        if any(later - earlier < MIN_TIMEOUT for earlier, later in pairwise(times)):
            continue
        backoff = classify_backoff(times)
        side = "client" if from_client else "server"
        frames = [s.frame for s in chain]  # the resends (the first send is at times[0])
        found.append(
            Diagnosis(
                "retransmission_timeout",
                frames,
                f"the {side}'s data segment (seq {seq}, {chain[0].payload_len} bytes) was sent {len(times)} times, "
                f"{backoff.describe()}: no acknowledgment came for it in time",
            )
        )
    return found


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
    if not text.isprintable():
        return None
    return text[:RST_TEXT_SHOWN]


def _injected_rst(connection: Connection) -> list[Diagnosis]:
    found = []
    for side in ("client", "server"):
        mine = [s for s in connection.segments if _from(connection, s, side) and s.ttl >= 0]
        others = Counter(s.ttl for s in mine if not s.flags & RST)
        if not others:
            continue
        usual = others.most_common(1)[0][0]
        for segment in mine:
            if segment.flags & RST and min([abs(segment.ttl - ttl) for ttl in others]) >= INJECTED_TTL_GAP:
                example = next(s for s in mine if s.ttl == usual)
                found.append(
                    Diagnosis(
                        "injected_rst",
                        [segment.frame, example.frame],
                        f"the RST in frame {segment.frame} claims to come from the {side} but arrived with "
                        f"TTL {segment.ttl}, where the {side}'s {_others_text(sum(others.values()))} "
                        f"{_ttl_text(others)}: likely sent by another box on the path (a firewall or an "
                        f"injector), not by the {side}",
                    )
                )
    return found


def _others_text(count: int) -> str:
    return "other packet has" if count == 1 else f"other {count} packets have"


def _ttl_text(ttls: Counter) -> str:
    values = sorted(ttls)
    return f"TTL {values[0]}" if len(values) == 1 else "TTL " + ", ".join(str(v) for v in values)
