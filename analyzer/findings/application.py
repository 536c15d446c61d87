"""What the application saw, put next to the packets (needs the capture's call log).

Rules:
- a call that failed is told with its errno and how long after the packet that
  caused it: the last RST, or else the last SYN, received before the call returned;
- a recv() whose bytes came from more than one send() of the peer is said to have
  glued them together (TCP keeps no message boundaries).
"""

from __future__ import annotations

import ast
import re

from analyzer.decode.segment import ACK, RST, SYN, Segment
from analyzer.sidecar import CallRecord, call_bytes, call_failed
from analyzer.timefmt import format_duration

_SENT = re.compile(r"^sendall\(b(['\"])(.*)\1\)$", re.S)


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
    findings.extend(_boundaries(calls))
    return findings


def _failure(call: CallRecord, segments: list[Segment], refusals: list) -> str:
    # getsockopt(SO_ERROR) does not fail: it reports how a non-blocking connect() ended.
    verb = "reported" if call["call"].startswith("getsockopt(SO_ERROR") else "raised"
    text = f"{call['side']} {call['call']} {verb} {call['errno']}"
    before = [s for s in segments if s.time <= call["end_time"]]
    refusing = [(s.time, s.frame, "RST") for s in before if s.flags & RST]
    refusing += [(r.time, r.frame, "ICMP port unreachable") for r in refusals if r.time <= call["end_time"]]
    syns = [(s.time, s.frame, "last SYN") for s in before if s.flags & (SYN | ACK) == SYN]
    cause = max(refusing) if refusing else (syns[-1] if syns else None)
    if cause is not None:
        time, frame, what = cause
        text += f" {format_duration(call['end_time'] - time)} after the {what} (frame {frame})"
    return text


def _boundaries(calls: list[CallRecord]) -> list[str]:
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
                findings.append(
                    f"{reader} {call['call']} returned {length} bytes: {len(pieces)} send()s of the "
                    f"{writer} glued together (TCP keeps no message boundaries)"
                )
    return findings
