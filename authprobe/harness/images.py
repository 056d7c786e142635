"""Which kind node image a Kubernetes minor runs on, and making it available.

Policies: ``auto`` (the default) takes a local image of the version when there is one, else
the published ``kindest/node`` image when the registry answers, else the offline build;
``local``, ``pull`` and ``build`` take only that source. ``--kind-image`` names an image
outright. :func:`choose` decides at the start of a run (it is quick); :func:`prepare`
builds or pulls, once per minor, when a cluster needs the image.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import AuthprobeError
from ..host import docker
from ..model.timeouts import calls
from ..model.versions import KubeVersion, SupportedVersion
from ..progress import step

POLICIES = ("auto", "local", "pull", "build")
REGISTRY = "https://registry-1.docker.io/v2/"
LOCAL_REPOSITORY = "authprobe/node"


@dataclass(frozen=True)
class ImageChoice:
    minor: str
    source: str  # local, published, build, given
    ref: str  # the image reference (for a build: the tag it will have)
    version: KubeVersion  # the patch release the image holds
    reason: str  # why this source, for the console and the report

    def describe(self) -> str:
        return f"Kubernetes {self.minor}: {self.ref} ({self.source}: {self.reason})"


@dataclass(frozen=True)
class ImageFacts:
    ref: str
    image_id: str
    kube_version: KubeVersion
    default_cni: bool  # kind's default CNI manifest is in the image
    dashboard_image: str | None  # the Dashboard image the node image preloads
    upgrade_to: KubeVersion | None = None  # the version whose artifacts the image carries


@dataclass(frozen=True)
class Target:
    """A minor of the run: what it is, and the image its clusters run on."""

    supported: SupportedVersion | None  # None for an image named with --kind-image
    choice: ImageChoice


def registry_answers() -> bool:
    """Whether Docker Hub's registry answers at all (any HTTP status counts)."""
    import requests

    try:
        requests.get(REGISTRY, timeout=calls().registry_check)
    except requests.RequestException:
        return False
    return True


def _newest_local_build(version: KubeVersion) -> str | None:
    prefix = f"{LOCAL_REPOSITORY}:{version.tag}-"
    tags = [tag for tag, _ in docker.images(LOCAL_REPOSITORY) if tag.startswith(prefix)]
    if not tags:
        return None
    created = {tag: (docker.image_inspect(tag) or {}).get("Created", "") for tag in tags}
    return max(tags, key=lambda tag: created[tag])


def choose(supported: SupportedVersion, policy: str, registry: bool | None) -> ImageChoice:
    """The image for ``supported`` under ``policy``; ``registry`` says whether a registry
    answers (None: not asked, for policies that do not need to know)."""
    from ..nodeimage.build import plan

    minor, patch, published = supported.minor, supported.patch, supported.published
    if policy not in POLICIES:
        raise AuthprobeError(f"image policy '{policy}' is unknown: use one of "
                             f"{', '.join(POLICIES)}")
    current = plan(supported).tag
    if policy in ("auto", "local"):
        if published and docker.image_exists(published):
            return ImageChoice(minor, "published", published, supported.published_patch,
                               "already in the Docker engine")
        if docker.image_exists(current):
            return ImageChoice(minor, "local", current, patch,
                               "an offline build with the current inputs is in the engine")
        if policy == "local":
            older = _newest_local_build(patch)
            if older:
                return ImageChoice(minor, "local", older, patch,
                                   "the newest offline build in the engine (its inputs differ "
                                   "from the current ones)")
            raise AuthprobeError(
                f"no local node image for Kubernetes {minor}: build one with `authprobe "
                f"build-image --k8s-version {minor}`, or use --image-policy auto")
    if policy == "pull" or (policy == "auto" and registry and published):
        if not published:
            raise AuthprobeError(
                f"kind publishes no node image for Kubernetes {minor}"
                + (f" ({supported.published_note})" if supported.published_note else "")
                + ": use --image-policy build (or auto)")
        return ImageChoice(minor, "published", published, supported.published_patch,
                           "pulled from the registry" if policy == "pull" else
                           "no local image; the registry answers")
    why = ("asked for" if policy == "build" else
           "no local image and no published one for this minor" if not published else
           "no local image and no registry answers")
    return ImageChoice(minor, "build", current, patch, f"offline build, {why}")


