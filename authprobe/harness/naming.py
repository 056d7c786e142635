"""Cluster names, and which run owns a cluster.

A run's clusters are named ``authprobe-<profile>-<major><minor>-<run token>``, so two runs on
one machine never share a name. A cluster kept for reuse is named after its configuration
and the checkout instead (``...-r<hash>``), so the next run of that checkout finds it.

Every cluster has a private folder (``<cache>/clusters/<name>/``, mode 0700) with its token
file, kubeconfig and mounts, an ``owner.json`` saying which run made it, and a ``lease``
file that the run using the cluster holds locked: a cluster whose lease nobody holds was
left by a run that ended, and ``authprobe clusters prune`` may remove it.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import secrets
import shutil
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from ..paths import cache_dir, write_private  # noqa: F401 - the harness writes through naming

PREFIX = "authprobe-"
MAX_NAME = 50
NAME_RE = re.compile(r"^authprobe-(?P<profile>[a-z0-9-]+)-(?P<minor>\d{3,})-"
                     r"(?P<id>[0-9a-f]{6}|r[0-9a-f]{7})$")


def run_token() -> str:
    """A new run's token: six hex digits."""
    return secrets.token_hex(3)


def cluster_name(profile: str, minor: str, ident: str) -> str:
    major, _, rest = minor.partition(".")
    digits = f"{major}{rest}"
    room = MAX_NAME - len(PREFIX) - len(digits) - len(ident) - 2
    return f"{PREFIX}{profile[:room].strip('-')}-{digits}-{ident}"


def clusters_root() -> Path:
    """The folder of every cluster's private folder."""
    return cache_dir() / "clusters"


def private_dir(name: str, create: bool = True) -> Path:
    path = clusters_root() / name
    if create:
        path.mkdir(parents=True, exist_ok=True)
        os.chmod(path, 0o700)
    return path


@dataclass
class Lease:
    """A run's hold on one cluster: released when the run ends (or the cluster goes)."""

    name: str
    handle: object

    def release(self) -> None:
        try:
            fcntl.flock(self.handle, fcntl.LOCK_UN)
            self.handle.close()
        except (OSError, ValueError):
            pass


def take_lease(name: str, run: str, checkout: str) -> Lease | None:
    """Hold the lease of cluster ``name`` for this run, or None when another run holds it."""
    directory = private_dir(name)
    handle = (directory / "lease").open("a")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    owner = {"run": run, "pid": os.getpid(), "host": socket.gethostname(), "checkout": checkout,
             "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    (directory / "owner.json").write_text(json.dumps(owner) + "\n")
    return Lease(name, handle)


def lease_free(name: str) -> bool:
    """Whether no running run holds cluster ``name`` (no private folder: nobody does)."""
    path = private_dir(name, create=False) / "lease"
    if not path.exists():
        return True
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(handle, fcntl.LOCK_UN)
    return True


def owner_of(name: str) -> dict:
    path = private_dir(name, create=False) / "owner.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def forget(name: str) -> None:
    """Remove the private folder of a deleted cluster (its token and kubeconfig too)."""
    shutil.rmtree(private_dir(name, create=False), ignore_errors=True)
