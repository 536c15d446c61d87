"""Files given together that are one capture written in parts (tcpdump -C or -G): told
from their times, with the command that joins them."""

from __future__ import annotations

import json
import shlex
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from analyzer.cli import main
from analyzer.parallel.file_spans import JOINED_WITHIN, FileSpan, cut_captures

ROOT = Path(__file__).resolve().parent.parent


def _span(start: float, end: float, snaplen: int = 262144, format: str = "pcap") -> FileSpan:
    return FileSpan(start, end, format, snaplen)


def test_parts_that_follow_one_another_are_one_warning_in_the_order_of_time() -> None:
    spans = [_span(200.5, 300.0), _span(100.0, 200.0), None, _span(300.2, 350.0), _span(20.0, 30.0)]
    paths = ["b.pcap", "a.pcap", "broken.pcap", "c.pcap", "early.pcap"]
    [warning] = cut_captures(paths, spans)
    assert warning.startswith("these 3 files, from a.pcap to c.pcap, follow one another")
    assert "each begins at most 500.000 ms after the last frame of the one before" in warning
    assert warning.endswith("mergecap -a -w joined.pcapng a.pcap b.pcap c.pcap")


def test_two_parts_say_how_far_apart_they_are() -> None:
    [warning] = cut_captures(["x y.pcap", "z.pcap"], [_span(0.0, 10.0), _span(10.004, 20.0)])
    assert warning.startswith("x y.pcap and z.pcap follow one another (the second begins 4.000 ms after")
    assert warning.endswith("mergecap -a -w joined.pcapng 'x y.pcap' z.pcap")


@pytest.mark.parametrize(
    "second",
    [
        _span(10.0 + JOINED_WITHIN + 0.001, 80.0),  # a separate capture, later
        _span(5.0, 20.0),  # at the same time: another interface or host
        _span(10.001, 20.0, snaplen=96),  # another tcpdump's
        _span(10.001, 20.0, format="pcapng"),
    ],
)
def test_captures_that_do_not_follow_one_another_are_not_parts(second: FileSpan) -> None:
    assert cut_captures(["a.pcap", "b.pcap"], [_span(0.0, 10.0), second]) == []


def test_a_file_without_frames_is_no_part() -> None:
    empty = FileSpan(None, None, "pcap", 262144)
    assert cut_captures(["a", "e", "b"], [_span(0.0, 10.0), empty, _span(30.0, 40.0)]) == [
        cut_captures(["a", "b"], [_span(0.0, 10.0), _span(30.0, 40.0)])[0]
    ]


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_capture_cut_in_two_is_told_and_mergecap_joins_it(tmp_path, capsys, jobs: str) -> None:
    """The parts as tcpdump -C writes them: the same link type and snapshot length, the
    frames byte for byte; given in the wrong order."""
    data = (ROOT / "captures" / "server-close.pcap").read_bytes()
    head, records, at = data[:24], [], 24
    while at < len(data):
        (kept,) = struct.unpack_from("<I", data, at + 8)  # a little-endian pcap, as the capture's
        records.append(data[at : at + 16 + kept])
        at += 16 + kept
    middle = len(records) // 2
    first, second = tmp_path / "part0.pcap", tmp_path / "part1.pcap"
    first.write_bytes(head + b"".join(records[:middle]))
    second.write_bytes(head + b"".join(records[middle:]))
    assert main(["analyze", "--quiet", "--json", "--jobs", jobs, str(second), str(first)]) == 0
    out, err = capsys.readouterr()
    parts = json.loads(out)["connections"]
    assert len(parts) == 2  # one connection read as two halves, each analyzed alone
    [warning] = [line for line in err.splitlines() if "follow one another" in line]
    assert warning.startswith(f"handshake: warning: {first} and {second} follow one another")
    if shutil.which("mergecap") is None:
        pytest.skip("mergecap (Wireshark's, with tshark) is not installed: the joined file is not checked")
    command = shlex.split(warning.split("in this order: ", 1)[1])
    subprocess.run(command, cwd=tmp_path, check=True)
    assert main(["analyze", "--quiet", "--json", str(tmp_path / "joined.pcapng")]) == 0
    out, err = capsys.readouterr()
    [whole] = json.loads(out)["connections"]
    assert whole["handshake"]["status"] == "complete" and whole["packets"] == len(records)
    assert whole["close"]["shape"] == "four-way"
    assert "follow one another" not in err
