"""Which of the logged socket calls are a connection's: the calls made on its sockets.

The scenario runner tags each call with the socket it was made on (sidecar.CallSocket): the
socket's number in the run, its fd, and its addresses once it has them. A socket's calls are
taken together by that number, so that its socket(), or a recv() after a RST (no peer any
more), goes with the connect() or accept() that gave it its 4-tuple. A connection's calls:
- those on a socket whose 4-tuple is the connection's, either way round, while the
  connection lived (one 4-tuple can serve two connections, one after the other);
- those on a socket with an address and no peer at one of its ends (the listener it came in
  by, a UDP server's socket) while it lived, but not an accept() that returned another
  connection's socket;
- those on a socket that never had an address (a refused blocking connect() gives its port
  back) while the connection lived;
- those on no socket (a sleep, a wait, a firewall rule) when they overlap the connection's
  time: from the first call on its own sockets (not the listener's) or its first packet,
  whichever came first, to the last;
- of a call with no tag (strace's, or a whole sidecar written before calls were tagged),
  only what it names tells: a bind() or connect() of other ends, an accept() that returned
  another port, are left out; and an end's calls from one socket() to its next, taken for
  one socket's, where they named other ends and none of this connection's and all came
  before its first packet or after its last (a socket's later calls may come after the
  next socket(): within the connection's time nothing else tells them apart). The rest is
  shown: time alone would not do (a backlog's clients connect within milliseconds of each
  other and live on together, and a listener's socket(), bind() and listen() come before
  any packet).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from analyzer.sidecar import CallRecord, Sidecar, calls_of

if TYPE_CHECKING:
    from analyzer.connections import Connection
    from analyzer.udp_flows import UdpFlow

Endpoint = tuple[str, int]


@dataclass
class _Socket:
    """A socket's life in the run: from its first call to its last, and its addresses."""

    start: float
    stop: float
    local: Endpoint | None = None
    peer: Endpoint | None = None  # once connected; kept when a later call finds none (reset, closed)


def connection_calls(sidecar: Sidecar | None, connection: Connection) -> list[CallRecord]:
    """The calls a picture of this TCP connection shows."""
    return calls_on(
        calls_of(sidecar), (connection.client, connection.server), connection.first_time, connection.last_time
    )


def flow_calls(sidecar: Sidecar | None, flow: UdpFlow) -> list[CallRecord]:
    """The calls a picture of this UDP flow shows."""
    times = [d.time for d in flow.datagrams] + [m.time for m, _answered in flow.unreachables]
    if not times:
        return calls_of(sidecar)
    return calls_on(calls_of(sidecar), (flow.client, flow.server), min(times), max(times))


def calls_on(calls: Sequence[CallRecord], ends: tuple[Endpoint, Endpoint],
             first: float, last: float) -> list[CallRecord]:  # fmt: skip
    """The calls of the connection (or UDP flow) between `ends`, which lived from `first` to
    `last` (epoch seconds), in the log's order."""
    sockets = _sockets(calls)
    wanted = {_normal(ends[0]), _normal(ends[1])}

    def its(life: _Socket) -> bool:
        if not _overlap(life.start, life.stop, first, last):
            return False
        if life.local is None:
            return True  # it never had an address: its time is all there is to go by
        if life.peer is None:
            return any(_at(life.local, end) for end in wanted)
        return {life.local, life.peer} == wanted

    mine = {number for number, life in sockets.items() if its(life)}
    # Its time, for the calls on no socket: its packets' and its own sockets' (the firewall
    # rule set up before its connect(), say), not its listener's, which served the others.
    own = [sockets[n] for n in mine if sockets[n].peer is not None or sockets[n].local is None]
    since = min([first] + [life.start for life in own])
    until = max([last] + [life.stop for life in own])
    others = _named_elsewhere(calls, wanted, first, last)
    chosen = []
    for index, call in enumerate(calls):
        tag, accepted = call.get("socket"), call.get("accepted")
        if "socket" not in call:
            shown = index not in others
        elif accepted is not None:
            shown = accepted["id"] in mine
        elif tag is None:
            shown = _overlap(call["time"], call["end_time"], since, until)
        else:
            shown = tag["id"] in mine
        if shown:
            chosen.append(call)
    return chosen


