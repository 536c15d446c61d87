"""UDP: datagrams grouped into flows (4-tuples), with the ICMP port-unreachable messages that
refused them. No handshake, no state: a flow is what was sent, each datagram whole.

Rules:
- the client of a flow is the sender of its first datagram;
- an ICMP/ICMPv6 port unreachable belongs to the flow whose header it quotes, and
  answers that flow's last datagram sent before it (to the refusing port);
- with the call log, each receive call's byte count is matched against the datagrams
  that reached that side: equal, one for one, means the boundaries were kept;
- Zeek's conn.log view of the flow (findings/zeek_conn.zeek_udp_conn) is kept with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from analyzer.decode.segment import Datagram, Unreachable
from analyzer.findings.zeek_conn import ZeekConn, zeek_udp_conn
from analyzer.sidecar import CallRecord, call_bytes
from analyzer.timefmt import format_duration

Endpoint = tuple[str, int]
_RECEIVE_CALLS = ("recv(", "recvfrom(")


@dataclass
class UdpFlow:
    id: int
    family: int
    client: Endpoint
    server: Endpoint
    datagrams: list[Datagram] = field(default_factory=list)
    unreachables: list[tuple[Unreachable, Datagram | None]] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)
    zeek: ZeekConn | None = None  # once the flow is complete (group_udp_flows)

    def from_client(self, datagram: Datagram) -> bool:
        return (datagram.src, datagram.sport) == self.client

    def summary(self) -> str:
        c2s = [d.length for d in self.datagrams if self.from_client(d)]
        s2c = [d.length for d in self.datagrams if not self.from_client(d)]
        text = f"UDP: {_sizes(c2s, 'datagram(s) client→server')}, {_sizes(s2c, 'server→client')}"
        unreachables = self.unreachables
        if len(unreachables) > UNREACHABLES_LISTED:
            message, answered = unreachables[0]
            return (
                text
                + f"; {len(unreachables):,} ICMP port unreachables, the first"
                + _after(message, answered)
            )
        for message, answered in unreachables:
            text += "; ICMP port unreachable" + _after(message, answered)
        return text


# A flow's summary lists each datagram's size up to this many a direction (a QUIC download
# holds tens of thousands: their count, bytes and range then), and its ICMP errors so.
SIZES_LISTED = 8
UNREACHABLES_LISTED = 3


def _after(message: Unreachable, answered: Datagram | None) -> str:
    if answered is None:
        return ""
    return f" {format_duration(message.time - answered.time)} after the datagram of frame {answered.frame}"


def _sizes(lengths: list[int], direction: str) -> str:
    """ "3 server→client [12, 40, 9]"; past SIZES_LISTED, "9,120 server→client (10,944,000
    bytes, 1,200 each)"."""
    if len(lengths) <= SIZES_LISTED:
        return f"{len(lengths)} {direction} {lengths}"
    low, high = min(lengths), max(lengths)
    each = f"{low:,} each" if low == high else f"{low:,} to {high:,} each"
    return f"{len(lengths):,} {direction} ({sum(lengths):,} bytes, {each})"


def _key(src: Endpoint, dst: Endpoint) -> tuple[Endpoint, Endpoint]:
    return (src, dst) if src <= dst else (dst, src)


def group_udp_flows(
    records: list[Datagram | Unreachable], calls: list[CallRecord] | None = None
) -> list[UdpFlow]:
    flows: dict[tuple, UdpFlow] = {}
    for record in records:
        if isinstance(record, Datagram):
            src, dst = (record.src, record.sport), (record.dst, record.dport)
            flow = flows.get(_key(src, dst))
            if flow is None:
                flow = flows[_key(src, dst)] = UdpFlow(len(flows), record.family, src, dst)
            flow.datagrams.append(record)
        elif record.protocol == 17 and record.port_unreachable:
            q_src, q_sport, q_dst, q_dport = record.quoted
            flow = flows.get(_key((q_src, q_sport), (q_dst, q_dport)))
            if flow is None:
                continue
            refused = [
                d for d in flow.datagrams if (d.dst, d.dport) == (q_dst, q_dport) and d.time <= record.time
            ]
            flow.unreachables.append((record, refused[-1] if refused else None))
    result = list(flows.values())
    for flow in result:
        flow.findings = boundary_findings(flow, calls or [])
        flow.zeek = zeek_udp_conn(flow.client, flow.server, flow.datagrams)
    return result


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
