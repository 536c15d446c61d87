"""`handshake analyze --summary`: a file's connections in a few lines instead of one block each.

What it says:
- handshakes: how many connections had each handshake outcome (complete; answered, its
  SYN/ACK not captured: the client's ACK acknowledges a SYN/ACK the capture lacks, lost by it
  or the server's direction not captured, an opened connection; completed, only the server's
  packets captured: seen in its SYN/ACK alone, a later ACK of the server's acknowledges more,
  the client's direction not captured; refused: the SYN
  answered by RST; no answer: the SYN never answered; incomplete: begun, not finished; ACK
  not taken: the three segments on the wire, but the server never took the ACK nor a copy
  (handshake.ack_not_taken: it stayed in SYN_RCVD, no connection made);
  mid-stream: the handshake is not in the capture; continued: begun without a SYN on the
  4-tuple of a connection given up as idle, whose handshake it has; none: a probe that
  begins with flags no connection begins with, findings/scans.py). Every connection has one: the lines add
  up to the connection count.
- endings: how each connection ended: closed normally, by close shape (four-way,
  three-segment, simultaneous, half-close); reset, by the cause of its first RST (each
  cause a line; FINs that a RST cut short too: close.py's `ending`); one side closed and
  the other had not when the capture ended; neither FIN nor RST. Every connection has one
  of these too (zero lines are left out of the text).
- the ten slowest complete handshakes: from the first SYN to the ACK that completed the
  handshake (SYN resends included: that is the wait the client saw); not one whose bare ACK
  the capture lacks (handshake.bare_ack_uncaptured: its time is a bound).
- the ten busiest sources: client addresses by connections opened, with the packets of
  those connections (both ways); a client that sent nothing the capture holds is no source.
- the scans and floods of the file (findings/scans.py), as the text report tells them.

It keeps counters and two tables of ten, never the connections: each is counted and dropped
as the stream hands it over, so the summary's own memory does not grow with the file (the
analysis before it holds the connections still open, as every report does). The sources are
counted in a table of bounded size (SourceTally): exact up to 2 x SOURCE_SLOTS distinct
addresses, beyond that the Misra-Gries bound, which the summary states.
"""

from __future__ import annotations

import heapq
from typing import Final, TextIO

import msgspec

from analyzer.analysis import ConnectionAnalysis, FileStream
from analyzer.output.json_report import document_head
from analyzer.output.text_report import format_endpoint, head_lines, scan_lines
from analyzer.timefmt import Clock, between, format_duration

TOP: Final = 10
SOURCE_SLOTS: Final = 10_000  # sources kept after a compaction (SourceTally)

HANDSHAKES: Final = {
    "complete": "complete",
    "answered_unseen": "answered, its SYN/ACK not captured",
    "completed_unseen": "completed, only the server's packets captured",
    "refused": "refused (SYN answered by RST)",
    "unreachable": "unreachable (SYN answered by an ICMP error)",
    "no_answer": "no answer (SYN never answered)",
    "incomplete": "incomplete (begun, not finished)",
    "ack_not_taken": "ACK not taken (server stayed in SYN_RCVD)",
    "not_seen": "mid-stream (handshake not in the capture)",
    "continued": "continued (on again after given up as idle)",
    "probe": "none: a FIN, NULL or Xmas probe (a scan's)",
}
CLOSES: Final = {
    "four-way": "closed normally: four-way (FIN, ACK, FIN, ACK)",
    "three-segment": "closed normally: three segments (FIN, FIN/ACK, ACK)",
    "simultaneous": "closed normally: simultaneous (both FINs in flight)",
    "half-close": "closed normally: half-close (data after the first FIN)",
}
RESETS: Final = {
    "refused": "reset: refused (nothing listening on the port)",
    "challenge_ack_answer": "reset: answering a challenge ACK (a stale connection)",
    "impossible_flags": "reset: impossible flags (a scan or a crafted packet)",
    "accept_queue_overflow": "reset: accept queue full (tcp_abort_on_overflow)",
    "after_close": "reset: after both sides had closed",
    "fin_wait_2_expired": "reset: late segment after the FIN_WAIT_2 timer",
    "after_reset": "reset: after an earlier RST",
    "connect_abandoned": "reset: a SYN scan's probe, connect() given up, or a forged SYN",
    "keep_alive_timeout": "reset: keep-alive probes unanswered",
    "retransmission_give_up": "reset: retransmissions unanswered, the sender gave up",
    "data_after_close": "reset: data sent to a socket that had closed",
    "no_connection": "reset: its sender had no connection for the 4-tuple",
    "abort": "reset: aborted by the application",
    "linger_abort": "reset: aborted by the application (SO_LINGER 0)",
    "unread_data": "reset: closed with data unread",
    "listener_closed": "reset: listener closed, never accepted",
    "injected": "reset: not its sender's own (made on the path, or by another host)",
    "mptcp_subflow_reset": "reset: one Multipath TCP subflow (MP_TCPRST)",
    "mptcp_fastclose": "reset: Multipath TCP connection aborted (MP_FASTCLOSE)",
    "unknown": "reset: cause unknown",
}


