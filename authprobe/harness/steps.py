"""The step functions of a cluster's lifecycle, each with one job and one signature,
``fn(env, run)``: ``env`` what the run's clusters share (:class:`Env`), ``run`` one cluster as
the steps move it along (:class:`ClusterRun`). Which step runs when, and what collects
evidence when one fails, is the list in :mod:`.lifecycle`; how a step runs and is recorded is
:mod:`.phases`. The pool (:mod:`.pool`) only decides when each stage runs.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import AuthprobeError
from ..model import timeouts
from ..model.outcome import PHASE_EXPECTED_FAILURE, ClusterRecord, RunLog
from ..model.profiles import ProfileAt
from ..model.versions import KubeVersion, version_table
from ..progress import fmt_seconds, say
from ..wait import until
from . import dashboard, naming, probes
from .access import HttpClient, NodeAccess, cluster_admin, endpoint_from_kubeconfig
from .audit import AuditLog
from .handle import ClusterHandle
from .images import ImageFacts
from .manifest import read_manifest, take_out_manifest, with_probes, write_manifest
from .phases import Done, skipped
from .provider import KindProvider, Provider
from .readiness import (
    StartFailure,
    apiserver_containers,
    current_pod,
    start_failure,
    wait_ready,
)
from .readiness import exits as apiserver_exits
from .render import (
    ADMIN_USER,
    AUTH_DIR,
    TOKEN_FILE,
    TOKEN_USERS,
    HostFacts,
    Rendered,
    token_file_text,
    users_of_token_file,
)
from .sampler import RestartSampler
from .verify import verify as verify_manifest

# kube-apiserver exits this many times during `kind create` before a profile whose control
# plane must not come up is taken as failed (kubeadm would wait its full 4 minutes).
EARLY_EXITS = 3


@dataclass
class Env:
    """What every step of a run shares."""

    runlog: RunLog
    kind_path: Path
    kind_version: str
    host: HostFacts
    logs_root: Callable[[], Path]  # the run's logs folder (created on first use)
    register_secret: Callable[[str], None]
    other_flags: dict[str, set[str]]  # flag -> the values known profiles give it
    keep: bool = False
    observe_window: float | None = None  # fixed window instead of the probes' own
    default_window: float = field(default_factory=lambda: timeouts.waits().restart_window)
    dashboard_pull: bool = False  # the published Dashboard image can be pulled
    audit: bool = True  # kube-apiserver writes an audit log (off only to measure its cost)
    reuse: bool = False  # clusters are kept and reused by the next run of the checkout
    aborting: Callable[[], bool] = lambda: False  # the run is being interrupted


@dataclass
class ClusterRun:
    """One cluster's state as the steps move it along."""

    name: str
    profile: ProfileAt
    version: KubeVersion
    image: ImageFacts
    image_source: str
    rendered: Rendered
    provider: Provider
    expected_down: bool
    lease: naming.Lease | None = None
    reused: bool = False
    created: bool = False  # this run made it (and so may delete it)
    handle: ClusterHandle | None = None
    error: str | None = None  # the cluster broke in a way no scenario expects
    failure: str | None = None  # the line of the last step that failed (for its evidence)
    # The control plane did not come up on a node that runs the profile as rendered: the
    # scenario that checks whether it comes up judges that (a fail where it must come up).
    judge_down: bool = False
    logs_dir: Path | None = None
    token: str | None = field(default=None, repr=False)  # admin's
    tokens: dict[str, str] = field(default_factory=dict, repr=False)  # every token user's
    upgraded_from: KubeVersion | None = None  # the version this cluster was upgraded from
    since: float | None = None  # epoch seconds this record starts at (an upgrade's start)
    # The kube-apiserver container the restart window starts with (pod UID, attempt, epoch
    # seconds of its creation): after an upgrade, the one that runs once the kubelet's
    # restart settled; None: the pod's first container.
    window_from: tuple[str, int, float] | None = None
    export: bool = False  # export the node's logs when the scenarios are done with it

    @property
    def label(self) -> str:
        """The cluster's name in the report: its kind name, and after an upgrade the version
        it was upgraded to (the same cluster before and after are two records)."""
        return f"{self.name}@{self.version}" if self.upgraded_from else self.name

    @property
    def directory(self) -> Path:
        return self.provider.directory

    @property
    def node(self) -> NodeAccess:
        return self.handle.node


