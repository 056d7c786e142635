"""Every shipped expectation row against the observation declarations: each field a row
holds is a declared row field, every rule the declarations state between two row fields
holds in it, and the recorded sweep's passing cells saw what their shipped rows predict."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from authprobe.errors import AuthprobeError
from authprobe.model import observations
from authprobe.model.expectations import META_FIELDS, ExpectationTable, load_files
from authprobe.model.predictions import contradictions, disagreements
from authprobe.model.versions import KubeVersion
from authprobe.paths import scenarios_dir

SWEEP = Path(__file__).resolve().parent / "data" / "outcomes-sweep-1.19-1.37.json"


def shipped_rows() -> list[tuple[str, dict]]:
    """(where, row) of every row of scenarios/expectations.yaml."""
    table = load_files([scenarios_dir() / "expectations.yaml"])
    return [(f"{scenario}.{profile} since {since}", row)
            for scenario, per in table.scenarios.items() for profile, ranged in per.items()
            for since, row in ranged.rows]


def test_every_row_field_is_a_declared_row_field_or_a_meta_field():
    declared = {o.expect for o in observations.shipped() if o.expect}
    rows = shipped_rows()
    assert len(rows) > 100
    strays = [(where, name) for where, row in rows for name in row
              if name not in declared and name not in META_FIELDS]
    assert strays == []


def test_the_declarations_state_a_rule_between_row_fields():
    rules = [o for o in observations.shipped() if o.implied_by is not None]
    assert [(o.expect, o.implied_by.field) for o in rules] == [("audit_decision", "status")]


def test_every_rule_between_row_fields_holds_in_every_shipped_row():
    broken = [(where, line) for where, row in shipped_rows()
              for line in contradictions(observations.shipped(), row)]
    assert broken == []


@pytest.mark.parametrize(("row", "complaint"), [
    ({"status": 200, "audit_decision": "forbid"},
     'audit_decision "forbid" does not go with status 200 (it goes with "allow")'),
    ({"status": 401, "audit_decision": "allow"},
     'audit_decision "allow" does not go with status 401 (it goes with null)'),
    ({"status": 403, "audit_decision": [None, "allow"]},
     "audit_decision null does not go with status 403"),
])
def test_a_row_that_breaks_a_rule_is_named_with_the_rule(row, complaint):
    (line,) = contradictions(observations.shipped(), row)
    assert line.startswith(complaint), line
    assert "as the declaration of audit_decision says" in line


def test_a_row_that_keeps_the_rules_breaks_none():
    for row in ({"status": 403, "audit_decision": "allow"}, {"status": 403},
                {"status": [401, 403], "audit_decision": [None, "forbid"]}):
        assert contradictions(observations.shipped(), row) == []


def test_the_shipped_rows_predict_what_the_sweep_s_passing_cells_saw():
    """Judged by the rows as shipped now (not those the sweep recorded): no observation of a
    cell that passed disagrees with its row. The exec rows of 1.35 on said status 403 only,
    which implies decision forbid, while the audit records of every exec cell that ran there
    say allow."""
    table = load_files([scenarios_dir() / "expectations.yaml"])
    every = json.loads(SWEEP.read_text())["cells"]
    cells = [c for c in every if c["outcome"] in ("pass", "expected-failure")]
    assert len(cells) > 800
    found = []
    for cell in cells:
        row = table.lookup(cell["profile"], cell["scenario"], KubeVersion.parse(cell["version"]))
        for line in disagreements(observations.shipped(), row.values, cell["observed"]):
            found.append((cell["profile"], cell["scenario"], cell["version"], line))
    assert found == []
    exec_cells = [c for c in cells if c["scenario"] == "exec_with_get_only"
                  and KubeVersion.parse(c["version"]) >= KubeVersion.parse("1.35")]
    # each profile that applies there, on each of 1.35.8, 1.36.5 and 1.37.2, passed
    ran = [c for c in every if c["scenario"] == "exec_with_get_only" and c["outcome"] != "n/a"
           and KubeVersion.parse(c["version"]) >= KubeVersion.parse("1.35")]
    assert exec_cells == ran
    assert len(ran) == 3 * len({c["profile"] for c in ran}) > 0
    assert {(c["observed"]["audit_code"], c["observed"]["audit_decision"])
            for c in exec_cells} == {(403, "allow")}
    implied = {k: v for k, v in table.lookup(
        "anon-on", "exec_with_get_only", KubeVersion.parse("1.35")).values.items()
        if k != "audit_decision"}
    assert disagreements(observations.shipped(), implied, exec_cells[0]["observed"]) == [
        'audit_decision: predicted "forbid" (from status 403), seen "allow"']


def test_an_expectation_file_whose_row_breaks_a_rule_is_refused_in_one_line():
    """The loader holds a team's rows to the declared rules as the shipped ones are held."""
    table = ExpectationTable()
    data = {"scenarios": {"anonymous_get_root": {"my-profile": [
        {"since": "1.19", "status": 401, "audit_decision": "allow"}]}}}
    with pytest.raises(AuthprobeError) as refused:
        table.add(data, "team.yaml")
    line = refused.value.one_line()
    assert line.startswith("malformed expectation file team.yaml at "
                           "scenarios.anonymous_get_root.my-profile since 1.19: "
                           'audit_decision "allow" does not go with status 401'), line