def reset_ending(cause: str) -> str:
    """How a connection a RST of `cause` ended, in the words of RESETS ('reset: ...')."""
    return RESETS.get(cause, f"reset: {cause.replace('_', ' ')}")


def reset_words(cause: str) -> str:
    """A RST's cause as a picture or a table writes it, reset_ending's words (one wording for
    one cause everywhere: 'accept queue overflow' beside 'accept queue full' read as two)."""
    return reset_ending(cause).removeprefix("reset: ")


ONE_SIDE_CLOSED: Final = "one side closed (FIN), the other still open at the end"
NO_CLOSE: Final = "no FIN or RST seen"
# The handshake outcomes that opened no connection: the overview counts them as such; the
# others by their ending, after these words.
UNOPENED: Final = frozenset(("refused", "unreachable", "no_answer", "incomplete", "ack_not_taken", "probe"))
_OPENED: Final = {
    "complete": "complete",
    "answered_unseen": "answered unseen",
    "completed_unseen": "completed unseen",
    "not_seen": "mid-stream",
    "continued": "continued",
}
# One column for the counts, whatever lines a file has: several files' summaries line up.
_WIDTH: Final = max(
    len(label)
    for label in (*HANDSHAKES.values(), *CLOSES.values(), *RESETS.values(), ONE_SIDE_CLOSED, NO_CLOSE)
)


def _outcome_order() -> list[str]:
    """The overview's lines in their order: the opened connections' endings as the summary
    lists them, complete before mid-stream, then the handshakes that opened none."""
    endings = [*CLOSES.values(), *RESETS.values(), ONE_SIDE_CLOSED, NO_CLOSE]
    opened = [f"{words}, {ending}" for words in _OPENED.values() for ending in endings]
    return opened + [HANDSHAKES[status] for status in HANDSHAKES if status in UNOPENED]


_ENCODER: Final = msgspec.json.Encoder()


class SourceTally:
    """Connections and packets per source address in bounded memory (Misra-Gries, in batches).

    Exact while at most 2 x `slots` distinct sources have been seen. When the table is that
    full and a new source comes, every source's connection count drops by the (slots + 1)-th
    largest count and the sources left at zero go. Then a source's count is short of its true
    count by at most `short_by` (the sum of those drops, at most connections / (slots + 1)),
    every source with more connections than `short_by` is in the table, and its packets are
    those of the connections counted since it last entered the table."""

    def __init__(self, slots: int = SOURCE_SLOTS) -> None:
        self.slots = slots
        self.counts: dict[str, list[int]] = {}  # address -> [connections, packets]
        self.short_by = 0

    def add(self, address: str, packets: int, opened: bool = True) -> None:
        """`opened`: the connection is one the source opened, not the piece of one an idle
        timer split (connections.py), whose packets count where its source has an entry."""
        entry = self.counts.get(address)
        if entry is not None:
            entry[0] += int(opened)
            entry[1] += packets
            return
        if not opened:
            return
        if len(self.counts) >= 2 * self.slots:
            self._compact()
        self.counts[address] = [1, packets]

    def _compact(self) -> None:
        drop = heapq.nlargest(self.slots + 1, (entry[0] for entry in self.counts.values()))[-1]
        self.short_by += drop
        self.counts = {
            address: [connections - drop, packets]
            for address, (connections, packets) in self.counts.items()
            if connections > drop
        }

    def top(self, n: int) -> list[tuple[str, int, int]]:
        """The n busiest: (address, connections, packets), most connections first. Once the
        counts may be short, only sources counted above `short_by`: each of them opened more
        than any source left out of the table; one counted less is not told from the rest (a
        flood's forged sources, one attempt each, would fill the list and push out the real
        clients that opened as few)."""
        counted = (item for item in self.counts.items() if item[1][0] > self.short_by)
        best = heapq.nsmallest(n, counted, key=lambda item: (-item[1][0], -item[1][1], item[0]))
        return [(address, connections, packets) for address, (connections, packets) in best]


# How the summary names each timer (connections.Timeouts).
EXPIRED: Final = {
    "attempt": "attempts (only SYNs and SYN/ACKs, or never answered)",
    "partial_close": "one end closed, the other never seen or first seen closing",
    "idle": "idle",
}


