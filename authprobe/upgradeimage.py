"""A node image that can upgrade: the node image of one minor with the next minor's kubeadm,
kubelet, kubectl and control-plane images in it, for ``kubeadm upgrade`` in a running cluster.

The second minor's artifacts come from the same kind of source as the first minor's image:
the offline builder's cached steps (its Kubernetes build and the component images made from
it, so a minor already built costs no compile), or, where a registry answers and the first
image is the published one, the second minor's published node image (its binaries) and the
images its kubeadm lists (pulled). In the node the binaries lie under
``/authprobe/upgrade/<tag>/`` with the version in ``/authprobe/upgrade/version``; the images
are imported into containerd's k8s.io namespace, pinned, so the upgrade pulls nothing.

The image is ``authprobe/node-upgrade:<first tag>-<second tag>-<hash>``; the hash covers the
base image's content ID, the second minor's build inputs (or published image) and this
module. It is a repository of its own so no base-image policy ever takes it for a base image.
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path

from .errors import AuthprobeError
from .host import docker
from .model.timeouts import calls
from .model.versions import KubeVersion, SupportedVersion
from .paths import cache_dir
from .progress import say, step

REPOSITORY = "authprobe/node-upgrade"
UPGRADE_DIR = "/authprobe/upgrade"
UPGRADE_LABEL = "io.authprobe.upgrade-to"
INPUTS_LABEL = "io.authprobe.inputs-hash"
BINARIES = ("kubeadm", "kubelet", "kubectl")
SOURCES = ("build", "published")


@dataclass(frozen=True)
class Artifacts:
    """The second minor's part of the image, on the host."""

    version: KubeVersion
    binaries: Path  # a folder with kubeadm, kubelet and kubectl
    images_tar: Path
    refs: list[str]  # the images in the tarball, as kubeadm lists them


def target_version(target: SupportedVersion, source: str) -> KubeVersion:
    """The patch a cluster is upgraded to: the offline build's, or the published image's."""
    if source == "published":
        if target.published_patch is None:
            raise AuthprobeError(f"kind publishes no node image of Kubernetes {target.minor}: "
                                 "its upgrade artifacts come only from the offline build")
        return target.published_patch
    return target.patch


def inputs_hash(base_id: str, target: SupportedVersion, source: str) -> str:
    if source == "published":
        second: object = target.published
    else:
        from .nodeimage.build import plan

        second = plan(target).inputs_hash
    code = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()
    text = "\0".join([base_id, str(target_version(target, source)), source, str(second), code])
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def tag_for(base_version: KubeVersion, version: KubeVersion, digest: str) -> str:
    return f"{REPOSITORY}:{base_version.tag}-{version.tag}-{digest}"


def ensure(base_ref: str, base_id: str, base_version: KubeVersion, target: SupportedVersion,
           source: str, pin: bool) -> str:
    """The upgrade image of ``base_ref`` to ``target``, built only when none has its inputs."""
    from .nodeimage.workspace import Workspace, build_lock

    if source not in SOURCES:
        raise ValueError(f"unknown artifact source {source!r}")
    version = target_version(target, source)
    digest = inputs_hash(base_id, target, source)
    tag = tag_for(base_version, version, digest)
    if docker.image_label(tag, INPUTS_LABEL) == digest:
        say(f"upgrade image {tag} is up to date")
        return tag
    root = cache_dir() / "nodeimage"
    with build_lock(root):
        workspace = Workspace(root)
        work = workspace.work(f"upgrade-{digest}")
        log = workspace.log(f"upgrade-{base_version.tag}-{version.tag}-{digest}")
        log.write_text("")
        shutil.rmtree(work, ignore_errors=True)
        say(f"building upgrade image {tag}: {base_ref} with the Kubernetes {version} artifacts "
            f"({'offline build' if source == 'build' else 'published image'})")
        try:
            artifacts = (offline_artifacts(target, workspace, work, log) if source == "build"
                         else published_artifacts(target, work, log))
            assemble(base_ref, tag, artifacts, {INPUTS_LABEL: digest, UPGRADE_LABEL: version.tag},
                     pin, log)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    removed = prune(base_version, version, tag)
    if removed:
        say(f"removed {len(removed)} older upgrade image(s) no cluster uses: "
            + ", ".join(removed))
    say(f"upgrade image {tag} built")
    return tag


