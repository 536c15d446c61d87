"""Analyzing with more than one process (analyzer.parallel): several files at once, one
big file in shares, and what they leave behind when stopped. Every way gives the bytes one
process gives."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from dataclasses import replace
from multiprocessing.connection import Connection
from pathlib import Path

import pytest
from conftest import CAPTURES, ROOT, assert_one_line_error, like_a_terminal, run

from analyzer.benchmark.synthetic import write_capture
from analyzer.connections import group_connections
from analyzer.decode import DecodeStats, Segment, read_packets
from analyzer.errors import UserError
from analyzer.parallel import in_shares, one_file, options, reports
from analyzer.parallel.options import AnalyzeOptions
from analyzer.parallel.partition import Share
from analyzer.timefmt import Clock

# Its module fixture is costly: one worker runs all of it (make test: --dist loadgroup).
pytestmark = pytest.mark.xdist_group("parallel")

JSON = AnalyzeOptions(format="json", use_sidecar=False)


def test_jobs_give_the_same_output_as_one_process() -> None:
    files = [str(CAPTURES / f"{name}.pcap") for name in ("refused", "handshake", "udp", "backlog")]
    sequential = run("analyze", "--json", "--jobs", "1", *files)
    parallel = run("analyze", "--json", "--jobs", "3", *files)
    default = run("analyze", "--json", *files)  # a process for each CPU
    assert parallel.returncode == 0 and parallel.stdout == sequential.stdout == default.stdout
    assert [f["file"] for f in json.loads(parallel.stdout)["files"]] == files


def test_jobs_default_to_the_cpus_this_process_may_use(monkeypatch) -> None:
    limited = subprocess.run(
        [
            "taskset",
            "-c",
            "0",
            sys.executable,
            "-c",
            "from analyzer.parallel.options import default_jobs; print(default_jobs())",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert limited.stdout.strip() == "1"  # not the machine's count
    monkeypatch.delattr(os, "process_cpu_count", raising=False)  # Python 3.13 asks it first
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(64)))
    assert options.default_jobs() == options.DEFAULT_JOBS_LIMIT  # not 64 interpreters at once


def test_the_cpus_are_counted_where_the_affinity_cannot_be_asked(monkeypatch) -> None:
    """Python 3.13 tells the CPUs a process may use on every system; before it, Linux
    alone does (sched_getaffinity); elsewhere the machine's count is all there is."""
    monkeypatch.setattr(os, "process_cpu_count", lambda: 3, raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(5)), raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 7)
    assert options.usable_cpus() == 3
    monkeypatch.setattr(os, "process_cpu_count", lambda: None)  # undeterminable
    assert options.usable_cpus() == 1
    monkeypatch.delattr(os, "process_cpu_count")
    assert options.usable_cpus() == 5
    monkeypatch.delattr(os, "sched_getaffinity")  # macOS, Windows
    assert options.usable_cpus() == 7
    monkeypatch.setattr(os, "cpu_count", lambda: None)
    assert options.usable_cpus() == 1
    assert options.default_jobs() == 1
    with pytest.raises(ValueError, match="jobs must be at least 1"):
        options.AnalyzeOptions(jobs=0)


def test_jobs_report_a_bad_file_and_keep_the_others(tmp_path) -> None:
    bad = tmp_path / "bad.pcap"
    bad.write_bytes(b"not a capture at all")
    result = run("analyze", "--json", "--jobs", "2", str(CAPTURES / "refused.pcap"), str(bad))
    assert_one_line_error(result, str(bad), "not a pcap")
    assert [f["file"] for f in json.loads(result.stdout)["files"]] == [str(CAPTURES / "refused.pcap")]


def test_an_interrupted_analysis_leaves_no_report_file(monkeypatch, tmp_path) -> None:
    import tempfile

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(one_file, "render_file", interrupted)
    with pytest.raises(KeyboardInterrupt):
        reports.render_to_file(
            str(CAPTURES / "refused.pcap"), AnalyzeOptions(format="json", use_sidecar=False)
        )
    assert list(tmp_path.iterdir()) == []


