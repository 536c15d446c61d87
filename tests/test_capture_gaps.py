"""A witness with gaps (issue 19): when tcpdump dropped packets ("dropped by kernel") or the
kernel recorder lost events, the differences a missing packet or event explains are listed
as explained, naming the count, not as disagreements; without the count they stay
disagreements. Made from a stored recording: a frame cut out of a copy of its pcap, an
event out of a copy of its sidecar, the counter set in the copy."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import matplotlib.pyplot as plt
from conftest import ROOT
from test_kernel_marks import assert_state_changes_marked

from analyzer.analysis import ConnectionAnalysis, analyze_file
from analyzer.output.kernel_marks import kernel_changes
from analyzer.output.sequence_diagram import figure
from analyzer.sidecar import load_sidecar

RECORDING = ROOT / "tests" / "data" / "kernel_account" / "handshake.pcap"
# Its frames: 1-3 the handshake, 4-7 data both ways, 8 the client's FIN, 9 the server's ACK
# of it, 10 the server's FIN, 11 the client's last ACK.
DROPPED = "tcpdump dropped 1 packet ('dropped by kernel')"


def _without_frame(pcap: Path, frame: int, out: Path) -> None:
    """A copy of a classic pcap without one frame (byte for byte otherwise)."""
    data = pcap.read_bytes()
    endian = "<" if data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    records, offset, number = [data[:24]], 24, 0
    while offset < len(data):
        length = struct.unpack(endian + "I", data[offset + 8 : offset + 12])[0]
        number += 1
        if number != frame:
            records.append(data[offset : offset + 16 + length])
        offset += 16 + length
    assert number >= frame
    out.write_bytes(b"".join(records))


def _analysis(tmp_path: Path, frame: int | None, dropped: int, lost: int = 0,
              lose_event: int | None = None) -> ConnectionAnalysis:  # fmt: skip
    pcap = tmp_path / "cut.pcap"
    if frame is None:
        pcap.write_bytes(RECORDING.read_bytes())
    else:
        _without_frame(RECORDING, frame, pcap)
    sidecar = json.loads(RECORDING.with_suffix(".sidecar.json").read_text())
    sidecar["recorder"]["dropped_by_kernel"] = dropped
    sidecar["kernel_recorder"]["lost"] = lost
    if lose_event is not None:
        del sidecar["kernel_events"][lose_event]
    path = tmp_path / "cut.sidecar.json"
    path.write_text(json.dumps(sidecar))
    [result] = analyze_file(str(pcap), sidecar=load_sidecar(path)).connections
    return result


def _events(result: ConnectionAnalysis):
    assert result.kernel is not None and result.kernel.events is not None
    return result.kernel.events


def test_the_recording_agrees_whole(tmp_path: Path) -> None:
    events = _events(_analysis(tmp_path, None, 0))
    assert events.disagreements == [] and events.explained == []


def test_a_fin_tcpdump_dropped_explains_every_difference_after_it(tmp_path: Path) -> None:
    # The server's ACK and FIN show the client's FIN (tcp_state.py, "A FIN the capture missed"):
    # every state is the kernel's, the two the FIN made only at the ACK's time, not the FIN's.
    events = _events(_analysis(tmp_path, 8, dropped=1))
    assert events.disagreements == []
    assert all(DROPPED in d.what for d in events.explained)
    # Where no packet of the connection was captured when the kernel moved: the missing one.
    direct = [d for d in events.explained if "no packet of the connection captured then" in d.what]
    assert direct == events.explained
    assert {(d.side, d.what.split(": ")[0]) for d in direct} == {
        ("client", "FIN_WAIT_1"),
        ("server", "CLOSE_WAIT"),
    }
    assert all("inferred at frame 8" in d.what for d in direct)


def test_without_the_drop_count_the_same_differences_disagree(tmp_path: Path) -> None:
    events = _events(_analysis(tmp_path, 8, dropped=0))
    assert len(events.disagreements) == 2
    assert not any("tcpdump" in d.what for d in [*events.disagreements, *events.explained])
    # The server acknowledged the FIN: it left, though the capture lacks it (not a FIN that
    # waited behind unsent data).
    assert not any("sent no FIN" in d.what for d in events.explained)


def test_a_pure_ack_dropped_leaves_no_sequence_trace_but_the_kernels_time(tmp_path: Path) -> None:
    events = _events(_analysis(tmp_path, 9, dropped=1))
    assert events.disagreements == []
    [explained] = events.explained
    assert explained.side == "client" and explained.what.startswith("FIN_WAIT_2: inferred at frame 9")
    assert DROPPED in explained.what
    assert _events(_analysis(tmp_path, 9, dropped=0)).disagreements != []


def test_the_servers_fin_dropped_is_found_by_the_ack_of_it(tmp_path: Path) -> None:
    """The client's ACK of the FIN comes within the kernel's window of the server's LAST_ACK:
    the FIN it shows moves both ends as the kernel moved them, with or without the count."""
    for dropped in (1, 0):
        result = _analysis(tmp_path, 10, dropped=dropped)
        events = _events(result)
        assert events.disagreements == [] and events.explained == []
        assert result.close.missed is not None and result.close.shape == "four-way"


def test_an_event_the_recorder_lost_explains_the_change_it_held(tmp_path: Path) -> None:
    # Event 10: the server's CLOSE_WAIT->LAST_ACK; the next leaves LAST_ACK all the same.
    # (Event 8, an orphan's FIN_WAIT1->FIN_WAIT2, its timewait socket shows without a count:
    # tests/test_kernel_events.py.)
    events = _events(_analysis(tmp_path, None, dropped=0, lost=1, lose_event=10))
    assert events.disagreements == []
    [explained] = events.explained
    assert "inferred LAST_ACK (frame" in explained.what
    assert "the kernel recorder lost 1 event" in explained.what
    assert _events(_analysis(tmp_path, None, dropped=0, lost=0, lose_event=10)).disagreements != []


def test_the_ladder_marks_the_kernels_changes_the_analysis_lacks_hollow(tmp_path: Path) -> None:
    result = _analysis(tmp_path, 8, dropped=1)
    differ = [c for c in kernel_changes(result) if not c.agrees]
    assert {(c.side, c.state) for c in differ} >= {("client", "FIN_WAIT_1"), ("server", "CLOSE_WAIT")}
    fig = figure(result, None)
    try:
        assert_state_changes_marked(fig, result)
        texts = [t.get_text() for t in fig.findobj(plt.Text)]
        assert any(t.startswith("hollow red") for t in texts)
    finally:
        plt.close(fig)
