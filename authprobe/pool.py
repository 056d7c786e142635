"""The run's clusters: one per (profile, Kubernetes version, node image), made in parallel.

``ClusterPool`` brings every needed cluster up in worker threads as soon as the run
starts, hands each to the scenarios that need it, and removes what it made: when the
scenarios of a cluster are done, at the end of the session, and on SIGINT/SIGTERM.
"""

from __future__ import annotations

import secrets
import shutil
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from pathlib import Path

import kubernetes
import pytest
import tenacity

from . import provider as prov
from .clients import Endpoint, HttpClient, NodeAccess, cluster_admin, endpoint_from_kubeconfig
from .errors import AuthprobeError
from .profiles import Profile, load_all
from .progress import fmt_seconds, say
from .readiness import StartFailure, apiserver_containers, start_failure, wait_ready
from .render import TOKEN_FILE, HostFacts, Rendered, RenderInput, render, token_file_text
from .runlog import ClusterInfo, PhaseRecord, RunLog
from .sampler import RestartSampler
from .verify import verify
from .versions import KubeVersion, SupportedVersion

PUBLISHED_DASHBOARD = "kubernetesui/dashboard:v2.7.0"
DASHBOARD_NAMESPACE = "kubernetes-dashboard"
DASHBOARD_NAME = "kubernetes-dashboard"
# kube-apiserver exits this many times during `kind create` before a profile whose control
# plane must not come up is taken as failed (kubeadm would wait its full 4 minutes).
EARLY_EXITS = 3
# Pod waiting reasons that mean the Dashboard image cannot be had: stop waiting at once.
UNPULLABLE = ("ImagePullBackOff", "ErrImageNeverPull", "InvalidImageName")


@dataclass(frozen=True)
class Cell:
    """What a scenario parameter asks for: a profile on a Kubernetes minor."""

    profile: str
    minor: str

    @property
    def id(self) -> str:
        return f"{self.profile}-{self.minor}"

    def __str__(self) -> str:
        return self.id


@dataclass
class Settings:
    profiles: dict[str, Profile]
    versions: dict[str, SupportedVersion]
    kind_path: Path
    kind_version: str
    image_policy: str  # build | local | pull
    kind_image: str | None
    keep: bool
    reuse: bool
    observe_window: float
    host: HostFacts
    logs_root: callable  # () -> Path, the run's logs folder
    register_secret: callable = lambda value: None
    expects_down: callable = lambda profile, version: False
    max_workers: int = 4
    max_alive: int = 1000  # clusters that may run at once (host inotify instances allow)


