"""The named timeouts: the shipped groups, the per-version rows, a step's own timeouts, and
a run's overrides, each mistake one line."""

from __future__ import annotations

import copy
from dataclasses import fields
from types import SimpleNamespace

import pytest
import yaml

from authprobe.errors import AuthprobeError
from authprobe.harness import steps
from authprobe.harness.phases import BRING_UP, Step
from authprobe.model import timeouts, versions
from authprobe.model.outcome import RunLog
from authprobe.model.versions import KubeVersion, VersionTable

V134 = KubeVersion(1, 34, 12)


@pytest.fixture
def run_table():
    """Restores the process's table after a test that configures one."""
    before = timeouts.configure({}, {})
    yield
    timeouts.restore(before)


def kernel(env, run):
    return ""


def one_line(err: pytest.ExceptionInfo) -> str:
    text = str(err.value)
    assert "\n" not in text, text
    return text


def test_every_shipped_timeout_has_a_meaning_and_the_groups_share_no_name():
    names = [f.name for group in timeouts.GROUPS for f in fields(group)]
    assert len(names) == len(set(names)) == len(timeouts.SHIPPED)
    for name in names:
        assert timeouts.meaning(name).strip(), name
    assert set(timeouts.defaults()) == set(names) - set(timeouts.STEP_NAMES)
    assert all(value > 0 for value in timeouts.defaults().values())


def test_the_per_version_limits_come_from_the_versions_file():
    table = versions.version_table()
    timeouts.check_versions_file(table)
    first = table.timeouts.rows[0][1]
    assert set(first) == set(timeouts.STEP_NAMES)
    for name in timeouts.STEP_NAMES:
        assert timeouts.limit(name, V134) == float(first[name])


def test_the_restart_window_default_is_named_once():
    env = steps.Env(runlog=RunLog(), kind_path=None, kind_version="v0", host=None,
                    logs_root=lambda: None, register_secret=lambda s: None, other_flags={})
    assert env.default_window == timeouts.Waits().restart_window == 330.0


def versions_with(rows) -> VersionTable:
    data = copy.deepcopy(yaml.safe_load(versions.versions_file().read_text()))
    data["timeouts"] = rows
    return VersionTable(data, versions.versions_file())


def test_an_unknown_name_in_the_versions_file_is_one_line():
    first = yaml.safe_load(versions.versions_file().read_text())["timeouts"][0]
    with pytest.raises(AuthprobeError) as err:
        timeouts.check_versions_file(versions_with([{**first, "redy": 300}]))
    line = one_line(err)
    assert "timeouts since 1.19: unknown timeout(s) redy" in line
    assert "the per-version ones are create, probe_patch, ready" in line


def test_a_per_call_name_in_the_versions_file_says_how_to_change_it():
    first = yaml.safe_load(versions.versions_file().read_text())["timeouts"][0]
    with pytest.raises(AuthprobeError) as err:
        timeouts.check_versions_file(versions_with([{**first, "node_exec": 90}]))
    assert "(node_exec not per version: override it with --set-timeout)" in one_line(err)


def test_a_first_row_without_a_per_version_limit_is_one_line():
    first = yaml.safe_load(versions.versions_file().read_text())["timeouts"][0]
    del first["teardown"]
    with pytest.raises(AuthprobeError) as err:
        timeouts.check_versions_file(versions_with([first]))
    assert "the first row must name teardown" in one_line(err)


def test_a_later_row_changes_its_limit_from_its_minor_on():
    first = yaml.safe_load(versions.versions_file().read_text())["timeouts"][0]
    table = versions_with([first, {"since": "1.35", "ready": 400}])
    timeouts.check_versions_file(table)
    assert table.timeouts_for(V134)["ready"] == float(first["ready"])
    assert table.timeouts_for(KubeVersion(1, 35, 8))["ready"] == 400.0


@pytest.mark.parametrize(("items", "found"), [
    (["ready=300"], {"ready": 300.0}),
    (["ready=300,node_exec=90.5", " kernel = 5 "], {"ready": 300.0, "node_exec": 90.5,
                                                   "kernel": 5.0}),
    (["ready=1", "ready=2"], {"ready": 2.0}),
    ([""], {}),
])
def test_overrides_are_name_equals_seconds(items, found):
    assert timeouts.parse_overrides(items, "--set-timeout") == found


