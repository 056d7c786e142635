"""The default roles' rules across minors, in `authprobe diff` and the report: the sweep of
default_roles_served recorded on every minor (tests/unit/data), judged by the shipped rows,
and copies of it with a rule added or lost where no row says so."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from pathlib import Path

import pytest
from outcome_files import run_folder

from authprobe.cli import main
from authprobe.commands.diff import upgrade_sides, with_rows
from authprobe.model.observations import shipped
from authprobe.model.predictions import disagreements
from authprobe.paths import scenarios_dir
from authprobe.report import changes, diff
from authprobe.report.by_version import of_version
from authprobe.report.document import load

DATA = Path(__file__).resolve().parent / "data"
SWEEP = DATA / "default-roles-1.19-1.37.json"
ROWS = str(scenarios_dir() / "expectations.yaml")
FIELD = "default_role_rules"
NODE_METRICS = "[system:monitoring] core: nodes/metrics (get)"
STRAY = "[view] core: secrets (get,list,watch)"


@pytest.fixture
def recorded():
    return json.loads(SWEEP.read_text())


def rules_of(data: dict, version: str) -> list:
    return next(c for c in data["cells"] if c["version"] == version)["observed"][FIELD]


def adjacent(path: Path) -> dict[tuple[str, str], diff.Change]:
    """The change of the one cell of each adjacent pair of the report, judged by the shipped
    rows (as `authprobe diff --adjacent --rows scenarios/expectations.yaml`)."""
    report = load(path)
    found = {}
    for old, new in zip(report.versions, report.versions[1:], strict=False):
        listed, _, compared = diff.compare(with_rows(of_version(report, old), [ROWS]),
                                           with_rows(of_version(report, new), [ROWS]))
        assert compared == 1
        for change in listed:
            found[(old, new)] = change
    return found


def test_every_minor_served_the_rules_its_rows_compose(recorded):
    cells = recorded["cells"]
    assert [c["version"] for c in cells] == ["1.19.16", "1.30.14", "1.31.4", "1.32.9",
                                             "1.33.13", "1.34.12", "1.35.8", "1.36.5",
                                             "1.37.2"]
    assert {c["outcome"] for c in cells} == {"pass"}
    assert NODE_METRICS not in rules_of(recorded, "1.33.13")
    assert NODE_METRICS in rules_of(recorded, "1.34.12")


def test_the_adjacent_diff_explains_the_rules_of_every_pair_that_changed(recorded):
    found = adjacent(SWEEP)
    assert set(found) == {("1.19.16", "1.30.14"), ("1.31.4", "1.32.9"), ("1.32.9", "1.33.13"),
                          ("1.33.13", "1.34.12"), ("1.34.12", "1.35.8"), ("1.35.8", "1.36.5"),
                          ("1.36.5", "1.37.2")}, "1.30 -> 1.31 changed no rule"
    for change in found.values():
        assert change.kind == diff.EXPECTED
        assert change.judged == {FIELD: diff.EXPLAINED}
    added, removed = found[("1.33.13", "1.34.12")].items[FIELD]
    assert NODE_METRICS in added and len(added) == 13 and removed == []
    added, removed = found[("1.19.16", "1.30.14")].items[FIELD]
    assert (len(added), len(removed)) == (22, 4)
    assert "[edit] core: endpoints (create,delete,deletecollection,get,list,patch,update,watch)" \
        in removed


def test_the_diff_names_each_rule_added_and_removed_by_role(capsys):
    assert main(["diff", "--adjacent", "--rows", ROWS, str(SWEEP)]) == 0
    out = capsys.readouterr().out
    assert out.count("No regression: 1 of 1 compared cells changed (1 expected).") == 7
    assert ("default_role_rules: added `[system:node-proxier] networking.k8s.io: servicecidrs "
            "(list,watch)`") in out
    assert ("removed `[system:controller:namespace-controller] *: * "
            "(delete,deletecollection,get,list)`") in out


def test_a_rule_no_row_adds_is_a_regression_on_both_sides_of_it(tmp_path, recorded):
    data = copy.deepcopy(recorded)
    rules_of(data, "1.35.8").append(STRAY)
    found = adjacent(run_folder(tmp_path, "run", data))
    for pair in (("1.34.12", "1.35.8"), ("1.35.8", "1.36.5")):
        assert found[pair].kind == diff.REGRESSION
        assert found[pair].judged == {FIELD: diff.UNPREDICTED}
    # the rows' own rules still changed: the stray one is in the listing beside them
    added, _ = found[("1.34.12", "1.35.8")].items[FIELD]
    assert STRAY in added and "[view] events.k8s.io: events (get,list,watch)" in added


def test_a_rule_a_row_adds_that_did_not_come_is_a_regression(tmp_path, recorded, capsys):
    data = copy.deepcopy(recorded)
    rules_of(data, "1.34.12").remove(NODE_METRICS)
    path = run_folder(tmp_path, "run", data)
    assert adjacent(path)[("1.33.13", "1.34.12")].kind == diff.REGRESSION
    assert main(["diff", "--adjacent", "--rows", ROWS, str(path)]) == 1
    assert "**1 regression**" in capsys.readouterr().out


def test_a_rule_changed_on_the_same_version_is_unpredicted(tmp_path, recorded):
    data = copy.deepcopy(recorded)
    rules_of(data, "1.36.5").remove("[system:monitoring] url /flagz (get)")
    listed, _, _ = diff.compare(with_rows(load(SWEEP), [ROWS]),
                                with_rows(load(run_folder(tmp_path, "run", data)), [ROWS]))
    assert [(c.versions, c.kind) for c in listed] == [("1.36.5", diff.REGRESSION)]
    assert listed[0].items[FIELD] == ([], ["[system:monitoring] url /flagz (get)"])


def test_the_reports_changes_section_reads_a_set_as_the_rules_it_lost_and_gained(recorded):
    document = copy.deepcopy(recorded)
    pairs = changes.adjacent(document)
    item = next(i for p in pairs if (p.old, p.new) == ("1.31.4", "1.32.9")
                for g in p.groups for i in g.items)
    (name, before, after, _), = item.what
    assert name == FIELD
    assert before == ("removed 1: [system:controller:namespace-controller] *: * "
                      "(delete,deletecollection,get,list)")
    assert after.startswith("added 1: [system:controller:namespace-controller] *: * ")


UPGRADE = DATA / "default-roles-upgrade-1.33-1.34.json"
FROZEN = "[system:basic-user] authorization.k8s.io: selfsubjectrulesreviews (create)"


def fresh(versions: tuple[str, ...]):
    """The sweep's cells of these versions, as a run of its own."""
    report = load(SWEEP)
    return with_rows(replace(report, cells=[c for c in report.cells if c.version in versions]),
                     [ROWS])


