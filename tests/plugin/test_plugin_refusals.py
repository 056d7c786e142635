"""Bad input, and runs the plugin cannot serve, end with one line "ERROR: ..." and a non-zero
exit before anything is asked of Docker: the runs here are real ones (no --collect-only),
and the project's docker and kind only record that they were asked."""

from __future__ import annotations

import pytest

# scenario 'uses_cluster' is test_cells.py's (conftest.CLUSTER_TEST)
UNKNOWN_SHIPPED_SCENARIO = """\
scenarios:
  anonymous_get_rot:
    anon-on:
      - since: "1.19"
        status: 403
"""
UNKNOWN_LOCAL_SCENARIO = """\
scenarios:
  uses_clustr:
    anon-on:
      - since: "1.19"
        comes_up: true
"""
UNKNOWN_PROFILE = """\
scenarios:
  uses_cluster:
    anon-onn:
      - since: "1.19"
        comes_up: true
"""
UNKNOWN_FIELD = """\
scenarios:
  uses_cluster:
    anon-on:
      - since: "1.19"
        stauts: 403
"""
BROKEN_PROFILE = """\
description: a profile with a list where a mapping goes
apiserver:
  extraArgs: [anonymous-auth, "false"]
"""

EXPECTATION_CASES = [
    pytest.param(UNKNOWN_SHIPPED_SCENARIO,
                 "has rows for scenario 'anonymous_get_rot', which no scenario file defines "
                 "(did you mean 'anonymous_get_root'?)", id="unknown-scenario-near-shipped"),
    pytest.param(UNKNOWN_LOCAL_SCENARIO,
                 "has rows for scenario 'uses_clustr', which no scenario file defines "
                 "(did you mean 'uses_cluster'?)", id="unknown-scenario-near-own"),
    pytest.param(UNKNOWN_PROFILE,
                 "has rows for profile 'anon-onn' (scenario 'uses_cluster'), which no profile "
                 "file defines (did you mean 'anon-on'?)", id="unknown-profile"),
    pytest.param(UNKNOWN_FIELD, "since 1.19: unknown field(s) stauts", id="unknown-field"),
]
PROFILE_FRAGMENT = "broken.yaml: apiserver.extraArgs must map flag names to values"


def assert_refused(project, result: pytest.RunResult, fragment: str) -> None:
    text = project.text(result)
    lines = result.outlines + result.errlines
    assert result.ret == pytest.ExitCode.USAGE_ERROR, text
    assert "Traceback" not in text and "INTERNALERROR" not in text, text
    errors = [line for line in lines if line.startswith("ERROR")]
    assert len(errors) == 1, f"not one ERROR line:\n{text}"
    assert errors[0].startswith("ERROR: "), text
    hits = [line for line in lines if fragment in line]
    assert len(hits) == 1, f"{fragment!r} is not said exactly once:\n{text}"
    assert project.tool_calls() == [], f"docker or kind was asked first:\n{text}"
    assert "[authprobe]" not in text, f"the harness started its work first:\n{text}"


@pytest.mark.parametrize(("args", "fragment"), [
    pytest.param(["--profile", "nope"], "unknown profile 'nope': choose from",
                 id="unknown-profile"),
    pytest.param(["--k8s-version", "1.99"], "Kubernetes 1.99 is not supported: choose one of",
                 id="unsupported-minor"),
    pytest.param(["--k8s-version", "one.two"], "'one.two' is not a Kubernetes version",
                 id="not-a-version"),
    pytest.param(["--k8s-version", "1.34.1"],
                 "Kubernetes 1.34.1 is not a pinned patch of 1.34", id="unpinned-patch"),
    pytest.param(["--observe-window", "abc"], "--observe-window 'abc' is not a number of seconds",
                 id="window-not-a-number"),
    pytest.param(["--observe-window", "-5"],
                 "--observe-window must be a positive number of seconds", id="window-negative"),
    pytest.param(["--image-policy", "bogus"],
                 "argument --image-policy: invalid choice: 'bogus'", id="image-policy"),
    pytest.param(["--kind-bin", "/nonexistent/kind"],
                 "kind binary /nonexistent/kind does not exist", id="kind-bin"),
    pytest.param(["--kind-image", "kindest/node:v1.34.11", "--k8s-version", "1.34,1.36"],
                 "--kind-image names one node image: pass a single --k8s-version",
                 id="kind-image-two-versions"),
    pytest.param(["--reports-dir", "a-file/reports"], "/a-file/reports is not writable",
                 id="reports-dir-under-a-file"),
    pytest.param(["--profiles-dir", "no-such-dir"], "no-such-dir does not exist",
                 id="profiles-dir-missing"),
    pytest.param(["--expectations", "no-such.yaml"], "cannot read expectation file",
                 id="expectations-missing"),
])
def test_bad_option_is_one_line(project, args, fragment):
    project.makefile("", **{"a-file": "a regular file\n"})
    result = project.run(*args)
    assert_refused(project, result, fragment)


