"""kube-apiserver replaced by the kubelet's restart on a new minor, and the new instance's
exits while the old one still ran.

Pure logic. The kubelet names a static pod by a hash of the whole pod as its internal types
print it (``applyDefaults`` in ``pkg/kubelet/config/common.go``), so a kubelet of another
minor, whose types gained fields (or, from 1.35, hashes with FNV instead of MD5,
kubernetes/kubernetes#133511), gives the same manifest a new pod UID (#67537, #116080) and
starts a new pod. A kubelet that just restarted does not know that the old pod still holds
the name: it starts the new kube-apiserver at once and stops the old one only at its first
housekeeping once every pod source is ready ("Stopping container kube-apiserver",
kubernetes/kubernetes#112814). Meanwhile the new one finds its port taken and exits.

An exit of the new pod is the replacement's when the runtime's record ties it to that
overlap: it ended before the old container ended (within the clock slack), and its last log
line says its address was already in use.

etcd's static pod is renamed and replaced by the same restart, with the same overlap: its
new container can exit on its own taken port (2380) and wait out the kubelet's back-off
(10 s, then 20 s) while the old one is already stopped, so for up to half a minute no etcd
answers on 127.0.0.1:2379. A new kube-apiserver started then gives up on its storage after
its own deadline and exits ("error creating storage factory: context deadline exceeded").
Such an exit is etcd's swap when the runtime's record of etcd ties it to that outage: an
etcd container of the restart exited on its taken port before the kube-apiserver ended, and
the etcd that runs once the restart settled started only after it. Any other exit is not
explained by the replacement.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from .restarts import SLACK, ContainerRun

PORT_TAKEN = "address already in use"
# kube-apiserver's last line when it gave up reaching etcd (as "Error creating leases: ..." of
# instance.go, or a "command failed" of run.go)
STORAGE_GIVEN_UP = "error creating storage factory: context deadline exceeded"
_EXIT_EVENT = re.compile(r"container exit event|TaskExit event")
_EXITED_AT = re.compile(r"exited_at:\{seconds:(\d+)\s+nanos:(\d+)\}")


def exited_at(containerd_journal: str, container_id: str) -> float | None:
    """When the container ended, in epoch seconds, from containerd's journal in the node: its
    exit event (`received container exit event container_id:"<id>" ... exited_at:{seconds:S
    nanos:N}`, or `TaskExit event ...` in containerd 1.7). The kubelet removes the containers
    of a pod it stopped as an orphan within a second, so the runtime's own record of the old
    kube-apiserver may be gone when it is read; this record stays."""
    for line in containerd_journal.splitlines():
        if f'container_id:\\"{container_id}\\"' not in line and \
                f'container_id:"{container_id}"' not in line:
            continue
        match = _EXITED_AT.search(line)
        if match and _EXIT_EVENT.search(line):
            return int(match.group(1)) + int(match.group(2)) / 1e9
    return None


@dataclass(frozen=True)
class Replacement:
    """What the kubelet's restart did to kube-apiserver; times in seconds since the restart.

    ``before``: the pod UID of the container that ran before the restart; ``after``: the pod
    UID of the one that runs once it settled; ``old_ended``: when the old container ended
    (None: it did not, or the runtime kept no record); ``exits``: the new pod's containers
    that ended before it settled; ``etcd_exits``: etcd's containers created by the restart
    that ended before it settled; ``etcd_back``: when the etcd container that runs once it
    settled was created (None: the one from before the restart runs, or none does)."""

    before: str
    after: str
    old_ended: float | None
    exits: Sequence[ContainerRun]
    settled_attempt: int = 0
    reading_errors: Sequence[str] = ()  # the runtime's readings that failed meanwhile
    old_end_from: str = "the runtime"  # where the old container's end was read
    etcd_exits: Sequence[ContainerRun] = ()
    etcd_back: float | None = None

    @property
    def replaced(self) -> bool:
        return self.before != self.after

    def during_overlap(self, run: ContainerRun) -> bool:
        """Whether ``run`` ended while the old kube-apiserver still ran, on a taken port."""
        return (self.replaced and self.old_ended is not None and run.finished is not None
                and run.finished <= self.old_ended + SLACK and PORT_TAKEN in run.last_line)

    def etcd_down_for(self, run: ContainerRun) -> ContainerRun | None:
        """The exit of etcd's new container on its taken port that left ``run`` without
        etcd: it came before ``run`` ended, the etcd that runs now only after; None when
        etcd's record does not tie ``run``'s exit to its swap."""
        if (run.finished is None or self.etcd_back is None
                or STORAGE_GIVEN_UP not in run.last_line
                or run.finished > self.etcd_back + SLACK):
            return None
        return next((etcd for etcd in self.etcd_exits if etcd.finished is not None
                     and PORT_TAKEN in etcd.last_line
                     and etcd.finished <= run.finished + SLACK), None)

    def during_etcd_swap(self, run: ContainerRun) -> bool:
        """Whether ``run`` gave up on etcd while the restart replaced etcd's pod."""
        return self.etcd_down_for(run) is not None

    def unexplained(self) -> list[ContainerRun]:
        """The new pod's exits neither the overlap with the old instance nor etcd's swap
        explains."""
        return [run for run in self.exits
                if not self.during_overlap(run) and not self.during_etcd_swap(run)]

    def overlap_exits(self) -> int:
        return sum(1 for run in self.exits if self.during_overlap(run))

    def etcd_swap_exits(self) -> int:
        # never one of the overlap's: their last lines differ (a taken port, a storage given up)
        return sum(1 for run in self.exits if self.during_etcd_swap(run))

    def why(self, run: ContainerRun) -> str:
        ended = "an unknown time" if run.finished is None else f"{run.finished:.1f} s"
        if self.old_ended is not None:
            old = f"the old one ended at {self.old_ended:.1f} s, by {self.old_end_from}"
        else:
            old = "the old one's end is not recorded"
            if self.reading_errors:
                old += f" (failed readings: {'; '.join(self.reading_errors)})"
        etcd = self.etcd_down_for(run)
        if etcd is not None:
            old += (f"; etcd's new container exited on its taken port at {etcd.finished:.1f} s, "
                    f"the etcd that runs now started at {self.etcd_back:.1f} s")
        line = run.last_line or "no log line kept"
        return f"attempt {run.attempt} exited {run.exit_code} at {ended} ({old}): {line}"

    def to_dict(self) -> dict:
        return {"pod_before": self.before, "pod_after": self.after, "replaced": self.replaced,
                "old_ended_at": self.old_ended, "settled_attempt": self.settled_attempt,
                "reading_errors": list(self.reading_errors),
                "old_end_from": self.old_end_from,
                "exits": [{**run.to_dict(), "during_overlap": self.during_overlap(run),
                           "during_etcd_swap": self.during_etcd_swap(run)}
                          for run in self.exits],
                "etcd_exits": [run.to_dict() for run in self.etcd_exits],
                "etcd_back_at": self.etcd_back}

    @classmethod
    def from_dict(cls, data: dict) -> Replacement:
        return cls(data["pod_before"], data["pod_after"], data.get("old_ended_at"),
                   tuple(ContainerRun.from_dict(e) for e in data.get("exits") or ()),
                   int(data.get("settled_attempt") or 0),
                   tuple(data.get("reading_errors") or ()),
                   data.get("old_end_from") or "the runtime",
                   tuple(ContainerRun.from_dict(e) for e in data.get("etcd_exits") or ()),
                   data.get("etcd_back_at"))
