"""A connection too long to keep whole, analyzed as its segments come, in bounded memory.

The tracker (connections.ConnectionTracker) keeps a connection's segments until it has
connections.LONG_CONNECTION of them; then a FoldedConnection takes them and every later one. Each
rule that reads only the past runs at once, on every segment: Wireshark's sequence rules
(findings.retransmissions.SequenceJudge), the copies and numbered resends
(findings.resends.CopyFinder, which remembers the latest COPY_MEMORY segments that can be
copied), the other tools' answers (findings.compatibility.CompatibilityCounter). Loss
inference looks ahead (a SYN or FIN sent again proves the ACK before it lost), so the
state machine takes each segment once LOOK_AHEAD more have come, with the losses
inferred over that stretch; a SYN or FIN resent further on than that finds its first copy
already decided.

What is kept: every state change's step, and every step of a SYN, FIN, RST, a lost or a
dropped segment, of each end's first segment without SYN (the handshake's ACK), the segment before a RST (the cause of a RST reads it), the latest data
segment of each end at each FIN and RST and at the end (a RST's data-after-close and the
close's half-close read it), the steps before each of its first RESEND_CONTEXTS resends of
data, and after them before each resend of the tail of its sender's data, with the peer's
ACK after it (the tail loss probe's rule reads them), and
all of the first HEAD_STEPS (and the first and the last: its times), and every one in the
range a diagram asks for (KeptRange: `diagram --frames`, `--time`), up to RANGE_KEPT. The
connection's `segments` are those steps' segments and `count` all of them. Everything else
is counted and let go: memory does not grow with the length of the connection. The roles (client, server) are decided by the segments
the tracker held.
"""

from __future__ import annotations

from collections import deque
from typing import Final, NamedTuple

from analyzer.connections import Connection, Continued, assign_roles
from analyzer.decode.segment import ACK, FIN, RST, SYN, UNSEEN, URG, Segment, seq_diff
from analyzer.findings.compatibility import Compatibility, CompatibilityCounter
from analyzer.findings.diagnoses import READ_FLAGS
from analyzer.findings.gaps import GapTracker
from analyzer.findings.handshake import find_handshake
from analyzer.findings.resends import CopyFinder
from analyzer.findings.retransmissions import SequenceAnalysis, SequenceJudge
from analyzer.findings.urgent import UrgentData
from analyzer.findings.vantage import captured_at, find_vantage
from analyzer.loss_inference import crossing_window, lost_segments
from analyzer.tcp_state import ConnectionMachine, Step

HEAD_STEPS: Final = 1_000
LOOK_AHEAD: Final = 2_048
# About 24 MB of full-sized data segments: a resend comes within a window of what it
# resends, and a window this large is rare; each remembered costs about 70 bytes.
COPY_MEMORY: Final = 1 << 14

# Steps kept for a range a diagram asks for, over all the connections of the file (which one
# is drawn is known only after): the ladder draws RANGE_ROWS of them one by one and bands the
# rest, so more would only cost memory (about a kilobyte each).
RANGE_KEPT: Final = 100_000

_CONTROL: Final = SYN | FIN | RST


class KeptRange(NamedTuple):
    """Frames (first, last) or epoch times (first, last), both inclusive, whose every step a
    folded connection keeps: the range a diagram draws one by one."""

    frames: tuple[int, int] | None = None
    times: tuple[float, float] | None = None

    def holds(self, segment: Segment) -> bool:
        """In the range (frames and times both, where both are given)."""
        frames, times = self.frames, self.times
        if frames is not None and not frames[0] <= segment.frame <= frames[1]:
            return False
        return times is None or times[0] <= segment.time <= times[1]


