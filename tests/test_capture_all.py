"""`handshake capture all` runs the catalogue a few captures at a time, each in a process of
its own, and still reports them whole and in the catalogue's order, failures included."""

from __future__ import annotations

from analyzer import scenarios
from analyzer.capture import run


def test_captures_report_in_catalogue_order_and_failures_are_counted(monkeypatch, tmp_path, capsys) -> None:
    # Names no process knows: each capture fails at once, with its own one-line error.
    names = ["no-such-scenario-a", "no-such-scenario-b", "no-such-scenario-c", "no-such-scenario-d"]
    monkeypatch.setattr(scenarios, "SCENARIOS", dict.fromkeys(names, scenarios.SCENARIOS["refused"]))
    status = run.run_all((4, 6), runs_dir=tmp_path)
    out, err = capsys.readouterr()
    assert status == 1
    assert "captured 0 of 8" in out
    errors = [line for line in err.splitlines() if "unknown scenario" in line]
    assert [line.split("'")[1] for line in errors] == [name for name in names for _family in (4, 6)]
    assert err.splitlines()[-1] == "failed: " + ", ".join(f"{n} IPv{f}" for n in names for f in (4, 6))
    assert not list(tmp_path.iterdir())  # a capture that never started leaves no folder
