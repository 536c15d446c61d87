"""The kernel recorder's reading of bpftrace: lines recorded on this machine (kernel 6.18,
bpftrace 0.17: `refused` then `handshake`, IPv4 then IPv6, in one namespace) turned into
the sidecar's kernel_events; reason names read from the kernel's tracepoint formats."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import ROOT

from analyzer.capture import kernel_trace
from analyzer.capture.kernel_trace import ReasonNames, parse_line, parse_output, reason_names, script

DATA = ROOT / "tests" / "data" / "kernel_trace"
SAMPLE = (DATA / "refused-and-handshake.bpftrace.txt").read_text().splitlines(keepends=True)
OFFSET_NS = 1_796_119_949_359_678_835  # REALTIME - BOOTTIME, as measured beside the sample


def _names() -> ReasonNames:
    return ReasonNames(
        rst=reason_names((DATA / "tcp_send_reset.format").read_text()),
        drop=reason_names((DATA / "kfree_skb.format").read_text()),
    )


def _parsed() -> kernel_trace.ParsedOutput:
    # The kernel's per-CPU buffers are read in turn: lines may come out of order.
    lines = list(SAMPLE)
    lines[5], lines[9] = lines[9], lines[5]
    return parse_output(lines, OFFSET_NS, _names())


def test_reason_names_are_read_from_the_kernels_formats() -> None:
    rst = reason_names((DATA / "tcp_send_reset.format").read_text())
    assert rst[1] == "NO_SOCKET" and rst[11] == "TCP_ABORT_ON_CLOSE" and rst[14] == "TCP_STATE"
    # Drop reasons are renumbered between kernels: read, never written down.
    drop = reason_names((DATA / "kfree_skb.format").read_text())
    assert drop[3] == "NO_SOCKET" and drop[12] == "NETFILTER_DROP" and drop[40] == "TCP_LISTEN_OVERFLOW"
    # The state table of the same format is not taken for reasons.
    assert "TCP_ESTABLISHED" not in rst.values()
    assert reason_names(None) == {} and reason_names("no symbols here") == {}


def test_every_event_line_is_read_and_ordered_by_the_kernels_stamp() -> None:
    parsed = _parsed()
    assert parsed.counted == 38 == len(parsed.events)
    assert parsed.lost_reported == 0 and parsed.other == []
    # One marker when attached, then one from each CPU (2 here) at the end.
    assert parsed.begin_ns == 66868511964276 and len(parsed.markers_ns) == 3
    stamps = [event["boottime_ns"] for event in parsed.events]
    assert stamps == sorted(stamps)
    assert parsed.markers_ns[0] < stamps[0] and stamps[-1] < parsed.markers_ns[1]
    for event in parsed.events:
        assert event["time"] == (event["boottime_ns"] + OFFSET_NS) / 1e9
    assert {e["family"] for e in parsed.events[:19]} == {4} and {e["family"] for e in parsed.events[19:]} == {
        6
    }


def test_refused_the_clients_syn_sent_to_close_and_the_reset_with_its_reason() -> None:
    events = _parsed().events[:5]
    assert [e["kind"] for e in events] == [
        "set_state",
        "send_reset",
        "kfree_skb",
        "receive_reset",
        "set_state",
    ]
    opened, reset, dropped, received, closed = events
    assert (opened["old_state"], opened["new_state"], opened["dport"]) == ("CLOSE", "SYN_SENT", 5555)
    # Sent for the port nobody listens on: no socket, its ends those of the SYN reversed.
    assert reset["socket"] is None and reset["state"] is None and reset["reason"] == "NO_SOCKET"
    client_port = closed["sport"]
    assert (reset["src"], reset["sport"], reset["dst"], reset["dport"]) == (
        "127.0.0.1",
        5555,
        "127.0.0.1",
        client_port,
    )
    assert (dropped["reason"], dropped["flags"], dropped["socket"], dropped["state"]) == (
        "NO_SOCKET",
        "SYN",
        None,
        None,
    )
    assert (dropped["sport"], dropped["dport"]) == (client_port, 5555)
    assert received["socket"] == opened["socket"] == closed["socket"] and received["state"] == "SYN_SENT"
    assert (closed["old_state"], closed["new_state"]) == ("SYN_SENT", "CLOSE")
    # The error its connect() is given, set before the change: the RST refused it.
    assert closed["socket_error"] == "ECONNREFUSED" and opened["socket_error"] is None


def test_handshake_states_of_both_ends_the_request_socket_and_the_fin_at_time_wait() -> None:
    events = [e for e in _parsed().events if e["family"] == 6]
    changes = [(e["socket"], e["old_state"], e["new_state"]) for e in events if e["kind"] == "set_state"]
    # A socket's address is reused once it is freed: the refused client's became the listener.
    listener = next(sock for sock, old, new in changes if new == "LISTEN")
    client = next(
        sock for sock, old, new in changes if (old, new) == ("CLOSE", "SYN_SENT") and sock != listener
    )
    server = next(sock for sock, old, new in changes if (old, new) == ("LISTEN", "SYN_RECV"))
    assert [(o, n) for s, o, n in changes if s == client][1:] == [
        ("SYN_SENT", "ESTABLISHED"), ("ESTABLISHED", "FIN_WAIT1"), ("FIN_WAIT1", "FIN_WAIT2"), ("FIN_WAIT2", "CLOSE"),
    ]  # fmt: skip
    assert [(o, n) for s, o, n in changes if s == server] == [
        ("LISTEN", "SYN_RECV"), ("SYN_RECV", "ESTABLISHED"), ("ESTABLISHED", "CLOSE_WAIT"),
        ("CLOSE_WAIT", "LAST_ACK"), ("LAST_ACK", "CLOSE"),
    ]  # fmt: skip
    # The server's SYN_RECV before its child socket exists: the request socket's SYN/ACK.
    [synack] = [e for e in events if e["kind"] == "request_synack"]
    assert synack["state"] == "NEW_SYN_RECV" and (synack["src"], synack["sport"]) == ("::1", 5000)
    # The client handed its FIN_WAIT2 over without a FIN received; the server's FIN then
    # reaches the timewait socket, which is in TIME_WAIT proper by the time it frees it.
    handover = next(e for e in events if e["kind"] == "set_state" and e["old_state"] == "FIN_WAIT2")
    assert handover["sock_done"] is False
    [fin] = [e for e in events if e["kind"] == "kfree_skb"][1:]
    assert (fin["state"], fin["timewait_substate"], fin["flags"], fin["reason"]) == (
        "TIME_WAIT", "TIME_WAIT", "FIN/ACK", "NOT_SPECIFIED",
    )  # fmt: skip
    assert fin["socket"] not in (client, server) and fin["time"] > handover["time"]


def test_every_kind_of_line_and_what_is_not_an_event() -> None:
    names = ReasonNames(drop={3: "NO_SOCKET"})
    retransmit = parse_line("T 100 ffff1 2 715882926 2 0 1 127.0.0.1 40000 127.0.0.1 5000", 0, names)
    assert retransmit is not None and retransmit["kind"] == "retransmit_skb"
    assert (retransmit["state"], retransmit["seq"], retransmit["flags"], retransmit["error"], retransmit["segments"]) == (
        "SYN_SENT", 715882926, "SYN", 0, 1,
    )  # fmt: skip
    # A GSO packet of data resent whole: the segments it carried (the kernel's RetransSegs counts those).
    burst = parse_line("T 100 ffff1 1 9000 24 0 3 127.0.0.1 40000 127.0.0.1 5000", 0, names)
    assert burst is not None and (burst["flags"], burst["segments"]) == ("PSH/ACK", 3)
    synack = parse_line("Y 100 ffff1 ffff2 ::1 5000 ::1 40000", 0, names)
    assert synack is not None and (synack["socket"], synack["request"], synack["family"]) == (
        "ffff1",
        "ffff2",
        6,
    )
    abort = parse_line("R 100 ffff1 7 11 127.0.0.1 5000 127.0.0.1 40000", 0, names)
    assert abort is not None and (abort["state"], abort["reason"]) == ("CLOSE", "TCP_ABORT_ON_CLOSE")
    assert parse_line("R 100 ffff1 7 -1 127.0.0.1 5000 127.0.0.1 40000", 0, names)["reason"] is None  # type: ignore[index]
    assert parse_line("D 1 0 0 0 99 2 1 127.0.0.1 1 127.0.0.1 2", 0, names)["reason"] == "UNKNOWN(99)"  # type: ignore[index]
    for line in (
        "",
        "M 12",
        "@events: 3",
        "Lost 4 events",
        "S 1 ffff 7 2",
        "S x ffff 7 2 0 0 a 1 b 2",
        "S 1 ffff 7 2 0 a 1 b 2",  # the line of a script without sk_err
        "Q 1 2 3 4 5 6 7",
    ):
        assert parse_line(line, 0, names) is None
    parsed = parse_output(
        ["Attaching 9 probes...\n", "Lost 4 events\n", "WARNING: something\n", "@events: 9\n"], 0, names
    )
    assert (parsed.lost_reported, parsed.counted, parsed.other) == (4, 9, ["WARNING: something"])


def test_the_script_for_each_kernel() -> None:
    text = script()
    assert "@@" not in text and "args->reason" in text and "args->rx_sk" in text and "+ 40;" in text
    older = script(has_rst_reason=False, has_rx_sk=False)
    assert "args->rx_sk" not in older and "args->state, -1," in older


def test_without_bpftrace_it_says_why_in_a_few_words(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HANDSHAKE_BPFTRACE", "")
    assert kernel_trace.unavailable() == "turned off (HANDSHAKE_BPFTRACE is empty)"
    monkeypatch.setenv("HANDSHAKE_BPFTRACE", str(tmp_path / "no-bpftrace"))
    assert kernel_trace.unavailable() == "bpftrace is not installed ('make setup' as root installs it)"
    recorder = kernel_trace.KernelTrace(tmp_path / "x.pcap")
    recorder.start()
    assert not recorder.confirm()
    recorder.stop()
    info = recorder.info()
    assert not info["attached"] and info["why_not"] and "\n" not in info["why_not"]
    assert (info["events"], info["lost"], recorder.events) == (0, None, [])


def test_the_last_count_printed_holds_the_markers_when_end_is_late() -> None:
    names = ReasonNames()
    event = "S 7 ffff1 7 2 0 0 127.0.0.1 40000 127.0.0.1 5000"
    late = parse_output(["M 1\n", "@events: 0\n", event + "\n", "M 9\n", "@events: 1\n"], 0, names)
    assert (late.counted, len(late.events), late.markers_ns) == (1, 1, [1, 9])
    ended = parse_output(
        ["M 1\n", "@events: 0\n", event, "M 9\n", "@events: 1\n", event, "@events: 2"], 0, names
    )
    assert (ended.counted, len(ended.events)) == (2, 2)
