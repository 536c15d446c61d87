"""The sidecar's one parser: every stored sidecar reads, a broken one is one line naming the
file and what is wrong (through the CLI: status 2, no traceback), and a call's byte count is
read in one place."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import pytest
from conftest import CAPTURES

from analyzer.cli import main
from analyzer.errors import UserError
from analyzer.sidecar import CallRecord, call_bytes, call_failed, load_sidecar, sidecar_path_for

STORED = sorted(CAPTURES.glob("*.sidecar.json"))


@pytest.mark.parametrize("path", STORED, ids=lambda p: p.name)
def test_every_stored_sidecar_reads(path: Path) -> None:
    sidecar = load_sidecar(path)
    assert sidecar["calls"] and all(isinstance(call["time"], float) for call in sidecar["calls"])


_KERNEL_EVENT = {
    "time": 1796062970.4691215, "boottime_ns": 37751899243332, "kind": "send_reset", "socket": None,
    "family": 4, "src": "127.0.0.1", "sport": 5001, "dst": "127.0.0.1", "dport": 39314, "state": None,
    "reason": "NO_SOCKET",
}  # fmt: skip


def test_a_sidecar_with_the_kernels_account_reads(tmp_path: Path) -> None:
    document = json.loads((CAPTURES / "handshake.sidecar.json").read_text())
    document["kernel_events"] = [_KERNEL_EVENT]
    document["kernel_recorder"] = {"engine": "bpftrace", "attached": True, "lost": 0}
    path = tmp_path / "x.sidecar.json"
    path.write_text(json.dumps(document))
    assert load_sidecar(path)["kernel_events"][0]["reason"] == "NO_SOCKET"


def _broken(document: dict, change: str) -> dict:
    broken = copy.deepcopy(document)
    if change == "call without side":
        del broken["calls"][1]["side"]
    elif change == "call time a string":
        broken["calls"][0]["time"] = "soon"
    elif change == "errno a number":
        broken["calls"][0]["errno"] = 111
    elif change == "snapshot naming no call":
        broken["snapshots"][0]["after_call"] = len(broken["calls"])
        broken["snapshots"][0]["during_call"] = None
    elif change == "socket without state":
        broken["snapshots"][-1]["sockets"] = [{"local": "127.0.0.1:5001", "peer": "127.0.0.1:4000"}]
    elif change == "calls not a list":
        broken["calls"] = {"0": broken["calls"][0]}
    elif change == "sysctls a list":
        broken["sysctls"] = []
    elif change == "linear timeouts not a number":
        broken["sysctls"]["net.ipv4.tcp_syn_linear_timeouts"] = "four"
    elif change == "a sysctl a list":
        broken["sysctls"]["net.ipv4.tcp_fin_timeout"] = [60]
    elif change == "kernel events not a list":
        broken["kernel_events"] = {"0": {}}
    elif change == "kernel event without kind":
        broken["kernel_events"] = [_KERNEL_EVENT, {k: v for k, v in _KERNEL_EVENT.items() if k != "kind"}]
    elif change == "kernel event time a string":
        broken["kernel_events"] = [{**_KERNEL_EVENT, "time": "soon"}]
    elif change == "call socket a string":
        broken["calls"][0]["socket"] = "fd 3"
    elif change == "call socket without fd":
        broken["calls"][0]["socket"] = {"id": 1, "local": None, "peer": None}
    elif change == "accepted port a number":
        broken["calls"][0]["accepted"] = {"id": 2, "fd": 4, "local": 5000, "peer": None}
    return broken


PROBLEMS = {
    "call without side": "calls[1] has no 'side'",
    "call time a string": "calls[0] has a 'time' of the wrong type",
    "errno a number": "calls[0] has a 'errno' of the wrong type",
    "snapshot naming no call": "snapshots[0] names no call",
    "socket without state": "sockets[0] has no 'state'",
    "calls not a list": "'calls' is not a list",
    "sysctls a list": "'sysctls' is not a dict",
    "linear timeouts not a number": "sysctl net.ipv4.tcp_syn_linear_timeouts is not a number ('four')",
    "a sysctl a list": "sysctl net.ipv4.tcp_fin_timeout is not a string",
    "kernel events not a list": "'kernel_events' is not a list",
    "kernel event without kind": "kernel_events[1] has no 'kind'",
    "kernel event time a string": "kernel_events[0] has a 'time' of the wrong type",
    "call socket a string": "calls[0] has a 'socket' of the wrong type",
    "call socket without fd": "calls[0].socket has no 'fd'",
    "accepted port a number": "calls[0].accepted has a 'local' of the wrong type",
}


@pytest.mark.parametrize("change", PROBLEMS)
def test_a_broken_sidecar_is_one_line_naming_the_file_and_the_fault(tmp_path: Path, change: str) -> None:
    document = json.loads((CAPTURES / "handshake.sidecar.json").read_text())
    path = tmp_path / "x.sidecar.json"
    path.write_text(json.dumps(_broken(document, change)))
    with pytest.raises(UserError) as raised:
        load_sidecar(path)
    message = str(raised.value)
    assert message.startswith(f"{path}: not a handshake-analyzer sidecar") and "\n" not in message
    assert PROBLEMS[change] in message


def test_analyze_with_a_broken_sidecar_beside_says_so_and_exits_2(tmp_path: Path, capsys) -> None:
    pcap = tmp_path / "handshake.pcap"
    shutil.copyfile(CAPTURES / "handshake.pcap", pcap)
    document = json.loads((CAPTURES / "handshake.sidecar.json").read_text())
    sidecar_path_for(pcap).write_text(json.dumps(_broken(document, "call without side")))
    assert main(["analyze", "--jobs", "1", str(pcap)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "calls[1] has no 'side'" in err and "Traceback" not in err


def _call(result: str, errno: str | None = None) -> CallRecord:
    return {
        "time": 1.0,
        "end_time": 1.0,
        "side": "client",
        "call": "recv(1024)",
        "result": result,
        "errno": errno,
    }


def test_a_calls_byte_count_is_read_from_its_result() -> None:
    assert call_bytes(_call("b'hello' (5 bytes)")) == 5
    assert call_bytes(_call("b'' (0 bytes)")) == 0
    assert call_bytes(_call("ok (1448 bytes)")) == 1448
    assert call_bytes(_call("ok")) is None
    assert call_bytes(_call("b'(7 bytes) inside' (16 bytes)")) == 16


def test_a_non_blocking_connect_under_way_is_not_a_failure() -> None:
    assert call_failed(_call("ECONNREFUSED", "ECONNREFUSED"))
    assert not call_failed(_call("EINPROGRESS", "EINPROGRESS"))
    assert not call_failed(_call("ok"))


def test_a_report_page_reads_a_sidecar_without_scenario_or_kernel(tmp_path: Path) -> None:
    """Only the calls and snapshots are required of a sidecar; the page names what is there."""
    from analyzer.analysis import analyze_file
    from analyzer.output.html_report import html_report

    pcap = tmp_path / "refused.pcap"
    shutil.copyfile(CAPTURES / "refused.pcap", pcap)
    document = json.loads((CAPTURES / "refused.sidecar.json").read_text())
    for key in ("scenario", "kernel", "summary"):
        del document[key]
    sidecar_path_for(pcap).write_text(json.dumps(document))
    page = html_report(analyze_file(str(pcap), sidecar=load_sidecar(sidecar_path_for(pcap))))
    assert "<h1>refused.pcap</h1>" in page and "kernel not recorded" in page


def test_the_parser_checks_the_fields_the_typed_sidecar_names() -> None:
    """The checks load_sidecar makes and the TypedDicts the code is typed with are one shape,
    and the call log writes it."""
    from dataclasses import fields

    from analyzer import sidecar
    from analyzer.scenarios.calls import Call

    assert set(sidecar._CALL_FIELDS) == sidecar.CallRecord.__required_keys__
    assert set(sidecar._OPTIONAL_CALL_FIELDS) == sidecar.CallRecord.__optional_keys__
    assert sidecar.CallRecord.__required_keys__ | sidecar.CallRecord.__optional_keys__ == {
        f.name for f in fields(Call)
    } - {"tagged"}
    assert set(sidecar._CALL_SOCKET_FIELDS) == sidecar.CallSocket.__required_keys__
    assert set(sidecar._SNAPSHOT_FIELDS) == sidecar.Snapshot.__required_keys__
    assert set(sidecar._OPTIONAL_SNAPSHOT_FIELDS) == sidecar.Snapshot.__optional_keys__
    assert set(sidecar._SOCKET_FIELDS) == sidecar.SocketState.__required_keys__
    assert set(sidecar._KERNEL_EVENT_FIELDS) == sidecar.KernelEvent.__required_keys__
    assert {"calls", "snapshots"} == sidecar.Sidecar.__required_keys__
