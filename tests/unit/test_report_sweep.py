"""The report of the recorded sweep (nine minors, tests/unit/data): it opens with the changes
between adjacent minors as the diff classes them, then the failures, then a matrix of one mark
per minor; the restart plot has one panel per profile with every series named in it; every
cell's evidence is behind a click."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest

from authprobe.commands.diff import of_version
from authprobe.report import changes, diff, document, evidence, grid, matrix, plot

SWEEP = Path(__file__).resolve().parent / "data" / "outcomes-sweep-1.19-1.37.json"
SVG = "{http://www.w3.org/2000/svg}"


class Page(HTMLParser):
    """Every element's id, every link target, and the text of each section by heading id."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.links: list[str] = []
        self.order: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.add(attrs["id"])
            self.order.append(attrs["id"])
        if tag == "a" and attrs.get("href", "").startswith("#"):
            self.links.append(attrs["href"][1:])


@pytest.fixture(scope="module")
def sweep() -> dict:
    return json.loads(SWEEP.read_text())


@pytest.fixture(scope="module")
def html(sweep) -> str:
    return matrix.render_html(sweep)


@pytest.fixture(scope="module")
def page(html) -> Page:
    parsed = Page()
    parsed.feed(html)
    return parsed


def adjacent_diffs() -> list[tuple[str, str, list[diff.Change], int]]:
    """What `authprobe diff --adjacent` finds in the sweep, pair by pair."""
    run = document.load(SWEEP)
    versions = run.versions
    out = []
    for old, new in zip(versions, versions[1:], strict=False):
        found, _, compared = diff.compare(of_version(run, old), of_version(run, new))
        out.append((old, new, found, compared))
    return out


def test_the_page_opens_with_the_changes_then_the_failures_then_the_matrix(page):
    order = [name for name in page.order if name in ("changes", "failures", "outcome-matrix",
                                                      "restarts", "evidence")]
    assert order == ["changes", "failures", "outcome-matrix", "restarts", "evidence"]


def test_the_changes_are_the_adjacent_diffs_in_its_words(sweep, html, page):
    section = html[html.index('id="changes"'):html.index('id="failures"')]
    diffs = adjacent_diffs()
    assert len(diffs) == 8 and sum(len(found) for _, _, found, _ in diffs) > 0
    for old, new, found, compared in diffs:
        pair = grid.anchor("pair", old, new)
        start = section.index(f'id="{pair}"')
        body = section[start:section.index("</tbody>", start)]
        summary = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>",
                         diff.summary_line(found, compared))
        assert f"{old} → {new}</th>" in body and summary in body
        for change in found:
            item = changes.item(change)
            assert f'id="{item.id}"' in body, item.id
            # the change's own line: its table row, or its item in a group's list
            line = body[body.rindex("<", 0, body.index(f'id="{item.id}"')):]
            line = line[:line.index("</li>" if line.startswith("<li") else "</tr>")]
            assert change.kind in body
            for cell in (change.old, change.new):
                if cell is not None:
                    target = grid.cell_anchor(cell)
                    assert f'href="#{target}"' in line and target in page.ids
    # every link on the page leads somewhere on it
    assert set(page.links) <= page.ids


def test_the_matrix_has_a_mark_per_minor_and_marks_each_change(sweep, html):
    table = html[html.index('id="outcome-matrix"'):html.index("</table>",
                                                             html.index('id="outcome-matrix"'))]
    versions = sweep["run"]["versions"]
    rows = {(c["profile"], c["scenario"]) for c in sweep["cells"]}
    # a full grid: every profile's scenarios on every minor, one mark per cell of the sweep
    assert table.count('<td class="cell ') == len(rows) * len(versions) == len(sweep["cells"])
    assert [h for h in re.findall(r'<th class="v" title="Kubernetes ([^"]+)"', table)] == versions
    changed = [c for _, _, found, _ in adjacent_diffs() for c in found if c.new]
    assert table.count('<a class="chg ') == len(changed)
    for change in changed:
        row = table[table.index(f'id="{grid.row_anchor(change.profile, change.scenario)}"'):]
        row = row[:row.index("</tr>")]
        assert f'href="#{changes.item(change).id}"' in row


