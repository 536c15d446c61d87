"""Multipath TCP's RSTs name their cause in an option (RFC 8684): MP_TCPRST resets one
subflow for a reason code, MP_FASTCLOSE aborts the whole MPTCP connection. Read by both
decoders from captures made with scapy, with the options Linux's MPTCP puts on them."""

from __future__ import annotations

import shutil

import pytest
from pcap_builder import tcp_packet, write_capture

from analyzer.analysis import analyze_file
from analyzer.output.glossary import options_words
from analyzer.output.json_report import analysis_to_dict
from analyzer.output.summary import RESETS

C, S = "10.0.0.1", "10.0.0.2"
MP_CAPABLE = (30, b"\x01\x81")  # subtype 0, version 1, flags: checksum off, HMAC-SHA256
MP_TCPRST = (30, b"\x80\x05")  # subtype 8, no flags, reason 5: unacceptable performance
MP_FASTCLOSE = (30, b"\x70\x00" + bytes(range(8)))  # subtype 7, the receiver's key


def _exchange(tmp_path, reset_options: list, name: str):
    packets = [
        tcp_packet(4, C, 40000, S, 80, "S", 1000, options=[("MSS", 1460), MP_CAPABLE]),
        tcp_packet(4, S, 80, C, 40000, "SA", 5000, 1001, options=[("MSS", 1460), MP_CAPABLE]),
        tcp_packet(4, C, 40000, S, 80, "A", 1001, 5001, options=[(30, b"\x01\x01" + bytes(16))]),
        tcp_packet(4, C, 40000, S, 80, "PA", 1001, 5001, b"hello"),
        tcp_packet(4, S, 80, C, 40000, "A", 5001, 1006),
        tcp_packet(4, S, 80, C, 40000, "RA", 5001, 1006, options=reset_options),
    ]
    return write_capture(tmp_path / f"{name}.pcap", packets)


@pytest.mark.parametrize(
    ("options", "cause", "words"),
    [
        ([MP_TCPRST], "mptcp_subflow_reset", "reset this subflow (MP_TCPRST, reason 5: unacceptable performance)"),
        ([MP_FASTCLOSE, ("NOP", None), ("NOP", None), MP_TCPRST], "mptcp_fastclose", "MP_FASTCLOSE"),
    ],
)  # fmt: skip
def test_an_mptcp_reset_says_what_mptcp_did(tmp_path, options, cause, words) -> None:
    """Not an application's abort from ESTABLISHED: the MPTCP layer's own RST, as it says."""
    path = _exchange(tmp_path, options, cause)
    [connection] = analyze_file(str(path)).connections
    [reset] = connection.resets
    assert (reset.sender, reset.state, reset.cause) == ("server", "ESTABLISHED", cause)
    assert words in reset.explanation
    assert cause in RESETS
    # The packet's details name the option.
    assert "MPTCP MP_" in options_words(reset.segment.options)


def test_a_reset_with_other_options_is_still_an_abort(tmp_path) -> None:
    """Only an MPTCP reason changes the cause: a RST with a timestamps option is read as before."""
    path = _exchange(tmp_path, [("NOP", None), ("NOP", None), ("Timestamp", (5, 6))], "plain")
    [connection] = analyze_file(str(path)).connections
    assert [r.cause for r in connection.resets] == ["abort"]
    assert connection.resets[0].segment.options is None


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed (make setup)")
def test_both_decoders_read_the_mptcp_reason(tmp_path) -> None:
    for options in ([MP_TCPRST], [MP_FASTCLOSE]):
        path = _exchange(tmp_path, options, f"both{len(options[0][1])}")
        fast, wireshark = analyze_file(str(path)), analyze_file(str(path), decoder="tshark")
        assert analysis_to_dict(wireshark) == analysis_to_dict(fast)


def test_a_subflow_s_plain_reset_names_the_mptcp_layer_beside_the_application(tmp_path) -> None:
    """helper-120: an iperf run's subflows, reset together at its end without an MPTCP
    reason, were told as applications' aborts alone; a plain connection's abort says nothing
    of MPTCP."""
    path = _exchange(tmp_path, [], "subflow")
    [reset] = analyze_file(str(path)).connections[0].resets
    assert reset.cause == "abort"
    assert (
        "this being a Multipath TCP subflow (its SYN's MP_CAPABLE), its MPTCP layer's reset"
        in reset.explanation
    )
    plain = write_capture(
        tmp_path / "plain.pcap",
        [
            tcp_packet(4, C, 40000, S, 80, "S", 1000),
            tcp_packet(4, S, 80, C, 40000, "SA", 5000, 1001),
            tcp_packet(4, C, 40000, S, 80, "A", 1001, 5001),
            tcp_packet(4, S, 80, C, 40000, "RA", 5001, 1001),
        ],
    )
    [reset] = analyze_file(str(plain)).connections[0].resets
    assert reset.cause == "abort" and "Multipath" not in reset.explanation


def test_a_connection_fallen_back_to_plain_tcp_is_no_subflow(tmp_path) -> None:
    """helper-121: the SYN offered MP_CAPABLE, the SYN/ACK did not take it: plain TCP, whose
    abort says nothing of an MPTCP layer."""
    path = write_capture(
        tmp_path / "fallback.pcap",
        [
            tcp_packet(4, C, 40000, S, 80, "S", 1000, options=[("MSS", 1460), MP_CAPABLE]),
            tcp_packet(4, S, 80, C, 40000, "SA", 5000, 1001, options=[("MSS", 1460)]),
            tcp_packet(4, C, 40000, S, 80, "A", 1001, 5001),
            tcp_packet(4, S, 80, C, 40000, "RA", 5001, 1001),
        ],
    )
    [reset] = analyze_file(str(path)).connections[0].resets
    assert reset.cause == "abort" and "Multipath" not in reset.explanation
