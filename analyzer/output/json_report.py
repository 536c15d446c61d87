"""The JSON contract of `handshake analyze --json`. Fields may be added, never renamed.

Schema version 1: {"file", "packets", "connections": [...]}, each connection with
file, id, family, client, server, first_time, last_time, handshake, backoff, close,
resets, states; plus the extra fields documented in the README. The file's scans and
floods are in the head, "scans" (findings/scans.py), and "only" says which connections the
document holds when --only chose some (null: all).

One shape for one file or many: every document has "connections" and "udp" (each naming
its "file") and, last, "files": each file's head with its counts (file_entry). A document
of one file also has that file's head at the top, where version 1 put it; a document of
several (parallel/reports.py, merge_documents) has only "schema_version" beside them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Final, TextIO

import msgspec

from analyzer.analysis import (
    ANY_PORT,
    BACKSCATTER,
    Analysis,
    Backoff,
    ConnectionAnalysis,
    FileStream,
    Links,
    ScanFinding,
)
from analyzer.decode import DecodeStats
from analyzer.decode.icmp_codes import describe, errno_of, kind_name
from analyzer.decode.segment import Unreachable, exact_stamp
from analyzer.output.only import shown
from analyzer.output.spool import IdOrderedSpool
from analyzer.parallel.placement import ShareLines, renumbered_fields, separator
from analyzer.tcp_state import State
from analyzer.timefmt import Clock
from analyzer.udp_flows import UdpFlow

SCHEMA_VERSION = 1


def relative_origin(stats: DecodeStats, results: list[ConnectionAnalysis] | None = None) -> Clock:
    """Frame 1's time, where every `*_relative` time counts from (Wireshark's clock); for
    segments handed over without a file, the first connection's start."""
    origin = stats.origin
    if origin is not None:
        return origin
    if results:
        return results[0].connection.start_clock
    return Clock()


def analysis_to_dict(analysis: Analysis) -> dict:
    head = document_head(
        analysis.file, analysis.stats, analysis.application, analysis.scans, links=analysis.links
    )
    return {
        **head,
        "connections": [
            connection_to_dict(c, relative_origin(analysis.stats, analysis.connections), analysis.file)
            for c in analysis.connections
        ],
        "udp": [udp_flow_to_dict(flow, analysis.file) for flow in analysis.udp],
        "files": [file_entry(head, len(analysis.connections), len(analysis.udp))],
    }


def file_entry(head: dict, connection_count: int, udp_flow_count: int) -> dict:
    """What the document's "files" says of one file (and the jsonl "file" line): its head,
    and how many connections and UDP flows it had (all of them, whatever --only kept)."""
    return {**head, "connection_count": connection_count, "udp_flow_count": udp_flow_count}


def merge_documents(documents: list[dict]) -> dict:
    """Several files' documents as one of the same shape: their connections and UDP flows
    one after another (each names its file; ids are each file's own), and their "files"."""
    return {
        "schema_version": SCHEMA_VERSION,
        "connections": [c for document in documents for c in document.get("connections", [])],
        "udp": [flow for document in documents for flow in document.get("udp", [])],
        # A file that could not be read is its {"file", "error"} (parallel/on_dask.py).
        "files": [entry for document in documents for entry in document.get("files", [document])],
    }


def document_head(
    file: str,
    stats: DecodeStats,
    application: list[str],
    scans: list[ScanFinding],
    only: list[str] | None = None,
    links: Links | None = None,
) -> dict:
    """The document's members before its connections (also the jsonl file line's and the
    JSON summary's first members). `only`: the kinds of connection --only asked for;
    `links`: the connections that are one (findings/links.py)."""
    return {
        "schema_version": SCHEMA_VERSION,
        "file": file,
        "capture_start": stats.start_time,  # frame 1's time: every *_relative time counts from it
        "format": stats.format,
        # Added: the snapshot length the file names (0: none named).
        "snapshot_length": stats.snaplen,
        "packets": stats.frames,
        "tcp_packets": stats.tcp_segments,
        # Added: IP fragments read (frames) and the datagrams put together from them.
        "ip_fragments": {"frames": stats.fragment_frames, "datagrams": stats.reassembled},
        "warnings": list(stats.warnings),
        "application": application,
        "scans": [scan_to_dict(scan) for scan in scans],
        "only": only,
        **links_members(links if links is not None else Links()),
    }