def test_shares_split_the_connections_and_keep_their_segments(tmp_path) -> None:
    """Processes that each analyze a share see, between them, every connection exactly once,
    with the segments, roles and port reuse the whole file gives it; each counts all packets."""
    path = tmp_path / "mixed.pcap"
    write_capture(path, 40_000)  # port reuse comes 1 to 2 s after the first use
    whole_stats = DecodeStats()
    whole = group_connections(s for s in read_packets(str(path), whole_stats) if type(s) is Segment)
    by_first = {c.segments[0].frame: c for c in whole}
    assert len(whole) > 100
    assert any(c.reuses_ports_of is not None for c in whole)
    for count in (2, 3):
        found = []
        for index in range(count):
            stats = DecodeStats()
            records = read_packets(str(path), stats, None, Share(index, count))
            share = group_connections(s for s in records if type(s) is Segment)
            assert share, "every share has some connections"
            assert stats == whole_stats
            for connection in share:
                same = by_first[connection.segments[0].frame]
                assert connection.segments == same.segments
                assert (connection.client, connection.server) == (same.client, same.server)
                reused = connection.reuses_ports_of
                assert (share[reused].segments[0].frame if reused is not None else None) == (
                    whole[same.reuses_ports_of].segments[0].frame
                    if same.reuses_ports_of is not None
                    else None
                )
            found.extend(connection.segments[0].frame for connection in share)
        assert sorted(found) == sorted(by_first)


def test_a_scan_from_one_source_port_is_split_between_the_shares(tmp_path) -> None:
    """A scanner keeps one source port and probes one port of many hosts (and a few ports
    of each): the shares split its probes by the hosts' addresses too, not by the ports
    alone, which would give all of them to one share."""
    from pcap_builder import tcp_packet
    from pcap_builder import write_capture as write_packets

    packets = []
    for host in range(300):
        for port in (80, 8080):
            packets.append(
                tcp_packet(
                    4, "198.51.100.7", 40000, f"172.16.{host // 250}.{host % 250 + 1}", port, "S", host
                )
            )
            packets.append(
                tcp_packet(6, "2001:db8::7", 40000, f"2001:db8:5ca::{host + 1:x}", port, "S", host)
            )
    path = tmp_path / "scan.pcap"
    write_packets(path, packets)
    kept = []
    for index in range(2):
        records = read_packets(str(path), DecodeStats(), None, Share(index, 2))
        kept.append(sum(1 for record in records if type(record) is Segment))
    assert sum(kept) == len(packets)
    assert min(kept) > 0.4 * len(packets)


def test_one_linux_client_s_connections_to_one_server_are_split_between_the_shares(tmp_path) -> None:
    """Linux connects from even ports (bind() takes the odd ones): with one client and one
    server, the sums of ports and addresses all had one parity, and two shares got all the
    connections in one (helper-108: the other idle, no faster than one process)."""
    from pcap_builder import tcp_packet
    from pcap_builder import write_capture as write_packets

    packets = [
        tcp_packet(4, "10.0.0.1", port, "10.0.0.2", 80, "S", port) for port in range(32768, 32768 + 2000, 2)
    ]
    path = tmp_path / "even.pcap"
    write_packets(path, packets)
    for count in (2, 3):
        kept = []
        for index in range(count):
            records = read_packets(str(path), DecodeStats(), None, Share(index, count))
            kept.append(sum(1 for record in records if type(record) is Segment))
        assert sum(kept) == len(packets)
        assert min(kept) > 0.8 * len(packets) / count


