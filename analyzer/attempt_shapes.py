"""A flood's attempts analyzed once per shape, for the outputs that only count them.

A SYN flood or a scan is a million attempts of one or two segments (a SYN, perhaps a SYN/ACK
from the other end), nearly all alike: the same flags, options and answer, only the
addresses, ports, numbers and times differ. The text report folds each into its flood and
the summary counts them; both read of such an attempt only its verdict (how its handshake
went, how it ended, the causes of its RSTs, what the target answered, whether it was
resent) and its own connection (addresses, ports, packets, the timer that gave it up).

`attempt_shape` is everything of an attempt that its verdict can depend on; two attempts of
one shape get the same verdict (tests/test_attempt_shapes.py checks this on attempts made
to differ in every field). The first attempt of a shape is analyzed in full; the others get
a `view`: their own connection, the first one's findings. A view is for counting only: its
handshake, states and steps are the first attempt's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from analyzer.decode.segment import ACK, FIN, RST, SYN, Segment

if TYPE_CHECKING:  # analysis imports this module
    from analyzer.analysis import ConnectionAnalysis
    from analyzer.connections import Connection

Shape = tuple

SHAPES_KEPT: Final = 4096  # a scan of odd options makes many; past this, new ones are analyzed in full

_CONTROL: Final = SYN | ACK | RST | FIN


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
            options.cut,
        ),
    )


def _order(values: list[int]) -> bytes:
    """How each pair of sequence numbers compares, as TCP compares them (modulo 2**32: a
    is before b when b - a, wrapped, is under 2**31): a byte for each pair, 0, 1 or 2 for
    before, equal or after."""
    signs = bytearray()
    count = len(values)
    for i in range(count):
        a = values[i]
        for j in range(i + 1, count):
            difference = (a - values[j]) & 0xFFFFFFFF
            signs.append(1 if difference == 0 else (0 if difference >= 0x80000000 else 2))
    return bytes(signs)


def _numbers(segment: Segment) -> list[int]:
    """The numbers the analysis compares: its sequence number, the one after its SYN, the
    end of its data counted with and without the SYN (Wireshark's spurious-retransmission
    rule leaves the SYN out), the one after its FIN, and its acknowledgment number (also one
    not flagged ACK)."""
    seq = segment.seq
    length = segment.payload_len
    return [seq, seq + 1, seq + length, seq + 1 + length + (segment.flags & FIN), segment.ack]


def attempt_shape(connection: Connection) -> Shape | None:
    """The shape of an attempt (a SYN from the client, perhaps one SYN/ACK from the server,
    nothing else, all plain: no tunnel, copy, fold or reused ports); None for any other
    connection."""
    segments = connection.segments
    if not 1 <= len(segments) <= 2 or connection.folded is not None or connection.copies:
        return None
    if connection.tunnels or connection.reuses_ports_of is not None or connection.succeeded_at is not None:
        return None
    syn = segments[0]
    if syn.flags & _CONTROL != SYN or not connection.from_client(syn):
        return None
    base = (connection.expired, connection.capture_end is None, connection.client_basis, _segment_shape(syn))
    if len(segments) == 1:
        return (*base, _order(_numbers(syn)))
    synack = segments[1]
    if synack.flags & _CONTROL != SYN | ACK or connection.from_client(synack):
        return None
    gap = synack.time - syn.time
    return (*base, _segment_shape(synack), _order(_numbers(syn) + _numbers(synack)), (gap > 0) - (gap < 0))


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
