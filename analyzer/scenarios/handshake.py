"""handshake: connect, echo, the client closes first, then the server (the seed tables)."""

from __future__ import annotations

from analyzer.scenarios.base import Context, Scenario
from analyzer.scenarios.exchange import MESSAGE, close, close_after_the_client, echo, facts, open_pair


def run(ctx: Context) -> dict:
    pair = open_pair(ctx)
    echoed = echo(ctx, pair)
    close(ctx, "client", pair.client)
    # Only the client has closed: once the server's delayed ACK of the FIN has left,
    # the kernel holds FIN_WAIT_2 and CLOSE_WAIT, and this step's snapshot shows it.
    close_after_the_client(ctx, pair.conn)
    close(ctx, "server", pair.listener, "close() listener")
    return facts(pair, echoed_bytes=len(echoed))


SCENARIO = Scenario(
    name="handshake",
    summary="connect, echo with sendall/recv, client closes first: FIN_WAIT_2/CLOSE_WAIT, then TIME_WAIT on the client",
    run=run,
    parameters={"message": MESSAGE.decode()},
)
