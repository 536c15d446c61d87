"""Record the real-socket captures in this folder: what the Linux kernel itself does when a
peer goes silent, a receiver stops reading, data is lost at the tail, and TCP travels in a
real VXLAN tunnel. Root, tcpdump, nft, ip, unshare and nsenter:

    sudo .venv/bin/python tests/data/real_sockets/record_real_sockets.py [OUT_DIR]

Each capture is made in network namespaces of its own (`unshare --net`): they vanish with
the processes in them, even after a failure or SIGKILL, and the host's sysctls and ruleset
are never touched (the nft rules live in the namespace's own ruleset). tcpdump runs with a
short snaplen so that the stored files stay a few KB; the IP lengths still count every byte.

- keepalive.pcap: SO_KEEPALIVE with TCP_KEEPIDLE=1, TCP_KEEPINTVL=1, TCP_KEEPCNT=3 on the
  client; the server answers 3 probes, then an nft rule drops everything to the server
  (the peer gone): 3 probes unanswered and the client's RST (the keep-alive timeout).
- zero-window.pcap: the server's SO_RCVBUF is 2048 and it does not read for 2 s while the
  client sends 24 KB: its window falls to zero, the client's persist timer sends window
  probes, then the server reads everything and opens the window.
- tail-loss-probe.pcap: two tail losses of one 100-byte request each, on a connection that
  negotiated SACK: (1) the request dropped for 100 ms: the kernel's loss probe resends it
  and the ACK that follows covers it (a loss repaired); (2) the server's ACK dropped for
  100 ms: the probe reaches a server that had the data, whose ACK carries a DSACK (a
  spurious probe).
- rto-backoff.pcap: every segment to the server dropped for 3.5 s while the client sends
  100 bytes: the loss probe, then the RTO's retransmissions, doubling, until the rule goes.
- vxlan.pcap: two namespaces joined by a veth pair, a VXLAN device (id 42, port 4789) on
  each end over it; a connection between the VXLAN addresses, captured on the veth: TCP
  inside VXLAN inside UDP.

EXPECTED.json says what each scenario did (the facts a test checks the analysis against)
and tshark's counts of its TCP packets, SYNs, SYN/ACKs, FINs and RSTs, measured here.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))  # run as a script from anywhere: the analyzer beside it
from analyzer.capture.namespace import die_with_parent  # noqa: E402

SNAPLEN = "96"  # Ethernet, IP, TCP with options: the headers and a few bytes of data
SERVER_PORT = 8080


def _nft(ruleset: str) -> None:
    subprocess.run(["nft", "-f", "-"], input=ruleset.encode(), check=True)


def _drop(name: str, match: str) -> None:
    """A rule on input: tcpdump on lo still sees the packet, its receiver never gets it."""
    _nft(
        f"table inet {name} {{\n chain input {{\n  type filter hook input priority 0;\n  {match} drop\n }}\n}}\n"
    )


def _undrop(name: str) -> None:
    subprocess.run(["nft", "delete", "table", "inet", name], check=True)


class _Capture:
    def __init__(self, interface: str, out: Path, expression: str, snaplen: str = SNAPLEN) -> None:
        self.process = subprocess.Popen(
            # Immediate mode: without it the last packets wait in the kernel's ring buffer
            # for libpcap's timeout, and are lost when tcpdump stops.
            [
                "tcpdump",
                "-i",
                interface,
                "-s",
                snaplen,
                "-U",
                "--immediate-mode",
                "-Z",
                "root",
                "-w",
                str(out),
                expression,
            ],
            stderr=subprocess.DEVNULL,
            # Ended with this process whatever happens to it: a tcpdump left behind would
            # keep the namespace alive.
            preexec_fn=lambda: die_with_parent(signal.SIGTERM),
        )
        time.sleep(1.0)  # tcpdump needs a moment before it captures

    def stop(self) -> None:
        time.sleep(0.5)
        self.process.send_signal(signal.SIGINT)
        self.process.wait(timeout=10)


def _pair(client_port: int, rcvbuf: int = 0) -> tuple[socket.socket, socket.socket, socket.socket]:
    """A listener on 127.0.0.1:8080, a client from `client_port`, and the accepted socket."""
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if rcvbuf:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)  # inherited by accept()
    listener.bind(("127.0.0.1", SERVER_PORT))
    listener.listen(5)
    client = socket.socket()
    client.bind(("127.0.0.1", client_port))
    client.connect(("127.0.0.1", SERVER_PORT))
    server, _ = listener.accept()
    return listener, client, server


def keepalive(out: Path) -> dict:
    capture = _Capture("lo", out, f"tcp port {SERVER_PORT}")
    listener, client, server = _pair(40001)
    client.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    client.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 1)
    client.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 1)
    client.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 3)
    client.sendall(b"ping")
    assert server.recv(100) == b"ping"
    server.sendall(b"pong")
    assert client.recv(100) == b"pong"
    time.sleep(3.6)  # idle 1 s, then a probe every second, each answered
    _drop("gone", f"tcp dport {SERVER_PORT}")
    client.settimeout(10)
    try:
        client.recv(100)
        raise SystemExit("the keep-alive timeout did not end the connection")
    except OSError as error:
        ended = errno.errorcode.get(error.errno or 0, str(error))
    capture.stop()
    for sock in (client, server, listener):
        sock.close()
    return {"prober": "client", "keepidle": 1, "keepintvl": 1, "keepcnt": 3, "client_error": ended}


def zero_window(out: Path) -> dict:
    capture = _Capture("lo", out, f"tcp port {SERVER_PORT}")
    listener, client, server = _pair(40002, rcvbuf=2048)
    sent = b"x" * 24_000
    client.setblocking(False)
    done = 0
    stall_until = time.monotonic() + 2.0
    while time.monotonic() < stall_until:  # the server does not read: its window fills
        try:
            done += client.send(sent[done:])
        except BlockingIOError:
            time.sleep(0.01)
    client.setblocking(True)
    received = 0
    server.settimeout(5)
    while received < len(sent):
        if done < len(sent):
            client.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                done += client.send(sent[done:])
        received += len(server.recv(65536))
    client.close()
    server.close()
    listener.close()
    capture.stop()
    return {"stalled_receiver": "server", "rcvbuf": 2048, "stalled_for": 2.0, "bytes": len(sent)}


def _counters() -> dict[str, int]:
    """The namespace's own counters of loss probes (what the kernel says it did)."""
    names = ["TcpExtTCPLossProbes", "TcpExtTCPLossProbeRecovery", "TcpExtTCPDSACKRecv", "TcpExtTCPTimeouts"]
    rows = subprocess.run(["nstat", "-az", *names], capture_output=True, text=True, check=True).stdout
    found = {line.split()[0]: int(line.split()[1]) for line in rows.splitlines()[1:] if line.strip()}
    return {name: found.get(name, 0) for name in names}


