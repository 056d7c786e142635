"""The declaration of every observed field (scenarios/observations.yaml): how a row predicts
a value, how two runs' values compare, how a value reads, and that nothing a real run
records goes undeclared."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from authprobe.errors import AuthprobeError
from authprobe.model import observations
from authprobe.model.expectations import FIELDS, ExpectationTable, load_files
from authprobe.model.observations import Declarations
from authprobe.model.predictions import NOT_PREDICTED, prediction
from authprobe.paths import scenarios_dir
from authprobe.plugin.cells import ItemState
from authprobe.plugin.fixtures import Observer

DATA = Path(__file__).resolve().parent / "data"
# Fields the runs recorded before every observed field was declared: since then a summary
# of the series and kind's failure line are evidence, not observations.
BEFORE_DECLARATIONS = {"restart_summary", "reason"}


def shipped():
    return observations.shipped()


def test_every_field_a_recorded_run_observed_is_declared():
    for path in sorted(DATA.glob("outcomes-*.json")):
        data = json.loads(path.read_text())
        seen = {name for cell in data["cells"] for name in cell["observed"]}
        allowed = set() if "observations" in data else BEFORE_DECLARATIONS
        assert seen - set(shipped().by_name) <= allowed, path.name


def test_every_expectation_field_a_row_uses_predicts_a_declared_observation():
    predicted = {o.expect for o in shipped() if o.expect}
    assert set(FIELDS) == predicted | {"na", "note", "seen", "alternatives", "recorded"}
    assert "first_restart_at" in FIELDS and "killed_by" in FIELDS
    assert "killed_by" in FIELDS["killed_by"] and "startup or liveness" in FIELDS["killed_by"]


def test_the_shipped_rows_name_only_declared_fields():
    table = load_files([scenarios_dir() / "expectations.yaml"])  # raises on an unknown field
    used = {name for per in table.scenarios.values() for ranged in per.values()
            for _, row in ranged.rows for name in row}
    assert used <= set(FIELDS)


@pytest.mark.parametrize(("name", "row", "value", "predicted"), [
    ("status", 401, 401, True),
    ("status", 401, 403, False),
    ("killed_by", ["startup", "liveness"], "liveness", True),
    ("killed_by", "startup", "liveness", False),
    ("killed_by", None, None, True),
    ("message", "Unauthorized", "Unauthorized", True),
    ("message", "cannot get path", 'forbidden: User "x" cannot get path "/"', True),
    ("log_tail", "unknown flag", ["I1201 start", "Error: unknown flag: --x"], True),
    ("log_tail", "invalid port", ["Error: unknown flag: --x"], False),
    ("audit_groups", "system:unauthenticated", ["system:unauthenticated"], True),
    ("audit_groups", "system:unauthenticated", ["system:authenticated"], False),
    ("audit_groups", None, [], True),
    ("audit_groups", None, ["system:authenticated"], False),
    ("www_authenticate", False, None, True),
    ("www_authenticate", False, 'Basic realm="x"', False),
    ("first_restart_at", [250, 340], 311.4, True),
    ("first_restart_at", [250, 340], 165.2, False),
    ("first_restart_at", [250, 340], None, False),
    ("audit_decision", "forbid", "forbid", True),
    ("audit_decision", "forbid", "allow", False),
    ("audit_decision", ["forbid", "allow"], "allow", True),
    ("message", ["Unauthorized", "forbidden"], 'pods "p" is forbidden: ', True),
    ("message", ["Unauthorized", "forbidden"], "ok", False),
    ("audit_groups", ["system:masters", "kubeadm:cluster-admins"],
     ["system:authenticated", "kubeadm:cluster-admins"], True),
])
def test_a_row_predicts_a_value_as_its_declaration_says(name, row, value, predicted):
    assert shipped()[name].predicts(row, value) is predicted


@pytest.mark.parametrize(("row", "predicted"), [
    ({"status": 401}, None),
    ({"status": 403}, "forbid"),
    ({"status": 200}, "allow"),
    ({"status": 404}, "allow"),
    ({"status": 101}, "allow"),
    ({"status": [401, 403]}, [None, "forbid"]),
    ({"status": 403, "audit_decision": "allow"}, "allow"),
    ({"message": "x"}, NOT_PREDICTED),
])
def test_a_row_without_a_decision_predicts_the_first_its_status_goes_with(row, predicted):
    assert prediction(shipped()["audit_decision"], row) == predicted


def test_a_status_goes_with_the_decisions_its_declaration_names():
    rule = shipped()["audit_decision"].implied_by
    assert rule.field == "status"
    assert rule.goes_with(401) == (None,)
    assert rule.goes_with(403) == ("forbid", "allow")
    assert rule.goes_with(200) == ("allow",)
    assert rule.goes_with([401, 200]) == (None, "allow")


@pytest.mark.parametrize(("name", "before", "after", "differs"), [
    ("status", 403, 401, True),
    ("status", 403, 403, False),
    ("first_restart_at", 311.4, 165.2, True),
    ("first_restart_at", 311.4, 290.0, False),
    ("first_restart_at", None, 290.0, True),
    ("audit_groups", ["a", "b"], ["b", "a"], False),
    ("audit_groups", ["a"], ["a", "b"], True),
    ("killed_by", "startup", "liveness", True),
])
def test_two_runs_values_compare_as_declared(name, before, after, differs):
    assert shipped()[name].differs(before, after) is differs


def test_values_read_as_declared():
    assert shipped()["up"].reads(True) == "comes up"
    assert shipped()["up"].reads(False) == "does not come up"
    assert shipped()["first_restart_at"].reads(311.4) == "first at 311s"
    assert shipped()["killed_by"].reads("liveness") == "by the liveness probe"
    assert shipped()["killed_by"].reads(None) is None
    assert shipped()["audit_user"].reads(None) == "audited with no user"
    assert shipped()["audit_groups"].reads(["x"]) is None  # not in the message line
    assert shipped()["message"].reads("x" * 200).endswith("…")


def test_an_undeclared_observation_is_refused_with_one_line():
    state = ItemState()
    observe = Observer(state, shipped())
    observe(status=200)
    with pytest.raises(AuthprobeError) as err:
        observe(statsu=200)
    assert "observed field 'statsu' is not declared" in err.value.one_line()
    assert state.observed == {"status": 200}


def test_a_team_declares_its_own_observation_beside_its_rows():
    table = ExpectationTable()
    table.add({
        "observations": {"oidc_issuer": {"meaning": "the issuer the apiserver trusts",
                                         "expect": "issuer", "compare": "exact",
                                         "line": "issuer {value}"}},
        "scenarios": {"my_check": {"oidc-only": [{"since": "1.30", "issuer": "https://x"}]}},
    }, "team.yaml")
    assert "oidc_issuer" in table.observations and "issuer" in table.fields
    assert "oidc_issuer" not in shipped()
    with pytest.raises(AuthprobeError) as err:
        table.add({"observations": {"status": {"meaning": "again"}}, "scenarios": {}}, "b.yaml")
    assert "already declared" in err.value.one_line()


@pytest.mark.parametrize(("spec", "complaint"), [
    ({}, "needs a meaning"),
    ({"meaning": "m", "match": "regex", "expect": "x"}, "match must be one of"),
    ({"meaning": "m", "compare": "fuzzy"}, "compare must be one of"),
    ({"meaning": "m", "compare": "within"}, "goes with a tolerance"),
    ({"meaning": "m", "match": "equal"}, "needs the expectation field"),
    ({"meaning": "m", "colour": "red"}, "unknown key(s) colour"),
    ({"meaning": "m", "follows": "kubelet_patience"}, "follows must name a version fact"),
    ({"meaning": "m", "expect": "x", "implied_by": "status"}, "implied_by takes field"),
    ({"meaning": "m", "expect": "x", "implied_by": {"field": "status", "values": {"1": []}}},
     "must map each value of the other field to a non-empty list"),
    ({"meaning": "m", "expect": "x", "implied_by": {"field": "x"}}, "another row field"),
    ({"meaning": "m", "implied_by": {"field": "status"}}, "needs the row field it implies"),
])
def test_malformed_declarations_are_one_line(spec, complaint):
    with pytest.raises(AuthprobeError) as err:
        Declarations().add({"x": spec}, "team.yaml")
    assert complaint in err.value.one_line() and "observations.x" in err.value.one_line()
