"""Where the command line reads captures and writes figures: standard input (`-`), outputs
in the way, captures with nothing to draw, and which flow a picture shows."""

from __future__ import annotations

import bz2
import json
import lzma
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import CAPTURES, ROOT, assert_one_line_error, run

REFUSED = CAPTURES / "refused.pcap"
UDP = CAPTURES / "udp.pcap"


def _piped(capture: Path, *args: str) -> subprocess.CompletedProcess:
    """`cat capture | handshake ARGS`: standard input a pipe, never a file's descriptor."""
    with subprocess.Popen(["cat", str(capture)], stdout=subprocess.PIPE) as cat:
        return subprocess.run(
            [sys.executable, "-m", "analyzer", *args], stdin=cat.stdout, capture_output=True, text=True,
            cwd=ROOT, timeout=120,
        )  # fmt: skip


def _without_file_names(document):
    """The document less every "file" member: the head's, each connection's, each flow's
    and each file's."""
    if isinstance(document, dict):
        return {key: _without_file_names(value) for key, value in document.items() if key != "file"}
    if isinstance(document, list):
        return [_without_file_names(item) for item in document]
    return document


@pytest.mark.parametrize("capture", ["refused.pcap", "sticky-ipv6.pcap", "handshake.pcap"])
def test_a_piped_capture_gives_the_same_report_as_its_file(capture: str) -> None:
    path = CAPTURES / capture
    piped = _piped(path, "analyze", "--json", "--no-sidecar", "-")
    assert piped.returncode == 0, piped.stderr
    direct = run("analyze", "--json", "--no-sidecar", str(path))
    assert _without_file_names(json.loads(piped.stdout)) == _without_file_names(json.loads(direct.stdout))
    assert json.loads(piped.stdout)["file"] == "-"


def test_a_piped_pcapng_is_read_too(tmp_path) -> None:
    pcapng = tmp_path / "refused.pcapng"
    converted = subprocess.run(
        ["tshark", "-r", str(REFUSED), "-F", "pcapng", "-w", str(pcapng)], capture_output=True
    )
    if converted.returncode != 0:
        pytest.skip(f"tshark cannot write pcapng here: {converted.stderr.decode().strip()}")
    piped = _piped(pcapng, "analyze", "--json", "-")
    assert piped.returncode == 0, piped.stderr
    document = json.loads(piped.stdout)
    assert document["format"] == "pcapng" and document["connections"][0]["handshake"]["status"] == "refused"


def test_standard_input_among_files_and_for_every_picture(tmp_path) -> None:
    piped = _piped(REFUSED, "analyze", "--jobs", "2", str(UDP), "-")
    assert piped.returncode == 0, piped.stderr
    assert "udp.pcap: 6 packets" in piped.stdout and "-: 2 packets" in piped.stdout
    out = tmp_path / "refused.svg"
    drawn = _piped(REFUSED, "diagram", "-", "-o", str(out))
    assert drawn.returncode == 0, drawn.stderr
    assert "RST" in out.read_text()
    assert _piped(REFUSED, "report", "-", "-o", str(tmp_path / "page")).returncode == 0
    assert "refused" in (tmp_path / "page" / "index.html").read_text()


