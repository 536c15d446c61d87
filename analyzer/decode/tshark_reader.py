"""The second decoder: Wireshark's dissectors through pyshark, for what the fast reader does not
decode (tunnels such as GRE/ERSPAN, exotic link types). Slow (tshark renders every packet),
so it is chosen with `--decoder tshark`, never by default. It yields the same Segment records;
a test holds both decoders to the same packets, flags, seq and ack.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import shutil
from collections.abc import Iterator
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from analyzer.decode.capture_file import RECORD_HEADER_DAMAGED, CaptureFile, zero_stamped_warning
from analyzer.decode.headers import ICMPV6_PACKET_TOO_BIG
from analyzer.decode.icmp_codes import FRAGMENTATION_NEEDED
from analyzer.decode.ip_tcp import option_values, parse_options
from analyzer.decode.reader import DecodeStats, timer_offset, untimed_warning
from analyzer.decode.segment import (
    DEST_UNREACHABLE,
    MOD,
    RST,
    RST_DATA_KEPT,
    SYN,
    UNSEEN,
    Datagram,
    Segment,
    TcpOptions,
    Unreachable,
    capture_interface,
)
from analyzer.decode.udp_icmp import error_kind
from analyzer.errors import CaptureFileError, UserError
from analyzer.timefmt import between, epoch_seconds

# TCP quoted inside an ICMP error is not a segment of the connection (tshark dissects it anyway).
_QUOTING_LAYERS = {"icmp", "icmpv6"}
_IP_LAYERS = ("ip", "ipv6")
# tshark's layers that carry an inner IP packet -> the tunnel's name as the fast decoder
# gives it (decode/tunnels.py); GRE inside UDP is "GRE-in-UDP", any GRE carrying ERSPAN "ERSPAN".
_TUNNEL_LAYERS = {
    "vxlan": "VXLAN",
    "geneve": "GENEVE",
    "teredo": "Teredo",
    "ayiya": "AYIYA",
    "gtp": "GTP-U",
    "l2tp": "L2TP",
    "lisp-data": "LISP",
}
# Linux's VXLAN port, which tshark does not decode by default and the fast decoder does.
_DECODE_AS = {"udp.port==8472": "vxlan"}


def tunnel_name(layers: list[str]) -> str:
    """The tunnels around the innermost IP header, outermost first, from tshark's layer
    names ("eth", "ip", "gre", "erspan", "eth", "ip", "tcp" -> "ERSPAN")."""
    names: list[str] = []
    outer: str | None = None
    between: list[str] = []
    for layer in layers:
        if layer not in _IP_LAYERS:
            if outer is not None:
                between.append(layer)
            continue
        if outer is not None:
            names.append(_one_tunnel(outer, layer, between))
        outer, between = layer, []
    return " > ".join(names)


def _one_tunnel(outer: str, inner: str, between: list[str]) -> str:
    if "erspan" in between:
        return "ERSPAN"
    if "gre" in between:
        return "GRE-in-UDP" if "udp" in between[: between.index("gre")] else "GRE"
    if "mpls" in between and "udp" in between[: between.index("mpls")]:
        return "MPLS-in-UDP"
    for layer in between:
        if layer in _TUNNEL_LAYERS:
            return _TUNNEL_LAYERS[layer]
    if not between:
        return f"IPv{6 if inner == 'ipv6' else 4}-in-IPv{6 if outer == 'ipv6' else 4}"
    return between[0].upper()


def _check_readable(path: str, stats: DecodeStats) -> tuple[str, int, bool, list[str], int, list[str]]:
    """The same one-line errors as the fast reader for a missing or non-capture file; the
    format, the snapshot length it names, whether it has several interfaces, what the file's
    structure is wrong in (cut off, a block of impossible length, packet blocks left unread), as
    the fast reader says it, and the frames it holds; the frames it holds cut short counted in
    `stats`. Read here, not told by pyshark: whether it notices that tshark stopped early depends
    on when asyncio collects tshark's exit status (a cut-off file went unsaid in one CI run).
    Last, the packets the capturing tool says it dropped (pcapng interface statistics), which
    pyshark does not give."""
    capture = CaptureFile(path)
    with capture:
        while capture.next_frame():
            if not capture.whole:
                stats.cut_frame(len(capture.data))
    return (
        capture.format,
        capture.snaplen,
        capture.many_interfaces,
        capture.warnings + capture.skipped_warnings(),
        capture.frames_read,
        capture.drop_warnings(),
    )


def _frame_layer_first(packet: Any) -> None:
    """pyshark takes the second section of tshark's PDML for the frame's and the rest for
    its layers; a packet with a pcapng comment (opt_comment) has its pkt_comment section
    there, before the frame's: put back in their places, the comment dropped."""
    if packet.frame_info.layer_name == "frame":
        return
    for index, layer in enumerate(packet.layers):
        if layer.layer_name == "frame":
            packet.frame_info = layer
            packet.layers = packet.layers[index + 1 :]
            return


