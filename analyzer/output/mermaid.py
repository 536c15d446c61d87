"""The exchange as Mermaid sequenceDiagram text (renders on GitHub): the same packets, states,
calls and RST causes as the ladder, in a form that pastes into an issue or a README."""

from __future__ import annotations

from analyzer.analysis import ConnectionAnalysis, stale_frames
from analyzer.call_sockets import connection_calls
from analyzer.connections import SIDES, Side
from analyzer.decode.icmp_codes import describe
from analyzer.decode.segment import SYN, exact_stamp
from analyzer.output.labels import (
    NO_ANSWER,
    SequenceBases,
    analysis_notes,
    flagged_resends,
    icmp_answers,
    retransmission_note,
    segment_kinds,
    unanswered_probes,
)
from analyzer.output.summary import reset_words
from analyzer.output.text_report import format_endpoint
from analyzer.sidecar import Sidecar
from analyzer.timefmt import Clock, since
from analyzer.udp_flows import UdpFlow


def _escape(text: str) -> str:
    # Mermaid ends a message at ';' and '#' starts an entity: keep both out of labels.
    return text.replace(";", ",").replace("#", "no. ")


def clock_comment(origin: Clock | None) -> str:
    """What the times on the arrows count from, as a Mermaid comment (not drawn)."""
    if origin is None:
        return "%% each message: frame N +seconds since the connection's first packet"
    return "%% each message: frame N +seconds since frame 1 of the capture (Wireshark's clock)"


def connection_mermaid(
    result: ConnectionAnalysis, sidecar: Sidecar | None = None, origin: Clock | None = None
) -> str:
    """origin: frame 1's time, which the times count from (None: the connection's start),
    as on the ladder."""
    connection = result.connection
    start = origin if origin is not None else connection.start_clock
    lines = [
        "sequenceDiagram",
        "    " + clock_comment(origin),
        f"    participant C as client {format_endpoint(connection.client, connection.family)}",
        f"    participant S as server {format_endpoint(connection.server, connection.family)}",
    ]
    bases = SequenceBases(result)
    resent = result.resends
    flagged = flagged_resends(result)
    # The ladder's marks: a cross where it was lost (or a SYN never answered), a note where no
    # answer came.
    never = result.handshake.status == "no_answer"
    lost = {step.segment.frame for step in result.steps if step.lost or (never and step.segment.flags & SYN)}
    kinds = segment_kinds(result)
    notes = analysis_notes(result)
    no_answer = unanswered_probes(result, kinds) - set(icmp_answers(result, start))
    resets = {r.segment.frame: r for r in result.resets}
    stale = stale_frames(connection, result.resets)
    events: list[tuple[float, int, str]] = []
    for error in connection.unreachables:
        # To the end whose segment it quotes, from the other's side, whoever sent it: a router
        # on the way stands there too (a Packet Too Big about a download's data goes to the server).
        said = f"{describe(error)} from {error.src}, frame {error.frame} {since(start.since_stamp(exact_stamp(error)))}"
        arrow = "C-->>S" if (error.quoted[0], error.quoted[1]) == connection.server else "S-->>C"
        events.append((error.time, 1, f"    {arrow}: {_escape(said)}"))
    for segment in connection.segments:
        from_client = connection.from_client(segment)
        sender: Side = "client" if from_client else "server"
        dashed = segment.frame in resent or segment.frame in flagged
        arrow = "--x" if segment.frame in lost else ("-->>" if dashed else "->>")
        label = bases.label(segment, sender, segment.frame in stale)
        if segment.frame in resent:
            label += f" (retransmission {resent[segment.frame][0]}, {retransmission_note(segment, resent[segment.frame])})"
        elif segment.frame in flagged:
            label += " (retransmission)"
        if segment.frame in kinds:
            label = f"{kinds[segment.frame]}: {label}"
        if segment.frame in no_answer:
            label += f" — {NO_ANSWER},"
        label += f" frame {segment.frame} {since(start.since_stamp(segment.stamp))}"
        if segment.frame in resets:
            label += f" RST: {reset_words(resets[segment.frame].cause)}"
        if segment.frame in notes:
            label += f" ({notes[segment.frame]})"
        source, target = ("C", "S") if from_client else ("S", "C")
        events.append((segment.time, 1, f"    {source}{arrow}{target}: {_escape(label)}"))
    for side, participant in zip(SIDES, ("C", "S"), strict=True):
        for index, (time, state) in enumerate(result.states[side]):
            # The state an end starts in goes before the first packet, the others after theirs.
            shown = (
                "UNKNOWN (what moved it may not have arrived)" if state.value == "UNKNOWN" else state.value
            )
            events.append((time, -1 if index == 0 else 2, f"    Note over {participant}: {shown}"))
    for call in connection_calls(sidecar, connection):
        where = {"client": "left of C", "server": "right of S"}.get(call["side"], "over C,S")
        spans_packets = any(call["time"] < s.time < call["end_time"] for s in connection.segments)
        if call["result"] == "ok" or spans_packets:
            events.append((call["time"], -2, f"    Note {where}: {_escape(call['call'])}"))
            if call["result"] != "ok":
                events.append((call["end_time"], 3, f"    Note {where}: {_escape('-> ' + call['result'])}"))
        else:
            events.append(
                (call["time"], -2, f"    Note {where}: {_escape(call['call'] + ' -> ' + call['result'])}")
            )
    lines.extend(line for _time, _order, line in sorted(events, key=lambda e: (e[0], e[1])))
    return "\n".join(lines) + "\n"


def udp_mermaid(flow: UdpFlow, origin: Clock | None = None) -> str:
    first = min(flow.datagrams, key=lambda d: d.time)
    start = origin if origin is not None else Clock(first.time, exact_stamp(first))
    lines = [
        "sequenceDiagram",
        "    " + clock_comment(origin),
        f"    participant C as client {format_endpoint(flow.client, flow.family)}",
        f"    participant S as server {format_endpoint(flow.server, flow.family)}",
    ]
    events = [
        (
            d.time,
            f"    {'C->>S' if flow.from_client(d) else 'S->>C'}: UDP len={d.length} "
            f"frame {d.frame} {since(start.since_stamp(exact_stamp(d)))}",
        )
        for d in flow.datagrams
    ]
    events += [(m.time, "    S-xC: ICMP port unreachable") for m, _answered in flow.unreachables]
    lines.extend(line for _time, line in sorted(events))
    return "\n".join(lines) + "\n"


def mermaid(
    item: ConnectionAnalysis | UdpFlow, sidecar: Sidecar | None = None, origin: Clock | None = None
) -> str:
    """origin: frame 1's time (DecodeStats.origin), as the ladder takes it."""
    if isinstance(item, UdpFlow):
        return udp_mermaid(item, origin)
    return connection_mermaid(item, sidecar, origin)
