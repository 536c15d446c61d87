"""udp: datagrams keep their boundaries and need no handshake; a datagram to a closed port
comes back as ICMP port unreachable, which a connected UDP socket reports as ECONNREFUSED.
udp-truncation: a datagram longer than the buffer recvfrom() is given loses the rest
(MSG_TRUNC says so); the next recvfrom() gets the next datagram, not the rest."""

from __future__ import annotations

import socket

from analyzer.scenarios.base import Context, Scenario

UDP_PORT = 5002
MESSAGES = (b"one", b"two", b"three")
REPLY = b"reply"


def _sockets(ctx: Context) -> tuple[socket.socket, socket.socket]:
    """The server's socket bound to UDP_PORT and the client's, each a logged step."""
    log = ctx.log
    with log.step("server", "socket(SOCK_DGRAM)") as outcome:
        server = socket.socket(ctx.address_family, socket.SOCK_DGRAM)
        outcome.on = server
        outcome.returned(f"fd {server.fileno()}")
    with log.step("server", f"bind({ctx.where(UDP_PORT)})", on=server):
        server.bind((ctx.host, UDP_PORT))
    with log.step("client", "socket(SOCK_DGRAM)") as outcome:
        client = socket.socket(ctx.address_family, socket.SOCK_DGRAM)
        outcome.on = client
        outcome.returned(f"fd {client.fileno()}")
    return server, client


def run(ctx: Context) -> dict:
    log = ctx.log
    server, client = _sockets(ctx)
    # connect() on UDP only fixes the peer: no packet, but the socket now hears ICMP errors.
    with log.step("client", f"connect({ctx.where(UDP_PORT)})", on=client):
        client.connect((ctx.host, UDP_PORT))
    for message in MESSAGES:
        with log.step("client", f"send({message!r})", on=client):
            client.send(message)
    peer = None
    for _message in MESSAGES:
        with log.step("server", "recvfrom(1024)", on=server) as outcome:
            data, peer = server.recvfrom(1024)
            outcome.returned(data)
    if peer is None:
        raise RuntimeError("the server received no datagram to answer")
    with log.step("server", f"sendto({REPLY!r})", on=server):
        server.sendto(REPLY, peer)
    with log.step("client", "recv(1024)", on=client) as outcome:
        outcome.returned(client.recv(1024))
    with log.step("server", "close()", on=server):
        server.close()
    # Nobody listens any more: the kernel answers with ICMP port unreachable.
    with log.step("client", "send(b'anyone there?')", on=client):
        client.send(b"anyone there?")
    with log.step("client", "recv(1024)", on=client) as outcome:
        outcome.returned(client.recv(1024))
    with log.step("client", "close()", on=client):
        client.close()
    return {"server_port": UDP_PORT, "client_port": peer[1] if peer else None}


SCENARIO = Scenario(
    name="udp",
    summary="datagrams keep their boundaries, no handshake; to a closed port: ICMP port unreachable, ECONNREFUSED",
    run=run,
    parameters={"messages": [m.decode() for m in MESSAGES]},
)


BIG = bytes(range(256)) * 4  # 1,024 bytes
SMALL = b"next datagram"
TRUNCATING_BUFFER = 100


def run_truncation(ctx: Context) -> dict:
    log = ctx.log
    server, client = _sockets(ctx)
    for message in (BIG, SMALL):
        with log.step("client", f"sendto({len(message)} bytes)", on=client):
            client.sendto(message, (ctx.host, UDP_PORT))
    lengths, truncated = [], []
    for _message in (BIG, SMALL):
        # recvmsg is recvfrom with the flags the kernel returns: MSG_TRUNC when it cut.
        with log.step("server", f"recvfrom({TRUNCATING_BUFFER})", on=server) as outcome:
            data, _ancillary, flags, _peer = server.recvmsg(TRUNCATING_BUFFER)
            cut = bool(flags & socket.MSG_TRUNC)
            outcome.returned(f"{len(data)} bytes" + (", MSG_TRUNC: the rest discarded" if cut else ""))
        lengths.append(len(data))
        truncated.append(cut)
    client_port = client.getsockname()[1]
    with log.step("client", "close()", on=client):
        client.close()
    with log.step("server", "close()", on=server):
        server.close()
    return {
        "server_port": UDP_PORT,
        "client_port": client_port,
        "sent": [len(BIG), len(SMALL)],
        "received": lengths,
        "truncated": truncated,
    }


TRUNCATION = Scenario(
    name="udp-truncation",
    summary=f"a {len(BIG)}-byte datagram read with recvfrom({TRUNCATING_BUFFER}): the rest is discarded "
    "(MSG_TRUNC); the next recvfrom() gets the next datagram",
    run=run_truncation,
    parameters={"buffer": TRUNCATING_BUFFER, "sent": [len(BIG), len(SMALL)]},
)
