"""``kubeadm upgrade diff`` read (authprobe.model.kubeadm_diff): the output of real upgrades
(tests/unit/data/kubeadm-upgrade-diff, see the README there) parsed, placed in the manifests
as they were on the node, hand edits marked, and normalised so two clusters' diffs compare."""

from __future__ import annotations

from pathlib import Path

import pytest

from authprobe.model.kubeadm_diff import (
    Edit,
    edits,
    field_paths,
    normalise,
    parse,
    placed,
    record,
)

DATA = Path(__file__).parent / "data" / "kubeadm-upgrade-diff"
WEBHOOK = DATA / "authz-webhook-1.33.13-1.34.12.log"
APISERVER = "/etc/kubernetes/manifests/kube-apiserver.yaml"


def test_the_files_of_a_real_diff_in_name_order_whatever_order_kubeadm_printed():
    text = WEBHOOK.read_text()
    assert text.index("kube-scheduler.yaml") < text.index("kube-apiserver.yaml")
    files, said = parse(text)
    assert [f.name for f in files] == ["kube-apiserver.yaml", "kube-controller-manager.yaml",
                                       "kube-scheduler.yaml"]
    assert said == [
        "$ kubeadm upgrade diff --config /authprobe/upgrade/kubeadm-upgrade.yaml",
        '[upgrade/diff] Reading configuration from the "kubeadm-config" ConfigMap in namespace '
        '"kube-system"...',
        "[upgrade/diff] Use 'kubeadm init phase upload-config kubeadm --config "
        "your-config-file' to re-upload it."]
    apiserver = files[0]
    assert [h.at for h in apiserver.hunks] == ["-6 +5,0", "-50 +49", "-57 +56", "-62,0 +62,4",
                                               "-68 +71", "-80 +83"]
    removed, inserted = apiserver.hunks[0], apiserver.hunks[3]
    assert [(line.op, line.text, line.old) for line in removed.lines] == [
        ("-", "  creationTimestamp: null", 6)]
    assert [line.op for line in inserted.lines] == ["+"] * 4
    assert inserted.lines[0].text == "    ports:"


def test_every_changed_line_is_one_change_in_kubeadms_order_per_file():
    found = record(WEBHOOK.read_text(), {}, [], {})
    apiserver = [c for c in found["changes"] if c.startswith("kube-apiserver.yaml")]
    assert apiserver == [
        "kube-apiserver.yaml: - creationTimestamp: null",
        "kube-apiserver.yaml: - image: registry.k8s.io/kube-apiserver:v1.33.13",
        "kube-apiserver.yaml: + image: registry.k8s.io/kube-apiserver:v1.34.12",
        "kube-apiserver.yaml: - port: 6443",
        "kube-apiserver.yaml: + port: probe-port",
        "kube-apiserver.yaml: + ports:",
        "kube-apiserver.yaml: + - containerPort: 6443",
        "kube-apiserver.yaml: + name: probe-port",
        "kube-apiserver.yaml: + protocol: TCP",
        "kube-apiserver.yaml: - port: 6443",
        "kube-apiserver.yaml: + port: probe-port",
        "kube-apiserver.yaml: - port: 6443",
        "kube-apiserver.yaml: + port: probe-port"]
    assert len(found["changes"]) == 37
    assert found["removes_hand_edits"] == [] and found["hand_edits"] == []
    assert found["said"][1].startswith("[upgrade/diff] Reading configuration")


def test_a_line_of_kubeadms_own_inside_a_hunk_is_said_not_a_change():
    text = ("--- /etc/kubernetes/manifests/kube-scheduler.yaml\n+++ new manifest\n"
            "@@ -18,2 +18,2 @@\n"
            "     - --leader-elect=true\n"
            "W1207 03:10:11.123456  123 warnings.go:70] a warning of kubeadm's\n"
            "-    image: registry.k8s.io/kube-scheduler:v1.33.13\n"
            "+    image: registry.k8s.io/kube-scheduler:v1.34.12\n"
            "\\ No newline at end of file\n"
            "[upgrade/diff] done\n")
    files, said = parse(text)
    (hunk,) = files[0].hunks
    assert [(line.op, line.old) for line in hunk.lines] == [(" ", 18), ("-", 19), ("+", None)]
    assert said == ["W1207 03:10:11.123456  123 warnings.go:70] a warning of kubeadm's",
                    "[upgrade/diff] done"]