def _interface(packet: Any, many: bool) -> int:
    """The interface the frame was captured on, as the fast reader tells it (Segment.interface)."""
    file_interface = int(packet.frame_info.get_field_value("interface_id") or 0) if many else 0
    link = packet.layers[0]
    if link.layer_name == "sll":
        ifindex, packet_type = link.get_field_value("ifindex"), link.get_field_value("pkttype")
        if ifindex is not None:
            return capture_interface(file_interface, many, int(ifindex), UNSEEN)
        if packet_type is not None:
            return capture_interface(file_interface, many, UNSEEN, int(packet_type))
    return capture_interface(file_interface, many, UNSEEN, UNSEEN)


def _payload_cut(packet: Any, tcp: Any) -> bool:
    """Some of the TCP payload is not in the capture: fewer bytes captured after the TCP
    header (its position in the frame, from tshark's PDML) than the IP length says; without
    payload, some of the options (Segment.payload_cut)."""
    start = int(tcp.get_field("srcport").main_field.pos) + int(tcp.hdr_len)
    return int(packet.frame_info.cap_len) - start < int(tcp.len)


def _options(tcp: Any) -> TcpOptions:
    def value(name: str) -> str | None:
        return tcp.get_field_value(name)

    mss, shift = value("options_mss_val"), value("options_wscale_shift")
    raw = value("options")
    # A list the snapshot length cut is no hex string ("" or a summary): what tshark found of it.
    listed = _hex(raw) if raw else b""
    cut = int(tcp.hdr_len) > 20 and (listed is None or len(listed) < int(tcp.hdr_len) - 20)
    # The list's own bytes read as the fast decoder reads them (an option of the wrong length
    # is none, as Linux has it), where tshark gives them.
    parsed = parse_options(listed) if listed else None
    return TcpOptions(
        int(mss) if mss is not None else None,
        int(shift) if shift is not None else None,
        parsed.sack_permitted if parsed is not None else value("options_sack_perm") is not None,
        value("options_timestamp_tsval") is not None,
        parsed.fast_open if parsed is not None else False,
        cut,
        parsed.fast_open_cookie if parsed is not None else 0,
        parsed.mptcp_reset if parsed is not None else -1,
        parsed.mptcp_fastclose if parsed is not None else False,
        parsed.mptcp_version if parsed is not None else -1,
        parsed.mptcp_key if parsed is not None else -1,
        parsed.mptcp_join_token if parsed is not None else -1,
    )


def _reset_options(tcp: Any) -> TcpOptions | None:
    """A RST's options where they give an MPTCP reason, as the fast decoder keeps them."""
    if int(tcp.hdr_len) <= 20:
        return None
    options = _options(tcp)
    return options if options.mptcp else None


def _hex(text: str) -> bytes | None:
    try:
        return bytes.fromhex(text.replace(":", ""))
    except ValueError:
        return None


def _nanoseconds(epoch: str) -> int:
    """tshark's frame.time_epoch ("1796367894.979101234") as integer nanoseconds, exactly."""
    return int(Decimal(epoch).scaleb(9).to_integral_value(ROUND_FLOOR))


