"""The analysis as text for people: one block per connection, times relative to the file start.

A file of OVERVIEW_FROM connections or more (or with a scan or flood) opens with an
overview: the outcomes counted (output/summary.py), the scans and floods
(findings/scans.py), the interesting connections a line each (refused, reset, resent,
unfinished, given up by a timer; INTERESTING_SHOWN of them and a count of the rest); then
the connections' blocks in id order, those of a scan or flood folded into it (one line says
how many; --all shows them). `only` (output/only.py) chooses the connections told, in the
lines and the blocks; the counts and the scans stay the file's.
"""

from __future__ import annotations

import heapq
import io
from array import array
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import groupby
from typing import TYPE_CHECKING, Final, TextIO

from analyzer.analysis import (
    ANY_PORT,
    BACKSCATTER,
    Analysis,
    ConnectionAnalysis,
    FileStream,
    Links,
    ScanFinding,
    fold_key,
    other_isn_words,
)
from analyzer.connections import (
    CAPTURE_COPY_WINDOW,
    CAPTURE_COPY_WINDOW_UNNUMBERED,
    EXPIRY_TEXT,
    FORWARD_COPY_WINDOW,
)
from analyzer.decode import DecodeStats
from analyzer.decode.icmp_codes import describe, errno_of
from analyzer.decode.segment import ACK, SYN, exact_stamp, seq_diff
from analyzer.listing import shortened
from analyzer.output.glossary import options_words
from analyzer.output.labels import silent_end
from analyzer.output.only import other_retransmissions, shown
from analyzer.output.spool import IdOrderedSpool
from analyzer.timefmt import Clock, format_duration, since, to_the_microsecond
from analyzer.udp_flows import UdpFlow

if TYPE_CHECKING:
    from analyzer.output.summary import Summary
    from analyzer.parallel.placement import ShareIndex

_COPIES_SHOWN = 6


def _missed_packets(
    counts: Counter, acked: int, reordered: int = 0, after_probes: int = 0, unfilled_bytes: int = 0
) -> str:
    """What Wireshark's gap flags say of the capture itself, in words. A gap in a sender's
    numbers may be a loss before the capture point (but for the `reordered`, filled later by
    the packet first sent, and those `after_probes` the capture began with); data
    acknowledged but never seen (`acked`: ConnectionAnalysis.acked_uncaptured) reached its
    receiver: the capture missed it (or it went another way). `unfilled_bytes`: the bytes of
    the gaps never filled (GapFills.unfilled_bytes), said where given."""
    after = counts.get("lost_segment", 0) - reordered - after_probes
    said = []
    if after:
        said.append(
            f"{after} segment{'s follow' if after != 1 else ' follows'} a gap in the sender's numbers (lost before "
            "the capture point, or missed by it)"
            + (f", {unfilled_bytes:,} bytes in the gaps never filled" if unfilled_bytes > 0 else "")
        )
    if acked:
        said.append(
            f"{acked} segment{'s acknowledge' if acked != 1 else ' acknowledges'} data it never saw, which reached "
            "the receiver: the "
            "capture missed it (tcpdump's buffer, -B; a mirror port past its rate) or it went another way"
        )
    return f"packets not in the capture: {'; '.join(said)}" if said else ""


def _reordered(fills: list[tuple[int, int]]) -> str:
    """The gaps filled by the packet first sent (findings/gaps.py), in words: a gap of several
    segments has a filler each."""
    count = len({gap for gap, _filler in fills})
    shown = shortened([f"{filler} (after {gap})" for gap, filler in fills], _COPIES_SHOWN)
    many = (
        f"the packets first sent ({len(fills):,} segments; each one's"
        if len(fills) > count
        else "the packet first sent (its"
    )
    return (
        f"{count:,} gap{'s' if count != 1 else ''} in a sender's numbers filled later by {many} IPv4 identification "
        "comes before that of the segment after the gap; where none tells, it came sooner than a resend can): "
        f"delayed on the way, in the capture, not lost: {shown}"
    )


def _filed_late(pairs: list[tuple[int, int]]) -> str:
    """The data filed after the ACK that acknowledges it (findings/gaps.py), in words."""
    count = len(pairs)
    shown = shortened([f"{data} (after {ack})" for ack, data in pairs], _COPIES_SHOWN)
    return (
        f"{count:,} segment{'s' if count != 1 else ''} filed after the ACK that acknowledges "
        f"{'them' if count != 1 else 'it'}, stamped before it: the file's order is not its times' "
        f"(several CPUs' capture buffers, or captures merged), not missed by the capture: {shown}"
    )


def format_endpoint(endpoint: tuple[str, int], family: int) -> str:
    ip, port = endpoint
    return f"[{ip}]:{port}" if family == 6 else f"{ip}:{port}"


def _state_line(
    history: list, frames: list[int | None], origin: Clock, silent: str, stamps: dict[int, int]
) -> str:
    """Each state with its time and the frame that moved the end into it (none for a timer's
    move, nor for the state an end is first seen in); `silent` for an end that sent nothing."""
    if not history:
        return silent
    parts = [history[0][1].value]
    for index in range(1, len(history)):
        time, state = history[index]
        frame = frames[index] if index < len(frames) else None
        at = f", frame {frame}" if frame is not None else ""
        parts.append(f"{state.value} ({since(origin.since_moment(time, frame, stamps))}{at})")
    return " → ".join(parts)


