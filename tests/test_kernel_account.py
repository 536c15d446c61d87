"""Replay: the analysis agrees with the kernel's own account on every scenario, both
families, and on three `handshake run` programs, recorded with the kernel recorder: in
tests/data/kernel_account/ for the scenarios captures/ holds from before the recorder
existed (their sidecars have no kernel events), in captures/ for those stored since. And
the README's table of RST causes is what they give.

Re-record one with `handshake capture NAME [--family 6] --runs-dir DIR` (root, bpftrace)
and copy its pcap and sidecar here; the programs: see README.md, "The analysis against the
kernel's own account".
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import ROOT

from analyzer.analysis import analyze_file
from analyzer.findings.kernel_events import compare_events
from analyzer.output.text_report import connection_text
from analyzer.scenarios import SCENARIOS
from analyzer.sidecar import load_sidecar, sidecar_path_for
from analyzer.timefmt import Clock

DATA = ROOT / "tests" / "data" / "kernel_account"
CAPTURES = ROOT / "captures"


def _with_kernel_events(pcap: Path) -> bool:
    beside = sidecar_path_for(pcap)
    return beside.exists() and bool(load_sidecar(beside).get("kernel_events"))


_HERE = {p.stem for p in DATA.glob("*.pcap")}
PCAPS = sorted(
    [
        *DATA.glob("*.pcap"),
        *(p for p in CAPTURES.glob("*.pcap") if p.stem not in _HERE and _with_kernel_events(p)),
    ],
    key=lambda p: p.stem,
)
# The scenarios with TCP connections (udp's have none for the kernel's TCP account).
TCP_SCENARIOS = [name for name in SCENARIOS if not name.startswith("udp")]
PROGRAMS = {
    "curl-closed-port": "`curl -s http://127.0.0.1:1/`",
    "http-post": "curl POST to `python3 -m http.server`",
    # Another run of it: curl's FIN stuck behind the body, the server's abort crossing curl's ACK.
    "http-post-crossed": "the same, another run, no call log",
    "abort-pair": "`examples/abort_pair.py`",
}
# The differences that are explained limits (README), by capture: nowhere else.
EXPLAINED = {
    "simultaneous-close": "delivered late",
    "simultaneous-close-ipv6": "delivered late",
    "http-post-crossed": "its close() sent no FIN",
    "fin-wait-2-timeout": "by the FIN_WAIT_2 timer",
    "fin-wait-2-timeout-ipv6": "by the FIN_WAIT_2 timer",
    "time-wait-reuse": "at the next connection's SYN",
    "time-wait-reuse-ipv6": "at the next connection's SYN",
}


def test_every_scenario_both_families_and_the_programs_are_here() -> None:
    names = {pcap.stem for pcap in PCAPS}
    wanted = {n for s in TCP_SCENARIOS for n in (s, f"{s}-ipv6")} | set(PROGRAMS)
    assert names == wanted


@pytest.mark.parametrize("pcap", PCAPS, ids=[p.stem for p in PCAPS])
def test_the_analysis_agrees_with_the_kernels_account(pcap: Path) -> None:
    sidecar = load_sidecar(sidecar_path_for(pcap))
    assert sidecar["kernel_recorder"]["attached"] and sidecar["kernel_recorder"]["lost"] == 0
    analysis = analyze_file(str(pcap), sidecar=sidecar)
    assert analysis.connections
    for result in analysis.connections:
        assert result.kernel is not None and result.kernel.events is not None
        events = result.kernel.events
        assert events.disagreements == [], events.disagreements
        # Every state change paired, but the ones of an end an explained difference is about.
        explained_sides = {d.side for d in events.explained if "close() sent no FIN" in d.what}
        assert events.states
        # The orphan timer's move, and a TIME_WAIT's end at the next connection's SYN, are in a
        # timewait socket no tracepoint reports (explained).
        timer = {
            d.side
            for d in events.explained
            if "by the FIN_WAIT_2 timer" in d.what or "at the next connection's SYN" in d.what
        }
        assert all(
            m.difference is not None
            for m in events.states
            if m.side not in explained_sides
            and not (m.side in timer and m.frame is None and m.state == "CLOSED")
        )
        # Each pair within 120 µs of the frame that caused it (a call's timeout: 100 ms).
        assert all(abs(m.difference or 0) < 120e-6 for m in events.states if m.frame is not None)
        assert all(reset.agrees for reset in events.resets), events.resets
        # Every RST here that reached a full socket was taken, as the analysis says.
        assert all(reset.kernel_received is not False for reset in events.resets), events.resets
        # Every retransmission the kernel's, but the copies the sandbox delivered late.
        unconfirmed = [r.frame for r in events.retransmissions if r.kernel_time is None]
        assert unconfirmed == [r.frame for r in events.retransmissions if f"frame {r.frame} is a copy" in
                               " ".join(d.what for d in events.explained)]  # fmt: skip
        assert all(r.frame is not None for r in events.retransmissions)
        why = EXPLAINED.get(pcap.stem)
        assert all(why is not None and why in d.what for d in events.explained), events.explained


def _causes(pcap: Path) -> list[tuple[str, str, str, str, str, bool | None]]:
    """Each RST: (sender, its state, the cause from the packets alone, with the call log,
    the kernel's reason, whether the packets' cause is one the reason allows)."""
    sidecar = load_sidecar(sidecar_path_for(pcap))
    rows = []
    with_calls = analyze_file(str(pcap), sidecar=sidecar).connections
    for alone, called in zip(analyze_file(str(pcap)).connections, with_calls, strict=True):
        events = compare_events(
            alone.connection, alone.states, alone.state_frames, alone.steps, alone.resets, alone.resends,
            alone.sequence.flags, sidecar["kernel_events"], [],
        )  # fmt: skip
        for reset, scored, refined in zip(alone.resets, events.resets, called.resets, strict=True):
            rows.append(
                (
                    reset.sender,
                    reset.state,
                    reset.cause,
                    refined.cause,
                    scored.kernel_reason or "",
                    scored.agrees,
                )
            )
    return rows


def test_the_readmes_table_of_rst_causes_is_what_the_captures_give() -> None:
    readme = (ROOT / "README.md").read_text()
    rows = 0
    for pcap in PCAPS:
        if pcap.stem.endswith("-ipv6"):
            assert _causes(pcap) == _causes(pcap.with_name(pcap.stem[: -len("-ipv6")] + ".pcap"))
            continue
        causes = _causes(pcap)
        for number, (sender, state, alone, refined, reason, agrees) in enumerate(causes):
            assert agrees
            label = PROGRAMS.get(pcap.stem, f"`{pcap.stem}` (both)")
            if len(causes) > 1:
                label += f" #{number}"
            row = f"| {label} | {sender} ({state}) | {alone} | {refined} | {reason} | yes |"
            assert row in readme, row
            rows += 2 if pcap.stem in SCENARIOS else 1
    assert f"{rows} RSTs, {rows} agree" in readme


def test_the_text_report_says_it_in_a_few_lines() -> None:
    pcap = DATA / "data-after-close.pcap"
    analysis = analyze_file(str(pcap), sidecar=load_sidecar(sidecar_path_for(pcap)))
    [result] = analysis.connections
    lines = [
        line for line in connection_text(result, analysis.stats.origin or Clock(0.0)) if "kernel  " in line
    ]
    assert re.fullmatch(
        r"  kernel     events: 9 of 9 state changes match its own \(within \d+ µs of their frames\); "
        r"RST frame 11 data_after_close, its reason TCP_TIMEWAIT_SOCKET",
        lines[1],
    ), lines
    assert lines[2:] == [
        "  kernel     freed undelivered, by the kernel's reason: TIME_WAIT_SOCKET (FIN_WAIT2): frame 10"
    ]
