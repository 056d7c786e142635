"""The node image build: plan its inputs and tag, then run each cached step in order.

``authprobe/node:v<patch>-<hash of its inputs>`` names the image; unchanged inputs mean no
rebuild. Every version-dependent input (containerd, crictl, CNI plugins, build tags) comes
from the version facts of clusters/versions.yaml.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from ..errors import AuthprobeError
from ..host import docker, packages
from ..host.engine import require_engine
from ..host.tools import go_binary, go_version, kind_module_dir, kind_release
from ..model.timeouts import calls
from ..model.versions import KubeVersion, SupportedVersion, VersionFacts, version_table
from ..paths import cache_dir
from ..progress import say, step
from . import assemble, components, dashboard, gomod, hashing, images, kube, nodefs, rootfs
from .workspace import Workspace, build_lock, check_free_space

REPOSITORY = "authprobe/node"
DASHBOARD_LABEL = "io.authprobe.dashboard-image"
INPUTS_LABEL = "io.authprobe.inputs-hash"
SOURCE_DIR = Path(__file__).resolve().parent
# The version facts the image is made from; the others (kubeadm's config, the kubelet's
# timing) are the harness's and change no image.
BUILD_FACTS = ("containerd", "containerd_systemd_cgroup", "kubelet_unbind_cgroup_root",
               "cri_tools", "cni_plugins", "build_tags", "go_replaces", "generate_openapi",
               "wrapper_go", "etcd_module")
# Free space a cold build needs (Go module and build caches, trees, images), and a warm one.
COLD_BUILD_BYTES = 12 * 2**30
WARM_BUILD_BYTES = 4 * 2**30


@dataclass(frozen=True)
class Plan:
    version: KubeVersion
    facts: VersionFacts
    inputs: dict
    inputs_hash: str

    @property
    def tag(self) -> str:
        return f"{REPOSITORY}:{self.version.tag}-{self.inputs_hash}"

    @property
    def alias(self) -> str:
        return f"{REPOSITORY}:{self.version.tag}"


def builder_sources() -> dict[str, str]:
    paths = [p for p in SOURCE_DIR.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    return hashing.files_digest(paths, SOURCE_DIR)


def plan(supported: SupportedVersion) -> Plan:
    """Everything the image is made from, and the tag that names it; builds nothing."""
    facts = version_table().facts_for(supported.patch)
    inputs = {
        "kubernetes": supported.patch.tag,
        "kind": kind_release(),
        "go": go_version(),
        "components": {**components.components(), "containerd": facts.containerd,
                       "cri_tools": facts.cri_tools, "cni_plugins": facts.cni_plugins},
        "facts": {name: getattr(facts, name) for name in BUILD_FACTS},
        "builder": builder_sources(),
        "dashboard": dashboard.inputs_hash(),
    }
    return Plan(supported.patch, facts, inputs, hashing.image_inputs_hash(inputs))


def check_prerequisites() -> None:
    """What a build needs besides Go and Docker: root (debootstrap, chroot), debootstrap and
    a C compiler, installed where authprobe can install them."""
    if os.geteuid() != 0:
        raise AuthprobeError(
            "building the node image needs root (debootstrap and chroot): run it as root, or "
            "use --image-policy pull where a registry is reachable")
    why = "to build the offline node image"
    packages.ensure_command("debootstrap", "debootstrap", why)
    packages.ensure_command("gcc", "gcc", why)
    go_binary()


def ensure_node_image(supported: SupportedVersion, force: bool = False) -> str:
    """The node image tag for ``supported``, built only if no image has these inputs."""
    require_engine()
    the_plan = plan(supported)
    with build_lock(cache_dir() / "nodeimage"):
        return _ensure(the_plan, force)


def _ensure(the_plan: Plan, force: bool) -> str:
    workspace = Workspace(cache_dir() / "nodeimage")
    if not force and docker.image_label(the_plan.tag, INPUTS_LABEL) == the_plan.inputs_hash:
        if docker.image_label(the_plan.tag, DASHBOARD_LABEL) or dashboard.source_dir() is None:
            docker.tag(the_plan.tag, the_plan.alias)
            say(f"node image {the_plan.tag} is up to date")
            return the_plan.tag
        say(f"node image {the_plan.tag} has no Dashboard and {dashboard.SOURCE_ENV} names a "
            "source now: rebuilding")
    check_prerequisites()
    cold = not workspace.has_step(f"kubernetes-{the_plan.version.tag}-")
    check_free_space([workspace.root, docker.root_dir()],
                     COLD_BUILD_BYTES if cold else WARM_BUILD_BYTES,
                     f"the Kubernetes {the_plan.version} node image")
    say(f"building node image {the_plan.tag} from Go modules and Debian packages ("
        + ("about 10 minutes on 2 cores, more for the first build" if cold else
           "a few minutes: its Kubernetes build is cached") + ")")
    build(the_plan, workspace)
    docker.tag(the_plan.tag, the_plan.alias)
    say(f"node image {the_plan.tag} built")
    shutil.rmtree(gomod.build_cache(), ignore_errors=True)
    removed = prune_node_images(the_plan.version, [the_plan.tag, the_plan.alias])
    if removed:
        say(f"removed {len(removed)} older build(s) of {the_plan.version} no cluster uses: "
            + ", ".join(removed))
    return the_plan.tag


def dashboard_image(ws: Workspace) -> str | None:
    """The Dashboard image to preload, or None (with a warning) when it cannot be built."""
    try:
        return dashboard.build_dashboard_image(ws.work(""), ws.logs)
    except AuthprobeError as err:
        say(f"warning: node image without the Dashboard: {err.one_line()}")
        return None


def kube_step_key(version: KubeVersion, facts: VersionFacts, go: str) -> dict:
    """The Kubernetes step's cache key; facts only older trees set add keys, so the keys (and
    cached builds) of the other versions stay as they were."""
    key = {"version": version.tag, "go": go, "tags": facts.build_tags,
           "commands": kube.COMMANDS, "ldflags": kube.version_ldflags(version, "")}
    if facts.go_replaces or facts.generate_openapi:
        key.update(replaces=list(facts.go_replaces), openapi=facts.generate_openapi)
    if facts.wrapper_go:
        key["wrapper_go"] = facts.wrapper_go
    return key


def build_kubernetes(the_plan: Plan, ws: Workspace) -> dict:
    """The Kubernetes commands (checked to report their version) and kubeadm's image list."""
    version, facts = the_plan.version, the_plan.facts
    out = {"kube": ws.cached(
        f"building Kubernetes {version.tag} (kubeadm, kubelet, kubectl, control plane)",
        f"kubernetes-{version.tag}", kube_step_key(version, facts, the_plan.inputs["go"]),
        lambda o, log: kube.build_commands(version, facts, ws.work("kubernetes"), o, log),
        expect=450)}  # 6m07s to 8m02s measured on 2 cores
    for name in ("kubeadm", "kubelet", "kube-apiserver"):
        reported = kube.reported_version(out["kube"] / name)
        if reported != version.tag:
            raise AuthprobeError(f"built {name} reports version {reported or 'nothing'}, not "
                                 f"{version.tag}")
    refs = kube.images_by_name(kube.image_list(out["kube"] / "kubeadm", version))
    say("kubeadm expects: " + ", ".join(refs[name] for name in sorted(refs)))
    out["refs"] = refs
    return out


