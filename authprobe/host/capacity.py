"""How many single-node kind clusters this host can run at once.

Each running node takes inotify instances from root's shared limit (a node that gets none
exits at start), memory, disk under the Docker root (its /var volume, images unpacked,
container and audit logs), and CPU: idle it keeps a sixth of a core busy, its start-up takes
more, and kubeadm's waits and the kubelet's probes have deadlines. The smallest of those
limits wins, and the run says which one it was.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

# inotify instances one running node takes (systemd, kubelet, containerd and the pods);
# measured about 29 on a single-node cluster.
INOTIFY_PER_NODE = 32
MEMORY_PER_NODE = 1 * 2**30
DISK_PER_NODE = 2 * 2**30
DISK_RESERVE = 4 * 2**30  # left free for the engine, the reports and everything else
# An idle single-node cluster takes 0.15-0.18 of a core (benchmarks/NOTES.md, bench (c)): six
# per core leave nothing for bring-ups and probes, and on 2 cores with twelve up kubeadm's
# waits ran out and startup probes slipped past the restart window. Four per core leave a
# third of the CPU for them.
CLUSTERS_PER_CORE = 4


@dataclass(frozen=True)
class Capacity:
    clusters: int
    limit: str  # what sets it, in words
    remedy: str  # what raises it, or ""


def _inotify() -> Capacity | None:
    try:
        limit = int(Path("/proc/sys/fs/inotify/max_user_instances").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return Capacity(limit // INOTIFY_PER_NODE, f"inotify instances ({limit})",
                    "sudo sysctl -w fs.inotify.max_user_instances=<clusters x 64>")


def _memory() -> Capacity | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                available = int(line.split()[1]) * 1024
                return Capacity(available // MEMORY_PER_NODE,
                                f"available memory ({available / 2**30:.0f} GiB)", "")
    except (OSError, ValueError, IndexError):
        return None
    return None


def _disk(docker_root: Path) -> Capacity | None:
    try:
        free = shutil.disk_usage(docker_root).free
    except OSError:
        return None
    return Capacity(max(0, free - DISK_RESERVE) // DISK_PER_NODE,
                    f"free disk under {docker_root} ({free / 2**30:.0f} GiB)",
                    "free disk space, or remove old node images: authprobe build-image --prune")


def _cpu() -> Capacity:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
        os.cpu_count() or 1)
    return Capacity(cores * CLUSTERS_PER_CORE, f"CPU cores ({cores})", "")


def host_capacity(docker_root: Path) -> Capacity:
    """The number of clusters the host runs at once (at least 1), and what limits it."""
    found = [c for c in (_inotify(), _memory(), _disk(docker_root), _cpu()) if c is not None]
    tightest = min(found, key=lambda c: c.clusters)
    return Capacity(max(1, tightest.clusters), tightest.limit, tightest.remedy)
