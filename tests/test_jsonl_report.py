"""JSON lines (`analyze --format jsonl`): the same connections as the JSON document, each written
as soon as the stream hands it over, never sorted or held back."""

from __future__ import annotations

import io
import json
from types import SimpleNamespace

import pytest
from conftest import CAPTURES, run, stored_captures
from pcap_builder import tcp_packet, write_capture

from analyzer.analysis import stream_file
from analyzer.output.json_report import write_document
from analyzer.output.jsonl_report import write_lines
from analyzer.parallel import one_file
from analyzer.parallel.options import AnalyzeOptions
from analyzer.sidecar import load_sidecar, sidecar_path_for


def _sidecar(pcap):
    path = sidecar_path_for(pcap)
    return load_sidecar(path) if path.exists() else None


def _lines(text: str) -> list[dict]:
    assert text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


@pytest.mark.parametrize("pcap", stored_captures(), ids=lambda p: p.name)
def test_the_lines_hold_the_documents_connections_udp_flows_and_head(pcap) -> None:
    lines, document = io.StringIO(), io.StringIO()
    write_lines(stream_file(str(pcap), sidecar=_sidecar(pcap)), lines)
    write_document(stream_file(str(pcap), sidecar=_sidecar(pcap)), document)
    written, whole = _lines(lines.getvalue()), json.loads(document.getvalue())
    assert [line["type"] for line in written] == (
        ["connection"] * len(whole["connections"]) + ["udp"] * len(whole["udp"]) + ["file"]
    )
    assert all(next(iter(line)) == "type" and line["file"] == str(pcap) for line in written)
    # A line is the document's object with its "type" in front.
    connections = [
        {k: v for k, v in line.items() if k != "type"} for line in written if line["type"] == "connection"
    ]
    assert sorted(connections, key=lambda c: c["id"]) == whole["connections"]
    udp = [{k: v for k, v in line.items() if k != "type"} for line in written if line["type"] == "udp"]
    assert udp == whole["udp"]
    head = {k: v for k, v in whole.items() if k not in ("connections", "udp", "files")}
    assert written[-1] == {
        "type": "file",
        **head,
        "connection_count": len(whole["connections"]),
        "udp_flow_count": len(whole["udp"]),
    }
    assert whole["files"] == [{k: v for k, v in written[-1].items() if k != "type"}]


class _Watched(io.StringIO):
    """An output that counts its flushes."""

    flushes = 0

    def flush(self) -> None:
        self.flushes += 1
        super().flush()


def test_each_line_is_written_as_the_stream_hands_its_connection_over_in_that_order() -> None:
    pcap = CAPTURES / "backlog-abort.pcap"
    real = stream_file(str(pcap))
    results = sorted(real.results, key=lambda r: r.connection.id)
    assert len(results) == 3
    out = _Watched()
    lines_before_each_resume: list[int] = []

    def handed_over():
        # Against id order: a writer that sorted would have to hold them all first.
        for result in reversed(results):
            yield result
            lines_before_each_resume.append(out.getvalue().count("\n"))

    fake = SimpleNamespace(
        file=str(pcap),
        stats=real.stats,
        results=handed_over(),
        udp=real.udp,
        application=real.application,
        scans=real.scans,
        links=real.links,
    )
    write_lines(fake, out, flush=True)
    assert lines_before_each_resume == [1, 2, 3]  # each line out before the next result is asked for
    written = _lines(out.getvalue())
    assert [line["id"] for line in written if line["type"] == "connection"] == [2, 1, 0]
    assert out.flushes == 3  # pushed out one by one, for a reader at the other end of a pipe


def test_a_line_comes_out_while_the_rest_of_the_file_is_still_unread(tmp_path) -> None:
    """A refused connection is over at its RST; a SYN on its ports more than 5 s later
    (tcp_close_delay) starts another and hands it over, while later packets are unread."""
    c, s = "10.0.0.1", "10.0.0.2"
    refused = [tcp_packet(4, c, 40000, s, 81, "S", 100), tcp_packet(4, s, 81, c, 40000, "RA", 0, 101)]
    others = [tcp_packet(4, c, 40001 + n, s, 80, "S", 1000 + n) for n in range(10)]
    packets = [*refused, *others[:6], tcp_packet(4, c, 40000, s, 81, "S", 900), *others[6:]]  # one a second
    pcap = write_capture(tmp_path / "late.pcap", packets, step=1.0)
    stream = stream_file(str(pcap))
    frames_read_at_first_line: list[int] = []

    class Out(io.StringIO):
        def write(self, text: str) -> int:
            if not frames_read_at_first_line:
                frames_read_at_first_line.append(stream.stats.frames)
            return super().write(text)

    out = Out()
    write_lines(stream, out)
    assert frames_read_at_first_line[0] < len(packets)
    assert _lines(out.getvalue())[0]["server"]["port"] == 81


def test_one_big_file_is_streamed_by_one_process_never_in_shares(monkeypatch) -> None:
    monkeypatch.setattr(one_file, "SHARE_ABOVE_BYTES", 0)  # every file is big

    def in_shares(*args):
        raise AssertionError("made in shares")

    monkeypatch.setattr(one_file, "render_in_shares", in_shares)
    pcap = str(CAPTURES / "backlog.pcap")
    out = io.StringIO()
    one_file.render_file(pcap, AnalyzeOptions(format="jsonl", use_sidecar=False, jobs=3), out)
    assert _lines(out.getvalue())[-1]["connection_count"] == 2
    with pytest.raises(AssertionError, match="made in shares"):  # the check can see it
        one_file.render_file(pcap, AnalyzeOptions(format="json", use_sidecar=False, jobs=3), io.StringIO())


@pytest.mark.parametrize("jobs", ["1", "3"])
def test_several_files_each_lines_in_turn_as_the_json_document_has_them(jobs) -> None:
    files = [
        str(CAPTURES / name) for name in ("backlog-abort.pcap", "udp.pcap", "refused.pcap", "backlog.pcap")
    ]
    lines = run("analyze", "--format", "jsonl", "--jobs", jobs, *files)
    document = run("analyze", "--json", *files)
    assert lines.returncode == document.returncode == 0, lines.stderr
    written, whole = _lines(lines.stdout), json.loads(document.stdout)
    # A file's lines, its "file" line last, then the next file's.
    order = [line["file"] for line in written]
    assert order == sorted(order, key=files.index)
    assert [line["file"] for line in written if line["type"] == "file"] == files
    assert [entry["file"] for entry in whole["files"]] == files
    for path, entry in zip(files, whole["files"], strict=True):
        mine = [line for line in written if line["file"] == path]
        assert mine[-1] == {"type": "file", **entry}
        ids = sorted(line["id"] for line in mine if line["type"] == "connection")
        assert ids == [c["id"] for c in whole["connections"] if c["file"] == path]


def test_json_is_the_same_as_format_json_byte_for_byte() -> None:
    files = [str(CAPTURES / "backlog.pcap"), str(CAPTURES / "refused.pcap")]
    for args in ([files[0]], files):
        alias, named = run("analyze", "--json", *args), run("analyze", "--format", "json", *args)
        assert alias.returncode == named.returncode == 0
        assert alias.stdout == named.stdout and alias.stdout.startswith("{")