def _record(
    packet: Any, when: float, stamp: int, layout: tuple[list[str], int, Any], many_interfaces: bool = False
) -> Segment | Datagram | Unreachable | None:
    """What the fast reader makes of the same frame (decode/reader.py): the innermost TCP
    segment, else an ICMP destination unreachable, else the innermost UDP datagram.
    `layout`: _layout(packet); `many_interfaces`: the file has several (a pcapng's)."""
    layers = packet.layers
    names, quoting, ip = layout
    frame = int(packet.frame_info.number)
    if ip is None:
        return None
    family = 6 if ip.layer_name == "ipv6" else 4
    # str(): pyshark's field values are its own objects, which no encoder writes.
    src, dst = str(ip.src), str(ip.dst)
    if family == 6:
        dst = _final_destination(ip) or dst
    if "tcp" in names[:quoting]:
        tcp = layers[max(i for i, name in enumerate(names[:quoting]) if name == "tcp")]
        flags = int(tcp.flags, 16)
        return Segment(
            frame,
            when,
            family,
            src,
            int(tcp.srcport),
            dst,
            int(tcp.dstport),
            flags & 0x1FF,  # the eight flags and AE, not the three reserved bits
            int(tcp.seq_raw),
            int(tcp.get_field_value("ack_raw") or 0),
            int(tcp.window_size_value),
            int(tcp.len),
            _options(tcp) if flags & SYN else _reset_options(tcp) if flags & RST else None,
            tunnel_name(names),
            int(ip.id, 16) if family == 4 else UNSEEN,
            int(tcp.checksum, 16),
            int(ip.ttl if family == 4 else ip.hlim),
            _rst_data(tcp) if flags & RST else b"",
            # A datagram put together from fragments was whole; its TCP header is not in this frame.
            _payload_cut(packet, tcp) and ip.get_field_value("fragment_count") is None,
            *_first_sack_block(tcp),
            stamp,
            _interface(packet, many_interfaces),
            *_timestamps(tcp),
        )
    if quoting < len(names):
        return _unreachable(layers[quoting], frame, when, stamp, family, src, dst)
    udp_at = [i for i, name in enumerate(names) if name == "udp"]
    if not udp_at:
        return None
    udp = layers[udp_at[-1]]
    return Datagram(
        frame, when, family, src, int(udp.srcport), dst, int(udp.dstport), int(udp.length) - 8, stamp
    )


def _final_destination(ipv6: Any) -> str | None:
    """Where a routing header with segments left leads at last, as the fast decoder takes it
    (decode/ip_tcp.py): type 0's last address, SRv6's first segment, Mobile IPv6's home
    address; None without one."""
    left = ipv6.get_field_value("routing_segleft")
    if left is None or str(left) == "0":
        return None
    for name, last in (
        ("routing_srh_addr", False),
        ("routing_src_addr", True),
        ("routing_mipv6_home_address", True),
    ):
        listed = ipv6.get_field(name)
        if listed is not None:
            values = [str(value.show) for value in listed.all_fields]
            return values[-1] if last else values[0]
    return None


def _layout(packet: Any) -> tuple[list[str], int, Any]:
    """A packet's layer names, where the headers an ICMP error quotes begin (their count if
    none), and its innermost IP layer before them (None)."""
    names = [layer.layer_name for layer in packet.layers]
    quoting = next((i for i, name in enumerate(names) if name in _QUOTING_LAYERS), len(names))
    at = [i for i, name in enumerate(names[:quoting]) if name in _IP_LAYERS]
    return names, quoting, packet.layers[at[-1]] if at else None


def _fragment_key(ip: Any) -> tuple[str, str, str] | None:
    """The datagram an IP fragment belongs to (addresses and identification); None for a
    packet that is no fragment."""
    if ip.layer_name == "ipv6":
        ident = ip.get_field_value("fraghdr_ident")
        return None if ident is None else (str(ip.src), str(ip.dst), str(ident))
    more = str(ip.get_field_value("flags_mf") or "0") in ("1", "True")
    offset = str(ip.get_field_value("frag_offset") or "0") != "0"
    return (str(ip.src), str(ip.dst), str(ip.id)) if more or offset else None


