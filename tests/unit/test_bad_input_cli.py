"""Bad input to the team commands, as a user meets it: the ``authprobe`` command run as a
process, one line on stderr naming what is wrong and what to do, exit status 2, and nothing
written. The inputs are the captured kubeadm-config of a real 1.34.12 cluster and the
outcomes of a real team run (tests/unit/data), with the one thing wrong each case names."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

DATA = Path(__file__).parent / "data"
CONFIGMAP = DATA / "kubeadm-1.34.12" / "kubeadm-config.yaml"
COREDNS = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: coredns, namespace: kube-system}
data:
  Corefile: |
    .:53 {
        errors
    }
"""
# A row of team-sample's recorded on 1.34.12 whose since was edited to 1.33.
EDITED_ROWS = """\
recorded:
  anonymous_get_livez:
    team-sample:
    - since: '1.33'
      recorded: {run: 20261207T012510Z-k8s1.34, version: 1.34.12}
      status: 200
"""


def authprobe(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "authprobe.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=120)


def one_error_line(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("authprobe: error: "), result.stderr
    assert result.stdout == ""
    return lines[0]


def team_folders(tmp_path: Path) -> tuple[Path, Path]:
    files, profiles = tmp_path / "files", tmp_path / "profiles"
    files.mkdir()
    profiles.mkdir()
    return files, profiles


def test_a_configmap_that_is_not_a_kubeadm_configuration(tmp_path):
    files, profiles = team_folders(tmp_path)
    config = tmp_path / "coredns.yaml"
    config.write_text(COREDNS)
    line = one_error_line(authprobe("profile", "import", config, "--files", files, "--into",
                                    profiles, "--name", "team-a"))
    assert ("ConfigMap kube-system/coredns is not a kubeadm configuration (no "
            "data.ClusterConfiguration); give kube-system/kubeadm-config (kubectl -n "
            "kube-system get configmap kubeadm-config -o yaml)") in line
    assert list(profiles.iterdir()) == []


def test_a_missing_referenced_file(tmp_path):
    files, profiles = team_folders(tmp_path)
    shutil.copy(DATA / "kubeadm-1.34.12" / "files" / "audit-policy.yaml", files)
    line = one_error_line(authprobe("profile", "import", CONFIGMAP, "--files", files, "--into",
                                    profiles, "--name", "team-a"))
    assert line == (
        "authprobe: error: --authentication-config names "
        "/etc/authprobe/auth/authentication-config.yaml, and "
        f"{files}/authentication-config.yaml does not exist: copy the file from a "
        f"control-plane node into {files}")
    assert list(profiles.iterdir()) == []
    assert [p.name for p in files.iterdir()] == ["audit-policy.yaml"]


def test_a_recorded_rows_file_edited_by_hand_into_an_invalid_state(tmp_path):
    report = tmp_path / "run"
    report.mkdir()
    shutil.copy(DATA / "team-run-1.34.json", report / "outcomes.json")
    rows = tmp_path / "recorded.yaml"
    rows.write_text(EDITED_ROWS)
    for action in (["record", "--update"], ["accept"]):
        line = one_error_line(authprobe("rows", action[0], report, "--into", rows,
                                        *action[1:]))
        assert line == (
            f"authprobe: error: malformed expectation file {rows} at "
            "recorded.anonymous_get_livez.team-sample since 1.33: a row recorded on 1.34.12 "
            "starts at 1.34, not 1.33; record it again rather than edit it")
        assert rows.read_text() == EDITED_ROWS
        assert sorted(p.name for p in tmp_path.iterdir()) == ["recorded.yaml", "run"]
