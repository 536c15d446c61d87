"""The socket calls in a connection's margins are those on its own sockets: the call log tags
each call with its socket (fd, addresses, its number in the run), call_sockets picks a
connection's by them, and a log written before the tags is drawn whole, as it was."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import matplotlib.pyplot as plt
import pytest

from analyzer.analysis import analyze_file
from analyzer.call_sockets import calls_on, connection_calls
from analyzer.output.mermaid import mermaid
from analyzer.output.sequence_diagram import figure
from analyzer.scenarios.base import Context
from analyzer.scenarios.calls import CallLog
from analyzer.sidecar import CallRecord, CallSocket, load_sidecar

# backlog-abort recorded with the tags (handshake capture backlog-abort --family 4, as root):
# three clients of one listener at once, the one on port 40001 reset by the full accept queue.
TAGGED = Path(__file__).parent / "data" / "call_sockets" / "backlog-abort.pcap"
# The same scenarios recorded before the tags (once the stored captures, kept here as logs
# people may still hold):
UNTAGGED_DIR = Path(__file__).parent / "data" / "call_sockets" / "untagged"
UNTAGGED = UNTAGGED_DIR / "backlog-abort.pcap"


def _margins(fig: plt.Figure) -> list[tuple[str, str]]:
    """The socket calls drawn in the margins (in monospace, and only they), by side."""
    texts = [t for ax in fig.axes for t in ax.texts if "monospace" in t.get_fontfamily()]
    return [("client" if t.get_position()[0] < 0.5 else "server", t.get_text()) for t in texts]


def test_the_call_log_tags_each_call_with_its_socket() -> None:
    log = CallLog(settle=0)
    ctx = Context(4, log)
    listener = ctx.socket("server")
    with log.step("server", "bind", on=listener):
        listener.bind(("127.0.0.1", 0))
    with log.step("server", "listen(1)", on=listener):
        listener.listen(1)
    port = listener.getsockname()[1]
    client = ctx.socket("client")
    with log.step("client", "connect", on=client):
        client.connect(("127.0.0.1", port))
    with log.step("server", "accept()", on=listener) as outcome:
        conn, peer = listener.accept()
        outcome.accepted = conn
    with log.step("client", "close()", on=client):
        client.close()
    log.idle("server", 0, "nothing")
    conn.close()
    listener.close()
    calls = [call.as_dict() for call in log.calls]
    made, bound, listening, client_made, connected, accepted, closed, slept = calls
    here = f"127.0.0.1:{port}"
    there = f"127.0.0.1:{peer[1]}"
    assert made["socket"] is not None and made["socket"]["local"] is None and made["socket"]["fd"] >= 0
    assert bound["socket"] == listening["socket"] == {**made["socket"], "local": here}
    assert connected["socket"] is not None and client_made["socket"] is not None
    assert client_made["socket"]["id"] == connected["socket"]["id"] != made["socket"]["id"]
    assert (connected["socket"]["local"], connected["socket"]["peer"]) == (there, here)
    # accept() is on the listener and returns another socket: both are named.
    assert accepted["socket"] == listening["socket"]
    assert "accepted" in accepted and (accepted["accepted"]["local"], accepted["accepted"]["peer"]) == (
        here,
        there,
    )
    assert accepted["accepted"]["id"] not in (made["socket"]["id"], connected["socket"]["id"])
    # A closed socket has no fd nor address left: the call keeps what it had before it.
    assert closed["socket"] == connected["socket"]
    assert slept["socket"] is None and "accepted" not in slept


def test_merged_calls_keep_their_sockets_apart_and_untagged_ones_stay_untagged() -> None:
    log = CallLog(settle=0)
    sock = socket.socket()
    with log.step("client", "setsockopt", on=sock):
        pass
    sock.close()
    child: CallSocket = {"id": 1, "fd": 3, "local": "127.0.0.1:40000", "peer": "127.0.0.1:5000"}
    stamp = {"time": 1.0, "end_time": 1.0, "side": "client", "result": "ok", "errno": None}
    log.merge([{**stamp, "call": "sendall", "socket": child}, {**stamp, "call": "connect"}])  # type: ignore[typeddict-item]
    mine, theirs, strace = (call.as_dict() for call in log.calls)
    assert mine["socket"] is not None and theirs["socket"] is not None
    assert theirs["socket"]["id"] != mine["socket"]["id"]
    assert "socket" not in strace  # unknown, which is not "on no socket"


def _call(at: float, text: str, tag: CallSocket | None, accepted: CallSocket | None = None) -> CallRecord:
    call: CallRecord = {"time": at, "end_time": at + 0.001, "side": "client", "call": text, "result": "ok",
                        "errno": None, "socket": tag}  # fmt: skip
    if accepted is not None:
        call["accepted"] = accepted
    return call


def _tag(number: int, local: str | None, peer: str | None = None) -> CallSocket:
    return {"id": number, "fd": number + 2, "local": local, "peer": peer}


SERVER, CLIENT = ("127.0.0.1", 5000), ("127.0.0.1", 40000)


def test_one_4_tuple_serving_two_connections_in_turn_gives_each_its_own_calls() -> None:
    """time-wait-reuse: the client binds the port of the first connection for the second."""
    listener, first, second = _tag(1, None), _tag(2, None), _tag(4, None)
    at_server, tuple_ = "127.0.0.1:5000", ("127.0.0.1:40000", "127.0.0.1:5000")
    calls = [
        _call(0.0, "socket() listener", listener),
        _call(0.1, "listen(1)", {**listener, "local": at_server}),
        _call(1.0, "socket() first", first),
        _call(1.1, "connect first", {**first, "local": tuple_[0], "peer": tuple_[1]}),
        _call(1.2, "accept() first", {**listener, "local": at_server}, _tag(3, tuple_[1], tuple_[0])),
        _call(1.3, "close() first", {**first, "local": tuple_[0], "peer": tuple_[1]}),
        _call(1.5, "wait", None),
        _call(2.0, "socket() second", second),
        _call(2.1, "connect second", {**second, "local": tuple_[0], "peer": tuple_[1]}),
        _call(2.2, "accept() second", {**listener, "local": at_server}, _tag(5, tuple_[1], tuple_[0])),
        _call(2.3, "close() second", _tag(4, tuple_[0])),  # after a reset: no peer any more
        _call(3.0, "close() listener", {**listener, "local": at_server}),
    ]
    first_calls = [c["call"] for c in calls_on(calls, (CLIENT, SERVER), 1.1, 1.35)]
    second_calls = [c["call"] for c in calls_on(calls, (SERVER, CLIENT), 2.1, 2.35)]
    setup, ending = ["socket() listener", "listen(1)"], ["close() listener"]
    its_own = ["socket() {}", "connect {}", "accept() {}", "close() {}"]
    assert first_calls == [*setup, *(call.format("first") for call in its_own), *ending]
    assert second_calls == [*setup, *(call.format("second") for call in its_own), *ending]
    # The wait on no socket falls between the two: neither connection's.
    assert "wait" not in first_calls + second_calls


def test_a_socket_that_never_had_an_address_goes_by_its_time() -> None:
    """A refused blocking connect() gives its port back: neither call of it names one."""
    refused = _tag(1, None)
    calls = [
        _call(0.0, "socket()", refused),
        _call(0.1, "connect", refused),
        _call(5.0, "later", _tag(2, None)),
    ]
    assert [c["call"] for c in calls_on(calls, (CLIENT, SERVER), 0.1, 0.1005)] == ["socket()", "connect"]


def test_a_call_with_no_tag_stands_on_every_ladder() -> None:
    """strace's calls name no socket, among the tagged steps of `handshake run`."""
    traced = _call(9.0, "listen(16) by the program", None)
    del traced["socket"]
    calls = [
        _call(0.0, "run: the program", None),
        traced,
        _call(5.0, "on another", _tag(1, "127.0.0.1:6000", "127.0.0.1:6001")),
    ]
    assert [c["call"] for c in calls_on(calls, (CLIENT, SERVER), 0.0, 1.0)] == [
        "run: the program",
        "listen(16) by the program",
    ]


