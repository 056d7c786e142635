"""The node image build: plan (inputs and tag), then each cached step in order."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ..engine import require_engine
from ..errors import AuthprobeError
from ..paths import cache_dir
from ..progress import say, step
from ..tools import KIND_VERSION, go_binary, kind_module_dir
from ..versions import KubeVersion, SupportedVersion
from . import assemble, components, dashboard, hashing, images, kube, nodefs, rootfs

REPOSITORY = "authprobe/node"
DASHBOARD_LABEL = "io.authprobe.dashboard-image"
INPUTS_LABEL = "io.authprobe.inputs-hash"
SOURCE_DIR = Path(__file__).resolve().parent
# Free space a cold build needs (Go module and build caches, trees, images), and a warm one.
COLD_BUILD_BYTES = 12 * 2**30
WARM_BUILD_BYTES = 4 * 2**30


@dataclass(frozen=True)
class Plan:
    version: KubeVersion
    inputs: dict
    inputs_hash: str

    @property
    def tag(self) -> str:
        return f"{REPOSITORY}:{self.version.tag}-{self.inputs_hash}"

    @property
    def alias(self) -> str:
        return f"{REPOSITORY}:{self.version.tag}"


def go_version() -> str:
    result = subprocess.run([go_binary(), "env", "GOVERSION"], capture_output=True, text=True,
                            timeout=60)
    if result.returncode:
        raise AuthprobeError(f"`go env GOVERSION` failed: {result.stderr.strip()}")
    return result.stdout.strip()


def builder_sources() -> dict[str, str]:
    paths = [
        path for path in SOURCE_DIR.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    ]
    return hashing.files_digest(paths, SOURCE_DIR)


def plan(supported: SupportedVersion) -> Plan:
    """Everything the image is made from, and the tag that names it; builds nothing."""
    inputs = {
        "kubernetes": supported.version.tag,
        "kind": KIND_VERSION,
        "go": go_version(),
        "components": components.components(),
        "builder": builder_sources(),
        "dashboard": dashboard.inputs_hash(),
    }
    return Plan(supported.version, inputs, hashing.image_inputs_hash(inputs))


def _image_label(tag: str, label: str) -> str | None:
    result = subprocess.run(
        ["docker", "image", "inspect", "--format", f'{{{{index .Config.Labels "{label}"}}}}', tag],
        capture_output=True, text=True, timeout=60,
    )
    return result.stdout.strip() if result.returncode == 0 else None


def _tag_alias(tag: str, alias: str) -> None:
    subprocess.run(["docker", "tag", tag, alias], check=True, capture_output=True, timeout=60)


def check_free_space(paths: list[Path], needed: int, what: str) -> None:
    for path in paths:
        probe = path
        while not probe.exists():
            probe = probe.parent
        free = shutil.disk_usage(probe).free
        if free < needed:
            raise AuthprobeError(
                f"not enough disk space for {what}: {free / 2**30:.1f} GiB free on the file "
                f"system of {path}, {needed / 2**30:.0f} GiB needed; free some space and retry"
            )


def check_prerequisites() -> None:
    """What a build needs besides Go and Docker: root (debootstrap, chroot) and a C compiler."""
    if os.geteuid() != 0:
        raise AuthprobeError(
            "building the node image needs root (debootstrap and chroot): run it as root, or "
            "use the published kindest/node images where a registry is reachable"
        )
    for tool, package in (("debootstrap", "debootstrap"), ("gcc", "gcc"), ("tar", "tar")):
        if shutil.which(tool) is None:
            raise AuthprobeError(
                f"{tool} is not installed (needed to build the node image): "
                f"apt-get install {package}"
            )
    go_binary()


def docker_root() -> Path:
    result = subprocess.run(["docker", "info", "--format", "{{.DockerRootDir}}"],
                            capture_output=True, text=True, timeout=60)
    return Path(result.stdout.strip() or "/var/lib/docker")


class Workspace:
    """Cache layout: finished step outputs under ``steps/<name>-<key>``, logs under ``logs``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.logs = root / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)

    def log(self, name: str) -> Path:
        return self.logs / f"{name}.log"

    def cached(self, label: str, name: str, key: object, build: Callable[[Path, Path], None],
               expect: float | None = None) -> Path:
        """Output dir of step ``name`` for ``key``, running ``build(out, log)`` if not done yet."""
        digest = hashing.digest(key)
        out = self.root / "steps" / f"{name}-{digest}"
        if (out / ".complete").exists():
            say(f"{label}: cached")
            return out
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        log = self.log(f"{name}-{digest}")
        log.write_text("")
        with step(label, expect=expect):
            build(out, log)
        (out / ".complete").write_text(digest + "\n")
        return out


