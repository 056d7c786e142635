"""``authprobe profile import CONFIG --files DIR --into PROFILES_DIR --name ID [--pod POD]
[--rbac DIR] [--access FILE]``:
a team's cluster as a profile of its own (:mod:`authprobe.team.importer`).

The profile is loaded and rendered at its minor, as a run would, before it is written; a
profile file already there is replaced only with ``--replace``. The hand edits and what was
left out are printed, one line each, and kept as comments at the head of the file.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from ..errors import AuthprobeError
from ..model.profiles import load_profile
from ..model.rbac import load_rbac
from ..model.versions import resolve
from ..paths import clusters_dir
from ..team.importer import import_profile, profile_text, read_pod
from ..team.kubeadm import read_config

HELP = "make a profile from a cluster's kubeadm configuration (and its running kube-apiserver)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    imp = actions.add_parser(
        "import", help="write a profile from a kubeadm configuration",
        description="Write a profile from the kube-system/kubeadm-config ConfigMap (kubectl -n "
                    "kube-system get configmap kubeadm-config -o yaml) or a kubeadm config file "
                    "(v1beta3 or v1beta4), the files its kube-apiserver flags name, and the "
                    "running kube-apiserver's mirror pod for its hand edits.")
    imp.add_argument("config", type=Path, metavar="CONFIG",
                     help="the kubeadm-config ConfigMap as YAML, or a kubeadm config file")
    imp.add_argument("--files", type=Path, required=True, metavar="DIR",
                     help="the files the flags name (authentication and authorization "
                          "configuration, webhook kubeconfigs), by file name")
    imp.add_argument("--pod", type=Path, metavar="POD",
                     help="the mirror pod: kubectl -n kube-system get pod kube-apiserver-<node> "
                          "-o yaml; its flags and probes that kubeadm does not render are hand "
                          "edits")
    imp.add_argument("--into", type=Path, required=True, metavar="PROFILES_DIR",
                     help="the team's profiles folder (authprobe_profiles, --profiles-dir)")
    imp.add_argument("--name", required=True, metavar="ID", help="the profile's id")
    imp.add_argument("--description", help="what the profile is (default: where it is from)")
    imp.add_argument("--rbac", type=Path, metavar="DIR",
                     help="the team's RBAC manifests (a folder), copied beside the profiles "
                          "folder into <ID>/rbac and applied to every cluster of the profile")
    imp.add_argument("--access", type=Path, metavar="FILE",
                     help="the team's access table, copied beside the profiles folder into "
                          "<ID>/access.yaml and checked on every cluster of the profile")
    imp.add_argument("--replace", action="store_true",
                     help="replace a profile file of that name in PROFILES_DIR (and its "
                          "copied RBAC folder and access table)")


def _check_renders(path: Path, minor: str) -> None:
    """Load the profile and render it at its minor, as a run does."""
    from ..harness.render import RenderInput, render
    from ..model.versions import version_table

    profile = load_profile(path)
    version = resolve(minor).patch
    render(RenderInput(profile.at(version), version, version_table().facts_for(version),
                       image="authprobe/node:import-check", kind_version="import-check"))


class _TeamRbac:
    """The team's RBAC folder and access table, copied into ``home`` (beside the profiles
    folder) and named by the profile's ``rbac`` part; both are loaded as a run loads them
    before anything is written."""

    def __init__(self, home: Path, manifests: Path | None, access: Path | None) -> None:
        self.home, self.manifests, self.access = home, manifests, access

    def part(self, absolute: bool) -> dict | None:
        """The profile's ``rbac`` part: the sources' paths to load them where they are,
        else the copies' paths relative to the profile file."""
        part = {}
        if self.manifests is not None:
            part["manifests"] = str(self.manifests.resolve()) if absolute else \
                f"../{self.home.name}/rbac"
        if self.access is not None:
            part["access"] = str(self.access.resolve()) if absolute else \
                f"../{self.home.name}/access.yaml"
        return part or None

    def check(self, target: Path, replace: bool) -> None:
        if self.manifests is not None and not self.manifests.is_dir():
            raise AuthprobeError(f"--rbac {self.manifests} is not a folder: give the folder "
                                 "of the team's RBAC manifests")
        if self.access is not None and not self.access.is_file():
            raise AuthprobeError(f"--access {self.access} is not a file: give the team's "
                                 "access table")
        if self.part(absolute=True) is not None:
            load_rbac(target, self.part(absolute=True))
            if self.home.exists() and not replace:
                raise AuthprobeError(f"{self.home} exists: pass --replace to write over the "
                                     "RBAC folder and access table there, or pick another "
                                     "--name")

    def copy(self) -> None:
        if self.manifests is not None:
            shutil.rmtree(self.home / "rbac", ignore_errors=True)
            shutil.copytree(self.manifests, self.home / "rbac")
        if self.access is not None:
            self.home.mkdir(exist_ok=True)
            shutil.copyfile(self.access, self.home / "access.yaml")

    def said(self) -> list[str]:
        lines = []
        if self.manifests is not None:
            lines.append(f"rbac: {self.manifests} copied to {self.home / 'rbac'}")
        if self.access is not None:
            lines.append(f"access table: {self.access} copied to {self.home / 'access.yaml'}")
        return lines


def run(args: argparse.Namespace) -> int:
    if not args.files.is_dir():
        raise AuthprobeError(f"--files {args.files} is not a folder: give the folder the files "
                             "the flags name were copied into")
    if not args.into.is_dir():
        raise AuthprobeError(f"--into {args.into} is not a folder: give the team's profiles "
                             "folder")
    target = args.into / f"{args.name}.yaml"
    if (clusters_dir() / "profiles" / target.name).exists():
        raise AuthprobeError(f"'{args.name}' is a profile authprobe ships: pick another --name")
    if target.exists() and not args.replace:
        raise AuthprobeError(f"{target} exists: pass --replace to write over it, or pick "
                             "another --name")
    team = _TeamRbac(args.into.parent / args.name, args.rbac, args.access)
    team.check(target, replace=args.replace)
    config = read_config(args.config)
    pod = read_pod(args.pod) if args.pod is not None else None
    imported = import_profile(config, args.files, args.name, pod, args.description)
    resolve(imported.minor)  # one line when authprobe does not run that minor
    with tempfile.TemporaryDirectory(prefix=".import-", dir=args.into) as staging:
        staged = Path(staging) / target.name
        staged.write_text(profile_text(imported, team.part(absolute=True)))
        try:
            _check_renders(staged, imported.minor)
        except AuthprobeError as err:
            raise AuthprobeError(
                f"the profile imported from {args.config} does not load or render, so "
                f"{target} is not written: "
                + err.one_line().replace(f"profile file {staged}: ", "")) from None
        team.copy()
        staged.write_text(profile_text(imported, team.part(absolute=False)))
        staged.replace(target)
    for line in team.said():
        print(line)
    for line in imported.hand_edits:
        print(f"hand edit: {line}")
    for line in imported.left_out:
        print(f"left out: {line}")
    print(f"{target}: profile '{args.name}' from Kubernetes {config.kubernetes_version} "
          f"({len(imported.hand_edits)} hand edits, {len(imported.left_out)} settings left out; "
          f"files read: {', '.join(imported.files_read) or 'none'})")
    return 0
