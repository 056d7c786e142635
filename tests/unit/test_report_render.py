"""The report renderers (matrix.md, matrix.html, restarts.svg, junit.xml, the console summary,
restarts.csv) on a schema-2 outcomes document.

The document is synthetic: :func:`make_document` builds it in code through
``report.document.assemble``, with every outcome kind on two Kubernetes versions, restart
series with kubelet probe failures, audit evidence, run problems and a failed lifecycle
phase. Outcome files recorded from real runs are checked elsewhere.
"""

from __future__ import annotations

import csv
import io
import re
import xml.etree.ElementTree as ET

import pytest

from authprobe.model import outcome
from authprobe.model.outcome import ERROR, EXPECTED_FAILURE, FAIL, NA, NOT_JUDGED, PASS, SKIPPED
from authprobe.model.series import Sample
from authprobe.report import csvout, document, grid, junit, matrix, plot, summary
from authprobe.report.writer import write_all

V1, V2 = "1.34.12", "1.36.4"
ON, PROBE = "anon-on", "anon-off-probe-8080"
ROOT, RESTARTS, PROXY, UP = ("anonymous_get_root", "apiserver_restarts",
                             "anonymous_dashboard_proxy", "control_plane_comes_up")
STATUSZ = "apiserver_statusz_anonymous"  # a scenario the story's rows do not have
STORY = ((ON, PROBE), (UP, ROOT, PROXY, RESTARTS))
SCRIPT = "<script>alert('x')</script>"
PROBLEM = "node image for 1.36.4 could not be built: go build failed (exit 2)"


def cluster_name(profile: str, version: str) -> str:
    return f"authprobe-{profile}-{version.replace('.', '')[:3]}-c0ffee"


def cell(profile: str, scenario: str, version: str, outcome: str, message: str,
         **extra) -> dict:
    """A cell as the harness records it, on the cluster of its profile and version."""
    return {"profile": profile, "scenario": scenario, "minor": version.rsplit(".", 1)[0],
            "version": version, "outcome": outcome, "message": message,
            "expected": {"profile": profile, "scenario": scenario, "since": "1.18"},
            "observed": {}, "evidence": {}, "cluster": cluster_name(profile, version),
            "node_image": f"authprobe/node:v{version}", "image_source": "local",
            "kind_version": "v0.32.0",
            "nodeid": f"scenarios/test_x.py::test_{scenario}[{profile}-{version}]",
            "duration": 0.5, "detail": "", **extra}


def audit(uri: str, code: int, user: str | None) -> dict:
    return {"audit_id": "a1", "verb": "get", "uri": uri, "user": user,
            "groups": ["system:unauthenticated"] if user == "system:anonymous" else [],
            "code": code, "decision": "forbid" if code == 403 else None,
            "reason": "no RBAC policy matched" if code == 403 else None,
            "user_agent": "python-requests", "stage": "ResponseComplete",
            "time": "2026-11-27T07:15:00Z"}


def cells() -> list[dict]:
    return [
        cell(ON, ROOT, V1, PASS, 'status 403 forbidden: User "system:anonymous" cannot get path',
             expected={"profile": ON, "scenario": ROOT, "since": "1.18", "status": 403,
                       "note": "from the SPEC", "seen": ["1.34.12"]},
             observed={"status": 403, "audit_user": "system:anonymous"},
             evidence={"audit": [audit("/", 403, "system:anonymous")]}),
        cell(ON, ROOT, V2, FAIL, f"status 200 | wanted 403 {SCRIPT}",
             expected={"profile": ON, "scenario": ROOT, "since": "1.18", "status": 403},
             observed={"status": 200, "body": SCRIPT},
             evidence={"audit": [audit("/", 200, "system:anonymous")]},
             detail=f"AssertionError: 200 != 403\n{SCRIPT}"),
        cell(ON, RESTARTS, V1, PASS, "restarts flat"),
        cell(ON, RESTARTS, V2, PASS, "restarts climbs"),
        cell(ON, PROXY, V1, SKIPPED, "no Dashboard image offline"),
        cell(ON, PROXY, V2, NA, "n/a: the Dashboard proxy needs a Dashboard for 1.36",
             expected={"profile": ON, "scenario": PROXY, "since": "1.36",
                       "na": "the Dashboard proxy needs a Dashboard for 1.36"}),
        cell(PROBE, UP, V1, EXPECTED_FAILURE,
             "does not come up exit 1 (Error: unknown flag: --insecure-bind-address)",
             expected={"profile": PROBE, "scenario": UP, "since": "1.24", "comes_up": False}),
        cell(PROBE, UP, V2, ERROR, PROBLEM, cluster=None, node_image=None, image_source=None),
        cell(ON, STATUSZ, V2, NOT_JUDGED, "not judged: no expectation row for anon-on on 1.36.4; "
             "saw 403 (authprobe rows record REPORT records its row)", expected={},
             observed={"status": 403}),
    ]


