"""The cluster harness on real kind clusters: sharing, cleanup, interrupts, reuse checks.

Each test drives the plugin through a separate pytest process on a small scenario file,
as a user would, and then looks at the Docker engine to see what is left.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import tenacity

pytestmark = pytest.mark.e2e

LABEL = "io.x-k8s.kind.cluster"
VERSION = os.environ.get("AUTHPROBE_E2E_VERSION", "1.34")
REPO = Path(__file__).resolve().parents[2]
CREATING = re.compile(r"creating cluster (\S+) ")


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a pytest child: this checkout's authprobe first on the path."""
    path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    return dict(os.environ, PYTHONPATH=path, **extra)

SCENARIOS = '''
import json, os
import pytest

OUT = os.environ["HARNESS_OUT"]


def record(**fields):
    with open(OUT, "a") as out:
        out.write(json.dumps(fields) + "\\n")


def test_http_clients(cluster):
    livez = cluster.anonymous.get("/livez")
    root = cluster.anonymous.get("/")
    readyz = cluster.admin.get("/readyz")
    record(test="http", cluster=cluster.name, livez=livez.status_code, root=root.status_code,
           readyz=readyz.status_code, server=cluster.server)


def test_cluster_admin_and_node(cluster):
    import kubernetes
    version = kubernetes.client.VersionApi(cluster.api).get_code().git_version
    crictl = cluster.node.exec("crictl", "ps", "--name", "kube-apiserver", "-q")
    record(test="api", cluster=cluster.name, version=version, up=cluster.up,
           crictl=bool(crictl.stdout.strip()), token_mode=oct(os.stat(cluster.ca_path).st_mode))


def test_restart_sampler(cluster):
    series = cluster.restarts.wait_for_window(20)
    record(test="sampler", cluster=cluster.name, samples=len(series),
           sources=sorted({s.source for s in series}), restarts=series[-1].restarts)


@pytest.mark.control_plane_any
def test_start_failure(cluster):
    failure = cluster.start_failure
    record(test="failure", cluster=cluster.name, up=cluster.up,
           exit_code=failure.exit_code if failure else None,
           log=failure.log_tail[-5:] if failure else [])
'''


def poll(condition, seconds: float) -> bool:
    """Whether ``condition()`` holds within ``seconds``, checked every half second."""
    return tenacity.Retrying(
        retry=tenacity.retry_if_result(lambda ok: not ok),
        stop=tenacity.stop_after_delay(seconds), wait=tenacity.wait_fixed(0.5),
        retry_error_callback=lambda state: False,
    )(condition)


def kind_containers(prefix: str = "authprobe-") -> dict[str, str]:
    """Node container name -> cluster name, for clusters whose name starts with prefix."""
    out = subprocess.run(
        ["docker", "ps", "-a", "--filter", f"label={LABEL}", "--format",
         '{{.Names}} {{.Label "' + LABEL + '"}}'],
        capture_output=True, text=True, check=True,
    ).stdout
    found = {}
    for line in out.splitlines():
        name, _, cluster = line.partition(" ")
        if cluster.startswith(prefix):
            found[name] = cluster
    return found


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["authprobe.plugin"]\n')
    (tmp_path / "test_drive.py").write_text(SCENARIOS)
    return tmp_path