def links_members(links: Links) -> dict:
    """The head's members on connections that are one (findings/links.py), by their ids:
    added, each a list (empty without any)."""
    return {
        # Each connection seen on several sides of address translations, in the order of
        # their first SYNs.
        "address_translations": [{"connections": list(t.connections)} for t in links.translations],
        # Each Multipath TCP connection whose subflows joined it: the connection that opened
        # it (null: not captured), the token its key gives, the subflows that named it.
        "multipath_tcp": [
            {"connection": m.connection, "token": f"0x{m.token:08x}", "subflows": list(m.subflows)}
            for m in links.multipath
        ],
    }


def scan_to_dict(scan: ScanFinding) -> dict:
    """A scan or flood (findings/scans.py): its kind, who and what, its counts."""
    return {
        "kind": scan.kind,
        "source": scan.source,
        # A flood of a host on many ports (scans.ANY_PORT) has a null port.
        "target": (
            {"ip": scan.target[0], "port": scan.target[1] if scan.target[1] != ANY_PORT else None}
            if scan.target is not None
            else None
        ),
        "attempts": scan.attempts,
        # Added: the attempts that were SYNs (the others probes without SYN); null for backscatter.
        "syn_probes": scan.syn_probes if scan.kind != BACKSCATTER else None,
        # Added: the ACK probes among them (answered by a RST for no connection); null for backscatter.
        "ack_probes": scan.ack_probes if scan.kind != BACKSCATTER else None,
        "sources": scan.sources,
        "hosts": scan.hosts,
        "ports": scan.ports,
        "estimated": scan.estimated,
        "answered": scan.answers,
        # Added: of the SYN/ACKs, those never sent again though unanswered: no request kept.
        "synack_unrequested": scan.unrequested,
        "first_time": scan.first_time,
        "last_time": scan.last_time,
        "duration": scan.duration,
        "rate": scan.rate,
        "top_hosts": [{"ip": ip, "attempts": n, "ports": ports} for ip, n, ports in scan.top_hosts],
        "top_ports": [{"port": port, "attempts": n, "hosts": hosts} for port, n, hosts in scan.top_ports],
        # "attempts" of the host; "ports" (added): of it probed, the flooded one alone when 1.
        "top_sources": [{"ip": ip, "attempts": n, "ports": ports} for ip, n, ports in scan.top_sources],
        "counts_short_by": scan.short_by,
        "busiest_10s": (
            {"first_time": scan.busiest[0], "attempts": scan.busiest[1]} if scan.busiest is not None else None
        ),
    }


_ENCODER: Final = msgspec.json.Encoder()


def _compact(value: object) -> str:
    """One line of JSON without spaces. msgspec writes the same values as the json module
    (floats in their shortest round-trip form, though 2e-05 comes out as 0.00002, and
    characters beyond ASCII as UTF-8 rather than escaped), three times as fast."""
    return _ENCODER.encode(value).decode()


def write_document(stream: FileStream, out: TextIO, only: list[str] | None = None) -> None:
    """The same document as analysis_to_dict, written as the file is read: each connection
    is encoded once it is over and spooled, then all come out in id order, one a line.
    Nothing is written before the file has been read to its end (an unreadable file
    raises CaptureFileError with the output untouched). `only`: the kinds of connection to
    hold (output/only.py); the others are left out, and the UDP flows, but not the file's
    counts and scans."""
    counted: list[int] = []
    spool = spool_connections(stream, only=only, counted=counted)
    try:
        head, udp, udp_count = document_ends(stream, only)
        write_framed(_compact(head), iter(spool), udp, files_member(head, counted[0], udp_count), out)
    finally:
        spool.close()


