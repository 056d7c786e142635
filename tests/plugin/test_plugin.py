"""The pytest plugin without clusters: inert runs, options, parametrization, the cache
provider, a team's own profiles and expectations, n/a planning."""

from __future__ import annotations

import pytest

from authprobe.model.expectations import load_files
from authprobe.model.profiles import load_dirs
from authprobe.model.versions import default_minor, supported, version_key
from authprobe.paths import clusters_dir, scenarios_dir
from authprobe.plugin.planning import upgrade_only_module


def _scenarios_in_file(path) -> set[str]:
    return {line.split("def test_", 1)[1].split("(", 1)[0]
            for line in path.read_text().splitlines() if line.startswith("def test_")}


GROUP = "authprobe: kind clusters for the scenarios:"
OPTIONS = ("--k8s-version", "--profile", "--image-policy", "--kind-bin", "--kind-image",
           "--keep-cluster", "--reuse-clusters", "--observe-window", "--reports-dir",
           "--profiles-dir", "--expectations", "--upgrade-to")
# The profiles a run selects by default (upgradeOnly ones join only an upgrade run).
ALL_PROFILES = load_dirs([clusters_dir() / "profiles"])
SHIPPED_PROFILES = sorted(p for p, profile in ALL_PROFILES.items() if not profile.upgrade_only)
UPGRADE_PROFILES = sorted(ALL_PROFILES)
# The scenarios a run without an upgrade collects (a module marked after_upgrade is left out).
UPGRADE_SCENARIOS = sorted(set().union(*(
    _scenarios_in_file(path) for path in scenarios_dir().glob("test_*.py")
    if upgrade_only_module(path))))
SHIPPED_SCENARIOS = sorted(set(load_files([scenarios_dir() / "expectations.yaml"]).scenarios)
                           - set(UPGRADE_SCENARIOS))


def cells(result: pytest.RunResult, test: str = "test_uses_cluster") -> list[str]:
    """The ids of the collected items of ``test``, from ``--collect-only -q``."""
    return [line.split("[", 1)[1].rstrip("]") for line in result.outlines
            if f"::{test}[" in line]


def collected(result: pytest.RunResult) -> list[str]:
    return [line for line in result.outlines if "::" in line and " " not in line]


# -- a run without cluster tests -----------------------------------------------------------


def test_plugin_is_inert_without_cluster_tests(project, tmp_path, monkeypatch):
    project.makepyfile(test_cells="def test_one():\n    pass\n\n\ndef test_two():\n    pass\n")
    no_docker = tmp_path / "empty-bin"
    no_docker.mkdir()
    monkeypatch.setenv("PATH", str(no_docker))
    result = project.run()
    text = project.text(result)
    result.assert_outcomes(passed=2)
    assert result.ret == 0, text
    plugins = [line for line in result.outlines if line.startswith("plugins:")]
    assert plugins and "authprobe" in plugins[0], f"the plugin did not load:\n{text}"
    assert not (project.path / "reports").exists(), "a run without scenarios wrote reports/"
    assert "[authprobe]" not in text
    assert "docker" not in text.lower()


def test_plugin_asks_no_docker_for_plain_tests(project):
    """Cluster tests deselected: the run is a plain one."""
    result = project.run("-k", "plain")
    result.assert_outcomes(passed=1, deselected=len(SHIPPED_PROFILES))
    assert project.tool_calls() == []
    assert not (project.path / "reports").exists()


# -- options and markers -------------------------------------------------------------------


