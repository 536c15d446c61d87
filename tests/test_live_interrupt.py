"""Live: a capture interrupted at any moment, and two captures at once.

Ctrl-C (SIGINT to the whole process group, as a terminal sends it) or SIGTERM (to the
command alone, as `kill` does) at several moments of `handshake capture`: before the
sandbox is up, while tcpdump starts, during the scenario, while the run is analyzed.
Each time: no traceback, one clear word of what happened, a pcap that reads (or none,
said so), and the host as it was: no capture process, no namespace, no nftables rule,
no sysctl changed, no partial file in captures/.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import CAPTURES, ROOT, capture_skip_reason, like_a_terminal
from scenario_facts import check_scenario_facts
from test_interrupts import loaded_unheld
from test_live_capture import host_state, still_running

from analyzer.analysis import analyze_file

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(capture_skip_reason() is not None, reason=str(capture_skip_reason())),
]

# syn-timeout takes about 8 s: every phase of a capture comes within these moments
# (the sandbox starting, tcpdump starting, the scenario, the analysis and drawing).
MOMENTS = [0.4, 1.2, 3.0, 8.6]


@pytest.mark.parametrize("moment", MOMENTS)
@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_interrupted_capture_leaves_the_host_as_it_was(how: str, moment: float, tmp_path: Path) -> None:
    before = host_state()
    stored_before = sorted(p.name for p in CAPTURES.iterdir())
    process = subprocess.Popen(
        [sys.executable, "-m", "analyzer", "capture", "syn-timeout", "--runs-dir", str(tmp_path)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        preexec_fn=like_a_terminal,
    )  # fmt: skip
    time.sleep(moment)
    if how == "ctrl-c":
        os.killpg(process.pid, signal.SIGINT)
    else:
        process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=60)
    assert "Traceback" not in stderr, stderr
    assert host_state() == before
    assert still_running(tmp_path) == []
    assert sorted(p.name for p in CAPTURES.iterdir()) == stored_before
    pcaps = list(tmp_path.glob("*/*.pcap"))
    if "pcap:" in stdout:
        # The signal came after the run had reported everything (perhaps as the process
        # was exiting, when a SIGTERM simply ends it): a complete run, nothing lost.
        assert process.returncode in (0, 130, -signal.SIGTERM, -signal.SIGINT) and pcaps
    else:
        assert process.returncode == 130, (process.returncode, stderr)
        assert "interrupted" in stderr
        said_where = [p for p in pcaps if str(p) in stderr]
        if not said_where:
            assert "before any packet was recorded" in stderr or not pcaps, stderr
    for pcap in pcaps:
        if pcap.stat().st_size:
            analysis = analyze_file(str(pcap))  # reads, perhaps with a cut-off warning
            assert analysis.stats.frames == sum(len(c.connection.segments) for c in analysis.connections)


def test_two_captures_at_once_keep_to_themselves(tmp_path: Path) -> None:
    """Same scenario, same runs folder, started together: each namespace sees only its own
    packets (the same server port is used in both), each run writes its own folder."""
    before = host_state()
    command = [sys.executable, "-m", "analyzer", "capture", "handshake", "--runs-dir", str(tmp_path)]
    runs = [subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)]  # fmt: skip
    outputs = [run.communicate(timeout=120) for run in runs]
    for run, (_stdout, stderr) in zip(runs, outputs, strict=True):
        assert run.returncode == 0, stderr
    assert still_running(tmp_path) == []
    folders = sorted(tmp_path.iterdir())
    assert len(folders) == 2
    for folder in folders:
        [analysis_path] = folder.glob("*.analysis.json")
        [sidecar_path] = folder.glob("*.sidecar.json")
        analysis, sidecar = json.loads(analysis_path.read_text()), json.loads(sidecar_path.read_text())
        assert sidecar["recorder"]["captured"] == analysis["packets"]
        check_scenario_facts(analysis, sidecar)  # one connection, its own: nothing of the other
    assert host_state() == before


def test_ctrl_c_stops_a_program_that_ignores_it_and_the_run_is_analyzed(tmp_path: Path) -> None:
    """A server a shell put in the background ignores SIGINT (POSIX): Ctrl-C cannot stop
    it, so after a grace the sandbox ends it; the run is still analyzed, and nothing it
    started is left running."""
    before = host_state()
    asked = tmp_path / "asked"  # the request made: Ctrl-C then, however long the start took
    script = (
        f"{sys.executable} -m http.server 8000 --bind 127.0.0.1 & sleep 0.5; "
        f"curl -s -o /dev/null http://127.0.0.1:8000/; touch {asked}; wait"
    )
    runs = tmp_path / "runs"
    process = subprocess.Popen(
        [sys.executable, "-m", "analyzer", "run", "--runs-dir", str(runs), "--", "sh", "-c", script],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        preexec_fn=like_a_terminal,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while not asked.exists() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    assert asked.exists(), "the request was never made"
    time.sleep(0.3)
    os.killpg(process.pid, signal.SIGINT)
    _stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr
    [sidecar_path] = runs.glob("*/*.sidecar.json")
    sidecar = json.loads(sidecar_path.read_text())
    assert any("http.server" in command for command in sidecar["processes_ended"])
    [run] = [call for call in sidecar["calls"] if call["side"] == "program"]
    assert run["result"].startswith("stopped")
    analysis = json.loads(next(runs.glob("*/*.analysis.json")).read_text())
    assert any(c["handshake"]["status"] == "complete" for c in analysis["connections"])
    assert still_running(runs) == [] and host_state() == before
    assert subprocess.run(["pgrep", "-f", "http.server 8000"], capture_output=True).returncode == 1


def test_a_capture_loads_every_module_with_the_stop_signals_held(tmp_path: Path) -> None:
    """Before the privileges are known or after: a Ctrl-C or SIGTERM is never lost in an import."""
    assert loaded_unheld("capture", "refused", "--runs-dir", str(tmp_path)) == []
