"""SYN and SYN/ACK retransmission backoff: intervals, pattern, initial RTO and factor.

Rule: the intervals between successive transmissions of the same SYN are compared
with each other, and then with the schedules stacks are known for (and, with a
sidecar, with what the recorded kernel settings predict). Equal intervals (within TOLERANCE) are linear; each interval a
constant multiple of the one before is exponential; a run of equal intervals
followed by doubling is linear-then-exponential (Linux 6.5+ with
tcp_syn_linear_timeouts, macOS); anything else is irregular.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Final, Literal

from analyzer.listing import shortened
from analyzer.sidecar import SYN_LINEAR_TIMEOUTS
from analyzer.timefmt import format_duration

# Kernel timers tick in jiffies and loopback adds microseconds: 1.000 s and
# 1.024 s are the same timeout. 15% keeps 1 s apart from 2 s and 3 s.
TOLERANCE: Final = 0.15
# Every stack backs off by 2 (RFC 6298 5.5); 1.5-3 leaves room for timer rounding,
# and keeps a duplicate captured 5 ms after its original from reading as a schedule.
MIN_FACTOR, MAX_FACTOR = 1.5, 3.0


BackoffPattern = Literal[
    "none", "single", "linear", "exponential", "linear-then-exponential", "irregular", "unmeasured"
]


@dataclass
class MissedMatch:
    """A schedule a backoff matches if the capture lacks `missed` of its transmissions; or,
    `missed` 0, if it began after the schedule's first `positions[0]` (the capture joined the
    backoff `lead` s before the first transmission it holds)."""

    schedule: str
    missed: int
    # Each captured transmission's number in the schedule (0, 2, 3, 4: the second not captured).
    positions: list[int]
    lead: float = 0.0

    @property
    def first_spanning(self) -> int:
        """The first measured interval that spans several of the schedule's."""
        return next(index for index, (a, b) in enumerate(pairwise(self.positions)) if b - a > 1)


