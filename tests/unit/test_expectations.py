"""Expectation files: version-ranged rows, one line per mistake, and the shipped story."""

from __future__ import annotations

import ast

import pytest
import yaml

from authprobe.errors import AuthprobeError
from authprobe.harness.probes import window
from authprobe.model import expectations
from authprobe.model.expectations import FIELDS, ExpectationTable, is_expected_failure
from authprobe.model.profiles import load_dirs
from authprobe.model.versions import KubeVersion, supported
from authprobe.paths import clusters_dir, scenarios_dir

V = KubeVersion.parse
SHIPPED_FILE = scenarios_dir() / "expectations.yaml"
ANY_STATE_MARKER = "control_plane_any"


def table(text: str, source: str = "test.yaml") -> ExpectationTable:
    t = ExpectationTable()
    t.add(yaml.safe_load(text), source)
    return t


RANGES = """
scenarios:
  anonymous_get_root:
    anon-off-probe-8080:
      - since: "1.18"
        comes_up: true
      - since: "1.20"
        comes_up: false
        log_message: "invalid port value"
      - since: "1.24"
        comes_up: false
        log_message: "unknown flag"
"""


@pytest.mark.parametrize(
    ("version", "since", "fragment"),
    [
        ("1.19.16", "1.18", None),
        ("1.20", "1.20", "invalid port value"),
        ("1.20.0", "1.20", "invalid port value"),
        ("1.23.17", "1.20", "invalid port value"),
        ("1.24.0", "1.24", "unknown flag"),
        ("1.37.2", "1.24", "unknown flag"),
    ],
)
def test_a_version_takes_the_nearest_lower_row(version, since, fragment):
    row = table(RANGES).lookup("anon-off-probe-8080", "anonymous_get_root", V(version))
    assert row.since == since
    assert row.log_message == fragment
    assert row.source == "test.yaml"
    assert (row.profile, row.scenario) == ("anon-off-probe-8080", "anonymous_get_root")


def test_a_version_below_every_row_is_an_error_naming_the_first_row():
    with pytest.raises(AuthprobeError, match=r"rows start at 1\.18\) in test\.yaml"):
        table(RANGES).lookup("anon-off-probe-8080", "anonymous_get_root", V("1.17"))


def test_fields_by_attribute_and_by_get():
    row = table(RANGES).lookup("anon-off-probe-8080", "anonymous_get_root", V("1.24"))
    assert row.comes_up is False and row.get("comes_up") is False
    assert row.status is None  # a known field the row does not set
    with pytest.raises(KeyError):
        row.get("stauts")
    with pytest.raises(AttributeError):
        _ = row.stauts
    assert row.to_dict() == {"profile": "anon-off-probe-8080", "scenario": "anonymous_get_root",
                             "since": "1.24", "comes_up": False, "log_message": "unknown flag"}


@pytest.mark.parametrize(("values", "wanted"), [
    ({"comes_up": False}, True),
    ({"comes_up": True}, False),
    ({"restart_shape": "climbs"}, True),
    ({"restart_shape": "never-up"}, True),
    ({"restart_shape": "flat"}, False),
    ({"status": 401}, False),
    ({}, False),
])
def test_expected_failures(values, wanted):
    assert is_expected_failure(values) is wanted