@pytest.mark.parametrize(("env", "fragment"), [
    pytest.param({"AUTHPROBE_PROFILE": "nope"}, "unknown profile 'nope'", id="profile"),
    pytest.param({"AUTHPROBE_IMAGE_POLICY": "bogus"}, "image policy 'bogus' is unknown",
                 id="image-policy"),
    pytest.param({"AUTHPROBE_KIND_IMAGE": "kindest/node:v1.34.11",
                  "AUTHPROBE_K8S_VERSION": "1.34,1.36"}, "--kind-image names one node image",
                 id="kind-image"),
])
def test_bad_environment_is_one_line(project, monkeypatch, env, fragment):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert_refused(project, project.run(), fragment)


@pytest.mark.parametrize(("text", "fragment"), EXPECTATION_CASES)
def test_bad_expectation_file_option(project, text, fragment):
    (project.path / "mine.yaml").write_text(text)
    assert_refused(project, project.run("--expectations", "mine.yaml"), fragment)


@pytest.mark.parametrize(("text", "fragment"), EXPECTATION_CASES)
def test_bad_expectation_file_ini(project, text, fragment):
    (project.path / "mine.yaml").write_text(text)
    project.makeini("[pytest]\nauthprobe_expectations = mine.yaml\n")
    assert_refused(project, project.run(), fragment)


@pytest.mark.parametrize(("text", "fragment"), EXPECTATION_CASES[:1])
def test_bad_expectation_file_environment(project, monkeypatch, text, fragment):
    (project.path / "mine.yaml").write_text(text)
    monkeypatch.setenv("AUTHPROBE_EXPECTATIONS", "mine.yaml")
    assert_refused(project, project.run(), fragment)


def test_malformed_profile_option(project):
    (project.mkdir("profiles") / "broken.yaml").write_text(BROKEN_PROFILE)
    assert_refused(project, project.run("--profiles-dir", "profiles"), PROFILE_FRAGMENT)


def test_malformed_profile_ini(project):
    (project.mkdir("profiles") / "broken.yaml").write_text(BROKEN_PROFILE)
    project.makeini("[pytest]\nauthprobe_profiles = profiles\n")
    assert_refused(project, project.run(), PROFILE_FRAGMENT)


def test_ini_paths_are_relative_to_the_ini_file(project, monkeypatch):
    """Run from a subfolder: the ini file's folder, not the current one, anchors its paths."""
    (project.mkdir("profiles") / "broken.yaml").write_text(BROKEN_PROFILE)
    project.makeini("[pytest]\nauthprobe_profiles = profiles\n")
    sub = project.mkdir("sub")
    (project.path / "test_cells.py").rename(sub / "test_cells.py")
    monkeypatch.chdir(sub)
    assert_refused(project, project.run(), f"{project.path}/profiles/{PROFILE_FRAGMENT}")


# -- pytest-xdist ---------------------------------------------------------------------------

XDIST_FRAGMENT = "run it without pytest-xdist's -n"


@pytest.fixture
def xdist():
    pytest.importorskip("xdist", reason="pytest-xdist is in authprobe's dev extra")


def test_xdist_refused_in_collect_only(project, xdist):
    result = project.run("-n", "2", "--collect-only")
    assert_refused(project, result, XDIST_FRAGMENT)


def test_xdist_refused_before_anything_else(project, xdist):
    result = project.run("-n", "2", "--k8s-version", "1.34")
    assert_refused(project, result, XDIST_FRAGMENT)
    assert "[authprobe] node image" not in project.text(result)


def test_xdist_still_runs_plain_tests(project, xdist):
    project.makepyfile(test_cells="def test_one():\n    pass\n\n\ndef test_two():\n    pass\n")
    result = project.run("-n", "2")
    result.assert_outcomes(passed=2)
    assert project.tool_calls() == []
