"""Pure parts of the node image build: hashing, the node's files, CoreDNS main, image changes,
the components file and the build workspace."""

from __future__ import annotations

import json
import os

import pytest
import yaml

from authprobe import progress
from authprobe.errors import AuthprobeError
from authprobe.model.versions import supported
from authprobe.nodeimage import assemble, components, hashing, nodefs, workspace

KIND_CONTAINERD = """\
version = 2
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
  # use systemd cgroup by default
  SystemdCgroup = true
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.test-handler.options]
  SystemdCgroup = true
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "registry.k8s.io/pause:3.10"
  tolerate_missing_hugepages_controller = true
  restrict_oom_score_adj = false
"""


@pytest.fixture
def quiet():
    said = []
    progress.set_sink(said.append)
    yield said
    progress.set_sink(None)


def test_digest_is_stable_and_order_independent():
    a = hashing.digest({"kubernetes": "v1.34.12", "kind": "v0.33.0"})
    b = hashing.digest({"kind": "v0.33.0", "kubernetes": "v1.34.12"})
    assert a == b
    assert len(a) == hashing.HASH_LENGTH
    assert all(ch in "0123456789abcdef" for ch in a)
    assert hashing.image_inputs_hash({"kind": "v0.33.0", "kubernetes": "v1.34.12"}) == a


def test_digest_changes_with_any_input():
    base = {"kubernetes": "v1.34.12", "builder": {"kube.py": "aa"}}
    changed = {"kubernetes": "v1.34.12", "builder": {"kube.py": "ab"}}
    assert hashing.digest(base) != hashing.digest(changed)


def test_files_digest_keys_relative_paths(tmp_path):
    (tmp_path / "a").write_text("one")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b").write_text("two")
    result = hashing.files_digest([tmp_path / "sub" / "b", tmp_path / "a"], tmp_path)
    assert list(result) == ["a", "sub/b"]
    (tmp_path / "a").write_text("changed")
    assert hashing.files_digest([tmp_path / "a"], tmp_path)["a"] != result["a"]


def test_containerd_config_edits():
    text = nodefs.containerd_config(KIND_CONTAINERD, "registry.k8s.io/pause:3.10.1", True)
    assert "restrict_oom_score_adj = true" in text
    assert "restrict_oom_score_adj = false" not in text
    assert 'sandbox_image = "registry.k8s.io/pause:3.10.1"' in text
    assert "tolerate_missing_hugepages_controller = true" in text
    assert text.count("SystemdCgroup = true") == 2


def test_containerd_config_cgroupfs_for_every_runc_runtime():
    text = nodefs.containerd_config(KIND_CONTAINERD, "k8s.gcr.io/pause:3.2", False)
    assert text.count("SystemdCgroup = false") == 2 and "SystemdCgroup = true" not in text
    assert "# use systemd cgroup by default" in text  # only the settings change
    assert 'sandbox_image = "k8s.gcr.io/pause:3.2"' in text


@pytest.mark.parametrize(("text", "missing"), [
    ('sandbox_image = "x"\nSystemdCgroup = true\n', "restrict_oom_score_adj"),
    ("restrict_oom_score_adj = false\nSystemdCgroup = true\n", "sandbox_image"),
    ('restrict_oom_score_adj = false\nsandbox_image = "x"\n', "SystemdCgroup"),
])
def test_containerd_config_without_a_setting_is_an_error(text, missing):
    with pytest.raises(AuthprobeError, match=missing):
        nodefs.containerd_config(text, "registry.k8s.io/pause:3.10.1", True)


def test_node_files_render_with_the_ranges():
    conflist = json.loads(nodefs.render("static-cni.conflist", {"POD_SUBNET": "10.244.0.0/24"}))
    ipam = conflist["plugins"][0]["ipam"]
    assert ipam["ranges"] == [[{"subnet": "10.244.0.0/24"}]]
    cni = list(yaml.safe_load_all(nodefs.render("default-cni.yaml",
                                                {"POD_SUBNET": "10.244.0.0/24"})))
    assert cni and "${" not in nodefs.render("default-cni.yaml", {"POD_SUBNET": "x"})
    assert list(yaml.safe_load_all(nodefs.render("default-storage.yaml", {})))
    unit = nodefs.render(nodefs.BLACKHOLE_UNIT, {"SERVICE_RANGE": nodefs.SERVICE_RANGE,
                                                 "POD_RANGE": nodefs.POD_RANGE})
    assert "blackhole 10.96.0.0/12" in unit and "blackhole 10.244.0.0/16" in unit
    assert nodefs.BLACKHOLE_UNIT in nodefs.SERVICES_ENABLED


