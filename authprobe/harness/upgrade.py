"""The upgrade step: ``kubeadm upgrade`` of a running cluster to the next minor, as kubeadm's
own CI performs it (kinder's kubeadm-upgrade action), with the artifacts the node image
carries (:mod:`authprobe.upgradeimage`).

In the node: the new kubeadm in place of the old one, an ``UpgradeConfiguration`` (the
profile's kubeadm patches directory given again, so patches survive), ``kubeadm upgrade
plan``, ``diff`` and ``apply``, then the new kubelet and kubectl and a kubelet restart. Each
command's whole output goes into the report's logs folder of the upgraded cluster; a
failure is one line carrying kubeadm's own error. What ``diff`` says the upgrade rewrites is
read against the static pod manifests as they were (kept beside its output), normalised and
stored with the cluster's upgrade record before ``apply`` runs, with the removed lines that
drop a hand edit marked (:mod:`authprobe.model.kubeadm_diff`). Right after, ``kubectl logs``
and ``exec`` (the apiserver's connection to the kubelet, whose client certificate kubeadm
renews) and the certificate's subject are recorded for the scenarios.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

import yaml

from ..errors import AuthprobeError, error_line
from ..host.processes import run_tracked
from ..model import kubeadm_diff
from ..model.outcome import ClusterRecord
from ..model.profiles import ProfileAt
from ..model.replacement import Replacement, exited_at
from ..model.restarts import ContainerRun
from ..model.timeouts import calls, waits
from ..model.versions import KubeVersion, version_table
from ..progress import fmt_seconds, say, step
from ..upgradeimage import UPGRADE_DIR
from ..wait import until
from .access import NodeAccess
from .manifest import MANIFEST, apiserver_container, flags_of
from .probes import read_journal
from .readiness import (
    RuntimeContainer,
    apiserver_containers,
    container_run,
    containers_named,
    current_pod,
)
from .render import AUTH_DIR, PATCHES_DIR, dump
from .state import ClusterState as ClusterRun
from .steps import Env, limit, record_cluster, use_probe_spec
from .verify import inspect

UPGRADE_CONFIG = f"{UPGRADE_DIR}/kubeadm-upgrade.yaml"
# The static pod manifests ``kubeadm upgrade diff`` compares with what the new minor renders.
STATIC_PODS = tuple(f"/etc/kubernetes/manifests/{name}.yaml"
                    for name in ("kube-apiserver", "kube-controller-manager", "kube-scheduler"))
KUBELET_CLIENT_CERT = "/etc/kubernetes/pki/apiserver-kubelet-client.crt"
UPGRADE_API = "kubeadm.k8s.io/v1beta4"  # UpgradeConfiguration exists from kubeadm 1.31 on
EXITS_INTERVAL = 0.5  # seconds between readings of the runtime around the kubelet's restart


def upgraded_run(env: Env, run: ClusterRun, version: KubeVersion,
                 profile: ProfileAt) -> ClusterRun:
    """The same cluster moved on to its upgrade to ``version``: the scenarios of the second
    minor run on it, judged by that minor's rows, and the report holds it as a cluster
    record of its own (``name@version``)."""
    before = run.version
    run.upgraded(version, profile)
    env.runlog.add_cluster(ClusterRecord(
        run.label, profile.id, version.minor_str, str(version), run.image.ref,
        run.image_source, env.kind_version, upgraded_from=str(before)))
    return run


def config_text(version: KubeVersion, patches: bool, ignore: tuple[str, ...] = ()) -> str:
    """The UpgradeConfiguration of plan, diff and apply: non-interactive, nothing pulled
    (the node carries the images), the profile's patches given again, and the preflight
    checks the version facts say to skip."""
    apply: dict = {"kubernetesVersion": version.tag, "forceUpgrade": True,
                   "imagePullPolicy": "Never"}
    if patches:
        apply["patches"] = {"directory": PATCHES_DIR}
    if ignore:
        apply["ignorePreflightErrors"] = list(ignore)
    return dump({"apiVersion": UPGRADE_API, "kind": "UpgradeConfiguration", "apply": apply,
                 "plan": {"kubernetesVersion": version.tag},
                 "diff": {"kubernetesVersion": version.tag}})


def skipped_checks(env: Env, version: KubeVersion) -> tuple[str, ...]:
    """Preflight checks of ``upgrade apply`` to skip: on a cgroup v1 host, kubeadm's system
    verification refuses a kubelet that needs failCgroupV1: false (versions.yaml
    kubelet_fail_cgroup_v1) and says to skip it; kind skips it at init (no preflight)."""
    if env.host.cgroup_version == 1 and version_table().facts_for(version).kubelet_fail_cgroup_v1:
        return ("SystemVerification",)
    return ()


def kubeadm_line(log: Path) -> str:
    """kubeadm's own error from its output: its last error line, with the checks it names
    ([ERROR ...]) when a preflight check failed; else its last line."""
    try:
        lines = [line.strip() for line in log.read_text().splitlines() if line.strip()]
    except OSError:
        return "no output"
    lines = [line for line in lines if not line.startswith("To see the stack trace")]
    checks = [line for line in lines if line.startswith("[ERROR")]
    last = next((line for line in reversed(lines)
                 if line.lower().startswith(("error", "fatal"))), None)
    if last is None:
        return (checks[-1] if checks else lines[-1] if lines else "no output")[:400]
    return "; ".join([last, *checks])[:400]


def settle(env: Env, run: ClusterRun) -> str:
    """Wait until kube-controller-manager and kube-scheduler lead (their leases renewed
    within the lease duration): an upgrade's health check runs a Job, which needs both, and
    an apiserver restart (a probe change by hand) makes them lose and retake their leases."""
    node = run.handle.node
    state = {"last": "no answer yet"}

    def leading() -> bool:
        result = node.kubectl("-n", "kube-system", "get", "lease", "kube-controller-manager",
                              "kube-scheduler", "-o", "json", check=False,
                              timeout=calls().node_read)
        if result.returncode:
            state["last"] = (result.stderr or result.stdout).strip()[-150:]
            return False
        now = time.time()
        stale = []
        for item in json.loads(result.stdout).get("items", []):
            spec = item.get("spec") or {}
            renewed = spec.get("renewTime")
            age = now - _rfc3339(renewed) if renewed else None
            if age is None or age > float(spec.get("leaseDurationSeconds") or 15):
                stale.append(f"{item['metadata']['name']} renewed "
                             + (f"{age:.0f}s ago" if age is not None else "never"))
        state["last"] = ", ".join(stale) or "kube-controller-manager and kube-scheduler lead"
        return not stale

    until(leading, timeout=limit(run, "ready"), interval=2.0, state=lambda: state["last"],
          what=f"kube-controller-manager and kube-scheduler of {run.name} to lead")
    return state["last"]


def _rfc3339(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _kubeadm(run: ClusterRun, folder: Path, command: str, timeout: float) -> Path:
    """``kubeadm upgrade <command>`` in the node, its output into ``folder``; one line with
    kubeadm's error when it fails."""
    log = folder / f"kubeadm-upgrade-{command}.log"
    log.write_text(f"$ kubeadm upgrade {command} --config {UPGRADE_CONFIG}\n")
    with step(f"{run.name}: kubeadm upgrade {command} to {run.version}",
              expect=180 if command == "apply" else 10):  # measured: apply 2m50s-3m20s
        result = run_tracked(["docker", "exec", run.provider.node_container, "kubeadm",
                              "upgrade", command, "--config", UPGRADE_CONFIG],
                             log=log, timeout=timeout, interruptible=True)
    if result.returncode:
        ended = "timed out" if result.returncode == -9 else f"exited {result.returncode}"
        raise AuthprobeError(f"kubeadm upgrade {command} to {run.version} {ended}: "
                             f"{kubeadm_line(log)}", log_path=str(log))
    return log


