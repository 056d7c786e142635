"""A cell under a row with alternatives: the scenario reads the row as the alternative its
observations take, fails with one line when none holds, and the cell records the name."""

from __future__ import annotations

import pytest

from authprobe.model.expectations import Expectation
from authprobe.model.observations import shipped
from authprobe.model.outcome import EXPECTED_FAILURE, CellRecord
from authprobe.plugin import cells
from authprobe.plugin.fixtures import Observer

ROW = Expectation("anon-off", "apiserver_restarts", "1.35", {
    "restart_shape": "climbs", "restarts": 1, "restart_cause": "probe-401",
    "alternatives": [
        {"name": "liveness-kill", "killed_by": "liveness", "first_restart_at": [80, 175],
         "note": "kubernetes/kubernetes#141155"},
        {"name": "startup-kill", "killed_by": "startup", "first_restart_at": [240, 335],
         "note": "kubernetes/kubernetes#141342"},
    ]})


def plan() -> cells.ItemPlan:
    return cells.ItemPlan("anon-off", "1.37", "1.37.2", "apiserver_restarts", ROW, None)


def call_passed() -> pytest.TestReport:
    return pytest.TestReport("test_restarts.py::test_apiserver_restarts", ("x", 0, "x"), {},
                             "passed", None, "call")


def test_the_scenario_reads_the_row_as_the_alternative_taken():
    state = cells.ItemState()
    observe = Observer(state, shipped())
    observe(killed_by="startup", first_restart_at=300.0)
    row = observe.alternative(ROW)
    assert (row.killed_by, row.first_restart_at) == ("startup", [240, 335])


def test_no_alternative_holding_fails_the_cell_with_one_line():
    state = cells.ItemState()
    observe = Observer(state, shipped())
    observe(killed_by="liveness", first_restart_at=199.0)
    with pytest.raises(AssertionError) as err:
        observe.alternative(ROW)
    assert str(err.value) == (
        'observed first_restart_at 199.0, killed_by "liveness": none of the row\'s '
        'alternatives holds: liveness-kill (killed_by "liveness", first_restart_at [80, 175]); '
        'startup-kill (killed_by "startup", first_restart_at [240, 335])')


def test_the_cell_records_the_alternative_it_took():
    state = cells.ItemState(observed={"restart_shape": "climbs", "killed_by": "liveness",
                                      "first_restart_at": 141.1, "restarts": 1})
    cells.apply(plan(), state, call_passed(), False, shipped())
    record = cells.record(plan(), state, "test_restarts.py::test_apiserver_restarts")
    assert record.outcome == EXPECTED_FAILURE
    assert record.alternative == "liveness-kill"
    assert record.message.endswith("(alternative liveness-kill)")
    assert CellRecord.from_dict(record.to_dict()).alternative == "liveness-kill"
    assert record.expected["alternatives"][0]["name"] == "liveness-kill"


def test_a_row_without_alternatives_records_none():
    row = Expectation("anon-off", "apiserver_restarts", "1.30", {"restart_shape": "climbs",
                                                                "killed_by": "startup"})
    item = cells.ItemPlan("anon-off", "1.34", "1.34.12", "apiserver_restarts", row, None)
    state = cells.ItemState(observed={"killed_by": "startup"})
    cells.apply(item, state, call_passed(), False, shipped())
    assert cells.record(item, state, "n").alternative is None
    assert Observer(state, shipped()).alternative(row) is row
