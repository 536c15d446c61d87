"""Scans and floods: many attempts that never became conversations, as file-level findings.

A single connection says little about a scan: a refused connect is a refused connect. What
makes a scan is many of them, from one source, to many ports of one host (a port scan,
vertical), to one port of many hosts (an address sweep, horizontal), or both (a block scan);
what makes a flood is many to one port of one host, from any number of sources. Each is one
finding of the file, with its counts, in place of hundreds or millions of connections told
one by one.

What counts: probes
-------------------
A probe is a connection its client opened with a SYN that carried no payload either way and
was not closed by a FIN from each side: Zeek's "failed connection" (policy/misc/scan.zeek,
is_failed_conn: S0, REJ, and a SYN/ACK or a completed handshake reset with no D or d in its
history), and also one that simply stops after the handshake, as a connect scan's can. Its
answer is what the target sent back: a SYN/ACK (the port is open), else a RST (closed), else
nothing (filtered, or a spoofed source never answered). Connections with no SYN from their
client (the capture began later) are not counted: a capture that starts in the middle of a
busy server's traffic would otherwise be full of them. Snort's port_scan leaves them out too
by default (include_midstream = false). Those opened by a segment no TCP sends first, nmap's
FIN, NULL and Xmas probes (tcp_state: impossible flags, a FIN without ACK from an end with
no connection: Step.probe), are probes all the same: a closed port answers them with RST, an
open or filtered one with nothing. So are ACK probes (nmap's ACK, Window and Maimon scans, an
ACK flood): a connection whose client sent only segments with ACK, no SYN, RST or data (a
FIN allowed: Maimon's FIN/ACK), at most ACK_PROBE_SEGMENTS of them, not the continuation of a
connection given up as idle (a keep-alive to a server that lost it), answered by nothing but a
RST without ACK at a probe's acknowledgment number, the kernel's answer to a segment for no
connection (RFC 9293 3.10.7.1), whether the port is open or closed (nmap's "unfiltered"). An
ACK probe that nothing answered is not counted: a capture of one direction, or begun in the
middle of a download, holds lone ACKs of live connections. A RST or two from a client and
nothing else on the 4-tuple (a RST flood's; nothing answers a RST) is a probe without answer,
and so is a FIN/ACK or two (Maimon's probe to an open port of a BSD stack, which drops it,
or a filtered one): a live connection's close alone in the capture is rare.

Thresholds, and why
-------------------
- PORT_SCAN_PORTS = 15: one source probed 15 or more distinct ports of one host. Zeek's
  Scan::port_scan_threshold is 15 unique ports of one victim; Snort 3's medium-sensitivity
  port scan (tcp_med_ports in snort_defaults.lua) alerts at 15 ports too (5 at low). A client
  that talks to a few services of a server (web, mail, SSH) stays far below it.
- SWEEP_HOSTS = 25: one source probed one port on 25 or more distinct hosts. Zeek's
  Scan::addr_scan_threshold is 25 unique hosts on one port (Snort's low sensitivity sweeps
  count 5 "nets", the medium one 7: noisier). Zeek's example nmap-vsn capture, a host
  discovery of 7 hosts on ports 80 and 443, is below it, as nmap -sn on a home network is.
- A scan probes each port (or host) once or a few times (nmap resends an unanswered probe
  once, 1.9 probes a port over a 60,000-port scan): probes that come more than SCAN_REPEATS =
  4 times a port (a host) on average, nearly all (MONITOR_OPEN, 90 %) answered by SYN/ACK,
  are a monitor's, no scan (a load balancer's health checks, HAProxy's closed by RST, of 30
  backends every 2 s: an "address sweep" before). A scan run again and again over closed or
  filtered ports stays a scan.
- A source with both is one block scan; a source is one finding, however many hosts and
  ports it probed (nmap -p1-1000 on a /24 is one finding, not 256 port scans and 1,000
  sweeps).
- FLOOD_ATTEMPTS = 1,000 probes to one host and port within FLOOD_WINDOW = 10 seconds (100
  a second). Counted in 10-second bins of their start: a flood when two adjacent bins hold
  1,000 between them, so that every 10 s of 1,000 probes is one, and nothing slower than
  1,000 in 20 s is; a burst inside a long capture counts as much as a capture of only the
  burst. Zeek's old synflood.bro called 15,000 new connections to one victim within 60 s a
  flood (250 a second); ntopng's SYN flood victim alert fires above 50 SYNs a second. 1,000
  is more half-open attempts than Linux's SYN queue holds by default (tcp_max_syn_backlog,
  128 to 1,024 by memory; "Possible SYN flooding on port" when it overflows), and far more
  than the burst of failed reconnects that a restarted service sees. The rate keeps a
  server that was down for a day (its clients' SYNs unanswered, a few a minute) from being
  called flooded. The sources are counted, not required: a flood from one address reusing
  its ports is a flood.
- A flood of a host on many ports (Mirai's SYN and ACK floods draw a random destination port
  for each packet): FLOOD_ATTEMPTS probes of one host within FLOOD_WINDOW, as above, on
  HOST_FLOOD_PORTS distinct ports or more, from HOST_FLOOD_SOURCES distinct sources or more
  (spoofed ones, or a botnet's: one source probing many ports is a port scan), no port of it
  holding HOST_FLOOD_SHARE (half) of them (a port's flood, a scan of the host beside it). It
  tells the floods of its ports, if any. Its target is the host, its port ANY_PORT (JSON null).
Suricata has no scan detector of its own: its scan rules count one signature's matches with
`threshold: type both, track by_src, count N, seconds T`.

Backscatter
-----------
A host flooded with SYNs from forged sources answers each forged address: SYN/ACKs (and
their resends) from an open port, RSTs from a closed one or to forged ACKs. Where those
addresses are (a network telescope, a darknet, a honeypot's capture), the capture holds the
answers and nothing that asked for them: Moore et al., "Inferring Internet Denial-of-Service
Activity" (USENIX Security 2001), count a victim by such backscatter. An answer here is a
connection in which the client sent nothing and the server sent only SYN/ACKs and RSTs
(at most BACKSCATTER_SEGMENTS of them: Linux resends a SYN/ACK 5 times); a host that sent
such answers to BACKSCATTER_HOSTS or more distinct addresses is one finding, with the ports
it answered from. A capture that holds one direction only of a server's traffic shows its
refused and half-open attempts so too: the finding says both readings. A server's answers to
clients the capture does hold (a SYN, any packet of theirs) are never counted: those
connections are conversations or probes.

Scans have no time window: the file is the window (Zeek's 5 minutes and Snort's 60 to 600
seconds bound what a sensor running for months remembers). A scan spread over a day is
still a scan here; the finding's span and rate (its attempts over the time from the first
to the last, a flood's too) tell how fast it went.

Bounded memory, streaming
-------------------------
Connections come in the order they end, not by id, and a flood may bring a million sources.
Four tables (by source; by source and host; by source and port; by host and port), each
bounded like the summary's busiest sources (output/summary.py, SourceTally). A key seen
once is only remembered with its probe (a flood's spoofed sources, a sweep's hosts), and a
source seen once goes no further than the first table: a probe of a flood costs a few
dictionary operations. Keys seen again get their counts; exact while a table holds at most
2 x SLOTS of each kind, then the keys seen once are forgotten and the others ranked by
batch Misra-Gries (their weight drops by the (SLOTS + 1)-th largest each time the table is
full), so that every key with more probes than `short_by` (at most about probes / SLOTS)
stays, and a finding says by how much its counts may be short. A key counts its distinct
ports exactly (the first alone, a set of up to 64, then a 65,536-bit map of 8 KB) and its
distinct addresses exactly up to EXACT_LIMIT (sorted 64-bit hashes, 8 KB at most), past that
as a HyperLogLog sketch of 4,096 registers (about 1.6 % off; the finding says "estimated").
So a table never holds more than 2 x SLOTS keys of 16 KB and 2 x SLOTS probes, whatever the
file: 5 MB at its peak, measured, for a million probes of a flood from spoofed sources with
a port scan and a sweep among them, as for a tenth of them. The tables merge (the shares of
a big file each count their own connections, and the parent adds them up), and the result
does not depend on the order the connections came in while no table has filled up.
"""