def samples(restarts: list[int], ready: bool, source: str = "api") -> list[dict]:
    return [{"t": 10.0 * i, "restarts": r, "ready": ready, "source": source,
             "last_reason": "Error" if r else None} for i, r in enumerate(restarts)]


def failure(t: float, probe: str = "Liveness", status: int | None = 401) -> dict:
    output = f"HTTP probe failed with statuscode: {status}" if status else "connection refused"
    return {"t": t, "probe": probe, "output": output, "status": status}


def series() -> list[dict]:
    """Three clusters' restart series; six kubelet probe failures in all."""
    return [
        {"cluster": cluster_name(ON, V1), "profile": ON, "version": V1, "shape": "flat",
         "summary": "4 samples over 30s; restarts 0->0; ever ready: yes",
         "samples": samples([0, 0, 0, 0], True), "probe_failures": [failure(5.0, "Readiness")]},
        {"cluster": cluster_name(ON, V2), "profile": ON, "version": V2, "shape": "climbs",
         "summary": "4 samples over 30s; restarts 0->2; ever ready: yes",
         "samples": samples([0, 1, 1, 2], True),
         "probe_failures": [failure(8.0), failure(9.0), failure(18.0)]},
        {"cluster": cluster_name(PROBE, V1), "profile": PROBE, "version": V1,
         "shape": "never-up", "summary": "3 samples over 20s; restarts 1->3; ever ready: no",
         "samples": samples([1, 2, 3], False, "runtime"),
         "probe_failures": [failure(3.0, "Startup", None), failure(13.0, "Startup", None)]},
    ]


def clusters() -> list[dict]:
    out = []
    for profile, version in ((ON, V1), (ON, V2), (PROBE, V1)):
        out.append({"name": cluster_name(profile, version), "profile": profile,
                    "minor": version.rsplit(".", 1)[0], "version": version,
                    "node_image": f"authprobe/node:v{version}", "image_source": "local",
                    "kind_version": "v0.32.0", "came_up": profile == ON,
                    "start_failure": None if profile == ON else "kube-apiserver exited 1",
                    "probe_budget": 240.0, "window": 300.0, "probes": {},
                    "logs_dir": f"logs/{cluster_name(profile, version)}"})
    return out


def phases() -> list[dict]:
    def phase(profile, version, name, outcome, message=""):
        return {"cluster": cluster_name(profile, version), "profile": profile,
                "version": version, "phase": name, "seconds": 12.5, "outcome": outcome,
                "message": message, "logs_dir": None}

    return [phase(ON, V1, "create", "passed"),
            phase(ON, V1, "dashboard", "skipped", "no Dashboard image offline"),
            phase(ON, V2, "create", "passed"),
            phase(ON, V2, "dashboard", "failed", "Dashboard pod did not start in 120s"),
            phase(PROBE, V1, "create", "expected-failure", "control plane did not come up")]