def test_kind_files_are_copied_with_modes(tmp_path):
    files = tmp_path / "kind" / nodefs.KIND_FILES
    (files / "usr/local/bin").mkdir(parents=True)
    (files / "usr/local/bin/entrypoint").write_text("#!/bin/sh\n")
    (files / "etc/containerd").mkdir(parents=True)
    (files / "etc/containerd/config.toml").write_text(KIND_CONTAINERD)
    (files / "kind/bin").mkdir(parents=True)
    (files / "kind/bin/mount-product-files.sh").write_text("#!/bin/sh\n")
    tree = tmp_path / "tree"
    nodefs.install_kind_files(tree, tmp_path / "kind")
    assert os.stat(tree / "usr/local/bin/entrypoint").st_mode & 0o777 == 0o755
    assert os.stat(tree / "kind/bin/mount-product-files.sh").st_mode & 0o777 == 0o755
    assert os.stat(tree / "etc/containerd/config.toml").st_mode & 0o777 == 0o644
    assert (tree / "etc/containerd/config.toml").read_text() == KIND_CONTAINERD


def test_missing_kind_files_are_one_line(tmp_path):
    with pytest.raises(AuthprobeError, match="base-image files are missing"):
        nodefs.install_kind_files(tmp_path / "tree", tmp_path / "no-kind")


def test_coredns_main_imports_only_the_listed_plugins():
    text = components.coredns_main(["errors", "kubernetes"])
    assert '_ "github.com/coredns/coredns/plugin/errors"' in text
    assert '_ "github.com/coredns/coredns/plugin/kubernetes"' in text
    assert '_ "github.com/coredns/coredns/core/dnsserver"' in text
    assert "plugin/forward" not in text
    assert "coremain.Run()" in text
    assert text.startswith("// ") and "package main" in text


def test_etcd_module_version_from_image_tag():
    assert components.etcd_module_version("3.6.5-0") == "v3.6.5"
    assert components.etcd_module_version("3.5.24-0") == "v3.5.24"
    assert components.etcd_module_version("v3.6.4") == "v3.6.4"


def test_etcd_source_is_server_v3_at_the_tag_unless_a_fact_names_the_module():
    assert components.etcd_source("3.6.5-0", None) == ("go.etcd.io/etcd/server/v3", "v3.6.5")
    pin = "go.etcd.io/etcd@v0.5.0-alpha.5.0.20200824191128-ae9734ed278b"
    assert components.etcd_source("3.4.13-0", pin) == (
        "go.etcd.io/etcd", "v0.5.0-alpha.5.0.20200824191128-ae9734ed278b")


@pytest.mark.parametrize(("version", "module"), [
    ("v1.7.35", "github.com/containerd/containerd"),
    ("v2.3.7", "github.com/containerd/containerd/v2"),
    ("v3.0.0", "github.com/containerd/containerd/v3"),
])
def test_containerd_module_path_follows_the_major_version(version, module):
    assert components.containerd_module(version) == module


def test_containerd_builds_per_major_version():
    (tags, commands), = components.containerd_builds("v1.7.35")
    assert commands == [f"github.com/containerd/containerd/cmd/{name}"
                        for name in ("containerd", "ctr", "containerd-shim-runc-v2")]
    assert {"no_aufs", "no_btrfs", "urfave_cli_no_docs"} <= set(tags.split())
    daemon, shim = components.containerd_builds("v2.3.7")
    assert daemon == ("urfave_cli_no_docs no_btrfs no_devmapper no_zfs",
                      ["github.com/containerd/containerd/v2/cmd/containerd",
                       "github.com/containerd/containerd/v2/cmd/ctr"])
    assert shim == ("urfave_cli_no_docs no_grpc",
                    ["github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2"])


@pytest.mark.parametrize("relative", ["build/pause/linux/pause.c", "build/pause/pause.c"])
def test_pause_source_in_either_layout(tmp_path, relative):
    (tmp_path / relative).parent.mkdir(parents=True)
    (tmp_path / relative).write_text("int main(void) { return 0; }\n")
    assert components.pause_source(tmp_path) == tmp_path / relative


def test_pause_source_missing_is_one_line(tmp_path):
    with pytest.raises(AuthprobeError, match="pause source not found"):
        components.pause_source(tmp_path)


def test_images_are_pinned_on_import_only_where_ctr_can():
    assert "--label=io.cri-containerd.pinned=pinned" in assemble.import_command(True)
    plain = assemble.import_command(False)
    assert not any(arg.startswith("--label") for arg in plain)
    assert plain[-1] == "/kind/images.tar" and "--no-unpack" in plain


