"""A held packet class is one definition: its nftables rule and its header test must agree."""

from __future__ import annotations

from dataclasses import replace

import pytest

from analyzer.decode.segment import ACK, FIN, PSH, RST, SYN
from analyzer.scenarios.base import FINS, PURE_ACKS, syns_to


def test_the_nft_rules_the_scenarios_use() -> None:
    assert FINS.nft == "tcp flags & (fin) == fin"
    assert PURE_ACKS.nft == "tcp flags == ack"
    assert syns_to(5000).nft == "tcp dport 5000 tcp flags & (syn | ack) == syn"
    assert replace(PURE_ACKS, sport=5002, dport=5000).nft == "tcp sport 5002 tcp dport 5000 tcp flags == ack"


@pytest.mark.parametrize(
    ("held", "flags", "sport", "dport", "expected"),
    [
        (FINS, FIN | ACK, 1, 2, True),
        (FINS, FIN | PSH | ACK, 1, 2, True),
        (FINS, ACK, 1, 2, False),
        (PURE_ACKS, ACK, 1, 2, True),
        (PURE_ACKS, PSH | ACK, 1, 2, False),  # data is not held
        (PURE_ACKS, FIN | ACK, 1, 2, False),
        (syns_to(5000), SYN, 40000, 5000, True),
        (syns_to(5000), SYN | ACK, 5000, 40000, False),  # the answer is not a request
        (syns_to(5000), SYN, 40000, 5001, False),
        (syns_to(5000), RST, 40000, 5000, False),
        (replace(PURE_ACKS, sport=5002), ACK, 5003, 5000, False),
    ],
)
def test_the_header_test_matches_what_the_rule_drops(held, flags, sport, dport, expected) -> None:
    assert held.matches(flags, sport, dport) is expected
