"""The structured configuration files kube-apiserver reloads without a restart, and what it
records of each reload.

kube-apiserver (1.30 on) watches its ``--authentication-config`` file (and its
``--authorization-config`` file) with inotify and polls it every minute besides; a file
whose content changed is decoded, validated and, for authentication, its new JWT
authenticators are waited for until healthy before they replace the old ones. Each outcome is
counted in ``apiserver_<controller>_automatic_reloads_total{status}``, and from 1.34 the
hash of the file in force is the label of ``apiserver_<controller>_last_config_info``; a
refused file is logged (:data:`REFUSALS`) and the previous configuration stays in force.

The files live in the cluster's private ``auth`` folder on the host, mounted as a folder
into the node and from there into the kube-apiserver pod, so a file replaced there is the
file kube-apiserver reads. It is replaced whole (written beside it, then renamed over it):
a file truncated and rewritten in place can be read half written, which kube-apiserver
counts as a failed reload.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import AuthprobeError

AUTHENTICATION_CONTROLLER = "authentication_config_controller"
AUTHORIZATION_CONTROLLER = "authorization_config_controller"
CONTROLLERS = (AUTHENTICATION_CONTROLLER, AUTHORIZATION_CONTROLLER)
# A sample line of the Prometheus text format: name, labels, value.
_SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>[^}]*)\})?\s+"
                     r"(?P<value>\S+)")
_LABEL = re.compile(r'(?P<key>[a-zA-Z_][a-zA-Z0-9_]*)="(?P<value>(?:[^"\\]|\\.)*)"')


def file_hash(text: str) -> str:
    """The hash kube-apiserver's last_config_info gives a file: sha256 of its bytes."""
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def replace_file(path: Path, text: str) -> str:
    """Replace ``path`` whole with ``text`` (0600, renamed over it so no reader sees it half
    written); the file's hash (:func:`file_hash`)."""
    if not path.is_file():
        raise AuthprobeError(f"{path} does not exist: only a file the cluster was made with "
                             "can be replaced")
    staged = path.with_name(f".{path.name}.new")
    fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(text)
        os.replace(staged, path)
    finally:
        staged.unlink(missing_ok=True)
    return file_hash(text)