def test_a_log_without_tags_leaves_out_only_what_names_other_ends() -> None:
    """Untagged, only what a call names tells whose it is: an accept() that returned another
    port, a bind() of another port (the client of port 40001's), are left out; every client
    connect()s to the one listener, so all stay."""
    sidecar = load_sidecar(UNTAGGED.with_name("backlog-abort.sidecar.json"))
    assert not any("socket" in call for call in sidecar["calls"])
    analysis = analyze_file(str(UNTAGGED), sidecar=sidecar)
    assert len(analysis.connections) == 3
    for result in analysis.connections:
        port = result.connection.client[1]
        left_out = [c for c in sidecar["calls"] if c not in connection_calls(sidecar, result.connection)]
        assert left_out and all(
            (c["call"].startswith("accept(") and not c["result"].endswith(f"from port {port}"))
            or (c["call"].startswith("bind(") and not c["call"].endswith(f":{port})"))
            for c in left_out
        ), left_out


def test_an_untagged_socket_that_named_other_ends_is_another_connection_s() -> None:
    """nonblocking-connect, recorded before the tags: the refused connect() to port 5001
    (#1) drew the listener's bind(127.0.0.1:5000), listen() and accept() of #0 beside its
    server, and #0 the second client's socket() and connect(127.0.0.1:5001)."""
    pcap = UNTAGGED_DIR / "nonblocking-connect.pcap"
    sidecar = load_sidecar(pcap.with_name("nonblocking-connect.sidecar.json"))
    first, refused = analyze_file(str(pcap), sidecar=sidecar).connections
    texts = [c["call"] for c in connection_calls(sidecar, refused.connection)]
    assert "connect(127.0.0.1:5001)" in texts and "getsockopt(SO_ERROR)" in texts
    assert not any(t.startswith(("bind(", "listen(", "accept(", "connect(127.0.0.1:5000)")) for t in texts), (
        texts
    )
    texts = [c["call"] for c in connection_calls(sidecar, first.connection)]
    assert "bind(127.0.0.1:5000)" in texts and "accept()" in texts and "connect(127.0.0.1:5000)" in texts
    assert "connect(127.0.0.1:5001)" not in texts and texts.count("socket(SOCK_STREAM)") == 2


