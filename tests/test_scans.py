"""Scans and floods (findings/scans.py) as one finding each, the text report's overview with
the scans' connections folded into them, and --only / --all in every format."""

from __future__ import annotations

import io
import json
import random
import re
import tracemalloc
from pathlib import Path

import pytest
from conftest import CAPTURES, assert_one_line_error, run, stored_captures
from pcap_builder import tcp_packet, write_capture
from scapy.utils import rdpcap, wrpcap

from analyzer.analysis import analyze_file, stream_file
from analyzer.findings.scans import (
    BACKSCATTER_HOSTS,
    FLOOD_ATTEMPTS,
    NOTHING,
    PORT_SCAN_PORTS,
    RST,
    SWEEP_HOSTS,
    ScanDetector,
)
from analyzer.output.json_report import scan_to_dict
from analyzer.output.text_report import INTERESTING_SHOWN, OVERVIEW_FROM, write_text
from analyzer.timefmt import Clock

# Its module fixture is costly: one worker runs all of it (make test: --dist loadgroup).
pytestmark = pytest.mark.xdist_group("scans")

SCANNER, VICTIM = "10.0.0.66", "10.0.0.10"
OPEN_PORTS = (22, 80, 443)
FILTERED_PORTS = range(991, 1001)  # never answered


def _vertical_scan(tmp_path: Path) -> Path:
    return write_capture(tmp_path / "vertical.pcap", _vertical_packets(), step=0.0005)


def _vertical_packets() -> list:
    """nmap -sS -p1-1000: a SYN to each port from one source port; the open ports answer
    SYN/ACK (and the scanner resets them), the filtered ones nothing, the rest RST/ACK."""
    packets = []
    for port in range(1, 1001):
        packets.append(tcp_packet(4, SCANNER, 50000, VICTIM, port, "S", 1000))
        if port in OPEN_PORTS:
            packets.append(tcp_packet(4, VICTIM, port, SCANNER, 50000, "SA", 7000, 1001))
            packets.append(tcp_packet(4, SCANNER, 50000, VICTIM, port, "R", 1001))
        elif port not in FILTERED_PORTS:
            packets.append(tcp_packet(4, VICTIM, port, SCANNER, 50000, "RA", 0, 1001))
    return packets


@pytest.fixture(scope="module")
def vertical(tmp_path_factory) -> Path:
    return _vertical_scan(tmp_path_factory.mktemp("scans"))


def _document(path: Path, *options: str) -> dict:
    result = run("analyze", "--json", *options, str(path))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_a_vertical_scan_is_one_finding_with_its_counts(vertical) -> None:
    [scan] = _document(vertical)["scans"]
    assert scan["kind"] == "vertical" and scan["source"] == SCANNER and scan["target"] is None
    assert scan["attempts"] == 1000 and scan["ports"] == 1000 and scan["hosts"] == 1 and scan["sources"] == 1
    assert scan["answered"] == {"synack": 3, "rst": 987, "none": 10}
    assert scan["top_hosts"] == [{"ip": VICTIM, "attempts": 1000, "ports": 1000}]
    assert not scan["estimated"] and scan["counts_short_by"] == 0
    # 2,000-odd frames 0.5 ms apart: the SYNs span about a second.
    assert scan["duration"] == pytest.approx(scan["last_time"] - scan["first_time"])
    assert 0.9 < scan["duration"] < 1.1 and scan["rate"] == pytest.approx(1000 / scan["duration"], rel=1e-3)


def test_the_text_of_a_scan_is_short_and_opens_with_the_overview(vertical) -> None:
    text = run("analyze", str(vertical))
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert len(lines) < 25, text.stdout  # not 1,000 blocks of 7 lines
    assert (
        lines[0].startswith(f"{vertical}: ") and "1000 connections; times: +seconds since frame 1" in lines[0]
    )
    assert lines[2] == "outcomes of the 1,000 connections:"
    order = [next(i for i, line in enumerate(lines) if line.startswith(head)) for head in (
        "outcomes", "scans and floods (1):", "interesting connections", "connections:",
    )]  # fmt: skip
    assert order == sorted(order)
    assert f"  [1] port scan (vertical): {SCANNER} probed 1,000 ports of {VICTIM}" in lines
    assert "3 SYN/ACK (open), 987 RST (closed), 10 none (filtered)" in text.stdout
    assert "1,000 folded into [1] (--all shows them" in text.stdout
    assert not any(line.startswith("#") for line in lines)
    # --all: every connection's block too, after the same overview.
    every = run("analyze", "--all", str(vertical)).stdout
    assert every.startswith(text.stdout.rsplit("connections:", 1)[0])
    assert sum(line.startswith("#") for line in every.splitlines()) == 1000


def test_a_horizontal_sweep_is_one_finding(tmp_path) -> None:
    packets = []
    for n in range(60):
        host = f"10.1.0.{n + 1}"
        packets.append(tcp_packet(4, SCANNER, 40000 + n, host, 22, "S", 5000))
        if n < 5:
            packets.append(tcp_packet(4, host, 22, SCANNER, 40000 + n, "SA", 9000, 5001))
        elif n < 45:
            packets.append(tcp_packet(4, host, 22, SCANNER, 40000 + n, "RA", 0, 5001))
    [scan] = _document(write_capture(tmp_path / "sweep.pcap", packets, step=0.01))["scans"]
    assert scan["kind"] == "horizontal" and scan["source"] == SCANNER
    assert (scan["attempts"], scan["hosts"], scan["ports"]) == (60, 60, 1)
    assert scan["answered"] == {"synack": 5, "rst": 40, "none": 15}
    assert scan["top_ports"] == [{"port": 22, "attempts": 60, "hosts": 60}]