def offline_artifacts(target: SupportedVersion, workspace, work: Path, log: Path) -> Artifacts:
    """From the offline builder's cached steps: its Kubernetes build and the component images
    made from it (built first if the minor was never built)."""
    from .nodeimage import build, images

    the_plan = build.plan(target)
    build.check_prerequisites()
    parts = build.build_binaries(the_plan, workspace)
    built: list[str] = []
    try:
        with step(f"building the Kubernetes {the_plan.version} component images", expect=10):
            built = images.build_component_images(
                parts["refs"], parts["kube"], parts["etcd"], parts["coredns"], parts["pause"],
                parts["debian"], work / "images", log)
        with step("saving them for the node", expect=6):
            images.save_images(built, work / "images.tar", log)
    finally:
        docker.remove_images(built)
    return Artifacts(the_plan.version, parts["kube"], work / "images.tar", built)


def published_artifacts(target: SupportedVersion, work: Path, log: Path) -> Artifacts:
    """From the registry: the binaries of the published node image of ``target``, and the
    images its kubeadm lists, pulled."""
    from .nodeimage.kube import image_list

    version = target_version(target, "published")
    ref = str(target.published)
    if not docker.image_exists(ref):
        with step(f"pulling {ref}", expect=60):
            docker.docker("pull", ref, timeout=calls().image_pull, log=log,
                          check=f"docker pull {ref}")
    binaries = work / "bin"
    binaries.mkdir(parents=True)
    container = f"authprobe-upgrade-bits-{version.tag}"
    docker.docker("rm", "-f", container, log=log)
    docker.docker("create", "--name", container, ref, log=log,
                  check=f"docker create of {ref}")
    try:
        for name in BINARIES:
            docker.docker("cp", "-L", f"{container}:/usr/bin/{name}", str(binaries / name),
                          log=log, timeout=calls().image_remove,
                          check=f"copying {name} out of {ref}")
    finally:
        docker.docker("rm", "-f", container, log=log)
    refs = image_list(binaries / "kubeadm", version)
    with step(f"pulling the {len(refs)} images kubeadm {version} lists", expect=60):
        for image in refs:
            docker.docker("pull", image, timeout=calls().image_pull_small, log=log,
                          check=f"docker pull {image}")
        docker.docker("save", "-o", str(work / "images.tar"), *refs, log=log,
                      timeout=calls().image_build_step, check="docker save of the upgrade images")
    return Artifacts(version, binaries, work / "images.tar", refs)


def layout(artifacts: Artifacts, stage: Path) -> Path:
    """The node's upgrade folder laid out under ``stage``; returns its top folder."""
    top = stage / UPGRADE_DIR.strip("/").split("/")[0]
    folder = stage / UPGRADE_DIR.strip("/") / artifacts.version.tag
    folder.mkdir(parents=True)
    for name in BINARIES:
        source = artifacts.binaries / name
        if not source.exists():
            raise AuthprobeError(f"the Kubernetes {artifacts.version} artifacts have no {name} "
                                 f"({source})")
        shutil.copyfile(source, folder / name)
        (folder / name).chmod(0o755)
    (folder.parent / "version").write_text(artifacts.version.tag + "\n")
    return top


def assemble(base_ref: str, tag: str, artifacts: Artifacts, labels: dict[str, str], pin: bool,
             log: Path) -> None:
    """``base_ref`` plus the upgrade folder, then the images imported (pinned) and committed."""
    from .nodeimage.assemble import preload_and_commit

    digest = labels[INPUTS_LABEL]
    container, layered = f"authprobe-upgradebuild-{digest}", f"{tag}-layered"
    top = layout(artifacts, artifacts.images_tar.parent / "stage")
    docker.docker("rm", "-f", container, log=log)
    with step("laying the upgrade binaries into the node image", expect=5):
        docker.docker("create", "--name", container, "--entrypoint", "true", base_ref, log=log,
                      check=f"docker create of {base_ref}")
        try:
            docker.docker("cp", str(top), f"{container}:/", log=log,
                          timeout=calls().image_build_short,
                          check="copying the upgrade binaries into the node")
            docker.docker("commit", container, layered, log=log,
                          timeout=calls().image_build_step,
                          check="docker commit of the upgrade binaries")
        finally:
            docker.docker("rm", "-f", container, log=log)
    try:
        with step("importing the upgrade images into the node's containerd and committing",
                  expect=25):
            preload_and_commit(layered, tag, artifacts.images_tar, artifacts.refs, labels,
                               f"{container}-preload", log, pin=pin)
    finally:
        docker.remove_images([layered])


def prune(base_version: KubeVersion, version: KubeVersion, keep: str) -> list[str]:
    """Other upgrade images of the same pair that no container uses."""
    prefix = f"{REPOSITORY}:{base_version.tag}-{version.tag}-"
    removed = []
    for found, _ in docker.images(REPOSITORY):
        if found.startswith(prefix) and found != keep:
            if docker.docker("rmi", found, timeout=calls().image_remove).returncode == 0:
                removed.append(found)
    return removed