def cert_subject(run: ClusterRun, path: str) -> str:
    """The subject of a certificate in the node, read with the host's openssl."""
    pem = run.handle.node.exec("cat", path).stdout
    openssl = shutil.which("openssl")
    if openssl is None:
        return "unknown (no openssl on this machine)"
    result = subprocess.run([openssl, "x509", "-noout", "-subject", "-nameopt", "RFC2253"],
                            input=pem, capture_output=True, text=True,
                            timeout=calls().tool_version)
    return result.stdout.strip().removeprefix("subject=") or result.stderr.strip()


# What kubectl says when kube-apiserver does not answer (as between the restarts of an
# apiserver whose probes fail), rather than an answer of its own.
NO_ANSWER = ("The connection to the server", "connection refused", "i/o timeout", "EOF",
             "TLS handshake timeout", "unable to return a response")


def through_apiserver(node: NodeAccess, *argv: str):
    """``kubectl argv`` in the node, again while kube-apiserver does not answer."""
    last: dict = {}

    def answered() -> bool:
        last["result"] = result = node.kubectl(*argv, check=False, timeout=calls().node_exec)
        return result.returncode == 0 or not any(
            says in result.stderr + result.stdout for says in NO_ANSWER)

    until(answered, timeout=waits().apiserver_command, interval=2.0, give_last=True, quiet=True,
          what=f"an answer from kube-apiserver to kubectl {' '.join(argv[:3])}")
    return last["result"]


