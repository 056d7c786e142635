"""The pieces of the reload scenarios that need no cluster: a file replaced whole, kube-apiserver's
reload metrics and refusal lines read, its container's life compared, and an issuer added
to a cluster's servers (served, minting registered tokens, stopped with the cluster)."""

from __future__ import annotations

import hashlib
import json
import os
import socket
from types import SimpleNamespace

import pytest
import requests
import yaml

from authprobe.errors import AuthprobeError
from authprobe.harness import servers as cluster_servers
from authprobe.harness.readiness import RuntimeContainer
from authprobe.harness.reload import (
    ApiserverLife,
    LifeNotYet,
    config_in_force,
    file_hash,
    life_from,
    refusal_lines,
    refusal_reason,
    reload_record,
    replace_file,
    same_life,
    samples,
)
from authprobe.harness.render import RenderInput, render
from authprobe.harness.state import ClusterState
from authprobe.model.profiles import load_profile
from authprobe.model.versions import KubeVersion, version_table
from authprobe.paths import clusters_dir
from authprobe.servers.issuer import DISCOVERY_PATH

AUTHN = "apiserver_authentication_config_controller"
AUTHZ = "apiserver_authorization_config_controller"
ID = 'apiserver_id_hash="sha256:ab"'
# As kube-apiserver 1.34 serves them (the id hash shortened).
METRICS_134 = f"""\
# HELP {AUTHN}_automatic_reloads_total [BETA] Total ...
# TYPE {AUTHN}_automatic_reloads_total counter
{AUTHN}_automatic_reloads_total{{{ID},status="failure"}} 1
{AUTHN}_automatic_reloads_total{{{ID},status="success"}} 3
# TYPE {AUTHN}_last_config_info gauge
{AUTHN}_last_config_info{{{ID},hash="sha256:0f"}} 1
{AUTHZ}_automatic_reloads_total{{{ID},status="success"}} 7
"""
# 1.30-1.33: no reload yet (no counter sample), and no last_config_info at all.
METRICS_130 = """\
# TYPE apiserver_authentication_config_controller_automatic_reloads_total counter
apiserver_request_total{code="200",verb="GET"} 12
"""
REFUSAL_134 = (
    'E1207 10:11:12.345678       1 authentication.go:775] "failed to validate authentication '
    'config" err="anonymous: Forbidden: changed from initial configuration file"')
REFUSAL_130 = (
    'E1207 10:11:12.345678       1 authentication.go:697] "failed to load authentication '
    'config" err="strict decoding error: unknown field \\"anonymous\\""')


def test_a_file_is_replaced_whole_private_and_its_hash_is_kube_apiserver_s(tmp_path):
    path = tmp_path / "authentication-config.yaml"
    path.write_text("old\n")
    inode = path.stat().st_ino
    digest = replace_file(path, "new: text\n")
    assert path.read_text() == "new: text\n"
    assert path.stat().st_mode & 0o777 == 0o600
    # Renamed over the old file, not rewritten in it: a reader never meets it half written.
    assert path.stat().st_ino != inode
    assert digest == "sha256:" + hashlib.sha256(b"new: text\n").hexdigest() == file_hash(
        "new: text\n")
    assert sorted(os.listdir(tmp_path)) == ["authentication-config.yaml"]


def test_only_an_existing_file_is_replaced(tmp_path):
    with pytest.raises(AuthprobeError, match="does not exist"):
        replace_file(tmp_path / "missing.yaml", "x")


def test_the_reload_counts_and_the_config_hash_are_read_from_the_metrics():
    record = reload_record(METRICS_134)
    assert (record.success, record.failure, record.config_hash) == (3, 1, "sha256:0f")
    later = reload_record(METRICS_134.replace('status="success"} 3', 'status="success"} 4'))
    assert later.since(record) == {"success": 1, "failure": 0}
    assert reload_record(METRICS_134, "authorization_config_controller").success == 7


def test_a_minor_without_reloads_or_the_hash_metric_reads_as_none_and_zero():
    record = reload_record(METRICS_130)
    assert (record.success, record.failure, record.config_hash) == (0, 0, None)
    assert config_in_force(record, "new", "old") is None


def test_the_hash_says_which_file_is_in_force():
    def record(text):
        return reload_record(f'{AUTHN}_last_config_info{{hash="{file_hash(text)}"}} 1\n')

    assert config_in_force(record("b"), written="b", previous="a") == "new"
    assert config_in_force(record("a"), written="b", previous="a") == "old"
    assert config_in_force(record("c"), written="b", previous="a") == "other"


def test_an_unknown_controller_and_a_bad_value_are_one_line():
    with pytest.raises(AuthprobeError, match="name one of"):
        reload_record(METRICS_134, "encryption_config_controller")
    with pytest.raises(AuthprobeError, match="not a number"):
        samples("m{a=\"b\"} many\n", "m")