from __future__ import annotations

import heapq
import ipaddress
import math
from array import array
from bisect import bisect_left
from hashlib import blake2b
from typing import TYPE_CHECKING, Any, Final

from analyzer.decode.segment import ACK, FIN, SYN
from analyzer.decode.segment import RST as TCP_RST

if TYPE_CHECKING:
    from analyzer.analysis import ConnectionAnalysis
    from analyzer.connections import Connection

PORT_SCAN_PORTS: Final = 15
SWEEP_HOSTS: Final = 25
SCAN_REPEATS: Final = 4  # a scan's probes of each port or host, on average, at the most
MONITOR_OPEN: Final = 0.9  # ... unless fewer than this share answered SYN/ACK (see _monitored)
FLOOD_ATTEMPTS: Final = 1_000
FLOOD_WINDOW: Final = 10.0  # seconds: FLOOD_ATTEMPTS in this long is 100 probes a second
HOST_FLOOD_PORTS: Final = 100
HOST_FLOOD_SOURCES: Final = 100
ANY_PORT: Final = 0  # a flood's target port when it is the host's on many ports (no TCP port is 0)
HOST_FLOOD_LOOK: Final = 64  # a flooded host's probes between two looks at its distinct counts
HOST_FLOOD_SHARE: Final = 0.5  # a port with this share of a host's probes is flooded on its own
_MAX_BINS: Final = 4_096  # a target's busiest FLOOD_WINDOW bins kept (11 hours of them)
# Backscatter (see the module docstring): answers to this many distinct addresses, as a
# sweep's hosts; an answer is at most this many segments (a SYN/ACK and its 5 resends, a RST).
BACKSCATTER_HOSTS: Final = SWEEP_HOSTS
BACKSCATTER_SEGMENTS: Final = 8
# An ACK probe's segments from its client (nmap resends a probe once), and in all.
ACK_PROBE_SEGMENTS: Final = 2

SLOTS: Final = 4_096  # keys kept per table after a compaction (2 x SLOTS before one)
EXACT_LIMIT: Final = 1_024  # distinct addresses counted exactly, then estimated
_HLL_BITS: Final = 12
_HLL_REGISTERS: Final = 1 << _HLL_BITS
_HLL_REST: Final = (1 << (64 - _HLL_BITS)) - 1  # the hash's bits below the register's index
_PORT_SET_LIMIT: Final = 64  # distinct ports kept in a set, then as a bitmap
TOP: Final = 5  # the hosts, ports or sources a finding names
STANDING_OUT_SHARE: Final = 0.01  # of a flood's attempts, that a source named by it made

# A scanner's kind: (a port scan of some host, a sweep of some port) -> kind.
_SCAN_KIND: Final = {(True, False): "vertical", (False, True): "horizontal", (True, True): "block"}
BACKSCATTER: Final = "backscatter"

SYNACK: Final = "synack"
RST: Final = "rst"
NOTHING: Final = "none"
ANSWERS: Final = (SYNACK, RST, NOTHING)
# As the tables count it: a SYN/ACK its listener kept no request for (findings/syn_cookies.py:
# a SYN cookie), a SYNACK counted among `unrequested` too.
SYNACK_UNREQUESTED: Final = "synack_unrequested"
# What a probe was: a SYN, an ACK probe, or another without SYN (FIN, NULL, Xmas, crafted).
SYN_PROBE: Final = "syn"
ACK_PROBE: Final = "ack"
OTHER_PROBE: Final = "other"
RST_PROBE: Final = "rst"  # a lone RST (a RST flood's): no host answers one

# Closed by a FIN from each side: a conversation, even without payload (a health check).
_NORMAL_CLOSES: Final = frozenset(("four-way", "three-segment", "simultaneous", "half-close"))


def probe_answer(result: ConnectionAnalysis) -> str | None:
    """What the target answered if the connection was a probe (SYNACK, RST or NOTHING),
    else None (see the module docstring)."""
    found = probe_of(result)
    return found[0] if found is not None else None