class Summary:
    """The counters and the two tables, fed one connection at a time."""

    def __init__(self, source_slots: int = SOURCE_SLOTS, tables: bool = True) -> None:
        """`tables`: keep the slowest handshakes and the busiest sources too (the text
        report's overview counts only)."""
        self.tables = tables
        self.connections = 0
        self.handshakes = dict.fromkeys(HANDSHAKES, 0)
        self.closes = dict.fromkeys(CLOSES, 0)
        self.resets = dict.fromkeys(RESETS, 0)
        self.one_side_closed = 0
        self.no_close = 0
        self.outcomes: dict[str, int] = {}  # the overview's: one line per connection (overview_lines)
        self.expired: dict[str, int] = {}  # timer -> connections it gave up
        # Connections of which only one end's packets are in the capture (findings/vantage.py).
        self.one_direction = 0
        # Connections holding segments that acknowledge data the capture never held, and those
        # segments (ConnectionAnalysis.acked_uncaptured): the capture itself missed packets.
        self.missed_by_capture = 0
        self.acked_uncaptured = 0
        # (seconds, -id, id, family, client, server, SYNs): the smallest first, so the
        # slowest stay; equal times keep the lower id, whatever order the connections end in.
        self._slowest: list[tuple[float, int, int, int, tuple[str, int], tuple[str, int], int]] = []
        self.sources = SourceTally(source_slots)

    def add(self, result: ConnectionAnalysis) -> None:
        connection, handshake, close = result.connection, result.handshake, result.close
        self.connections += 1
        # One given up as idle and on again has its handshake in the one it continues; a probe
        # that begins with flags no connection begins with (FIN, NULL, Xmas) never had one. A
        # lone ACK or RST may be a live connection's, whose handshake came before the capture.
        status: str = "not_seen" if handshake.opened_unseen else handshake.status
        if status == "complete" and handshake.ack_not_taken:
            status = "ack_not_taken"  # three segments on the wire, but no connection made
        elif handshake.status == "incomplete" and handshake.unseen_answer is not None:
            status = "answered_unseen"  # the client's ACK shows a SYN/ACK the capture lacks
        elif handshake.status == "incomplete" and handshake.completed_by is not None:
            # The server's later ACK shows the client completed it (helper-147: one direction
            # captured, four connections that exchanged data counted as begun, not finished).
            status = "completed_unseen"
        if status == "not_seen" and connection.continues is not None:
            status = "continued"
        elif status == "not_seen" and result.steps and result.steps[0].probe:
            status = "probe"
        self.handshakes[status] = self.handshakes.get(status, 0) + 1
        if close.ending in self.closes:
            self.closes[close.ending] += 1
            ending = CLOSES[close.ending]
        elif result.resets:
            cause = result.resets[0].cause
            self.resets[cause] = self.resets.get(cause, 0) + 1
            ending = reset_ending(cause)
        elif close.shape == "one-fin":
            self.one_side_closed += 1
            ending = ONE_SIDE_CLOSED
        else:
            self.no_close += 1
            ending = NO_CLOSE
        outcome = HANDSHAKES.get(status, status) if status in UNOPENED else f"{_OPENED[status]}, {ending}"
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
        if connection.expired is not None:
            self.expired[connection.expired] = self.expired.get(connection.expired, 0) + 1
        # Judged so by the vantage (findings/vantage.py), or shown by the connection itself: one
        # end none of whose packets are in the capture (a loopback capture filtered to one
        # direction is "one host" to the vantage, yet half of each connection is missing).
        if (result.vantage is not None and result.vantage.point == "one_direction") or (
            close.unseen is not None
            or (handshake.unseen_answer is not None and not handshake.synack_uncaptured)
        ):
            self.one_direction += 1
        acked = result.acked_uncaptured()
        if acked > 0:
            self.missed_by_capture += 1
            self.acked_uncaptured += acked
        if not self.tables:
            return
        if (
            handshake.status == "complete"
            and handshake.final_ack is not None
            and handshake.syns
            and not handshake.ack_not_taken  # the server never took it: no handshake's time
            and not handshake.bare_ack_uncaptured  # its end not captured: a bound, not a time
        ):
            # Where the server took a later segment in the ACK's place, its handshake ended there.
            completed = handshake.taken_late if handshake.taken_late is not None else handshake.final_ack
            seconds = between(handshake.syns[0].stamp, completed.stamp)
            entry = (
                seconds,
                -connection.id,
                connection.id,
                connection.family,
                connection.client,
                connection.server,
                len(handshake.syns),
            )
            if len(self._slowest) < TOP:
                heapq.heappush(self._slowest, entry)
            elif entry > self._slowest[0]:
                heapq.heapreplace(self._slowest, entry)
        # A client the capture holds nothing of opened nothing it can show (a backscatter's
        # forged addresses, or the missing direction of a one-sided capture).
        if handshake.syns or any(connection.from_client(segment) for segment in connection.segments):
            self.sources.add(connection.client[0], connection.packets, connection.continues is None)

    def merge(self, other: Summary) -> None:
        """Add another's counts (a share's, of a big file's text report): the overview's;
        the tables are not kept by either."""
        assert not (self.tables or other.tables), "the tables of two summaries cannot be merged"
        self.connections += other.connections
        self.one_side_closed += other.one_side_closed
        self.no_close += other.no_close
        self.one_direction += other.one_direction
        self.missed_by_capture += other.missed_by_capture
        self.acked_uncaptured += other.acked_uncaptured
        for mine, theirs in (
            (self.handshakes, other.handshakes),
            (self.closes, other.closes),
            (self.resets, other.resets),
            (self.outcomes, other.outcomes),
            (self.expired, other.expired),
        ):
            for key, n in theirs.items():
                mine[key] = mine.get(key, 0) + n

    def slowest(self) -> list[tuple[float, int, int, tuple[str, int], tuple[str, int], int]]:
        """(seconds, id, family, client, server, SYNs), the slowest first."""
        ordered = sorted(self._slowest, reverse=True)
        return [
            (s, ident, family, client, server, syns)
            for s, _key, ident, family, client, server, syns in ordered
        ]

    def as_dict(self, head: dict, udp_flows: int) -> dict:
        """The summary as one JSON object: the document's head, then the counts."""
        return {
            **head,
            "connection_count": self.connections,
            "udp_flow_count": udp_flows,
            "handshakes": self.handshakes,
            "endings": {
                "closed": self.closes,
                "reset": self.resets,
                "one_side_closed": self.one_side_closed,
                "no_close_seen": self.no_close,
            },
            "expired": dict(sorted(self.expired.items())),
            "one_direction": self.one_direction,
            # Added: connections with segments that acknowledge data the capture never held.
            "missed_by_capture": {"connections": self.missed_by_capture, "segments": self.acked_uncaptured},
            "slowest_handshakes": [
                {
                    "id": ident,
                    "family": family,
                    "client": {"ip": client[0], "port": client[1]},
                    "server": {"ip": server[0], "port": server[1]},
                    "syn_to_ack": seconds,
                    "syns": syns,
                }
                for seconds, ident, family, client, server, syns in self.slowest()
            ],
            "busiest_sources": [
                {"ip": address, "connections": connections, "packets": packets}
                for address, connections, packets in self.sources.top(TOP)
            ],
            # 0: the source counts are exact; else each may be short by up to this many, and
            # only sources counted above it are listed (SourceTally.top).
            "source_counts_short_by": self.sources.short_by,
        }

    def overview_lines(self) -> list[str]:
        """The outcomes the text report's overview opens with, each connection on one line,
        so that the lines add up to the connections: a handshake that failed by its outcome;
        one that completed (or began before the capture) by how it ended (its `endings`
        line). Then the connections each timer gave up, which are counted above too. Lines
        of none are left out."""
        order = {label: index for index, label in enumerate(_outcome_order())}
        rows = sorted(self.outcomes.items(), key=lambda row: (order.get(row[0], len(order)), row[0]))
        timers = [
            (f"given up by the {kind.replace('_', ' ')} timer", n) for kind, n in sorted(self.expired.items())
        ]
        width = max(_WIDTH, *(len(label) for label, _n in rows + timers)) if rows else _WIDTH
        lines = [
            f"outcomes of the {self.connections:,} connection{'s' if self.connections != 1 else ''}:",
            *(f"  {label:<{width}}  {n:>9,}" for label, n in rows),
        ]
        if timers:
            lines.append("of them, given up by a timer (no segment for longer than its timeout):")
            lines += [f"  {label:<{width}}  {n:>9,}" for label, n in timers]
        return lines + self.one_direction_lines() + self.missed_lines()

    def one_direction_lines(self, lead: str = "of them, ") -> list[str]:
        """What the counts mean where the capture holds one direction of some connections
        (asymmetric routing, a capture filter): the other end's answers are missing, and a
        SYN "never answered" or an end "still open" may have been answered or closed."""
        count = self.one_direction
        if not count:
            return []
        return [
            f"{lead}{count:,} connection{'s' if count != 1 else ''} with only one end's packets in the capture "
            "(asymmetric routing, a capture filter): a SYN never answered or an end still open there may have "
            "been answered or closed, unseen"
        ]

    def missed_lines(self, lead: str = "of them, ") -> list[str]:
        """Where the capture itself missed packets (data acknowledged that it never held): in
        such a file a SYN "never answered" or a handshake "not captured" may be its loss too
        (tcpdump dropping packets under load says so only on its standard error; pcapng's
        interface statistics are read, decode/capture_file.py)."""
        count = self.missed_by_capture
        if not count:
            return []
        segments = self.acked_uncaptured
        return [
            f"{lead}{count:,} connection{'s' if count != 1 else ''} with segments that acknowledge data the capture "
            f"never held ({segments:,} segment{'s' if segments != 1 else ''}): the capture missed packets (tcpdump's "
            "buffer, -B; a mirror port past its rate), so a SYN never answered or a handshake not captured "
            "elsewhere may be its loss too"
        ]

    def text_lines(self) -> list[str]:
        """The summary after the report's head lines."""
        endings = [(CLOSES[shape], n) for shape, n in self.closes.items() if n]
        endings += [(reset_ending(cause), n) for cause, n in self.resets.items() if n]
        endings += [
            (label, n)
            for label, n in ((ONE_SIDE_CLOSED, self.one_side_closed), (NO_CLOSE, self.no_close))
            if n
        ]
        handshakes = [(HANDSHAKES.get(status, status), n) for status, n in self.handshakes.items()]
        width = max([_WIDTH, *(len(label) for label, _n in endings)])
        lines = ["handshakes:"]
        lines += [f"  {label:<{width}}  {n:>9,}" for label, n in handshakes]
        lines.append("endings:")
        lines += [f"  {label:<{width}}  {n:>9,}" for label, n in endings] or ["  no connections"]
        if self.expired:
            lines.append("given up by a timer (no segment for longer than its timeout):")
            lines += [
                f"  {EXPIRED.get(kind, kind):<{width}}  {n:>9,}" for kind, n in sorted(self.expired.items())
            ]
        lines += self.one_direction_lines("")
        lines += self.missed_lines("")
        lines.append("slowest handshakes (first SYN to the ACK that completed the handshake):")
        slowest = self.slowest()
        for seconds, ident, family, client, server, syns in slowest:
            resent = f" ({syns} SYNs)" if syns > 1 else ""
            lines.append(
                f"  #{ident} {format_endpoint(client, family)} → {format_endpoint(server, family)}  "
                f"{format_duration(seconds)}{resent}"
            )
        if not slowest:
            # A complete handshake the table leaves out is timed only as a bound (its bare ACK
            # not captured): it is counted above all the same.
            untimed = " timed" if self.handshakes.get("complete") else ""
            lines.append(f"  no complete handshake{untimed}")
        lines.append("busiest sources (connections opened, packets in them):")
        busiest = self.sources.top(TOP)
        address_width = max((len(address) for address, _c, _p in busiest), default=0)
        for address, connections, packets in busiest:
            lines.append(
                f"  {address:<{address_width}}  {connections:,} connection{'s' if connections != 1 else ''}, "
                f"{packets:,} packet{'s' if packets != 1 else ''}"
            )
        short_by = self.sources.short_by
        if not busiest:
            lines.append("  none stands out" if short_by else "  none")
        if short_by:
            lines.append(
                f"  (more than {2 * self.sources.slots:,} sources: a count may be short by up to "
                f"{short_by:,} connection{'s' if short_by != 1 else ''}; sources counted {short_by:,} or fewer "
                "are left out, not told apart)"
            )
        return lines


def write_summary(stream: FileStream, out: TextIO, as_json: bool = False) -> None:
    """The file's summary, written once the file has been read (nothing for a file that
    cannot be read): text, or one line of JSON without its newline, like the document. The
    scans and floods (findings/scans.py) come last in the text, in the head in JSON."""
    summary = Summary()
    stream.attempt_views = "all"  # the summary counts an attempt by its verdict alone
    for result in stream.results:
        summary.add(result)
    udp = stream.udp()
    application = stream.application(udp)
    scans = stream.scans.findings()
    links = stream.links.findings(scans)
    if as_json:
        head = document_head(stream.file, stream.stats, application, scans, links=links)
        out.write(_ENCODER.encode(summary.as_dict(head, len(udp))).decode())
        return
    lines = head_lines(stream.file, stream.stats, summary.connections, udp, application, links)
    lines += summary.text_lines()
    lines += scan_lines(scans, stream.origin or Clock()) or ["scans and floods: none"]
    out.write("\n".join(lines) + "\n")
