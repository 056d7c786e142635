"""The lifecycle of one cluster as small steps, each with one job and its own phase record.

``create`` -> ``verify`` -> ``connect`` -> ``ready`` -> ``deploy_dashboard`` bring a cluster
up; ``collect_evidence`` and ``delete`` end it. A step that fails collects the evidence of
that moment (``start_failure``, exported logs) before the cluster goes. The pool
(:mod:`.pool`) only decides when each step runs.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import AuthprobeError
from ..model.outcome import (
    PHASE_EXPECTED_FAILURE,
    PHASE_FAILED,
    PHASE_PASSED,
    PHASE_SKIPPED,
    ClusterRecord,
    PhaseRecord,
    RunLog,
)
from ..model.profiles import ProfileAt
from ..model.versions import KubeVersion
from ..progress import fmt_seconds, say
from ..wait import until
from . import dashboard, naming, probes
from .access import HttpClient, NodeAccess, cluster_admin, endpoint_from_kubeconfig
from .audit import AuditLog
from .handle import ClusterHandle
from .images import ImageFacts
from .manifest import read_manifest, with_probes, write_manifest
from .provider import KindProvider
from .readiness import StartFailure, apiserver_containers, start_failure, wait_ready
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
READY_TIMEOUT = 240.0


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
    default_window: float = 330.0
    dashboard_pull: bool = False  # the published Dashboard image can be pulled
    audit: bool = True  # kube-apiserver writes an audit log (off only to measure its cost)


@dataclass
class ClusterRun:
    """One cluster's state as the steps move it along."""

    name: str
    profile: ProfileAt
    version: KubeVersion
    image: ImageFacts
    image_source: str
    rendered: Rendered
    provider: KindProvider
    expected_down: bool
    lease: naming.Lease | None = None
    reused: bool = False
    created: bool = False  # this run made it (and so may delete it)
    handle: ClusterHandle | None = None
    error: str | None = None  # the cluster broke in a way no scenario expects
    # The control plane did not come up on a node that runs the profile as rendered: the
    # scenario that checks whether it comes up judges that (a fail where it must come up).
    judge_down: bool = False
    logs_dir: Path | None = None
    token: str | None = field(default=None, repr=False)  # admin's
    tokens: dict[str, str] = field(default_factory=dict, repr=False)  # every token user's

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


@contextmanager
def phase(env: Env, run: ClusterRun, name: str) -> Iterator[dict]:
    """Time one step and record it; the step sets ``outcome``/``message`` in the dict."""
    record = {"outcome": PHASE_PASSED, "message": ""}
    start = time.monotonic()
    try:
        yield record
    except AuthprobeError as err:
        record.update(outcome=PHASE_FAILED, message=err.one_line())
        raise
    finally:
        env.runlog.add_phase(PhaseRecord(
            cluster=run.name, profile=run.profile.id, version=str(run.version), phase=name,
            seconds=round(time.monotonic() - start, 1), outcome=record["outcome"],
            message=record["message"], logs_dir=str(run.logs_dir) if run.logs_dir else None))


def record_cluster(env: Env, run: ClusterRun, **fields) -> None:
    info = env.runlog.clusters.get(run.name)
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


def create(env: Env, run: ClusterRun, aborting: Callable[[], bool]) -> bool:
    """``kind create cluster``; True when the control plane came up.

    For a profile whose control plane must not come up, creation stops as soon as
    kube-apiserver has exited EARLY_EXITS times.
    """
    config = write_files(run)
    for token in run.tokens.values():
        env.register_secret(token)
    run.created = True
    label = f"creating cluster {run.name} ({run.profile.id}, Kubernetes {run.version})"
    say(f"{label} (usually under a minute) ...")
    start = time.monotonic()
    exits = {"n": 0}

    def stop_early() -> bool:
        if aborting():
            return True
        if not run.expected_down:
            return False
        try:
            exits["n"] = apiserver_exits(apiserver_containers(run.handle.node, timeout=15))
        except AuthprobeError:
            return False
        return exits["n"] >= EARLY_EXITS

    with phase(env, run, "create") as record:
        result = run.provider.create(config, should_stop=stop_early)
        took = fmt_seconds(time.monotonic() - start)
        if aborting():
            raise AuthprobeError("run interrupted")
        if result.ok:
            say(f"{label}: done in {took}")
            return True
        reason = (f"kube-apiserver exited {exits['n']} times while `kind create cluster` waited "
                  "for the control plane" if result.stopped
                  else f"`kind create cluster` failed: {result.last_error()}")
        say(f"{label}: failed after {took}"
            + (" (expected for this profile)" if run.expected_down else ""))
        collect_start_failure(env, run, reason)
        record.update(outcome=PHASE_EXPECTED_FAILURE if run.expected_down else PHASE_FAILED,
                      message=str(run.handle.start_failure) if run.expected_down else run.error)
        return False


def collect_start_failure(env: Env, run: ClusterRun, reason: str) -> None:
    """Evidence of a control plane that is not up: the apiserver's exit and log tail, a
    restart sample from the runtime, the manifest check, and the exported logs."""
    handle = run.handle
    if run.provider.exists():
        handle.start_failure = start_failure(handle.node, reason)
        sampler = RestartSampler(run.name, handle.node, None, 0.0,
                                 on_sample=lambda s: env.runlog.set_series(run.name, s))
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
    if not run.expected_down:
        logs = f" (logs: {run.logs_dir})" if run.logs_dir else ""
        run.error = run.error or (f"cluster {run.name} ({run.profile.id}, Kubernetes "
                                  f"{run.version}) did not come up: {handle.start_failure}{logs}")