def make_document() -> dict:
    """A schema-2 document with every outcome kind, built the way the harness builds one."""
    run = {"id": "20261127T071500Z-k8s1.34-1.36", "token": "c0ffee",
           "started": "2026-11-27T07:15:00+00:00", "finished": "2026-11-27T07:45:00+00:00",
           "seconds": 1800.0, "exit_status": 1, "pytest_args": ["scenarios", "-n", "2"]}
    tests = [{"nodeid": "scenarios/test_x.py::test_profiles_load", "outcome": "passed",
              "message": "", "duration": 0.1, "detail": ""},
             {"nodeid": "scenarios/test_x.py::test_helper", "outcome": "failed",
              "message": "assert 1 == 2", "duration": 0.2, "detail": "E assert 1 == 2"}]
    probe_results = [
        {"cluster": cluster_name(ON, V1), "profile": ON, "version": V1, "path": "/livez",
         "code": 200, "user": "system:anonymous", "count": 31},
        {"cluster": cluster_name(ON, V2), "profile": ON, "version": V2, "path": "/livez",
         "code": 401, "user": "(none)", "count": 12},
    ]
    logs = [{"cluster": cluster_name(ON, V1), "bytes": 2048,
             "path": f"logs/{cluster_name(ON, V1)}/kube-apiserver.log"},
            {"cluster": cluster_name(ON, V1), "bytes": 100,
             "path": f"logs/{cluster_name(ON, V1)}/kubelet.log"}]
    return document.assemble(run, cells(), tests, phases(), clusters(), series(),
                             probe_results, logs, [PROBLEM])


@pytest.fixture(autouse=True)
def story(monkeypatch):
    """The story's order as an expectation file would give it."""
    monkeypatch.setattr(grid, "story_order", lambda: STORY)


@pytest.fixture
def doc() -> dict:
    return make_document()


def test_document_has_every_kind(doc):
    assert doc["schema"] == document.SCHEMA
    assert doc["run"]["counts"] == {kind: 3 if kind == PASS else 1 for kind in outcome.OUTCOMES}


def test_grid_follows_the_story_then_the_run():
    records = grid.cells_of(make_document())
    rows, versions, lookup = grid.grid(records)
    assert versions == [V1, V2]
    assert rows == [(ON, ROOT), (ON, PROXY), (ON, RESTARTS), (ON, STATUSZ), (PROBE, UP)]
    assert lookup[(PROBE, UP, V2)].outcome == ERROR


def test_grid_keeps_run_order_without_a_story(monkeypatch):
    monkeypatch.setattr(grid, "story_order", lambda: ((), ()))
    rows, _, _ = grid.grid(grid.cells_of(make_document()))
    assert rows == [(ON, ROOT), (ON, RESTARTS), (ON, PROXY), (ON, STATUSZ), (PROBE, UP)]


def test_story_order_reads_the_expectation_file(monkeypatch, tmp_path):
    (tmp_path / "expectations.yaml").write_text(
        "scenarios:\n"
        "  control_plane_comes_up:\n"
        "    anon-off:\n      - since: '1.18'\n        comes_up: true\n"
        "    anon-on:\n      - since: '1.18'\n        comes_up: true\n"
        "  anonymous_get_root:\n"
        "    anon-on:\n      - since: '1.18'\n        status: 403\n")
    monkeypatch.undo()  # the real story_order, on this file
    monkeypatch.setattr(grid.paths, "scenarios_dir", lambda: tmp_path)
    grid.story_order.cache_clear()
    try:
        assert grid.story_order() == (("anon-off", "anon-on"),
                                        ("control_plane_comes_up", "anonymous_get_root"))
    finally:
        grid.story_order.cache_clear()


def test_html_shows_every_kind_with_its_own_class(doc):
    html = matrix.render_html(doc)
    assert len(set(grid.CLASSES.values())) == len(outcome.OUTCOMES) == 7
    for kind in outcome.OUTCOMES:
        css = grid.CLASSES[kind]
        assert re.search(rf'<td class="{css}"><span class="label">{re.escape(outcome.LABELS[kind])}'
                         r"</span></td><td>", html), kind
        assert outcome.MEANING[kind].replace('"', "&#34;") in html
        assert f'<td class="cell {css}"><a href="#' in html
        assert f".{css} {{" in html  # a style of its own


def test_html_escapes_messages(doc):
    html = matrix.render_html(doc)
    assert "<script" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html


def test_html_is_self_contained(doc):
    html = matrix.render_html(doc)
    assert html.count("<svg") == 1 and "<style>" in html
    assert not re.search(r"""(src|href)=['"](https?:)?//""", html)
    assert "<link" not in html


