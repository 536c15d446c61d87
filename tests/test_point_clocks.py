"""Two captures of one exchange, one at each end, merged with their clocks apart
(decode/point_clocks.py): each packet is in the file twice, the far copy stamped with the
other host's clock."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether
from test_interface_clocks import EXCHANGE, pcapng_section

from analyzer.decode import DecodeStats, read_packets
from analyzer.parallel import one_file
from analyzer.parallel.options import AnalyzeOptions

CLIENT, SERVER = "10.0.0.1", "10.0.0.2"
DELAY = 0.000_100  # between the two capture points, each way


def merged(path: Path, offset: float | list[float], routed: bool = True, interfaces: bool = False, connections: int = 2,
           apart: float = DELAY, mirror: bool = False) -> Path:  # fmt: skip
    """A pcapng of the exchange captured at the client (interface 0) and at the server
    (interface 1, or 0 too unless `interfaces`), the server's clock `offset` seconds ahead (or
    each connection's its own), merged by time. `routed`: a router between the two, which lowers the TTL by one; `mirror`:
    both points at one place, the second getting every packet `apart` late."""
    frames = []
    ip_id = 1000
    for number in range(connections):
        begin = number * 0.010
        client = (CLIENT, 40000 + number)
        for seconds, sender, flags, seq, ack, length in EXCHANGE:
            ip_id += 1
            src, dst = (client, (SERVER, 80)) if sender == "c" else ((SERVER, 80), client)

            header = IP(src=src[0], dst=dst[0], id=ip_id) / TCP(
                sport=src[1], dport=dst[1], flags=flags, seq=seq, ack=ack
            )
            segment = header / (b"x" * length)

            sent, far_ttl = begin + seconds, 63 if routed else 64
            at_client = sent if sender == "c" or mirror else sent + apart
            at_server = sent + apart if sender == "c" or mirror else sent
            client_ttl = 64 if sender == "c" else far_ttl
            server_ttl = 64 if sender == "s" else far_ttl
            segment[IP].ttl = client_ttl
            frames.append((at_client, 0, bytes(Ether() / segment)))
            segment[IP].ttl = server_ttl
            ahead = offset[number] if isinstance(offset, list) else offset
            frames.append((at_server + ahead, 1 if interfaces else 0, bytes(Ether() / segment)))
    path.write_bytes(pcapng_section(frames, ("at-client", "at-server") if interfaces else ("at-client",)))
    return path


def _point_warnings(path: Path) -> list[str]:
    stats = DecodeStats()
    list(read_packets(str(path), stats))
    return [w for w in stats.warnings if "two points whose clocks disagree" in w]


def test_a_server_side_capture_half_a_second_late_is_told_with_its_range_and_the_mend(tmp_path) -> None:
    [said] = _point_warnings(merged(tmp_path / "late.pcapng", 0.5))
    # The server's packets reached the client's point 0.5 s - 100 us before they left; the
    # client's reached the server's 0.5 s + 100 us after: the offset lies between.
    assert said.startswith(
        "the capture holds packets captured at two points whose clocks disagree: the point nearer "
        "10.0.0.2 (its packets TTL 64, 10.0.0.1's 63) stamps them 499.900 ms to 500.100 ms later than "
        "the other: 8 of 10.0.0.2's packets between it and 10.0.0.1 were captured at the far point "
        "before they left the near one."
    )
    assert "editcap -t -0.500000" in said


def test_an_offset_that_steps_is_told_as_one_that_changes(tmp_path) -> None:
    """The first connection's server packets came back 0.5 s, the second's client packets
    say the server's clock is at most 100 us ahead: the clock stepped between."""
    [said] = _point_warnings(merged(tmp_path / "step.pcapng", [0.5, 0.0]))
    assert (
        "stamps them up to 499.900 ms later than the other at times (the offset changes: a clock drifts or steps)"
        in said
    )


def test_a_server_side_capture_early_names_the_client_side_late(tmp_path) -> None:
    [said] = _point_warnings(merged(tmp_path / "early.pcapng", -0.0003))
    assert (
        "the point nearer 10.0.0.1 (its packets TTL 64, 10.0.0.2's 63) stamps them 200 µs to 400 µs later"
        in said
    )
    assert "10 of 10.0.0.1's packets" in said  # (its SYNs are not held: a flood's bulk)


@pytest.mark.parametrize("offset", [0.0, 0.00005, -0.00005])
def test_clocks_within_the_path_between_the_points_say_nothing(tmp_path, offset) -> None:
    """Nor does one capture point that saw each packet on both its sides (a router's -i any:
    one clock, the far copy always after the near one)."""
    assert not _point_warnings(merged(tmp_path / "same.pcapng", offset))