@pytest.mark.parametrize("flags", ["F", "FPU", ""])
def test_fin_xmas_and_null_scans_are_port_scans(flags: str, tmp_path) -> None:
    """nmap -sF, -sX, -sN: no SYN, flags no connection sends first; closed ports answer
    RST/ACK, open and filtered ones nothing. Probes, though their connections have no SYN."""
    packets = []
    for port in range(1, 31):
        packets.append(tcp_packet(4, SCANNER, 50000, VICTIM, port, flags, 1000))
        if port > 4:
            packets.append(tcp_packet(4, VICTIM, port, SCANNER, 50000, "RA", 0, 1001 if flags else 1000))
    [scan] = _document(write_capture(tmp_path / "stealth.pcap", packets, step=0.001))["scans"]
    assert scan["kind"] == "vertical" and (scan["attempts"], scan["ports"]) == (30, 30)
    assert scan["answered"] == {"synack": 0, "rst": 26, "none": 4} and scan["syn_probes"] == 0
    # No answer to such a probe is an open port's or a filtered one's (nmap: open|filtered).
    text = run("analyze", str(tmp_path / "stealth.pcap")).stdout
    assert "answers: 0 SYN/ACK (open), 26 RST (closed), 4 none (open or filtered)" in text
    # No handshake to miss: the summary counts them as probes, not as mid-stream connections.
    summary = run("analyze", "--summary", str(tmp_path / "stealth.pcap")).stdout
    assert re.search(r"none: a FIN, NULL or Xmas probe \(a scan's\) +30\n", summary)
    assert re.search(r"mid-stream \(handshake not in the capture\) +0\n", summary)


@pytest.mark.parametrize("flags", ["A", "FA"])
def test_ack_window_and_maimon_scans_answered_by_rst_are_port_scans(flags: str, tmp_path) -> None:
    """nmap -sA and -sW (a bare ACK), -sM (FIN/ACK): open and closed ports alike answer RST
    without ACK at the probe's acknowledgment number, the answer for no connection; a
    filtered one nothing, and that alone is no probe for a bare ACK (lone ACKs of live
    connections look so), but is for a lone FIN/ACK (Maimon's: a BSD stack's open port
    drops it)."""
    packets = []
    for port in range(1, 31):
        packets.append(tcp_packet(4, SCANNER, 50000, VICTIM, port, flags, 1000, 7777))
        if port > 4:
            packets.append(tcp_packet(4, VICTIM, port, SCANNER, 50000, "R", 7777))
    path = write_capture(tmp_path / "ack.pcap", packets, step=0.001)
    [scan] = _document(path)["scans"]
    unanswered = 4 if flags == "FA" else 0
    assert scan["kind"] == "vertical" and (scan["attempts"], scan["ports"]) == (26 + unanswered,) * 2
    assert scan["answered"] == {"synack": 0, "rst": 26, "none": unanswered}
    assert (scan["syn_probes"], scan["ack_probes"]) == (0, 26)
    text = run("analyze", str(path)).stdout
    if flags == "FA":
        assert (
            "answers: 0 SYN/ACK (open), 26 RST (no connection: unfiltered), 4 none (open or filtered)" in text
        )
    else:
        assert (
            "answers: 26 RST (no connection: unfiltered); ACK probes left unanswered are not counted" in text
        )


def test_maimon_probes_nothing_answered_are_a_scan_and_one_close_alone_is_none(tmp_path) -> None:
    """Lone FIN/ACKs to 25 ports, unanswered: a port scan (open or filtered); to 10, none."""
    for ports, scans in ((25, 1), (10, 0)):
        packets = [
            tcp_packet(4, SCANNER, 50000, VICTIM, port, "FA", 1000, 7777) for port in range(1, ports + 1)
        ]
        found = _document(write_capture(tmp_path / "maimon.pcap", packets, step=0.001))["scans"]
        assert len(found) == scans
        if scans:
            assert found[0]["answered"] == {"synack": 0, "rst": 0, "none": 25}


def test_lone_acks_of_live_connections_are_no_probes(tmp_path) -> None:
    """A capture begun in the middle of downloads from 30 ports of one host: the client's ACKs,
    unanswered, or answered by the server's data, or by a RST/ACK (an abort), are no ACK probes."""
    packets = []
    for port in range(1, 31):
        packets.append(tcp_packet(4, SCANNER, 50000, VICTIM, port, "A", 1000, 7777))
        if port % 3 == 1:
            packets.append(tcp_packet(4, VICTIM, port, SCANNER, 50000, "PA", 7777, 1000, b"data"))
        elif port % 3 == 2:
            packets.append(tcp_packet(4, VICTIM, port, SCANNER, 50000, "RA", 7777, 1000))
    assert _document(write_capture(tmp_path / "acks.pcap", packets, step=0.001))["scans"] == []


def test_an_ack_flood_is_named_so(tmp_path) -> None:
    """hping3 -A --rand-source against an open port: every ACK answered by a RST."""
    packets = []
    for n in range(1200):
        source, sport = f"172.16.{n // 256}.{n % 256}", 1024 + n
        packets.append(tcp_packet(4, source, sport, "192.0.2.1", 80, "A", n, 99 + n))
        packets.append(tcp_packet(4, "192.0.2.1", 80, source, sport, "R", 99 + n))
    path = write_capture(tmp_path / "ackflood.pcap", packets, step=0.0002)
    [flood] = _document(path)["scans"]
    assert (flood["kind"], flood["attempts"], flood["syn_probes"], flood["ack_probes"]) == (
        "flood",
        1200,
        0,
        1200,
    )
    assert (
        "[1] ACK flood: 1,200 attempts of 192.0.2.1:80 from about 1,200 sources"
        in run("analyze", str(path)).stdout
    )


