"""One JSON shape for one file or many: a reader of `--json` finds the connections, the UDP
flows and the files' heads in the same places, whatever number of files it was given."""

from __future__ import annotations

import json

from conftest import CAPTURES, run
from segments import HANDSHAKE, conversation

from analyzer.analysis import analyze_segments
from analyzer.output.json_report import connection_to_dict
from analyzer.timefmt import Clock

FILES = [str(CAPTURES / f"{name}.pcap") for name in ("refused", "udp", "handshake-ipv6", "backlog")]


def _document(*args: str) -> dict:
    result = run("analyze", "--json", *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_several_files_make_one_document_of_the_one_file_shape() -> None:
    alone = [_document(path) for path in FILES]
    merged = _document(*FILES)
    shape = {"schema_version", "connections", "udp", "files"}
    assert set(merged) == shape and all(shape <= set(document) for document in alone)
    assert merged["connections"] == [c for document in alone for c in document["connections"]]
    assert merged["udp"] == [flow for document in alone for flow in document["udp"]]
    assert merged["files"] == [entry for document in alone for entry in document["files"]]
    # Ids are each file's own: the file names which one a connection is in.
    assert {c["file"] for c in merged["connections"]} == {
        p for p, d in zip(FILES, alone, strict=True) if d["connections"]
    }
    assert [flow["file"] for flow in merged["udp"]] == [FILES[1]] * len(merged["udp"]) and merged["udp"]


def test_one_files_head_is_at_the_top_and_in_files_with_its_counts() -> None:
    document = _document(FILES[3])
    (entry,) = document["files"]
    head = {key: value for key, value in document.items() if key not in ("connections", "udp", "files")}
    assert entry == {**head, "connection_count": len(document["connections"]), "udp_flow_count": 0}
    assert all(c["file"] == FILES[3] for c in document["connections"])


def test_only_keeps_the_files_counts_of_all_connections() -> None:
    refused, backlog = FILES[0], FILES[3]
    document = _document("--only", "refused", refused, backlog)
    assert [c["file"] for c in document["connections"]] == [refused]
    counts = [entry["connection_count"] for entry in document["files"]]
    assert counts == [1, len(_document(backlog)["connections"])] and counts[1] > 0


def test_a_file_that_cannot_be_read_leaves_the_others_in_the_one_shape(tmp_path) -> None:
    bad = tmp_path / "bad.pcap"
    bad.write_bytes(b"not a capture at all")
    result = run("analyze", "--json", FILES[0], str(bad))
    assert result.returncode == 2 and str(bad) in result.stderr
    document = json.loads(result.stdout)
    assert [entry["file"] for entry in document["files"]] == [FILES[0]]
    assert [c["file"] for c in document["connections"]] == [FILES[0]]


def test_state_changes_come_in_the_order_they_happened_when_the_clock_steps_back() -> None:
    """The close stamped 2 s before the handshake (a clock step): by time alone FIN_WAIT_1 and
    TIME_WAIT came first and ESTABLISHED last, which a reader of the last took for the end."""
    segments = conversation(*HANDSHAKE, (-2.0, "c", "FA", 101, 501), (-1.999, "s", "FA", 501, 102),
                            (-1.998, "c", "A", 102, 502))  # fmt: skip
    [result] = analyze_segments(segments).connections
    changes = connection_to_dict(result, Clock(100.0))["state_changes"]
    framed = [c["frame"] for c in changes if c["frame"] is not None]
    assert framed == sorted(framed), changes
    last = {c["end"]: c["state"] for c in changes}
    assert last == {"client": "TIME_WAIT", "server": "CLOSED"}, changes
