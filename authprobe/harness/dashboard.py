"""The Kubernetes Dashboard in a cluster: deploy it, and wait until it can answer."""

from __future__ import annotations

import kubernetes

from ..errors import AuthprobeError, error_line
from ..model.timeouts import calls, waits
from ..nodeimage.dashboard import PUBLISHED_IMAGE, render_manifest
from ..wait import until
from .access import NodeAccess
from .render import DASHBOARD_NAMESPACE

DASHBOARD_NAME = "kubernetes-dashboard"
# Pod waiting reasons that mean the Dashboard image cannot be had: stop waiting at once.
UNPULLABLE = ("ImagePullBackOff", "ErrImageNeverPull", "InvalidImageName")


def deploy(node: NodeAccess, image: str) -> None:
    """Apply the suite's Dashboard manifest with ``image``."""
    node.kubectl("apply", "-f", "-", input=render_manifest(image), timeout=calls().node_slow)


def image_for(preloaded: str | None, can_pull: bool) -> str | None:
    """The Dashboard image a cluster runs: the node image's own, else the published one where
    a registry can be reached; None when there is none."""
    if preloaded:
        return preloaded
    return PUBLISHED_IMAGE if can_pull else None


def _waiting_reasons(api: kubernetes.client.ApiClient) -> list[str]:
    try:
        pods = kubernetes.client.CoreV1Api(api).list_namespaced_pod(
            DASHBOARD_NAMESPACE, _request_timeout=calls().api_request)
    except Exception:  # the apiserver may be restarting: no reasons to give this time
        return []
    reasons = []
    for pod in pods.items:
        for status in pod.status.container_statuses or []:
            waiting = status.state.waiting if status.state else None
            if waiting is not None:
                reasons.append(f"{status.image}: {waiting.reason}")
    return reasons


def wait_available(cluster: str, api: kubernetes.client.ApiClient,
                   timeout: float | None = None) -> None:
    """Poll until the Dashboard deployment has an available replica (for ``timeout``
    seconds; the named ``dashboard_available`` by default)."""
    apps = kubernetes.client.AppsV1Api(api)
    last = {"state": "no answer yet"}

    def available() -> bool:
        try:
            deploy = apps.read_namespaced_deployment(DASHBOARD_NAME, DASHBOARD_NAMESPACE,
                                                     _request_timeout=calls().api_request)
        except Exception as err:  # apiserver restarting, or the deployment not there yet
            last["state"] = error_line(err, 120)
            return False
        ready = deploy.status.available_replicas or 0
        last["state"] = f"{ready} available replica(s)"
        if ready < 1:
            reasons = _waiting_reasons(api)
            if any(reason in text for text in reasons for reason in UNPULLABLE):
                raise AuthprobeError(f"the Dashboard in {cluster} cannot start: "
                                     + ", ".join(reasons))
            if reasons:
                last["state"] += "; " + ", ".join(reasons)
        return ready >= 1

    until(available, timeout=waits().dashboard_available if timeout is None else timeout,
          interval=2.0, state=lambda: last["state"],
          what=f"the Dashboard in {cluster}")
