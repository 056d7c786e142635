"""What a scenario gets as ``cluster``: a read-only view of one cluster's record
(:class:`.state.ClusterState`), running or with its control plane down as judged."""

from __future__ import annotations

import json
from pathlib import Path

import kubernetes
import yaml

from ..errors import AuthprobeError, NotRunnable
from ..model.profiles import ISSUER_URL_REF, WEBHOOK_KUBECONFIG_FILE, ProfileAt
from ..model.timeouts import calls, waits
from ..model.versions import KubeVersion
from ..wait import until
from . import dashboard, kills, reload
from . import servers as cluster_servers
from .access import Endpoint, HttpClient, NodeAccess
from .audit import AuditLog
from .kubelet import KubeletClient, KubeletDoor
from .probes import ProbeFailure, kubelet_failures
from .readiness import StartFailure, apiserver_containers, container_logs
from .sampler import RestartSampler
from .state import ClusterState
from .upgrade import kubelet_reached


class ClusterHandle:
    """One cluster as the scenarios see it; it reads the cluster's record and changes
    nothing of it.

    ``anonymous`` and ``admin`` are HTTP clients (TLS verified against the cluster CA),
    ``api`` the official client as cluster-admin, ``node`` runs commands in the node,
    ``restarts`` is the kube-apiserver restart sampler, ``audit`` the apiserver's audit log.
    ``probe_budget`` is how long the kubelet lets a failing apiserver live, ``window`` the
    restart observation window derived from it. ``as_user``, ``kubelet_as`` and ``api_as``
    give clients with the static token of one of ``render.TOKEN_USERS`` (or of a user of the
    profile's access table, by its name; a service account of the table by its username,
    ``system:serviceaccount:<namespace>:<name>``, with the token the ``rbac`` step got for
    it); ``kubelet`` is the node's kubelet port. ``upgrade`` says what an upgrade in place
    did (from, to, seconds, kubeadm's line, the apiserver's kubelet client certificate
    before and after, kubectl logs and exec right after), ``profile_differences`` what of
    the profile it did not keep.
    """

    __slots__ = ("_record",)

    def __init__(self, record: ClusterState) -> None:
        object.__setattr__(self, "_record", record)

    def __setattr__(self, name: str, value) -> None:
        raise AttributeError(f"cluster.{name} is read-only: the harness's steps set it")

    def __repr__(self) -> str:
        record = self._record
        return f"ClusterHandle({record.name}, {record.profile.id}, {record.version}, " \
               f"{record.state.value})"

    # -- the cluster -------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._record.name

    @property
    def profile(self) -> ProfileAt:
        return self._record.profile

    @property
    def version(self) -> KubeVersion:
        return self._record.version

    @property
    def image(self) -> str:
        return self._record.image.ref

    @property
    def image_source(self) -> str:
        return self._record.image_source

    @property
    def kind_version(self) -> str:
        return self._record.kind_version

    @property
    def node(self) -> NodeAccess:
        return self._record.node

    @property
    def up(self) -> bool:
        return self._record.up

    @property
    def start_failure(self) -> StartFailure | None:
        return self._record.found.start_failure

    @property
    def dashboard_image(self) -> str | None:
        return self._record.dashboard_image

    @property
    def dashboard_missing(self) -> str | None:
        return self._record.dashboard_missing

    # -- what the steps found at its version -------------------------------------------------

    @property
    def server(self) -> str | None:
        return self._record.found.server

    @property
    def ca_path(self) -> Path | None:
        return self._record.found.ca_path

    @property
    def anonymous(self) -> HttpClient | None:
        return self._record.found.anonymous

    @property
    def admin(self) -> HttpClient | None:
        return self._record.found.admin

    @property
    def api(self) -> kubernetes.client.ApiClient | None:
        return self._record.found.api

    @property
    def restarts(self) -> RestartSampler | None:
        return self._record.found.restarts

    @property
    def audit(self) -> AuditLog | None:
        return self._record.found.audit

    @property
    def probe_spec(self) -> dict:
        return dict(self._record.found.probe_spec)

    @property
    def probe_budget(self) -> float | None:
        return self._record.found.probe_budget

    @property
    def window(self) -> float | None:
        return self._record.found.window

    @property
    def upgrade(self) -> dict | None:
        found = self._record.found.upgrade
        return dict(found) if found is not None else None

    @property
    def profile_differences(self) -> list[str]:
        return list(self._record.found.profile_differences)

    # -- clients -----------------------------------------------------------------------------

    def _token(self, user: str) -> str:
        tokens = self._record.tokens
        if user not in tokens:
            raise AuthprobeError(f"{self.name} has no static token for user {user!r}")
        return tokens[user]

    def as_user(self, user: str) -> HttpClient:
        """An HTTP client of the apiserver with ``user``'s static token."""
        return self.with_token(self._token(user), user)

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
        door = self._record.found.kubelet
        if door is None:
            raise AuthprobeError(f"{self.name} is not connected: no way to its kubelet")
        return door

    def kubelet_as(self, user: str | None) -> KubeletClient:
        """A client of the kubelet's port: no credentials (None), or ``user``'s token."""
        if user is None:
            return self.kubelet.client()
        return self.kubelet.client(self._token(user), user)

    # -- the cluster's servers (profiles with an issuer or a webhook authorizer) ------------

    def _servers(self):
        found = self._record.servers
        if found is None:
            raise NotRunnable(f"profile {self.profile.id} runs no issuer or webhook authorizer")
        return found

    @property
    def jwt_audience(self) -> str:
        """The audience kube-apiserver takes the issuer's tokens for (the jwt entry's first,
        or --oidc-client-id)."""
        return self.profile.jwt_audience

    def jwt(self, sub: str, *, groups: list[str] | None = None, claims: dict | None = None,
            flaw: str | None = None, audience: str | None = None,
            issuer: str | None = None) -> str:
        """A token of the cluster's issuer for ``sub`` (of the issuer added at the path
        ``issuer``, see :meth:`add_issuer`): the profile's ``issuer.claims``, then ``claims``
        over them; ``flaw`` one of the issuer's FLAWS. Registered as a secret of the run: no
        report holds it."""
        servers = self._servers()
        by = None
        if issuer is not None:
            if issuer not in servers.added:
                raise AuthprobeError(f"{self.name} has no issuer added at {issuer!r}: add it "
                                     "first (cluster.add_issuer)")
            by = servers.added[issuer]
        base = dict((self.profile.issuer or {}).get("claims") or {})
        return servers.mint(sub, audience or self.jwt_audience, by=by, groups=groups,
                            claims={**base, **(claims or {})}, flaw=flaw)

    def add_issuer(self, path: str) -> str:
        """Start a second JWT issuer of the cluster at ``path`` (once; the cluster's end
        stops it and keeps its log); its issuer URL. Its CA is the first issuer's."""
        self._servers()
        return cluster_servers.add_issuer(self._record, path).issuer_url

    def added_issuer_log(self, path: str) -> list[dict]:
        """What the issuer added at ``path`` served so far (time, client, path, status)."""
        found = self._servers().added.get(path)
        if found is None:
            raise AuthprobeError(f"{self.name} has no issuer added at {path!r}")
        return found.log.records()

    @property
    def issuer_url(self) -> str | None:
        """The URL of the cluster's issuer, as kube-apiserver reaches it (None: the profile
        runs no issuer)."""
        found = self._record.servers
        return found.issuer.issuer_url if found is not None and found.issuer else None

    def by_name(self, text: str | None) -> str | None:
        """``text`` with the cluster's issuer URL written as ``{issuerURL}``. The URL holds a
        port each run of the cluster picks anew, and the --oidc-* flags put it in front of
        every username they map (``{issuerURL}#alice``): written by name, what two runs
        observed compares, and a username with any other prefix still reads as it is."""
        url = self.issuer_url
        if text is None or not url:
            return text
        return text.replace(url, ISSUER_URL_REF)

    def with_token(self, token: str, user: str = "jwt") -> HttpClient:
        """An HTTP client of the apiserver presenting ``token``."""
        return HttpClient(Endpoint(self.server, self.ca_path), token=token, user=user)

    def server_logs(self) -> dict[str, list[dict]]:
        """What the cluster's servers recorded so far (``issuer``, ``issuer_minted``,
        ``webhook``): no token, no key."""
        return self._servers().logs()

    def _authorizer(self):
        """The cluster's webhook authorizer; NotRunnable for a profile that runs none (a
        team's profile no row marks n/a is skipped, saying so)."""
        found = self._servers().authorizer
        if found is None:
            raise NotRunnable(f"profile {self.profile.id} runs no webhook authorizer")
        return found

    def webhook_log(self) -> list[dict]:
        """The reviews the cluster's webhook authorizer answered so far."""
        self._authorizer()
        return self.server_logs()["webhook"]

    def stop_webhook(self) -> None:
        """Stop the webhook authorizer (kube-apiserver meets a closed port); scenarios give it
        back with :meth:`start_webhook`."""
        self._authorizer()
        cluster_servers.stop_authorizer(self._record)

    def start_webhook(self) -> None:
        """Serve the webhook again, on the port the cluster's files name."""
        cluster_servers.start_authorizer(self._record)

    # -- the files kube-apiserver reloads -----------------------------------------------------

    def _auth_path(self, name: str) -> Path:
        path = self._record.directory / "auth" / name
        if not path.is_file():
            raise AuthprobeError(f"{self.name} has no auth file {name!r}: its profile writes "
                                 f"{', '.join(sorted(self._record.rendered.auth_files))}")
        return path

    def auth_file(self, name: str) -> str:
        """The text of the auth file ``name`` kube-apiserver reads (the cluster's private
        copy, the folder mounted into the node and the kube-apiserver pod)."""
        return self._auth_path(name).read_text()

    def replace_auth_file(self, name: str, text: str) -> str:
        """Replace the auth file ``name`` whole, where kube-apiserver reads it, without
        restarting anything; the new file's hash (as kube-apiserver's metrics name it)."""
        return reload.replace_file(self._auth_path(name), text)

    def apiserver_metrics(self) -> str:
        """kube-apiserver's /metrics text, read as cluster-admin from inside the node."""
        return self.node.kubectl("get", "--raw", "/metrics", timeout=calls().node_read).stdout

    def apiserver_life(self) -> reload.ApiserverLife:
        """kube-apiserver's container now: the mirror pod's restart count and container ID,
        and the container the runtime runs (waited for, the named ``apiserver_back``, while
        the kubelet has not recorded them yet)."""
        def read() -> reload.ApiserverLife:
            pods = self.node.kubectl("get", "pods", "-n", "kube-system", "-l",
                                     "component=kube-apiserver", "-o", "json",
                                     timeout=calls().node_read).stdout
            return reload.life_from(json.loads(pods), apiserver_containers(self.node))

        return until(read, timeout=waits().apiserver_back, interval=1.0,
                     retry_on=(reload.LifeNotYet,), what="kube-apiserver's container recorded")

    def apiserver_log(self, tail: int) -> list[str]:
        """The last ``tail`` lines of the running kube-apiserver container's log."""
        life = self.apiserver_life()
        return container_logs(self.node, life.runtime_container_id, tail=tail)

    @property
    def webhook_url(self) -> str:
        """Where kube-apiserver asks the webhook authorizer (the server of the kubeconfig in
        the cluster's files), running or stopped."""
        text = self._record.rendered.auth_files.get(WEBHOOK_KUBECONFIG_FILE)
        if self._servers().authorizer is None or text is None:
            raise NotRunnable(f"profile {self.profile.id} runs no webhook authorizer")
        return yaml.safe_load(text)["clusters"][0]["cluster"]["server"]

    # -- readings ----------------------------------------------------------------------------

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
