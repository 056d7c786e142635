"""Is a cluster ready for scenarios, and if its control plane is down, why.

Ready means: ``/readyz`` answers 200 to the admin user, the ``default`` ServiceAccount
exists, and the server reports the exact version asked for. When kube-apiserver does not
stay up, the evidence comes from the node's container runtime (``crictl``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

import kubernetes
import requests
import urllib3

from ..errors import AuthprobeError
from ..model.restarts import ContainerRun
from ..model.timeouts import calls
from ..model.versions import KubeVersion
from ..wait import until
from .access import HttpClient, NodeAccess

LOG_TAIL = 40
# Errors that mean "the apiserver is not listening right now", as between restarts.
UNREACHABLE = (requests.ConnectionError, requests.Timeout, urllib3.exceptions.HTTPError,
               ConnectionError)
T = TypeVar("T")


def answered(call: Callable[[], T], timeout: float, what: str, quiet: bool = False) -> T:
    """What ``call`` returns, asked again while kube-apiserver cannot be reached (an error of
    UNREACHABLE), for at most ``timeout`` s; an answer of any status is returned as it is."""
    result: dict = {}

    def attempt() -> bool:
        result["value"] = call()
        return True

    until(attempt, timeout=timeout, interval=2.0, retry_on=UNREACHABLE, what=what, quiet=quiet)
    return result["value"]


@dataclass
class StartFailure:
    """Why the control plane is not up: the apiserver container's exit and last log lines."""

    reason: str
    exit_code: int | None = None
    log_tail: list[str] = field(default_factory=list)
    attempts: int = 0  # kube-apiserver containers started (attempt numbers)
    # The exited containers the runtime still knew, in seconds since the pod's first one.
    containers: list[ContainerRun] = field(default_factory=list)

    @property
    def last_line(self) -> str:
        return next((line for line in reversed(self.log_tail) if line.strip()), "")

    def __str__(self) -> str:
        code = f", exit code {self.exit_code}" if self.exit_code is not None else ""
        last = self.last_line
        return f"{self.reason}{code}" + (f"; last log line: {last}" if last else "")


class ContainerGone(AuthprobeError):
    """The runtime no longer knows a container it listed a moment before: the kubelet
    removed it (of a pod's exited containers it keeps only the newest)."""


def _gone(text: str) -> bool:
    return "code = NotFound" in text


@dataclass(frozen=True)
class RuntimeContainer:
    id: str
    attempt: int
    state: str  # CONTAINER_RUNNING, CONTAINER_EXITED, ...
    created_ns: int
    pod_uid: str = ""


POD_UID = "io.kubernetes.pod.uid"
_RFC3339 = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|z|[+-]\d\d:\d\d)$")


def apiserver_containers(node: NodeAccess,
                         timeout: float | None = None) -> list[RuntimeContainer]:
    """Every kube-apiserver container the runtime still knows, oldest first (asked for at
    most ``timeout`` seconds; the named ``node_read`` by default)."""
    return containers_named(node, "kube-apiserver", timeout)


def containers_named(node: NodeAccess, name: str,
                     timeout: float | None = None) -> list[RuntimeContainer]:
    """Every container of this name (kube-apiserver, etcd) the runtime still knows, oldest
    first."""
    result = node.exec("crictl", "ps", "-a", "--name", f"^{name}$", "-o", "json",
                       timeout=calls().node_read if timeout is None else timeout)
    data = json.loads(result.stdout or "{}")
    found = [RuntimeContainer(id=c["id"], attempt=int(c.get("metadata", {}).get("attempt", 0)),
                              state=c.get("state", ""), created_ns=int(c.get("createdAt", 0)),
                              pod_uid=str((c.get("labels") or {}).get(POD_UID, "")))
             for c in data.get("containers", [])]
    return sorted(found, key=lambda c: (c.created_ns, c.attempt))


def current_pod(containers: list[RuntimeContainer]) -> list[RuntimeContainer]:
    """The containers of the newest kube-apiserver pod, oldest first: a changed static pod
    manifest makes a new pod, whose containers count their attempts afresh."""
    if not containers:
        return []
    newest = containers[-1].pod_uid
    return [c for c in containers if c.pod_uid == newest]


def epoch(value) -> float | None:
    """Seconds since the epoch from a runtime time: nanoseconds (as a number or a string of
    digits) or an RFC 3339 text with up to nanosecond digits; None for unset (zero) times."""
    if value in (None, "", 0, "0"):
        return None
    text = str(value)
    if text.isdigit():
        return int(text) / 1e9
    match = _RFC3339.match(text)
    if match is None:
        raise AuthprobeError(f"the container runtime gave a time authprobe cannot read: {text}")
    whole, digits, zone = match.groups()
    stamp = datetime.fromisoformat(whole + ("+00:00" if zone in ("Z", "z") else zone))
    if stamp.timestamp() <= 0:  # the zero time of an unset field
        return None
    return stamp.timestamp() + (int(digits) / 10 ** len(digits) if digits else 0.0)


def container_run(node: NodeAccess, container: RuntimeContainer, t0: float) -> ContainerRun:
    """An exited container's record from the runtime: start, end, exit and last log line,
    in seconds since ``t0``."""
    status = container_status(node, container.id)
    code = status.get("exitCode")

    def since(value) -> float | None:
        stamp = epoch(value)
        return None if stamp is None else round(stamp - t0, 1)

    last = next((line for line in reversed(container_logs(node, container.id, tail=5))
                 if line.strip()), "")
    return ContainerRun(id=container.id, attempt=container.attempt,
                        started=since(status.get("startedAt")),
                        finished=since(status.get("finishedAt")),
                        exit_code=int(code) if code is not None else None,
                        reason=status.get("reason") or None, last_line=last.strip())


