"""A run whose scenarios have no row for a team's profile: its cells run (on clusters a
stand-in pool hands out: these tests reach no Docker engine) and are shown as not judged,
first in the report, counted, with the command that records their rows; --fail-on-unjudged
(or its environment variable) fails the run. Then the rows recorded from that run judge the
next one, and a change from them fails its cell as not accepted."""

from __future__ import annotations

import json

import pytest

from authprobe.cli import main

STAND_IN = """
import threading
from types import SimpleNamespace

from authprobe.harness import images
from authprobe.host import engine
from authprobe.model.versions import resolve
from authprobe.plugin import planning, session


class Handle:
    up, start_failure = True, None
    image, image_source, kind_version = "stand-in/node", "local", "v0.0.0"

    def __init__(self, cell):
        self.name = "stand-in-" + cell.id
        self.version = resolve(cell.minor).patch


class Pool:
    max_alive = 4

    def __init__(self):
        self.aborting = threading.Event()

    def start(self, cells):
        pass

    def image(self, minor):
        pass

    def get(self, cell):
        return Handle(cell)

    def release(self, cell, export_logs=False):
        pass

    def finish(self):
        pass

    def abort(self):
        return []


def pytest_configure(config):
    engine.ensure_engine = lambda: None
    images.registry_answers = lambda: False
    planning.choose_images = lambda sel, registry: {
        m: SimpleNamespace(supported=None, choice=SimpleNamespace(version=resolve(m).patch))
        for m in sel.minors}
    session.Harness._make_pool = lambda self, sel, versions: Pool()
"""
TEAM_PROFILE = """\
description: the team's cluster
apiserver:
  extraArgs:
    profiling: "false"
"""
SCENARIOS = """
import os


def test_old_check(cluster, expected, observe):
    observe(status=401)
    assert expected.status == 401, "the scenario compares what it saw with its row"


def test_new_check(cluster, expected, observe):
    observe(status=int(os.environ.get("NEW_CHECK_STATUS", "403")))
"""
# The team's rows, written a release ago: new_check came later (its rows are a shipped
# profile's only).
ROWS = """\
scenarios:
  old_check:
    team-a: [{since: "1.19", status: 401}]
  new_check:
    anon-on: [{since: "1.19", status: 403}]
"""


@pytest.fixture
def team(project):
    (project.path / "test_cells.py").unlink()
    (project.mkdir("profiles") / "team-a.yaml").write_text(TEAM_PROFILE)
    (project.path / "expectations.yaml").write_text(ROWS)
    project.makepyfile(standin=STAND_IN, test_team=SCENARIOS)
    project.makeini("[pytest]\nauthprobe_profiles = profiles\n"
                    "authprobe_expectations = expectations.yaml\n")
    return project


def run(team, *args):
    return team.run("-p", "standin", "--profile", "team-a", *args)


def report(team) -> dict:
    return json.loads((team.path / "reports" / "latest" / "outcomes.json").read_text())


def cell_of(doc: dict, scenario: str) -> dict:
    return next(c for c in doc["cells"] if c["scenario"] == scenario)


def test_a_scenario_with_no_row_runs_and_is_shown_not_judged(team):
    result = run(team)
    text = team.text(result)
    assert result.ret == 0, text
    assert "has no expectations" not in text
    doc = report(team)
    new = cell_of(doc, "new_check")
    assert new["outcome"] == "not-judged" and new["observed"] == {"status": 403}
    assert new["message"].startswith("not judged: no expectation row for team-a on 1.34")
    assert "authprobe rows record REPORT records its row" in new["message"]
    assert cell_of(doc, "old_check")["outcome"] == "pass"
    assert doc["run"]["counts"]["not-judged"] == 1
    run_dir = team.path / "reports" / doc["run"]["id"]
    assert (f"not judged: 1 cells have no expectation row (team-a); record their rows: "
            f"authprobe rows record {run_dir}") in text
    assert "1 pass, 1 not judged" in text
    md = (run_dir / "matrix.md").read_text()
    assert md.index("## Not judged") < md.index("## Outcome matrix")
    assert "authprobe rows record <this report's folder>" in md
    assert "not judged" in (run_dir / "junit.xml").read_text()


