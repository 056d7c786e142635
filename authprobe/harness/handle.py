"""What a scenario gets as ``cluster``: one running (or expectedly failed) cluster."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import kubernetes

from ..errors import AuthprobeError, NotRunnable
from ..model.profiles import ProfileAt
from ..model.versions import KubeVersion
from . import dashboard, kills
from .access import Endpoint, HttpClient, NodeAccess
from .audit import AuditLog
from .kubelet import KubeletClient, KubeletDoor
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
    restart observation window derived from it. ``as_user``, ``kubelet_as`` and ``api_as``
    give clients with the static token of one of ``render.TOKEN_USERS``; ``kubelet`` is the
    node's kubelet port.
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
    tokens: dict[str, str] = field(default_factory=dict, repr=False)  # token user -> token
    _kubelet: KubeletDoor | None = field(default=None, repr=False)

    def _token(self, user: str) -> str:
        if user not in self.tokens:
            raise AuthprobeError(f"{self.name} has no static token for user {user!r}")
        return self.tokens[user]

    def as_user(self, user: str) -> HttpClient:
        """An HTTP client of the apiserver with ``user``'s static token."""
        return HttpClient(Endpoint(self.server, self.ca_path), token=self._token(user),
                          user=user)

    def api_as(self, user: str) -> kubernetes.client.ApiClient:
        """The official client with ``user``'s static token (TLS verified, no proxy)."""
        configuration = kubernetes.client.Configuration()
        configuration.host = self.server
        configuration.ssl_ca_cert = str(self.ca_path)
        configuration.verify_ssl = True
        configuration.proxy = None
        configuration.api_key = {"authorization": f"Bearer {self._token(user)}"}
        return kubernetes.client.ApiClient(configuration=configuration)

    @property
    def kubelet(self) -> KubeletDoor:
        if self._kubelet is None:
            if self.admin is None or self.audit is None:
                raise AuthprobeError(f"{self.name} is not connected: no way to its kubelet")
            self._kubelet = KubeletDoor(self.node, self.audit,
                                        self.ca_path.parent / "kubelet-ca.crt", self.admin)
        return self._kubelet

    def kubelet_as(self, user: str | None) -> KubeletClient:
        """A client of the kubelet's port: no credentials (None), or ``user``'s token."""
        if user is None:
            return self.kubelet.client()
        return self.kubelet.client(self._token(user), user)
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

    def dashboard_ready(self, timeout: float | None = None) -> None:
        """Wait, polling, until the Dashboard has an available replica.

        Raises NotRunnable when this cluster has no Dashboard to wait for.
        """
        if self.dashboard_missing:
            raise NotRunnable(self.dashboard_missing)
        if self.api is None:
            raise AuthprobeError(f"{self.name} has no API client: its control plane is not up")
        dashboard.wait_available(self.name, self.api, timeout)
