"""Wireshark's sequence flags where packet-tcp.c (4.0.17) holds state a first reading of its
rules misses (helper-124: 903 public captures against tshark 4.0.17). Each case is one of
that helper's crafted captures, with the flags tshark 4.0.17 gave it."""

from __future__ import annotations

import pytest
from segments import conversation

from analyzer.analysis import analyze_segments

HANDSHAKE_AT = (("c", "S", 999, 0), (0.010, "s", "SA", 4999, 1000), (0.020, "c", "A", 1000, 5000))


def _flags(*steps: tuple, start: float = 1.0) -> dict[int, list[str]]:
    [result] = analyze_segments(conversation(*steps, start=start)).connections
    return result.sequence.flags


def test_an_ack_beyond_all_data_is_flagged_once_until_the_peers_ack_moves() -> None:
    """acklost_oneway: the server acknowledges data the client never sent (a one-way upload
    the capture missed): tshark flags the first such ACK alone; the client's ACK never
    moves, so its duplicate ACK count stays at -1 (packet-tcp.c 2340-2347)."""
    flags = _flags(
        *HANDSHAKE_AT,
        (0.040, "s", "A", 5000, 2460),
        (0.041, "s", "A", 5000, 3920),
        (0.050, "c", "A", 1000, 5000, 2920),
        (0.060, "s", "A", 5000, 5380),
    )
    assert flags == {4: ["ack_lost_segment"], 6: ["spurious_retransmission", "retransmission"]}


def test_the_same_ack_beyond_a_hole_twice_is_flagged_twice() -> None:
    """acklost_hole_beyond: after a hole, the second ACK repeats the first, beyond all the
    client sent; the client's duplicate ACK count is 0, so tshark flags it too (and a
    duplicate ACK); the third, a duplicate ACK alone."""
    flags = _flags(
        *HANDSHAKE_AT,
        (0.030, "c", "PA", 1000, 5000, 100),
        (0.031, "c", "PA", 1200, 5000, 100),
        (0.040, "s", "A", 5000, 1400),
        (0.041, "s", "A", 5000, 1400),
        (0.042, "s", "A", 5000, 1400),
    )
    assert flags[5] == ["lost_segment"]
    assert flags[6] == ["ack_lost_segment"]
    assert flags[7] == ["duplicate_ack", "ack_lost_segment"]
    assert flags[8] == ["duplicate_ack"]  # the client's count is -1 now: its ACK has not moved


@pytest.mark.parametrize(
    ("start", "handshake"),
    [
        (1.0, ((0.0, "c", "S", 999, 0), (0.0, "s", "SA", 4999, 1000), (0.0, "c", "A", 1000, 5000))),
        (0.0, (("c", "S", 999, 0), (0.00001, "s", "SA", 4999, 1000), (0.00002, "c", "A", 1000, 5000))),
    ],
    ids=["irtt-zero", "syn-at-the-epoch"],
)
def test_wiresharks_irtt_of_zero_or_from_a_syn_at_the_epoch_is_none(start: float, handshake: tuple) -> None:
    """irtt_zero: a handshake within one timestamp measures an iRTT of 0, measured again at
    the next ACK (100 ms on); syn_epoch0: a SYN stamped 0 (nstime_is_zero) measures none,
    the threshold stays 3 ms. Either way the resend 49 ms (70 us) after the newest data is
    out of order, not a retransmission."""
    later = (0.1, 0.101, 0.15) if start else (0.00003, 0.000031, 0.0001)
    flags = _flags(
        *handshake,
        (later[0], "c", "PA", 1000, 5000, 100),
        (later[1], "c", "PA", 1100, 5000, 100),
        (later[2], "c", "PA", 1000, 5000, 100),
        start=start,
    )
    assert flags == {6: ["out_of_order"]}


def test_a_rst_ahead_moves_the_next_expected_number() -> None:
    """rst_ahead: a RST at 1300 after data ending at 1100; the data at 1100 after it is a
    retransmission in tshark (packet-tcp.c moves nextseq with every segment, RSTs too; only
    the lost-segment check leaves them out)."""
    flags = _flags(
        *HANDSHAKE_AT,
        (0.030, "c", "PA", 1000, 5000, 100),
        (0.040, "c", "R", 1300, 0),
        (0.100, "c", "PA", 1100, 5000, 100),
    )
    assert flags == {6: ["retransmission"]}


def test_a_refusals_rst_at_zero_moves_nothing() -> None:
    """A SYN refused by a RST/ACK at seq 0, sent again and answered: packet-tcp.c's next
    expected number 0 is none seen, so the SYN/ACK follows no gap (zeek_pop3's refused and
    retried attempts, corpus)."""
    flags = _flags(
        ("c", "S", 999, 0), ("s", "RA", 0, 1000), (1.0, "c", "S", 999, 0), (1.01, "s", "SA", 4999, 1000)
    )
    assert not any("lost_segment" in kinds for kinds in flags.values()), flags


def test_duplicate_acks_after_an_ack_lost_flag_count_from_one() -> None:
    """packet-tcp.c's "neutralize": a duplicate ACK count of -1 (set when the peer's ACK went
    beyond all this end sent) becomes 1 at the next duplicate ACK, so two duplicate ACKs make
    the resend after them a fast retransmission."""
    flags = _flags(
        *HANDSHAKE_AT,
        (0.030, "c", "PA", 1000, 5000, 100),
        (0.031, "s", "A", 5000, 1300),
        (0.032, "s", "PA", 5100, 1300, 100),
        (0.033, "c", "A", 1100, 5000),
        (0.034, "c", "A", 1100, 5000),
        (0.036, "s", "PA", 5000, 1100, 100),
    )
    assert flags[5] == ["ack_lost_segment"]
    assert flags[8] == ["duplicate_ack"]
    assert flags[9] == ["fast_retransmission", "retransmission"]