def build_kubeadm_images(the_plan: Plan, refs: dict[str, str], ws: Workspace) -> dict:
    """etcd, CoreDNS and pause at the versions kubeadm lists."""
    version, facts, go = the_plan.version, the_plan.facts, the_plan.inputs["go"]
    etcd, coredns, pause = (kube.image_tag(refs[n]) for n in ("etcd", "coredns", "pause"))
    etcd_key = {"etcd": etcd, "go": go}
    if facts.etcd_module:
        etcd_key.update(module=facts.etcd_module, replaces=list(facts.go_replaces))
    coredns_key = {"coredns": coredns, "plugins": components.components()["coredns_plugins"],
                   "go": go}
    if facts.go_replaces:
        coredns_key["replaces"] = list(facts.go_replaces)
    out = {"etcd": ws.cached(
        f"building etcd {etcd}", f"etcd-{etcd}", etcd_key,
        lambda o, log: components.build_etcd(etcd, ws.work("etcd"), o, log, facts.etcd_module,
                                             facts.go_replaces), expect=60)}
    out["coredns"] = ws.cached(
        f"building CoreDNS {coredns}", f"coredns-{coredns}", coredns_key,
        lambda o, log: components.build_coredns(coredns, ws.work("coredns"), o, log,
                                                facts.go_replaces), expect=150)
    source = kube.module_source(version, ws.log("kubernetes-source"))
    out["pause"] = ws.cached(
        f"building pause {pause}", f"pause-{pause}", {"pause": pause, "kubernetes": version.tag},
        lambda o, log: components.build_pause(source, pause, o, log), expect=10)
    return out


