"""The kernel recorder: the kernel's own account of the sandbox's TCP, from bpftrace on tracepoints.

tcpdump shows the packets; this shows what the kernel did with them, at the moment it did
it: every state change of every TCP socket, each RST it sent with its reason
(sk_rst_reason), each RST it received, each retransmission, each TCP packet it freed
without delivering it with its drop reason, and what the packets cannot show (a request
socket's SYN/ACK, a FIN received by a TIME_WAIT socket). ../shared/kernel-tracepoints.md
has the facts this rests on, measured on these machines (kernel 6.18, bpftrace 0.17).

Theory of operation:
- Filtered in the kernel: every probe compares the network namespace of its socket (or of
  its packet's device) with the sandbox's, the inode of /proc/self/ns/net, so the events of
  other namespaces (other captures, the host) never leave the kernel. What leaves it is one
  short line an event (`LINE FORMATS` below): output is what costs tcpdump its packets.
- Attached before the scenario, as tcpdump is: bpftrace compiles the script (2.5 s), runs
  BEGIN once every probe is attached, and then the sandbox makes a marker system call,
  kill(MARKER, 0) on a pid that cannot exist, until the probe on kill() reports it back.
  The same round trip at the end means every earlier event has been read.
- Time: bpftrace 0.17's `nsecs` is CLOCK_BOOTTIME. REALTIME - BOOTTIME is measured at start
  and at stop; events are put on the epoch clock tcpdump stamps packets with by their mean.
- bpftrace runs in a session of its own (the terminal's Ctrl-C is the sandbox's to handle;
  the recorder keeps recording until the sandbox stops it) and is killed by the kernel if
  the sandbox dies. Its BPF programs go with its file descriptors: nothing is left on the
  host however it ends.
- Without bpftrace, root or the kernel's BTF it is not started, and `why_not` says why in
  one line; the capture goes on without it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import random
import re
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from analyzer.capture.namespace import die_with_parent
from analyzer.capture.namespace_counters import counted_against, missed, read_counters
from analyzer.decode.segment import flag_names
from analyzer.sidecar import KernelEvent, KernelRecorderInfo

# bpftrace's compile (2.5 s here when idle) grows with the load: 11.6 s with five captures
# compiling at once on 2 cores (the live tests' background captures).
ATTACH_TIMEOUT = 60.0
MARKER_INTERVAL = 0.002  # seconds between marker calls while waiting for the probes
FINAL_MARKER_TIMEOUT = 2.0
# Its END (the kernel's count) comes after detaching every probe: slow on a loaded machine.
STOP_TIMEOUT = 10.0
READ_TIMEOUT = 5.0  # for the last lines once bpftrace is gone: its pipes are at their end
# Per CPU, in pages: room for bursts, so that the kernel never overwrites unread events.
PERF_RB_PAGES = 1024
# Where a tracepoint's fields and value names are described.
TRACEFS = (Path("/sys/kernel/tracing"), Path("/sys/kernel/debug/tracing"))
BTF = Path("/sys/kernel/btf/vmlinux")
# bpftrace 0.17 takes no address of an array member, so skb->cb (struct tcp_skb_cb: seq
# first, tcp_flags 12 bytes in) is read at its offset in struct sk_buff, 40 on 6.x x86_64.
SKB_CB_OFFSET = 40
# The harmless warning bpftrace prints where it may not raise its locked-memory limit.
_NOISE = re.compile(r"couldn't set RLIMIT_MEMLOCK")

# The kernel's TCP states, by number (include/net/tcp_states.h), named as the kernel names
# them (TCP_SYN_RECV -> SYN_RECV): these are the kernel's states, not RFC 9293's.
STATE_NAMES = {
    1: "ESTABLISHED", 2: "SYN_SENT", 3: "SYN_RECV", 4: "FIN_WAIT1", 5: "FIN_WAIT2",
    6: "TIME_WAIT", 7: "CLOSE", 8: "CLOSE_WAIT", 9: "LAST_ACK", 10: "LISTEN", 11: "CLOSING",
    12: "NEW_SYN_RECV",
}  # fmt: skip
NEW_SYN_RECV = 12
TIME_WAIT = 6

# enum sk_rst_reason as Linux 6.12+ numbers it, for when tracefs cannot be read; the names
# are read from the running kernel's tracepoint format when it can.
RST_REASONS = {
    0: "NOT_SPECIFIED", 1: "NO_SOCKET", 2: "TCP_INVALID_ACK_SEQUENCE", 3: "TCP_RFC7323_PAWS",
    4: "TCP_TOO_OLD_ACK", 5: "TCP_ACK_UNSENT_DATA", 6: "TCP_FLAGS", 7: "TCP_OLD_ACK",
    8: "TCP_ABORT_ON_DATA", 9: "TCP_TIMEWAIT_SOCKET", 10: "INVALID_SYN", 11: "TCP_ABORT_ON_CLOSE",
    12: "TCP_ABORT_ON_LINGER", 13: "TCP_ABORT_ON_MEMORY", 14: "TCP_STATE",
    15: "TCP_KEEPALIVE_TIMEOUT", 16: "TCP_DISCONNECT_WITH_DATA",
}  # fmt: skip

# LINE FORMATS: what the script prints, one line an event, fields split by spaces. Every
# event line is KIND BOOTTIME_NS SOCKET ..., addresses as bpftrace's ntop() writes them,
# ports as numbers, sockets as the kernel's address in hex (0: none).
#   B ns                                     BEGIN: every probe attached
#   M ns                                     the marker system call
#   S ns sk old new done err src sport dst dport   sock:inet_sock_set_state (done: SOCK_DONE,
#                                            err: sk_err, the error its calls will be given)
#   R ns sk state reason src sport dst dport tcp:tcp_send_reset (src: the RST's sender)
#   r ns sk state src sport dst dport        tcp:tcp_receive_reset (src: the socket's end)
#   T ns sk state seq flags err segs src sport dst dport   tcp:tcp_retransmit_skb (segs: its GSO count)
#   Y ns sk req src sport dst dport          tcp:tcp_retransmit_synack (sk: the listener)
#   A ns req src sport dst dport             a request socket's SYN/ACK leaving
#   D ns sk state substate reason flags seq src sport dst dport    skb:kfree_skb, TCP only
#   @events: N                               after each M, and at END: the events the
#                                            kernel counted (the last one printed holds)
#   Lost N events                            bpftrace: its ring buffer overflowed
_SCRIPT = r"""
// $1: the sandbox's network namespace inode; $2: the marker pid; $3: the run's pcap, unused
// here (it puts the run on this process's command line).
BEGIN { printf("B %llu\n", nsecs); }