def test_node_changes_restore_kind_entrypoint_and_add_labels():
    changes = assemble.node_changes({"io.authprobe.dashboard-image": "authprobe/dashboard:x",
                                     "a.label": "1"})
    assert 'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]' in changes
    assert "ENV container=docker" in changes
    assert not any(change.startswith("STOPSIGNAL") for change in changes)
    labels = [c for c in changes if c.startswith("LABEL ")]
    assert labels == ['LABEL a.label="1"',
                      'LABEL io.authprobe.dashboard-image="authprobe/dashboard:x"']
    assert "STOPSIGNAL SIGRTMIN+3" in assemble.NODE_CHANGES


def test_components_file_names_every_part():
    parts = components.components()
    for key in ("debian_suite", "debian_packages", "coredns_plugins", "pod_subnet"):
        assert parts[key]
    assert "systemd" in parts["debian_packages"] and "runc" in parts["debian_packages"]
    assert {"errors", "kubernetes", "forward"} <= set(parts["coredns_plugins"])


@pytest.mark.parametrize("minor", sorted(supported()))
def test_version_dependent_parts_are_facts(minor):
    facts = supported()[minor].facts
    for value in (facts.containerd, facts.cri_tools, facts.cni_plugins):
        assert value.startswith("v") and value.count(".") == 2
    assert "selinux" in facts.build_tags.split(",")


def test_free_space_check_names_what_is_needed(tmp_path):
    with pytest.raises(AuthprobeError, match=r"GiB free .* GiB needed") as err:
        workspace.check_free_space([tmp_path / "not-yet" / "made"], 2**60, "a test image")
    assert "a test image" in err.value.one_line()
    workspace.check_free_space([tmp_path], 1, "a test image")


def test_workspace_caches_finished_steps(tmp_path, quiet):
    space = workspace.Workspace(tmp_path / "ws")
    runs = []

    def build(out, log):
        runs.append(out)
        (out / "binary").write_text("built")
        log.write_text("built it\n")

    first = space.cached("building x", "x", {"v": 1}, build)
    assert (first / "binary").read_text() == "built"
    assert space.cached("building x", "x", {"v": 1}, build) == first
    assert len(runs) == 1 and "building x: cached" in quiet[-1]
    other = space.cached("building x", "x", {"v": 2}, build)
    assert other != first and len(runs) == 2
    assert space.has_step("x-") and not space.has_step("y-")
    assert space.log(f"x-{hashing.digest({'v': 1})}").read_text() == "built it\n"


def test_a_failed_step_is_not_cached(tmp_path, quiet):
    space = workspace.Workspace(tmp_path / "ws")

    def broken(out, log):
        (out / "half").write_text("x")
        raise AuthprobeError("the build broke")

    with pytest.raises(AuthprobeError, match="the build broke"):
        space.cached("building y", "y", "k", broken)
    assert not space.has_step("y-")
    runs = []
    out = space.cached("building y", "y", "k", lambda o, log: runs.append(o))
    assert runs == [out] and not (out / "half").exists()


def test_the_cgroup_root_drop_in_goes_only_into_images_that_need_it():
    from authprobe.model.versions import KubeVersion, version_table

    table = version_table()
    assert table.facts_for(KubeVersion(1, 19, 16)).kubelet_unbind_cgroup_root is True
    for minor in range(30, 38):
        assert table.facts_for(KubeVersion(1, minor, 0)).kubelet_unbind_cgroup_root is False
    text = nodefs.render(nodefs.UNBIND_DROP_IN, {})
    line = next(x for x in text.splitlines() if x.startswith("ExecStartPre="))
    # systemd reads $$ as one $ and \\ as one backslash: the shell gets $(...) and "\.slice"
    assert "$$(findmnt -lun -o target -t cgroup" in line and '"$$m"' in line
    assert '"/kubelet(\\\\.slice)?$$"' in line


def test_the_image_hashes_the_facts_the_builder_reads_and_no_other():
    import re
    from pathlib import Path

    from authprobe.model.versions import FACT_NAMES
    from authprobe.nodeimage import build

    source = "\n".join(p.read_text() for p in Path(build.__file__).parent.rglob("*.py"))
    read = {name for name in FACT_NAMES if re.search(rf"\bfacts\.{name}\b", source)}
    assert read <= set(build.BUILD_FACTS) <= set(FACT_NAMES)
    assert "startup_kill_delay" not in build.BUILD_FACTS
