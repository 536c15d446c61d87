"""CI replays every stored capture: the analysis must equal the checked-in expected one,
and must show what its scenario promises (asserted independently of the golden file)."""

from __future__ import annotations

import json

import pytest
from conftest import stored_captures
from scenario_facts import FACTS, check_scenario_facts

from analyzer.capture.store import expected_document, expected_path_for
from analyzer.scenarios import SCENARIOS
from analyzer.sidecar import sidecar_path_for

CAPTURES = stored_captures()


def test_the_catalogue_is_stored_over_both_families() -> None:
    names = {p.stem for p in CAPTURES}
    for scenario in SCENARIOS:
        assert {scenario, f"{scenario}-ipv6"} <= names
        assert scenario in FACTS, f"no facts asserted for {scenario}"


@pytest.mark.parametrize("pcap", CAPTURES, ids=[p.stem for p in CAPTURES])
def test_replay_matches_expected_analysis(pcap) -> None:
    expected = json.loads(expected_path_for(pcap).read_text())
    assert expected_document(pcap) == expected, "run 'make expected' only if the change is intended"


@pytest.mark.parametrize("pcap", CAPTURES, ids=[p.stem for p in CAPTURES])
def test_replay_shows_what_the_scenario_promises(pcap) -> None:
    sidecar = json.loads(sidecar_path_for(pcap).read_text())
    assert sidecar["recorder"]["dropped_by_kernel"] == 0
    assert sidecar["family"] == (6 if pcap.stem.endswith("-ipv6") else 4)
    check_scenario_facts(expected_document(pcap), sidecar)


@pytest.mark.parametrize("pcap", CAPTURES, ids=[p.stem for p in CAPTURES])
def test_inferred_states_agree_with_the_kernel(pcap) -> None:
    for connection in expected_document(pcap)["connections"]:
        kernel = connection["kernel"]
        assert kernel["compared"] > 0
        assert kernel["disagreements"] == []
        assert kernel["agreed"] == kernel["compared"]
