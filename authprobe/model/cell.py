"""A cell of the matrix: one profile on one Kubernetes minor, the parameter of every
scenario that asks for a cluster. In an upgrade run the cells of the second minor are those
of the same clusters upgraded in place (``upgraded_from`` names the first minor)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Cell:
    profile: str
    minor: str
    upgraded_from: str | None = None

    @property
    def id(self) -> str:
        if self.upgraded_from:
            return f"{self.profile}-{self.minor}-from-{self.upgraded_from}"
        return f"{self.profile}-{self.minor}"

    def __str__(self) -> str:
        return self.id
