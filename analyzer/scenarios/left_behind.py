"""Sockets an application leaves behind, or that a peer leaves: a peer that never calls
close() (CLOSE_WAIT held), a closed end whose FIN_WAIT_2 the kernel gives up (then a RST
answers the peer's FIN), a listener closed while connections wait in its accept queue (a
RST to each), an idle connection whose peer falls silent (keep-alive gives it up), and a
TIME_WAIT that a new connection on its 4-tuple finds (it takes the newer SYN)."""

from __future__ import annotations

import socket
from collections.abc import Callable

from analyzer.scenarios.base import SERVER_PORT, TCP_FLAGS, Context, Held, Scenario, Socket
from analyzer.scenarios.exchange import (
    DELAYED_ACK_WAIT,
    accept,
    close,
    close_after_the_client,
    echo,
    facts,
    open_pair,
    recv,
)
from analyzer.sidecar import SocketState

# How long the server sits in CLOSE_WAIT while the recording runs: long enough for several
# kernel snapshots, short enough for `make capture SCENARIO=all`.
CLOSE_WAIT_HELD = 1.5
# tcp_fin_timeout in the namespace: an orphaned FIN_WAIT_2 lasts this long (Linux: 60 s).
FIN_TIMEOUT = 2
QUEUED_CLIENTS = 2

# Sockets a scenario leaks on purpose: held by the sandbox's process until it exits, after
# the recording has ended, as a leaking server holds its descriptors.
_LEAKED: list[Socket] = []


def _local_port_in(port: int, state: str) -> Callable[[list[SocketState]], bool]:
    """A test of the kernel's sockets: one whose local port is `port` is in `state`."""
    return lambda sockets: any(s["state"] == state and s["local"].endswith(f":{port}") for s in sockets)


def run_close_wait_leak(ctx: Context) -> dict:
    pair = open_pair(ctx)
    echo(ctx, pair)
    close(ctx, "client", pair.client)
    eof = recv(ctx, "server", pair.conn)  # b'': the server sees the client's FIN ...
    ctx.wait_for_kernel(
        "server",
        _local_port_in(SERVER_PORT, "CLOSE_WAIT"),
        2.0,
        "the kernel holds the server's socket in CLOSE_WAIT",
    )
    # ... and never calls close(): CLOSE_WAIT lasts as long as the process keeps the socket.
    ctx.log.idle("server", CLOSE_WAIT_HELD, "the application never calls close(): CLOSE_WAIT held")
    _LEAKED.extend([pair.conn, pair.listener])
    return facts(pair, eof=eof.decode(), held_seconds=CLOSE_WAIT_HELD)


def run_fin_wait_2_timeout(ctx: Context) -> dict:
    pair = open_pair(ctx)
    echo(ctx, pair)
    close(ctx, "client", pair.client)  # orphaned: FIN_WAIT_2 once its FIN is acknowledged
    ctx.log.idle("server", DELAYED_ACK_WAIT, "the delayed ACK of the FIN")
    gone = ctx.wait_for_kernel(
        "client",
        lambda sockets: not any(s["local"].endswith(f":{pair.client_port}") for s in sockets),
        FIN_TIMEOUT + 3.0,
        f"tcp_fin_timeout ({FIN_TIMEOUT} s) ends the client's orphaned FIN_WAIT_2",
    )
    # The server closes only now: its FIN finds no socket, and the client's kernel answers RST.
    close(ctx, "server", pair.conn)
    ctx.log.idle("server", 0.05, "the RST arrives")
    close(ctx, "server", pair.listener, "close() listener")
    return facts(pair, fin_wait_2_expired=gone, fin_timeout=FIN_TIMEOUT)


def run_listener_close(ctx: Context) -> dict:
    listener = ctx.listener(SERVER_PORT, backlog=QUEUED_CLIENTS)
    clients, ports = [], []
    for _ in range(QUEUED_CLIENTS):
        client = ctx.socket("client")
        ctx.connect(client, SERVER_PORT)  # complete: the connection waits in the accept queue
        clients.append(client)
        ports.append(client.getsockname()[1])
    ctx.wait_for_kernel(
        "server",
        lambda sockets: (
            sum(s["state"] == "ESTABLISHED" and s["local"].endswith(f":{SERVER_PORT}") for s in sockets)
            >= QUEUED_CLIENTS
        ),
        2.0,
        f"{QUEUED_CLIENTS} connections established in the accept queue, never accepted",
    )
    # Closing the listener ends every connection still queued: the kernel sends each a RST.
    close(ctx, "server", listener, "close() listener, never accept()ed")
    for client in clients:
        recv(ctx, "client", client)  # ECONNRESET: the RST came first
        close(ctx, "client", client)
    return {"client_ports": ports, "server_port": SERVER_PORT, "queued": QUEUED_CLIENTS}


