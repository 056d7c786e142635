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
line says its address was already in use. Any other exit is not explained by the
replacement.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from .restarts import SLACK, ContainerRun

PORT_TAKEN = "address already in use"
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
    that ended before it settled."""

    before: str
    after: str
    old_ended: float | None
    exits: Sequence[ContainerRun]
    settled_attempt: int = 0
    reading_errors: Sequence[str] = ()  # the runtime's readings that failed meanwhile
    old_end_from: str = "the runtime"  # where the old container's end was read

    @property
    def replaced(self) -> bool:
        return self.before != self.after

    def during_overlap(self, run: ContainerRun) -> bool:
        """Whether ``run`` ended while the old kube-apiserver still ran, on a taken port."""
        return (self.replaced and self.old_ended is not None and run.finished is not None
                and run.finished <= self.old_ended + SLACK and PORT_TAKEN in run.last_line)

    def unexplained(self) -> list[ContainerRun]:
        """The new pod's exits the overlap with the old instance does not explain."""
        return [run for run in self.exits if not self.during_overlap(run)]

    def why(self, run: ContainerRun) -> str:
        ended = "an unknown time" if run.finished is None else f"{run.finished:.1f} s"
        if self.old_ended is not None:
            old = f"the old one ended at {self.old_ended:.1f} s, by {self.old_end_from}"
        else:
            old = "the old one's end is not recorded"
            if self.reading_errors:
                old += f" (failed readings: {'; '.join(self.reading_errors)})"
        line = run.last_line or "no log line kept"
        return f"attempt {run.attempt} exited {run.exit_code} at {ended} ({old}): {line}"

    def to_dict(self) -> dict:
        return {"pod_before": self.before, "pod_after": self.after, "replaced": self.replaced,
                "old_ended_at": self.old_ended, "settled_attempt": self.settled_attempt,
                "reading_errors": list(self.reading_errors),
                "old_end_from": self.old_end_from,
                "exits": [{**run.to_dict(), "during_overlap": self.during_overlap(run)}
                          for run in self.exits]}

    @classmethod
    def from_dict(cls, data: dict) -> Replacement:
        return cls(data["pod_before"], data["pod_after"], data.get("old_ended_at"),
                   tuple(ContainerRun.from_dict(e) for e in data.get("exits") or ()),
                   int(data.get("settled_attempt") or 0),
                   tuple(data.get("reading_errors") or ()),
                   data.get("old_end_from") or "the runtime")