// The count comes with every marker, so that the last one gives it when END is late.
tracepoint:syscalls:sys_enter_kill /args->pid == $2 && args->sig == 0/ { printf("M %llu\n", nsecs); print(@events); }

tracepoint:sock:inet_sock_set_state
/args->protocol == 6 && ((struct sock *)args->skaddr)->__sk_common.skc_net.net->ns.inum == $1/
{
  $sk = (struct sock *)args->skaddr;
  // SOCK_DONE (bit 1 of sk_flags): the peer's FIN has been received.
  $done = ($sk->__sk_common.skc_flags >> 1) & 1;
  @events = count();
  if (args->family == 2) {
    printf("S %llu %llx %d %d %d %d %s %d %s %d\n", nsecs, (uint64)$sk, args->oldstate, args->newstate, $done, $sk->sk_err,
           ntop(args->saddr), args->sport, ntop(args->daddr), args->dport);
  } else {
    printf("S %llu %llx %d %d %d %d %s %d %s %d\n", nsecs, (uint64)$sk, args->oldstate, args->newstate, $done, $sk->sk_err,
           ntop(args->saddr_v6), args->sport, ntop(args->daddr_v6), args->dport);
  }
}

tracepoint:tcp:tcp_send_reset
{
  $sk = (struct sock *)args->skaddr;
  $skb = (struct sk_buff *)args->skbaddr;
  $ns = (uint64)0;
  if ($sk != 0) { $ns = $sk->__sk_common.skc_net.net->ns.inum; }
  else { $ns = $skb->dev->nd_net.net->ns.inum; }
  if ($ns == $1) {
    @events = count();
    if ($skb != 0) {
      // An answer to a packet: its 4-tuple reversed (a listener's own fields have no peer).
      $nh = $skb->head + $skb->network_header;
      if ($skb->protocol == 0x0008) {
        $ip = (struct iphdr *)$nh;
        $th = $nh + ($ip->ihl * 4);
        $sp = *(uint16 *)$th; $dp = *(uint16 *)($th + 2);
        printf("R %llu %llx %d %d %s %d %s %d\n", nsecs, (uint64)$sk, args->state, @@RST_REASON@@,
               ntop($ip->daddr), (($dp & 0xff) << 8) | ($dp >> 8), ntop($ip->saddr), (($sp & 0xff) << 8) | ($sp >> 8));
      } else {
        $ip6 = (struct ipv6hdr *)$nh;
        $th = $nh + 40;
        $sp = *(uint16 *)$th; $dp = *(uint16 *)($th + 2);
        printf("R %llu %llx %d %d %s %d %s %d\n", nsecs, (uint64)$sk, args->state, @@RST_REASON@@,
               ntop($ip6->daddr.in6_u.u6_addr8), (($dp & 0xff) << 8) | ($dp >> 8),
               ntop($ip6->saddr.in6_u.u6_addr8), (($sp & 0xff) << 8) | ($sp >> 8));
      }
    } else {
      // An abort (close, linger, keepalive...): the socket's own ends. Its state is CLOSE
      // by now, which has released its port number (skc_num): inet_sport keeps it.
      $dport = $sk->__sk_common.skc_dport;
      $sport = ((struct inet_sock *)$sk)->inet_sport;
      if ($sk->__sk_common.skc_family == 2) {
        printf("R %llu %llx %d %d %s %d %s %d\n", nsecs, (uint64)$sk, args->state, @@RST_REASON@@,
               ntop($sk->__sk_common.skc_rcv_saddr), (($sport & 0xff) << 8) | ($sport >> 8),
               ntop($sk->__sk_common.skc_daddr), (($dport & 0xff) << 8) | ($dport >> 8));
      } else {
        printf("R %llu %llx %d %d %s %d %s %d\n", nsecs, (uint64)$sk, args->state, @@RST_REASON@@,
               ntop($sk->__sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8), (($sport & 0xff) << 8) | ($sport >> 8),
               ntop($sk->__sk_common.skc_v6_daddr.in6_u.u6_addr8), (($dport & 0xff) << 8) | ($dport >> 8));
      }
    }
  }
}