def _stamped_ahead(path: Path, frames: range, seconds: int) -> None:
    """A little-endian microsecond pcap's `frames` (1-based) stamped `seconds` later."""
    data = bytearray(path.read_bytes())
    at, number = 24, 1
    while at + 16 <= len(data):
        if number in frames:
            data[at : at + 4] = (int.from_bytes(data[at : at + 4], "little") + seconds).to_bytes(4, "little")
        at += 16 + int.from_bytes(data[at + 8 : at + 12], "little")
        number += 1
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    "stamped", [range(5000, 5001), range(4090, 4101)], ids=["one frame", "eleven frames"]
)
def test_frames_stamped_an_hour_ahead_give_the_same_report_in_shares(monkeypatch, tmp_path, stamped) -> None:
    """The timers' clock never goes back (CLOCK_LEAP): a connection given up or not does not
    depend on when a process last swept, which shares do at other segments than one process."""
    path = tmp_path / "ahead.pcap"
    write_capture(path, 12_000, "pcap")
    _stamped_ahead(path, stamped, 3600)
    alone = io.StringIO()
    one_file.render_file(str(path), JSON, alone)
    monkeypatch.setattr(one_file, "SHARE_ABOVE_BYTES", 0)
    shared = io.StringIO()
    one_file.render_file(str(path), replace(JSON, jobs=2), shared)
    assert shared.getvalue() == alone.getvalue()
    given_up = [c for c in json.loads(alone.getvalue())["connections"] if c["expired"]]
    assert bool(given_up) == (len(stamped) > 1)  # the clock follows a leap the next frame agrees with


@pytest.mark.slow
def test_a_big_file_in_shares_gives_the_same_report_and_leaves_nothing(monkeypatch, tmp_path) -> None:
    import tempfile

    big = tmp_path / "big.pcapng"
    write_capture(big, 40_000, "pcapng")  # with port reuse (1 to 2 s after the first use)
    # udp.pcap: its flows come from a share to the parent as objects (a compiled class among them).
    files = [big, CAPTURES / "refused.pcap", CAPTURES / "simultaneous-close-ipv6.pcap", CAPTURES / "udp.pcap"]
    alone = [io.StringIO() for _ in files]
    for path, out in zip(files, alone, strict=True):
        one_file.render_file(str(path), JSON, out)
    # Shares number their connections among themselves: the merge must number them again.
    assert any(c["reuses_ports_of"] is not None for c in json.loads(alone[0].getvalue())["connections"])
    spare = tmp_path / "temporary"
    spare.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spare))
    monkeypatch.setattr(one_file, "SHARE_ABOVE_BYTES", 0)
    for processes in (2, 3):
        for path, expected in zip(files, alone, strict=True):
            out = io.StringIO()  # not a file: the lines come through the parent
            one_file.render_file(str(path), replace(JSON, jobs=processes), out)
            assert out.getvalue() == expected.getvalue(), (path.name, processes)
    # Into a file the shares write their lines themselves, at their places after what is there.
    placeable = in_shares._placeable
    placed: list[int | None] = []
    monkeypatch.setattr(in_shares, "_placeable", lambda out: placed.append(placeable(out)) or placed[-1])
    report = tmp_path / "report.json"
    for mode in ("w", "a"):  # appended to, a file takes the lines through the parent
        report.write_text("before\n")
        with open(report, mode if mode == "a" else "r+") as out:
            out.seek(0, os.SEEK_END)
            one_file.render_file(str(big), replace(JSON, jobs=2), out)
            out.write("\nafter")
        assert report.read_text() == "before\n" + alone[0].getvalue() + "\nafter", mode
    assert [isinstance(descriptor, int) for descriptor in placed] == [True, False]
    assert list(spare.iterdir()) == []
    cut = tmp_path / "cut.pcapng"
    cut.write_bytes(big.read_bytes()[:-30])
    warnings = one_file.render_file(str(cut), replace(JSON, jobs=2), io.StringIO()).warnings
    assert any("cut off" in warning for warning in warnings)
    with pytest.raises(UserError, match=r"missing\.pcap: no such file"):
        one_file.render_file(str(tmp_path / "missing.pcap"), replace(JSON, jobs=2), io.StringIO())
    assert list(spare.iterdir()) == []