def test_a_scenario_that_checks_its_missing_row_is_not_judged_either(team):
    (team.path / "expectations.yaml").write_text(ROWS.replace("  old_check:\n    team-a",
                                                               "  old_check:\n    anon-on"))
    result = run(team)
    assert result.ret == 0, team.text(result)
    old = cell_of(report(team), "old_check")
    assert old["outcome"] == "not-judged"
    assert "the scenario's own check, with no row to read: AssertionError" in old["message"]


@pytest.mark.parametrize("how", ["option", "environment"])
def test_fail_on_unjudged_fails_the_run(team, monkeypatch, how):
    if how == "option":
        result = run(team, "--fail-on-unjudged")
    else:
        monkeypatch.setenv("AUTHPROBE_FAIL_ON_UNJUDGED", "true")
        result = run(team)
    assert result.ret == 1, team.text(result)
    assert "(--fail-on-unjudged)" in team.text(result)
    assert cell_of(report(team), "new_check")["outcome"] == "not-judged"


def test_rows_recorded_from_the_run_judge_the_next_and_a_change_is_not_accepted(
        team, monkeypatch, capsys):
    assert run(team).ret == 0
    first = report(team)
    recorded = team.path / "recorded.yaml"
    assert main(["rows", "record", str(team.path / "reports" / "latest"), "--into",
                 str(recorded)]) == 0
    assert "new: new_check.team-a 1.34" in capsys.readouterr().out
    team.makeini("[pytest]\nauthprobe_profiles = profiles\n"
                 "authprobe_expectations = expectations.yaml recorded.yaml\n")
    result = run(team)
    assert result.ret == 0, team.text(result)
    new = cell_of(report(team), "new_check")
    assert new["outcome"] == "pass"
    assert f"judged by the row recorded from run {first['run']['id']} on 1.34" in new["message"]
    assert new["expected"]["recorded"]["run"] == first["run"]["id"]
    assert "1 cells judged by recorded rows" in team.text(result)
    monkeypatch.setenv("NEW_CHECK_STATUS", "401")
    result = run(team)
    assert result.ret == 1
    new = cell_of(report(team), "new_check")
    assert new["outcome"] == "fail"
    assert new["message"].startswith("not accepted: a change from the row recorded from run")
    assert "status: predicted 403" in new["message"]


def test_a_recorded_rows_file_edited_into_an_invalid_state_stops_the_run_with_one_line(team):
    (team.path / "recorded.yaml").write_text(
        "recorded:\n  new_check:\n    team-a:\n      - since: '1.34'\n        status: 403\n")
    team.makeini("[pytest]\nauthprobe_profiles = profiles\n"
                 "authprobe_expectations = expectations.yaml recorded.yaml\n")
    result = run(team)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    errors = [line for line in result.errlines if line.startswith("ERROR:")]
    assert len(errors) == 1 and "a recorded row needs recorded: {run: <run id>" in errors[0]
    assert not (team.path / "reports").exists()


def test_a_team_field_reads_as_not_predicted_on_a_cell_no_row_judges(team):
    (team.path / "test_team.py").write_text(
        "def test_old_check(cluster, expected, observe):\n"
        "    observe(status=401)\n\n\n"
        "def test_new_check(cluster, expected, observe):\n"
        "    observe(team_value=3)\n"
        "    assert expected.team_field is None\n")
    (team.path / "expectations.yaml").write_text(
        ROWS + "observations:\n  team_value:\n    meaning: a value of the team's own\n"
        "    expect: team_field\n")
    result = run(team)
    assert result.ret == 0, team.text(result)
    new = cell_of(report(team), "new_check")
    assert new["outcome"] == "not-judged" and new["observed"] == {"team_value": 3}
    assert "own check" not in new["message"]
