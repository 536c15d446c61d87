"""What a scenario is: a scripted exchange plus the sandbox it needs."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, TypeAlias

from analyzer.connections import Side
from analyzer.scenarios.calls import CallLog
from analyzer.sidecar import SocketState

# Context has a method named socket: inside the class the name is the method, not the module.
Socket: TypeAlias = socket.socket

SERVER_PORT = 5000
CLOSED_PORT = 5001
KERNEL_POLL_SECONDS = 0.05  # ss takes a few milliseconds

# TCP header flag bits, in nftables' names.
TCP_FLAGS = {
    "fin": 0x01,
    "syn": 0x02,
    "rst": 0x04,
    "psh": 0x08,
    "ack": 0x10,
    "urg": 0x20,
    "ecn": 0x40,
    "cwr": 0x80,
}


@dataclass(frozen=True)
class Held:
    """A class of TCP segments a scenario holds back: those whose flags under `mask` equal
    `value` (from `sport` and to `dport`, where set). One definition gives both the nftables
    rule that drops them on input and the test that picks out copies to deliver later."""

    mask: int
    value: int
    sport: int | None = None
    dport: int | None = None

    def matches(self, flags: int, sport: int, dport: int) -> bool:
        return flags & self.mask == self.value and self.sport in (None, sport) and self.dport in (None, dport)

    @property
    def nft(self) -> str:
        def names(bits: int) -> str:
            return " | ".join(name for name, bit in TCP_FLAGS.items() if bits & bit)

        value = names(self.value)
        flags = (
            f"tcp flags == {value}" if self.mask == 0xFF else f"tcp flags & ({names(self.mask)}) == {value}"
        )
        ports = [
            f"tcp {name} {port} " for name, port in (("sport", self.sport), ("dport", self.dport)) if port
        ]
        return "".join(ports) + flags


FINS = Held(TCP_FLAGS["fin"], TCP_FLAGS["fin"])
PURE_ACKS = Held(0xFF, TCP_FLAGS["ack"])


def syns_to(port: int) -> Held:
    """Connection requests (SYN without ACK) to a port."""
    return Held(TCP_FLAGS["syn"] | TCP_FLAGS["ack"], TCP_FLAGS["syn"], dport=port)


class Network(Protocol):
    """What the sandbox lets a scenario do to its packets (the capture layer implements it)."""

    def drop(self, held: Held, keep_copies: bool = False, before_capture: bool = False) -> int: ...

    def deliver(self, handle: int) -> int: ...

    def release(self, handle: int) -> None: ...

    def lose_every(self, dport: int, every: int, larger_than: int) -> str: ...


@dataclass
class Context:
    """Everything a scenario may use: the family, the loopback address, the call log,
    the sandbox's network (to hold packets on purpose) and the kernel's socket states."""

    family: int
    log: CallLog
    network: Network | None = None
    kernel_sockets: Callable[[], list[SocketState]] | None = None

    def hold(self, held: Held, why: str, keep_copies: bool = False) -> int:
        """Drop packets of this class on input from now on (a logged step); with keep_copies,
        keep a copy of each so that `deliver` can hand them over late, all at once."""
        network = self._network()
        with self.log.step("network", f"drop {why}: nft '{held.nft} drop'"):
            handle = network.drop(held, keep_copies)
        return handle

    def silence(self, held: Held, why: str) -> int:
        """Drop packets of this class on output from now on (a logged step): they are never
        sent, so the capture does not hold them either (a peer that fell silent)."""
        network = self._network()
        with self.log.step("network", f"silence {why}: nft output '{held.nft} drop'"):
            handle = network.drop(held, before_capture=True)
        return handle

    def lose_every(self, port: int, every: int, larger_than: int, why: str) -> None:
        """Drop every `every`-th data segment to `port` on input from now on (a logged step):
        the receiver never takes them in, the sender recovers."""
        network = self._network()
        with self.log.step("network", f"lose {why}") as outcome:
            outcome.returned(f"nft '{network.lose_every(port, every, larger_than)}'")

    def deliver(self, handle: int, why: str) -> None:
        """Send the copies kept so far to their receivers, past the rule that dropped them."""
        network = self._network()
        with self.log.step("network", f"deliver {why}") as outcome:
            outcome.returned(f"{network.deliver(handle)} delivered")

    def release(self, handle: int, why: str) -> None:
        network = self._network()
        with self.log.step("network", f"release {why}"):
            network.release(handle)

    def wait_for_kernel(
        self, side: Side, until: Callable[[list[SocketState]], bool], limit: float, why: str
    ) -> bool:
        """A logged wait until the kernel's sockets satisfy `until`, at most `limit` seconds.
        Where a kernel timer decides when a thing happens, a fixed pause is too short on a
        busy machine: a retransmission timer armed later has backed off further."""
        if self.kernel_sockets is None:
            raise RuntimeError("this scenario needs the capture sandbox's view of the kernel")
        with self.log.step(side, f"wait(at most {limit:g} s): {why}") as outcome:
            start = time.monotonic()
            while not until(self.kernel_sockets()):
                if time.monotonic() - start > limit:
                    outcome.returned(f"not within {limit:g} s")
                    return False
                time.sleep(KERNEL_POLL_SECONDS)
            outcome.returned(f"after {time.monotonic() - start:.2f} s")
        return True

    def _network(self) -> Network:
        if self.network is None:
            raise RuntimeError("this scenario needs the capture sandbox's network")
        return self.network

    @property
    def host(self) -> str:
        return "127.0.0.1" if self.family == 4 else "::1"

    @property
    def address_family(self) -> socket.AddressFamily:
        return socket.AF_INET if self.family == 4 else socket.AF_INET6

    def socket(self, side: Side) -> Socket:
        with self.log.step(side, "socket(SOCK_STREAM)") as outcome:
            sock = socket.socket(self.address_family, socket.SOCK_STREAM)
            outcome.on = sock
            outcome.returned(f"fd {sock.fileno()}")
        return sock

    def listener(self, port: int, backlog: int) -> Socket:
        """A listening server socket: socket, SO_REUSEADDR, bind, listen, each a logged step."""
        sock = self.socket("server")
        with self.log.step("server", "setsockopt(SO_REUSEADDR, 1)", on=sock):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        with self.log.step("server", f"bind({self.where(port)})", on=sock):
            sock.bind((self.host, port))
        with self.log.step("server", f"listen({backlog})", on=sock):
            sock.listen(backlog)
        return sock

    def connect(self, sock: Socket, port: int) -> None:
        """A logged connect(); an error (ECONNREFUSED, ETIMEDOUT) is logged, not raised."""
        with self.log.step("client", f"connect({self.where(port)})", on=sock):
            sock.connect((self.host, port))

    def where(self, port: int) -> str:
        return f"{self.host}:{port}" if self.family == 4 else f"[{self.host}]:{port}"


@dataclass
class Scenario:
    name: str
    summary: str
    run: Callable[[Context], dict]  # returns the facts the run established (for the sidecar)
    sysctls: dict[str, str] = field(default_factory=dict)  # set inside the namespace first
    parameters: dict[str, object] = field(default_factory=dict)
    expected_run_seconds: float = 1.0
    # Loopback's MTU inside the namespace, offloads off (namespace.wire_sized_loopback);
    # None: as it comes (65,536, whole sends as one segment).
    mtu: int | None = None
