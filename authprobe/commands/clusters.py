"""``authprobe clusters list|prune``: the authprobe clusters on this machine, and which run
holds each. ``prune`` removes the ones no running run holds (left by a killed run, or kept
with --keep-cluster / --reuse-clusters) and the private folders of clusters that are gone;
a cluster in use by a run is never touched."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from ..errors import AuthprobeError
from ..harness import naming
from ..host import docker
from ..host.engine import require_engine
from ..host.processes import run_tracked
from ..host.tools import check_kind, ensure_kind
from ..model.timeouts import calls

HELP = "list the authprobe clusters on this machine, or remove those no run holds"


@dataclass
class Found:
    name: str
    containers: list[str]
    status: str
    created: str
    image: str
    in_use: bool
    owner: dict

    def line(self) -> str:
        run = self.owner.get("run", "?")
        holder = (f"in use by run {run} (pid {self.owner.get('pid', '?')})" if self.in_use
                  else f"left by run {run}")
        return f"{self.name}\t{self.status}\t{holder}\t{self.image}\t{self.created}"


def find() -> list[Found]:
    """authprobe clusters present in the Docker engine, by their node containers."""
    require_engine()
    clusters: dict[str, Found] = {}
    for row in docker.kind_containers():
        name = row["cluster"]
        if not naming.NAME_RE.match(name):
            continue
        entry = clusters.get(name)
        if entry is None:
            entry = clusters[name] = Found(name, [], row.get("Status", ""),
                                           row.get("CreatedAt", ""), row.get("Image", ""),
                                           not naming.lease_free(name), naming.owner_of(name))
        entry.containers.append(row.get("Names", ""))
    return sorted(clusters.values(), key=lambda c: c.name)


def prune(clusters: list[Found], kind: Path) -> tuple[list[str], list[str]]:
    """(removed, left): a cluster whose containers the engine would not remove is left, and
    keeps its private folder."""
    removed, left = [], []
    for cluster in clusters:
        lease = naming.take_lease(cluster.name, "prune", "")
        if lease is None:
            continue  # a run took it meanwhile
        try:
            result = run_tracked([str(kind), "delete", "cluster", f"--name={cluster.name}"],
                                 timeout=calls().kind_command)
            if result.returncode or docker.container_names(cluster.name):
                try:
                    docker.remove_containers(docker.container_names(cluster.name))
                except AuthprobeError:
                    pass  # judged by what is still there, below
            still = docker.container_names(cluster.name)
        finally:
            lease.release()
        if still:
            left.append(cluster.name)
            continue
        naming.forget(cluster.name)
        removed.append(cluster.name)
    return removed, left


def orphan_folders(present: set[str]) -> list[str]:
    """Private folders (tokens, kubeconfigs) of authprobe clusters that no longer exist and
    that no running run holds: left by a run killed between making the folder and the
    cluster, or after deleting the cluster."""
    root = naming.clusters_root()
    if not root.is_dir():
        return []
    return sorted(path.name for path in root.iterdir()
                  if path.is_dir() and naming.NAME_RE.match(path.name)
                  and path.name not in present and naming.lease_free(path.name))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    sub.add_parser("list", help="list the authprobe clusters and who holds them")
    prune_parser = sub.add_parser("prune", help="delete the clusters no running run holds")
    prune_parser.add_argument("names", nargs="*", help="only these clusters (default: all)")
    prune_parser.add_argument("--kind-bin", default=None, metavar="PATH",
                              help="kind binary to use")


def run(args: argparse.Namespace) -> int:
    clusters = find()
    if args.action == "list":
        print("\n".join(c.line() for c in clusters) or "no authprobe clusters")
        return 0
    if args.names:
        known = {c.name for c in clusters}
        unknown = [n for n in args.names if n not in known]
        if unknown:
            raise AuthprobeError(f"not an authprobe cluster here: {', '.join(unknown)} (see "
                                 "`authprobe clusters list`)")
        clusters = [c for c in clusters if c.name in args.names]
    busy = [c for c in clusters if c.in_use]
    for cluster in busy:
        print(f"skipping {cluster.name}: in use by run {cluster.owner.get('run', '?')}")
    kind = Path(args.kind_bin) if args.kind_bin else ensure_kind()
    check_kind(kind)
    removed, left = prune([c for c in clusters if not c.in_use], kind)
    print(f"removed {len(removed)} cluster(s)" + (": " + ", ".join(removed) if removed else ""))
    if left:
        raise AuthprobeError(f"the Docker engine did not remove the containers of "
                             f"{', '.join(left)}: see `docker ps -a` and dockerd's log, "
                             "restart dockerd, then run `authprobe clusters prune` again")
    if not args.names:
        orphans = orphan_folders({c.name for c in find()})
        for name in orphans:
            naming.forget(name)
        if orphans:
            print(f"removed the private folders of {len(orphans)} cluster(s) that no longer "
                  "exist: " + ", ".join(orphans))
    return 0
