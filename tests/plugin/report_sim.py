"""A stand-in cluster harness for exercising the report plugin under pytester.

It provides the fixtures the scenarios use (``cluster``, ``expected``, ``observe``) and
fills the run log the way the real harness does, without starting any cluster: the
observed values are the ones the SPEC describes, so the reports have realistic content.
``AUTHPROBE_SIM_VERSION`` picks the Kubernetes version; ``AUTHPROBE_SIM_BREAK`` names
cells (``profile/scenario``) that observe something else, to produce failures;
``AUTHPROBE_SIM_DOWN`` names profiles whose cluster fails to come up.
"""

CONFTEST = r'''
import json
import os
from pathlib import Path

import pytest

from authprobe import expectations
from authprobe.report import register_secret, run_dir
from authprobe.runlog import ClusterInfo, PhaseRecord, runlog
from authprobe.series import Sample
from authprobe.versions import KubeVersion

VERSION = os.environ.get("AUTHPROBE_SIM_VERSION", "1.34.12")
BROKEN = set(filter(None, os.environ.get("AUTHPROBE_SIM_BREAK", "").split(",")))
PROFILES = ["anon-on", "anon-off", "anon-health-only", "anon-off-probe-8080"]
TOKEN = "3f9c2a7be81d4c55a0e6b1f2c9d8e7a6"
KIND = "v0.32.0"
IMAGE = f"authprobe/node:v{VERSION}-0123456789ab"


def pytest_addoption(parser):
    group = parser.getgroup("authprobe")
    group.addoption("--reports-dir", dest="reports_dir", default=None)
    group.addoption("--k8s-version", dest="k8s_version", default=VERSION)


def cluster_name(profile):
    return f"authprobe-{profile}-{VERSION.replace('.', '-')}"


def series_for(profile):
    if profile == "anon-off":
        out = []
        for t in range(0, 340, 10):
            restarts = 0 if t < 250 else 1 + (t - 250) // 60
            source = "runtime" if t in (250, 310) else "api"
            out.append(Sample(float(t), restarts, False, "Error" if restarts else None, source))
        return out
    if profile == "anon-off-probe-8080":
        return [Sample(float(t), t // 40, False, "Error", "runtime") for t in range(0, 200, 20)]
    return [Sample(float(t), 0, t >= 20, None, "api") for t in range(0, 340, 10)]


@pytest.fixture(scope="session", params=PROFILES,
                ids=lambda p: f"{p}-{'.'.join(VERSION.split('.')[:2])}")
def cluster(request):
    profile = request.param
    name = cluster_name(profile)
    if profile in os.environ.get("AUTHPROBE_SIM_DOWN", "").split(","):
        pytest.fail(f"cluster {name} did not come up: kubelet never started", pytrace=False)
    up = profile != "anon-off-probe-8080"
    log = runlog(request.config)
    log.add_cluster(ClusterInfo(name, profile, VERSION, IMAGE, KIND, up,
                                None if up else "kube-apiserver exited 1"))
    log.add_phase(PhaseRecord(name, profile, VERSION, IMAGE, "create", 48.2,
                              "passed" if up else "expected-failure",
                              "" if up else "Error: unknown flag: --insecure-port"))
    log.add_phase(PhaseRecord(name, profile, VERSION, IMAGE, "verify", 3.1, "passed"))
    log.set_series(name, series_for(profile))
    register_secret(TOKEN)
    if not up:
        logs = run_dir(request.config) / "logs" / name
        logs.mkdir(parents=True, exist_ok=True)
        (logs / "kube-apiserver.log").write_text(
            "Error: unknown flag: --insecure-port\n"
            f"--token-auth-file line: {TOKEN},admin,1000\n"
        )
    yield {"profile": profile, "name": name, "up": up}
    log.add_phase(PhaseRecord(name, profile, VERSION, IMAGE, "teardown", 2.4, "passed"))


@pytest.fixture
def expected(request, cluster):
    scenario = request.node.originalname[len("test_"):]
    row = expectations.lookup(cluster["profile"], scenario, KubeVersion.parse(VERSION))
    request.node.user_properties.extend([
        ("k8s_version", VERSION), ("profile", cluster["profile"]), ("scenario", scenario),
        ("node_image", IMAGE), ("kind_version", KIND), ("cluster", cluster["name"]),
        ("expected", row.to_json()),
    ])
    if row.na:
        pytest.skip(f"n/a: {row.na}")
    return row


@pytest.fixture
def observe(request):
    def record(**values):
        for key, value in values.items():
            request.node.user_properties.append((f"observed.{key}", value))
    return record


def simulate(cluster, scenario, expected):
    broken = f"{cluster['profile']}/{scenario}" in BROKEN
    values = {k: v for k, v in expected.values.items() if k not in ("note", "seen", "na")}
    if broken and "status" in values:
        values["status"] = 500
        values["message"] = "Internal Server Error"
    return values
'''

TESTS = r'''
import pytest
from conftest import TOKEN, series_for, simulate
from authprobe.series import ever_ready, first_restart_at, shape, summary


def check_http(cluster, expected, observe, scenario):
    seen = simulate(cluster, scenario, expected)
    observe(status=seen["status"], message=seen["message"],
            request_headers={"Authorization": f"Bearer {TOKEN}"})
    assert seen["status"] == expected.status, f"got {seen['status']}: {seen['message']}"
    assert expected.message in seen["message"]


def test_control_plane_comes_up(cluster, expected, observe):
    observe(up=cluster["up"])
    assert cluster["up"] == expected.comes_up
    if not cluster["up"]:
        observe(exit_code=1, log_tail=["Error: unknown flag: --insecure-port"])


def test_anonymous_get_root(cluster, expected, observe):
    check_http(cluster, expected, observe, "anonymous_get_root")


def test_anonymous_get_livez(cluster, expected, observe):
    check_http(cluster, expected, observe, "anonymous_get_livez")


def test_admin_list_nodes(cluster, expected, observe):
    check_http(cluster, expected, observe, "admin_list_nodes")
    observe(status_after=200)


def test_apiserver_restarts(cluster, expected, observe, request):
    series = series_for(cluster["profile"])
    request.node.user_properties.append(("restart_summary", summary(series)))
    observe(restart_shape=shape(series), first_restart_at=first_restart_at(series),
            ever_ready=ever_ready(series))
    assert shape(series) == expected.restart_shape


def test_anonymous_dashboard_proxy(cluster, expected, observe):
    raise ConnectionError("connection refused by 127.0.0.1:6443")
'''
