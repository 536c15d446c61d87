"""A private network namespace for the current process, with only loopback up.

unshare(CLONE_NEWNET) gives this process a network stack of its own: its own
loopback, its own sysctls under /proc/sys/net, its own nftables ruleset. All of
it disappears when the last process in it exits, which is why the capture runs
in a child process: nothing needs undoing on the host, even after SIGKILL.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from analyzer.errors import UserError

CLONE_NEWNET = 0x40000000
PR_SET_PDEATHSIG = 1
SYSCTL_ROOT = Path("/proc/sys")

_libc = ctypes.CDLL(None, use_errno=True)


def enter_private_network_namespace() -> None:
    if _libc.unshare(CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise UserError(f"cannot create a network namespace: {os.strerror(err)} (capture needs root)")
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True, capture_output=True)


def system_tool(name: str) -> str | None:
    """A system program's path: on PATH, or in /usr/sbin or /sbin (not on a user's PATH)."""
    return shutil.which(name) or next(
        (p for p in (f"/usr/sbin/{name}", f"/sbin/{name}") if Path(p).exists()), None
    )


def wire_sized_loopback(mtu: int) -> None:
    """This namespace's loopback at `mtu`, segmentation offloads off: each segment the capture
    records is one a wire of that MTU would carry (with them on, tcpdump sees one 64 KB
    segment the kernel has not yet cut)."""
    subprocess.run(["ip", "link", "set", "lo", "mtu", str(mtu)], check=True, capture_output=True)
    ethtool = system_tool("ethtool") or "ethtool"
    subprocess.run(
        [ethtool, "-K", "lo", "tso", "off", "gso", "off", "gro", "off"], check=True, capture_output=True
    )


def die_with_parent(signal_number: int) -> None:
    """For a child's preexec_fn: the kernel signals it when its parent dies, so no
    capture engine outlives the sandbox process."""
    _libc.prctl(PR_SET_PDEATHSIG, signal_number, 0, 0, 0)


def others_in_this_namespace() -> list[int]:
    """Processes besides this one in this process's network namespace (its children
    and whatever they started, daemons included: they all share it)."""
    own = os.readlink("/proc/self/ns/net")
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if os.readlink(entry / "ns" / "net") == own:
                found.append(int(entry.name))
        except OSError:
            continue  # gone meanwhile, or not ours to read
    return found


def terminate(pids: list[int]) -> list[str]:
    """SIGTERM to each of `pids`; the command lines of those still there to get it."""
    ended = []
    for pid in pids:
        try:
            ended.append(
                Path(f"/proc/{pid}/cmdline")
                .read_bytes()
                .replace(b"\0", b" ")
                .decode(errors="replace")
                .strip()
            )
            os.kill(pid, signal.SIGTERM)
        except OSError:
            continue
    return ended


def end_the_others(grace: float = 1.0) -> list[str]:
    """Make sure nothing outlives the capture in its namespace: SIGTERM to every other
    process in it, SIGKILL to those still there after `grace` seconds. Returns the
    command lines of those it had to end."""
    ended = terminate(others_in_this_namespace())
    deadline = time.monotonic() + grace
    while ended and time.monotonic() < deadline and others_in_this_namespace():
        time.sleep(0.05)
    for pid in others_in_this_namespace():
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    return ended


def _sysctl_path(name: str) -> Path:
    return SYSCTL_ROOT / name.replace(".", "/")


def read_sysctl(name: str) -> str | None:
    try:
        return _sysctl_path(name).read_text().strip()
    except FileNotFoundError:
        return None


def write_sysctl(name: str, value: str) -> bool:
    """Set a sysctl of this namespace; False if this kernel does not have it."""
    path = _sysctl_path(name)
    if not path.exists():
        return False
    path.write_text(value)
    return True


TCP_SYSCTLS = (
    "net.ipv4.tcp_syn_retries",
    "net.ipv4.tcp_syn_linear_timeouts",
    "net.ipv4.tcp_synack_retries",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_abort_on_overflow",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.tcp_max_syn_backlog",
    "net.ipv4.tcp_rfc1337",
    "net.ipv4.tcp_timestamps",
    "net.ipv4.tcp_sack",
    "net.ipv4.tcp_window_scaling",
    "net.core.somaxconn",
)


def tcp_sysctls() -> dict[str, str | None]:
    """The TCP settings in force in this namespace (None where the kernel has no such sysctl)."""
    return {name: read_sysctl(name) for name in TCP_SYSCTLS}