def _unread(packet: Any, names: list[str], ip: Any) -> str | None:
    """Why a frame that may hold TCP gave no record, as the fast reader says it; None for one
    that holds none (ARP, a UDP protocol's frame without UDP...). `names`, `ip`: _layout's."""
    if ip is None:
        if "wlan" in names and str(packet["wlan"].get_field_value("fc_protected") or "0") in ("1", "True"):
            return "802.11 protected (encrypted) data frames"
        link = packet.layers[0] if packet.layers else None
        kind = link.get_field_value("type") if link is not None else None
        if kind is not None and int(str(kind), 16) in (0x0800, 0x86DD):
            return "cut before their IP header's end (the snapshot length)"
        return None
    protocol = ip.get_field_value("proto" if ip.layer_name == "ip" else "nxt")
    if protocol is not None and str(protocol) == "6":
        return "cut before their TCP header's end (the snapshot length)"
    return None


def _said(error: Exception) -> str:
    """pyshark's message for tshark's end, in one line: tshark's own last word if it has one."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    last = next((line for line in lines if line.startswith("Last error line:")), None)
    if last is not None and last.removeprefix("Last error line:").strip():
        return last.removeprefix("Last error line:").strip()
    return lines[0] if lines else type(error).__name__


def _first_sack_block(tcp: Any) -> tuple[int, int]:
    """The first SACK block as absolute sequence numbers: tshark gives its edges relative to
    the other direction's ISN, as it gives the acknowledgment number (ack against ack_raw)."""
    left, right = tcp.get_field_value("options_sack_le"), tcp.get_field_value("options_sack_re")
    if left is None or right is None:
        return UNSEEN, UNSEEN
    base = int(tcp.get_field_value("ack_raw") or 0) - int(tcp.get_field_value("ack") or 0)
    return (int(str(left)) + base) % MOD, (int(str(right)) + base) % MOD


def _timestamps(tcp: Any) -> tuple[int, int]:
    """TSval and TSecr as the fast reader reads them (the list's own bytes where tshark gives
    them: the last timestamps option of the right length), else tshark's fields."""
    if int(tcp.hdr_len) <= 20:
        return UNSEEN, UNSEEN
    raw = tcp.get_field_value("options")
    listed = _hex(raw) if raw else None
    if listed:
        _, _, ts_val, ts_ecr = option_values(listed, 0, len(listed))
        return ts_val, ts_ecr
    tsval, tsecr = (
        tcp.get_field_value("options_timestamp_tsval"),
        tcp.get_field_value("options_timestamp_tsecr"),
    )
    if tsval is None or tsecr is None:
        return UNSEEN, UNSEEN
    return int(str(tsval)), int(str(tsecr))


def _rst_data(tcp: Any) -> bytes:
    """tshark gives a RST's data as its text ("reset_cause"), not as bytes: the same bytes
    for a text in ASCII, which is what such data is (RFC 9293 3.5.3)."""
    cause = tcp.get_field_value("reset_cause")
    if cause is not None:
        text = str(cause).encode("utf-8", "backslashreplace")
        # All of it, as text, or nothing: tshark stops at a NUL and replaces what is not text.
        return text[:RST_DATA_KEPT] if len(text) == int(tcp.len) else b""
    raw = tcp.get_field_value("payload")
    return bytes.fromhex(str(raw).replace(":", ""))[:RST_DATA_KEPT] if raw else b""