tracepoint:tcp:tcp_receive_reset
/((struct sock *)args->skaddr)->__sk_common.skc_net.net->ns.inum == $1/
{
  $sk = (struct sock *)args->skaddr;
  @events = count();
  if (args->family == 2) {
    printf("r %llu %llx %d %s %d %s %d\n", nsecs, (uint64)$sk, $sk->__sk_common.skc_state & 0xff,
           ntop(args->saddr), args->sport, ntop(args->daddr), args->dport);
  } else {
    printf("r %llu %llx %d %s %d %s %d\n", nsecs, (uint64)$sk, $sk->__sk_common.skc_state & 0xff,
           ntop(args->saddr_v6), args->sport, ntop(args->daddr_v6), args->dport);
  }
}

tracepoint:tcp:tcp_retransmit_skb
/((struct sock *)args->skaddr)->__sk_common.skc_net.net->ns.inum == $1/
{
  $cb = (uint64)args->skbaddr + @@SKB_CB@@;
  @events = count();
  if (args->family == 2) {
    printf("T %llu %llx %d %u %d %d %d %s %d %s %d\n", nsecs, (uint64)args->skaddr, args->state,
           *(uint32 *)$cb, *(uint8 *)($cb + 12), args->err, *(uint16 *)($cb + 8),
           ntop(args->saddr), args->sport, ntop(args->daddr), args->dport);
  } else {
    printf("T %llu %llx %d %u %d %d %d %s %d %s %d\n", nsecs, (uint64)args->skaddr, args->state,
           *(uint32 *)$cb, *(uint8 *)($cb + 12), args->err, *(uint16 *)($cb + 8),
           ntop(args->saddr_v6), args->sport, ntop(args->daddr_v6), args->dport);
  }
}

tracepoint:tcp:tcp_retransmit_synack
/((struct sock *)args->skaddr)->__sk_common.skc_net.net->ns.inum == $1/
{
  @events = count();
  if (args->family == 2) {
    printf("Y %llu %llx %llx %s %d %s %d\n", nsecs, (uint64)args->skaddr, (uint64)args->req,
           ntop(args->saddr), args->sport, ntop(args->daddr), args->dport);
  } else {
    printf("Y %llu %llx %llx %s %d %s %d\n", nsecs, (uint64)args->skaddr, (uint64)args->req,
           ntop(args->saddr_v6), args->sport, ntop(args->daddr_v6), args->dport);
  }
}

// A server's SYN_RECV lives in a request socket (state NEW_SYN_RECV), which has no state
// change of its own: its SYN/ACK leaving the device marks it.
tracepoint:net:net_dev_start_xmit
{
  $sk = ((struct sk_buff *)args->skbaddr)->sk;
  if ($sk != 0) {
    if (($sk->__sk_common.skc_state & 0xff) == 12 && $sk->__sk_common.skc_net.net->ns.inum == $1) {
      @events = count();
      $dport = $sk->__sk_common.skc_dport;
      if ($sk->__sk_common.skc_family == 2) {
        printf("A %llu %llx %s %d %s %d\n", nsecs, (uint64)$sk,
               ntop($sk->__sk_common.skc_rcv_saddr), $sk->__sk_common.skc_num,
               ntop($sk->__sk_common.skc_daddr), (($dport & 0xff) << 8) | ($dport >> 8));
      } else {
        printf("A %llu %llx %s %d %s %d\n", nsecs, (uint64)$sk,
               ntop($sk->__sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8), $sk->__sk_common.skc_num,
               ntop($sk->__sk_common.skc_v6_daddr.in6_u.u6_addr8), (($dport & 0xff) << 8) | ($dport >> 8));
      }
    }
  }
}

