"""What the report shows when a reader points at a packet's arrow on a ladder: its frame,
flags, sequence and acknowledgment numbers, window, options, the time since frame 1 and
since the connection's previous packet, and what the analysis says of it. Keyed as the
ladder's SVG ids are (sequence_diagram.packet_gid, without "pkt-"): a frame, or a band's
"first-last"; only the ids a drawn ladder holds are kept, so a page carries no more than it
draws."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

from analyzer.analysis import ConnectionAnalysis
from analyzer.connections import peer_of
from analyzer.decode.segment import ACK, MOD, SYN, UNSEEN, Segment, exact_stamp, flag_names
from analyzer.output.glossary import WIRESHARK_FLAGS, options_words
from analyzer.output.labels import SequenceBases, dsack, retransmission_note
from analyzer.output.summary import reset_words
from analyzer.timefmt import Clock, between, format_duration, to_the_microsecond
from analyzer.udp_flows import UdpFlow

Details = list[tuple[str, str]]  # (what, value) lines, in the order shown
_IDS = re.compile(r'id="pkt-(\d+(?:-\d+)?)"')


def drawn_ids(svg: str) -> list[str]:
    """The packet (and band) ids of a ladder's SVG, without the "pkt-" prefix."""
    return _IDS.findall(svg)


def _since(seconds: float) -> str:
    return f"{to_the_microsecond(seconds)} s since frame 1"


FIRST = "the connection's first packet"


def _gap(seconds: float, frame: int) -> str:
    return f"{format_duration(seconds)} after frame {frame}"


# A window scale of an end whose connection scales no window (packet-tcp.c's -2).
NO_SCALING: Final = -2


def _window(segment: Segment, scale: int | None) -> str:
    """The window as Wireshark computes it (tcp.window_size): shifted by its sender's scale
    (window_scales), never on a SYN itself; unshifted where that scale is not known."""
    if segment.flags & SYN or scale == NO_SCALING:
        return f"{segment.window:,} bytes"
    if scale is None:
        return f"{segment.window:,} (its sender's window scale is not known: its SYN was not captured)"
    return f"{segment.window:,} × {1 << scale:,} = {segment.window << scale:,} bytes (scale {scale})"


def window_scales(options: dict[str, dict | None]) -> dict[str, int | None]:
    """Each end's window scale as packet-tcp.c keeps it (verify_tcp_window_scaling): what its
    SYN offered; NO_SCALING for both once either SYN came without the option (RFC 7323 2.2:
    neither end scales then); None where its SYN was not captured, or was cut before the
    option could show."""

    def known_absent(given: dict | None) -> bool:
        return given is not None and given.get("window_scale") is None and not given.get("cut")

    if any(known_absent(given) for given in options.values()):
        return dict.fromkeys(options, NO_SCALING)
    return {side: given.get("window_scale") if given is not None else None for side, given in options.items()}


