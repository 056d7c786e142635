"""Named timeouts from the command line, the environment and the ini file, and a team's
step's own: a bad name or value ends the run with one line before Docker is asked; good
ones pass planning."""

from __future__ import annotations

import pytest

from .test_plugin_refusals import assert_refused

STEP_PLUGIN = """
from authprobe.harness.phases import BRING_UP, Step
from authprobe.harness.steps import limit


def kernel(env, run):
    return run.handle.node.exec("uname", "-r", timeout=limit(run, "kernel")).stdout


def pytest_authprobe_lifecycle_steps(config):
    return [Step("kernel", kernel, BRING_UP, after="ready", timeouts={TIMEOUTS})]
"""


def team_step(project, timeouts: str) -> None:
    project.makepyfile(teamsteps=STEP_PLUGIN.replace("{TIMEOUTS}", timeouts))


@pytest.mark.parametrize(("args", "fragment"), [
    pytest.param(["--set-timeout", "redy=300"], "unknown timeout(s) redy: the named ones are",
                 id="unknown-name"),
    pytest.param(["--set-timeout", "ready"], "--set-timeout 'ready': write NAME=SECONDS",
                 id="no-value"),
    pytest.param(["--set-timeout", "ready=soon"],
                 "--set-timeout ready: 'soon' is not a number of seconds", id="not-a-number"),
    pytest.param(["--set-timeout", "create=900,ready=-1"],
                 "--set-timeout ready: -1.0 must be a positive number of seconds",
                 id="negative-in-a-list"),
    pytest.param(["--set-timeout", "create=900", "--set-timeout", "ready=0"],
                 "--set-timeout ready: 0.0 must be a positive number of seconds",
                 id="zero-repeated"),
])
def test_a_bad_timeout_option_is_one_line(project, args, fragment):
    assert_refused(project, project.run(*args), fragment)


@pytest.mark.parametrize(("value", "fragment"), [
    pytest.param("ready=300,node_exek=90", "unknown timeout(s) node_exek", id="unknown-name"),
    pytest.param("ready=0", "AUTHPROBE_TIMEOUTS ready: 0.0 must be a positive number",
                 id="zero"),
])
def test_a_bad_timeout_environment_is_one_line(project, monkeypatch, value, fragment):
    monkeypatch.setenv("AUTHPROBE_TIMEOUTS", value)
    assert_refused(project, project.run(), fragment)


@pytest.mark.parametrize(("lines", "fragment"), [
    pytest.param("create=900\n    redy=300", "unknown timeout(s) redy", id="unknown-name"),
    pytest.param("ready=later", "ini authprobe_timeouts ready: 'later' is not a number",
                 id="not-a-number"),
])
def test_a_bad_timeout_in_the_ini_file_is_one_line(project, lines, fragment):
    project.makeini(f"[pytest]\nauthprobe_timeouts =\n    {lines}\n")
    assert_refused(project, project.run(), fragment)


def test_good_timeouts_from_every_source_pass_planning(project, monkeypatch):
    project.makeini("[pytest]\nauthprobe_timeouts =\n    create=900\n    ready=300\n")
    monkeypatch.setenv("AUTHPROBE_TIMEOUTS", "node_exec=90,dashboard_available=600")
    result = project.run("--collect-only", "-q", "--set-timeout", "ready=400")
    assert result.ret == 0, project.text(result)
    assert project.tool_calls() == []


def test_a_team_steps_timeout_joins_the_named_set(project):
    team_step(project, '{"kernel": 120}')
    result = project.run("--collect-only", "-q", "-p", "teamsteps",
                         "--set-timeout", "kernel=300")
    assert result.ret == 0, project.text(result)


def test_a_team_steps_timeout_is_unknown_without_its_step(project):
    team_step(project, '{"kernel": 120}')
    assert_refused(project, project.run("--set-timeout", "kernel=300"),
                   "unknown timeout(s) kernel: the named ones are")


def test_a_team_step_cannot_take_a_shipped_timeouts_name(project):
    team_step(project, '{"ready": 120}')
    assert_refused(project, project.run("-p", "teamsteps"),
                   "lifecycle step 'kernel': timeout 'ready' is a shipped one: give the "
                   "step's timeout a name of its own")
