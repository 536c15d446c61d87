"""The kernel's own view of its TCP sockets, read with `ss -tan` inside the namespace."""

from __future__ import annotations

import subprocess

from analyzer.sidecar import SocketState

# ss prints the kernel's names; the analyzer speaks RFC 9293's.
SS_STATES = {
    "ESTAB": "ESTABLISHED",
    "SYN-SENT": "SYN_SENT",
    "SYN-RECV": "SYN_RCVD",
    "FIN-WAIT-1": "FIN_WAIT_1",
    "FIN-WAIT-2": "FIN_WAIT_2",
    "TIME-WAIT": "TIME_WAIT",
    "UNCONN": "CLOSED",
    "CLOSE-WAIT": "CLOSE_WAIT",
    "LAST-ACK": "LAST_ACK",
    "LISTEN": "LISTEN",
    "CLOSING": "CLOSING",
}


def parse_ss(output: str) -> list[SocketState]:
    sockets: list[SocketState] = []
    for line in output.splitlines():
        fields = line.split()
        if len(fields) < 5:
            continue
        state, recv_q, send_q, local, peer = fields[:5]
        sockets.append(
            {
                "state": SS_STATES.get(state, state),
                "local": local,
                "peer": peer,
                "recv_q": int(recv_q) if recv_q.isdigit() else None,
                "send_q": int(send_q) if send_q.isdigit() else None,
            }
        )
    return sockets


def tcp_socket_states() -> list[SocketState]:
    result = subprocess.run(["ss", "-tanH"], capture_output=True, text=True, check=True)
    return parse_ss(result.stdout)