def _unreachable(
    icmp: Any, frame: int, when: float, stamp: int, family: int, src: str, dst: str
) -> Unreachable | None:
    """pyshark gives the headers an ICMP error quotes as fields of the ICMP layer itself,
    prefixed with their protocol ("ip_src", "udp_srcport")."""
    kind, code = int(icmp.type), int(icmp.code)
    says = error_kind(kind, family)
    if says < 0:
        return None

    def field(name: str) -> str | None:
        value = icmp.get_field_value(name)
        return None if value is None else str(value)

    path_mtu = -1
    if kind == ICMPV6_PACKET_TOO_BIG or (
        family == 4 and says == DEST_UNREACHABLE and code == FRAGMENTATION_NEEDED
    ):
        mtu = field("mtu")  # icmp.mtu, icmpv6.mtu
        path_mtu = int(mtu) if mtu is not None else 0

    ip = "ip" if field("ip_src") is not None else "ipv6"
    transport = "udp" if field("udp_srcport") is not None else "tcp"
    values = [
        field(f"{ip}_src"),
        field(f"{ip}_dst"),
        field(f"{transport}_srcport"),
        field(f"{transport}_dstport"),
    ]
    protocol = field("ip_proto" if ip == "ip" else "ipv6_nxt")
    if protocol is None or None in values or (says != DEST_UNREACHABLE and transport != "tcp"):
        return None
    quoted_src, quoted_dst, sport, dport = (str(value) for value in values)
    quoted = (quoted_src, int(sport), quoted_dst, int(dport))
    # In a header an ICMP error quotes Wireshark runs no sequence analysis: tcp.seq is the
    # number as sent (tcp.seq_raw, where a version gives it).
    seq = (field("tcp_seq_raw") or field("tcp_seq")) if transport == "tcp" else None
    checksum = field("checksum")  # icmp.checksum, icmpv6.checksum: "0x1c2b"
    return Unreachable(
        frame,
        when,
        family,
        src,
        dst,
        code,
        int(protocol),
        quoted,
        int(seq) if seq is not None else -1,
        path_mtu,
        stamp,
        says,
        int(checksum, 0) if checksum is not None else UNSEEN,
    )


def read_segments_tshark(path: str, stats: DecodeStats | None = None) -> Iterator[Segment]:
    """The TCP segments read_packets_tshark finds."""
    for record in read_packets_tshark(path, stats):
        if isinstance(record, Segment):
            yield record


