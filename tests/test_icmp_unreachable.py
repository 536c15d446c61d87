"""ICMP destination-unreachable errors about TCP segments (findings/unreachable.py): a SYN a
firewall rejects or a router cannot route, read as the client's stack reads it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import run
from pcap_builder import tcp_packet, write_capture
from scapy.layers.inet import ICMP, IP, UDP
from scapy.layers.inet6 import (
    ICMPv6DestUnreach,
    ICMPv6PacketTooBig,
    ICMPv6ParamProblem,
    ICMPv6TimeExceeded,
    IPv6,
)

from analyzer.analysis import analyze_file
from analyzer.decode.reader import read_packets
from analyzer.decode.segment import PARAMETER_PROBLEM, TIME_EXCEEDED, Unreachable
from analyzer.findings import unreachable
from analyzer.findings.unreachable import HeldErrors

CLIENT, SERVER, ROUTER = "10.0.0.1", "10.0.0.2", "192.0.2.254"


def _icmp(syn, code: int, src: str = SERVER):
    """The error a host sends about `syn`: its IP header and the first 8 bytes of its TCP header."""
    return IP(src=src, dst=CLIENT) / ICMP(type=3, code=code) / bytes(syn)[:28]


def _syn(seq: int = 1000, sport: int = 40000):
    return tcp_packet(4, CLIENT, sport, SERVER, 443, "S", seq)


def _analysis(tmp_path: Path, packets: list, times: list[float]) -> dict:
    path = write_capture(tmp_path / "icmp.pcap", packets, times=times)
    result = run("analyze", "--json", str(path))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_a_syn_rejected_with_port_unreachable_ends_the_attempt(tmp_path: Path) -> None:
    syn = _syn()
    document = _analysis(tmp_path, [syn, _icmp(syn, 3)], [0.0, 0.0003])
    [connection] = document["connections"]
    handshake = connection["handshake"]
    assert handshake["status"] == "unreachable" and handshake["unreachable_frame"] == 2
    assert handshake["explanation"] == (
        "unreachable: ICMP port unreachable from the server's host (frame 2) 300 µs after the SYN; "
        "Linux ends the attempt at once: connect() fails with ECONNREFUSED"
    )
    assert [s for s, _ in connection["states"]["client"]] != []
    assert [state for _, state in connection["states"]["client"]] == ["CLOSED", "SYN_SENT", "CLOSED"]
    assert connection["states"]["client"][-1][0] == pytest.approx(1_700_000_000.0003)
    [error] = connection["icmp_errors"]
    assert (error["frame"], error["from"], error["says"], error["errno"]) == (
        2, SERVER, "ICMP port unreachable", "ECONNREFUSED"
    )  # fmt: skip
    assert error["quotes"] == {"src": CLIENT, "sport": 40000, "dst": SERVER, "dport": 443, "seq": 1000}
    assert error["mtu"] is None
    # The error came back through the capture point: not a capture of one direction.
    assert connection["vantage"]["point"] != "one_direction"


def test_a_client_that_goes_on_sending_syns_did_not_give_up(tmp_path: Path) -> None:
    """Windows retries a SYN rejected by ICMP; the client stays in SYN_SENT."""
    syns = [_syn() for _ in range(3)]
    packets = [syns[0], _icmp(syns[0], 13, ROUTER), syns[1], _icmp(syns[1], 13, ROUTER), syns[2]]
    document = _analysis(tmp_path, packets, [0.0, 0.002, 1.0, 1.002, 3.0])
    [connection] = document["connections"]
    assert connection["handshake"]["status"] == "unreachable"
    explanation = connection["handshake"]["explanation"]
    assert (
        f"ICMP communication administratively prohibited from {ROUTER} (a router or a firewall" in explanation
    )
    assert "the client sent 2 SYNs after it: its stack did not give up" in explanation
    assert "EHOSTUNREACH" in explanation
    assert [state for _, state in connection["states"]["client"]] == ["CLOSED", "SYN_SENT"]
    assert [e["frame"] for e in connection["icmp_errors"]] == [2, 4]


def test_the_error_to_the_last_syn_ends_the_attempt_the_first_did_not(tmp_path: Path) -> None:
    """A firewall on the client's own host rejects the SYN at once, while connect() still holds
    the socket: Linux drops that error (LockDroppedIcmps); the SYN resent 1 s later draws it
    again and that one ends the attempt. The client is CLOSED at the last error."""
    syns = [_syn() for _ in range(2)]
    packets = [syns[0], _icmp(syns[0], 3), syns[1], _icmp(syns[1], 3)]
    document = _analysis(tmp_path, packets, [0.0, 0.00002, 1.0, 1.00002])
    [connection] = document["connections"]
    explanation = connection["handshake"]["explanation"]
    assert "the error came again (frame 4), with no SYN after that" in explanation
    assert "the last did: connect() fails with ECONNREFUSED" in explanation
    assert [state for _, state in connection["states"]["client"]] == ["CLOSED", "SYN_SENT", "CLOSED"]
    assert connection["states"]["client"][-1][0] == pytest.approx(1_700_000_001.00002)


def test_errors_quoting_resent_data_give_the_application_their_errno(tmp_path: Path) -> None:
    """Established, each copy of a request answered by port unreachable: soft errors; the timer
    gives up silently and the application gets ECONNREFUSED, not ETIMEDOUT; the server's late
    FIN then finds no connection."""
    handshake = [
        tcp_packet(4, CLIENT, 40000, SERVER, 443, "S", 1000),
        tcp_packet(4, SERVER, 443, CLIENT, 40000, "SA", 5000, 1001),
        tcp_packet(4, CLIENT, 40000, SERVER, 443, "A", 1001, 5001),
    ]
    packets, times = list(handshake), [0.0, 0.0001, 0.0002]
    for at in (0.01, 0.22, 0.64, 1.48):
        request = tcp_packet(4, CLIENT, 40000, SERVER, 443, "PA", 1001, 5001, b"x" * 19)
        packets += [request, _icmp(request, 3)]
        times += [at, at + 0.00002]
    packets += [
        tcp_packet(4, SERVER, 443, CLIENT, 40000, "FA", 5001, 1001),
        tcp_packet(4, CLIENT, 40000, SERVER, 443, "R", 1001, 0),
    ]
    times += [5.0, 5.00002]
    [connection] = _analysis(tmp_path, packets, times)["connections"]
    [reset] = connection["resets"]
    assert reset["cause"] == "no_connection"
    assert (
        "4 of the copies drew an ICMP error (ICMP port unreachable, the first frame 5)"
        in reset["explanation"]
    )
    assert "the application gets ECONNREFUSED, the error's, not ETIMEDOUT" in reset["explanation"]


def test_the_text_names_an_error_about_an_established_connection_once(tmp_path: Path) -> None:
    """helper-120: a router's host unreachable about an established connection's data was in
    the JSON alone; the text said nothing of it. A SYN's error is the handshake line's only."""
    handshake = [
        tcp_packet(4, CLIENT, 40000, SERVER, 443, "S", 1000),
        tcp_packet(4, SERVER, 443, CLIENT, 40000, "SA", 5000, 1001),
        tcp_packet(4, CLIENT, 40000, SERVER, 443, "A", 1001, 5001),
    ]
    request = tcp_packet(4, CLIENT, 40000, SERVER, 443, "PA", 1001, 5001, b"x" * 19)
    refused = _syn(sport=40001)
    packets = [*handshake, request, _icmp(request, 1, src=ROUTER), refused, _icmp(refused, 3)]
    path = write_capture(tmp_path / "icmp.pcap", packets, times=[0.0, 0.0001, 0.0002, 1.0, 1.01, 2.0, 2.0001])
    text = run("analyze", str(path)).stdout
    lines = [line for line in text.splitlines() if line.startswith("  ICMP ")]
    assert lines == [
        "  ICMP       frame 5, +1.010000 s: ICMP host unreachable from 192.0.2.254, about the client's segment "
        "(seq 1001): past the handshake its stack goes on sending (Linux keeps it as a soft error), and its "
        "application hears of it (EHOSTUNREACH) only if the connection then times out"
    ]
    assert "unreachable" in text.split("#1 ")[1]  # the SYN's, in its handshake line


def test_an_error_quoting_another_isn_or_path_mtu_does_not_end_the_attempt(tmp_path: Path) -> None:
    """Linux takes an error in SYN_SENT only at the ISN (snd_una..snd_nxt), and fragmentation
    needed is path MTU, no refusal: the handshake still has no answer."""
    syn = _syn(seq=1000)
    stale = _icmp(_syn(seq=777), 3)
    mtu = _icmp(syn, 4)
    document = _analysis(tmp_path, [syn, stale, mtu], [0.0, 0.001, 0.002])
    [connection] = document["connections"]
    assert connection["handshake"]["status"] == "no_answer"
    assert [e["frame"] for e in connection["icmp_errors"]] == [2, 3]


def test_icmpv6_address_unreachable_from_a_router(tmp_path: Path) -> None:
    client, server, router = "2001:db8::1", "2001:db8::2", "2001:db8::fe"
    syn = tcp_packet(6, client, 40000, server, 443, "S", 1000)
    error = IPv6(src=router, dst=client) / ICMPv6DestUnreach(code=3) / bytes(syn)[:48]
    document = _analysis(tmp_path, [syn, error], [0.0, 3.0])
    [connection] = document["connections"]
    assert connection["handshake"]["status"] == "unreachable"
    assert connection["icmp_errors"][0]["says"] == "ICMPv6 address unreachable"
    assert "EHOSTUNREACH" in connection["handshake"]["explanation"]


def test_the_text_report_overview_and_ladder_name_it(tmp_path: Path) -> None:
    syn = _syn()
    path = write_capture(tmp_path / "icmp.pcap", [syn, _icmp(syn, 3)], times=[0.0, 0.0003])
    text = run("analyze", str(path)).stdout
    assert "handshake  unreachable: ICMP port unreachable" in text
    assert "unreachable (SYN answered by an ICMP error)" in run("analyze", "--summary", str(path)).stdout
    mermaid = tmp_path / "icmp.mmd"
    assert run("diagram", str(path), "-o", str(mermaid)).returncode == 0
    ladder = mermaid.read_text()
    assert "S-->>C: ICMP port unreachable from 10.0.0.2, frame 2" in ladder
    assert "no answer" not in ladder


@pytest.mark.skipif(shutil.which("tshark") is None, reason="needs tshark (make setup)")
def test_the_tshark_decoder_reads_the_same_error(tmp_path: Path) -> None:
    syn = _syn()
    path = write_capture(tmp_path / "icmp.pcap", [syn, _icmp(syn, 3)], times=[0.0, 0.0003])
    fast = analyze_file(str(path)).connections[0]
    slow = analyze_file(str(path), decoder="tshark").connections[0]
    assert fast.handshake.status == slow.handshake.status == "unreachable"
    assert fast.connection.unreachables == slow.connection.unreachables


def _time_exceeded(family: int):
    """A SYN whose TTL (hop limit) ran out at a router, and the router's error quoting it."""
    if family == 4:
        syn = _syn()
        return syn, IP(src=ROUTER, dst=CLIENT) / ICMP(type=11, code=0) / bytes(syn)[:28]
    syn = tcp_packet(6, "2001:db8::1", 40000, "2001:db8::2", 443, "S", 1000)
    # As much of the SYN as fits, as an ICMPv6 error quotes (tshark reads no sequence number
    # in a quote of 8 TCP bytes after an IPv6 header).
    return syn, IPv6(src="2001:db8::fe", dst="2001:db8::1") / ICMPv6TimeExceeded(code=0) / bytes(syn)


