"""The step functions of a cluster's lifecycle, each with one job and one signature,
``fn(env, run)``: ``env`` what the run's clusters share (:class:`Env`), ``run`` the record of
one cluster (:class:`.state.ClusterState`). Which step runs when, and what collects evidence
when one fails, is the list in :mod:`.lifecycle`; how a step runs and is recorded is
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
from ..model.outcome import ClusterRecord, RunLog
from ..model.profiles import ProfileAt
from ..model.versions import KubeVersion, version_table
from ..progress import fmt_seconds, say
from ..wait import until
from . import dashboard, naming, probes
from .access import HttpClient, NodeAccess, cluster_admin, endpoint_from_kubeconfig
from .audit import AuditLog
from .images import ImageFacts
from .kubelet import KubeletDoor
from .manifest import read_manifest, take_out_manifest, with_args, with_probes, write_manifest
from .phases import Done, predicted, skipped
from .provider import KindProvider
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
    access_token_text,
    token_file_text,
    users_of_token_file,
)
from .sampler import RestartSampler
from .state import ClusterState, State
from .verify import verify as verify_manifest

DELETED = "deleted"  # what the cleanup of a deleted cluster says
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


def new_run(env: Env, name: str, profile: ProfileAt, version: KubeVersion, image: ImageFacts,
            image_source: str, rendered: Rendered, expected_down: bool,
            lease: naming.Lease | None) -> ClusterState:
    """The record of a cluster about to be brought up, in the report; its lease (taken
    already) is released when it ends."""
    provider = KindProvider(name, env.kind_path, image.ref, naming.private_dir(name))
    run = ClusterState(name=name, profile=profile, version=version, image=image,
                       image_source=image_source, kind_version=env.kind_version,
                       rendered=rendered, provider=provider,
                       node=NodeAccess(provider.node_container), expected_down=expected_down)
    run.on_end("remove the private folder", lambda: forget_unmade(run))
    if lease is not None:
        run.on_end("release lease", lease.release)
    env.runlog.add_cluster(ClusterRecord(name, profile.id, version.minor_str, str(version),
                                         image.ref, image_source, env.kind_version))
    return run


def limit(run: ClusterState, name: str) -> float:
    """The timeout named ``name`` at the cluster's version (:mod:`authprobe.model.timeouts`:
    a step's own, or a shipped one)."""
    return timeouts.limit(name, run.version)


def record_cluster(env: Env, run: ClusterState, **fields) -> None:
    info = env.runlog.clusters.get(run.label)
    if info is not None:
        for key, value in fields.items():
            setattr(info, key, value)


def write_files(run: ClusterState) -> Path:
    """The token file, auth files and kubeadm patches, private to the cluster (0600)."""
    auth = run.directory / "auth"
    auth.mkdir(mode=0o700, exist_ok=True)
    run.tokens = {user: secrets.token_urlsafe(32) for user in TOKEN_USERS}
    run.token = run.tokens[ADMIN_USER]
    access_users = run.profile.rbac.token_users() if run.profile.rbac is not None else {}
    access_tokens = {user: secrets.token_urlsafe(32) for user in access_users}
    naming.write_private(auth / TOKEN_FILE, "".join(
        token_file_text(token, user) for user, token in run.tokens.items()) + "".join(
        access_token_text(token, user, access_users[user])
        for user, token in access_tokens.items()))
    run.tokens.update(access_tokens)
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


def create(env: Env, run: ClusterState) -> str | Done:
    """``kind create cluster``. For a profile whose control plane must not come up,
    creation stops as soon as kube-apiserver has exited EARLY_EXITS times. A control plane
    that does not come up is judged by :func:`control_plane_down`."""
    config = write_files(run)
    for token in run.tokens.values():
        env.register_secret(token)
    run.on_end("delete cluster", lambda: delete_or_keep(env, run))
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
            exits["n"] = apiserver_exits(apiserver_containers(
                run.node, timeout=timeouts.calls().node_poll))
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
        return control_plane_down(env, run, (
            f"kube-apiserver exited {exits['n']} times while `kind create cluster` waited for "
            "the control plane" if result.stopped
            else f"`kind create cluster` failed: {result.last_error()}"))
    say(f"{label}: done in {took}")
    return ""