def connection_text(result: ConnectionAnalysis, origin: Clock) -> list[str]:
    c = result.connection
    lines = [
        f"#{c.id} IPv{c.family} {format_endpoint(c.client, c.family)} → "
        f"{format_endpoint(c.server, c.family)}  {c.packets} packet{'' if c.packets == 1 else 's'}, "
        f"{to_the_microsecond(origin.since_stamp(c.first_stamp), True)} s .. "
        f"{to_the_microsecond(origin.since_stamp(c.last_stamp), True)} s"
        # A span that reads backwards is the capture's clock, not a misprint: say so.
        + (
            " (its last frame stamped before its first: the clock stepped back)"
            if c.last_time < c.first_time
            else ""
        )
    ]
    if c.tunnels:
        also = "; some segments also captured outside any tunnel" if c.untunnelled_too else ""
        lines.append(f"  tunnel     inside {', '.join(c.tunnels)}{also}")
    if c.copy_count:
        shown = ", ".join(f"{copy.frame} (of {original})" for copy, original in c.copies[:_COPIES_SHOWN])
        more = f" and {c.copy_count - _COPIES_SHOWN:,} more" if c.copy_count > _COPIES_SHOWN else ""
        # Some sent twice on the path (the next line): not only the capture's own copies.
        again = "seen again" if result.on_the_wire_twice else "captured again"
        lines.append(
            f"  copies     {c.copy_count:,} frame{'s' if c.copy_count > 1 else ''} {again}, left out of "
            f"the analysis (the same packet within {CAPTURE_COPY_WINDOW * 1000:g} ms, "
            f"{CAPTURE_COPY_WINDOW_UNNUMBERED * 1000:g} ms with nothing to tell a resend: no IPv4 identification, "
            f"SYN timestamps, SACK block or a TTL one lower; or as a router or bridge sent it on, whole or in "
            f"pieces, its TTL one lower or on another interface, within {FORWARD_COPY_WINDOW:g} s): {shown}{more}"
        )
        twice = result.on_the_wire_twice
        if twice:
            count = len(twice)
            listed = shortened([f"{copy} (D-SACK in {answer})" for copy, answer in twice], _COPIES_SHOWN)
            lines.append(
                f"  duplicated {count:,} of them {'were' if count != 1 else 'was'} on the wire twice: the receiver "
                "answered each with a duplicate SACK (RFC 2883), so it got both (a path that duplicates packets; "
                f"the second is dropped, nothing resent): {listed}"
            )
    if result.vantage is not None and result.vantage.point != "one_host":
        lines.append(f"  captured   {result.vantage.explain()}")
    lines.append(f"  handshake  {result.handshake.explain()}")
    failed = [check for check in result.handshake.checks if not check.ok]
    for check in failed:
        lines.append(f"             check failed: {check.what}: expected {check.expected}, saw {check.seen}")
    handshake = result.handshake
    if handshake.client_options is not None or handshake.server_options is not None:
        # What each SYN offered: timestamps, SACK or window scaling off shows only here.
        lines.append(
            f"  options    the client's SYN: {options_words(handshake.client_options)}; the server's: "
            f"{options_words(handshake.server_options)}"
        )
    if result.syn_backoff.intervals:
        times = shortened([f"{origin.since(t):+.3f}" for t in result.syn_backoff.times])
        lines.append(f"  SYNs       at {times} s")
        lines.append(f"  backoff    {result.syn_backoff.describe()}")
    if result.synack_backoff.sent_again:
        lines.append(f"  SYN/ACK    {result.synack_backoff.describe()}")
    for other in result.other_synacks:
        if other.backoff.sent_again:
            lines.append(f"  SYN/ACK    {other_isn_words(other.isn)}: {other.backoff.describe()}")
    lines.append(f"  close      {result.close.explain()}")
    # An attempt an ICMP error ended (its handshake line says so) was given up by no silence
    # of its own: the tracker's timer read no ICMP (helper-120: both said).
    if c.expired is not None and not (c.expired == "attempt" and result.handshake.status == "unreachable"):
        lines.append(f"  expired    {EXPIRY_TEXT[c.expired]}")
    if result.sequence.flags:
        counts = ", ".join(
            f"{kind.replace('_', ' ')} {n}" for kind, n in sorted(result.sequence.counts().items())
        )
        # Wireshark's analysis flags, counted as tshark counts them: a spurious retransmission
        # is a retransmission too, a fast one as well.
        flagged = len(result.sequence.flags)
        lines.append(
            f"  sequence   {counts} (Wireshark's flags, on {flagged} frame{'s' if flagged != 1 else ''})"
        )
        gaps = result.gaps
        missed = _missed_packets(
            result.own_sequence.counts(),
            result.acked_uncaptured(),
            # The gaps only packets first sent filled (a gap of several has a filler each).
            len({gap for gap, _ in gaps.reordered} - {gap for gap, _ in gaps.resent})
            if gaps is not None
            else 0,
            len(gaps.after_probes) if gaps is not None else 0,
            gaps.unfilled_bytes if gaps is not None else 0,
        )
        if missed:
            lines.append(f"  capture    {missed}")
        if gaps is not None and (gaps.probe_acks or gaps.after_probes):
            probed = sorted(gaps.probe_acks + gaps.after_probes)
            lines.append(
                f"  capture    frame{'s' if len(probed) != 1 else ''} {shortened([str(f) for f in probed], _COPIES_SHOWN)} "
                "flagged by Wireshark after a gap only because the capture began while an end probed "
                "(keep-alive or window probes, one below its next number, acknowledged one past it): nothing missed"
            )
        if gaps is not None and gaps.reordered:
            lines.append(f"  reordered  {_reordered(gaps.reordered)}")
        if gaps is not None and gaps.filed_late:
            lines.append(f"  reordered  {_filed_late(gaps.filed_late)}")
    # Ours, by the numbers sent before: at a sender, Wireshark flags most resends of a SACK
    # recovery out-of-order (within the iRTT of the highest segment sent). A SYN's are the
    # backoff's (every SYN is kept, a long connection's too).
    syns = {s.frame for s in c.segments if s.flags & SYN}
    count = sum(1 for frame in result.resends if frame not in syns)
    # And those whose first copy the capture lacks: a gap their resend filled (helper-122: a
    # bottleneck's losses before the capture point said nothing here, beside a ladder of them).
    filled = len(result.gaps.resent) if result.gaps is not None else 0
    if count or filled:
        said = []
        if count:
            said.append(
                f"{count:,} segment{'s' if count != 1 else ''} sent again (copies of data or FIN sent before, "
                f"whatever Wireshark's flags call them){_offloaded_resends(result, syns)}"
            )
        if filled:
            said.append(
                f"{filled:,}{' segment' + ('s' if filled != 1 else '') if not count else ''} that filled a gap in "
                "their sender's numbers (the first copy not captured: lost before the capture point, or missed)"
            )
        lines.append(f"  resent     {', and '.join(said)}")
    if result.ecn:
        lines.append(f"  ECN        {result.ecn.explain()}")
    if result.urgent:
        lines.append(f"  urgent     {result.urgent.explain()}")
    lines.extend(_reset_lines(result, origin))
    lines.extend(_icmp_lines(result, origin))
    for diagnosis in result.diagnoses:
        lines.append(f"  diagnosis  {diagnosis.kind}: {diagnosis.sentence} [{diagnosis.display_filter}]")
    stamps = c.stamps_by_frame()
    for side in ("client", "server"):
        frames = result.state_frames.get(side, [])
        line = _state_line(result.states[side], frames, origin, silent_end(result, side), stamps)
        lines.append(f"  {side:<10} {line}")
    if result.kernel is not None:
        lines.append(f"  kernel     {result.kernel.describe()}")
        if result.kernel.events is not None:
            lines.extend(f"  kernel     {line}" for line in result.kernel.events.describe(origin.time))
    lines.extend(f"  note       {note}" for note in result.notes)
    return lines