@pytest.mark.parametrize("family", [4, 6])
def test_a_syn_whose_ttl_ran_out_ends_the_attempt(tmp_path: Path, family: int) -> None:
    """tcp_v4_err, tcp_v6_err: time exceeded in SYN_SENT ends connect() with EHOSTUNREACH
    (a routing loop; a traceroute's TCP probes)."""
    syn, error = _time_exceeded(family)
    document = _analysis(tmp_path, [syn, error], [0.0, 0.005])
    [connection] = document["connections"]
    handshake = connection["handshake"]
    assert handshake["status"] == "unreachable" and handshake["unreachable_frame"] == 2
    ran_out = "its TTL ran out" if family == 4 else "its hop limit ran out"
    icmp = "ICMP" if family == 4 else "ICMPv6"
    assert handshake["explanation"].startswith(
        f"unreachable: {icmp} time exceeded in transit ({ran_out}) from "
        f"{ROUTER if family == 4 else '2001:db8::fe'} (a router on the way) (frame 2) 5.000 ms after the SYN"
    )
    assert handshake["explanation"].endswith("connect() fails with EHOSTUNREACH")
    [said] = connection["icmp_errors"]
    assert (said["type"], said["code"], said["errno"]) == ("time_exceeded", 0, "EHOSTUNREACH")
    assert [state for _, state in connection["states"]["client"]] == ["CLOSED", "SYN_SENT", "CLOSED"]


