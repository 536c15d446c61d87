"""Sockets an application leaves behind: a peer that never calls close() (CLOSE_WAIT held),
a closed end whose FIN_WAIT_2 the kernel gives up (then a RST answers the peer's FIN), and
a listener closed while connections wait in its accept queue (a RST to each)."""

from __future__ import annotations

from collections.abc import Callable

from analyzer.scenarios.base import SERVER_PORT, Context, Scenario, Socket
from analyzer.scenarios.exchange import DELAYED_ACK_WAIT, close, echo, facts, open_pair, recv
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