@dataclass
class Backoff:
    times: list[float] = field(default_factory=list)
    intervals: list[float] = field(default_factory=list)
    pattern: BackoffPattern = "none"
    initial_rto: float | None = None
    factor: float | None = None
    linear_count: int = 0  # how many intervals the linear phase lasted
    matches: list[str] = field(default_factory=list)  # known schedules it agrees with
    # Of the resends, those sent after a RST/ACK refused the one before (no timer fired:
    # findings/handshake.py, Handshake.refusals).
    after_refusals: int = 0
    # Of the resends, those sent after the client reset an answer that did not acknowledge the SYN before
    # (resets.py's challenge_ack_answer): Linux sends the SYN again at its timer's least.
    after_challenges: int = 0
    # Copies sent at once in answer to a repeated SYN, left out of times and intervals (a
    # SYN/ACK's: findings/handshake.py, Handshake.synack_answers).
    answers: int = 0
    # Its first transmission is not in the capture: the first captured is its timer's copy
    # (a SYN/ACK's: findings/handshake.py, Handshake.answer_behind).
    first_uncaptured: bool = False
    # Of a SYN/ACK's: the client's bare ACK of it came before the first resend (the listener
    # had it and did not take it: a full accept queue, or TCP_DEFER_ACCEPT holding it).
    after_bare_ack: bool = False
    # Where no schedule matches: the first one that does with transmissions the capture lacks.
    if_missed: MissedMatch | None = None
    # Seconds from the capture's start to the first transmission, where nothing of its
    # connection came before it (the capture may have begun after earlier ones); None else.
    lead: float | None = None

    def __init__(self, times: list[float] | None = None, intervals: list[float] | None = None) -> None:
        self.times = times if times is not None else []
        self.intervals = intervals if intervals is not None else []
        self.pattern = "none"
        self.initial_rto = self.factor = None
        self.linear_count = 0
        self.matches = []
        self.after_refusals = 0
        self.after_challenges = 0
        self.answers = 0
        self.first_uncaptured = False
        self.after_bare_ack = False
        self.if_missed = None
        self.lead = None

    @property
    def sent_again(self) -> bool:
        """Whether anything was sent again: by the timer, or at once in answer to a repeated
        SYN (what the text's backoff lines tell)."""
        return bool(self.intervals or self.answers)

    def describe(self) -> str:
        answers = (
            f"{self.answers} sent at once in answer to the client's repeated SYN"
            if self.answers == 1
            else f"{self.answers} sent at once in answer to the client's repeated SYNs"
        )
        if self.pattern == "none" and self.first_uncaptured:
            timer = "the first lost before the capture point, its timer's copy captured"
            return f"{timer}; {answers}" if self.answers else timer
        if self.pattern == "none":
            return f"no retransmission by the timer; {answers}" if self.answers else "no retransmission"
        if self.answers:
            return f"{self._describe_timer()}; besides, {answers}"
        return self._describe_timer()

    def _describe_timer(self) -> str:
        if self.pattern == "unmeasured":
            count = len(self.intervals)
            return (
                f"{count} retransmission{'s' if count != 1 else ''}; the capture's clock steps back between "
                "them: their intervals are not measured"
            )
        spaced = shortened([f"{i:.3f}" for i in self.intervals])
        count = len(self.intervals)
        text = f"{count} retransmission{'s' if count != 1 else ''} at intervals {spaced} s: {self.pattern}"
        if self.pattern == "linear-then-exponential":
            text += f" ({self.linear_count} x {self.initial_rto:.3f} s, then x{self.factor:.2f})"
        elif self.pattern == "exponential":
            text += f" (initial RTO {self.initial_rto:.3f} s, factor {self.factor:.2f})"
        if self.after_refusals:
            each = "each" if self.after_refusals == count else f"{self.after_refusals} of them"
            return (
                f"{text}; {each} sent after a RST/ACK refused the SYN before: a refused connect() retried, "
                "not a retransmission timer's backoff"
            )
        if self.after_challenges:
            each = "each" if self.after_challenges == count else f"{self.after_challenges} of them"
            return (
                f"{text}; {each} sent after the client reset an answer that did not acknowledge the SYN "
                "before (a challenge ACK: a stale connection on these ports, a TIME_WAIT, took that SYN; or "
                "an old duplicate SYN's SYN/ACK): Linux sends it again at its timer's least, not by the backoff"
            )
        if self.matches:
            # After the client's bare ACK the deferring listener's schedule comes first, but a
            # capture before where the ACK was lost cannot tell it from another that fits.
            either = self.matches[0].startswith(DEFERRED) and len(self.matches) > 1
            text += f"; matches {' or '.join(self.matches[:2]) if either else self.matches[0]}"
        elif self.if_missed is not None and not self.if_missed.missed:
            joined = self.if_missed
            before = joined.positions[0]
            text += (
                f"; matches {joined.schedule} from its retransmission {before} on, if the capture began after "
                f"the {before if before != 1 else 'one'} before (it began {format_duration(joined.lead)} before "
                "the first it holds)"
            )
        elif self.if_missed is not None:
            name, missed, at = self.if_missed.schedule, self.if_missed.missed, self.if_missed.first_spanning
            them = "them" if missed != 1 else "it"
            text += (
                f"; matches {name} if {missed} transmission{'s' if missed != 1 else ''} of it "
                f"{'are' if missed != 1 else 'is'} not in the capture (the interval of {self.intervals[at]:.3f} s "
                f"spans two of that schedule's or more): the capture lost {them}, or {them} "
                f"{'were' if missed != 1 else 'was'} dropped before the capture point"
            )
        return text


def _same(a: float, b: float) -> bool:
    return abs(a - b) <= TOLERANCE * max(a, b)


def _near(a: float, b: float) -> bool:
    return abs(a - b) <= MISSED_TOLERANCE * max(a, b)


def classify_backoff(times: list[float]) -> Backoff:
    """Backoff of transmissions at `times` (the original first, then its retransmissions)."""
    intervals = [round(b - a, 6) for a, b in pairwise(times)]
    result = Backoff(list(times), intervals)
    if not intervals:
        return result
    if any(interval < 0 for interval in intervals):
        result.pattern = "unmeasured"  # a clock stepped back (decode's warning says where)
        return result
    result.initial_rto = intervals[0]
    if len(intervals) == 1:
        result.pattern = "single"
        return result
    linear = 1
    while linear < len(intervals) and _same(intervals[linear], intervals[0]):
        linear += 1
    if linear == len(intervals):
        result.pattern, result.linear_count, result.factor = "linear", linear, 1.0
        return result
    # From the last linear interval on, each interval must be a constant multiple of the previous.
    tail = intervals[linear - 1 :]
    ratios = [b / a for a, b in pairwise(tail) if a > 0]
    factor = statistics.median(ratios) if ratios else 0.0
    if MIN_FACTOR <= factor <= MAX_FACTOR and all(_same(r, factor) for r in ratios):
        result.factor = round(factor, 3)
        if linear == 1:
            result.pattern = "exponential"
        else:
            result.pattern, result.linear_count = "linear-then-exponential", linear
        return result
    result.pattern = "irregular"
    return result