def control_plane_down(env: Env, run: ClusterState, reason: str) -> Done:
    """The control plane did not come up: read why (the apiserver's exit and log tail, a
    restart sample from the runtime, the node's logs) and check that the node runs the
    profile as rendered. On such a node the cluster is DOWN and its scenarios judge that;
    where the expectations predict it, this step's phase says the predicted failure, and
    elsewhere it fails. On a node that does not run the profile the step fails (its cells
    error)."""
    found = run.found
    if not run.provider.exists():
        found.start_failure = StartFailure(reason=f"{reason}; no node container exists")
        record_cluster(env, run, came_up=False, start_failure=str(found.start_failure))
        raise AuthprobeError(str(found.start_failure))
    found.start_failure = start_failure(run.node, reason)
    sampler = RestartSampler(run.name, run.node, None, 0.0,
                             on_sample=lambda s: env.runlog.set_series(run.label, s))
    try:
        sampler.sample_once()
    except AuthprobeError:
        pass
    found.restarts = sampler
    export_logs(env, run)
    record_cluster(env, run, came_up=False, start_failure=str(found.start_failure))
    try:
        verify(env, run)
    except AuthprobeError as err:
        raise AuthprobeError(f"the control plane did not come up ({found.start_failure}) on "
                             f"a node that does not run the profile: {err.one_line()}") from None
    run.to(State.DOWN)
    if run.expected_down:
        return predicted(str(found.start_failure))
    raise AuthprobeError(f"the control plane did not come up: {found.start_failure}")


def patch_probes(env: Env, run: ClusterState) -> str:
    """Where kubeadm cannot patch its static pods, or the profile changes its probes or flags
    by hand, change them in the node's manifest after kubeadm init and wait until the kubelet
    runs kube-apiserver with them.

    The change is made as a swap: the manifest is taken out of the static pod folder, the
    old kube-apiserver is waited out, then the changed manifest goes in. Written in place,
    a kubelet before 1.22.5 may start the new pod while the old one still holds its ports
    (kubernetes/kubernetes#97722, fixed by #104743): the new kube-apiserver exits 1 on
    `bind: address already in use` and counts a restart the profile itself never causes."""
    changes = run.rendered.manifest_probes
    flags = run.rendered.manifest_args
    node = run.node
    manifest = with_args(with_probes(read_manifest(node, run.name), changes), flags)
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
    changed = sorted(changes) + [f"--{name}" for name in sorted(flags)]
    return ("changed in the static pod manifest: " + ", ".join(changed)
            + f" (the old kube-apiserver stopped {stopped:.0f}s after the manifest was taken "
            f"out; the new one running" + (f" after {len(exited)} exits" if exited else "")
            + ")")


def verify(env: Env, run: ClusterState) -> str:
    """Compare the node's kube-apiserver manifest with the profile; read its probe spec."""
    spec = verify_manifest(run.node, run.name, run.profile.id, run.rendered.expected,
                           env.other_flags, AUTH_DIR)
    return use_probe_spec(env, run, spec)


def use_probe_spec(env: Env, run: ClusterState, spec: dict) -> str:
    """The running apiserver's probes: its probe budget and restart window."""
    found = run.found
    found.probe_spec = spec
    found.probe_budget = probes.budget(spec)
    found.window = (env.observe_window if env.observe_window is not None
                     else probes.window(spec, env.default_window,
                                        version_table().facts_for(run.version)
                                        .startup_kill_delay))
    record_cluster(env, run, probe_budget=found.probe_budget, window=found.window,
                   probes=spec)
    checked = ("apiserver flags and probes and the kubelet's configuration match the profile"
               if run.rendered.expected.get("kubelet") else
               "apiserver flags and probes match the profile")
    return (f"{checked}; probe budget {found.probe_budget:.0f}s, window {found.window:.0f}s"
            if found.probe_budget is not None else checked)


def connect(env: Env, run: ClusterState) -> str:
    """Clients for the scenarios: anonymous, admin (token), cluster-admin, the audit log, the
    kubelet's port."""
    found = run.found
    if run.reused:
        run.provider.write_kubeconfig()
        access_users = tuple(run.profile.rbac.token_users()) if run.profile.rbac else ()
        run.tokens = users_of_token_file((run.directory / "auth" / TOKEN_FILE).read_text(),
                                         access_users)
        run.token = run.tokens.get(ADMIN_USER)
        for token in run.tokens.values():
            env.register_secret(token)
    endpoint = endpoint_from_kubeconfig(run.provider.kubeconfig, run.directory / "ca.crt")
    found.server, found.ca_path = endpoint.server, endpoint.ca_path
    found.anonymous = HttpClient(endpoint)
    found.admin = HttpClient(endpoint, token=run.token, user="admin")
    found.api = cluster_admin(run.provider.kubeconfig)
    found.audit = AuditLog(run.node, since=found.since) if env.audit else None
    if found.audit is not None:
        found.kubelet = KubeletDoor(run.node, found.audit,
                                    endpoint.ca_path.parent / "kubelet-ca.crt", found.admin)
    return ""