def exits(containers: list[RuntimeContainer]) -> int:
    """How many times kube-apiserver has exited, from the containers the runtime still
    knows. Each restart takes the next attempt number and the kubelet removes old exited
    containers, so an exited container of attempt n means n + 1 exits."""
    return max((c.attempt + 1 for c in containers if c.state == "CONTAINER_EXITED"), default=0)


def container_status(node: NodeAccess, container_id: str) -> dict:
    """The runtime's status of a container; :class:`ContainerGone` once it was removed."""
    try:
        result = node.exec("crictl", "inspect", container_id, timeout=calls().node_read)
    except AuthprobeError as err:
        if _gone(str(err)):
            raise ContainerGone(f"container {container_id[:13]} was removed: "
                                f"{err.one_line()}") from None
        raise
    return json.loads(result.stdout).get("status", {})


def container_logs(node: NodeAccess, container_id: str, tail: int = LOG_TAIL) -> list[str]:
    """The container's last log lines, klog's multi-line entries each as one line;
    :class:`ContainerGone` once it was removed (the runtime's refusal is not its log)."""
    result = node.exec("crictl", "logs", "--tail", str(tail), container_id, check=False,
                       timeout=calls().node_read)
    if result.returncode and _gone(result.stderr):
        raise ContainerGone(f"container {container_id[:13]} was removed before its log was "
                            "read")
    return fold_klog((result.stdout + result.stderr).splitlines()[-tail:])


def fold_klog(lines: list[str]) -> list[str]:
    """klog writes a multi-line value as ``key=<``, the value's lines (each indented by a
    tab), then `` >`` (kube-apiserver refusing a configuration file: ``"command failed"
    err=<`` and the validation errors): each such entry as one line, the value's lines joined
    by a space. A block the tail cut short stays as it is."""
    out: list[str] = []
    block: list[str] | None = None
    for line in lines:
        if block is None:
            if line.rstrip().endswith("=<"):
                block = [line.rstrip()]
            else:
                out.append(line)
        elif line.strip() == ">":
            out.append(block[0] + " ".join(part.strip() for part in block[1:]) + ">")
            block = None
        else:
            block.append(line)
    return out + (block or [])


def start_failure(node: NodeAccess, reason: str) -> StartFailure:
    """The evidence for a control plane that did not come up, from the node's runtime. The
    kubelet keeps restarting kube-apiserver meanwhile and removes the older exited
    containers: a container removed between the list and its reading makes the whole
    reading start again, so the evidence is of one moment."""
    def read() -> StartFailure:
        try:
            containers = apiserver_containers(node)
        except AuthprobeError as err:
            return StartFailure(reason=f"{reason}; node runtime unreadable: {err.one_line()}")
        return _start_failure(node, reason, containers)

    return until(read, timeout=calls().node_poll, interval=0.5, retry_on=(ContainerGone,),
                 what="a reading of kube-apiserver's containers that none was removed during",
                 quiet=True)


def _start_failure(node: NodeAccess, reason: str,
                   containers: list[RuntimeContainer]) -> StartFailure:
    if not containers:
        return StartFailure(reason=f"{reason}; no kube-apiserver container was ever started")
    exited = [c for c in containers if c.state == "CONTAINER_EXITED"]
    latest = exited[-1] if exited else containers[-1]
    status = container_status(node, latest.id)
    exit_code = status.get("exitCode") if latest.state == "CONTAINER_EXITED" else None
    pod = current_pod(containers)
    t0 = pod[0].created_ns / 1e9
    return StartFailure(reason=reason,
                        exit_code=int(exit_code) if exit_code is not None else None,
                        log_tail=container_logs(node, latest.id),
                        attempts=max(c.attempt for c in containers) + 1,
                        containers=[container_run(node, c, t0) for c in pod
                                    if c.state == "CONTAINER_EXITED"])


class NotReady(Exception):
    pass


def _check_once(admin: HttpClient, api: kubernetes.client.ApiClient) -> str:
    readyz = admin.get("/readyz", timeout=calls().api_request)
    if readyz.status_code != 200:
        raise NotReady(f"/readyz answered {readyz.status_code} to admin")
    core = kubernetes.client.CoreV1Api(api)
    try:
        core.read_namespaced_service_account("default", "default",
                                             _request_timeout=calls().api_request)
    except kubernetes.client.exceptions.ApiException as err:
        raise NotReady(f"ServiceAccount default/default: {err.status} {err.reason}") from None
    version = admin.get("/version", timeout=calls().api_request)
    if version.status_code != 200:
        raise NotReady(f"/version answered {version.status_code} to admin")
    return str(version.json().get("gitVersion", ""))


def wait_ready(admin: HttpClient, api: kubernetes.client.ApiClient, want: KubeVersion,
               timeout: float, what: str = "the cluster to be ready") -> None:
    """Poll until ready, for at most ``timeout`` seconds. A server of another version fails
    at once."""
    last = {"state": "no answer yet"}

    def ready() -> str:
        try:
            return _check_once(admin, api)
        except NotReady as err:
            last["state"] = str(err)
            raise
        except UNREACHABLE as err:
            last["state"] = f"apiserver unreachable ({type(err).__name__})"
            raise

    git_version = until(ready, timeout=timeout, interval=0.5, what=what,
                        retry_on=(NotReady, *UNREACHABLE), state=lambda: last["state"])
    if git_version.split("+")[0] != want.tag:
        raise AuthprobeError(
            f"server reports Kubernetes {git_version}, but {want.tag} was asked for: the node "
            "image does not hold the version it is named for")
