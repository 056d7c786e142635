"""Loading profile files: the shipped ones, version rows, and one clear line per mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from authprobe.errors import AuthprobeError
from authprobe.model.profiles import load_dirs, load_profile
from authprobe.model.versions import KubeVersion
from authprobe.paths import clusters_dir

PROFILES_DIR = clusters_dir() / "profiles"
# Every profile file in the folder; a new profile is a new file, and nothing here changes.
SHIPPED = {path.stem for path in PROFILES_DIR.glob("*.yaml")}
V = KubeVersion.parse


@pytest.fixture(scope="module")
def shipped():
    return load_dirs([PROFILES_DIR])


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_text(text)
    return path


def test_shipped_profiles_load(shipped):
    assert set(shipped) == SHIPPED and len(SHIPPED) >= 4
    for profile in shipped.values():
        assert profile.description and "\n" not in profile.description
        assert profile.source.parent == PROFILES_DIR


def test_profile_contents(shipped):
    v = V("1.34.12")
    assert dict(shipped["anon-on"].at(v).extra_args) == {}
    assert shipped["anon-on"].at(v).na is None
    assert dict(shipped["anon-off"].at(v).extra_args) == {"anonymous-auth": "false"}
    probe8080 = shipped["anon-off-probe-8080"].at(v)
    assert probe8080.extra_args["insecure-port"] == "8080"
    assert dict(probe8080.probes["livenessProbe"].http_get) == {
        "host": "127.0.0.1", "port": 8080, "path": "/healthz", "scheme": "HTTP"}
    assert dict(probe8080.probes["livenessProbe"].timing) == {}
    assert set(probe8080.probes) == {"livenessProbe"}
    assert probe8080.named_port == 8080
    health = shipped["anon-health-only"].at(v)
    assert "anonymous-auth" not in health.extra_args
    assert health.extra_args["authentication-config"] == "{authFile:authentication-config.yaml}"
    doc = health.auth_files["authentication-config.yaml"]
    assert doc["kind"] == "AuthenticationConfiguration"
    assert [c["path"] for c in doc["anonymous"]["conditions"]] == ["/livez", "/readyz", "/healthz"]


def test_profiles_without_versions_apply_everywhere(shipped):
    for pid in ("anon-on", "anon-off"):
        assert shipped[pid].versions is None
        for minor in ("1.19", "1.30", "1.37"):
            assert shipped[pid].at(V(minor)).na is None


def test_the_2017_fix_moves_every_probe_on_1_19_and_liveness_only_after(shipped):
    profile = shipped["anon-off-probe-8080"]
    on_119 = profile.at(V("1.19.16"))
    assert on_119.na is None
    assert sorted(on_119.probes) == ["livenessProbe", "readinessProbe", "startupProbe"]
    assert all(p.http_get["port"] == 8080 and p.http_get["scheme"] == "HTTP"
               for p in on_119.probes.values())
    for minor in ("1.20", "1.34", "1.37"):
        assert sorted(profile.at(V(minor)).probes) == ["livenessProbe"]


def test_health_only_is_na_on_1_30_with_its_reason(shipped):
    at = shipped["anon-health-only"].at(V("1.30.14"))
    assert at.na and "before 1.31" in at.na and "AnonymousAuthConfigurableEndpoints" in at.na
    assert "\n" not in at.na


def test_health_only_on_1_31_has_the_gate_and_v1beta1(shipped):
    at = shipped["anon-health-only"].at(V("1.31.4"))
    assert at.na is None
    assert at.extra_args["feature-gates"] == "AnonymousAuthConfigurableEndpoints=true"
    assert at.extra_args["authentication-config"] == "{authFile:authentication-config.yaml}"
    doc = at.auth_files["authentication-config.yaml"]
    assert doc["apiVersion"] == "apiserver.config.k8s.io/v1beta1"
    # The row changes only the apiVersion: the rest of the document is the base's.
    assert doc["kind"] == "AuthenticationConfiguration"
    assert [c["path"] for c in doc["anonymous"]["conditions"]] == ["/livez", "/readyz", "/healthz"]
    assert at.note.startswith("alpha")


@pytest.mark.parametrize("version", ["1.32", "1.32.9", "1.33.13"])
def test_health_only_on_1_32_and_1_33_is_v1beta1_without_gate(shipped, version):
    at = shipped["anon-health-only"].at(V(version))
    assert at.na is None
    assert "feature-gates" not in at.extra_args
    assert at.auth_files["authentication-config.yaml"]["apiVersion"] == (
        "apiserver.config.k8s.io/v1beta1")


@pytest.mark.parametrize("version", ["1.34", "1.34.12", "1.35.8", "1.36.5", "1.37.2"])
def test_health_only_from_1_34_is_v1(shipped, version):
    at = shipped["anon-health-only"].at(V(version))
    assert at.na is None
    assert "feature-gates" not in at.extra_args
    assert at.auth_files["authentication-config.yaml"]["apiVersion"] == (
        "apiserver.config.k8s.io/v1")


def test_at_does_not_change_the_profile(shipped):
    profile = shipped["anon-health-only"]
    profile.at(V("1.31")).auth_files["authentication-config.yaml"]["apiVersion"] = "changed"
    assert profile.at(V("1.31")).auth_files["authentication-config.yaml"]["apiVersion"] == (
        "apiserver.config.k8s.io/v1beta1")
    assert profile.base["authFiles"]["authentication-config.yaml"]["apiVersion"] == (
        "apiserver.config.k8s.io/v1")


def test_a_version_below_the_first_row_is_na(tmp_path):
    path = write(tmp_path, "late", "description: x\nversions:\n  - since: '1.33'\n")
    at = load_profile(path).at(V("1.32.9"))
    assert at.na == "profile late starts at Kubernetes 1.33"
    assert load_profile(path).at(V("1.33.0")).na is None


def test_new_profile_is_one_file(tmp_path):
    write(tmp_path, "custom", "description: x\napiserver:\n  extraArgs:\n    audit-log-maxage: 3\n"
          "    profiling: false\n")
    profiles = load_dirs([tmp_path])
    at = profiles["custom"].at(V("1.34"))
    assert at.extra_args["audit-log-maxage"] == "3"
    assert at.extra_args["profiling"] == "false"


def test_probe_timing_fields_are_accepted(tmp_path):
    path = write(tmp_path, "slow", """\