def new_run(env: Env, name: str, profile: ProfileAt, version: KubeVersion, image: ImageFacts,
            image_source: str, rendered: Rendered, expected_down: bool,
            lease: naming.Lease | None) -> ClusterRun:
    directory = naming.private_dir(name)
    provider = KindProvider(name, env.kind_path, image.ref, directory)
    run = ClusterRun(name=name, profile=profile, version=version, image=image,
                     image_source=image_source, rendered=rendered, provider=provider,
                     expected_down=expected_down, lease=lease)
    run.handle = ClusterHandle(name=name, profile=profile, version=version, image=image.ref,
                               image_source=image_source, kind_version=env.kind_version,
                               node=NodeAccess(provider.node_container))
    env.runlog.add_cluster(ClusterRecord(name, profile.id, version.minor_str, str(version),
                                         image.ref, image_source, env.kind_version))
    return run


def limit(run: ClusterRun, name: str) -> float:
    """The timeout named ``name`` at the cluster's version (:mod:`authprobe.model.timeouts`:
    a step's own, or a shipped one)."""
    return timeouts.limit(name, run.version)


def record_cluster(env: Env, run: ClusterRun, **fields) -> None:
    info = env.runlog.clusters.get(run.label)
    if info is not None:
        for key, value in fields.items():
            setattr(info, key, value)


def write_files(run: ClusterRun) -> Path:
    """The token file, auth files and kubeadm patches, private to the cluster (0600)."""
    auth = run.directory / "auth"
    auth.mkdir(mode=0o700, exist_ok=True)
    run.tokens = {user: secrets.token_urlsafe(32) for user in TOKEN_USERS}
    run.token = run.tokens[ADMIN_USER]
    naming.write_private(auth / TOKEN_FILE, "".join(
        token_file_text(token, user) for user, token in run.tokens.items()))
    for name, text in run.rendered.auth_files.items():
        naming.write_private(auth / name, text)
    patches = run.directory / "patches"
    if run.rendered.patch_files:
        patches.mkdir(mode=0o700, exist_ok=True)
        for old in patches.iterdir():
            old.unlink()
        for name, text in run.rendered.patch_files.items():
            naming.write_private(patches / name, text)
    config = run.directory / "kind-config.yaml"
    naming.write_private(config, run.rendered.kind_config)
    return config


def create(env: Env, run: ClusterRun) -> str:
    """``kind create cluster``. For a profile whose control plane must not come up,
    creation stops as soon as kube-apiserver has exited EARLY_EXITS times."""
    config = write_files(run)
    for token in run.tokens.values():
        env.register_secret(token)
    run.created = True
    label = f"creating cluster {run.name} ({run.profile.id}, Kubernetes {run.version})"
    say(f"{label} (usually under a minute) ...")
    start = time.monotonic()
    exits = {"n": 0}

    def stop_early() -> bool:
        if env.aborting():
            return True
        if not run.expected_down:
            return False
        try:
            exits["n"] = apiserver_exits(apiserver_containers(run.handle.node,
                                                          timeout=timeouts.calls().node_poll))
        except AuthprobeError:
            return False
        return exits["n"] >= EARLY_EXITS

    result = run.provider.create(config, should_stop=stop_early, timeout=limit(run, "create"))
    took = fmt_seconds(time.monotonic() - start)
    if env.aborting():
        raise AuthprobeError("run interrupted")
    if not result.ok:
        say(f"{label}: failed after {took}"
            + (" (expected for this profile)" if run.expected_down else ""))
        raise AuthprobeError(
            f"kube-apiserver exited {exits['n']} times while `kind create cluster` waited for "
            "the control plane" if result.stopped
            else f"`kind create cluster` failed: {result.last_error()}")
    say(f"{label}: done in {took}")
    return ""


def start_failure_evidence(env: Env, run: ClusterRun) -> Done | None:
    """Evidence of a control plane that is not up: the apiserver's exit and log tail, a
    restart sample from the runtime, the manifest check, and the exported logs. A profile
    whose control plane must not come up failed as predicted (when its manifest is the
    profile's)."""
    handle, reason = run.handle, run.failure or "the control plane did not come up"
    if run.provider.exists():
        handle.start_failure = start_failure(handle.node, reason)
        sampler = RestartSampler(run.name, handle.node, None, 0.0,
                                 on_sample=lambda s: env.runlog.set_series(run.label, s))
        try:
            sampler.sample_once()
        except AuthprobeError:
            pass
        handle.restarts = sampler
        try:
            verify(env, run)
            run.judge_down = True
        except AuthprobeError:
            run.expected_down = False  # not the profile's failure: an error, not a pass
    else:
        handle.start_failure = StartFailure(reason=f"{reason}; no node container exists")
    handle.up = False
    export_logs(env, run)
    record_cluster(env, run, came_up=False, start_failure=str(handle.start_failure),
                   logs_dir=str(run.logs_dir) if run.logs_dir else None)
    if run.expected_down:
        return Done(str(handle.start_failure), PHASE_EXPECTED_FAILURE)
    logs = f" (logs: {run.logs_dir})" if run.logs_dir else ""
    run.error = run.error or (f"cluster {run.name} ({run.profile.id}, Kubernetes "
                              f"{run.version}) did not come up: {handle.start_failure}{logs}")
    return None