@contextmanager
def build_lock(root: Path) -> Iterator[None]:
    """One node image build at a time per cache directory (parallel test workers wait)."""
    root.mkdir(parents=True, exist_ok=True)
    with (root / "build.lock").open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say("another node image build is running: waiting for it")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_node_image(supported: SupportedVersion, force: bool = False) -> str:
    """The node image tag for ``supported``, built only if no image has these inputs."""
    require_engine()
    the_plan = plan(supported)
    with build_lock(cache_dir() / "nodeimage"):
        return _ensure(the_plan, supported, force)


def _ensure(the_plan: Plan, supported: SupportedVersion, force: bool) -> str:
    workspace = Workspace(cache_dir() / "nodeimage")
    if not force and _image_label(the_plan.tag, INPUTS_LABEL) == the_plan.inputs_hash:
        if _image_label(the_plan.tag, DASHBOARD_LABEL) or dashboard_image(workspace) is None:
            _tag_alias(the_plan.tag, the_plan.alias)
            say(f"node image {the_plan.tag} is up to date")
            return the_plan.tag
        say(f"node image {the_plan.tag} lacks the Dashboard, which now builds: rebuilding")
    check_prerequisites()
    built_before = (workspace.root / "steps").glob(f"kubernetes-{the_plan.version.tag}-*/.complete")
    cold = not any(built_before)
    check_free_space(
        [workspace.root, docker_root()], COLD_BUILD_BYTES if cold else WARM_BUILD_BYTES,
        f"the Kubernetes {supported.version} node image",
    )
    with step(f"building node image {the_plan.tag}", heartbeat=300):
        build(the_plan, workspace)
    _tag_alias(the_plan.tag, the_plan.alias)
    return the_plan.tag


def dashboard_image(ws: Workspace) -> str | None:
    """The Dashboard image to preload, or None (with a warning) when it cannot be built."""
    try:
        return dashboard.build_dashboard_image(ws.root / "work", ws.logs)
    except AuthprobeError as err:
        say(f"warning: node image without the Dashboard: {err.one_line()}")
        return None


