"""render_manifest: the suite's Dashboard manifest with the image filled in."""

from __future__ import annotations

import pytest
import yaml

from authprobe.errors import AuthprobeError
from authprobe.nodeimage import dashboard
from authprobe.paths import clusters_dir

IMAGE = "authprobe/dashboard:v2.7.0-0123456789ab"


def _docs(image: str = IMAGE) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(dashboard.render_manifest(image)) if doc]


def _by_kind(docs: list[dict]) -> dict[tuple[str, str], dict]:
    return {(doc["kind"], doc["metadata"]["name"]): doc for doc in docs}


def test_every_document_is_a_kubernetes_object():
    for doc in _docs():
        assert doc["apiVersion"] and doc["kind"] and doc["metadata"]["name"]


def test_expected_objects_in_the_dashboard_namespace():
    objects = _by_kind(_docs())
    assert set(objects) == {
        ("Namespace", "kubernetes-dashboard"),
        ("ServiceAccount", "kubernetes-dashboard"),
        ("Secret", "kubernetes-dashboard-csrf"),
        ("Role", "kubernetes-dashboard"),
        ("RoleBinding", "kubernetes-dashboard"),
        ("Service", "kubernetes-dashboard"),
        ("Deployment", "kubernetes-dashboard"),
    }
    for (kind, _), doc in objects.items():
        if kind != "Namespace":
            assert doc["metadata"]["namespace"] == dashboard.NAMESPACE


def test_image_substituted_with_if_not_present():
    text = dashboard.render_manifest(IMAGE)
    assert dashboard.PLACEHOLDER not in text
    assert "${" not in text
    deployment = _by_kind(_docs())[("Deployment", "kubernetes-dashboard")]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["image"] == IMAGE
    assert container["imagePullPolicy"] == "IfNotPresent"
    assert "--auto-generate-certificates" in container["args"]
    assert "--namespace=kubernetes-dashboard" in container["args"]
    assert container["readinessProbe"]["httpGet"]["scheme"] == "HTTPS"
    assert container["readinessProbe"]["httpGet"]["port"] == 8443


def test_published_image_renders():
    deployment = _by_kind(_docs(dashboard.PUBLISHED_IMAGE))[("Deployment", "kubernetes-dashboard")]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "kubernetesui/dashboard:v2.7.0"


def test_service_443_to_8443_selecting_the_pods():
    objects = _by_kind(_docs())
    service = objects[("Service", "kubernetes-dashboard")]
    (port,) = service["spec"]["ports"]
    assert (port["port"], port["targetPort"], port["protocol"]) == (443, 8443, "TCP")
    # The proxy path `https:kubernetes-dashboard:` names no port: only an unnamed one matches.
    assert "name" not in port
    labels = objects[("Deployment", "kubernetes-dashboard")]["spec"]["template"]["metadata"]
    assert service["spec"]["selector"].items() <= labels["labels"].items()


def test_role_bound_to_the_service_account():
    objects = _by_kind(_docs())
    binding = objects[("RoleBinding", "kubernetes-dashboard")]
    assert binding["roleRef"]["name"] == "kubernetes-dashboard"
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "kubernetes-dashboard",
         "namespace": "kubernetes-dashboard"}
    ]
    pod = objects[("Deployment", "kubernetes-dashboard")]["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "kubernetes-dashboard"


def test_proxy_path_names_the_service():
    assert dashboard.PROXY_PATH == (
        "/api/v1/namespaces/kubernetes-dashboard/services/https:kubernetes-dashboard:/proxy/"
    )


@pytest.mark.parametrize("bad", ["", "has space:1", "img\nkind: Secret", "-flag"])
def test_bad_image_reference_is_one_line_error(bad):
    with pytest.raises(AuthprobeError) as caught:
        dashboard.render_manifest(bad)
    assert "\n" not in caught.value.one_line()


def test_the_shipped_manifest_is_in_the_clusters_folder():
    assert dashboard.PLACEHOLDER in (clusters_dir() / "dashboard.yaml").read_text()


def test_a_manifest_without_the_placeholder_is_one_line(monkeypatch, tmp_path):
    (tmp_path / "dashboard.yaml").write_text("kind: Namespace\n")
    monkeypatch.setattr(dashboard, "clusters_dir", lambda: tmp_path)
    with pytest.raises(AuthprobeError) as caught:
        dashboard.render_manifest(IMAGE)
    assert "has no ${DASHBOARD_IMAGE} placeholder" in caught.value.one_line()