def linear_then_doubling(linear_intervals: int, count: int, initial: float = 1.0) -> list[float]:
    """Intervals of a schedule with `linear_intervals` equal steps, then doubling."""
    intervals = []
    rto = initial
    for index in range(count):
        if index >= linear_intervals:
            rto *= 2
        intervals.append(rto)
    return intervals


def known_schedules(count: int) -> dict[str, list[float]]:
    """The SYN schedules stacks are known for, as their first `count` intervals.

    Linux 6.5+ with the default tcp_syn_linear_timeouts=4 was measured here: five
    retransmissions 1 s apart, then doubling; FreeBSD's tcp_syn_backoff table (1, 1, 1, 1,
    1, 2, 4 ...), which macOS inherits, is the same. Windows' initial RTO was 3 s up to
    Windows 7 and Server 2008 R2, 1 s since Windows 8 and Server 2012 (its InitialRto
    setting), doubling either way: from 1 s it cannot be told from classic Linux."""
    return {
        "Linux 6.5+ default / macOS / FreeBSD (1 s x5, then doubling)": linear_then_doubling(5, count),
        "classic Linux / Windows 8+ (1 s, doubling)": linear_then_doubling(1, count),
        "Windows 7 and older (3 s, doubling)": linear_then_doubling(1, count, 3.0),
    }


def kernel_schedule(sysctls: dict, count: int) -> list[float]:
    """What the recorded kernel settings predict: tcp_syn_linear_timeouts=N gives N+1 equal
    1 s intervals before doubling (measured: N=4 gives five); absent or 0, classic doubling."""
    linear = int(sysctls.get(SYN_LINEAR_TIMEOUTS) or 0)
    return linear_then_doubling(linear + 1 if linear else 1, count)


RECORDED_KERNEL: Final = "the recorded kernel settings"


def known_synack_schedules(count: int) -> dict[str, list[float]]:
    """The SYN/ACK schedules: a listener's timer doubles from 1 s whatever
    tcp_syn_linear_timeouts says (Linux's reqsk_timer_handler: TCP_TIMEOUT_INIT << n), as a
    Windows 8 / Server 2012 listener's does (InitialRto 1 s); an older Windows one's from 3 s."""
    return {
        "Linux listener (tcp_synack_retries) / Windows 8+ (1 s, doubling)": linear_then_doubling(1, count),
        "Windows 7 and older (3 s, doubling)": linear_then_doubling(1, count, 3.0),
    }


# A Linux listener's SYN/ACK timer doubles up to TCP_RTO_MAX.
LISTENER_RTO_MAX: Final = 120.0
DEFERRED: Final = "Linux listener, TCP_DEFER_ACCEPT"  # its schedule's name, then the numbers


def deferred_synack_schedule(first: float, count: int) -> tuple[str, list[float]] | None:
    """A Linux listener with TCP_DEFER_ACCEPT that has the client's bare ACK: its SYN/ACK timer
    fires as ever (1 s, doubling: 1, 3, 7, 15 ... s after the SYN/ACK) but sends the SYN/ACK
    again only once the defer time is up (reqsk_timer_handler, syn_ack_recalc), the first
    resend at the first such fire, 2**k - 1 s after, then doubling on. The one whose first
    interval is nearest `first`; None where no fire from 3 s to 127 s is near."""
    fires = round(math.log2(first + 1)) if first > 0 else 0
    if not 2 <= fires <= 7:
        return None
    head = 2.0**fires - 1
    intervals = [head, *(min(2.0 ** (fires + i), LISTENER_RTO_MAX) for i in range(count - 1))][:count]
    return (
        f"{DEFERRED} ({head:.0f} s, then {2**fires}, {min(2 ** (fires + 1), 120)} s ...)",
        intervals,
    )


def candidate_schedules(
    count: int, sysctls: dict | None = None, synack: bool = False, deferred_first: float | None = None
) -> dict[str, list[float]]:
    """The schedules a backoff is compared with, as their first `count` intervals: what the
    recorded kernel settings predict (given sysctls), then the known ones; of a SYN/ACK's
    (`synack`), the listener's timer's, and where the client's bare ACK came before the first
    resend, measured `deferred_first` s after the SYN/ACK, a deferring listener's (a Windows
    listener would have taken that ACK)."""
    if synack:
        candidates = known_synack_schedules(count)
        deferred = deferred_synack_schedule(deferred_first, count) if deferred_first is not None else None
        if deferred is not None:
            candidates = {deferred[0]: deferred[1], **candidates}
        recorded = linear_then_doubling(1, count)
    else:
        candidates = known_schedules(count)
        recorded = kernel_schedule(sysctls, count) if sysctls is not None else []
    if sysctls is not None:
        candidates = {RECORDED_KERNEL: recorded, **candidates}
    return candidates