def probe_of(result: ConnectionAnalysis) -> tuple[str, str] | None:
    """(what the target answered, what the probe was: SYN_PROBE, ACK_PROBE or OTHER_PROBE)
    if the connection was a probe, else None."""
    if not result.handshake.syns:
        if result.steps and result.steps[0].probe:
            return (RST if any(reset.sender == "server" for reset in result.resets) else NOTHING), OTHER_PROBE
        if ack_probe(result.connection):
            return RST, ACK_PROBE
        connection = result.connection
        if _lone_resets(connection):
            return NOTHING, RST_PROBE
        return (NOTHING, OTHER_PROBE) if _lone_fins(connection) else None
    answer = _syn_probe_answer(result)
    return (answer, SYN_PROBE) if answer is not None else None


def ack_probe(connection: Connection) -> bool:
    """Whether the connection is an ACK probe answered by a RST for no connection (see the
    module docstring)."""
    segments = connection.segments
    # One that continues a connection given up as idle is that connection's: a keep-alive a
    # restarted server (a failover, a flushed firewall) answered so.
    if not segments or connection.continues is not None or _segments_in(connection) > 2 * ACK_PROBE_SEGMENTS:
        return False
    acks: set[int] = set()
    probes = 0
    answered = False
    for segment in segments:
        flags = segment.flags
        if segment.payload_len or flags & SYN:
            return False
        if connection.from_client(segment):
            probes += 1
            if flags & (ACK | TCP_RST) != ACK or probes > ACK_PROBE_SEGMENTS:
                return False
            acks.add(segment.ack)
        elif flags & (ACK | TCP_RST | FIN) != TCP_RST or segment.seq not in acks:
            return False
        else:
            answered = True
    return answered


def _lone_resets(connection: Connection) -> bool:
    """Whether the connection is RSTs alone from its client, at most ACK_PROBE_SEGMENTS of
    them, without data, and nothing from the other end: a RST flood's (hping3 -R
    --rand-source), the forged reset of a blind attack."""
    return _alone_from_client(connection, TCP_RST, TCP_RST | SYN | FIN)


def _lone_fins(connection: Connection) -> bool:
    """Whether the connection is FIN/ACKs alone from its client, at most ACK_PROBE_SEGMENTS of
    them, without data, and nothing from the other end: Maimon's probes that nothing answered
    (an open port of a BSD stack drops them, a firewall too). A live connection's close
    captured alone would need a capture begun at that very FIN and a peer that never answered
    it; only many of them, to the thresholds' ports or hosts, make a scan."""
    return _alone_from_client(connection, FIN | ACK, TCP_RST | SYN | FIN | ACK)


def _alone_from_client(connection: Connection, flags: int, among: int) -> bool:
    """Whether the connection is at most ACK_PROBE_SEGMENTS segments, all from its client,
    without data, each with `flags` of the bits `among`, continuing nothing."""
    segments = connection.segments
    if not segments or _segments_in(connection) > ACK_PROBE_SEGMENTS or connection.continues is not None:
        return False
    return all(s.flags & among == flags and not s.payload_len and connection.from_client(s) for s in segments)


def _segments_in(connection: Connection) -> int:
    """Its segments: all of them counted in a folded connection, which keeps only some."""
    return connection.count or len(connection.segments)


def _syn_probe_answer(result: ConnectionAnalysis) -> str | None:
    """What answered a connection opened by a SYN, if it was a probe."""
    history = result.compatibility.zeek.history
    if "D" in history or "d" in history or result.close.shape in _NORMAL_CLOSES:
        return None
    if result.handshake.synacks:
        return SYNACK
    for reset in result.resets:
        if reset.sender == "server":
            return RST
    return NOTHING


def backscatter_answer(result: ConnectionAnalysis) -> str | None:
    """SYNACK or RST if the connection is an answer to nothing the capture holds (see
    Backscatter in the module docstring), else None."""
    connection = result.connection
    if result.handshake.syns or _segments_in(connection) > BACKSCATTER_SEGMENTS or not connection.segments:
        return None
    answer = RST
    for segment in connection.segments:
        if connection.from_client(segment) or segment.payload_len:
            return None
        flags = segment.flags
        if flags & (SYN | ACK) == SYN | ACK and not flags & (FIN | TCP_RST):
            answer = SYNACK
        elif not flags & TCP_RST or flags & (SYN | FIN):
            return None
    return answer


def address_hash(address: str) -> int:
    """A 64-bit hash of an address's text, the same in every process and run (Python's own
    hash of a str is not): estimates and merges do not change from run to run."""
    return int.from_bytes(blake2b(address.encode(), digest_size=8).digest(), "little")


def address_order(address: str) -> tuple[int, int]:
    """Addresses in their numeric order (10.1.0.2 before 10.1.0.10), IPv4 first."""
    parsed = ipaddress.ip_address(address)
    return parsed.version, int(parsed)


