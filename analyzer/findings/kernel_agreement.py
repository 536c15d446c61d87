"""Kernel ground truth: the states the analyzer inferred from packets, compared with the
socket states the kernel reported (the sidecar's `ss -tan` snapshots) at the same instants.

Rule: at each snapshot, each endpoint of each connection is looked up in the kernel's
list by its 4-tuple; a socket the kernel no longer lists is CLOSED (but for one missing
from a single snapshot, listed in the one before and the one after: ss missed it). The inferred
state is the one the endpoint held at the snapshot's time. Endpoints whose state the
packets do not reveal (a server that never answered) are not compared. A snapshot
takes milliseconds (ss runs between its `time` and `end_time`): any state the
endpoint held during that interval counts as agreement. States that
last microseconds on loopback (FIN_WAIT_1, CLOSING, LAST_ACK between two segments)
are rarely caught by a snapshot; `states_checked` says which ones were.

Where the sidecar also holds the kernel recorder's events, KernelAgreement.events holds the
analysis against them (kernel_events.py: every change, RST, retransmission and drop, not
samples), so that the kernel's word on a connection is one result in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise
from typing import Final

from analyzer.connections import Connection, Side
from analyzer.findings.kernel_events import EventAgreement, data_before_fin
from analyzer.sidecar import Sidecar, Snapshot
from analyzer.tcp_state import State
from analyzer.timefmt import format_duration


@dataclass
class Disagreement:
    time: float
    side: Side
    when: str  # "after client close()", "during client connect(...)"
    kernel: str
    inferred: str


@dataclass
class KernelAgreement:
    snapshots: int = 0
    compared: int = 0
    agreed: int = 0
    states_checked: list[str] = field(default_factory=list)
    disagreements: list[Disagreement] = field(default_factory=list)
    # Checks where the kernel had an end in FIN_WAIT_1 or LAST_ACK while the packets show it
    # still sending the data queued before its FIN: its close() came first (a close() after
    # a large send returns at once), which the packets cannot show. Not disagreements.
    behind_data: list[Disagreement] = field(default_factory=list)
    confirmed: list[tuple[float, Side]] = field(default_factory=list)  # (snapshot time, side) that agreed
    # A snapshot while the connection lasted listed a listening socket at the server's
    # address: the state of a server that never answered, which its packets cannot show.
    server_listened: bool = False
    # The analysis against the kernel's events (kernel_events.py), when the sidecar has them.
    events: EventAgreement | None = None

    def as_dict(self) -> dict:
        return {
            "snapshots": self.snapshots,
            "compared": self.compared,
            "agreed": self.agreed,
            "states_checked": self.states_checked,
            "disagreements": [vars(d) for d in self.disagreements],
            "behind_data": [vars(d) for d in self.behind_data],
            "events": self.events.as_dict() if self.events is not None else None,
        }

    def describe(self) -> str:
        if not self.compared:
            return "no kernel snapshot covers this connection"
        text = (
            f"kernel agrees on {self.agreed} of {self.compared} state checks "
            f"({', '.join(self.states_checked)})"
        )
        for run in _runs(self.behind_data):
            d = run[0]
            text += (
                f"; {d.when} the kernel had the {d.side} in {d.kernel} while the data queued before its FIN "
                f"still left (inferred {d.inferred}): its close() came first, which the packets cannot show"
            )
            if len(run) > 1:
                text += f" ({len(run)} snapshots over {format_duration(run[-1].time - d.time)})"
        for run in _runs(self.disagreements):
            d = run[0]
            text += f"; {d.when} the kernel had the {d.side} in {d.kernel}, inferred {d.inferred}"
            if len(run) > 1:
                text += f" ({len(run)} snapshots over {format_duration(run[-1].time - d.time)})"
        return text


def _runs(differences: list[Disagreement]) -> list[list[Disagreement]]:
    """Snapshots every 0.5 s repeat one difference for as long as it lasts: said once."""
    runs: list[list[Disagreement]] = []
    for d in differences:
        last = runs[-1][-1] if runs else None
        if last is not None and (last.when, last.side, last.kernel, last.inferred) == (
            d.when, d.side, d.kernel, d.inferred,
        ):  # fmt: skip
            runs[-1].append(d)
        else:
            runs.append([d])
    return runs


# The state an end's close() moves it to, by the state it leaves: what a snapshot may show
# while the FIN waits behind queued data (_behind_data).
_CLOSED_FROM: Final = {State.ESTABLISHED: State.FIN_WAIT_1, State.CLOSE_WAIT: State.LAST_ACK}


def _behind_data(
    connection: Connection, side: Side, history: list[tuple[float, State]], time: float, seen: str
) -> bool:
    """Whether the kernel's `seen` at `time` is the state `side`'s close() moved it to while
    its FIN waited behind data it had queued: the next change inferred is to that state (at
    the FIN), and the end sent data between `time` and then."""
    inferred = state_at(history, time)
    if inferred is None or _CLOSED_FROM.get(inferred) is None or _CLOSED_FROM[inferred].value != seen:
        return False
    fin_at = next((t for t, state in history if t > time and state != inferred), None)
    if fin_at is None or state_at(history, fin_at) != _CLOSED_FROM[inferred]:
        return False
    return data_before_fin(connection, side, time, fin_at) > 0


def _address(endpoint: tuple[str, int]) -> str:
    return f"{endpoint[0]}:{endpoint[1]}"


def _normalize(address: str) -> str:
    """ss writes [::1]:5000 and 127.0.0.1:5000; connections hold ('::1', 5000). An IPv4
    connection of a dual-stack socket (one bound to [::]) it writes IPv4-mapped,
    [::ffff:127.0.0.1]:5000: the capture's packets are IPv4."""
    host, _, port = address.rpartition(":")
    return f"{host.strip('[]').removeprefix('::ffff:')}:{port}"