def run_pytest(workdir: Path, *args: str, timeout: float = 1500,
               ) -> tuple[subprocess.CompletedProcess, list[dict]]:
    out = workdir / "records.jsonl"
    out.unlink(missing_ok=True)
    env = child_env(HARNESS_OUT=str(out))
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rA",
         "--k8s-version", VERSION, "--reports-dir", str(workdir / "reports"), *args],
        cwd=workdir, env=env, capture_output=True, text=True, timeout=timeout,
    )
    records = [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []
    return result, records


def test_one_shared_cluster_then_gone(workdir):
    result, records = run_pytest(workdir, "--profile", "anon-on", "-k", "not start_failure")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    names = {r["cluster"] for r in records}
    assert len(names) == 1, names
    by_test = {r["test"]: r for r in records}
    assert by_test["http"]["livez"] == 200
    assert by_test["http"]["root"] == 403
    assert by_test["http"]["readyz"] == 200
    assert by_test["http"]["server"].startswith("https://127.0.0.1:")
    assert by_test["api"]["version"].startswith(f"v{VERSION}.")
    assert by_test["api"]["crictl"] is True
    assert by_test["sampler"]["samples"] >= 2 and by_test["sampler"]["restarts"] == 0
    created = set(CREATING.findall(result.stdout))
    assert created == names, created
    assert names.pop() not in kind_containers().values()


def test_expected_start_failure_is_handed_over(workdir):
    result, records = run_pytest(workdir, "--profile", "anon-off-probe-8080")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    failure = [r for r in records if r["test"] == "failure"]
    assert len(failure) == 1 and failure[0]["up"] is False
    assert failure[0]["exit_code"] == 1
    assert any("unknown flag: --insecure" in line for line in failure[0]["log"]), failure
    assert "n/a: control plane of anon-off-probe-8080 did not come up (expected)" in result.stdout
    logs = list((workdir / "reports").glob("*/logs/authprobe-anon-off-probe-8080-*"))
    assert logs and any(logs[0].rglob("kubelet.log")), logs
    assert failure[0]["cluster"] not in kind_containers().values()


def test_sigint_during_creation_leaves_nothing(workdir):
    out = workdir / "records.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--profile", "anon-off",
         "--k8s-version", VERSION, "--reports-dir", str(workdir / "reports"),
         "-k", "http_clients"],
        cwd=workdir, env=child_env(HARNESS_OUT=str(out)), stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True,
    )
    lines = []
    try:
        name = None
        for line in proc.stdout:
            lines.append(line)
            match = CREATING.search(line)
            if match:
                name = match.group(1)
                break
        assert name, "".join(lines)
        assert poll(lambda: name in kind_containers().values(), 300), "no node container"
        # kind writes its kubeadm config into the node right before `kubeadm init`.
        in_kubeadm = poll(lambda: subprocess.run(
            ["docker", "exec", f"{name}-control-plane", "test", "-f", "/kind/kubeadm.conf"],
            capture_output=True).returncode == 0, 300)
        assert in_kubeadm, "kind never reached kubeadm init"
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=300)
        output = "".join(lines) + rest
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "SIGINT received" in output, output[-3000:]
    assert proc.returncode != 0
    assert name not in kind_containers().values(), output[-3000:]
    ps = subprocess.run(["pgrep", "-f", f"kind create cluster --name={name}"],
                        capture_output=True, text=True)
    assert ps.stdout.strip() == ""


def test_reused_cluster_with_other_flags_fails_clearly(workdir):
    result, records = run_pytest(workdir, "--profile", "anon-on", "--reuse-clusters",
                                 "-k", "http_clients")
    assert result.returncode == 0, result.stdout[-3000:]
    name = records[0]["cluster"]
    try:
        manifest = "/etc/kubernetes/manifests/kube-apiserver.yaml"
        add_flag = (r"s|^\(\s*\)- --token-auth-file=\(.*\)$|"
                    r"\1- --token-auth-file=\2\n\1- --anonymous-auth=false|")
        subprocess.run(["docker", "exec", f"{name}-control-plane", "sed", "-i", add_flag,
                        manifest], check=True)
        result, _ = run_pytest(workdir, "--profile", "anon-on", "--reuse-clusters",
                               "-k", "http_clients")
        assert result.returncode == 1, result.stdout[-3000:]
        assert (f"cluster {name} does not run profile anon-on: --anonymous-auth=false is set, "
                "profile leaves it unset") in result.stdout, result.stdout[-3000:]
    finally:
        subprocess.run([sys.executable, "-m", "authprobe.cli", "clusters", "prune", name],
                       capture_output=True, text=True, env=child_env())
    assert name not in kind_containers().values()
