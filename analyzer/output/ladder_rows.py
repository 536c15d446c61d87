"""What a ladder draws one by one and what it draws as a band.

A connection of few segments (up to MAX_ROWS) is drawn one by one. In a longer one, each
segment that changes something or that a reader looks for stays an arrow of its own: the
handshake, the close, RSTs, lost and dropped segments, state changes (the first tier), then
retransmissions, zero windows, keep-alives, whatever a diagnosis or the kernel's recorder
marks (its drops: the second), window
updates (the third), dup ACKs and the other flagged segments (the fourth). Runs of plain
data and pure ACKs between them become one band each, with its counts (frames, segments,
bytes, duration, retransmissions inside). A run is cut at every silence
(time_axis.silences), so that a band never hides a pause.

A folded connection (long_connection.py) kept only some segments: the stretch between two
kept ones is a band too, with the number of segments and bytes let go (the kept steps'
ordinals and byte counts say how many). When the arrows would still be too many for a
picture of bounded height, the last tier's latest, then the tier before's, and at last the
first tier's middle, go into the bands (which then say what they hold).
"""

from __future__ import annotations

import bisect
import itertools
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from analyzer.analysis import ConnectionAnalysis
from analyzer.decode.segment import FIN, RST, SYN, UNSEEN, Segment
from analyzer.output.labels import dsack, reported_kinds, resent_frames, segment_kinds
from analyzer.output.time_axis import BREAK_GAP, silences
from analyzer.timefmt import between

BAND_MIN = 4  # a run of fewer plain segments is drawn one by one
MAX_ROWS = 22  # arrows, plus BAND_ROWS for each band: what fits the height a reader takes in
BAND_ROWS = 2.4
PLAIN = 4  # the tier of what a band may hold; 0 to 2 are drawn one by one while the rows allow
# What the sequence analysis flags that a band says it holds, by its name in the band.
FLAGGED = {"duplicate_ack": "dup ACK", "zero_window": "zero window", "keep_alive": "keep-alive",
           "zero_window_probe": "window probe", "out_of_order": "out of order", "lost_segment": "after a gap"}  # fmt: skip
RANGE_ROWS = 120  # a range asked for (--frames, --time) is drawn one by one up to this many


@dataclass
class Packet:
    segment: Segment
    since_previous: float | None  # since the connection's segment before (None: the first)


@dataclass
class Band:
    start: float  # the time of the first segment it stands for (or of the kept one before)
    stop: float
    first: int  # frame bounds of what it stands for
    last: int
    segments: int = 0
    let_go: int = 0  # of them, not kept by a folded connection
    bytes: int = 0
    to_server: int = 0  # kept ones by direction
    to_client: int = 0
    resends: int = 0
    flagged: Counter[str] = field(default_factory=Counter)  # FLAGGED names -> how many
    others: Counter[str] = field(default_factory=Counter)  # SYN, FIN, RST the budget put in
    held: int = 0  # segments it holds that would have been drawn one by one, had the rows allowed
    silences: int = 0  # cuts it spans (only when the rows would not fit the handshake and close otherwise)


@dataclass
class Rows:
    items: list[Packet | Band]
    silences: list[tuple[float, float]]
    total: int  # the segments the rows stand for


@dataclass
class _Entry:
    segment: Segment
    ordinal: int
    bytes_before: int
    tier: int  # 0 to PLAIN - 1: drawn one by one while the rows allow (0 first); PLAIN: plain
    since_previous: float | None
    kind: str = ""  # what it is where its flags do not say (labels.segment_kinds)