# The latest steps not kept, remembered: a data segment's first resend keeps them, for the
# tail loss probe's rule reads what came since its sender's data before it (and the ACKs
# that set what was in flight then).
RECENT_STEPS: Final = 32
# The first resends of data of a connection that keep them whatever they resend: RECENT_STEPS
# steps each, about 3 MB in all. Past these, only a resend of the tail of its sender's data
# keeps them (a probe resends the tail: the rule calls nothing else one) and any other is
# kept alone: kept for every resend, a lossy long flow's fast retransmissions would keep 32
# steps each and it would grow with its length.
RESEND_CONTEXTS: Final = 256


class KeptBudget:
    """The steps still to keep for a range (RANGE_KEPT), shared by a file's folded connections."""

    def __init__(self, left: int = RANGE_KEPT) -> None:
        self.left = left


class FoldedConnection:
    """Takes a connection's first segments, then `add` each later one; `connection` hands
    the Connection over (its `folded` is this, for analysis.analyze_connection)."""

    def __init__(
        self,
        segments: list[Segment],
        copies: list[Segment] | None = None,
        context: list[Segment] | None = None,
        head_steps: int = HEAD_STEPS,
        look_ahead: int = LOOK_AHEAD,
        kept: KeptRange | None = None,
        budget: KeptBudget | None = None,
    ) -> None:
        """copies: the capture copies among them so far (connections.py), which only what
        stands for another tool counts, in frame order with the rest; context: the last
        segments of the connection this one continues (connections.Continued), which
        Wireshark's rules read first; head_steps, look_ahead: HEAD_STEPS and LOOK_AHEAD,
        smaller in tests; kept: a range whose every step is kept, while `budget` (shared with
        the file's other folded connections; its own if None) lasts."""
        self._head_steps, self._look_ahead = head_steps, look_ahead
        self._kept = kept if kept is not None and (kept.frames or kept.times) else None
        self._budget = budget if budget is not None else KeptBudget()
        self.client, self.server, self.client_basis = assign_roles(segments)
        first = segments[0]
        self.family = first.family
        first_reply = next((s for s in segments if s.src != first.src or s.sport != first.sport), None)
        self.machine = ConnectionMachine(first, first_reply)
        if context:
            self.machine.continue_from(context)
        self.crossing = crossing_window(segments)
        # Where it was captured, read from its start as analysis reads it from what it keeps:
        # loss inference calls nothing sent to the end captured at lost.
        head = Connection(0, first.family, self.client, self.server, list(segments))
        if context:
            head.continues = Continued(0, 0.0, context)  # what the vantage reads of it
        self.captured_at = captured_at(head, find_vantage(head, find_handshake(head)))
        self.copies = CopyFinder(first, COPY_MEMORY)
        self.judge = SequenceJudge(context, self.client)
        # The report's own reading (SequenceJudge's `own`), from the first window probe on,
        # where it may part from Wireshark's; the gaps it flags are what GapTracker files.
        self.own_judge: SequenceJudge | None = None
        self.gaps = GapTracker()  # what fills the gaps the own reading flags
        self.counter = CompatibilityCounter(first)
        self.urgent = UrgentData()  # its segments with URG, counted as they come
        self.count = 0
        self._bytes = 0  # payload bytes of the segments through the state machine
        self._previous_stamp = UNSEEN  # of the latest segment through the state machine
        self._client_src, self._client_port = self.client
        self._pending: list[Segment] = []  # taken, not yet through the state machine
        # For each of them, what the rules that read only the past said of it as it came (a
        # frame's resend and flags are final then): its numbered resend, and whether a
        # diagnosis reads it (_diagnosed). Kept beside it, not looked up again by frame.
        self._pending_resends: list[tuple[int, int] | None] = []
        self._pending_read: list[bool] = []
        self._pending_control = 0  # SYN, FIN and RST segments among them
        self._decided = 0  # segments through the state machine
        # By end (1 the client, 0 the server; lists, not dictionaries by bool: read for every
        # segment): its latest data segment's step.
        self._last_data: list[Step | None] = [None, None]
        # The latest data steps as they were at each FIN and RST: what a RST's cause and the
        # close's shape read is the data before them (kept: two steps at most for each).
        self._pinned: list[Step] = []
        # Each end's latest segment with ACK (no RST) already decided: loss inference reads
        # the peer's acknowledgment before a resend, which may lie in an earlier stretch.
        self._last_ack: list[Segment | None] = [None, None]
        self._last_step: Step | None = None  # the connection's last: its end time
        self._recent: deque[Step] = deque(maxlen=RECENT_STEPS)  # the latest steps not kept
        self._before_resends: list[Step] = []  # of them, those a first resend of data kept
        self._contexts_left = RESEND_CONTEXTS
        self.resends_alone = 0  # first resends of data kept without the steps before (RESEND_CONTEXTS)
        # By end: the furthest its data reached, of the segments decided.
        self._furthest = [UNSEEN, UNSEEN]
        self._answer_from = [False, False]  # the ends whose next ACK answers a kept resend
        # The ends (from the client?) whose first segment without SYN was kept.
        self._plain_from = [False, False]
        self._stalled = [False, False]  # the ends whose last window advertised was zero
        if copies:
            copied = {id(copy) for copy in copies}
            for segment in sorted(segments + copies, key=lambda s: s.frame):
                if id(segment) in copied:
                    self.add_copy(segment)
                else:
                    self.add(segment)
        else:
            for segment in segments:
                self.add(segment)

    def add(self, segment: Segment) -> None:
        index = self.count
        self.count += 1
        from_client = segment.sport == self._client_port and segment.src == self._client_src
        copied = self.copies.feed(index, segment) >= 0  # numbered in copies.resends then
        own = self.own_judge
        if own is None and self.judge.own_differs_at(segment, from_client):
            # The two readings part here: the own one's twin takes this segment its own way.
            own = self.own_judge = self.judge.own_twin()
        kinds = self.judge.feed(segment, from_client)
        if own is not None:
            own_kinds = own.feed(segment, from_client)
        else:
            own_kinds = kinds
            if "zero_window_probe" in kinds:
                self.own_judge = self.judge.own_twin()
        self.gaps.feed(segment, from_client, "lost_segment" in own_kinds, "ack_lost_segment" in own_kinds)
        self.counter.feed(segment)
        if segment.flags & URG:
            self.urgent.feed(segment, from_client)
        self._pending.append(segment)
        resend = self.copies.resends[segment.frame] if copied else None
        self._pending_resends.append(resend)
        self._pending_read.append(resend is not None or _diagnosed(kinds))
        if segment.flags & _CONTROL:
            self._pending_control += 1
        if len(self._pending) >= 2 * self._look_ahead:
            self._decide(self._look_ahead)

    def add_copy(self, segment: Segment) -> None:
        """A capture copy (connections.py): only what stands for another tool counts it."""
        self.counter.feed(segment)

    def _decide(self, count: int) -> None:
        """The oldest `count` pending segments through the state machine, their losses
        inferred from all that is pending."""
        pending = self._pending
        # Every loss rule reads a SYN, FIN or RST (a resend, or the RST that answers): in
        # the long stretches of data between them there is nothing to infer.
        lost: set[int] = set()
        if self._pending_control:
            context = sorted((s for s in self._last_ack if s is not None), key=lambda s: s.frame)  # decided
            lost = lost_segments([*context, *pending], None, self.crossing, self.captured_at)
        machine, steps = self.machine, self.machine.steps
        for index in range(count):
            segment = pending[index]
            step = machine.feed(segment, segment.frame in lost)
            step.ordinal, step.bytes_before = self._decided, self._bytes
            step.previous_stamp = self._previous_stamp
            self._previous_stamp = segment.stamp
            self._bytes += segment.payload_len
            self._last_step = step
            following = pending[index + 1] if index + 1 < len(pending) else None
            side = 1 if segment.sport == self._client_port and segment.src == self._client_src else 0
            first_plain = not segment.flags & SYN and not self._plain_from[side]
            if first_plain:
                self._plain_from[side] = True  # the handshake's ACK: its RTT reads it
            answer = bool(segment.flags & ACK) and self._answer_from[side]
            if answer:
                self._answer_from[side] = False
            reopens = self._reopens(segment, side)
            resend = self._pending_resends[index]
            if resend is not None and resend[0] == 1 and segment.payload_len:
                if self._contexts_left or segment.seq_end == self._furthest[side]:
                    self._contexts_left = max(self._contexts_left - 1, 0)
                    self._before_resends.extend(self._recent)
                    self._recent.clear()
                    self._answer_from[1 - side] = True
                else:
                    self.resends_alone += 1
            if not (
                first_plain
                or answer
                or self._decided < self._head_steps
                or self._decided == 0  # the first one: its start time
                or segment.flags & _CONTROL
                or step.dropped is not None
                or step.sender_before != step.sender_after
                or step.receiver_before != step.receiver_after
                or (following is not None and following.flags & RST)
                or self._pending_read[index]
                or reopens
                or self._asked(segment)
                or machine.missed_fin_pending() is step
            ):
                steps.pop()
                self._recent.append(step)
            flags = segment.flags
            if flags & _CONTROL:
                self._pending_control -= 1
                if flags & (FIN | RST):
                    self._pinned.extend(step for step in self._last_data if step is not None)
            if segment.payload_len:
                self._last_data[side] = step
                furthest = self._furthest[side]
                if furthest == UNSEEN or seq_diff(segment.seq_end, furthest) > 0:
                    self._furthest[side] = segment.seq_end
            if flags & ACK and not flags & RST:
                self._last_ack[side] = segment
            self._decided += 1
        del pending[:count]
        del self._pending_resends[:count]
        del self._pending_read[:count]

    def _asked(self, segment: Segment) -> bool:
        """In the range a diagram asks for, while the budget lasts."""
        kept, budget = self._kept, self._budget
        if kept is None or budget.left <= 0 or not kept.holds(segment):
            return False
        budget.left -= 1
        return True

    def _reopens(self, segment: Segment, side: int) -> bool:
        """The first segment of an end after its zero window that advertises room again: the
        stall's end, which the zero-window diagnosis times (a window update, or an ACK of
        more data with a window)."""
        if segment.window == 0 and "zero_window" in self.judge.result.flags.get(segment.frame, ()):
            self._stalled[side] = True
            return False
        if self._stalled[side] and segment.window > 0 and not segment.flags & (SYN | RST):
            self._stalled[side] = False
            return True
        return False

    def finish(self) -> None:
        """Everything pending through the state machine; the latest data steps kept."""
        self._decide(len(self._pending))
        self.machine.settle()
        steps = self.machine.steps
        kept = {id(step) for step in steps}
        ends = [
            *self._pinned,
            *self._before_resends,
            *(step for step in self._last_data if step is not None),
            *([self._last_step] if self._last_step is not None else []),
        ]
        missing = list({id(step): step for step in ends if id(step) not in kept}.values())
        if missing:
            steps.extend(missing)
            steps.sort(key=lambda step: step.segment.frame)

    def connection(self, number: int) -> Connection:
        self.finish()
        segments = [step.segment for step in self.machine.steps]
        connection = Connection(number, self.family, self.client, self.server, segments, self.client_basis)
        connection.count = self.count
        connection.folded = self
        return connection

    @property
    def sequence(self) -> SequenceAnalysis:
        return self.judge.result

    @property
    def own_sequence(self) -> SequenceAnalysis:
        """The report's own reading (ConnectionAnalysis.own_sequence)."""
        own = self.own_judge
        return own.result if own is not None else self.judge.result

    @property
    def compatibility(self) -> Compatibility:
        return self.counter.result()

    @property
    def resends(self) -> dict[int, tuple[int, int]]:
        return self.copies.resends


def _diagnosed(kinds: list[str]) -> bool:
    """Flags a diagnosis reads (findings/diagnoses.py): a keep-alive or its answer, a zero
    window (a resend of data it reads too: the caller knows those)."""
    return any(kind in READ_FLAGS for kind in kinds)
