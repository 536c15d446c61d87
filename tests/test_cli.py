"""The command line as a user meets it: exit statuses, one-line errors, never a traceback."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import CAPTURES, NO_CORPUS, ROOT, assert_one_line_error, corpus_pcaps, run
from pcap_builder import handshake_packets, tcp_packet, write_capture

from analyzer import native
from analyzer.cli import main
from analyzer.scenarios import SCENARIOS
from analyzer.timefmt import Clock


def test_missing_file(tmp_path) -> None:
    path = tmp_path / "absent.pcap"
    assert_one_line_error(run("analyze", str(path)), str(path), "no such file")


def test_not_a_pcap(tmp_path) -> None:
    path = tmp_path / "report.pdf"
    path.write_bytes(b"%PDF-1.7\n" + bytes(range(256)))
    assert_one_line_error(run("analyze", str(path)), str(path), "not a pcap or pcapng file")


def test_empty_file(tmp_path) -> None:
    path = tmp_path / "empty.pcap"
    path.write_bytes(b"")
    assert_one_line_error(run("analyze", str(path)), str(path), "not a capture file")


def test_truncated_pcap_gives_its_packets_and_a_warning(tmp_path) -> None:
    path = write_capture(tmp_path / "cut.pcap", handshake_packets())
    path.write_bytes(path.read_bytes()[:-20])
    result = run("analyze", "--json", str(path))
    assert result.returncode == 0
    document = json.loads(result.stdout)
    assert document["packets"] == 9
    assert document["connections"][0]["handshake"]["status"] == "complete"
    assert "cut off" in result.stderr and "Traceback" not in result.stderr


def test_bad_file_among_good_ones_keeps_the_good_results(tmp_path) -> None:
    good = write_capture(tmp_path / "good.pcap", handshake_packets())
    bad = tmp_path / "bad.pcap"
    bad.write_text("nope")
    result = run("analyze", "--json", str(good), str(bad))
    assert result.returncode == 2
    assert [d["file"] for d in json.loads(result.stdout)["files"]] == [str(good)]
    assert str(bad) in result.stderr


def test_text_output_names_the_findings() -> None:
    result = run("analyze", str(CAPTURES / "refused.pcap"))
    assert result.returncode == 0
    assert "refused: RST/ACK from the server" in result.stdout
    assert "refused: nothing listens on port 5001" in result.stdout


def test_json_contract_fields() -> None:
    result = run("analyze", "--json", str(CAPTURES / "handshake.pcap"))
    document = json.loads(result.stdout)
    assert set(document) >= {"file", "packets", "connections"}
    [c] = document["connections"]
    assert set(c) >= {
        "id",
        "family",
        "client",
        "server",
        "first_time",
        "last_time",
        "handshake",
        "backoff",
        "close",
        "resets",
        "states",
    }
    assert set(c["handshake"]) >= {"status", "syn_times", "synack_times", "client_isn", "server_isn", "rtt"}
    assert set(c["backoff"]) >= {"intervals", "pattern", "initial_rto"}
    assert set(c["close"]) >= {"first_fin", "shape", "time_wait"}
    assert all(isinstance(t, float) and isinstance(s, str) for t, s in c["states"]["client"])


def test_scenarios_lists_the_catalogue() -> None:
    result = run("scenarios")
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    names = [line.split()[0] for line in lines]
    assert names == list(SCENARIOS)
    assert {"handshake", "refused", "syn-timeout", "syn-timeout-linear-off", "simultaneous-close"} <= set(
        names
    )
    assert all(len(line.split(maxsplit=1)[1]) > 20 for line in lines)  # each with its one-line summary


def test_unknown_scenario_lists_the_known_ones() -> None:
    assert_one_line_error(run("capture", "nonsense"), "unknown scenario 'nonsense'", "refused")


def test_capture_without_root_says_how(tmp_path) -> None:
    setpriv = shutil.which("setpriv")
    if os.geteuid() == 0 and setpriv is None:
        pytest.skip("needs setpriv (util-linux) to drop root for this test")
    # As root, the user nobody; it may still read and search any folder (CAP_DAC_READ_SEARCH,
    # nothing capture needs), as a user may their own clone: root's clone, virtual environment
    # and interpreter can lie under folders only root may enter (/root, a mktemp -d).
    prefix = [
        setpriv, "--reuid=65534", "--regid=65534", "--clear-groups",
        "--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search",
    ] if os.geteuid() == 0 else []  # fmt: skip
    result = subprocess.run(
        [*prefix, sys.executable, "-m", "analyzer", "capture", "refused", "--runs-dir", str(tmp_path)],
        capture_output=True, text=True, cwd=ROOT, timeout=60, env={**os.environ, "HOME": str(tmp_path)},
    )  # fmt: skip
    needs = "capturing needs root (or CAP_SYS_ADMIN, CAP_NET_ADMIN, CAP_NET_RAW)"
    assert_one_line_error(result, needs, "sudo make capture SCENARIO=refused")


def test_diagram_svg_keeps_text_as_text(tmp_path) -> None:
    out = tmp_path / "refused.svg"
    result = run("diagram", str(CAPTURES / "refused.pcap"), "-o", str(out))
    assert result.returncode == 0, result.stderr
    svg = out.read_text()
    for label in ("SYN seq=0", "RST/ACK seq=1 ack=1", "ECONNREFUSED", "connect(127.0.0.1:5001)", "SYN_SENT"):
        assert label in svg


def test_diagram_png(tmp_path) -> None:
    out = tmp_path / "handshake.png"
    assert run("diagram", str(CAPTURES / "handshake.pcap"), "-o", str(out)).returncode == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_diagram_of_a_missing_connection(tmp_path) -> None:
    result = run(
        "diagram", str(CAPTURES / "refused.pcap"), "-o", str(tmp_path / "x.svg"), "--connection", "7"
    )
    assert_one_line_error(result, "no connection 7")


def test_a_diagram_holds_only_the_connections_it_may_draw(monkeypatch, tmp_path) -> None:
    """helper-141: drawing one connection of a 194,000-packet SYN flood held every
    connection's analysis (1.16 GB). Each other one is let go as it is made: the one asked
    for; else the first interesting one, the first with a diagnosis and the first."""
    import argparse

    from analyzer import cli

    packets = [
        tcp_packet(4, "192.0.2.1", 40000, "192.0.2.2", 80, "S", 100),
        tcp_packet(4, "192.0.2.2", 80, "192.0.2.1", 40000, "SA", 500, 101),
        tcp_packet(4, "192.0.2.1", 40000, "192.0.2.2", 80, "A", 101, 501),
    ]
    for port in range(40001, 40006):  # refused: interesting
        packets += [
            tcp_packet(4, "192.0.2.1", port, "192.0.2.2", 81, "S", 100),
            tcp_packet(4, "192.0.2.2", 81, "192.0.2.1", port, "RA", 0, 101),
        ]
    pcap = str(write_capture(tmp_path / "six.pcap", packets))
    args = argparse.Namespace(
        file=pcap, decoder="fast", connection=None, frames=None, time=None, idle_timeout=None,
        attempt_timeout=None, partial_timeout=None,
    )  # fmt: skip
    monkeypatch.setattr(cli, "_timeouts", lambda _args: None)
    analysis, count, holders = cli._drawable(args, None, None)
    from analyzer.analysis import analyze_file

    whole = analyze_file(pcap).connections
    assert count == len(whole) > 3 and holders == []
    first_interesting = next(r for r in whole if r.interesting).connection.id
    kept = [r.connection.id for r in analysis.connections]
    assert len(kept) <= 3 and kept[0] == whole[0].connection.id and first_interesting in kept
    args.connection = whole[-1].connection.id
    analysis, _count, _holders = cli._drawable(args, None, None)
    assert [r.connection.id for r in analysis.connections] == [whole[-1].connection.id]


CORPUS = corpus_pcaps()


@pytest.mark.skipif(not CORPUS, reason=NO_CORPUS)
def test_every_corpus_file_analyzes_without_a_traceback(capsys) -> None:
    """In-process (one interpreter for 59 files): exit 0 with valid JSON, or 2 with one line."""
    for path in CORPUS:
        status = main(["analyze", "--json", str(path)])
        out, err = capsys.readouterr()
        assert status in (0, 2), path
        if status == 0:
            assert json.loads(out)["file"] == str(path)
        else:
            assert len(err.strip().splitlines()) == 1 and str(path) in err


def test_module_and_console_script_agree() -> None:
    script = Path(sys.executable).with_name("handshake")
    if not script.exists():
        pytest.skip("console script not installed (run make setup)")
    a = subprocess.run(
        [str(script), "analyze", "--json", str(CAPTURES / "refused.pcap")], capture_output=True, text=True
    )
    b = run("analyze", "--json", str(CAPTURES / "refused.pcap"))
    assert a.returncode == b.returncode == 0 and a.stdout == b.stdout


def test_version_says_whether_the_per_packet_path_runs_compiled(monkeypatch) -> None:
    environment = {k: v for k, v in os.environ.items() if k != native.PURE_VARIABLE}
    result = subprocess.run([sys.executable, "-m", "analyzer", "--version"], capture_output=True, text=True,
                            cwd=ROOT, env={**environment, native.PURE_VARIABLE: "1", "COLUMNS": "40"})  # fmt: skip
    # One line, not wrapped to the terminal's width.
    assert (
        result.stdout
        == "handshake-analyzer 0.1.0 (per-packet path: plain Python, disabled by HANDSHAKE_PURE=1)\n"
    )
    result = subprocess.run([sys.executable, "-m", "analyzer", "--version"], capture_output=True, text=True,
                            cwd=ROOT, env=environment)  # fmt: skip
    assert result.returncode == 0
    # What the build says without the variable (a suite run under HANDSHAKE_PURE=1 has it).
    monkeypatch.delenv(native.PURE_VARIABLE, raising=False)
    assert (
        result.stdout
        == f"handshake-analyzer 0.1.0 (per-packet path: {native.describe(native.build_state())})\n"
    )


def test_mermaid_sequence_diagram() -> None:
    result = run("diagram", str(CAPTURES / "refused.pcap"), "--format", "mermaid")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "sequenceDiagram"
    arrows = [line.strip() for line in lines if "->>" in line]
    assert arrows[0].startswith("C->>S: SYN seq=0") and arrows[1].startswith("S->>C: RST/ACK seq=1 ack=1")
    assert "RST: refused" in arrows[1]
    # Calls and states in time order: the connect() before the SYN, ECONNREFUSED after the RST.
    text = "\n".join(lines)
    assert text.index("connect(127.0.0.1:5001)") < text.index("C->>S: SYN") < text.index("-> ECONNREFUSED")
    assert text.index("Note over S: CLOSED") < text.index("S->>C: RST/ACK")


def test_mermaid_marks_lost_and_resent_packets() -> None:
    text = run("diagram", str(CAPTURES / "simultaneous-close.pcap"), "--format", "mermaid").stdout
    assert (
        "--x" in text
        and "(retransmission 1, " in text
        and "after the first)" in text
        and "Note over S: CLOSING" in text
    )


def test_backoff_chart_shows_measured_intervals_and_schedules(tmp_path) -> None:
    pcap = CAPTURES / "syn-timeout-linear-off.pcap"
    out = tmp_path / "backoff.svg"
    result = run("backoff", str(pcap), "-o", str(out))
    assert result.returncode == 0, result.stderr
    svg = out.read_text()
    intervals = json.loads(run("analyze", "--json", str(pcap)).stdout)["connections"][0]["backoff"][
        "intervals"
    ]
    # The last point says its height (since the original).
    assert f"{sum(intervals):.3f} s" in svg
    # Under each transmission its frame, as Wireshark numbers it, and the wait since the one before.
    from analyzer.analysis import analyze_file
    from analyzer.output.backoff_chart import backoff_figure

    [result] = analyze_file(str(pcap)).connections
    figure = backoff_figure(result)
    ticks = [t.get_text() for t in figure.axes[0].get_xticklabels()]
    waits = ["", *(f"\nΔ{interval:.3f} s" for interval in intervals)]
    assert ticks == [f"{n}\n{s.frame}{waits[n]}" for n, s in enumerate(result.handshake.syns)]
    assert len(ticks) == len(intervals) + 1
    # The original's place on frame 1's clock, where it is not frame 1's instant.
    syn = result.handshake.syns[0]
    assert figure.axes[0].get_ylabel() == "seconds since the original (frame 1)"
    later = backoff_figure(result, origin=Clock(syn.time - 1.5, syn.stamp - 1_500_000_000))
    assert later.axes[0].get_ylabel() == "seconds since the original (frame 1, +1.500000 s since frame 1)"
    for schedule in (
        "the recorded kernel settings",
        "classic Linux / Windows 8+ (1 s, doubling)",
        "Windows 7 and older (3 s, doubling)",
    ):
        assert schedule in svg


def test_backoff_chart_without_retransmissions_says_so(tmp_path) -> None:
    result = run("backoff", str(CAPTURES / "refused.pcap"), "-o", str(tmp_path / "x.svg"))
    assert_one_line_error(result, "no connection with SYN retransmissions to chart")


def test_state_timeline_names_the_states_and_the_kernel_checks(tmp_path) -> None:
    out = tmp_path / "states.svg"
    result = run("timeline", str(CAPTURES / "simultaneous-close.pcap"), "-o", str(out))
    assert result.returncode == 0, result.stderr
    svg = out.read_text()
    for state in ("ESTABLISHED", "FIN_WAIT_1", "CLOSING", "TIME_WAIT"):
        assert state in svg
    assert "the kernel reported the same state" in svg


def test_state_timeline_of_udp_says_there_are_no_states(tmp_path) -> None:
    assert_one_line_error(
        run("timeline", str(CAPTURES / "udp.pcap"), "-o", str(tmp_path / "x.svg")), "no TCP connection"
    )


def test_progress_line_only_for_long_analyses(monkeypatch) -> None:
    from analyzer.output import progress

    clock = iter([100.0, 100.5, 103.0])
    monkeypatch.setattr(progress.time, "monotonic", lambda: next(clock))
    out = io.StringIO()
    line = progress.ProgressLine("big.pcap", 10_000_000, out)
    line(65536, 1_000_000)  # half a second in: nothing yet
    assert out.getvalue() == ""
    line(131072, 3_000_000)  # three seconds in: 1 MB/s, 30 %, 7 s left
    assert "big.pcap: 131,072 packets, 1.0 MB/s, 30%, about 7 s left" in out.getvalue()
    line.done()
    assert out.getvalue().endswith("\r\033[K")


def test_run_without_a_command_or_with_a_bad_name() -> None:
    assert_one_line_error(run("run"), "no command given")
    assert_one_line_error(run("run", "--name", "../x", "--", "true"), "--name '../x'")


def test_collections_are_rare_during_an_analysis_and_as_before_after_it(monkeypatch) -> None:
    import gc

    from analyzer import analysis
    from analyzer.collector import OLDER_COLLECTIONS_EVERY, YOUNG_COLLECTION_EVERY
    from analyzer.errors import UserError
    from analyzer.parallel.one_file import render_file
    from analyzer.parallel.options import AnalyzeOptions

    seen = []
    real_stream_file = analysis.stream_file

    def noting(*args, **kwargs):
        seen.append(gc.get_threshold())
        return real_stream_file(*args, **kwargs)

    before = gc.get_threshold()
    monkeypatch.setattr(analysis, "stream_file", noting)
    options = AnalyzeOptions(format="json", use_sidecar=False)
    render_file(str(CAPTURES / "refused.pcap"), options, io.StringIO())
    assert seen == [(YOUNG_COLLECTION_EVERY, *OLDER_COLLECTIONS_EVERY)]
    assert gc.get_threshold() == before
    with pytest.raises(UserError):
        render_file(str(ROOT / "no-such.pcap"), options, io.StringIO())
    assert gc.get_threshold() == before


def test_the_progress_line_is_told_how_far_the_reading_is(monkeypatch) -> None:
    from analyzer.analysis import stream_file
    from analyzer.decode import reader

    monkeypatch.setattr(reader, "PROGRESS_EVERY", 4)
    told: list[tuple[int, int]] = []
    stream = stream_file(str(CAPTURES / "server-close.pcap"), progress=lambda *at: told.append(at))
    list(stream.results)
    assert [frames for frames, _ in told] == list(range(4, stream.stats.frames + 1, 4))
    assert all(0 < position <= (CAPTURES / "server-close.pcap").stat().st_size for _, position in told)


@pytest.mark.parametrize("value", ["0", "-1", "soon", "nan"])
def test_a_timeout_that_is_no_positive_number_is_refused(value: str) -> None:
    result = run("analyze", "--attempt-timeout", value, str(CAPTURES / "refused.pcap"))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "--attempt-timeout" in result.stderr and "seconds" in result.stderr


def test_the_timeouts_decide_where_a_late_resend_belongs(tmp_path) -> None:
    """A SYN resent 6 s after the first: two connections by default (the first given up as
    an attempt), one with a longer attempt timer; in shares as in one process."""
    syn = tcp_packet(4, "10.0.0.1", 40000, "10.0.0.2", 80, "S", 100)
    path = write_capture(tmp_path / "late.pcap", [syn, syn], step=6.0)
    default = json.loads(run("analyze", "--json", "--jobs", "1", str(path)).stdout)
    assert [c["expired"] for c in default["connections"]] == ["attempt", None]
    patient = json.loads(run("analyze", "--json", "--attempt-timeout", "10", str(path)).stdout)
    assert [(c["expired"], c["packets"]) for c in patient["connections"]] == [(None, 2)]
    text = run("analyze", str(path)).stdout
    assert text.count("expired    given up as an attempt") == 1


def test_the_pictures_number_connections_with_the_same_timers(tmp_path) -> None:
    """A SYN resent 6 s later: connection 0 of the diagram is the first SYN alone by
    default, both SYNs with --attempt-timeout 10, as in `analyze`."""
    syn = tcp_packet(4, "10.0.0.1", 40000, "10.0.0.2", 80, "S", 100)
    path = write_capture(tmp_path / "late.pcap", [syn, syn], step=6.0)
    default = run("diagram", str(path), "--connection", "0", "--format", "mermaid")
    patient = run("diagram", str(path), "--connection", "0", "--format", "mermaid", "--attempt-timeout", "10")
    assert default.returncode == patient.returncode == 0, (default.stderr, patient.stderr)
    assert default.stdout.count("SYN") < patient.stdout.count("SYN")
