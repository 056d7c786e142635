"""The pure parts of an upgrade run: which pairs the version facts support, the named
timeouts, the UpgradeConfiguration, kubeadm's error line, the hand-edit and upgrade-only
profile keys, the node image's upgrade folder and the cells an upgrade reaches."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from authprobe.errors import AuthprobeError
from authprobe.harness.render import RenderInput, render
from authprobe.harness.upgrade import auth_files_across, config_text, kubeadm_line
from authprobe.model.cell import Cell
from authprobe.model.profiles import load_profile
from authprobe.model.versions import FACT_NAMES, KubeVersion, VersionTable, version_table
from authprobe.plugin.planning import upgrade_only_module
from authprobe.report.scrub import scrub
from authprobe.upgradeimage import Artifacts, layout, tag_for, target_version

V = KubeVersion.parse


def table(tmp_path: Path, minors: dict, timeouts: list | None = None) -> VersionTable:
    data = {"kind": "v0.33.0", "default": "1.30", "minors": minors,
            "facts": {name: [{"since": "1.30", "value": False}] for name in FACT_NAMES},
            "timeouts": timeouts or [{"since": "1.30", "create": 600, "upgrade_apply": 900}]}
    return VersionTable(data, tmp_path / "versions.yaml")


def test_every_shipped_minor_but_the_last_upgrades_to_the_next():
    shipped = version_table()
    pairs = {m: row.upgrade_to for m, row in shipped.minors.items() if row.upgrade_to}
    assert pairs == {"1.30": "1.31", "1.31": "1.32", "1.32": "1.33", "1.33": "1.34",
                     "1.34": "1.35", "1.35": "1.36", "1.36": "1.37"}
    old, new = shipped.upgrade_pair("1.34", "1.35.8")
    assert (old.minor, new.minor) == ("1.34", "1.35")


def test_an_unsupported_pair_names_the_supported_ones():
    with pytest.raises(AuthprobeError, match=r"no upgrade from Kubernetes 1\.34 to 1\.36: "
                                             r"kubeadm upgrades one minor at a time \(1\.34 "
                                             r"upgrades to 1\.35\); the supported pairs are "
                                             r"1\.30 -> 1\.31, "):
        version_table().upgrade_pair("1.34", "1.36")
    with pytest.raises(AuthprobeError, match="1.37 upgrades to no minor"):
        version_table().upgrade_pair("1.37", "1.36")


def test_a_pair_that_skips_a_minor_is_refused_in_the_file(tmp_path):
    minors = {"1.30": {"patch": "1.30.1", "published": None, "upgrade_to": "1.32"},
              "1.32": {"patch": "1.32.1", "published": None}}
    with pytest.raises(AuthprobeError, match=r"minors\.1\.30\.upgrade_to: kubeadm upgrades one "
                                             r"minor at a time: 1\.30 upgrades to 1\.31"):
        table(tmp_path, minors)


def test_timeouts_by_name_and_per_minor(tmp_path):
    minors = {"1.30": {"patch": "1.30.1", "published": None}}
    found = table(tmp_path, minors, [{"since": "1.30", "create": 600, "upgrade_apply": 900},
                                     {"since": "1.35", "upgrade_apply": 1200}])
    assert found.timeouts_for(V("1.34.2")) == {"create": 600.0, "upgrade_apply": 900.0}
    assert found.timeouts_for(V("1.35.8")) == {"create": 600.0, "upgrade_apply": 1200.0}
    with pytest.raises(AuthprobeError, match="'create' must be a positive number of seconds"):
        table(tmp_path, minors, [{"since": "1.30", "create": 0}])
    with pytest.raises(AuthprobeError, match="ready not named in the first row"):
        table(tmp_path, minors, [{"since": "1.30", "create": 1}, {"since": "1.31", "ready": 2}])


def test_the_shipped_timeouts_name_every_step_that_waits():
    named = version_table().timeouts_for(V("1.34.12"))
    assert {"create", "probe_patch", "ready", "upgrade_plan", "upgrade_apply",
            "upgrade_kubelet", "teardown"} <= set(named)


def test_upgrade_configuration_gives_the_patches_again_only_when_there_are_some():
    with_patches = yaml.safe_load(config_text(V("1.35.8"), True))
    assert with_patches["apiVersion"] == "kubeadm.k8s.io/v1beta4"
    assert with_patches["kind"] == "UpgradeConfiguration"
    assert with_patches["apply"] == {"kubernetesVersion": "v1.35.8", "forceUpgrade": True,
                                     "imagePullPolicy": "Never",
                                     "patches": {"directory": "/etc/authprobe/patches"}}
    assert with_patches["plan"] == with_patches["diff"] == {"kubernetesVersion": "v1.35.8"}
    plain = yaml.safe_load(config_text(V("1.35.8"), False))["apply"]
    assert "patches" not in plain and "ignorePreflightErrors" not in plain
    skipping = yaml.safe_load(config_text(V("1.35.8"), False, ("SystemVerification",)))
    assert skipping["apply"]["ignorePreflightErrors"] == ["SystemVerification"]


def test_system_verification_is_skipped_only_where_the_facts_say(tmp_path):
    from types import SimpleNamespace

    from authprobe.harness.upgrade import skipped_checks

    def env(cgroup):
        return SimpleNamespace(host=SimpleNamespace(cgroup_version=cgroup))

    assert skipped_checks(env(1), V("1.35.8")) == ("SystemVerification",)
    assert skipped_checks(env(1), V("1.34.12")) == ()
    assert skipped_checks(env(2), V("1.37.2")) == ()


def test_kubeadm_line_is_its_own_error_line(tmp_path):
    log = tmp_path / "apply.log"
    log.write_text("[upgrade] Running cluster health checks\n"
                   "[upgrade/staticpods] Waiting for the kubelet to restart the component\n"
                   "error execution phase control-plane: couldn't complete the static pod "
                   "upgrade: timed out waiting for the condition\n"
                   "To see the stack trace of this error execute with --v=5 or higher\n")
    assert kubeadm_line(log).startswith("error execution phase control-plane: couldn't")
    log.write_text("[preflight] Some fatal errors occurred:\n"
                   "\t[ERROR SystemVerification]: cgroups v1 support is deprecated\n"
                   "[preflight] If you know what you are doing, you can make a check non-fatal"
                   "\nerror: error execution phase preflight: preflight checks failed\n"
                   "To see the stack trace of this error execute with --v=5 or higher\n")
    assert kubeadm_line(log) == ("error: error execution phase preflight: preflight checks "
                                 "failed; [ERROR SystemVerification]: cgroups v1 support is "
                                 "deprecated")
    log.write_text("")
    assert kubeadm_line(log) == "no output"


def profile(tmp_path: Path, name: str, text: str):
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    return load_profile(path)


def test_hand_edited_probes_are_made_in_the_manifest_not_by_a_patch(tmp_path):
    hand = profile(tmp_path, "hand", "description: d\nupgradeOnly: true\nprobes:\n  by: hand-edit"
                   "\n  livenessProbe:\n    failureThreshold: 16\n")
    patched = profile(tmp_path, "patched", "description: d\nprobes:\n  livenessProbe:\n"
                      "    failureThreshold: 16\n")
    assert hand.upgrade_only and not patched.upgrade_only
    version = V("1.34.12")
    facts = version_table().facts_for(version)
    by_hand = render(RenderInput(hand.at(version), version, facts, "img", "v0.33.0"))
    by_patch = render(RenderInput(patched.at(version), version, facts, "img", "v0.33.0"))
    assert by_hand.manifest_probes == {"livenessProbe": {"failureThreshold": 16}}
    assert by_hand.patch_files == {}
    assert by_patch.manifest_probes == {} and by_patch.patch_files
    assert by_hand.expected["probes"] == by_patch.expected["probes"]


def test_probe_keys_that_cannot_be_made_are_one_line(tmp_path):
    with pytest.raises(AuthprobeError, match="probes.by must be one of kubeadm-patch, hand-edit"):
        profile(tmp_path, "x", "description: d\nprobes:\n  by: sed\n")
    with pytest.raises(AuthprobeError, match="cannot move it"):
        profile(tmp_path, "y", "description: d\nprobes:\n  by: hand-edit\n  namedPort: 8080\n")
    with pytest.raises(AuthprobeError, match="upgradeOnly must be true or false"):
        profile(tmp_path, "z", "description: d\nupgradeOnly: sometimes\n")


def test_the_twin_profiles_differ_only_in_how_the_probe_change_is_made():
    from authprobe.paths import clusters_dir

    hand = load_profile(clusters_dir() / "profiles" / "liveness-hand-edit.yaml")
    patched = load_profile(clusters_dir() / "profiles" / "liveness-patch.yaml")
    version = V("1.36.5")
    a, b = hand.at(version), patched.at(version)
    assert (a.probes_by, b.probes_by) == ("hand-edit", "kubeadm-patch")
    assert a.probes == b.probes and a.extra_args == b.extra_args
    assert hand.upgrade_only and patched.upgrade_only


def test_the_upgrade_folder_of_the_node(tmp_path):
    bins = tmp_path / "bin"
    bins.mkdir()
    for name in ("kubeadm", "kubelet", "kubectl"):
        (bins / name).write_text(name)
    artifacts = Artifacts(V("1.35.8"), bins, tmp_path / "images.tar", [])
    top = layout(artifacts, tmp_path / "stage")
    assert top == tmp_path / "stage" / "authprobe"
    folder = top / "upgrade" / "v1.35.8"
    assert sorted(p.name for p in folder.iterdir()) == ["kubeadm", "kubectl", "kubelet"]
    assert (folder / "kubelet").stat().st_mode & 0o111
    assert (top / "upgrade" / "version").read_text() == "v1.35.8\n"
    (bins / "kubectl").unlink()
    with pytest.raises(AuthprobeError, match="have no kubectl"):
        layout(artifacts, tmp_path / "stage2")


def test_upgrade_image_names_and_target_patch():
    supported = version_table().minors["1.36"]
    assert target_version(supported, "build") == V("1.36.5")
    assert target_version(supported, "published") == V("1.36.4")
    with pytest.raises(AuthprobeError, match="publishes no node image of Kubernetes 1.31"):
        target_version(version_table().minors["1.31"], "published")
    assert (tag_for(V("1.35.8"), V("1.36.5"), "0123456789ab")
            == "authprobe/node-upgrade:v1.35.8-v1.36.5-0123456789ab")


def test_cells_an_upgrade_reaches_are_named_after_both_minors():
    assert Cell("anon-on", "1.35", upgraded_from="1.34").id == "anon-on-1.35-from-1.34"
    assert Cell("anon-on", "1.34").id == "anon-on-1.34"


def test_only_a_module_marked_as_a_whole_is_upgrade_only(tmp_path):
    marked = tmp_path / "test_after.py"
    marked.write_text("import pytest\n\npytestmark = pytest.mark.after_upgrade\n")
    plain = tmp_path / "test_plain.py"
    plain.write_text("import pytest\n\n@pytest.mark.after_upgrade\ndef test_x():\n    pass\n")
    other = tmp_path / "helper.py"
    other.write_text("pytestmark = 'after_upgrade'\n")
    assert upgrade_only_module(marked)
    assert not upgrade_only_module(plain) and not upgrade_only_module(other)
    from authprobe.paths import scenarios_dir

    assert upgrade_only_module(scenarios_dir() / "test_upgrade.py")
    assert not upgrade_only_module(scenarios_dir() / "test_anonymous.py")


class SwappingNode:
    """Answers crictl as a node whose kubelet, just restarted, replaced kube-apiserver's pod:
    the new one (pod "new") exited on the taken port while the old one (pod "old") ran, then
    the old one was stopped and the new one's second attempt runs. etcd's pod was replaced
    too: its new container exited on its taken port, the next one runs. Times in seconds."""

    container = "authprobe-test-control-plane"

    def __init__(self) -> None:
        self.containers = {"kube-apiserver": [self.entry("a", "old", 0, "CONTAINER_RUNNING", 900)],
                           "etcd": [self.entry("e1", "etcd-old", 0, "CONTAINER_RUNNING", 900)]}
        self.status = {
            "a": {"exitCode": 0, "startedAt": "1970-01-01T00:15:00Z",
                  "finishedAt": "1970-01-01T00:16:46Z"},
            "b": {"exitCode": 1, "reason": "Error", "startedAt": "1970-01-01T00:16:42Z",
                  "finishedAt": "1970-01-01T00:16:42.3Z"},
            "e2": {"exitCode": 1, "reason": "Error", "startedAt": "1970-01-01T00:16:41Z",
                   "finishedAt": "1970-01-01T00:16:41.5Z"},
        }
        self.lines = {"a": "I1206 Shutting down", "b": "E1206 listen tcp 0.0.0.0:6443: "
                                                        "bind: address already in use",
                      "e2": '{"level":"fatal","error":"listen tcp 172.18.0.2:2380: bind: '
                            'address already in use"}'}

    @staticmethod
    def entry(cid: str, pod: str, attempt: int, state: str, created: int) -> dict:
        return {"id": cid, "state": state, "createdAt": str(created * 10**9),
                "metadata": {"attempt": attempt}, "labels": {"io.kubernetes.pod.uid": pod}}

    def swap(self) -> None:
        self.containers = {
            "kube-apiserver": [self.entry("a", "old", 0, "CONTAINER_EXITED", 900),
                               self.entry("b", "new", 0, "CONTAINER_EXITED", 1002),
                               self.entry("c", "new", 1, "CONTAINER_RUNNING", 1013)],
            "etcd": [self.entry("e1", "etcd-old", 0, "CONTAINER_EXITED", 900),
                     self.entry("e2", "etcd-new", 0, "CONTAINER_EXITED", 1001),
                     self.entry("e3", "etcd-new", 1, "CONTAINER_RUNNING", 1003)]}

    def exec(self, *argv: str, **_: object):
        import json
        import subprocess

        if argv[:2] == ("crictl", "ps"):
            name = argv[argv.index("--name") + 1].strip("^$")
            out = json.dumps({"containers": self.containers[name]})
        elif argv[:2] == ("crictl", "inspect"):
            out = json.dumps({"status": self.status[argv[2]]})
        elif argv[:2] == ("crictl", "logs"):
            out = self.lines[argv[-1]] + "\n"
        else:
            raise AssertionError(f"unexpected command {argv}")
        return subprocess.CompletedProcess(argv, 0, out, "")


def test_the_exits_around_the_kubelets_restart_make_the_replacement():
    from authprobe.harness.readiness import apiserver_containers
    from authprobe.harness.upgrade import _Exits

    node = SwappingNode()
    (before,) = apiserver_containers(node)
    exits = _Exits(node, before, restarted_at=1000.0)
    exits.read()
    assert exits.ended == {}
    node.swap()
    running = [c for c in exits.read() if c.state == "CONTAINER_RUNNING"]
    replacement = exits.replacement(running[0])
    assert (replacement.before, replacement.after, replacement.settled_attempt) == (
        "old", "new", 1)
    assert replacement.old_ended == 6.0
    (exit_,) = replacement.exits
    assert (exit_.attempt, exit_.finished, exit_.exit_code) == (0, 2.3, 1)
    assert replacement.unexplained() == []
    # etcd's container from before the restart is not the restart's; the new pod's exit is
    (etcd,) = replacement.etcd_exits
    assert (etcd.id, etcd.finished) == ("e2", 1.5) and "2380" in etcd.last_line
    assert replacement.etcd_back == 3.0


def test_auth_files_across_the_upgrade_name_each_file_kept_changed_or_gone():
    rendered = {"authentication-config.yaml": "apiVersion: apiserver.config.k8s.io/v1beta1\n"
                                              "kind: AuthenticationConfiguration\n",
                "tokens.csv": "x"}
    across = {seen["file"]: seen for seen in auth_files_across(
        {"authentication-config.yaml": "aa", "tokens.csv": "bb", "ca.crt": "cc"},
        {"authentication-config.yaml": "aa", "tokens.csv": "b2"}, rendered)}
    assert across["authentication-config.yaml"] == {
        "file": "authentication-config.yaml", "before": "aa", "after": "aa", "kept": True,
        "api_version": "apiserver.config.k8s.io/v1beta1"}
    assert across["tokens.csv"]["kept"] is False
    assert across["tokens.csv"]["api_version"] is None
    assert across["ca.crt"] == {"file": "ca.crt", "before": "cc", "after": None, "kept": False,
                                "api_version": None}
    # A file that appears only after the upgrade was not the profile's: not kept either.
    assert auth_files_across({}, {"new": "dd"}, {})[0]["kept"] is False


def test_what_the_upgrade_did_to_the_auth_files_survives_the_report_scrub():
    """File names such as tokens.csv or authorization-config.yaml are values of the records,
    so the scrub, which replaces whatever a secret-looking key holds, keeps the digests."""
    records = auth_files_across({"tokens.csv": "bb", "authorization-config.yaml": "cc"},
                                {"tokens.csv": "bb", "authorization-config.yaml": "cc"}, {})
    assert scrub({"auth_files": records}) == {"auth_files": records}
