"""handshake: connect, echo, the client closes first, then the server (the seed tables)."""

from __future__ import annotations

from analyzer.scenarios.base import SERVER_PORT, Context, Scenario

MESSAGE = b"hello"
DELAYED_ACK_WAIT = 0.3


def run(ctx: Context) -> dict:
    log = ctx.log
    listener = ctx.listener(SERVER_PORT, backlog=1)
    client = ctx.socket("client")
    ctx.connect(client, SERVER_PORT)
    client_port = client.getsockname()[1]
    with log.step("server", "accept()") as outcome:
        conn, peer = listener.accept()
        outcome.returned(f"fd {conn.fileno()} from port {peer[1]}")
    with log.step("client", f"sendall({MESSAGE!r})"):
        client.sendall(MESSAGE)
    with log.step("server", "recv(1024)") as outcome:
        received = conn.recv(1024)
        outcome.returned(received)
    with log.step("server", f"sendall({received!r})"):
        conn.sendall(received)
    with log.step("client", "recv(1024)") as outcome:
        echoed = client.recv(1024)
        outcome.returned(echoed)
    with log.step("client", "close()"):
        client.close()
    # A FIN arriving in ESTABLISHED puts Linux in delayed-ACK (pingpong) mode, so the
    # ACK of the client's FIN leaves only when the delayed-ACK timer fires (at most
    # TCP_DELACK_MAX, 200 ms). After it, only the client has closed: the kernel holds
    # FIN_WAIT_2 and CLOSE_WAIT, and the snapshot of this step shows it.
    log.idle("server", DELAYED_ACK_WAIT, "the delayed ACK of the FIN")
    with log.step("server", "recv(1024)") as outcome:
        outcome.returned(conn.recv(1024))
    with log.step("server", "close()"):
        conn.close()
    with log.step("server", "close() listener"):
        listener.close()
    return {"client_port": client_port, "server_port": SERVER_PORT, "echoed_bytes": len(echoed)}


SCENARIO = Scenario(
    name="handshake",
    summary="connect, echo with sendall/recv, client closes first: FIN_WAIT_2/CLOSE_WAIT, then TIME_WAIT on the client",
    run=run,
    parameters={"message": MESSAGE.decode()},
)