NAMES = {"authprobe-team-133-81e22b-control-plane": "<node>",
         "authprobe-team-133-81e22b": "<cluster>", "172.18.0.2": "<node-ip>",
         "172.18.0.1": "<servers-ip>"}


@pytest.mark.parametrize("text, want", [
    ("- --advertise-address=172.18.0.2", "- --advertise-address=<node-ip>"),
    ("host: 172.18.0.20", "host: 172.18.0.20"),  # another address, not the node's
    ("- --oidc-issuer-url=https://172.18.0.1:34567",
     "- --oidc-issuer-url=https://<servers-ip>:<port>"),
    ("- --secure-port=6443", "- --secure-port=6443"),
    ("- --cluster-name=authprobe-team-133-81e22b", "- --cluster-name=<cluster>"),
    ("nodeName: authprobe-team-133-81e22b-control-plane", "nodeName: <node>"),
    ("- --x=/tmp/authprobe-1234/file.yaml", "- --x=/tmp/<temp>"),
    ("checksum: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
     "checksum: <hash>"),
])
def test_what_differs_from_cluster_to_cluster_is_a_placeholder(text, want):
    assert normalise(text, NAMES, [34567]) == want


def test_two_clusters_that_differ_only_in_names_and_addresses_compare_equal():
    def output(cluster: str, address: str, port: int) -> str:
        return ("--- /etc/kubernetes/manifests/kube-apiserver.yaml\n+++ new manifest\n"
                "@@ -12 +12 @@\n"
                f"-    - --oidc-issuer-url=https://172.18.0.1:{port}/{cluster}\n"
                f"+    - --oidc-issuer-url=https://172.18.0.1:{port}\n"
                "@@ -57 +56 @@\n"
                f"-        host: {address}\n"
                "+        host: 127.0.0.1\n")

    def names(cluster: str, address: str) -> dict[str, str]:
        return {cluster: "<cluster>", address: "<node-ip>", "172.18.0.1": "<servers-ip>"}

    one = record(output("authprobe-a-1", "172.18.0.2", 40001), {}, [],
                 names("authprobe-a-1", "172.18.0.2"), [40001])
    two = record(output("authprobe-b-2", "172.18.0.3", 40002), {}, [],
                 names("authprobe-b-2", "172.18.0.3"), [40002])
    assert one["changes"] == two["changes"]
    assert one["changes"][0] == ("kube-apiserver.yaml: - - --oidc-issuer-url="
                                 "https://<servers-ip>:<port>/<cluster>")
    # a change that is not a name or an address still shows
    three = record(output("authprobe-b-2", "172.18.0.3", 40002).replace("127.0.0.1", "::1"), {}, [],
                   names("authprobe-b-2", "172.18.0.3"), [40002])
    assert three["changes"] != two["changes"]


def test_edits_are_named_as_the_verification_names_what_is_lost():
    made = edits({"request-timeout": "2m0s"},
                 {"livenessProbe": {"failureThreshold": 16, "port": 8080}})
    assert made == [Edit("--request-timeout", "2m0s"), Edit("livenessProbe.failureThreshold", "16"),
                    Edit("livenessProbe.port", "8080")]


def test_a_manifest_that_is_not_yaml_places_nothing():
    assert field_paths("a: [unclosed\n") == {}
    files, _ = parse("--- " + APISERVER + "\n+++ new manifest\n@@ -3 +3 @@\n-  a: 1\n+  a: 2\n")
    (line, _) = placed(files, {APISERVER: "a: ["}, [])[0].hunks[0].lines
    assert line.where is None and line.removes is None


HAND_EDIT = DATA / "liveness-hand-edit-1.33.13-1.34.12"
HAND_FLAGS = DATA / "hand-flags-1.33.13-1.34.12"


def recorded(folder: Path, by_hand=(), by_patch=()) -> dict:
    manifests = {APISERVER: (folder / "before-upgrade-kube-apiserver.yaml").read_text()}
    return record((folder / "kubeadm-upgrade-diff.log").read_text(), manifests, by_hand,
                  {"172.18.0.3": "<node-ip>"}, [], by_patch)


def lines_of(found: dict, name: str) -> list[dict]:
    (diff,) = [f for f in found["files"] if f["file"].endswith(name)]
    return [line for hunk in diff["hunks"] for line in hunk["lines"]]


