"""The text says what each SYN offered: timestamps, SACK or window scaling turned off shows
nowhere else in it (a review's tcp_timestamps=0, tcp_sack=0, tcp_window_scaling=0 captures
read like a default one)."""

from __future__ import annotations

from pathlib import Path

from conftest import run
from pcap_builder import handshake_packets, write_capture


def test_each_syns_options_are_said_in_words(tmp_path: Path) -> None:
    pcap = write_capture(tmp_path / "options.pcap", handshake_packets())
    text = run("analyze", "--no-sidecar", str(pcap)).stdout
    [line] = [line for line in text.splitlines() if line.startswith("  options    ")]
    assert line == (
        "  options    the client's SYN: maximum segment size 1460 bytes, window scale 7 (windows × 128), "
        "selective ACKs permitted, timestamps; the server's: maximum segment size 1400 bytes"
    ), line