def section(text: str, starts) -> list[str]:
    """The lines after the first line ``starts(line)`` accepts, up to the next heading."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if starts(line))
    out = []
    for line in lines[start + 1:]:
        if line.strip() and not line.startswith(" "):
            break
        out.append(line)
    return out


def test_help_lists_every_option_in_the_group_and_the_ini_options(project):
    result = project.run("--help")
    assert result.ret == 0
    text = result.stdout.str()
    assert text.count(GROUP) == 1, text
    group = section(text, lambda line: line == GROUP)
    for option in OPTIONS:
        assert any(line.startswith(f"  {option}") for line in group), (
            f"{option} is not in the group {GROUP!r}:\n" + "\n".join(group))
    ini = section(text, lambda line: line.startswith("[pytest]"))
    for name in ("authprobe_profiles", "authprobe_expectations"):
        assert f"  {name} (paths):" in ini, f"ini option {name} is not listed:\n{text}"


def test_marker_control_plane_any_is_registered(project):
    result = project.run("--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.control_plane_any:*"])
    project.makepyfile(test_marked="import pytest\n\n\n@pytest.mark.control_plane_any\n"
                                   "def test_marked():\n    pass\n")
    strict = project.run("--strict-markers", "test_marked.py")
    strict.assert_outcomes(passed=1)


# -- parametrization ------------------------------------------------------------------------


def test_default_is_every_shipped_profile_on_the_default_minor(project):
    result = project.run("--collect-only", "-q")
    assert result.ret == 0, project.text(result)
    assert sorted(cells(result)) == sorted(f"{p}-{default_minor()}" for p in SHIPPED_PROFILES)
    assert "test_cells.py::test_plain" in result.outlines
    assert project.tool_calls() == []
    assert not (project.path / "reports").exists(), "--collect-only left a reports/ folder"


def test_ids_are_profile_and_minor(project):
    result = project.run("--collect-only", "-q", "--profile", "anon-on")
    assert result.outlines[0] == f"test_cells.py::test_uses_cluster[anon-on-{default_minor()}]"


def test_two_versions_of_one_profile(project):
    result = project.run("--collect-only", "-q", "--k8s-version", "1.34,1.36",
                         "--profile", "anon-on")
    assert cells(result) == ["anon-on-1.34", "anon-on-1.36"]


def test_repeated_options_add_up(project):
    result = project.run("--collect-only", "-q", "--k8s-version", "1.34", "--k8s-version",
                         "1.35", "--profile", "anon-on", "--profile", "anon-off")
    assert sorted(cells(result)) == ["anon-off-1.34", "anon-off-1.35", "anon-on-1.34",
                                     "anon-on-1.35"]


def test_a_pinned_patch_runs_its_minor(project):
    patch = str(supported()["1.34"].patch)
    result = project.run("--collect-only", "-q", "--k8s-version", patch, "--profile", "anon-on")
    assert cells(result) == ["anon-on-1.34"]


def test_all_versions(project):
    result = project.run("--collect-only", "-q", "--k8s-version", "all", "--profile", "anon-on")
    minors = sorted(supported(), key=version_key)
    assert len(minors) > 1
    assert cells(result) == [f"anon-on-{m}" for m in minors]


def test_environment_variables(project, monkeypatch):
    monkeypatch.setenv("AUTHPROBE_K8S_VERSION", "1.34,1.36")
    monkeypatch.setenv("AUTHPROBE_PROFILE", "anon-on")
    result = project.run("--collect-only", "-q")
    assert cells(result) == ["anon-on-1.34", "anon-on-1.36"]
    monkeypatch.setenv("AUTHPROBE_K8S_VERSION", "all")
    result = project.run("--collect-only", "-q")
    assert cells(result) == [f"anon-on-{m}" for m in sorted(supported(), key=version_key)]


def test_command_line_wins_over_environment(project, monkeypatch):
    monkeypatch.setenv("AUTHPROBE_K8S_VERSION", "1.36")
    monkeypatch.setenv("AUTHPROBE_PROFILE", "anon-off")
    result = project.run("--collect-only", "-q", "--k8s-version", "1.35", "--profile", "anon-on")
    assert cells(result) == ["anon-on-1.35"]
    # Each option on its own: the other one still comes from the environment.
    result = project.run("--collect-only", "-q", "--profile", "anon-on")
    assert cells(result) == ["anon-on-1.36"]
    result = project.run("--collect-only", "-q", "--k8s-version", "1.35")
    assert cells(result) == ["anon-off-1.35"]


def test_scenarios_of_one_cell_share_its_parameter(project):
    project.makepyfile(test_more="import pytest\n\n\n@pytest.mark.control_plane_any\n"
                                 "def test_other(cluster):\n    pass\n")
    result = project.run("--collect-only", "-q", "--profile", "anon-on,anon-off")
    ids = [line.split("[", 1)[1].rstrip("]") for line in collected(result) if "[" in line]
    # the session-scoped parameter orders the items of one cell next to each other
    assert sorted(ids) == ["anon-off-1.34", "anon-off-1.34", "anon-on-1.34", "anon-on-1.34"]
    assert ids[0] == ids[1] and ids[2] == ids[3], ids


def test_cells_expected_not_to_come_up_run_last(project):
    # The expectations: the insecure port starts on 1.19 and not from 1.20 on.
    result = project.run("--collect-only", "-q", "--k8s-version", "1.19,1.34",
                         "--profile", "anon-off-probe-8080,anon-on")
    assert result.ret == 0, project.text(result)
    ids = cells(result)
    assert ids[-1] == "anon-off-probe-8080-1.34", ids
    assert sorted(ids[:-1]) == ["anon-off-probe-8080-1.19", "anon-on-1.19", "anon-on-1.34"]


# -- pytest's own plugins ------------------------------------------------------------------


def test_last_failed_reruns_only_the_failed_plain_test(project):
    project.makepyfile(test_plain="def test_ok():\n    pass\n\n\n"
                                  "def test_bad():\n    assert False\n")
    first = project.run("test_plain.py")
    first.assert_outcomes(passed=1, failed=1)
    assert (project.path / ".pytest_cache").is_dir(), "the cache provider wrote no cache"
    again = project.run("--lf", "test_plain.py")
    again.assert_outcomes(failed=1, deselected=1)
    assert "run-last-failure: rerun previous 1 failure" in project.text(again)
    assert "test_plain.py::test_bad" in project.text(again)


# -- a team's own profiles and expectations ------------------------------------------------

TEAM_PROFILE = """\
description: the team's cluster, anonymous requests refused
apiserver:
  extraArgs:
    anonymous-auth: "false"
