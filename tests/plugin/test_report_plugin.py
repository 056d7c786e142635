"""The report plugin under pytester, with a stand-in harness (tests/plugin/report_sim.py)."""

from __future__ import annotations

import json
import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from report_sim import CONFTEST, TESTS

from authprobe.report.plugin import is_scenario

pytest_plugins = ["pytester"]

TOKEN = "3f9c2a7be81d4c55a0e6b1f2c9d8e7a6"
RUN_ID = re.compile(r"^\d{8}T\d{6}Z-k8s1\.34$")
FILES = ("junit.xml", "outcomes.json", "matrix.md", "matrix.html", "restarts.csv",
         "restarts.svg")


@pytest.fixture
def sim(pytester, monkeypatch, tmp_path):
    for name in list(os.environ):
        if name.startswith("AUTHPROBE_"):
            monkeypatch.delenv(name)
    reports = tmp_path / "reports"
    monkeypatch.setenv("AUTHPROBE_REPORTS_DIR", str(reports))
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_scenarios=TESTS)
    pytester.reports = reports
    return pytester


def run(sim, *args):
    return sim.runpytest_inprocess("-p", "authprobe.report.plugin", "-p", "no:cacheprovider",
                                   *args)


def cells_of(folder: Path) -> dict:
    data = json.loads((folder / "outcomes.json").read_text())
    return {(c["profile"], c["scenario"]): c for c in data["cells"]}


def test_a_scenario_run_writes_its_folder_and_latest(sim):
    result = run(sim)
    result.assert_outcomes(passed=16, failed=3, skipped=5)
    folders = [p for p in sim.reports.iterdir() if not p.is_symlink()]
    assert len(folders) == 1
    folder = folders[0]
    assert RUN_ID.match(folder.name), folder.name
    for name in FILES:
        assert (folder / name).stat().st_size > 0, name
    latest = sim.reports / "latest"
    assert latest.is_symlink() and latest.resolve() == folder.resolve()


def test_cells_are_classified(sim):
    run(sim)
    cells = cells_of(sim.reports / "latest")
    assert len(cells) == 24
    assert cells[("anon-on", "anonymous_get_root")]["outcome"] == "pass"
    assert cells[("anon-on", "anonymous_get_root")]["observed"]["status"] == 403
    assert cells[("anon-off", "apiserver_restarts")]["outcome"] == "expected-failure"
    assert cells[("anon-off-probe-8080", "control_plane_comes_up")]["outcome"] == (
        "expected-failure"
    )
    assert cells[("anon-off-probe-8080", "anonymous_get_root")]["outcome"] == "n/a"
    error = cells[("anon-on", "anonymous_dashboard_proxy")]
    assert error["outcome"] == "error"
    assert "ConnectionError" in error["message"]
    assert error["node_image"].startswith("authprobe/node:v1.34.12-")
    assert error["kind_version"] == "v0.32.0"


def test_a_failed_assertion_is_a_fail_with_its_evidence(sim, monkeypatch):
    monkeypatch.setenv("AUTHPROBE_SIM_BREAK", "anon-on/anonymous_get_root")
    run(sim)
    cell = cells_of(sim.reports / "latest")[("anon-on", "anonymous_get_root")]
    assert cell["outcome"] == "fail"
    assert "got 500" in cell["message"]
    assert "AssertionError" in cell["detail"]
    html = (sim.reports / "latest" / "matrix.html").read_text()
    assert "id='cell-anon-on-anonymous_get_root-1.34.12'" in html
    assert "href='#cell-anon-on-anonymous_get_root-1.34.12'" in html


def test_junit_holds_scenarios_and_lifecycle_phases(sim):
    run(sim)
    root = ET.parse(sim.reports / "latest" / "junit.xml").getroot()
    assert root.tag == "testsuites"
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    scenarios, lifecycle = suites["authprobe"], suites["authprobe.cluster-lifecycle"]
    cases = scenarios.findall("testcase")
    assert int(scenarios.get("tests")) == len(cases) == 24
    assert int(scenarios.get("errors")) == len(scenarios.findall("testcase/error")) == 3
    assert int(scenarios.get("skipped")) == len(scenarios.findall("testcase/skipped")) == 5
    assert int(root.get("tests")) == 24 + len(lifecycle.findall("testcase"))
    props = {p.get("name"): p.get("value") for p in cases[0].findall("properties/property")}
    for name in ("k8s_version", "profile", "scenario", "node_image", "kind_version", "cluster",
                 "expected"):
        assert props.get(name), name
    assert any(name.startswith("observed.") for name in props)
    phases = {(c.get("classname"), c.get("name")) for c in lifecycle.findall("testcase")}
    assert ("cluster-lifecycle.anon-on.k8s1.34.12", "create") in phases
    assert ("cluster-lifecycle.anon-on.k8s1.34.12", "teardown") in phases