@pytest.mark.parametrize("flags", ["S", "A"])
def test_a_flood_of_a_host_on_random_ports_is_one_finding_and_folds_them(tmp_path, flags: str) -> None:
    """Mirai's SYN and ACK floods draw a random destination port for each packet (helper-113:
    50,000 SYNs, "scans and floods: none", a 51 MB text report). 1,200 probes of one host
    from as many sources, each to another port above 1024, half of them below the source's
    port: the ACKs answered by a RST for no connection (whose sender is then no client: the
    lower port's rule gave half the probes to the target), the SYNs by RST/ACK or SYN/ACK."""
    packets = []
    for n in range(1200):
        source, sport, dport = f"172.16.{n // 256}.{n % 256}", 20000 + n * 37 % 40000, 1025 + n * 7919 % 60000
        packets.append(
            tcp_packet(4, source, sport, VICTIM, dport, flags, 1000 + n, 5000 if flags == "A" else 0)
        )
        if flags == "A":
            packets.append(tcp_packet(4, VICTIM, dport, source, sport, "R", 5000))
        else:
            packets.append(
                tcp_packet(4, VICTIM, dport, source, sport, "SA" if n % 10 == 0 else "RA", 7, 1001 + n)
            )
    path = write_capture(tmp_path / "randflood.pcap", packets, step=0.0002)
    [flood] = _document(path)["scans"]
    assert flood["kind"] == "flood" and flood["target"] == {"ip": VICTIM, "port": None}
    assert flood["attempts"] == 1200 and flood["ports"] == 1200 and flood["sources"] == 1200
    answered = (
        {"synack": 0, "rst": 1200, "none": 0} if flags == "A" else {"synack": 120, "rst": 1080, "none": 0}
    )
    assert flood["answered"] == answered
    text = run("analyze", str(path)).stdout
    kind = "ACK flood" if flags == "A" else "SYN flood"
    assert f"[1] {kind}: 1,200 attempts of {VICTIM} on 1,200 ports from about 1,200 sources" in text
    assert "connections: 1,200 folded into [1]" in text and len(text.splitlines()) < 30
    # And 1,100 more to one port of it (helper-114: that port's flood alone was found, 1,977
    # probes in none): one flood of the host, every probe folded into it.
    port = [tcp_packet(4, f"172.17.{n // 256}.{n % 256}", 40000, VICTIM, 80, "S", n) for n in range(1100)]
    mixed = write_capture(tmp_path / "mixed.pcap", packets + port, step=0.0002)
    [flood] = _document(mixed)["scans"]
    assert flood["target"] == {"ip": VICTIM, "port": None} and flood["attempts"] == 2300
    assert "connections: 2,300 folded into [1]" in run("analyze", str(mixed)).stdout
    # One source probing as many ports as fast is a port scan, and no flood of the host.
    scan = [tcp_packet(4, SCANNER, 50000, VICTIM, 1025 + n, "S", 1000) for n in range(1200)]
    [found] = _document(write_capture(tmp_path / "scan.pcap", scan, step=0.0002))["scans"]
    assert found["kind"] == "vertical"


def test_health_checks_of_the_same_backends_round_after_round_are_no_sweep(tmp_path) -> None:
    """HAProxy checks each backend by connecting and resetting (SO_LINGER 0): one balancer,
    30 backends on port 8080, every 2 s for 20 s (helper-113: "address sweep", all folded). A
    scan probes each target once or twice; these come 10 times each. The first round looked
    like a sweep while the file was read: its probes are told, and said to be."""
    packets = []
    for round_ in range(10):
        for n in range(30):
            backend, sport = f"10.1.1.{n + 1}", 33000 + round_ * 30 + n
            packets.append(tcp_packet(4, "10.1.0.2", sport, backend, 8080, "S", 1000))
            if n >= 28:  # two backends down: refused, the checks helper-114 saw lost
                packets.append(tcp_packet(4, backend, 8080, "10.1.0.2", sport, "RA", 0, 1001))
                continue
            packets += [
                tcp_packet(4, backend, 8080, "10.1.0.2", sport, "SA", 5000, 1001),
                tcp_packet(4, "10.1.0.2", sport, backend, 8080, "A", 1001, 5001),
                tcp_packet(4, "10.1.0.2", sport, backend, 8080, "RA", 1001, 5001),
            ]
    per_round = len(packets) // 10
    times = [round_ * 2.0 + index * 0.0005 for round_ in range(10) for index in range(per_round)]
    path = write_capture(tmp_path / "checks.pcap", packets, times=times)
    assert _document(path)["scans"] == []
    text = run("analyze", str(path)).stdout
    assert "connections, in id order (300):" in text and "folded into" not in text
    # The same 30 backends probed once each: a sweep.
    once = write_capture(tmp_path / "once.pcap", packets[:per_round], times=times[:per_round])
    [sweep] = _document(once)["scans"]
    assert sweep["kind"] == "horizontal" and sweep["hosts"] == 30


