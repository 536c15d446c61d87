"""Real kernel traffic for the benchmark, recorded in a network namespace of its own.

`python -m analyzer.benchmark.real_mix PCAP` (as root) makes a private network namespace
(analyzer/capture/namespace.py: it ends with the process, so nothing on the host changes
and no packet leaves it), sets its loopback to an Ethernet-sized MTU with segmentation and
receive offloads off (so that the capture holds the segments TCP really sent, not 64 KB
ones), drops a random 0.5% of the segments to the bulk port on input (loss after the
capture point: the senders resend), and records with tcpdump while it runs:

- a few bulk uploads of hundreds of MB together (one over IPv6), each closed by its client;
- thousands of short request/response connections, closed by the server (HTTP/1.0-like),
  a quarter over IPv6;
- connects to a port nobody listens on (refused).

What it made goes beside the capture (`<pcap>.made.json`), with tcpdump's counters: a
recording from which the kernel dropped packets, or whose packets tcpdump did not all
write, fails. `record` runs it from the benchmark.
"""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final

from analyzer.capture.firewall import Firewall
from analyzer.capture.namespace import (
    end_the_others,
    enter_private_network_namespace,
    system_tool,
    wire_sized_loopback,
)
from analyzer.capture.recorder import Recorder
from analyzer.capture.run import missing_capabilities
from analyzer.errors import UserError

VERSION: Final = 1  # in the cached files' names: a change to the traffic or its recording needs a new one
MTU: Final = 1500
BULK_PORT: Final = 5001
SHORT_PORT: Final = 8080
REFUSED_PORT: Final = 9  # nothing listens there
BULK_FLOWS: Final = 4
BULK_BYTES: Final = 160 << 20  # each
BULK_IPV6: Final = {3}  # which of the bulk flows go over IPv6
SHORT_CONNECTIONS: Final = 20_000
REFUSED_EVERY: Final = 10  # a refused connect after every tenth short connection
IPV6_EVERY: Final = 4
RESPONSE_BYTES: Final = (200, 20_000)
LOSS_PER_THOUSAND: Final = 5
SNAPLEN: Final = 128
BUFFER_KIB: Final = 65536
# tcpdump without immediate mode hands over the kernel's buffer a block at a time, at the
# latest a second after the block began: wait that long after the traffic before stopping.
DRAIN_SECONDS: Final = 1.5
SOCKET_TIMEOUT: Final = 60.0  # no call of the traffic waits forever
TOOLS: Final = (("tcpdump", "tcpdump"), ("ethtool", "ethtool"), ("nft", "nftables"), ("ip", "iproute2"))
SEED: Final = 1


def skip_reason() -> str | None:
    """Why the recording cannot be made here, or None."""
    missing = missing_capabilities()
    if missing:
        return f"recording real traffic needs root (or {', '.join(missing)}): a network namespace, nftables, tcpdump"
    for tool, package in TOOLS:
        if system_tool(tool) is None:
            return f"recording real traffic needs {tool} (Debian package {package}: 'make setup' as root installs it)"
    return None


def made_path(pcap: Path) -> Path:
    return pcap.with_name(pcap.name + ".made.json")


def record(pcap: Path) -> int:
    """Record the traffic into `pcap` in a sandbox process; returns the packets captured.
    Raises UserError when the recording is incomplete (drops) or failed."""
    # The sandbox imports the analyzer this process imported: run it from that package's root.
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run([sys.executable, "-m", "analyzer.benchmark.real_mix", str(pcap)], cwd=root)
    if result.returncode != 0:
        raise UserError(f"recording real traffic failed (sandbox exit status {result.returncode})")
    return check_counters(json.loads(made_path(pcap).read_text()))


def check_counters(made: dict) -> int:
    """The packets a recording captured, once tcpdump's counters say it has them all."""
    recorder = made["tcpdump"]
    dropped, captured, received = (
        recorder[k] for k in ("dropped_by_kernel", "captured", "received_by_filter")
    )
    if dropped is None or captured is None or received is None:
        raise UserError(f"tcpdump did not report its counters: {' '.join(made['tcpdump_messages'])}")
    if dropped > 0:
        raise UserError(
            f"tcpdump reports {dropped:,} packets dropped by the kernel: the recording is incomplete"
        )
    # On loopback the kernel hands tcpdump each packet twice, leaving and arriving, and
    # libpcap keeps one: any other count left packets in the buffer, unwritten.
    if received != 2 * captured:
        raise UserError(
            f"tcpdump received {received:,} packets on loopback (each twice) but wrote "
            f"{captured:,}: the recording is incomplete"
        )
    return int(captured)


def _listener(port: int) -> socket.socket:
    """One socket for both families (IPv4 arrives mapped)."""
    return socket.create_server(("::", port), family=socket.AF_INET6, dualstack_ipv6=True)