def kubelet_reached(node: NodeAccess) -> dict:
    """``kubectl logs`` and ``kubectl exec`` as cluster-admin in the node, through the
    apiserver to the kubelet: what each printed, and whether it worked (asked again while
    the apiserver itself does not answer)."""
    logs = through_apiserver(node, "-n", "kube-system", "logs", "--tail=1",
                             f"kube-apiserver-{node.container}")
    execd = through_apiserver(node, "-n", "kube-system", "exec", "ds/kube-proxy", "--",
                              "kube-proxy", "--version")

    def said(result) -> str:
        text = (result.stdout if result.returncode == 0 else result.stderr or result.stdout)
        lines = [line for line in text.strip().splitlines() if line.strip()]
        return lines[-1][:300] if lines else ""

    return {"logs_ok": logs.returncode == 0, "logs": said(logs),
            "exec_ok": execd.returncode == 0, "exec": said(execd)}


class _Exits:
    """The kube-apiserver containers that end around the kubelet's restart, each read from
    the runtime as soon as it is seen exited: the one that ran before the restart, and every
    one created after; and etcd's containers created after it, which the same restart
    replaces. The kubelet stops the old ones with a 2 s grace period and soon removes the
    containers of a pod it no longer runs, so a thread reads the runtime every
    ``EXITS_INTERVAL`` seconds from just before the restart until the swap has settled."""

    def __init__(self, node: NodeAccess, before: RuntimeContainer, restarted_at: float):
        self.node, self.before, self.restarted_at = node, before, restarted_at
        self.ended: dict[str, tuple[str, ContainerRun]] = {}  # id -> (pod uid, record)
        self.etcd_ended: dict[str, tuple[str, ContainerRun]] = {}  # the same, of etcd
        self.etcd: list[RuntimeContainer] = []  # etcd's containers at the latest reading
        self.errors: dict[str, int] = {}  # a failed reading's error -> how often
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True,
                                        name=f"exits-{node.container}")

    def __enter__(self) -> _Exits:
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._stop.set()
        self._thread.join(timeout=waits().thread_stop)

    def _watch(self) -> None:
        while not self._stop.is_set():
            try:
                self.read()
            except Exception as err:  # any failed reading: read again at the next tick
                text = error_line(err, 200)
                with self._lock:
                    self.errors[text] = self.errors.get(text, 0) + 1
            self._stop.wait(EXITS_INTERVAL)

    def read(self) -> list[RuntimeContainer]:
        containers = apiserver_containers(self.node)
        self._note_exits(containers, self.ended,
                         lambda c: c.id == self.before.id or self._since_restart(c))
        etcd = containers_named(self.node, "etcd")
        self._note_exits(etcd, self.etcd_ended, self._since_restart)
        with self._lock:
            self.etcd = etcd
        return containers

    def _since_restart(self, container: RuntimeContainer) -> bool:
        return container.created_ns / 1e9 >= self.restarted_at

    def _note_exits(self, containers: list[RuntimeContainer],
                    ended: dict[str, tuple[str, ContainerRun]],
                    ours: Callable[[RuntimeContainer], bool]) -> None:
        """Read the runtime's record of each of ``ours`` seen exited for the first time."""
        for c in containers:
            with self._lock:
                new = ours(c) and c.state == "CONTAINER_EXITED" and c.id not in ended
            if new:
                record = container_run(self.node, c, self.restarted_at)
                with self._lock:
                    ended.setdefault(c.id, (c.pod_uid, record))

    def replacement(self, settled: RuntimeContainer) -> Replacement:
        with self._lock:
            ended = dict(self.ended)
            errors = tuple(f"{text} ({n}x)" for text, n in self.errors.items())
            etcd_exits = tuple(sorted((run for _, run in self.etcd_ended.values()),
                                      key=lambda run: (run.started or 0.0, run.attempt)))
            running = _running(self.etcd)
        etcd_back = (round(running[-1].created_ns / 1e9 - self.restarted_at, 1)
                     if running and self._since_restart(running[-1]) else None)
        old = ended.get(self.before.id)
        exits = sorted((run for cid, (uid, run) in ended.items()
                        if cid != self.before.id and uid == settled.pod_uid),
                       key=lambda run: run.attempt)
        old_end, source = (old[1].finished if old else None), "the runtime"
        if old_end is None:
            exit_event = exited_at(read_journal(self.node, self.restarted_at, "containerd"),
                                   self.before.id)
            if exit_event is not None:
                old_end, source = round(exit_event - self.restarted_at, 1), "containerd's journal"
        return Replacement(self.before.pod_uid, settled.pod_uid, old_end, tuple(exits),
                           settled.attempt, errors, source, etcd_exits, etcd_back)