def test_the_fields_of_a_real_manifest_by_line():
    paths = field_paths((HAND_EDIT / "before-upgrade-kube-apiserver.yaml").read_text())
    container = "spec.containers[kube-apiserver]"
    assert paths[5] == ("metadata.annotations.kubeadm.kubernetes.io/kube-apiserver."
                        "advertise-address.endpoint")
    assert paths[16] == f"{container}.command"  # - --advertise-address=...
    assert paths[52] == f"{container}.livenessProbe.failureThreshold"
    assert paths[54] == f"{container}.livenessProbe.httpGet.host"
    assert paths[14] == f"{container}.command"  # "  - command:", the container's first key


def test_the_removed_line_that_drops_the_probe_hand_edit_is_marked_and_no_other():
    found = recorded(HAND_EDIT, edits({}, {"livenessProbe": {"failureThreshold": 16}}))
    assert found["hand_edits"] == ["livenessProbe.failureThreshold"]
    assert found["removes_hand_edits"] == ["livenessProbe.failureThreshold"]
    lines = lines_of(found, "kube-apiserver.yaml")
    marked = [line for line in lines if "removes_hand_edit" in line]
    assert marked == [{"op": "-", "text": "      failureThreshold: 16",
                       "where": "livenessProbe.failureThreshold",
                       "removes_hand_edit": "livenessProbe.failureThreshold"}]
    # kubeadm 1.34 names the probe port: each probe's port line placed in its probe
    assert [line["where"] for line in lines if line["text"].strip() == "port: 6443"] == [
        "livenessProbe.httpGet.port", "readinessProbe.httpGet.port",
        "startupProbe.httpGet.port"]
    assert "kube-apiserver.yaml: - failureThreshold: 16 [livenessProbe.failureThreshold]" in (
        found["changes"])
    assert "kube-apiserver.yaml: + failureThreshold: 8" in found["changes"]
    assert not any("removes_hand_edit" in line for line in lines_of(found, "scheduler.yaml"))


def test_the_removed_lines_that_drop_flags_added_or_changed_by_hand_are_marked():
    by_hand = edits({"request-timeout": "2m0s",
                     "enable-admission-plugins": "NodeRestriction,PodNodeSelector"}, {})
    found = recorded(HAND_FLAGS, by_hand)
    assert found["removes_hand_edits"] == ["--enable-admission-plugins", "--request-timeout"]
    lines = lines_of(found, "kube-apiserver.yaml")
    assert [(line["text"].strip(), line.get("where"), line.get("removes_hand_edit"))
            for line in lines[1:5]] == [
        ("- --enable-admission-plugins=NodeRestriction,PodNodeSelector", "command",
         "--enable-admission-plugins"),
        ("- --enable-admission-plugins=NodeRestriction", None, None),  # kubeadm's, added
        ("- --request-timeout=2m0s", "command", "--request-timeout"),
        ("image: registry.k8s.io/kube-apiserver:v1.33.13", "image", None)]


def test_a_removed_flag_of_another_value_than_the_hand_edit_is_not_marked():
    found = recorded(HAND_FLAGS, edits({"enable-admission-plugins": "NodeRestriction,"
                                                                    "AlwaysPullImages"}, {}))
    assert found["removes_hand_edits"] == []


def test_a_probe_change_of_a_kubeadm_patch_shown_removed_is_marked_kept_not_a_hand_edit():
    found = recorded(HAND_EDIT, by_patch=edits({}, {"livenessProbe": {"failureThreshold": 16}}))
    assert found["removes_hand_edits"] == [] and found["hand_edits"] == []
    assert found["shows_patches_removed"] == ["livenessProbe.failureThreshold"]
    (marked,) = [line for line in lines_of(found, "kube-apiserver.yaml")
                 if "kept_by_patch" in line]
    assert marked["text"] == "      failureThreshold: 16"


def test_kubeadm_shows_a_patch_and_a_hand_edit_alike():
    """kubeadm v1.35.8's diff of the twins: the patched probe as removed as the hand-edited
    one (upgrade diff renders without the patches apply is given)."""
    hand = record((DATA / "liveness-hand-edit-1.34.12-1.35.8.log").read_text(), {}, [], {})
    patch = record((DATA / "liveness-patch-1.34.12-1.35.8.log").read_text(), {}, [], {})
    assert hand["changes"] == patch["changes"]
    assert "kube-apiserver.yaml: - failureThreshold: 16" in patch["changes"]
