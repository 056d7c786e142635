"""The reports rendered from outcome files that real runs wrote (tests/unit/data): every
recorded HTTP cell names the audit record behind it, the restart cells carry the kubelet's
and the apiserver's view of the probes, and each report format counts what the file holds."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from authprobe.model.outcome import EXPECTED_FAILURE, PASS, CellRecord
from authprobe.report import grid, junit, matrix, plot, summary

DATA = Path(__file__).resolve().parent / "data"
RECORDED = sorted(p for p in DATA.glob("outcomes-*.json") if "authprobe-0.1" not in p.name)


@pytest.fixture(params=RECORDED, ids=lambda p: p.stem)
def recorded(request) -> dict:
    doc = json.loads(request.param.read_text())
    assert doc["schema"] == "authprobe-outcomes/2"
    return doc


def http_cells(doc: dict, predicate, record: str = "audit") -> list[dict]:
    """Passing cells of one request whose row matches ``predicate`` and whose evidence holds
    ``record``: the apiserver's audit records of it ("audit"), or for a request to the
    kubelet the reviews it asked the apiserver for ("kubelet_reviews")."""
    return [c for c in doc["cells"] if c["outcome"] == PASS and "status" in c["expected"]
            and record in c["evidence"] and predicate(c["expected"])]


def test_the_recorded_files_cover_the_minors_the_issues_name():
    minors = {c["minor"] for p in RECORDED for c in json.loads(p.read_text())["cells"]}
    assert {"1.19", "1.30", "1.31", "1.32", "1.33", "1.34", "1.35", "1.36", "1.37"} <= minors


def test_every_anonymous_cell_names_its_audit_record(recorded):
    cells = http_cells(recorded, lambda e: e.get("audit_user") == "system:anonymous")
    assert cells, "a recorded run without a passing anonymous cell"
    for cell in cells:
        records = cell["evidence"]["audit"]
        assert records, cell["scenario"]
        assert all(r["user"] == "system:anonymous" for r in records)
        assert all("system:unauthenticated" in r["groups"] for r in records)
        assert records[-1]["code"] == cell["observed"]["status"]
        assert records[-1]["audit_id"]


def test_every_kubelet_cell_names_the_reviews_the_kubelet_asked_for():
    """The kubelet answers 401 with no review; otherwise it asks the apiserver about the
    caller (TokenReview) and the access (SubjectAccessReview), or holds an earlier answer
    (the sweep: the kubelet scenarios on every minor)."""
    sweep = json.loads((DATA / "outcomes-sweep-1.19-1.37.json").read_text())
    cells = http_cells(sweep, lambda e: True, record="kubelet_reviews")
    assert {c["status"] for c in (cell["observed"] for cell in cells)} == {200, 401, 403}
    for cell in cells:
        evidence, status = cell["evidence"], cell["observed"]["status"]
        reviews = evidence["kubelet_reviews"] or evidence["kubelet_reviews_held"]
        if status == 401:
            assert reviews == [], cell["scenario"]
            continue
        access = [r for r in reviews if r["kind"] == "SubjectAccessReview"]
        assert access and all(r["audit_id"] for r in access), cell["scenario"]
        assert {r["user"] for r in access} == {cell["expected"]["audit_user"]}
        assert any(r["allowed"] for r in access) == (status == 200), cell["scenario"]


def test_every_401_cell_was_audited_with_no_user(recorded):
    cells = http_cells(recorded, lambda e: e.get("status") == 401)
    assert cells
    for cell in cells:
        records = cell["evidence"]["audit"]
        assert records and all(r["user"] is None and r["code"] == 401 for r in records)


def test_the_anon_off_restarts_show_the_401s_from_the_kubelet_and_the_audit_log(recorded):
    cells = [c for c in recorded["cells"]
             if c["profile"] == "anon-off" and c["scenario"] == "apiserver_restarts"]
    assert cells
    for cell in cells:
        assert cell["outcome"] == EXPECTED_FAILURE
        assert cell["observed"]["restart_cause"] == "probe-401"
        failures = cell["evidence"]["kubelet_probe_failures"]
        # the kubelet logs 401s; a probe of an apiserver still starting gets no answer
        assert 401 in {f["status"] for f in failures}
        assert {f["status"] for f in failures} <= {401, None}
        audited = cell["evidence"]["audited_probes"]
        assert audited and all(key.endswith("401 (no user)") for key in audited)


def test_the_matrix_shows_who_the_apiserver_saw(recorded):
    text = matrix.render_md(recorded)
    assert "audited as system:anonymous" in text and "audited with no user" in text
    html = matrix.render_html(recorded)
    for cell in http_cells(recorded, lambda e: e.get("audit_user") == "system:anonymous"):
        start = html.index(f'id="{grid.cell_anchor(CellRecord.from_dict(cell))}"')
        section = html[start:html.find('id="cell-', start + 1)]
        assert cell["evidence"]["audit"][-1]["audit_id"] in section
        assert "system:anonymous" in section and "system:unauthenticated" in section


def test_junit_counts_what_the_file_holds(recorded):
    root = ET.fromstring(junit.render(recorded, hostname="host"))
    suite = next(s for s in root.iter("testsuite") if s.get("name") == junit.CELL_SUITE)
    counts = recorded["run"]["counts"]
    assert int(suite.get("tests")) == len(recorded["cells"]) == sum(counts.values())
    assert int(suite.get("failures")) == counts["fail"]
    assert int(suite.get("errors")) == counts["error"]
    assert int(suite.get("skipped")) == counts["skipped"] + counts["n/a"]


def test_the_plot_marks_every_kubelet_probe_failure(recorded):
    svg = plot.render(plot.series_lines(recorded))
    ET.fromstring(svg)
    failures = sum(len(s["probe_failures"]) for s in recorded["restart_series"])
    assert failures > 0
    assert svg.count('class="probe-failure"') == failures


def test_the_console_summary_counts_the_cells(recorded, tmp_path):
    lines = summary.lines(recorded, tmp_path)
    assert f"outcomes: {grid.counts_line(grid.cells_of(recorded))}" in lines