def given(ref: str) -> ImageChoice:
    """An image named with --kind-image: its version is read from the image itself."""
    if not docker.image_exists(ref):
        pulled = docker.docker("pull", ref, timeout=calls().image_pull_small)
        if pulled.returncode:
            raise AuthprobeError(f"--kind-image {ref} is not in the Docker engine and `docker "
                                 f"pull` failed: {pulled.stderr.strip()[-200:]}")
    version = read_facts(ref).kube_version
    return ImageChoice(version.minor_str, "given", ref, version, "named with --kind-image")


def prepare(choice: ImageChoice, supported: SupportedVersion | None) -> ImageFacts:
    """Make the chosen image present in the engine (build or pull it); read its facts."""
    if choice.source == "build":
        from ..nodeimage import ensure_node_image

        ref = ensure_node_image(supported)
    else:
        ref = choice.ref
        if not docker.image_exists(ref):
            with step(f"pulling {ref}", expect=60):
                docker.docker("pull", ref, timeout=calls().image_pull, check=f"docker pull {ref}")
    facts = read_facts(ref)
    if facts.kube_version != choice.version:
        raise AuthprobeError(f"node image {ref} holds Kubernetes {facts.kube_version}, not "
                             f"{choice.version}")
    return facts


def upgrade_source(choice: ImageChoice, registry: bool) -> str:
    """Where the second minor's artifacts of an upgrade image come from: the published
    images when the first minor runs the published image and a registry answers, else the
    offline build."""
    return "published" if choice.source == "published" and registry else "build"


def prepare_upgrade(base: ImageFacts, choice: ImageChoice, target: SupportedVersion,
                    source: str) -> ImageFacts:
    """The image of ``base`` that can upgrade to ``target`` (built when missing)."""
    from .. import upgradeimage
    from ..model.versions import version_table
    from ..nodeimage.components import containerd_major

    facts = version_table().facts_for(base.kube_version)
    # ctr pins imported images from containerd 2 on; a published image has containerd 2.
    pin = choice.source != "build" or containerd_major(facts.containerd) >= 2
    ref = upgradeimage.ensure(base.ref, base.image_id, base.kube_version, target, source, pin)
    found = read_facts(ref)
    wanted = upgradeimage.target_version(target, source)
    if found.kube_version != base.kube_version or found.upgrade_to != wanted:
        raise AuthprobeError(f"upgrade image {ref} holds Kubernetes {found.kube_version} "
                             f"upgrading to {found.upgrade_to}, not {base.kube_version} to "
                             f"{wanted}")
    return found


def read_facts(ref: str) -> ImageFacts:
    """What the harness needs to know about a node image present in the engine."""
    from ..nodeimage.build import DASHBOARD_LABEL
    from ..upgradeimage import UPGRADE_LABEL

    details = docker.image_inspect(ref)
    if details is None:
        raise AuthprobeError(f"node image {ref} is not in the Docker engine")
    labels = (details.get("Config") or {}).get("Labels") or {}
    probe = docker.docker(
        "run", "--rm", "--network", "none", "--entrypoint", "/bin/sh", ref, "-c",
        "cat /kind/version; test -f /kind/manifests/default-cni.yaml && echo default-cni")
    lines = probe.stdout.split()
    if probe.returncode not in (0, 1) or not lines:
        raise AuthprobeError(f"cannot read /kind/version from node image {ref}: "
                             f"{(probe.stderr.strip().splitlines() or [probe.returncode])[-1]}")
    return ImageFacts(ref=ref, image_id=details.get("Id", ""),
                      kube_version=KubeVersion.parse(lines[0]),
                      default_cni="default-cni" in lines,
                      dashboard_image=labels.get(DASHBOARD_LABEL) or None,
                      upgrade_to=(KubeVersion.parse(labels[UPGRADE_LABEL])
                                  if labels.get(UPGRADE_LABEL) else None))
