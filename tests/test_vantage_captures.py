"""Captures taken at one end, between the ends, and of SYN scans (tests/data/vantage, made by
make_vantage_captures.py): what reached whom decides the states (analyzer/arrivals.py), and the
recorded ones are checked against the kernel's own states, read with `ss` when they were made."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil

import pytest
from conftest import ROOT, run

from analyzer.analysis import ConnectionAnalysis, analyze_file
from analyzer.output.json_report import connection_to_dict
from analyzer.timefmt import Clock

VANTAGE = ROOT / "tests" / "data" / "vantage"
_LINES = (VANTAGE / "EXPECTED.tsv").read_text().splitlines()
ROWS = [dict(zip(_LINES[0].split("\t"), line.split("\t"), strict=True)) for line in _LINES[1:]]
RECORDED = [row for row in ROWS if "crafted" not in row["file"]]
SCANS = [row["file"] for row in ROWS if "scan" in row["file"]]


def _connections(name: str) -> list[ConnectionAnalysis]:
    return analyze_file(str(VANTAGE / name)).connections


def _final(result: ConnectionAnalysis, side: str) -> str:
    history = result.states[side]
    return history[-1][1].value if history else "-"


def test_every_capture_is_stored_small_and_listed() -> None:
    stored = sorted(p.name for p in VANTAGE.glob("*.pcap"))
    assert stored == sorted(row["file"] for row in ROWS)
    assert all((VANTAGE / name).stat().st_size < 4096 for name in stored)
    assert len(RECORDED) >= 6


@pytest.mark.parametrize("row", ROWS, ids=lambda row: row["file"])
def test_vantage_and_final_states_are_as_measured(row: dict[str, str]) -> None:
    [first, *_] = _connections(row["file"])
    assert first.vantage is not None and first.vantage.point == row["vantage"]
    assert (_final(first, "client"), _final(first, "server")) == (row["client_final"], row["server_final"])


@pytest.mark.parametrize("row", RECORDED, ids=lambda row: row["file"])
def test_no_inferred_state_contradicts_the_kernel(row: dict[str, str]) -> None:
    """Each end's last state is the kernel's (no socket: CLOSED) or UNKNOWN, never another guess:
    fin-lost-at-client's server, whose kernel never got the FIN, was CLOSE_WAIT before."""
    [first, *_] = _connections(row["file"])
    for side in ("client", "server"):
        kernel = row[f"kernel_{side}"].replace("-", "CLOSED")
        assert _final(first, side) in (kernel, "UNKNOWN"), side


@pytest.mark.parametrize("name", ["fin-lost-at-client.pcap", "fin-lost-at-server.pcap"])
def test_a_fin_that_never_arrived_leaves_its_receiver_unknown_and_says_why(name: str) -> None:
    [result] = _connections(name)
    receiver = "server" if name.endswith("client.pcap") else "client"
    assert _final(result, receiver) == "UNKNOWN"
    assert "CLOSE_WAIT" not in [s.value for _t, s in result.states[receiver]]
    fin = next(s for s in result.connection.segments if s.flags & 0x01)
    [why] = [n for n in result.notes if n.startswith(f"the {receiver}'s state")]
    assert f"frame {fin.frame} may not have reached the {receiver}" in why
    assert "had it, the" in why and "CLOSE_WAIT" in why
    document = connection_to_dict(result, Clock(0.0))
    assert json.loads(json.dumps(document))["states"][receiver][-1][1] == "UNKNOWN"


def test_at_the_server_a_completed_connection_is_known_to_the_end() -> None:
    [result] = _connections("completed-at-server.pcap")
    assert [s.value for _t, s in result.states["client"]][-1] == "TIME_WAIT"
    assert not any(s.value == "UNKNOWN" for side in ("client", "server") for _t, s in result.states[side])


@pytest.mark.parametrize("name", SCANS)
def test_a_scanner_is_never_established(name: str) -> None:
    results = _connections(name)
    assert len(results) >= 2
    for result in results:
        assert "ESTABLISHED" not in [s.value for _t, s in result.states["client"]], result.connection.id


@pytest.mark.parametrize("name", [s for s in SCANS if "between" not in s])
def test_at_the_scanner_nothing_the_target_sent_is_lost(name: str) -> None:
    results = _connections(name)
    for result in results:
        assert result.vantage is not None and result.vantage.point == "client"
        from_target = {s.frame for s in result.connection.segments if not result.connection.from_client(s)}
        assert not [
            step.segment.frame for step in result.steps if step.lost and step.segment.frame in from_target
        ]


def test_at_the_scanner_resent_synacks_reached_it_and_it_took_none() -> None:
    [result] = [r for r in _connections("syn-scan-crafted-at-scanner.pcap") if r.connection.server[1] == 80]
    assert [s.flags for s in result.connection.segments] == [0x02, 0x12, 0x12, 0x12]
    assert not any(step.lost for step in result.steps)  # before: the first two "lost before the client"
    assert [s.value for _t, s in result.states["client"]] == ["CLOSED", "SYN_SENT", "UNKNOWN"]


def test_between_the_unanswered_synacks_may_have_been_lost() -> None:
    silent = [r for r in _connections("syn-scan-crafted-between.pcap") if r.connection.server[1] == 80]
    [result] = silent
    assert [step.lost for step in result.steps] == [False, True, True, False]


def test_the_text_and_the_pictures_show_the_unknown_state(tmp_path) -> None:
    capture = VANTAGE / "fin-lost-at-client.pcap"
    text = run("analyze", str(capture))
    assert text.returncode == 0, text.stderr
    assert "UNKNOWN (+" in text.stdout
    assert "had it, the server would be in CLOSE_WAIT" in text.stdout
    diagram = run("diagram", str(capture), "-o", str(tmp_path / "ladder.svg"))
    assert diagram.returncode == 0, diagram.stderr
    assert "UNKNOWN" in (tmp_path / "ladder.svg").read_text()


def _can_record() -> str | None:
    if os.geteuid() != 0:
        return "recording in network namespaces needs root"
    missing = [tool for tool in ("ip", "nft", "tcpdump") if shutil.which(tool) is None]
    return f"missing {', '.join(missing)}" if missing else None


@pytest.mark.skipif(_can_record() is not None, reason=str(_can_record()))
def test_recorded_again_a_lost_fin_still_leaves_its_receiver_unknown(tmp_path) -> None:
    spec = importlib.util.spec_from_file_location(
        "make_vantage_captures", VANTAGE / "make_vantage_captures.py"
    )
    assert spec is not None and spec.loader is not None
    maker = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(maker)
    row = maker.record_fin_lost_at_client(tmp_path)
    assert row[4:] == ("FIN_WAIT_1", "ESTABLISHED")  # the kernel's: the FIN never reached the server
    [result] = analyze_file(str(tmp_path / row[0])).connections
    assert result.vantage is not None and result.vantage.point == "client"
    assert (_final(result, "client"), _final(result, "server")) == ("FIN_WAIT_1", "UNKNOWN")


@pytest.mark.parametrize("name", [row["file"] for row in ROWS])
def test_no_label_of_any_ladder_overlaps_another(name: str) -> None:
    """The UNKNOWN label and its key among the rest (test_diagram_layout's measure)."""
    import matplotlib.pyplot as plt
    from test_diagram_layout import overlapping_labels

    from analyzer.output.sequence_diagram import figure

    for result in _connections(name):
        fig = figure(result, None)
        try:
            assert overlapping_labels(fig) == [], result.connection.id
        finally:
            plt.close(fig)