def test_standard_input_that_is_no_capture_or_is_read_twice(tmp_path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello, this is not a capture\n")
    assert_one_line_error(_piped(text, "analyze", "-"), "-: not a pcap or pcapng file")
    assert_one_line_error(_piped(REFUSED, "analyze", "-", "-"), "standard input (-) can be read once")
    assert_one_line_error(
        _piped(REFUSED, "analyze", "--decoder", "tshark", "-"), "-:", "--decoder tshark reads files only"
    )


def test_a_cut_off_piped_capture_still_gives_its_packets(tmp_path) -> None:
    cut = tmp_path / "cut.pcap"
    whole = (CAPTURES / "handshake.pcap").read_bytes()
    cut.write_bytes(whole[: len(whole) - 10])
    piped = _piped(cut, "analyze", "--json", "-")
    assert piped.returncode == 0, piped.stderr
    document = json.loads(piped.stdout)
    assert document["packets"] >= 10 and any("cut off" in w for w in document["warnings"])


def test_outputs_in_the_way_are_refused_before_any_work(tmp_path) -> None:
    existing = tmp_path / "afile"
    existing.write_text("mine")
    assert_one_line_error(run("report", str(REFUSED), "-o", str(existing)), str(existing), "not a directory")
    assert existing.read_text() == "mine"
    for command in ("diagram", "timeline", "backoff"):
        assert_one_line_error(
            run(command, str(REFUSED), "-o", str(tmp_path)), str(tmp_path), "is a directory"
        )
    # A report folder of an earlier run is written over: it is the report's own.
    assert run("report", str(REFUSED), "-o", str(tmp_path / "page")).returncode == 0
    assert run("report", str(REFUSED), "-o", str(tmp_path / "page")).returncode == 0


def test_a_capture_with_nothing_to_draw_leaves_nothing_behind(tmp_path) -> None:
    empty = tmp_path / "empty.pcap"
    empty.write_bytes(REFUSED.read_bytes()[:24])  # the file header alone
    folder = tmp_path / "page"
    assert_one_line_error(
        run("report", str(empty), "-o", str(folder)), "no TCP connection or UDP flow to draw"
    )
    assert not folder.exists()
    for command in ("diagram", "timeline"):
        figure = tmp_path / f"{command}.svg"
        assert_one_line_error(
            run(command, str(empty), "-o", str(figure)), "no TCP connection or UDP flow to draw"
        )
        assert not figure.exists()


def test_a_udp_flow_is_drawn_when_named(tmp_path) -> None:
    mixed = tmp_path / "mixed.pcap"
    merged = subprocess.run(
        ["mergecap", "-F", "pcap", "-w", str(mixed), str(REFUSED), str(UDP)], capture_output=True
    )
    if merged.returncode != 0:
        pytest.skip(f"mergecap (Wireshark's) is needed: {merged.stderr.decode().strip()}")
    out = tmp_path / "flow.svg"
    for name in ("U0", "#U0", "u0"):
        drawn = run("diagram", str(mixed), "--connection", name, "-o", str(out))
        assert drawn.returncode == 0, drawn.stderr
        assert "unreachable" in out.read_text().lower()
    default = tmp_path / "default.svg"
    assert run("diagram", str(mixed), "-o", str(default)).returncode == 0
    assert "unreachable" not in default.read_text().lower()  # the TCP connection, when none is named
    assert_one_line_error(run("diagram", str(mixed), "--connection", "U7", "-o", str(out)), "no UDP flow U7")
    # A capture of UDP alone, asked for a TCP connection by its number: said, not its UDP flow drawn.
    only_udp = tmp_path / "only-udp.svg"
    assert_one_line_error(
        run("diagram", str(UDP), "--connection", "0", "-o", str(only_udp)),
        "no TCP connection 0, only 1 UDP flow (U0",
    )
    assert not only_udp.exists()
    bad = run("diagram", str(mixed), "--connection", "x7", "-o", str(out))
    assert (
        bad.returncode == 2
        and "usage: handshake diagram" in bad.stderr
        and "not a connection id" in bad.stderr
    )


def _document(result: subprocess.CompletedProcess) -> dict:
    assert result.returncode == 0, result.stderr
    document = _without_file_names(json.loads(result.stdout))
    for described in [document, *document["files"]]:
        described.pop("format")
    return document


@pytest.mark.parametrize("capture", ["handshake.pcap", "sticky-ipv6.pcap"])
def test_a_gzipped_capture_reads_as_its_file_from_a_file_and_a_pipe(tmp_path, capture: str) -> None:
    """tcpdump -z gzip, Wireshark's "compress with gzip": Wireshark reads them, so does this."""
    import gzip

    packed = tmp_path / (capture + ".gz")
    packed.write_bytes(gzip.compress((CAPTURES / capture).read_bytes()))
    plain = _document(run("analyze", "--json", "--no-sidecar", str(CAPTURES / capture)))
    for result in (run("analyze", "--json", str(packed)), _piped(packed, "analyze", "--json", "-")):
        assert json.loads(result.stdout)["format"] == "pcap, gzip"
        assert _document(result) == plain


def test_bytes_after_a_gzip_stream_are_left_out_with_a_word(tmp_path) -> None:
    """Zeros padded after the stream (a block device, a transfer): gzip -d reads the stream
    and ignores them; so does this, and it says so, every packet kept."""
    import gzip

    packed = tmp_path / "padded.pcap.gz"
    packed.write_bytes(gzip.compress((CAPTURES / "handshake.pcap").read_bytes()) + b"\0" * 512)
    result = run("analyze", "--json", str(packed))
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["packets"] == 11
    assert document["warnings"] == [
        "bytes after the gzip stream that are no gzip are left out (as gzip -d does)"
    ]


def test_a_gzipped_capture_cut_off_gives_its_packets_and_says_so(tmp_path) -> None:
    import gzip

    from analyzer.benchmark import long_flow

    whole = tmp_path / "long.pcap"
    long_flow.write_capture(whole, 5_000)
    packed = gzip.compress(whole.read_bytes())
    cut = tmp_path / "cut.pcap.gz"
    cut.write_bytes(packed[: len(packed) // 2])
    result = run("analyze", "--json", str(cut))
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert 1_000 < document["packets"] < 5_000
    assert (
        "gzip stream ends before its end marker: the file was cut off (the packets before are read)"
        in (document["warnings"])
    )
    assert any(f"file is cut off in packet {document['packets'] + 1}" in w for w in document["warnings"])


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (b"\x1f\x8b\x07" + b"\x00" * 20, "gzip file is damaged"),
        (b"\x1f\x8b", "gzip file is cut off: it holds only 0 bytes"),
        (
            bytes.fromhex("1f8b080000000000020303000000000000000000"),
            "gzip file is no capture file: it holds only 0 bytes",
        ),
        (b"\x28\xb5\x2f\xfd" + b"\x00" * 20, "compressed with zstd: decompress it first (zstd -d)"),
        (
            lzma.compress(b"\xd4\xc3\xb2\xa1" + b"\x00" * 20),
            "compressed with xz: decompress it first (xz -d)",
        ),
        (
            bz2.compress(b"\xd4\xc3\xb2\xa1" + b"\x00" * 20),
            "compressed with bzip2: decompress it first (bzip2 -d)",
        ),
    ],
    ids=["damaged gzip", "gzip header only", "gzip of nothing", "zstd", "xz", "bzip2"],
)
def test_a_compressed_file_that_cannot_be_read_says_why(tmp_path, content: bytes, said: str) -> None:
    bad = tmp_path / "bad.pcap.gz"
    bad.write_bytes(content)
    assert_one_line_error(run("analyze", str(bad)), str(bad), said)


@pytest.mark.parametrize("command", ["diagram", "timeline", "overview", "report"])
def test_a_picture_of_a_cut_off_capture_says_so(tmp_path: Path, command: str) -> None:
    """The text report warns of a file cut off; a picture drawn from it did so silently."""
    whole = (CAPTURES / "handshake.pcap").read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(whole[: len(whole) - 30])
    target = tmp_path / ("report" if command == "report" else f"{command}.png")
    result = run(command, str(cut), "-o", str(target))
    assert result.returncode == 0, result.stderr
    assert f"handshake: {cut}: warning: file is cut off" in result.stderr, result.stderr


@pytest.mark.parametrize("command", ["diagram", "timeline", "overview", "backoff"])
def test_the_picture_itself_says_the_capture_was_cut_off(tmp_path: Path, command: str) -> None:
    """Passed on without its command's output, a picture still says what the capture lacks:
    the reader's warning in a strip above it; a whole capture's picture has none."""
    source = CAPTURES / ("syn-timeout.pcap" if command == "backoff" else "handshake.pcap")
    whole = source.read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(whole[: len(whole) - 30])
    for capture, warned in ((cut, True), (source, False)):
        target = tmp_path / f"{command}-{capture.stem}.svg"
        result = run(command, str(capture), "-o", str(target))
        assert result.returncode == 0, result.stderr
        assert ("warning: file is cut off" in target.read_text()) is warned, (capture, command)


@pytest.mark.parametrize(
    "command, name",
    [("diagram", "x.png"), ("diagram", "x.mmd"), ("timeline", "x.png"), ("backoff", "x.svg"),
     ("overview", "x.png"), ("report", "folder")],
)  # fmt: skip
def test_an_output_path_that_cannot_be_written_is_a_one_line_error(
    tmp_path: Path, command: str, name: str
) -> None:
    """A file where a folder should be: named as given (not the partial file beside it), with
    status 2, and nothing left behind."""
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    target = blocker / name
    capture = CAPTURES / ("syn-timeout.pcap" if command == "backoff" else "handshake.pcap")
    result = run(command, str(capture), "-o", str(target))
    assert_one_line_error(
        result, f"{target}: cannot be written: a file stands where a folder of its path should be"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]


@pytest.mark.parametrize("command", ["timeline", "backoff", "overview"])
def test_a_picture_of_an_unknown_format_is_refused(tmp_path: Path, command: str) -> None:
    capture = CAPTURES / ("syn-timeout.pcap" if command == "backoff" else "handshake.pcap")
    result = run(command, str(capture), "-o", str(tmp_path / "x.jpg"))
    assert_one_line_error(result, "x.jpg: unknown picture format (use .svg or .png)")
    assert list(tmp_path.iterdir()) == []


def test_an_option_before_any_command_is_named() -> None:
    """argparse said only that a command was missing."""
    result = run("--bogus")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "unrecognized arguments: --bogus" in result.stderr, result.stderr
    assert run("--version").returncode == 0


def test_a_full_disk_is_the_systems_error_and_a_bad_path_the_users() -> None:
    """Status 1 for what the system refused (as the reports' writers have it), 2 for a path
    at fault; both name the output as given."""
    import errno

    from analyzer.errors import UserError
    from analyzer.files import cannot_write

    full = cannot_write("x.png", OSError(errno.ENOSPC, "No space left on device", "x.png.partial.png"))
    assert type(full) is OSError and full.filename == "x.png" and full.errno == errno.ENOSPC
    missing = cannot_write("d/x.png", FileNotFoundError(errno.ENOENT, "No such file or directory"))
    assert (
        isinstance(missing, UserError)
        and str(missing) == "d/x.png: cannot be written: No such file or directory"
    )


@pytest.mark.parametrize(
    ("fraction", "held", "length", "said"),
    [
        (72_084_305, 150, 150, "header is damaged (a fraction of a second of 72,084,305 µs) and claims more"),
        (5, 170, 170, "header is damaged (170 bytes held, past the snapshot length 160)"),
        (5, 150, 60, "header is damaged (150 bytes held of a 60-byte packet)"),
        (5, 150, 150, "file is cut off in packet 2"),
    ],
    ids=["fraction", "past-snaplen", "past-its-packet", "cut-off"],
)
def test_a_damaged_record_header_is_not_called_a_cut_off_file(
    tmp_path, fraction: int, held: int, length: int, said: str
) -> None:
    """pcapfix's test_damaged.pcap (helper-120): record 2's microseconds are 72 million and it
    claims 16,896 bytes where fewer follow: a damaged header, not a file tcpdump left short.
    A sound header whose packet is cut short is still a cut-off file."""
    import struct

    from analyzer.benchmark import long_flow

    whole = tmp_path / "whole.pcap"
    long_flow.write_capture(whole, 4)
    data = whole.read_bytes()
    first_length = struct.unpack("<I", data[24 + 8 : 24 + 12])[0]
    second = 24 + 16 + first_length
    record = struct.pack("<IIII", 1_700_000_001, fraction, held, length)  # its snapshot length: 160
    path = tmp_path / "damaged.pcap"
    path.write_bytes(data[:second] + record + bytes(20))
    result = run("analyze", "--json", str(path))
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["packets"] == 1
    assert any(said in warning for warning in document["warnings"]), document["warnings"]