@pytest.mark.slow
def test_the_text_report_in_shares_gives_one_process_bytes(monkeypatch, tmp_path) -> None:
    """The default report of a big file: blocks renumbered, the overview's counts, scans,
    interesting lines and folded counts added up from the shares, through the parent and
    into a file; with --all, the scans' probes told too."""
    from analyzer.benchmark import port_scan, syn_flood

    mix, scan, flood = tmp_path / "mix.pcapng", tmp_path / "scan.pcap", tmp_path / "flood.pcap"
    write_capture(mix, 40_000, "pcapng")
    port_scan.write_capture(scan, 12_000)
    syn_flood.write_capture(flood, 12_000)
    files = [
        mix,
        scan,
        flood,
        CAPTURES / "refused.pcap",
        CAPTURES / "simultaneous-close-ipv6.pcap",
        CAPTURES / "udp.pcap",
    ]
    monkeypatch.setattr(one_file, "SHARE_ABOVE_BYTES", 0)
    text = AnalyzeOptions(use_sidecar=False)
    for show_all in (False, True):
        made = replace(text, show_all=show_all)
        for path in files:
            alone = io.StringIO()
            one_file.render_file(str(path), made, alone)
            expected = alone.getvalue()
            if path == mix:
                assert "and " in expected and "more (below, in id order)" in expected
                assert expected.count("\n\n#") > 1_000
            if path in (scan, flood) and not show_all:
                assert "folded into [1]" in expected, path.name
            for processes in (2, 3):
                out = io.StringIO()  # not a file: the blocks come through the parent
                one_file.render_file(str(path), replace(made, jobs=processes), out)
                assert out.getvalue() == expected, (path.name, show_all, processes)
            report = tmp_path / "report.txt"
            with open(report, "w") as out:  # the shares write their blocks themselves
                one_file.render_file(str(path), replace(made, jobs=2), out)
            assert report.read_text() == expected, (path.name, show_all)


def test_the_text_report_in_shares_counts_from_frame_1_and_writes_through_the_output_s_encoding(
    monkeypatch, tmp_path
) -> None:
    """A scan whose every port sum is odd lies wholly in share 1 of 2: share 0, which tells
    the head, has no connection, and its scan times still count from frame 1. A file of
    another encoding than UTF-8 gets what one process writes into it (the shares write
    UTF-8 bytes: the parent takes their blocks and writes them through its encoder)."""
    from pcap_builder import tcp_packet
    from pcap_builder import write_capture as write_packets

    packets = []
    for port in range(2, 62, 2):  # 30 ports, from source port 50001: odd sums
        packets.append(tcp_packet(4, "10.0.0.66", 50001, "10.0.0.10", port, "S", 1000))
        packets.append(tcp_packet(4, "10.0.0.10", port, "10.0.0.66", 50001, "RA", 0, 1001))
    scan = write_packets(tmp_path / "odd.pcap", packets, step=0.001)
    monkeypatch.setattr(one_file, "SHARE_ABOVE_BYTES", 0)
    text = AnalyzeOptions(use_sidecar=False)
    alone = io.StringIO()
    one_file.render_file(str(scan), text, alone)
    assert "30 attempts in 58.000 ms (517 a second) from +0.000 s" in alone.getvalue()
    shared = io.StringIO()
    one_file.render_file(str(scan), replace(text, jobs=2), shared)
    assert shared.getvalue() == alone.getvalue()
    big = tmp_path / "mix.pcap"
    write_capture(big, 20_000)
    written = []
    for jobs in (1, 2):
        report = tmp_path / f"report.{jobs}"
        with open(report, "w", encoding="ascii", errors="replace") as out:
            one_file.render_file(str(big), replace(text, jobs=jobs), out)
        written.append(report.read_bytes())
    assert written[0].count(b" ? ") > 1_000 and b"\xe2\x86\x92" not in written[0]  # each arrow a "?"
    assert written[1] == written[0]


def test_what_the_system_refuses_a_share_while_it_tallies_is_raised(monkeypatch, tmp_path) -> None:
    from analyzer.parallel import share_process

    def refused(_text: object, _firsts: object, parent: Connection) -> None:
        parent.recv()  # the scans, then its spool cannot be read back
        raise OSError(28, "No space left on device")

    big = tmp_path / "mix.pcap"
    write_capture(big, 5_000)
    monkeypatch.setattr(one_file, "SHARE_ABOVE_BYTES", 0)
    monkeypatch.setattr(share_process, "_tallied", refused)  # in the shares, forked from here
    with pytest.raises(OSError, match="No space left on device"):
        one_file.render_file(str(big), AnalyzeOptions(use_sidecar=False, jobs=2), io.StringIO())