def _request(client: socket.socket, server: socket.socket, data: bytes) -> None:
    client.sendall(data)
    got = b""
    while len(got) < len(data):
        got += server.recv(65536)


def tail_loss_probe(out: Path) -> dict:
    """Two connections, one tail loss each; the kernel's counters read after each."""
    capture = _Capture("lo", out, f"tcp port {SERVER_PORT}")
    episodes = {}
    for port, rule, match in ((40003, "request", f"tcp dport {SERVER_PORT} meta length > 100"),
                              (40005, "answer", f"tcp sport {SERVER_PORT}")):  # fmt: skip
        listener, client, server = _pair(port)
        for _ in range(5):  # a few round trips: the client's SRTT is measured
            _request(client, server, b"r" * 100)
            server.sendall(b"a" * 10)
            client.recv(100)
        time.sleep(0.2)
        before = _counters()
        _drop(rule, match)
        client.sendall(b"1" * 100)
        time.sleep(0.1)
        _undrop(rule)
        got = server.recv(65536)
        time.sleep(0.5)
        after = _counters()
        episodes[str(port)] = {
            "dropped": f"{'the request' if rule == 'request' else 'the ACK'} for 100 ms",
            "received": len(got),
            "kernel_counters": {name: after[name] - before[name] for name in after},
        }
        for sock in (client, server, listener):
            sock.close()
        time.sleep(0.2)
    capture.stop()
    return {"sender": "client", "client_ports": episodes}


def rto_backoff(out: Path) -> dict:
    capture = _Capture("lo", out, f"tcp port {SERVER_PORT}")
    listener, client, server = _pair(40004)
    _request(client, server, b"r" * 100)
    time.sleep(0.2)
    _drop("silence", f"tcp dport {SERVER_PORT}")
    client.sendall(b"d" * 100)
    time.sleep(3.5)
    _undrop("silence")
    server.settimeout(10)
    got = server.recv(65536)
    client.close()
    server.close()
    listener.close()
    capture.stop()
    return {"sender": "client", "dropped_for": 3.5, "received": len(got), "kernel_counters": _counters()}


