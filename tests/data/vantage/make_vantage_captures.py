"""Write the captures of issue 17 item 2 (where a connection was captured) into this folder
and EXPECTED.tsv from what was measured, the kernel's own states included.

    .venv/bin/python tests/data/vantage/make_vantage_captures.py            # crafted ones only
    sudo .venv/bin/python tests/data/vantage/make_vantage_captures.py --record   # and the recorded ones

Crafted (scapy, deterministic: fixed times, ISNs and TTLs): a SYN scan of three ports captured
at the scanner (its TTL 64 untouched, the target's worn to 52), one port answered by SYN/ACK
and reset by the scanner's kernel, one answered by SYN/ACK three times and never answered (a
scanner whose RSTs are filtered), one refused; and the same scan captured between the two
(TTLs 59 and 55).

Recorded (root, ip netns, nft, tcpdump): four namespaces of our own, client - r1 - r2 - server,
joined by veth pairs, r1 and r2 forwarding (so each hop takes one from the TTL); tcpdump runs
on ONE end's interface (the client's, the server's, or r1's towards r2: between). Nothing
leaves these namespaces (10.77.0.0/16, no route elsewhere); they are deleted even on failure.
- completed-at-{client,server,between}: connect, 5 bytes each way, the client closes first,
  then the server;
- fin-lost-at-client: captured at the client; after the echo an nft rule in the SERVER's
  namespace drops the client's FIN, and the capture stops 150 ms after close(), before any
  resend: the file holds a FIN that never reached its receiver;
- fin-lost-at-server: the same the other way round: the server closes, the client's
  namespace drops its FIN, captured at the server;
- syn-scan-at-scanner: scapy in the client's namespace sends SYNs from a raw socket to an
  open and a closed port; the client's kernel, which has no socket for them, resets the
  SYN/ACK.
Times and ISNs are the kernel's: a second run gives other bytes, so they are kept in git.
After each recording `ss` in both end namespaces gives the kernel's state of the 4-tuple,
written to EXPECTED.tsv (kernel_client, kernel_server; "-" for no socket, i.e. CLOSED).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

HERE = Path(__file__).resolve().parent
PY = sys.executable
SERVER_PORT = 8080
CLOSED_PORT = 8081
CLIENT_IP, SERVER_IP = "10.77.1.1", "10.77.3.2"
COLUMNS = ("file", "vantage", "client_final", "server_final", "kernel_client", "kernel_server")

# ---------------------------------------------------------------------------------------------
# Crafted


def _scan_packets(scanner_ttl: int, target_ttl: int, synack: str, rst: str) -> list:
    """The scan of three ports; `synack`, `rst`: when port 22's SYN/ACK and the scanner's RST
    answering it are captured."""
    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import Ether

    scanner, target = "192.0.2.10", "198.51.100.20"
    packets = []

    def add(at: str, from_scanner: bool, sport: int, dport: int, flags: str, seq: int, ack: int = 0) -> None:
        ip = IP(src=scanner, dst=target, ttl=scanner_ttl) if from_scanner else IP(src=target, dst=scanner,
                                                                                  ttl=target_ttl)  # fmt: skip
        packet = (
            Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
            / ip
            / TCP(
                sport=sport,
                dport=dport,
                flags=flags,
                seq=seq,
                ack=ack,
                window=1024 if from_scanner else 64240,
            )
        )
        packet.time = Decimal(1700000000) + Decimal(at)
        packets.append(packet)

    # Port 22: open; the scanner's kernel resets the SYN/ACK (RST at its ack number).
    add("0.000000", True, 61000, 22, "S", 1000)
    add(synack, False, 22, 61000, "SA", 5000, 1001)
    add(rst, True, 61000, 22, "R", 1001)
    # Port 80: open; the scanner's RSTs filtered: the target resends its SYN/ACK.
    add("0.000100", True, 61000, 80, "S", 1000)
    add("0.030100", False, 80, 61000, "SA", 7000, 1001)
    add("1.030100", False, 80, 61000, "SA", 7000, 1001)
    add("3.030100", False, 80, 61000, "SA", 7000, 1001)
    # Port 23: closed.
    add("0.000200", True, 61000, 23, "S", 1000)
    add("0.030200", False, 23, 61000, "RA", 0, 1001)
    return sorted(packets, key=lambda p: p.time)


def crafted() -> list[tuple[str, ...]]:
    from scapy.utils import wrpcap

    rows = []
    # (name, scanner's TTL, target's TTL, SYN/ACK's arrival, the scanner's RST's): at the scanner
    # its kernel's RST follows the SYN/ACK at once; between, both legs take part of the 30 ms.
    for name, scanner_ttl, target_ttl, synack, rst in (
        ("syn-scan-crafted-at-scanner", 64, 52, "0.030000", "0.030050"),
        ("syn-scan-crafted-between", 59, 55, "0.012000", "0.030000"),
    ):
        path = HERE / f"{name}.pcap"
        wrpcap(str(path), _scan_packets(scanner_ttl, target_ttl, synack, rst))
        rows.append((path.name, "", "", "", "-", "-"))
    return rows


# ---------------------------------------------------------------------------------------------
# Recorded in network namespaces

NAMES = ("client", "r1", "r2", "server")


class Namespaces:
    """client - r1 - r2 - server, each a named network namespace of ours, deleted on exit."""

    def __init__(self) -> None:
        tag = os.getpid()
        self.ns = {name: f"hsvtg-{name}-{tag}" for name in NAMES}

    def run(self, name: str, *command: str, **kwargs) -> subprocess.CompletedProcess:
        return subprocess.run(["ip", "netns", "exec", self.ns[name], *command], check=True, **kwargs)

    def popen(self, name: str, *command: str, **kwargs) -> subprocess.Popen:
        return subprocess.Popen(["ip", "netns", "exec", self.ns[name], *command], **kwargs)

    def __enter__(self) -> Namespaces:
        try:
            for ns in self.ns.values():
                subprocess.run(["ip", "netns", "add", ns], check=True)
            # (namespace, interface, address) at both ends of each veth pair
            links = (
                (("client", "c0", "10.77.1.1/24"), ("r1", "r1a", "10.77.1.2/24")),
                (("r1", "r1b", "10.77.2.1/24"), ("r2", "r2a", "10.77.2.2/24")),
                (("r2", "r2b", "10.77.3.1/24"), ("server", "s0", "10.77.3.2/24")),
            )
            for (ns_a, if_a, ip_a), (ns_b, if_b, ip_b) in links:
                subprocess.run(["ip", "link", "add", if_a, "netns", self.ns[ns_a], "type", "veth",
                                "peer", "name", if_b, "netns", self.ns[ns_b]], check=True)  # fmt: skip
                for ns, interface, address in ((ns_a, if_a, ip_a), (ns_b, if_b, ip_b)):
                    self.run(ns, "ip", "addr", "add", address, "dev", interface)
                    self.run(ns, "ip", "link", "set", interface, "up")
            for ns in self.ns:
                self.run(ns, "ip", "link", "set", "lo", "up")
            for router in ("r1", "r2"):
                self.run(router, "sysctl", "-qw", "net.ipv4.ip_forward=1")
            self.run("client", "ip", "route", "add", "default", "via", "10.77.1.2")
            self.run("server", "ip", "route", "add", "default", "via", "10.77.3.1")
            self.run("r1", "ip", "route", "add", "10.77.3.0/24", "via", "10.77.2.2")
            self.run("r2", "ip", "route", "add", "10.77.1.0/24", "via", "10.77.2.1")
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *_exc: object) -> None:
        for ns in self.ns.values():
            subprocess.run(["ip", "netns", "delete", ns], stderr=subprocess.DEVNULL, check=False)


CAPTURE_AT = {"client": ("client", "c0"), "server": ("server", "s0"), "between": ("r1", "r1b")}

# What runs inside a namespace: python -c with these.
SERVE = """
import socket, sys, time
mode = sys.argv[1]
listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("{server}", {port}))
listener.listen(5)
print("listening", flush=True)
conn, _ = listener.accept()
conn.sendall(conn.recv(100))
if mode == "server-closes":
    sys.stdin.readline()
    conn.close()
    time.sleep(3)