def test_restart_series_go_to_csv_and_svg(sim):
    run(sim)
    folder = sim.reports / "latest"
    rows = (folder / "restarts.csv").read_text().splitlines()
    assert rows[0] == "cluster,profile,version,t,restarts,ready,last_reason,source"
    assert any(row.startswith("authprobe-anon-off-1-34-12,anon-off,1.34.12,250.0,1,false,Error,")
               for row in rows)
    svg = (folder / "restarts.svg").read_text()
    assert svg.startswith("<svg") and "anon-off (1.34.12)" in svg
    assert "seconds since kube-apiserver started" in svg


def test_exported_logs_are_listed_and_scrubbed(sim):
    run(sim)
    folder = sim.reports / "latest"
    data = json.loads((folder / "outcomes.json").read_text())
    paths = [entry["path"] for entry in data["logs"]]
    assert paths == ["logs/authprobe-anon-off-probe-8080-1-34-12/kube-apiserver.log"]
    assert TOKEN not in (folder / paths[0]).read_text()
    assert paths[0] in (folder / "matrix.html").read_text()


def test_no_credential_reaches_any_report_file(sim):
    run(sim)
    for path in (sim.reports / "latest").resolve().rglob("*"):
        if path.is_file():
            text = path.read_text()
            assert TOKEN not in text, path
            assert not re.search(r"Bearer (?!\[redacted\])", text), path


def test_console_summary_shows_the_matrix_and_the_folder(sim):
    result = run(sim)
    text = result.stdout.str()
    assert "authprobe outcome matrix" in text
    assert re.search(r"\nanon-off +\.\.\.E\.x\n", text)
    assert re.search(r"\nanon-off-probe-8080 +x-----\n", text)
    assert "error: anon-on anonymous_dashboard_proxy 1.34.12: ConnectionError" in text
    assert "outcomes: 14 pass, 2 expected failure, 3 error, 5 n/a" in text
    folder = next(p for p in sim.reports.iterdir() if not p.is_symlink())
    assert f"report: {folder / 'matrix.html'}" in text


def test_reports_dir_option_wins(sim, tmp_path):
    other = tmp_path / "elsewhere"
    run(sim, f"--reports-dir={other}")
    assert (other / "latest" / "outcomes.json").exists()
    assert not sim.reports.exists()


def test_a_run_without_cluster_scenarios_writes_nothing(pytester, monkeypatch, tmp_path):
    reports = tmp_path / "reports"
    monkeypatch.setenv("AUTHPROBE_REPORTS_DIR", str(reports))
    pytester.makepyfile(test_plain="def test_plain():\n    assert True\n")
    result = pytester.runpytest_inprocess("-p", "authprobe.report.plugin")
    result.assert_outcomes(passed=1)
    assert not reports.exists()
    assert "authprobe outcome matrix" not in result.stdout.str()


def test_a_run_stopped_before_any_scenario_writes_nothing(sim):
    sim.makeconftest(CONFTEST + '''
def pytest_collection_finish(session):
    raise pytest.UsageError("no Docker engine answers")
''')
    result = run(sim)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert not sim.reports.exists()


def test_a_cluster_that_fails_before_any_property_is_an_error_in_its_column(sim, monkeypatch):
    monkeypatch.setenv("AUTHPROBE_SIM_DOWN", "anon-health-only")
    run(sim)
    data = json.loads((sim.reports / "latest" / "outcomes.json").read_text())
    assert data["run"]["versions"] == ["1.34.12"]
    cells = {(c["profile"], c["scenario"]): c for c in data["cells"]}
    cell = cells[("anon-health-only", "anonymous_get_root")]
    assert cell["outcome"] == "error"
    assert "did not come up" in cell["message"]


def test_an_unwritable_reports_dir_is_one_line(sim, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = run(sim, f"--reports-dir={blocker / 'reports'}")
    errors = [line for line in result.errlines if "report folder" in line]
    assert errors and errors[0].startswith("authprobe: cannot create a report folder under ")
    assert "Traceback" not in "\n".join(result.errlines)


def test_a_test_with_its_own_cluster_fixture_is_not_a_scenario(pytester, monkeypatch, tmp_path):
    reports = tmp_path / "reports"
    monkeypatch.setenv("AUTHPROBE_REPORTS_DIR", str(reports))
    pytester.makepyfile(test_image='''
import pytest

@pytest.fixture
def cluster():
    return "a cluster of this module's own"

def test_node(cluster):
    assert cluster
''')
    result = pytester.runpytest_inprocess("-p", "authprobe.report.plugin")
    result.assert_outcomes(passed=1)
    assert not reports.exists()


def test_the_harness_cluster_fixture_makes_a_scenario(pytester, monkeypatch):
    for name in list(os.environ):
        if name.startswith("AUTHPROBE_"):
            monkeypatch.delenv(name)
    pytester.makeconftest('pytest_plugins = ["authprobe.plugin"]\n')
    items = pytester.getitems("""
import pytest

def test_uses_harness(cluster):
    pass

def test_plain():
    pass
""")
    marked = {item.name.split("[")[0]: is_scenario(item) for item in items}
    assert marked == {"test_uses_harness": True, "test_plain": False}