def _in(pid: int, *command: str) -> None:
    subprocess.run(["nsenter", f"--net=/proc/{pid}/ns/net", *command], check=True)


def vxlan(out: Path) -> dict:
    """This namespace is A; a child in a namespace of its own is B (gone when it exits)."""
    peer = subprocess.Popen(
        ["unshare", "--net", "sleep", "60"], preexec_fn=lambda: die_with_parent(signal.SIGKILL)
    )
    try:
        time.sleep(0.3)
        subprocess.run(["ip", "link", "add", "va", "type", "veth", "peer", "name", "vb", "netns", str(peer.pid)],
                       check=True)  # fmt: skip
        for pid, here, there, veth, inner in ((0, "192.0.2.1", "192.0.2.2", "va", "10.42.0.1"),
                                              (peer.pid, "192.0.2.2", "192.0.2.1", "vb", "10.42.0.2")):  # fmt: skip

            def ip(*args: str, pid: int = pid) -> None:
                if pid:
                    _in(pid, "ip", *args)
                else:
                    subprocess.run(["ip", *args], check=True)

            ip("link", "set", "lo", "up")
            ip("addr", "add", f"{here}/24", "dev", veth)
            ip("link", "set", veth, "up")
            ip("link", "add", "vx0", "type", "vxlan", "id", "42", "local", here, "remote", there,
               "dstport", "4789", "dev", veth)  # fmt: skip
            ip("addr", "add", f"{inner}/24", "dev", "vx0")
            ip("link", "set", "vx0", "up")
        # The outer headers (Ethernet, IP, UDP, VXLAN) take 50 bytes more.
        capture = _Capture("va", out, "udp port 4789", snaplen="150")
        server = subprocess.Popen(
            ["nsenter", f"--net=/proc/{peer.pid}/ns/net", sys.executable, "-c", _ECHO_SERVER]
        )
        time.sleep(1.0)
        client = socket.create_connection(("10.42.0.2", SERVER_PORT), timeout=5)
        client.sendall(b"hello through vxlan")
        answer = client.recv(100)
        client.close()
        server.wait(timeout=10)
        capture.stop()
    finally:
        peer.kill()
        peer.wait()
    return {"tunnel": "VXLAN", "vni": 42, "answer": answer.decode()}


_ECHO_SERVER = f"""
import signal
import socket
listener = socket.socket()
listener.bind(("10.42.0.2", {SERVER_PORT}))
listener.listen(1)
conn, _ = listener.accept()
conn.sendall(conn.recv(100))
conn.recv(100)
conn.close()
"""

SCENARIOS: dict[str, Callable[[Path], dict]] = {
    "keepalive.pcap": keepalive,
    "zero-window.pcap": zero_window,
    "tail-loss-probe.pcap": tail_loss_probe,
    "rto-backoff.pcap": rto_backoff,
    "vxlan.pcap": vxlan,
}


def tshark_counts(path: Path) -> dict:
    """tshark's count of the file's TCP packets and of its SYNs, SYN/ACKs, FINs and RSTs."""
    rows = subprocess.run(
        ["tshark", "-n", "-r", str(path), "-Y", "tcp", "-T", "fields", "-e", "tcp.flags"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    flags = [int(row, 16) for row in rows]
    return {
        "tcp_packets": len(flags),
        "syn": sum(1 for f in flags if f & 0x12 == 0x02),
        "syn_ack": sum(1 for f in flags if f & 0x12 == 0x12),
        "fin": sum(1 for f in flags if f & 0x01),
        "rst": sum(1 for f in flags if f & 0x04),
    }


def main(argv: list[str]) -> int:
    if argv[:1] == ["--inside"]:
        name, out = argv[1], Path(argv[2])
        subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
        facts = SCENARIOS[name](out)
        Path(str(out) + ".facts.json").write_text(json.dumps(facts))
        return 0
    out_dir = Path(argv[0]) if argv else HERE
    out_dir.mkdir(parents=True, exist_ok=True)
    expected = {}
    for name in SCENARIOS:
        out = out_dir / name
        subprocess.run(["unshare", "--net", sys.executable, __file__, "--inside", name, str(out)], check=True)
        facts_file = Path(str(out) + ".facts.json")
        facts = json.loads(facts_file.read_text())
        facts_file.unlink()
        expected[name] = {"did": facts, "tshark": tshark_counts(out)}
        print(f"wrote {out} ({os.path.getsize(out)} bytes)")
    (out_dir / "EXPECTED.json").write_text(json.dumps(expected, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
