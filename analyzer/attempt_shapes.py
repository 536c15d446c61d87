"""A flood's attempts analyzed once per shape, for the outputs that only count them.

A SYN flood or a scan is a million attempts of a few segments (a SYN, perhaps the other
end's SYN/ACK and its resends, or its RST, or a RST after the SYN/ACK: ATTEMPT_PATTERNS),
nearly all alike: the same flags, options and answer, only the addresses, ports, numbers
and times differ. The text report folds each into its flood and the summary counts them;
both read of such an attempt only its verdict (how its handshake went, how it ended, the
causes of its RSTs, what the target answered, whether it was resent) and its own
connection (addresses, ports, packets, the timer that gave it up).

`attempt_shape` is everything of an attempt that its verdict can depend on; two attempts of
one shape get the same verdict (tests/test_attempt_shapes.py checks this on attempts made
to differ in every field). The first attempt of a shape is analyzed in full; the others get
a `view`: their own connection, the first one's findings. A view is for counting only: its
handshake, states and steps are the first attempt's, and so are the findings its verdict
does not read, which read more than the shape holds (the TTLs behind a diagnosis of an
injected RST, the ratios of gaps behind the vantage): only the outputs that count use views.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from analyzer.decode.segment import ACK, FIN, RST, SYN, Segment, seq_diff
from analyzer.findings.syn_cookies import due_after
from analyzer.held_attempt import MAX_PACKED_RECORDS

if TYPE_CHECKING:  # analysis imports this module
    from analyzer.analysis import ConnectionAnalysis
    from analyzer.connections import Connection

Shape = tuple

SHAPES_KEPT: Final = 4096  # a scan of odd options makes many; past this, new ones are analyzed in full

_CONTROL: Final = SYN | ACK | RST | FIN


def _synacks(count: int) -> int:
    """The pattern of a SYN and `count` SYN/ACKs (see ATTEMPT_PATTERNS)."""
    pattern = _SYN
    for _ in range(count):
        pattern = (pattern << 3) | _SYNACK
    return pattern


# Each segment of an attempt, by its flags (of SYN, ACK, RST and FIN) and its sender.
_OTHER: Final = 0
_SYN: Final = 1  # SYN alone, from the client
_SYNACK: Final = 2  # SYN/ACK, from the server
_RST_FROM_SERVER: Final = 3  # RST, with or without ACK
_RST_FROM_CLIENT: Final = 4
# What an attempt is: a SYN from the client, then perhaps the server's SYN/ACK (a flood, or a
# scan's open port) and its resends (a listener without SYN cookies: five, Linux's
# tcp_synack_retries), or its RST (a scan's closed port), or the SYN/ACK and the client's
# RST (a half-open scan: nmap -sS). A SYN resent is not, yet: no test has shaped those.
# Each pattern is its segments' kinds, three bits each, the first one highest.
_HALF_OPEN_SCAN: Final = (((_SYN << 3) | _SYNACK) << 3) | _RST_FROM_CLIENT
MAX_SYNACKS: Final = MAX_PACKED_RECORDS - 1  # as many as the tracker holds packed, after the SYN
ATTEMPT_PATTERNS: Final = frozenset(
    {
        _SYN,
        (_SYN << 3) | _RST_FROM_SERVER,
        _HALF_OPEN_SCAN,
        *(_synacks(count) for count in range(1, MAX_SYNACKS + 1)),
    }
)
# The times the rules compare a gap between two segments with, and more (seconds): an
# attempt's shape holds where each of its gaps falls among them (whether a SYN/ACK sent again
# is a resend reads them: the test of one verdict a shape fails without).
TIME_LIMITS: Final[tuple[float, ...]] = (
    0.000_1, 0.000_5, 0.001, 0.002, 0.003, 0.005, 0.010, 0.020, 0.050, 0.100, 0.200, 0.250,
    0.500, 1.0, 2.0, 3.0, 3.5, 5.0, 6.0, 10.0, 60.0,
)  # fmt: skip


def _segment_shape(segment: Segment) -> tuple:
    options = segment.options
    return (
        segment.flags,
        segment.payload_len,
        segment.payload_cut,
        segment.window == 0,
        None
        if options is None
        else (
            options.mss,
            options.window_scale,
            options.sack_permitted,
            options.timestamps,
            options.fast_open,
            options.fast_open_cookie,
            options.cut,
        ),
    )


def _order(values: list[int]) -> tuple[int, ...]:
    """How each pair of sequence numbers compares, as TCP compares them (modulo 2**32: a
    is before b when b - a, wrapped, is under 2**31): two bits for each pair, 0, 1 or 2 for
    before, equal or after, thirty pairs to an int (one that stays unboxed, compiled)."""
    words: list[int] = []
    word = 0
    pairs = 0
    count = len(values)
    for i in range(count):
        a = values[i]
        for j in range(i + 1, count):
            difference = (a - values[j]) & 0xFFFFFFFF
            word = (word << 2) | (1 if difference == 0 else (0 if difference >= 0x80000000 else 2))
            pairs += 1
            if pairs == 30:
                words.append(word)
                word = pairs = 0
    words.append(word)
    return tuple(words)


def _add_numbers(numbers: list[int], segment: Segment) -> None:
    """The numbers the analysis compares: its sequence number, the one after its SYN, the
    end of its data counted with and without the SYN (Wireshark's spurious-retransmission
    rule leaves the SYN out), the one after its FIN, and its acknowledgment number (also one
    not flagged ACK)."""
    seq = segment.seq
    length = segment.payload_len
    numbers.append(seq)
    numbers.append(seq + 1)
    numbers.append(seq + length)
    numbers.append(seq + 1 + length + (segment.flags & FIN))
    numbers.append(segment.ack)


def attempt_shape(connection: Connection) -> Shape | None:
    """The shape of an attempt (see ATTEMPT_PATTERNS; all plain: no tunnel, copy, fold or
    reused ports); None for any other connection."""
    segments = connection.segments
    if not 1 <= len(segments) <= 1 + MAX_SYNACKS or connection.folded is not None or connection.copies:
        return None
    if connection.tunnels or connection.reuses_ports_of is not None or connection.succeeded_at is not None:
        return None
    pattern = 0
    for segment in segments:
        kind = _kind(segment.flags & _CONTROL, connection.from_client(segment))
        if kind == _OTHER:  # not a segment of an attempt (and 0 would vanish from the pattern)
            return None
        pattern = (pattern << 3) | kind
    if pattern not in ATTEMPT_PATTERNS:
        return None
    # 0 among them: an acknowledgment field of 0 acknowledges nothing (findings/retransmissions).
    numbers: list[int] = [0]
    times: list[float] = []
    shapes = []
    for segment in segments:
        _add_numbers(numbers, segment)
        times.append(segment.time)
        shapes.append(_segment_shape(segment))
    return (
        connection.expired,
        connection.capture_end is None,
        connection.client_basis,
        pattern,
        *shapes,
        _order(numbers),
        _times(times),
        _quiet_class(connection),
        due_after(segments[-1]),
        _in_window(segments) if pattern == _HALF_OPEN_SCAN else None,
    )


def _quiet_class(connection: Connection) -> int:
    """Where the time that nothing more of it came after its last segment, as far as the
    capture tells, falls among TIME_LIMITS (_time_class): to the capture's end, or the
    timeout of the timer that gave it up (Connection.quiet_after); -1 where unknown. Whether
    its listener kept a request for the SYN reads it (findings/syn_cookies.py)."""
    quiet = connection.quiet_after()
    return _time_class(quiet) if quiet is not None else -1


def _in_window(segments: list[Segment]) -> bool:
    """Whether the client's RST after the SYN/ACK lies in the window that SYN/ACK offered,
    as the state machine reads it (tcp_state.Endpoint.window_bytes: a SYN's window is never
    scaled): a RST outside it resets nothing."""
    syn, synack, rst = segments
    offset = seq_diff(rst.seq, syn.seq_end)
    return 0 <= offset <= max(synack.window, 1)


def _kind(control: int, from_client: bool) -> int:
    if control == SYN:
        return _SYN if from_client else _OTHER
    if control == SYN | ACK:
        return _OTHER if from_client else _SYNACK
    if control & RST and not control & (SYN | FIN):
        return _RST_FROM_CLIENT if from_client else _RST_FROM_SERVER
    return _OTHER


def _times(times: list[float]) -> int:
    """How the segments' times compare: for each pair, which came first and where the gap
    between them falls among the time limits of the rules (TIME_LIMITS); for each two gaps
    in a row, which is the longer (a backoff doubles them). Eight bits a pair and two a
    pair of gaps, in one int."""
    compared = 0
    count = len(times)
    for i in range(count):
        for j in range(i + 1, count):
            gap = times[j] - times[i]
            compared = (compared << 8) | (((gap > 0) - (gap < 0) + 1) << 6) | _time_class(abs(gap))
    for i in range(count - 2):
        first, second = abs(times[i + 1] - times[i]), abs(times[i + 2] - times[i + 1])
        compared = (compared << 2) | ((first > second) - (first < second) + 1)
    return compared


def _time_class(size: float) -> int:
    """Twice how many of TIME_LIMITS lie below `size` (bisect_left, written out: compiled,
    it costs less than the call into bisect), one more if `size` is the next one: rules
    compare with < as well as with <=."""
    count = len(TIME_LIMITS)
    low, high = 0, count
    while low < high:
        middle = (low + high) // 2
        if TIME_LIMITS[middle] < size:
            low = middle + 1
        else:
            high = middle
    return 2 * low + (low < count and TIME_LIMITS[low] == size)


def view(template: ConnectionAnalysis, connection: Connection) -> ConnectionAnalysis:
    """`connection` with the findings of `template`, an attempt of the same shape."""
    from analyzer.analysis import ConnectionAnalysis

    return ConnectionAnalysis(
        connection=connection,
        handshake=template.handshake,
        syn_backoff=template.syn_backoff,
        synack_backoff=template.synack_backoff,
        close=template.close,
        resets=template.resets,
        states=template.states,
        steps=template.steps,
        sequence=template.sequence,
        compatibility=template.compatibility,
        state_frames=template.state_frames,
        notes=template.notes,
        backoff_schedules=template.backoff_schedules,
        synack_schedules=template.synack_schedules,
        resends=template.resends,
        diagnoses=template.diagnoses,
        vantage=template.vantage,
    )


class ShapeMemo:
    """The first analysis of each attempt shape, up to SHAPES_KEPT shapes."""

    def __init__(self) -> None:
        self.first: dict[Shape, ConnectionAnalysis] = {}

    def get(self, shape: Shape) -> ConnectionAnalysis | None:
        return self.first.get(shape)

    def put(self, shape: Shape, result: ConnectionAnalysis) -> None:
        if len(self.first) < SHAPES_KEPT:
            self.first.setdefault(shape, result)
