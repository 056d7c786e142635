import ast
from pathlib import Path

import pytest
import yaml

from authprobe import expectations
from authprobe.errors import AuthprobeError
from authprobe.paths import PROFILES_DIR, SCENARIOS_DIR
from authprobe.versions import KubeVersion

V = KubeVersion.parse


def table(text: str) -> expectations.ExpectationTable:
    return expectations.ExpectationTable(yaml.safe_load(text), "test.yaml")


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
        ("1.23.17", "1.20", "invalid port value"),
        ("1.24.0", "1.24", "unknown flag"),
        ("1.37.2", "1.24", "unknown flag"),
    ],
)
def test_a_version_takes_the_nearest_lower_row(version, since, fragment):
    row = table(RANGES).lookup("anon-off-probe-8080", "anonymous_get_root", V(version))
    assert row.since == since
    assert row.log_message == fragment


def test_a_version_below_every_row_is_an_error_naming_the_first_row():
    with pytest.raises(AuthprobeError, match="rows start at 1.18"):
        table(RANGES).lookup("anon-off-probe-8080", "anonymous_get_root", V("1.17"))


def test_profile_gate_marks_every_scenario_not_applicable():
    text = RANGES + """
profiles:
  anon-off-probe-8080:
    - since: "1.18"
      na: "too old"
    - since: "1.19"
"""
    t = table(text)
    assert t.lookup("anon-off-probe-8080", "anonymous_get_root", V("1.18.20")).na == "too old"
    assert t.lookup("anon-off-probe-8080", "anonymous_get_root", V("1.19")).na is None


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("[]", "top level must be a mapping"),
        ("scenarios: {s: {p: []}}", "non-empty list"),
        ("scenarios: {s: {p: [{status: 200}]}}", "'since'"),
        ("scenarios: {s: {p: [{since: '1.20', stauts: 200}]}}", "unknown field(s) stauts"),
        ("scenarios: {s: {p: [{since: 'one'}]}}", "not a Kubernetes version"),
        ("scenarios: {s: {p: [{since: '1.24'}, {since: '1.20'}]}}", "increasing 'since'"),
        ("scenarios: {s: {p: [{since: '1.24', restart_shape: up}]}}", "restart_shape"),
    ],
)
def test_malformed_files_fail_with_one_line_naming_the_place(text, complaint):
    with pytest.raises(AuthprobeError) as err:
        table(text)
    line = err.value.one_line()
    assert complaint in line
    assert "test.yaml" in line
    assert "\n" not in line


def test_invalid_yaml_names_the_line(tmp_path):
    bad = tmp_path / "expectations.yaml"
    bad.write_text("scenarios:\n  s: [unclosed\n")
    with pytest.raises(AuthprobeError, match=r"not valid YAML line \d+"):
        expectations.load(bad)


def test_unknown_scenario_and_profile_say_where_to_add_them():
    t = table(RANGES)
    with pytest.raises(AuthprobeError, match="scenario 'nope' has no expectations"):
        t.lookup("anon-on", "nope", V("1.34"))
    with pytest.raises(AuthprobeError, match="no expectations for profile 'anon-on'"):
        t.lookup("anon-on", "anonymous_get_root", V("1.34"))


def scenario_ids() -> set[str]:
    ids = set()
    for path in Path(SCENARIOS_DIR).glob("test_*.py"):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                ids.add(node.name.removeprefix("test_"))
    return ids


def test_every_scenario_has_a_row_for_every_profile_on_the_supported_versions():
    shipped = expectations.load()
    profiles = sorted(p.stem for p in PROFILES_DIR.glob("*.yaml")) or [
        "anon-on", "anon-off", "anon-health-only", "anon-off-probe-8080"
    ]
    assert scenario_ids() == set(shipped.scenario_names())
    for scenario in scenario_ids():
        for profile in profiles:
            for version in ("1.24", "1.34.12", "1.36.4", "1.37"):
                shipped.lookup(profile, scenario, V(version))


def test_the_story_on_current_kubernetes():
    shipped = expectations.load()
    v = V("1.34.12")
    assert shipped.lookup("anon-on", "anonymous_get_root", v).status == 403
    assert shipped.lookup("anon-off", "anonymous_get_root", v).status == 401
    assert shipped.lookup("anon-health-only", "anonymous_get_livez", v).status == 200
    assert shipped.lookup("anon-off", "apiserver_restarts", v).restart_shape == "climbs"
    startup = shipped.lookup("anon-off-probe-8080", "control_plane_comes_up", v)
    assert startup.comes_up is False and startup.expected_failure
    assert shipped.lookup("anon-off-probe-8080", "anonymous_get_root", v).na