def _running(containers: list[RuntimeContainer]) -> list[RuntimeContainer]:
    return [c for c in containers if c.state == "CONTAINER_RUNNING"]


def _swap_kubelet(run: ClusterRun, binaries: str) -> Replacement:
    """The new kubelet and kubectl, the kubelet restarted; then wait until the node reports
    the new kubelet Ready and kube-proxy's DaemonSet (which kubeadm updated) has rolled out,
    and until one kube-apiserver runs, the one of the pod the new kubelet reports. Read
    again while kube-apiserver does not answer. What the restart did to kube-apiserver is
    returned (:mod:`authprobe.model.replacement`)."""
    node = run.handle.node
    pod = current_pod(apiserver_containers(node))
    if not pod:
        raise AuthprobeError(f"{run.name}: the runtime knows no kube-apiserver container before "
                             "the kubelet's restart")
    # The one that runs (or, between a probe's kills, the last one to run).
    before = (_running(pod) or pod)[-1]
    node.exec("ln", "-sf", f"{binaries}/kubectl", "/usr/bin/kubectl")
    node.exec("ln", "-sf", f"{binaries}/kubelet", "/usr/bin/kubelet")
    with _Exits(node, before, float(node.exec("date", "+%s.%N").stdout.strip())) as exits:
        node.exec("systemctl", "restart", "kubelet", timeout=calls().node_slow)
        node.exec("sh", "-c", f"echo {run.version.tag} > /kind/version")
        _wait_upgraded(run)
        settled = _wait_one_apiserver(run, exits)
    return exits.replacement(settled)