def _flood(tmp_path: Path, spoofed: int = 1000, repeated: int = 100, flags: str = "S") -> Path:
    """`spoofed` SYNs (or probes of other `flags`, unanswered) from as many addresses and
    `repeated` from one more, to one port, the even SYNs answered by SYN/ACK; 0.2 ms apart."""
    packets = []
    for n in range(spoofed + repeated):
        source = f"172.{16 + n // 65536}.{n // 256 % 256}.{n % 256}" if n < spoofed else "198.51.100.7"
        sport = 1024 + n % 60000
        packets.append(tcp_packet(4, source, sport, "192.0.2.1", 80, flags, n))
        if n % 2 == 0 and flags == "S":
            packets.append(tcp_packet(4, "192.0.2.1", 80, source, sport, "SA", 7, n + 1))
    return write_capture(tmp_path / "flood.pcap", packets, step=0.0002)


def test_a_flood_is_one_finding_naming_the_source_that_stands_out(tmp_path) -> None:
    [flood] = _document(_flood(tmp_path))["scans"]
    assert flood["kind"] == "flood" and flood["source"] is None and flood["syn_probes"] == 1100
    assert flood["target"] == {"ip": "192.0.2.1", "port": 80}
    assert flood["attempts"] == 1100 and flood["sources"] == 1001 and not flood["estimated"]
    assert (flood["hosts"], flood["ports"]) == (1, 1)
    assert flood["answered"] == {"synack": 550, "rst": 0, "none": 550}
    assert flood["rate"] > 1000
    [(busiest)] = flood["top_sources"]  # the spoofed ones, one SYN each, do not stand out
    assert busiest == {"ip": "198.51.100.7", "attempts": 100, "ports": 1}


def test_a_flood_nothing_answered_says_what_that_may_be(tmp_path) -> None:
    """helper-113: a flood captured on its way in only read "30,000 none" as a server that had
    stopped answering; a host down or a firewall's drop look the same."""
    said = "nothing from 192.0.2.1 answered: a host down or a firewall's drop, or a capture of the traffic to it only"
    assert said in run("analyze", str(_flood(tmp_path, flags="SE"))).stdout  # SYNs (ECN-setup), none answered
    assert said not in run("analyze", str(_flood(tmp_path))).stdout  # half answered by SYN/ACK


def test_a_flood_s_busiest_source_that_probed_other_ports_says_so(tmp_path) -> None:
    """A helper's repro: a scanner probed 2,000 ports of the flooded host, one of them the
    flooded port: its 2,000 attempts are the host's, not the port's."""
    packets = [
        tcp_packet(4, f"172.16.{n // 256}.{n % 256}", 1024 + n, "192.0.2.10", 80, "S", n) for n in range(1200)
    ]
    packets += [tcp_packet(4, "203.0.113.5", 50000, "192.0.2.10", port, "S", 7) for port in range(1, 2001)]
    path = write_capture(tmp_path / "flood-and-scan.pcap", packets, step=0.0001)
    flood = next(scan for scan in _document(path)["scans"] if scan["kind"] == "flood")
    assert flood["top_sources"] == [{"ip": "203.0.113.5", "attempts": 2000, "ports": 2000}]
    assert (
        "busiest sources: 203.0.113.5 (2,000 attempts of the host, on 2,000 ports)"
        in run("analyze", str(path)).stdout
    )


def test_a_flood_of_fins_is_no_syn_flood(tmp_path) -> None:
    """hping3 -F --rand-source: FINs without ACK, each from a source of its own."""
    path = _flood(tmp_path, flags="F")
    [flood] = _document(path)["scans"]
    assert (flood["kind"], flood["attempts"], flood["syn_probes"]) == ("flood", 1100, 0)
    text = run("analyze", str(path)).stdout
    assert (
        "[1] flood of probes without SYN (ACK, FIN, NULL, Xmas, RST or other flags): 1,100 attempts of 192.0.2.1:80"
        in text
    )


def test_an_estimate_of_sources_is_never_more_than_the_attempts(tmp_path) -> None:
    """Past EXACT_LIMIT the sources are a HyperLogLog estimate, here 1,117 for 1,100 (each
    a source of its own): the finding says at most one source for each attempt."""
    [flood] = _document(_flood(tmp_path, spoofed=1100, repeated=0))["scans"]
    assert (flood["attempts"], flood["sources"], flood["estimated"]) == (1100, 1100, True)


def test_a_slow_stream_of_failed_attempts_is_no_flood(tmp_path) -> None:
    """FLOOD_ATTEMPTS attempts to one port, but a few a second: a server that was down."""
    packets = [
        tcp_packet(4, f"10.2.{n // 256}.{n % 256}", 50000, "192.0.2.1", 80, "S", n) for n in range(1100)
    ]
    assert FLOOD_ATTEMPTS <= 1100
    assert _document(write_capture(tmp_path / "down.pcap", packets, step=0.5))["scans"] == []


def test_a_burst_inside_a_long_capture_is_a_flood(tmp_path) -> None:
    """1,100 SYNs within half a second, and a SYN to the same port an hour before and after:
    counted by 10-second bins, the burst is a flood whatever the file's length (its average
    over the hour, 0.3 a second, is not the point); its connections are folded, the text
    holding none of their details even while the file is read (ScanDetector.hot)."""
    burst = [tcp_packet(4, f"10.7.{n // 256}.{n % 256}", 50000, "192.0.2.1", 80, "S", n) for n in range(1100)]
    early = write_capture(tmp_path / "early.pcap", burst[:1], start=1_700_000_000.0)
    middle = write_capture(tmp_path / "middle.pcap", burst[1:], start=1_700_003_600.0, step=0.0005)
    late = write_capture(tmp_path / "late.pcap", burst[:1], start=1_700_007_200.0)
    merged = tmp_path / "hour.pcap"
    packets = [*rdpcap(str(early)), *rdpcap(str(middle)), *rdpcap(str(late))]
    wrpcap(str(merged), packets)
    [flood] = _document(merged)["scans"]
    assert flood["kind"] == "flood" and flood["attempts"] == 1101 and flood["duration"] == pytest.approx(7200)
    assert flood["rate"] < 1
    text = run("analyze", str(merged)).stdout
    assert "1,101 folded into [1]" in text and "in none after all" not in text