def test_a_parameter_problem_is_no_port_unreachable_and_udp_s_time_exceeded_is_left_out(
    tmp_path: Path,
) -> None:
    """ICMPv6 parameter problem's code 4 is no port unreachable (destination unreachable's
    code 4); a time exceeded quoting UDP (a traceroute's probe) tells no socket anything."""
    syn = tcp_packet(6, "2001:db8::1", 40000, "2001:db8::2", 443, "S", 1000)
    problem = IPv6(src="2001:db8::2", dst="2001:db8::1") / ICMPv6ParamProblem(code=4) / bytes(syn)[:48]
    probe = IP(src=CLIENT, dst=SERVER, ttl=1) / UDP(sport=50000, dport=33434) / b"x"
    expired = IP(src=ROUTER, dst=CLIENT) / ICMP(type=11, code=0) / bytes(probe)[:28]
    path = write_capture(
        tmp_path / "mixed.pcap", [syn, problem, probe, expired], times=[0.0, 0.001, 0.002, 0.003]
    )
    records = list(read_packets(str(path)))
    errors = [record for record in records if isinstance(record, Unreachable)]
    assert [(e.kind, e.code, e.port_unreachable) for e in errors] == [(PARAMETER_PROBLEM, 4, False)]
    [connection] = analyze_file(str(path)).connections
    assert connection.handshake.status == "unreachable"
    assert "parameter problem (code 4)" in connection.handshake.explain()
    assert "EPROTO" in connection.handshake.explain()