class Distinct:
    """How many distinct addresses: the first one kept alone, then exactly, as the sorted
    array of their address_hash (8 bytes each), up to EXACT_LIMIT; past that a HyperLogLog
    estimate of 4,096 registers (one byte each)."""

    __slots__ = ("exact", "latest", "one", "registers")

    def __init__(self) -> None:
        self.one: str | None = None
        self.exact: array | None = None
        self.registers: bytearray | None = None
        # The value added last: a scan probes each host's ports one after the other, and
        # adding a value again changes nothing (a hash fewer for each).
        self.latest: str | None = None

    def add(self, value: str) -> None:
        if value == self.latest:
            return
        self.latest = value
        registers = self.registers
        if registers is not None:  # _register, written out: a flood's every probe comes here
            hashed = int.from_bytes(blake2b(value.encode(), digest_size=8).digest(), "little")
            index = hashed >> (64 - _HLL_BITS)
            rank = 64 - _HLL_BITS - (hashed & _HLL_REST).bit_length() + 1
            if rank > registers[index]:
                registers[index] = rank
        elif self.exact is not None:
            self._add_hash(address_hash(value))
        elif self.one is None:
            self.one = value
        elif value != self.one:
            self.exact = array("Q", sorted((address_hash(self.one), address_hash(value))))
            self.one = None

    def _add_hash(self, hashed: int) -> None:
        exact = self.exact
        if exact is None:
            if self.registers is None:  # empty, or one kept as text: exactly, from here
                self.exact = exact = array("Q", [address_hash(self.one)] if self.one is not None else [])
                self.one = None
            else:
                self._register(hashed)
                return
        at = bisect_left(exact, hashed)
        if at < len(exact) and exact[at] == hashed:
            return
        exact.insert(at, hashed)
        if len(exact) > EXACT_LIMIT:
            self.exact, self.registers = None, bytearray(_HLL_REGISTERS)
            for kept in exact:
                self._register(kept)

    def has(self, value: str) -> bool:
        """Whether `value` was added (False past the exact range: a sketch cannot tell)."""
        if self.exact is not None:
            hashed = address_hash(value)
            at = bisect_left(self.exact, hashed)
            return at < len(self.exact) and self.exact[at] == hashed
        return self.registers is None and value == self.one

    def _register(self, hashed: int) -> None:
        registers = self.registers
        assert registers is not None
        index = hashed >> (64 - _HLL_BITS)
        rank = 64 - _HLL_BITS - (hashed & _HLL_REST).bit_length() + 1
        if rank > registers[index]:
            registers[index] = rank

    @property
    def estimated(self) -> bool:
        return self.registers is not None

    def count(self) -> int:
        registers = self.registers
        if registers is None:
            return len(self.exact) if self.exact is not None else int(self.one is not None)
        m = _HLL_REGISTERS
        # Over a list: mypyc (1.x) fails on a comprehension over a bytearray.
        estimate = 0.7213 / (1 + 1.079 / m) * m * m / sum([2.0**-r for r in list(registers)])
        empty = registers.count(0)
        if estimate <= 2.5 * m and empty:
            estimate = m * math.log(m / empty)  # small range: linear counting
        return round(estimate)

    def merge(self, other: Distinct) -> None:
        if other.registers is None:
            if other.one is not None:
                self.add(other.one)
            for hashed in other.exact or ():
                self._add_hash(hashed)
            return
        if self.registers is None:
            mine = [*(self.exact or ()), *((address_hash(self.one),) if self.one is not None else ())]
            self.one, self.exact, self.registers = None, None, bytearray(_HLL_REGISTERS)
            for hashed in mine:
                self._register(hashed)
        assert self.registers is not None
        self.registers = bytearray(map(max, self.registers, other.registers))


class PortSet:
    """Distinct ports, exactly: the first alone, then a set, then a bitmap of all 65,536
    (8 KB)."""

    __slots__ = ("bitmap", "one", "size", "values")

    def __init__(self) -> None:
        self.one = -1
        self.values: set[int] | None = None
        self.bitmap: bytearray | None = None
        self.size = 0

    def add(self, port: int) -> None:
        values = self.values
        if values is not None:
            values.add(port)
            if len(values) > _PORT_SET_LIMIT:
                self.values, self.bitmap, self.size = None, bytearray(8192), 0
                for kept in values:
                    self.add(kept)
        elif self.bitmap is not None:
            byte, bit = port >> 3, 1 << (port & 7)
            if not self.bitmap[byte] & bit:
                self.bitmap[byte] |= bit
                self.size += 1
        elif self.one < 0:
            self.one = port
        elif port != self.one:
            self.values = {self.one, port}

    def has(self, port: int) -> bool:
        """Whether `port` was added."""
        if self.values is not None:
            return port in self.values
        bitmap = self.bitmap
        if bitmap is not None:
            return bool(bitmap[port >> 3] >> (port & 7) & 1)
        return port == self.one

    def count(self) -> int:
        if self.values is not None:
            return len(self.values)
        return self.size if self.bitmap is not None else int(self.one >= 0)

    def merge(self, other: PortSet) -> None:
        if other.bitmap is None:
            for port in other.values or ((other.one,) if other.one >= 0 else ()):
                self.add(port)
            return
        for byte, bits in enumerate(list(other.bitmap)):  # a list: see Distinct.count
            for bit in range(8):
                if bits >> bit & 1:
                    self.add(byte << 3 | bit)


