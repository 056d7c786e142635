"""A cell of the matrix: one profile on one Kubernetes minor, the parameter of every
scenario that asks for a cluster."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Cell:
    profile: str
    minor: str

    @property
    def id(self) -> str:
        return f"{self.profile}-{self.minor}"

    def __str__(self) -> str:
        return self.id
