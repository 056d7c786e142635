"""An upgrade run without clusters: the cells of both minors, the order they run in, n/a
where there is no cluster to upgrade, refusals of pairs kubeadm does not upgrade, and a
team's lifecycle step checked before any cluster is made."""

from __future__ import annotations

import pytest

from authprobe.paths import scenarios_dir
from authprobe.plugin.planning import upgrade_only_module

from .test_plugin import PLAN_PROBE, plans
from .test_plugin_refusals import assert_refused

STEP_PLUGIN = """
from authprobe.harness.phases import BRING_UP, Step


def kernel(env, run):
    return run.node.exec("uname", "-r").stdout.strip()


def pytest_authprobe_lifecycle_steps(config):
    return [Step("kernel", kernel, BRING_UP, after="{after}")]
"""


def collected(result: pytest.RunResult) -> list[str]:
    return [line for line in result.outlines if "::" in line]


def test_each_cell_runs_before_and_after_the_upgrade_of_its_cluster(project):
    result = project.run("--collect-only", "-q", "--pyargs", "authprobe.scenarios",
                         "--k8s-version", "1.34", "--upgrade-to", "1.35",
                         "--profile", "anon-on,liveness-hand-edit")
    text = project.text(result)
    assert result.ret == 0, text
    items = collected(result)
    before = [i for i in items if i.endswith("-1.34]") and "-from-" not in i]
    after = [i for i in items if i.endswith("-1.35-from-1.34]")]
    assert len(before) + len(after) == len(items), text
    assert items.index(after[0]) > items.index(before[-1]), "a cell after an upgrade runs first"
    upgrade_only = [i for i in items if upgrade_only_module(scenarios_dir() / i.split("::")[0])]
    assert upgrade_only and all(i in after for i in upgrade_only), text
    # every scenario of the first minor runs again after the upgrade
    assert ({i.replace("-1.34]", "]") for i in before}
            == {i.replace("-1.35-from-1.34]", "]") for i in after if i not in upgrade_only})
    assert project.tool_calls() == []


def test_next_is_the_minor_the_version_facts_name(project):
    result = project.run("--collect-only", "-q", "--pyargs", "authprobe.scenarios",
                         "--k8s-version", "1.36", "--upgrade-to", "next", "--profile", "anon-on")
    assert result.ret == 0, project.text(result)
    assert any(i.endswith("[anon-on-1.37-from-1.36]") for i in collected(result))


def test_a_run_without_upgrade_collects_no_upgrade_scenario_nor_upgrade_profile(project):
    result = project.run("--collect-only", "-q", "--pyargs", "authprobe.scenarios")
    items = collected(result)
    assert items and not any("test_upgrade.py" in i or "liveness-" in i for i in items)
    assert "deselected" not in project.text(result)


def test_no_cluster_to_upgrade_is_na_after_the_upgrade(project):
    project.makepyfile(planprobe=PLAN_PROBE)
    result = project.run("--collect-only", "-q", "-p", "planprobe", "--pyargs",
                         "authprobe.scenarios", "--k8s-version", "1.34", "--upgrade-to", "1.35",
                         "--profile", "anon-off-probe-8080,anon-on")
    text = project.text(result)
    assert result.ret == 0, text
    found = plans(result)
    after_down = {k: v for k, v in found.items()
                  if k.endswith("[anon-off-probe-8080-1.35-from-1.34]")}
    assert after_down and all("no cluster to upgrade" in v for v in after_down.values()), text
    assert found["test_profile_kept_after_upgrade[anon-on-1.35-from-1.34]"] == "None"
    # anon-health-only is n/a on 1.30, so its upgrade to 1.31 has no cluster either
    result = project.run("--collect-only", "-q", "-p", "planprobe", "--pyargs",
                         "authprobe.scenarios", "--k8s-version", "1.30", "--upgrade-to", "1.31",
                         "--profile", "anon-health-only")
    found = plans(result)
    after = [v for k, v in found.items() if k.endswith("-1.31-from-1.30]")]
    assert after and all("there is no cluster to upgrade: on 1.30.14" in v for v in after)


@pytest.mark.parametrize(("args", "fragment"), [
    pytest.param(["--k8s-version", "1.34", "--upgrade-to", "1.36"],
                 "no upgrade from Kubernetes 1.34 to 1.36: kubeadm upgrades one minor at a time "
                 "(1.34 upgrades to 1.35)", id="skips-a-minor"),
    pytest.param(["--k8s-version", "1.34,1.35", "--upgrade-to", "1.36"],
                 "--upgrade-to 1.36 upgrades the clusters of one minor", id="two-minors"),
    pytest.param(["--k8s-version", "1.37", "--upgrade-to", "next"],
                 "Kubernetes 1.37 upgrades to no supported minor", id="newest-has-no-next"),
    pytest.param(["--k8s-version", "1.34", "--upgrade-to", "1.99"],
                 "Kubernetes 1.99 is not supported", id="unknown-minor"),
    pytest.param(["--k8s-version", "1.34", "--upgrade-to", "1.35", "--reuse-clusters"],
                 "--reuse-clusters keeps clusters for the next run of the same version",
                 id="reuse"),
])
def test_an_upgrade_kubeadm_does_not_make_is_one_line(project, args, fragment):
    result = project.run("--pyargs", "authprobe.scenarios", *args)
    assert_refused(project, result, fragment)


def test_a_team_step_that_cannot_be_placed_stops_the_run_before_any_cluster(project):
    project.makepyfile(teamsteps=STEP_PLUGIN.replace("{after}", "redy"))
    result = project.run("-p", "teamsteps", "--pyargs", "authprobe.scenarios", "--profile",
                         "anon-on")
    assert_refused(project, result, "lifecycle step 'kernel' comes after 'redy', which stage "
                                    "'bring-up' does not have")


def test_a_team_step_that_fits_passes_planning(project):
    project.makepyfile(teamsteps=STEP_PLUGIN.replace("{after}", "ready"))
    result = project.run("--collect-only", "-q", "-p", "teamsteps", "--pyargs",
                         "authprobe.scenarios", "--profile", "anon-on")
    assert result.ret == 0, project.text(result)