@pytest.mark.skipif(shutil.which("tshark") is None, reason="needs tshark (make setup)")
@pytest.mark.parametrize("family", [4, 6])
def test_the_tshark_decoder_reads_the_same_time_exceeded(tmp_path: Path, family: int) -> None:
    path = write_capture(tmp_path / "te.pcap", list(_time_exceeded(family)), times=[0.0, 0.005])
    fast = analyze_file(str(path)).connections[0]
    slow = analyze_file(str(path), decoder="tshark").connections[0]
    assert fast.handshake.status == slow.handshake.status == "unreachable"
    assert fast.connection.unreachables == slow.connection.unreachables
    assert fast.connection.unreachables[0].kind == TIME_EXCEEDED


def test_held_errors_are_bounded_and_taken_by_time(monkeypatch) -> None:
    monkeypatch.setattr(unreachable, "HELD_LIMIT", 2)
    held = HeldErrors()

    def error(sport: int, time: float) -> Unreachable:
        return Unreachable(1, time, 4, SERVER, CLIENT, 3, 6, (CLIENT, sport, SERVER, 443), 1000)

    for sport in (1, 2, 3):
        held.add(error(sport, 10.0))
    client = (CLIENT, 1)
    assert held.take(client, (SERVER, 443), 0.0, 20.0) == []  # the oldest 4-tuple's was let go
    held.add(error(3, 100.0))
    assert [e.time for e in held.take((CLIENT, 3), (SERVER, 443), 0.0, 20.0)] == [10.0]  # not the later one
    assert [e.time for e in held.take((CLIENT, 3), (SERVER, 443), 99.0, 99.5)] == [100.0]


def _too_big_exchange(family: int, mtu: int, resent: list[int]) -> tuple[list, list[float]]:
    """A handshake, the client's 1,448 bytes refused by a router with a path MTU error, then
    the client's data again in segments of the `resent` sizes, each acknowledged."""
    v6 = ("2001:db8::1", "2001:db8::2", "2001:db8::fe")
    client, server, router = (CLIENT, SERVER, ROUTER) if family == 4 else v6
    big = tcp_packet(family, client, 40000, server, 443, "PA", 1001, 5001, b"x" * 1448)
    if family == 4:
        error = IP(src=router, dst=client) / ICMP(type=3, code=4, nexthopmtu=mtu) / bytes(big)[:28]
    else:
        error = IPv6(src=router, dst=client) / ICMPv6PacketTooBig(mtu=mtu) / bytes(big)[:1232]
    packets = [
        tcp_packet(family, client, 40000, server, 443, "S", 1000),
        tcp_packet(family, server, 443, client, 40000, "SA", 5000, 1001),
        tcp_packet(family, client, 40000, server, 443, "A", 1001, 5001),
        big,
        error,
    ]
    seq = 1001
    for size in resent:
        packets.append(tcp_packet(family, client, 40000, server, 443, "PA", seq, 5001, b"x" * size))
        seq += size
        packets.append(tcp_packet(family, server, 443, client, 40000, "A", 5001, seq))
    if family == 4:
        for number, packet in enumerate(packets):
            packet[IP].id = number  # a resend is no capture's copy of the first
    return packets, [0.001 * index for index in range(len(packets))]


