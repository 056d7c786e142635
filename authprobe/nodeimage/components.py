"""Node and image parts other than Kubernetes itself, each built from its Go module (or C)."""

from __future__ import annotations

import functools
import shutil
import subprocess
from pathlib import Path

import yaml

from ..errors import AuthprobeError
from ..host.tools import go_binary
from ..model.timeouts import calls
from . import gomod

COMPONENTS_FILE = Path(__file__).resolve().parent / "components.yaml"
ETCD_MODULE = "go.etcd.io/etcd/server/v3"
COREDNS_MODULE = "github.com/coredns/coredns"
CONTAINERD_MODULE = "github.com/containerd/containerd"  # /v<major> from 2.0 on
CONTAINERD_COMMANDS = ("containerd", "ctr", "containerd-shim-runc-v2")
CRI_TOOLS_MODULE = "sigs.k8s.io/cri-tools"
CNI_MODULE = "github.com/containernetworking/plugins"
CNI_PLUGINS = ("main/ptp", "ipam/host-local", "main/loopback", "meta/portmap")


@functools.lru_cache(maxsize=1)
def components() -> dict:
    return yaml.safe_load(COMPONENTS_FILE.read_text())


def _wrapper(workdir: Path, name: str, module: str, version: str, log: Path,
             extra_files: dict[str, str] | None = None,
             extra_replaces: list[gomod.Replace] | None = None) -> None:
    """A throwaway main module requiring ``module@version``, with its replace and exclude
    directives (those that do not point into its own tree), plus ``extra_replaces``."""
    info = gomod.download(module, version, log)
    parsed = gomod.read(info.gomod)
    shutil.rmtree(workdir, ignore_errors=True)
    gomod.write_wrapper(workdir, f"authprobe.invalid/{name}", gomod.go_line(parsed),
                        [f"{module}@{version}"],
                        [r for r in gomod.replaces(parsed) if not r.local]
                        + list(extra_replaces or []),
                        gomod.excludes(parsed), gomod.godebug(parsed), log)
    for filename, text in (extra_files or {}).items():
        (workdir / filename).write_text(text)


def etcd_module_version(image_tag: str) -> str:
    """etcd's Go module version from kubeadm's image tag: 3.6.4-0 -> v3.6.4."""
    return "v" + image_tag.split("-", 1)[0].lstrip("v")


def etcd_source(image_tag: str, module: str | None) -> tuple[str, str]:
    """(module, version) of the etcd server: versions.yaml ``etcd_module`` when set
    ("module@version"), else go.etcd.io/etcd/server/v3 at the image tag's version."""
    if module:
        path, _, version = module.partition("@")
        return path, version
    return ETCD_MODULE, etcd_module_version(image_tag)


def build_etcd(image_tag: str, workdir: Path, outdir: Path, log: Path,
               module: str | None = None, replaces: tuple[str, ...] = ()) -> None:
    """etcd's server for kubeadm's etcd image tag; both module paths have it at their root."""
    path, version = etcd_source(image_tag, module)
    _wrapper(workdir, "etcd", path, version, log,
             extra_replaces=gomod.replace_entries(replaces) if module else None)
    outdir.mkdir(parents=True, exist_ok=True)
    gomod.run_logged(
        [go_binary(), "build", "-p", "2", "-trimpath", "-ldflags", "-s -w",
         "-o", str(outdir / "etcd"), path],
        log, f"go build of etcd {version}", cwd=workdir,
    )
    check_etcd_version(outdir / "etcd", image_tag, log)


def check_etcd_version(binary: Path, image_tag: str, log: Path) -> None:
    """The built etcd must be the version its image is named for."""
    result = subprocess.run([str(binary), "--version"], capture_output=True, text=True,
                            timeout=calls().tool_version)
    wanted = etcd_module_version(image_tag).lstrip("v")
    if f"etcd Version: {wanted}\n" not in result.stdout + "\n":
        raise AuthprobeError(f"built etcd is not {wanted} (image tag {image_tag}): "
                             f"{result.stdout.strip().splitlines()[:1]}", log_path=str(log))


def coredns_main(plugins: list[str]) -> str:
    """main.go of a CoreDNS build with only ``plugins`` compiled in."""
    imports = [f"{COREDNS_MODULE}/core/dnsserver"]
    imports += [f"{COREDNS_MODULE}/plugin/{name}" for name in plugins]
    lines = "\n".join(f'\t_ "{path}"' for path in imports)
    return (
        "// CoreDNS with the plugins a kubeadm cluster's Corefile uses.\n"
        "package main\n\n"
        f'import (\n\t"{COREDNS_MODULE}/coremain"\n{lines}\n)\n\n'
        "func main() {\n\tcoremain.Run()\n}\n"
    )


