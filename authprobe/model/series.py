"""The kube-apiserver restart series: samples over time and the shape they make.

Pure data and analysis; the sampler that fills a series lives with the cluster harness.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

FLAT = "flat"  # restart count stays 0 for the whole window
CLIMBS = "climbs"  # restart count reaches at least 1 within the window
NEVER_UP = "never-up"  # the container never stays up: not once Ready, exits over and over

SHAPES = (FLAT, CLIMBS, NEVER_UP)


@dataclass(frozen=True)
class Sample:
    """One reading of the kube-apiserver container.

    ``t`` is seconds since the pod's first kube-apiserver container was created (the
    first sample's reference point); ``source`` is "api" when read from the mirror pod,
    "runtime" when read from the node's container runtime because the API did not answer.
    ``started`` is the container's ``started`` state as the kubelet reports it (None when
    not read from the API, and in series recorded before it was sampled).
    """

    t: float
    restarts: int
    ready: bool
    last_reason: str | None
    source: str
    started: bool | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Sample:
        return cls(
            t=float(data["t"]),
            restarts=int(data["restarts"]),
            ready=bool(data["ready"]),
            last_reason=data.get("last_reason"),
            source=str(data.get("source", "api")),
            started=None if data.get("started") is None else bool(data["started"]),
        )


def first_restart_at(series: Sequence[Sample]) -> float | None:
    """Seconds at which the first restart was seen, or None."""
    for sample in series:
        if sample.restarts >= 1:
            return sample.t
    return None


def ever_ready(series: Sequence[Sample]) -> bool:
    return any(sample.ready for sample in series)


def shape(series: Sequence[Sample]) -> str:
    """Classify a series as one of SHAPES.

    A series with no ready sample and at least one restart "climbs" if the apiserver was
    seen serving (samples from the API) between restarts, and is "never-up" when every
    sample came from the container runtime. An empty series has no shape.
    """
    if not series:
        raise ValueError("an empty restart series has no shape")
    restarted = first_restart_at(series) is not None
    if not restarted:
        return FLAT
    if not ever_ready(series) and all(s.source == "runtime" for s in series):
        return NEVER_UP
    return CLIMBS


def summary(series: Sequence[Sample]) -> str:
    """One line for reports and JUnit properties."""
    if not series:
        return "no samples"
    first = first_restart_at(series)
    last = series[-1]
    parts = [
        f"{len(series)} samples over {last.t:.0f}s",
        f"restarts {series[0].restarts}->{last.restarts}",
        f"ever ready: {'yes' if ever_ready(series) else 'no'}",
    ]
    if first is not None:
        parts.append(f"first restart seen at {first:.0f}s")
    reasons = sorted({s.last_reason for s in series if s.last_reason})
    if reasons:
        parts.append("last termination: " + ", ".join(reasons))
    return "; ".join(parts)
