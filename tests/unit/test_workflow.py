"""The nightly GitHub Actions workflow passes actionlint, and its night-to-night diff never
skips a comparison silently: no previous night is said as such, and a download of one that
exists fails the job when it fails (.github/scripts/last_night.py)."""

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from authprobe.host.tools import go_binary
from authprobe.paths import tools_dir

ACTIONLINT = "github.com/rhysd/actionlint/cmd/actionlint@v1.7.12"
REPO_ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((REPO_ROOT / ".github" / "workflows").glob("*.yml"))


@pytest.fixture(scope="session")
def actionlint() -> Path:
    """actionlint built from its Go module into the project's tools folder (cached)."""
    binary = tools_dir() / "bin" / "actionlint"
    if not binary.exists():
        env = {**os.environ, "GOBIN": str(binary.parent), "CGO_ENABLED": "0"}
        build = subprocess.run(
            [go_binary(), "install", ACTIONLINT], env=env, capture_output=True, text=True
        )
        assert build.returncode == 0, f"go install {ACTIONLINT} failed:\n{build.stderr}"
    return binary


def test_there_is_a_nightly_workflow():
    assert [w.name for w in WORKFLOWS] == ["nightly.yml"]


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_passes_actionlint(actionlint, workflow):
    result = subprocess.run(
        [str(actionlint), "-no-color", str(workflow)],
        cwd=REPO_ROOT, capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def load_last_night():
    path = REPO_ROOT / ".github" / "scripts" / "last_night.py"
    spec = importlib.util.spec_from_file_location("last_night", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


last_night = load_last_night()
THIS_RUN = 900


def night(run: int, day: int) -> dict:
    return {"databaseId": run, "createdAt": f"2026-12-{day:02d}T02:17:00Z"}


def artifact(run: int, name: str = "merged-report", expired: bool = False) -> dict:
    return {"name": name, "expired": expired, "workflow_run": {"id": run}}


def nightly_steps(job: str) -> list[dict]:
    workflow = yaml.safe_load((REPO_ROOT / ".github" / "workflows" / "nightly.yml").read_text())
    return workflow["jobs"][job]["steps"]


def test_the_last_successful_night_holding_the_report_is_chosen():
    runs = [night(THIS_RUN, 7), night(801, 6), night(700, 5)]
    choice = last_night.choose(runs, [artifact(801), artifact(700)], THIS_RUN, "merged-report")
    assert choice.run == 801 and "last successful night" in choice.why
    # the order gh lists them in does not matter: the newest night is taken
    assert last_night.choose(list(reversed(runs)), [artifact(801), artifact(700)], THIS_RUN,
                             "merged-report").run == 801


def test_a_night_whose_report_expired_or_was_never_uploaded_is_passed_over():
    runs = [night(801, 6), night(700, 5), night(600, 4)]
    found = [artifact(801, expired=True), artifact(700, "report-1.34"), artifact(600)]
    assert last_night.choose(runs, found, THIS_RUN, "merged-report").run == 600


@pytest.mark.parametrize(("runs", "found", "why"), [
    ([], [], "no earlier successful night on this branch"),
    ([night(THIS_RUN, 7)], [artifact(THIS_RUN)], "no earlier successful night on this branch"),
    ([night(801, 6), night(700, 5)], [artifact(801, expired=True)],
     "none of the 2 earlier successful nights on this branch still holds the merged-report "
     "artifact"),
    # an artifact of a run that is not a successful night of this branch is not a baseline
    ([night(801, 6)], [artifact(555)], "none of the 1 earlier successful nights"),
])
def test_no_previous_night_is_said_with_its_reason(runs, found, why):
    choice = last_night.choose(runs, found, THIS_RUN, "merged-report")
    assert choice.run is None and why in choice.why


class FakeGh:
    """gh as the script calls it: the runs and artifacts GitHub lists, and a download that
    writes the report or fails."""

    def __init__(self, runs, found, download_fails=False, report=True):
        self.runs, self.found = runs, found
        self.download_fails, self.report = download_fails, report
        self.calls: list[list[str]] = []

    def __call__(self, args):
        self.calls.append(list(args))
        if args[:2] == ["run", "list"]:
            assert "--status" in args and args[args.index("--status") + 1] == "success"
            return json.dumps(self.runs)
        if args[0] == "api":
            assert "name=merged-report" in args[1]
            return json.dumps({"total_count": len(self.found), "artifacts": self.found})
        if args[:2] == ["run", "download"]:
            if self.download_fails:
                raise last_night.GhError("gh run download: HTTP 500")
            into = Path(args[args.index("--dir") + 1])
            into.mkdir(parents=True)
            if self.report:
                (into / "outcomes.json").write_text("{}")
            return ""
        raise AssertionError(f"unexpected gh call {args}")


def run_script(tmp_path, monkeypatch, gh) -> tuple[int, dict]:
    output = tmp_path / "github-output"
    output.write_text("")
    monkeypatch.setenv("GITHUB_OUTPUT", str(output))
    code = last_night.main(["--repo", "o/authprobe", "--workflow", "nightly.yml", "--branch",
                            "main", "--this-run", str(THIS_RUN), "--artifact", "merged-report",
                            "--dir", str(tmp_path / "last-night")], gh=gh)
    return code, dict(line.split("=", 1) for line in output.read_text().splitlines())


def test_a_previous_night_is_downloaded_and_said(tmp_path, monkeypatch, capsys):
    gh = FakeGh([night(801, 6)], [artifact(801)])
    code, outputs = run_script(tmp_path, monkeypatch, gh)
    assert code == 0 and outputs["found"] == "true" and outputs["run"] == "801"
    assert ["run", "download", "801", "--repo", "o/authprobe", "--name", "merged-report",
            "--dir", str(tmp_path / "last-night")] in gh.calls
    assert (tmp_path / "last-night" / "outcomes.json").is_file()
    assert "last night: run 801" in capsys.readouterr().out


def test_no_previous_night_downloads_nothing_and_says_so(tmp_path, monkeypatch, capsys):
    gh = FakeGh([night(THIS_RUN, 7)], [])
    code, outputs = run_script(tmp_path, monkeypatch, gh)
    assert code == 0 and outputs["found"] == "false" and outputs["run"] == ""
    assert not [c for c in gh.calls if c[:2] == ["run", "download"]]
    assert "no previous night: no earlier successful night" in capsys.readouterr().out


@pytest.mark.parametrize(("fails", "report", "said"), [
    (True, True, "HTTP 500"), (False, False, "holds no outcomes.json")])
def test_a_download_that_fails_when_a_night_exists_fails_the_step(tmp_path, monkeypatch,
                                                                   capsys, fails, report, said):
    gh = FakeGh([night(801, 6)], [artifact(801)], download_fails=fails, report=report)
    code, outputs = run_script(tmp_path, monkeypatch, gh)
    err = capsys.readouterr().err
    assert code == 1 and outputs == {}
    assert "cannot fetch the previous night's report, so tonight cannot be compared" in err
    assert said in err


def test_a_failing_listing_fails_the_step(tmp_path, monkeypatch, capsys):
    def gh(args):
        raise last_night.GhError("gh run list: HTTP 401: Bad credentials")

    code, outputs = run_script(tmp_path, monkeypatch, gh)
    assert code == 1 and outputs == {} and "Bad credentials" in capsys.readouterr().err


def test_no_download_in_the_workflows_is_let_fail():
    for workflow in WORKFLOWS:
        for line in workflow.read_text().splitlines():
            if re.search(r"\bdownload\b", line):
                assert "|| true" not in line and "|| :" not in line, f"{workflow.name}: {line}"


def test_the_nightly_diff_runs_when_a_night_was_found_and_says_when_none_was():
    steps = nightly_steps("matrix")
    (fetch,) = [s for s in steps if s.get("id") == "last-night"]
    assert ".github/scripts/last_night.py" in fetch["run"] and "if" not in fetch
    assert "continue-on-error" not in fetch
    (diff,) = [s for s in steps if s.get("name") == "Diff against last night"]
    assert diff["env"]["FOUND"] == "${{ steps.last-night.outputs.found }}"
    found, rest = diff["run"].split("elif", 1)
    none, other = rest.split("else", 1)
    assert '"$FOUND" = true' in found
    assert re.search(r"authprobe diff (\S+ )?last-night merged", found), found
    assert '"$FOUND" = false' in none and "No previous night to compare with" in none
    assert "authprobe diff" not in none and "exit 1" in other
