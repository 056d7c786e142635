"""Offline kind node images: Kubernetes and its images built from Go modules and Debian packages.

``ensure_node_image(supported)`` returns ``authprobe/node:v<patch>-<inputs hash>``, building
only when no image with the same inputs exists.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..versions import SupportedVersion


def ensure_node_image(supported: SupportedVersion, force: bool = False) -> str:
    from .build import ensure_node_image as ensure

    return ensure(supported, force=force)


def dashboard_image_of(node_image: str) -> str | None:
    """The Dashboard image a node image preloads (its io.authprobe.dashboard-image label)."""
    from .build import DASHBOARD_LABEL, _image_label

    return _image_label(node_image, DASHBOARD_LABEL) or None


__all__ = ["ensure_node_image", "dashboard_image_of"]