def _reader(node: NodeAccess, seen: dict[str, str]):
    """``reads(key, *argv)``: kubectl's answer in the node, kept in ``seen[key]`` (its error
    when it fails) and returned ("" when it fails)."""

    def reads(key: str, *argv: str) -> str:
        result = node.kubectl(*argv, check=False, timeout=calls().node_read)
        seen[key] = (result.stdout.strip() if result.returncode == 0
                     else (result.stderr or result.stdout).strip()[-120:])
        return seen[key] if result.returncode == 0 else ""

    return reads


def _wait_upgraded(run: ClusterRun) -> None:
    seen = {"node": "no answer yet", "kube-proxy": "no answer yet"}
    reads = _reader(run.handle.node, seen)

    def upgraded() -> bool:
        kubelet = reads("node", "get", "node", run.provider.node_container, "-o",
                        "jsonpath={.status.nodeInfo.kubeletVersion} {.status.conditions"
                        "[?(@.type=='Ready')].status}")
        if kubelet != f"{run.version.tag} True":
            return False
        rollout = reads("kube-proxy", "-n", "kube-system", "get", "ds", "kube-proxy", "-o",
                        "jsonpath={.metadata.generation} {.status.observedGeneration} "
                        "{.status.desiredNumberScheduled} {.status.updatedNumberScheduled} "
                        "{.status.numberAvailable}").split()
        return (len(rollout) == 5 and rollout[0] == rollout[1]
                and rollout[2] == rollout[3] == rollout[4])

    until(upgraded, timeout=limit(run, "upgrade_kubelet"), interval=2.0,
          retry_on=(AuthprobeError,),
          what=f"the kubelet of {run.name} at {run.version.tag} and Ready, kube-proxy rolled out",
          state=lambda: f"node: {seen['node']}; kube-proxy generation, observed, desired, "
                        f"updated, available: {seen['kube-proxy']}")


def _wait_one_apiserver(run: ClusterRun, exits: _Exits) -> RuntimeContainer:
    """The one kube-apiserver container that runs, of the pod the mirror pod names (its
    ``kubernetes.io/config.hash``) and reports; the new kubelet has reported the node by
    then, so it has read its static pods."""
    seen = {"apiserver": "not read"}
    reads = _reader(run.handle.node, seen)
    settled: dict = {}

    def one_apiserver() -> bool:
        running = _running(exits.read())
        mirror = reads("apiserver", "-n", "kube-system", "get", "pod",
                       f"kube-apiserver-{run.provider.node_container}", "-o",
                       "jsonpath={.metadata.annotations.kubernetes\\.io/config\\.hash} "
                       "{.status.containerStatuses[?(@.name=='kube-apiserver')].containerID}")
        seen["apiserver"] = (f"the mirror pod says {mirror or '(no answer)'}; running: "
                             + (", ".join(f"pod {c.pod_uid} attempt {c.attempt} {c.id[:13]}"
                                          for c in running) or "none"))
        wanted = mirror.split()
        if len(running) != 1 or len(wanted) != 2:
            return False
        settled["container"] = running[0]
        return running[0].pod_uid == wanted[0] and wanted[1].endswith(running[0].id)

    until(one_apiserver, timeout=limit(run, "ready"), interval=1.0, retry_on=(AuthprobeError,),
          what=f"one kube-apiserver in {run.name}, of the pod the new kubelet runs",
          state=lambda: seen["apiserver"])
    return settled["container"]