else:
    conn.settimeout(3)
    try:
        while conn.recv(100):
            pass
    except OSError:
        pass
    if mode == "completed":
        conn.close()
    time.sleep(3)
"""

CONNECT = """
import socket, sys, time
mode, port = sys.argv[1], int(sys.argv[2])
sock = socket.socket()
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
sock.bind(("{client}", port))
sock.connect(("{server}", {sport}))
sock.sendall(b"hello")
assert sock.recv(100) == b"hello"
print("echoed", flush=True)
sys.stdin.readline()
if mode == "server-closes":
    time.sleep(3)
else:
    sock.close()
    time.sleep(3)
"""

SCAN = """
from scapy.all import IP, TCP, send, conf
conf.verb = 0
for dport in ({open}, {closed}):
    send(IP(dst="{server}") / TCP(sport=40100, dport=dport, flags="S", seq=1000))
"""


def _socket_state(nets: Namespaces, side: str, local: str, peer: str) -> str:
    out = nets.run(side, "ss", "-tanH", stdout=subprocess.PIPE, text=True).stdout
    for line in out.splitlines():
        fields = line.split()
        if len(fields) >= 5 and fields[3] == local and fields[4] == peer:
            return fields[0]
    return "-"


def _ss_name(state: str) -> str:
    return {"ESTAB": "ESTABLISHED", "FIN-WAIT-1": "FIN_WAIT_1", "FIN-WAIT-2": "FIN_WAIT_2",
            "CLOSE-WAIT": "CLOSE_WAIT", "TIME-WAIT": "TIME_WAIT", "LAST-ACK": "LAST_ACK",
            "SYN-SENT": "SYN_SENT", "SYN-RECV": "SYN_RCVD", "CLOSING": "CLOSING"}.get(state, state)  # fmt: skip


class Capture:
    def __init__(self, nets: Namespaces, at: str, path: Path) -> None:
        ns, interface = CAPTURE_AT[at]
        self.process = nets.popen(ns, "tcpdump", "-i", interface, "--immediate-mode", "-U", "-n", "-w", str(path), "tcp",
                                  stderr=subprocess.DEVNULL)  # fmt: skip
        time.sleep(1.0)  # tcpdump is listening by then

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def _exchange(nets: Namespaces, name: str, at: str, mode: str, port: int, drop: tuple[str, str] | None,
              tail: float, folder: Path = HERE) -> tuple[str, ...]:  # fmt: skip
    """One connection from CLIENT_IP:port; `drop`: (namespace, nft rule for its input chain) put in
    after the echo; `tail`: how long the capture runs on after the close."""
    path = folder / f"{name}.pcap"
    capture = Capture(nets, at, path)
    serve = SERVE.format(server=SERVER_IP, port=SERVER_PORT)
    server = nets.popen(
        "server", PY, "-c", serve, mode, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    client = None
    dropping = False
    try:
        assert server.stdout is not None and server.stdout.readline().strip() == "listening"
        connect = CONNECT.format(client=CLIENT_IP, server=SERVER_IP, sport=SERVER_PORT)
        client = nets.popen("client", PY, "-c", connect, mode, str(port), stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)  # fmt: skip
        assert client.stdout is not None and client.stdout.readline().strip() == "echoed"
        time.sleep(0.05)
        if drop is not None:
            ns, rule = drop
            table = f"table inet vantage {{\n chain input {{\n  type filter hook input priority 0;\n  {rule}\n }}\n}}\n"
            nets.run(ns, "nft", "-f", "-", input=table, text=True)
            dropping = True
        closer = server if mode == "server-closes" else client
        assert closer.stdin is not None
        closer.stdin.write("close\n")
        closer.stdin.flush()
        time.sleep(tail)
        capture.stop()
        local, peer = f"{CLIENT_IP}:{port}", f"{SERVER_IP}:{SERVER_PORT}"
        kernel_client = _ss_name(_socket_state(nets, "client", local, peer))
        kernel_server = _ss_name(_socket_state(nets, "server", peer, local))
    finally:
        for process in (client, server):
            if process is not None:
                process.kill()
                process.wait()
        if drop is not None and dropping:
            nets.run(drop[0], "nft", "delete", "table", "inet", "vantage")
        if capture.process.poll() is None:
            capture.stop()
    return (path.name, "", "", "", kernel_client, kernel_server)


def _scan(nets: Namespaces) -> tuple[str, ...]:
    path = HERE / "syn-scan-at-scanner.pcap"
    capture = Capture(nets, "client", path)
    server = nets.popen("server", PY, "-c", SERVE.format(server=SERVER_IP, port=SERVER_PORT), "completed",
                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert server.stdout is not None and server.stdout.readline().strip() == "listening"
        nets.run("client", PY, "-c", SCAN.format(open=SERVER_PORT, closed=CLOSED_PORT, server=SERVER_IP))
        time.sleep(0.5)
        capture.stop()
        kernel_client = _ss_name(
            _socket_state(nets, "client", f"{CLIENT_IP}:40100", f"{SERVER_IP}:{SERVER_PORT}")
        )
        kernel_server = _ss_name(
            _socket_state(nets, "server", f"{SERVER_IP}:{SERVER_PORT}", f"{CLIENT_IP}:40100")
        )
    finally:
        server.kill()
        server.wait()
        if capture.process.poll() is None:
            capture.stop()
    return (path.name, "", "", "", kernel_client, kernel_server)


def record_fin_lost_at_client(folder: Path) -> tuple[str, ...]:
    """fin-lost-at-client.pcap recorded again into `folder` (for a live test)."""
    with Namespaces() as nets:
        return _exchange(nets, "fin-lost-at-client", "client", "client-closes", 40011,
                         ("server", f"tcp dport {SERVER_PORT} tcp flags & fin == fin drop"), 0.15, folder)  # fmt: skip


def recorded() -> list[tuple[str, ...]]:
    rows = []
    with Namespaces() as nets:
        for number, at in enumerate(("client", "server", "between")):
            rows.append(_exchange(nets, f"completed-at-{at}", at, "completed", 40001 + number, None, 0.3))
        rows.append(_exchange(nets, "fin-lost-at-client", "client", "client-closes", 40011,
                              ("server", f"tcp dport {SERVER_PORT} tcp flags & fin == fin drop"), 0.15))  # fmt: skip
        rows.append(_exchange(nets, "fin-lost-at-server", "server", "server-closes", 40012,
                              ("client", f"tcp sport {SERVER_PORT} tcp flags & fin == fin drop"), 0.15))  # fmt: skip
        rows.append(_scan(nets))
    return rows


# ---------------------------------------------------------------------------------------------


def with_analysis(row: tuple[str, ...]) -> tuple[str, ...]:
    """The analyzer's vantage and final states of the file's first connection, as measured now
    (the tests hold it to these)."""
    sys.path.insert(0, str(HERE.parents[2]))
    from analyzer.analysis import analyze_file

    [first, *_] = analyze_file(str(HERE / row[0])).connections
    finals = [first.states[side][-1][1].value if first.states[side] else "-" for side in ("client", "server")]
    point = first.vantage.point if first.vantage is not None else "-"
    return (row[0], point, *finals, *row[4:])


def main() -> None:
    rows = {}
    expected = HERE / "EXPECTED.tsv"
    if expected.exists():  # keep the recorded rows when only the crafted ones are made again
        for line in expected.read_text().splitlines()[1:]:
            fields = tuple(line.split("\t"))
            rows[fields[0]] = fields
    for row in crafted() + (recorded() if "--record" in sys.argv else []):
        rows[row[0]] = row
    # Our columns measured again on every file (the kernel's are kept from when it was recorded).
    rows = {name: with_analysis(row) for name, row in rows.items()}
    lines = ["\t".join(COLUMNS)] + ["\t".join(rows[name]) for name in sorted(rows)]
    expected.write_text("\n".join(lines) + "\n")
    print(expected.read_text(), end="")


if __name__ == "__main__":
    main()