def _entries(result: ConnectionAnalysis) -> list[_Entry]:
    connection = result.connection
    segments, steps = connection.segments, result.steps
    aligned = len(steps) == len(segments)
    kinds = segment_kinds(result)
    marked = {frame for d in result.diagnoses for frame in d.marks} | kernel_drops(result)
    resent = resent_frames(result)
    # The frames that moved an end, by its history: a move inferred at a segment (the client's
    # ACK of a SYN/ACK the capture lacks) leaves that segment's step unchanged.
    moved = {frame for frames in result.state_frames.values() for frame in frames if frame is not None}
    entries: list[_Entry] = []
    sent = 0
    for index, segment in enumerate(segments):
        step = steps[index] if aligned else None
        ordinal = step.ordinal if step is not None and step.ordinal >= 0 else index
        before = step.bytes_before if step is not None and step.bytes_before >= 0 else sent
        sent = before + segment.payload_len
        if (
            index == 0
            or segment.flags & (SYN | FIN | RST)
            or segment.frame in moved
            or (step is not None and (step.lost or step.dropped is not None))
            or (step is not None and (step.sender_before != step.sender_after or step.receiver_before != step.receiver_after))
        ):  # fmt: skip
            tier = 0
        elif (
            segment.frame in resent
            or segment.frame in marked
            or (
                segment.frame in kinds
                and any(k not in ("dup ACK", *_SECOND_TIER) for k in kinds[segment.frame].split(", "))
            )
            or "zero_window" in result.sequence.flags.get(segment.frame, ())
            or dsack(segment) is not None
        ):
            tier = 1
        elif any(k in _SECOND_TIER for k in kinds.get(segment.frame, "").split(", ")):
            tier = 2
        elif segment.frame in result.sequence.flags or segment.frame in kinds:
            tier = 3  # a dup ACK, data after a gap or out of order: what the resends answer
        else:
            tier = PLAIN
        previous = entries[-1] if entries else None
        if previous and previous.ordinal == ordinal - 1:
            since: float | None = between(previous.segment.stamp, segment.stamp)
        elif step is not None and step.previous_stamp != UNSEEN:
            since = between(step.previous_stamp, segment.stamp)  # after segments let go
        else:
            since = None
        entries.append(_Entry(segment, ordinal, before, tier, since, kinds.get(segment.frame, "")))
    return entries


# Kinds drawn one by one after the first tier: a congested bulk run may echo congestion on
# every ACK, and would crowd the resends out of the rows.
_SECOND_TIER: Final = ("window update", "congestion echo", "window reduced")


# TCP's reasons for a segment it never took in: a bad checksum, a signature missing or wrong.
_BEFORE_TCP: Final = frozenset({
    "TCP_CSUM", "TCP_MD5NOTFOUND", "TCP_MD5UNEXPECTED", "TCP_MD5FAILURE",
    "TCP_AONOTFOUND", "TCP_AOUNEXPECTED", "TCP_AOKEYNOTFOUND", "TCP_AOFAILURE",
})  # fmt: skip


def kernel_losses(result: ConnectionAnalysis) -> set[int]:
    """Of the kernel's drops, those that never reached TCP (a firewall's, a checksum's, a
    queue's, a signature's): drawn as not arrived. TCP's own reasons (TCP_OLD_SEQUENCE: a keep-alive, taken
    and answered, then freed), a timewait socket's and NO_SOCKET's (answered by a RST) arrived."""
    return {
        frame
        for frame, reason in _drops(result)
        if reason in _BEFORE_TCP or not reason.startswith(("TCP_", "TIME_WAIT", "NO_SOCKET"))
    }


def kernel_drops(result: ConnectionAnalysis) -> set[int]:
    """The frames the kernel's recorder saw freed undelivered (findings/kernel_events.py)."""
    return {frame for frame, _reason in _drops(result)}


def _drops(result: ConnectionAnalysis) -> list[tuple[int, str]]:
    """The kernel's drops of captured frames: (frame, the kernel's reason)."""
    events = result.kernel.events if result.kernel is not None else None
    return [(d.frame, d.reason) for d in events.drops if d.frame is not None] if events is not None else []


def spans(entries: Sequence[_Entry]) -> list[tuple[float, float]]:
    """Activity for time_axis.silences: each segment, and each stretch of segments let go."""
    found = [(e.segment.time, e.segment.time) for e in entries]
    found += [(a.segment.time, b.segment.time) for a, b in itertools.pairwise(entries)
              if b.ordinal > a.ordinal + 1]  # fmt: skip
    return found


def drawn_until(result: ConnectionAnalysis, latest: float) -> float:
    """The last moment a connection's pictures draw, `latest` (its last segment or call) or
    later: the next connection's SYN on its 4-tuple where that ended a TIME_WAIT here, its
    RST where that reset an end here (analysis.apply_stale_reset)."""
    close = result.close
    if close.time_wait_ended is not None:
        latest = max(latest, close.time_wait_ended.time)
    if close.reset_by_next and close.reset is not None:
        latest = max(latest, close.reset.time)
    return latest


