"""The scenario catalogue: scripted exchanges with the plain socket module."""

from __future__ import annotations

from analyzer.errors import UserError
from analyzer.scenarios import (
    aborts,
    backlog,
    closes,
    handshake,
    left_behind,
    refused,
    sticky,
    syn_timeout,
    transfer,
    udp,
    waiting_calls,
)
from analyzer.scenarios.base import Context, Scenario

SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        handshake.SCENARIO,
        closes.SERVER_CLOSE,
        closes.HALF_OPEN_STATES,
        closes.HALF_CLOSE,
        closes.SIMULTANEOUS_CLOSE,
        aborts.LINGER_RESET,
        aborts.UNREAD_CLOSE,
        aborts.DATA_AFTER_CLOSE,
        aborts.PROCESS_EXIT,
        refused.SCENARIO,
        syn_timeout.SCENARIO,
        syn_timeout.SCENARIO_LINEAR_OFF,
        backlog.BACKLOG,
        backlog.BACKLOG_ABORT,
        backlog.SYN_COOKIES,
        sticky.SCENARIO,
        udp.SCENARIO,
        left_behind.CLOSE_WAIT_LEAK,
        left_behind.FIN_WAIT_2_TIMEOUT,
        left_behind.LISTENER_CLOSE,
        left_behind.KEEPALIVE,
        waiting_calls.RECV_TIMEOUT_SCENARIO,
        waiting_calls.NONBLOCKING_CONNECT,
        left_behind.TIME_WAIT_REUSE,
        sticky.NAGLE,
        udp.TRUNCATION,
        transfer.SCENARIO,
    )
}


def get_scenario(name: str) -> Scenario:
    try:
        return SCENARIOS[name]
    except KeyError:
        raise UserError(f"unknown scenario '{name}'; known: {', '.join(SCENARIOS)}") from None


__all__ = ["SCENARIOS", "Context", "Scenario", "get_scenario"]
