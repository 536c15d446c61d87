"""Steps most scenarios share: open a connected pair, echo a message, logged recv/send/close."""

from __future__ import annotations

import socket
from dataclasses import dataclass

from analyzer.connections import Side
from analyzer.scenarios.base import SERVER_PORT, Context

MESSAGE = b"hello"
# A FIN arriving in ESTABLISHED puts Linux in delayed-ACK (pingpong) mode: its ACK
# leaves when the delayed-ACK timer fires, at most TCP_DELACK_MAX (200 ms) later.
DELAYED_ACK_WAIT = 0.3


@dataclass
class Pair:
    listener: socket.socket
    client: socket.socket
    conn: socket.socket  # the server's accepted socket
    client_port: int


def open_pair(ctx: Context, backlog: int = 1) -> Pair:
    listener = ctx.listener(SERVER_PORT, backlog)
    client = ctx.socket("client")
    ctx.connect(client, SERVER_PORT)
    conn = accept(ctx, listener)
    return Pair(listener, client, conn, client.getsockname()[1])


def accept(ctx: Context, listener: socket.socket) -> socket.socket:
    """A logged accept(): the new socket's fd and its peer's port."""
    with ctx.log.step("server", "accept()", on=listener) as outcome:
        conn, peer = listener.accept()
        outcome.accepted = conn
        outcome.returned(f"fd {conn.fileno()} from port {peer[1]}")
    return conn


def send(ctx: Context, side: Side, sock: socket.socket, data: bytes) -> None:
    with ctx.log.step(side, f"sendall({data!r})", on=sock):
        sock.sendall(data)


def recv(ctx: Context, side: Side, sock: socket.socket, size: int = 1024) -> bytes:
    data = b""
    with ctx.log.step(side, f"recv({size})", on=sock) as outcome:
        data = sock.recv(size)
        outcome.returned(data)
    return data


def close(ctx: Context, side: Side, sock: socket.socket, what: str = "close()") -> None:
    with ctx.log.step(side, what, on=sock):
        sock.close()


def close_after_the_client(ctx: Context, conn: socket.socket) -> None:
    """The client has closed: the server lets its delayed ACK of the FIN leave alone (not on
    its own FIN: a four-way close every time), reads the end of the stream and closes."""
    ctx.log.idle("server", DELAYED_ACK_WAIT, "the delayed ACK of the FIN")
    recv(ctx, "server", conn)
    close(ctx, "server", conn)


def echo(ctx: Context, pair: Pair, message: bytes = MESSAGE) -> bytes:
    """The client sends, the server reads and sends it back, the client reads it."""
    send(ctx, "client", pair.client, message)
    received = recv(ctx, "server", pair.conn)
    send(ctx, "server", pair.conn, received)
    return recv(ctx, "client", pair.client)


def facts(pair: Pair, **more: object) -> dict:
    return {"client_port": pair.client_port, "server_port": SERVER_PORT, **more}