@pytest.mark.parametrize("family", [4, 6])
def test_a_path_mtu_error_is_decoded_with_its_mtu_and_read_as_what_the_sender_did(
    tmp_path: Path, family: int
) -> None:
    """A router on a tunnel's path (MTU 1400, or 1280 for IPv6) refuses the client's full-sized
    segment; Linux lowers its MSS and resends in segments that fit: no errno, no refusal."""
    mtu = 1400 if family == 4 else 1280
    fits = mtu - (40 if family == 4 else 60)
    packets, times = _too_big_exchange(family, mtu, [fits, 1448 - fits])
    document = _analysis(tmp_path, packets, times)
    [connection] = document["connections"]
    [error] = connection["icmp_errors"]
    says = (
        "ICMP fragmentation needed (next-hop MTU 1400)" if family == 4 else "ICMPv6 packet too big (MTU 1280)"
    )
    assert (error["frame"], error["says"], error["errno"], error["mtu"]) == (5, says, None, mtu)
    assert error["type"] == ("fragmentation_needed" if family == 4 else "packet_too_big")
    [diagnosis] = [d for d in connection["diagnoses"] if d["kind"] == "path_mtu"]
    assert diagnosis["frames"] == [4, 5]
    assert diagnosis["sentence"] == (
        f"{says} from {'192.0.2.254' if family == 4 else '2001:db8::fe'} (frame 5) about the client's 1,448-byte "
        f"segment (frame 4): the client resent that data in segments of at most {fits:,} bytes: its stack "
        "lowered its segment size to the path"
    )
    assert connection["handshake"]["status"] == "complete"


def test_segments_still_too_big_after_the_error_are_named(tmp_path: Path) -> None:
    packets, times = _too_big_exchange(4, 1400, [1448])
    [connection] = _analysis(tmp_path, packets, times)["connections"]
    [diagnosis] = [d for d in connection["diagnoses"] if d["kind"] == "path_mtu"]
    assert (
        "still in segments of up to 1,448 bytes, more than 1,360 fit in 1,400: the error did not reach its stack"
        in (diagnosis["sentence"])
    )


@pytest.mark.parametrize(("family", "mtu", "fits"), [(6, 1000, 1220), (4, 300, 512)])  # fmt: skip
def test_an_mtu_below_the_least_a_stack_takes_is_read_at_that_least(
    tmp_path: Path, family: int, mtu: int, fits: int
) -> None:
    """IPv6 goes no lower than 1280 (RFC 8201), Linux's IPv4 no lower than min_pmtu (552):
    segments that fit that least are the stack's answer, not an error it never got."""
    packets, times = _too_big_exchange(
        family, mtu, [fits, fits, 1448 - 2 * fits] if fits < 724 else [fits, 1448 - fits]
    )
    [connection] = _analysis(tmp_path, packets, times)["connections"]
    [diagnosis] = [d for d in connection["diagnoses"] if d["kind"] == "path_mtu"]
    least = 1280 if family == 6 else 552
    assert diagnosis["sentence"].endswith(
        f"at most {fits:,} bytes: its stack lowered its segment size to the path (below the least MTU a stack "
        f"takes, {least:,}: {'IPv6' if family == 6 else 'Linux'}"
        + ("'s minimum link MTU, so 1,280)" if family == 6 else "'s net.ipv4.route.min_pmtu, so 552)")
    )


def test_a_packet_too_big_is_no_refusal_of_a_syn(tmp_path: Path) -> None:
    """ICMPv6 Packet Too Big has code 0, as "no route to destination": its type tells them apart."""
    client, server, router = "2001:db8::1", "2001:db8::2", "2001:db8::fe"
    syn = tcp_packet(6, client, 40000, server, 443, "S", 1000)
    error = IPv6(src=router, dst=client) / ICMPv6PacketTooBig(mtu=1280) / bytes(syn)[:48]
    [connection] = _analysis(tmp_path, [syn, error], [0.0, 0.001])["connections"]
    assert connection["handshake"]["status"] == "no_answer"
    assert connection["icmp_errors"][0]["says"] == "ICMPv6 packet too big (MTU 1280)"


@pytest.mark.skipif(shutil.which("tshark") is None, reason="needs tshark (make setup)")
@pytest.mark.parametrize("family", [4, 6])
def test_the_tshark_decoder_reads_the_same_path_mtu(tmp_path: Path, family: int) -> None:
    packets, times = _too_big_exchange(family, 1400 if family == 4 else 1280, [1000, 448])
    path = write_capture(tmp_path / "mtu.pcap", packets, times=times)
    fast = analyze_file(str(path)).connections[0]
    slow = analyze_file(str(path), decoder="tshark").connections[0]
    assert fast.connection.unreachables == slow.connection.unreachables
    assert fast.connection.unreachables[0].path_mtu == (1400 if family == 4 else 1280)