def upgrade(env: Env, run: ClusterRun) -> str:
    """Upgrade the cluster in place to ``run.version`` (from ``run.upgraded_from``)."""
    node, version = run.handle.node, run.version
    started = time.time()
    binaries = f"{UPGRADE_DIR}/{version.tag}"
    carried = node.exec("cat", f"{UPGRADE_DIR}/version", check=False).stdout.strip()
    if carried != version.tag:
        raise AuthprobeError(f"node image {run.image.ref} carries no upgrade to {version.tag} "
                             f"({UPGRADE_DIR}/version: {carried or 'missing'})")
    folder = env.logs_root() / run.label
    folder.mkdir(parents=True, exist_ok=True)
    subject_before = cert_subject(run, KUBELET_CLIENT_CERT)
    files_before = auth_digests(node)
    say(f"upgrading cluster {run.name} ({run.profile.id}) from Kubernetes {run.upgraded_from} "
        f"to {version} ...")
    node.exec("ln", "-sf", f"{binaries}/kubeadm", "/usr/bin/kubeadm")
    config = config_text(version, bool(run.rendered.patch_files), skipped_checks(env, version))
    node.exec("sh", "-c", f"cat > {UPGRADE_CONFIG}", input=config)
    (folder / "kubeadm-upgrade.yaml").write_text(config)
    _kubeadm(run, folder, "plan", limit(run, "upgrade_plan"))
    rewrites = upgrade_diff(env, run, folder)
    applied = _kubeadm(run, folder, "apply", limit(run, "upgrade_apply"))
    replacement = _swap_kubelet(run, binaries)
    run.window_from = replacement_start(run, replacement)
    reached = kubelet_reached(node)
    run.found.upgrade = {
        "from": str(run.upgraded_from), "to": str(version),
        "seconds": round(time.time() - started, 1),
        "kubeadm": _success_line(applied),
        "kubelet_client_subject": {"before": subject_before,
                                   "after": cert_subject(run, KUBELET_CLIENT_CERT)},
        "right_after": reached,
        "kubelet_restart": replacement.to_dict(),
        "auth_files": auth_files_across(files_before, auth_digests(node),
                                        run.rendered.auth_files),
        "kubeadm_diff": rewrites,
    }
    took = fmt_seconds(run.handle.upgrade["seconds"])
    say(f"{run.name}: upgraded to {version} in {took}")
    return (f"upgraded from {run.upgraded_from} to {version} in {took}: "
            f"{run.handle.upgrade['kubeadm']}; {_diff_line(rewrites)}; "
            f"{_restart_line(replacement)}; kubectl logs "
            f"{'works' if reached['logs_ok'] else 'fails: ' + reached['logs']}, exec "
            f"{'works' if reached['exec_ok'] else 'fails: ' + reached['exec']}")


def upgrade_diff(env: Env, run: ClusterRun, folder: Path) -> dict:
    """``kubeadm upgrade diff`` to the new minor, read against the static pod manifests as
    they are (each kept in ``folder`` as ``before-upgrade-<file>``) and normalised; stored
    with the cluster's upgrade record at once, so that an ``apply`` that fails keeps it."""
    manifests = {}
    for path in STATIC_PODS:
        found = run.handle.node.exec("cat", path, check=False)
        if found.returncode == 0:
            manifests[path] = found.stdout
            (folder / f"before-upgrade-{PurePosixPath(path).name}").write_text(found.stdout)
    log = _kubeadm(run, folder, "diff", limit(run, "upgrade_plan"))
    output = "\n".join(line for line in log.read_text().splitlines()
                       if not line.startswith("$ kubeadm"))
    names, ports = normalised_names(run, manifests.get(MANIFEST, ""))
    rendered = run.rendered
    by_hand = kubeadm_diff.edits(rendered.manifest_args, rendered.manifest_probes)
    by_patch = kubeadm_diff.edits({}, rendered.expected.get("probes", {})
                                  if rendered.patch_files else {})
    found = kubeadm_diff.record(output, manifests, by_hand, names, ports, by_patch)
    record_cluster(env, run, kubeadm_diff=found)
    return found


def normalised_names(run: ClusterRun, apiserver_manifest: str) -> tuple[dict[str, str],
                                                                        list[int]]:
    """What differs from cluster to cluster in a manifest, with its placeholder: the node's
    and the cluster's names, the node's address (kube-apiserver's --advertise-address), the
    address of the harness's servers; and the ports the harness chose for them."""
    names = {run.provider.node_container: "<node>", run.name: "<cluster>"}
    try:
        manifest = yaml.safe_load(apiserver_manifest) or {}
        address = flags_of(apiserver_container(manifest)).get("advertise-address")
    except (yaml.YAMLError, AuthprobeError, AttributeError):
        address = None
    if address:
        names[address] = "<node-ip>"
    ports = []
    servers = run.servers
    if servers is not None:
        urls = [servers.issuer.issuer_url if servers.issuer else "",
                servers.authorizer.review_url if servers.authorizer else ""]
        for url in filter(None, urls):
            parts = urlsplit(url)
            if parts.hostname:
                names[parts.hostname] = "<servers-ip>"
            if parts.port:
                ports.append(parts.port)
    return names, ports


