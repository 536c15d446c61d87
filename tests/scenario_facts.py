"""What each scenario must show, asserted on a live capture and on every stored replay.

The expectations come from the scenario's own parameters and the kernel settings
recorded in its sidecar, so a capture made on another kernel is judged by that
kernel's rules, never by numbers copied from one run.
"""

from __future__ import annotations

import pytest


def _calls(sidecar: dict, side: str, prefix: str) -> list[dict]:
    return [c for c in sidecar["calls"] if c["side"] == side and c["call"].startswith(prefix)]


def _only_connection(analysis: dict, sidecar: dict) -> dict:
    assert len(analysis["connections"]) == 1, analysis["connections"]
    connection = analysis["connections"][0]
    assert connection["family"] == sidecar["family"]
    assert connection["server"]["port"] == sidecar["facts"]["server_port"]
    return connection


def _states(connection: dict, side: str) -> list[str]:
    return [state for _time, state in connection["states"][side]]


def check_refused(analysis: dict, sidecar: dict) -> None:
    c = _only_connection(analysis, sidecar)
    assert c["handshake"]["status"] == "refused"
    assert len(c["handshake"]["syn_times"]) == 1
    assert [(r["sender"], r["cause"], r["state"]) for r in c["resets"]] == [("server", "refused", "CLOSED")]
    assert _states(c, "client") == ["CLOSED", "SYN_SENT", "CLOSED"]
    [connect] = _calls(sidecar, "client", "connect(")
    assert connect["errno"] == "ECONNREFUSED"
    # The application learns of the refusal only after the RST was on the wire.
    assert connect["end_time"] >= c["resets"][0]["time"] >= c["handshake"]["syn_times"][0]


def check_handshake(analysis: dict, sidecar: dict) -> None:
    c = _only_connection(analysis, sidecar)
    handshake = c["handshake"]
    assert handshake["status"] == "complete"
    assert handshake["checks"] and all(check["ok"] for check in handshake["checks"])
    assert 0 < handshake["rtt"] < 0.1
    assert c["close"] == {
        "first_fin": "client",
        "shape": "four-way",
        "time_wait": "client",
        "explanation": c["close"]["explanation"],
        "ending": "four-way",
        "reset_frame": None,
        "unacknowledged_fins": [],
        "time_wait_ended_frame": None,
        "missed_fins": [],
        "unseen_tail": None,
    }
    assert c["resets"] == []
    assert _states(c, "client") == [
        "CLOSED", "SYN_SENT", "ESTABLISHED", "FIN_WAIT_1", "FIN_WAIT_2", "TIME_WAIT",
    ]  # fmt: skip
    assert _states(c, "server") == [
        "LISTEN", "SYN_RCVD", "ESTABLISHED", "CLOSE_WAIT", "LAST_ACK", "CLOSED",
    ]  # fmt: skip
    echoed = [call["result"] for call in _calls(sidecar, "client", "recv(")]
    assert echoed == ["b'hello' (5 bytes)"]
    client = f"{c['client']['port']}"
    kernel = _kernel_states_by_call(sidecar, client)
    # While only the client has closed, the kernel holds FIN_WAIT_2 and CLOSE_WAIT ...
    assert kernel["sleep"] == {"client": "FIN_WAIT_2", "server": "CLOSE_WAIT"}
    # ... and once the server has closed too, the client holds TIME_WAIT.
    assert kernel["close() listener"]["client"] == "TIME_WAIT"


def _kernel_states_by_call(sidecar: dict, client_port: str) -> dict[str, dict[str, str]]:
    """For each call (first word), the kernel's state of the client's and the server's socket."""
    result = {}
    for snapshot in sidecar["snapshots"]:
        call = sidecar["calls"][snapshot["after_call"]]["call"]
        key = "close() listener" if call == "close() listener" else call.split("(")[0]
        states = {}
        for sock in snapshot["sockets"]:
            if sock["local"].endswith(f":{client_port}"):
                states["client"] = sock["state"]
            elif sock["peer"].endswith(f":{client_port}"):
                states["server"] = sock["state"]
        result[key] = states
    return result