def test_html_cells_link_to_their_evidence(doc):
    html = matrix.render_html(doc)
    for record in grid.cells_of(doc):
        target = grid.cell_anchor(record)
        assert f'<a href="#{target}">' in html
        assert f'id="{target}"' in html
    section = html[html.index(f'id="{grid.cell_anchor(grid.cells_of(doc)[0])}"'):]
    section = section[:section.index("</section>")]
    assert '<table class="audit">' in section
    assert "<td>get</td><td>/</td><td>403</td><td>system:anonymous</td>" in section
    assert "<td>system:unauthenticated</td><td>forbid</td><td>no RBAC policy matched</td>" \
        in section
    assert '<pre class="expected">' in section and "&#34;status&#34;: 403" in section
    assert f'href="#{grid.anchor("series", cluster_name(ON, V1))}"' in section
    assert "from the SPEC" in section and "1.34.12" in section


def test_html_shows_problems_phases_probes_and_logs(doc):
    html = matrix.render_html(doc)
    start = html.index('<div class="problems"')
    assert PROBLEM in html[start:html.index("</div>", start)]
    assert "Dashboard pod did not start in 120s" in html
    assert '<td class="o-fail">failed</td>' in html
    assert '<td class="o-expected-failure">expected-failure</td>' in html
    assert "<td>/livez</td><td>401</td><td>(none)</td><td>12</td>" in html
    # three 401 liveness failures on the 1.36 cluster, counted into one row
    assert "<td>Liveness</td><td>401</td><td>HTTP probe failed with statuscode: 401</td>" \
           "<td>3</td>" in html
    assert "<td>240s</td><td>300s</td>" in html  # probe budget and window
    assert ('<td title="no: kube-apiserver exited 1">no: kube-apiserver exited 1</td>'
            "<td>never-up</td>") in html
    assert f'href="logs/{cluster_name(ON, V1)}/kube-apiserver.log"' in html


def test_markdown_shows_every_kind(doc):
    md = matrix.render_md(doc)
    assert len(set(grid.SYMBOLS.values())) == 7
    rows = [line for line in md.splitlines() if line.startswith(f"| {ON} |")
            or line.startswith(f"| {PROBE} |")]
    body = "\n".join(rows)
    for kind in outcome.OUTCOMES:
        assert f"[{grid.SYMBOLS[kind]}](matrix.html#cell-" in body, kind
        assert f"**{outcome.LABELS[kind]}**: {outcome.MEANING[kind]}" in md
    assert "status 200 \\| wanted 403 \\<script>" in body  # no table break, no tag
    # each version's message after its span; the n/a one without a second "n/a"
    assert "<br>1.36: ➖ the Dashboard proxy needs a Dashboard for 1.36 |" in body
    assert rows[0].startswith(f"| {ON} | {ROOT} | ")
    assert "| profile | scenario | 1.34 | 1.36 | messages |" in md


def test_markdown_opens_with_the_changes(doc):
    md = matrix.render_md(doc)
    changes = md[md.index("## Changes between adjacent versions"):md.index("## Outcome matrix")]
    assert f"- **{V1} → {V2}**: **2 regressions**: 3 of 4 compared cells changed" in changes
    assert (f"  - regression: {ON} {ROOT}: [✅ pass](matrix.html#cell-{ON}-{ROOT}-{V1}) → "
            f"[❌ fail](matrix.html#cell-{ON}-{ROOT}-{V2}): outcome pass → fail (no row predicts "
            "it); status `403` → `200` (no row predicts it)") in changes
    assert f"  - expected: {ON} {PROXY}: " in changes
    assert md.index("## Failures and errors") < md.index("## Outcome matrix")


def test_markdown_sections(doc):
    md = matrix.render_md(doc)
    assert f"> - {PROBLEM}" in md
    assert "## Cluster lifecycle" in md and "Dashboard pod did not start in 120s" in md
    assert f"| {cluster_name(ON, V2)} | {ON} | {V2} | yes | climbs |" in md
    assert f"| {PROBE} | {V1} | no: kube-apiserver exited 1 | never-up |" in md
    assert f"| {cluster_name(ON, V2)} | /livez | 401 | (none) | 12 |" in md
    assert f"| {cluster_name(ON, V2)} | Liveness | 401 | HTTP probe failed with statuscode: " \
           "401 | 3 |" in md
    assert f"- `logs/{cluster_name(ON, V1)}/`: 2 file(s), 2.1 KiB" in md


