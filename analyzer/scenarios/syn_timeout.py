"""syn-timeout: a firewall rule in the namespace drops the SYNs; connect() retransmits until ETIMEDOUT.

TCP_SYNCNT bounds the wait. Measured on kernel 6.18: with the default
tcp_syn_linear_timeouts=4, TCP_SYNCNT=2 gives 6 SYNs 1 s apart and ETIMEDOUT
after 7 s (the linear retransmissions come on top of the count); with the linear
phase off, TCP_SYNCNT=3 gives SYNs at 0, 1, 3, 7 s and ETIMEDOUT after 15 s.
"""

from __future__ import annotations

import socket

from analyzer.scenarios.base import SERVER_PORT, Context, Scenario, syns_to


def _runner(syn_count: int):
    def run(ctx: Context) -> dict:
        log = ctx.log
        # A real listener behind the rule: without the rule the connect would succeed.
        listener = ctx.listener(SERVER_PORT, backlog=8)
        ctx.hold(syns_to(SERVER_PORT), f"SYNs to port {SERVER_PORT}")
        client = ctx.socket("client")
        with log.step("client", f"setsockopt(TCP_SYNCNT, {syn_count})", on=client):
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_SYNCNT, syn_count)
        ctx.connect(client, SERVER_PORT)
        with log.step("client", "close()", on=client):
            client.close()
        with log.step("server", "close() listener", on=listener):
            listener.close()
        return {"server_port": SERVER_PORT, "tcp_syncnt": syn_count}

    return run


SCENARIO = Scenario(
    name="syn-timeout",
    summary="SYNs dropped by a firewall rule: the kernel's default schedule (1 s linear phase) until ETIMEDOUT",
    run=_runner(2),
    parameters={"tcp_syncnt": 2},
    expected_run_seconds=8,
)

SCENARIO_LINEAR_OFF = Scenario(
    name="syn-timeout-linear-off",
    summary="SYNs dropped, net.ipv4.tcp_syn_linear_timeouts=0: classic doubling 1, 2, 4 s until ETIMEDOUT",
    run=_runner(3),
    sysctls={"net.ipv4.tcp_syn_linear_timeouts": "0"},
    parameters={"tcp_syncnt": 3},
    expected_run_seconds=16,
)
