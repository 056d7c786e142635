"""Ways into one cluster: anonymous and admin over HTTPS, the official client as
cluster-admin, and commands inside the node.

Every HTTP client talks only to the port kind publishes on 127.0.0.1, verifies TLS against
the cluster CA, and ignores proxy settings and credentials from the environment.
"""

from __future__ import annotations

import base64
import subprocess
from dataclasses import dataclass
from pathlib import Path

import kubernetes
import requests
import yaml

from ..errors import AuthprobeError
from ..host.docker import docker
from ..model.timeouts import calls
from .naming import write_private


@dataclass(frozen=True)
class Endpoint:
    server: str  # https://127.0.0.1:<published port>
    ca_path: Path


def endpoint_from_kubeconfig(kubeconfig: Path, ca_path: Path) -> Endpoint:
    """Server URL from the kind kubeconfig; its CA written to ``ca_path`` (0600)."""
    try:
        config = yaml.safe_load(kubeconfig.read_text())
        cluster = config["clusters"][0]["cluster"]
        server = cluster["server"]
        ca = base64.b64decode(cluster["certificate-authority-data"]).decode()
    except (OSError, KeyError, IndexError, TypeError, ValueError) as err:
        raise AuthprobeError(f"kubeconfig {kubeconfig} is not a kind kubeconfig: {err}") from None
    if not server.startswith("https://127.0.0.1:"):
        raise AuthprobeError(f"kubeconfig {kubeconfig} points at {server}, not at 127.0.0.1")
    write_private(ca_path, ca)
    return Endpoint(server=server, ca_path=ca_path)


class HttpClient:
    """requests against the apiserver; ``token`` None means no credentials at all."""

    def __init__(self, endpoint: Endpoint, token: str | None = None, user: str = "anonymous"):
        self.endpoint = endpoint
        self.user = user
        self.session = requests.Session()
        self.session.trust_env = False  # no proxies, no netrc credentials
        self.session.verify = str(endpoint.ca_path)
        if token is not None:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        if not path.startswith("/"):
            raise ValueError(f"path must start with '/': {path!r}")
        kwargs.setdefault("timeout", calls().http_request)
        kwargs.setdefault("allow_redirects", False)
        return self.session.request(method, self.endpoint.server + path, **kwargs)

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def close(self) -> None:
        self.session.close()

    def __repr__(self) -> str:
        return f"HttpClient(user={self.user!r}, server={self.endpoint.server!r})"


def cluster_admin(kubeconfig: Path, retries: bool | int | None = None,
                  ) -> kubernetes.client.ApiClient:
    """An ApiClient of its own for this cluster (never the module-wide default config).

    ``retries=False`` makes a call fail at once when the apiserver is down.
    """
    configuration = kubernetes.client.Configuration()
    kubernetes.config.load_kube_config(config_file=str(kubeconfig),
                                       client_configuration=configuration,
                                       persist_config=False)
    configuration.proxy = None
    if retries is not None:
        configuration.retries = retries
    return kubernetes.client.ApiClient(configuration=configuration)


class NodeAccess:
    """Commands inside the control-plane node container (``docker exec``)."""

    def __init__(self, container: str) -> None:
        self.container = container

    def exec(self, *argv: str, check: bool = True, timeout: float | None = None,
             input: str | None = None) -> subprocess.CompletedProcess:
        """``argv`` in the node; ``timeout`` defaults to the named one, ``node_exec``."""
        flags = ["-i"] if input is not None else []
        result = docker("exec", *flags, self.container, *argv, input=input,
                        timeout=calls().node_exec if timeout is None else timeout)
        if check and result.returncode:
            detail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
            raise AuthprobeError(f"`{' '.join(argv)}` in node {self.container} exited "
                                 f"{result.returncode}: {detail[0]}")
        return result

    def kubectl(self, *argv: str, **kwargs) -> subprocess.CompletedProcess:
        return self.exec("kubectl", "--kubeconfig=/etc/kubernetes/admin.conf", *argv, **kwargs)

    def read(self, path: str) -> str:
        return self.exec("cat", path).stdout

    def __repr__(self) -> str:
        return f"NodeAccess({self.container!r})"
