"""sticky: TCP is a byte stream. Several small send()s arrive as one recv(); a length prefix
gives the messages back their boundaries."""

from __future__ import annotations

import struct

from analyzer.scenarios.base import Context, Scenario
from analyzer.scenarios.exchange import DELAYED_ACK_WAIT, close, facts, open_pair, recv, send

MESSAGES = (b"one", b"two", b"three")
# The server reads only after all three sends have landed in its receive queue.
READ_DELAY = 0.1


def _recv_exactly(ctx: Context, sock, size: int) -> bytes:
    data = b""
    with ctx.log.step("server", f"recv_exactly({size})") as outcome:
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
    # The FIN's ACK leaves alone, not on the server's FIN: a four-way close every time.
    ctx.log.idle("server", DELAYED_ACK_WAIT, "the delayed ACK of the FIN")
    recv(ctx, "server", pair.conn)
    close(ctx, "server", pair.conn)
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