description: x
probes:
  startupProbe: {failureThreshold: 30, periodSeconds: 5, initialDelaySeconds: 0}
  livenessProbe: {path: /livez, timeoutSeconds: 3}
""")
    at = load_profile(path).at(V("1.34"))
    assert dict(at.probes["startupProbe"].timing) == {
        "failureThreshold": 30, "periodSeconds": 5, "initialDelaySeconds": 0}
    assert dict(at.probes["startupProbe"].http_get) == {}
    assert dict(at.probes["livenessProbe"].http_get) == {"path": "/livez"}
    assert dict(at.probes["livenessProbe"].timing) == {"timeoutSeconds": 3}


def test_version_row_merges_over_the_base_key_by_key(tmp_path):
    path = write(tmp_path, "rows", """\
description: x
apiserver:
  extraArgs: {anonymous-auth: "false", profiling: "true"}
probes:
  livenessProbe: {path: /livez, failureThreshold: 8}
versions:
  - since: "1.30"
  - since: "1.35"
    note: "  several\\n  words  "
    apiserver:
      extraArgs: {profiling: "false"}
    probes:
      livenessProbe: {failureThreshold: 4}
""")
    profile = load_profile(path)
    old, new = profile.at(V("1.34.12")), profile.at(V("1.35.0"))
    assert dict(old.extra_args) == {"anonymous-auth": "false", "profiling": "true"}
    assert dict(new.extra_args) == {"anonymous-auth": "false", "profiling": "false"}
    assert dict(old.probes["livenessProbe"].timing) == {"failureThreshold": 8}
    assert dict(new.probes["livenessProbe"].timing) == {"failureThreshold": 4}
    assert dict(new.probes["livenessProbe"].http_get) == {"path": "/livez"}
    assert new.note == "several words" and old.note == ""


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("description: x\napiserver: [\n", "not valid YAML at line"),
        ("- a\n", "must be a YAML mapping"),
        ("apiserver: {}\n", "needs a 'description'"),
        ("description: x\nextra: 1\n", "unknown keys ['extra']"),
        ("description: x\napiserver:\n  extraArgs:\n    --anonymous-auth: 'false'\n",
         "without dashes"),
        ("description: x\napiserver:\n  flags: {}\n", "may only hold 'extraArgs'"),
        ("description: x\napiserver:\n  extraArgs:\n    token-auth-file: /x\n",
         "set by authprobe"),
        ("description: x\napiserver:\n  extraArgs:\n    audit-log-path: /x\n",
         "set by authprobe"),
        ("description: x\napiserver:\n  extraArgs:\n    a: {b: c}\n", "scalar value"),
        ("description: x\napiserver:\n  extraArgs:\n"
         "    authentication-config: '{authFile:a.yaml}'\n", "not in authFiles"),
        ("description: x\napiserver:\n  extraArgs:\n    anonymous-auth: 'false'\n"
         "    authentication-config: '{authFile:a.yaml}'\n"
         "authFiles:\n  a.yaml: {apiVersion: v1, kind: K}\n", "cannot be combined"),
        ("description: x\nprobes:\n  badProbe: {path: /x}\n", "probes.badProbe is unknown"),
        ("description: x\nprobes:\n  livenessProbe: {tcp: 1}\n", "unknown fields ['tcp']"),
        ("description: x\nprobes:\n  livenessProbe: {failureTreshold: 3}\n",
         "unknown fields ['failureTreshold']"),
        ("description: x\nprobes:\n  livenessProbe: {scheme: FTP}\n", "HTTP or HTTPS"),
        ("description: x\nprobes:\n  livenessProbe: {}\n", "must map probe fields"),
        ("description: x\nprobes:\n  namedPort: 99999\n", "port number"),
        ("description: x\nprobes:\n  namedPort: true\n", "port number"),
        ("description: x\nauthFiles:\n  a.yaml: {kind: K}\n", "apiVersion and kind"),
        ("description: x\nauthFiles:\n  tokens.csv: {apiVersion: v1, kind: K}\n", "reserved"),
        ("description: x\nauthFiles:\n  audit-policy.yaml: {apiVersion: v1, kind: K}\n",
         "reserved"),
        ("description: x\nauthFiles:\n  ../a.yaml: {apiVersion: v1, kind: K}\n",
         "plain file name"),
    ],
)
def test_malformed_profile_is_one_clear_line(tmp_path, text, fragment):
    path = write(tmp_path, "bad", text)
    with pytest.raises(AuthprobeError) as err:
        load_profile(path)
    line = err.value.one_line()
    assert fragment in line
    assert str(path) in line
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("field", ["failureThreshold", "periodSeconds", "initialDelaySeconds",
                                   "timeoutSeconds"])
@pytest.mark.parametrize("value", ["'10'", "10s", "1.5", "-1", "true", "null"])
def test_probe_timing_fields_must_be_whole_numbers(tmp_path, field, value):
    text = f"description: x\nprobes:\n  startupProbe: {{{field}: {value}}}\n"
    path = write(tmp_path, "bad", text)
    with pytest.raises(AuthprobeError) as err:
        load_profile(path)
    line = err.value.one_line()
    assert f"probes.startupProbe.{field} must be a whole number" in line
    assert str(path) in line


@pytest.mark.parametrize(
    ("rows", "fragment"),
    [
        ("  - since: '1.30'\n    apiserver_: {}\n",
         "versions row since 1.30: unknown keys ['apiserver_']"),
        ("  - since: '1.30'\n    probes:\n      livenessProbe: {tcp: 1}\n",
         "versions row since 1.30: probes.livenessProbe has unknown fields ['tcp']"),
        ("  - since: '1.30'\n    probes:\n      startupProbe: {failureThreshold: x}\n",
         "versions row since 1.30: probes.startupProbe.failureThreshold must be a whole number"),
        ("  - since: '1.30'\n    apiserver:\n      extraArgs: {token-auth-file: /x}\n",
         "versions row since 1.30: --token-auth-file is set by authprobe"),
        ("  - since: '1.30'\n    authFiles:\n      b.yaml: {kind: K}\n",
         "authFiles 'b.yaml' needs apiVersion and kind (at 1.30)"),
        ("  - {na: x}\n", "versions[0]: each row is a mapping with a 'since'"),
        ("  - since: '1.31'\n  - since: '1.30'\n", "increasing 'since'"),
        ("  - since: 'one'\n", "not a Kubernetes version"),
        ("  []\n", "non-empty list"),
    ],
)
def test_malformed_versions_rows_are_one_line(tmp_path, rows, fragment):
    path = write(tmp_path, "bad", "description: x\nversions:\n" + rows)
    with pytest.raises(AuthprobeError) as err:
        load_profile(path)
    line = err.value.one_line()
    assert fragment in line
    assert str(path) in line
    assert "\n" not in str(err.value)


def test_bad_file_name(tmp_path):
    path = write(tmp_path, "Bad_Name", "description: x\n")
    with pytest.raises(AuthprobeError, match="lowercase id"):
        load_profile(path)


def test_empty_directory(tmp_path):
    with pytest.raises(AuthprobeError, match="no profiles found"):
        load_dirs([tmp_path])


def test_missing_directory(tmp_path):
    with pytest.raises(AuthprobeError, match="does not exist"):
        load_dirs([tmp_path / "absent"])


def test_a_team_folder_adds_profiles_to_the_shipped_ones(tmp_path):
    write(tmp_path, "team", "description: x\n")
    profiles = load_dirs([PROFILES_DIR, tmp_path])
    assert set(profiles) == SHIPPED | {"team"}


def test_two_folders_defining_one_id_is_one_line(tmp_path):
    first = write(tmp_path / "a", "same", "description: one\n")
    second = write(tmp_path / "b", "same", "description: two\n")
    with pytest.raises(AuthprobeError) as err:
        load_dirs([tmp_path / "a", tmp_path / "b"])
    line = err.value.one_line()
    assert "profile 'same' is defined twice" in line
    assert str(first) in line and str(second) in line
    assert "\n" not in str(err.value)


def test_a_team_profile_may_not_reuse_a_shipped_id(tmp_path):
    write(tmp_path, "anon-on", "description: mine\n")
    with pytest.raises(AuthprobeError, match="profile 'anon-on' is defined twice"):
        load_dirs([PROFILES_DIR, tmp_path])