def test_every_field_has_a_meaning():
    assert all(isinstance(text, str) and text for text in FIELDS.values())
    assert {"na", "note", "seen", "status", "restart_shape", "restart_cause"} <= set(FIELDS)


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("[]", "top level must be a mapping"),
        ("scenarios: {}\nprofiles: {}", "a mapping with a 'scenarios' key"),
        ("scenarios: []", "must map scenario names"),
        ("scenarios: {s: []}", "must map profile names"),
        ("scenarios: {s: {p: []}}", "non-empty list"),
        ("scenarios: {s: {p: [{status: 200}]}}", "'since'"),
        ("scenarios: {s: {p: [{since: '1.20', stauts: 200}]}}", "unknown field(s) stauts"),
        ("scenarios: {s: {p: [{since: 'one'}]}}", "not a Kubernetes version"),
        ("scenarios: {s: {p: [{since: '1.24'}, {since: '1.20'}]}}", "increasing 'since'"),
        ("scenarios: {s: {p: [{since: '1.24'}, {since: '1.24'}]}}", "without repeats"),
        ("scenarios: {s: {p: [{since: '1.24', restart_shape: up}]}}", "restart_shape"),
        ("scenarios: {s: {p: [{since: '1.24', restart_cause: probe-40}]}}", "restart_cause"),
        ("scenarios: {s: {p: [{since: '1.24', killed_by: readiness}]}}", "killed_by must be"),
        ("scenarios: {s: {p: [{since: '1.24', killed_by: [startup, x]}]}}", "killed_by must"),
            ("scenarios: {s: {p: [{since: '1.24', restart_cause: unknown}]}}", "restart_cause"),
            ("scenarios: {s: {p: [{since: '1.24', first_restart_at: 300}]}}", "range [low, high]"),
        ("scenarios: {s: {p: [{since: '1.24', seen: '1.24.1'}]}}", "seen must be a list"),
        ("scenarios: {s: {p: [{since: '1.24', seen: ['1.24']}]}}", "must be a patch release"),
        ("scenarios: {s: {p: [{since: '1.24', seen: ['x']}]}}", "seen: 'x' is not"),
        ("scenarios: {s: {p: [{since: '1.24', na: ''}]}}", "na needs a reason"),
    ],
)
def test_malformed_files_fail_with_one_line_naming_the_place(text, complaint):
    with pytest.raises(AuthprobeError) as err:
        table(text)
    line = err.value.one_line()
    assert complaint in line
    assert "malformed expectation file test.yaml" in line
    assert "\n" not in str(err.value)


def test_the_place_names_scenario_profile_and_row():
    with pytest.raises(AuthprobeError) as err:
        table("scenarios: {s: {p: [{since: '1.19'}, {since: '1.24', stauts: 1}]}}")
    assert "at scenarios.s.p since 1.24:" in err.value.one_line()


def test_invalid_yaml_names_the_line(tmp_path):
    bad = tmp_path / "expectations.yaml"
    bad.write_text("scenarios:\n  s: [unclosed\n")
    with pytest.raises(AuthprobeError, match=r"not valid YAML line \d+"):
        expectations.load_files([bad])


def test_unreadable_file_is_one_line(tmp_path):
    with pytest.raises(AuthprobeError, match="cannot read expectation file"):
        expectations.load_files([tmp_path / "absent.yaml"])


def test_unknown_scenario_and_profile_say_where_to_add_them():
    t = table(RANGES)
    with pytest.raises(AuthprobeError, match="scenario 'nope' has no expectations"):
        t.lookup("anon-on", "nope", V("1.34"))
    with pytest.raises(AuthprobeError, match="no expectations for profile 'anon-on'"):
        t.lookup("anon-on", "anonymous_get_root", V("1.34"))


def test_a_team_file_adds_rows_and_may_not_repeat_an_entry(tmp_path):
    mine = tmp_path / "team.yaml"
    mine.write_text("scenarios:\n"
                    "  my_check:\n    anon-on:\n      - {since: '1.30', status: 200}\n"
                    "  anonymous_get_root:\n    team-profile:\n"
                    "      - {since: '1.30', status: 1}\n")
    t = expectations.load_files([SHIPPED_FILE, mine])
    assert t.lookup("anon-on", "my_check", V("1.34")).source == str(mine)
    assert t.lookup("anon-on", "anonymous_get_root", V("1.34")).source == str(SHIPPED_FILE)
    assert (("my_check", "anon-on", str(mine)) in t.pairs())
    assert t.pairs()[0] == ("control_plane_comes_up", "anon-on", str(SHIPPED_FILE))
    again = tmp_path / "again.yaml"
    again.write_text("scenarios:\n  anonymous_get_root:\n    anon-on:\n      - {since: '1.30'}\n")
    with pytest.raises(AuthprobeError) as err:
        expectations.load_files([SHIPPED_FILE, again])
    line = err.value.one_line()
    assert f"malformed expectation file {again}" in line
    assert f"already given in {SHIPPED_FILE}" in line