"""
TEAM_TEST = """
def test_my_check(cluster, expected, observe):
    observe(status=expected.status)
"""


def team_expectations(shipped: bool) -> str:
    lines = ["scenarios:", "  my_check:"]
    for profile in ("my-profile", "anon-on"):
        lines += [f"    {profile}:", '      - since: "1.19"', "        status: 401"]
    if shipped:  # the team runs the shipped scenarios on its profile too: rows for them
        for scenario in SHIPPED_SCENARIOS:
            lines += [f"  {scenario}:", "    my-profile:", '      - since: "1.19"',
                      "        na: not checked on the team's profile"]
    return "\n".join(lines) + "\n"


@pytest.fixture
def team(project):
    (project.path / "test_cells.py").unlink()
    profiles = project.mkdir("profiles")
    (profiles / "my-profile.yaml").write_text(TEAM_PROFILE)
    (project.path / "expectations.yaml").write_text(team_expectations(shipped=False))
    project.makepyfile(test_team=TEAM_TEST)
    project.makeini("[pytest]\nauthprobe_profiles = profiles\n"
                    "authprobe_expectations = expectations.yaml\n")
    return project


def test_team_profile_and_expectations(team):
    result = team.run("--collect-only", "-q", "--profile", "my-profile")
    assert result.ret == 0, team.text(result)
    assert collected(result) == [f"test_team.py::test_my_check[my-profile-{default_minor()}]"]


def test_team_profile_is_one_of_the_profiles(team):
    result = team.run("--collect-only", "-q", "--profile", "my-profile,anon-on",
                      "--k8s-version", "1.34,1.36")
    assert result.ret == 0, team.text(result)
    assert sorted(cells(result, "test_my_check")) == [
        "anon-on-1.34", "anon-on-1.36", "my-profile-1.34", "my-profile-1.36"]


def test_team_scenarios_beside_the_shipped_ones(team):
    (team.path / "expectations.yaml").write_text(team_expectations(shipped=True))
    result = team.run("--collect-only", "-q", "--profile", "my-profile,anon-on",
                      "test_team.py", "--pyargs", "authprobe.scenarios")
    text = team.text(result)
    assert result.ret == 0, text
    items = collected(result)
    assert sorted(cells(result, "test_my_check")) == ["anon-on-1.34", "my-profile-1.34"]
    shipped = [i for i in items if "test_my_check" not in i]
    assert len(shipped) == 2 * len(SHIPPED_SCENARIOS), text
    assert any(i.endswith("test_anonymous_get_root[my-profile-1.34]") for i in shipped), text
    assert team.tool_calls() == []


# -- planning without clusters -------------------------------------------------------------

PLAN_PROBE = """
from authprobe.plugin.session import PLAN


