"""Captures of the Linux kernel's own behaviour, made with real sockets in network namespaces
(tests/data/real_sockets/record_real_sockets.py): each analysis is checked against what the
recorder did and what the kernel counted (EXPECTED.json), and the packet counts against
tshark's. The stored files are replayed on every run; a fresh recording is made and checked
the same way where the machine allows it (root, tcpdump, nft, tshark)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import CAPTURES, run

from analyzer.decode import DecodeStats, read_segments
from analyzer.decode.segment import ACK, FIN, RST, SYN

HERE = Path(__file__).parent / "data" / "real_sockets"
RECORDER = HERE / "record_real_sockets.py"


def _expected(folder: Path) -> dict:
    return json.loads((folder / "EXPECTED.json").read_text())


def _our_counts(path: Path) -> dict:
    flags = [s.flags for s in read_segments(str(path), DecodeStats())]
    return {
        "tcp_packets": len(flags),
        "syn": sum(1 for f in flags if f & (SYN | ACK) == SYN),
        "syn_ack": sum(1 for f in flags if f & (SYN | ACK) == SYN | ACK),
        "fin": sum(1 for f in flags if f & FIN),
        "rst": sum(1 for f in flags if f & RST),
    }


def _diagnoses(document: dict, kind: str) -> list[tuple[dict, dict]]:
    return [(c, d) for c in document["connections"] for d in c["diagnoses"] if d["kind"] == kind]


def _check_keepalive(document: dict, did: dict) -> None:
    [(connection, diagnosis)] = _diagnoses(document, "keep_alive")
    unanswered = did["keepcnt"]
    match = re.search(r"the client probed (\d+) times after ([\d.]+) s idle, every ([\d.]+) s; (\d+) answered",
                      diagnosis["sentence"])  # fmt: skip
    assert match, diagnosis["sentence"]
    probes, idle, every, answered = int(match[1]), float(match[2]), float(match[3]), int(match[4])
    assert probes == answered + unanswered and answered >= 2
    assert abs(idle - did["keepidle"]) < 0.2 and abs(every - did["keepintvl"]) < 0.2
    assert f"the last {unanswered} got no answer and the client reset the connection" in diagnosis["sentence"]
    assert did["client_error"] == "ETIMEDOUT"
    [reset] = connection["resets"]
    assert reset["sender"] == "client" and reset["frame"] == max(diagnosis["frames"])
    assert reset["cause"] == "keep_alive_timeout" and len(reset["evidence_frames"]) == unanswered + 1


def _check_zero_window(document: dict, did: dict) -> None:
    [(_connection, diagnosis)] = _diagnoses(document, "zero_window")
    match = re.search(r"the (\w+)'s receive window was zero for ([\d.]+) s", diagnosis["sentence"])
    assert match, diagnosis["sentence"]
    assert match[1] == did["stalled_receiver"]
    assert did["stalled_for"] - 0.3 < float(match[2]) <= did["stalled_for"] + 0.1
    assert "window update" in diagnosis["sentence"] and "window probe" in diagnosis["sentence"]


def _check_tail_loss_probe(document: dict, did: dict) -> None:
    by_port = {str(c["client"]["port"]): c for c in document["connections"]}
    assert set(by_port) == set(did["client_ports"])
    for port, episode in did["client_ports"].items():
        probes = [d for d in by_port[port]["diagnoses"] if d["kind"] == "tail_loss_probe"]
        assert len(probes) == episode["kernel_counters"]["TcpExtTCPLossProbes"] == 1
        spurious = "spurious: the server's D-SACK" in probes[0]["sentence"]
        assert spurious == (episode["kernel_counters"]["TcpExtTCPDSACKRecv"] == 1)
        # A machine under load lifts the drop late: the probe dropped too, the RTO resent it,
        # which the kernel counts (a CI run's; recordings before the counter was read: none).
        timed_out = episode["kernel_counters"].get("TcpExtTCPTimeouts", 0) > 0
        if timed_out:
            assert "no answer: the RTO resent it" in probes[0]["sentence"]
        elif not spurious:
            assert "the original was lost, and the probe repaired it" in probes[0]["sentence"]
        if not timed_out:
            assert not [d for d in by_port[port]["diagnoses"] if d["kind"] == "retransmission_timeout"]


def _check_rto_backoff(document: dict, did: dict) -> None:
    [(_c, probe)] = _diagnoses(document, "tail_loss_probe")
    assert did["kernel_counters"]["TcpExtTCPLossProbes"] == 1
    assert "no answer: the RTO resent it" in probe["sentence"]
    [(_c, rto)] = _diagnoses(document, "retransmission_timeout")
    assert f"the resend in frame {probe['frames'][0]} (a tail loss probe?)" in rto["sentence"]
    match = re.search(r"exponential \(initial RTO ([\d.]+) s, factor ([\d.]+)\)", rto["sentence"])
    assert match, rto["sentence"]
    assert 0.2 <= float(match[1]) < 0.25 and abs(float(match[2]) - 2) < 0.05
    assert probe["frames"][0] not in rto["frames"]


def _check_vxlan(document: dict, did: dict) -> None:
    [connection] = document["connections"]
    assert connection["tunnels"] == [did["tunnel"]]
    assert connection["handshake"]["status"] == "complete"


CHECKS = {
    "keepalive.pcap": _check_keepalive,
    "zero-window.pcap": _check_zero_window,
    "tail-loss-probe.pcap": _check_tail_loss_probe,
    "rto-backoff.pcap": _check_rto_backoff,
    "vxlan.pcap": _check_vxlan,
}


def _check(folder: Path, name: str) -> None:
    expected = _expected(folder)[name]
    path = folder / name
    assert _our_counts(path) == expected["tshark"]
    result = run("analyze", "--json", str(path))
    assert result.returncode == 0, result.stderr
    CHECKS[name](json.loads(result.stdout), expected["did"])


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_stored_real_socket_capture(name: str) -> None:
    _check(HERE, name)


def test_every_stored_capture_is_checked_and_small() -> None:
    assert set(_expected(HERE)) == set(CHECKS) == {p.name for p in HERE.glob("*.pcap")}
    assert all(p.stat().st_size < 8_000 for p in HERE.glob("*.pcap"))


def _why_not_live() -> str | None:
    if os.geteuid() != 0:
        return "recording needs root (network namespaces, nft)"
    missing = [
        tool for tool in ("tcpdump", "nft", "tshark", "unshare", "nsenter", "nstat") if not shutil.which(tool)
    ]
    return f"recording needs {', '.join(missing)}" if missing else None


@pytest.mark.slow
@pytest.mark.live
@pytest.mark.skipif(_why_not_live() is not None, reason=_why_not_live() or "")
def test_a_fresh_recording_passes_the_same_checks(tmp_path) -> None:
    subprocess.run(
        [sys.executable, str(RECORDER), str(tmp_path)], check=True, timeout=300, capture_output=True
    )
    for name in CHECKS:
        _check(tmp_path, name)


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed (make setup)")
@pytest.mark.parametrize(
    "path",
    [HERE / name for name in sorted(CHECKS)]
    + [CAPTURES / "half-open-states.pcap", CAPTURES / "data-after-close.pcap"],
    ids=lambda p: p.name,
)
def test_each_display_filter_selects_exactly_its_frames_in_tshark(path: Path) -> None:
    document = json.loads(run("analyze", "--json", str(path)).stdout)
    for connection in document["connections"]:
        for diagnosis in connection["diagnoses"]:
            shown = subprocess.run(
                ["tshark", "-n", "-r", str(path), "-Y", diagnosis["display_filter"], "-T", "fields", "-e", "frame.number"],
                capture_output=True, text=True, check=True,
            ).stdout.split()  # fmt: skip
            assert [int(frame) for frame in shown] == sorted(set(diagnosis["frames"])), diagnosis["kind"]