def test_two_interfaces_of_one_lan_tell_it_by_which_point_sees_both_directions_first(tmp_path) -> None:
    [said] = _point_warnings(merged(tmp_path / "lan.pcapng", 0.003, routed=False, interfaces=True))
    assert said.startswith(
        "interface 1 (at-server) and interface 0 (at-client) hold the same packets captured at two "
        "points whose clocks disagree: interface 1 (at-server) stamps them 2.900 ms to 3.100 ms later: "
        "8 packets between 10.0.0.1 and 10.0.0.2"
    )


def test_a_mirror_port_that_gets_every_packet_late_is_no_clock(tmp_path) -> None:
    """Both directions' copies as far apart: one place's packets delivered late, not two places."""
    path = merged(tmp_path / "mirror.pcapng", 0.0, routed=False, interfaces=True, apart=0.003, mirror=True)
    assert not _point_warnings(path)


def test_one_lan_in_one_interface_tells_nothing(tmp_path) -> None:
    """Same TTL, one interface: nothing says which copy was taken where."""
    assert not _point_warnings(merged(tmp_path / "flat.pcapng", 0.5, routed=False))


def test_the_analysis_warns_of_it_in_one_process_and_in_shares_alike(monkeypatch, tmp_path) -> None:
    path = merged(tmp_path / "late.pcapng", 0.5, connections=6)
    options = AnalyzeOptions(format="json", use_sidecar=False)
    alone = one_file.render_file(str(path), options, io.StringIO()).warnings
    monkeypatch.setattr(one_file, "SHARE_ABOVE_BYTES", 0)
    shared = one_file.render_file(str(path), replace(options, jobs=2), io.StringIO()).warnings
    told = [w for w in alone if "two points whose clocks disagree" in w]
    assert told and "24 of 10.0.0.2's packets" in told[0]
    assert shared == alone


def test_a_host_merged_with_a_routers_two_sides_is_told(tmp_path) -> None:
    """helper-138: a router's tcpdump -i any (each packet as it came in and, its TTL one lower,
    as it left, on one clock) merged with the server's own capture 2 s late: the router's two
    copies paired with each other first and kept the server's copy from any pair."""
    frames = []
    ip_id = 1000
    for seconds, sender, flags, seq, ack, length in EXCHANGE:
        ip_id += 1
        src, dst = ((CLIENT, 40000), (SERVER, 80)) if sender == "c" else ((SERVER, 80), (CLIENT, 40000))
        segment = IP(src=src[0], dst=dst[0], id=ip_id) / TCP(
            sport=src[1], dport=dst[1], flags=flags, seq=seq, ack=ack
        ) / (b"x" * length)  # fmt: skip
        # Interface 0: the server's host, 2 s late; 1 and 2: the router's sides to the client
        # and to the server, 50 us from each end, 10 us through it.
        copies = [(0, 64, 0.0), (2, 64, 0.00005), (1, 63, 0.00006)] if sender == "s" else [
            (1, 64, 0.00005), (2, 63, 0.00006), (0, 63, 0.00011)]  # fmt: skip
        for interface, ttl, after in copies:
            segment[IP].ttl = ttl
            frames.append(
                (seconds + after + (2.0 if interface == 0 else 0.0), interface, bytes(Ether() / segment))
            )
    path = tmp_path / "router.pcapng"
    path.write_bytes(pcapng_section(frames, ("server", "router-in", "router-out")))
    # One warning: the pairs of the host's and the router's same-TTL copies say it again.
    [said] = _point_warnings(path)
    assert (
        "the point nearer 10.0.0.2 (its packets TTL 64, 10.0.0.1's 63) stamps them 1.999940 s to 2.000060 s"
        in said
    )


def test_a_lan_s_ends_microseconds_apart_are_told_past_the_copy_rules_wait(tmp_path) -> None:
    """helper-138's veth LAN: each end's capture stamped within microseconds of the other's,
    both ways, so no point shows as nearer whom; half a second apart the copy rules cannot
    pair them either way, and the file is misread whatever the cause: told."""
    path = merged(tmp_path / "lan.pcapng", 0.5, routed=False, interfaces=True, apart=0.000004)
    [said] = _point_warnings(path)
    assert "interface 1 (at-server) stamps them 499.996 ms to 500.004 ms later" in said
    assert not _point_warnings(
        merged(tmp_path / "near.pcapng", 0.004, routed=False, interfaces=True, apart=0.000004)
    )
