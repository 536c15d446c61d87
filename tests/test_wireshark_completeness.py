"""Wireshark's tcp.completeness by Wireshark's rule (findings/compatibility.py), rule by rule
on hand-made conversations, and against tshark's on the corpus wherever our connections are
tshark's streams.

The expected values are tshark 4.0.17's (`tshark -2`, the value on the stream's last packet,
as the corpus oracle reads it) for the same packets written to a pcap."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from segments import HANDSHAKE, conversation

from analyzer.analysis import analyze_file, analyze_segments
from analyzer.decode.segment import ACK, FIN, RST, SYN, Segment
from analyzer.findings.compatibility import CompatibilityCounter, completeness_names


def plain_or(segments: list[Segment]) -> int:
    """What the field was before it followed Wireshark: the OR of the flags seen."""
    value = 0
    for segment in segments:
        flags = segment.flags
        if flags & SYN:
            value |= 2 if flags & ACK else 1
        if flags & ACK:
            value |= 4
        if segment.payload_len:
            value |= 8
        if flags & FIN:
            value |= 16
        if flags & RST:
            value |= 32
    return value


def completeness(segments: list[Segment]) -> int:
    counter = CompatibilityCounter(segments[0])
    for segment in segments:
        counter.feed(segment)
    return counter.result().wireshark_completeness


# Each case is one rule, and the plain OR of the flags gives another value for it.
RULES = {
    "a lone RST sets nothing": ((("c", "R", 100, 0),), 0),
    "a lone RST/ACK sets nothing": ((("s", "RA", 500, 101),), 0),
    "a lone SYN/ACK sets nothing": ((("s", "SA", 500, 101),), 0),
    "a lone data segment sets nothing": ((("c", "PA", 101, 501, 5),), 0),
    "a lone FIN/ACK sets nothing": ((("c", "FA", 101, 501),), 0),
    "a SYN/ACK sets no ACK bit": ((("c", "S", 100, 0), ("s", "SA", 500, 101)), 3),
    "a SYN after the first packet sets no SYN bit, the first counted on tshark's second pass": (
        (("s", "SA", 500, 101), ("c", "S", 100, 0)),
        2,
    ),
    "a SYN later in the conversation sets no SYN bit": (
        (("s", "SA", 500, 101), ("c", "A", 101, 501), ("c", "S", 100, 0)),
        6,
    ),
    "a FIN without ACK sets no FIN bit": ((("c", "S", 100, 0), ("c", "F", 101, 0)), 1),
    "data without ACK sets no DATA bit": ((("c", "S", 100, 0), ("c", "P", 101, 0, 2)), 1),
    "data on a SYN/ACK sets no DATA bit": ((("c", "S", 100, 0), ("s", "SA", 500, 101, 1)), 3),
    "a SYN with FIN and RST sets SYN only, alone": ((("c", "SFR", 100, 0),), 1),
}

# Where Wireshark's rule gives what the plain OR gives: the rule must keep these too.
SAME_AS_OR = {
    "a lone SYN": ((("c", "S", 100, 0),), 1),
    "a lone SYN with Fast Open data": ((("c", "S", 100, 0, 3),), 9),
    "SYN with Fast Open data answered": ((("c", "S", 100, 0, 3), ("s", "SA", 500, 104)), 11),
    "a refused SYN: the RST/ACK sets ACK": ((("c", "S", 100, 0), ("s", "RA", 0, 101)), 37),
    "a RST without ACK after a SYN": ((("c", "S", 100, 0), ("s", "R", 0, 0)), 33),
    "mid-stream data, then an ACK": ((("c", "PA", 100, 5, 2), ("s", "A", 5, 102)), 12),
    "two mid-stream ACKs: no handshake needed for the ACK bit": ((("c", "A", 100, 5), ("s", "A", 5, 100)), 4),
    "two RSTs": ((("c", "R", 100, 0), ("c", "R", 100, 0)), 32),
    "a whole exchange": (
        (
            *HANDSHAKE,
            ("c", "PA", 101, 501, 2),
            ("s", "FA", 501, 103),
            ("c", "FA", 103, 502),
            ("s", "A", 502, 104),
        ),
        31,
    ),
}


@pytest.mark.parametrize(("steps", "expected"), list(RULES.values()), ids=list(RULES))
def test_each_rule_of_wiresharks(steps: tuple, expected: int) -> None:
    segments = conversation(*steps)
    assert completeness(segments) == expected
    assert plain_or(segments) != expected  # the case tells the rule from the plain OR


@pytest.mark.parametrize(("steps", "expected"), list(SAME_AS_OR.values()), ids=list(SAME_AS_OR))
def test_where_the_rule_agrees_with_the_flags_seen(steps: tuple, expected: int) -> None:
    assert completeness(conversation(*steps)) == expected


def test_the_report_carries_the_rule_and_names_its_bits() -> None:
    """Through the whole analysis: the SYN/ACK then the SYN, one connection, 2 (SYN-ACK)."""
    [result] = analyze_segments(conversation(("s", "SA", 500, 101), ("c", "S", 100, 0))).connections
    assert result.compatibility.wireshark_completeness == 2
    assert result.compatibility.wireshark_completeness_flags == ["SYN-ACK"] == completeness_names(2)


# Where our connection is tshark's stream (the same frames) but the values differ, and why
# ours is right; tests/corpus_known_disagreements.tsv says the same.
FTP_DATA = (
    "tshark's FTP dissector sets up the passive-mode (EPSV) data connection's conversation before its SYN, "
    "which then sets no SYN bit (30, where ours is 31)"
)
STREAM_EXCEPTIONS = {("zeek_ftp__ipv6.pcap", stream): FTP_DATA for stream in (1, 2, 3)}


def test_ours_is_tsharks_wherever_our_connection_is_its_stream(corpus_dir: Path) -> None:
    compared = 0
    differing: dict[tuple[str, int], tuple[int, int]] = {}
    for pcap in sorted((corpus_dir / "pcaps").iterdir()):
        oracle = corpus_dir / "oracle" / f"{pcap.name}.tshark.json"
        if not oracle.exists():
            continue
        streams = {
            (s["first_frame"], s["last_frame"], s["packets"]): s
            for s in json.loads(oracle.read_text())["streams"]
        }
        for result in analyze_file(str(pcap)).connections:
            frames = result.connection.with_copies()
            stream = streams.get((frames[0].frame, frames[-1].frame, len(frames)))
            if stream is None:
                continue  # split otherwise than tshark: the known-disagreements file says why
            compared += 1
            ours = result.compatibility.wireshark_completeness
            if ours != stream["tcp_completeness"]:
                differing[(pcap.name, stream["stream"])] = (ours, stream["tcp_completeness"])
    assert compared > 2500
    assert sorted(differing) == sorted(STREAM_EXCEPTIONS), differing