_NAMES = re.compile(r"(?:bind|connect)\((\[[^\]]+\]:\d+|[^(),\s]+:\d+)\)")
_ACCEPTED = re.compile(r"from port (\d+)")


def _named_elsewhere(
    calls: Sequence[CallRecord], wanted: set[Endpoint], first: float, last: float
) -> set[int]:
    """Indexes of the untagged calls that name other ends than `wanted` (bind(), connect(),
    an accept() that returned another port), and of a socket's (an end's calls from one
    socket() to its next) that named other ends and none of these, all before `first` or
    after `last`."""
    ports = {port for _address, port in wanted}
    lives: dict[str, list[int]] = {}  # by end: the calls of its latest socket
    verdicts: dict[str, bool | None] = {}  # by end: its latest socket's is the connection's?
    others: set[int] = set()

    def close(side: str) -> None:
        life = lives.get(side, [])
        if verdicts.get(side) is False and life:
            start, stop = calls[life[0]]["time"], max(calls[i]["end_time"] for i in life)
            if stop < first or start > last:
                others.update(life)

    for index, call in enumerate(calls):
        if "socket" in call:
            continue
        side, text = call["side"], call["call"]
        if text.startswith("socket("):
            close(side)
            lives[side], verdicts[side] = [], None
        lives.setdefault(side, []).append(index)
        named = _NAMES.search(text)
        if named is not None:
            endpoint = address_endpoint(named.group(1))
            if endpoint is not None:
                mine = any(_at(endpoint, end) for end in wanted)
                verdicts[side] = True if mine else (verdicts.get(side) or False)
                if not mine:
                    others.add(index)
        accepted = _ACCEPTED.search(call.get("result") or "") if text.startswith("accept(") else None
        if accepted is not None and int(accepted.group(1)) not in ports:
            others.add(index)
    for end in lives:
        close(end)
    return others


def _overlap(start: float, stop: float, first: float, last: float) -> bool:
    return start <= last and stop >= first


def _sockets(calls: Sequence[CallRecord]) -> dict[int, _Socket]:
    sockets: dict[int, _Socket] = {}
    for call in calls:
        for tag in (call.get("socket"), call.get("accepted")):
            if tag is None:
                continue
            life = sockets.setdefault(tag["id"], _Socket(call["time"], call["end_time"]))
            life.start, life.stop = min(life.start, call["time"]), max(life.stop, call["end_time"])
            local = address_endpoint(tag["local"])
            peer = address_endpoint(tag["peer"])
            if local is not None and (peer is not None or life.peer is None):
                life.local = local
            if peer is not None:
                life.peer = peer
    return sockets


def address_endpoint(address: str | None) -> Endpoint | None:
    """An address as ss writes it (127.0.0.1:5000, [::1]:5000) as the connections hold it."""
    if address is None:
        return None
    host, _, port = address.rpartition(":")
    return _normal((host.strip("[]"), int(port)))


def _normal(endpoint: Endpoint) -> Endpoint:
    """As the capture holds it: an IPv4 client of a dual-stack listener is ::ffff:a.b.c.d to
    its socket (strace, ss) and a.b.c.d on the wire."""
    try:
        address = ipaddress.ip_address(endpoint[0])
    except ValueError:
        return endpoint
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.compressed, endpoint[1]


def _at(local: Endpoint, end: Endpoint) -> bool:
    """Whether a socket bound at `local` serves `end`: the same port, and the same address or
    every address (0.0.0.0, ::)."""
    return local[1] == end[1] and local[0] in (end[0], "0.0.0.0", "::")