def _backscatter(
    tmp_path: Path, addresses: int, name: str = "backscatter.pcap", extra: list | None = None
) -> Path:
    """A flooded host's answers where its forged sources are (a telescope): to each address
    a SYN/ACK from port 80 and its resend, or a RST/ACK at sequence 0 from port 443 (a
    closed port's answer), and nothing from the addresses."""
    packets = []
    for n in range(addresses):
        address, port = f"203.0.{n // 256}.{n % 256 + 1}", 1024 + 7 * n
        if n % 3:
            packets += [tcp_packet(4, VICTIM, 80, address, port, "SA", 9000 + n, 77 + n)] * 2
        else:
            packets.append(tcp_packet(4, VICTIM, 443, address, port, "RA", 0, 77 + n))
    return write_capture(tmp_path / name, packets + (extra or []), step=0.002)


def test_answers_to_addresses_that_sent_nothing_are_backscatter(tmp_path) -> None:
    path = _backscatter(tmp_path, 30)
    [scan] = _document(path)["scans"]
    assert scan["kind"] == "backscatter" and scan["source"] == VICTIM and scan["target"] is None
    assert scan["syn_probes"] is None  # answers, not probes
    assert (scan["attempts"], scan["hosts"], scan["ports"]) == (30, 30, 2)
    assert scan["answered"] == {"synack": 20, "rst": 10, "none": 0}
    assert scan["top_ports"] == [
        {"port": 80, "attempts": 20, "hosts": 20},
        {"port": 443, "attempts": 10, "hosts": 10},
    ]
    text = run("analyze", str(path)).stdout
    assert (
        f"[1] backscatter: {VICTIM} answered 30 addresses from 2 ports; none of them sent it anything here"
        in text
    )
    assert "30 answers in " in text and ": 20 SYN/ACK, 10 RST" in text
    assert "ports answered from: 80 (20 answers, 20 addresses), 443 (10 answers, 10 addresses)" in text
    assert "30 folded into [1]" in text
    # The forged addresses opened nothing: they are no busiest sources.
    summary = run("analyze", "--summary", str(path)).stdout
    assert "busiest sources (connections opened, packets in them):\n  none\n" in summary
    assert "[1] backscatter" in summary


def test_answers_to_clients_in_the_capture_are_no_backscatter(tmp_path) -> None:
    """Below the threshold; or each address sent something the capture holds (a SYN, an
    ACK, a RST to the unasked SYN/ACK): its connection is a conversation or a probe, not an
    answer to nothing."""
    assert BACKSCATTER_HOSTS == 25
    assert _document(_backscatter(tmp_path, BACKSCATTER_HOSTS - 1, "few.pcap"))["scans"] == []
    assert [
        s["kind"] for s in _document(_backscatter(tmp_path, BACKSCATTER_HOSTS, "enough.pcap"))["scans"]
    ] == ["backscatter"]
    for flags in ("S", "R", "A"):
        spoken = [
            tcp_packet(4, f"203.0.0.{n + 1}", 1024 + 7 * n, VICTIM, 80, flags, 77 + n)
            for n in range(30)
            if n % 3
        ]
        path = _backscatter(tmp_path, 30, f"spoken-{flags}.pcap", spoken)
        assert [s["kind"] for s in _document(path)["scans"]] == [], flags  # 10 answers left: too few


def test_below_the_thresholds_there_is_no_finding(tmp_path) -> None:
    packets = [tcp_packet(4, SCANNER, 50000, VICTIM, port, "S", 1) for port in range(1, PORT_SCAN_PORTS)]
    packets += [tcp_packet(4, SCANNER, 50001, f"10.3.0.{n}", 443, "S", 1) for n in range(1, SWEEP_HOSTS)]
    assert _document(write_capture(tmp_path / "few.pcap", packets))["scans"] == []


@pytest.mark.parametrize("pcap", stored_captures(), ids=lambda p: p.name)
def test_a_normal_capture_is_not_a_scan(pcap) -> None:
    assert analyze_file(str(pcap)).scans == []


def test_the_corpus_syn_scan_is_one_scan(corpus_dir) -> None:
    path = corpus_dir / "pcaps" / "ppa_synscan.pcapng"
    [scan] = analyze_file(str(path)).scans
    assert (scan.kind, scan.source, scan.hosts, scan.ports) == ("vertical", "172.16.0.8", 1, 1000)
    # nmap sends a second SYN to each port that did not answer: 1,994 attempts, one a connection.
    assert scan.attempts == 1994 and scan.answers == {"synack": 3, "rst": 5, "none": 1986}
    text = run("analyze", str(path)).stdout
    assert len(text.splitlines()) < 20 and "1,994 folded into [1]" in text


def _detector_findings(results, order: random.Random | None = None, shares: int = 1) -> list[dict]:
    results = list(results)
    if order is not None:
        order.shuffle(results)
    detectors = [ScanDetector() for _ in range(shares)]
    for result in results:
        connection = result.connection
        detectors[(connection.client[1] + connection.server[1]) % shares].add(result)
    merged = detectors[0]
    for other in detectors[1:]:
        merged.merge(other)
    return [scan_to_dict(scan) for scan in merged.findings()]