def patch_probes(env: Env, run: ClusterRun) -> str:
    """Where kubeadm cannot patch its static pods, or the profile changes its probes by hand,
    change the probes in the node's manifest after kubeadm init and wait until the kubelet
    runs kube-apiserver with them.

    The change is made as a swap: the manifest is taken out of the static pod folder, the
    old kube-apiserver is waited out, then the changed manifest goes in. Written in place,
    a kubelet before 1.22.5 may start the new pod while the old one still holds its ports
    (kubernetes/kubernetes#97722, fixed by #104743): the new kube-apiserver exits 1 on
    `bind: address already in use` and counts a restart the profile itself never causes."""
    changes = run.rendered.manifest_probes
    node = run.handle.node
    manifest = with_probes(read_manifest(node, run.name), changes)
    old = {c.pod_uid for c in apiserver_containers(node)}
    take_out_manifest(node)
    started = time.monotonic()

    def old_gone() -> bool:
        return not any(c.state == "CONTAINER_RUNNING" and c.pod_uid in old
                       for c in apiserver_containers(node))

    until(old_gone, timeout=limit(run, "probe_patch"), interval=1.0, retry_on=(AuthprobeError,),
          what=f"the kubelet to stop kube-apiserver of {run.name} before its probes change")
    stopped = time.monotonic() - started
    since = int(node.exec("date", "+%s").stdout.strip())
    write_manifest(node, manifest)

    def restarted() -> bool:
        return any(c.state == "CONTAINER_RUNNING" and c.created_ns / 1e9 >= since
                   for c in apiserver_containers(node))

    until(restarted, timeout=limit(run, "probe_patch"), interval=1.0, retry_on=(AuthprobeError,),
          what=f"the kubelet to restart kube-apiserver of {run.name} with the new probes")
    exited = [c for c in current_pod(apiserver_containers(node))
              if c.state == "CONTAINER_EXITED"]
    return ("probes changed in the static pod manifest: " + ", ".join(sorted(changes))
            + f" (the old kube-apiserver stopped {stopped:.0f}s after the manifest was taken "
            f"out; the new one running" + (f" after {len(exited)} exits" if exited else "")
            + ")")


def verify(env: Env, run: ClusterRun) -> str:
    """Compare the node's kube-apiserver manifest with the profile; read its probe spec."""
    spec = verify_manifest(run.handle.node, run.name, run.profile.id, run.rendered.expected,
                           env.other_flags, AUTH_DIR)
    return use_probe_spec(env, run, spec)


def use_probe_spec(env: Env, run: ClusterRun, spec: dict) -> str:
    """The running apiserver's probes: its probe budget and restart window."""
    handle = run.handle
    handle.probe_spec = spec
    handle.probe_budget = probes.budget(spec)
    handle.window = (env.observe_window if env.observe_window is not None
                     else probes.window(spec, env.default_window,
                                        version_table().facts_for(run.version)
                                        .startup_kill_delay))
    record_cluster(env, run, probe_budget=handle.probe_budget, window=handle.window,
                   probes=spec)
    checked = ("apiserver flags and probes and the kubelet's configuration match the profile"
               if run.rendered.expected.get("kubelet") else
               "apiserver flags and probes match the profile")
    return (f"{checked}; probe budget {handle.probe_budget:.0f}s, window {handle.window:.0f}s"
            if handle.probe_budget is not None else checked)


def connect(env: Env, run: ClusterRun) -> str:
    """Clients for the scenarios: anonymous, admin (token), cluster-admin, the audit log."""
    handle = run.handle
    if run.reused:
        run.provider.write_kubeconfig()
        run.tokens = users_of_token_file((run.directory / "auth" / TOKEN_FILE).read_text())
        run.token = run.tokens.get(ADMIN_USER)
        for token in run.tokens.values():
            env.register_secret(token)
    endpoint = endpoint_from_kubeconfig(run.provider.kubeconfig, run.directory / "ca.crt")
    handle.server, handle.ca_path = endpoint.server, endpoint.ca_path
    handle.anonymous = HttpClient(endpoint)
    handle.admin = HttpClient(endpoint, token=run.token, user="admin")
    handle.tokens = dict(run.tokens)
    handle.api = cluster_admin(run.provider.kubeconfig)
    handle.audit = AuditLog(handle.node, since=run.since) if env.audit else None
    return ""