def junit_root(doc: dict) -> ET.Element:
    return ET.fromstring(junit.render(doc, hostname="host"))


def test_junit_counts(doc):
    root = junit_root(doc)
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    cells_suite = suites[junit.CELL_SUITE]
    assert (cells_suite.get("tests"), cells_suite.get("failures"), cells_suite.get("errors"),
            cells_suite.get("skipped")) == ("9", "1", "1", "3")
    phases_suite = suites[junit.PHASE_SUITE]
    assert (phases_suite.get("tests"), phases_suite.get("failures"),
            phases_suite.get("skipped")) == ("5", "1", "1")
    assert suites[junit.TEST_SUITE].get("failures") == "1"
    assert (root.get("tests"), root.get("failures"), root.get("errors"),
            root.get("skipped")) == ("16", "3", "1", "4")


def test_junit_cells(doc):
    root = junit_root(doc)
    cases = {(c.get("classname"), c.get("name")): c for c in root.iter("testcase")}
    na = cases[(f"authprobe.{ON}.k8s{V2}", PROXY)].find("skipped")
    assert na.get("message") == "n/a: the Dashboard proxy needs a Dashboard for 1.36"
    skipped = cases[(f"authprobe.{ON}.k8s{V1}", PROXY)].find("skipped")
    assert skipped.get("message") == "no Dashboard image offline"
    expected = cases[(f"authprobe.{PROBE}.k8s{V1}", UP)]
    assert expected.find("system-out").text.startswith("expected failure: does not come up")
    passed = cases[(f"authprobe.{ON}.k8s{V1}", ROOT)]
    assert passed.find("system-out").text.startswith("pass: ")
    props = {p.get("name"): p.get("value") for p in passed.iter("property")}
    assert props == {"profile": ON, "k8s_version": V1, "scenario": ROOT, "outcome": PASS,
                     "cluster": cluster_name(ON, V1), "node_image": f"authprobe/node:v{V1}",
                     "image_source": "local", "kind_version": "v0.32.0"}
    assert cases[(f"authprobe.{PROBE}.k8s{V2}", UP)].find("error").get("message") == PROBLEM
    assert (f"cluster-lifecycle.{ON}.k8s{V2}", "dashboard") in cases


def test_junit_text_is_xml_safe(doc):
    doc["cells"][1]["message"] = "\x1b[31mred\x1b[0m \x07bell"
    failure = [c for c in junit_root(doc).iter("testcase") if c.find("failure") is not None][0]
    assert failure.find("failure").get("message") == "red bell"


SVG = "{http://www.w3.org/2000/svg}"


def panels_of(svg: str) -> dict[str, ET.Element]:
    """The plot's panels by profile."""
    root = ET.fromstring(svg)  # well-formed
    return {g.get("data-profile"): g for g in root.iter(f"{SVG}g") if g.get("class") == "panel"}


def test_plot_has_a_panel_per_profile_and_a_labelled_lane_per_series(doc):
    svg = plot.render(plot.series_lines(doc))
    panels = panels_of(svg)
    assert list(panels) == [ON, PROBE]
    labels = {name: [t.text for t in panel.iter(f"{SVG}text") if t.get("class") == "series-label"]
              for name, panel in panels.items()}
    assert labels == {ON: [V1, V2], PROBE: [V1]}
    assert svg.count('<path class="series"') == len(doc["restart_series"]) == 3
    # one probe budget line per lane, at the clusters' 240s
    assert svg.count('class="probe-budget"') == 3 and "probe budget 240s" in svg
    colours = {label: colour for colour, label in re.findall(
        r'<path class="series" fill="none" stroke="(#[0-9A-F]+)"[^>]*><title>([^<]+)</title>',
        svg)}
    assert colours[f"{ON} ({V1})"] == colours[f"{ON} ({V2})"] != colours[f"{PROBE} ({V1})"]
    assert "never up, 3 restarts" in svg and "2 restarts" in svg


