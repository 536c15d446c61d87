"""sticky: TCP is a byte stream. Several small send()s arrive as one recv(); a length prefix
gives the messages back their boundaries. nagle: where the sticking happens, on the wire
(Nagle's algorithm holds small sends while an ACK is outstanding, then sends them as one
segment) or only at the receiver (TCP_NODELAY: a segment each, glued in the receive queue)."""

from __future__ import annotations

import socket
import struct

from analyzer.scenarios.base import Context, Scenario
from analyzer.scenarios.exchange import close, close_after_the_client, facts, open_pair, recv, send

MESSAGES = (b"one", b"two", b"three")
# The server reads only after all three sends have landed in its receive queue.
READ_DELAY = 0.1


def _recv_exactly(ctx: Context, sock, size: int) -> bytes:
    data = b""
    with ctx.log.step("server", f"recv_exactly({size})", on=sock) as outcome:
        while len(data) < size:
            chunk = sock.recv(size - len(data))
            if not chunk:
                break
            data += chunk
        outcome.returned(data)
    return data


def run(ctx: Context) -> dict:
    pair = open_pair(ctx)
    for message in MESSAGES:
        send(ctx, "client", pair.client, message)
    ctx.log.idle("server", READ_DELAY, "the messages wait in the receive queue")
    glued = recv(ctx, "server", pair.conn)
    # The same messages, each after a 4-byte length: the reader takes each one whole.
    for message in MESSAGES:
        send(ctx, "client", pair.client, struct.pack("!I", len(message)) + message)
    ctx.log.idle("server", READ_DELAY, "the framed messages wait in the receive queue")
    framed = []
    for _message in MESSAGES:
        (length,) = struct.unpack("!I", _recv_exactly(ctx, pair.conn, 4))
        framed.append(_recv_exactly(ctx, pair.conn, length))
    close(ctx, "client", pair.client)
    close_after_the_client(ctx, pair.conn)
    close(ctx, "server", pair.listener, "close() listener")
    return facts(
        pair,
        sent=[m.decode() for m in MESSAGES],
        first_recv=glued.decode(),
        framed=[m.decode() for m in framed],
    )


SCENARIO = Scenario(
    name="sticky",
    summary="three small send()s read by one recv(); then length-prefixed framing gives each message back whole",
    run=run,
    parameters={"messages": [m.decode() for m in MESSAGES]},
)


NAGLE_PIECES = tuple(f"piece {n};".encode() for n in range(1, 6))


def _send_pieces(ctx: Context, sock: socket.socket) -> None:
    """Each piece a sendall() of its own, back to back (no pause, no snapshot between): the
    sends take microseconds, far less than the ACK of the first takes to come."""
    for index, piece in enumerate(NAGLE_PIECES):
        last = index == len(NAGLE_PIECES) - 1
        with ctx.log.step("client", f"sendall({piece!r})", settle=last, on=sock):
            sock.sendall(piece)


def run_nagle(ctx: Context) -> dict:
    pair = open_pair(ctx)
    # The server delays its ACKs (up to 40 ms on Linux) instead of answering each segment at
    # once, as it does early in a connection: while the first piece waits for its ACK, Nagle's
    # algorithm holds the others back. Loopback would otherwise acknowledge within the send().
    with ctx.log.step("server", "setsockopt(TCP_QUICKACK, 0)", on=pair.conn):
        pair.conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 0)
    _send_pieces(ctx, pair.client)  # Nagle on: the default
    ctx.log.idle("server", READ_DELAY, "the pieces wait in the receive queue")
    nagle = recv(ctx, "server", pair.conn)
    with ctx.log.step("client", "setsockopt(TCP_NODELAY, 1)", on=pair.client):
        pair.client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    # Prompt ACKs again: with delayed ACKs and several pieces in flight, Linux's tail loss
    # probe would resend the last before the ACK came.
    with ctx.log.step("server", "setsockopt(TCP_QUICKACK, 1)", on=pair.conn):
        pair.conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
    _send_pieces(ctx, pair.client)  # a segment each
    ctx.log.idle("server", READ_DELAY, "the pieces wait in the receive queue")
    nodelay = recv(ctx, "server", pair.conn)
    close(ctx, "client", pair.client)
    close_after_the_client(ctx, pair.conn)
    close(ctx, "server", pair.listener, "close() listener")
    return facts(
        pair,
        sent=[p.decode() for p in NAGLE_PIECES],
        nagle_recv=nagle.decode(),
        nodelay_recv=nodelay.decode(),
    )


NAGLE = Scenario(
    name="nagle",
    summary=f"{len(NAGLE_PIECES)} small send()s with Nagle on (glued into fewer segments on the wire while "
    "an ACK is outstanding), then with TCP_NODELAY (a segment each); one recv() reads each batch",
    run=run_nagle,
    parameters={"pieces": [p.decode() for p in NAGLE_PIECES]},
)