def _reset_lines(result: ConnectionAnalysis, origin: Clock) -> list[str]:
    """A line each RST, but one for a run of RSTs alike (sender and its state, cause, words,
    taken or not): a host with no socket answers each segment of a burst (helper-148: 1,234
    lines of one killed client's RSTs)."""
    lines = []
    for (sent_by, cause, explanation, _accepted), run in groupby(
        result.resets, key=lambda reset: (reset.sent_by, reset.cause, reset.explanation, reset.accepted)
    ):
        resets = list(run)
        first, last = resets[0].segment, resets[-1].segment
        when = to_the_microsecond(origin.since_stamp(first.stamp), True)
        if len(resets) == 1:
            said = f"frame {first.frame}, {when} s"
        else:
            frames = shortened([str(reset.segment.frame) for reset in resets], _COPIES_SHOWN)
            said = (
                f"{len(resets):,} alike, frames {frames}, {when} .. "
                f"{to_the_microsecond(origin.since_stamp(last.stamp), True)} s"
            )
        lines.append(f"  RST        {said} {sent_by}: {cause}: {explanation}")
    return lines


def _icmp_lines(result: ConnectionAnalysis, origin: Clock) -> list[str]:
    """The ICMP errors that quote the connection's segments, but those its handshake line
    tells (a SYN's): a connection past its handshake takes one as a soft error and goes on,
    and it was said in the JSON alone (helper-120: 58 host-unreachable frames, none told)."""
    c, handshake = result.connection, result.handshake
    told = {e.frame for e in (handshake.unreachable, handshake.last_unreachable) if e is not None}
    final = handshake.final_ack
    lines = []
    for error in c.unreachables:
        if error.frame in told:
            continue
        src, sport, dst, dport = error.quoted
        about = "client" if (src, sport) == c.client else "server"
        errno = errno_of(error)
        at = exact_stamp(error)
        # What its sender's peer had acknowledged before it: an error quoting below that is
        # about a segment its stack no longer waits on (Linux counts it out of window, and
        # ignores it: tcp_v4_err, tcp_v6_err).
        acked = max(
            (
                seq_diff(s.ack, error.quoted_seq)
                for s in c.segments
                if s.flags & ACK and (s.src, s.sport) == (dst, dport) and s.stamp <= at
            ),
            default=0,
        )
        if acked > 0:
            then = ": about data already acknowledged, which its stack no longer waits on (Linux ignores it)"
        elif error.too_big:
            then = ": its sender sends smaller segments from then on (path MTU discovery)"
        elif handshake.status == "complete" and final is not None and error.time >= final.time:
            # RFC 1122 4.2.3.9 would have TCP abort on a protocol or port unreachable; Linux,
            # once connected, keeps every one as a soft error (unless IP_RECVERR).
            then = (
                ": past the handshake its stack goes on sending (Linux keeps it as a soft error), and its "
                f"application hears of it{f' ({errno})' if errno else ''} only if the connection then times out"
            )
        else:
            then = ""
        lines.append(
            f"  ICMP       frame {error.frame}, {to_the_microsecond(origin.since_stamp(at), True)} s: "
            f"{describe(error)} from {error.src}, about the {about}'s segment (seq {error.quoted_seq}){then}"
        )
    return lines