// A packet freed undelivered. Its namespace: the socket that received it, else its owner,
// else its device (a listener's packets may have none: then it had a socket).
tracepoint:skb:kfree_skb
/args->protocol == 0x0800 || args->protocol == 0x86dd/
{
  $skb = (struct sk_buff *)args->skbaddr;
  $rx = (struct sock *)@@RX_SK@@;
  $ns = (uint64)0;
  if ($rx != 0) { $ns = $rx->__sk_common.skc_net.net->ns.inum; }
  else if ($skb->sk != 0) { $ns = $skb->sk->__sk_common.skc_net.net->ns.inum; }
  else { $ns = $skb->dev->nd_net.net->ns.inum; }
  if ($ns == $1) {
    $nh = $skb->head + $skb->network_header;
    $state = (uint64)0;
    $sub = (uint64)0;
    if ($rx != 0) {
      $state = (uint64)($rx->__sk_common.skc_state & 0xff);
      if ($state == 6) { $sub = (uint64)((struct inet_timewait_sock *)$rx)->tw_substate; }
    }
    if (args->protocol == 0x0800) {
      $ip = (struct iphdr *)$nh;
      if ($ip->protocol == 6) {
        @events = count();
        $th = $nh + ($ip->ihl * 4);
        $sp = *(uint16 *)$th; $dp = *(uint16 *)($th + 2); $seq = *(uint32 *)($th + 4);
        printf("D %llu %llx %d %d %d %d %u %s %d %s %d\n", nsecs, (uint64)$rx, $state, $sub, args->reason,
               *(uint8 *)($th + 13), (($seq & 0xff) << 24) | (($seq & 0xff00) << 8) | (($seq >> 8) & 0xff00) | ($seq >> 24),
               ntop($ip->saddr), (($sp & 0xff) << 8) | ($sp >> 8), ntop($ip->daddr), (($dp & 0xff) << 8) | ($dp >> 8));
      }
    } else {
      $ip6 = (struct ipv6hdr *)$nh;
      if ($ip6->nexthdr == 6) {
        @events = count();
        $th = $nh + 40;
        $sp = *(uint16 *)$th; $dp = *(uint16 *)($th + 2); $seq = *(uint32 *)($th + 4);
        printf("D %llu %llx %d %d %d %d %u %s %d %s %d\n", nsecs, (uint64)$rx, $state, $sub, args->reason,
               *(uint8 *)($th + 13), (($seq & 0xff) << 24) | (($seq & 0xff00) << 8) | (($seq >> 8) & 0xff00) | ($seq >> 24),
               ntop($ip6->saddr.in6_u.u6_addr8), (($sp & 0xff) << 8) | ($sp >> 8),
               ntop($ip6->daddr.in6_u.u6_addr8), (($dp & 0xff) << 8) | ($dp >> 8));
      }
    }
  }
}
"""


def tracefs() -> Path | None:
    return next((path for path in TRACEFS if (path / "events").is_dir()), None)


def tracefs_mountable() -> bool:
    """Whether tracefs, not mounted here, can be mounted for the recorder alone (root)."""
    try:
        return "\ttracefs\n" in Path("/proc/filesystems").read_text() and TRACEFS[0].is_dir()
    except OSError:
        return False


def with_tracefs(command: list[str]) -> list[str]:
    """`command` as it runs where tracefs is mounted; where it is not (a host that never
    mounted it), in a mount namespace of its own with tracefs mounted there: the host's
    mounts stay as they were, and it goes with the command."""
    if tracefs() is not None:
        return command
    mount = f'mount -t tracefs tracefs {TRACEFS[0]} && exec "$@"'
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", mount, "tracefs", *command]


def _format(event: str) -> str | None:
    """A tracepoint's format description (fields, print format), or None where tracefs is not
    readable."""
    root = tracefs()
    try:
        if root is not None:
            return (root / "events" / event / "format").read_text()
        if not tracefs_mountable():
            return None
        read = subprocess.run(with_tracefs(["cat", str(TRACEFS[0] / "events" / event / "format")]),
                              capture_output=True, text=True, timeout=10)  # fmt: skip
        return read.stdout if read.returncode == 0 else None
    except (OSError, subprocess.TimeoutExpired):
        return None


_SYMBOL = re.compile(r'\{\s*(\d+),\s*"([A-Z0-9_]+)"\s*\}')


def reason_names(format_text: str | None) -> dict[int, str]:
    """The names of a tracepoint's `reason` values, as the running kernel prints them
    (its __print_symbolic(REC->reason, ...) table): drop reasons are renumbered between
    kernel versions, so they are read, not written down here."""
    if not format_text or "REC->reason" not in format_text:
        return {}
    table = format_text[format_text.rindex("__print_symbolic(REC->reason") :]
    return {int(number): name for number, name in _SYMBOL.findall(table)}


@dataclass
class ReasonNames:
    """How this kernel names its RST and drop reasons; has_rst_reason: whether its
    tcp_send_reset gives one at all (Linux 6.10 on)."""

    rst: dict[int, str] = field(default_factory=lambda: dict(RST_REASONS))
    drop: dict[int, str] = field(default_factory=dict)
    has_rst_reason: bool = True

    @classmethod
    def of_this_kernel(cls) -> ReasonNames:
        send_reset, kfree_skb = _format("tcp/tcp_send_reset"), _format("skb/kfree_skb")
        return cls(
            rst=reason_names(send_reset) or dict(RST_REASONS),
            drop=reason_names(kfree_skb),
            has_rst_reason=send_reset is None or "field:enum sk_rst_reason reason" in send_reset,
        )


def script(has_rst_reason: bool = True, has_rx_sk: bool = True) -> str:
    """The bpftrace program, for a kernel with or without tcp_send_reset's `reason` (6.10)
    and kfree_skb's `rx_sk` (6.11)."""
    return (
        _SCRIPT.replace("@@RST_REASON@@", "args->reason" if has_rst_reason else "-1")
        .replace("@@RX_SK@@", "args->rx_sk" if has_rx_sk else "0")
        .replace("@@SKB_CB@@", str(SKB_CB_OFFSET))
    )