def patch_probes(env: Env, run: ClusterRun) -> None:
    """Where kubeadm cannot patch its static pods, change the probes in the node's manifest
    after kubeadm init and wait until the kubelet runs kube-apiserver with them."""
    changes = run.rendered.manifest_probes
    if not changes:
        return
    node = run.handle.node
    with phase(env, run, "probe-patch") as record:
        since = int(node.exec("date", "+%s").stdout.strip())
        write_manifest(node, with_probes(read_manifest(node, run.name), changes))

        def restarted() -> bool:
            return any(c.state == "CONTAINER_RUNNING" and c.created_ns / 1e9 >= since
                       for c in apiserver_containers(node))

        until(restarted, timeout=180, interval=1.0, retry_on=(AuthprobeError,),
              what=f"the kubelet to restart kube-apiserver of {run.name} with the new probes")
        record["message"] = ("probes changed in the static pod manifest: "
                             + ", ".join(sorted(changes)))


def verify(env: Env, run: ClusterRun) -> None:
    """Compare the node's kube-apiserver manifest with the profile; read its probe spec."""
    with phase(env, run, "verify") as record:
        spec = verify_manifest(run.handle.node, run.name, run.profile.id, run.rendered.expected,
                               env.other_flags, AUTH_DIR)
        handle = run.handle
        handle.probe_spec = spec
        handle.probe_budget = probes.budget(spec)
        handle.window = (env.observe_window if env.observe_window is not None
                         else probes.window(spec, env.default_window))
        record["message"] = ("apiserver flags and probes and the kubelet's configuration match "
                             f"the profile; probe budget {handle.probe_budget:.0f}s, window "
                             f"{handle.window:.0f}s" if handle.probe_budget is not None else
                             "apiserver flags and probes and the kubelet's configuration match "
                             "the profile")
        record_cluster(env, run, probe_budget=handle.probe_budget, window=handle.window,
                       probes=spec)


def connect(env: Env, run: ClusterRun) -> None:
    """Clients for the scenarios: anonymous, admin (token), cluster-admin, the audit log."""
    handle = run.handle
    with phase(env, run, "connect"):
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
        handle.audit = AuditLog(handle.node) if env.audit else None


def ready(env: Env, run: ClusterRun) -> None:
    """Wait until the cluster serves the scenarios; start the restart sampler."""
    handle = run.handle
    with phase(env, run, "ready") as record:
        wait_ready(handle.admin, handle.api, run.version, timeout=READY_TIMEOUT,
                   what=f"cluster {run.name} to be ready")
        record["message"] = (f"/readyz 200 for admin, ServiceAccount default exists, version "
                             f"{run.version.tag}")
    handle.up = True
    handle.restarts = RestartSampler(
        run.name, handle.node, cluster_admin(run.provider.kubeconfig, retries=False),
        handle.window or env.default_window,
        on_sample=lambda series: env.runlog.set_series(run.name, series)).start()
    record_cluster(env, run, came_up=True)


def deploy_dashboard(env: Env, run: ClusterRun) -> None:
    """Apply the Dashboard with the image the node preloads (or the published one)."""
    handle = run.handle
    image = dashboard.image_for(run.image.dashboard_image,
                                env.dashboard_pull or run.image_source == "published")
    with phase(env, run, "dashboard") as record:
        if image is None:
            handle.dashboard_missing = no_dashboard(run.image.ref)
            record.update(outcome=PHASE_SKIPPED, message=handle.dashboard_missing)
            return
        dashboard.deploy(handle.node, image)
        handle.dashboard_image = image
        record["message"] = f"Dashboard manifest applied with image {image}"


def no_dashboard(image: str) -> str:
    return (f"node image {image} has no Dashboard: the Go module proxy serves no Dashboard "
            "module, so an offline build has one only from a local source "
            "(AUTHPROBE_DASHBOARD_SOURCE=<Dashboard v2.7.0 checkout>), and no registry answers "
            "for the published image")


def collect_evidence(env: Env, run: ClusterRun, export: bool) -> None:
    """Before the cluster goes: the kubelet's probe failures and the audited probe requests
    (for the report), the apiserver's audit log into the report folder, and ``kind export
    logs`` when ``export``."""
    handle = run.handle
    with phase(env, run, "evidence") as record:
        found = []
        if handle.restarts is not None and handle.restarts.t0 is not None:
            failures = handle.kubelet_probe_failures()
            events = handle.audit.probe_events() if handle.audit is not None else []
            env.runlog.set_probe_evidence(run.name, probes.results_table(events),
                                          [f.to_dict() for f in failures])
            found.append(f"{len(failures)} kubelet probe failures, {len(events)} audited probes")
        if export:
            export_logs(env, run)
        if handle.audit is not None:
            folder = run.logs_dir or env.logs_root() / run.name
            folder.mkdir(parents=True, exist_ok=True)
            handle.audit.copy_to(folder / "kube-apiserver-audit.log")
            found.append(f"audit log in {folder}")
        record["message"] = "; ".join(found)


def export_logs(env: Env, run: ClusterRun) -> None:
    if run.logs_dir is not None or not run.provider.exists():
        return
    try:
        dest = env.logs_root() / run.name
    except OSError as err:
        say(f"{run.name}: no folder for logs ({err.strerror or err})")
        return
    problem = run.provider.export_logs(dest)
    if problem:
        say(f"{run.name}: {problem}")
        return
    run.logs_dir = dest
    say(f"{run.name}: logs exported to {dest}")


def delete(env: Env, run: ClusterRun) -> None:
    """Delete the cluster and its private files (token, kubeconfig)."""
    if run.handle.restarts is not None:
        run.handle.restarts.stop()
    with phase(env, run, "teardown") as record:
        say(f"deleting cluster {run.name} ...")
        run.provider.destroy()
        if run.lease is not None:
            run.lease.release()
        naming.forget(run.name)
        record["message"] = "deleted"