def ready(env: Env, run: ClusterState) -> str:
    """Wait until the cluster serves the scenarios; start the restart sampler (stopped when
    the cluster ends)."""
    found = run.found
    wait_ready(found.admin, found.api, run.version, timeout=limit(run, "ready"),
               what=f"cluster {run.name} to be ready")
    found.restarts = sampler = RestartSampler(
        run.name, run.node, cluster_admin(run.provider.kubeconfig, retries=False),
        found.window or env.default_window,
        on_sample=lambda series: env.runlog.set_series(run.label, series),
        since=found.since, start_with=run.window_from).start()
    run.on_end("stop the restart sampler", lambda: sampler.stop(join=not env.aborting()))
    record_cluster(env, run, came_up=True)
    return (f"/readyz 200 for admin, ServiceAccount default exists, version "
            f"{run.version.tag}")


def deploy_dashboard(env: Env, run: ClusterState) -> str | Done:
    """Apply the Dashboard with the image the node preloads (or the published one)."""
    image = dashboard.image_for(run.image.dashboard_image,
                                env.dashboard_pull or run.image_source == "published")
    if image is None:
        run.dashboard_missing = no_dashboard(run.image.ref)
        return skipped(run.dashboard_missing)
    dashboard.deploy(run.node, image)
    run.dashboard_image = image
    return f"Dashboard manifest applied with image {image}"


def no_dashboard(image: str) -> str:
    return (f"node image {image} has no Dashboard: the Go module proxy serves no Dashboard "
            "module, so an offline build has one only from a local source "
            "(AUTHPROBE_DASHBOARD_SOURCE=<Dashboard v2.7.0 checkout>), and no registry answers "
            "for the published image")


def collect_evidence(env: Env, run: ClusterState) -> str:
    """Before the cluster goes (or is upgraded): the kubelet's probe failures and the
    audited probe requests (for the report), the apiserver's audit log into the report
    folder, and ``kind export logs`` when a scenario of the cluster failed."""
    found = run.found
    said = []
    if found.restarts is not None and found.restarts.t0 is not None:
        failures = probes.kubelet_failures(run.node, found.restarts.t0)
        events = found.audit.probe_events() if found.audit is not None else []
        env.runlog.set_probe_evidence(run.label, probes.results_table(events),
                                      [f.to_dict() for f in failures])
        said.append(f"{len(failures)} kubelet probe failures, {len(events)} audited probes")
    if found.export_logs:
        export_logs(env, run)
    if found.audit is not None:
        folder = run.logs_dir or env.logs_root() / run.label
        folder.mkdir(parents=True, exist_ok=True)
        found.audit.copy_to(folder / "kube-apiserver-audit.log")
        said.append(f"audit log in {folder}")
    return "; ".join(said)


def export_logs(env: Env, run: ClusterState) -> None:
    """``kind export logs`` of the node into the report's logs folder (once per version)."""
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
    run.found.logs_dir = dest
    record_cluster(env, run, logs_dir=str(dest))
    say(f"{run.name}: logs exported to {dest}")


def kept(env: Env, run: ClusterState) -> bool:
    """Whether the run keeps this cluster: asked to, reused, or kept for reuse (one whose
    control plane is down, or that broke, is not reused)."""
    return env.keep or run.reused or (env.reuse and run.error is None
                                      and run.found.start_failure is None)


def delete_or_keep(env: Env, run: ClusterState) -> str:
    """The cleanup of a cluster this run created: delete it, or keep it. An interrupted run
    deletes it in any case (it may be half made). Its private files (tokens, kubeconfig)
    go after it, by :func:`forget_unmade`."""
    if env.aborting():
        if run.provider.exists():
            say(f"interrupted: deleting cluster {run.name} ...")
            run.provider.destroy(timeout=limit(run, "teardown"))
        return DELETED
    if kept(env, run):
        say(f"keeping cluster {run.name} (kubeconfig: {run.provider.kubeconfig})")
        return f"kept (kubeconfig {run.provider.kubeconfig})"
    say(f"deleting cluster {run.name} ...")
    run.provider.destroy(timeout=limit(run, "teardown"))
    return DELETED


def forget_unmade(run: ClusterState) -> None:
    """The cleanup of the cluster's private folder (its tokens, kubeconfig, its servers' CA
    and keys), the last of its cleanups: removed when no cluster of its name is left to use
    it (deleted, or never made: an interrupt or a failed step before `kind create
    cluster`); a cluster that is kept keeps its folder."""
    if not run.provider.exists():
        naming.forget(run.name)


def keep_reused(run: ClusterState) -> str:
    """The cleanup of a cluster an earlier run kept for reuse: it stays."""
    say(f"keeping cluster {run.name} (kubeconfig: {run.provider.kubeconfig})")
    return f"kept (kubeconfig {run.provider.kubeconfig})"


def teardown(env: Env, run: ClusterState) -> str | Done:
    """The END stage's last step: the cluster's cleanups, last acquired first (stop the
    sampler, delete or keep the cluster, release its lease)."""
    if run.state is State.ENDED:
        return skipped("ended already (the run was interrupted)")
    said = run.end()
    line = "; ".join(said) or "nothing to undo"
    return skipped(line) if any(part.startswith("kept") for part in said) else line