def build(the_plan: Plan, ws: Workspace) -> None:
    version = the_plan.version
    parts = components.components()
    kind_module = kind_module_dir()

    kube_bin = ws.cached(
        f"building Kubernetes {version.tag} (kubeadm, kubelet, kubectl, control plane)",
        f"kubernetes-{version.tag}",
        {"version": version.tag, "go": the_plan.inputs["go"], "tags": kube.BUILD_TAGS,
         "commands": kube.COMMANDS, "ldflags": kube.version_ldflags(version, "")},
        lambda out, log: kube.build_commands(version, ws.root / "work" / "kubernetes", out, log),
        expect=900,
    )
    for name in ("kubeadm", "kubelet", "kube-apiserver"):
        reported = kube.reported_version(kube_bin / name)
        if reported != version.tag:
            raise AuthprobeError(
                f"built {name} reports version {reported or 'nothing'}, not {version.tag}"
            )
    refs = kube.images_by_name(kube.image_list(kube_bin / "kubeadm", version))
    say("kubeadm expects: " + ", ".join(refs[name] for name in sorted(refs)))
    etcd_tag = kube.image_tag(refs["etcd"])
    coredns_tag = kube.image_tag(refs["coredns"])
    pause_tag = kube.image_tag(refs["pause"])

    etcd_bin = ws.cached(
        f"building etcd {etcd_tag}", f"etcd-{etcd_tag}",
        {"etcd": etcd_tag, "go": the_plan.inputs["go"]},
        lambda out, log: components.build_etcd(etcd_tag, ws.root / "work" / "etcd", out, log),
        expect=60,
    )
    coredns_bin = ws.cached(
        f"building CoreDNS {coredns_tag}", f"coredns-{coredns_tag}",
        {"coredns": coredns_tag, "plugins": parts["coredns_plugins"], "go": the_plan.inputs["go"]},
        lambda out, log: components.build_coredns(
            coredns_tag, ws.root / "work" / "coredns", out, log),
        expect=150,
    )
    kube_source = kube.module_source(version, ws.log("kubernetes-source"))
    pause_bin = ws.cached(
        f"building pause {pause_tag}", f"pause-{pause_tag}",
        {"pause": pause_tag, "kubernetes": version.tag},
        lambda out, log: components.build_pause(kube_source, pause_tag, out, log),
        expect=10,
    )
    containerd_bin = ws.cached(
        f"building containerd {parts['containerd']}", f"containerd-{parts['containerd']}",
        {"containerd": parts["containerd"], "go": the_plan.inputs["go"]},
        lambda out, log: components.build_containerd(
            parts["containerd"], ws.root / "work" / "containerd", out, log),
        expect=150,
    )
    crictl_bin = ws.cached(
        f"building crictl {parts['cri_tools']}", f"crictl-{parts['cri_tools']}",
        {"cri_tools": parts["cri_tools"], "go": the_plan.inputs["go"]},
        lambda out, log: components.build_crictl(parts["cri_tools"], out, log),
        expect=120,
    )
    cni_bin = ws.cached(
        f"building CNI plugins {parts['cni_plugins']}", f"cni-{parts['cni_plugins']}",
        {"cni": parts["cni_plugins"], "plugins": components.CNI_PLUGINS,
         "go": the_plan.inputs["go"]},
        lambda out, log: components.build_cni_plugins(parts["cni_plugins"], out, log),
        expect=120,
    )
    debian = ws.cached(
        f"debootstrap of Debian {parts['debian_suite']} for the node",
        f"debian-{parts['debian_suite']}",
        {"suite": parts["debian_suite"], "packages": parts["debian_packages"]},
        lambda out, log: rootfs.debootstrap(
            parts["debian_suite"], parts["debian_packages"], out / "tree", log),
        expect=120,
    ) / "tree"
    dashboard_ref = dashboard_image(ws)

    log = ws.log(f"node-{version.tag}-{the_plan.inputs_hash}")
    log.write_text("")
    work = ws.root / "work" / f"node-{the_plan.inputs_hash}"
    shutil.rmtree(work, ignore_errors=True)
    assembly = f"authprobe/node-assembly:{the_plan.inputs_hash}"
    built: list[str] = []
    try:
        with step("building component images", expect=10):
            built = images.build_component_images(
                refs, kube_bin, etcd_bin, coredns_bin, pause_bin, debian, work / "images", log)
        preload = built + ([dashboard_ref] if dashboard_ref else [])
        images_tar = work / "images.tar"
        with step("saving component images", expect=5):
            images.save_images(preload, images_tar, log)
        with step("assembling the node root file system", expect=15):
            tree = work / "rootfs"
            rootfs.copy_tree(debian, tree)
            nodefs.lay_node(
                tree, kind_module, kube_bin, containerd_bin, crictl_bin, cni_bin,
                version.tag, refs["pause"], parts["pod_subnet"], log,
            )
            rootfs.tar_import(tree, assembly, assemble.IMPORT_CHANGES, log, "the node rootfs")
            shutil.rmtree(tree, ignore_errors=True)
        with step("preloading images into the node's containerd and committing", expect=15):
            assemble.preload_and_commit(
                assembly, the_plan.tag, images_tar, preload,
                {DASHBOARD_LABEL: dashboard_ref or "", INPUTS_LABEL: the_plan.inputs_hash,
                 "io.authprobe.kubernetes-version": version.tag},
                f"authprobe-imgbuild-{the_plan.inputs_hash}", log,
            )
    finally:
        # The component images live on inside the node image; the engine's copies, like the
        # assembly image, would only pile up.
        images.remove_images(built + [assembly])
        shutil.rmtree(work, ignore_errors=True)


def prune_node_images(version: KubeVersion, keep: list[str]) -> list[str]:
    """Remove other builds of ``version`` (not ``keep``) that no container uses; returns them."""
    listed = subprocess.run(
        ["docker", "images", REPOSITORY, "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"],
        capture_output=True, text=True, timeout=60,
    ).stdout.split("\n")
    kept_ids = set()
    for tag in keep:
        result = subprocess.run(["docker", "image", "inspect", "--format", "{{.Id}}", tag],
                                capture_output=True, text=True, timeout=60)
        kept_ids.add(result.stdout.strip()[len("sha256:"):][:12])
    removed = []
    for line in listed:
        if not line.strip():
            continue
        tag, image_id = line.split()
        other_build = tag.startswith(f"{REPOSITORY}:{version.tag}-") and tag not in keep
        if not other_build or image_id[:12] in kept_ids:
            continue
        # Without --force docker refuses images that containers (clusters) still use.
        if subprocess.run(["docker", "rmi", tag], capture_output=True, timeout=300).returncode == 0:
            removed.append(tag)
    return removed