def deferred_first(backoff: Backoff) -> float | None:
    """The first interval of a SYN/ACK backoff that the client's bare ACK came before (see
    candidate_schedules); None otherwise."""
    return backoff.intervals[0] if backoff.after_bare_ack and backoff.intervals else None


# Transmissions a capture may lack for a schedule to be named with them missing, at most.
MOST_MISSED: Final = 2
# How near each measured interval must be to the schedule's (or to a sum of them) for that
# claim: a timer's intervals are good to milliseconds, and TOLERANCE's 15% let 3.4 s and
# 4.6 s read as classic Linux's 1 + 2 s and 4 s (helper-105).
MISSED_TOLERANCE: Final = 0.05


def apply_schedules(backoff: Backoff, sysctls: dict | None = None, synack: bool = False) -> None:
    """The schedules the backoff matches (matching_schedules); where none does, the first that
    would from a later transmission on, where the capture began less than that schedule's
    interval before the first it holds (Backoff.lead): it joined the backoff (helper-131's
    mid2, a client's SYNs 28 ms after tcpdump started); else the first that would with
    transmissions not captured (Backoff.if_missed)."""
    backoff.matches = matching_schedules(backoff, sysctls, synack)
    if backoff.matches:
        backoff.if_missed = None
        return
    lead = backoff.lead
    joined = _joined_mid_schedule(backoff, sysctls, synack, lead) if lead is not None else None
    backoff.if_missed = joined if joined is not None else _matching_if_missed(backoff, sysctls, synack)


def _timer_intervals(backoff: Backoff) -> bool:
    """Whether the backoff has two measured intervals or more, all its timer's (no clock step
    between them, no resend prompted by a refusal or a challenge): what a schedule can be read
    into with transmissions not captured."""
    return (
        len(backoff.intervals) >= 2
        and backoff.pattern != "unmeasured"
        and not backoff.after_refusals
        and not backoff.after_challenges
    )


# How many of a schedule's first transmissions a capture may have begun after.
MOST_JOINED: Final = 6


def _joined_mid_schedule(
    backoff: Backoff, sysctls: dict | None, synack: bool, lead: float
) -> MissedMatch | None:
    """The first schedule whose intervals from its transmission k + 1 on (k from 1 to
    MOST_JOINED, the least) are the measured ones, where the capture began less than its
    interval k before the first transmission it holds (`lead`); two measured intervals at
    least."""
    measured = backoff.intervals
    if not _timer_intervals(backoff):
        return None
    count = len(measured) + MOST_JOINED
    schedules = candidate_schedules(count, sysctls, synack, deferred_first(backoff))
    for k in range(1, MOST_JOINED + 1):  # the fewest transmissions before the capture first
        for name, expected in schedules.items():
            if lead < expected[k - 1] * (1 + TOLERANCE) and all(
                _same(interval, want)
                for interval, want in zip(measured, expected[k : k + len(measured)], strict=True)
            ):
                return MissedMatch(name, 0, list(range(k, k + len(measured) + 1)), lead)
    return None


def _matching_if_missed(backoff: Backoff, sysctls: dict | None, synack: bool) -> MissedMatch | None:
    """A resend lost before the capture point (or by the capture) leaves an interval that is
    the sum of two of the schedule's: 1 s, 3 s, 4 s for classic Linux's 1, 2, 4, 8. Each
    measured interval must be one of the schedule's or the sum of the next few, in order,
    MOST_MISSED of them at most in all; two measured intervals at least."""
    measured = backoff.intervals
    if not _timer_intervals(backoff):
        return None
    count = len(measured) + MOST_MISSED
    for name, expected in candidate_schedules(count, sysctls, synack, deferred_first(backoff)).items():
        positions = [0]
        for interval in measured:
            at, missed = positions[-1], positions[-1] - len(positions) + 1
            span = next(
                (k for k in range(1, MOST_MISSED - missed + 2) if at + k <= count
                 and _near(interval, sum(expected[at : at + k]))),
                None,
            )  # fmt: skip
            if span is None:
                break
            positions.append(at + span)
        else:
            missed = positions[-1] - len(measured)
            if missed:
                return MissedMatch(name, missed, positions)
    return None


def matching_schedules(backoff: Backoff, sysctls: dict | None = None, synack: bool = False) -> list[str]:
    """Names of the schedules every measured interval agrees with (within TOLERANCE)."""
    if not backoff.intervals:
        return []
    candidates = candidate_schedules(len(backoff.intervals), sysctls, synack, deferred_first(backoff))
    return [
        name
        for name, expected in candidates.items()
        if all(_same(measured, want) for measured, want in zip(backoff.intervals, expected, strict=True))
    ]
