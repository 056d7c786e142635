"""The README's tables of supported minors and of profiles, generated from
``clusters/versions.yaml`` and ``clusters/profiles/*.yaml``.

Each table sits between two markers in the README::

    <!-- generated: minors -->
    ...
    <!-- end generated: minors -->

``python -m authprobe.readme`` rewrites them in ``README.md`` (``--check``: only say whether
they are current, exit status 1 when not); a unit test fails when they drift.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path

from . import paths
from .errors import AuthprobeError
from .model.profiles import (
    AUTH_FILE_REF,
    AUTHENTICATION_FILE,
    AUTHORIZATION_FILE,
    Profile,
    ProfileAt,
    flatten,
    load_dirs,
)
from .model.versions import KubeVersion, SupportedVersion, version_key, version_table
from .report.grid import profiles_in
from .servers import apiconfig

COMMAND = "python -m authprobe.readme"


def minors_table(minors: dict[str, SupportedVersion], default: str, kind: str) -> list[str]:
    """One row per supported minor: the patch the offline builder builds, the image kind
    publishes for it (or why there is none)."""
    out = [f"| minor | offline build | published image (kind {kind}) |", "|---|---|---|"]
    for minor in sorted(minors, key=version_key):
        row = minors[minor]
        name = f"{minor} (default)" if minor == default else minor
        image = (f"v{row.published_patch}" if row.published_patch else
                 f"none: {row.published_note}" if row.published_note else "none")
        out.append(f"| {name} | v{row.patch} | {image} |")
    return out


def _flag(name: str, value: str) -> str:
    """``--name=value``, an auth file named by its file name."""
    return f"--{name}={AUTH_FILE_REF.sub(lambda m: m.group(1), value)}"


def _flags(at: ProfileAt) -> str:
    """The profile's kube-apiserver flags and auth files, and its kubelet settings."""
    flags = " ".join(_flag(name, value) for name, value in at.extra_args.items())
    files = "; ".join(_file(name, doc) for name, doc in _documents(at).items())
    kubelet = " ".join(f"{path}: {json.dumps(value)}"
                       for path, value in flatten(dict(at.kubelet_config)).items())
    return "; ".join(p for p in (f"`{flags}`" if flags else "kubeadm defaults", files,
                                 f"kubelet `{kubelet}`" if kubelet else "") if p)


def _documents(at: ProfileAt) -> dict[str, dict]:
    """The profile's auth files, and those the harness writes from its issuer and authorizer
    parts in the apiVersion the minor takes (an issuer reached through the --oidc-* flags has
    none: its flags name it)."""
    documents = dict(at.auth_files)
    issuer = None if at.issuer_by_flags else at.issuer
    for name, kind, part in ((AUTHENTICATION_FILE, apiconfig.AUTHENTICATION, issuer),
                             (AUTHORIZATION_FILE, apiconfig.AUTHORIZATION, at.authorizer)):
        if part is not None and not at.na:
            documents[name] = {"kind": kind,
                               "apiVersion": apiconfig.config_api(kind, at.version).api_version}
    return documents


def _file(name: str, doc: dict) -> str:
    return f"`{name}`: {doc.get('kind')} `{doc.get('apiVersion')}`"


def _probe(name: str, probe) -> str:
    """One probe the profile changes: where it points, and its timings."""
    get = probe.http_get
    where = (f"on `{str(get.get('scheme', 'HTTPS')).lower()}://{get.get('host', '<node>')}:"
             f"{get.get('port', '<secure port>')}{get.get('path', '')}`" if get else "")
    timing = ", ".join(f"{key} {value}" for key, value in probe.timing.items())
    return " ".join(part for part in (name.removesuffix("Probe"), where, timing) if part)


def _probes(at: ProfileAt) -> str:
    if not at.probes:
        return "kubeadm defaults"
    made = " (by hand edit of the manifest)" if at.probes_by == "hand-edit" else ""
    return "; ".join(_probe(name, probe) for name, probe in at.probes.items()) + made


