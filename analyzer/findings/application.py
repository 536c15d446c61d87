"""What the application saw, put next to the packets (needs the capture's call log).

Rules:
- a call that failed is told with its errno and how long after the packet that
  caused it: the last RST, or else the last SYN, received before the call returned. The
  call log's clock and the capture's are not one: strace stamps a call's return up to tens
  of µs before tcpdump stamps the packet that ended it (loopback), so a packet stamped up
  to CLOCKS_APART after the return still counts, said so;
- but a call that raised TimeoutError (the deadline settimeout() gave it) has no packet
  for a cause: it is told with how long it waited and what the wire carried meanwhile;
- a recv() whose bytes came from more than one send() of the peer is said to have
  glued them together (TCP keeps no message boundaries), and where: when the capture
  holds one connection, the peer's data segments that carried those bytes are counted:
  fewer segments than sends, the sender glued them (Nagle's algorithm holds small sends
  while an ACK is outstanding); one segment each, the receive queue did.
"""

from __future__ import annotations

import ast
import re
from typing import Final

from analyzer.decode.segment import ACK, MOD, RST, SYN, Segment
from analyzer.sidecar import CallRecord, call_bytes, call_failed
from analyzer.timefmt import format_duration

_SENT = re.compile(r"^sendall\(b(['\"])(.*)\1\)$", re.S)

CLOCKS_APART: Final = 0.002  # seconds: see the module's docstring


def _sent_length(call: CallRecord) -> int | None:
    """sendall(b'...') logs its data literally; its length is that of the bytes literal."""
    found = _SENT.match(call["call"])
    if not found:
        return None
    try:
        return len(ast.literal_eval("b" + found.group(1) + found.group(2) + found.group(1)))
    except (SyntaxError, ValueError):
        return None


def application_findings(
    calls: list[CallRecord], segments: list[Segment], refusals: list | None = None
) -> list[str]:
    """`refusals`: ICMP unreachables, the UDP counterpart of a RST."""
    findings = [_failure(call, segments, refusals or []) for call in calls if call_failed(call)]
    findings.extend(_boundaries(calls, segments))
    return findings


def _failure(call: CallRecord, segments: list[Segment], refusals: list) -> str:
    # getsockopt(SO_ERROR) does not fail: it reports how a non-blocking connect() ended.
    verb = "reported" if call["call"].startswith("getsockopt(SO_ERROR") else "raised"
    text = f"{call['side']} {call['call']} {verb} {call['errno']}"
    if call["errno"] == "TimeoutError":
        during = sum(1 for s in segments if call["time"] <= s.time <= call["end_time"])
        waited = format_duration(call["end_time"] - call["time"])
        wire = (
            "nothing on the wire meanwhile" if not during else f"{during} TCP packets on the wire meanwhile"
        )
        return f"{text} after waiting {waited} (the deadline settimeout() set): {wire}"
    returned = call["end_time"]
    until = returned + CLOCKS_APART
    before = [s for s in segments if s.time <= until]
    refusing = [(s.time, s.frame, "RST") for s in before if s.flags & RST]
    refusing += [(r.time, r.frame, "ICMP port unreachable") for r in refusals if r.time <= until]
    syns = [(s.time, s.frame, "last SYN") for s in before if s.flags & (SYN | ACK) == SYN]
    cause = max(refusing) if refusing else (syns[-1] if syns else None)
    if cause is not None:
        time, frame, what = cause
        if time <= returned:
            text += f" {format_duration(returned - time)} after the {what} (frame {frame})"
        else:
            text += (
                f" on the {what} (frame {frame}, stamped by the capture {format_duration(time - returned)} "
                "after the call returned: the call log and the capture keep separate clocks)"
            )
    return text


def _boundaries(calls: list[CallRecord], segments: list[Segment]) -> list[str]:
    """Match each side's recv()s against the other side's sends, byte by byte."""
    findings = []
    for reader in ("client", "server"):
        writer = "server" if reader == "client" else "client"
        sends = [n for c in calls if c["side"] == writer and (n := _sent_length(c))]
        ends: list[int] = []
        total = 0
        for sent in sends:
            total += sent
            ends.append(total)
        carried = _stream_segments(segments, writer)
        position = 0
        for call in calls:
            if call["side"] != reader or not call["call"].startswith("recv"):
                continue
            length = call_bytes(call)
            if not length:
                continue
            start, stop = position, position + length
            position = stop
            pieces = [i for i, end in enumerate(ends) if end > start and (ends[i - 1] if i else 0) < stop]
            if len(pieces) > 1:
                finding = (
                    f"{reader} {call['call']} returned {length} bytes: {len(pieces)} send()s of the "
                    f"{writer} glued together (TCP keeps no message boundaries)"
                )
                if carried is not None:
                    finding += _where_glued(carried, start, stop, len(pieces))
                findings.append(finding)
    return findings


def _stream_segments(segments: list[Segment], writer: str) -> list[tuple[int, Segment]] | None:
    """The writer's data segments with their offsets in its byte stream (from its SYN), if
    the capture holds one connection that began with a SYN; None otherwise (several
    connections' bytes cannot be told apart by side alone)."""
    syns = [s for s in segments if s.flags & (SYN | ACK | RST) == SYN]
    if not syns:
        return None
    forward = _ends(syns[0])
    if any(_ends(s) != forward for s in syns):
        return None
    both = (forward, forward[2:] + forward[:2])
    client = (syns[0].src, syns[0].sport)
    isn: int | None = None
    carried = []
    for segment in segments:
        if _ends(segment) not in both:
            return None
        from_client = (segment.src, segment.sport) == client
        if from_client != (writer == "client"):
            continue
        if segment.flags & SYN and isn is None:
            isn = segment.seq
        elif segment.payload_len and isn is not None:
            carried.append(((segment.seq - isn - 1) % MOD, segment))
    return carried


def _ends(segment: Segment) -> tuple[str, int, str, int]:
    return segment.src, segment.sport, segment.dst, segment.dport


def _where_glued(carried: list[tuple[int, Segment]], start: int, stop: int, sends: int) -> str:
    """Where the sends were glued: by the sender, into fewer segments, or only at the receiver."""
    frames = sorted(
        {
            segment.frame
            for offset, segment in carried
            if offset < stop and offset + segment.payload_len > start
        }
    )
    if not frames:
        return ""
    listed = ", ".join(str(frame) for frame in frames)
    if len(frames) < sends:
        return (
            f"; on the wire they were {len(frames)} segments (frames {listed}): the sender glued them "
            "(Nagle's algorithm holds small sends while an ACK is outstanding)"
        )
    return f"; on the wire each was a segment of its own (frames {listed}): glued in the receive queue"