def samples(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    """The samples of the metric ``name`` in Prometheus text: (labels, value) each."""
    found = []
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if match is None or match["name"] != name:
            continue
        labels = {m["key"]: m["value"] for m in _LABEL.finditer(match["labels"] or "")}
        try:
            found.append((labels, float(match["value"])))
        except ValueError:
            raise AuthprobeError(f"metric {name} has a value that is not a number: "
                                 f"{line.strip()[:200]}") from None
    return found


@dataclass(frozen=True)
class ReloadRecord:
    """What kube-apiserver's metrics say of one controller's reloads at one moment."""

    success: int
    failure: int
    config_hash: str | None  # last_config_info's hash label (1.34 on); None where it has none

    def since(self, before: ReloadRecord) -> dict[str, int]:
        """The reloads counted after ``before``, by status."""
        return {"success": self.success - before.success,
                "failure": self.failure - before.failure}


def reload_record(metrics_text: str, controller: str = AUTHENTICATION_CONTROLLER
                  ) -> ReloadRecord:
    """The reload counts (summed over the apiserver identities; one in a kind cluster) and
    the hash of the configuration in force, from kube-apiserver's /metrics text."""
    if controller not in CONTROLLERS:
        raise AuthprobeError(f"no reload metrics for {controller!r}: name one of "
                             f"{', '.join(CONTROLLERS)}")
    counts = {"success": 0, "failure": 0}
    for labels, value in samples(metrics_text, f"apiserver_{controller}_automatic_reloads_total"):
        status = labels.get("status")
        if status in counts:
            counts[status] += int(value)
    hashes = [labels.get("hash") for labels, _ in
              samples(metrics_text, f"apiserver_{controller}_last_config_info")]
    return ReloadRecord(counts["success"], counts["failure"], hashes[-1] if hashes else None)


def config_in_force(record: ReloadRecord, written: str, previous: str) -> str | None:
    """Which file the hash of the configuration in force names: ``new`` (the one written),
    ``old`` (the one before it), ``other``; None where the minor has no such metric."""
    if record.config_hash is None:
        return None
    if record.config_hash == file_hash(written):
        return "new"
    if record.config_hash == file_hash(previous):
        return "old"
    return "other"


# The messages kube-apiserver logs (klog ErrorS) when it keeps the configuration in force
# instead of a changed file, the same from 1.30 to 1.37: for authentication
# (pkg/kubeapiserver/options/authentication.go) a file it cannot read, decode, validate, or
# whose new authenticators do not become healthy in time; for authorization
# (pkg/kubeapiserver/authorizer/reload.go) any of those.
REFUSALS = ("failed to read authentication config", "failed to load authentication config",
            "failed to validate authentication config", "failed to update authentication config",
            "reloading authorization config")


def refusal_lines(log_lines: list[str]) -> list[str]:
    """The lines of kube-apiserver's log that refuse a reloaded configuration file."""
    return [line.strip() for line in log_lines if any(r in line for r in REFUSALS)]


def refusal_reason(line: str) -> str:
    """What a refusal line says is wrong: its ``err="..."`` value, else the line."""
    match = re.search(r'err="((?:[^"\\]|\\.)*)"', line)
    return match.group(1).replace('\\"', '"') if match else line


class LifeNotYet(AuthprobeError):
    """kube-apiserver's container is not recorded yet: a mirror pod the kubelet has just
    made has no container status, or the runtime runs no container between two lives."""


@dataclass(frozen=True)
class ApiserverLife:
    """kube-apiserver's container as the cluster records it: the mirror pod's restartCount
    and containerID (the kubelet's record) and the container the runtime runs."""

    pod_uid: str
    restart_count: int
    pod_container_id: str  # containerd://<id> as the mirror pod's status gives it
    runtime_container_id: str  # the running container crictl lists
    attempt: int

    def to_dict(self) -> dict:
        return {"pod_uid": self.pod_uid, "restart_count": self.restart_count,
                "pod_container_id": self.pod_container_id,
                "runtime_container_id": self.runtime_container_id, "attempt": self.attempt}


def life_from(mirror_pods: dict, containers: list) -> ApiserverLife:
    """An :class:`ApiserverLife` from ``kubectl get pods -o json`` of the kube-apiserver
    mirror pod and the runtime's kube-apiserver containers (oldest first)."""
    items = mirror_pods.get("items") or []
    if len(items) != 1:
        raise AuthprobeError(f"{len(items)} kube-apiserver mirror pods in kube-system, not one: "
                             "the restart count cannot be read")
    pod = items[0]
    statuses = [s for s in (pod.get("status") or {}).get("containerStatuses") or []
                if s.get("name") == "kube-apiserver"]
    if not statuses:
        raise LifeNotYet("the kube-apiserver mirror pod has no status of its container yet")
    running = [c for c in containers if c.state == "CONTAINER_RUNNING"]
    if not running:
        raise LifeNotYet("the container runtime runs no kube-apiserver container")
    return ApiserverLife(str((pod.get("metadata") or {}).get("uid", "")),
                         int(statuses[0].get("restartCount", 0)),
                         str(statuses[0].get("containerID", "")), running[-1].id,
                         running[-1].attempt)


def same_life(before: ApiserverLife, after: ApiserverLife) -> bool:
    """The same kube-apiserver container ran throughout: same pod, same container, the
    kubelet's restart count unchanged."""
    return (before.pod_uid, before.pod_container_id, before.runtime_container_id,
            before.restart_count) == (after.pod_uid, after.pod_container_id,
                                      after.runtime_container_id, after.restart_count)