def test_the_matrix_says_a_message_once_for_the_minors_that_share_it(html):
    table = html[html.index('id="outcome-matrix"'):]

    def messages(profile: str, scenario: str) -> list[str]:
        row = table[table.index(f'id="{grid.row_anchor(profile, scenario)}"'):]
        return re.findall(r'<div class="run[^"]*" title="([^"]*)"', row[:row.index("</tr>")])

    # the same on all nine minors: once, with no span of versions
    assert messages("anon-on", "anonymous_get_livez") == ["200 ok audited as system:anonymous"]
    # exec's output names each cluster's own version, written <version>: one message up to
    # 1.34, then the 403 of 1.35 on
    assert messages("anon-on", "exec_with_get_only") == [
        "101 Kubernetes &lt;version&gt; audited as exec-getter",
        "403 pods &#34;&lt;pod&gt;&#34; is forbidden: audited as exec-getter"]
    # n/a before 1.31, then a pass: two messages
    health = messages("anon-health-only", "anonymous_get_root")
    assert len(health) == 2 and health[1] == "401 Unauthorized audited with no user"


def test_the_plot_has_a_panel_per_profile_and_names_every_series(sweep):
    root = ET.fromstring(plot.render(plot.series_lines(sweep)))
    panels = {g.get("data-profile"): g for g in root.iter(f"{SVG}g") if g.get("class") == "panel"}
    series = sweep["restart_series"]
    assert set(panels) == {s["profile"] for s in series} == {c["profile"] for c in sweep["cells"]}
    for profile, panel in panels.items():
        labels = [t.text for t in panel.iter(f"{SVG}text") if t.get("class") == "series-label"]
        assert sorted(labels) == sorted(s["version"] for s in series if s["profile"] == profile)
        lanes = [g for g in panel.iter(f"{SVG}g") if g.get("class") == "lane"]
        for lane in lanes:
            entry = next(s for s in series
                         if s["profile"] == profile and s["version"] == lane.get("data-version"))
            failures = [m for m in lane.iter(f"{SVG}line") if m.get("class") == "probe-failure"]
            assert len(failures) == len(entry["probe_failures"])
            assert [m for m in lane.iter(f"{SVG}line") if m.get("class") == "probe-budget"]
            title = next(p for p in lane.iter(f"{SVG}path") if p.get("class") == "series")
            assert title.find(f"{SVG}title").text == f"{profile} ({entry['version']})"


def test_every_cell_has_its_evidence_behind_a_click(sweep, html):
    evidence = html[html.index('id="evidence"'):]
    assert evidence.count('<section class="evidence') == len(sweep["cells"])
    rows = re.findall(r'<details class="evidence-row" id="[^"]+">', evidence)
    assert len(rows) == len({(c["profile"], c["scenario"]) for c in sweep["cells"]})
    assert "<details open" not in html  # closed: printed, the page stays short
    for cell in sweep["cells"]:
        for record in (cell["evidence"].get("audit") or [])[-1:]:
            assert record["audit_id"] in evidence


def test_the_run_facts_name_every_node_image_a_version_s_cells_ran_on(sweep):
    """The sweep merges runs whose node images of a version differ (with a Dashboard source,
    then without): each version names all of its images, not the last run's alone."""
    (line,) = [value for name, value in evidence.run_facts(sweep) if name == "node images"]
    facts = dict(part.split(": ", 1) for part in re.split(r", (?=\d+\.\d+\.\d+: )", line))
    assert list(facts) == sweep["run"]["versions"]
    clusters = {c["name"]: c for c in sweep["clusters"]}
    ran_on = {(c["version"], clusters[c["cluster"]]["node_image"]) for c in sweep["cells"]
              if c["cluster"]}
    assert len(ran_on) > len(facts)  # two images of some version
    for version, image in ran_on:
        assert f"{image} (local)" in facts[version].split(" and "), (version, image)
