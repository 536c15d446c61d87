"""A SYN's Multipath TCP option (RFC 8684): MP_CAPABLE with its version and, where the SYN
carries its sender's key (a SYN/ACK's), the token that names the MPTCP connection; MP_JOIN
with the token of the connection a new subflow joins. The two tokens match across the
subflows of one MPTCP connection, in the options line and the JSON, by both decoders."""

from __future__ import annotations

import hashlib
import shutil

import pytest
from pcap_builder import tcp_packet, write_capture

from analyzer.analysis import analyze_file
from analyzer.decode.ip_tcp import parse_options
from analyzer.decode.segment import mptcp_token
from analyzer.output.glossary import options_words
from analyzer.output.json_report import analysis_to_dict

C, S = "10.0.0.1", "10.0.0.2"
C2 = "10.0.1.1"  # the client's second address, its second subflow's
SERVER_KEY = 0x0123456789ABCDEF
CLIENT_KEY = 0x1122334455667788
TOKEN = int.from_bytes(hashlib.sha256(SERVER_KEY.to_bytes(8, "big")).digest()[:4], "big")


def _mp_capable(*keys: int) -> tuple[int, bytes]:
    # Subtype 0, version 1; flags: no checksum, HMAC-SHA256; then the keys the segment carries.
    return (30, b"\x01\x81" + b"".join(key.to_bytes(8, "big") for key in keys))


def _mp_join(token: int) -> tuple[int, bytes]:
    # Subtype 1 with the backup bit clear, address ID 2, the receiver's token, a random number.
    return (30, b"\x10\x02" + token.to_bytes(4, "big") + b"\x5a\x5a\x5a\x5a")


def _capture(tmp_path):
    packets = [
        tcp_packet(4, C, 40000, S, 80, "S", 1000, options=[("MSS", 1460), _mp_capable()]),
        tcp_packet(4, S, 80, C, 40000, "SA", 5000, 1001, options=[("MSS", 1460), _mp_capable(SERVER_KEY)]),
        tcp_packet(4, C, 40000, S, 80, "A", 1001, 5001, options=[_mp_capable(CLIENT_KEY, SERVER_KEY)]),
        tcp_packet(4, C2, 40001, S, 80, "S", 7000, options=[("MSS", 1460), _mp_join(TOKEN)]),
        tcp_packet(4, S, 80, C2, 40001, "SA", 9000, 7001, options=[("MSS", 1460), (30, b"\x10\x02" + bytes(12))]),
        tcp_packet(4, C2, 40001, S, 80, "A", 7001, 9001, options=[(30, b"\x10\x00" + bytes(20))]),
    ]  # fmt: skip
    return write_capture(tmp_path / "mptcp.pcap", packets)


def test_the_token_is_the_keys_hash() -> None:
    assert mptcp_token(SERVER_KEY, 1) == TOKEN
    assert mptcp_token(SERVER_KEY, 0) == int.from_bytes(
        hashlib.sha1(SERVER_KEY.to_bytes(8, "big")).digest()[:4], "big"
    )


def test_options_are_read_as_sent() -> None:
    syn = parse_options(bytes([30, 4, 0x01, 0x81]))
    assert (syn.mptcp_version, syn.mptcp_key, syn.mptcp_join_token) == (1, -1, -1)
    synack = parse_options(bytes([30, 12, 0x01, 0x81]) + SERVER_KEY.to_bytes(8, "big"))
    assert (synack.mptcp_version, synack.mptcp_key) == (1, SERVER_KEY)
    join = parse_options(bytes([30, 12, 0x10, 0x02]) + TOKEN.to_bytes(4, "big") + bytes(4))
    assert (join.mptcp_version, join.mptcp_join_token) == (-1, TOKEN)
    # An MP_JOIN of another length (a SYN/ACK's HMAC) names no token.
    assert parse_options(bytes([30, 16, 0x10, 0x02]) + bytes(12)).mptcp_join_token == -1


def test_the_subflows_tokens_match_in_words_and_json(tmp_path) -> None:
    analysis = analyze_file(str(_capture(tmp_path)))
    first, joined = analysis.connections
    token = f"0x{TOKEN:08x}"
    assert options_words(first.handshake.client_options) == (
        "maximum segment size 1460 bytes, Multipath TCP (MP_CAPABLE version 1)"
    )
    assert token in options_words(first.handshake.server_options)
    assert "MP_CAPABLE version 1; its connection's token" in options_words(first.handshake.server_options)
    assert options_words(joined.handshake.client_options) == (
        f"maximum segment size 1460 bytes, joins a Multipath TCP connection (MP_JOIN, its token {token})"
    )
    document = analysis_to_dict(analysis)
    served = document["connections"][0]["handshake"]["server_options"]["mptcp"]
    assert served == {"option": "MP_CAPABLE", "version": 1, "key": f"0x{SERVER_KEY:016x}", "token": token}
    assert document["connections"][1]["handshake"]["client_options"]["mptcp"] == {
        "option": "MP_JOIN",
        "token": token,
    }
    assert document["connections"][0]["handshake"]["client_options"]["mptcp"]["key"] is None


def test_a_syn_without_the_option_says_nothing_of_it(tmp_path) -> None:
    path = write_capture(
        tmp_path / "plain.pcap", [tcp_packet(4, C, 40000, S, 80, "S", 1000, options=[("MSS", 1460)])]
    )
    [connection] = analyze_file(str(path)).connections
    assert "Multipath" not in options_words(connection.handshake.client_options)
    assert (
        analysis_to_dict(analyze_file(str(path)))["connections"][0]["handshake"]["client_options"]["mptcp"]
        is None
    )


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed (make setup)")
def test_both_decoders_read_the_option(tmp_path) -> None:
    path = _capture(tmp_path)
    assert analysis_to_dict(analyze_file(str(path), decoder="tshark")) == analysis_to_dict(
        analyze_file(str(path))
    )