def test_the_upgrade_gave_the_roles_the_rules_of_the_new_minor_and_took_none(capsys):
    assert main(["diff", "--upgrade", str(UPGRADE)]) == 0
    out = capsys.readouterr().out
    assert "1.33.13 → 1.34.12" in out and "| expected | anon-on | default_roles_served |" in out
    before, after = upgrade_sides(load(UPGRADE))[0]
    listed, _, _ = diff.compare(before, after)
    served = next(c for c in listed if c.scenario == "default_roles_served")
    added, removed = served.items[FIELD]
    assert NODE_METRICS in added and len(added) == 13 and removed == []
    assert served.judged == {FIELD: diff.EXPLAINED}


def test_the_upgraded_cluster_serves_the_rules_of_a_fresh_cluster_of_its_minor():
    listed, pairs, compared = diff.compare(fresh(("1.33.13", "1.34.12")), load(UPGRADE))
    assert pairs == {"1.33.13": "1.33.13", "1.34.12": "1.34.12"} and compared == 2
    assert [(c.scenario, c.kind) for c in listed] == [("default_roles_after_upgrade",
                                                       diff.ADDED)]


def test_a_role_the_upgrade_left_unlike_a_fresh_one_is_named_and_unpredicted(tmp_path):
    data = json.loads(UPGRADE.read_text())
    upgraded = next(c for c in data["cells"] if c["scenario"] == "default_roles_served"
                    and c["upgraded_from"])
    upgraded["observed"][FIELD].remove(FROZEN)  # the frozen role, had it not been put back
    listed, _, _ = diff.compare(fresh(("1.33.13", "1.34.12")),
                                load(run_folder(tmp_path, "run", data)))
    served = next(c for c in listed if c.scenario == "default_roles_served")
    assert (served.versions, served.kind) == ("1.34.12", diff.REGRESSION)
    assert served.items[FIELD] == ([], [FROZEN])


def test_the_reconciliation_of_the_edited_roles_is_what_its_row_says():
    cell = next(c for c in load(UPGRADE).cells if c.scenario == "default_roles_after_upgrade")
    assert cell.outcome == "pass" and cell.upgraded_from == "1.33.13"
    assert cell.observed == {
        "role_edits_kept": [FROZEN],
        "role_edits_undone": ["[system:public-info-viewer] url /version/ (get)"],
        "reconcile_protected": ["system:basic-user"]}
    assert disagreements(shipped(), cell.expected, cell.observed) == []
    said, = cell.evidence["apiserver_protected"]
    assert "skipped reconcile-protected clusterrole.rbac.authorization.k8s.io/system:basic-user" \
        in said
