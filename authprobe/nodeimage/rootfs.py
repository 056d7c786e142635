"""The node's Debian root filesystem (debootstrap), and small root filesystems for images."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from ..errors import AuthprobeError
from ..host import docker
from ..model.timeouts import calls
from . import gomod

DEBIAN_MIRROR = "http://deb.debian.org/debian"
# What kind's clean-install removes after installing packages.
CLEANUP_PATHS = (
    "var/cache/debconf", "var/lib/apt/lists", "var/cache/apt/archives", "var/log",
    "tmp", "var/tmp", "usr/share/doc", "usr/share/doc-base", "usr/share/man",
    "usr/share/local", "usr/share/info", "usr/share/locale",
)


def debootstrap(suite: str, packages: list[str], tree: Path, log: Path) -> None:
    """A minbase ``suite`` tree at ``tree`` with ``packages``, cleaned like kind's base image."""
    if shutil.which("debootstrap") is None:
        raise AuthprobeError("debootstrap is not installed: apt-get install debootstrap")
    if tree.exists():
        shutil.rmtree(tree)
    tree.parent.mkdir(parents=True, exist_ok=True)
    gomod.run_logged(
        ["debootstrap", "--variant=minbase", f"--include={','.join(packages)}", suite,
         str(tree), DEBIAN_MIRROR],
        log, f"debootstrap of Debian {suite}", env=None, timeout=calls().image_build_step,
    )
    for relative in CLEANUP_PATHS:
        path = tree / relative
        if path.is_dir():
            for child in path.iterdir():
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child)
                else:
                    child.unlink()
    (tree / "tmp").chmod(0o1777)


def trim_systemd(tree: Path) -> None:
    """Drop the units a container node must not start, as kind's base image does."""
    for pattern in (
        "lib/systemd/system/sysinit.target.wants/systemd-tmpfiles-setup.service",
        "lib/systemd/system/multi-user.target.wants/*",
        "etc/systemd/system/*.wants/*",
        "lib/systemd/system/local-fs.target.wants/*",
        "lib/systemd/system/sockets.target.wants/*udev*",
        "lib/systemd/system/sockets.target.wants/*initctl*",
        "lib/systemd/system/basic.target.wants/*",
    ):
        for path in tree.glob(pattern):
            if path.is_symlink() or path.is_file():
                path.unlink()
    journald = tree / "etc/systemd/journald.conf"
    text = journald.read_text() if journald.exists() else "[Journal]\n"
    if "ReadKMsg=no" not in text:
        journald.write_text(text.rstrip("\n") + "\nReadKMsg=no\n")
    init = tree / "sbin/init"
    if init.is_symlink() or init.exists():
        init.unlink()
    init.symlink_to("/usr/lib/systemd/systemd")


def copy_tree(source: Path, target: Path) -> None:
    """Copy a root file system, device nodes, owners and links included."""
    if target.exists():
        shutil.rmtree(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(["cp", "-a", str(source), str(target)], capture_output=True, text=True)
    if result.returncode:
        raise AuthprobeError(f"copying {source} failed: {result.stderr.strip()}")


def chroot(tree: Path, args: list[str], log: Path, what: str) -> None:
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    gomod.run_logged(["chroot", str(tree)] + args, log, what, env=env)


def minimal_tree(tree: Path, ca_bundle: Path | None) -> None:
    """The few files a static binary's image needs: users, nsswitch, /tmp, CA bundle."""
    tree.mkdir(parents=True, exist_ok=True)
    (tree / "etc").mkdir(exist_ok=True)
    (tree / "etc/passwd").write_text(
        "root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n"
    )
    (tree / "etc/group").write_text("root:x:0:\nnogroup:x:65534:\n")
    (tree / "etc/nsswitch.conf").write_text("hosts: files dns\n")
    (tree / "tmp").mkdir(exist_ok=True)
    (tree / "tmp").chmod(0o1777)
    (tree / "root").mkdir(exist_ok=True)
    if ca_bundle and ca_bundle.exists():
        (tree / "etc/ssl/certs").mkdir(parents=True, exist_ok=True)
        shutil.copy2(ca_bundle, tree / "etc/ssl/certs/ca-certificates.crt")


def tar_import(tree: Path, tag: str, changes: list[str], log: Path, what: str) -> None:
    """`docker import` of a directory tree, with Dockerfile-style ``changes``."""
    args = ["import"]
    for change in changes:
        args += ["--change", change]
    with log.open("a") as out:
        tar = subprocess.Popen(["tar", "--numeric-owner", "--xattrs", "-C", str(tree), "-c", "."],
                               stdout=subprocess.PIPE, stderr=out)
    result = docker.docker(*args, "-", tag, log=log, stdin=tar.stdout,
                           timeout=calls().image_build_step)
    tar.stdout.close()
    if result.returncode or tar.wait():
        raise AuthprobeError(f"docker import of {what} failed", log_path=str(log))
