"""What a scenario is: a scripted exchange plus the sandbox it needs."""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from analyzer.scenarios.calls import CallLog

SERVER_PORT = 5000
CLOSED_PORT = 5001


class Network(Protocol):
    """What the sandbox lets a scenario do to its packets (the capture layer implements it)."""

    def drop(self, match: str) -> int: ...

    def release(self, handle: int) -> None: ...


@dataclass
class Context:
    """Everything a scenario may use: the family, the loopback address, the call log,
    and the sandbox's network (to hold packets on purpose)."""

    family: int
    log: CallLog
    network: Network | None = None

    def hold(self, match: str, why: str) -> int:
        """Drop packets matching `match` on input from now on (a logged step)."""
        if self.network is None:
            raise RuntimeError("this scenario needs the capture sandbox's network")
        with self.log.step("network", f"drop {why}: nft '{match} drop'"):
            handle = self.network.drop(match)
        return handle

    def release(self, handle: int, why: str) -> None:
        with self.log.step("network", f"release {why}"):
            self.network.release(handle)

    @property
    def host(self) -> str:
        return "127.0.0.1" if self.family == 4 else "::1"

    @property
    def address_family(self) -> socket.AddressFamily:
        return socket.AF_INET if self.family == 4 else socket.AF_INET6

    def socket(self, side: str) -> socket.socket:
        with self.log.step(side, "socket(SOCK_STREAM)") as outcome:
            sock = socket.socket(self.address_family, socket.SOCK_STREAM)
            outcome.returned(f"fd {sock.fileno()}")
        return sock

    def listener(self, port: int, backlog: int) -> socket.socket:
        """A listening server socket: socket, SO_REUSEADDR, bind, listen, each a logged step."""
        sock = self.socket("server")
        with self.log.step("server", "setsockopt(SO_REUSEADDR, 1)"):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        with self.log.step("server", f"bind({self.where(port)})"):
            sock.bind((self.host, port))
        with self.log.step("server", f"listen({backlog})"):
            sock.listen(backlog)
        return sock

    def connect(self, sock: socket.socket, port: int) -> None:
        """A logged connect(); an error (ECONNREFUSED, ETIMEDOUT) is logged, not raised."""
        with self.log.step("client", f"connect({self.where(port)})"):
            sock.connect((self.host, port))

    def where(self, port: int) -> str:
        return f"{self.host}:{port}" if self.family == 4 else f"[{self.host}]:{port}"


@dataclass
class Scenario:
    name: str
    summary: str
    run: Callable[[Context], dict]  # returns the facts the run established (for the sidecar)
    sysctls: dict[str, str] = field(default_factory=dict)  # set inside the namespace first
    drop_syns_to: int | None = None  # a port whose SYNs an nftables rule drops on input
    parameters: dict[str, object] = field(default_factory=dict)
    expected_run_seconds: float = 1.0