def ready(env: Env, run: ClusterRun) -> str:
    """Wait until the cluster serves the scenarios; start the restart sampler."""
    handle = run.handle
    wait_ready(handle.admin, handle.api, run.version, timeout=limit(run, "ready"),
               what=f"cluster {run.name} to be ready")
    handle.up = True
    handle.restarts = RestartSampler(
        run.name, handle.node, cluster_admin(run.provider.kubeconfig, retries=False),
        handle.window or env.default_window,
        on_sample=lambda series: env.runlog.set_series(run.label, series),
        since=run.since, start_with=run.window_from).start()
    record_cluster(env, run, came_up=True)
    return (f"/readyz 200 for admin, ServiceAccount default exists, version "
            f"{run.version.tag}")


def deploy_dashboard(env: Env, run: ClusterRun) -> str | Done:
    """Apply the Dashboard with the image the node preloads (or the published one)."""
    handle = run.handle
    image = dashboard.image_for(run.image.dashboard_image,
                                env.dashboard_pull or run.image_source == "published")
    if image is None:
        handle.dashboard_missing = no_dashboard(run.image.ref)
        return skipped(handle.dashboard_missing)
    dashboard.deploy(handle.node, image)
    handle.dashboard_image = image
    return f"Dashboard manifest applied with image {image}"


def no_dashboard(image: str) -> str:
    return (f"node image {image} has no Dashboard: the Go module proxy serves no Dashboard "
            "module, so an offline build has one only from a local source "
            "(AUTHPROBE_DASHBOARD_SOURCE=<Dashboard v2.7.0 checkout>), and no registry answers "
            "for the published image")


def collect_evidence(env: Env, run: ClusterRun) -> str:
    """Before the cluster goes (or is upgraded): the kubelet's probe failures and the
    audited probe requests (for the report), the apiserver's audit log into the report
    folder, and ``kind export logs`` when a scenario of the cluster failed."""
    handle = run.handle
    found = []
    if handle.restarts is not None and handle.restarts.t0 is not None:
        failures = handle.kubelet_probe_failures()
        events = handle.audit.probe_events() if handle.audit is not None else []
        env.runlog.set_probe_evidence(run.label, probes.results_table(events),
                                      [f.to_dict() for f in failures])
        found.append(f"{len(failures)} kubelet probe failures, {len(events)} audited probes")
    if run.export:
        export_logs(env, run)
    if handle.audit is not None:
        folder = run.logs_dir or env.logs_root() / run.label
        folder.mkdir(parents=True, exist_ok=True)
        handle.audit.copy_to(folder / "kube-apiserver-audit.log")
        found.append(f"audit log in {folder}")
    return "; ".join(found)


def export_logs(env: Env, run: ClusterRun) -> None:
    """``kind export logs`` of the node into the report's logs folder (once per record)."""
    if run.logs_dir is not None or not run.provider.exists():
        return
    try:
        dest = env.logs_root() / run.label
    except OSError as err:
        say(f"{run.name}: no folder for logs ({err.strerror or err})")
        return
    problem = run.provider.export_logs(dest)
    if problem:
        say(f"{run.name}: {problem}")
        return
    run.logs_dir = dest
    say(f"{run.name}: logs exported to {dest}")


def kept(env: Env, run: ClusterRun) -> bool:
    """Whether the run keeps this cluster: asked to, reused, or kept for reuse."""
    return env.keep or run.reused or (env.reuse and not run.error)


def teardown(env: Env, run: ClusterRun) -> str | Done:
    """Delete the cluster and its private files (token, kubeconfig), or keep it."""
    if run.handle.restarts is not None:
        run.handle.restarts.stop()
    if kept(env, run):
        say(f"keeping cluster {run.name} (kubeconfig: {run.provider.kubeconfig})")
        if run.lease is not None:
            run.lease.release()
        return skipped(f"kept (kubeconfig {run.provider.kubeconfig})")
    say(f"deleting cluster {run.name} ...")
    run.provider.destroy(timeout=limit(run, "teardown"))
    if run.lease is not None:
        run.lease.release()
    naming.forget(run.name)
    return "deleted"
