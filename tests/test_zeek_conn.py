"""Zeek's conn_state and history, rule by rule, on hand-made conversations."""

from __future__ import annotations

import pytest
from segments import CLIENT, HANDSHAKE, SERVER, conversation

from analyzer.analysis import analyze_segments
from analyzer.connections import Connection
from analyzer.findings.zeek_conn import zeek_conn

FOUR_WAY = (("c", "FA", 101, 501), ("s", "A", 501, 102), ("s", "FA", 501, 102), ("c", "A", 102, 502))


def zeek(*steps: tuple) -> tuple[str, str]:
    [result] = analyze_segments(conversation(*steps)).connections
    z = zeek_conn(result.connection)
    return z.history, z.conn_state


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        ((*HANDSHAKE, ("c", "PA", 101, 501, 5), ("s", "A", 501, 106)), ("ShADa", "S1")),
        ((*HANDSHAKE, *FOUR_WAY), ("ShAFaf", "SF")),
        ((("c", "S", 100, 0), ("s", "RA", 0, 101)), ("Sr", "REJ")),
        ((("c", "S", 100, 0), (1.0, "c", "S", 100, 0)), ("S", "S0")),
        ((("c", "S", 100, 0), ("c", "R", 101, 0)), ("SR", "RSTOS0")),
        ((("c", "S", 100, 0), ("s", "A", 0, 101), ("c", "FA", 101, 1), ("c", "R", 102, 0)), ("SaFR", "OTH")),
        ((*HANDSHAKE, ("c", "RA", 101, 501)), ("ShAR", "RSTO")),
        ((*HANDSHAKE, ("s", "RA", 501, 101)), ("ShAr", "RSTR")),
        ((("s", "SA", 500, 101), ("c", "A", 101, 501), ("s", "FA", 501, 101)), ("^hAf", "S3")),
        ((("c", "PA", 1, 1, 5), ("s", "A", 1, 6)), ("Da", "OTH")),
    ],
)
def test_conn_state_and_history(steps, expected) -> None:
    assert zeek(*steps) == expected


def test_a_rst_after_a_fin_is_a_normal_close_once_the_peer_closes() -> None:
    """irc-starttls in Zeek's tests: F, then R, then the peer's f: still SF."""
    history, state = zeek(*HANDSHAKE, ("c", "FA", 101, 501), ("c", "R", 102, 0), ("s", "FA", 501, 102))
    assert (history, state) == ("ShAFRf", "SF")


def test_retransmitted_data_and_new_syns_repeat_their_letters() -> None:
    history, _ = zeek(*HANDSHAKE, ("c", "PA", 101, 501, 5), (0.5, "c", "PA", 101, 501, 5))
    assert history == "ShADT"
    # The analyzer itself splits there (a new ISN, a new connection); Zeek's rule, asked
    # directly about one 4-tuple, marks the second SYN again.
    segments = conversation(("c", "S", 100, 0), ("c", "S", 7000, 0))
    assert zeek_conn(Connection(0, 4, CLIENT, SERVER, segments)).history == "SS"