# How ss writes a listener bound to no one address: IPv4's (IPv4 only), IPv6's (dual-stack
# unless IPV6_V6ONLY, which a snapshot does not show), either's.
_WILDCARDS_V4: Final = ("0.0.0.0", "::", "*")
_WILDCARDS_V6: Final = ("::", "*")


def _listening(snapshot: Snapshot) -> set[str]:
    """The addresses a snapshot lists a listening socket at."""
    return {_normalize(s["local"]) for s in snapshot["sockets"] if s["state"] == State.LISTEN.value}


def _listens_at(listening: set[str], address: str) -> bool:
    """Whether a listener of `listening` takes connections to `address`: one bound to it, or
    to no one address on its port."""
    host, _, port = address.rpartition(":")
    wildcards = _WILDCARDS_V6 if ":" in host else _WILDCARDS_V4
    return address in listening or any(f"{wildcard}:{port}" in listening for wildcard in wildcards)


def state_at(history: list[tuple[float, State]], time: float) -> State | None:
    current = None
    for when, state in history:
        if when > time:
            break
        current = state
    return current


def _missed(snapshots: list[Snapshot], index: int, key: tuple, connection: Connection) -> bool:
    """A socket absent from snapshot `index` but listed in the one before and the one after,
    both of this connection's life (after its first packet, before the next connection on
    its 4-tuple began): ss's dump of a hash table that changed under it (a socket becoming
    a timewait sock) passed it by; the socket did not close and come back."""
    if not 0 < index < len(snapshots) - 1:
        return False
    before, after = snapshots[index - 1], snapshots[index + 1]
    succeeded = connection.succeeded_at
    if before["time"] < connection.first_time or (
        succeeded is not None and after.get("end_time", after["time"]) >= succeeded
    ):
        return False
    return all(
        any((_normalize(s["local"]), _normalize(s["peer"])) == key for s in snapshot["sockets"])
        for snapshot in (before, after)
    )


def compare_with_kernel(
    connection: Connection,
    states: dict[Side, list[tuple[float, State]]],
    sidecar: Sidecar,
    unsure: dict[Side, list[tuple[float, float]]] | None = None,
) -> KernelAgreement:
    """The states inferred for each end of `connection` (by side) against the kernel's
    snapshots in the sidecar. unsure: by side, spans (start, end) within which the kernel
    made a move the analysis places at one time in them, known from no packet (a call's
    return, which comes after; a timer, which fires late): a snapshot that overlaps one
    may find the state before that move or after it (analysis.apply_sidecar: connect()'s
    ETIMEDOUT, the FIN_WAIT_2 and TIME_WAIT timers)."""
    agreement = KernelAgreement()
    server = _address(connection.server)
    ends: dict[Side, tuple[tuple[str, int], tuple[str, int]]] = {
        "client": (connection.client, connection.server),
        "server": (connection.server, connection.client),
    }
    checked: set[str] = set()
    snapshots = sidecar["snapshots"]
    for index, snapshot in enumerate(snapshots):
        time = snapshot["time"]
        if time < connection.first_time:
            continue  # the connection did not exist yet
        succeeded = connection.succeeded_at
        if succeeded is not None and snapshot.get("end_time", time) >= succeeded:
            break  # the 4-tuple's sockets are the next connection's from here on
        kernel = {(_normalize(s["local"]), _normalize(s["peer"])): s["state"] for s in snapshot["sockets"]}
        listening = _listening(snapshot)
        if time <= connection.last_time and _listens_at(listening, server):
            agreement.server_listened = True
        during = snapshot.get("during_call")
        calls = sidecar["calls"]
        if during is not None and during < len(calls):
            label = f"during {calls[during]['side']} {calls[during]['call']}"
        else:
            label = f"after {calls[snapshot['after_call']]['side']} {calls[snapshot['after_call']]['call']}"
        counted = False
        end_time = snapshot.get("end_time", time)
        for side, (local, peer) in ends.items():
            inferred = state_at(states[side], time)
            if inferred is None:
                continue
            held = {inferred.value} | {s.value for t, s in states[side] if time <= t <= end_time}
            for start, end in (unsure or {}).get(side, []):
                if time <= end and end_time >= start:
                    held |= {
                        either.value
                        for (_t, before), (moved, after) in pairwise(states[side])
                        if start <= moved <= end
                        for either in (before, after)
                    }
            key = (_address(local), _address(peer))
            seen = kernel.get(key, State.CLOSED.value)
            if key not in kernel and _missed(snapshots, index, key, connection):
                continue
            if (
                inferred == State.LISTEN
                and seen == State.CLOSED.value
                and _listens_at(listening, _address(local))
            ):
                # Before its SYN arrives, a server endpoint is the listening socket itself.
                seen = State.LISTEN.value
            counted = True
            agreement.compared += 1
            checked.add(seen)
            if seen in held:
                agreement.agreed += 1
                agreement.confirmed.append((time, side))
            elif _behind_data(connection, side, states[side], time, seen):
                agreement.behind_data.append(Disagreement(time, side, label, seen, inferred.value))
            else:
                agreement.disagreements.append(Disagreement(time, side, label, seen, inferred.value))
        agreement.snapshots += counted
    agreement.states_checked = sorted(
        checked, key=lambda s: list(State).index(State(s)) if s in State.__members__ else 99
    )
    return agreement