class _Stats:
    """What a table counts for one key: probes (and the ranking weight, see _Table), their
    answers, the first and last probe's start; and what its table tracks of the key's
    probes: the distinct ports, hosts or sources, the busiest sources."""

    __slots__ = (
        "acks",
        "attempts",
        "bins",
        "first",
        "flooded",
        "hosts",
        "last",
        "none",
        "ports",
        "resets",
        "rst",
        "sources",
        "synack",
        "syns",
        "unrequested",
        "weight",
    )  # fmt: skip

    def __init__(self, ports: bool = False, hosts: bool = False, sources: bool = False) -> None:
        self.weight = self.attempts = self.synack = self.rst = self.none = 0
        self.syns = 0  # the probes that were SYNs
        self.unrequested = 0  # of the SYN/ACKs, those its listener kept no request for
        self.acks = 0  # the ACK probes (the rest: FIN, NULL, Xmas and other probes without SYN)
        self.resets = 0  # the RST probes, which no host answers
        self.first = math.inf
        self.last = -math.inf
        self.ports = PortSet() if ports else None
        self.hosts = Distinct() if hosts else None
        self.sources = Distinct() if sources else None
        # A target's probes by FLOOD_WINDOW bin of their start (bin -> probes), and whether
        # two adjacent bins have held FLOOD_ATTEMPTS between them.
        self.bins: dict[int, int] | None = {} if sources else None
        self.flooded = False

    def count_bin(self, time: float) -> None:
        bins = self.bins
        assert bins is not None
        at = int(time // FLOOD_WINDOW)
        here = bins[at] = bins.get(at, 0) + 1
        if not self.flooded and here + max(bins.get(at - 1, 0), bins.get(at + 1, 0)) >= FLOOD_ATTEMPTS:
            self.flooded = True
        if len(bins) > _MAX_BINS:  # a target probed for hours on end: its quietest bin goes
            del bins[min(bins, key=lambda b: (bins[b], b))]

    @property
    def answers(self) -> dict[str, int]:
        return {SYNACK: self.synack, RST: self.rst, NOTHING: self.none}

    def merge(self, other: _Stats) -> None:
        self.weight += other.weight
        self.attempts += other.attempts
        self.synack += other.synack
        self.unrequested += other.unrequested
        self.rst += other.rst
        self.none += other.none
        self.syns += other.syns
        self.acks += other.acks
        self.resets += other.resets
        self.first = min(self.first, other.first)
        self.last = max(self.last, other.last)
        if self.bins is not None and other.bins is not None:
            bins = self.bins
            for at, probes in other.bins.items():
                bins[at] = bins.get(at, 0) + probes
            self.flooded = (
                self.flooded
                or other.flooded
                or any(probes + bins.get(at + 1, 0) >= FLOOD_ATTEMPTS for at, probes in bins.items())
            )
            while len(bins) > _MAX_BINS:
                del bins[min(bins, key=lambda b: (bins[b], b))]
        if self.ports is not None and other.ports is not None:
            self.ports.merge(other.ports)
        if self.hosts is not None and other.hosts is not None:
            self.hosts.merge(other.hosts)
        if self.sources is not None and other.sources is not None:
            self.sources.merge(other.sources)


# A probe as the tables take it: (source, host, port, answer, time, what it was: SYN_PROBE,
# ACK_PROBE, OTHER_PROBE; "" for a backscatter answer).
Probe = tuple[str, str, int, str, float, str]


class _Table:
    """Stats by key, at most 2 x slots keys. A key seen once is only remembered, with its
    probe (a tuple: most keys of a flood of spoofed sources, or of a sweep of many hosts,
    are never seen again); its stats are made when it comes again. Either kind, when full:
    the keys seen once are forgotten (each short of one probe); the keys with stats drop
    their weight by the (slots + 1)-th largest and those left at zero go (batch
    Misra-Gries). A key's counts then cover the probes since it last entered the table:
    short of the truth by at most short_by (the sum of the drops and forgettings)."""

    __slots__ = ("entries", "hosts", "once", "ports", "short_by", "slots", "sources")

    # Every argument has a default: compiled (mypyc), the class is unpickled (a share's
    # tables, sent to the parent) by calling it with none.
    def __init__(
        self, slots: int = SLOTS, ports: bool = False, hosts: bool = False, sources: bool = False
    ) -> None:
        self.slots = slots
        self.entries: dict[Any, _Stats] = {}  # a key: an address, or a tuple of an address and one more
        self.once: dict[Any, Probe] = {}  # the keys seen once, and their probe
        self.short_by = 0
        self.ports, self.hosts, self.sources = ports, hosts, sources  # what its keys track

    def add(self, key: Any, probe: Probe) -> Probe | None:
        """Count the probe under the key; the key's first probe if this is its second."""
        entry = self.entries.get(key)
        if entry is not None:
            self._record(entry, probe)
            return None
        once = self.once
        first = once.pop(key, None)
        if first is None:
            if len(once) >= 2 * self.slots:
                once.clear()
                self.short_by += 1
            once[key] = probe
            return None
        if len(self.entries) >= 2 * self.slots:
            self._compact()
        entry = self.entries[key] = _Stats(self.ports, self.hosts, self.sources)
        self._record(entry, first)
        self._record(entry, probe)
        return first

    def _record(self, entry: _Stats, probe: Probe) -> None:
        source, host, port, answer, time, kind = probe
        # Counted here, not in a method of _Stats: every probe comes here two to four times.
        entry.weight += 1
        entry.attempts += 1
        if kind == SYN_PROBE:
            entry.syns += 1
        elif kind == ACK_PROBE:
            entry.acks += 1
        elif kind == RST_PROBE:
            entry.resets += 1
        if answer == SYNACK:
            entry.synack += 1
        elif answer == SYNACK_UNREQUESTED:
            entry.synack += 1
            entry.unrequested += 1
        elif answer == RST:
            entry.rst += 1
        else:
            entry.none += 1
        if time < entry.first:
            entry.first = time
        if time > entry.last:
            entry.last = time
        if self.ports:
            entry.ports.add(port)  # type: ignore[union-attr]  # made with the table's kinds
        if self.hosts:
            entry.hosts.add(host)  # type: ignore[union-attr]
        if self.sources:
            entry.sources.add(source)  # type: ignore[union-attr]
            entry.count_bin(time)

    def stats(self) -> dict[Any, _Stats]:
        """Every key's stats, those seen once too (made here, for the findings)."""
        every = dict(self.entries)
        for key, probe in self.once.items():
            entry = every[key] = _Stats(self.ports, self.hosts, self.sources)
            self._record(entry, probe)
        return every

    def _compact(self) -> None:
        drop = heapq.nlargest(self.slots + 1, (entry.weight for entry in self.entries.values()))[-1]
        self.short_by += drop
        kept = {}
        for key, entry in self.entries.items():
            if entry.weight > drop:
                entry.weight -= drop
                kept[key] = entry
        self.entries = kept

    def merge(self, other: _Table) -> None:
        for key, entry in other.entries.items():
            mine = self.entries.get(key)
            if mine is None:
                first = self.once.pop(key, None)
                mine = self.entries[key] = entry
                if first is not None:
                    self._record(mine, first)
            else:
                mine.merge(entry)
        self.short_by += other.short_by
        for key, probe in other.once.items():
            self.add(key, probe)
        while len(self.entries) > 2 * self.slots:
            self._compact()


class ScanFinding:
    """One scan or flood of the file (see the module docstring for the kinds)."""

    def __init__(
        self,
        kind: str,
        source: str | None,
        target: tuple[str, int] | None,
        stats: _Stats,
        sources: int,
        hosts: int,
        ports: int,
        estimated: bool,
        top_hosts: list[tuple[str, int, int]],
        top_ports: list[tuple[int, int, int]],
        top_sources: list[tuple[str, int, int]],
        short_by: int,
        busiest: tuple[float, int] | None = None,
    ) -> None:
        self.kind = kind  # "vertical", "horizontal", "block", "flood" or BACKSCATTER
        self.source = source  # the scanner, or the host that answered (None for a flood)
        self.target = target  # the flooded host and port (None for a scan)
        self.attempts = stats.attempts
        self.syn_probes = stats.syns  # the attempts that were SYNs
        self.ack_probes = stats.acks  # the ACK probes (the rest: other probes without SYN)
        self.reset_probes = stats.resets  # of the rest, lone RSTs
        self.answers = stats.answers
        self.unrequested = stats.unrequested  # of the SYN/ACKs: no request kept (SYN cookies)
        self.first_time = stats.first
        self.last_time = stats.last
        # Distinct sources, hosts and ports probed. An estimate can overshoot (a 3,000-SYN
        # flood from 3,000 sources was "about 3,072"): never more than one for each probe.
        self.sources = min(sources, self.attempts)
        self.hosts = min(hosts, self.attempts)
        self.ports = min(ports, self.attempts)
        self.estimated = estimated  # some distinct count is a HyperLogLog estimate
        # (host, probes, distinct ports), most probed first; (port, probes, distinct hosts).
        self.top_hosts = [(host, probes, min(ports, probes)) for host, probes, ports in top_hosts]
        self.top_ports = [(port, probes, min(hosts, probes)) for port, probes, hosts in top_ports]
        # (source, probes of the host, distinct ports of it probed) for a flood: the probes are
        # the host's, all on the flooded port only when there is one port.
        self.top_sources = top_sources
        self.short_by = short_by  # the counts may be short by this many (0: exact)
        # A flood's busiest FLOOD_WINDOW: (its start, the probes that began in it).
        self.busiest = busiest

    @property
    def duration(self) -> float:
        """From the first probe's start to the last one's (to the nanosecond)."""
        return round(self.last_time - self.first_time, 9)

    @property
    def rate(self) -> float | None:
        """Probes a second from the first to the last; None when they all began at once."""
        return round(self.attempts / self.duration, 3) if self.duration > 0 else None


class ScanDetector:
    """Fed every connection of a file (add), in any order; findings() once they are all in."""

    def __init__(self, slots: int = SLOTS) -> None:
        self.probes = 0
        self.by_source = _Table(slots, ports=True, hosts=True)
        self.by_pair = _Table(slots, ports=True)  # (source, host): the ports probed there
        self.by_sweep = _Table(slots, hosts=True)  # (source, port): the hosts probed on it
        self.by_target = _Table(slots, sources=True)  # (host, port): who probed it
        self.by_host = _Table(slots, ports=True, sources=True)  # host: its ports, who probed it
        # Backscatter: by the answering host, the addresses it answered and its ports; by
        # the host and one of its ports, the addresses answered from there.
        self.by_responder = _Table(slots, ports=True, hosts=True)
        self.by_answering_port = _Table(slots, hosts=True)
        self.responders: set[str] = set()  # the hosts found answering backscatter so far
        # The sources that have been scanners so far (at most 2 x slots of them): their
        # later probes are sure to be a finding's (see hot).
        self.scanners: set[str] = set()
        # The hosts flooded on many ports so far, and of those with a port flooded on its own
        # the first such port (while it holds HOST_FLOOD_SHARE of the host's probes or more,
        # that port's finding tells it), each at most 2 x slots.
        self.host_floods: set[str] = set()
        self.port_floods: dict[str, int] = {}
        # The latest probe of a source seen more than once reached a port of its host, or a
        # host on its port, that the source had not probed before (see hot).
        self._new_target = True
        self._slots = slots

    def hot(self, result: ConnectionAnalysis) -> bool:
        """Whether the probe (counted already) is sure to be a scan's or a flood's: its
        source a scanner, or its target flooded, so far (and so at the end, but for a key
        dropped from a full table). A report may leave out the details of a hot probe, to be
        folded into its finding, and tell if one ends up in none."""
        connection = result.connection
        if connection.server[0] in self.responders and backscatter_answer(result) is not None:
            return True
        if connection.client[0] in self.scanners:
            # Only a probe of a port or host it had not probed: a monitor probes the same ones
            # round after round, and looks like a scanner in its first (see SCAN_REPEATS).
            return self._new_target
        target = self.by_target.entries.get(connection.server)
        if target is not None and target.flooded:
            return True
        return connection.server[0] in self.host_floods

    def add(self, result: ConnectionAnalysis) -> str | None:
        """Count the connection if it is a probe or an answer to nothing captured: its
        answer (probe_answer), or BACKSCATTER."""
        found = probe_of(result)
        connection = result.connection
        if found is None:
            answered = backscatter_answer(result)
            if answered is None:
                return None
            self.add_answer(
                connection.server[0],
                connection.client[0],
                connection.server[1],
                answered,
                connection.first_time,
            )
            return BACKSCATTER
        answer, kind = found
        unrequested = answer == SYNACK and result.handshake.unrequested_for is not None
        self.add_probe(
            connection.client[0],
            connection.server[0],
            connection.server[1],
            SYNACK_UNREQUESTED if unrequested else answer,
            connection.first_time,
            kind,
        )
        return answer

    def add_probe(
        self, source: str, host: str, port: int, answer: str, time: float, kind: str = SYN_PROBE
    ) -> None:
        """Count one probe: an attempt from source to host:port at time, answered so; what
        it was (SYN_PROBE, ACK_PROBE or OTHER_PROBE: a FIN, NULL, Xmas or crafted probe)."""
        self.probes += 1
        self._new_target = True  # unless _add_scanned finds it probed before
        probe = (source, host, port, answer, time, kind)
        by_source = self.by_source
        if source in by_source.entries:
            by_source.add(source, probe)
            self._add_scanned(probe)
        else:
            # A source seen once (each of a flood's spoofed ones) goes no further than the
            # table of sources; the second time, its first probe and this one go on.
            first = by_source.add(source, probe)
            if first is not None:
                self._add_scanned(first)
                self._add_scanned(probe)
        self.by_target.add((host, port), probe)
        self.by_host.add(host, probe)
        if len(self.port_floods) < 2 * self._slots and host not in self.port_floods:
            target = self.by_target.entries.get((host, port))
            if target is not None and target.flooded:
                self.port_floods[host] = port
        entry = self.by_host.entries.get(host)
        # Looked at now and then: a distinct count past its exact range is a sketch's sum.
        if entry is not None and entry.flooded and entry.attempts % HOST_FLOOD_LOOK == 0:
            flooded = self.port_floods.get(host)
            busiest = self.by_target.entries.get((host, flooded)) if flooded is not None else None
            if busiest is not None and busiest.attempts >= HOST_FLOOD_SHARE * entry.attempts:
                self.host_floods.discard(host)
            elif (
                host not in self.host_floods
                and len(self.host_floods) < 2 * self._slots
                and _host_flooded(entry)
            ):
                self.host_floods.add(host)

    def add_answer(self, responder: str, address: str, port: int, answer: str, time: float) -> None:
        """Count one backscatter answer: from responder's port to address, at time."""
        answered = (responder, address, port, answer, time, "")
        self.by_responder.add(responder, answered)
        self.by_answering_port.add((responder, port), answered)
        if responder not in self.responders and len(self.responders) < 2 * self._slots:
            entry = self.by_responder.entries.get(responder)
            if entry is not None and entry.hosts.count() >= BACKSCATTER_HOSTS:  # type: ignore[union-attr]
                self.responders.add(responder)

    def _add_scanned(self, probe: Probe) -> None:
        """A probe of a source seen more than once, into the tables by host and by port."""
        source, host, port = probe[0], probe[1], probe[2]
        self._new_target = _reaches_new(self.by_pair, (source, host), 2, port) or _reaches_new(
            self.by_sweep, (source, port), 1, host
        )
        self.by_pair.add((source, host), probe)
        self.by_sweep.add((source, port), probe)
        pair = self.by_pair.entries.get((source, host))
        sweep = self.by_sweep.entries.get((source, port))
        if source in self.scanners:
            # A monitor probing the same targets over and over (see SCAN_REPEATS) looked like a
            # scanner in its first round: no more, once it is seen again and again.
            if pair is not None and sweep is not None and not self._new_target and not _scanned(pair, sweep):
                self.scanners.discard(source)
            return
        if (
            len(self.scanners) < 2 * self._slots
            and pair is not None
            and sweep is not None
            and _scanned(pair, sweep)
        ):
            self.scanners.add(source)

    def merge(self, other: ScanDetector) -> None:
        """Add another detector's counts (another share of the same file's connections)."""
        self.probes += other.probes
        once = [*self.by_source.once.items(), *other.by_source.once.items()]
        self.by_source.merge(other.by_source)
        self.by_pair.merge(other.by_pair)
        self.by_sweep.merge(other.by_sweep)
        self.by_target.merge(other.by_target)
        self.by_host.merge(other.by_host)
        self.by_responder.merge(other.by_responder)
        self.by_answering_port.merge(other.by_answering_port)
        # The sources each had seen once and that are now seen more than once: their probes
        # go on as add() sends them.
        for source, probe in once:
            if source in self.by_source.entries:
                self._add_scanned(probe)

    def findings(self) -> list[ScanFinding]:
        """The scans (one a source) and floods (one a host and port), the most probes first."""
        vertical: set[str] = set()
        horizontal: set[str] = set()
        hosts_of: dict[str, list[tuple[str, int, int]]] = {}
        ports_of: dict[str, list[tuple[int, int, int]]] = {}
        probes_of: dict[str, list[tuple[str, int, int]]] = {}  # host -> (source, probes, ports)
        sources = self.by_source.stats()
        for key, pair in self.by_pair.stats().items():
            source, host = key
            assert pair.ports is not None
            ports = pair.ports.count()
            if _port_scan(pair, ports):
                vertical.add(source)
            hosts_of.setdefault(source, []).append((host, pair.attempts, ports))
            probes_of.setdefault(host, []).append((source, pair.attempts, ports))
        on_port: dict[tuple[str, int], int] = {}  # (source, port): the source's probes of it, any host
        for key, sweep in self.by_sweep.stats().items():
            source, port = key
            on_port[key] = sweep.attempts
            assert sweep.hosts is not None
            hosts = sweep.hosts.count()
            if _sweep(sweep, hosts):
                horizontal.add(source)
            ports_of.setdefault(source, []).append((port, sweep.attempts, hosts))
        found = []
        for source in vertical | horizontal:
            stats = sources.get(source)
            if stats is None:  # a scanner dropped from the source table: unlikely, see SLOTS
                continue
            assert stats.hosts is not None and stats.ports is not None
            kind = _SCAN_KIND[source in vertical, source in horizontal]
            found.append(
                ScanFinding(
                    kind,
                    source,
                    None,
                    stats,
                    1,
                    stats.hosts.count(),
                    stats.ports.count(),
                    stats.hosts.estimated,
                    sorted(hosts_of.get(source, []), key=lambda h: (-h[1], -h[2], address_order(h[0])))[:TOP],
                    sorted(ports_of.get(source, []), key=lambda p: (-p[1], -p[2], p[0]))[:TOP],
                    [],
                    max(self.by_source.short_by, self.by_pair.short_by, self.by_sweep.short_by),
                )
            )
        for key, target in self.by_target.entries.items():  # a flood's keys are seen more than once
            host, port = key
            if not target.flooded:
                continue
            assert target.sources is not None
            found.append(
                ScanFinding(
                    "flood",
                    None,
                    (host, port),
                    target,
                    target.sources.count(),
                    1,
                    1,
                    target.sources.estimated,
                    [],
                    [],
                    # Each source's probes of this port: no more than of the host on any port, nor
                    # than of the port on any host (exact where it probed one or the other; a flood
                    # of another port of the host has its own).
                    self._standing_out(
                        [
                            (source, min(attempts, on_port.get((source, port), 0)), 1)
                            for source, attempts, _ports in probes_of.get(host, [])
                        ],
                        target.attempts,
                    ),
                    self.by_target.short_by,
                    _busiest(target),
                )
            )
        host_floods = self._host_floods(probes_of)
        if host_floods:
            # A flood of the host on many ports tells its ports' floods too (their probes are
            # fewer than HOST_FLOOD_SHARE of it): one finding.
            superseded = {finding.target[0] for finding in host_floods if finding.target is not None}
            found = [f for f in found if f.target is None or f.target[0] not in superseded]
            found.extend(host_floods)
        found.extend(self._backscatter())
        found.sort(key=lambda f: (-f.attempts, f.kind, f.source or "", f.target or ("", 0)))
        return found

    def _standing_out(self, probes: list[tuple[str, int, int]], attempts: int) -> list[tuple[str, int, int]]:
        """Of a flood's (source, probes, ports), the sources that stand out of its `attempts`,
        the busiest first: more than one probe (of the flooded port, or of the host for a
        flood of the host), more than the pairs' table may have dropped from anyone, and
        STANDING_OUT_SHARE of the flood (none, in a flood of spoofed addresses: 120,000 random
        ones draw a few twice)."""
        least = max(1, self.by_pair.short_by, math.ceil(STANDING_OUT_SHARE * attempts) - 1)
        standing_out = [item for item in probes if item[1] > least]
        return sorted(standing_out, key=lambda item: (-item[1], address_order(item[0])))[:TOP]

    def _host_floods(self, probes_of: dict[str, list[tuple[str, int, int]]]) -> list[ScanFinding]:
        """A finding for each host flooded on many ports (see the module docstring), unless
        one port of it holds HOST_FLOOD_SHARE of its probes or more (that port's flood, with
        other probes of the host beside it: a scan's)."""
        ports_of: dict[str, list[tuple[int, int, int]]] = {}
        found = []
        for host, stats in self.by_host.entries.items():
            if not _host_flooded(stats):
                continue
            if not ports_of:
                for (target_host, port), target in self.by_target.stats().items():
                    ports_of.setdefault(target_host, []).append((port, target.attempts, 1))  # one host
            busiest = max((attempts for _port, attempts, _hosts in ports_of.get(host, [])), default=0)
            if busiest >= HOST_FLOOD_SHARE * stats.attempts:
                continue
            assert stats.sources is not None and stats.ports is not None
            found.append(
                ScanFinding(
                    "flood",
                    None,
                    (host, ANY_PORT),
                    stats,
                    stats.sources.count(),
                    1,
                    stats.ports.count(),
                    stats.sources.estimated,
                    [],
                    sorted(ports_of.get(host, []), key=lambda p: (-p[1], -p[2], p[0]))[:TOP],
                    self._standing_out(probes_of.get(host, []), stats.attempts),
                    max(self.by_host.short_by, self.by_target.short_by),
                    _busiest(stats),
                )
            )
        return found

    def _backscatter(self) -> list[ScanFinding]:
        """A finding for each host that answered BACKSCATTER_HOSTS addresses or more."""
        ports_of: dict[str, list[tuple[int, int, int]]] = {}
        for (responder, port), answered in self.by_answering_port.stats().items():
            assert answered.hosts is not None
            ports_of.setdefault(responder, []).append((port, answered.attempts, answered.hosts.count()))
        found = []
        for responder, stats in self.by_responder.stats().items():
            assert stats.hosts is not None and stats.ports is not None
            if stats.hosts.count() < BACKSCATTER_HOSTS:
                continue
            found.append(
                ScanFinding(
                    BACKSCATTER,
                    responder,
                    None,
                    stats,
                    1,
                    stats.hosts.count(),
                    stats.ports.count(),
                    stats.hosts.estimated,
                    [],
                    sorted(ports_of.get(responder, []), key=lambda p: (-p[1], -p[2], p[0]))[:TOP],
                    [],
                    max(self.by_responder.short_by, self.by_answering_port.short_by),
                )
            )
        return found


def fold_key(scan_kind: str, source: str) -> str:
    """What a report folds a connection into a finding by: a scan's source, or a
    backscatter finding's answering host under a key of its own (a host can be both)."""
    return f"{BACKSCATTER} {source}" if scan_kind == BACKSCATTER else source


def _reaches_new(table: _Table, key: tuple[str, Any], field: int, value: Any) -> bool:
    """Whether a probe whose `field` (2: port, 1: host) is `value`, under `key`, reaches one
    its key had not: a new port of the host, or a new host on the port. Past a count's exact
    range (a sweep of thousands of hosts, a sketch then) it is taken as new."""
    entry = table.entries.get(key)
    if entry is None:
        first = table.once.get(key)
        return first is None or first[field] != value
    if field == 2:
        assert entry.ports is not None
        return not entry.ports.has(value)
    assert entry.hosts is not None
    return entry.hosts.estimated or not entry.hosts.has(value)


def _scanned(pair: _Stats, sweep: _Stats) -> bool:
    """Whether a source's probes of one host (`pair`) or on one port (`sweep`) make a scan."""
    assert pair.ports is not None and sweep.hosts is not None
    return _port_scan(pair, pair.ports.count()) or _sweep(sweep, sweep.hosts.count())


def _port_scan(pair: _Stats, ports: int) -> bool:
    """A source's probes of `ports` distinct ports of one host: PORT_SCAN_PORTS or more, no
    monitor's."""
    return ports >= PORT_SCAN_PORTS and not _monitored(pair, ports)


def _sweep(sweep: _Stats, hosts: int) -> bool:
    """A source's probes of `hosts` distinct hosts on one port: SWEEP_HOSTS or more, no
    monitor's."""
    return hosts >= SWEEP_HOSTS and not _monitored(sweep, hosts)


def _monitored(stats: _Stats, targets: int) -> bool:
    """Probes of `targets` distinct ports or hosts that are a monitor's: each probed more than
    SCAN_REPEATS times on average, and nearly all answered SYN/ACK (services up, checked
    over and over). A scan repeated over closed or filtered ports stays a scan."""
    return stats.attempts > SCAN_REPEATS * targets and stats.synack >= MONITOR_OPEN * stats.attempts


def _host_flooded(host: _Stats) -> bool:
    """Whether a host's probes make a flood of it on many ports (see the module docstring)."""
    assert host.ports is not None and host.sources is not None
    return (
        host.flooded and host.ports.count() >= HOST_FLOOD_PORTS and host.sources.count() >= HOST_FLOOD_SOURCES
    )


def _busiest(target: _Stats) -> tuple[float, int] | None:
    """A target's busiest FLOOD_WINDOW bin: when it began (or its first probe, if later),
    and the probes in it (the earliest of equals). None for a flood of 2 FLOOD_WINDOWs or
    less, or one bin: the bins are the clock's tens of seconds, and a flood of a few seconds
    that straddles two says less in its busiest than in its count and rate (helper-115's
    hping), with a start where nothing happened (the bin's)."""
    at, probes = max((target.bins or {}).items(), key=lambda item: (item[1], -item[0]))
    if probes >= target.attempts or round(target.last - target.first, 9) <= 2 * FLOOD_WINDOW:
        return None
    return max(at * FLOOD_WINDOW, target.first), probes
