"""Node and image parts other than Kubernetes itself, each built from its Go module (or C)."""

from __future__ import annotations

import functools
import shutil
import subprocess
from pathlib import Path

import yaml

from ..errors import AuthprobeError
from ..host.tools import go_binary
from . import gomod

COMPONENTS_FILE = Path(__file__).resolve().parent / "components.yaml"
ETCD_MODULE = "go.etcd.io/etcd/server/v3"
COREDNS_MODULE = "github.com/coredns/coredns"
CONTAINERD_MODULE = "github.com/containerd/containerd/v2"
CRI_TOOLS_MODULE = "sigs.k8s.io/cri-tools"
CNI_MODULE = "github.com/containernetworking/plugins"
CNI_PLUGINS = ("main/ptp", "ipam/host-local", "main/loopback", "meta/portmap")


@functools.lru_cache(maxsize=1)
def components() -> dict:
    return yaml.safe_load(COMPONENTS_FILE.read_text())


def _wrapper(workdir: Path, name: str, module: str, version: str, log: Path,
             extra_files: dict[str, str] | None = None) -> None:
    """A throwaway main module requiring ``module@version``, with its replace and exclude
    directives (those that do not point into its own tree)."""
    info = gomod.download(module, version, log)
    parsed = gomod.read(info.gomod)
    shutil.rmtree(workdir, ignore_errors=True)
    gomod.write_wrapper(workdir, f"authprobe.invalid/{name}", gomod.go_line(parsed),
                        [f"{module}@{version}"],
                        [r for r in gomod.replaces(parsed) if not r.local],
                        gomod.excludes(parsed), gomod.godebug(parsed), log)
    for filename, text in (extra_files or {}).items():
        (workdir / filename).write_text(text)


def etcd_module_version(image_tag: str) -> str:
    """etcd's Go module version from kubeadm's image tag: 3.6.4-0 -> v3.6.4."""
    return "v" + image_tag.split("-", 1)[0].lstrip("v")


def build_etcd(image_tag: str, workdir: Path, outdir: Path, log: Path) -> None:
    version = etcd_module_version(image_tag)
    _wrapper(workdir, "etcd", ETCD_MODULE, version, log)
    outdir.mkdir(parents=True, exist_ok=True)
    gomod.run_logged(
        [go_binary(), "build", "-p", "2", "-trimpath", "-ldflags", "-s -w",
         "-o", str(outdir / "etcd"), ETCD_MODULE],
        log, f"go build of etcd {version}", cwd=workdir,
    )


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


def build_coredns(image_tag: str, workdir: Path, outdir: Path, log: Path) -> None:
    version = "v" + image_tag.lstrip("v")
    plugins = components()["coredns_plugins"]
    _wrapper(workdir, "coredns", COREDNS_MODULE, version, log,
             {"main.go": coredns_main(plugins)})
    outdir.mkdir(parents=True, exist_ok=True)
    gomod.run_logged(
        [go_binary(), "build", "-p", "2", "-trimpath", "-ldflags", "-s -w",
         "-o", str(outdir / "coredns"), "."],
        log, f"go build of CoreDNS {version}", cwd=workdir,
    )


def build_containerd(version: str, workdir: Path, outdir: Path, log: Path) -> None:
    _wrapper(workdir, "containerd", CONTAINERD_MODULE, version, log)
    outdir.mkdir(parents=True, exist_ok=True)
    stamp = (
        f"-s -w -X {CONTAINERD_MODULE}/version.Version={version} "
        f"-X {CONTAINERD_MODULE}/version.Package={CONTAINERD_MODULE}"
    )
    base = [go_binary(), "build", "-p", "2", "-trimpath", "-ldflags", stamp]
    gomod.run_logged(
        base + ["-tags", "urfave_cli_no_docs no_btrfs no_devmapper no_zfs", "-o", f"{outdir}/",
                f"{CONTAINERD_MODULE}/cmd/containerd", f"{CONTAINERD_MODULE}/cmd/ctr"],
        log, f"go build of containerd {version}", cwd=workdir,
    )
    gomod.run_logged(
        base + ["-tags", "urfave_cli_no_docs no_grpc", "-o", f"{outdir}/",
                f"{CONTAINERD_MODULE}/cmd/containerd-shim-runc-v2"],
        log, f"go build of containerd-shim-runc-v2 {version}", cwd=workdir,
    )


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


def build_pause(kube_source: Path, pause_tag: str, outdir: Path, log: Path) -> None:
    """The pause binary from Kubernetes' own C source, linked statically."""
    source = kube_source / "build" / "pause" / "linux" / "pause.c"
    if not source.exists():
        raise AuthprobeError(f"pause source not found in the Kubernetes module: {source}")
    outdir.mkdir(parents=True, exist_ok=True)
    gomod.run_logged(
        ["gcc", "-Os", "-Wall", "-static", f"-DVERSION=v{pause_tag}", "-o",
         str(outdir / "pause"), str(source)],
        log, "gcc -static of pause", env=None,
    )
    subprocess.run(["strip", str(outdir / "pause")], check=False)
