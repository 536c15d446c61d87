"""The second decoder: Wireshark's dissectors through pyshark, for what the fast reader does not
decode (tunnels such as GRE/ERSPAN, exotic link types). Slow (tshark renders every packet),
so it is chosen with `--decoder tshark`, never by default. It yields the same Segment records;
a test holds both decoders to the same packets, flags, seq and ack.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from typing import Any

from analyzer.decode.capture_file import CaptureFile
from analyzer.decode.ip_tcp import parse_options
from analyzer.decode.reader import DecodeStats
from analyzer.decode.segment import SYN, Segment, TcpOptions
from analyzer.errors import UserError

# TCP quoted inside an ICMP error is not a segment of the connection (tshark dissects it anyway).
_QUOTING_LAYERS = {"icmp", "icmpv6"}


def _check_readable(path: str) -> str:
    """The same one-line errors as the fast reader for a missing or non-capture file; returns the format."""
    capture = CaptureFile(path)
    frames = capture.frames()
    try:
        next(frames, None)
    finally:
        frames.close()
    return capture.format


def _options(tcp: Any) -> TcpOptions:
    def value(name: str) -> str | None:
        return tcp.get_field_value(name)

    mss, shift = value("options_mss_val"), value("options_wscale_shift")
    raw = value("options")
    fast_open = parse_options(bytes.fromhex(raw.replace(":", ""))).fast_open if raw else False
    return TcpOptions(
        int(mss) if mss is not None else None,
        int(shift) if shift is not None else None,
        value("options_sack_perm") is not None,
        value("options_timestamp_tsval") is not None,
        fast_open,
    )


def read_segments_tshark(path: str, stats: DecodeStats | None = None) -> Iterator[Segment]:
    stats = stats if stats is not None else DecodeStats()
    stats.format = _check_readable(path)
    if shutil.which("tshark") is None:
        raise UserError("tshark is not installed: run 'make setup' (as root) to install it")
    import pyshark  # imported here: the default decoder must not need it

    # pyshark needs a SIGCHLD-based child watcher to see tshark exit, and would leave one
    # installed for good on the default loop, where every later child process of ours
    # would trip it. So: a loop of our own, with its watcher, both undone afterwards.
    loop = asyncio.new_event_loop()
    watcher = asyncio.SafeChildWatcher()
    watcher.attach_loop(loop)
    asyncio.set_child_watcher(watcher)
    capture = pyshark.FileCapture(path, keep_packets=False, eventloop=loop)
    try:
        for packet in capture:
            stats.frames += 1
            when = float(packet.frame_info.time_epoch)
            if stats.end_time is None or when > stats.end_time:
                stats.end_time = when
            names = [layer.layer_name for layer in packet.layers]
            if "tcp" not in names or _QUOTING_LAYERS & set(names):
                continue
            ip_layers = [layer for layer in packet.layers if layer.layer_name in ("ip", "ipv6")]
            if not ip_layers:
                continue
            ip, tcp = ip_layers[-1], packet.tcp
            flags = int(tcp.flags, 16)
            stats.tcp_segments += 1
            yield Segment(
                int(packet.frame_info.number),
                float(packet.frame_info.time_epoch),
                6 if ip.layer_name == "ipv6" else 4,
                ip.src,
                int(tcp.srcport),
                ip.dst,
                int(tcp.dstport),
                flags & 0xFF,
                int(tcp.seq_raw),
                int(tcp.get_field_value("ack_raw") or 0),
                int(tcp.window_size_value),
                int(tcp.len),
                _options(tcp) if flags & SYN else None,
            )
    except (pyshark.capture.capture.TSharkCrashException, EOFError) as error:
        # tshark stops at a cut-off record too: what came before stands.
        stats.warnings.append(f"tshark stopped early ({error}); the {stats.frames} packets before were read")
    finally:
        capture.close()
        watcher.close()
        # None puts back the default watcher (typeshed allows only a watcher).
        asyncio.set_child_watcher(None)  # type: ignore[arg-type]
        loop.close()
    if stats.frames and not stats.tcp_segments:
        stats.warnings.append("tshark found no TCP segment in the file")