def check_syn_timeout(analysis: dict, sidecar: dict) -> None:
    c = _only_connection(analysis, sidecar)
    assert c["handshake"]["status"] == "no_answer"
    assert c["resets"] == [] and c["states"]["server"] == []
    [connect] = _calls(sidecar, "client", "connect(")
    assert connect["errno"] == "ETIMEDOUT"
    backoff = c["backoff"]
    intervals = backoff["intervals"]
    linear = int(sidecar["sysctls"].get("net.ipv4.tcp_syn_linear_timeouts") or 0)
    syncnt = sidecar["parameters"]["tcp_syncnt"]
    assert len(intervals) >= syncnt
    assert backoff["initial_rto"] == pytest.approx(1.0, rel=0.15)
    if linear:
        # Linux 6.5+: the first retransmissions come 1 s apart.
        assert all(i == pytest.approx(1.0, rel=0.15) for i in intervals[:linear])
        assert backoff["pattern"] in ("linear", "linear-then-exponential")
    else:
        assert len(intervals) == syncnt
        assert intervals == pytest.approx([2.0**k for k in range(syncnt)], rel=0.15)
        assert backoff["pattern"] == "exponential"
        assert backoff["factor"] == pytest.approx(2.0, rel=0.1)
    assert "the recorded kernel settings" in backoff["matches"]
    # connect() gives up one more (doubled) timeout after the last SYN.
    assert connect["end_time"] > c["handshake"]["syn_times"][-1]


def _kernel_views(sidecar: dict, client_port: int) -> list[dict[str, str]]:
    """Per snapshot, the kernel's state of this connection's client and server sockets."""
    views = []
    for snapshot in sidecar["snapshots"]:
        view = {}
        for sock in snapshot["sockets"]:
            if sock["local"].endswith(f":{client_port}"):
                view["client"] = sock["state"]
            elif sock["peer"].endswith(f":{client_port}"):
                view["server"] = sock["state"]
        views.append(view)
    return views


def _complete_then(analysis: dict, sidecar: dict, first_fin: str, shape: str, time_wait: str | None) -> dict:
    c = _only_connection(analysis, sidecar)
    assert c["handshake"]["status"] == "complete"
    assert (c["close"]["first_fin"], c["close"]["shape"], c["close"]["time_wait"]) == (
        first_fin,
        shape,
        time_wait,
    )
    return c


def check_server_close(analysis: dict, sidecar: dict) -> None:
    c = _complete_then(analysis, sidecar, "server", "four-way", "server")
    assert c["resets"] == []
    views = _kernel_views(sidecar, c["client"]["port"])
    assert {"client": "CLOSE_WAIT", "server": "FIN_WAIT_2"} in views
    assert _states(c, "server")[-1] == "TIME_WAIT"


def check_half_open_states(analysis: dict, sidecar: dict) -> None:
    c = _complete_then(analysis, sidecar, "client", "four-way", "client")
    views = _kernel_views(sidecar, c["client"]["port"])
    # Held for seconds, and seen held more than once (snapshots during the wait too).
    assert views.count({"client": "FIN_WAIT_2", "server": "CLOSE_WAIT"}) >= 3


def check_half_close(analysis: dict, sidecar: dict) -> None:
    _complete_then(analysis, sidecar, "client", "half-close", "client")
    calls = sidecar["calls"]
    shutdown = next(i for i, call in enumerate(calls) if call["call"] == "shutdown(SHUT_WR)")
    response = [
        call for call in calls[shutdown:] if call["side"] == "client" and call["call"].startswith("recv(")
    ]
    assert response[0]["result"].endswith(f"({sidecar['facts']['response_bytes']} bytes)")
    assert sidecar["facts"]["response_bytes"] > 0