def connection_details(result: ConnectionAnalysis, origin: Clock, ids: Sequence[str]) -> dict[str, Details]:
    """The details of each packet (or band) in `ids`; origin: frame 1's time."""
    connection, handshake = result.connection, result.handshake
    bases = SequenceBases(result)
    options = {"client": handshake.client_options, "server": handshake.server_options}
    scales = window_scales(options)
    resets = {r.segment.frame: r for r in result.resets}
    marks: dict[int, list[str]] = {}
    for diagnosis in result.diagnoses:
        for frame, mark in diagnosis.marks.items():
            marks.setdefault(frame, []).append(f"{diagnosis.kind.replace('_', ' ')}: {mark}")
    wanted = set(ids)
    details: dict[str, Details] = {}
    previous: tuple[int, int] | None = None  # the stamp and frame of the segment before
    # Each end's latest frame of each TSval: what a TSecr echoes names the segment its sender
    # had last taken in from its peer (RFC 7323 4.3).
    stamped: dict[tuple[str, int], int] = {}
    for segment in connection.segments:
        key = str(segment.frame)
        if key in wanted:
            sender = connection.sender(segment)
            receiver = peer_of(sender)
            scale = scales[sender]
            lines: Details = [
                ("frame", f"{segment.frame}, {sender} → {receiver}"),
                ("time", _since(origin.since_stamp(segment.stamp))),
                (
                    "since previous",
                    FIRST if previous is None else _gap(between(previous[0], segment.stamp), previous[1]),
                ),
                ("flags", flag_names(segment.flags)),
                ("seq", _number(segment.seq, bases.seq_base(sender, segment))),
            ]
            if segment.flags & ACK:
                lines.append(("ack", _number(segment.ack, bases.ack_base(receiver, segment))))
            lines.append(("data", f"{segment.payload_len:,} bytes"))
            lines.append(("window", _window(segment, scale)))
            if segment.options is not None:
                lines.append(("options", options_words(segment.options)))
            elif segment.sack_start != UNSEEN:
                # The options of segments without SYN are not decoded but for the first SACK
                # block and the timestamps (the rest are Wireshark's to show).
                base = bases.ack_base(receiver, segment)
                start, end = (
                    (segment.sack_start, segment.sack_end)
                    if base is None
                    else ((segment.sack_start - base) % MOD, (segment.sack_end - base) % MOD)
                )
                what = "D-SACK (data received twice)" if dsack(segment) is not None else "SACK"
                numbers = "on the wire" if base is None else "relative"
                lines.append(("options", f"{what} {start}–{end} ({numbers}; the first block)"))
            if segment.ts_val != UNSEEN:
                lines.append(("timestamps", _timestamps(segment, stamped.get((receiver, segment.ts_ecr)))))
            if segment.frame in result.resends:
                number, _before = result.resends[segment.frame]
                note = retransmission_note(segment, result.resends[segment.frame])
                lines.append(("resend", f"retransmission #{number}, {note}"))
            for kind in result.sequence.flags.get(segment.frame, ()):
                lines.append(("Wireshark", f"{kind.replace('_', ' ')}: {WIRESHARK_FLAGS.get(kind, kind)}"))
            if segment.frame in resets:
                reset = resets[segment.frame]
                lines.append(("RST", f"{reset_words(reset.cause)}: {reset.explanation}"))
            lines.extend(("diagnosis", mark) for mark in marks.get(segment.frame, []))
            details[key] = lines
        previous = (segment.stamp, segment.frame)
        if segment.ts_val != UNSEEN:
            stamped[(connection.sender(segment), segment.ts_val)] = segment.frame
    for key in wanted - details.keys():
        if "-" in key:
            details[key] = _band(connection.segments, key, origin, connection.folded is not None)
    return details


def _timestamps(segment: Segment, echoed: int | None) -> str:
    """TSval and TSecr, and the peer's frame whose TSval the TSecr echoes (the latest with it)."""
    words = f"TSval {segment.ts_val}, TSecr {segment.ts_ecr}"
    if echoed is not None and segment.ts_ecr != 0:
        words += f" (frame {echoed}'s TSval)"
    return words


def _number(value: int, base: int | None) -> str:
    if base is None:
        return f"{value} (on the wire)"
    return f"{(value - base) % (1 << 32)} (relative; {value} on the wire)"


def _band(segments: Sequence[Segment], key: str, origin: Clock, folded: bool) -> Details:
    """A run of packets drawn as one band: what its segments add up to (of a folded
    connection, those it kept: long_connection.py)."""
    first, last = (int(part) for part in key.split("-"))
    inside = [s for s in segments if first <= s.frame <= last]
    lines: Details = [("frames", f"{first} to {last}")]
    if inside:
        lines += [
            (
                "time",
                f"{_since(origin.since_stamp(inside[0].stamp))}, "
                f"for {format_duration(between(inside[0].stamp, inside[-1].stamp))}",
            ),
            (
                "in it",
                f"{len(inside):,} segments{' kept' if folded else ''}, {sum(s.payload_len for s in inside):,} bytes of data",
            ),
        ]
    return lines


def udp_details(flow: UdpFlow, origin: Clock, ids: Sequence[str]) -> dict[str, Details]:
    """The details of each datagram or ICMP message in `ids`."""
    wanted = set(ids)
    moments = [(d.time, d.frame, exact_stamp(d), "client → server" if flow.from_client(d) else "server → client",
                f"UDP, {d.length:,} bytes of data") for d in flow.datagrams]  # fmt: skip
    moments += [
        (m.time, m.frame, exact_stamp(m), "to the client", "ICMP port unreachable")
        for m, _answered in flow.unreachables
    ]
    details: dict[str, Details] = {}
    previous: tuple[int, int] | None = None  # the stamp and frame of the message before
    for _time, frame, stamp, direction, what in sorted(moments):
        if str(frame) in wanted:
            details[str(frame)] = [
                ("frame", f"{frame}, {direction}"),
                ("time", _since(origin.since_stamp(stamp))),
                (
                    "since previous",
                    FIRST if previous is None else _gap(between(previous[0], stamp), previous[1]),
                ),
                ("what", what),
            ]
        previous = (stamp, frame)
    return details
