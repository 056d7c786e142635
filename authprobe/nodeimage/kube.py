"""Kubernetes binaries from the k8s.io/kubernetes Go module, and the images kubeadm expects."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from ..errors import AuthprobeError
from ..host.tools import go_binary
from ..model.timeouts import calls
from ..model.versions import KubeVersion, VersionFacts
from . import gomod, openapi

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
VERSION_PACKAGES = ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version")


def wrapper(version: KubeVersion, info: gomod.ModuleInfo, facts: VersionFacts, workdir: Path,
            log: Path, source: Path | None = None) -> None:
    """The throwaway main module that builds Kubernetes ``version``: every module k/k takes
    from its ./staging tree pinned to v0.<minor>.<patch>, k/k's other replacements as they
    are, plus the version's own (versions.yaml ``go_replaces``); k8s.io/kubernetes itself
    from ``source`` when the build adds generated files to a copy of it."""
    parsed = gomod.read(info.gomod)
    staging = f"v0.{version.minor}.{version.patch}"
    replace = [gomod.Replace(r.old, None, r.old, staging) if r.new.startswith("./staging/")
               else r for r in gomod.replaces(parsed) if not r.local or
               r.new.startswith("./staging/")]
    replace += gomod.replace_entries(facts.go_replaces)
    if source is not None:
        # Relative, as the binaries' build info records it: builds stay byte-identical
        # whatever folder the workspace is in.
        relative = os.path.relpath(source, workdir)
        replace.append(gomod.Replace(KUBE_MODULE, None, relative if relative.startswith(".")
                                     else f"./{relative}", None))
    gomod.write_wrapper(workdir, "authprobe.invalid/kubernetes-commands",
                        facts.wrapper_go or gomod.go_line(parsed),
                        [f"{KUBE_MODULE}@{version.tag}"], replace, gomod.excludes(parsed),
                        gomod.godebug(parsed), log)


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


def build_commands(version: KubeVersion, facts: VersionFacts, workdir: Path, outdir: Path,
                   log: Path) -> None:
    """Build all COMMANDS for ``version`` into ``outdir`` with one go build."""
    info = gomod.download(KUBE_MODULE, version.tag, log)
    shutil.rmtree(workdir, ignore_errors=True)
    if facts.generate_openapi:
        with_generated_openapi(version, info, facts, workdir, log)
    else:
        wrapper(version, info, facts, workdir, log)
    outdir.mkdir(parents=True, exist_ok=True)
    cmd = [
        go_binary(), "build", "-p", "2", "-trimpath", "-tags", facts.build_tags,
        "-ldflags", version_ldflags(version, info.time or "1970-01-01T00:00:00Z"),
        "-o", f"{outdir}/",
    ] + [f"{KUBE_MODULE}/cmd/{name}" for name in COMMANDS]
    gomod.run_logged(cmd, log, f"go build of Kubernetes {version.tag} commands", cwd=workdir)
    missing = [name for name in COMMANDS if not (outdir / name).exists()]
    if missing:
        raise AuthprobeError(f"go build of Kubernetes {version.tag} produced no "
                             f"{', '.join(missing)}", log_path=str(log))


def with_generated_openapi(version: KubeVersion, info: gomod.ModuleInfo, facts: VersionFacts,
                           workdir: Path, log: Path) -> None:
    """The build module for a tree without pkg/generated/openapi: k8s.io/kubernetes from a
    writable copy (next to ``workdir``) that gets the generated file."""
    if info.dir is None:
        raise AuthprobeError(f"{KUBE_MODULE}@{version.tag} has no extracted source",
                             log_path=str(log))
    source = openapi.writable_copy(info.dir, workdir.with_name(f"{workdir.name}-source"))
    wrapper(version, info, facts, workdir, log, source)
    commands = [f"{KUBE_MODULE}/cmd/{name}" for name in COMMANDS] + [openapi.OPENAPI_GEN]
    (workdir / "tools.go").write_text(openapi.tools_file(commands))
    gomod.run_logged([go_binary(), "mod", "tidy"], log,
                     f"go mod tidy of the Kubernetes {version.tag} build module", cwd=workdir)
    openapi.generate(workdir, source, gomod.read(info.gomod),
                     workdir.with_name(f"{workdir.name}-openapi"), log)


def reported_version(binary: Path) -> str:
    """The version a built command prints (kubeadm: `version -o short`, others: --version)."""
    args = ["version", "-o", "short"] if binary.name == "kubeadm" else ["--version"]
    out = subprocess.run([str(binary), *args], capture_output=True, text=True,
                         timeout=calls().tool_version).stdout
    return out.strip().rsplit(" ", 1)[-1] if out.strip() else ""


def image_list(kubeadm: Path, version: KubeVersion) -> list[str]:
    """The images kubeadm uses for ``version``, as it prints them."""
    result = subprocess.run(
        [str(kubeadm), "config", "images", "list", "--kubernetes-version", version.tag],
        capture_output=True, text=True, timeout=calls().host_command,
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
    """The extracted k8s.io/kubernetes module (for the pause source)."""
    info = gomod.download(KUBE_MODULE, version.tag, log)
    if info.dir is None:
        raise AuthprobeError(
            f"{KUBE_MODULE}@{version.tag} has no extracted source", log_path=str(log)
        )
    return info.dir
