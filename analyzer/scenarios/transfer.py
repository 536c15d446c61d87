"""lossy-transfer: a bulk transfer over a wire-sized loopback (MTU 1500, offloads off) where a
firewall rule drops every 25th data segment after the capture point. The capture holds each
dropped segment once (the receiver never took it in) and the sender's recovery: duplicate
ACKs with SACK blocks, fast retransmissions, a retransmission timeout where a resend is
dropped too. A long connection: its ladder folds the plain data into bands and keeps the
handshake, the close and the resends as arrows."""

from __future__ import annotations

import socket

from analyzer.scenarios.base import SERVER_PORT, Context, Scenario
from analyzer.scenarios.exchange import Pair, accept, close, close_after_the_client, facts, recv, send

MTU = 1500
TRANSFER_BYTES = 256 * 1024
DROP_EVERY = 25  # data segments: about 180 of them, so 7 dropped (and a resend now and then)
DATA_LARGER_THAN = 200  # bytes of IP packet: data segments, not ACKs (52 to 92 bytes)
# Both buffers take the whole transfer: the client's sendall() returns before the server
# reads, so one thread runs both ends (the server reads once the data has landed).
BUFFER_BYTES = 4 * 1024 * 1024
REPLY = b"received"


def _pattern(size: int) -> bytes:
    """Data whose every 4-byte word is its own offset: a hole or a mix-up would show."""
    return b"".join((offset).to_bytes(4, "big") for offset in range(0, size, 4))


def _read_all(ctx: Context, sock: socket.socket, size: int) -> bytes:
    data = bytearray()
    with ctx.log.step("server", f"recv() until {size:,} bytes", on=sock) as outcome:
        while len(data) < size:
            chunk = sock.recv(size - len(data))
            if not chunk:
                break
            data += chunk
        outcome.returned(f"{len(data):,} bytes")
    return bytes(data)


def run(ctx: Context) -> dict:
    listener = ctx.socket("server")
    with ctx.log.step("server", f"setsockopt(SO_RCVBUF, {BUFFER_BYTES})", on=listener):
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, BUFFER_BYTES)
    with ctx.log.step("server", f"bind({ctx.where(SERVER_PORT)})", on=listener):
        listener.bind((ctx.host, SERVER_PORT))
    with ctx.log.step("server", "listen(1)", on=listener):
        listener.listen(1)
    client = ctx.socket("client")
    with ctx.log.step("client", f"setsockopt(SO_SNDBUF, {BUFFER_BYTES})", on=client):
        client.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, BUFFER_BYTES)
    ctx.connect(client, SERVER_PORT)
    conn = accept(ctx, listener)
    pair = Pair(listener, client, conn, client.getsockname()[1])
    ctx.lose_every(
        SERVER_PORT, DROP_EVERY, DATA_LARGER_THAN, f"every {DROP_EVERY}th data segment to the server"
    )
    data = _pattern(TRANSFER_BYTES)
    with ctx.log.step("client", f"sendall({TRANSFER_BYTES:,} bytes)", on=client):
        client.sendall(data)
    received = _read_all(ctx, conn, TRANSFER_BYTES)
    send(ctx, "server", conn, REPLY)
    reply = recv(ctx, "client", client)
    close(ctx, "client", client)
    close_after_the_client(ctx, conn)
    close(ctx, "server", listener, "close() listener")
    return facts(
        pair,
        sent_bytes=len(data),
        received_bytes=len(received),
        received_intact=received == data,
        reply=reply.decode(),
    )


SCENARIO = Scenario(
    name="lossy-transfer",
    summary=f"{TRANSFER_BYTES // 1024} KB over a wire-sized loopback (MTU {MTU}), every {DROP_EVERY}th data "
    "segment dropped after the capture point: dup ACKs with SACK, fast retransmissions; a long ladder in bands",
    run=run,
    parameters={"mtu": MTU, "bytes": TRANSFER_BYTES, "drop_every": DROP_EVERY},
    expected_run_seconds=3,
    mtu=MTU,
)