@dataclass
class SharedCluster:
    """One cluster as scenarios see it (the ``cluster`` fixture)."""

    name: str
    profile: Profile
    version: KubeVersion
    image: str
    kind_version: str
    up: bool = False
    start_failure: StartFailure | None = None
    expected_down: bool = False
    error: str | None = None  # set when the cluster failed in a way no scenario expects
    reused: bool = False
    server: str | None = None
    ca_path: Path | None = None
    anonymous: HttpClient | None = None
    admin: HttpClient | None = None
    api: kubernetes.client.ApiClient | None = None
    node: NodeAccess | None = None
    restarts: RestartSampler | None = None
    logs_dir: Path | None = None
    dashboard_problem: str | None = None  # why the Dashboard cannot run, known at apply time
    dashboard_missing: str | None = None  # why no Dashboard was deployed at all
    provider: prov.KindProvider | None = field(default=None, repr=False)

    def dashboard_ready(self, timeout: float = 300.0) -> None:
        """Wait, polling, until the Dashboard deployment has an available replica.

        Skips the calling scenario when the cluster has no Dashboard to wait for.
        """
        if self.dashboard_missing:
            pytest.skip(self.dashboard_missing)
        if self.api is None:
            raise AuthprobeError(f"{self.name} has no API client: control plane is not up")
        apps = kubernetes.client.AppsV1Api(self.api)
        start = time.monotonic()
        last = "no answer yet"

        def available() -> bool:
            nonlocal last
            try:
                deploy = apps.read_namespaced_deployment(DASHBOARD_NAME, DASHBOARD_NAMESPACE,
                                                         _request_timeout=10)
            except Exception as err:  # apiserver restarting or deployment not there yet
                last = f"{type(err).__name__}: {str(err).splitlines()[0][:120]}"
                return False
            ready = deploy.status.available_replicas or 0
            last = f"{ready} available replica(s)"
            if ready < 1:
                pods = self._dashboard_pods()
                if any(reason in pods for reason in UNPULLABLE):
                    note = f"; {self.dashboard_problem}" if self.dashboard_problem else ""
                    raise AuthprobeError(
                        f"Dashboard in {self.name} cannot start{pods}{note}")
            return ready >= 1

        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_result(lambda ok: not ok),
            stop=tenacity.stop_after_delay(timeout), wait=tenacity.wait_fixed(3),
            before_sleep=lambda state: (
                say(f"{self.name}: waiting for the Dashboard ({last}), "
                    f"{fmt_seconds(time.monotonic() - start)} elapsed")
                if state.attempt_number % 10 == 0 else None),
        )
        try:
            retrying(available)
        except tenacity.RetryError:
            raise AuthprobeError(
                f"Dashboard in {self.name} not available after {timeout:.0f}s: {last}"
                f"{self._dashboard_pods()}"
            ) from None

    def _dashboard_pods(self) -> str:
        """Why the Dashboard pods are not running (e.g. ImagePullBackOff), for the error."""
        try:
            pods = kubernetes.client.CoreV1Api(self.api).list_namespaced_pod(
                DASHBOARD_NAMESPACE, _request_timeout=10)
        except Exception:
            return ""
        reasons = []
        for pod in pods.items:
            for status in pod.status.container_statuses or []:
                waiting = status.state.waiting if status.state else None
                if waiting is not None:
                    reasons.append(f"{status.image}: {waiting.reason}")
        return f"; pods: {', '.join(reasons)}" if reasons else ""