def auth_digests(node: NodeAccess) -> dict[str, str]:
    """The SHA-256 of each file in the node's auth folder (the files kube-apiserver's flags
    name: token file, audit policy, authentication and authorization configuration, webhook
    kubeconfig, CA)."""
    listed = node.exec("sh", "-c", f"cd {AUTH_DIR} && sha256sum -- *", check=False)
    digests = {}
    for line in listed.stdout.splitlines():
        digest, _, name = line.partition("  ")
        if name:
            digests[name.strip()] = digest
    return digests


def auth_files_across(before: dict[str, str], after: dict[str, str],
                      rendered: dict[str, str]) -> list[dict]:
    """What the upgrade did to each auth file, one record a file (its name a value, not a key:
    a report scrubs the values under keys such as ``tokens.csv``): its digest before and
    after (None: absent) and the apiVersion it was written with, kept as written whatever the
    new minor writes."""
    out = []
    for name in sorted(set(before) | set(after)):
        text = rendered.get(name, "")
        found = re.search(r"^apiVersion:\s*(\S+)", text, re.MULTILINE)
        out.append({"file": name, "before": before.get(name), "after": after.get(name),
                    "kept": name in before and before.get(name) == after.get(name),
                    "api_version": found.group(1) if found else None})
    return out


def replacement_start(run: ClusterRun, replacement: Replacement) -> tuple[str, int, float]:
    """Where the upgraded cluster's restart window starts: the kube-apiserver container that
    runs once the kubelet's restart settled (its pod UID, attempt and creation time)."""
    for c in apiserver_containers(run.handle.node):
        if c.pod_uid == replacement.after and c.attempt == replacement.settled_attempt:
            return c.pod_uid, c.attempt, c.created_ns / 1e9
    raise AuthprobeError(f"{run.name}: the runtime no longer knows the kube-apiserver container "
                         f"of pod {replacement.after} attempt {replacement.settled_attempt}")


def _diff_line(rewrites: dict) -> str:
    return f"kubeadm upgrade diff: {kubeadm_diff.summary(rewrites)}"


def _restart_line(replacement: Replacement) -> str:
    if not replacement.replaced:
        return "the kubelet's restart kept kube-apiserver's pod"
    said = []
    for count, why in ((replacement.overlap_exits(), "before the old one was stopped"),
                       (replacement.etcd_swap_exits(), "without etcd, while etcd's pod was "
                                                       "replaced"),
                       (len(replacement.unexplained()), "for another reason")):
        if count:
            said.append(f"{count} time{'s' if count > 1 else ''} {why}")
    return ("the kubelet's restart replaced kube-apiserver's pod"
            + (f" (the new one exited {', '.join(said)})" if said else ""))


def _success_line(log: Path) -> str:
    for line in reversed(log.read_text().splitlines()):
        if "[upgrade/successful]" in line or "SUCCESS!" in line:
            return line.strip()
    return kubeadm_line(log)


def verify_after(env: Env, run: ClusterRun) -> str:
    """The harness's verification again, on the upgraded cluster: what of the profile
    survived is recorded (the scenarios judge it), the probes are read for the new window."""
    found, spec = inspect(run.handle.node, run.name, run.rendered.expected, env.other_flags,
                          AUTH_DIR)
    run.found.profile_differences = found
    use_probe_spec(env, run, spec)
    if not found:
        return "every flag and probe change of the profile survived the upgrade"
    return "after the upgrade: " + "; ".join(found)