def test_a_flight_refused_segment_by_segment_is_one_diagnosis(tmp_path: Path) -> None:
    """A reviewer's repro: six full-sized IPv6 segments, each refused by the router (Linux does
    not rate-limit Packet Too Big), then resent at 1,208 bytes (timestamps on: 12 bytes of
    options). One diagnosis, judged by the resends, not by the flight's later segments."""
    client, server, router = "2001:db8::1", "2001:db8::2", "2001:db8::fe"
    timestamps = [("Timestamp", (1, 0))]
    packets = [
        tcp_packet(6, client, 40000, server, 443, "S", 1000, options=timestamps),
        tcp_packet(6, server, 443, client, 40000, "SA", 5000, 1001, options=timestamps),
        tcp_packet(6, client, 40000, server, 443, "A", 1001, 5001),
    ]
    flight = [
        tcp_packet(6, client, 40000, server, 443, "A", 1001 + 1428 * n, 5001, b"x" * 1428) for n in range(6)
    ]
    for segment in flight:
        packets += [
            segment,
            IPv6(src=router, dst=client) / ICMPv6PacketTooBig(mtu=1280) / bytes(segment)[:1232],
        ]
    seq = 1001
    while seq < 1001 + 6 * 1428:
        size = min(1208, 1001 + 6 * 1428 - seq)
        packets.append(tcp_packet(6, client, 40000, server, 443, "A", seq, 5001, b"x" * size))
        seq += size
    [connection] = _analysis(tmp_path, packets, [0.001 * n for n in range(len(packets))])["connections"]
    [diagnosis] = [d for d in connection["diagnoses"] if d["kind"] == "path_mtu"]
    assert diagnosis["sentence"] == (
        "6 errors ICMPv6 packet too big (MTU 1280) from 2001:db8::fe (frames 5, 7, 9, 11, 13, ...) about the "
        "client's segments of up to 1,428 bytes (6 of them): the client resent that data in segments of at most "
        "1,208 bytes: its stack lowered its segment size to the path"
    )


def test_an_error_quoting_a_piece_of_a_tso_segment_finds_it(tmp_path: Path) -> None:
    """Captured at the sender before its NIC cut a 2,896-byte segment in two: the router quotes
    the second piece's number, inside the captured segment."""
    packets, _times = _too_big_exchange(4, 1400, [])
    big = tcp_packet(4, CLIENT, 40000, SERVER, 443, "PA", 1001, 5001, b"y" * 2896)
    piece = tcp_packet(4, CLIENT, 40000, SERVER, 443, "PA", 1001 + 1448, 5001, b"y" * 1448)
    error = IP(src=ROUTER, dst=CLIENT) / ICMP(type=3, code=4, nexthopmtu=1400) / bytes(piece)[:28]
    resend = [
        tcp_packet(4, CLIENT, 40000, SERVER, 443, "PA", 2449 + n * 724, 5001, b"y" * 724) for n in range(2)
    ]
    packets = [*packets[:3], big, error, *resend]
    for number, packet in enumerate(packets):
        packet[IP].id = number
    [connection] = _analysis(tmp_path, packets, [0.001 * n for n in range(len(packets))])["connections"]
    [diagnosis] = [d for d in connection["diagnoses"] if d["kind"] == "path_mtu"]
    assert diagnosis["sentence"].endswith(
        "about the client's 2,896-byte segment (frame 4): the client resent that data in segments of at most "
        "724 bytes: its stack lowered its segment size to the path"
    )


def test_the_ladder_draws_an_error_toward_the_end_whose_segment_it_quotes(tmp_path: Path) -> None:
    """A download: the server's full-sized segment is too big; the error goes to the server."""
    client, server, router = "2001:db8::1", "2001:db8::2", "2001:db8::fe"
    data = tcp_packet(6, server, 443, client, 40000, "PA", 5001, 1001, b"x" * 1428)
    packets = [
        tcp_packet(6, client, 40000, server, 443, "S", 1000),
        tcp_packet(6, server, 443, client, 40000, "SA", 5000, 1001),
        tcp_packet(6, client, 40000, server, 443, "A", 1001, 5001),
        data,
        IPv6(src=router, dst=server) / ICMPv6PacketTooBig(mtu=1280) / bytes(data)[:1232],
    ]
    path = write_capture(tmp_path / "download.pcap", packets, times=[0.001 * n for n in range(5)])
    mermaid = tmp_path / "download.mmd"
    assert run("diagram", str(path), "-o", str(mermaid)).returncode == 0
    assert "C-->>S: ICMPv6 packet too big (MTU 1280) from 2001:db8::fe, frame 5" in mermaid.read_text()