def check_simultaneous_close(analysis: dict, sidecar: dict) -> None:
    # Which FIN left first is a matter of microseconds; that both crossed is not.
    first = analysis["connections"][0]["close"]["first_fin"]
    assert first in ("client", "server")
    c = _complete_then(analysis, sidecar, first, "simultaneous", "both")
    for side in ("client", "server"):
        assert _states(c, side)[-3:] == ["FIN_WAIT_1", "CLOSING", "TIME_WAIT"]
    views = _kernel_views(sidecar, c["client"]["port"])
    # Both FINs in flight at once: the kernel held both ends in FIN_WAIT_1 together,
    # then each had the other's FIN and not the ACK of its own: CLOSING together.
    assert {"client": "FIN_WAIT_1", "server": "FIN_WAIT_1"} in views
    assert {"client": "CLOSING", "server": "CLOSING"} in views
    assert {"client": "TIME_WAIT", "server": "TIME_WAIT"} in views
    [delivered] = [call for call in sidecar["calls"] if call["call"].startswith("deliver ")]
    assert delivered["result"] == "2 delivered"


def _one_reset(analysis: dict, sidecar: dict) -> tuple[dict, tuple]:
    c = _only_connection(analysis, sidecar)
    assert c["handshake"]["status"] == "complete"
    [reset] = c["resets"]
    return c, (reset["sender"], reset["state"], reset["cause"])


def check_linger_reset(analysis: dict, sidecar: dict) -> None:
    c, reset = _one_reset(analysis, sidecar)
    assert reset == ("client", "ESTABLISHED", "linger_abort")
    assert c["close"]["shape"] == "reset"
    assert [call["errno"] for call in _calls(sidecar, "server", "recv(")][-1] == "ECONNRESET"


def check_unread_close(analysis: dict, sidecar: dict) -> None:
    c, reset = _one_reset(analysis, sidecar)
    assert reset == ("client", "ESTABLISHED", "unread_data")
    assert c["close"]["shape"] == "reset" and _calls(sidecar, "client", "recv(") == []


def check_data_after_close(analysis: dict, sidecar: dict) -> None:
    c, reset = _one_reset(analysis, sidecar)
    assert reset == ("client", "FIN_WAIT_2", "data_after_close")
    assert (c["close"]["first_fin"], c["close"]["shape"]) == ("client", "fin-then-reset")


def check_process_exit(analysis: dict, sidecar: dict) -> None:
    c = _complete_then(analysis, sidecar, "client", "four-way", "client")
    assert c["resets"] == []
    [exit_call] = _calls(sidecar, "client", "exit(0) without close()")
    # The FIN comes from the kernel once the process is gone: after its last call.
    fin_time = next(t for t, s in c["states"]["client"] if s == "FIN_WAIT_1")
    assert fin_time >= exit_call["time"]


def _by_client_port(analysis: dict, port: int) -> dict:
    return next(c for c in analysis["connections"] if c["client"]["port"] == port)


def check_backlog(analysis: dict, sidecar: dict) -> None:
    first, queued = analysis["connections"]
    assert queued["client"]["port"] == sidecar["facts"]["queued_client_port"]
    assert first["backoff"]["intervals"] == []
    assert queued["handshake"]["status"] == first["handshake"]["status"] == "complete"
    # Dropped while the queue was full (2.5 s), then accepted: at least two retransmissions.
    assert len(queued["backoff"]["intervals"]) >= 2
    assert queued["backoff"]["initial_rto"] == pytest.approx(1.0, rel=0.15)
    accept = next(call for call in sidecar["calls"] if call["call"] == "accept()")
    assert queued["handshake"]["synack_times"][0] > accept["end_time"]
    views = _kernel_views(sidecar, queued["client"]["port"])
    assert {"client": "SYN_SENT"} in views


