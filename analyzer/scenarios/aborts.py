"""Connections that end without an orderly close: SO_LINGER 0, unread data, late data, exit."""

from __future__ import annotations

import json
import os
import socket
import struct

from analyzer.scenarios.base import SERVER_PORT, Context, Scenario
from analyzer.scenarios.calls import CallLog
from analyzer.scenarios.exchange import DELAYED_ACK_WAIT, Pair, close, echo, facts, open_pair, recv, send

UNREAD = b"data the client never reads"
LATE = b"data after your close"
CHILD_MESSAGE = b"bye from the child"
# Lets the RST reach the peer and its socket record the error before the next call.
SETTLE = 0.05


def _server_hears_the_reset(ctx: Context, pair: Pair) -> None:
    """The server's next recv() reports what the RST did; then it closes."""
    ctx.log.idle("server", SETTLE, "the RST arrives")
    recv(ctx, "server", pair.conn)
    close(ctx, "server", pair.conn)
    close(ctx, "server", pair.listener, "close() listener")


def run_linger_reset(ctx: Context) -> dict:
    pair = open_pair(ctx)
    echo(ctx, pair)
    with ctx.log.step("client", "setsockopt(SO_LINGER, on, 0 s)", on=pair.client):
        pair.client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    close(ctx, "client", pair.client)  # RST instead of FIN
    _server_hears_the_reset(ctx, pair)
    return facts(pair)


def run_unread_close(ctx: Context) -> dict:
    pair = open_pair(ctx)
    send(ctx, "server", pair.conn, UNREAD)
    ctx.log.idle("client", SETTLE, "the data waits unread in the client's receive queue")
    close(ctx, "client", pair.client)  # RST: closing with unread data
    _server_hears_the_reset(ctx, pair)
    return facts(pair, unread_bytes=len(UNREAD))


def run_data_after_close(ctx: Context) -> dict:
    pair = open_pair(ctx)
    echo(ctx, pair)
    close(ctx, "client", pair.client)
    ctx.log.idle("server", DELAYED_ACK_WAIT, "the delayed ACK of the FIN")
    # The server has not read the EOF and writes on: the client's socket is gone.
    send(ctx, "server", pair.conn, LATE)
    _server_hears_the_reset(ctx, pair)
    return facts(pair)


def run_process_exit(ctx: Context) -> dict:
    listener = ctx.listener(SERVER_PORT, backlog=1)
    reader, writer = os.pipe()
    with ctx.log.step("client", "fork() a client process") as outcome:
        child = os.fork()
        if child == 0:  # the client process: connect, send, exit without close()
            os.close(reader)
            _child_client(ctx, writer)
        outcome.returned(f"pid {child}")
    os.close(writer)
    with ctx.log.step("server", "accept()", on=listener) as outcome:
        conn, peer = listener.accept()
        outcome.accepted = conn
        outcome.returned(f"fd {conn.fileno()} from port {peer[1]}")
    recv(ctx, "server", conn)
    with ctx.log.step("server", f"waitpid({child})") as outcome:
        _pid, status = os.waitpid(child, 0)
        outcome.returned(f"exited {os.waitstatus_to_exitcode(status)}")
    with os.fdopen(reader) as pipe:
        ctx.log.merge(json.loads(pipe.read() or "[]"))
    recv(ctx, "server", conn)  # b'': the kernel closed the exited process's socket
    ctx.log.idle("server", DELAYED_ACK_WAIT, "the delayed ACK of the FIN")
    close(ctx, "server", conn)
    close(ctx, "server", listener, "close() listener")
    return {"client_port": peer[1], "server_port": SERVER_PORT}


def _child_client(ctx: Context, writer: int) -> None:
    """Runs in the forked process; its calls go back to the parent through the pipe."""
    code = 0
    log = CallLog(settle=0)
    child = Context(ctx.family, log)
    try:
        sock = child.socket("client")
        child.connect(sock, SERVER_PORT)
        with log.step("client", f"sendall({CHILD_MESSAGE!r})", on=sock):
            sock.sendall(CHILD_MESSAGE)
        log.idle("client", 0.1, "the server reads")
        with log.step("client", "exit(0) without close()", on=sock):
            pass
    except BaseException:
        code = 1
    finally:
        os.write(writer, json.dumps([c.as_dict() for c in log.calls]).encode())
        os._exit(code)  # no interpreter cleanup: the kernel closes the socket


LINGER_RESET = Scenario(
    name="linger-reset",
    summary="SO_LINGER {on, 0} then close(): RST instead of FIN; the server's recv() raises ECONNRESET",
    run=run_linger_reset,
)
UNREAD_CLOSE = Scenario(
    name="unread-close",
    summary="close() with unread data in the receive queue: the kernel sends RST, not FIN",
    run=run_unread_close,
)
DATA_AFTER_CLOSE = Scenario(
    name="data-after-close",
    summary="the client closed; the server writes anyway: the client's kernel answers with RST",
    run=run_data_after_close,
)
PROCESS_EXIT = Scenario(
    name="process-exit",
    summary="a client process exits without close(): the kernel closes its socket with a FIN",
    run=run_process_exit,
)
