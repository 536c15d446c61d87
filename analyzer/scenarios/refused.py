"""refused: connect to a port nobody listens on: SYN, RST/ACK, ECONNREFUSED."""

from __future__ import annotations

from analyzer.scenarios.base import CLOSED_PORT, Context, Scenario


def run(ctx: Context) -> dict:
    client = ctx.socket("client")
    ctx.connect(client, CLOSED_PORT)
    with ctx.log.step("client", "close()", on=client):
        client.close()
    return {"server_port": CLOSED_PORT}


SCENARIO = Scenario(
    name="refused",
    summary="connect to a port nobody listens on: SYN answered by RST/ACK, connect() raises ECONNREFUSED",
    run=run,
)
