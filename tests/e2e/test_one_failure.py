"""A node image that cannot be had stops its cells once, with one line, and the report
still lists every cell, as an error with that reason."""

from __future__ import annotations

import pytest

from authprobe.harness.images import registry_answers
from authprobe.model.profiles import load_dirs
from authprobe.paths import clusters_dir, scenarios_dir
from authprobe.plugin.planning import upgrade_only_module

from .conftest import VERSION, outcomes_of

pytestmark = pytest.mark.e2e


def test_an_image_that_cannot_be_pulled_is_one_line_and_errors_in_the_report(tmp_path,
                                                                              run_child):
    if registry_answers():
        pytest.skip("a registry answers on this machine, so the pull would not fail")
    child = run_child("--pyargs", "authprobe.scenarios", "--k8s-version", VERSION,
                      "--image-policy", "pull")
    assert child.proc.returncode == 1, child.tail()
    lines = [text for _, text in child.lines if "not run, recorded as errors" in text]
    assert len(lines) == 1, "\n".join(lines) or child.tail()
    assert "docker pull kindest/node:" in lines[0]
    assert "Traceback" not in child.output
    cells = outcomes_of(tmp_path)["cells"]
    assert len(cells) == default_cells()
    errors = [c for c in cells if c["outcome"] == "error"]
    assert errors and all("docker pull" in c["message"] for c in errors)
    assert {c["outcome"] for c in cells} == {"error", "n/a"}
    problems = outcomes_of(tmp_path)["run"]["problems"]
    assert len(problems) == 1 and "docker pull" in problems[0]


def default_cells() -> int:
    """Cells of a run without --upgrade-to: the scenarios of the modules such a run collects
    (the plugin's own rule), on every profile not marked upgradeOnly."""
    scenarios = {line.split("def test_", 1)[1].split("(", 1)[0]
                 for path in scenarios_dir().glob("test_*.py") if not upgrade_only_module(path)
                 for line in path.read_text().splitlines() if line.startswith("def test_")}
    profiles = [p for p in load_dirs([clusters_dir() / "profiles"]).values()
                if not p.upgrade_only]
    return len(scenarios) * len(profiles)