def _differences(at: ProfileAt, newest: ProfileAt) -> str:
    """What the profile is on one version where it is not what it is on the newest."""
    if at.na:
        return f"n/a: {at.na}"
    parts = [f"`{_flag(name, value)}`" for name, value in at.extra_args.items()
             if newest.extra_args.get(name) != value]
    parts += [f"without `--{name}`" for name in newest.extra_args if name not in at.extra_args]
    documents, newest_documents = _documents(at), _documents(newest)
    parts += [_file(name, doc) for name, doc in documents.items()
              if newest_documents.get(name) != doc]
    parts += [_probe(name, probe) for name, probe in at.probes.items()
              if newest.probes.get(name) != probe]
    parts += [f"{name.removesuffix('Probe')} at the kubeadm default" for name in newest.probes
              if name not in at.probes]
    text = ", ".join(parts)
    if at.note:
        text = f"{text} ({at.note})" if text else at.note
    return text


def _by_version(profile: Profile, minors: list[str]) -> str:
    """Each run of adjacent supported minors on which the profile differs from its newest
    form (or carries a note), and how."""
    newest = profile.at(KubeVersion.parse(minors[-1]))
    spans: list[tuple[list[str], str]] = []
    for minor in minors:
        text = _differences(profile.at(KubeVersion.parse(minor)), newest)
        if spans and spans[-1][1] == text:
            spans[-1][0].append(minor)
        else:
            spans.append(([minor], text))
    return "; ".join(f"{v[0] if len(v) == 1 else f'{v[0]}–{v[-1]}'}: {text}"
                     for v, text in spans if text)


def profiles_table(profiles: dict[str, Profile], minors: list[str]) -> list[str]:
    """One row per profile: what it changes, its kube-apiserver flags and auth files and its
    probes on the newest supported minor, and how it differs on the others."""
    out = ["| profile | what it changes | kube-apiserver | probes | by version |",
           "|---|---|---|---|---|"]
    for name in profiles_in(sorted(profiles)):
        profile = profiles[name]
        newest = profile.at(KubeVersion.parse(minors[-1]))
        only = " (upgrade runs)" if profile.upgrade_only else ""
        cells = [f"`{name}`{only}", profile.description, _flags(newest), _probes(newest),
                 _by_version(profile, minors)]
        out.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return out


def blocks() -> dict[str, Callable[[], list[str]]]:
    """Each generated block of the README by name, from the shipped data."""
    table = version_table()
    minors = sorted(table.minors, key=version_key)
    return {
        "minors": lambda: minors_table(table.minors, table.default, table.kind),
        "profiles": lambda: profiles_table(load_dirs([paths.clusters_dir() / "profiles"]),
                                           minors),
    }


def marker(name: str) -> re.Pattern:
    return re.compile(rf"(<!-- generated: {name} -->\n)(.*?)(<!-- end generated: {name} -->)",
                      re.S)


def regenerate(text: str, where: str = "README.md") -> str:
    """``text`` with every generated block written anew."""
    for name, make in blocks().items():
        pattern = marker(name)
        if not pattern.search(text):
            raise AuthprobeError(f"{where} has no block '{name}': put its table between "
                                 f"<!-- generated: {name} --> and <!-- end generated: {name} -->")
        body = "\n".join(make()) + "\n"
        text = pattern.sub(lambda m, body=body: m.group(1) + body + m.group(3), text)
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.splitlines()[0])
    parser.add_argument("readme", nargs="?", default="README.md", type=Path)
    parser.add_argument("--check", action="store_true",
                        help="only check that the tables are current (exit status 1 if not)")
    args = parser.parse_args(argv)
    try:
        text = args.readme.read_text()
        fresh = regenerate(text, str(args.readme))
    except (OSError, AuthprobeError) as err:
        print(f"{COMMAND}: error: {err}", file=sys.stderr)
        return 2
    if fresh == text:
        print(f"{args.readme}: the generated tables are current")
        return 0
    if args.check:
        print(f"{args.readme}: the generated tables are out of date: run {COMMAND}")
        return 1
    args.readme.write_text(fresh)
    print(f"{args.readme}: the generated tables rewritten")
    return 0


if __name__ == "__main__":
    sys.exit(main())