@pytest.mark.parametrize(("item", "fragment"), [
    ("ready", "--set-timeout 'ready': write NAME=SECONDS, e.g. ready=300"),
    ("=5", "--set-timeout '=5': write NAME=SECONDS, e.g. ready=300"),
    ("ready=soon", "--set-timeout ready: 'soon' is not a number of seconds"),
    ("ready=0", "--set-timeout ready: 0.0 must be a positive number of seconds"),
    ("ready=-5", "--set-timeout ready: -5.0 must be a positive number of seconds"),
    ("ready=inf", "--set-timeout ready: inf must be a positive number of seconds"),
])
def test_a_bad_override_is_one_line(item, fragment):
    with pytest.raises(AuthprobeError) as err:
        timeouts.parse_overrides([item], "--set-timeout")
    assert one_line(err) == fragment


def test_an_override_of_an_unknown_name_is_one_line(run_table):
    with pytest.raises(AuthprobeError) as err:
        timeouts.configure({"redy": 5.0}, {"kernel": 120.0})
    line = one_line(err)
    assert line.startswith("unknown timeout(s) redy: the named ones are ")
    assert "kernel" in line and "ready" in line and "node_exec" in line


def test_overrides_and_a_steps_own_timeouts_are_read_by_name(run_table):
    step = Step("kernel", kernel, BRING_UP, timeouts={"kernel": 120, "kernel_log": 30.5})
    assert step.timeouts == {"kernel": 120.0, "kernel_log": 30.5}
    declared = timeouts.declared_by([step])
    timeouts.configure({"kernel_log": 45.0, "ready": 999.0, "node_exec": 7.0,
                        "audit_record": 3.0}, declared)
    run = SimpleNamespace(version=V134)
    assert steps.limit(run, "kernel") == 120.0
    assert steps.limit(run, "kernel_log") == 45.0
    assert steps.limit(run, "ready") == 999.0
    assert steps.limit(run, "create") == versions.timeouts_for(V134)["create"]
    assert timeouts.calls().node_exec == 7.0
    assert timeouts.calls().node_read == timeouts.Calls().node_read
    assert timeouts.waits().audit_record == 3.0
    assert steps.limit(run, "node_exec") == 7.0


def test_a_name_no_step_declares_is_one_line(run_table):
    with pytest.raises(AuthprobeError) as err:
        steps.limit(SimpleNamespace(version=V134), "kernel")
    assert one_line(err) == ("no timeout is named 'kernel': name it in the step's timeouts "
                             "(Step(..., timeouts={...}))")


@pytest.mark.parametrize(("given", "fragment"), [
    ({"create": 60}, "timeout 'create' is a shipped one: give the step's timeout a name of its "
                     "own"),
    ({"Kernel Wait": 60}, "timeout 'Kernel Wait': a name is lower case letters, digits and '_'"),
    ({"kernel": 0}, "timeout 'kernel': 0 must be a positive number of seconds"),
    ({"kernel": "long"}, "timeout 'kernel': 'long' is not a number of seconds"),
    ({"kernel": True}, "timeout 'kernel': True is not a number of seconds"),
    ([("kernel", 5)], "timeouts must map names to seconds"),
])
def test_a_bad_step_timeout_is_one_line(given, fragment):
    with pytest.raises(AuthprobeError) as err:
        Step("kernel", kernel, BRING_UP, timeouts=given)
    line = one_line(err)
    assert line.startswith("lifecycle step 'kernel': ")
    assert fragment in line


def test_two_steps_giving_one_name_two_defaults_is_one_line():
    one = Step("kernel", kernel, BRING_UP, timeouts={"kernel": 120})
    same = Step("kernel-again", kernel, BRING_UP, timeouts={"kernel": 120})
    other = Step("kernel-log", kernel, BRING_UP, timeouts={"kernel": 60})
    assert timeouts.declared_by([one, same]) == {"kernel": 120.0}
    with pytest.raises(AuthprobeError) as err:
        timeouts.declared_by([one, other])
    assert one_line(err) == ("lifecycle step 'kernel-log': timeout 'kernel' is 60s, and 120s "
                             "in step 'kernel': give one default or two names")


def test_a_step_with_timeouts_stays_hashable_and_comparable():
    one = Step("kernel", kernel, BRING_UP, timeouts={"kernel": 120})
    assert hash(one) == hash(Step("kernel", kernel, BRING_UP, timeouts={"kernel": 120}))
    assert one != Step("kernel", kernel, BRING_UP, timeouts={"kernel": 60})