def _offloaded_resends(result: ConnectionAnalysis, syns: set[int]) -> str:
    """Where resent frames hold more data than the receiver's SYN allowed a segment (a capture
    on a host before TSO cut them, or after GRO joined them), how many segments of that size
    they carry: the frames count fewer than the sender's stack did (helper-139: 41 frames,
    773 segments resent by the kernel's count)."""
    handshake, c = result.handshake, result.connection
    frames = set(result.resends) - syns
    carried = segments = 0
    joined = False
    for segment in c.segments:
        if segment.frame not in frames:
            continue
        mss = handshake.segment_allowed(c.from_client(segment))
        size = segment.payload_len
        carried += size
        if mss and size > mss:
            joined = True
            segments += -(-size // mss)
        else:
            segments += 1
    if not joined:
        return ""
    return (
        f"; frames, not segments: offloads joined them (TSO, GRO), the {len(frames):,} carry {carried:,} bytes, "
        f"about {segments:,} segments of the size the SYNs allowed"
    )


def _cut_frames(stats: DecodeStats) -> str:
    """The frames kept shorter than they were on the wire, said in the first line: to the
    snapshot length the file names only where each was kept to it (a tool may write records
    cut shorter, a pcapng's interfaces have a length each)."""
    count = stats.frames_cut
    shortest, longest = stats.cut_shortest, stats.cut_longest
    if shortest == longest == stats.snaplen:
        to = f"cut to {longest:,} bytes (the snapshot length)"
    elif shortest == longest:
        to = f"cut to {longest:,} bytes"
    else:
        to = f"cut to {shortest:,}-{longest:,} bytes"
    return f"; {count:,} frame{'s' if count != 1 else ''} {to}: lengths and numbers hold, payload contents do not"


def head_lines(
    file: str, stats: DecodeStats, count: int, udp: list[UdpFlow], application: list[str], links: Links
) -> list[str]:
    """The report's first lines (also the summary's): the file's counts, warnings, what
    the call log shows, and the connections that are one."""
    lines = [
        f"{file}: {stats.frames} packet{'s' if stats.frames != 1 else ''} ({stats.format})"
        + stats.fragments_clause()
        + f", {stats.tcp_segments} TCP, "
        f"{count} connection{'s' if count != 1 else ''}"
        + (f", {len(udp)} UDP flow{'s' if len(udp) != 1 else ''}" if udp else "")
        + ("; times: +seconds since frame 1, as Wireshark's" if stats.frames else "")
        + (_cut_frames(stats) if stats.frames_cut else "")
    ]
    lines.extend(f"warning: {w}" for w in stats.warnings)
    lines.extend(f"application: {finding}" for finding in application)
    lines.extend(link_lines(links))
    return lines


# How many translated connections the head names one by one (--format json lists them all).
TRANSLATIONS_SHOWN: Final = 8


def link_lines(links: Links) -> list[str]:
    """The connections that are one (findings/links.py), in the report's first lines."""
    return link_sentences(
        links, lambda ident: f"#{ident}", TRANSLATIONS_SHOWN, "--format json lists them all"
    )


def link_sentences(
    links: Links, name: Callable[[int], str], shown: int, all_of_them: str, sides: Callable[[str], str] = str
) -> list[str]:
    """The connections that are one, a sentence for the address translations (the first
    `shown`; `all_of_them` says where the rest are) and one for each Multipath TCP connection
    with subflows: each connection by `name`, each translation's sides kept by `sides` (the
    text report's and the report page's, one wording)."""
    sentences = []
    translations = links.translations
    if translations:
        pairs = ", ".join(sides(" = ".join(name(i) for i in t.connections)) for t in translations[:shown])
        more = len(translations) - shown
        sentences.append(
            f"address translation: {plural(len(translations), 'connection')} seen on both sides of a NAT (the "
            f"same sequence numbers on another 4-tuple, in the order their SYNs were captured): {pairs}"
            + (f" and {more:,} more ({all_of_them})" if more > 0 else "")
        )
    for multipath in links.multipath:
        subflows = ", ".join(name(i) for i in multipath.subflows)
        opened = (
            name(multipath.connection) if multipath.connection is not None else "a connection not captured"
        )
        sentences.append(
            f"Multipath TCP: {opened} (token 0x{multipath.token:08x}) and the subflow"
            f"{'s' if len(multipath.subflows) != 1 else ''} that joined it: {subflows}"
        )
    return sentences


def _udp_text(udp: list[UdpFlow]) -> list[str]:
    lines = []
    for flow in udp:
        lines.append("")
        lines.append(
            f"#U{flow.id} IPv{flow.family} {format_endpoint(flow.client, flow.family)} → "
            f"{format_endpoint(flow.server, flow.family)}  {flow.summary()}"
        )
        lines.extend(f"  datagrams  {finding}" for finding in flow.findings)
    return lines


SCAN_KINDS: Final = {
    "vertical": "port scan (vertical)",
    "horizontal": "address sweep (horizontal)",
    "block": "block scan (many ports on many hosts)",
    "flood": "SYN flood",
    BACKSCATTER: "backscatter",
}
ANSWER_TEXT: Final = (("synack", "SYN/ACK (open)"), ("rst", "RST (closed)"), ("none", "none (filtered)"))
# A FIN, NULL or Xmas probe is answered by RST from a closed port only (RFC 9293 3.10.7.1):
# no answer is an open port's or a filtered one's (nmap's "open|filtered"). An ACK probe is
# answered by RST from an open port and a closed one alike (nmap's "unfiltered"); only those
# answered are counted (findings/scans.py).


def _kind_text(scan: ScanFinding) -> str:
    """The finding's kind in words: a flood by what it was made of."""
    if scan.kind != "flood" or scan.syn_probes == scan.attempts:
        return SCAN_KINDS.get(scan.kind, scan.kind)
    if scan.ack_probes == scan.attempts:
        return "ACK flood"
    if scan.syn_probes == 0:
        return "flood of probes without SYN (ACK, FIN, NULL, Xmas, RST or other flags)"
    return "flood of SYNs and probes without SYN"


def _answer_label(scan: ScanFinding, answer: str, label: str) -> str:
    """What an answer says of a port, as the probes asked it."""
    others = scan.attempts - scan.syn_probes - scan.ack_probes  # FIN, NULL, Xmas ...
    if answer == "rst" and scan.ack_probes:
        # Every probe but the ACK probes went unanswered: the RSTs answered those (Maimon's
        # FIN/ACKs, the unanswered ones counted too).
        only_acks = scan.syn_probes == 0 and scan.answers["none"] == others
        return (
            "RST (no connection: unfiltered)"
            if scan.ack_probes == scan.attempts or only_acks
            else "RST (closed, or unfiltered)"
        )
    if answer != "none" or not others:
        return label
    if scan.syn_probes == 0:
        return "none (open or filtered)"
    return "none (filtered, or open to a probe without SYN)"


def _per_second(rate: float) -> str:
    """A finding's rate, as its lines give it."""
    return f" ({rate:,.0f} a second)" if rate >= 100 else f" ({rate:,.1f} a second)"


def _short_by_line(scan: ScanFinding) -> list[str]:
    """The line that says a full table may have left the counts short, if one did."""
    if not scan.short_by:
        return []
    return [f"      (a table filled up: its counts may be short by up to {scan.short_by:,})"]


def plural(count: int, word: str, estimated: bool = False) -> str:
    """'1 connection', '3 connections' (with 'about' for a count that may be short)."""
    about = "about " if estimated else ""
    return f"{about}{count:,} {word}{'' if count == 1 else 's'}"


def _ip(address: str) -> str:
    return f"[{address}]" if ":" in address else address


def scan_lines(scans: list[ScanFinding], origin: Clock, shown: int | None = None) -> list[str]:
    """The scans and floods, three or four lines each (`shown`: at most that many, and a
    line for the rest)."""
    if not scans:
        return []
    lines = [f"scans and floods ({len(scans)}):"]
    for number, scan in enumerate(scans[:shown], start=1):
        kind = _kind_text(scan)
        if scan.kind == BACKSCATTER:
            lines += _backscatter_lines(number, scan, origin)
            continue
        if scan.target is not None:
            host, port = scan.target
            sources = plural(scan.sources, "source", scan.estimated)
            where = f"{_ip(host)}:{port}" if port != ANY_PORT else f"{host} on {plural(scan.ports, 'port')}"
            what = f"{plural(scan.attempts, 'attempt')} of {where} from {sources}"
        else:
            ports = plural(scan.ports, "port")
            hosts = plural(scan.hosts, "host", scan.estimated)
            if scan.kind == "vertical" and scan.hosts == 1:
                what = f"{scan.source} probed {ports} of {scan.top_hosts[0][0]}"
            elif scan.kind == "horizontal" and scan.ports == 1:
                what = f"{scan.source} probed port {scan.top_ports[0][0]} on {hosts}"
            else:
                what = f"{scan.source} probed {ports} on {hosts}"
        lines.append(f"  [{number}] {kind}: {what}")
        rate = " (all at one instant)" if scan.rate is None else _per_second(scan.rate)
        # What an answer says of a port is a scan's question; a flood's is whether it was answered.
        answered = ", ".join(
            f"{scan.answers[answer]:,} {_answer_label(scan, answer, label) if scan.target is None else label.split(' (')[0]}"
            for answer, label in ANSWER_TEXT
            if scan.ack_probes < scan.attempts or answer == "rst"
        )
        if scan.ack_probes == scan.attempts:
            answered += "; ACK probes left unanswered are not counted"
        if scan.unrequested:
            answered += (
                f"; of the SYN/ACKs, {scan.unrequested:,} never sent again though unanswered in the capture for longer "
                "than a listener waits to: no request kept for their SYNs (SYN cookies), unless the capture missed "
                "their ACKs"
            )
        lines.append(
            f"      {plural(scan.attempts, 'attempt')} in {format_duration(scan.duration)}{rate} "
            f"from {origin.since(scan.first_time):+.3f} s; answers: {answered}"
        )
        # The hosts of a port scan (when more than one), the ports of a sweep (likewise).
        if scan.kind in ("vertical", "block") and scan.hosts > 1:
            lines.append(
                "      most probed hosts: "
                + ", ".join(
                    f"{_ip(ip)} ({plural(n, 'attempt')}, {plural(p, 'port')})" for ip, n, p in scan.top_hosts
                )
            )
        if (scan.kind in ("horizontal", "block") or scan.target is not None) and scan.ports > 1:
            lines.append(
                "      most probed ports: "
                + ", ".join(
                    f"{port} ({plural(n, 'attempt')}{'' if scan.target is not None else ', ' + plural(h, 'host')})"
                    for port, n, h in scan.top_ports
                )
            )
        if (
            scan.target is not None
            and scan.answers["synack"] == 0
            and scan.answers["rst"] == 0
            and scan.reset_probes < scan.attempts  # no host answers a RST (helper-141's RST flood)
        ):
            # helper-113's inbound-only capture of a flood read as a server that stopped answering.
            lines.append(
                f"      nothing from {_ip(scan.target[0])} answered: a host down or a firewall's drop, or a capture "
                "of the traffic to it only"
            )
        if scan.busiest is not None:
            start, count = scan.busiest
            lines.append(f"      busiest 10 s: {plural(count, 'attempt')} from {origin.since(start):+.3f} s")
        if scan.target is not None:
            if scan.top_sources:
                busiest = ", ".join(
                    f"{_ip(ip)} ({plural(n, 'attempt')})"
                    if ports == 1
                    else f"{_ip(ip)} ({plural(n, 'attempt')} of the host, on {plural(ports, 'port')})"
                    for ip, n, ports in scan.top_sources
                )
                lines.append(f"      busiest sources: {busiest}")
            else:
                lines.append("      no source stands out: each made one attempt or a few")
        lines += _short_by_line(scan)
    if shown is not None and len(scans) > shown:
        lines.append(f"  and {len(scans) - shown:,} more (--format json lists them all)")
    return lines


def _addresses(count: int, estimated: bool) -> str:
    return f"{'about ' if estimated else ''}{count:,} address{'' if count == 1 else 'es'}"


def _backscatter_lines(number: int, scan: ScanFinding, origin: Clock) -> list[str]:
    """A backscatter finding (findings/scans.py): who answered whom, from which ports, and
    the two readings of it."""
    hosts = _addresses(scan.hosts, scan.estimated)
    ports = f"port {scan.top_ports[0][0]}" if scan.ports == 1 else plural(scan.ports, "port")
    rate = "" if scan.rate is None else _per_second(scan.rate)
    answers = ", ".join(
        f"{scan.answers[answer]:,} {label}"
        for answer, label in (("synack", "SYN/ACK"), ("rst", "RST"))
        if scan.answers[answer]
    )
    lines = [
        f"  [{number}] {SCAN_KINDS[BACKSCATTER]}: {scan.source} answered {hosts} from {ports}; none of them "
        "sent it anything here",
        f"      {plural(scan.attempts, 'answer')} in {format_duration(scan.duration)}{rate} from "
        f"{origin.since(scan.first_time):+.3f} s: {answers}",
    ]
    if scan.ports > 1:
        lines.append(
            "      ports answered from: "
            + ", ".join(
                f"{port} ({plural(n, 'answer')}, {_addresses(h, scan.estimated)})"
                for port, n, h in scan.top_ports
            )
        )
    lines.append(
        f"      answers to SYNs with forged sources ({scan.source} the victim of a SYN flood), or a capture "
        "of one direction only"
    )
    return lines + _short_by_line(scan)


def interesting_reasons(result: ConnectionAnalysis) -> list[str]:
    """What makes a connection worth a look, a few words each; none for an ordinary one."""
    handshake, connection = result.handshake, result.connection
    reasons = []
    status = handshake.status
    if status == "refused":
        reasons.append("refused")
    elif status == "unreachable" and handshake.unreachable is not None:
        reasons.append(f"unreachable: {describe(handshake.unreachable)}")
    elif status == "no_answer":
        reasons.append(f"no answer to {plural(len(handshake.syns), 'SYN')}")
    elif status == "incomplete" and not handshake.opened_unseen:
        reasons.append("handshake incomplete")
    causes = []
    for reset in result.resets:
        if reset.cause != "refused" and (reset.sender, reset.cause) not in causes:
            causes.append((reset.sender, reset.cause))
    reasons.extend(f"RST from the {sender}: {cause}" for sender, cause in causes)
    if len(handshake.syns) > 1 and status != "no_answer":  # else said by "no answer to N SYNs"
        reasons.append(f"SYN sent {len(handshake.syns)} times")
    if len(handshake.synacks) > 1:
        reasons.append(f"SYN/ACK sent {len(handshake.synacks)} times")
    others = other_retransmissions(result)
    if others > 0:
        reasons.append(plural(others, "retransmission"))
    if result.urgent:
        reasons.append("urgent data (URG)")
    expired = connection.expired
    if expired is not None and not (
        expired == "attempt" and status in ("no_answer", "unreachable", "incomplete")
    ):
        reasons.append(f"given up by the {expired.replace('_', ' ')} timer")
    return reasons


def interesting_line(result: ConnectionAnalysis, reasons: list[str]) -> str:
    """The line of an interesting connection but its id (given when it is written, lined up)."""
    c = result.connection
    return f"{format_endpoint(c.client, c.family)} → {format_endpoint(c.server, c.family)}  " + "; ".join(
        reasons
    )


def analysis_text(analysis: Analysis, only: list[str] | None = None, show_all: bool = False) -> str:
    origin = analysis.stats.origin
    if origin is None:  # segments handed over without a file
        first = analysis.connections[0].connection if analysis.connections else None
        origin = first.start_clock if first is not None else Clock()
    report = TextReport(only, show_all)
    out = io.StringIO()
    try:
        for result in analysis.connections:
            report.add(result, origin)
        report.write(
            out, analysis.file, analysis.stats, analysis.udp, analysis.application, analysis.scans, origin,
            analysis.links,
        )  # fmt: skip
    finally:
        report.close()
    return out.getvalue()


def write_text(
    stream: FileStream, out: TextIO, only: list[str] | None = None, show_all: bool = False
) -> None:
    """analysis_text as the file is read: connections spooled as they end, printed in id
    order once the file has been read (nothing is printed for a file that cannot be read)."""
    report = TextReport(only, show_all)
    try:
        add_stream(report, stream)
        udp = stream.udp()
        scans = stream.scans.findings()
        report.write(
            out, stream.file, stream.stats, udp, stream.application(udp), scans, stream.origin or Clock(),
            stream.links.findings(scans),
        )  # fmt: skip
    finally:
        report.close()


def add_stream(report: TextReport, stream: FileStream, firsts: ShareIndex | None = None) -> None:
    """Every connection of the stream into the report, as it ends; `firsts`, when given,
    learns each one's first frame (a share's, see analyzer.parallel)."""
    scans = stream.scans
    if not report.show_all:
        stream.attempt_views = "hot"  # their details are not made: counting needs no more
    for result in stream.results:
        # The details of a probe that is sure to be folded into a scan or flood are not
        # made (a flood's would be most of the work), unless --all asks for them.
        hot = result.probe is not None and not report.show_all and scans.hot(result)
        report.add(result, stream.origin or Clock(), hot)
        if firsts is not None:
            connection = result.connection
            firsts.add_first(connection.id, connection.segments[0].frame)


# A file of fewer connections is told connection by connection, as it always was; from this
# many on, an overview comes first (its outcomes, scans and floods, the interesting
# connections a line each), then the connections, those of a scan or flood folded into it.
OVERVIEW_FROM: Final = 10
INTERESTING_SHOWN: Final = 20
SCANS_SHOWN: Final = 10


class ScanNumbers:
    """The number of the scan or flood a probe belongs to (its place in the report's list,
    from 1): the first finding that has its source (a scan; a backscatter finding's by
    scans.fold_key) or its target (a flood). Made
    from the findings' keys, (source, target), so that a share can be sent them."""

    def __init__(self, keys: list[tuple[str | None, tuple[str, int] | None]]) -> None:
        self.sources: dict[int, int] = {}  # hash of a scan's source -> its number
        self.targets: dict[int, int] = {}  # hash of a flood's target -> its number
        self.hosts: dict[int, int] = {}  # hash of the host of a flood on many ports -> its number
        for number, (source, target) in reversed(list(enumerate(keys, start=1))):
            if target is not None and target[1] == ANY_PORT:
                self.hosts[hash(target[0]) or 1] = number
            elif target is not None:
                self.targets[hash(target) or 1] = number
            elif source is not None:
                self.sources[hash(source) or 1] = number

    @staticmethod
    def keys(scans: list[ScanFinding]) -> list[tuple[str | None, tuple[str, int] | None]]:
        return [
            (fold_key(scan.kind, scan.source) if scan.source is not None else None, scan.target)
            for scan in scans
        ]

    def number(self, source: int, target: int, host: int) -> int | None:
        """Of a probe by the hashes of its source, target and host (TextReport.sources,
        .targets, .hosts): a scan's, else a flood's of its port, else of its host."""
        number = self.sources.get(source)
        if number is None:
            number = self.targets.get(target)
        return number if number is not None else self.hosts.get(host)


class ProbeHashes:
    """A hash by connection id, kept for probes: one value while every probe's is the same (a
    flood's target, a scan's source), 8 bytes an id once two differ."""

    def __init__(self) -> None:
        self.value = 0  # every probe's so far, while `values` is None; 0: none yet
        self.values: array[int] | None = None
        self.length = 0  # ids covered: one past the highest set

    def set(self, ident: int, value: int) -> None:
        """`value` (not 0) for the probe `ident`."""
        self.length = max(self.length, ident + 1)
        values = self.values
        if values is None:
            if self.value == 0 or self.value == value:
                self.value = value
                return
            values = self.values = array("q", [self.value]) * self.length
        missing = self.length - len(values)
        if missing > 0:
            values.extend(array("q", [0]) * missing)
        values[ident] = value

    def get(self, ident: int) -> int:
        """The value set for `ident` (a probe's: ids of other connections read anything)."""
        values = self.values
        return self.value if values is None else values[ident]


@dataclass
class TextTally:
    """What the overview says of the connections a report holds, once the scans are known;
    the shares of a big file add theirs up. The same whichever process held which while no
    table of the scans' filled up (findings/scans.py): a probe a share did not take for a
    scan's is made and folded all the same, unless its scan is then not found."""

    told: int = 0  # connections whose blocks are printed
    folded: dict[int, int] = field(default_factory=dict)  # scan number -> connections folded into it
    in_scans: int = 0  # connections of the scans and floods, folded or told (--all)
    lost: int = 0  # hot probes (details not made) that are in no scan after all
    listed: list[tuple[int, str]] = field(default_factory=list)  # the first interesting ones out of scans
    interesting: int = 0  # every interesting one out of scans

    def merge(self, other: TextTally, ids: Sequence[int]) -> None:
        """Add a share's tally, its ids the share's own: `ids` gives the file's."""
        self.told += other.told
        for number, n in other.folded.items():
            self.folded[number] = self.folded.get(number, 0) + n
        self.in_scans += other.in_scans
        self.lost += other.lost
        self.interesting += other.interesting
        self.listed = heapq.nsmallest(
            INTERESTING_SHOWN, [*self.listed, *((ids[ident], line) for ident, line in other.listed)]
        )


def _set_bit(bits: bytearray, ident: int) -> None:
    byte = ident >> 3
    if byte >= len(bits):
        bits.extend(bytes(byte + 1 - len(bits)))
    bits[byte] |= 1 << (ident & 7)


class TextReport:
    """The text report, fed each connection as it ends (in any order); written once all are
    in. What it keeps: each connection's block and, if it is interesting, its line, spooled
    (output/spool.py); the overview's counters (output/summary.py); for a probe, two hashes
    to tell at the end whether it belongs to a scan or flood (ProbeHashes: 8 bytes a probe
    where one side varies, a flood's sources or a scan's targets)."""

    def __init__(self, only: list[str] | None = None, show_all: bool = False) -> None:
        from analyzer.output.summary import Summary

        self.only = only
        self.show_all = show_all
        self.blocks = IdOrderedSpool()
        self.interesting = IdOrderedSpool()
        self.summary = Summary(tables=False)  # the overview's counts
        self.probes = bytearray()  # a bit by id: a probe
        self.sources = ProbeHashes()  # by id: hash of a probe's source
        self.targets = ProbeHashes()  # by id: hash of a probe's (host, port)
        self.hosts = ProbeHashes()  # by id: hash of a probe's host
        # A bit by id: the hot probes shown, whose details were not made (a flood's are
        # nearly all its connections: a bit each, not the 8 bytes of an id).
        self.unmade = bytearray()

    def add(self, result: ConnectionAnalysis, origin: Clock, hot: bool = False) -> None:
        """`hot`: a probe whose details are not kept, sure to be folded into a finding
        (ScanDetector.hot); one that is not after all is counted (see write)."""
        connection = result.connection
        self.summary.add(result)
        if result.probe is not None:
            ident = connection.id
            _set_bit(self.probes, ident)
            source = (
                fold_key(BACKSCATTER, connection.server[0])
                if result.probe == BACKSCATTER
                else connection.client[0]
            )
            self.sources.set(ident, hash(source) or 1)
            self.targets.set(ident, hash(connection.server) or 1)
            self.hosts.set(ident, hash(connection.server[0]) or 1)
        if self.only is not None and not shown(result, self.only):
            return
        if hot:
            _set_bit(self.unmade, connection.id)
            return
        self.blocks.add(connection.id, ("\n" + "\n".join(connection_text(result, origin))).encode())
        reasons = interesting_reasons(result)
        if reasons:
            self.interesting.add(connection.id, interesting_line(result, reasons).encode())

    def unmade_ids(self) -> Iterator[int]:
        """The ids of the hot probes whose details were not made, in order."""
        unmade = self.unmade
        for byte in range(len(unmade)):  # not enumerate(): mypyc cannot iterate a bytearray
            bits = unmade[byte]
            if bits:
                for bit in range(8):
                    if bits >> bit & 1:
                        yield byte * 8 + bit

    def scan_of(self, ident: int, numbers: ScanNumbers) -> int | None:
        """The number of the scan or flood the connection belongs to, if any."""
        byte = ident >> 3
        if byte >= len(self.probes) or not self.probes[byte] >> (ident & 7) & 1:
            return None
        return numbers.number(self.sources.get(ident), self.targets.get(ident), self.hosts.get(ident))

    def printed(self, ident: int, numbers: ScanNumbers) -> bool:
        """Whether the block the report holds for `ident` is printed: not folded into a scan."""
        return self.show_all or self.scan_of(ident, numbers) is None

    def tally(self, numbers: ScanNumbers) -> TextTally:
        tally = TextTally()
        for ident in self.blocks.ids():
            belongs = self.scan_of(ident, numbers)
            if belongs is not None:
                tally.in_scans += 1
            if belongs is None or self.show_all:
                tally.told += 1
            else:
                tally.folded[belongs] = tally.folded.get(belongs, 0) + 1
        for ident in self.unmade_ids():
            belongs = self.scan_of(ident, numbers)
            if belongs is None:
                tally.lost += 1
            else:
                tally.in_scans += 1
                tally.folded[belongs] = tally.folded.get(belongs, 0) + 1
        for ident, line in self.interesting.items():
            if self.scan_of(ident, numbers) is None:
                tally.interesting += 1
                if len(tally.listed) < INTERESTING_SHOWN:
                    tally.listed.append((ident, line))
        return tally

    def write(
        self,
        out: TextIO,
        file: str,
        stats: DecodeStats,
        udp: list[UdpFlow],
        application: list[str],
        scans: list[ScanFinding],
        origin: Clock,
        links: Links,
    ) -> None:
        numbers = ScanNumbers(ScanNumbers.keys(scans))
        head = head_lines(file, stats, self.summary.connections, udp, application, links)
        out.write(report_opening(head, self.summary, scans, self.tally(numbers), origin, self.only))
        for ident, block in self.blocks.items():
            if self.printed(ident, numbers):
                out.write("\n" + block)
        out.write(report_closing(udp if self.only is None else []))  # --only chooses among TCP connections

    def close(self) -> None:
        self.blocks.close()
        self.interesting.close()


# A block as the report holds it is "\n#<id> IPv4 ...", and is printed after a newline: a
# share of a big file writes its blocks with the file's ids in place of its own.
_BLOCK_START: Final = b"\n\n#"


def block_length(held: int, ident: int) -> int:
    """The length of the printed block held for `ident` (`held` bytes), less its id's digits."""
    return held + 1 - len(str(ident))


def renumbered_block(block: bytes, ident: int, file_id: int) -> bytes:
    """The block held for `ident` as printed, with `file_id` for its id."""
    return b"".join((_BLOCK_START, str(file_id).encode(), block[len(_BLOCK_START) - 1 + len(str(ident)) :]))


def report_opening(
    head: list[str], summary: Summary, scans: list[ScanFinding], tally: TextTally, origin: Clock,
    only: list[str] | None,
) -> str:  # fmt: skip
    """What comes before the connections' blocks: the head lines, then for a file of many
    connections (or with a scan or flood) the overview."""
    count = summary.connections
    which = f" ({', '.join(only)})" if only is not None else ""
    if count < OVERVIEW_FROM and not scans:
        if only is None:
            return "\n".join(head)
        return "\n".join(head) + f"\n\nconnections{which}: {tally.told:,} of {count:,}"
    sections = [summary.overview_lines()]
    if scans:
        sections.append(scan_lines(scans, origin, SCANS_SHOWN))
    sections.append(_interesting_lines(tally, which))
    heading = [_details_heading(tally.told, tally.folded, which)]
    if tally.lost:
        # A target that looked flooded while the file was read, and slowed down after.
        heading.append(
            f"({tally.lost:,} probes looked like a scan's or a flood's while the file was read and are "
            "in none after all: --all shows them)"
        )
    sections.append(heading)
    return "\n".join(head) + "\n\n" + "\n\n".join("\n".join(section) for section in sections)


def report_closing(udp: list[UdpFlow]) -> str:
    """What comes after the connections' blocks: the UDP flows."""
    return "\n".join(["", *_udp_text(udp)]) + "\n"


def _interesting_lines(tally: TextTally, which: str) -> list[str]:
    """The interesting connections a line each by id, INTERESTING_SHOWN of them, and how
    many more; those of a scan or flood are told by it."""
    listed = tally.listed
    width = max((len(str(ident)) for ident, _line in listed), default=0)
    lines = [f"  #{ident:<{width}} {line}" for ident, line in listed]
    heading = f"interesting connections{which}:"
    if not lines:
        lines.append("  none" + (" besides those of the scans and floods" if tally.in_scans else ""))
    elif tally.in_scans:
        lines.append("  (and those of the scans and floods above)")
    if tally.interesting > len(listed):
        lines.insert(len(listed), f"  and {tally.interesting - len(listed):,} more (below, in id order)")
    return [heading, *lines]


def _details_heading(told: int, folded: dict[int, int], which: str) -> str:
    if not folded:
        return f"connections{which}, in id order ({told:,}):"
    into = "; ".join(
        f"{n:,} folded into [{number}]" for number, n in sorted(folded.items()) if number <= SCANS_SHOWN
    )
    unlisted = sum(n for number, n in folded.items() if number > SCANS_SHOWN)
    if unlisted:
        into += f"{'; ' if into else ''}{unlisted:,} into the scans and floods not listed"
    rest = f"the other {told:,} below, in id order" if told else "none other"
    return f"connections{which}: {into} (--all shows them one by one, --format conn a line each); {rest}"