class ClusterPool:
    def __init__(self, settings: Settings, runlog: RunLog) -> None:
        self.s = settings
        self.runlog = runlog
        self._lock = threading.Lock()
        self._futures: dict[Cell, Future] = {}
        self._created: set[str] = set()  # cluster names this run made (delete on interrupt)
        self._providers: dict[str, prov.KindProvider] = {}
        self._shared: dict[Cell, SharedCluster] = {}
        self._released: set[Cell] = set()
        self._image_locks: dict[str, threading.Lock] = {}
        self._images: dict[str, tuple[str, KubeVersion, prov.ImageFacts]] = {}
        self._executor: ThreadPoolExecutor | None = None
        self.aborting = threading.Event()
        self.closing = threading.Event()
        self._slot_cond = threading.Condition()
        self._order: dict[Cell, int] = {}  # the order scenarios will need the cells in
        self._served: set[Cell] = set()  # cells that had their turn at a slot
        self._holding: set[Cell] = set()

    # -- planning and waiting ------------------------------------------------------------

    def start(self, cells: list[Cell]) -> None:
        """Begin bringing up every cell's cluster in worker threads."""
        cells = [c for c in dict.fromkeys(cells) if c not in self._futures]
        if not cells:
            return
        if self._executor is None:
            workers = max(1, min(self.s.max_workers, len(cells)))
            self._executor = ThreadPoolExecutor(workers, thread_name_prefix="authprobe-cluster")
        if len(cells) > 1:
            say(f"bringing up {len(cells)} clusters in parallel: "
                + ", ".join(c.id for c in cells))
        for cell in cells:
            with self._slot_cond:
                self._order.setdefault(cell, len(self._order))
            self._futures[cell] = self._executor.submit(self._bring_up, cell)

    def get(self, cell: Cell, pump=lambda: None) -> SharedCluster:
        """The cluster of ``cell``, waiting for it to come up (``pump`` runs while waiting)."""
        if cell not in self._futures:
            self.start([cell])
        future = self._futures[cell]
        while True:
            try:
                return future.result(timeout=0.5)
            except FutureTimeout:
                pump()

    # -- bringing one cluster up ---------------------------------------------------------

    def _image_for(self, spec: SupportedVersion) -> tuple[str, KubeVersion, prov.ImageFacts]:
        minor = spec.version.minor_str
        with self._lock:
            lock = self._image_locks.setdefault(minor, threading.Lock())
        with lock:
            if minor in self._images:
                return self._images[minor]
            version = spec.version
            if self.s.kind_image:
                image = self.s.kind_image
            elif self.s.image_policy == "build":
                from .nodeimage import ensure_node_image

                image = ensure_node_image(spec)
            elif self.s.image_policy == "local":
                image = f"authprobe/node:{spec.version.tag}"
                if prov.docker("image", "inspect", image).returncode:
                    raise AuthprobeError(
                        f"no local node image {image}: build it with `authprobe build-image "
                        f"{minor}` or use --image-policy build"
                    )
            else:
                image = spec.published_image
                version = KubeVersion.parse(image.rsplit(":", 1)[-1].split("@")[0])
                if prov.docker("image", "inspect", image).returncode:
                    pulled = prov.docker("pull", image, timeout=900)
                    if pulled.returncode:
                        raise AuthprobeError(f"`docker pull {image}` failed: "
                                             f"{pulled.stderr.strip()[-200:]}")
            facts = prov.image_facts(image)
            if facts.kube_version:
                found = KubeVersion.parse(facts.kube_version)
                if self.s.kind_image:
                    version = found
                if found != version or found.minor_str != minor:
                    raise AuthprobeError(
                        f"node image {image} holds Kubernetes {found}, not {version}"
                    )
            self._images[minor] = (image, version, facts)
            return self._images[minor]

    def _phase(self, shared: SharedCluster, phase: str, seconds: float, outcome: str,
               message: str = "") -> None:
        self.runlog.add_phase(PhaseRecord(
            cluster=shared.name, profile=shared.profile.id, version=str(shared.version),
            node_image=shared.image, phase=phase, seconds=round(seconds, 1), outcome=outcome,
            message=message, logs_dir=str(shared.logs_dir) if shared.logs_dir else None,
        ))

    def _write_files(self, rendered: Rendered, directory: Path) -> Path:
        auth = directory / "auth"
        auth.mkdir(mode=0o700, exist_ok=True)
        prov.write_private(auth / TOKEN_FILE, token_file_text(secrets.token_urlsafe(32)))
        for name, text in rendered.auth_files.items():
            prov.write_private(auth / name, text)
        patches = directory / "patches"
        if patches.exists():
            for old in patches.iterdir():
                old.unlink()
        if rendered.patch_files:
            patches.mkdir(mode=0o700, exist_ok=True)
            for name, text in rendered.patch_files.items():
                prov.write_private(patches / name, text)
        config = directory / "kind-config.yaml"
        prov.write_private(config, rendered.kind_config)
        return config

    def _take_slot(self, cell: Cell) -> None:
        """Wait until fewer than ``max_alive`` clusters run and every earlier cell had its turn.

        Slots go out strictly in the order the scenarios need the cells, so the cell the
        scenarios wait for is never starved by later ones holding every slot.
        """
        mine = self._order[cell]
        with self._slot_cond:
            while not (len(self._holding) < self.s.max_alive
                       and all(c in self._served for c, i in self._order.items() if i < mine)):
                if self.aborting.is_set() or self.closing.is_set():
                    self._served.add(cell)
                    self._slot_cond.notify_all()
                    raise AuthprobeError("run ended before this cluster was needed")
                self._slot_cond.wait(timeout=1.0)
            self._holding.add(cell)
            self._served.add(cell)
            self._slot_cond.notify_all()

    def _give_slot(self, cell: Cell) -> None:
        with self._slot_cond:
            if cell in self._holding:
                self._holding.discard(cell)
                self._slot_cond.notify_all()

    def _bring_up(self, cell: Cell) -> SharedCluster:
        if self.aborting.is_set():
            raise AuthprobeError("run interrupted")
        self._take_slot(cell)
        try:
            shared = self._bring_up_in_slot(cell)
        except BaseException:
            self._give_slot(cell)
            raise
        if shared.provider is not None and not prov.containers_of(shared.name):
            self._give_slot(cell)  # already deleted (a start failure)
        return shared

    def _bring_up_in_slot(self, cell: Cell) -> SharedCluster:
        profile = self.s.profiles[cell.profile]
        spec = self.s.versions[cell.minor]
        image, version, facts = self._image_for(spec)
        inp = RenderInput(profile, version, image, self.s.kind_version, self.s.host,
                          default_cni=facts.default_cni, image_id=facts.image_id)
        name = render(inp).name
        directory = prov.private_dir(name)
        rendered = render(inp, directory)
        provider = prov.KindProvider(name, self.s.kind_path, image, directory)
        shared = SharedCluster(
            name=name, profile=profile, version=version, image=image,
            kind_version=self.s.kind_version, provider=provider,
            node=NodeAccess(provider.node_container),
            expected_down=self.s.expects_down(profile.id, version),
        )
        with self._lock:
            self._providers[name] = provider
            self._shared[cell] = shared
        self.runlog.add_cluster(ClusterInfo(name, profile.id, str(version), image,
                                            self.s.kind_version))
        token_path = directory / "auth" / TOKEN_FILE
        exists = provider.exists()
        if exists and self.s.reuse and token_path.exists():
            shared.reused = True
            say(f"{name}: reusing the running cluster ({profile.id}, Kubernetes {version})")
        else:
            if exists:
                say(f"{name}: removing a cluster of the same name left by an earlier run")
                provider.delete()
            if not self._create(shared, rendered, directory):
                return shared
        return self._connect(shared, rendered, token_path)

    def _create(self, shared: SharedCluster, rendered: Rendered, directory: Path) -> bool:
        config = self._write_files(rendered, directory)
        with self._lock:
            if self.aborting.is_set():
                raise AuthprobeError("run interrupted")
            self._created.add(shared.name)
        provider = shared.provider
        label = (f"creating cluster {shared.name} ({shared.profile.id}, Kubernetes "
                 f"{shared.version})")
        start = time.monotonic()
        say(f"{label} (usually under a minute) ...")
        early = threading.Event()

        def gave_up() -> bool:
            if self.aborting.is_set():
                return True
            if not shared.expected_down:
                return False
            try:
                exited = [c for c in apiserver_containers(shared.node, timeout=15)
                          if c.state == "CONTAINER_EXITED"]
            except AuthprobeError:
                return False
            if len(exited) >= EARLY_EXITS:
                early.set()
                return True
            return False

        result = provider.create(config, should_stop=gave_up)
        seconds = time.monotonic() - start
        if self.aborting.is_set():
            raise AuthprobeError("run interrupted")
        if result.returncode == 0:
            say(f"{label}: done in {fmt_seconds(seconds)}")
            self._phase(shared, "create", seconds, "passed")
            return True
        reason = (f"kube-apiserver exited {EARLY_EXITS} times while `kind create cluster` "
                  "waited for the control plane" if early.is_set()
                  else f"`kind create cluster` failed: {_last_error(provider.create_log)}")
        say(f"{label}: failed after {fmt_seconds(seconds)}"
            + (" (expected for this profile)" if shared.expected_down else ""))
        if shared.expected_down and not self._verify(shared, rendered):
            shared.expected_down = False  # not the profile's failure: an error, not a pass
        self._failed(shared, reason, "create", seconds)
        return False

    def _verify(self, shared: SharedCluster, rendered: Rendered) -> bool:
        """Compare the node's kube-apiserver manifest with the profile; record the phase."""
        start = time.monotonic()
        try:
            verify(shared.node, shared.name, shared.profile.id, rendered.expected,
                   self._other_flags(shared.profile))
        except AuthprobeError as err:
            self._phase(shared, "verify", time.monotonic() - start, "failed", err.one_line())
            shared.error = err.one_line()
            return False
        self._phase(shared, "verify", time.monotonic() - start, "passed",
                    "apiserver flags and probes match the profile")
        return True

    def _failed(self, shared: SharedCluster, reason: str, phase: str, seconds: float) -> None:
        """Collect the evidence of a control plane that is not up, export logs, clean up."""
        if self.aborting.is_set():
            raise AuthprobeError("run interrupted")
        if prov.containers_of(shared.name):
            shared.start_failure = start_failure(shared.node, reason)
            if shared.restarts is None:
                shared.restarts = RestartSampler(
                    shared.name, shared.node, None, self.s.observe_window,
                    on_sample=lambda s: self.runlog.set_series(shared.name, s))
                try:
                    shared.restarts.sample_once()
                except AuthprobeError:
                    pass
        else:
            shared.start_failure = StartFailure(reason=f"{reason}; no node container exists")
        shared.up = False
        self._export_logs(shared)
        info = self.runlog.clusters.get(shared.name)
        if info is not None:
            info.came_up = False
            info.start_failure = str(shared.start_failure)
        if shared.expected_down:
            self._phase(shared, phase, seconds, "expected-failure", str(shared.start_failure))
        else:
            logs = f" (logs: {shared.logs_dir})" if shared.logs_dir else ""
            shared.error = (shared.error or f"cluster {shared.name} ({shared.profile.id}, "
                            f"Kubernetes {shared.version}) did not come up: "
                            f"{shared.start_failure}") + logs
            self._phase(shared, phase, seconds, "failed", shared.error)
        if not self.s.keep and not shared.reused:
            self._delete(shared)

    def _export_logs(self, shared: SharedCluster) -> None:
        try:
            dest = self.s.logs_root() / shared.name
        except Exception as err:  # report folder unavailable: keep going without logs
            say(f"{shared.name}: no folder for logs ({err})")
            return
        result = shared.provider.export_logs(dest)
        if result.returncode == 0:
            shared.logs_dir = dest
            say(f"{shared.name}: logs exported to {dest}")
        else:
            say(f"{shared.name}: `kind export logs` failed: {result.stdout.strip()[-200:]}")

    def _connect(self, shared: SharedCluster, rendered: Rendered, token_path: Path,
                 ) -> SharedCluster:
        if self.aborting.is_set():
            raise AuthprobeError("run interrupted")
        provider = shared.provider
        token = token_path.read_text().split(",", 1)[0]
        self.s.register_secret(token)
        if not self._verify(shared, rendered):
            if not shared.reused and not self.s.keep:
                self._export_logs(shared)
                self._delete(shared)
            return shared
        provider.write_kubeconfig()
        endpoint: Endpoint = endpoint_from_kubeconfig(provider.kubeconfig_path,
                                                      provider.path / "ca.crt")
        shared.server, shared.ca_path = endpoint.server, endpoint.ca_path
        shared.anonymous = HttpClient(endpoint)
        shared.admin = HttpClient(endpoint, token=token, user="admin")
        shared.api = cluster_admin(provider.kubeconfig_path)
        shared.restarts = RestartSampler(
            shared.name, shared.node, cluster_admin(provider.kubeconfig_path, retries=False),
            self.s.observe_window,
            on_sample=lambda series: self.runlog.set_series(shared.name, series),
        ).start()
        start = time.monotonic()
        try:
            wait_ready(shared.admin, shared.api, shared.version, timeout=240)
        except AuthprobeError as err:
            self._failed(shared, err.one_line(), "ready", time.monotonic() - start)
            return shared
        shared.up = True
        info = self.runlog.clusters.get(shared.name)
        if info is not None:
            info.came_up = True
        self._phase(shared, "ready", time.monotonic() - start, "passed",
                    "/readyz 200 for admin, ServiceAccount default exists, version "
                    f"{shared.version.tag}")
        self._apply_dashboard(shared)
        return shared

    def _apply_dashboard(self, shared: SharedCluster) -> None:
        """Apply the suite's Dashboard manifest with the image the node image preloads.

        An offline node image built with no Dashboard source has none to preload (the Go
        module proxy serves no Dashboard module): then no Dashboard is deployed, and the
        scenarios that need one are skipped with that reason.
        """
        start = time.monotonic()
        preloaded = self._images[shared.version.minor_str][2].dashboard_image
        if not preloaded and self.s.image_policy != "pull":
            shared.dashboard_missing = (
                f"node image {shared.image} has no Dashboard: the Go module proxy serves no "
                "Dashboard module, so an offline build has one only from a local source "
                "(AUTHPROBE_DASHBOARD_SOURCE=<Dashboard v2.7.0 checkout>); or use "
                "--image-policy=pull")
            say(f"{shared.name}: {shared.dashboard_missing}")
            self._phase(shared, "dashboard", time.monotonic() - start, "skipped",
                        shared.dashboard_missing)
            return
        image = preloaded or PUBLISHED_DASHBOARD
        try:
            shared.node.kubectl("apply", "-f", "-", input=_dashboard_manifest(image),
                                timeout=120)
        except AuthprobeError as err:
            shared.dashboard_problem = f"applying the Dashboard failed: {err.one_line()}"
            self._phase(shared, "dashboard", time.monotonic() - start, "failed", err.one_line())
            return
        self._phase(shared, "dashboard", time.monotonic() - start, "passed",
                    f"Dashboard manifest applied with image {image}")

    def _other_flags(self, profile: Profile) -> set[str]:
        """Flags any known profile sets (selected or not) that this one leaves unset."""
        flags: set[str] = set()
        for other in [*load_all().values(), *self.s.profiles.values()]:
            flags |= set(other.extra_args)
        return flags - set(profile.extra_args)

    # -- removing ------------------------------------------------------------------------

    def _delete(self, shared: SharedCluster) -> None:
        if shared.restarts is not None:
            shared.restarts.stop()
        start = time.monotonic()
        say(f"deleting cluster {shared.name} ...")
        shared.provider.delete()
        shutil.rmtree(shared.provider.path, ignore_errors=True)  # token and kubeconfig too
        with self._lock:
            self._created.discard(shared.name)
        self._phase(shared, "teardown", time.monotonic() - start, "passed", "deleted")

    def release(self, cell: Cell) -> None:
        """The scenarios of ``cell`` are done: delete its cluster unless kept or reused."""
        with self._lock:
            shared = self._shared.get(cell)
            if cell in self._released or shared is None:
                return
            self._released.add(cell)
        if shared.restarts is not None:
            shared.restarts.stop()
        try:
            if self.s.keep or self.s.reuse:
                if shared.name in self._created or shared.reused:
                    say(f"keeping cluster {shared.name} (kubeconfig: "
                        f"{shared.provider.kubeconfig_path})")
                return
            if prov.containers_of(shared.name):
                self._delete(shared)
        finally:
            self._give_slot(cell)

    def finish(self) -> None:
        """End of session: wait for creations still running, then release every cluster."""
        self.closing.set()
        for cell, future in self._futures.items():
            try:
                future.result()
            except Exception:
                pass
            self.release(cell)
        if self._executor is not None:
            self._executor.shutdown(wait=True)

    def abort(self) -> list[str]:
        """Interrupt: stop kind children and delete every cluster this run created."""
        self.aborting.set()
        prov.CHILDREN.stop_all()
        with self._lock:
            names = sorted(self._created)
            providers = dict(self._providers)
        for shared in list(self._shared.values()):
            if shared.restarts is not None:
                shared.restarts._stop.set()
        for name in names:
            say(f"interrupted: deleting cluster {name} ...")
            providers[name].delete()
            shutil.rmtree(providers[name].path, ignore_errors=True)
            with self._lock:
                self._created.discard(name)
        return names


def _last_error(log: Path) -> str:
    try:
        lines = [line.strip() for line in log.read_text().splitlines() if line.strip()]
    except OSError:
        return "no output"
    for line in reversed(lines):
        if line.startswith("ERROR") or "error" in line.lower():
            return line[:300]
    return lines[-1][:300] if lines else "no output"


def _dashboard_manifest(image: str) -> str:
    from .nodeimage.dashboard import render_manifest

    return render_manifest(image)