def test_refusal_lines_and_what_they_say_is_wrong():
    log = ['I1207 10:11:00.000000       1 authentication.go:792] "reloaded authentication '
           'config"', REFUSAL_134, "I1207 10:11:13.000000       1 other.go:1] \"something else\""]
    assert refusal_lines(log) == [REFUSAL_134]
    assert refusal_reason(REFUSAL_134) == ("anonymous: Forbidden: changed from initial "
                                           "configuration file")
    assert refusal_reason(REFUSAL_130) == 'strict decoding error: unknown field "anonymous"'
    assert refusal_reason("no err here") == "no err here"


def mirror_pod(restarts: int, container: str) -> dict:
    return {"items": [{"metadata": {"uid": "pod-1"}, "status": {"containerStatuses": [
        {"name": "kube-apiserver", "restartCount": restarts,
         "containerID": f"containerd://{container}"}]}}]}


def running(container: str, attempt: int = 0) -> list[RuntimeContainer]:
    return [RuntimeContainer("old", 0, "CONTAINER_EXITED", 1, "pod-1"),
            RuntimeContainer(container, attempt, "CONTAINER_RUNNING", 2, "pod-1")]


def test_the_apiserver_s_life_from_the_mirror_pod_and_the_runtime():
    life = life_from(mirror_pod(0, "c1"), running("c1"))
    assert life == ApiserverLife("pod-1", 0, "containerd://c1", "c1", 0)
    assert same_life(life, life_from(mirror_pod(0, "c1"), running("c1")))
    # A restart: the kubelet counts it and the runtime runs another container.
    assert not same_life(life, life_from(mirror_pod(1, "c2"), running("c2", 1)))
    # Another container under the same count is not the same life either.
    assert not same_life(life, life_from(mirror_pod(0, "c2"), running("c2")))


@pytest.mark.parametrize(("pods", "containers", "complaint", "not_yet"), [
    ({"items": []}, running("c1"), "0 kube-apiserver mirror pods", False),
    ({"items": [{"status": {}}]}, running("c1"), "no status of its container", True),
    (mirror_pod(0, "c1"), [], "runs no kube-apiserver container", True),
])
def test_an_apiserver_life_that_cannot_be_read_is_one_line(pods, containers, complaint,
                                                           not_yet):
    """A mirror pod without its container's status, or no running container, is a state
    the kubelet leaves within seconds (apiserver_life waits it out); two mirror pods are not."""
    with pytest.raises(AuthprobeError, match=complaint) as raised:
        life_from(pods, containers)
    assert isinstance(raised.value, LifeNotYet) is not_yet


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_an_added_issuer_is_served_beside_the_first_and_stopped_with_the_cluster(
        tmp_path, monkeypatch):
    monkeypatch.setattr(cluster_servers, "kind_gateway", lambda: "127.0.0.1")
    kube = KubeVersion.parse("1.34.12")
    profile = load_profile(clusters_dir() / "profiles" / "jwt-authn.yaml").at(kube)
    inp = RenderInput(profile=profile, version=kube, facts=version_table().facts_for(kube),
                      image="authprobe/node:v1.34.12", kind_version="v0.33.0")
    secrets: list[str] = []
    run = ClusterState(name="c", profile=profile, version=kube, image=None,
                       image_source="build", kind_version="v0.33.0", rendered=render(inp),
                       provider=SimpleNamespace(directory=tmp_path / "cluster"), node=None,
                       expected_down=False)
    env = SimpleNamespace(register_secret=secrets.append, logs_root=lambda: tmp_path / "logs")
    cluster_servers.start(env, run)
    added = cluster_servers.add_issuer(run, "reload")
    assert cluster_servers.add_issuer(run, "reload") is added  # started once per path
    first = run.servers.issuer
    assert added.port != first.port and added.issuer_url.endswith("/reload")
    # Trusted through the cluster's one CA, as the first issuer is.
    served = requests.get(added.issuer_url + DISCOVERY_PATH, timeout=10,
                          verify=str(tmp_path / "cluster" / "servers" / "ca.crt"), proxies={
                              "https": None})
    assert served.json()["issuer"] == added.issuer_url
    token = run.servers.mint("alice", "authprobe-config-reload", by=added)
    assert secrets == [token]
    assert [m["sub"] for m in added.minted()] == ["alice"] and first.minted() == []
    # The first issuer's file is untouched: adding it to the file is the scenario's change.
    authn = yaml.safe_load(run.rendered.auth_files["authentication-config.yaml"])
    assert [entry["issuer"]["url"] for entry in authn["jwt"]] == [first.issuer_url]
    ports = [added.port, first.port]
    lines = run.end()
    assert not any(port_open(port) for port in ports)
    assert any(line.startswith("issuer /reload stopped") for line in lines), lines
    log = (tmp_path / "logs" / "c" / "issuer-reload.jsonl").read_text()
    records = [json.loads(line) for line in log.splitlines()]
    assert [r.get("served") for r in records if "record" not in r] == ["discovery"]
    assert [r["sub"] for r in records if r.get("record") == "minted"] == ["alice"]
    assert token not in log


def test_an_issuer_is_added_only_to_a_cluster_that_runs_one(tmp_path):
    run = SimpleNamespace(servers=cluster_servers.ClusterServers(None, None))
    with pytest.raises(AuthprobeError, match="runs no JWT issuer"):
        cluster_servers.add_issuer(run, "reload")
