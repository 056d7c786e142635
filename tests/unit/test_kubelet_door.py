"""The kubelet's door as data: its part of a profile, what render makes of it, the check of
the running kubelet, the static token users, and the kubelet's reviews in the audit log."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml

from authprobe.errors import AuthprobeError
from authprobe.harness.audit import AuditLog
from authprobe.harness.kubelet import Review, reviews_by
from authprobe.harness.render import (
    KUBELET_CHECKED,
    KUBELET_PORT,
    TOKEN_USERS,
    HostFacts,
    RenderInput,
    render,
    token_file_text,
    users_of_token_file,
)
from authprobe.harness.verify_kubelet import (
    KUBELET_CONFIG,
    configz_differences,
    kubelet_differences,
    kubelet_flags,
)
from authprobe.model.profiles import flatten, load_dirs, load_profile
from authprobe.model.versions import KubeVersion, version_table
from authprobe.paths import clusters_dir

PROFILES = load_dirs([clusters_dir() / "profiles"])
V = KubeVersion.parse
NODE = "authprobe-kubelet-anon-on-134-abcdef-control-plane"
ARGV = ["/usr/bin/kubelet", "--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf",
        "--kubeconfig=/etc/kubernetes/kubelet.conf", f"--config={KUBELET_CONFIG}",
        "--node-ip=172.18.0.2", "--v=1"]
KUBEADM_CONFIG = {"authentication": {"anonymous": {"enabled": False},
                                     "webhook": {"enabled": True, "cacheTTL": "0s"}},
                  "authorization": {"mode": "Webhook"}}


def rendered(profile: str, version: str = "1.34.12", cgroup: int = 2):
    v = V(version)
    inp = RenderInput(PROFILES[profile].at(v), v, version_table().facts_for(v), "img",
                      "v0.33.0", HostFacts(cgroup))
    return render(inp, "/p")


def kubelet_patch(result) -> dict | None:
    config = yaml.safe_load(result.kind_config)
    docs = [yaml.safe_load(p) for p in config["kubeadmConfigPatches"]]
    found = [d for d in docs if d["kind"] == "KubeletConfiguration"]
    return found[0] if found else None


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(text)
    return path


# -- the profile part ----------------------------------------------------------------------

def test_kubelet_anon_on_sets_the_kubelets_anonymous_authentication():
    for minor in ("1.19", "1.30", "1.34", "1.37"):
        at = PROFILES["kubelet-anon-on"].at(V(minor))
        assert at.na is None
        assert dict(at.kubelet_config) == {"authentication": {"anonymous": {"enabled": True}}}
        assert dict(at.extra_args) == {}
    assert dict(PROFILES["anon-on"].at(V("1.34")).kubelet_config) == {}


def test_a_versions_row_merges_kubelet_config(tmp_path):
    path = write(tmp_path, "k", """\
description: x
kubelet:
  config:
    authentication: {anonymous: {enabled: true}}
versions:
  - since: "1.19"
  - since: "1.33"
    kubelet:
      config:
        authorization: {mode: AlwaysAllow}