def test_the_encoder_says_where_the_ids_lie_in_whatever_order_the_keys_come() -> None:
    """A share's lines get the file's ids where the encoder counted them to be, not where
    a search through the text finds them: any order of the report's keys will do."""
    from analyzer.analysis import analyze_file
    from analyzer.output.json_report import _ENCODER, connection_to_dict, encoded_marking
    from analyzer.parallel.placement import RENUMBERED

    analysis = analyze_file(str(CAPTURES / "backlog.pcap"))
    assert len(analysis.connections) >= 2
    for result in analysis.connections:
        value = connection_to_dict(result, Clock(0.0))
        keys = list(value)
        orders = [
            keys,
            keys[::-1],
            ["reuses_ports_of", *(k for k in keys if k not in RENUMBERED), "id"],
            [k for k in keys if k != "reuses_ports_of"],  # a field the object does not have
        ]
        for order in orders:
            reordered = {key: value[key] for key in order}
            line, spans = encoded_marking(reordered, RENUMBERED)
            assert line == _ENCODER.encode(reordered)
            for number, key in enumerate(RENUMBERED):
                start, end = spans[2 * number], spans[2 * number + 1]
                if key not in reordered:
                    assert (start, end) == (-1, -1)
                    continue
                assert json.loads(line[start:end]) == reordered[key], (key, order[:3])
                assert line[:start].endswith(_ENCODER.encode(key) + b":")


_REORDERED_REPORT = """
import io, sys
from analyzer.output import json_report
from analyzer.parallel import one_file
from analyzer.parallel.options import AnalyzeOptions

made = json_report.connection_to_dict

def reordered(result, origin, file=""):
    value = made(result, origin, file)
    rest = [key for key in reversed(value) if key not in ("id", "reuses_ports_of")]
    return {"reuses_ports_of": value["reuses_ports_of"], **{key: value[key] for key in rest}, "id": value["id"]}

json_report.connection_to_dict = reordered
one_file.SHARE_ABOVE_BYTES = 0
for jobs in (1, 2, 3):
    with open(f"{sys.argv[2]}.{jobs}", "w") as out:
        one_file.render_file(sys.argv[1], AnalyzeOptions(format="json", use_sidecar=False, jobs=jobs), out)
"""