def build_node_parts(the_plan: Plan, ws: Workspace) -> dict:
    """containerd, crictl, the CNI plugins and the Debian tree of the node."""
    facts, go = the_plan.facts, the_plan.inputs["go"]
    parts = components.components()
    out = {"containerd": ws.cached(
        f"building containerd {facts.containerd}", f"containerd-{facts.containerd}",
        {"containerd": facts.containerd, "go": go},
        lambda o, log: components.build_containerd(facts.containerd, ws.work("containerd"), o,
                                                   log), expect=150)}
    out["crictl"] = ws.cached(
        f"building crictl {facts.cri_tools}", f"crictl-{facts.cri_tools}",
        {"cri_tools": facts.cri_tools, "go": go},
        lambda o, log: components.build_crictl(facts.cri_tools, o, log), expect=120)
    out["cni"] = ws.cached(
        f"building CNI plugins {facts.cni_plugins}", f"cni-{facts.cni_plugins}",
        {"cni": facts.cni_plugins, "plugins": components.CNI_PLUGINS, "go": go},
        lambda o, log: components.build_cni_plugins(facts.cni_plugins, o, log), expect=120)
    suite = parts["debian_suite"]
    out["debian"] = ws.cached(
        f"debootstrap of Debian {suite} for the node", f"debian-{suite}",
        {"suite": suite, "packages": parts["debian_packages"]},
        lambda o, log: rootfs.debootstrap(suite, parts["debian_packages"], o / "tree", log),
        expect=120) / "tree"
    return out


def build_binaries(the_plan: Plan, ws: Workspace) -> dict[str, Path]:
    """Every binary of the node and its images, each step cached by its inputs."""
    out = build_kubernetes(the_plan, ws)
    out.update(build_kubeadm_images(the_plan, out["refs"], ws))
    out.update(build_node_parts(the_plan, ws))
    return out


def build(the_plan: Plan, ws: Workspace) -> None:
    version = the_plan.version
    parts = build_binaries(the_plan, ws)
    refs = parts["refs"]
    dashboard_ref = dashboard_image(ws)
    log = ws.log(f"node-{version.tag}-{the_plan.inputs_hash}")
    log.write_text("")
    work = ws.work(f"node-{the_plan.inputs_hash}")
    shutil.rmtree(work, ignore_errors=True)
    assembly = f"authprobe/node-assembly:{the_plan.inputs_hash}"
    built: list[str] = []
    try:
        with step("building component images", expect=10):
            built = images.build_component_images(
                refs, parts["kube"], parts["etcd"], parts["coredns"], parts["pause"],
                parts["debian"], work / "images", log)
        preload = built + ([dashboard_ref] if dashboard_ref else [])
        images_tar = work / "images.tar"
        with step("saving component images", expect=5):
            images.save_images(preload, images_tar, log)
        with step("assembling the node root file system", expect=15):
            tree = work / "rootfs"
            rootfs.copy_tree(parts["debian"], tree)
            nodefs.lay_node(tree, kind_module_dir(), parts, the_plan.facts, version.tag,
                            components.components()["pod_subnet"], log)
            rootfs.tar_import(tree, assembly, assemble.IMPORT_CHANGES, log, "the node rootfs")
            shutil.rmtree(tree, ignore_errors=True)
        with step("preloading images into the node's containerd and committing", expect=15):
            assemble.preload_and_commit(
                assembly, the_plan.tag, images_tar, preload,
                {DASHBOARD_LABEL: dashboard_ref or "", INPUTS_LABEL: the_plan.inputs_hash,
                 "io.authprobe.kubernetes-version": version.tag},
                f"authprobe-imgbuild-{the_plan.inputs_hash}", log,
                pin=components.containerd_major(the_plan.facts.containerd) >= 2)
    finally:
        # The component images live on inside the node image; the engine's copies, like the
        # assembly image, would only pile up.
        docker.remove_images(built + [assembly])
        shutil.rmtree(work, ignore_errors=True)


def prune_node_images(version: KubeVersion, keep: list[str]) -> list[str]:
    """Remove other builds of ``version`` (not ``keep``) that no container uses; returns them."""
    kept_ids = {(docker.image_inspect(tag) or {}).get("Id", "")[len("sha256:"):][:12]
                for tag in keep}
    removed = []
    for tag, image_id in docker.images(REPOSITORY):
        if not tag.startswith(f"{REPOSITORY}:{version.tag}-") or tag in keep:
            continue
        if image_id[:12] in kept_ids:
            continue
        # Without --force docker refuses images that containers (clusters) still use.
        if docker.docker("rmi", tag, timeout=calls().image_remove).returncode == 0:
            removed.append(tag)
    return removed