""")
    profile = load_profile(path)
    assert dict(profile.at(V("1.32")).kubelet_config) == {
        "authentication": {"anonymous": {"enabled": True}}}
    assert dict(profile.at(V("1.33")).kubelet_config) == {
        "authentication": {"anonymous": {"enabled": True}},
        "authorization": {"mode": "AlwaysAllow"}}


@pytest.mark.parametrize(("text", "named"), [
    ("kubelet: {extraArgs: {v: '2'}}", "kubelet may only hold 'config'"),
    ("kubelet: {config: [1]}", "kubelet.config must map"),
    ("kubelet: {config: {Authentication: {}}}", "key 'Authentication' must be"),
    ("kubelet: {config: {failCgroupV1: false}}", "kubelet.config.failCgroupV1 is set by"),
])
def test_kubelet_part_mistakes_are_one_line(tmp_path, text, named):
    path = write(tmp_path, "bad", f"description: x\n{text}\n")
    with pytest.raises(AuthprobeError) as err:
        load_profile(path)
    assert named in str(err.value) and "\n" not in str(err.value)


# -- render -------------------------------------------------------------------------------

@pytest.mark.parametrize("version", ["1.19.16", "1.34.12", "1.35.8", "1.36.5", "1.37.2"])
def test_the_kubelet_patch_carries_the_profile_and_no_api_version(version):
    patch = kubelet_patch(rendered("kubelet-anon-on", version))
    assert patch == {"kind": "KubeletConfiguration",
                     "authentication": {"anonymous": {"enabled": True}}}
    assert kubelet_patch(rendered("anon-on", version)) is None


def test_cgroup_v1_and_the_profile_share_one_kubelet_patch():
    patch = kubelet_patch(rendered("kubelet-anon-on", "1.35.8", cgroup=1))
    assert patch == {"kind": "KubeletConfiguration", "failCgroupV1": False,
                     "authentication": {"anonymous": {"enabled": True}}}


def test_the_kubelet_port_is_published_on_loopback_only():
    config = yaml.safe_load(rendered("anon-on").kind_config)
    assert config["nodes"][0]["extraPortMappings"] == [
        {"containerPort": KUBELET_PORT, "hostPort": -1, "listenAddress": "127.0.0.1",
         "protocol": "TCP"}]


def test_expected_kubelet_settings_are_kubeadms_with_the_profile_over_them():
    assert rendered("anon-on").expected["kubelet"] == KUBELET_CHECKED
    assert rendered("kubelet-anon-on").expected["kubelet"] == {
        **KUBELET_CHECKED, "authentication.anonymous.enabled": True}
    assert rendered("anon-on").config_hash != rendered("kubelet-anon-on").config_hash


def test_flatten():
    assert flatten({"a": {"b": {"c": 1}, "d": []}, "e": {}}) == {"a.b.c": 1, "a.d": [], "e": {}}


# -- the running kubelet ----------------------------------------------------------------------

def test_kubeadms_kubelet_matches_the_default_profile():
    assert kubelet_differences(KUBEADM_CONFIG, ARGV, KUBELET_CHECKED) == []


def test_a_kubelet_patch_kind_skipped_is_named():
    expected = {**KUBELET_CHECKED, "authentication.anonymous.enabled": True}
    found = kubelet_differences(KUBEADM_CONFIG, ARGV, expected)
    assert found == ["kubelet authentication.anonymous.enabled is False, profile sets True"]


def test_a_flag_overrides_the_file():
    argv = [*ARGV, "--anonymous-auth=true"]
    found = kubelet_differences(KUBEADM_CONFIG, argv, KUBELET_CHECKED)
    assert found == ["the kubelet's --anonymous-auth is 'true', profile sets False"]
    anon = {**KUBELET_CHECKED, "authentication.anonymous.enabled": True}
    assert kubelet_differences(KUBEADM_CONFIG, argv, anon) == []


def test_another_config_file_and_a_missing_field_are_named():
    argv = [a for a in ARGV if not a.startswith("--config")] + ["--config", "/etc/k.yaml"]
    config = {"authentication": {"webhook": {"enabled": True}},
              "authorization": {"mode": "Webhook"}}
    found = kubelet_differences(config, argv, KUBELET_CHECKED)
    assert found[0] == f"the kubelet runs with --config='/etc/k.yaml', not {KUBELET_CONFIG}"
    assert "authentication.anonymous.enabled is not set" in found[1]


def test_the_kubelets_own_configz_is_checked_too():
    configz = {"kubeletconfig": {**KUBEADM_CONFIG, "authentication": {
        "anonymous": {"enabled": True}, "webhook": {"enabled": True}}}}
    assert configz_differences(configz, {**KUBELET_CHECKED,
                                         "authentication.anonymous.enabled": True}) == []
    assert configz_differences(configz, KUBELET_CHECKED) == [
        "the running kubelet's authentication.anonymous.enabled is True (/configz), profile "
        "sets False"]


def test_kubelet_flags_reads_both_forms():
    assert kubelet_flags(["kubelet", "--a=1", "--b", "2", "--c", "--d=x=y"]) == {
        "a": "1", "b": "2", "c": "", "d": "x=y"}


# -- token users -------------------------------------------------------------------------

def test_token_users_and_their_lines():
    tokens = {user: f"{user.replace('-', '_')}_token_0123456789" for user in TOKEN_USERS}
    text = "".join(token_file_text(t, u) for u, t in tokens.items())
    assert "admin_token_0123456789,admin,authprobe-admin\n" in text
    assert 'monitor_token_0123456789,monitor,authprobe-monitor,"system:monitoring"\n' in text
    assert users_of_token_file(text) == tokens


def test_an_unknown_token_user_is_refused():
    with pytest.raises(ValueError):
        token_file_text("a" * 20, "root")


# -- the kubelet's reviews ---------------------------------------------------------------

def stamp(at: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(at)) + f".{int(at % 1 * 1e6):06d}Z"


def review_event(at: float, subresource: str | None, user="admin", allowed=False,
                 node=NODE, stage="ResponseComplete", resource="subjectaccessreviews") -> dict:
    event = {"auditID": f"id-{at}-{subresource}", "stage": stage, "verb": "create",
             "requestReceivedTimestamp": stamp(at),
             "user": {"username": f"system:node:{node}", "groups": ["system:nodes"]},
             "objectRef": {"resource": resource, "apiGroup": "authorization.k8s.io"},
             "responseStatus": {"code": 201}}
    if resource == "subjectaccessreviews":
        event["requestObject"] = {"spec": {"user": user, "groups": ["system:authenticated"],
                                           "resourceAttributes": {
                                               "verb": "get", "resource": "nodes",
                                               "subresource": subresource, "name": node}}}
        event["responseObject"] = {"status": {"allowed": allowed, "reason": "RBAC: x"
                                              if allowed else ""}}
    return event


class Log(AuditLog):
    def __init__(self, events):
        self.events = events

    def grep(self, fixed):
        return [e for e in self.events if fixed in json.dumps(e, separators=(",", ":"))]


def test_reviews_are_matched_in_time_and_by_node():
    t0 = 1796305856.0
    log = Log([review_event(t0 - 0.3, "proxy", "system:anonymous"),  # the request before
               review_event(t0 + 0.010, "pods"),
               review_event(t0 + 0.011, "pods", stage="ResponseStarted"),
               review_event(t0 + 0.012, None, resource="tokenreviews"),
               review_event(t0 + 0.020, "proxy"),
               review_event(t0 + 0.021, "proxy", node="other-node"),
               review_event(t0 + 0.5, "healthz")])  # the request after
    found = reviews_by(log, NODE, t0, t0 + 0.03)
    assert [(r.kind, r.subresource) for r in found] == [
        ("SubjectAccessReview", "pods"), ("TokenReview", None),
        ("SubjectAccessReview", "proxy")]
    assert found[0].user == "admin" and found[0].allowed is False
    assert found[1].user is None  # a TokenReview's subject is never logged


def test_a_review_reads_its_answer():
    review = Review.from_event(review_event(1.0, "healthz", "healthz-reader", allowed=True))
    assert (review.user, review.verb, review.resource, review.subresource, review.name,
            review.allowed, review.code) == ("healthz-reader", "get", "nodes", "healthz", NODE,
                                             True, 201)


def test_a_decision_the_kubelet_still_holds_is_backed_by_its_earlier_review():
    from authprobe.harness.kubelet import KubeletAnswer

    t0 = 1796305856.0
    earlier = [Review.from_event(review_event(t0 - 40, "proxy", "system:anonymous")),
               Review.from_event(review_event(t0 - 10, "proxy", "system:anonymous")),
               Review.from_event(review_event(t0 - 200, "pods", "admin", allowed=True)),
               Review.from_event(review_event(t0 - 100, "proxy", "admin"))]
    answer = KubeletAnswer(response=None, reviews=[], sent=t0, answered=t0 + 0.02,
                           earlier=earlier)
    held = answer.asked_about("system:anonymous")
    assert [(r.time, r.held) for r in held] == [(stamp(t0 - 10), True)]
    # an allow is held 5 min, a denial 30 s
    assert [r.subresource for r in answer.asked_about("admin")] == ["pods"]
    fresh = Review.from_event(review_event(t0 + 0.01, "healthz", "system:anonymous"))
    answer.reviews = [fresh]
    assert answer.asked_about("system:anonymous") == [fresh]
