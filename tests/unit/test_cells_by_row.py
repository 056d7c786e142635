"""A cell whose scenario passed is judged by its row, field by field, as the declarations say
(authprobe/plugin/cells.py, judge_by_row): the recorded cells of the sweep, as they were and
with one observation changed the way a wrong audit record would change it."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from authprobe.model import observations
from authprobe.model.expectations import Expectation, load_files
from authprobe.model.outcome import ERROR, FAIL, PASS
from authprobe.model.versions import KubeVersion
from authprobe.paths import scenarios_dir
from authprobe.plugin.cells import ItemPlan, ItemState, apply, judge_by_row, record

SWEEP = Path(__file__).resolve().parent / "data" / "outcomes-sweep-1.19-1.37.json"


def recorded(profile: str, scenario: str, version: str) -> dict:
    (cell,) = [c for c in json.loads(SWEEP.read_text())["cells"]
               if (c["profile"], c["scenario"], c["version"]) == (profile, scenario, version)]
    return cell


def shipped_row(profile: str, scenario: str, version: str) -> Expectation:
    table = load_files([scenarios_dir() / "expectations.yaml"])
    return table.lookup(profile, scenario, KubeVersion.parse(version))


def call_passed() -> pytest.TestReport:
    return pytest.TestReport(nodeid="scenarios/test_x.py::test_x[cell]",
                             location=("scenarios/test_x.py", 1, "test_x"), keywords={},
                             outcome="passed", longrepr=None, when="call", duration=0.5)


def judged(row: Expectation, observed: dict) -> tuple[str | None, str, str]:
    """(what judge_by_row set, the cell's outcome, its message) of a call that passed."""
    plan = ItemPlan(row.profile, "1.31", "1.31.4", row.scenario, row, None)
    state = ItemState(observed=copy.deepcopy(observed))
    report = call_passed()
    verdict = judge_by_row(plan, state, report, observations.shipped())
    apply(plan, state, report, verdict == FAIL, observations.shipped())
    cell = record(plan, state, report.nodeid)
    assert report.outcome == ("passed" if verdict is None else "failed")
    return verdict, cell.outcome, cell.message


HEALTH_ONLY_ROOT = ("anon-health-only", "anonymous_get_root", "1.31.4")


def test_a_cell_that_saw_what_its_row_predicts_passes():
    cell = recorded(*HEALTH_ONLY_ROOT)
    verdict, outcome, message = judged(shipped_row(*HEALTH_ONLY_ROOT), cell["observed"])
    assert (verdict, outcome) == (None, PASS)
    assert message == cell["message"] == "401 Unauthorized audited with no user"


@pytest.mark.parametrize(("name", "wrong", "line"), [
    ("audit_code", 403, "audit_code: predicted 401 (row field status), seen 403"),
    ("audit_decision", "forbid", 'audit_decision: predicted null (from status 401), seen "forbid"'),
    ("audit_groups", ["system:unauthenticated"],
     'audit_groups: predicted none (row field audit_group), seen ["system:unauthenticated"]'),
    ("audit_user", "system:anonymous",
     'audit_user: predicted null (row field audit_user), seen "system:anonymous"'),
    ("www_authenticate", 'Basic realm="x"',
     'www_authenticate: predicted none (row field www_authenticate), seen "Basic realm=\\"x\\""'),
])
def test_a_field_its_row_predicts_otherwise_fails_the_cell_with_one_line(name, wrong, line):
    observed = {**recorded(*HEALTH_ONLY_ROOT)["observed"], name: wrong}
    verdict, outcome, message = judged(shipped_row(*HEALTH_ONLY_ROOT), observed)
    assert (verdict, outcome, message) == (FAIL, FAIL, line)


def test_a_list_in_a_row_means_any_of_its_values():
    row = shipped_row(*HEALTH_ONLY_ROOT)
    observed = {**recorded(*HEALTH_ONLY_ROOT)["observed"], "audit_code": 403}
    either = Expectation(row.profile, row.scenario, row.since,
                         {**row.values, "status": [401, 403]})
    assert judged(either, {**observed, "status": 403, "audit_decision": "forbid"})[0] is None
    verdict, _, message = judged(either, {**observed, "audit_code": 200})
    assert verdict == FAIL and message == (
        "audit_code: predicted any of 401, 403 (row field status), seen 200")


def test_a_prediction_the_scenario_recorded_nothing_for_errors_the_cell():
    observed = dict(recorded(*HEALTH_ONLY_ROOT)["observed"])
    del observed["www_authenticate"]
    verdict, outcome, message = judged(shipped_row(*HEALTH_ONLY_ROOT), observed)
    assert (verdict, outcome) == (ERROR, ERROR)
    assert message == ("the row predicts www_authenticate (false), but the scenario recorded "
                       "no www_authenticate")


def test_a_disagreement_and_a_missing_prediction_both_show_and_the_cell_fails():
    observed = {**recorded(*HEALTH_ONLY_ROOT)["observed"], "status": 200}
    del observed["audit_user"]
    verdict, outcome, message = judged(shipped_row(*HEALTH_ONLY_ROOT), observed)
    assert (verdict, outcome) == (FAIL, FAIL)
    assert message.startswith("status: predicted 401 (row field status), seen 200; ")
    assert "the row predicts audit_user (null), but the scenario recorded no audit_user" in (
        message)


def test_the_exec_of_1_35_passes_by_its_corrected_row_and_failed_by_its_status_alone():
    """The pod registry refuses the exec after the authorization filter allowed it: code
    403, decision allow. The row that gave status 403 alone implied forbid."""
    where = ("anon-on", "exec_with_get_only", "1.35.8")
    cell = recorded(*where)
    row = shipped_row(*where)
    assert row.values["audit_decision"] == "allow"
    assert judged(row, cell["observed"])[:2] == (None, PASS)
    status_alone = Expectation(row.profile, row.scenario, row.since,
                               {k: v for k, v in row.values.items() if k != "audit_decision"})
    assert judged(status_alone, cell["observed"]) == (
        FAIL, FAIL, 'audit_decision: predicted "forbid" (from status 403), seen "allow"')


def test_a_timing_is_judged_within_its_range_and_a_killer_among_its_alternatives():
    row = Expectation("anon-off", "apiserver_restarts", "1.35",
                      {"restart_shape": "climbs", "first_restart_at": [90, 150],
                       "killed_by": ["startup", "liveness"]})
    seen = {"restart_shape": "climbs", "first_restart_at": 120.0, "killed_by": "liveness"}
    assert judged(row, seen)[:2] == (None, "expected-failure")
    assert judged(row, {**seen, "first_restart_at": 5.0})[1:] == (FAIL, (
        "first_restart_at: predicted within [90, 150] (row field first_restart_at), seen 5.0"))
    assert judged(row, {**seen, "killed_by": None})[2] == (
        'killed_by: predicted any of "startup", "liveness" (row field killed_by), seen null')


def test_a_cell_that_failed_on_its_own_is_left_as_it_failed():
    row = shipped_row(*HEALTH_ONLY_ROOT)
    plan = ItemPlan(row.profile, "1.31", "1.31.4", row.scenario, row, None)
    report = call_passed()
    report.outcome, report.longrepr = "failed", "assert 403 == 401"
    state = ItemState(observed={"status": 403})
    assert judge_by_row(plan, state, report, observations.shipped()) is None
    assert report.longrepr == "assert 403 == 401"
