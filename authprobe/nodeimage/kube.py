"""Kubernetes binaries from the k8s.io/kubernetes Go module, and the images kubeadm expects."""

from __future__ import annotations

import subprocess
from pathlib import Path

from ..errors import AuthprobeError
from ..versions import KubeVersion
from . import gomod

KUBE_MODULE = "k8s.io/kubernetes"
COMMANDS = (
    "kubeadm",
    "kubelet",
    "kubectl",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kube-proxy",
)
BUILD_TAGS = "selinux,notest,grpcnotrace"
VERSION_PACKAGES = ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version")


def staging_modules(gomod_text: str) -> list[str]:
    """The k8s.io modules k/k replaces with its ./staging tree (each needs a pinned v0.X.Y)."""
    parsed = gomod.parse_gomod(gomod_text)
    return sorted(path for path, target, _ in parsed["replace"] if target.startswith("./staging/"))


def wrapper_gomod(version: KubeVersion, gomod_text: str) -> str:
    """go.mod of the throwaway main module that builds Kubernetes ``version``."""
    parsed = gomod.parse_gomod(gomod_text)
    staging = f"v0.{version.minor}.{version.patch}"
    replaces = [(path, f"{path} {staging}") for path in staging_modules(gomod_text)]
    replaces += [
        (path, f"{target} {target_version}" if target_version else target)
        for path, target, target_version in parsed["replace"]
        if not target.startswith("./")
    ]
    return gomod.render_wrapper_gomod(
        "authprobe.invalid/kubernetes-commands",
        parsed["go"],
        parsed["godebug"],
        [(KUBE_MODULE, version.tag)],
        replaces,
        parsed["exclude"],
    )


def version_ldflags(version: KubeVersion, build_date: str) -> str:
    """The -X flags that make every binary report exactly ``version``."""
    values = {
        "gitVersion": version.tag,
        "gitMajor": str(version.major),
        "gitMinor": str(version.minor),
        "gitTreeState": "clean",
        "buildDate": build_date,
    }
    flags = ["-s", "-w"]
    for package in VERSION_PACKAGES:
        flags += [f"-X {package}.{key}={value}" for key, value in values.items()]
    return " ".join(flags)


def build_commands(version: KubeVersion, workdir: Path, outdir: Path, log: Path) -> None:
    """Build all COMMANDS for ``version`` into ``outdir`` with one go build."""
    info = gomod.download(KUBE_MODULE, version.tag, log)
    gomod_text = info.gomod.read_text()
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "go.mod").write_text(wrapper_gomod(version, gomod_text))
    (workdir / "go.sum").touch()
    outdir.mkdir(parents=True, exist_ok=True)
    cmd = [
        gomod.go_binary(), "build", "-p", "2", "-trimpath", "-tags", BUILD_TAGS,
        "-ldflags", version_ldflags(version, info.time or "1970-01-01T00:00:00Z"),
        "-o", f"{outdir}/",
    ] + [f"{KUBE_MODULE}/cmd/{name}" for name in COMMANDS]
    gomod.run_logged(cmd, log, f"go build of Kubernetes {version.tag} commands", cwd=workdir)
    missing = [name for name in COMMANDS if not (outdir / name).exists()]
    if missing:
        raise AuthprobeError(
            f"go build of Kubernetes {version.tag} produced no {', '.join(missing)}",
            log_path=str(log),
        )


def reported_version(binary: Path) -> str:
    """The version a built command prints (kubeadm: `version -o short`, others: --version)."""
    args = ["version", "-o", "short"] if binary.name == "kubeadm" else ["--version"]
    out = subprocess.run([str(binary), *args], capture_output=True, text=True, timeout=30).stdout
    return out.strip().rsplit(" ", 1)[-1] if out.strip() else ""


def image_list(kubeadm: Path, version: KubeVersion) -> list[str]:
    """The images kubeadm uses for ``version``, as it prints them."""
    result = subprocess.run(
        [str(kubeadm), "config", "images", "list", "--kubernetes-version", version.tag],
        capture_output=True, text=True, timeout=60,
    )
    if result.returncode:
        raise AuthprobeError(
            f"kubeadm config images list failed: {result.stderr.strip().splitlines()[-1:]}"
        )
    return parse_image_list(result.stdout)


def parse_image_list(text: str) -> list[str]:
    """Image references from `kubeadm config images list` output (one per line)."""
    images = []
    for line in text.splitlines():
        line = line.strip()
        if not line or " " in line or ":" not in line.rsplit("/", 1)[-1]:
            continue
        images.append(line)
    return images


def image_name(reference: str) -> str:
    """Short name of an image reference: registry.k8s.io/coredns/coredns:v1.12.1 -> coredns."""
    return reference.rsplit("/", 1)[-1].split(":", 1)[0].split("@", 1)[0]


def image_tag(reference: str) -> str:
    return reference.rsplit("/", 1)[-1].split(":", 1)[1]


def images_by_name(images: list[str]) -> dict[str, str]:
    return {image_name(ref): ref for ref in images}


def module_source(version: KubeVersion, log: Path) -> Path:
    """The extracted k8s.io/kubernetes module (for build/pause/linux/pause.c)."""
    info = gomod.download(KUBE_MODULE, version.tag, log)
    if info.dir is None:
        raise AuthprobeError(
            f"{KUBE_MODULE}@{version.tag} has no extracted source", log_path=str(log)
        )
    return info.dir
