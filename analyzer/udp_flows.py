"""UDP: datagrams grouped into flows (4-tuples), with the ICMP port-unreachable messages that
refused them. No handshake, no state: a flow is what was sent, each datagram whole.

Rules:
- the client of a flow is the sender of its first datagram;
- an ICMP/ICMPv6 port unreachable belongs to the flow whose header it quotes, and
  answers that flow's last datagram sent before it (to the refusing port);
- with the call log, each receive call's byte count is matched against the datagrams
  that reached that side: equal, one for one, means the boundaries were kept;
- Zeek's conn.log view of the flow (findings/zeek_conn.zeek_udp_conn) is kept with it.

Flows are grouped as the records come (UdpFlows.add), and a flow keeps its first KEPT
datagrams and ICMP errors (for its pictures and the JSON) and counts the rest: a QUIC
download of a million datagrams costs what one of a thousand does, and its counts, bytes
and Zeek view stay whole.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from analyzer.decode.segment import Datagram, Unreachable, exact_stamp
from analyzer.findings.zeek_conn import ZeekConn, zeek_udp_conn
from analyzer.sidecar import CallRecord, call_bytes
from analyzer.timefmt import between, format_duration

Endpoint = tuple[str, int]
_RECEIVE_CALLS = ("recv(", "recvfrom(")
KEPT: Final = 1_000  # a flow's datagrams (and ICMP errors) kept; the rest are counted
# A flow's summary lists each datagram's size up to this many a direction (a QUIC download
# holds tens of thousands: their count, bytes and range then), and its ICMP errors so.
SIZES_LISTED: Final = 8
UNREACHABLES_LISTED: Final = 3


@dataclass
class UdpFlow:
    id: int
    family: int
    client: Endpoint
    server: Endpoint
    datagrams: list[Datagram] = field(default_factory=list)  # the first KEPT
    unreachables: list[tuple[Unreachable, Datagram | None]] = field(default_factory=list)  # the first KEPT
    findings: list[str] = field(default_factory=list)
    zeek: ZeekConn | None = None  # once the flow is complete (UdpFlows.flows)
    # Every datagram counted, by sender (client, server): how many, their bytes, the
    # smallest and the largest (-1: none); the last's time (the first's is the first kept's).
    sent: list[int] = field(default_factory=lambda: [0, 0])
    sizes: list[int] = field(default_factory=lambda: [0, 0])
    smallest: list[int] = field(default_factory=lambda: [-1, -1])
    largest: list[int] = field(default_factory=lambda: [-1, -1])
    last_time: float = 0.0
    unreachable_count: int = 0
    # The latest datagram from each sender (client, server): what an ICMP error answers.
    latest: list[Datagram | None] = field(default_factory=lambda: [None, None])

    def from_client(self, datagram: Datagram) -> bool:
        return (datagram.src, datagram.sport) == self.client

    @property
    def datagram_count(self) -> int:
        return self.sent[0] + self.sent[1]

    @property
    def first_time(self) -> float:
        return self.datagrams[0].time if self.datagrams else 0.0

    def add(self, datagram: Datagram) -> None:
        self.last_time = datagram.time
        side = 0 if self.from_client(datagram) else 1
        length = datagram.length
        self.sent[side] += 1
        self.sizes[side] += length
        if self.smallest[side] < 0 or length < self.smallest[side]:
            self.smallest[side] = length
        self.largest[side] = max(self.largest[side], length)
        self.latest[side] = datagram
        if len(self.datagrams) < KEPT:
            self.datagrams.append(datagram)

    def refused(self, message: Unreachable) -> None:
        """An ICMP port unreachable quoting a datagram of the flow: it answers the latest
        one sent to the refusing port before it."""
        quoted_dst = (message.quoted[2], message.quoted[3])
        side = 1 if quoted_dst == self.client else 0
        answered = self.latest[side]
        if answered is not None and answered.time > message.time:
            answered = None
        self.unreachable_count += 1
        if len(self.unreachables) < KEPT:
            self.unreachables.append((message, answered))

    def summary(self) -> str:
        text = f"UDP: {self._sizes(0, 'datagram(s) client→server')}, {self._sizes(1, 'server→client')}"
        unreachables = self.unreachables
        if self.unreachable_count > UNREACHABLES_LISTED:
            message, answered = unreachables[0]
            return (
                text
                + f"; {self.unreachable_count:,} ICMP port unreachables, the first"
                + _after(message, answered)
            )
        for message, answered in unreachables:
            text += "; ICMP port unreachable" + _after(message, answered)
        return text

    def _sizes(self, side: int, direction: str) -> str:
        """ "3 server→client [12, 40, 9]"; past SIZES_LISTED, "9,120 server→client (10,944,000
        bytes, 1,200 each)"."""
        count = self.sent[side]
        if count <= SIZES_LISTED:
            lengths = [d.length for d in self.datagrams if self.from_client(d) == (side == 0)]
            return f"{count} {direction} {lengths}"
        low, high = self.smallest[side], self.largest[side]
        each = f"{low:,} each" if low == high else f"{low:,} to {high:,} each"
        return f"{count:,} {direction} ({self.sizes[side]:,} bytes, {each})"


