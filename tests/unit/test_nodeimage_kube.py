"""Pure parts of the Kubernetes build: version ldflags, kubeadm's image list, the step key.

The wrapper go.mod is tested with the real `go mod edit` in test_gomod.py.
"""

from __future__ import annotations

import pytest

from authprobe.model.versions import KubeVersion, supported
from authprobe.nodeimage import build, kube

IMAGES_OUTPUT = """\
registry.k8s.io/kube-apiserver:v1.34.12
registry.k8s.io/kube-controller-manager:v1.34.12
registry.k8s.io/kube-scheduler:v1.34.12
registry.k8s.io/kube-proxy:v1.34.12
registry.k8s.io/coredns/coredns:v1.12.1
registry.k8s.io/pause:3.10.1
registry.k8s.io/etcd:3.6.5-0
"""

V = KubeVersion(1, 34, 12)


def test_version_ldflags_stamp_both_version_packages():
    flags = kube.version_ldflags(V, "2026-09-23T17:08:30Z")
    assert flags.startswith("-s -w ")
    for package in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        assert f"-X {package}.gitVersion=v1.34.12" in flags
        assert f"-X {package}.gitMajor=1" in flags
        assert f"-X {package}.gitMinor=34" in flags
        assert f"-X {package}.gitTreeState=clean" in flags
        assert f"-X {package}.buildDate=2026-09-23T17:08:30Z" in flags
    assert flags.count("-X ") == 10


def test_every_command_kind_needs_is_built():
    assert set(kube.COMMANDS) >= {"kubeadm", "kubelet", "kubectl", "kube-apiserver"}


def test_image_list_parsing_and_names():
    refs = kube.images_by_name(kube.parse_image_list(IMAGES_OUTPUT))
    assert refs["coredns"] == "registry.k8s.io/coredns/coredns:v1.12.1"
    assert refs["etcd"] == "registry.k8s.io/etcd:3.6.5-0"
    assert kube.image_tag(refs["pause"]) == "3.10.1"
    assert kube.image_tag(refs["coredns"]) == "v1.12.1"
    assert set(refs) == {
        "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kube-proxy",
        "coredns", "pause", "etcd",
    }


def test_image_list_ignores_log_lines_and_blank_lines():
    text = ("I1127 06:00:00 some log line: with colon\n\n"
            "W1127 06:00:01 could not fetch a Kubernetes version\n" + IMAGES_OUTPUT + "\n")
    assert kube.parse_image_list(text) == IMAGES_OUTPUT.split()


@pytest.mark.parametrize(("reference", "name"), [
    ("registry.k8s.io/coredns/coredns:v1.12.1", "coredns"),
    ("registry.k8s.io/pause:3.10.1", "pause"),
    ("localhost:5000/etcd:3.6.5-0", "etcd"),
    ("registry.k8s.io/kube-proxy@sha256:" + "a" * 64, "kube-proxy"),
])
def test_image_name(reference, name):
    assert kube.image_name(reference) == name


def test_an_image_on_a_registry_with_a_port_keeps_its_tag():
    assert kube.image_tag("localhost:5000/etcd:3.6.5-0") == "3.6.5-0"
    assert kube.parse_image_list("localhost:5000/etcd:3.6.5-0\n") == [
        "localhost:5000/etcd:3.6.5-0"]


@pytest.mark.parametrize("minor", sorted(supported()))
def test_kubernetes_step_key_grows_only_for_facts_older_trees_set(minor):
    row = supported()[minor]
    key = build.kube_step_key(row.patch, row.facts, "go1.26.8")
    base = {"version", "go", "tags", "commands", "ldflags"}
    if row.patch.minor >= 30:  # the keys of the cached 1.30+ builds stay as they were
        assert set(key) == base
    else:
        assert set(key) == base | {"replaces", "openapi", "wrapper_go"}
        assert key["openapi"] is True and key["wrapper_go"] == "1.21"
