"""Report rendering from recorded outcome files (tests/unit/data/outcomes-*.json)."""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from authprobe.errors import AuthprobeError
from authprobe.report import csvout, junit, matrix, merge, outcomes, plot, run_id, summary
from authprobe.report.writer import write_all

DATA = Path(__file__).parent / "data"
RECORDED = sorted(DATA.glob("outcomes-*.json"))


@pytest.fixture(params=RECORDED, ids=lambda p: p.name)
def recorded(request) -> outcomes.Outcomes:
    return outcomes.load(request.param)


def test_recorded_files_exist_for_two_versions():
    loaded = [outcomes.load(p) for p in RECORDED]
    minors = {outcomes.minor_of(v) for o in loaded for v in o.versions}
    assert {"1.34", "1.36"} <= minors


def test_recorded_cells_are_complete(recorded):
    assert recorded.cells
    for cell in recorded.cells:
        assert cell.outcome in outcomes.OUTCOMES
        assert cell.profile and cell.scenario and cell.version
        if cell.expected:  # none when the cluster fixture skipped before the lookup
            assert cell.expected.get("scenario") == cell.scenario
            assert cell.expected.get("profile") == cell.profile
        else:
            assert cell.outcome in ("n/a", "error", "skipped")
    keys = [c.key for c in recorded.cells]
    assert len(keys) == len(set(keys))


def test_rows_follow_the_story_order(recorded):
    rows, _, _ = matrix.grid(recorded.cells)
    known_profiles, known_scenarios = matrix.story_order()
    profiles = list(dict.fromkeys(p for p, _ in rows))
    assert [p for p in known_profiles if p in profiles] == profiles[:len(
        [p for p in known_profiles if p in profiles])]
    first = [s for p, s in rows if p == profiles[0]]
    assert first == sorted(first, key=lambda s: (known_scenarios.index(s)
                                                 if s in known_scenarios else 99))


def test_markdown_matrix_has_every_cell(recorded):
    text = matrix.render_md(recorded.data)
    for cell in recorded.cells:
        assert f"matrix.html#{cell.anchor}" in text
    header = next(line for line in text.splitlines() if line.startswith("| profile |"))
    assert header.split("|")[3:-1] == [f" {v} " for v in recorded.versions]


def test_html_matrix_is_self_contained_and_links_evidence(recorded):
    html = matrix.render_html(recorded.data)
    assert "<table class='matrix' id='outcome-matrix'>" in html
    assert html.count("<svg") == 1
    assert not re.search(r"""(src|href)=['"](https?:)?//""", html), "external asset"
    assert "<link" not in html and "<script" not in html
    for cell in recorded.cells:
        assert f"href='#{cell.anchor}'" in html
        assert f"id='{cell.anchor}'" in html
    for entry in recorded.data["logs"]:
        assert f"href='{entry['path']}'" in html


def test_junit_is_consistent(recorded):
    root = ET.fromstring(junit.render(recorded.data, hostname="host"))
    total = 0
    for suite in root.findall("testsuite"):
        cases = suite.findall("testcase")
        total += len(cases)
        assert int(suite.get("tests")) == len(cases)
        for kind, attr in (("failure", "failures"), ("error", "errors"),
                           ("skipped", "skipped")):
            assert int(suite.get(attr)) == len(suite.findall(f"testcase/{kind}"))
    assert int(root.get("tests")) == total
    lifecycle = [s for s in root.findall("testsuite")
                 if s.get("name") == "authprobe.cluster-lifecycle"]
    assert len(lifecycle) == (1 if recorded.data["phases"] else 0)
    if lifecycle:
        assert len(lifecycle[0].findall("testcase")) == len(recorded.data["phases"])


def test_junit_marks_error_cells_as_errors(recorded):
    root = ET.fromstring(junit.render(recorded.data, hostname="host"))
    by_outcome = {}
    for case in root.iter("testcase"):
        props = {p.get("name"): p.get("value") for p in case.findall("properties/property")}
        if "scenario" in props and "outcome" in props:
            by_outcome.setdefault(props["outcome"], []).append(case)
    for case in by_outcome.get("error", []):
        assert case.find("error") is not None
    for case in by_outcome.get("fail", []):
        assert case.find("failure") is not None
    for name in ("pass", "expected-failure"):
        for case in by_outcome.get(name, []):
            assert case.find("failure") is None and case.find("error") is None


def test_junit_text_is_valid_xml_even_with_control_characters():
    document = {"run": {"id": "r"}, "cells": [], "phases": [], "tests": [{
        "nodeid": "scenarios/test_a.py::test_x[anon-on-1.34]", "outcome": "failed",
        "message": "bad \x1b[31mred\x1b[0m \x00 byte", "duration": 1.0, "properties": [],
        "detail": "line\x07",
    }]}
    root = ET.fromstring(junit.render(document, hostname="host"))
    failure = root.find("testsuite/testcase/failure")
    assert failure.get("message") == "bad red  byte"
    case = root.find("testsuite/testcase")
    assert case.get("classname") == "scenarios.test_a"
    assert case.get("name") == "test_x[anon-on-1.34]"


def test_csv_has_one_row_per_sample(recorded):
    rows = list(csv.DictReader(io.StringIO(csvout.render(recorded.data))))
    samples = sum(len(e["samples"]) for e in recorded.data["restart_series"])
    assert len(rows) == samples
    assert set(rows[0]) == set(csvout.COLUMNS)
    assert {r["ready"] for r in rows} <= {"true", "false"}


