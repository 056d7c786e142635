"""Offline kind node images: Kubernetes and its images built from Go modules and Debian
packages, for machines that cannot pull ``kindest/node``.

``ensure_node_image(supported)`` returns ``authprobe/node:v<patch>-<inputs hash>``, building
only when no image with the same inputs exists.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..model.versions import SupportedVersion


def ensure_node_image(supported: SupportedVersion, force: bool = False) -> str:
    from .build import ensure_node_image as ensure

    return ensure(supported, force=force)


__all__ = ["ensure_node_image"]
