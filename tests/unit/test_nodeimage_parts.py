"""Pure parts of the node image build: hashing, containerd config edits, CoreDNS main, tags."""

from __future__ import annotations

import pytest

from authprobe.errors import AuthprobeError
from authprobe.nodeimage import assemble, components, hashing, nodefs

KIND_CONTAINERD = """\
version = 2
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "registry.k8s.io/pause:3.10"
  tolerate_missing_hugepages_controller = true
  restrict_oom_score_adj = false
"""


def test_digest_is_stable_and_order_independent():
    a = hashing.digest({"kubernetes": "v1.34.12", "kind": "v0.32.0"})
    b = hashing.digest({"kind": "v0.32.0", "kubernetes": "v1.34.12"})
    assert a == b
    assert len(a) == hashing.HASH_LENGTH
    assert all(ch in "0123456789abcdef" for ch in a)


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


def test_containerd_config_edits():
    text = nodefs.containerd_config(KIND_CONTAINERD, "registry.k8s.io/pause:3.10.1")
    assert "restrict_oom_score_adj = true" in text
    assert 'sandbox_image = "registry.k8s.io/pause:3.10.1"' in text
    assert "tolerate_missing_hugepages_controller = true" in text


def test_containerd_config_without_the_setting_is_an_error():
    with pytest.raises(AuthprobeError, match="restrict_oom_score_adj"):
        nodefs.containerd_config('sandbox_image = "x"\n', "registry.k8s.io/pause:3.10.1")


def test_coredns_main_imports_only_the_listed_plugins():
    text = components.coredns_main(["errors", "kubernetes"])
    assert '_ "github.com/coredns/coredns/plugin/errors"' in text
    assert '_ "github.com/coredns/coredns/plugin/kubernetes"' in text
    assert "plugin/forward" not in text
    assert "coremain.Run()" in text


def test_etcd_module_version_from_image_tag():
    assert components.etcd_module_version("3.6.5-0") == "v3.6.5"
    assert components.etcd_module_version("3.5.24-0") == "v3.5.24"


def test_node_changes_restore_kind_entrypoint_and_add_labels():
    changes = assemble.node_changes({"io.authprobe.dashboard-image": "authprobe/dashboard:x"})
    assert 'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]' in changes
    assert not any(change.startswith("STOPSIGNAL") for change in changes)
    assert 'LABEL io.authprobe.dashboard-image="authprobe/dashboard:x"' in changes


def test_components_file_names_every_part():
    parts = components.components()
    for key in ("containerd", "cri_tools", "cni_plugins", "debian_suite", "debian_packages",
                "coredns_plugins", "pod_subnet"):
        assert parts[key]
    assert "systemd" in parts["debian_packages"]


def test_free_space_check_names_what_is_needed(tmp_path):
    from authprobe.nodeimage import build

    with pytest.raises(AuthprobeError, match=r"GiB free .* GiB needed"):
        build.check_free_space([tmp_path / "not-yet" / "made"], 2**60, "a test image")
    build.check_free_space([tmp_path], 1, "a test image")
