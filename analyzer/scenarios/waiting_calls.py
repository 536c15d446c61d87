"""How a call waits: settimeout() gives recv() a deadline (nothing on the wire when it
passes), and setblocking(False) makes connect() return at once with EINPROGRESS, select()
wait for the handshake, and SO_ERROR tell how it ended: 0, or ECONNREFUSED."""

from __future__ import annotations

import errno
import select
import socket

from analyzer.scenarios.base import CLOSED_PORT, SERVER_PORT, Context, Scenario, Socket
from analyzer.scenarios.exchange import accept, close, close_after_the_client, echo, facts, open_pair, recv

RECV_TIMEOUT = 0.5
SELECT_LIMIT = 2.0


def run_recv_timeout(ctx: Context) -> dict:
    pair = open_pair(ctx)
    echo(ctx, pair)
    with ctx.log.step("client", f"settimeout({RECV_TIMEOUT:g})", on=pair.client):
        pair.client.settimeout(RECV_TIMEOUT)
    # The server sends nothing: the deadline passes in the client, not on the wire.
    recv(ctx, "client", pair.client)
    close(ctx, "client", pair.client)
    close_after_the_client(ctx, pair.conn)
    close(ctx, "server", pair.listener, "close() listener")
    return facts(pair, recv_timeout=RECV_TIMEOUT)


def _connect_without_waiting(ctx: Context, port: int) -> tuple[Socket, str]:
    """socket, setblocking(False), connect (EINPROGRESS), select, SO_ERROR: each a logged
    step; returns the socket and SO_ERROR's errno name ("0" for none)."""
    sock = ctx.socket("client")
    with ctx.log.step("client", "setblocking(False)", on=sock):
        sock.setblocking(False)
    with ctx.log.step("client", f"connect({ctx.where(port)})", on=sock) as outcome:
        code = sock.connect_ex((ctx.host, port))
        # connect_ex returns the errno connect() would raise; the log shows it the same way.
        outcome.returned(errno.errorcode.get(code, str(code)) if code else "ok")
    with ctx.log.step("client", f"select(writable, {SELECT_LIMIT:g} s)", on=sock) as outcome:
        _r, writable, _x = select.select([], [sock], [], SELECT_LIMIT)
        outcome.returned("writable" if writable else "timed out")
    with ctx.log.step("client", "getsockopt(SO_ERROR)", on=sock) as outcome:
        error = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        name = errno.errorcode.get(error, str(error)) if error else "0"
        outcome.returned(name)
    return sock, name


def run_nonblocking_connect(ctx: Context) -> dict:
    listener = ctx.listener(SERVER_PORT, backlog=1)
    client, connected = _connect_without_waiting(ctx, SERVER_PORT)
    client_port = client.getsockname()[1]
    conn = accept(ctx, listener)
    close(ctx, "client", client)
    close_after_the_client(ctx, conn)
    close(ctx, "server", listener, "close() listener")
    # Nobody listens on CLOSED_PORT: the same calls, and SO_ERROR says ECONNREFUSED.
    refused, refusal = _connect_without_waiting(ctx, CLOSED_PORT)
    close(ctx, "client", refused)
    return {
        "client_port": client_port,
        "server_port": SERVER_PORT,
        "closed_port": CLOSED_PORT,
        "so_error": [connected, refusal],
    }


RECV_TIMEOUT_SCENARIO = Scenario(
    name="recv-timeout",
    summary=f"settimeout({RECV_TIMEOUT:g}) then recv() with nothing to read: TimeoutError after "
    f"{RECV_TIMEOUT:g} s, nothing on the wire",
    run=run_recv_timeout,
    parameters={"recv_timeout": RECV_TIMEOUT},
)
NONBLOCKING_CONNECT = Scenario(
    name="nonblocking-connect",
    summary="setblocking(False): connect() returns EINPROGRESS, select() waits, SO_ERROR says 0; "
    "to a closed port SO_ERROR says ECONNREFUSED",
    run=run_nonblocking_connect,
)