def check_backlog_abort(analysis: dict, sidecar: dict) -> None:
    assert sidecar["sysctls"]["net.ipv4.tcp_abort_on_overflow"] == "1"
    assert len(analysis["connections"]) == 3
    resets = [
        (c["client"]["port"], r["sender"], r["state"], r["cause"])
        for c in analysis["connections"]
        for r in c["resets"]
    ]
    assert resets == [(sidecar["facts"]["reset_client_port"], "server", "SYN_RCVD", "accept_queue_overflow")]
    held = _by_client_port(analysis, sidecar["facts"]["reset_client_port"])
    assert len(held["synack_backoff"]["intervals"]) >= 1
    assert {"client": "ESTABLISHED", "server": "SYN_RCVD"} in _kernel_views(sidecar, held["client"]["port"])
    assert [call["errno"] for call in _calls(sidecar, "client", "recv(")] == ["ECONNRESET"]


def check_sticky(analysis: dict, sidecar: dict) -> None:
    c = _complete_then(analysis, sidecar, "client", "four-way", "client")
    facts = sidecar["facts"]
    assert facts["first_recv"] == "".join(facts["sent"])
    assert facts["framed"] == facts["sent"]
    assert any(
        f"{len(facts['sent'])} send()s of the client glued together" in f for f in analysis["application"]
    )
    assert c["resets"] == []


def check_udp(analysis: dict, sidecar: dict) -> None:
    assert analysis["connections"] == []
    [flow] = analysis["udp"]
    assert flow["server"]["port"] == sidecar["facts"]["server_port"]
    to_server = [d["length"] for d in flow["datagrams"] if d["sender"] == "client"]
    sent = [len(m) for m in sidecar["parameters"]["messages"]]
    assert to_server[: len(sent)] == sent
    # Each recvfrom() returned exactly one datagram: the boundaries were kept.
    received = [c["result"] for c in _calls(sidecar, "server", "recvfrom(")]
    assert [int(r.split("(")[1].split()[0]) for r in received] == sent
    assert any("boundaries kept" in f for f in flow["findings"])
    [refusal] = flow["unreachable"]
    assert refusal["answers_frame"] == flow["datagrams"][-1]["frame"]
    assert _calls(sidecar, "client", "recv(")[-1]["errno"] == "ECONNREFUSED"
    assert any("ECONNREFUSED" in f and "ICMP port unreachable" in f for f in analysis["application"])


def _diagnoses(connection: dict, kind: str) -> list[dict]:
    return [d for d in connection["diagnoses"] if d["kind"] == kind]


def check_close_wait_leak(analysis: dict, sidecar: dict) -> None:
    c = _complete_then(analysis, sidecar, "client", "one-fin", None)
    assert sidecar["facts"]["eof"] == ""  # the server read the end of the stream ...
    assert _states(c, "server")[-1] == "CLOSE_WAIT" and _states(c, "client")[-1] == "FIN_WAIT_2"
    # ... and the kernel still held its socket in CLOSE_WAIT at the last snapshot.
    views = [view for view in _kernel_views(sidecar, c["client"]["port"]) if view]
    assert views[-1] == {"client": "FIN_WAIT_2", "server": "CLOSE_WAIT"}
    [held] = _diagnoses(c, "close_wait_held")
    assert "at least" in held["sentence"] and "the server" in held["sentence"]
    seconds = float(held["sentence"].split("at least ")[1].split(" s ")[0])
    assert seconds >= sidecar["parameters"]["held_seconds"]
    assert c["resets"] == []


def check_fin_wait_2_timeout(analysis: dict, sidecar: dict) -> None:
    c = _complete_then(analysis, sidecar, "client", "four-way", None)
    # Both FINs, but the client's RST answered the server's: the close never completed.
    assert (c["close"]["ending"], c["close"]["reset_frame"]) == ("fin-then-reset", c["resets"][0]["frame"])
    assert sidecar["facts"]["fin_wait_2_expired"] is True
    assert [(r["sender"], r["cause"], r["state"]) for r in c["resets"]] == [
        ("client", "fin_wait_2_expired", "CLOSED")
    ]
    assert _states(c, "client")[-2:] == ["FIN_WAIT_2", "CLOSED"]
    (entered, _), (ended, _) = c["states"]["client"][-2:]
    timeout = int(sidecar["sysctls"]["net.ipv4.tcp_fin_timeout"])
    # The timer's move: tcp_fin_timeout after FIN_WAIT_2 began (the sidecar says how long).
    assert ended - entered == pytest.approx(timeout, abs=0.01)
    assert ended <= c["resets"][0]["time"]
    assert _diagnoses(c, "fin_wait_2_expired") and _diagnoses(c, "close_wait_held")