def _address(family: int, port: int) -> tuple[str, int]:
    return ("::1" if family == 6 else "127.0.0.1"), port


def _serve(listener: socket.socket, handle: Callable[[socket.socket], None]) -> None:
    """Accept until the listener is closed; each connection handled in a thread of its own."""
    while True:
        try:
            connection, _peer = listener.accept()
        except OSError:
            return
        threading.Thread(target=handle, args=(connection,), daemon=True).start()


def _drain(connection: socket.socket) -> None:
    """The bulk receiver: reads to the end, then closes (after the client's FIN)."""
    buffer = bytearray(1 << 20)
    with connection:
        while connection.recv_into(buffer):
            pass


def _answer(connection: socket.socket) -> None:
    """The short server: reads a request line `SIZE\\n`, sends SIZE bytes and closes first."""
    with connection:
        request = b""
        while not request.endswith(b"\n"):
            piece = connection.recv(256)
            if not piece:
                return
            request += piece
        connection.sendall(bytes(int(request)))


def _upload(family: int, size: int) -> None:
    chunk = memoryview(bytes(1 << 18))
    with socket.create_connection(_address(family, BULK_PORT)) as connection:
        left = size
        while left:
            sent = min(left, len(chunk))
            connection.sendall(chunk[:sent])
            left -= sent
        connection.shutdown(socket.SHUT_WR)
        connection.recv(1)  # the server's FIN


def _short(family: int, size: int) -> None:
    with socket.socket(socket.AF_INET6 if family == 6 else socket.AF_INET) as connection:
        connection.connect(_address(family, SHORT_PORT))
        connection.sendall(b"%d\n" % size)
        while connection.recv(65536):
            pass


def _refused(family: int) -> None:
    with socket.socket(socket.AF_INET6 if family == 6 else socket.AF_INET) as connection:
        try:
            connection.connect(_address(family, REFUSED_PORT))
        except ConnectionRefusedError:
            return
    raise RuntimeError(f"a connect to port {REFUSED_PORT} was not refused")


def _traffic() -> dict:
    """Runs everything; what was made, for the check."""
    rng = random.Random(SEED)
    socket.setdefaulttimeout(SOCKET_TIMEOUT)
    bulk_listener, short_listener = _listener(BULK_PORT), _listener(SHORT_PORT)
    servers = [
        threading.Thread(target=_serve, args=(listener, handle), daemon=True)
        for listener, handle in ((bulk_listener, _drain), (short_listener, _answer))
    ]
    for server in servers:
        server.start()
    errors: list[BaseException] = []

    def upload(family: int) -> None:
        try:
            _upload(family, BULK_BYTES)
        except BaseException as error:  # reported by the main thread
            errors.append(error)

    uploads = [threading.Thread(target=upload, args=(6 if i in BULK_IPV6 else 4,)) for i in range(BULK_FLOWS)]
    for thread in uploads:
        thread.start()
    refused = 0
    for number in range(SHORT_CONNECTIONS):
        family = 6 if number % IPV6_EVERY == IPV6_EVERY - 1 else 4
        _short(family, rng.randint(*RESPONSE_BYTES))
        if number % REFUSED_EVERY == REFUSED_EVERY - 1:
            _refused(family)
            refused += 1
    for thread in uploads:
        thread.join()
    bulk_listener.close()
    short_listener.close()
    if errors:
        raise errors[0]
    return {
        "bulk": BULK_FLOWS,
        "bulk_bytes": BULK_FLOWS * BULK_BYTES,
        "short": SHORT_CONNECTIONS,
        "refused": refused,
        "loss_per_thousand": LOSS_PER_THOUSAND,
        "mtu": MTU,
    }


def _inside(pcap: Path) -> None:
    enter_private_network_namespace()
    wire_sized_loopback(MTU)
    network = Firewall()
    network.lose(BULK_PORT, LOSS_PER_THOUSAND)
    started = time.monotonic()
    try:
        with Recorder(pcap, snaplen=SNAPLEN, buffer_kib=BUFFER_KIB, immediate=False) as recorder:
            made = _traffic()
            time.sleep(DRAIN_SECONDS)
    finally:
        network.close()
        end_the_others()
    made["seconds"] = round(time.monotonic() - started, 1)
    made["firewall"] = network.rules
    made["tcpdump"] = recorder.stats.as_dict()
    made["tcpdump_messages"] = recorder.stats.messages
    made_path(pcap).write_text(json.dumps(made, indent=1) + "\n")


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m analyzer.benchmark.real_mix PCAP (as root)", file=sys.stderr)
        return 2
    try:
        _inside(Path(argv[0]))
    except (UserError, OSError, subprocess.CalledProcessError, RuntimeError) as error:
        print(f"real-mix: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        # The namespace, its rule and tcpdump end with this process: nothing to undo.
        print("real-mix: recording interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    code = main(sys.argv[1:])
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # the servers' threads never end of themselves