# ---------------------------------------------------------------------------- parsing


@dataclass
class ParsedOutput:
    """bpftrace's output read: the events (in the kernel's order), the marker and BEGIN
    stamps, the kernel's count, the losses bpftrace reported, and any other line."""

    events: list[KernelEvent] = field(default_factory=list)
    begin_ns: int | None = None
    markers_ns: list[int] = field(default_factory=list)
    counted: int | None = None
    lost_reported: int = 0
    other: list[str] = field(default_factory=list)


_LOST = re.compile(r"^Lost (\d+) events")
_COUNT = re.compile(r"^@events: (\d+)$")


def _socket(text: str) -> str | None:
    return None if int(text, 16) == 0 else text


def _state(number: str) -> str | None:
    value = int(number)
    return STATE_NAMES.get(value, f"UNKNOWN({value})") if value else None


def _name(table: dict[int, str], number: str) -> str | None:
    value = int(number)
    if value < 0:  # a kernel without the field
        return None
    return table.get(value, f"UNKNOWN({value})")


def _errno_name(number: str) -> str | None:
    """sk_err as errno names it (ETIMEDOUT); None for none."""
    value = int(number)
    return errno.errorcode.get(value, f"E{value}") if value else None


def _ends(fields: list[str]) -> dict:
    src, sport, dst, dport = fields
    return {
        "family": 6 if ":" in src else 4,
        "src": src,
        "sport": int(sport),
        "dst": dst,
        "dport": int(dport),
    }