def test_an_older_socket_s_calls_after_a_newer_socket_stay_its_own() -> None:
    """A reviewer's case: the client opens a second socket, which connects elsewhere and is
    refused, then sends and closes on its first: those calls are the first connection's."""
    calls: list[CallRecord] = []
    for offset, call, result in [(0.0, "socket(SOCK_STREAM)", "fd 3"), (0.1, "connect(127.0.0.1:5000)", "ok"),
                                 (0.2, "socket(SOCK_STREAM)", "fd 4"), (0.3, "connect(127.0.0.1:5001)", "ECONNREFUSED"),
                                 (0.4, "close()", "ok"), (0.5, "sendall(b'x')", "ok"), (0.6, "close()", "ok")]:  # fmt: skip
        calls.append({"time": 100.0 + offset, "end_time": 100.0 + offset, "side": "client", "call": call,
                      "result": result, "errno": None})  # fmt: skip
    ends = (("127.0.0.1", 40000), ("127.0.0.1", 5000))
    shown = [c["call"] for c in calls_on(calls, ends, 100.1, 100.7)]
    assert shown == ["socket(SOCK_STREAM)", "connect(127.0.0.1:5000)", "socket(SOCK_STREAM)", "close()",
                     "sendall(b'x')", "close()"]  # fmt: skip


