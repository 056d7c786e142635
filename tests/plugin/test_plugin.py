"""The pytest plugin without clusters: options, environment, parametrization, bad input."""

import os
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

CLUSTER_TEST = """
def test_uses_cluster(cluster):
    pass

def test_plain():
    pass
"""


REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def suite(pytester, monkeypatch):
    for name in list(os.environ):
        if name.startswith("AUTHPROBE_"):
            monkeypatch.delenv(name)
    # Child pytest processes import this checkout's authprobe, whatever is installed.
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    pytester.makeconftest('pytest_plugins = ["authprobe.plugin"]\n')
    pytester.makepyfile(test_cells=CLUSTER_TEST)
    return pytester


def collected_ids(result) -> list[str]:
    return [line.split("::")[-1] for line in result.outlines if "::test_uses_cluster[" in line]


def assert_one_line_error(result, fragment: str) -> None:
    text = "\n".join(result.outlines + result.errlines)
    assert result.ret != 0
    assert "Traceback" not in text
    lines = [line for line in result.errlines + result.outlines if fragment in line]
    assert lines, text
    assert lines[0].startswith("ERROR: ")


def test_options_in_one_group(suite):
    result = suite.runpytest("--help")
    text = result.stdout.str()
    group = text.split("authprobe: clusters for the scenarios:")[1]
    for option in ("--k8s-version", "--profile", "--reuse-clusters", "--observe-window",
                   "--reports-dir", "--image-policy"):
        assert option in group
    for option in ("--kind-bin", "--kind-image", "--keep-cluster"):  # pytest-kind-ng's own
        assert option in text


def test_default_cells_are_every_profile_on_the_default_version(suite):
    result = suite.runpytest("--collect-only", "-q")
    ids = collected_ids(result)
    assert "test_uses_cluster[anon-on-1.34]" in ids
    assert "test_uses_cluster[anon-off-probe-8080-1.34]" in ids
    assert len(ids) == 4
    assert any(line.endswith("::test_plain") for line in result.outlines)


def test_profile_and_version_options(suite):
    result = suite.runpytest("--collect-only", "-q", "--profile", "anon-on",
                             "--profile", "anon-off", "--k8s-version", "1.34,1.36")
    assert collected_ids(result) == [
        "test_uses_cluster[anon-on-1.34]", "test_uses_cluster[anon-on-1.36]",
        "test_uses_cluster[anon-off-1.34]", "test_uses_cluster[anon-off-1.36]"]


def test_environment_variables(suite, monkeypatch):
    monkeypatch.setenv("AUTHPROBE_PROFILE", "anon-health-only")
    monkeypatch.setenv("AUTHPROBE_K8S_VERSION", "1.36")
    result = suite.runpytest("--collect-only", "-q")
    assert collected_ids(result) == ["test_uses_cluster[anon-health-only-1.36]"]


def test_command_line_wins_over_environment(suite, monkeypatch):
    monkeypatch.setenv("AUTHPROBE_PROFILE", "anon-health-only")
    result = suite.runpytest("--collect-only", "-q", "--profile", "anon-off")
    assert collected_ids(result) == ["test_uses_cluster[anon-off-1.34]"]


def test_scenarios_sharing_a_cell_are_grouped(suite):
    suite.makepyfile(test_more="def test_other(cluster):\n    pass\n")
    result = suite.runpytest("--collect-only", "-q", "--profile", "anon-on,anon-off")
    cells = [line.split("[")[1] for line in result.outlines if "::test_" in line and "[" in line]
    assert cells.count("anon-on-1.34]") == 2
    first = cells.index("anon-on-1.34]")
    assert cells[first + 1] == "anon-on-1.34]"


def test_markers_registered(suite):
    result = suite.runpytest("--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.control_plane_any:*"])
    suite.makepyfile(test_marked="import pytest\n\n@pytest.mark.control_plane_any\n"
                                 "def test_m():\n    pass\n")
    assert suite.runpytest("--strict-markers", "test_marked.py").ret == 0


@pytest.mark.parametrize(("args", "env", "fragment"), [
    (["--profile", "nope"], {}, "unknown profile 'nope'"),
    ([], {"AUTHPROBE_PROFILE": "nope"}, "unknown profile 'nope'"),
    (["--k8s-version", "1.99"], {}, "Kubernetes 1.99 is not supported"),
    (["--k8s-version", "one.two"], {}, "is not a Kubernetes version"),
    (["--k8s-version", "1.34.1"], {}, "is not the pinned patch"),
    (["--kind-bin", "/nonexistent/kind"], {}, "kind binary /nonexistent/kind does not exist"),
    ([], {"AUTHPROBE_KIND_BIN": "/nonexistent/kind"}, "does not exist"),
    (["--observe-window", "soon"], {}, "is not a number of seconds"),
    ([], {"AUTHPROBE_IMAGE_POLICY": "fetch"}, "image policy 'fetch' is unknown"),
    (["--kind-image", "x:y", "--k8s-version", "1.34,1.36"], {}, "names one node image"),
])
def test_bad_input_is_one_line(suite, monkeypatch, args, env, fragment):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    result = suite.runpytest_subprocess("--collect-only", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert_one_line_error(result, fragment)


def test_malformed_profile_file_is_one_line(suite, monkeypatch, tmp_path):
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    (profiles / "broken.yaml").write_text("description: x\napiserver:\n  extraArgs: [1, 2]\n")
    monkeypatch.setenv("AUTHPROBE_PROFILES_DIR", str(profiles))
    result = suite.runpytest_subprocess("--collect-only")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert_one_line_error(result, "broken.yaml: apiserver.extraArgs must be a mapping")


EXPECTING_TEST = """
def test_anonymous_get_root(cluster, expected):
    pass
"""


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("scenarios:\n  anonymous_get_root:\n    anon-on:\n      - {since: '1.18', stauts: 403}\n",
         "unknown field(s) stauts"),
        ("scenarios:\n  anonymous_get_root:\n    anon-off:\n      - {since: '1.18', status: 401}\n",
         "has no expectations for profile 'anon-on'"),
    ],
    ids=["malformed", "missing-row"],
)
def test_expectation_problems_stop_the_run_before_any_cluster(suite, monkeypatch, tmp_path,
                                                               text, fragment):
    path = tmp_path / "expectations.yaml"
    path.write_text(text)
    monkeypatch.setenv("AUTHPROBE_EXPECTATIONS_FILE", str(path))
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))  # no docker: the check must come first
    suite.makepyfile(test_story=EXPECTING_TEST)
    result = suite.runpytest_subprocess("--profile", "anon-on", "test_story.py")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert_one_line_error(result, fragment)


def test_missing_docker_is_one_line_and_spares_plain_tests(suite, monkeypatch, tmp_path):
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    result = suite.runpytest_subprocess("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert_one_line_error(result, "docker CLI is not installed")
    plain = suite.runpytest_subprocess("-k", "plain")
    plain.assert_outcomes(passed=1)