def read_packets_tshark(
    path: str, stats: DecodeStats | None = None
) -> Iterator[Segment | Datagram | Unreachable]:
    """Like decode.read_packets, through Wireshark's dissectors."""
    stats = stats if stats is not None else DecodeStats()
    stats.format, stats.snaplen, many_interfaces, structure, readable, dropped = _check_readable(path, stats)
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
    capture = pyshark.FileCapture(path, keep_packets=False, eventloop=loop, decode_as=_DECODE_AS)
    untimed = 0
    zero_stamped, first_zero = 0, 0  # packets stamped 0 after a stamped one (capture_file.py)
    previous, previous_stamp, latest_stamp = 0.0, 0, 0
    interface_stamps: dict[int, int] = {}  # in a file of several interfaces, each one's latest stamp
    said: str | None = None  # why tshark stopped early, if it said
    waiting: set[tuple[str, str, str]] = set()  # fragmented datagrams not put together yet
    try:
        for packet in capture:
            _frame_layer_first(packet)
            frame_info = packet.frame_info
            stamp = frame_info.get_field_value("time_epoch")
            stats.frames += 1
            if stamp is None and "cb_pen" in frame_info.field_names:
                continue  # a pcapng Custom Block: a frame by tshark 4's numbers, no packet
            if stamp is None:  # a Simple Packet Block: no time of its own
                untimed += 1
                when = stats.end_time if stats.end_time is not None else 0.0
                nanos = latest_stamp
            else:
                nanos = _nanoseconds(str(stamp))
                when = epoch_seconds(nanos)  # as the fast reader makes it of the same stamp
                if not nanos and previous:
                    zero_stamped += 1
                    first_zero = first_zero or stats.frames
                    when, nanos = previous, previous_stamp
            previous, previous_stamp = when, nanos
            if stats.start_time is None:
                stats.start_time, stats.start_stamp = when, nanos
            own_step = 0.0
            if many_interfaces:  # each interface's latest stamp, as the fast reader keeps it
                interface = int(frame_info.get_field_value("interface_id") or 0)
                own = interface_stamps.get(interface, nanos)
                own_step, interface_stamps[interface] = (
                    between(nanos, own) if nanos < own else 0.0,
                    max(nanos, own),
                )
            if stats.end_time is None or nanos > latest_stamp:
                latest_stamp = nanos
                stats.end_time = when
            elif nanos < latest_stamp:
                step = between(nanos, latest_stamp)
                stats.went_back(stats.frames, step, own_step if many_interfaces else step)
            # No frame read ahead here (pyshark's): the timers' clock is the latest time (and
            # the offset after a clock's step back, reader.STAMPED_BACK), a frame stamped far
            # ahead followed too, one stamped far back taken for a step (the fast reader reads
            # the next frame to tell either from a clock's own move: CLOCK_LEAP).
            if stats.clock is None:
                stats.clock = when
            stats.timer_offset = timer_offset(when, stats.clock, stats.timer_offset)
            stats.clock = max(stats.clock, when + stats.timer_offset)
            layout = _layout(packet)
            try:
                record = _record(packet, when, nanos, layout, many_interfaces)
            except (AttributeError, ValueError, TypeError, KeyError):
                # A field the record needs is not there: tshark marked the header malformed
                # (a data offset below 5, or past the packet) or the snapshot length cut it.
                stats.skip(
                    "tshark dissected no complete TCP header (malformed, or cut by the snapshot length)"
                )
                continue
            ip = layout[2]
            fragment = _fragment_key(ip) if ip is not None else None
            if fragment is not None:
                # A datagram's fragments come before the frame that puts it together.
                count = ip.get_field_value("fragment_count")
                if count is not None:
                    waiting.discard(fragment)
                    stats.fragment_frames += int(count)
                    stats.reassembled += 1
                elif record is None:
                    waiting.add(fragment)
                    continue
            if record is None:
                reason = _unread(packet, layout[0], ip)
                if reason is not None:
                    stats.skip(reason)
                continue
            if isinstance(record, Segment):
                stats.tcp_segments += 1
            yield record
    except (pyshark.capture.capture.TSharkCrashException, EOFError) as error:
        # tshark stops at a cut-off record too: what came before stands. What is wrong with
        # the file is said once, as the fast reader says it, where it could tell.
        if not structure or stats.frames < readable:  # it stopped before what the file holds
            said = _said(error)
            stats.warnings.append(
                f"tshark stopped early ({said}); the {stats.frames} packets before were read"
            )
    finally:
        if said is None and stats.frames < readable:
            # pyshark did not see tshark's exit status in time: the count says it all the same.
            stats.warnings.append(
                f"tshark stopped early: it read {stats.frames} of the {readable} packets the file holds"
            )
        # tshark read past where the fast reader stopped: a format variant only it knows
        # (a pcap of longer record headers), not a damaged file.
        if stats.frames > readable:
            structure = [said for said in structure if RECORD_HEADER_DAMAGED not in said]
        stats.warnings[:0] = structure + dropped
        stats.warnings.extend(stats.undecodable_warnings())
        if untimed:
            stats.warnings.append(untimed_warning(untimed))
        if zero_stamped:
            stats.warnings.append(zero_stamped_warning(zero_stamped, first_zero))
        stats.fragments_incomplete = len(waiting)
        if waiting:
            stats.warnings.append(stats.fragments_warning())
        backwards = stats.backwards_warning()
        if backwards is not None:
            stats.warnings.append(backwards)
        # Its exit status, read after all its output: 255 where the child watcher lost the
        # child (asyncio's "Unknown child process", seen once in a test run) though every
        # packet was read. An early stop is said above; a reader stopped early killed it.
        with contextlib.suppress(pyshark.capture.capture.TSharkCrashException):
            capture.close()
        # A close that raised left tshark listed as running, and pyshark's __del__ would close
        # it again on a loop closed by then: a traceback on standard error at exit.
        capture._running_processes.clear()
        # Its transports too, left to the collector, would close on a closed loop: collected now.
        del capture
        gc.collect()
        watcher.close()
        # None puts back the default watcher (typeshed allows only a watcher).
        asyncio.set_child_watcher(None)  # type: ignore[arg-type]
        loop.close()
    if not stats.frames and readable:
        # Nothing read of a file that holds packets: a link type or block tshark does not
        # read, an error as the fast reader's for a link type it does not decode.
        why = said if said is None or said.startswith("(") else f"({said})"
        raise CaptureFileError(
            path,
            f"tshark read none of the file's {readable:,} packet{'s' if readable != 1 else ''}"
            + (f" {why}" if why else ""),
        )
