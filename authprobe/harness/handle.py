"""What a scenario gets as ``cluster``: one running (or expectedly failed) cluster."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import kubernetes

from ..errors import AuthprobeError, NotRunnable
from ..model.profiles import ProfileAt
from ..model.versions import KubeVersion
from . import dashboard, kills
from .access import HttpClient, NodeAccess
from .audit import AuditLog
from .probes import ProbeFailure, kubelet_failures
from .readiness import StartFailure
from .sampler import RestartSampler


@dataclass
class ClusterHandle:
    """One cluster as the scenarios see it.

    ``anonymous`` and ``admin`` are HTTP clients (TLS verified against the cluster CA),
    ``api`` the official client as cluster-admin, ``node`` runs commands in the node,
    ``restarts`` is the kube-apiserver restart sampler, ``audit`` the apiserver's audit log.
    ``probe_budget`` is how long the kubelet lets a failing apiserver live, ``window`` the
    restart observation window derived from it.
    """

    name: str
    profile: ProfileAt
    version: KubeVersion
    image: str
    image_source: str
    kind_version: str
    node: NodeAccess
    up: bool = False
    start_failure: StartFailure | None = None
    server: str | None = None
    ca_path: Path | None = None
    anonymous: HttpClient | None = None
    admin: HttpClient | None = None
    api: kubernetes.client.ApiClient | None = None
    restarts: RestartSampler | None = None
    audit: AuditLog | None = None
    probe_spec: dict = field(default_factory=dict)
    probe_budget: float | None = None
    window: float | None = None
    dashboard_image: str | None = None
    dashboard_missing: str | None = None  # why no Dashboard was deployed
    # After an upgrade in place: from, to, seconds, kubeadm's line, the apiserver's kubelet
    # client certificate before and after, kubectl logs and exec right after.
    upgrade: dict | None = None
    # What of the profile the upgrade did not keep (the verification's differences).
    profile_differences: list[str] = field(default_factory=list)

    def kubelet_probe_failures(self) -> list[ProbeFailure]:
        """The kubelet's failed probes of kube-apiserver so far, from its journal."""
        if self.restarts is None or self.restarts.t0 is None:
            return []
        return kubelet_failures(self.node, self.restarts.t0)

    def apiserver_events(self) -> list[dict]:
        """Events about the kube-apiserver pod (the kubelet's Unhealthy, Killing, BackOff),
        each with its first and last time, read from the API; empty when the apiserver does
        not answer."""
        if self.api is None:
            return []
        try:
            return kills.apiserver_events(self.api)
        except Exception:  # restarting apiserver: no events to read this time
            return []

    def kubelet_reached(self) -> dict:
        """``kubectl logs`` and ``exec`` in the node, through the apiserver to the kubelet:
        {logs_ok, logs, exec_ok, exec} (what each printed)."""
        from .upgrade import kubelet_reached

        return kubelet_reached(self.node)

    def dashboard_ready(self, timeout: float = 300.0) -> None:
        """Wait, polling, until the Dashboard has an available replica.

        Raises NotRunnable when this cluster has no Dashboard to wait for.
        """
        if self.dashboard_missing:
            raise NotRunnable(self.dashboard_missing)
        if self.api is None:
            raise AuthprobeError(f"{self.name} has no API client: its control plane is not up")
        dashboard.wait_available(self.name, self.api, timeout)
