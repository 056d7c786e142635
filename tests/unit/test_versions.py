"""clusters/versions.yaml: the supported minors, the version facts, and one line per mistake."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from authprobe.errors import AuthprobeError
from authprobe.model import versions
from authprobe.model.versions import FACT_NAMES, KubeVersion, Ranged, VersionTable

MINORS = ["1.19"] + [f"1.{minor}" for minor in range(30, 38)]
SHIPPED = versions.versions_file()
DIGEST = "sha256:" + "ab" * 32


def shipped_data() -> dict:
    return yaml.safe_load(SHIPPED.read_text())


def facts(minor: str):
    return versions.version_table().facts_for(KubeVersion.parse(minor))


def test_shipped_file_loads():
    table = versions.version_table()
    assert table.kind.startswith("v0.")
    assert table.default in table.minors
    assert versions.default_minor() == table.default
    assert versions.supported() is table.minors


@pytest.mark.parametrize("minor", MINORS)
def test_every_supported_minor_resolves(minor):
    row = versions.resolve(minor)
    assert row.minor == minor
    assert row.patch.minor_str == minor and row.patch.patch is not None
    assert row.facts == versions.version_table().facts_for(row.patch)
    if row.published is not None:
        assert row.published.startswith(f"kindest/node:v{row.published_patch}@sha256:")
        assert row.published_patch.minor_str == minor
    else:
        assert row.published_patch is None
        assert row.published_note  # says why there is no published image


@pytest.mark.parametrize(("minor", "value"), [("1.33", False), ("1.34", True), ("1.37", True)])
def test_named_probe_port_from_1_34(minor, value):
    assert facts(minor).named_probe_port is value


@pytest.mark.parametrize(("minor", "value"), [("1.30", False), ("1.34", False), ("1.35", True),
                                              ("1.36", True), ("1.37", True)])
def test_kubelet_fail_cgroup_v1_from_1_35(minor, value):
    assert facts(minor).kubelet_fail_cgroup_v1 is value


@pytest.mark.parametrize(("minor", "value"), [
    ("1.30", "kubeadm.k8s.io/v1beta3"), ("1.35", "kubeadm.k8s.io/v1beta3"),
    ("1.36", "kubeadm.k8s.io/v1beta4"), ("1.37", "kubeadm.k8s.io/v1beta4")])
def test_kubeadm_api_moves_to_v1beta4_in_1_36(minor, value):
    assert facts(minor).kubeadm_api == value


def test_1_19_takes_its_own_build_rows():
    old = facts("1.19")
    assert versions.resolve("1.19").patch == KubeVersion(1, 19, 16)
    assert versions.resolve("1.19").published is None
    assert old.containerd == "v1.7.35" and old.containerd_systemd_cgroup is False
    assert old.build_tags == "selinux,notest"
    assert old.generate_openapi is True and old.wrapper_go == "1.21"
    assert old.etcd_module == "go.etcd.io/etcd@v0.5.0-alpha.5.0.20200824191128-ae9734ed278b"
    assert old.go_replaces == (
        "vbom.ml/util=github.com/fvbommel/util@v0.0.0-20160121211510-db5cfe13f5cc",
        "github.com/modern-go/reflect2=github.com/modern-go/reflect2@v1.0.2")
    assert old.kubeadm_api == "kubeadm.k8s.io/v1beta2" and old.kubeadm_patches is False


@pytest.mark.parametrize("minor", MINORS[1:])
def test_1_30_on_keep_the_modern_build_rows(minor):
    new = facts(minor)
    assert new.containerd == "v2.3.7" and new.containerd_systemd_cgroup is True
    assert new.build_tags == "selinux,notest,grpcnotrace"
    assert new.go_replaces == () and new.generate_openapi is False
    assert new.wrapper_go is None and new.etcd_module is None


def test_a_patch_takes_the_row_of_its_minor():
    assert facts("1.35.0").kubelet_fail_cgroup_v1 is True
    assert facts("1.34.99").kubelet_fail_cgroup_v1 is False
    assert isinstance(facts("1.34").go_replaces, tuple)


def test_ranged_rows_nearest_lower_and_below_the_first():
    ranged = Ranged.parse([{"since": "1.20", "v": "a"}, {"since": "1.24", "v": "b"},
                           {"since": "1.24.3", "v": "c"}], "x", _raise)
    assert ranged.at(KubeVersion.parse("1.19.9")) is None
    assert ranged.at(KubeVersion.parse("1.20"))[1]["v"] == "a"
    assert ranged.at(KubeVersion.parse("1.23.17"))[1]["v"] == "a"
    assert ranged.at(KubeVersion.parse("1.24.2"))[1]["v"] == "b"
    assert ranged.at(KubeVersion.parse("1.24.3"))[1]["v"] == "c"
    assert ranged.at(KubeVersion.parse("1.37"))[1]["v"] == "c"
    assert ranged.first == KubeVersion(1, 20)


def _raise(where, what):
    raise AuthprobeError(f"{where}: {what}")


def test_the_offline_patch_and_the_published_patch_resolve():
    assert versions.resolve("1.34.12").minor == "1.34"
    published = versions.resolve("1.34").published_patch
    assert published is not None and published != KubeVersion(1, 34, 12)
    assert versions.resolve(str(published)).minor == "1.34"
    assert versions.resolve("v1.34.12").minor == "1.34"


def test_another_patch_is_one_line_naming_the_pinned_ones():
    row = versions.resolve("1.34")
    with pytest.raises(AuthprobeError) as err:
        versions.resolve("1.34.3")
    line = err.value.one_line()
    assert "1.34.3" in line and str(row.patch) in line and str(row.published_patch) in line
    assert "\n" not in str(err.value)


def test_a_minor_without_published_image_names_only_the_offline_patch():
    with pytest.raises(AuthprobeError) as err:
        versions.resolve("1.30.1")
    line = err.value.one_line()
    assert "1.30.14" in line and "published" not in line


@pytest.mark.parametrize("spec", ["1.29", "1.38", "2.0"])
def test_an_unknown_minor_names_the_supported_list(spec):
    with pytest.raises(AuthprobeError) as err:
        versions.resolve(spec)
    line = err.value.one_line()
    assert f"Kubernetes {spec} is not supported" in line
    assert ", ".join(MINORS) in line
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("text", ["one", "1", "1.34.x", "", "1.34.12.1"])
def test_not_a_version(text):
    with pytest.raises(AuthprobeError, match="is not a Kubernetes version"):
        KubeVersion.parse(text)


def test_version_order_and_text():
    assert KubeVersion.parse("1.34") < KubeVersion.parse("1.34.0") < KubeVersion.parse("1.34.1")
    assert KubeVersion.parse("1.9") < KubeVersion.parse("1.10")
    assert str(KubeVersion.parse("v1.36.4")) == "1.36.4"
    assert KubeVersion.parse("1.36.4").tag == "v1.36.4"
    assert KubeVersion.parse("1.36.4").as_minor == KubeVersion(1, 36)
    assert sorted(["1.10", "1.9", "x", "1.9.1"], key=versions.version_key) == [
        "1.9", "1.9.1", "1.10", "x"]


# Malformed files: each is a small change to the shipped data, loaded from tmp_path.


def _no_fact(data):
    del data["facts"]["named_probe_port"]


def _unknown_fact(data):
    data["facts"]["named_probe_prot"] = [{"since": "1.19", "value": True}]


def _row_without_value(data):
    data["facts"]["kubeadm_patches"][1] = {"since": "1.23", "valu": True}


def _unpinned_published(data):
    data["minors"]["1.35"]["published"] = "kindest/node:v1.35.8"


def _published_of_another_minor(data):
    data["minors"]["1.35"]["published"] = f"kindest/node:v1.34.11@{DIGEST}"


def _published_of_another_repository(data):
    data["minors"]["1.35"]["published"] = f"example/node:v1.35.8@{DIGEST}"


def _patch_of_another_minor(data):
    data["minors"]["1.35"]["patch"] = "1.34.12"


def _patch_without_patch_number(data):
    data["minors"]["1.35"]["patch"] = "1.35"


def _default_not_a_minor(data):
    data["default"] = "1.29"


def _fact_rows_out_of_order(data):
    data["facts"]["kubeadm_api"].reverse()


def _fact_row_without_since(data):
    data["facts"]["cni_plugins"] = [{"value": "v1.9.1"}]


def _fact_starts_too_late(data):
    data["facts"]["containerd"] = [{"since": "1.20", "value": "v1.7.35"}]


def _no_minors(data):
    del data["minors"]


@pytest.mark.parametrize(("change", "where", "fragment"), [
    (_no_fact, "at facts", "missing named_probe_port"),
    (_unknown_fact, "at facts", "unknown named_probe_prot"),
    (_row_without_value, "at facts.kubeadm_patches since 1.23", "needs a 'value'"),
    (_unpinned_published, "at minors.1.35", "pinned by digest"),
    (_published_of_another_minor, "at minors.1.35", "is not of 1.35"),
    (_published_of_another_repository, "at minors.1.35", "is not kindest/node"),
    (_patch_of_another_minor, "at minors.1.35", "not a patch release of 1.35"),
    (_patch_without_patch_number, "at minors.1.35", "not a patch release of 1.35"),
    (_default_not_a_minor, "at default", "'1.29' is not one of the minors"),
    (_fact_rows_out_of_order, "at facts.kubeadm_api", "increasing 'since'"),
    (_fact_row_without_since, "at facts.cni_plugins[0]", "'since'"),
    (_fact_starts_too_late, "", "fact 'containerd' has no row for Kubernetes 1.19.16"),
    (_no_minors, "", "has no 'minors'"),
], ids=lambda value: value.__name__.strip("_") if callable(value) else None)
def test_malformed_file_is_one_line_naming_the_place(tmp_path, change, where, fragment):
    data = copy.deepcopy(shipped_data())
    change(data)
    path = tmp_path / "versions.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(AuthprobeError) as err:
        VersionTable(yaml.safe_load(path.read_text()), path)
    line = err.value.one_line()
    assert str(path) in line
    assert where in line
    assert fragment in line
    assert "\n" not in str(err.value)


def test_small_hand_written_file(tmp_path):
    facts_rows = {name: [{"since": "1.30", "value": False}] for name in FACT_NAMES}
    facts_rows["go_replaces"] = [{"since": "1.30", "value": ["a.example/x=b.example/y@v1.0.0"]}]
    text = yaml.safe_dump({
        "kind": "v0.33.0", "default": "1.30",
        "minors": {"1.30": {"patch": "1.30.2", "published": None, "note": "none\n yet"}},
        "facts": facts_rows,
        "timeouts": [{"since": "1.30", "create": 600}],
    })
    path = tmp_path / "versions.yaml"
    path.write_text(text)
    table = VersionTable(yaml.safe_load(text), path)
    row = table.resolve("1.30")
    assert row.patch == KubeVersion(1, 30, 2)
    assert row.published is None and row.published_note == "none yet"
    assert row.facts.go_replaces == ("a.example/x=b.example/y@v1.0.0",)
    with pytest.raises(AuthprobeError, match=r"choose one of 1\.30 \(or add the minor to "):
        table.resolve("1.31")


def test_unreadable_and_invalid_yaml_are_one_line(tmp_path):
    bad = tmp_path / "versions.yaml"
    bad.write_text("minors: [unclosed\n")
    with pytest.raises(AuthprobeError, match="is not valid YAML"):
        versions._load(bad)
    with pytest.raises(AuthprobeError, match="cannot read version file"):
        versions._load(Path(tmp_path / "absent.yaml"))