def check_listener_close(analysis: dict, sidecar: dict) -> None:
    connections = analysis["connections"]
    assert sorted(c["client"]["port"] for c in connections) == sorted(sidecar["facts"]["client_ports"])
    for c in connections:
        assert c["handshake"]["status"] == "complete"
        assert [(r["sender"], r["cause"], r["state"]) for r in c["resets"]] == [
            ("server", "listener_closed", "ESTABLISHED")
        ]
        assert _states(c, "server") == ["LISTEN", "SYN_RCVD", "ESTABLISHED", "CLOSED"]
    [close] = _calls(sidecar, "server", "close() listener")
    assert all(c["resets"][0]["time"] >= close["time"] for c in connections)
    assert not _calls(sidecar, "server", "accept(")
    assert [call["errno"] for call in _calls(sidecar, "client", "recv(")] == ["ECONNRESET"] * len(connections)


def check_recv_timeout(analysis: dict, sidecar: dict) -> None:
    c = _complete_then(analysis, sidecar, "client", "four-way", "client")
    [timed_out] = [call for call in _calls(sidecar, "client", "recv(") if call["errno"]]
    assert timed_out["errno"] == "TimeoutError"
    assert timed_out["end_time"] - timed_out["time"] >= sidecar["parameters"]["recv_timeout"]
    assert any("TimeoutError" in f and "nothing on the wire meanwhile" in f for f in analysis["application"])
    # Nothing of this connection moved while recv() waited: no state change in between.
    changes = [change["time"] for change in c["state_changes"]]
    assert not [t for t in changes if timed_out["time"] < t < timed_out["end_time"]]


def check_nonblocking_connect(analysis: dict, sidecar: dict) -> None:
    made, refused = analysis["connections"]
    assert made["handshake"]["status"] == "complete" and made["close"]["shape"] == "four-way"
    assert refused["handshake"]["status"] == "refused"
    assert refused["server"]["port"] == sidecar["facts"]["closed_port"]
    connects = _calls(sidecar, "client", "connect(")
    assert [call["result"] for call in connects] == ["EINPROGRESS", "EINPROGRESS"]
    assert [call["result"] for call in _calls(sidecar, "client", "select(")] == ["writable", "writable"]
    assert [call["result"] for call in _calls(sidecar, "client", "getsockopt(SO_ERROR)")] == [
        "0",
        "ECONNREFUSED",
    ]
    assert sidecar["facts"]["so_error"] == ["0", "ECONNREFUSED"]
    # select() returned once the handshake was over (loopback may finish it within connect()).
    assert _calls(sidecar, "client", "select(")[0]["end_time"] >= made["handshake"]["synack_times"][0]
    assert refused["resets"][0]["time"] < _calls(sidecar, "client", "select(")[1]["end_time"]


def check_nagle(analysis: dict, sidecar: dict) -> None:
    c = _complete_then(analysis, sidecar, "client", "four-way", "client")
    pieces = sidecar["parameters"]["pieces"]
    facts = sidecar["facts"]
    assert facts["nagle_recv"] == facts["nodelay_recv"] == "".join(pieces)
    nagle, nodelay = [f for f in analysis["application"] if "glued together" in f]
    # With Nagle on, the sender glued them on the wire; with TCP_NODELAY only the receiver did.
    assert f"{len(pieces)} send()s" in nagle and "the sender glued them" in nagle
    assert int(nagle.split("they were ")[1].split(" segments")[0]) < len(pieces)
    assert "each was a segment of its own" in nodelay
    assert len(nodelay.split("(frames ")[1].split(")")[0].split(", ")) == len(pieces)
    assert c["resets"] == [] and c["sequence"]["counts"] == {}