def build_coredns(image_tag: str, workdir: Path, outdir: Path, log: Path,
                  replaces: tuple[str, ...] = ()) -> None:
    version = "v" + image_tag.lstrip("v")
    plugins = components()["coredns_plugins"]
    _wrapper(workdir, "coredns", COREDNS_MODULE, version, log,
             {"main.go": coredns_main(plugins)}, gomod.replace_entries(replaces))
    outdir.mkdir(parents=True, exist_ok=True)
    gomod.run_logged(
        [go_binary(), "build", "-p", "2", "-trimpath", "-ldflags", "-s -w",
         "-o", str(outdir / "coredns"), "."],
        log, f"go build of CoreDNS {version}", cwd=workdir,
    )


def containerd_major(version: str) -> int:
    return int(version.lstrip("v").split(".", 1)[0])


def containerd_module(version: str) -> str:
    """containerd's module path: /v2 from 2.0 on, none before (Go's major version suffix)."""
    major = containerd_major(version)
    return CONTAINERD_MODULE if major < 2 else f"{CONTAINERD_MODULE}/v{major}"


def containerd_builds(version: str) -> list[tuple[str, list[str]]]:
    """(build tags, commands) of each go build of containerd ``version``."""
    module = containerd_module(version)
    commands = [f"{module}/cmd/{name}" for name in CONTAINERD_COMMANDS]
    if module == CONTAINERD_MODULE:
        # 1.x: one set of tags for all three (aufs is a built-in snapshotter there).
        return [("no_btrfs no_devmapper no_zfs no_aufs urfave_cli_no_docs osusergo netgo "
                 "static_build", commands)]
    return [("urfave_cli_no_docs no_btrfs no_devmapper no_zfs", commands[:2]),
            ("urfave_cli_no_docs no_grpc", commands[2:])]


def build_containerd(version: str, workdir: Path, outdir: Path, log: Path) -> None:
    module = containerd_module(version)
    _wrapper(workdir, "containerd", module, version, log)
    outdir.mkdir(parents=True, exist_ok=True)
    stamp = f"-s -w -X {module}/version.Version={version} -X {module}/version.Package={module}"
    base = [go_binary(), "build", "-p", "2", "-trimpath", "-ldflags", stamp]
    for tags, commands in containerd_builds(version):
        names = ", ".join(command.rsplit("/", 1)[-1] for command in commands)
        gomod.run_logged(base + ["-tags", tags, "-o", f"{outdir}/", *commands], log,
                         f"go build of {names} {version}", cwd=workdir)


def _go_install(packages: list[str], outdir: Path, log: Path, what: str,
                ldflags: str = "-s -w") -> None:
    outdir.mkdir(parents=True, exist_ok=True)
    env = dict(gomod.go_env(), GOBIN=str(outdir), GOFLAGS="-buildvcs=false")
    gomod.run_logged(
        [go_binary(), "install", "-p", "2", "-trimpath", "-ldflags", ldflags] + packages,
        log, what, env=env, cwd=Path("/"),
    )


def build_crictl(version: str, outdir: Path, log: Path) -> None:
    _go_install(
        [f"{CRI_TOOLS_MODULE}/cmd/crictl@{version}"], outdir, log,
        f"go install of crictl {version}",
        ldflags=f"-s -w -X {CRI_TOOLS_MODULE}/pkg/version.Version={version.lstrip('v')}",
    )


def build_cni_plugins(version: str, outdir: Path, log: Path) -> None:
    _go_install(
        [f"{CNI_MODULE}/plugins/{plugin}@{version}" for plugin in CNI_PLUGINS], outdir, log,
        f"go install of CNI plugins {version}",
        ldflags=f"-s -w -X {CNI_MODULE}/pkg/utils/buildversion.BuildVersion={version}",
    )


PAUSE_SOURCES = (Path("build/pause/linux/pause.c"), Path("build/pause/pause.c"))


def pause_source(kube_source: Path) -> Path:
    """pause.c in the Kubernetes tree: build/pause/linux/ (1.30 on), build/pause/ (1.19)."""
    for relative in PAUSE_SOURCES:
        if (kube_source / relative).exists():
            return kube_source / relative
    raise AuthprobeError("pause source not found in the Kubernetes module "
                         f"{kube_source}: none of {', '.join(map(str, PAUSE_SOURCES))}")


def build_pause(kube_source: Path, pause_tag: str, outdir: Path, log: Path) -> None:
    """The pause binary from Kubernetes' own C source, linked statically."""
    source = pause_source(kube_source)
    outdir.mkdir(parents=True, exist_ok=True)
    gomod.run_logged(
        ["gcc", "-Os", "-Wall", "-static", f"-DVERSION=v{pause_tag}", "-o",
         str(outdir / "pause"), str(source)],
        log, "gcc -static of pause", env=None,
    )
    subprocess.run(["strip", str(outdir / "pause")], check=False)
