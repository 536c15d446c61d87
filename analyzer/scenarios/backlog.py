"""A server that does not accept(): the accept queue fills and the kernel turns clients away.

Linux's listen path (tcp_conn_request): a SYN that finds the accept queue full
(more than `backlog` connections waiting) is dropped, so the client retransmits it
until accept() makes room. With tcp_abort_on_overflow=1 the kernel instead answers
with RST when the handshake's final ACK finds the queue full; to get a SYN/ACK out
before the queue fills, the abort variant holds one client's ACKs with nftables.
"""

from __future__ import annotations

import errno
import select
import socket
from dataclasses import replace

from analyzer.scenarios.base import PURE_ACKS, SERVER_PORT, Context, Scenario
from analyzer.scenarios.exchange import accept, close, close_after_the_client, recv, send

QUEUED_WAIT = 2.5  # long enough for the dropped SYN to be retransmitted twice (1 s apart)
SYNACK_RETRANSMIT_WAIT = 1.5  # the server retransmits its SYN/ACK after 1 s
HELD_CLIENT_PORT = 40001


def run_backlog(ctx: Context) -> dict:
    listener = ctx.listener(SERVER_PORT, backlog=0)
    first = ctx.socket("client")
    ctx.connect(first, SERVER_PORT)  # completes in the kernel: waits in the accept queue
    second = ctx.socket("client")
    with ctx.log.step("client", "setblocking(False)", on=second):
        second.setblocking(False)
    with ctx.log.step("client", f"connect({ctx.where(SERVER_PORT)})", on=second) as outcome:
        code = second.connect_ex((ctx.host, SERVER_PORT))
        outcome.result = errno.errorcode.get(code, str(code)) if code else "ok"
    ctx.log.idle(
        "server", QUEUED_WAIT, "no accept(): the queue is full, the second client's SYNs are dropped"
    )
    accepted_first = accept(ctx, listener)
    with ctx.log.step("client", "select(writable, 5 s)", on=second) as outcome:
        _r, writable, _x = select.select([], [second], [], 5.0)
        outcome.returned("connected" if writable else "still waiting")
    with ctx.log.step("client", "getsockopt(SO_ERROR)", on=second) as outcome:
        error = second.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        outcome.returned(errno.errorcode.get(error, "0") if error else "0")
    accepted_second = accept(ctx, listener)
    second_port = second.getsockname()[1]
    for sock in (first, second):
        close(ctx, "client", sock)
    for sock in (accepted_first, accepted_second):
        close(ctx, "server", sock)
    close(ctx, "server", listener, "close() listener")
    return {"server_port": SERVER_PORT, "queued_client_port": second_port}


def run_backlog_abort(ctx: Context) -> dict:
    listener = ctx.listener(SERVER_PORT, backlog=1)
    waiting = ctx.socket("client")
    ctx.connect(waiting, SERVER_PORT)  # the accept queue: 1 of 2
    held = ctx.socket("client")
    with ctx.log.step("client", f"bind({ctx.where(HELD_CLIENT_PORT)})", on=held):
        held.bind((ctx.host, HELD_CLIENT_PORT))
    acks = ctx.hold(
        replace(PURE_ACKS, sport=HELD_CLIENT_PORT, dport=SERVER_PORT),
        f"the ACKs of the client on port {HELD_CLIENT_PORT}",
    )
    ctx.connect(held, SERVER_PORT)  # returns at the SYN/ACK; the server never gets the ACK
    third = ctx.socket("client")
    ctx.connect(third, SERVER_PORT)  # the accept queue: 2 of 2, full
    ctx.release(acks, "the held ACKs")
    ctx.log.idle(
        "client", SYNACK_RETRANSMIT_WAIT, "the SYN/ACK is retransmitted; its ACK finds the queue full"
    )
    recv(ctx, "client", held)  # ECONNRESET
    accepted = [accept(ctx, listener), accept(ctx, listener)]
    for sock in (waiting, held, third):
        close(ctx, "client", sock)
    for sock in accepted:
        close(ctx, "server", sock)
    close(ctx, "server", listener, "close() listener")
    return {"server_port": SERVER_PORT, "reset_client_port": HELD_CLIENT_PORT}


BACKLOG = Scenario(
    name="backlog",
    summary="listen(0) and no accept(): the next client's SYNs are dropped and retransmitted until accept()",
    run=run_backlog,
    expected_run_seconds=4,
)
BACKLOG_ABORT = Scenario(
    name="backlog-abort",
    summary="tcp_abort_on_overflow=1: the handshake's last ACK finds the accept queue full, the server sends RST",
    run=run_backlog_abort,
    sysctls={"net.ipv4.tcp_abort_on_overflow": "1", "net.ipv4.tcp_syncookies": "1"},
    expected_run_seconds=3,
)


COOKIE_CLIENTS = 2


def run_syn_cookies(ctx: Context) -> dict:
    """With tcp_syncookies=2 the listener answers every SYN with a cookie in its SYN/ACK's
    sequence number and keeps nothing; the client's ACK brings the cookie back, and the
    connection is made from it, without a request socket ever having held SYN_RCVD."""
    listener = ctx.listener(SERVER_PORT, backlog=COOKIE_CLIENTS)
    clients, ports = [], []
    for _ in range(COOKIE_CLIENTS):
        client = ctx.socket("client")
        ctx.connect(client, SERVER_PORT)
        clients.append(client)
        ports.append(client.getsockname()[1])
    for client in clients:
        conn = accept(ctx, listener)
        send(ctx, "client", client, b"hello")
        recv(ctx, "server", conn)
        close(ctx, "client", client)
        close_after_the_client(ctx, conn)
    close(ctx, "server", listener, "close() listener")
    return {"client_ports": ports, "server_port": SERVER_PORT}


SYN_COOKIES = Scenario(
    name="syn-cookies",
    summary="tcp_syncookies=2: every SYN answered with a cookie, no request socket kept; each client's ACK "
    "brings the cookie back and the connection is made from it",
    run=run_syn_cookies,
    sysctls={"net.ipv4.tcp_syncookies": "2"},
    parameters={"clients": COOKIE_CLIENTS},
)