def test_svg_has_a_line_and_legend_entry_per_series(recorded):
    lines = plot.series_lines(recorded.data)
    svg = plot.render(lines)
    ET.fromstring(svg)  # well-formed
    assert svg.count("<polyline") == len([line for line in lines if line[1]])
    for label, *_ in lines:
        assert f">{label}</text>" in svg
    assert "restart count" in svg and "seconds since kube-apiserver started" in svg


def test_svg_without_samples_says_so():
    svg = plot.render([])
    ET.fromstring(svg)
    assert "no restart samples" in svg


@pytest.mark.parametrize("upper,integer,expected", [
    (330, False, [0, 100, 200, 300, 400]),
    (4, True, [0, 1, 2, 3, 4]),
    (1, True, [0, 1]),
    (27, True, [0, 5, 10, 15, 20, 25, 30]),
])
def test_ticks_are_round(upper, integer, expected):
    assert plot.ticks(upper, integer=integer) == expected


def test_console_summary_has_a_line_per_profile_and_lists_failures(recorded, tmp_path):
    lines = summary.lines(recorded.data, tmp_path)
    rows, _, _ = matrix.grid(recorded.cells)
    profiles = list(dict.fromkeys(p for p, _ in rows))
    scenarios = list(dict.fromkeys(s for _, s in rows))
    for profile in profiles:
        row = next(line for line in lines if line.split(" ")[0] == profile)
        for version, marks in zip(recorded.versions, row[len(profile):].split(), strict=True):
            for scenario, mark in zip(scenarios, marks, strict=False):
                cell = next((c for c in recorded.cells
                             if c.key == (profile, scenario, version)), None)
                assert mark == (summary.MARKS[cell.outcome] if cell else summary.NOT_RUN)
    bad = [c for c in recorded.cells if c.outcome in ("fail", "error")]
    listed = [line for line in lines if line.startswith(("fail: ", "error: "))]
    assert len(listed) == min(len(bad), summary.MAX_LISTED)
    assert lines[-1] == f"report: {tmp_path / 'matrix.html'}"
    assert any(line.startswith("outcomes: ") for line in lines)
    assert len(lines) <= 10 + len(profiles) + summary.MAX_LISTED + summary.MAX_PHASES


def test_write_all_reproduces_a_report_folder(recorded, tmp_path):
    write_all(recorded.data, tmp_path)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["junit.xml", "matrix.html", "matrix.md", "outcomes.json", "restarts.csv",
                     "restarts.svg"]
    again = outcomes.load(tmp_path)
    assert [c.to_dict() for c in again.cells] == [c.to_dict() for c in recorded.cells]


def test_merge_gives_one_matrix_over_both_versions(tmp_path):
    merged = merge.merge([outcomes.load(p) for p in RECORDED], tmp_path)
    loaded = [outcomes.load(p) for p in RECORDED]
    assert merged["run"]["versions"] == sorted(
        {v for o in loaded for v in o.versions}, key=outcomes.version_key)
    assert len(merged["cells"]) == len({c.key for o in loaded for c in o.cells})
    assert merged["run"]["id"].startswith("merged-")


def test_run_id_is_utc_time_and_minors():
    import datetime as dt

    started = dt.datetime(2026, 11, 27, 7, 15, tzinfo=dt.timezone.utc)
    assert run_id(started, ["1.34.12"]) == "20261127T071500Z-k8s1.34"
    assert run_id(started, ["1.36.4", "1.34.12", "1.34"]) == "20261127T071500Z-k8s1.34-1.36"
    assert run_id(started, []) == "20261127T071500Z"


@pytest.mark.parametrize("content,fragment", [
    (None, "no such report folder"),
    ("{", "not a readable outcomes file"),
    ('{"schema": "something-else"}', "not an outcomes file"),
    ('{"schema": "authprobe-outcomes/1", "cells": [{"profile": "a"}]}', "cell 0 is malformed"),
    ('{"schema": "authprobe-outcomes/1", "cells": [{"profile": "a", "scenario": "s", '
     '"version": "1.34", "outcome": "great"}]}', "cell 0 is malformed"),
])
def test_bad_outcome_files_are_one_line_errors(tmp_path, content, fragment):
    target = tmp_path / "run"
    if content is not None:
        target.mkdir()
        (target / "outcomes.json").write_text(content)
    with pytest.raises(AuthprobeError) as err:
        outcomes.load(target)
    assert fragment in err.value.one_line()
    assert "\n" not in err.value.one_line()


def test_recorded_files_hold_no_credentials():
    for path in RECORDED:
        text = path.read_text()
        assert "PRIVATE KEY-----\n" not in text
        assert not re.search(r"Bearer (?!\[redacted\])[A-Za-z0-9]", text)
        assert "client-key-data: " not in text.replace("client-key-data: [redacted]", "")
        data = json.loads(text)
        assert data["schema"] == outcomes.SCHEMA


def test_merge_of_a_missing_folder_is_one_line_and_exit_2(tmp_path, capsys):
    from authprobe.cli import main

    status = main(["merge", "--output", str(tmp_path / "out"), str(RECORDED[0]),
                   str(tmp_path / "missing")])
    err = capsys.readouterr().err
    assert status == 2 and err.startswith("authprobe: error: ") and err.count("\n") == 1
