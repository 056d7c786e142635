"""Loading profile files: the shipped ones, and one clear line for each kind of mistake."""

from pathlib import Path

import pytest

from authprobe.errors import AuthprobeError
from authprobe.profiles import load_all, load_profile, select

SHIPPED = {"anon-on", "anon-off", "anon-off-probe-8080", "anon-health-only"}


def test_shipped_profiles_load():
    profiles = load_all()
    assert SHIPPED <= set(profiles)
    for profile in profiles.values():
        assert profile.description


def test_profile_contents():
    profiles = load_all()
    assert dict(profiles["anon-on"].extra_args) == {}
    assert profiles["anon-off"].extra_args["anonymous-auth"] == "false"
    probe8080 = profiles["anon-off-probe-8080"]
    assert probe8080.extra_args["insecure-port"] == "8080"
    assert probe8080.probes["livenessProbe"] == {
        "host": "127.0.0.1", "port": 8080, "path": "/healthz", "scheme": "HTTP"}
    assert probe8080.named_port == 8080
    health = profiles["anon-health-only"]
    assert "anonymous-auth" not in health.extra_args
    doc = health.auth_files["authentication-config.yaml"]
    assert doc["kind"] == "AuthenticationConfiguration"
    assert [c["path"] for c in doc["anonymous"]["conditions"]] == ["/livez", "/readyz", "/healthz"]


def test_select_all_and_some():
    assert {p.id for p in select(None)} >= SHIPPED
    assert [p.id for p in select(["anon-off", "anon-on", "anon-off"])] == ["anon-off", "anon-on"]


def test_unknown_profile_is_one_line():
    with pytest.raises(AuthprobeError) as err:
        select(["nope"])
    text = err.value.one_line()
    assert "unknown profile 'nope'" in text and "anon-on" in text and "\n" not in text


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    return path


def test_new_profile_is_one_file(tmp_path):
    write(tmp_path, "custom", "description: x\napiserver:\n  extraArgs:\n    audit-log-maxage: 3\n")
    profiles = load_all(tmp_path)
    assert profiles["custom"].extra_args["audit-log-maxage"] == "3"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("description: x\napiserver: [\n", "not valid YAML at line"),
        ("- a\n", "must be a YAML mapping"),
        ("apiserver: {}\n", "needs a 'description'"),
        ("description: x\nextra: 1\n", "unknown keys ['extra']"),
        ("description: x\napiserver:\n  extraArgs:\n    --anonymous-auth: 'false'\n",
         "without dashes"),
        ("description: x\napiserver:\n  extraArgs:\n    token-auth-file: /x\n",
         "set by authprobe"),
        ("description: x\napiserver:\n  extraArgs:\n    a: {b: c}\n", "scalar value"),
        ("description: x\napiserver:\n  extraArgs:\n"
         "    authentication-config: '{authFile:a.yaml}'\n", "not in authFiles"),
        ("description: x\napiserver:\n  extraArgs:\n    anonymous-auth: 'false'\n"
         "    authentication-config: '{authFile:a.yaml}'\n"
         "authFiles:\n  a.yaml: {apiVersion: v1, kind: K}\n", "cannot be combined"),
        ("description: x\nprobes:\n  badProbe: {path: /x}\n", "probes.badProbe is unknown"),
        ("description: x\nprobes:\n  livenessProbe: {tcp: 1}\n", "unknown fields"),
        ("description: x\nprobes:\n  livenessProbe: {scheme: FTP}\n", "HTTP or HTTPS"),
        ("description: x\nprobes:\n  namedPort: 99999\n", "port number"),
        ("description: x\nauthFiles:\n  a.yaml: {kind: K}\n", "apiVersion and kind"),
        ("description: x\nauthFiles:\n  tokens.csv: {apiVersion: v1, kind: K}\n", "reserved"),
    ],
)
def test_malformed_profile_is_one_clear_line(tmp_path, text, fragment):
    path = write(tmp_path, "bad", text)
    with pytest.raises(AuthprobeError) as err:
        load_profile(path)
    line = err.value.one_line()
    assert fragment in line
    assert str(path) in line
    assert "\n" not in line


def test_bad_file_name(tmp_path):
    path = write(tmp_path, "Bad_Name", "description: x\n")
    with pytest.raises(AuthprobeError, match="lowercase id"):
        load_profile(path)


def test_empty_directory(tmp_path):
    with pytest.raises(AuthprobeError, match="no profiles"):
        load_all(tmp_path)