def timer_changes(result: ConnectionAnalysis, until: float) -> list[float]:
    """The times of the state changes no segment drawn caused (a timer's: FIN_WAIT_2's orphan
    timer, from the call log; or a capture copy's, left off the ladder: a router's copy of a
    segment as it left, arrivals.py), up to `until`: moments of their own, so that a picture
    cuts time around them and draws each after the silence before it, not at that silence's
    start."""
    found = []
    drawn: set[int] | None = None
    for side, history in result.states.items():
        frames = result.state_frames.get(side, [])
        for index, (time, _state) in enumerate(history[1:], start=1):
            if index >= len(frames) or time > until:
                continue
            frame = frames[index]
            if frame is not None:
                if not result.connection.copies:
                    continue  # every segment is drawn (or, folded, at its time)
                if drawn is None:
                    drawn = {s.frame for s in result.connection.segments}
                if frame in drawn:
                    continue
            found.append(time)
    return sorted(found)


def ladder_silences(result: ConnectionAnalysis, extra: Sequence[float] = ()) -> list[tuple[float, float]]:
    """Where the pictures of this connection cut time; extra: other moments drawn (socket calls,
    timers' state changes)."""
    return silences(spans(_entries(result)) + [(t, t) for t in extra])


def plan_rows(result: ConnectionAnalysis, frames: tuple[int, int] | None = None,
              times: tuple[float, float] | None = None, extra: Sequence[float] = (),
              max_rows: float | None = None) -> Rows:  # fmt: skip
    """The rows of a connection's ladder: frames, times (epoch seconds), both inclusive: only
    those; extra: the times of other moments drawn (socket calls), which cut runs too;
    max_rows: MAX_ROWS, or RANGE_ROWS for a range."""
    if max_rows is None:
        max_rows = MAX_ROWS if frames is None and times is None else RANGE_ROWS
    entries = _entries(result)
    if frames is not None:
        entries = [e for e in entries if frames[0] <= e.segment.frame <= frames[1]]
    if times is not None:
        entries = [e for e in entries if times[0] <= e.segment.time <= times[1]]
    cuts = silences(spans(entries) + [(t, t) for t in extra])
    total = sum(1 + max(0, b.ordinal - a.ordinal - 1) for a, b in itertools.pairwise(entries))
    total += 1 if entries else 0
    if len(entries) <= max_rows and total == len(entries):  # it fits: every segment one by one
        return Rows([Packet(e.segment, e.since_previous) for e in entries], cuts, total)
    tiers = [[i for i, e in enumerate(entries) if e.tier == tier] for tier in range(PLAIN)]
    resent = sorted(resent_frames(result))
    flagged = _flagged_frames(result)
    dropped = kernel_drops(result)
    # Fewer one by one until the rows fit: the last tier's latest first, then the tier before's;
    # of the first tier, its middle (its ends are the handshake and the close).
    keep = [len(tier) for tier in tiers]
    # Bands stop at silences, but where one band a burst would leave no room for the
    # handshake and the close (many short bursts), bands run on across silences first.
    across = False

    def planned() -> tuple[list[Packet | Band], float]:
        first = tiers[0]
        chosen = set(first[: (keep[0] + 1) // 2]) | set(first[len(first) - keep[0] // 2 :])
        for tier, count in zip(tiers[1:], keep[1:], strict=True):
            chosen |= set(tier[:count])
        items = _group(result, entries, chosen, cuts, resent, flagged, dropped, across)
        return items, sum(BAND_ROWS if isinstance(item, Band) else 1 for item in items)

    items, rows = planned()
    for tier in reversed(range(PLAIN)):
        if rows <= max_rows:
            break
        if tier == 0 and not across:
            across = True
            items, rows = planned()
            if rows <= max_rows:
                break
        # The most of this tier that fits (a search: a long connection may flag thousands).
        low, high = 0, keep[tier]
        while low < high:
            keep[tier] = (low + high + 1) // 2
            if planned()[1] <= max_rows:
                low = keep[tier]
            else:
                high = keep[tier] - 1
        keep[tier] = low
        items, rows = planned()
    return Rows(items, cuts, total)


def _flagged_frames(result: ConnectionAnalysis) -> dict[str, list[int]]:
    """By the name a band gives it (FLAGGED), the frames Wireshark's analysis flags so, in
    order: every segment's, kept or not (a long connection keeps a few)."""
    resends = result.resends
    frames: dict[str, list[int]] = {}
    for frame in sorted(result.sequence.flags):
        for kind in reported_kinds(result, frame):  # gaps as the report reads them
            if kind == "out_of_order" and frame in resends:
                continue  # Wireshark's name for a quick resend: counted with the resends
            name = FLAGGED.get(kind)
            if name is not None:
                frames.setdefault(name, []).append(frame)
    return frames


def _group(result: ConnectionAnalysis, entries: list[_Entry], chosen: set[int],
           cuts: list[tuple[float, float]], resent: list[int], flagged: dict[str, list[int]],
           dropped: set[int], across: bool = False) -> list[Packet | Band]:  # fmt: skip
    """across: bands run on across silences (each says how many it spans)."""
    cut_after = {before for before, _after in cuts}
    items: list[Packet | Band] = []
    run: list[_Entry] = []
    let_go: list[tuple[_Entry, _Entry]] = []  # stretches let go inside the run, by their bounds

    def close_run() -> None:
        count = len(run) + sum(b.ordinal - a.ordinal - 1 for a, b in let_go)
        if run and count < BAND_MIN and not let_go:
            items.extend(Packet(e.segment, e.since_previous) for e in run)
        elif count:
            band = _band(result, run, let_go, resent, flagged, dropped)
            band.silences = sum(1 for before, after in cuts if band.start <= before and after <= band.stop)
            items.append(band)
        run.clear()
        let_go.clear()

    previous: _Entry | None = None
    for index, entry in enumerate(entries):
        if previous is not None:
            if (
                not across
                and previous.segment.time in cut_after
                and entry.segment.time - previous.segment.time > BREAK_GAP
            ):
                close_run()
            if entry.ordinal > previous.ordinal + 1:
                let_go.append((previous, entry))
        if index in chosen:
            close_run()
            items.append(Packet(entry.segment, entry.since_previous))
        else:
            run.append(entry)
        previous = entry
    close_run()
    return items


def _band(result: ConnectionAnalysis, run: list[_Entry], let_go: list[tuple[_Entry, _Entry]],
          resent: list[int], flagged: dict[str, list[int]], dropped: set[int]) -> Band:  # fmt: skip
    """resent: the frames of every resend, in order; flagged: _flagged_frames; dropped: those
    the kernel dropped."""
    connection = result.connection
    times = [e.segment.time for e in run] + [t for a, b in let_go for t in (a.segment.time, b.segment.time)]
    frames = [e.segment.frame for e in run]
    # A stretch let go lies between the kept ones around it: its frames are within those.
    frames += [f for a, b in let_go for f in (a.segment.frame + 1, b.segment.frame - 1)]
    band = Band(min(times), max(times), min(frames), max(frames))
    kept = {id(e) for e in run}
    for entry in run:
        segment = entry.segment
        band.segments += 1
        band.bytes += segment.payload_len
        if connection.from_client(segment):
            band.to_server += 1
        else:
            band.to_client += 1
        if entry.kind.startswith("zero-window probe") and "keep_alive" in result.sequence.flags.get(
            segment.frame, ()
        ):
            # A keep-alive's shape while the peer had no room: a window probe (counted below
            # as a keep-alive, with every flagged segment in the band's frames).
            band.flagged[FLAGGED["zero_window_probe"]] += 1
            band.flagged[FLAGGED["keep_alive"]] -= 1
        if entry.tier < PLAIN:
            band.held += 1
        for bit, name in ((SYN, "SYN"), (FIN, "FIN"), (RST, "RST")):
            if segment.flags & bit:
                band.others[name] += 1
        if segment.frame in dropped:
            band.others["kernel drop"] += 1
        # Kinds drawn one by one when the rows allow (labels.segment_kinds), counted as nouns;
        # dup ACKs, keep-alives and probes are Wireshark's flags, counted above.
        for kind, name in (
            ("window update", "window update"),
            ("congestion echo", "congestion echo"),
            ("window reduced", "window reduction"),
        ):
            if kind in entry.kind:
                band.others[name] += 1
    for a, b in let_go:
        skipped = b.ordinal - a.ordinal - 1
        band.segments += skipped
        band.let_go += skipped
        band.bytes += b.bytes_before - a.bytes_before - a.segment.payload_len
        if id(a) not in kept:  # the stretch from a one-by-one arrow: the band starts after it
            band.start = max(band.start, a.segment.time)
        if id(b) not in kept:
            band.stop = min(band.stop, b.segment.time) if run else b.segment.time
    # Resends are numbered for every segment, kept or not; every one of the connection's
    # segments within the band's frames is in the band (a run stops at each arrow).
    band.resends = bisect.bisect_right(resent, band.last) - bisect.bisect_left(resent, band.first)
    for name, frames in flagged.items():
        count = bisect.bisect_right(frames, band.last) - bisect.bisect_left(frames, band.first)
        if count:
            band.flagged[name] += count
    return band