# The shipped file against the shipped scenarios and profiles.


def scenario_functions() -> dict[str, ast.FunctionDef]:
    found = {}
    for path in sorted(scenarios_dir().glob("test_*.py")):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                found[node.name.removeprefix("test_")] = node
    return found


def runs_in_any_state(node: ast.FunctionDef) -> bool:
    return any(ANY_STATE_MARKER in ast.unparse(d) for d in node.decorator_list)


@pytest.fixture(scope="module")
def shipped():
    return expectations.load_files([SHIPPED_FILE])


@pytest.fixture(scope="module")
def profiles():
    return load_dirs([clusters_dir() / "profiles"])


def test_every_scenario_has_rows_and_every_row_a_scenario_and_profile(shipped, profiles):
    names = set(scenario_functions())
    assert names == {s for s, _, _ in shipped.pairs()}
    assert {p for _, p, _ in shipped.pairs()} == set(profiles)


@pytest.mark.parametrize("minor", sorted(supported()))
def test_every_scenario_has_a_row_for_every_profile_that_applies(shipped, profiles, minor):
    row = supported()[minor]
    patches = {row.patch} | ({row.published_patch} if row.published_patch else set())
    for version in patches:
        for pid, profile in profiles.items():
            if profile.at(version).na:
                continue
            for scenario in scenario_functions():
                shipped.lookup(pid, scenario, version)


@pytest.mark.parametrize("minor", sorted(supported()))
def test_a_control_plane_that_must_not_come_up_leaves_only_any_state_scenarios(
        shipped, profiles, minor):
    version = supported()[minor].patch
    functions = scenario_functions()
    for pid, profile in profiles.items():
        if profile.at(version).na:
            continue
        if shipped.lookup(pid, "control_plane_comes_up", version).comes_up is not False:
            continue
        for scenario, node in functions.items():
            if not runs_in_any_state(node):
                assert shipped.lookup(pid, scenario, version).na, (pid, scenario, minor)


def test_the_story_on_current_kubernetes(shipped):
    v = V("1.34.12")
    assert shipped.lookup("anon-on", "anonymous_get_root", v).status == 403
    assert shipped.lookup("anon-off", "anonymous_get_root", v).status == 401
    assert shipped.lookup("anon-health-only", "anonymous_get_livez", v).status == 200
    assert shipped.lookup("anon-health-only", "anonymous_get_root", v).status == 401
    restarts = shipped.lookup("anon-off", "apiserver_restarts", v)
    assert restarts.restart_shape == "climbs" and restarts.restart_cause == "probe-401"
    assert restarts.expected_failure
    assert shipped.lookup("anon-on", "apiserver_restarts", v).restart_shape == "flat"
    startup = shipped.lookup("anon-off-probe-8080", "control_plane_comes_up", v)
    assert startup.comes_up is False and startup.expected_failure
    assert "unknown flag" in startup.log_message
    assert shipped.lookup("anon-off-probe-8080", "anonymous_get_root", v).na


# kubeadm's probes of kube-apiserver on every minor (as every cluster of the sweep records):
# startup 10 s delay, 24 x 10 s; liveness 10 s delay, 8 x 10 s; 30 s grace period.
KUBEADM_PROBES = {
    "startupProbe": {"initialDelaySeconds": 10, "periodSeconds": 10, "failureThreshold": 24},
    "livenessProbe": {"initialDelaySeconds": 10, "periodSeconds": 10, "failureThreshold": 8},
    "terminationGracePeriodSeconds": 30}