def parse_line(line: str, offset_ns: int, names: ReasonNames) -> KernelEvent | None:
    """One event line of the script's as a sidecar event; None for a line that is not one.
    offset_ns: REALTIME - BOOTTIME, to put the kernel's stamp on the pcap's clock."""
    fields = line.split()
    if len(fields) < 7 or fields[0] not in "SRrTYAD" or not fields[1].isdigit():
        return None
    kind, boottime_ns = fields[0], int(fields[1])
    common = {"time": (boottime_ns + offset_ns) / 1e9, "boottime_ns": boottime_ns}
    try:
        if kind == "S" and len(fields) == 11:
            event = {**common, "kind": "set_state", "socket": _socket(fields[2]), **_ends(fields[7:11]),
                     "old_state": _state(fields[3]), "new_state": _state(fields[4]),
                     "sock_done": fields[5] == "1", "socket_error": _errno_name(fields[6])}  # fmt: skip
        elif kind == "R" and len(fields) == 9:
            event = {**common, "kind": "send_reset", "socket": _socket(fields[2]), **_ends(fields[5:9]),
                     "state": _state(fields[3]), "reason": _name(names.rst, fields[4])}  # fmt: skip
        elif kind == "r" and len(fields) == 8:
            event = {**common, "kind": "receive_reset", "socket": _socket(fields[2]), **_ends(fields[4:8]),
                     "state": _state(fields[3])}  # fmt: skip
        elif kind == "T" and len(fields) == 12:
            event = {**common, "kind": "retransmit_skb", "socket": _socket(fields[2]), **_ends(fields[8:12]),
                     "state": _state(fields[3]), "seq": int(fields[4]), "flags": flag_names(int(fields[5])),
                     "error": int(fields[6]), "segments": int(fields[7])}  # fmt: skip
        elif kind == "Y" and len(fields) == 8:
            event = {**common, "kind": "retransmit_synack", "socket": _socket(fields[2]),
                     "request": _socket(fields[3]), **_ends(fields[4:8])}  # fmt: skip
        elif kind == "A" and len(fields) == 7:
            event = {**common, "kind": "request_synack", "socket": _socket(fields[2]), **_ends(fields[3:7]),
                     "state": STATE_NAMES[NEW_SYN_RECV]}  # fmt: skip
        elif kind == "D" and len(fields) == 12:
            state = _state(fields[3])
            event = {**common, "kind": "kfree_skb", "socket": _socket(fields[2]), **_ends(fields[8:12]),
                     "state": state, "reason": _name(names.drop, fields[5]),
                     "flags": flag_names(int(fields[6])), "seq": int(fields[7])}  # fmt: skip
            if state == STATE_NAMES[TIME_WAIT]:
                event["timewait_substate"] = _state(fields[4])
        else:
            return None
    except ValueError:
        return None
    return cast(KernelEvent, event)


def parse_output(lines: list[str], offset_ns: int, names: ReasonNames) -> ParsedOutput:
    """Every line bpftrace printed on its standard output, read. The kernel's per-CPU
    buffers are read in turn, so lines come a little out of order: sorted by the kernel's
    own stamp."""
    parsed = ParsedOutput()
    for raw in lines:
        line = raw.strip()
        if not line or line.startswith("Attaching "):
            continue
        fields = line.split()
        if len(fields) == 2 and fields[0] in ("B", "M") and fields[1].isdigit():
            if fields[0] == "B":
                parsed.begin_ns = int(fields[1])
            else:
                parsed.markers_ns.append(int(fields[1]))
            continue
        event = parse_line(line, offset_ns, names)
        if event is not None:
            parsed.events.append(event)
        elif match := _COUNT.match(line):
            parsed.counted = int(match.group(1))
        elif match := _LOST.match(line):
            parsed.lost_reported += int(match.group(1))
        else:
            parsed.other.append(line)
    parsed.events.sort(key=lambda event: event["boottime_ns"])
    return parsed


# ---------------------------------------------------------------------------- the clock