@pytest.mark.parametrize("pcap", [UNTAGGED, TAGGED], ids=["untagged", "tagged"])
def test_a_ladders_margins_hold_the_calls_on_its_own_sockets(pcap: Path) -> None:
    sidecar = load_sidecar(pcap.with_name(pcap.stem + ".sidecar.json"))
    analysis = analyze_file(str(pcap), sidecar=sidecar)
    ports = {r.connection.id: r.connection.client[1] for r in analysis.connections}
    assert len(ports) == 3 and 40001 in ports.values()
    for result in analysis.connections:
        fig = figure(result, sidecar, analysis.stats.origin)
        drawn = _margins(fig)
        plt.close(fig)
        margins = [text for _side, text in drawn]
        connects = [t for t in margins if t.startswith("connect(")]
        accepts = [t for t in margins if t.startswith("accept()")]
        client_sockets = [t for side, t in drawn if side == "client" and t.startswith("socket(")]
        port = ports[result.connection.id]
        if pcap is UNTAGGED:  # the clients' calls name only the listener: all theirs; an accept() its port
            assert (len(connects), len(client_sockets)) == (3, 3)
            assert all(a.endswith(f"from port {port}") for a in accepts), accepts
            continue
        assert len(connects) == 1 and len(client_sockets) == 1, margins
        # The reset one was never accepted; the others show the accept() that returned them.
        expected = [] if port == 40001 else [f"from port {port}"]
        assert [a[a.index("from port") :] for a in accepts] == expected, margins
        assert ("bind(127.0.0.1:40001)" in margins) == (port == 40001)
        assert ("recv(1024) → ECONNRESET" in margins) == (port == 40001)
        assert margins.count("close() listener") == 1 and "listen(1)" in margins
        # The Mermaid text of the same connection takes the same calls.
        text = mermaid(result, sidecar, analysis.stats.origin)
        assert text.count("connect(") == 1 and text.count("accept()") == len(expected)


def test_a_tagged_recording_reads_and_says_whose_each_call_is() -> None:
    sidecar = load_sidecar(TAGGED.with_name("backlog-abort.sidecar.json"))
    assert all("socket" in call for call in sidecar["calls"])
    accepts = [call for call in sidecar["calls"] if call["call"] == "accept()"]
    assert len(accepts) == 2 and all(call.get("accepted", {}).get("peer") for call in accepts)
    assert json.loads(TAGGED.with_name("backlog-abort.sidecar.json").read_text())["calls"] == sidecar["calls"]


def test_the_tagged_ladders_stand_clear() -> None:
    """Fewer calls in the margins leave the kernel's marks and the states on rows of their own:
    the layout checks of every stored ladder hold on these too."""
    from test_diagram_layout import lines_through_texts, marks_on_lines_or_texts, overlapping_labels

    sidecar = load_sidecar(TAGGED.with_name("backlog-abort.sidecar.json"))
    analysis = analyze_file(str(TAGGED), sidecar=sidecar)
    for result in analysis.connections:
        fig = figure(result, sidecar, analysis.stats.origin)
        problems = overlapping_labels(fig), lines_through_texts(fig), marks_on_lines_or_texts(fig)
        plt.close(fig)
        assert problems == ([], [], []), result.connection.id


def test_the_report_page_draws_each_accept_on_its_own_connection_only() -> None:
    from analyzer.output.html_report import html_report

    page = html_report(
        analyze_file(str(TAGGED), sidecar=load_sidecar(TAGGED.with_name("backlog-abort.sidecar.json")))
    )
    accepted = [call["accepted"] for call in load_sidecar(TAGGED.with_name("backlog-abort.sidecar.json"))["calls"]
                if "accepted" in call]  # fmt: skip
    ports = [tag["peer"].rpartition(":")[2] for tag in accepted if tag["peer"]]
    assert len(ports) == 2
    for port in ports:  # three ladders on the page, the accept() of each client on one of them
        assert page.count(f"from port {port}") == 1