def kill_range(probe: str, kill_delay: float) -> list[float]:
    """The row's first-restart range, by the arithmetic its comment states: the earliest
    kill; the latest kill counted from kubeadm's restart of the kubelet (45 s) and a period,
    the kubelet's delay, the grace period, and 20 s for the new container to be read."""
    spec = KUBEADM_PROBES[probe]
    delay, period, threshold = (spec[k] for k in (
        "initialDelaySeconds", "periodSeconds", "failureThreshold"))
    grace = KUBEADM_PROBES["terminationGracePeriodSeconds"]
    return [delay + (threshold - 1) * period,
            45 + period + (threshold - 1) * period + kill_delay + grace + 20]


@pytest.mark.parametrize(("version", "kill_delay"), [
    ("1.19.16", 90), ("1.30.14", 0), ("1.34.12", 0)])
def test_the_startup_probe_kills_anon_off_up_to_1_34_within_its_budget(
        shipped, version, kill_delay):
    row = shipped.lookup("anon-off", "apiserver_restarts", V(version))
    assert row.alternatives == []
    assert row.killed_by == "startup"
    assert row.first_restart_at == kill_range("startupProbe", kill_delay)
    # the range comes from the budget: it ends before the observation window does
    assert row.first_restart_at[1] < window(KUBEADM_PROBES, 0, kill_delay)


@pytest.mark.parametrize("version", ["1.35.8", "1.37.2"])
def test_the_probe_that_kills_anon_off_from_1_35_is_one_of_two_alternatives(shipped, version):
    row = shipped.lookup("anon-off", "apiserver_restarts", V(version))
    assert row.killed_by is None and row.first_restart_at is None
    by_name = {a.name: a for a in row.alternatives}
    assert by_name["liveness-kill"].values == {
        "killed_by": "liveness", "first_restart_at": kill_range("livenessProbe", 0)}
    assert by_name["startup-kill"].values == {
        "killed_by": "startup", "first_restart_at": kill_range("startupProbe", 0)}
    assert "#141155" in by_name["liveness-kill"].note and "#142305" in by_name[
        "liveness-kill"].note
    assert "#141342" in by_name["startup-kill"].note
    assert kill_range("startupProbe", 0)[1] < window(KUBEADM_PROBES, 0, 0)


def fields_read(node: ast.FunctionDef) -> set[str]:
    """The row fields a scenario compares with ``==`` or ``!=`` itself (``expected.<field>``;
    one it first checks for None is not counted)."""
    found, guarded = set(), set()
    for compare in ast.walk(node):
        if not isinstance(compare, ast.Compare):
            continue
        named = {side.attr for side in [compare.left, *compare.comparators]
                 if isinstance(side, ast.Attribute) and isinstance(side.value, ast.Name)
                 and side.value.id == "expected" and side.attr in FIELDS}
        if all(isinstance(op, (ast.Eq, ast.NotEq)) for op in compare.ops):
            found |= named
        elif all(isinstance(op, (ast.Is, ast.IsNot)) for op in compare.ops):
            guarded |= named
    return found - guarded


@pytest.mark.parametrize("minor", sorted(supported()))
def test_every_row_gives_the_fields_its_scenario_reads(shipped, profiles, minor):
    """A scenario that compares with ``expected.<field>`` compares with None where a row
    leaves the field out: every row that runs gives each such field."""
    assert "auth_files_kept" in fields_read(scenario_functions()["profile_kept_after_upgrade"])
    version = supported()[minor].patch
    missing = []
    for scenario, node in scenario_functions().items():
        needed = fields_read(node)
        for pid, profile in profiles.items():
            if not needed or profile.at(version).na:
                continue
            row = shipped.lookup(pid, scenario, version)
            if row.na:
                continue
            missing += [f"{scenario}/{pid}: {name}" for name in sorted(needed)
                        if name not in row.values]
    assert not missing, missing
