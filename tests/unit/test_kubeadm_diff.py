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
