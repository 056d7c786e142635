"""The offline node image makes a working kind cluster.

The Kubernetes minor comes from --k8s-version (the first one given), else
AUTHPROBE_IMAGE_TEST_VERSION, else the suite's default.
The image is built if needed, a one-node cluster is created from it with the pinned kind, and
the cluster is checked through the API port kind publishes on 127.0.0.1.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import time

import pytest
import yaml
from kubernetes import client, config, utils

from authprobe.host import docker
from authprobe.host.engine import ensure_engine
from authprobe.host.tools import ensure_kind
from authprobe.model.versions import KubeVersion, default_minor, resolve, version_table
from authprobe.nodeimage import dashboard, ensure_node_image
from authprobe.nodeimage.build import DASHBOARD_LABEL
from authprobe.progress import say
from authprobe.wait import until as wait_until

pytestmark = pytest.mark.e2e

CLUSTER_PREFIX = "authprobe-img-"
CONTROL_PLANE_PODS = {
    "kube-apiserver": "component=kube-apiserver",
    "etcd": "component=etcd",
    "kube-controller-manager": "component=kube-controller-manager",
    "kube-scheduler": "component=kube-scheduler",
    "coredns": "k8s-app=kube-dns",
    "kube-proxy": "k8s-app=kube-proxy",
}


class NotYet(Exception):
    """The cluster has not reached the awaited state yet."""


def until(deadline: float):
    """Decorator: call the function until it returns without raising NotYet (or an API
    error of a cluster still starting), for at most ``deadline`` seconds."""
    def wrap(function):
        def polled():
            return wait_until(function, timeout=deadline, interval=2,
                              retry_on=(NotYet, client.ApiException, OSError),
                              what=function.__name__.replace("_", " "))
        return polled
    return wrap


def kind_config(image: str, version: KubeVersion) -> dict:
    cfg = {
        "kind": "Cluster",
        "apiVersion": "kind.x-k8s.io/v1alpha4",
        "networking": {"apiServerAddress": "127.0.0.1"},
        "nodes": [{"role": "control-plane", "image": image}],
    }
    if version_table().facts_for(version).kubelet_fail_cgroup_v1:
        # The kubelet refuses cgroup v1 hosts unless told otherwise (this host is one).
        cfg["kubeadmConfigPatches"] = ["kind: KubeletConfiguration\nfailCgroupV1: false\n"]
    return cfg


@pytest.fixture(scope="module")
def supported(request):
    given = request.config.getoption("k8s_version", default=None) or []
    spec = ",".join(given).split(",")[0].strip() if given else ""
    return resolve(spec or os.environ.get("AUTHPROBE_IMAGE_TEST_VERSION") or default_minor())


@pytest.fixture(scope="module")
def node_image(supported):
    ensure_engine()
    return ensure_node_image(supported)


@pytest.fixture(scope="module")
def cluster(node_image, supported, tmp_path_factory):
    kind = ensure_kind()
    name = f"{CLUSTER_PREFIX}{supported.minor}-{secrets.token_hex(3)}"
    workdir = tmp_path_factory.mktemp("kind")
    config_file = workdir / "kind.yaml"
    config_file.write_text(yaml.safe_dump(kind_config(node_image, supported.patch)))
    kubeconfig = workdir / "kubeconfig"
    kubeconfig.touch(mode=0o600)
    started = time.monotonic()
    try:
        result = subprocess.run(
            [str(kind), "create", "cluster", "--name", name, "--config", str(config_file),
             "--kubeconfig", str(kubeconfig), "--retain"],
            capture_output=True, text=True, timeout=900,
        )
        assert result.returncode == 0, f"kind create cluster failed:\n{result.stderr[-4000:]}"
        kubeconfig.chmod(0o600)
        yield {"name": name, "kubeconfig": kubeconfig, "started": started, "kind": kind}
    finally:
        subprocess.run([str(kind), "delete", "cluster", "--name", name], capture_output=True,
                       timeout=300)
        left = subprocess.run(
            ["docker", "ps", "-a", "-q", "--filter", f"label=io.x-k8s.kind.cluster={name}"],
            capture_output=True, text=True, timeout=60,
        ).stdout.split()
        assert not left, f"containers of cluster {name} remain after kind delete: {left}"


@pytest.fixture(scope="module")
def api(cluster):
    loaded = config.new_client_from_config(config_file=str(cluster["kubeconfig"]))
    host = loaded.configuration.host
    assert host.startswith("https://127.0.0.1:"), f"API server not on 127.0.0.1: {host}"
    return loaded


def all_running(pods: list, none_yet: str) -> list:
    """``pods`` when there are some and all are Running and Ready; NotYet otherwise."""
    if not pods:
        raise NotYet(none_yet)
    for pod in pods:
        ready = all(s.ready for s in pod.status.container_statuses or [])
        if pod.status.phase != "Running" or not ready:
            raise NotYet(f"{pod.metadata.name}: {pod.status.phase}, ready={ready}")
    return pods


def test_server_reports_the_pinned_patch(api, supported):
    info = client.VersionApi(api).get_code()
    assert info.git_version == supported.patch.tag


def test_node_becomes_ready(api, cluster):
    @until(300)
    def ready_node():
        nodes = client.CoreV1Api(api).list_node().items
        if not nodes:
            raise NotYet("no node registered")
        for node in nodes:
            conditions = {c.type: c.status for c in node.status.conditions or []}
            if conditions.get("Ready") != "True":
                raise NotYet(f"{node.metadata.name} not Ready: {conditions}")
        return nodes

    nodes = ready_node()
    say(f"node Ready {time.monotonic() - cluster['started']:.0f}s after kind create cluster began")
    assert len(nodes) == 1


@pytest.mark.parametrize("component", sorted(CONTROL_PLANE_PODS))
def test_system_pod_running(api, component):
    core = client.CoreV1Api(api)

    @until(300)
    def running():
        pods = core.list_namespaced_pod(
            "kube-system", label_selector=CONTROL_PLANE_PODS[component]).items
        return all_running(pods, f"no {component} pod yet")

    assert running()


def test_pods_resolve_service_names(api, supported):
    """Pod network, kube-proxy's service rules and CoreDNS together: a pod resolves names.

    The pod runs the preloaded kube-proxy image, the one image here with a shell and getent.
    """
    core = client.CoreV1Api(api)
    name = f"dns-probe-{secrets.token_hex(3)}"
    script = (
        "getent hosts kubernetes.default.svc.cluster.local && "
        "getent hosts kube-dns.kube-system.svc.cluster.local"
    )
    pod = client.V1Pod(
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1PodSpec(restart_policy="Never", containers=[client.V1Container(
            name="probe", image=f"registry.k8s.io/kube-proxy:{supported.patch.tag}",
            image_pull_policy="Never", command=["sh", "-c", script],
        )]),
    )

    @until(120)
    def created():
        return core.create_namespaced_pod("default", pod)

    created()

    @until(180)
    def finished():
        phase = core.read_namespaced_pod(name, "default").status.phase
        if phase not in ("Succeeded", "Failed"):
            raise NotYet(f"{name}: {phase}")
        return phase

    phase = finished()
    output = core.read_namespaced_pod_log(name, "default")
    assert phase == "Succeeded", output
    assert "10.96.0.1 " in output and "kubernetes.default.svc.cluster.local" in output


def test_dashboard_runs_from_the_preloaded_image(api, node_image):
    image = docker.image_label(node_image, DASHBOARD_LABEL)
    if not image:
        pytest.skip("the node image carries no Dashboard: the Go module proxy serves none, and "
                    "AUTHPROBE_DASHBOARD_SOURCE names no checkout")
    documents = [doc for doc in yaml.safe_load_all(dashboard.render_manifest(image)) if doc]
    utils.create_from_yaml(api, yaml_objects=documents)
    core = client.CoreV1Api(api)

    @until(300)
    def running():
        pods = core.list_namespaced_pod(dashboard.NAMESPACE).items
        dash = [p for p in pods if any(c.image == image for c in p.spec.containers)]
        return all_running(dash, "no Dashboard pod yet")

    assert running()
