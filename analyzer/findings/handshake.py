"""The three-way handshake: who opened, the ISNs, the seq/ack arithmetic, options, its round trip.

Rules:
- complete: a SYN from the client, a SYN/ACK from the server whose ack is the
  client's ISN+1 (ISN+1+len when it acknowledges data the SYN carried: TCP Fast
  Open), then an ACK from the client whose ack is the server's ISN+1 (each checked,
  never assumed; a SYN/ACK that fails its check does not count).
- refused: the server answered a SYN with a RST (RST/ACK acking ISN+1).
- no_answer: SYNs from the client and nothing at all from the server.
- incomplete: a handshake began but did not finish (no final ACK, a SYN/ACK
  whose ack is wrong, or a capture that starts at the SYN/ACK).
- not_seen: the capture holds neither SYN nor SYN/ACK.
- answered_syn_to_ack (the report's "rtt"): from the SYN that was answered (the last
  before the SYN/ACK) to the final ACK: the handshake's round trip without the time spent
  in SYN retransmissions. For an ordinary handshake it equals Wireshark's iRTT
  (findings/retransmissions.py), which runs from the latest SYN to the first segment with
  ACK and without SYN from either end.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from analyzer.connections import Connection
from analyzer.decode.segment import ACK, MOD, RST, SYN, Segment
from analyzer.timefmt import format_duration

HandshakeStatus = Literal["complete", "refused", "no_answer", "incomplete", "not_seen"]


@dataclass
class Check:
    what: str
    expected: int
    seen: int

    def __init__(self, what: str, expected: int, seen: int) -> None:
        self.what = what
        self.expected = expected
        self.seen = seen

    @property
    def ok(self) -> bool:
        return self.expected == self.seen


@dataclass
class Handshake:
    status: HandshakeStatus = "not_seen"
    syns: list[Segment] = field(default_factory=list)
    synacks: list[Segment] = field(default_factory=list)
    final_ack: Segment | None = None
    refusal: Segment | None = None
    client_isn: int | None = None
    server_isn: int | None = None
    answered_syn_to_ack: float | None = None
    syn_to_synack: float | None = None
    synack_to_ack: float | None = None
    checks: list[Check] = field(default_factory=list)
    client_options: dict | None = None
    server_options: dict | None = None

    def __init__(self) -> None:
        self.status = "not_seen"
        self.syns = []
        self.synacks = []
        self.final_ack = self.refusal = None
        self.client_isn = self.server_isn = None
        self.answered_syn_to_ack = self.syn_to_synack = self.synack_to_ack = None
        self.checks = []
        self.client_options = self.server_options = None

    def explain(self) -> str:
        if self.status == "complete":
            return (
                f"three-way handshake complete: SYN (ISN {self.client_isn}), SYN/ACK (ISN "
                f"{self.server_isn}, ack ISN+1), ACK (ack ISN+1); RTT {format_duration(self.answered_syn_to_ack)}"
            )
        if self.status == "refused" and self.refusal is not None and self.syns:
            delay = self.refusal.time - self.syns[-1].time
            return f"refused: RST/ACK from the server {format_duration(delay)} after the SYN"
        if self.status == "no_answer":
            return f"no answer: {len(self.syns)} SYN(s), nothing from the server"
        if self.status == "incomplete":
            return f"handshake incomplete: {self._missing()}"
        return "handshake not captured (the capture starts after it)"

    def _missing(self) -> str:
        failed = [f"{c.what} failed (expected {c.expected}, saw {c.seen})" for c in self.checks if not c.ok]
        if failed:
            return "; ".join(failed)
        if not self.syns:
            return "the SYN was not captured"
        if not self.synacks:
            return "the server answered the SYN with something other than SYN/ACK or RST/ACK"
        return "the client never acknowledged the SYN/ACK"


def find_handshake(connection: Connection) -> Handshake:
    result = Handshake()
    client_syns: list[Segment] = []
    server_synacks: list[Segment] = []
    for segment in connection.segments:
        kind = segment.flags & (SYN | ACK | RST)
        from_client = connection.from_client(segment)
        if kind == SYN and from_client:
            client_syns.append(segment)
        elif kind == SYN | ACK and not from_client:
            server_synacks.append(segment)
    # Only the SYNs of the connection's own ISN belong to this handshake.
    client_isn = server_isn = None
    if client_syns:
        client_isn = result.client_isn = client_syns[0].seq
        result.syns = [s for s in client_syns if s.seq == client_isn]
        result.client_options = _options(result.syns[0])
    if server_synacks:
        server_isn = result.server_isn = server_synacks[0].seq
        result.synacks = [s for s in server_synacks if s.seq == server_isn]
        result.server_options = _options(result.synacks[0])
        if client_isn is None:
            client_isn = result.client_isn = (server_synacks[0].ack - 1) % MOD
    if client_isn is not None and server_isn is not None and result.syns:
        return _after_synack(connection, result, client_isn, server_isn)
    if client_isn is not None and result.syns:
        return _after_syn_only(connection, result, client_isn)
    if result.synacks:
        result.status = "incomplete"
    return result


def _after_syn_only(connection: Connection, result: Handshake, client_isn: int) -> Handshake:
    answers = [s for s in connection.segments if not connection.from_client(s)]
    for segment in answers:
        if segment.flags & RST and segment.flags & ACK:
            result.checks.append(
                Check(
                    "RST/ACK acknowledges the client ISN+1",
                    (client_isn + 1) % MOD,
                    segment.ack,
                )
            )
            if result.checks[-1].ok:
                result.status, result.refusal = "refused", segment
                return result
    result.status = "no_answer" if not answers else "incomplete"
    return result


def _after_synack(connection: Connection, result: Handshake, client_isn: int, server_isn: int) -> Handshake:
    synack = result.synacks[0]
    syn_data = result.syns[0].payload_len if result.syns else 0
    if syn_data and synack.ack == (client_isn + 1 + syn_data) % MOD:
        # TCP Fast Open: the SYN carried data and the SYN/ACK acknowledges it too.
        what, expected = (
            f"SYN/ACK acknowledges the client ISN+1 and the SYN's {syn_data} bytes (Fast Open)",
            (client_isn + 1 + syn_data) % MOD,
        )
    else:
        what, expected = "SYN/ACK acknowledges the client ISN+1", (client_isn + 1) % MOD
    result.checks.append(Check(what, expected, synack.ack))
    answered = [s for s in result.syns if s.time <= synack.time]
    syn = answered[-1] if answered else None
    expected_ack = (server_isn + 1) % MOD
    for segment in connection.segments:
        if (
            connection.from_client(segment)
            and segment.time >= synack.time
            and segment.flags & (SYN | ACK | RST) == ACK
        ):
            result.checks.append(Check("ACK acknowledges the server ISN+1", expected_ack, segment.ack))
            result.final_ack = segment
            break
    if result.final_ack is None or not all(c.ok for c in result.checks) or syn is None:
        result.status = "incomplete"
        return result
    result.status = "complete"
    result.syn_to_synack = round(synack.time - syn.time, 9)
    result.synack_to_ack = round(result.final_ack.time - synack.time, 9)
    result.answered_syn_to_ack = round(result.final_ack.time - syn.time, 9)
    return result


def _options(segment: Segment) -> dict | None:
    return segment.options.as_dict() if segment.options is not None else None