def check_lossy_transfer(analysis: dict, sidecar: dict) -> None:
    c = _complete_then(analysis, sidecar, "client", "four-way", "client")
    facts, parameters = sidecar["facts"], sidecar["parameters"]
    assert facts["received_intact"] and facts["received_bytes"] == facts["sent_bytes"] == parameters["bytes"]
    assert facts["reply"] == "received"
    every = parameters["drop_every"]
    assert any(f"numgen inc mod {every} == {every - 1} drop" in rule for rule in sidecar["firewall"])
    assert c["resets"] == []
    events = c["kernel"]["events"]
    if events is None:
        return  # no kernel recorder here: what it would prove is not known
    drops, resent = events["drops"], events["retransmissions"]
    # About one data segment in `every` never taken in (a resend counts too), each sent again:
    # the kernel's own account, every resend one the analysis found (none it did not).
    data_segments = parameters["bytes"] // (parameters["mtu"] - 60)
    assert data_segments // every - 1 <= len(drops) <= data_segments // every + 2
    assert {d["reason"] for d in drops} == {"NETFILTER_DROP"} and {d["sender"] for d in drops} == {"client"}
    assert len(resent) >= len(drops) - 1 and all(r["side"] == "client" for r in resent)
    assert events["disagreements"] == []
    # Wireshark calls a resend within 3 ms of the highest segment "out of order", a later
    # one a retransmission; the two together are the resends.
    counts = c["sequence"]["counts"]
    assert counts.get("retransmission", 0) + counts.get("out_of_order", 0) == len(resent)


def check_udp_truncation(analysis: dict, sidecar: dict) -> None:
    assert analysis["connections"] == []
    [flow] = analysis["udp"]
    facts = sidecar["facts"]
    # On the wire each datagram whole; at the receiver the first cut to the buffer.
    assert [d["length"] for d in flow["datagrams"]] == facts["sent"]
    assert facts["received"] == [sidecar["parameters"]["buffer"], facts["sent"][1]]
    assert facts["truncated"] == [True, False]
    results = [call["result"] for call in _calls(sidecar, "server", "recvfrom(")]
    assert "MSG_TRUNC" in results[0] and "MSG_TRUNC" not in results[1]


def check_keepalive(analysis: dict, sidecar: dict) -> None:
    c = _only_connection(analysis, sidecar)
    assert c["handshake"]["status"] == "complete"
    assert [(r["sender"], r["cause"], r["state"]) for r in c["resets"]] == [
        ("client", "keep_alive_timeout", "ESTABLISHED")
    ]
    params = sidecar["parameters"]
    [probing] = _diagnoses(c, "keep_alive")
    answered = int(probing["sentence"].split("; ")[1].split(" answered")[0])
    probes = c["sequence"]["counts"]["keep_alive"]
    # Answered while the server could answer, then exactly KEEPCNT unanswered before the RST.
    assert answered >= 1 and probes - answered == params["keep_count"]
    assert f"the last {params['keep_count']} got no answer" in probing["sentence"]
    assert "output: " in sidecar["firewall"][0]  # silenced on output: not in the capture
    [timed_out] = [call for call in _calls(sidecar, "client", "recv(") if call["errno"]]
    assert timed_out["errno"] == "ETIMEDOUT" and timed_out["end_time"] >= c["resets"][0]["time"]


