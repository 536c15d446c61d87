"""The kernel capture engine: tcpdump on the namespace's loopback, nanosecond timestamps.

The scenario starts only after tcpdump has said "listening on" (the socket is
bound and the filter attached), and tcpdump is stopped with SIGINT so that it
flushes the file and prints its counters, "dropped by kernel" among them.
"""

from __future__ import annotations

import queue
import re
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from analyzer.capture.namespace import die_with_parent
from analyzer.errors import UserError

READY_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0
# tcpdump reads the ring buffer asynchronously: give it this long to catch the last packet.
DRAIN_SECONDS = 0.2
# The kernel's buffer for tcpdump (-B), in KiB. Written as it comes (--immediate-mode), each
# packet takes a slot of the snapshot length (256 KiB) in it: tcpdump's 2 MiB default held
# eight, and a program opening 70 connections a second lost half its packets on loopback.
# 64 MiB: 256 slots, no loss measured at 500 connections a second.
BUFFER_KIB = 65536

_COUNTER = re.compile(r"^(\d+) packets? (captured|received by filter|dropped by kernel)")


@dataclass
class RecorderStats:
    engine: str
    command: list[str]
    captured: int | None = None
    received_by_filter: int | None = None
    dropped_by_kernel: int | None = None
    messages: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "engine": self.engine,
            "command": self.command,
            "captured": self.captured,
            "received_by_filter": self.received_by_filter,
            "dropped_by_kernel": self.dropped_by_kernel,
        }


def tcpdump_path() -> str:
    path = shutil.which("tcpdump") or next(
        (p for p in ("/usr/sbin/tcpdump", "/usr/bin/tcpdump") if Path(p).exists()), None
    )
    if path is None:
        raise UserError("tcpdump is not installed: run 'make setup' (as root) to install it")
    return path


def interrupted_capture(pcap: Path) -> str:
    """What to say of a capture stopped early: where the packets it got are, if any."""
    if pcap.is_file() and pcap.stat().st_size > 0:
        return f"handshake: capture interrupted; the packets recorded so far are in {pcap}"
    return "handshake: capture interrupted before any packet was recorded"


class Recorder:
    """tcpdump writing `pcap_path` for as long as the `with` block runs."""

    def __init__(
        self, pcap_path: Path, interface: str = "lo", *, snaplen: int = 262144, buffer_kib: int = BUFFER_KIB,
        immediate: bool = True,
    ) -> None:  # fmt: skip
        """immediate: each packet written as it comes, so that a killed run still leaves a
        readable file; off for volume (the benchmark's million packets), where tcpdump reads
        the kernel's buffer and writes the file in blocks and keeps up. buffer_kib: the
        kernel's buffer for it (tcpdump -B), where tcpdump's default drops packets in a burst."""
        self.pcap_path = pcap_path
        self.command = [
            tcpdump_path(),
            "-i", interface,
            "-n",
            *(["-U", "--immediate-mode"] if immediate else []),
            "--time-stamp-precision=nano",
            "-s", str(snaplen),
            "-B", str(buffer_kib),
            "-Z", "root",  # Debian's tcpdump would otherwise drop to a user that cannot write here
            "-w", str(pcap_path),
        ]  # fmt: skip
        self.stats = RecorderStats("tcpdump", self.command)
        self._process: subprocess.Popen | None = None
        self._lines: queue.Queue[str | None] = queue.Queue()

    def __enter__(self) -> Recorder:
        self._process = subprocess.Popen(
            self.command,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            # Out of the terminal's process group: a Ctrl-C is the sandbox's (or, in
            # `handshake run`, the program's) to act on; the sandbox stops tcpdump itself,
            # after the program, so that it records to the end and reports its counters.
            start_new_session=True,
            preexec_fn=lambda: die_with_parent(signal.SIGTERM),
        )
        threading.Thread(target=self._read_stderr, daemon=True).start()
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            try:
                line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                self._kill()
                raise UserError(f"tcpdump did not start listening within {READY_TIMEOUT:.0f} s") from None
            if line is None:
                self._process.wait()
                raise UserError(
                    f"tcpdump exited before capturing: {' '.join(self.stats.messages) or 'no message'}"
                )
            self.stats.messages.append(line)
            if "listening on" in line:
                return self

    def _read_stderr(self) -> None:
        assert self._process is not None and self._process.stderr is not None
        for line in self._process.stderr:
            self._lines.put(line.strip())
        self._lines.put(None)

    def _kill(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> RecorderStats:
        process = self._process
        if process is None or process.returncode is not None:
            return self.stats
        time.sleep(DRAIN_SECONDS)
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self._kill()
        while True:
            try:
                line = self._lines.get(timeout=1.0)
            except queue.Empty:
                break
            if line is None:
                break
            self.stats.messages.append(line)
            match = _COUNTER.match(line)
            if match:
                count, what = int(match.group(1)), match.group(2)
                if what == "captured":
                    self.stats.captured = count
                elif what == "received by filter":
                    self.stats.received_by_filter = count
                else:
                    self.stats.dropped_by_kernel = count
        return self.stats