def test_thousands_of_syns_and_errors_keep_every_line_short(tmp_path: Path) -> None:
    """A helper's shape: one SYN sent 400 times 2 ms apart, each answered by host unreachable
    from a router: the SYN times, the backoff's intervals and the notes name the first 12."""
    packets, times = [], []
    for n in range(400):
        syn = _syn()
        syn[IP].id = n
        packets += [syn, _icmp(syn, 1, ROUTER)]
        times += [0.002 * n, 0.002 * n + 0.0001]
    text = run("analyze", str(write_capture(tmp_path / "many.pcap", packets, times=times))).stdout
    assert max(len(line) for line in text.splitlines()) < 600
    assert "  SYNs       at +0.000, +0.002," in text and "and 388 more s" in text
    assert "and 387 more s:" in text  # the backoff's 399 intervals


def test_a_time_exceeded_of_any_code_gives_ehostunreach() -> None:
    """tcp_v4_err sets EHOSTUNREACH for every time exceeded, its code aside (helper-112)."""
    from analyzer.decode.icmp_codes import describe, errno_of

    error = Unreachable(
        1, 0.0, 4, ROUTER, CLIENT, 7, 6, (CLIENT, 40000, SERVER, 443), 1000, kind=TIME_EXCEEDED
    )
    assert (describe(error), errno_of(error)) == ("ICMP time exceeded (code 7)", "EHOSTUNREACH")


def test_an_error_about_data_already_acknowledged_is_said_ignored(tmp_path: Path) -> None:
    """helper-121: an error quoting data its receiver had acknowledged is below what the
    sender waits on: Linux ignores it (out of window), no soft error to hear of."""
    handshake = [
        tcp_packet(4, CLIENT, 40000, SERVER, 443, "S", 1000),
        tcp_packet(4, SERVER, 443, CLIENT, 40000, "SA", 5000, 1001),
        tcp_packet(4, CLIENT, 40000, SERVER, 443, "A", 1001, 5001),
    ]
    request = tcp_packet(4, CLIENT, 40000, SERVER, 443, "PA", 1001, 5001, b"x" * 19)
    acked = tcp_packet(4, SERVER, 443, CLIENT, 40000, "A", 5001, 1020)
    packets = [*handshake, request, acked, _icmp(request, 1, src=ROUTER)]
    path = write_capture(tmp_path / "icmp.pcap", packets, times=[0.0, 0.0001, 0.0002, 1.0, 1.01, 1.5])
    [line] = [line for line in run("analyze", str(path)).stdout.splitlines() if line.startswith("  ICMP ")]
    assert line.endswith(
        "(seq 1001): about data already acknowledged, which its stack no longer waits on (Linux ignores it)"
    )


def test_an_attempt_an_error_ended_has_no_expired_line(tmp_path: Path) -> None:
    """helper-120: an attempt a network unreachable ended (its handshake line says so) also
    read "expired: given up as an attempt ... silence past the attempt timeout" in the text,
    where the capture went on: the tracker's timer reads no ICMP. The JSON keeps the mark."""
    syn = _syn()
    path = write_capture(
        tmp_path / "icmp.pcap", [syn, _icmp(syn, 0, src=ROUTER), _syn(sport=40001)], times=[0.0, 0.0003, 10.0]
    )
    first = run("analyze", str(path)).stdout.split("#1 ")[0]
    assert "unreachable: ICMP network unreachable" in first and "  expired " not in first
    document = json.loads(run("analyze", "--json", str(path)).stdout)
    assert document["connections"][0]["expired"] == "attempt"


@pytest.mark.parametrize("family", [4, 6])
def test_an_error_whose_quote_the_snapshot_length_cut_is_counted_and_warned_of(
    tmp_path: Path, family: int
) -> None:
    """helper-136's snap6-80: tcpdump -s 80 kept 18 bytes of the IPv6 header each Packet Too
    Big quotes: which connection it answers cannot be told, and it is counted and said, not
    dropped silently; a whole one too short to quote the header is a malformed one."""
    client, server, router = (
        ("2001:db8::1", "2001:db8::2", "2001:db8::fe") if family == 6 else (CLIENT, SERVER, ROUTER)
    )
    syn = tcp_packet(family, client, 40000, server, 443, "S", 1000)
    if family == 6:
        error = IPv6(src=router, dst=client) / ICMPv6PacketTooBig(mtu=1280) / bytes(syn)[:48]
    else:
        error = IP(src=router, dst=client) / ICMP(type=3, code=4, nexthopmtu=1400) / bytes(syn)[:28]
    path = write_capture(
        tmp_path / "cut.pcap", [syn, error], snaplen=80 if family == 6 else 62, times=[0.0, 0.001]
    )
    analysis = analyze_file(str(path))
    assert not analysis.connections[0].connection.unreachables
    said = (
        "1 frame skipped that may hold TCP: an ICMP error whose quoted header the snapshot length cut: which "
        "connection it answers cannot be told"
    )
    assert said in analysis.stats.warnings
    short = write_capture(
        tmp_path / "short.pcap", [syn, error.__class__(bytes(error)[: 40 if family == 4 else 60])]
    )
    warnings = analyze_file(str(short)).stats.warnings
    assert (
        "1 frame skipped that may hold TCP: an ICMP error too short to quote the header it answers"
        in warnings
    )


