"""Pure parts of the Kubernetes build: wrapper go.mod, version ldflags, kubeadm's image list."""

from __future__ import annotations

from authprobe.nodeimage import gomod, kube
from authprobe.versions import KubeVersion

KK_GOMOD = """\
// This is a generated file. Do not edit directly.

module k8s.io/kubernetes

go 1.25.0

godebug default=go1.24

require (
\tgithub.com/blang/semver/v4 v4.0.0
\tk8s.io/api v0.0.0
\tk8s.io/client-go v0.0.0
)

replace (
\tk8s.io/api => ./staging/src/k8s.io/api
\tk8s.io/client-go => ./staging/src/k8s.io/client-go
\tk8s.io/kms => ./staging/src/k8s.io/kms
\tgithub.com/example/forked => github.com/example/fork v1.2.3
)

exclude github.com/bad/mod v0.1.0
"""

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


def test_staging_modules_are_the_local_replaces():
    assert kube.staging_modules(KK_GOMOD) == ["k8s.io/api", "k8s.io/client-go", "k8s.io/kms"]


def test_wrapper_pins_staging_to_v0_minor_patch_and_keeps_go_lines():
    text = kube.wrapper_gomod(V, KK_GOMOD)
    assert "go 1.25.0" in text
    assert "godebug default=go1.24" in text
    assert "\tk8s.io/kubernetes v1.34.12" in text
    assert "\tk8s.io/api => k8s.io/api v0.34.12" in text
    assert "\tk8s.io/kms => k8s.io/kms v0.34.12" in text
    assert "\tgithub.com/example/forked => github.com/example/fork v1.2.3" in text
    assert "github.com/bad/mod v0.1.0" in text
    assert "./staging" not in text


def test_parse_gomod_reads_single_and_block_forms():
    parsed = gomod.parse_gomod(KK_GOMOD)
    assert parsed["go"] == "1.25.0"
    assert parsed["godebug"] == ["default=go1.24"]
    assert parsed["exclude"] == ["github.com/bad/mod v0.1.0"]
    assert ("github.com/example/forked", "github.com/example/fork", "v1.2.3") in parsed["replace"]


def test_version_ldflags_stamp_both_version_packages():
    flags = kube.version_ldflags(V, "2026-09-23T17:08:30Z")
    for package in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        assert f"-X {package}.gitVersion=v1.34.12" in flags
        assert f"-X {package}.gitMajor=1" in flags
        assert f"-X {package}.gitMinor=34" in flags
        assert f"-X {package}.gitTreeState=clean" in flags
        assert f"-X {package}.buildDate=2026-09-23T17:08:30Z" in flags
    assert flags.startswith("-s -w ")


def test_image_list_parsing_and_names():
    refs = kube.images_by_name(kube.parse_image_list(IMAGES_OUTPUT))
    assert refs["coredns"] == "registry.k8s.io/coredns/coredns:v1.12.1"
    assert refs["etcd"] == "registry.k8s.io/etcd:3.6.5-0"
    assert kube.image_tag(refs["pause"]) == "3.10.1"
    assert set(refs) == {
        "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kube-proxy",
        "coredns", "pause", "etcd",
    }


def test_image_list_ignores_log_lines():
    text = "I1127 06:00:00 some log line: with colon\n" + IMAGES_OUTPUT
    assert len(kube.parse_image_list(text)) == 7