def boottime_offset_ns() -> int:
    """REALTIME - BOOTTIME now, in ns: the closest of a few readings of BOOTTIME taken on
    either side of REALTIME, so that a preemption between two readings does not count."""
    best: tuple[int, int] | None = None
    for _ in range(5):
        before = time.clock_gettime_ns(time.CLOCK_BOOTTIME)
        real = time.clock_gettime_ns(time.CLOCK_REALTIME)
        after = time.clock_gettime_ns(time.CLOCK_BOOTTIME)
        if best is None or after - before < best[0]:
            best = (after - before, real - (before + after) // 2)
    assert best is not None
    return best[1]


# ---------------------------------------------------------------------------- the recorder


def bpftrace_path() -> str | None:
    """bpftrace, or the program HANDSHAKE_BPFTRACE names instead (empty: none, the recorder
    turned off)."""
    chosen = os.environ.get("HANDSHAKE_BPFTRACE")
    if chosen is not None:
        return chosen if chosen and Path(chosen).is_file() and os.access(chosen, os.X_OK) else None
    return shutil.which("bpftrace") or next(
        (p for p in ("/usr/bin/bpftrace", "/usr/sbin/bpftrace") if Path(p).exists()), None
    )


def unavailable() -> str | None:
    """Why the kernel recorder cannot run here, in a few words; None when it can."""
    if os.environ.get("HANDSHAKE_BPFTRACE") == "":
        return "turned off (HANDSHAKE_BPFTRACE is empty)"
    if bpftrace_path() is None:
        return "bpftrace is not installed ('make setup' as root installs it)"
    if os.geteuid() != 0:
        return "bpftrace needs root"
    if not BTF.exists():
        return f"the kernel has no BTF ({BTF}), which the probes read sockets with"
    if tracefs() is None and not tracefs_mountable():
        return "tracefs is not mounted (/sys/kernel/tracing) nor can be, where tracepoints are described"
    return None


class KernelTrace:
    """bpftrace recording the events of this process's network namespace, from start() (then
    confirm()) to stop(). `tag` (the run's pcap) goes on its command line, so a run's
    processes are all found by it."""

    def __init__(self, tag: Path) -> None:
        self.tag = tag
        self.netns_inode = os.stat("/proc/self/ns/net").st_ino
        # A pid no process can have (pid_max is at most 2^22), its own to each capture.
        self.marker = random.randrange(2**30, 2**31 - 1)
        self.names = ReasonNames()
        self.why_not: str | None = None
        self.attached_at: float | None = None
        self.attach_seconds: float | None = None
        self.events: list[KernelEvent] = []
        self.parsed = ParsedOutput()
        self.complete = False
        self.late: str | None = None  # why the count is not END's
        self.stop_seconds: float | None = None
        self.command: list[str] = []
        self._process: subprocess.Popen | None = None
        self._started = 0.0
        self._offsets: list[int] = []
        self._out: list[str] = []
        self._err: list[str] = []
        self._markers = 0
        self._begun = False
        self._changed = threading.Condition()
        self._readers: list[threading.Thread] = []
        # The namespace's counters, with the kernel's BOOTTIME stamp, at confirm() and at stop().
        self._counters: list[tuple[int, dict[str, int] | None]] = []
        self.counted_against: dict[str, dict[str, int]] = {}
        self.missed: dict[str, int] = {}

    @property
    def attached(self) -> bool:
        return self.attached_at is not None

    def start(self) -> None:
        """Start bpftrace compiling; confirm() waits for it. Where it cannot run, records why."""
        self.why_not = unavailable()
        if self.why_not is not None:
            return
        program = bpftrace_path()
        assert program is not None
        self.names = ReasonNames.of_this_kernel()
        kfree_skb = _format("skb/kfree_skb")
        text = script(self.names.has_rst_reason, kfree_skb is None or " rx_sk;" in kfree_skb)
        # The program on standard input: the command line stays short enough to read in ps.
        self.command = with_tracefs([program, "-", str(self.netns_inode), str(self.marker), str(self.tag)])
        self._offsets.append(boottime_offset_ns())
        self._started = time.monotonic()
        self._process = subprocess.Popen(
            self.command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "BPFTRACE_PERF_RB_PAGES": str(PERF_RB_PAGES)},
            start_new_session=True,
            preexec_fn=lambda: die_with_parent(signal.SIGKILL),
        )
        assert self._process.stdin is not None
        try:
            self._process.stdin.write(text)
            self._process.stdin.close()
        except BrokenPipeError:
            pass  # it has ended already: confirm() says why
        for stream, into in ((self._process.stdout, self._out), (self._process.stderr, self._err)):
            reader = threading.Thread(target=self._read, args=(stream, into), daemon=True)
            reader.start()
            self._readers.append(reader)

    def _read(self, stream, into: list[str]) -> None:
        for line in stream:
            with self._changed:
                into.append(line)
                if into is self._out:
                    if line.startswith("B "):
                        self._begun = True
                    elif line.startswith("M "):
                        self._markers += 1
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def _ended(self) -> bool:
        return self._process is None or self._process.poll() is not None

    def _round_trip(self, timeout: float) -> bool:
        """Make marker calls until one more is reported back; False if none is in time."""
        deadline = time.monotonic() + timeout
        with self._changed:
            wanted = self._markers + 1
            while self._markers < wanted:
                if self._ended() or time.monotonic() > deadline:
                    return False
                if self._begun:
                    with contextlib.suppress(OSError):  # no such process: the call is the signal
                        os.kill(self.marker, 0)
                # Compiling takes seconds; BEGIN's line wakes this at once.
                self._changed.wait(MARKER_INTERVAL if self._begun else 0.1)
        return True

    def _every_cpu_round_trip(self, timeout: float) -> bool:
        """A marker from each CPU this process may run on. The kernel's buffers are one a CPU,
        each read in order but not in step with the others: once every CPU's marker is back,
        every event made before it has been read, whichever CPU made it (with one marker, a
        state change made on the other CPU could still be unread when bpftrace, slow to end,
        was killed: the likely cause of one CI run's missing FIN_WAIT2)."""
        cpus = os.sched_getaffinity(0)
        try:
            for cpu in sorted(cpus):
                os.sched_setaffinity(0, {cpu})
                if not self._round_trip(timeout):
                    return False
        finally:
            os.sched_setaffinity(0, cpus)
        return True

    def confirm(self, timeout: float = ATTACH_TIMEOUT) -> bool:
        """Wait until the probes are attached (the marker seen back). False, with why_not
        set and bpftrace ended, when they are not."""
        if self._process is None:
            return False
        if self._round_trip(timeout):
            self.attached_at = time.time()
            self.attach_seconds = time.monotonic() - self._started
            self._read_counters()
            return True
        ended = self._ended()
        self._kill()
        for reader in self._readers:
            reader.join(timeout=1.0)
        errors = [line.strip() for line in self._err if line.strip() and not _NOISE.search(line)]
        if errors:
            self.why_not = f"bpftrace failed: {errors[0]}"
        elif ended:
            self.why_not = f"bpftrace exited before attaching (status {self._process.returncode})"
        else:
            self.why_not = f"bpftrace did not attach within {timeout:.0f} s"
        return False

    def _kill(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()

    def stop(self) -> None:
        """Stop bpftrace (it is never left running, whatever happens here) and read its account."""
        process = self._process
        if process is None:
            return
        stopping = time.monotonic()
        try:
            if self.attached and process.poll() is None:
                self.complete = self._every_cpu_round_trip(FINAL_MARKER_TIMEOUT)
                self._read_counters()
                process.send_signal(signal.SIGINT)  # END: the kernel's count, a cross-check
                try:
                    process.wait(timeout=STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    self.late = f"bpftrace did not end within {STOP_TIMEOUT:.0f} s: the count is the kernel's at the last marker"
        finally:
            self._kill()
            for reader in self._readers:
                reader.join(timeout=READ_TIMEOUT)
        self.stop_seconds = time.monotonic() - stopping
        if not self.attached:
            return
        self._offsets.append(boottime_offset_ns())
        offset = sum(self._offsets) // len(self._offsets)
        self.parsed = parse_output(self._out, offset, self.names)
        # Where bpftrace says it lost events depends on its version: its errors too.
        self.parsed.lost_reported += sum(int(m.group(1)) for m in map(_LOST.match, self._err) if m)
        self.events = self.parsed.events
        if len(self._counters) == 2 and all(counters is not None for _, counters in self._counters):
            (start, before), (end, after) = self._counters
            assert before is not None and after is not None
            between = [event for event in self.events if start <= event["boottime_ns"] <= end]
            self.counted_against = counted_against(before, after, between)
            self.missed = missed(self.counted_against)

    def _read_counters(self) -> None:
        """The namespace's counters now, stamped on the kernel's clock: read before the stamp
        at the start, after it at the end, so an event made while they are read lies inside."""
        if not self._counters:
            stamp = time.clock_gettime_ns(time.CLOCK_BOOTTIME)
            counters = read_counters()
        else:
            counters = read_counters()
            stamp = time.clock_gettime_ns(time.CLOCK_BOOTTIME)
        self._counters.append((stamp, counters))

    @property
    def lost(self) -> int | None:
        """Events the kernel made that were not read: what bpftrace reported lost as it read
        its buffers, the kernel's count (when bpftrace printed it) beyond the lines read, or
        the namespace's own counters beyond the events of their kinds (at least that many).
        None when not attached."""
        if not self.attached:
            return None
        beyond = 0 if self.parsed.counted is None else self.parsed.counted - len(self.events)
        # Kinds overlap (a SYN retransmitted counts in two): the most missed of one kind.
        return max(self.parsed.lost_reported, beyond, max(self.missed.values(), default=0))

    def info(self) -> KernelRecorderInfo:
        """kernel_recorder of the sidecar."""
        offsets = self._offsets
        messages = [line.strip() for line in self._err if line.strip() and not _NOISE.search(line)]
        if self.late:
            messages.append(self.late)
        return {
            "engine": "bpftrace",
            "command": self.command,
            "attached": self.attached,
            "why_not": self.why_not,
            "attached_at": self.attached_at,
            "attach_seconds": round(self.attach_seconds, 3) if self.attach_seconds is not None else None,
            "events": len(self.events),
            "counted": self.parsed.counted,
            "lost": self.lost,
            "complete": self.complete,
            "stop_seconds": round(self.stop_seconds, 3) if self.stop_seconds is not None else None,
            "netns_inode": self.netns_inode,
            "boottime_to_epoch_ns": offsets[0] if offsets else None,
            "clock_drift_ns": offsets[-1] - offsets[0] if len(offsets) == 2 else None,
            "has_rst_reason": self.names.has_rst_reason,
            "counters": self.counted_against,
            "missed": self.missed,
            "messages": messages + self.parsed.other,
        }