def spool_connections(
    stream: FileStream,
    noted: ShareLines | None = None,
    only: list[str] | None = None,
    counted: list[int] | None = None,
) -> IdOrderedSpool:
    """Every connection of the stream encoded, one line each, kept in id order; `noted`,
    when given, learns each line's first frame, length, reused ports and where its ids lie
    (see analyzer.parallel.placement). `only`: just the connections of these kinds.
    `counted`, when given, gets the number of connections, spooled or not."""
    spool = IdOrderedSpool()
    count = 0
    try:
        for result in stream.results:
            count += 1
            if only is not None and not shown(result, only):
                continue
            connection = result.connection
            value = connection_to_dict(result, relative_origin(stream.stats), stream.file)
            if noted is None:
                spool.add(connection.id, _ENCODER.encode(value))
                continue
            # A share's lines get the file's ids where the encoder says they are.
            reuses = connection.reuses_ports_of
            line, spans = encoded_marking(value, renumbered_fields(reuses))
            noted.add(connection.id, connection.segments[0].frame, len(line), reuses, spans)
            spool.add(connection.id, line)
    except BaseException:
        spool.close()
        raise
    if counted is not None:
        counted.append(count)
    return spool


def encoded_marking(value: dict, marked: tuple[str, ...]) -> tuple[bytes, list[int]]:
    """`value` encoded as _ENCODER encodes it, and where in it the values of the keys in
    `marked` begin and end (two numbers each, in the order of `marked`; -1 for a key it
    does not have). An object's first members encode as the start of the whole object's
    encoding (less its closing brace): a marked value ends where the encoding of the
    members up to it ends, whatever the order of the keys; encoding them again costs
    little while the marked keys come early."""
    spans = [-1] * (2 * len(marked))
    members: dict = {}
    left = len(marked)
    for key, item in value.items():
        if not left:
            break
        members[key] = item
        if key in marked:
            end = len(_ENCODER.encode(members)) - 1
            where = 2 * marked.index(key)
            spans[where], spans[where + 1] = end - len(_ENCODER.encode(item)), end
            left -= 1
    return _ENCODER.encode(value), spans


def document_ends(stream: FileStream, only: list[str] | None = None) -> tuple[dict, str, int]:
    """The document's head (without its connections, to be encoded), its UDP flows encoded
    and how many the file has, once the stream's results are exhausted."""
    udp = stream.udp()
    scans = stream.scans.findings()
    head = document_head(
        stream.file, stream.stats, stream.application(udp), scans, only, stream.links.findings(scans)
    )
    # --only chooses among the TCP connections: no UDP flow is one of its kinds.
    encoded = _compact([udp_flow_to_dict(flow, stream.file) for flow in udp] if only is None else [])
    return head, encoded, len(udp)


def files_member(head: dict, connection_count: int, udp_flow_count: int) -> str:
    """The document's "files" for one file, encoded (see document_frame)."""
    return _compact([file_entry(head, connection_count, udp_flow_count)])


def encoded_head(head: dict) -> str:
    """The head as document_frame takes it."""
    return _compact(head)


def write_framed(head: str, connections: Iterator[str], udp: str, files: str, out: TextIO) -> None:
    """The document from its parts: the head, the connections one a line, the UDP flows,
    the files' heads with their counts."""
    opening, closing = document_frame(head, udp, files)
    out.write(opening)
    for index, line in enumerate(connections):
        out.write(separator(index).decode() + line)
    out.write(closing)


def document_frame(head: str, udp: str, files: str) -> tuple[str, str]:
    """What comes before the connections' lines and what after (see write_framed): the
    connections start on the line after the head, and the closing is one line."""
    return head[:-1] + ',"connections":[', '\n],"udp":' + udp + ',"files":' + files + "}"