def test_an_error_captured_twice_is_held_once() -> None:
    """helper-136's pmtu4-sender+router: the sender's capture and the router's merged hold each
    of the router's 10 errors twice, a few µs to ms apart (the clocks differ): one error each.
    The same error about a segment sent again later, or another router's, is another."""
    held = HeldErrors()
    quoted = (CLIENT, 40000, SERVER, 443)

    def error(
        frame: int, time: float, seq: int, src: str = ROUTER, checksum: int | None = None
    ) -> Unreachable:
        return Unreachable(
            frame, time, 4, src, CLIENT, 4, 6, quoted, seq, 1280, checksum=checksum or seq & 0xFFFF
        )

    flight = [1000 + 1448 * n for n in range(10)]
    frame = 0
    for seq in flight:
        frame += 1
        held.add(error(frame, 100.0 + frame * 1e-6, seq))
    for seq in flight:  # the other capture's copies, 2 ms on
        frame += 1
        held.add(error(frame, 100.002 + frame * 1e-6, seq))
    held.add(error(frame + 1, 100.3, flight[0]))  # the segment sent again, refused again
    held.add(error(frame + 2, 100.0001, flight[1], src="192.0.2.253"))  # another router's
    # Errors about two pure ACKs (one sequence number for both), 1 ms apart: what else they
    # quote differs, and so do their checksums (helper-137).
    held.add(error(frame + 3, 100.5, 9999, checksum=1))
    held.add(error(frame + 4, 100.501, 9999, checksum=2))
    taken = held.take((CLIENT, 40000), (SERVER, 443), 99.0, 101.0)
    assert held.copies == 10
    assert [e.frame for e in taken] == [*range(1, 11), frame + 1, frame + 2, frame + 3, frame + 4]


@pytest.mark.parametrize("family", [4, 6])
def test_a_segment_a_router_refused_never_reached_the_server(tmp_path: Path, family: int) -> None:
    """helper-136's pmtu4: the segment a path MTU error quotes was dropped at the router; the
    diagram drew it delivered. It is not applied to the server; the smaller resends are."""
    packets, times = _too_big_exchange(family, 1400 if family == 4 else 1280, [1000, 448])
    result = analyze_file(str(write_capture(tmp_path / "mtu.pcap", packets, times=times))).connections[0]
    lost = {step.segment.frame for step in result.steps if step.lost}
    assert lost == {4}
    assert any(note.startswith("frame 4 not applied to the receiver") for note in result.notes)
    # An error about data the server had acknowledged before it came is about an old copy.
    v6 = ("2001:db8::1", "2001:db8::2")
    client, server = (CLIENT, SERVER) if family == 4 else v6
    acked = tcp_packet(family, server, 443, client, 40000, "A", 5001, 1001 + 1448)
    late = [*packets[:4], acked, packets[4]]
    result = analyze_file(str(write_capture(tmp_path / "late.pcap", late, times=times[:6]))).connections[0]
    assert not any(step.lost for step in result.steps)


@pytest.mark.parametrize("family", [4, 6])
def test_a_cut_error_about_udp_is_no_frame_that_may_hold_tcp(tmp_path: Path, family: int) -> None:
    """helper-137's udp_cut: a DNS port unreachable cut by the snapshot length, its quote
    naming UDP: no TCP in it, nothing to warn of (the warning says frames that may hold TCP)."""
    client, server = ("2001:db8::1", "2001:db8::2") if family == 6 else (CLIENT, SERVER)
    if family == 6:
        query = IPv6(src=client, dst=server) / UDP(sport=5353, dport=53) / (b"q" * 30)
        error = IPv6(src=server, dst=client) / ICMPv6DestUnreach(code=4) / bytes(query)[:48]
    else:
        query = IP(src=client, dst=server) / UDP(sport=5353, dport=53) / (b"q" * 30)
        error = IP(src=server, dst=client) / ICMP(type=3, code=3) / bytes(query)[:28]
    path = write_capture(tmp_path / "udp.pcap", [query, error], snaplen=60 if family == 4 else 70)
    assert not any("ICMP error" in warning for warning in analyze_file(str(path)).stats.warnings)
