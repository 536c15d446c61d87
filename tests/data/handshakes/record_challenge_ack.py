"""Record challenge-ack-linux.pcap: RFC 5961's challenge ACK as the Linux kernel makes it, on
loopback in a network namespace of its own (root, tcpdump, nft, unshare).

    sudo .venv/bin/python tests/data/handshakes/record_challenge_ack.py

A client connects to a listener on 127.0.0.1:8080 from port 40000 and sends 5 bytes. It
then forgets the connection without a word: an nft rule drops its RST while it closes with
SO_LINGER {on, 0}, so the server still holds the connection, ESTABLISHED. The client binds
port 40000 again and connects: the server answers the SYN with a challenge ACK, the client
(SYN_SENT) answers that with a RST at the ACK's acknowledgment number, which resets the
stale connection (its recv() raises ECONNRESET), and sends its SYN again TCP_TIMEOUT_MIN
(two jiffies) later: the listener takes it. 5 bytes, then the client closes.

Recorded once and kept: the times and ISNs are the kernel's, a second run differs.
"""

from __future__ import annotations

import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

OUT = Path(__file__).resolve().parent / "challenge-ack-linux.pcap"
DROP_CLIENT_RST = b"""table inet challenge {
  chain out {
    type filter hook output priority 0;
    tcp sport 40000 tcp flags rst drop
  }
}
"""


def client() -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 40000))
    return sock


def inside(out: str) -> None:
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    dump = subprocess.Popen(
        ["tcpdump", "-i", "lo", "-U", "-w", out, "tcp port 8080"], stderr=subprocess.DEVNULL
    )
    time.sleep(1.0)
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 8080))
    listener.listen(5)
    first = client()
    first.connect(("127.0.0.1", 8080))
    stale, _ = listener.accept()
    first.sendall(b"hello")
    stale.recv(100)
    time.sleep(0.2)
    subprocess.run(["nft", "-f", "-"], input=DROP_CLIENT_RST, check=True)
    first.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    first.close()  # its RST dropped: the server still holds the connection
    time.sleep(0.2)
    subprocess.run(["nft", "delete", "table", "inet", "challenge"], check=True)
    time.sleep(0.5)
    second = client()
    second.connect(("127.0.0.1", 8080))
    fresh, _ = listener.accept()
    second.sendall(b"again")
    assert fresh.recv(100) == b"again"
    try:
        stale.recv(100)
        raise SystemExit("the stale connection was not reset")
    except ConnectionResetError:
        pass
    second.close()
    fresh.close()
    stale.close()
    time.sleep(0.5)
    dump.terminate()
    dump.wait()


if __name__ == "__main__":
    if sys.argv[1:2] == ["--inside"]:
        inside(sys.argv[2])
    else:
        subprocess.run(["unshare", "--net", sys.executable, __file__, "--inside", str(OUT)], check=True)
        print(f"wrote {OUT}")
