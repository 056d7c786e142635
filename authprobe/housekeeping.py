"""``authprobe clusters list|prune``: clusters earlier runs left behind.

A cluster is authprobe's when its name follows the harness's pattern
``authprobe-<profile>-<major><minor>-<hash>`` (kind label ``io.x-k8s.kind.cluster``).
"""

from __future__ import annotations

import argparse
import json
import shutil
from dataclasses import dataclass

from .errors import AuthprobeError
from .paths import cache_dir
from .provider import CLUSTER_LABEL, docker, remove_containers, run_kind
from .render import NAME_RE

# Clusters of the image builder and the Dashboard checks are not the harness's.
FOREIGN_PREFIXES = ("authprobe-img-", "authprobe-dash-")


@dataclass
class LeftCluster:
    name: str
    containers: list[str]
    status: str
    created: str
    image: str


def find() -> list[LeftCluster]:
    """authprobe clusters present in the Docker engine, by their node containers."""
    from .engine import require_engine

    require_engine()
    result = docker("ps", "-a", "--filter", f"label={CLUSTER_LABEL}", "--format", "{{json .}}")
    if result.returncode:
        raise AuthprobeError(f"`docker ps` failed: {result.stderr.strip()}")
    clusters: dict[str, LeftCluster] = {}
    for line in result.stdout.splitlines():
        row = json.loads(line)
        labels = dict(part.split("=", 1) for part in row.get("Labels", "").split(",")
                      if "=" in part)
        name = labels.get(CLUSTER_LABEL, "")
        if not NAME_RE.match(name) or name.startswith(FOREIGN_PREFIXES):
            continue
        entry = clusters.setdefault(
            name, LeftCluster(name, [], row.get("Status", ""), row.get("CreatedAt", ""),
                              row.get("Image", "")))
        entry.containers.append(row.get("Names", ""))
    return sorted(clusters.values(), key=lambda c: c.name)


def _kind_bin(given: str | None):
    if given:
        from pathlib import Path

        path = Path(given)
        if not path.exists():
            raise AuthprobeError(f"kind binary {path} does not exist")
        return path
    from .tools import ensure_kind

    return ensure_kind()


def prune(clusters: list[LeftCluster], kind_bin: str | None) -> list[str]:
    kind = _kind_bin(kind_bin)
    removed = []
    for cluster in clusters:
        result = run_kind([str(kind), "delete", "cluster", f"--name={cluster.name}"], timeout=180)
        if result.returncode:
            remove_containers(cluster.name)
        private = cache_dir() / "clusters" / cluster.name
        if private.is_dir():
            shutil.rmtree(private)
        removed.append(cluster.name)
    return removed


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    sub.add_parser("list", help="list clusters left by earlier runs")
    prune_parser = sub.add_parser("prune", help="delete clusters left by earlier runs")
    prune_parser.add_argument("names", nargs="*", help="only these clusters (default: all)")
    prune_parser.add_argument("--kind-bin", default=None, help="kind binary to use")


def run(args: argparse.Namespace) -> int:
    clusters = find()
    if args.action == "list":
        if not clusters:
            print("no authprobe clusters")
        for cluster in clusters:
            print(f"{cluster.name}\t{cluster.status}\t{cluster.image}\t{cluster.created}")
        return 0
    if args.names:
        known = {c.name for c in clusters}
        unknown = [n for n in args.names if n not in known]
        if unknown:
            raise AuthprobeError(f"not an authprobe cluster here: {', '.join(unknown)} "
                                 "(see `authprobe clusters list`)")
        clusters = [c for c in clusters if c.name in args.names]
    removed = prune(clusters, args.kind_bin)
    print(f"removed {len(removed)} cluster(s)" + (": " + ", ".join(removed) if removed else ""))
    return 0