def test_plot_marks_each_probe_failure_on_its_own_lane(doc):
    svg = plot.render(plot.series_lines(doc))
    failures = sum(len(s["probe_failures"]) for s in doc["restart_series"])
    assert svg.count('class="probe-failure"') == failures == 6
    for name, panel in panels_of(svg).items():
        for lane in (g for g in panel.iter(f"{SVG}g") if g.get("class") == "lane"):
            series = next(s for s in doc["restart_series"]
                          if s["profile"] == name and s["version"] == lane.get("data-version"))
            marks = [m for m in lane.iter(f"{SVG}line") if m.get("class") == "probe-failure"]
            assert len(marks) == len(series["probe_failures"])
            assert all(m.find(f"{SVG}title").text.startswith(f"{name} ({series['version']})")
                       for m in marks)
    # a 401 in the colour the legend gives it; a probe with no answer in another
    assert plot.status_colour(401) != plot.status_colour(None)
    assert "kubelet probe failure: HTTP 401" in svg and 'class="legend-marker"' in svg


def test_plot_puts_a_failure_on_the_count_the_series_had_then():
    samples = [Sample(t=10.0, restarts=0, ready=True, last_reason=None, source="api"),
               Sample(t=20.0, restarts=1, ready=False, last_reason="Error", source="api")]
    assert plot.restarts_at(samples, 5.0) == 0
    assert plot.restarts_at(samples, 15.0) == 0
    assert plot.restarts_at(samples, 25.0) == 1


def test_plot_escapes_labels_and_handles_no_series():
    line = plot.Line("a<b & c", [], "a<b", "1.34", [failure(4.0)])
    svg = plot.render([line])
    ET.fromstring(svg)
    assert "a&lt;b &amp; c" in svg and '<path class="series"' not in svg
    assert "no restart samples" in plot.render([])


def test_summary_lists_the_marks(doc, tmp_path):
    lines = summary.lines(doc, tmp_path)
    assert lines[0] == ("marks: . pass  x expected failure  F fail  E error  s skipped  "
                        "- n/a  ? not judged")
    # one column per scenario in the story's order: UP, ROOT, PROXY, RESTARTS, then the run's
    assert lines[1] == f"one mark per scenario, in this order: {UP}, {ROOT},"
    assert lines[2] == f"  {PROXY}, {RESTARTS}, {STATUSZ}"
    assert lines[3:6] == [f"{'':21}{V1}  {V2}",
                          f"{ON:21} .s.      F-.?",
                          f"{PROBE:21}x        E"]
    # the cell no row judged comes first, with the command that records its row
    assert lines[6] == (f"not judged: 1 cells have no expectation row ({ON}); record their "
                        f"rows: authprobe rows record {tmp_path} --into <your recorded.yaml>")
    assert f"fail: {ON} {ROOT} {V2}: status 200 | wanted 403 {SCRIPT}" in lines
    # the cell the run's problem stopped is counted, and the problem said once
    assert f"error: {PROBE} {UP} {V2}: {PROBLEM}" not in lines
    assert "error: 1 cells not run, for the problems below" in lines
    assert f"problem: {PROBLEM}" in lines
    assert (f"cluster {cluster_name(ON, V2)}: dashboard failed: Dashboard pod did not start "
            "in 120s") in lines
    assert ("outcomes: 3 pass, 1 expected failure, 1 fail, 1 error, 1 skipped, 1 n/a, "
            "1 not judged") in lines
    assert lines[-1] == f"report: {tmp_path / 'matrix.html'}"


def test_summary_caps_the_failed_cells(doc, tmp_path):
    doc["cells"] = [cell(ON, f"s{i}", V1, FAIL, "no") for i in range(20)]
    lines = summary.lines(doc, tmp_path)
    assert sum(1 for line in lines if line.startswith("fail: ")) == summary.MAX_LISTED
    assert "... and 5 more failed or errored cells" in lines


def test_write_all(doc, tmp_path):
    paths = write_all(doc, tmp_path)
    names = sorted(p.name for p in paths)
    assert names == ["junit.xml", "matrix.html", "matrix.md", "outcomes.json", "restarts.csv",
                     "restarts.svg"]
    assert document.load(tmp_path).run["id"] == doc["run"]["id"]
    rows = list(csv.DictReader(io.StringIO((tmp_path / csvout.FILENAME).read_text())))
    assert len(rows) == sum(len(s["samples"]) for s in doc["restart_series"])
