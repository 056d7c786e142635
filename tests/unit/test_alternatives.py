"""Rows with alternative outcomes: fields that hold together (the probe that kills and its
time range), which alternative a cell takes, and one line for a malformed list."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from authprobe.errors import AuthprobeError
from authprobe.model.expectations import ExpectationTable, load_files, taken, with_alternative
from authprobe.model.observations import Declarations, shipped
from authprobe.model.versions import KubeVersion
from authprobe.paths import scenarios_dir

SWEEP = Path(__file__).resolve().parent / "data" / "outcomes-sweep-1.19-1.37.json"

ROW = {
    "restart_shape": "climbs",
    "restart_cause": "probe-401",
    "alternatives": [
        {"name": "liveness-kill", "killed_by": "liveness", "first_restart_at": [80, 175],
         "note": "the container marked started early (kubernetes#141155)"},
        {"name": "startup-kill", "killed_by": "startup", "first_restart_at": [240, 335],
         "note": "the kubelet waits for the startup probe (kubernetes#141342)"},
    ],
}


def table(row: dict) -> ExpectationTable:
    built = ExpectationTable()
    built.add({"scenarios": {"apiserver_restarts": {"anon-off": [{"since": "1.35", **row}]}}},
              "test.yaml")
    return built


def test_a_cell_takes_the_alternative_whose_fields_all_hold():
    declarations = shipped()
    assert taken(ROW, {"killed_by": "liveness", "first_restart_at": 141.1},
                 declarations) == "liveness-kill"
    assert taken(ROW, {"killed_by": "startup", "first_restart_at": 300.0},
                 declarations) == "startup-kill"


def test_fields_of_two_alternatives_mixed_take_none():
    declarations = shipped()
    # a liveness kill at the startup kill's time, and a startup kill at the liveness one's
    assert taken(ROW, {"killed_by": "liveness", "first_restart_at": 300.0},
                 declarations) is None
    assert taken(ROW, {"killed_by": "startup", "first_restart_at": 141.1},
                 declarations) is None
    # a field the cell did not observe does not hold
    assert taken(ROW, {"killed_by": "liveness"}, declarations) is None
    assert taken({"restart_shape": "flat"}, {"killed_by": None}, declarations) is None


def test_the_row_reads_as_the_alternative_taken():
    assert with_alternative(ROW, "startup-kill") == {
        "restart_shape": "climbs", "restart_cause": "probe-401", "killed_by": "startup",
        "first_restart_at": [240, 335]}
    assert with_alternative(ROW, None) == {"restart_shape": "climbs",
                                           "restart_cause": "probe-401"}
    row = table(ROW).lookup("anon-off", "apiserver_restarts", KubeVersion.parse("1.37.2"))
    assert [a.name for a in row.alternatives] == ["liveness-kill", "startup-kill"]
    assert row.choose({"killed_by": "startup", "first_restart_at": 300.0},
                      Declarations(shipped())) == "startup-kill"
    assert row.taking("liveness-kill").killed_by == "liveness"
    assert row.killed_by is None  # no kill of its own: only with an alternative


@pytest.mark.parametrize(("alternatives", "says"), [
    ("liveness-kill", "alternatives must be a list of two or more"),
    ([{"name": "only", "note": "n", "killed_by": "liveness"}], "two or more"),
    (["startup", "liveness"], "alternative 1: must be a mapping"),
    ([{"note": "n", "killed_by": "liveness"}, {"name": "b", "note": "n", "killed_by": "startup"}],
     "alternative 1: needs a name"),
    ([{"name": "a", "note": "n", "killed_by": "liveness"},
      {"name": "a", "note": "n", "killed_by": "startup"}], "the name 'a' is given twice"),
    ([{"name": "a", "killed_by": "liveness"}, {"name": "b", "note": "n", "killed_by": "startup"}],
     "alternative 'a': needs a note"),
    ([{"name": "a", "note": "n", "killed_by": "liveness", "kiled_by": "x"},
      {"name": "b", "note": "n", "killed_by": "startup"}], "unknown field(s) kiled_by"),
    ([{"name": "a", "note": "n"}, {"name": "b", "note": "n", "killed_by": "startup"}],
     "alternative 'a': predicts no field"),
    ([{"name": "a", "note": "n", "restart_cause": "exit"},
      {"name": "b", "note": "n", "killed_by": "startup"}], "restart_cause given by the row too"),
    ([{"name": "a", "note": "n", "restart_shape": "flat"},
      {"name": "b", "note": "n", "killed_by": "startup"}],
     "restart_shape decide(s) whether the row is an expected failure"),
    ([{"name": "a", "note": "n", "first_restart_at": [175, 80]},
      {"name": "b", "note": "n", "killed_by": "startup"}],
     "alternative 'a': first_restart_at must be a range"),
    ([{"name": "a", "note": "n", "killed_by": "readiness"},
      {"name": "b", "note": "n", "killed_by": "startup"}],
     "alternative 'a': killed_by must be startup, liveness or null"),
])
def test_a_malformed_list_of_alternatives_is_one_line(tmp_path, alternatives, says):
    path = tmp_path / "rows.yaml"
    path.write_text(yaml.safe_dump({"scenarios": {"apiserver_restarts": {"anon-off": [
        {"since": "1.35", "restart_shape": "climbs", "restart_cause": "probe-401",
         "alternatives": alternatives}]}}}))
    with pytest.raises(AuthprobeError) as err:
        load_files([path])
    line = err.value.one_line()
    assert "\n" not in line
    assert line.startswith(f"malformed expectation file {path} at "
                           "scenarios.apiserver_restarts.anon-off since 1.35")
    assert says in line


def anon_off_restarts() -> list[dict]:
    data = json.loads(SWEEP.read_text())
    return [c for c in data["cells"] if c["profile"] == "anon-off"
            and c["scenario"] == "apiserver_restarts"]


def test_every_recorded_anon_off_restart_holds_under_the_shipped_rows():
    """The rows' time ranges come from the probes' budgets; every restart of the recorded
    sweep lies within the range of its row (or of the alternative it took)."""
    rows = load_files([scenarios_dir() / "expectations.yaml"])
    declarations = shipped()
    took = {}
    for cell in anon_off_restarts():
        row = rows.lookup("anon-off", "apiserver_restarts", KubeVersion.parse(cell["version"]))
        name = row.choose(cell["observed"], declarations)
        if row.alternatives:
            assert name is not None, cell["version"]
            row = row.taking(name)
        took[cell["version"]] = name
        for field, value in row.values.items():
            for declared in declarations.predicting(field):
                if declared.name in cell["observed"]:
                    assert declared.predicts(value, cell["observed"][declared.name]), (
                        cell["version"], declared.name)
        low, high = row.first_restart_at
        assert low <= cell["observed"]["first_restart_at"] <= high < cell["observed"]["window"]
    assert took == {"1.19.16": None, "1.30.14": None, "1.31.4": None, "1.32.9": None,
                    "1.33.13": None, "1.34.12": None, "1.35.8": "liveness-kill",
                    "1.36.5": "liveness-kill", "1.37.2": "liveness-kill"}


def test_a_timing_tolerance_grows_with_what_it_measures():
    first = shipped()["first_restart_at"]
    assert first.differs(141.1, 199.0)  # +41 %: a change
    assert not first.differs(153.2, 140.3)  # 1.35.8 → 1.36.5 of the sweep: the same
    assert not first.differs(308.9, 329.6)  # 1.30.14 → 1.31.4 of the sweep: the same
    assert first.differs(300.0, 370.0)
    assert not first.differs(5.0, 14.0)  # the floor: the restart sampler's 10 s
    assert first.differs(5.0, 16.0)


@pytest.mark.parametrize(("tolerance", "says"), [
    ({"relative": 0.2}, "tolerance must be a number or {relative: <share>, floor: <number>}"),
    ({"relative": 1.5, "floor": 10}, "tolerance relative is a share of the value"),
    (-1, "tolerance must not be negative"),
    (True, "tolerance must be a number"),
])
def test_a_malformed_tolerance_is_one_line(tolerance, says):
    declarations = Declarations()
    with pytest.raises(AuthprobeError) as err:
        declarations.add({"took": {"meaning": "seconds", "compare": "within",
                                   "tolerance": tolerance}}, "team.yaml")
    line = err.value.one_line()
    assert line.startswith("malformed observation declarations in team.yaml at "
                           "observations.took: ")
    assert says in line
