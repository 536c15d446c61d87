"""The ways a connection closes: server first, held half-open, half-closed, simultaneous."""

from __future__ import annotations

import socket
from collections.abc import Callable

from analyzer.scenarios.base import FINS, PURE_ACKS, SERVER_PORT, Context, Scenario
from analyzer.scenarios.exchange import DELAYED_ACK_WAIT, Pair, close, echo, facts, open_pair, recv, send
from analyzer.sidecar import SocketState

HOLD_SECONDS = 1.5
# A held FIN's retransmissions back off from RTO_MIN (200 ms): 0.2, 0.4, 0.8, 1.6, 3.2 s apart;
# released late on a busy machine, the next one may be seconds away.
FIN_RETRANSMIT_LIMIT = 7.0
CLOSING_HELD = 0.6  # long enough for a kernel snapshot (every 0.5 s) inside it
REQUEST = b"request"
RESPONSE = b"response after your FIN"


def run_server_close(ctx: Context) -> dict:
    pair = open_pair(ctx)
    echo(ctx, pair)
    close(ctx, "server", pair.conn)
    ctx.log.idle("client", DELAYED_ACK_WAIT, "the delayed ACK of the FIN")
    recv(ctx, "client", pair.client)
    close(ctx, "client", pair.client)
    close(ctx, "server", pair.listener, "close() listener")
    return facts(pair)


def run_half_open_states(ctx: Context) -> dict:
    pair = open_pair(ctx)
    echo(ctx, pair)
    close(ctx, "client", pair.client)
    ctx.log.idle("server", DELAYED_ACK_WAIT, "the delayed ACK of the FIN")
    # The server neither reads the EOF nor closes: both ends stay where they are.
    ctx.log.idle("server", HOLD_SECONDS, "the server does not close: CLOSE_WAIT and FIN_WAIT_2 are held")
    recv(ctx, "server", pair.conn)
    close(ctx, "server", pair.conn)
    close(ctx, "server", pair.listener, "close() listener")
    return facts(pair, held_seconds=HOLD_SECONDS)


def run_half_close(ctx: Context) -> dict:
    pair = open_pair(ctx)
    send(ctx, "client", pair.client, REQUEST)
    with ctx.log.step("client", "shutdown(SHUT_WR)", on=pair.client):
        pair.client.shutdown(socket.SHUT_WR)
    recv(ctx, "server", pair.conn)
    recv(ctx, "server", pair.conn)  # b'': the client's FIN
    # Data still flows the other way after the FIN.
    send(ctx, "server", pair.conn, RESPONSE)
    response = recv(ctx, "client", pair.client)
    close(ctx, "server", pair.conn)
    recv(ctx, "client", pair.client)
    close(ctx, "client", pair.client)
    close(ctx, "server", pair.listener, "close() listener")
    return facts(pair, response_bytes=len(response))


def run_simultaneous_close(ctx: Context) -> dict:
    """Both FINs in flight at once. On loopback a FIN lands within microseconds of its
    send, before the peer can send its own, so the FINs are held: dropped on input (each
    end sends its FIN before it has the other's: FIN_WAIT_1 on both), then the very same
    two segments are delivered together while the pure ACKs are held. Each end gets the
    other's FIN before the ACK of its own: CLOSING on both. Releasing everything lets the
    retransmitted FINs, now acknowledging, finish the close: TIME_WAIT on both."""
    pair = open_pair(ctx)
    echo(ctx, pair)
    fins = ctx.hold(FINS, "FINs on input", keep_copies=True)
    close(ctx, "client", pair.client)
    close(ctx, "server", pair.conn)
    acks = ctx.hold(PURE_ACKS, "pure ACKs on input")
    ctx.deliver(fins, "the two held FINs now, together")
    ctx.log.idle("client", CLOSING_HELD, "each end has the other's FIN, not the ACK of its own: CLOSING")
    ctx.release(fins, "the FINs")
    ctx.release(acks, "the ACKs")
    ctx.wait_for_kernel(
        "client", _both_in_time_wait(pair), FIN_RETRANSMIT_LIMIT,
        "a FIN is retransmitted and acknowledged: TIME_WAIT on both",
    )  # fmt: skip
    close(ctx, "server", pair.listener, "close() listener")
    return facts(pair)


def _both_in_time_wait(pair: Pair) -> Callable[[list[SocketState]], bool]:
    ends = {(f":{pair.client_port}", f":{SERVER_PORT}"), (f":{SERVER_PORT}", f":{pair.client_port}")}

    def until(sockets: list[SocketState]) -> bool:
        waiting = {
            (local, peer)
            for local, peer in ends
            for s in sockets
            if s["state"] == "TIME_WAIT" and s["local"].endswith(local) and s["peer"].endswith(peer)
        }
        return waiting == ends

    return until


SERVER_CLOSE = Scenario(
    name="server-close",
    summary="the server closes first: FIN_WAIT_2 and CLOSE_WAIT the other way round, TIME_WAIT on the server",
    run=run_server_close,
)
HALF_OPEN_STATES = Scenario(
    name="half-open-states",
    summary=f"the client closes, the server does not for {HOLD_SECONDS} s: FIN_WAIT_2/CLOSE_WAIT held in the kernel",
    run=run_half_open_states,
    parameters={"held_seconds": HOLD_SECONDS},
    expected_run_seconds=2,
)
HALF_CLOSE = Scenario(
    name="half-close",
    summary="shutdown(SHUT_WR): the client's FIN, then the server's response still flows, then its FIN",
    run=run_half_close,
)
SIMULTANEOUS_CLOSE = Scenario(
    name="simultaneous-close",
    summary="both FINs sent before either arrives (held by nftables, delivered together): CLOSING, then TIME_WAIT, on both",
    run=run_simultaneous_close,
    expected_run_seconds=3,
)
