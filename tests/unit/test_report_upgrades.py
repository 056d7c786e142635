"""The upgrades in place in the report and the diff, from a real upgrade run
(tests/unit/data/upgrade-1.33-1.34.json: liveness-hand-edit and the team profile
hand-flags upgraded from 1.33.13 to 1.34.12, each cluster's record with its kubeadm diff) and
edited copies of it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from outcome_files import run_folder

from authprobe.cli import main
from authprobe.report import matrix
from authprobe.report.diff import REGRESSION, UNPREDICTED, compare
from authprobe.report.document import load
from authprobe.report.grid import cells_of
from authprobe.report.upgrades import views

DATA = Path(__file__).parent / "data"
UPGRADE = DATA / "upgrade-1.33-1.34.json"
KEPT = "profile_kept_after_upgrade"


def document() -> dict:
    return json.loads(UPGRADE.read_text())


def test_each_upgraded_cluster_with_its_cells_before_and_after_and_kubeadms_diff():
    doc = document()
    found = views(doc, cells_of(doc))
    assert [(v["profile"], v["from"], v["to"]) for v in found] == [
        ("liveness-hand-edit", "1.33.13", "1.34.12"), ("hand-flags", "1.33.13", "1.34.12")]
    hand = found[0]
    # the run selected the scenarios after the upgrade only (-k upgrade)
    assert hand["before"]["counts"] == "no cells"
    assert hand["after"]["counts"] == "1 pass, 1 expected failure, 1 fail"
    assert hand["kept"]["anchor"] == "cell-liveness-hand-edit-profile_kept_after_upgrade-1.34.12"
    assert hand["diff"]["summary"] == ("39 changed lines in 3 manifests; drops the hand edit "
                                       "livenessProbe.failureThreshold")
    marks = [(line["text"], line["mark"]) for f in hand["diff"]["files"] for h in f["hunks"]
             for line in h["lines"] if line["mark"]]
    assert marks == [("      failureThreshold: 16",
                      "removes a hand edit: livenessProbe.failureThreshold")]
    flags = found[1]["diff"]
    assert "drops the hand edits --enable-admission-plugins, --request-timeout" in (
        flags["summary"])


def test_the_markdown_shows_the_diff_with_the_lines_that_remove_a_hand_edit():
    text = matrix.render_md(document())
    section = text[text.index("## Upgrades in place"):text.index("## Cluster lifecycle")]
    assert "### liveness-hand-edit: 1.33.13 → 1.34.12" in section
    assert ("-      failureThreshold: 16    # removes a hand edit: "
            "livenessProbe.failureThreshold\n+      failureThreshold: 8\n") in section
    assert "-    - --request-timeout=2m0s    # removes a hand edit: --request-timeout" in section
    assert ("-    - --enable-admission-plugins=NodeRestriction,PodNodeSelector    # removes a "
            "hand edit: --enable-admission-plugins") in section
    assert section.count("```diff") == 2 and section.count("removes a hand edit") == 3
    # after the matrix that holds the scenarios before and after
    assert text.index("## Outcome matrix") < text.index("## Upgrades in place")


def test_the_html_marks_the_lines_and_keeps_one_line_each():
    html = matrix.render_html(document())
    assert '<a href="#upgrades">upgrades</a>' in html
    section = html[html.index('<h2 id="upgrades">'):html.index('<h2 id="restarts">')]
    assert ('<span class="del">-      failureThreshold: 16</span> <span class="hand">removes a '
            'hand edit: livenessProbe.failureThreshold</span>\n'
            '<span class="add">+      failureThreshold: 8</span>\n') in section
    assert ('<span class="del">-    - --request-timeout=2m0s</span> <span class="hand">removes '
            'a hand edit: --request-timeout</span>\n') in section
    # the image line of that hunk is placed in its own field, apart from the hunk's
    assert ('<span class="del">-    image: registry.k8s.io/kube-apiserver:v1.33.13</span> '
            '<span class="where">image</span>\n') in section
    assert section.count('id="upgrade-authprobe-') == 2


def test_a_report_without_an_upgrade_has_no_section():
    doc = json.loads((DATA / "outcomes-1.34.json").read_text())
    assert "Upgrades in place" not in matrix.render_md(doc)
    assert 'id="upgrades"' not in matrix.render_html(doc)


def test_an_upgrade_recorded_without_kubeadms_diff_says_so():
    doc = document()
    for cluster in doc["clusters"]:
        cluster.pop("kubeadm_diff", None)
    text = matrix.render_md(doc)
    assert text.count("no output of `kubeadm upgrade diff` is recorded for this cluster") == 2
    assert "No output of <code>kubeadm upgrade diff</code> is recorded" in (
        matrix.render_html(doc))


def edited(change) -> dict:
    doc = document()
    for cell in doc["cells"]:
        if cell["profile"] == "liveness-hand-edit" and cell["scenario"] == KEPT:
            change(cell["observed"])
    return doc


def _other_failure_threshold(observed: dict) -> None:
    observed["kubeadm_diff"] = [line.replace("+ failureThreshold: 8", "+ failureThreshold: 3")
                                for line in observed["kubeadm_diff"]]


def _no_hand_edit_dropped(observed: dict) -> None:
    observed["hand_edits_dropped"] = []


@pytest.mark.parametrize("change, fields", [
    (_other_failure_threshold, ["kubeadm_diff"]),
    (_no_hand_edit_dropped, ["hand_edits_dropped"]),
])
def test_a_changed_kubeadm_diff_between_two_runs_is_listed_as_no_row_predicts_it(
        tmp_path, capsys, change, fields):
    old = run_folder(tmp_path, "old", document())
    new = run_folder(tmp_path, "new", edited(change))
    changes, _, _ = compare(load(old), load(new))
    (found,) = [c for c in changes if c.scenario == KEPT]
    assert found.profile == "liveness-hand-edit" and found.fields == fields
    assert found.judged == {fields[0]: UNPREDICTED} and found.kind == REGRESSION
    assert main(["diff", str(old), str(new)]) == 1
    out = capsys.readouterr().out
    assert f"| **regression** | liveness-hand-edit | {KEPT} |" in out
    # a list compared as a set reads as the items added and removed
    listed = {"kubeadm_diff": "kubeadm_diff `",
              "hand_edits_dropped": "hand_edits_dropped: removed `livenessProbe.failureThreshold`"}
    assert listed[fields[0]] in out and "(no row predicts it)" in out


def test_the_same_kubeadm_diff_in_both_runs_is_no_change(tmp_path):
    old = run_folder(tmp_path, "old", document())
    new = run_folder(tmp_path, "new", document())
    changes, _, _ = compare(load(old), load(new))
    assert not [c for c in changes if c.scenario == KEPT]


def test_diff_upgrade_lists_the_cell_after_with_the_hand_edit_kubeadm_drops(capsys):
    assert main(["diff", "--upgrade", str(UPGRADE)]) == 1  # two cells failed in that run
    out = capsys.readouterr().out
    assert ("- liveness-hand-edit (`authprobe-liveness-hand-edit-133-87cb8b@1.34.12`): 39 "
            "changed lines in 3 manifests; drops the hand edit livenessProbe.failureThreshold"
            ) in out
    assert ("- hand-flags (`authprobe-hand-flags-133-87cb8b@1.34.12`): 40 changed lines in 3 "
            "manifests; drops the hand edits --enable-admission-plugins, --request-timeout"
            ) in out
    assert f"| added | liveness-hand-edit | {KEPT} |" in out  # no cell of it before