def check_time_wait_reuse(analysis: dict, sidecar: dict) -> None:
    old, new = analysis["connections"]
    port = sidecar["facts"]["client_port"]
    assert old["client"]["port"] == new["client"]["port"] == port
    assert (old["close"]["first_fin"], old["close"]["time_wait"]) == ("server", "server")
    # Its TIME_WAIT held until the new SYN, which ended it (no frame of the old connection's).
    assert _states(old, "server")[-2:] == ["TIME_WAIT", "CLOSED"]
    assert old["states"]["server"][-1][0] == new["handshake"]["syn_times"][0]
    assert old["close"]["time_wait_ended_frame"] == old["packets"] + 1
    # The TIME_WAIT socket took the newer SYN: a new connection on the same 4-tuple ...
    assert new["reuses_ports_of"] == old["id"] and new["handshake"]["status"] == "complete"
    assert _states(new, "server")[:3] == ["LISTEN", "SYN_RCVD", "ESTABLISHED"]
    # ... its ISN above what the old one used (Linux takes the SYN only then, or with a later
    # timestamp), and the server's new ISN the old one's next plus 65537 (tcp_timewait_state_process).
    old_client_end = (old["handshake"]["client_isn"] + 2) % (1 << 32)
    assert 0 < (new["handshake"]["client_isn"] - old_client_end) % (1 << 32) < 1 << 31
    assert new["handshake"]["server_isn"] == (old["handshake"]["server_isn"] + 2 + 65537) % (1 << 32)
    views = [view for view in _kernel_views(sidecar, port) if view.get("server") == "TIME_WAIT"]
    assert views  # the kernel held the server's TIME_WAIT before the new SYN


def check_syn_cookies(analysis: dict, sidecar: dict) -> None:
    assert sidecar["sysctls"]["net.ipv4.tcp_syncookies"] == "2"
    connections = analysis["connections"]
    assert sorted(c["client"]["port"] for c in connections) == sorted(sidecar["facts"]["client_ports"])
    events = sidecar.get("kernel_events") or []
    for c in connections:
        assert c["handshake"]["status"] == "complete" and c["close"]["shape"] == "four-way"
        assert c["resets"] == []
        if not events:
            continue  # recorded without the kernel recorder: the packets alone cannot tell a cookie
        # No request socket: no SYN/ACK of one left, and the server's socket was born from the
        # cookie the client's ACK brought back, after the SYN/ACK had gone.
        [born] = [
            m
            for m in c["kernel"]["events"]["state_changes"]
            if (m["side"], m["state"]) == ("server", "SYN_RCVD")
        ]
        assert born["kernel_event"] == "LISTEN->SYN_RECV"
        assert born["kernel_time"] > c["handshake"]["synack_times"][0]
    # Recorded with the kernel recorder (a stored capture's sidecar always is): no SYN/ACK of
    # a request socket; without it the packets alone cannot tell a cookie.
    assert not [e for e in events if e["kind"] == "request_synack"]


FACTS = {
    "refused": check_refused,
    "handshake": check_handshake,
    "syn-timeout": check_syn_timeout,
    "syn-timeout-linear-off": check_syn_timeout,
    "server-close": check_server_close,
    "half-open-states": check_half_open_states,
    "half-close": check_half_close,
    "simultaneous-close": check_simultaneous_close,
    "linger-reset": check_linger_reset,
    "unread-close": check_unread_close,
    "data-after-close": check_data_after_close,
    "process-exit": check_process_exit,
    "backlog": check_backlog,
    "backlog-abort": check_backlog_abort,
    "sticky": check_sticky,
    "udp": check_udp,
    "close-wait-leak": check_close_wait_leak,
    "fin-wait-2-timeout": check_fin_wait_2_timeout,
    "listener-close": check_listener_close,
    "recv-timeout": check_recv_timeout,
    "nonblocking-connect": check_nonblocking_connect,
    "nagle": check_nagle,
    "lossy-transfer": check_lossy_transfer,
    "udp-truncation": check_udp_truncation,
    "keepalive": check_keepalive,
    "time-wait-reuse": check_time_wait_reuse,
    "syn-cookies": check_syn_cookies,
}


def check_scenario_facts(analysis: dict, sidecar: dict) -> None:
    FACTS[sidecar["scenario"]](analysis, sidecar)