CLOSE_WAIT_LEAK = Scenario(
    name="close-wait-leak",
    summary="the server reads the client's FIN (recv() returns b'') but never calls close(): CLOSE_WAIT held",
    run=run_close_wait_leak,
    parameters={"held_seconds": CLOSE_WAIT_HELD},
    expected_run_seconds=2.5,
)
FIN_WAIT_2_TIMEOUT = Scenario(
    name="fin-wait-2-timeout",
    summary=f"the client closes, the server does not; tcp_fin_timeout={FIN_TIMEOUT} ends the client's FIN_WAIT_2, "
    "and the server's late FIN is answered by RST",
    run=run_fin_wait_2_timeout,
    sysctls={"net.ipv4.tcp_fin_timeout": str(FIN_TIMEOUT)},
    parameters={"fin_timeout": FIN_TIMEOUT},
    expected_run_seconds=FIN_TIMEOUT + 1.5,
)
LISTENER_CLOSE = Scenario(
    name="listener-close",
    summary=f"{QUEUED_CLIENTS} connections complete in the accept queue, never accepted; closing the listener "
    "sends a RST to each",
    run=run_listener_close,
    parameters={"queued": QUEUED_CLIENTS},
)


# Keep-alive: the least idle time Linux takes (seconds), a probe a second, two unanswered
# probes and the connection is given up.
KEEP_IDLE, KEEP_INTERVAL, KEEP_COUNT = 1, 1, 2
KEEP_ANSWERED = 2.5  # idle with the peer answering: the first probes come and are answered


def run_keepalive(ctx: Context) -> dict:
    pair = open_pair(ctx)
    echo(ctx, pair)
    options = (
        (socket.SOL_SOCKET, socket.SO_KEEPALIVE, "SO_KEEPALIVE", 1),
        (socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, "TCP_KEEPIDLE", KEEP_IDLE),
        (socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, "TCP_KEEPINTVL", KEEP_INTERVAL),
        (socket.IPPROTO_TCP, socket.TCP_KEEPCNT, "TCP_KEEPCNT", KEEP_COUNT),
    )
    for level, option, name, value in options:
        with ctx.log.step("client", f"setsockopt({name}, {value})", on=pair.client):
            pair.client.setsockopt(level, option, value)
    ctx.log.idle("client", KEEP_ANSWERED, "idle: the client's kernel probes, the server's answers")
    # The server falls silent: nothing it sends leaves its host any more.
    ctx.silence(Held(TCP_FLAGS["ack"], TCP_FLAGS["ack"], sport=SERVER_PORT), "everything the server sends")
    recv(ctx, "client", pair.client)  # ETIMEDOUT once the unanswered probes run out
    close(ctx, "client", pair.client)
    return facts(pair, keep_idle=KEEP_IDLE, keep_interval=KEEP_INTERVAL, keep_count=KEEP_COUNT)


KEEPALIVE = Scenario(
    name="keepalive",
    summary=f"SO_KEEPALIVE (idle {KEEP_IDLE} s, a probe every {KEEP_INTERVAL} s, {KEEP_COUNT} unanswered): probes "
    "answered; then the server silenced by a firewall rule: probes unanswered, the client resets, recv() ETIMEDOUT",
    run=run_keepalive,
    parameters={"keep_idle": KEEP_IDLE, "keep_interval": KEEP_INTERVAL, "keep_count": KEEP_COUNT},
    expected_run_seconds=KEEP_ANSWERED + KEEP_IDLE + KEEP_COUNT * KEEP_INTERVAL + 1,
)


def run_time_wait_reuse(ctx: Context) -> dict:
    listener = ctx.listener(SERVER_PORT, backlog=1)
    first = ctx.socket("client")
    with ctx.log.step("client", "setsockopt(SO_REUSEADDR, 1)", on=first):
        first.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ctx.connect(first, SERVER_PORT)
    port = first.getsockname()[1]
    conn = accept(ctx, listener)
    # The server closes first: the TIME_WAIT is its own, on the 4-tuple the client will use again.
    close(ctx, "server", conn)
    recv(ctx, "client", first)
    close(ctx, "client", first)
    ctx.wait_for_kernel(
        "server",
        _local_port_in(SERVER_PORT, "TIME_WAIT"),
        2.0,
        "the server's socket holds TIME_WAIT on the 4-tuple",
    )
    second = ctx.socket("client")
    with ctx.log.step("client", "setsockopt(SO_REUSEADDR, 1)", on=second):
        second.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    with ctx.log.step(
        "client", f"bind({ctx.where(port)}): the port of the connection in TIME_WAIT", on=second
    ):
        second.bind((ctx.host, port))
    # Its SYN reaches the server's TIME_WAIT socket, which takes it as a new connection when
    # it is newer (a higher ISN, or a later timestamp): the listener answers.
    ctx.connect(second, SERVER_PORT)
    again = accept(ctx, listener)
    close(ctx, "client", second)
    close_after_the_client(ctx, again)
    close(ctx, "server", listener, "close() listener")
    return {"client_port": port, "server_port": SERVER_PORT}


TIME_WAIT_REUSE = Scenario(
    name="time-wait-reuse",
    summary="the server closes first and holds TIME_WAIT; the client connects again from the same port: "
    "the TIME_WAIT socket takes the newer SYN and the listener answers it",
    run=run_time_wait_reuse,
)