def pytest_collection_finish(session):
    for item in session.items:
        plan = item.stash.get(PLAN, None)
        na = "no plan" if plan is None else plan.na
        print(f"PLAN {item.name} na={na}")
"""


def plans(result: pytest.RunResult) -> dict[str, str]:
    return dict(line.removeprefix("PLAN ").split(" na=", 1) for line in result.outlines
                if line.startswith("PLAN "))


def test_profile_not_applicable_on_a_version_is_planned_na(project):
    project.makepyfile(planprobe=PLAN_PROBE)
    result = project.run("--collect-only", "-q", "-p", "planprobe", "--pyargs",
                         "authprobe.scenarios", "--profile", "anon-health-only",
                         "--k8s-version", "1.30")
    text = project.text(result)
    assert result.ret == 0, text
    found = plans(result)
    assert len(found) == len(SHIPPED_SCENARIOS), text
    assert all(name.endswith("[anon-health-only-1.30]") for name in found), text
    for name, na in found.items():
        assert "before 1.31" in na, f"{name} is not n/a on 1.30: {na}"
    assert project.tool_calls() == []
    # where the profile applies, the scenarios have rows (na=None) except those marked n/a
    result = project.run("--collect-only", "-q", "-p", "planprobe", "--pyargs",
                         "authprobe.scenarios", "--profile", "anon-health-only",
                         "--k8s-version", "1.34")
    found = plans(result)
    assert len(found) == len(SHIPPED_SCENARIOS), project.text(result)
    assert found["test_anonymous_get_root[anon-health-only-1.34]"] == "None"


def test_a_scenario_with_rows_is_judged_by_them_whether_or_not_it_asks_for_its_row(team):
    """A scenario that reads no ``expected`` itself (the plugin judges what it observes by
    the row) still takes its row: an n/a row makes it n/a; a test no file gives rows to has
    none."""
    team.makepyfile(planprobe=PLAN_PROBE)
    (team.path / "test_team.py").write_text(
        "def test_my_check(cluster, observe):\n    observe(status=401)\n\n\n"
        "def test_unjudged(cluster):\n    pass\n")
    (team.path / "expectations.yaml").write_text(
        "scenarios:\n  my_check:\n    my-profile:\n      - since: \"1.19\"\n"
        "        na: not checked on the team's profile\n")
    result = team.run("--collect-only", "-q", "-p", "planprobe", "--profile", "my-profile")
    found = plans(result)
    assert found == {f"test_my_check[my-profile-{default_minor()}]":
                     "not checked on the team's profile",
                     f"test_unjudged[my-profile-{default_minor()}]": "None"}, team.text(result)
    assert team.tool_calls() == []