def _after(message: Unreachable, answered: Datagram | None) -> str:
    if answered is None:
        return ""
    waited = between(exact_stamp(answered), exact_stamp(message))
    return f" {format_duration(waited)} after the datagram of frame {answered.frame}"


def _key(src: Endpoint, dst: Endpoint) -> tuple[Endpoint, Endpoint]:
    return (src, dst) if src <= dst else (dst, src)


class UdpFlows:
    """The flows of a file, grouped as its UDP datagrams and ICMP errors come (add)."""

    def __init__(self) -> None:
        self._flows: dict[tuple[Endpoint, Endpoint], UdpFlow] = {}

    def add(self, record: Datagram | Unreachable) -> None:
        flows = self._flows
        if isinstance(record, Datagram):
            src, dst = (record.src, record.sport), (record.dst, record.dport)
            key = _key(src, dst)
            flow = flows.get(key)
            if flow is None:
                flow = flows[key] = UdpFlow(len(flows), record.family, src, dst)
            flow.add(record)
        elif record.protocol == 17 and record.port_unreachable:
            q_src, q_sport, q_dst, q_dport = record.quoted
            flow = flows.get(_key((q_src, q_sport), (q_dst, q_dport)))
            if flow is not None:
                flow.refused(record)

    def flows(self, calls: list[CallRecord] | None = None) -> list[UdpFlow]:
        """The flows in the order they began, each with its findings and Zeek view."""
        result = list(self._flows.values())
        for flow in result:
            flow.findings = boundary_findings(flow, calls or [])
            flow.zeek = zeek_udp_conn(
                flow.client, flow.server, flow.sent, flow.sizes, flow.last_time - flow.first_time
            )
        return result


def group_udp_flows(
    records: list[Datagram | Unreachable], calls: list[CallRecord] | None = None
) -> list[UdpFlow]:
    flows = UdpFlows()
    for record in records:
        flows.add(record)
    return flows.flows(calls)


def boundary_findings(flow: UdpFlow, calls: list[CallRecord]) -> list[str]:
    """Each side's receive calls against the datagrams that reached it, in order."""
    findings = []
    for side in ("client", "server"):
        arrived = [d.length for d in flow.datagrams if flow.from_client(d) == (side == "server")]
        read = [
            length
            for c in calls
            if c["side"] == side
            and c["call"].startswith(_RECEIVE_CALLS)
            and (length := call_bytes(c)) is not None
        ]
        if arrived and read:
            if read == arrived[: len(read)]:
                findings.append(
                    f"{side}: {len(read)} receive call(s) returned {read} bytes: one datagram each, "
                    "boundaries kept"
                )
            else:
                findings.append(f"{side}: receive calls returned {read} bytes for datagrams of {arrived}")
    return findings
