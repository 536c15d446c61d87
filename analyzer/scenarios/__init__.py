"""The scenario catalogue: scripted exchanges with the plain socket module."""

from __future__ import annotations

from analyzer.errors import UserError
from analyzer.scenarios import handshake, refused, syn_timeout
from analyzer.scenarios.base import Context, Scenario

SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        handshake.SCENARIO,
        refused.SCENARIO,
        syn_timeout.SCENARIO,
        syn_timeout.SCENARIO_LINEAR_OFF,
    )
}


def get_scenario(name: str) -> Scenario:
    try:
        return SCENARIOS[name]
    except KeyError:
        raise UserError(f"unknown scenario '{name}'; known: {', '.join(SCENARIOS)}") from None


__all__ = ["SCENARIOS", "Context", "Scenario", "get_scenario"]
