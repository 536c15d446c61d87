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
    # connect() gives up one more (doubled) timeout after the last SYN.
    assert connect["end_time"] > c["handshake"]["syn_times"][-1]


FACTS = {
    "refused": check_refused,
    "handshake": check_handshake,
    "syn-timeout": check_syn_timeout,
    "syn-timeout-linear-off": check_syn_timeout,
}


def check_scenario_facts(analysis: dict, sidecar: dict) -> None:
    FACTS[sidecar["scenario"]](analysis, sidecar)