class MergedDocument:
    """Several files' documents, as written by write_document, into one of the same shape
    (merge_documents), streamed: each file's connection lines are copied as they are, so a
    big file's report never sits in memory; only its UDP flows and head are read in."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._count = 0
        self._udp: list = []
        self._files: list = []
        out.write(f'{{"schema_version":{SCHEMA_VERSION},"connections":[')

    def add(self, document: TextIO) -> None:
        """One file's document (document_frame's layout: the head on the first line, a
        connection a line, the closing on the last)."""
        document.readline()  # the head: the closing has it again, in "files"
        for line in document:
            if line.startswith("]"):
                closing = json.loads("{" + line[2:])
                self._udp.extend(closing["udp"])
                self._files.extend(closing["files"])
                return
            self._out.write(separator(self._count).decode() + line.rstrip("\n").removesuffix(","))
            self._count += 1
        raise ValueError(f"{getattr(document, 'name', 'a document')} ends before its closing line")

    def close(self) -> None:
        self._out.write('\n],"udp":' + _compact(self._udp) + ',"files":' + _compact(self._files) + "}")


def udp_flow_to_dict(flow: UdpFlow, file: str = "") -> dict:
    return {
        "file": file,
        "id": flow.id,
        "family": flow.family,
        "client": _endpoint(flow.client),
        "server": _endpoint(flow.server),
        "summary": flow.summary(),
        # Added: every datagram and ICMP error counted; the lists below hold the first 1,000.
        "datagram_count": flow.datagram_count,
        "unreachable_count": flow.unreachable_count,
        "datagrams": [
            {
                "time": d.time,
                "frame": d.frame,
                "sender": "client" if flow.from_client(d) else "server",
                "length": d.length,
            }
            for d in flow.datagrams
        ],
        "unreachable": [
            {
                "time": message.time,
                "frame": message.frame,
                "from": message.src,
                "code": message.code,
                "answers_frame": answered.frame if answered else None,
            }
            for message, answered in flow.unreachables
        ],
        "findings": flow.findings,
    }


def _icmp_error(error: Unreachable, origin: Clock) -> dict:
    """An ICMP destination unreachable (or Packet Too Big) that quotes one of the connection's
    segments."""
    src, sport, dst, dport = error.quoted
    return {
        "frame": error.frame,
        "time": error.time,
        "time_relative": origin.since_stamp(exact_stamp(error)),
        "from": error.src,
        "family": error.family,
        "code": error.code,
        "type": kind_name(error),
        "says": describe(error),
        "errno": errno_of(error),
        "mtu": error.path_mtu if error.too_big else None,
        "quotes": {"src": src, "sport": sport, "dst": dst, "dport": dport, "seq": error.quoted_seq},
    }


def _continues(result: ConnectionAnalysis) -> dict | None:
    """The connection given up as idle that this one continues: by its first frame (the
    same in every share of a big file, where ids are renumbered), and how long it was quiet."""
    handshake = result.handshake
    if handshake.continues_frame < 0:
        return None
    return {"first_frame": handshake.continues_frame, "quiet_for": handshake.quiet_for}


def _endpoint(endpoint: tuple[str, int]) -> dict:
    return {"ip": endpoint[0], "port": endpoint[1]}


def _backoff(backoff: Backoff) -> dict:
    return {
        "times": backoff.times,
        "intervals": backoff.intervals,
        "pattern": backoff.pattern,
        "initial_rto": backoff.initial_rto,
        "factor": backoff.factor,
        "linear_count": backoff.linear_count,
        "matches": backoff.matches,
        "matches_if_missed": (
            None
            if backoff.if_missed is None
            else {
                "schedule": backoff.if_missed.schedule,
                "missed": backoff.if_missed.missed,
                "positions": backoff.if_missed.positions,
            }
        ),
        "answers_to_repeated_syns": backoff.answers,
        "first_uncaptured": backoff.first_uncaptured,
        "after_refusals": backoff.after_refusals,
        "after_challenges": backoff.after_challenges,
    }


def _state_changes(result: ConnectionAnalysis, origin: Clock) -> list[dict]:
    """Both ends' states in the order they came, each with the frame that caused it (null: the
    state an end is first seen in, or a timer's move): in time order; where the clock stepped
    back within the connection, a packet's change is placed by the latest time of the file up
    to its frame, then by frame (by time alone the changes after the step came before those
    they followed, and a reader of the last one took ESTABLISHED for the end state)."""
    clock, latest, stepped = float("-inf"), {}, False
    for segment in result.connection.segments:
        stepped = stepped or segment.time < clock
        clock = max(clock, segment.time)
        latest[segment.frame] = clock
    changes: list[tuple[float, int, int, str, State, float, int | None]] = []
    for end, history in result.states.items():
        frames = result.state_frames.get(end, [])
        for index, (time, state) in enumerate(history):
            frame = frames[index] if index < len(frames) else None
            if stepped and frame is not None:
                changes.append((latest.get(frame, time), frame, len(changes), end, state, time, frame))
            else:
                changes.append((time, -1, len(changes), end, state, time, frame))
    changes.sort()
    stamps = result.connection.stamps_by_frame()
    return [
        {
            "end": end,
            "state": state,
            "time": time,
            "time_relative": origin.since_moment(time, frame, stamps),
            "frame": frame,
        }
        for _at, _frame, _order, end, state, time, frame in changes
    ]


def _ecn_signals(result: ConnectionAnalysis) -> dict | None:
    """With ECN agreed: by sender, the frames of its ECE echoes and of its CWR reductions."""
    ecn = result.ecn
    if ecn is None:
        return None
    return {
        "echo_frames": {side: [s.frame for s in found] for side, found in ecn.echoes.items()},
        "cwr_frames": {side: [s.frame for s in found] for side, found in ecn.reductions.items()},
    }


def connection_to_dict(result: ConnectionAnalysis, origin: Clock, file: str = "") -> dict:
    """The connection's JSON object, as values the encoders write: some arrays are tuples,
    some strings States, and the state histories are the analysis's own lists. Beside each
    epoch time, the same as seconds since `origin`, frame 1's time (`*_relative`). `file`:
    the capture it is in (ids are a file's own)."""
    connection, handshake, close = result.connection, result.handshake, result.close
    ecn_asked, ecn_agreed = handshake.ecn_negotiated
    sequence = result.sequence
    compatibility = result.compatibility
    zeek = compatibility.zeek
    return {
        "file": file,
        "id": connection.id,
        "family": connection.family,
        "client": _endpoint(connection.client),
        "server": _endpoint(connection.server),
        "client_basis": connection.client_basis,
        "reuses_ports_of": connection.reuses_ports_of,
        "expired": connection.expired,
        "continues": _continues(result),
        "icmp_errors": [_icmp_error(error, origin) for error in connection.unreachables],
        "tunnels": connection.tunnels,
        "untunnelled_too": connection.untunnelled_too,
        "capture_copies": {
            "count": connection.copy_count,
            "frames": [[copy.frame, original] for copy, original in connection.copies],
            # Those its receiver got twice (a D-SACK answered each): [copy, D-SACK frame].
            "on_the_wire_twice": [[copy, answer] for copy, answer in result.on_the_wire_twice],
        },
        "first_time": connection.first_time,
        "last_time": connection.last_time,
        "first_time_relative": origin.since_stamp(connection.first_stamp),
        "last_time_relative": origin.since_stamp(connection.last_stamp),
        "packets": connection.packets,
        "summary": result.summary(),
        "handshake": {
            "status": handshake.status,
            "variant": handshake.variant,
            "syn_times": [s.time for s in handshake.syns],
            "synack_times": [s.time for s in handshake.synacks],
            "syn_times_relative": [origin.since_stamp(s.stamp) for s in handshake.syns],
            "synack_times_relative": [origin.since_stamp(s.stamp) for s in handshake.synacks],
            "client_isn": handshake.client_isn,
            "server_isn": handshake.server_isn,
            "rtt": handshake.answered_syn_to_ack,
            "syn_to_synack": handshake.syn_to_synack,
            "synack_to_ack": handshake.synack_to_ack,
            "checks": [
                {"check": c.what, "expected": c.expected, "seen": c.seen, "ok": c.ok}
                for c in handshake.checks
            ],
            "client_options": handshake.client_options,
            "fast_open": handshake.fast_open,
            # findings/ecn_negotiation.py: "ECN" (RFC 3168), "AccECN" (RFC 9768) or null.
            "ecn_asked": ecn_asked or None,
            "ecn_agreed": ecn_agreed or None,
            "server_options": handshake.server_options,
            "unreachable_frame": handshake.unreachable.frame if handshake.unreachable is not None else None,
            "late_syn_frames": [s.frame for s in handshake.late_syns],
            "echoed_syn_frame": handshake.echoed_syn.frame if handshake.echoed_syn is not None else None,
            "ack_not_taken": handshake.ack_not_taken,
            # Added: the ACK never reached the server, a later segment of the client's completed
            # its handshake: that segment's frame (else null).
            "taken_late_frame": handshake.taken_late.frame if handshake.taken_late is not None else None,
            "first_synack_late": handshake.first_synack_late,
            "bare_ack_uncaptured": handshake.bare_ack_uncaptured,
            "unrequested_for": handshake.unrequested_for,
            "explanation": handshake.explain(),
        },
        "backoff": _backoff(result.syn_backoff),
        "synack_backoff": _backoff(result.synack_backoff),
        # Added: the SYN/ACK backoff of each other ISN the server answered with (another
        # request: handshake.other_server_isns), its timer's SYN/ACKs by frame.
        "other_synack_backoffs": [
            {"server_isn": other.isn, "frames": [s.frame for s in other.sent], **_backoff(other.backoff)}
            for other in result.other_synacks
        ],
        "close": {
            "first_fin": close.first_fin,
            "shape": close.shape,
            "time_wait": close.time_wait,
            "explanation": close.explain(),
            # Added: the shape of the whole ending (fin-then-reset when a RST cut the FINs
            # short, else `shape`) and the frame of the RST that ended it (reset or fin-then-reset).
            "ending": close.ending,
            "reset_frame": close.reset.frame if close.reset is not None else None,
            # Added: the frames of the FINs the peer never acknowledged (the close not completed).
            "unacknowledged_fins": [fin.frame for fin in close.unacknowledged or ()],
            # Added: the next connection's SYN on the 4-tuple that ended the TIME_WAIT held.
            "time_wait_ended_frame": close.time_wait_ended.frame
            if close.time_wait_ended is not None
            else None,
            # Added: the FINs the capture missed, each with the frame that shows it: the peer's
            # acknowledgment of it, or its sender's next segment, one number past it.
            "missed_fins": [
                {
                    "sender": side,
                    "shown_by_frame": fin.frame,
                    "shown_by": "next_segment" if fin in (close.missed_skipped or ()) else "acknowledgment",
                }
                for side, fin in (close.fins or {}).items()
                if fin in (close.missed or ())
            ],
            # Added: the end without a FIN whose last sequence numbers the capture missed (its
            # FIN may have been among them), how many, and its peer's frame that acknowledges them.
            "unseen_tail": {
                "sender": close.unseen_tail[0],
                "numbers": close.unseen_tail[1],
                "acknowledged_by_frame": close.unseen_tail[2],
            }
            if close.unseen_tail is not None
            else None,
        },
        "resets": [
            {
                "time": r.segment.time,
                "time_relative": origin.since_stamp(r.segment.stamp),
                "frame": r.segment.frame,
                "sender": r.sender,
                "state": r.state,
                "cause": r.cause,
                "explanation": r.explanation,
                "accepted": r.accepted,
                "evidence_frames": r.evidence,
            }
            for r in result.resets
        ],
        # As kept, not copied: each (time, state) is written as the array [time, "STATE"].
        "states": result.states,
        "state_changes": _state_changes(result, origin),
        "notes": result.notes,
        "diagnoses": [diagnosis.as_dict() for diagnosis in result.diagnoses],
        "vantage": result.vantage.as_dict() if result.vantage is not None else None,
        "kernel": result.kernel.as_dict() if result.kernel is not None else None,
        "ecn_signals": _ecn_signals(result),
        "urgent": result.urgent.as_dict() if result.urgent is not None else None,
        "sequence": {
            # Most connections have nothing flagged: no Counter made for them.
            "counts": dict(sorted(sequence.counts().items())) if sequence.flags else {},
            "frames": {str(frame): kinds for frame, kinds in sequence.flags.items()},
            # What filled each gap flagged lost_segment: the packet first sent, late
            # (reordered), a resend, or nothing; null without gaps. Read without a stale
            # connection's segments within this one (own_sequence), which `frames` keeps.
            "gaps": result.gaps.as_dict() if result.gaps is not None else None,
        },
        "compatibility": {
            "wireshark_completeness": compatibility.wireshark_completeness,
            "wireshark_completeness_flags": compatibility.wireshark_completeness_flags,
            "tcptrace": compatibility.tcptrace,
            "zeek": {"conn_state": zeek.conn_state, "history": zeek.history},
        },
    }