def test_the_findings_do_not_depend_on_the_order_or_on_shares(tmp_path, vertical) -> None:
    """Connections come as they end; a big file's shares each count theirs and are added up."""
    for path in (vertical, _flood(tmp_path), _backscatter(tmp_path, 60)):
        results = list(stream_file(str(path)).results)
        once = _detector_findings(results)
        assert once
        assert _detector_findings(results, random.Random(5)) == once
        assert _detector_findings(results, random.Random(6), shares=3) == once


def test_a_flood_of_spoofed_sources_is_counted_in_memory_that_does_not_grow() -> None:
    """A million sources would need a million counters in each table: the tables stay
    bounded, the flood is still one finding, its sources estimated, and a port scan from one
    address among them is still found."""

    def peak(attempts: int) -> tuple[int, ScanDetector]:
        detector = ScanDetector(slots=200)
        tracemalloc.start()
        try:
            for n in range(attempts):
                # Unanswered SYNs: one scanner's, among a flood's spoofed sources.
                if n % 10 == 0:
                    detector.add_probe("198.51.100.7", "192.0.2.9", 1 + n // 10 % 1000, "none", n / 50_000)
                else:
                    source = f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"
                    detector.add_probe(source, "192.0.2.1", 80, "none", n / 50_000)
            _now, top = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        return top, detector

    small, _ = peak(5_000)
    large, detector = peak(50_000)
    assert large < 1.5 * small
    flood, scan = detector.findings()
    assert flood.kind == "flood" and flood.attempts == 45_000 and flood.estimated
    assert flood.sources == pytest.approx(45_000, rel=0.05)
    assert scan.kind == "vertical" and scan.source == "198.51.100.7" and scan.ports == 1000
    assert 5_000 - scan.short_by <= scan.attempts <= 5_000 and scan.short_by > 0


def test_only_chooses_the_connections_in_every_format() -> None:
    files = [
        str(CAPTURES / name)
        for name in ("refused.pcap", "handshake.pcap", "backlog.pcap", "linger-reset.pcap")
    ]
    kinds = {}
    for path in files:
        for connection in json.loads(run("analyze", "--json", path).stdout)["connections"]:
            kinds[path, connection["id"]] = connection
    expected = {
        "refused": {key for key, c in kinds.items() if c["handshake"]["status"] == "refused"},
        "resets": {key for key, c in kinds.items() if c["resets"]},
        "retransmissions": {key for key, c in kinds.items() if "retransmission" in c["sequence"]["counts"]},
    }
    assert all(expected.values()) and expected["refused"] < expected["resets"]
    for only, wanted in [
        (["--only", "refused"], expected["refused"]),
        (["--only", "resets,retransmissions"], expected["resets"] | expected["retransmissions"]),
        (
            ["--only", "refused", "--only", "retransmissions"],
            expected["refused"] | expected["retransmissions"],
        ),
    ]:
        document = json.loads(run("analyze", "--json", *only, *files).stdout)
        assert {(c["file"], c["id"]) for c in document["connections"]} == wanted
        assert all(d["only"] for d in document["files"])
        lines = [
            json.loads(line)
            for line in run("analyze", "--format", "jsonl", *only, *files).stdout.splitlines()
        ]
        assert {(line["file"], line["id"]) for line in lines if line["type"] == "connection"} == wanted
        ends = [line for line in lines if line["type"] == "file"]
        assert sum(end["connection_count"] for end in ends) == len(kinds)  # the file's, not the lines'
        rows = [
            row.split("\t") for row in run("analyze", "--format", "conn", *only, *files).stdout.splitlines()
        ]
        assert sum(1 for row in rows if not row[0].startswith("#")) == len(wanted)
        text = run("analyze", *only, *files).stdout
        assert sum(line.startswith("#") for line in text.splitlines()) == len(wanted)


def test_only_and_all_in_the_overview_of_a_scan(vertical) -> None:
    refused = run("analyze", "--only", "refused", str(vertical)).stdout
    assert "connections (refused): 987 folded into [1]" in refused
    blocks = run("analyze", "--only", "refused", "--all", str(vertical)).stdout
    assert sum(line.startswith("#") for line in blocks.splitlines()) == 987
    assert "scans and floods (1):" in blocks  # the file's scans, whatever is shown


def test_a_wrong_option_prints_the_subcommands_usage() -> None:
    for args in (["analyze", "--bogus", "x.pcap"], ["analyze", "--only", "everything", "x.pcap"]):
        result = run(*args)
        assert result.returncode == 2 and "Traceback" not in result.stderr
        assert result.stderr.startswith("usage: handshake analyze "), result.stderr
    bad_kind = run("analyze", "--only", "resets,everything", "x.pcap").stderr
    assert "'everything' is not one of resets, refused, retransmissions, incomplete" in bad_kind
    diagram = run("diagram", "--only", "resets", "x.pcap")
    assert diagram.returncode == 2 and diagram.stderr.startswith("usage: handshake diagram ")
    assert_one_line_error(
        run("analyze", "--summary", "--only", "resets", str(CAPTURES / "refused.pcap")), "--only"
    )


def test_a_small_capture_has_no_overview() -> None:
    out = io.StringIO()
    write_text(stream_file(str(CAPTURES / "backlog.pcap")), out)
    assert "outcomes" not in out.getvalue() and "interesting" not in out.getvalue()
    assert OVERVIEW_FROM > 3


def test_the_interesting_connections_are_capped_with_a_count_of_the_rest(tmp_path) -> None:
    """Refused connections from many sources (no scan, no flood), more than are listed."""
    packets = []
    for n in range(INTERESTING_SHOWN + 7):
        client = f"10.5.{n // 256}.{n % 256}"
        packets += [
            tcp_packet(4, client, 40000, "10.6.0.1", 25, "S", 1),
            tcp_packet(4, "10.6.0.1", 25, client, 40000, "RA", 0, 2),
        ]
    text = run("analyze", str(write_capture(tmp_path / "refused.pcap", packets))).stdout
    listed = text.split("interesting connections:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert len(listed) == INTERESTING_SHOWN + 1 and listed[-1] == "  and 7 more (below, in id order)"
    assert listed[0].startswith("  #0  10.5.0.0:40000 → 10.6.0.1:25  refused")
    assert "scans and floods" not in text


def test_the_interesting_lines_say_when_the_others_are_the_scans(tmp_path, vertical) -> None:
    """A scan alone: its connections are all it has to tell; with refused connections from
    other sources, those are listed (capped) and the scan's are said to be told above."""
    alone = run("analyze", str(vertical)).stdout
    assert "interesting connections:\n  none besides those of the scans and floods\n\n" in alone
    packets = _vertical_packets()
    for n in range(INTERESTING_SHOWN + 7):
        client = f"10.5.{n // 256}.{n % 256}"
        packets += [
            tcp_packet(4, client, 40000, "10.6.0.1", 25, "S", 1),
            tcp_packet(4, "10.6.0.1", 25, client, 40000, "RA", 0, 2),
        ]
    both = run("analyze", str(write_capture(tmp_path / "both.pcap", packets, step=0.0005))).stdout
    listed = both.split("interesting connections:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert len(listed) == INTERESTING_SHOWN + 2
    assert listed[-2:] == ["  and 7 more (below, in id order)", "  (and those of the scans and floods above)"]
    assert all("10.5." in line for line in listed[:INTERESTING_SHOWN])


def test_probes_whose_details_were_not_made_and_that_are_in_no_scan_are_counted(vertical) -> None:
    """A probe taken as a scan's while the file was read (its details not made) that is in
    no finding at the end (a table dropped its key) cannot be told: the overview counts it."""
    from analyzer.output.text_report import TextReport

    analysis = analyze_file(str(vertical))
    report = TextReport()
    for result in analysis.connections:
        report.add(result, analysis.stats.origin or Clock(0.0), hot=result.probe is not None)
    hot = [result.connection.id for result in analysis.connections if result.probe is not None]
    assert list(report.unmade_ids()) == sorted(hot) and len(hot) == 1_000
    # A bit each, not an id's 8 bytes: a flood's million probes are nearly all hot.
    assert len(report.unmade) <= 1_000 // 8 + 1
    out = io.StringIO()
    report.write(out, analysis.file, analysis.stats, [], [], [], Clock(), analysis.links)
    report.close()
    assert "connections, in id order (0):\n(1,000 probes looked like a scan's or a flood's" in out.getvalue()


def test_the_tallies_of_shares_add_up_to_one_process_s() -> None:
    """What the shares of a big file tell the overview, added: counts summed, the listed
    interesting connections the first by the file's ids."""
    from analyzer.output.text_report import TextTally

    first = TextTally(3, {1: 2}, 4, 1, [(0, "a"), (2, "b")], 5)
    second = TextTally(1, {1: 1, 2: 7}, 8, 2, [(0, "c"), (1, "d")], 2)
    total = TextTally()
    total.merge(first, [0, 2, 5])  # the share's ids 0, 1, 2 are the file's 0, 2 and 5
    total.merge(second, [1, 3])
    assert total == TextTally(4, {1: 3, 2: 7}, 12, 3, [(0, "a"), (1, "c"), (3, "d"), (5, "b")], 7)


def test_keep_alives_answered_for_no_connection_are_no_ack_probes(tmp_path) -> None:
    """A reviewer's repro: a client's keep-alives (bare ACKs, 75 s apart) then the server's RST
    for no connection (it restarted): more segments than a probe sends. And one that continues
    a connection given up as idle is that connection's, not a probe."""
    packets = [tcp_packet(4, SCANNER, 50000, VICTIM, 80, "A", 1000, 7777) for _ in range(6)]
    packets.append(tcp_packet(4, VICTIM, 80, SCANNER, 50000, "R", 7777))
    path = write_capture(tmp_path / "keepalives.pcap", packets, step=75.0)
    [result] = analyze_file(str(path)).connections
    assert result.probe is None
    talk = [
        tcp_packet(4, SCANNER, 50000, VICTIM, 80, "PA", 1000, 7777, b"hi"),
        tcp_packet(4, VICTIM, 80, SCANNER, 50000, "A", 7777, 1002),
    ]
    later = [
        tcp_packet(4, SCANNER, 50000, VICTIM, 80, "A", 1001, 7777),
        tcp_packet(4, VICTIM, 80, SCANNER, 50000, "R", 7777),
    ]
    path = write_capture(tmp_path / "idle.pcap", [*talk, *later], times=[0.0, 0.01, 400.0, 400.001])
    results = sorted(analyze_file(str(path)).connections, key=lambda r: r.connection.id)
    assert results[-1].connection.continues is not None and results[-1].probe is None


def test_a_rst_flood_is_a_flood_of_probes_without_syn(tmp_path) -> None:
    """hping3 -R --rand-source: a RST from each of 1,200 addresses to one port, nothing back.
    A connection that ends with a RST after talking is no probe."""
    packets = [
        tcp_packet(4, f"172.16.{n // 256}.{n % 256}", 1024 + n, "192.0.2.1", 80, "R", n * 7)
        for n in range(1200)
    ]
    path = write_capture(tmp_path / "rstflood.pcap", packets, step=0.0002)
    [flood] = _document(path)["scans"]
    assert (flood["kind"], flood["attempts"], flood["syn_probes"], flood["ack_probes"]) == (
        "flood",
        1200,
        0,
        0,
    )
    assert flood["answered"] == {"synack": 0, "rst": 0, "none": 1200}
    talked = [
        tcp_packet(4, SCANNER, 50000, VICTIM, 80, "PA", 1000, 7777, b"hi"),
        tcp_packet(4, SCANNER, 50000, VICTIM, 80, "R", 1002),
    ]
    [result] = analyze_file(str(write_capture(tmp_path / "talked.pcap", talked))).connections
    assert result.probe is None


def test_a_rst_floods_probes_from_ports_below_the_targets_are_in_the_flood(tmp_path) -> None:
    """helper-141's hping3 -R --rand-source -p 8081: its source ports count up from a random
    one, 2832; those below 8081 made the target the client (the lower port's rule), 10% of the
    flood left out of it and listed as the target's connections; and the text said "nothing
    answered: a host down or a firewall's drop", where no host answers a RST."""
    packets = [
        tcp_packet(4, f"172.16.{n // 256}.{n % 256}", 7000 + n, "192.0.2.1", 8081, "R", n * 7)
        for n in range(1200)
    ]
    path = write_capture(tmp_path / "rstflood.pcap", packets, step=0.0002)
    document = _document(path)
    [flood] = document["scans"]
    assert (flood["kind"], flood["attempts"], flood["target"]) == (
        "flood",
        1200,
        {"ip": "192.0.2.1", "port": 8081},
    )
    assert {c["client_basis"] for c in document["connections"]} <= {"first_sender_alone"}
    assert "nothing from 192.0.2.1 answered" not in run("analyze", str(path)).stdout
    # A flood of SYNs is answered by a live host: its silence is told.
    syns = [
        tcp_packet(4, f"172.16.{n // 256}.{n % 256}", 7000 + n, "192.0.2.1", 8081, "S", n * 7)
        for n in range(1200)
    ]
    silent = write_capture(tmp_path / "synflood.pcap", syns, step=0.0002)
    assert "nothing from 192.0.2.1 answered" in run("analyze", str(silent)).stdout


def test_a_port_floods_sources_are_those_that_probed_that_port_and_stand_out_of_it() -> None:
    """helper-115's hping: one host flooded on two ports, each from a source of its own, the
    first also from 120,000-odd random sources of which a few came twice. Each flood names its
    own source only, by its probes of that port: not the other port's (which probed it once),
    nor a random address drawn twice (2 of 1,400)."""
    detector = ScanDetector()
    time = 1_700_000_000.0
    for n in range(1_200):
        detector.add_probe(f"172.16.{n // 256}.{n % 256}", "192.0.2.10", 80, NOTHING, time + n * 1e-4)
    for n in range(2):
        detector.add_probe("172.16.0.1", "192.0.2.10", 80, NOTHING, time + 0.2 + n * 1e-4)  # drawn again
    for n in range(200):
        detector.add_probe("198.51.100.7", "192.0.2.10", 80, NOTHING, time + 0.3 + n * 1e-4)
    detector.add_probe("198.51.100.7", "192.0.2.10", 81, RST, time + 0.4)  # once, to the other port
    for n in range(1_100):
        detector.add_probe("203.0.113.5", "192.0.2.10", 81, RST, time + 0.5 + n * 1e-4)
    floods = {finding.target: finding for finding in detector.findings() if finding.kind == "flood"}
    # Each counted by its probes of that port (helper-117: 201, the host's, in the other flood).
    assert floods["192.0.2.10", 80].top_sources == [("198.51.100.7", 200, 1)]
    assert floods["192.0.2.10", 81].top_sources == [("203.0.113.5", 1_100, 1)]


def test_a_short_flood_across_two_of_the_clocks_ten_seconds_tells_no_busiest_ten_seconds(tmp_path) -> None:
    """The busiest 10 s are bins of the clock's tens of seconds: a flood of 4 s astride two of
    them had its larger part told as 'busiest 10 s', from a moment nothing happened
    (helper-115's hping); a flood of 40 s has it. The JSON says the same (helper-117: it
    kept the bin's start)."""
    for seconds, told in ((4.0, False), (40.0, True)):
        packets = [
            tcp_packet(4, f"172.16.{n // 256}.{n % 256}", 1024 + n, "192.0.2.1", 80, "S", n)
            for n in range(3_000)
        ]
        path = write_capture(tmp_path / "flood.pcap", packets, start=1_700_000_008.0, step=seconds / 3_000)
        assert ("busiest 10 s:" in run("analyze", str(path)).stdout) == told
        (flood,) = [
            s for s in json.loads(run("analyze", "--json", str(path)).stdout)["scans"] if s["kind"] == "flood"
        ]
        assert (flood["busiest_10s"] is not None) == told
        if told:
            assert flood["busiest_10s"]["first_time"] >= flood["first_time"]
            assert flood["busiest_10s"]["attempts"] < flood["attempts"]