@pytest.mark.slow
def test_shares_give_one_process_bytes_whatever_the_order_of_the_report_s_keys(tmp_path) -> None:
    """The report's connections with their ids last and the id of the connection whose
    ports they reuse first: 2 and 3 shares still renumber them to one process's bytes.
    On the sources (HANDSHAKE_PURE=1), where the encoder can be given another order."""
    from analyzer import native

    path = tmp_path / "reuse.pcap"
    write_capture(path, 40_000)  # with port reuse (1 to 2 s after the first use)
    done = subprocess.run(
        [sys.executable, "-c", _REORDERED_REPORT, str(path), str(tmp_path / "report")],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
        env={**os.environ, native.PURE_VARIABLE: "1"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    alone, *shared = ((tmp_path / f"report.{jobs}").read_text() for jobs in (1, 2, 3))
    connections = json.loads(alone)["connections"]
    keys = list(connections[0])
    assert (keys[0], keys[-1]) == ("reuses_ports_of", "id")
    assert any(c["reuses_ports_of"] is not None for c in connections)
    assert [c["id"] for c in connections] == list(range(len(connections)))
    assert shared == [alone, alone]


@pytest.fixture(scope="module")
def big_capture(tmp_path_factory) -> Path:
    big = tmp_path_factory.mktemp("big") / "big.pcap"
    write_capture(big, 800_000)  # about 6 s of analysis in two shares
    return big


@pytest.mark.slow
@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
@pytest.mark.parametrize("form", ["--json", "--all"])  # the JSON document, the text report
def test_an_analysis_in_shares_interrupted_leaves_no_process_and_no_file(
    tmp_path, how, form, big_capture
) -> None:
    import signal
    import time

    big = big_capture
    assert big.stat().st_size >= one_file.SHARE_ABOVE_BYTES
    spare = tmp_path / "temporary"
    spare.mkdir()
    process = subprocess.Popen(
        [sys.executable, "-m", "analyzer", "analyze", form, "--jobs", "2", str(big)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=ROOT,
        env={**os.environ, "TMPDIR": str(spare)}, start_new_session=True, preexec_fn=like_a_terminal,
    )  # fmt: skip
    deadline = time.monotonic() + 20
    while len(_session(process.pid)) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)  # until both shares are at work
    time.sleep(0.5)
    assert process.poll() is None, "the analysis ended before it could be interrupted"
    if how == "ctrl-c":
        os.killpg(process.pid, signal.SIGINT)
    else:
        process.send_signal(signal.SIGTERM)
    signalled = time.monotonic()
    _out, err = process.communicate(timeout=30)
    # The shares are stopped, not waited for: they had seconds of work left (the file takes
    # about 6 s in two shares on an idle machine, twice that under the suite's other
    # worker), and stopping takes under 0.1 s idle; 3.5 s were seen under load.
    assert time.monotonic() - signalled < 5
    assert process.returncode == 130, (err, time.monotonic() - signalled)
    assert err.strip() == "handshake: interrupted"
    assert _session(process.pid) == [], "processes of the analysis still running"
    assert list(spare.iterdir()) == []


@pytest.mark.slow
def test_a_big_file_in_shares_into_a_pipe_and_a_file_gives_one_process_bytes(tmp_path, big_capture) -> None:
    """As the command writes it: through the parent into a pipe, by the shares themselves
    into a file."""
    for form in ("--json", "--all"):  # the JSON document, the text report with every block
        command = [sys.executable, "-m", "analyzer", "analyze", form, "--quiet", str(big_capture)]
        alone = subprocess.run(
            [*command, "--jobs", "1"], capture_output=True, cwd=ROOT, timeout=300, check=True
        )
        piped = subprocess.run(
            [*command, "--jobs", "2"], capture_output=True, cwd=ROOT, timeout=300, check=True
        )
        report = tmp_path / "report"
        with open(report, "wb") as out:
            subprocess.run([*command, "--jobs", "3"], stdout=out, cwd=ROOT, timeout=300, check=True)
        assert len(alone.stdout) > 10_000_000
        assert piped.stdout == alone.stdout, form
        assert report.read_bytes() == alone.stdout, form


def _session(leader: int) -> list[str]:
    """The processes of a session, by pid."""
    return subprocess.run(["pgrep", "-s", str(leader)], capture_output=True, text=True).stdout.split()


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full to write a report into")
def test_a_report_the_system_refuses_to_take_is_one_line_and_status_1(tmp_path, big_capture) -> None:
    import resource

    with open("/dev/full", "w") as full:  # a full disk under the report
        done = subprocess.run(
            [sys.executable, "-m", "analyzer", "analyze", "--json", str(CAPTURES / "refused.pcap")],
            stdout=full, stderr=subprocess.PIPE, text=True, cwd=ROOT, timeout=60,
        )  # fmt: skip
    assert (done.returncode, done.stderr) == (1, "handshake: [Errno 28] No space left on device\n")
    # In shares, under a limit on the size of any file written: at 1 MB their spools are
    # refused; at 3/4 of the report, their own writes of their lines into it.
    report = tmp_path / "report.json"
    full_size = 0
    for limit in (None, 1 << 20, "3/4"):
        size = full_size * 3 // 4 if limit == "3/4" else limit
        with open(report, "w") as out:
            done = subprocess.run(
                [sys.executable, "-m", "analyzer", "analyze", "--json", "--jobs", "2", str(big_capture)],
                stdout=out, stderr=subprocess.PIPE, text=True, cwd=ROOT, timeout=120,
                preexec_fn=(lambda size=size: resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))) if size else None,
            )  # fmt: skip
        if limit is None:
            assert done.returncode == 0, done.stderr
            full_size = report.stat().st_size
            continue
        assert (done.returncode, done.stderr) == (1, "handshake: [Errno 27] File too large\n"), limit
        if limit == "3/4":
            assert report.stat().st_size <= size
            assert report.read_text().startswith('{"schema_version":1,')
